//! Content handler: choose the memcached command for the request, check the key, and hand the
//! exchange to nginx's upstream machinery (peer choice, keepalive, timeouts, next_upstream).

use std::mem;
use std::ptr;
use std::time::{SystemTime, UNIX_EPOCH};

use fdfs_proto::memcached::nginx::escape_url_key;
use fdfs_proto::memcached::KeyError;
use ngx::ffi::{
    ngx_buf_tag_t, ngx_chain_t, ngx_http_complex_value, ngx_http_discard_request_body,
    ngx_http_read_client_request_body, ngx_http_request_t, ngx_http_set_content_type,
    ngx_http_upstream_create, ngx_http_upstream_init, ngx_int_t, ngx_pcalloc, ngx_str_t,
    ngx_uint_t, NGX_DONE, NGX_ERROR, NGX_HTTP_BAD_REQUEST, NGX_HTTP_DELETE, NGX_HTTP_GET,
    NGX_HTTP_HEAD, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED, NGX_HTTP_PUT,
    NGX_HTTP_SPECIAL_RESPONSE, NGX_LOG_ERR, NGX_LOG_INFO, NGX_OK,
};
use ngx::http::HttpModuleLocationConf;

use super::ffi::{self, log};
use super::{reply, stream};
use super::{LocConf, MemcModule};

/// Request headers a PUT may carry, as in tyrantd's REST interface.
const FLAGS_HEADER: &[u8] = b"X-Kv-Flags";
const EXPTIME_HEADER: &[u8] = b"X-Kv-Exptime";

/// What is asked of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `gets <key>` (GET and HEAD in `get` mode; `gets` so memcached adds the cas for the ETag).
    Get,
    /// `mg <key> s f c t v`.
    MetaGet,
    /// `mg <key> s f c t` for HEAD: no value moves.
    MetaHead,
    /// `mg <key> s f c t` for a conditional GET; becomes `MetaGet` when the validators differ.
    MetaConditional,
    /// `set <key> <flags> <exptime> <len>` + request body.
    Put { flags: u32, exptime: u32 },
    /// `delete <key>`.
    Delete,
}

impl Op {
    pub fn command_line(self, key: &[u8], body_len: usize) -> Vec<u8> {
        let mut line = Vec::with_capacity(key.len() + 48);
        match self {
            Op::Get => line.extend_from_slice(b"gets "),
            Op::MetaGet | Op::MetaHead | Op::MetaConditional => line.extend_from_slice(b"mg "),
            Op::Put { .. } => line.extend_from_slice(b"set "),
            Op::Delete => line.extend_from_slice(b"delete "),
        }
        line.extend_from_slice(key);
        match self {
            Op::MetaGet => line.extend_from_slice(b" s f c t v"),
            Op::MetaHead | Op::MetaConditional => line.extend_from_slice(b" s f c t"),
            Op::Put { flags, exptime } => {
                line.extend_from_slice(format!(" {flags} {exptime} {body_len}").as_bytes())
            }
            Op::Get | Op::Delete => {}
        }
        line.extend_from_slice(b"\r\n");
        line
    }
}

/// Per-request state, in the request pool (plain data: the pool frees it without drop).
pub struct Ctx {
    pub request: *mut ngx_http_request_t,
    /// The escaped key, as sent and as it must come back in `VALUE` lines.
    pub key: ngx_str_t,
    /// The op the request started with (restored by `reinit_request` before a retry).
    pub first_op: Op,
    pub op: Op,
    /// Bytes expected after the value (`\r\nEND\r\n` or `\r\n`), and how many are still due.
    pub trailer: &'static [u8],
    pub rest: usize,
}

/// Content handler installed by `memc_store`.
///
/// # Safety
/// Called by nginx's content phase with a valid request.
pub unsafe extern "C" fn memc_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx hands us a live request for the duration of the call.
    let r = unsafe { &mut *r };
    match start(r) {
        Ok(rc) => rc,
        Err(status) => status as ngx_int_t,
    }
}

fn start(r: &mut ngx_http_request_t) -> Result<ngx_int_t, u32> {
    let lc = MemcModule::location_conf(&*r).ok_or(NGX_HTTP_INTERNAL_SERVER_ERROR)?;
    if r.method & lc.methods == 0 {
        return Err(NGX_HTTP_NOT_ALLOWED);
    }
    let key = escaped_key(r, lc)?;
    let op = choose_op(r, lc)?;
    if !matches!(op, Op::Put { .. }) {
        // SAFETY: r is the live request.
        let rc = unsafe { ngx_http_discard_request_body(r) };
        if rc != NGX_OK as ngx_int_t {
            return Ok(rc);
        }
    }
    if r.method & (NGX_HTTP_GET | NGX_HTTP_HEAD) as ngx_uint_t != 0 {
        // SAFETY: r is the live request; sets Content-Type from `types` by the URI extension.
        if unsafe { ngx_http_set_content_type(r) } != NGX_OK as ngx_int_t {
            return Err(NGX_HTTP_INTERNAL_SERVER_ERROR);
        }
    }
    // SAFETY: r is the live request; nginx allocates r->upstream from its pool.
    if unsafe { ngx_http_upstream_create(r) } != NGX_OK as ngx_int_t {
        return Err(NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
    // SAFETY: the context is plain data in the request pool, written once here.
    let ctx = unsafe {
        let ctx = ngx_pcalloc(r.pool, mem::size_of::<Ctx>()).cast::<Ctx>();
        if ctx.is_null() {
            return Err(NGX_HTTP_INTERNAL_SERVER_ERROR);
        }
        ptr::write(
            ctx,
            Ctx {
                request: r,
                key,
                first_op: op,
                op,
                trailer: b"",
                rest: 0,
            },
        );
        ctx
    };
    // SAFETY: ngx_http_upstream_create succeeded, so r->upstream is valid; the conf lives in
    // the configuration pool for as long as any request using it.
    unsafe {
        let u = &mut *r.upstream;
        u.schema = ngx::ngx_string!("memc://");
        u.output.tag = ptr::addr_of!(super::ngx_http_memc_store_module) as ngx_buf_tag_t;
        u.conf = ptr::from_ref(&lc.upstream).cast_mut();
        u.create_request = Some(create_request);
        u.reinit_request = Some(reply::reinit_request);
        u.process_header = Some(reply::process_header);
        u.abort_request = Some(reply::abort_request);
        u.finalize_request = Some(reply::finalize_request);
        u.input_filter_init = Some(stream::filter_init);
        u.input_filter = Some(stream::filter);
        u.input_filter_ctx = ctx.cast();
    }
    if matches!(op, Op::Put { .. }) {
        // SAFETY: nginx reads the body (counting the request itself) and then starts the
        // upstream exchange from its callback.
        let rc = unsafe { ngx_http_read_client_request_body(r, Some(ngx_http_upstream_init)) };
        if rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
            return Ok(rc);
        }
        return Ok(NGX_DONE as ngx_int_t);
    }
    // SAFETY: as ngx_http_memcached_module does: keep the request alive for the upstream.
    unsafe {
        let main = &mut *r.main;
        main.set_count(main.count() + 1);
        ngx_http_upstream_init(r);
    }
    Ok(NGX_DONE as ngx_int_t)
}

/// `memc_key` (or `$uri`), checked and escaped like stock `memcached_pass`, in the pool.
fn escaped_key(r: &mut ngx_http_request_t, lc: &LocConf) -> Result<ngx_str_t, u32> {
    let raw = if lc.key.is_null() {
        r.uri
    } else {
        let mut v = ngx_str_t::default();
        // SAFETY: lc.key was compiled by ngx_http_set_complex_value_slot; v receives pool memory.
        if unsafe { ngx_http_complex_value(r, lc.key, &mut v) } != NGX_OK as ngx_int_t {
            return Err(NGX_HTTP_INTERNAL_SERVER_ERROR);
        }
        v
    };
    let mut escaped = Vec::new();
    match escape_url_key(ffi::bytes(&raw), lc.max_key_len, &mut escaped) {
        Ok(()) => {}
        Err(KeyError::Empty) => {
            log(r, NGX_LOG_ERR, 0, "memc_store: the key is empty");
            return Err(NGX_HTTP_INTERNAL_SERVER_ERROR);
        }
        Err(e) => {
            log(r, NGX_LOG_INFO, 0, &format!("memc_store: key refused: {e}"));
            return Err(NGX_HTTP_BAD_REQUEST);
        }
    }
    ffi::pool_str(r, &escaped).ok_or(NGX_HTTP_INTERNAL_SERVER_ERROR)
}

fn choose_op(r: &ngx_http_request_t, lc: &LocConf) -> Result<Op, u32> {
    let m = r.method as u32;
    if m == NGX_HTTP_PUT {
        return put_op(r, lc);
    }
    if m == NGX_HTTP_DELETE {
        return Ok(Op::Delete);
    }
    if !lc.meta() {
        return Ok(Op::Get);
    }
    if m == NGX_HTTP_HEAD {
        return Ok(Op::MetaHead);
    }
    let h = &r.headers_in;
    let revalidates = !h.if_none_match.is_null() || !h.if_modified_since.is_null();
    // If-Match / If-Unmodified-Since may end in 200 or 412; nginx decides with the value.
    let preconditions = !h.if_match.is_null() || !h.if_unmodified_since.is_null();
    Ok(
        if revalidates && !preconditions && r.main == ptr::from_ref(r).cast_mut() {
            Op::MetaConditional
        } else {
            Op::MetaGet
        },
    )
}

fn put_op(r: &ngx_http_request_t, lc: &LocConf) -> Result<Op, u32> {
    let number = |name: &[u8]| -> Result<Option<u32>, u32> {
        let Some(v) = ffi::header_in(r, name) else {
            return Ok(None);
        };
        let parsed = (!v.is_empty() && v.len() <= 10 && v.iter().all(u8::is_ascii_digit))
            .then(|| std::str::from_utf8(v).ok()?.parse::<u32>().ok())
            .flatten();
        match parsed {
            Some(n) => Ok(Some(n)),
            None => {
                let msg = format!(
                    "memc_store: {} is not a 32-bit decimal number",
                    String::from_utf8_lossy(name)
                );
                log(r, NGX_LOG_INFO, 0, &msg);
                Err(NGX_HTTP_BAD_REQUEST)
            }
        }
    };
    let flags = match number(FLAGS_HEADER)? {
        Some(f) => f,
        // With Last-Modified taken from the flags, a write without flags records its time.
        None if lc.flags_to_last_modified == 1 => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)),
        None => 0,
    };
    let exptime = number(EXPTIME_HEADER)?.unwrap_or(0);
    Ok(Op::Put { flags, exptime })
}

/// Builds the command (and for PUT the body chain) once the upstream is about to be contacted.
unsafe extern "C" fn create_request(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls this with the live request whose upstream we set up in `start`.
    let (r, ctx) = unsafe {
        (
            &mut *r,
            &mut *(*(*r).upstream).input_filter_ctx.cast::<Ctx>(),
        )
    };
    match request_chain(r, ctx) {
        Some(cl) => {
            // SAFETY: r->upstream is valid for the whole exchange.
            unsafe { (*r.upstream).request_bufs = cl };
            NGX_OK as ngx_int_t
        }
        None => NGX_ERROR as ngx_int_t,
    }
}

fn request_chain(r: &mut ngx_http_request_t, ctx: &Ctx) -> Option<*mut ngx_chain_t> {
    let mut body: Vec<*mut ngx::ffi::ngx_buf_t> = Vec::new();
    if let Op::Put { .. } = ctx.op {
        // SAFETY: for PUT the body has been read completely before the upstream starts.
        let mut cl = unsafe {
            r.request_body
                .as_ref()
                .map_or(ptr::null_mut(), |rb| rb.bufs)
        };
        while !cl.is_null() {
            // SAFETY: a valid chain of the request body.
            unsafe {
                body.push((*cl).buf);
                cl = (*cl).next;
            }
        }
    }
    // SAFETY: the buffers of the body chain are valid (see above).
    let body_len: usize = body.iter().map(|&b| ffi::buf_size(unsafe { &*b })).sum();
    let line = ctx.op.command_line(ffi::bytes(&ctx.key), body_len);
    let head = ffi::chain_with(r, &line)?;
    if body.is_empty() && !matches!(ctx.op, Op::Put { .. }) {
        return Some(head);
    }
    let mut tail = head;
    for b in body {
        let cl = ffi::link_to(r, b)?;
        // SAFETY: tail is a link we allocated above.
        unsafe { (*tail).next = cl };
        tail = cl;
    }
    let crlf = ffi::chain_with(r, b"\r\n")?;
    // SAFETY: as above.
    unsafe { (*tail).next = crlf };
    Some(head)
}

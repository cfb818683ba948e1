//! Upstream callbacks: the reply line decides the HTTP status and headers; the value then
//! streams through `u->buffer` (no copy) with only its trailer checked, as in nginx's memcached
//! module.

use std::ptr;
use std::slice;

use fdfs_proto::memcached::nginx::{is_not_modified, value_etag, IfModifiedSince};
use fdfs_proto::memcached::{MetaReply, MetaStatus, ReplyLine, ResponseParser};
use ngx::ffi::{
    ngx_create_temp_buf, ngx_http_request_t, ngx_http_upstream_t, ngx_int_t, ngx_parse_http_time,
    ngx_uint_t, NGX_AGAIN, NGX_ERROR, NGX_HTTP_CONFLICT, NGX_HTTP_CREATED, NGX_HTTP_HEAD,
    NGX_HTTP_IMS_BEFORE, NGX_HTTP_IMS_OFF, NGX_HTTP_NOT_FOUND, NGX_HTTP_NOT_MODIFIED,
    NGX_HTTP_NO_CONTENT, NGX_HTTP_OK, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
    NGX_HTTP_UPSTREAM_INVALID_HEADER, NGX_LOG_ERR, NGX_LOG_INFO, NGX_OK,
};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};

use super::ffi::{self, log};
use super::handler::{Ctx, Op};
use super::MemcModule;

const GET_TRAILER: &[u8] = b"\r\nEND\r\n";
const META_TRAILER: &[u8] = b"\r\n";

/// What a complete reply line means for the response.
enum Outcome {
    /// 200 and a value of `len` bytes follows, then `trailer`.
    Value {
        len: usize,
        flags: u32,
        cas: Option<u64>,
        trailer: &'static [u8],
    },
    /// 200 described by metadata only (HEAD, or a conditional GET that may end in 304).
    Described {
        size: usize,
        flags: u32,
        cas: Option<u64>,
    },
    /// A complete answer without a value: miss (404) or a write's result.
    Done(u32),
    Invalid(&'static str),
}

fn classify(op: Op, line: &ReplyLine<'_>, key: &[u8]) -> Outcome {
    match (op, line) {
        (
            Op::Get,
            ReplyLine::Value {
                key: k,
                flags,
                len,
                cas,
            },
        ) => {
            if *k != key {
                return Outcome::Invalid("invalid key in");
            }
            Outcome::Value {
                len: *len,
                flags: *flags,
                cas: *cas,
                trailer: GET_TRAILER,
            }
        }
        (Op::Get, ReplyLine::End) => Outcome::Done(NGX_HTTP_NOT_FOUND),
        (Op::MetaGet | Op::MetaHead | Op::MetaConditional, ReplyLine::Meta(m)) => meta(op, m),
        (Op::Put { .. }, ReplyLine::Stored) => Outcome::Done(NGX_HTTP_CREATED),
        (Op::Put { .. }, ReplyLine::NotStored) => Outcome::Done(NGX_HTTP_CONFLICT),
        (Op::Put { .. }, ReplyLine::ServerError(text)) if text.starts_with(b"object too large") => {
            Outcome::Done(NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)
        }
        (Op::Delete, ReplyLine::Deleted) => Outcome::Done(NGX_HTTP_NO_CONTENT),
        (Op::Delete, ReplyLine::NotFound) => Outcome::Done(NGX_HTTP_NOT_FOUND),
        _ => Outcome::Invalid("invalid response:"),
    }
}

fn meta(op: Op, m: &MetaReply<'_>) -> Outcome {
    let flags = m.client_flags().unwrap_or(0);
    match (op, m.status) {
        (_, MetaStatus::Miss) => Outcome::Done(NGX_HTTP_NOT_FOUND),
        (Op::MetaGet, MetaStatus::Value(len)) => Outcome::Value {
            len,
            flags,
            cas: m.cas(),
            trailer: META_TRAILER,
        },
        (Op::MetaHead | Op::MetaConditional, MetaStatus::Header) => {
            match m.size().and_then(|s| usize::try_from(s).ok()) {
                Some(size) => Outcome::Described {
                    size,
                    flags,
                    cas: m.cas(),
                },
                None => Outcome::Invalid("no size in"),
            }
        }
        _ => Outcome::Invalid("invalid response:"),
    }
}

struct Parts<'a> {
    r: &'a mut ngx_http_request_t,
    u: &'a mut ngx_http_upstream_t,
    ctx: &'a mut Ctx,
}

/// # Safety
/// `r` must be a request whose upstream was set up by `memc_handler`.
unsafe fn parts<'a>(r: *mut ngx_http_request_t) -> Parts<'a> {
    // SAFETY: guaranteed by the caller; the three objects are distinct allocations.
    unsafe {
        let u = &mut *(*r).upstream;
        let ctx = &mut *u.input_filter_ctx.cast::<Ctx>();
        Parts { r: &mut *r, u, ctx }
    }
}

fn pending(u: &ngx_http_upstream_t) -> &'static [u8] {
    let len = (u.buffer.last as usize).saturating_sub(u.buffer.pos as usize);
    if len == 0 {
        return &[];
    }
    // SAFETY: pos..last is the filled part of the upstream buffer, alive for the exchange;
    // callers only use the slice before the buffer is touched again.
    unsafe { slice::from_raw_parts(u.buffer.pos, len) }
}

/// # Safety
/// Called by nginx's upstream module for a request set up by `memc_handler`.
pub unsafe extern "C" fn process_header(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: see `parts`.
    let Parts { r, u, ctx } = unsafe { parts(r) };
    let Some(lc) = MemcModule::location_conf(&*r) else {
        return NGX_ERROR as ngx_int_t;
    };
    let buf = pending(u);
    let parser = ResponseParser {
        max_line: lc.upstream.buffer_size,
        ..ResponseParser::new()
    };
    let (line, used) = match parser.parse_line(buf) {
        Ok(Some(found)) => found,
        Ok(None) => return NGX_AGAIN as ngx_int_t,
        Err(e) => {
            let msg = format!("memc_store: upstream sent {e}: \"{}\"", shown_line(buf));
            log(r, NGX_LOG_ERR, 0, &msg);
            return NGX_HTTP_UPSTREAM_INVALID_HEADER as ngx_int_t;
        }
    };
    let outcome = classify(ctx.op, &line, ffi::bytes(&ctx.key));
    // SAFETY: `used` bytes of the buffer were just parsed.
    u.buffer.pos = unsafe { u.buffer.pos.add(used) };
    match outcome {
        Outcome::Invalid(what) => {
            let msg = format!(
                "memc_store: upstream sent {what} reply \"{}\" for key \"{}\"",
                shown_line(buf),
                String::from_utf8_lossy(ffi::bytes(&ctx.key))
            );
            log(r, NGX_LOG_ERR, 0, &msg);
            NGX_HTTP_UPSTREAM_INVALID_HEADER as ngx_int_t
        }
        Outcome::Done(status) => {
            if status == NGX_HTTP_NOT_FOUND {
                let msg = format!(
                    "memc_store: key \"{}\" was not found",
                    String::from_utf8_lossy(ffi::bytes(&ctx.key))
                );
                log(r, NGX_LOG_INFO, 0, &msg);
            }
            // The reply is complete: the connection can serve the next request.
            u.set_keepalive(u32::from(u.buffer.pos == u.buffer.last));
            set_status(u, status, 0);
            NGX_OK as ngx_int_t
        }
        Outcome::Value {
            len,
            flags,
            cas,
            trailer,
        } => {
            ctx.trailer = trailer;
            if set_validators(r, lc, len, flags, cas).is_none() {
                return NGX_ERROR as ngx_int_t;
            }
            if not_modified(r) {
                // The connection can be reused only if the whole value and its trailer came
                // with the reply line (small values); otherwise it is closed unread.
                let rest = pending(u);
                let whole = rest.len() == len + trailer.len() && rest.ends_with(trailer);
                u.set_keepalive(u32::from(whole));
                return answer_not_modified(r, u);
            }
            set_status(u, NGX_HTTP_OK, len);
            if r.method != NGX_HTTP_HEAD as ngx_uint_t
                && !fit_buffer(r, u, len + trailer.len(), lc.value_buffer_size)
            {
                return NGX_ERROR as ngx_int_t;
            }
            NGX_OK as ngx_int_t
        }
        Outcome::Described { size, flags, cas } => {
            if set_validators(r, lc, size, flags, cas).is_none() {
                return NGX_ERROR as ngx_int_t;
            }
            let unchanged = not_modified(r);
            if ctx.op == Op::MetaConditional && !unchanged {
                return refetch_with_value(r, u, ctx);
            }
            // Nothing follows the metadata line: the connection can be reused.
            u.set_keepalive(u32::from(u.buffer.pos == u.buffer.last));
            if unchanged {
                return answer_not_modified(r, u);
            }
            set_status(u, NGX_HTTP_OK, size);
            NGX_OK as ngx_int_t
        }
    }
}

/// Moves the reply into a buffer that holds the whole value (capped at `memc_buffer_size`), so
/// the value crosses the filter chain in as few passes as the socket allows. Only what arrived
/// with the reply line (at most the 16 KiB reply buffer) is copied; the rest is read straight
/// into the new buffer, starting now, so the header leaves with the first large piece.
fn fit_buffer(
    r: &ngx_http_request_t,
    u: &mut ngx_http_upstream_t,
    need: usize,
    cap: usize,
) -> bool {
    let b = &mut u.buffer;
    let capacity = (b.end as usize).saturating_sub(b.start as usize);
    let want = need.min(cap);
    if want <= capacity {
        return true;
    }
    let pending = (b.last as usize).saturating_sub(b.pos as usize);
    // SAFETY: a new temporary buffer from the request pool, at least `pending` bytes large
    // (want > capacity >= pending); pos..last of the old buffer are valid bytes.
    unsafe {
        let nb = ngx_create_temp_buf(r.pool, want);
        if nb.is_null() {
            return false;
        }
        ptr::copy_nonoverlapping(b.pos, (*nb).start, pending);
        b.start = (*nb).start;
        b.pos = (*nb).start;
        b.last = (*nb).start.add(pending);
        b.end = (*nb).end;
    }
    if pending < need {
        // SAFETY: the peer connection is open while its reply is processed; recv is its
        // non-blocking receive into the free part of our buffer.
        let n = unsafe {
            match u.peer.connection.as_mut() {
                Some(c) if (*c.read).ready() != 0 => c.recv.map_or(0, |recv| {
                    recv(
                        c,
                        b.last,
                        (b.end as usize - b.last as usize).min(need - pending),
                    )
                }),
                _ => 0,
            }
        };
        if n > 0 {
            // SAFETY: recv wrote n bytes at b.last, within the buffer.
            b.last = unsafe { b.last.add(n as usize) };
            // SAFETY: u->state exists while the upstream runs.
            if let Some(state) = unsafe { u.state.as_mut() } {
                state.bytes_received += n as i64;
            }
        }
    }
    true
}

fn set_status(u: &mut ngx_http_upstream_t, status: u32, len: usize) {
    u.headers_in.status_n = status as ngx_uint_t;
    u.headers_in.content_length_n = i64::try_from(len).unwrap_or(i64::MAX);
    // SAFETY: u->state is allocated by the upstream module before process_header runs.
    if let Some(state) = unsafe { u.state.as_mut() } {
        state.status = status as ngx_uint_t;
    }
}

/// Headers that come from the item's metadata: ETag, Last-Modified, Content-Encoding.
fn set_validators(
    r: &mut ngx_http_request_t,
    lc: &super::LocConf,
    size: usize,
    flags: u32,
    cas: Option<u64>,
) -> Option<()> {
    if !r.headers_out.etag.is_null() {
        // Already set by a first `mg` of this request (conditional GET that needed the value).
        // SAFETY: the element is ours, in the response header list.
        unsafe { (*r.headers_out.etag).hash = 0 };
        r.headers_out.etag = ptr::null_mut();
    }
    if let Some(cas) = cas {
        ffi::set_etag(r, value_etag(size as u64, cas).as_bytes())?;
    }
    if lc.flags_to_last_modified == 1 && flags != 0 {
        r.headers_out.last_modified_time = i64::from(flags);
    }
    if lc.gzip_flag as u64 & u64::from(flags) != 0 && r.headers_out.content_encoding.is_null() {
        ffi::set_gzip_encoding(r)?;
    }
    Some(())
}

/// nginx's not-modified decision for the validators just set (`If-None-Match`,
/// `If-Modified-Since` with the location's `if_modified_since`).
fn not_modified(r: &ngx_http_request_t) -> bool {
    if r.main != ptr::from_ref(r).cast_mut() {
        return false;
    }
    let inm = ffi::known_header(r, r.headers_in.if_none_match);
    let ims = ffi::known_header(r, r.headers_in.if_modified_since).map(|v| {
        // SAFETY: ngx_parse_http_time only reads `len` bytes of the header value.
        unsafe { ngx_parse_http_time(v.as_ptr().cast_mut(), v.len()) }
    });
    if inm.is_none() && ims.is_none() {
        return false;
    }
    let mode = match NgxHttpCoreModule::location_conf(r).map(|c| c.if_modified_since as u32) {
        Some(NGX_HTTP_IMS_OFF) => IfModifiedSince::Off,
        Some(NGX_HTTP_IMS_BEFORE) => IfModifiedSince::Before,
        _ => IfModifiedSince::Exact,
    };
    let etag = ffi::known_header(r, r.headers_out.etag);
    let lm = (r.headers_out.last_modified_time != -1).then_some(r.headers_out.last_modified_time);
    is_not_modified(inm, ims, mode, etag, lm)
}

/// 304 as nginx's not-modified filter makes it: validators kept, no type, length or ranges.
fn answer_not_modified(r: &mut ngx_http_request_t, u: &mut ngx_http_upstream_t) -> ngx_int_t {
    set_status(u, NGX_HTTP_NOT_MODIFIED, 0);
    u.headers_in.content_length_n = -1;
    r.headers_out.content_type.len = 0;
    r.headers_out.content_type_len = 0;
    // SAFETY: NULL or our element of the response header list.
    if let Some(h) = unsafe { r.headers_out.content_encoding.as_mut() } {
        h.hash = 0;
        r.headers_out.content_encoding = ptr::null_mut();
    }
    NGX_OK as ngx_int_t
}

/// The validators differ: ask again, now for the value, on the same connection.
fn refetch_with_value(
    r: &ngx_http_request_t,
    u: &mut ngx_http_upstream_t,
    ctx: &mut Ctx,
) -> ngx_int_t {
    ctx.op = Op::MetaGet;
    let line = ctx.op.command_line(ffi::bytes(&ctx.key), 0);
    let c = u.peer.connection;
    // SAFETY: the peer connection is open while its reply is being processed; `send` is the
    // connection's non-blocking send. A command line of a few hundred bytes fits in the empty
    // socket buffer of a connection whose previous reply has been read completely.
    let sent = unsafe {
        match (c.as_mut(), u.buffer.pos == u.buffer.last) {
            (Some(c), true) => c
                .send
                .map_or(-1, |send| send(c, line.as_ptr().cast_mut(), line.len())),
            _ => -1,
        }
    };
    if sent != line.len() as isize {
        log(
            r,
            NGX_LOG_ERR,
            0,
            "memc_store: could not send the value request to upstream",
        );
        return NGX_HTTP_UPSTREAM_INVALID_HEADER as ngx_int_t;
    }
    u.buffer.pos = u.buffer.start;
    u.buffer.last = u.buffer.start;
    NGX_AGAIN as ngx_int_t
}

fn shown_line(buf: &[u8]) -> String {
    let end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end.min(512)]).into_owned()
}

/// # Safety
/// Called by nginx's upstream module before a retry on the next server.
pub unsafe extern "C" fn reinit_request(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: see `parts`.
    let Parts { ctx, .. } = unsafe { parts(r) };
    ctx.op = ctx.first_op;
    ctx.rest = 0;
    NGX_OK as ngx_int_t
}

/// # Safety
/// Called by nginx's upstream module.
pub unsafe extern "C" fn abort_request(_r: *mut ngx_http_request_t) {}

/// # Safety
/// Called by nginx's upstream module.
pub unsafe extern "C" fn finalize_request(_r: *mut ngx_http_request_t, _rc: ngx_int_t) {}

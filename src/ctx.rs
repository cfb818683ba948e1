//! Per-request state and the `$fastdfs_*` variables.
//!
//! nginx clears module contexts on internal and named-location redirects, but the proxy
//! fallback needs to remember which group members it already tried when `error_page` sends the
//! request back to us. The context is therefore also hung on the request pool as a cleanup
//! entry, where it survives redirects and can be found again (a technique lua-nginx-module uses).

use std::ffi::c_void;
use std::mem;
use std::ptr;

use fdfs_proto::fileid::{self, Source};
use ngx::ffi::{
    ngx_conf_t, ngx_http_add_variable, ngx_http_request_t, ngx_int_t, ngx_pcalloc,
    ngx_pool_cleanup_add, ngx_str_t, ngx_uint_t, ngx_variable_value_t, NGX_ERROR,
    NGX_HTTP_VAR_NOCACHEABLE, NGX_OK,
};
use ngx::http::HttpModule;

use crate::fallback::peer_uri;
use crate::handler::copy_to_pool;
use crate::Module;

const MAGIC: u32 = u32::from_be_bytes(*b"fdfs");

/// At most this many group members are tried for one request.
pub const MAX_CANDIDATES: usize = 8;

/// What the module did with a request, for `$fastdfs_decision`.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    None = 0,
    Local,
    NotFound,
    BadRequest,
    TokenRefused,
    Proxy,
    Redirect,
    PeersFailed,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::None => "",
            Decision::Local => "local",
            Decision::NotFound => "not_found",
            Decision::BadRequest => "bad_request",
            Decision::TokenRefused => "token_refused",
            Decision::Proxy => "proxy",
            Decision::Redirect => "redirect",
            Decision::PeersFailed => "peers_failed",
        }
    }
}

/// Lives in the request pool (zeroed by `ngx_pcalloc`, which is a valid value: `Decision::None`
/// and empty strings), so it needs no destructor.
#[repr(C)]
pub struct Ctx {
    /// [`MAGIC`]: tells our cleanup entry apart from any other with an identical no-op handler.
    magic: u32,
    pub decision: Decision,
    pub count: u8,
    pub next: u8,
    /// A member tried so far could not be reached (or failed): all others then answering 404
    /// is a 502, not a proof that the file is gone.
    pub unreachable: bool,
    /// `r->upstream_states->nelts` when the current attempt was handed to the proxy location:
    /// an attempt that adds no state never reached a member.
    pub states_before: usize,
    /// HTTP addresses (`host:port`) of the members to try, source first.
    pub candidates: [ngx_str_t; MAX_CANDIDATES],
}

/// Marks our cleanup entry; it has nothing to free.
unsafe extern "C" fn ctx_marker(_data: *mut c_void) {}

/// The request's context, recovered after redirects, if our handler created one.
pub fn find(r: &mut ngx_http_request_t) -> Option<&'static mut Ctx> {
    let idx = Module::module().ctx_index;
    // SAFETY: r->ctx has one slot per HTTP module; ours holds NULL or a Ctx from `get_or_create`.
    unsafe {
        let slot = r.ctx.add(idx);
        if !(*slot).is_null() {
            return Some(&mut *(*slot).cast::<Ctx>());
        }
        if !ptr::eq(r.main, r) {
            return None;
        }
        let mut c = (*r.pool).cleanup;
        while !c.is_null() {
            let ours = (*c).handler.is_some_and(|h| {
                ptr::fn_addr_eq(h, ctx_marker as unsafe extern "C" fn(*mut c_void))
            });
            if ours && !(*c).data.is_null() && (*(*c).data.cast::<Ctx>()).magic == MAGIC {
                *slot = (*c).data;
                return Some(&mut *(*c).data.cast::<Ctx>());
            }
            c = (*c).next;
        }
    }
    None
}

pub fn get_or_create(r: &mut ngx_http_request_t) -> Option<&'static mut Ctx> {
    if let Some(ctx) = find(r) {
        return Some(ctx);
    }
    // SAFETY: allocations come from the request pool, which outlives every use of the ctx; the
    // cleanup entry only records where it is.
    unsafe {
        let ctx = ngx_pcalloc(r.pool, mem::size_of::<Ctx>());
        let cln = ngx_pool_cleanup_add(r.pool, 0);
        if ctx.is_null() || cln.is_null() {
            return None;
        }
        (*ctx.cast::<Ctx>()).magic = MAGIC;
        (*cln).handler = Some(ctx_marker);
        (*cln).data = ctx;
        *r.ctx.add(Module::module().ctx_index) = ctx;
        Some(&mut *ctx.cast::<Ctx>())
    }
}

type Getter =
    unsafe extern "C" fn(*mut ngx_http_request_t, *mut ngx_variable_value_t, usize) -> ngx_int_t;

const VARIABLES: [(&str, Getter); 5] = [
    ("fastdfs_peer", var_peer),
    ("fastdfs_peer_uri", var_peer_uri),
    ("fastdfs_decision", var_decision),
    ("fastdfs_source", var_source),
    ("fastdfs_file_size", var_file_size),
];

/// Registers the variables (preconfiguration).
///
/// # Safety
/// `cf` must be the valid configuration nginx passes to preconfiguration.
pub unsafe fn add_variables(cf: *mut ngx_conf_t) -> ngx_int_t {
    for (name, get) in VARIABLES {
        let mut name = ngx_str_t {
            len: name.len(),
            data: name.as_ptr().cast_mut(),
        };
        // SAFETY: nginx copies the name into the configuration pool.
        let v =
            unsafe { ngx_http_add_variable(cf, &mut name, NGX_HTTP_VAR_NOCACHEABLE as ngx_uint_t) };
        if v.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        // SAFETY: v was just returned by nginx for us to fill.
        unsafe { (*v).get_handler = Some(get) };
    }
    NGX_OK as ngx_int_t
}

/// Fills `v` with a copy of `bytes` (or marks it not found).
fn set_value(
    r: &mut ngx_http_request_t,
    v: &mut ngx_variable_value_t,
    bytes: Option<&[u8]>,
) -> ngx_int_t {
    v.set_no_cacheable(1);
    match bytes {
        Some(b) => {
            let mut with_nul = b.to_vec();
            with_nul.push(0);
            let Some(s) = copy_to_pool(r, &with_nul) else {
                return NGX_ERROR as ngx_int_t;
            };
            v.data = s.data;
            v.set_len(s.len as u32);
            v.set_valid(1);
            v.set_not_found(0);
        }
        None => {
            v.set_valid(0);
            v.set_not_found(1);
        }
    }
    NGX_OK as ngx_int_t
}

macro_rules! getter {
    ($name:ident, |$r:ident| $body:expr) => {
        unsafe extern "C" fn $name(
            r: *mut ngx_http_request_t,
            v: *mut ngx_variable_value_t,
            _data: usize,
        ) -> ngx_int_t {
            // SAFETY: nginx calls variable getters with a live request and value slot.
            let ($r, v) = unsafe { (&mut *r, &mut *v) };
            let value: Option<Vec<u8>> = $body;
            set_value($r, v, value.as_deref())
        }
    };
}

getter!(var_peer, |r| find(r).and_then(|c| {
    (c.next < c.count).then(|| c.candidates[usize::from(c.next)].as_bytes().to_vec())
}));

getter!(var_peer_uri, |r| Some(peer_uri(r)));

getter!(var_decision, |r| find(r)
    .map(|c| c.decision)
    .filter(|d| *d != Decision::None)
    .map(|d| d.as_str().as_bytes().to_vec()));

getter!(var_source, |r| decode_uri(r).map(|d| match d.source {
    Source::Ipv4(ip) => ip.to_string().into_bytes(),
    Source::ServerId(id) => id.to_string().into_bytes(),
}));

getter!(var_file_size, |r| decode_uri(r)
    .and_then(|d| d.size())
    .map(|s| s.to_string().into_bytes()));

/// The file ID in the URI, with or without a group.
fn decode_uri(r: &ngx_http_request_t) -> Option<fileid::DecodedFileId> {
    let uri = r.uri.as_bytes();
    let rest = uri.strip_prefix(b"/")?;
    fileid::parse_file_id(rest)
        .or_else(|_| fileid::parse_logical_name(rest))
        .ok()
        .map(|id| id.decode())
}

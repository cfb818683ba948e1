//! Location configuration of `memc_store`: the embedded `ngx_http_upstream_conf_t` (filled by
//! nginx's own slot functions, merged like `memcached_pass`'s) plus our settings.

use std::ffi::{c_char, c_void};
use std::mem;
use std::ptr;

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    ngx_command_t, ngx_conf_t, ngx_flag_t, ngx_http_complex_value_t, ngx_http_upstream_add,
    ngx_http_upstream_conf_t, ngx_msec_t, ngx_pagesize, ngx_pcalloc, ngx_uint_t, ngx_url_t,
    NGX_CONF_BITMASK_SET, NGX_HTTP_DELETE, NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_PUT,
    NGX_HTTP_UPSTREAM_FT_ERROR, NGX_HTTP_UPSTREAM_FT_OFF, NGX_HTTP_UPSTREAM_FT_TIMEOUT,
    NGX_LOG_EMERG,
};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};
use ngx::ngx_conf_log_error;

use super::handler;

pub const PROTOCOL_GET: ngx_uint_t = 0;
pub const PROTOCOL_META: ngx_uint_t = 1;

const UNSET_UINT: ngx_uint_t = ngx_uint_t::MAX;
const UNSET_MSEC: ngx_msec_t = ngx_msec_t::MAX;
const UNSET_SIZE: usize = usize::MAX;
const UNSET_FLAG: ngx_flag_t = -1;

/// Default `memc_buffer_size`, the cap of the buffer a value streams through. The buffer is sized
/// to the value (up to this cap), so a 200 KB value crosses nginx's filter chain in one or two
/// passes instead of fifty (stock `memcached_buffer_size` is one page); see docs/benchmarks.md.
const DEFAULT_BUFFER_SIZE: usize = 256 * 1024;
const MIN_BUFFER_SIZE: usize = 1024;
const REPLY_BUFFER_SIZE: usize = 16 * 1024;
/// memcached's key limit; tyrantd fleets may raise it with `memc_max_key_len`.
const DEFAULT_MAX_KEY_LEN: usize = 250;
/// Room for `VALUE `, flags, length, cas and CRLF around the key in a reply line.
const REPLY_LINE_OVERHEAD: usize = 128;

/// `#[repr(C)]` because nginx's slot functions write fields at `offset_of!` offsets.
#[repr(C)]
pub struct LocConf {
    pub upstream: ngx_http_upstream_conf_t,
    /// `memc_key`; NULL means `$uri`.
    pub key: *mut ngx_http_complex_value_t,
    pub protocol: ngx_uint_t,
    /// Bitmask of `NGX_HTTP_*` methods; 0 = unset.
    pub methods: ngx_uint_t,
    pub max_key_len: usize,
    pub flags_to_last_modified: ngx_flag_t,
    /// `memc_buffer_size`. `upstream.buffer_size` is only the reply-line buffer, derived from
    /// `max_key_len`.
    pub value_buffer_size: usize,
    /// `memc_gzip_flag`: flags with any of these bits get `Content-Encoding: gzip` (0 = off).
    pub gzip_flag: ngx_uint_t,
}

impl LocConf {
    pub fn meta(&self) -> bool {
        self.protocol == PROTOCOL_META
    }
}

/// # Safety
/// Called by nginx with a valid configuration context.
pub unsafe extern "C" fn create_loc_conf(cf: *mut ngx_conf_t) -> *mut c_void {
    // SAFETY: zeroed memory from the configuration pool, as nginx's own modules allocate theirs;
    // every field of LocConf is a plain C value for which all-zero is valid.
    let lc = unsafe { ngx_pcalloc((*cf).pool, mem::size_of::<LocConf>()).cast::<LocConf>() };
    if lc.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: just allocated, exclusively ours.
    let c = unsafe { &mut *lc };
    let u = &mut c.upstream;
    u.local = usize::MAX as *mut _; // NGX_CONF_UNSET_PTR
    u.socket_keepalive = UNSET_FLAG;
    u.next_upstream_tries = UNSET_UINT;
    u.connect_timeout = UNSET_MSEC;
    u.send_timeout = UNSET_MSEC;
    u.read_timeout = UNSET_MSEC;
    u.next_upstream_timeout = UNSET_MSEC;
    u.ignore_client_abort = UNSET_FLAG;
    // Hard-wired exactly as in ngx_http_memcached_module: unbuffered streaming, nginx error
    // pages (and `error_page 404 = @fallback`) for misses and failures, ranges by nginx.
    u.cyclic_temp_file = 0;
    u.buffering = 0;
    u.send_lowat = 0;
    u.bufs.num = 0;
    u.busy_buffers_size = 0;
    u.max_temp_file_size = 0;
    u.temp_file_write_size = 0;
    u.intercept_errors = 1;
    u.set_intercept_404(1);
    u.pass_request_headers = 0;
    u.pass_request_body = 0;
    u.force_ranges = 1;
    c.key = ptr::null_mut();
    c.protocol = UNSET_UINT;
    c.methods = 0;
    c.max_key_len = UNSET_SIZE;
    c.flags_to_last_modified = UNSET_FLAG;
    c.value_buffer_size = UNSET_SIZE;
    c.gzip_flag = UNSET_UINT;
    lc.cast()
}

fn merge<T: Copy + PartialEq>(v: &mut T, prev: T, unset: T, default: T) {
    if *v == unset {
        *v = if prev == unset { default } else { prev };
    }
}

/// # Safety
/// Called by nginx with the `LocConf`s of the enclosing and the current level.
pub unsafe extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    parent: *mut c_void,
    child: *mut c_void,
) -> *mut c_char {
    // SAFETY: both pointers come from create_loc_conf.
    let (prev, c) = unsafe { (&*parent.cast::<LocConf>(), &mut *child.cast::<LocConf>()) };
    let (p, u) = (&prev.upstream, &mut c.upstream);
    if u.local == usize::MAX as *mut _ {
        u.local = if p.local == usize::MAX as *mut _ {
            ptr::null_mut()
        } else {
            p.local
        };
    }
    merge(&mut u.socket_keepalive, p.socket_keepalive, UNSET_FLAG, 0);
    merge(
        &mut u.ignore_client_abort,
        p.ignore_client_abort,
        UNSET_FLAG,
        0,
    );
    merge(
        &mut u.next_upstream_tries,
        p.next_upstream_tries,
        UNSET_UINT,
        0,
    );
    merge(
        &mut u.connect_timeout,
        p.connect_timeout,
        UNSET_MSEC,
        60_000,
    );
    merge(&mut u.send_timeout, p.send_timeout, UNSET_MSEC, 60_000);
    merge(&mut u.read_timeout, p.read_timeout, UNSET_MSEC, 60_000);
    merge(
        &mut u.next_upstream_timeout,
        p.next_upstream_timeout,
        UNSET_MSEC,
        0,
    );
    // ngx_conf_merge_bitmask_value: 0 = unset.
    if u.next_upstream == 0 {
        u.next_upstream = if p.next_upstream == 0 {
            (NGX_CONF_BITMASK_SET | NGX_HTTP_UPSTREAM_FT_ERROR | NGX_HTTP_UPSTREAM_FT_TIMEOUT)
                as ngx_uint_t
        } else {
            p.next_upstream
        };
    }
    if u.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF as ngx_uint_t != 0 {
        u.next_upstream = (NGX_CONF_BITMASK_SET | NGX_HTTP_UPSTREAM_FT_OFF) as ngx_uint_t;
    }
    if u.upstream.is_null() {
        u.upstream = p.upstream;
    }
    if c.key.is_null() {
        c.key = prev.key;
    }
    merge(&mut c.protocol, prev.protocol, UNSET_UINT, PROTOCOL_GET);
    merge(
        &mut c.methods,
        prev.methods,
        0,
        (NGX_HTTP_GET | NGX_HTTP_HEAD) as ngx_uint_t,
    );
    merge(
        &mut c.max_key_len,
        prev.max_key_len,
        UNSET_SIZE,
        DEFAULT_MAX_KEY_LEN,
    );
    merge(
        &mut c.flags_to_last_modified,
        prev.flags_to_last_modified,
        UNSET_FLAG,
        0,
    );
    // A `limit_except` block is a nested location of its own: without our handler there, an
    // allowed PUT would fall through to the static module (405), as it does for memcached_pass.
    if !u.upstream.is_null() {
        // SAFETY: during merging cf->ctx points at the location being merged.
        if let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) {
            if clcf.lmt_excpt() != 0 && clcf.handler.is_none() {
                clcf.handler = Some(handler::memc_handler);
            }
        }
    }
    merge(
        &mut c.value_buffer_size,
        prev.value_buffer_size,
        UNSET_SIZE,
        DEFAULT_BUFFER_SIZE,
    );
    merge(&mut c.gzip_flag, prev.gzip_flag, UNSET_UINT, 0);
    if c.value_buffer_size < MIN_BUFFER_SIZE {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "memc_buffer_size {} is below {}",
            c.value_buffer_size,
            MIN_BUFFER_SIZE
        );
        return NGX_CONF_ERROR;
    }
    if c.max_key_len == 0 || c.max_key_len > 65_536 {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "memc_max_key_len {} is not between 1 and 65536",
            c.max_key_len
        );
        return NGX_CONF_ERROR;
    }
    // The buffer nginx allocates before the reply arrives: it must hold the reply line, and at
    // 16 KiB it also holds a typical thumbnail whole, so small values need no second buffer.
    // SAFETY: ngx_pagesize is set by nginx before configuration is read.
    let page = unsafe { ngx_pagesize }.max(1);
    let line = (c.max_key_len + REPLY_LINE_OVERHEAD).div_ceil(page) * page;
    u.buffer_size = line.max(REPLY_BUFFER_SIZE.min(c.value_buffer_size));
    NGX_CONF_OK
}

/// # Safety
/// `cf` must be the valid `ngx_conf_t` of a directive callback.
unsafe fn args<'a>(cf: *mut ngx_conf_t) -> &'a [ngx::ffi::ngx_str_t] {
    // SAFETY: during a directive callback `cf->args` is a valid array of ngx_str_t.
    unsafe { (*(*cf).args).as_slice() }
}

/// `memc_store <upstream | host:port | unix:path>;`
///
/// # Safety
/// Called by nginx with valid pointers for this directive.
pub unsafe extern "C" fn set_store(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes our LocConf and a valid cf.
    let (c, args) = unsafe { (&mut *conf.cast::<LocConf>(), args(cf)) };
    if !c.upstream.upstream.is_null() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    // SAFETY: ngx_url_t is a plain C struct that nginx expects zeroed before ngx_parse_url.
    let mut url: ngx_url_t = unsafe { mem::zeroed() };
    url.url = args[1];
    url.set_no_resolve(1);
    // SAFETY: cf is valid; nginx copies what it keeps from `url`.
    c.upstream.upstream = unsafe { ngx_http_upstream_add(cf, &mut url, 0) };
    if c.upstream.upstream.is_null() {
        return NGX_CONF_ERROR;
    }
    // SAFETY: cf is valid; the core module's location conf exists at every location level.
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    clcf.handler = Some(handler::memc_handler);
    if clcf.name.as_bytes().last() == Some(&b'/') {
        clcf.set_auto_redirect(1);
    }
    NGX_CONF_OK
}

/// `memc_store_methods GET HEAD PUT DELETE;` — GET implies HEAD, as in `limit_except`.
///
/// # Safety
/// Called by nginx with valid pointers for this directive.
pub unsafe extern "C" fn set_methods(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes our LocConf and a valid cf.
    let (c, args) = unsafe { (&mut *conf.cast::<LocConf>(), args(cf)) };
    if c.methods != 0 {
        return c"is duplicate".as_ptr().cast_mut();
    }
    let mut mask = 0;
    for a in &args[1..] {
        mask |= match a.as_bytes() {
            b"GET" => NGX_HTTP_GET | NGX_HTTP_HEAD,
            b"HEAD" => NGX_HTTP_HEAD,
            b"PUT" => NGX_HTTP_PUT,
            b"DELETE" => NGX_HTTP_DELETE,
            _ => {
                ngx_conf_log_error!(
                    NGX_LOG_EMERG,
                    cf,
                    "memc_store_methods: unsupported method \"{}\" (GET, HEAD, PUT, DELETE)",
                    a
                );
                return NGX_CONF_ERROR;
            }
        };
    }
    c.methods = mask as ngx_uint_t;
    NGX_CONF_OK
}

//! `nginx -t` checks of the proxy fallback's wiring: the named location the module hands a
//! missing file to must exist, and it should bring a member's 404, 502 and 504 back to the
//! module so the next member is tried. FastDFS syncs asynchronously, so the member asked first
//! may lag just like this one; a 404 from it is no proof the file is gone.
//!
//! Runs while locations are merged: every location of the server is parsed by then, and the
//! core and proxy modules (loaded before this dynamic module) have merged theirs.

use std::ffi::{c_void, CStr};
use std::ptr;

use ngx::ffi::{
    ngx_conf_t, ngx_http_conf_ctx_t, ngx_http_core_loc_conf_t, ngx_http_core_module,
    ngx_http_core_srv_conf_t, ngx_http_err_page_t, ngx_http_location_queue_t,
    ngx_http_upstream_conf_t, ngx_queue_t, NGX_LOG_EMERG, NGX_LOG_WARN,
};
use ngx::ngx_conf_log_error;

use crate::conf::LocConf;
use crate::fallback::{Mode, DEFAULT_PROXY_LOCATION};
use crate::handler;

/// The statuses of a failed attempt that must send the request back to the module.
const RETRY_ON: [usize; 3] = [404, 502, 504];

/// # Safety
/// `loc_conf` must be a location's `loc_conf` array.
unsafe fn core_of(loc_conf: *mut *mut c_void) -> *mut ngx_http_core_loc_conf_t {
    // SAFETY: guaranteed by the caller; the core module has a slot at every level.
    unsafe { (*loc_conf.add(ngx_http_core_module.ctx_index)).cast() }
}

/// The named location `name` (with its `@`) of the server whose root location is `root`.
///
/// # Safety
/// `root` must be a server's core location conf during the merge.
unsafe fn find_named(
    root: *mut ngx_http_core_loc_conf_t,
    name: &[u8],
) -> Option<*mut ngx_http_core_loc_conf_t> {
    // SAFETY: until ngx_http_init_locations splits it (after the merge), `locations` is the
    // queue of ngx_http_location_queue_t, whose first member is the queue link.
    unsafe {
        let head: *mut ngx_queue_t = (*root).locations;
        if head.is_null() {
            return None;
        }
        let mut q = (*head).next;
        while !ptr::eq(q, head) {
            let lq = q.cast::<ngx_http_location_queue_t>();
            let clcf = if (*lq).exact.is_null() {
                (*lq).inclusive
            } else {
                (*lq).exact
            };
            if !clcf.is_null() && (*clcf).named() != 0 && (*clcf).name.as_bytes() == name {
                return Some(clcf);
            }
            q = (*q).next;
        }
    }
    None
}

/// `ngx_http_proxy_module`'s index, looked up by name: nginx may be built without it.
///
/// # Safety
/// `cf` must be a valid configuration being parsed.
unsafe fn proxy_ctx_index(cf: *mut ngx_conf_t) -> Option<usize> {
    // SAFETY: cycle->modules is a NULL-terminated array set up before the configuration is read.
    unsafe {
        let modules = (*(*cf).cycle).modules;
        let mut i = 0;
        while !(*modules.add(i)).is_null() {
            let m = *modules.add(i);
            if !(*m).name.is_null() && CStr::from_ptr((*m).name) == c"ngx_http_proxy_module" {
                return Some((*m).ctx_index);
            }
            i += 1;
        }
    }
    None
}

/// Fails for a missing fallback location; warns when a member's 404 (or 502/504) would end the
/// search instead of trying the next member.
///
/// # Safety
/// `cf` must be the configuration whose location `lc` is being merged.
pub unsafe fn check(cf: *mut ngx_conf_t, lc: &LocConf) -> Result<(), ()> {
    let peers = lc.peers.as_deref().unwrap_or_default();
    if lc.response_mode.unwrap_or(Mode::Proxy) != Mode::Proxy || peers.is_empty() {
        return Ok(());
    }
    let name = lc
        .proxy_location
        .as_deref()
        .unwrap_or(DEFAULT_PROXY_LOCATION.as_bytes());
    let shown = String::from_utf8_lossy(name).into_owned();
    // SAFETY: during the merge cf->ctx holds the server's srv_conf and this location's loc_conf.
    let (here, root) = unsafe {
        let ctx = (*cf).ctx.cast::<ngx_http_conf_ctx_t>();
        let cscf: *mut ngx_http_core_srv_conf_t =
            (*(*ctx).srv_conf.add(ngx_http_core_module.ctx_index)).cast();
        (core_of((*ctx).loc_conf), core_of((*(*cscf).ctx).loc_conf))
    };
    // SAFETY: both are core location confs of this configuration.
    if here.is_null() || root.is_null() || unsafe { (*here).named() } != 0 {
        // A named location serving files is the retry target itself: checked with the first.
        return Ok(());
    }
    // SAFETY: here is valid (checked above).
    let loc_name = String::from_utf8_lossy(unsafe { (*here).name.as_bytes() }).into_owned();
    // SAFETY: root is the server's root location during the merge.
    let Some(target) = (unsafe { find_named(root, name) }) else {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "ngx_fastdfs_module in location {}: the fallback location \"{}\" (fastdfs_proxy_location) \
             is not defined in this server; files not synced here yet are proxied through it \
             (see nginx-conf/storage-node.conf), or set \"fastdfs_response_mode redirect\"",
            loc_name,
            shown
        );
        return Err(());
    };
    let mut gaps: Vec<String> = Vec::new();
    // SAFETY: target is a merged core location conf; its error_pages array (if any) holds
    // ngx_http_err_page_t; its proxy slot starts with ngx_http_upstream_conf_t, the first member
    // of ngx_http_proxy_loc_conf_t in every nginx version since 0.7.
    unsafe {
        let mut missing = Vec::new();
        for code in RETRY_ON {
            match retry_target(root, target, code) {
                Ok(true) => {}
                Ok(false) => missing.push(code.to_string()),
                Err(bad) => {
                    ngx_conf_log_error!(
                        NGX_LOG_EMERG,
                        cf,
                        "location {}: \"error_page {} = {}\" names no location of this server",
                        shown,
                        code,
                        bad
                    );
                    return Err(());
                }
            }
        }
        if !missing.is_empty() {
            gaps.push(format!(
                "no \"error_page {} = @...\" to a location with ngx_fastdfs_module",
                missing.join(" ")
            ));
        }
        if let Some(idx) = proxy_ctx_index(cf) {
            let up = (*(*target).loc_conf.add(idx)).cast::<ngx_http_upstream_conf_t>();
            if !up.is_null() && (*up).intercept_errors != 1 {
                gaps.push("no \"proxy_intercept_errors on\" (a member's 404 is sent as is)".into());
            }
        }
        if (*target).recursive_error_pages != 1 {
            gaps.push("no \"recursive_error_pages on\" (only two members are tried)".into());
        }
    }
    if !gaps.is_empty() {
        ngx_conf_log_error!(
            NGX_LOG_WARN,
            cf,
            "location {} would end the search for a file not synced here yet after one member's \
             404, 502 or 504: {}; a lagging member then hides a file that another member has \
             (nginx-conf/storage-node.conf shows the fallback locations)",
            shown,
            gaps.join("; ")
        );
    }
    Ok(())
}

/// Whether `error_page CODE` of `loc` sends the request to a location served by this module;
/// `Err(name)` when it names a location that does not exist.
///
/// # Safety
/// `root` and `loc` must be merged core location confs of one server.
unsafe fn retry_target(
    root: *mut ngx_http_core_loc_conf_t,
    loc: *mut ngx_http_core_loc_conf_t,
    code: usize,
) -> Result<bool, String> {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let pages = (*loc).error_pages;
        if pages.is_null() {
            return Ok(false);
        }
        let all =
            std::slice::from_raw_parts((*pages).elts.cast::<ngx_http_err_page_t>(), (*pages).nelts);
        let Some(page) = all.iter().find(|p| p.status == code as isize) else {
            return Ok(false);
        };
        let to = page.value.value.as_bytes();
        if to.first() != Some(&b'@') {
            return Ok(false);
        }
        let Some(next) = find_named(root, to) else {
            return Err(String::from_utf8_lossy(to).into_owned());
        };
        let ours = (*next)
            .handler
            .is_some_and(|h| ptr::fn_addr_eq(h, handler::fastdfs_handler as HandlerFn));
        Ok(ours)
    }
}

type HandlerFn = unsafe extern "C" fn(*mut ngx::ffi::ngx_http_request_t) -> ngx::ffi::ngx_int_t;

//! The content handler: validate the URI, open the file below its store path, and let nginx's
//! header and body filters (not-modified, range, sendfile) do the rest, as for static files.

use std::fmt::Write as _;
use std::ptr;

use fdfs_proto::fileid;
use ngx::ffi::{
    ngx_err_t, ngx_http_core_loc_conf_t, ngx_http_request_t, ngx_int_t, ngx_pnalloc, ngx_str_t,
    ngx_uint_t, NGX_HTTP_BAD_REQUEST, NGX_HTTP_FORBIDDEN, NGX_HTTP_GET, NGX_HTTP_HEAD,
    NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED, NGX_HTTP_NOT_FOUND, NGX_LOG_ERR,
    NGX_LOG_INFO,
};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};

use crate::conf::{DataDir, LocConf};
use crate::ctx::{self, Decision};
use crate::open::{open_cached, open_failed, open_file_info, open_target};
use crate::Module;
use crate::{fallback, response, token};

pub(crate) type Status = isize;

pub(crate) const fn status(code: u32) -> Status {
    code as Status
}

/// A validated request for a file of a configured store path.
pub(crate) struct Target<'c> {
    pub(crate) data_dir: &'c DataDir,
    /// `HH/HH/<name>` + NUL, relative to the data directory.
    pub(crate) rel: Vec<u8>,
    /// `<data dir>/HH/HH/<name>` + NUL.
    pub(crate) full: Vec<u8>,
    /// `Mxx/HH/HH/<name>`: what tokens are computed over.
    pub(crate) logical: String,
    /// The file's group, when known.
    pub(crate) group: Option<String>,
}

/// Why `resolve` found no local file to open.
enum Refused {
    /// Answer with this status (already logged).
    Status(Status),
    /// A valid ID of a group this host does not store.
    OtherGroup { group: String, logical: String },
}

/// Maps a decoded URI to its file, or to the status that refuses it (logged here).
fn resolve<'c>(r: &ngx_http_request_t, lc: &'c LocConf) -> Result<Target<'c>, Refused> {
    let uri = r.uri.as_bytes();
    let rest = uri.strip_prefix(b"/").unwrap_or(uri);
    let parsed = if lc.url_have_group_name() {
        fileid::parse_file_id(rest)
    } else {
        fileid::parse_logical_name(rest)
    };
    let id = match parsed {
        Ok(id) => id,
        Err(e) => {
            log(
                r,
                NGX_LOG_INFO,
                0,
                &format!("fastdfs: invalid file name in URI: {e}"),
            );
            return Err(Refused::Status(status(NGX_HTTP_BAD_REQUEST)));
        }
    };
    let Some(store) = lc.store_for(id.group) else {
        let msg = format!(
            "fastdfs: URI is for another group than \"{}\"",
            lc.local_groups()
        );
        log(r, NGX_LOG_INFO, 0, &msg);
        return Err(match id.group {
            Some(g) => Refused::OtherGroup {
                group: g.to_owned(),
                logical: id.logical_name.to_owned(),
            },
            None => Refused::Status(status(NGX_HTTP_NOT_FOUND)),
        });
    };
    let Some(data_dir) = store.data_dir(id.store_path_index) else {
        let mut msg = String::new();
        let _ = write!(
            msg,
            "fastdfs: store path M{:02X} is not configured",
            id.store_path_index
        );
        log(r, NGX_LOG_INFO, 0, &msg);
        return Err(Refused::Status(status(NGX_HTTP_BAD_REQUEST)));
    };
    // The validator guarantees `logical_name` is `Mxx/HH/HH/<name>`.
    let mut rel = id.logical_name.as_bytes()[4..].to_vec();
    rel.push(0);
    let mut full = Vec::with_capacity(data_dir.path.len() + rel.len() + 1);
    full.extend_from_slice(&data_dir.path);
    full.push(b'/');
    full.extend_from_slice(&rel);
    Ok(Target {
        data_dir,
        rel,
        full,
        logical: id.logical_name.to_owned(),
        group: lc.group_of(store).map(str::to_owned),
    })
}

/// A log line on the request's connection log; `err` adds nginx's "(errno: text)" suffix.
pub(crate) fn log(r: &ngx_http_request_t, level: u32, err: ngx_err_t, msg: &str) {
    // SAFETY: a request being handled always has a connection with a log.
    unsafe {
        let log = (*r.connection).log;
        if level as ngx_uint_t <= (*log).log_level {
            ngx::log::log_error(level as ngx_uint_t, log, err, msg.as_bytes());
        }
    }
}

/// Content handler installed by `ngx_fastdfs_module;`.
///
/// # Safety
/// Called by nginx's content phase with a valid request.
pub unsafe extern "C" fn fastdfs_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx hands us a live request for the duration of the call.
    let r = unsafe { &mut *r };
    serve(r)
}

fn serve(r: &mut ngx_http_request_t) -> Status {
    if r.method & (NGX_HTTP_GET | NGX_HTTP_HEAD) as ngx_uint_t == 0 {
        return status(NGX_HTTP_NOT_ALLOWED);
    }
    let (Some(lc), Some(clcf)) = (
        Module::location_conf(&*r),
        NgxHttpCoreModule::location_conf(&*r),
    ) else {
        return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
    };
    let Some(ctx) = ctx::get_or_create(r) else {
        return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
    };
    if ctx.decision == Decision::Proxy {
        // Back from a failed attempt through `error_page ... = @...`: try the next member.
        return fallback::next_attempt(r, lc, ctx);
    }
    let target = match resolve(r, lc) {
        Ok(t) => t,
        Err(Refused::Status(s)) => {
            ctx.decision = if s == status(NGX_HTTP_NOT_FOUND) {
                Decision::NotFound
            } else {
                Decision::BadRequest
            };
            return s;
        }
        Err(Refused::OtherGroup { group, logical }) => {
            let missing = fallback::Missing {
                group: &group,
                logical: &logical,
                other_group: true,
            };
            return fallback::not_here(r, lc, ctx, missing);
        }
    };
    if let Err(why) = token::check(r, &lc.token, &target.logical) {
        ctx.decision = Decision::TokenRefused;
        log(
            r,
            NGX_LOG_INFO,
            0,
            &format!("fastdfs: token check failed: {why}"),
        );
        return match &lc.token.fail_file {
            Some(fail_file) => send_fail_file(r, clcf, fail_file),
            None => status(NGX_HTTP_FORBIDDEN),
        };
    }
    let (of, path) = match open_target(r, clcf, &target) {
        Ok(opened) => opened,
        Err(s) if s == status(NGX_HTTP_NOT_FOUND) => {
            let group = target.group.as_deref().unwrap_or_default();
            let missing = fallback::Missing {
                group,
                logical: &target.logical,
                other_group: false,
            };
            return fallback::not_here(r, lc, ctx, missing);
        }
        Err(s) => {
            ctx.decision = Decision::BadRequest;
            return s;
        }
    };
    ctx.decision = Decision::Local;
    r.set_root_tested(u32::from(r.error_page() == 0));
    if of.is_dir() != 0 || of.is_file() == 0 {
        let msg = format!("fastdfs: \"{}\" is not a regular file", show(&path));
        log(r, NGX_LOG_ERR, 0, &msg);
        return status(NGX_HTTP_NOT_FOUND);
    }
    let extras = match response::Extras::from_request(r, lc, of.size) {
        Ok(extras) => extras,
        Err(s) => return s,
    };
    response::send_file(r, path, &of, &extras)
}

/// Answers a refused token with the configured file and 200, as fastdfs-nginx-module does; its
/// Content-Type follows the file's own extension.
fn send_fail_file(
    r: &mut ngx_http_request_t,
    clcf: &ngx_http_core_loc_conf_t,
    fail_file: &[u8],
) -> Status {
    let Some(mut path) = copy_to_pool(r, fail_file) else {
        return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
    };
    let mut of = open_file_info(clcf);
    of.set_disable_symlinks(0);
    if !open_cached(r, clcf, &mut path, &mut of) {
        return open_failed(r, clcf, of.err, "open()", &path)
            .max(status(NGX_HTTP_INTERNAL_SERVER_ERROR));
    }
    let bytes = path.as_bytes();
    let name_start = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    r.exten = match bytes[name_start..].iter().rposition(|&b| b == b'.') {
        Some(dot) => ngx_str_t {
            len: bytes.len() - (name_start + dot + 1),
            // SAFETY: the offset stays inside the pool copy of the path.
            data: unsafe { path.data.add(name_start + dot + 1) },
        },
        None => ngx_str_t::default(),
    };
    response::send_file(r, path, &of, &response::Extras::default())
}

pub(crate) fn show(path: &ngx_str_t) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(path.as_bytes())
}

/// Copies NUL-terminated bytes into the request pool; the returned length excludes the NUL.
pub(crate) fn copy_to_pool(r: &mut ngx_http_request_t, bytes_with_nul: &[u8]) -> Option<ngx_str_t> {
    // SAFETY: the pool lives as long as the request; we write exactly the allocated length.
    unsafe {
        let p = ngx_pnalloc(r.pool, bytes_with_nul.len()).cast::<u8>();
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(bytes_with_nul.as_ptr(), p, bytes_with_nul.len());
        Some(ngx_str_t {
            len: bytes_with_nul.len().saturating_sub(1),
            data: p,
        })
    }
}

//! The content handler: validate the URI, open the file like the static module does, and let
//! nginx's header and body filters (not-modified, range, sendfile) do the rest.

use std::fmt::Write as _;
use std::mem;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use fdfs_proto::fileid::{self, FileIdRef};
use ngx::ffi::{
    ngx_buf_t, ngx_chain_t, ngx_err_t, ngx_file_t, ngx_http_discard_request_body,
    ngx_http_output_filter, ngx_http_request_t, ngx_http_send_header, ngx_http_set_content_type,
    ngx_http_set_etag, ngx_int_t, ngx_open_cached_file, ngx_open_file_info_t, ngx_pcalloc,
    ngx_pnalloc, ngx_str_t, ngx_uint_t, NGX_DISABLE_SYMLINKS_ON, NGX_EACCES, NGX_ELOOP, NGX_EMLINK,
    NGX_ENAMETOOLONG, NGX_ENOENT, NGX_ENOTDIR, NGX_ERROR, NGX_HTTP_BAD_REQUEST, NGX_HTTP_FORBIDDEN,
    NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED,
    NGX_HTTP_NOT_FOUND, NGX_HTTP_OK, NGX_LOG_CRIT, NGX_LOG_ERR, NGX_LOG_INFO, NGX_OK,
};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};

use crate::conf::LocConf;
use crate::Module;

/// Why a URI is not served, with the status nginx answers.
#[derive(Debug)]
enum Reject {
    BadName(fileid::FileIdError),
    OtherGroup,
    UnknownStorePath(u8),
}

impl Reject {
    fn status(&self) -> u32 {
        match self {
            Reject::BadName(_) | Reject::UnknownStorePath(_) => NGX_HTTP_BAD_REQUEST,
            Reject::OtherGroup => NGX_HTTP_NOT_FOUND,
        }
    }
}

/// Maps a decoded URI to `<data dir>/HH/HH/<name>` (NUL-terminated for open()).
fn resolve(lc: &LocConf, uri: &[u8]) -> Result<(Vec<u8>, usize), Reject> {
    let rest = uri.strip_prefix(b"/").unwrap_or(uri);
    let id: FileIdRef<'_> = if lc.url_have_group_name() {
        fileid::parse_file_id(rest).map_err(Reject::BadName)?
    } else {
        fileid::parse_logical_name(rest).map_err(Reject::BadName)?
    };
    if let (Some(url_group), Some(own)) = (id.group, lc.group.as_deref()) {
        if url_group != own {
            return Err(Reject::OtherGroup);
        }
    }
    let data_dir = lc
        .data_dir(id.store_path_index)
        .ok_or(Reject::UnknownStorePath(id.store_path_index))?;
    // The validator guarantees `logical_name` is `Mxx/HH/HH/<name>`: keep the `/HH/HH/<name>` part.
    let tail = &id.logical_name[3..];
    let mut path = Vec::with_capacity(data_dir.len() + tail.len() + 1);
    path.extend_from_slice(data_dir);
    path.extend_from_slice(tail.as_bytes());
    path.push(0);
    Ok((path, data_dir.len()))
}

/// A log line with the request's connection log. `err` adds nginx's "(errno: text)" suffix.
fn log(r: &ngx_http_request_t, level: u32, err: ngx_err_t, msg: &str) {
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
    serve(r) as ngx_int_t
}

fn serve(r: &mut ngx_http_request_t) -> isize {
    if r.method & (NGX_HTTP_GET | NGX_HTTP_HEAD) as ngx_uint_t == 0 {
        return NGX_HTTP_NOT_ALLOWED as isize;
    }
    let Some(lc) = Module::location_conf(&*r) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as isize;
    };
    let uri = r.uri.as_bytes();
    let (path, data_dir_len) = match resolve(lc, uri) {
        Ok(p) => p,
        Err(reject) => {
            let mut msg = String::from("fastdfs: ");
            let _ = match &reject {
                Reject::BadName(e) => write!(msg, "invalid file name in URI: {e}"),
                Reject::OtherGroup => write!(
                    msg,
                    "URI is for another group than \"{}\"",
                    lc.group.as_deref().unwrap_or("")
                ),
                Reject::UnknownStorePath(i) => write!(msg, "store path M{i:02X} is not configured"),
            };
            log(r, NGX_LOG_INFO, 0, &msg);
            return reject.status() as isize;
        }
    };

    let Some(clcf) = NgxHttpCoreModule::location_conf(&*r) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as isize;
    };
    let mut of = open_file_info(clcf);
    let mut path = match copy_to_pool(r, &path) {
        Some(p) => p,
        None => return NGX_HTTP_INTERNAL_SERVER_ERROR as isize,
    };
    // Symlinks are refused below the data directory; a link is then served only if its real
    // target lies inside the data directory (FastDFS links point at other files of the store).
    of.disable_symlinks_from = data_dir_len;
    let mut rc = open_cached(r, clcf, &mut path, &mut of);
    if rc.is_err() && matches!(of.err as u32, NGX_ELOOP | NGX_EMLINK) {
        match canonical_inside(&path, data_dir_len) {
            Some(real) => {
                let Some(real) = copy_to_pool(r, &real) else {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR as isize;
                };
                path = real;
                of = open_file_info(clcf);
                of.disable_symlinks_from = 0;
                rc = open_cached(r, clcf, &mut path, &mut of);
            }
            None => {
                log(
                    r,
                    NGX_LOG_ERR,
                    0,
                    &format!(
                        "fastdfs: \"{}\" resolves outside the store path, refused",
                        String::from_utf8_lossy(path.as_bytes())
                    ),
                );
                return NGX_HTTP_FORBIDDEN as isize;
            }
        }
    }
    if rc.is_err() {
        let (level, status) = match of.err as u32 {
            0 => return NGX_HTTP_INTERNAL_SERVER_ERROR as isize,
            NGX_ENOENT | NGX_ENOTDIR | NGX_ENAMETOOLONG => (NGX_LOG_ERR, NGX_HTTP_NOT_FOUND),
            NGX_EACCES | NGX_ELOOP | NGX_EMLINK => (NGX_LOG_ERR, NGX_HTTP_FORBIDDEN),
            _ => (NGX_LOG_CRIT, NGX_HTTP_INTERNAL_SERVER_ERROR),
        };
        if status != NGX_HTTP_NOT_FOUND || clcf.log_not_found != 0 {
            // SAFETY: `failed` is a static C string set by ngx_open_cached_file on error.
            let failed = unsafe { std::ffi::CStr::from_ptr(of.failed.cast()) };
            let msg = format!(
                "{} \"{}\" failed",
                failed.to_string_lossy(),
                String::from_utf8_lossy(path.as_bytes())
            );
            log(r, level, of.err, &msg);
        }
        return status as isize;
    }
    r.set_root_tested(if r.error_page() != 0 { 0 } else { 1 });
    if of.is_dir() != 0 || of.is_file() == 0 {
        log(
            r,
            NGX_LOG_ERR,
            0,
            &format!(
                "fastdfs: \"{}\" is not a regular file",
                String::from_utf8_lossy(path.as_bytes())
            ),
        );
        return NGX_HTTP_NOT_FOUND as isize;
    }
    send_file(r, path, &of)
}

fn open_file_info(clcf: &ngx::ffi::ngx_http_core_loc_conf_t) -> ngx_open_file_info_t {
    // SAFETY: ngx_open_file_info_t is a plain C struct for which all-zero is the documented
    // initial state (nginx itself ngx_memzero()s it).
    let mut of: ngx_open_file_info_t = unsafe { mem::zeroed() };
    of.read_ahead = clcf.read_ahead;
    of.directio = clcf.directio;
    of.valid = clcf.open_file_cache_valid;
    of.min_uses = clcf.open_file_cache_min_uses;
    of.set_errors(u32::from(clcf.open_file_cache_errors != 0));
    of.set_events(u32::from(clcf.open_file_cache_events != 0));
    of.set_disable_symlinks(NGX_DISABLE_SYMLINKS_ON);
    of
}

fn open_cached(
    r: &mut ngx_http_request_t,
    clcf: &ngx::ffi::ngx_http_core_loc_conf_t,
    path: &mut ngx_str_t,
    of: &mut ngx_open_file_info_t,
) -> Result<(), ()> {
    // SAFETY: path is NUL-terminated pool memory that outlives the request; the cache pointer
    // comes from the core location conf (NULL means "no cache", which nginx handles).
    let rc = unsafe { ngx_open_cached_file(clcf.open_file_cache, path, of, r.pool) };
    if rc == NGX_OK as ngx_int_t {
        Ok(())
    } else {
        Err(())
    }
}

/// Copies a NUL-terminated path into the request pool; the returned length excludes the NUL.
fn copy_to_pool(r: &mut ngx_http_request_t, bytes_with_nul: &[u8]) -> Option<ngx_str_t> {
    // SAFETY: the pool lives as long as the request; we write exactly the allocated length.
    unsafe {
        let p = ngx_pnalloc(r.pool, bytes_with_nul.len()).cast::<u8>();
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(bytes_with_nul.as_ptr(), p, bytes_with_nul.len());
        Some(ngx_str_t {
            len: bytes_with_nul.len() - 1,
            data: p,
        })
    }
}

/// The real path of a symlinked file, NUL-terminated, if it stays inside the data directory.
fn canonical_inside(path: &ngx_str_t, data_dir_len: usize) -> Option<Vec<u8>> {
    let bytes = path.as_bytes();
    let data_dir = Path::new(std::ffi::OsStr::from_bytes(bytes.get(..data_dir_len)?));
    let real_dir = std::fs::canonicalize(data_dir).ok()?;
    let real = std::fs::canonicalize(Path::new(std::ffi::OsStr::from_bytes(bytes))).ok()?;
    if !real.starts_with(&real_dir) || real == real_dir {
        return None;
    }
    let mut out = real.as_os_str().as_bytes().to_vec();
    out.push(0);
    Some(out)
}

fn send_file(r: &mut ngx_http_request_t, path: ngx_str_t, of: &ngx_open_file_info_t) -> isize {
    // SAFETY: every call below is nginx API used as the static module uses it, on a live request;
    // buffers come from the request pool and stay valid until the request is finalized.
    unsafe {
        let rc = ngx_http_discard_request_body(r);
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        (*(*r.connection).log).action = c"sending response to client".as_ptr().cast_mut();
        r.headers_out.status = NGX_HTTP_OK as ngx_uint_t;
        r.headers_out.content_length_n = of.size;
        r.headers_out.last_modified_time = of.mtime;
        if ngx_http_set_etag(r) != NGX_OK as ngx_int_t
            || ngx_http_set_content_type(r) != NGX_OK as ngx_int_t
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as isize;
        }
        r.set_allow_ranges(1);

        // Allocate before sending the header: after it, an allocation failure cannot be reported.
        let b = ngx_pcalloc(r.pool, mem::size_of::<ngx_buf_t>()).cast::<ngx_buf_t>();
        if b.is_null() {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as isize;
        }
        let file = ngx_pcalloc(r.pool, mem::size_of::<ngx_file_t>()).cast::<ngx_file_t>();
        if file.is_null() {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as isize;
        }
        let out = ngx_pcalloc(r.pool, mem::size_of::<ngx_chain_t>()).cast::<ngx_chain_t>();
        if out.is_null() {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as isize;
        }

        let rc = ngx_http_send_header(r);
        if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || r.header_only() != 0 {
            return rc;
        }

        let is_main = ptr::eq(r.main, r as *const ngx_http_request_t);
        let b = &mut *b;
        b.file_pos = 0;
        b.file_last = of.size;
        b.set_in_file(u32::from(of.size > 0));
        b.set_last_buf(u32::from(is_main));
        b.set_last_in_chain(1);
        b.set_sync(u32::from(!(is_main || of.size > 0)));
        (*file).fd = of.fd;
        (*file).name = path;
        (*file).log = (*r.connection).log;
        (*file).set_directio(of.is_directio());
        b.file = file;
        (*out).buf = b;
        (*out).next = ptr::null_mut();
        ngx_http_output_filter(r, out)
    }
}

//! The content handler: validate the URI, open the file below its store path, and let nginx's
//! header and body filters (not-modified, range, sendfile) do the rest, as for static files.

use std::ffi::CStr;
use std::fmt::Write as _;
use std::mem;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use fdfs_proto::fileid;
use ngx::ffi::{
    ngx_directio_on, ngx_err_t, ngx_http_core_loc_conf_t, ngx_http_request_t, ngx_int_t,
    ngx_open_cached_file, ngx_open_file_info_t, ngx_pnalloc, ngx_pool_cleanup_add,
    ngx_pool_cleanup_file, ngx_pool_cleanup_file_t, ngx_read_ahead, ngx_str_t, ngx_uint_t,
    NGX_DISABLE_SYMLINKS_ON, NGX_EACCES, NGX_ELOOP, NGX_EMLINK, NGX_ENAMETOOLONG, NGX_ENOENT,
    NGX_ENOTDIR, NGX_HTTP_BAD_REQUEST, NGX_HTTP_FORBIDDEN, NGX_HTTP_GET, NGX_HTTP_HEAD,
    NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED, NGX_HTTP_NOT_FOUND, NGX_LOG_CRIT,
    NGX_LOG_ERR, NGX_LOG_INFO, NGX_LOG_NOTICE, NGX_OK,
};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};

use crate::conf::{DataDir, LocConf};
use crate::ctx::{self, Decision};
use crate::storedir::Recheck;
use crate::Module;
use crate::{beneath, fallback, response, token};

/// nginx's `NGX_MIN_READ_AHEAD`: below this size read-ahead hints are not worth a syscall.
const MIN_READ_AHEAD: i64 = 128 * 1024;

pub(crate) type Status = isize;

pub(crate) const fn status(code: u32) -> Status {
    code as Status
}

/// A validated request for a file of a configured store path.
struct Target<'c> {
    data_dir: &'c DataDir,
    /// `HH/HH/<name>` + NUL, relative to the data directory.
    rel: Vec<u8>,
    /// `<data dir>/HH/HH/<name>` + NUL.
    full: Vec<u8>,
    /// `Mxx/HH/HH/<name>`: what tokens are computed over.
    logical: String,
    /// The file's group, when known.
    group: Option<String>,
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

fn show(path: &ngx_str_t) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(path.as_bytes())
}

/// Opens the target, preferring one `openat2(RESOLVE_BENEATH)` when the open file cache is off,
/// else nginx's cached open with symlinks refused below the data directory. A symlink is served
/// only if its real target is inside the data directory (FastDFS links point at other files).
fn open_target(
    r: &mut ngx_http_request_t,
    clcf: &ngx_http_core_loc_conf_t,
    t: &Target<'_>,
) -> Result<(ngx_open_file_info_t, ngx_str_t), Status> {
    let path = copy_to_pool(r, &t.full).ok_or(status(NGX_HTTP_INTERNAL_SERVER_ERROR))?;
    if clcf.open_file_cache.is_null() {
        let rel = CStr::from_bytes_with_nul(&t.rel).map_err(|_| status(NGX_HTTP_BAD_REQUEST))?;
        let dir = &t.data_dir.handle;
        // SAFETY: ngx_cached_time always points at a valid ngx_time_t in a running worker.
        let now = unsafe { (*ngx::ffi::ngx_cached_time).sec };
        if let Some(found) = dir.recheck_due(now) {
            log_recheck(r, t, &found);
        }
        let mut opened = beneath::open_beneath(dir.fd(), rel);
        if let Err(e) = &opened {
            if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) {
                let found = dir.recheck(now);
                log_recheck(r, t, &found);
                if matches!(found, Recheck::Reopened) {
                    opened = beneath::open_beneath(dir.fd(), rel);
                }
            }
        }
        match opened {
            Ok(fd) => return Ok((adopt_fd(r, clcf, fd, &path)?, path)),
            Err(e) => match e.raw_os_error().unwrap_or(0) {
                libc::EXDEV | libc::ELOOP => return open_symlinked(r, clcf, t, path),
                libc::ENOSYS | libc::EPERM => {} // old kernel or seccomp: nginx's walk below
                errno => return Err(open_failed(r, clcf, errno, "openat2()", &path)),
            },
        }
    }
    let mut of = open_file_info(clcf);
    of.disable_symlinks_from = t.data_dir.path.len();
    let mut p = path;
    if open_cached(r, clcf, &mut p, &mut of) {
        return Ok((of, p));
    }
    match of.err as u32 {
        // ENOTDIR: nginx's walk met a symlinked sub-directory (O_NOFOLLOW|O_DIRECTORY).
        NGX_ELOOP | NGX_EMLINK | NGX_ENOTDIR => open_symlinked(r, clcf, t, p),
        0 => Err(status(NGX_HTTP_INTERNAL_SERVER_ERROR)),
        errno => {
            // SAFETY: `failed` is a static C string set by ngx_open_cached_file on error.
            let failed = unsafe { CStr::from_ptr(of.failed.cast()) };
            let failed = failed.to_string_lossy();
            Err(open_failed(r, clcf, errno as i32, &failed, &p))
        }
    }
}

/// Says when the data directory was found replaced: the operator swapped or restored a disk
/// and wants to know nginx follows.
fn log_recheck(r: &ngx_http_request_t, t: &Target<'_>, found: &Recheck) {
    let dir = String::from_utf8_lossy(&t.data_dir.path);
    match found {
        Recheck::Same | Recheck::Absent => {}
        Recheck::Reopened => log(
            r,
            NGX_LOG_NOTICE,
            0,
            &format!("fastdfs: store data directory \"{dir}\" was replaced (new device/inode); serving the new one"),
        ),
        Recheck::Failed(e) => log(
            r,
            NGX_LOG_ERR,
            0,
            &format!("fastdfs: store data directory \"{dir}\" was replaced but the new one cannot be opened ({e}); still serving the old one"),
        ),
    }
}

/// Maps an open error to the status nginx's static module gives it, logging as it does.
fn open_failed(
    r: &ngx_http_request_t,
    clcf: &ngx_http_core_loc_conf_t,
    errno: i32,
    call: &str,
    path: &ngx_str_t,
) -> Status {
    let (level, code) = match errno as u32 {
        NGX_ENOENT | NGX_ENOTDIR | NGX_ENAMETOOLONG => (NGX_LOG_ERR, NGX_HTTP_NOT_FOUND),
        NGX_EACCES | NGX_ELOOP | NGX_EMLINK => (NGX_LOG_ERR, NGX_HTTP_FORBIDDEN),
        _ => (NGX_LOG_CRIT, NGX_HTTP_INTERNAL_SERVER_ERROR),
    };
    if code != NGX_HTTP_NOT_FOUND || clcf.log_not_found != 0 {
        let msg = format!("{call} \"{}\" failed", show(path));
        log(r, level, errno as ngx_err_t, &msg);
    }
    status(code)
}

/// The slow path for a symlink: serve its real path if that stays inside the data directory.
fn open_symlinked(
    r: &mut ngx_http_request_t,
    clcf: &ngx_http_core_loc_conf_t,
    t: &Target<'_>,
    path: ngx_str_t,
) -> Result<(ngx_open_file_info_t, ngx_str_t), Status> {
    let real = match canonical_inside(&t.data_dir.path, path.as_bytes()) {
        Ok(real) => real,
        Err(Some(errno)) => return Err(open_failed(r, clcf, errno, "realpath()", &path)),
        Err(None) => {
            let msg = format!(
                "fastdfs: \"{}\" resolves outside the store path, refused",
                show(&path)
            );
            log(r, NGX_LOG_ERR, 0, &msg);
            return Err(status(NGX_HTTP_FORBIDDEN));
        }
    };
    let mut real = copy_to_pool(r, &real).ok_or(status(NGX_HTTP_INTERNAL_SERVER_ERROR))?;
    let mut of = open_file_info(clcf);
    // A canonical path has no links left: refusing any now closes the race with a swapped link.
    of.disable_symlinks_from = 0;
    if open_cached(r, clcf, &mut real, &mut of) {
        Ok((of, real))
    } else {
        Err(open_failed(r, clcf, of.err, "open()", &real))
    }
}

fn open_file_info(clcf: &ngx_http_core_loc_conf_t) -> ngx_open_file_info_t {
    // SAFETY: ngx_open_file_info_t is a plain C struct whose documented initial state is all
    // zeroes (nginx itself ngx_memzero()s it).
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

/// nginx's cached open; true on success (`of` then describes the file).
fn open_cached(
    r: &mut ngx_http_request_t,
    clcf: &ngx_http_core_loc_conf_t,
    path: &mut ngx_str_t,
    of: &mut ngx_open_file_info_t,
) -> bool {
    // SAFETY: path is NUL-terminated pool memory that outlives the request; the cache pointer
    // comes from the core location conf (NULL means "no cache", which nginx handles).
    let rc = unsafe { ngx_open_cached_file(clcf.open_file_cache, path, of, r.pool) };
    rc == NGX_OK as ngx_int_t
}

/// Makes an fd we opened look like one from nginx's uncached open: closed with the request pool,
/// described by an `ngx_open_file_info_t`, with directio and read-ahead applied the same way.
fn adopt_fd(
    r: &mut ngx_http_request_t,
    clcf: &ngx_http_core_loc_conf_t,
    fd: i32,
    path: &ngx_str_t,
) -> Result<ngx_open_file_info_t, Status> {
    // SAFETY: the cleanup is allocated from the request pool and closes `fd` exactly once when
    // the request is freed; `path` is pool memory with the same lifetime.
    unsafe {
        let cln = ngx_pool_cleanup_add(r.pool, mem::size_of::<ngx_pool_cleanup_file_t>());
        if cln.is_null() {
            beneath::close(fd);
            return Err(status(NGX_HTTP_INTERNAL_SERVER_ERROR));
        }
        let clnf = (*cln).data.cast::<ngx_pool_cleanup_file_t>();
        (*clnf).fd = fd;
        (*clnf).name = path.data;
        (*clnf).log = (*r.connection).log;
        (*cln).handler = Some(ngx_pool_cleanup_file);
    }
    let st = match beneath::fstat(fd) {
        Ok(st) => st,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(0);
            return Err(open_failed(r, clcf, errno, "fstat()", path));
        }
    };
    let mut of = open_file_info(clcf);
    of.fd = fd;
    of.uniq = st.st_ino;
    of.mtime = st.st_mtime;
    of.size = st.st_size;
    of.fs_size = st.st_blocks * 512;
    let mode = st.st_mode & libc::S_IFMT;
    of.set_is_file(u32::from(mode == libc::S_IFREG));
    of.set_is_dir(u32::from(mode == libc::S_IFDIR));
    if of.is_file() != 0 {
        // SAFETY: fd is a regular file we own; both calls only set advisory flags on it.
        unsafe {
            if of.directio <= of.size && ngx_directio_on(fd) != -1 {
                of.set_is_directio(1);
            } else if of.read_ahead != 0 && of.size > MIN_READ_AHEAD {
                ngx_read_ahead(fd, of.read_ahead);
            }
        }
    }
    Ok(of)
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

/// The real path of `path` (NUL-terminated on return) if it lies strictly inside `data_dir`;
/// `Err(Some(errno))` when it cannot be resolved, `Err(None)` when it resolves outside.
fn canonical_inside(data_dir: &[u8], path: &[u8]) -> Result<Vec<u8>, Option<i32>> {
    let resolve = |p: &[u8]| {
        std::fs::canonicalize(Path::new(std::ffi::OsStr::from_bytes(p)))
            .map_err(|e| Some(e.raw_os_error().unwrap_or(libc::EIO)))
    };
    let real_dir = resolve(data_dir)?;
    let real = resolve(path)?;
    if !real.starts_with(&real_dir) || real == real_dir {
        return Err(None);
    }
    let mut out = real.as_os_str().as_bytes().to_vec();
    out.push(0);
    Ok(out)
}

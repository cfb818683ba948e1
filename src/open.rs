//! Opening the file of a request below its data directory, the way nginx's static module
//! would (same statuses, same log lines), but with one `openat2(RESOLVE_BENEATH)` when it can.

use std::ffi::CStr;
use std::mem;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ngx::ffi::{
    ngx_directio_on, ngx_err_t, ngx_http_core_loc_conf_t, ngx_http_request_t, ngx_int_t,
    ngx_open_cached_file, ngx_open_file_info_t, ngx_pool_cleanup_add, ngx_pool_cleanup_file,
    ngx_pool_cleanup_file_t, ngx_read_ahead, ngx_str_t, NGX_DISABLE_SYMLINKS_ON, NGX_EACCES,
    NGX_ELOOP, NGX_EMLINK, NGX_ENAMETOOLONG, NGX_ENOENT, NGX_ENOTDIR, NGX_HTTP_BAD_REQUEST,
    NGX_HTTP_FORBIDDEN, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_FOUND, NGX_LOG_CRIT,
    NGX_LOG_ERR, NGX_LOG_NOTICE, NGX_LOG_WARN, NGX_OK,
};

use crate::beneath;
use crate::handler::{copy_to_pool, log, show, status, Status, Target};
use crate::storedir::Recheck;

/// nginx's `NGX_MIN_READ_AHEAD`: below this size read-ahead hints are not worth a syscall.
const MIN_READ_AHEAD: i64 = 128 * 1024;

/// Opens the target, preferring one `openat2(RESOLVE_BENEATH)` when the open file cache is off,
/// else nginx's cached open with symlinks refused below the data directory. A symlink is served
/// only if its real target is inside the data directory (FastDFS links point at other files).
pub(crate) fn open_target(
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
        let mut opened = dir.fd().map(|fd| beneath::open_beneath(fd, rel));
        let missing = match &opened {
            None => true,
            Some(Err(e)) => matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)),
            Some(Ok(_)) => false,
        };
        if missing {
            let found = dir.recheck(now);
            log_recheck(r, t, &found);
            if matches!(found, Recheck::Reopened) {
                opened = dir.fd().map(|fd| beneath::open_beneath(fd, rel));
            }
        }
        match opened {
            Some(Ok(fd)) => return Ok((adopt_fd(r, clcf, fd, &path)?, path)),
            Some(Err(e)) => match e.raw_os_error().unwrap_or(0) {
                libc::EXDEV | libc::ELOOP => return open_symlinked(r, clcf, t, path),
                libc::ENOSYS | libc::EPERM => {} // old kernel or seccomp: nginx's walk below
                errno => return Err(open_failed(r, clcf, errno, "openat2()", &path)),
            },
            None => {} // nothing at the store path now: nginx's open below says so (404)
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
        Recheck::Gone => log(
            r,
            NGX_LOG_WARN,
            0,
            &format!("fastdfs: store data directory \"{dir}\" is gone; its files are not found until a directory is back at that path"),
        ),
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
pub(crate) fn open_failed(
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

pub(crate) fn open_file_info(clcf: &ngx_http_core_loc_conf_t) -> ngx_open_file_info_t {
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
pub(crate) fn open_cached(
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

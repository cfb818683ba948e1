//! Opening a file strictly below a directory with one `openat2(RESOLVE_BENEATH)` call.
//!
//! nginx's `disable_symlinks` walks the path one `openat()` per component, which costs several
//! syscalls per request when the open file cache is off. `RESOLVE_BENEATH` gives the same
//! guarantee (no `..`, no absolute path, no symlink may leave the directory) in a single call, and
//! still follows links that stay inside, so plain requests cost what nginx's static module pays.

use std::ffi::CStr;
use std::io;
use std::mem;
use std::os::fd::RawFd;

/// `struct open_how` of linux/openat2.h (libc's is `#[non_exhaustive]`).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Opens a directory handle usable as the base of [`open_beneath`]; the caller owns the fd.
pub fn open_dir(path: &CStr) -> io::Result<RawFd> {
    // SAFETY: path is a valid NUL-terminated string; open() has no other preconditions.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(fd)
    }
}

/// Opens `rel` (relative, NUL-terminated) for reading below `dir`. Errors are the kernel's:
/// `EXDEV` for a path or link that would leave `dir` (or an absolute link), `ENOSYS` on kernels
/// before 5.6, `ENOENT`/`ENOTDIR` for absent files.
pub fn open_beneath(dir: RawFd, rel: &CStr) -> io::Result<RawFd> {
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `how` and `rel` outlive the call and the size passed is the size of `how`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            rel.as_ptr(),
            &how as *const OpenHow,
            mem::size_of::<OpenHow>(),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        RawFd::try_from(rc).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))
    }
}

pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid value to be overwritten by fstat.
    let mut st: libc::stat = unsafe { mem::zeroed() };
    // SAFETY: st is a valid out-pointer for the duration of the call.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(st)
    }
}

pub fn stat(path: &CStr) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid value to be overwritten by stat.
    let mut st: libc::stat = unsafe { mem::zeroed() };
    // SAFETY: path is NUL-terminated and st a valid out-pointer for the duration of the call.
    if unsafe { libc::stat(path.as_ptr(), &mut st) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(st)
    }
}

pub fn close(fd: RawFd) {
    // SAFETY: the caller passes an fd it owns and never uses it again.
    unsafe { libc::close(fd) };
}

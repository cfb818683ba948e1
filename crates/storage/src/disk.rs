//! Free-space accounting for `reserved_storage_space`.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub total: u64,
    /// Bytes available to this (unprivileged-equivalent) process.
    pub avail: u64,
}

pub fn space(path: &Path) -> io::Result<Space> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: statvfs only writes into the zeroed struct we own; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let frsize = st.f_frsize as u64;
    Ok(Space {
        total: (st.f_blocks as u64).saturating_mul(frsize),
        avail: (st.f_bavail as u64).saturating_mul(frsize),
    })
}

/// True if writing `incoming` more bytes would leave less than `reserve` bytes free.
pub fn would_cross_reserve(s: Space, incoming: u64, reserve: u64) -> bool {
    s.avail < incoming.saturating_add(reserve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_math() {
        let s = Space { total: 1000, avail: 300 };
        assert!(!would_cross_reserve(s, 100, 200));
        assert!(would_cross_reserve(s, 101, 200));
        assert!(would_cross_reserve(s, 301, 0));
        assert!(!would_cross_reserve(s, 300, 0));
        let real = space(Path::new("/")).unwrap();
        assert!(real.total >= real.avail && real.total > 0);
    }
}

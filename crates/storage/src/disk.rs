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

/// File systems whose metadata journal (when there is one) orders a rename after the data
/// writes that completed before it, and commits everything up to a later fsync in one go.
const EXT4_MAGIC: i64 = 0xEF53;
const XFS_MAGIC: i64 = 0x5846_5342;

/// Device id and whether the file system orders renames after data through a journal: XFS
/// always, ext4 only with a jbd2 journal in an ordering data mode. The ext2/3/4 magic number is
/// also that of ext4 created or mounted without a journal (as this project's machines are),
/// where relying on a "journal commit" would lose data on a power cut.
pub fn fs_identity(path: &Path) -> io::Result<(u64, bool)> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path)?.dev();
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: statfs only writes into the zeroed struct we own; the path is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let t = st.f_type as i64;
    let ordered = t == XFS_MAGIC || (t == EXT4_MAGIC && ext4_has_ordering_journal(dev));
    Ok((dev, ordered))
}

/// `/sys/dev/block/MAJ:MIN` names the block device; jbd2 lists a journal of that device under
/// `/proc/fs/jbd2/<name>-<inode>`, and ext4 shows its data mode in `/proc/fs/ext4/<name>/options`.
/// Anything unreadable counts as "no journal", which only costs speed.
fn ext4_has_ordering_journal(dev: u64) -> bool {
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let Ok(target) = std::fs::read_link(format!("/sys/dev/block/{major}:{minor}")) else {
        return false;
    };
    let Some(name) = target
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
    else {
        return false;
    };
    let has_journal = std::fs::read_dir("/proc/fs/jbd2").is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}-"))
        })
    });
    let writeback = std::fs::read_to_string(format!("/proc/fs/ext4/{name}/options"))
        .is_ok_and(|o| o.lines().any(|l| l.trim() == "data=writeback"));
    has_journal && !writeback
}

/// Writes `f`'s dirty pages and waits for them, without a journal commit: the data is on the
/// device and its block allocation and size are in the running journal transaction.
pub fn write_out(f: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: plain syscall on a valid open descriptor.
    if unsafe { libc::sync_file_range(f.as_raw_fd(), 0, 0, flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `space()` at most every [`SpaceCache::TTL`]; bytes granted in between are subtracted, so
/// a burst of uploads cannot overshoot the reserve by more than one window of file systems'
/// own accounting lag.
#[derive(Debug, Default)]
pub struct SpaceCache {
    state: std::sync::Mutex<Option<(std::time::Instant, Space)>>,
}

impl SpaceCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_millis(200);

    /// Grants `incoming` bytes unless that would cross `reserve` (given the total size).
    pub fn try_claim(
        &self,
        path: &Path,
        incoming: u64,
        reserve: impl Fn(u64) -> u64,
    ) -> io::Result<Result<(), Space>> {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = match *g {
            Some((t, s)) if t.elapsed() < Self::TTL => s,
            _ => space(path)?,
        };
        if would_cross_reserve(s, incoming, reserve(s.total)) {
            *g = None;
            return Ok(Err(s));
        }
        let left = Space {
            total: s.total,
            avail: s.avail - incoming,
        };
        let since = match *g {
            Some((t, _)) if t.elapsed() < Self::TTL => t,
            _ => std::time::Instant::now(),
        };
        *g = Some((since, left));
        Ok(Ok(()))
    }
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
        let s = Space {
            total: 1000,
            avail: 300,
        };
        assert!(!would_cross_reserve(s, 100, 200));
        assert!(would_cross_reserve(s, 101, 200));
        assert!(would_cross_reserve(s, 301, 0));
        assert!(!would_cross_reserve(s, 300, 0));
        let cache = SpaceCache::default();
        let root = Path::new("/");
        assert!(cache.try_claim(root, 1, |_| 0).unwrap().is_ok());
        assert!(cache.try_claim(root, 1, |t| t).unwrap().is_err());
        // Within one window, granted bytes are subtracted from the cached free space.
        let free = space(root).unwrap().avail;
        assert!(cache.try_claim(root, free / 2, |_| 0).unwrap().is_ok());
        assert!(cache
            .try_claim(root, free / 2 + free / 4, |_| 0)
            .unwrap()
            .is_err());
        let real = space(Path::new("/")).unwrap();
        assert!(real.total >= real.avail && real.total > 0);
    }
}

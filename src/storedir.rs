//! The `data/` directory of a store path: checked when the configuration is read, and held open
//! as the base of `openat2(RESOLVE_BENEATH)` while nginx runs.
//!
//! A held handle keeps pointing at the directory it was opened on. When the store path is
//! replaced under a running nginx (a disk swapped and re-mounted, a restore, a wiped store
//! recreated by the storage daemon) that is the old, renamed-away or deleted directory, and every
//! file of the new one would be "not found" until a reload. So the path is looked at again
//! (device and inode) on every miss and at most once a second on hits, and reopened when it
//! names another directory.

use std::cell::Cell;
use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

use crate::beneath;

/// An open `data/` directory. Each worker has its own copy after fork, so the handle it swaps
/// in on a change is its own; no locking is needed.
#[derive(Debug)]
pub struct DirHandle {
    path: CString,
    /// -1 while nothing is at the path (see [`Recheck::Gone`]).
    fd: Cell<RawFd>,
    /// `(st_dev, st_ino)` of the directory `fd` is open on.
    id: Cell<(u64, u64)>,
    /// `ngx_time()` of the last look at the path.
    checked_at: Cell<i64>,
}

/// What [`DirHandle::recheck`] found.
#[derive(Debug)]
pub enum Recheck {
    Same,
    /// The path names another directory now; the handle was reopened on it.
    Reopened,
    /// The path names another directory, which could not be opened; the old handle is kept.
    Failed(io::Error),
    /// Nothing (or no directory) is at the path any more: the handle was closed, so that files
    /// of a directory moved away are not served as the path's; nginx's open by path answers.
    Gone,
    /// Still nothing at the path.
    Absent,
}

impl DirHandle {
    fn open(path: CString) -> io::Result<Self> {
        let fd = beneath::open_dir(&path)?;
        let st = match beneath::fstat(fd) {
            Ok(st) => st,
            Err(e) => {
                beneath::close(fd);
                return Err(e);
            }
        };
        Ok(DirHandle {
            path,
            fd: Cell::new(fd),
            id: Cell::new((st.st_dev, st.st_ino)),
            checked_at: Cell::new(0),
        })
    }

    /// The handle, unless nothing was at the path when last looked at.
    pub fn fd(&self) -> Option<RawFd> {
        Some(self.fd.get()).filter(|fd| *fd >= 0)
    }

    /// Rechecks the path if it was not looked at during the second `now`.
    pub fn recheck_due(&self, now: i64) -> Option<Recheck> {
        (self.checked_at.get() != now).then(|| self.recheck(now))
    }

    /// Compares the directory at the path with the held one and reopens on a change.
    pub fn recheck(&self, now: i64) -> Recheck {
        self.checked_at.set(now);
        let st = match beneath::stat(&self.path) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => st,
            _ => {
                let old = self.fd.replace(-1);
                self.id.set((0, 0));
                if old < 0 {
                    return Recheck::Absent;
                }
                beneath::close(old);
                return Recheck::Gone;
            }
        };
        if (st.st_dev, st.st_ino) == self.id.get() {
            return Recheck::Same;
        }
        match beneath::open_dir(&self.path) {
            Ok(fd) => {
                let id =
                    beneath::fstat(fd).map_or((st.st_dev, st.st_ino), |s| (s.st_dev, s.st_ino));
                let old = self.fd.replace(fd);
                if old >= 0 {
                    beneath::close(old);
                }
                self.id.set(id);
                Recheck::Reopened
            }
            Err(e) => Recheck::Failed(e),
        }
    }
}

impl Drop for DirHandle {
    fn drop(&mut self) {
        if let Some(fd) = self.fd() {
            beneath::close(fd);
        }
    }
}

/// `<store_path>/data` for `store_path` (absolute, trailing slashes ignored).
pub fn data_dir_of(store_path: &[u8]) -> Vec<u8> {
    let trimmed = match store_path.iter().rposition(|&b| b != b'/') {
        Some(last) => &store_path[..=last],
        None => &store_path[..0],
    };
    let mut data_dir = trimmed.to_vec();
    data_dir.extend_from_slice(b"/data");
    data_dir
}

/// Checks that `store_path` is a FastDFS store path (a directory holding `data/`) and opens its
/// data directory. The error says what is wrong in words an operator can act on.
pub fn open_store(store_path: &[u8]) -> Result<(Vec<u8>, DirHandle), String> {
    let shown = String::from_utf8_lossy(store_path).into_owned();
    let c_store =
        CString::new(store_path).map_err(|_| format!("\"{shown}\" contains a NUL byte"))?;
    match beneath::stat(&c_store) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
        Ok(_) => return Err(format!("store path \"{shown}\" is not a directory")),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            return Err(format!(
                "store path \"{shown}\" does not exist (it must be a store_path of storage.conf)"
            ))
        }
        Err(e) => return Err(format!("store path \"{shown}\" cannot be read: {e}")),
    }
    let data_dir = data_dir_of(store_path);
    let c_data =
        CString::new(data_dir.clone()).map_err(|_| format!("\"{shown}\" is not a path"))?;
    match DirHandle::open(c_data) {
        Ok(handle) => Ok((data_dir, handle)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Err(format!(
            "\"{shown}\" is not a FastDFS store path: it has no data/ directory \
             (fdfs_storaged creates it when it first starts with this store_path)"
        )),
        Err(e) => Err(format!(
            "the data directory of store path \"{shown}\" cannot be opened: {e}"
        )),
    }
}

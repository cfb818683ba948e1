//! Group commit. Uploads first make their temp file's data durable themselves, concurrently
//! (fdatasync, or on journal-ordered paths a waited write-out: see `config::Durability` and
//! the crate README). Then one thread takes every pending job at once, renames the files into
//! place, appends all their binlog records, and makes renames and records durable with a
//! single fdatasync of the binlog (plus one fsync per touched directory where the journal does
//! not already order them). Replies go out only after that, so an acknowledged change survives
//! a crash and an unacknowledged upload is either absent or complete.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::binlog::{Binlog, Record};

#[derive(Debug)]
pub enum Action {
    /// Move a complete, fsynced temp file to `dest`; fails with `Exists` if `dest` exists.
    Publish { tmp: PathBuf, dest: PathBuf },
    /// Move a complete, fsynced temp file over `dest` (metadata sidecars).
    Replace { tmp: PathBuf, dest: PathBuf },
    /// Remove a file; a missing file fails the job with `NotFound` only if `must_exist`.
    Remove { path: PathBuf, must_exist: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("destination already exists")]
    Exists,
    #[error("file not found")]
    NotFound,
    #[error("commit I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("committer stopped")]
    Stopped,
}

struct Job {
    actions: Vec<Action>,
    records: Vec<Record>,
    sync_dirs: bool,
    done: oneshot::Sender<Result<(), CommitError>>,
}

#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
}

impl Committer {
    pub fn start(binlog: Binlog, max_batch: usize) -> io::Result<(Committer, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || run(binlog, rx, max_batch))?;
        Ok((Committer { tx }, handle))
    }

    /// Applies `actions`, logs `records`, and returns once both are durable.
    ///
    /// `sync_dirs = false` is for journal-ordered store paths (ext4/XFS on the binlog's file
    /// system): their renames, unlinks and mkdirs are journaled before the binlog append, so
    /// the binlog's fdatasync commits them too, and a directory fsync would only cost one more
    /// device cache flush.
    pub async fn commit(
        &self,
        actions: Vec<Action>,
        records: Vec<Record>,
        sync_dirs: bool,
    ) -> Result<(), CommitError> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Job {
                actions,
                records,
                sync_dirs,
                done,
            })
            .map_err(|_| CommitError::Stopped)?;
        rx.await.unwrap_or(Err(CommitError::Stopped))
    }
}

fn run(mut binlog: Binlog, rx: mpsc::Receiver<Job>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        commit_batch(&mut binlog, batch);
    }
}

fn commit_batch(binlog: &mut Binlog, batch: Vec<Job>) {
    let mut dirs = BTreeSet::new();
    let mut results: Vec<Result<(), CommitError>> = Vec::with_capacity(batch.len());
    let mut lines = Vec::new();
    let mut unsynced = BTreeSet::new();
    for job in &batch {
        let r = apply(
            &job.actions,
            if job.sync_dirs {
                &mut dirs
            } else {
                &mut unsynced
            },
        );
        if r.is_ok() {
            for rec in &job.records {
                rec.write_line(&mut lines);
            }
        }
        results.push(r);
    }
    let durable = (|| -> io::Result<()> {
        if !lines.is_empty() {
            binlog.append(&lines)?;
            // On ext4 this journal commit also carries the renames above, so the directory
            // fsyncs below normally find nothing left to do.
            binlog.sync()?;
        }
        for d in &dirs {
            File::open(d)?.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = durable {
        tracing::error!(error = %e, "group commit failed; failing {} jobs", batch.len());
        for (job, r) in batch.iter().zip(results.iter_mut()) {
            if r.is_ok() {
                undo(&job.actions);
                *r = Err(CommitError::Io(io::Error::new(e.kind(), e.to_string())));
            }
        }
    }
    for (job, r) in batch.into_iter().zip(results) {
        let _ = job.done.send(r);
    }
}

fn apply(actions: &[Action], dirs: &mut BTreeSet<PathBuf>) -> Result<(), CommitError> {
    for a in actions {
        match a {
            Action::Publish { tmp, dest } => rename_into(tmp, dest, true, dirs)?,
            Action::Replace { tmp, dest } => rename_into(tmp, dest, false, dirs)?,
            Action::Remove { path, must_exist } => match std::fs::remove_file(path) {
                Ok(()) => {
                    if let Some(p) = path.parent() {
                        dirs.insert(p.to_owned());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if *must_exist {
                        return Err(CommitError::NotFound);
                    }
                }
                Err(e) => return Err(e.into()),
            },
        }
    }
    Ok(())
}

/// Best effort: a published file whose binlog record could not be made durable is withdrawn,
/// because its uploader is told the upload failed.
fn undo(actions: &[Action]) {
    for a in actions {
        if let Action::Publish { dest, .. } = a {
            let _ = std::fs::remove_file(dest);
        }
    }
}

fn rename_into(
    tmp: &Path,
    dest: &Path,
    noreplace: bool,
    dirs: &mut BTreeSet<PathBuf>,
) -> Result<(), CommitError> {
    let parent = dest.parent().unwrap_or(Path::new("/"));
    let first = rename(tmp, dest, noreplace);
    match first {
        Err(e) if e.kind() == io::ErrorKind::NotFound && tmp.exists() => {
            // Sub-directories are created lazily: make it, and make its entry durable.
            create_dir_durable(parent, dirs)?;
            rename(tmp, dest, noreplace)
        }
        other => other,
    }
    .map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            CommitError::Exists
        } else {
            CommitError::Io(e)
        }
    })?;
    dirs.insert(parent.to_owned());
    Ok(())
}

fn create_dir_durable(dir: &Path, dirs: &mut BTreeSet<PathBuf>) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.exists() {
        missing.push(cur.to_owned());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    std::fs::create_dir_all(dir)?;
    dirs.insert(cur.to_owned());
    dirs.extend(missing);
    Ok(())
}

fn rename(from: &Path, to: &Path, noreplace: bool) -> io::Result<()> {
    if !noreplace {
        return std::fs::rename(from, to);
    }
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
    };
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::Op;

    #[tokio::test]
    async fn publish_remove_and_collisions() {
        let dir = tempfile::tempdir().unwrap();
        let binlog = Binlog::open(dir.path(), 1 << 20).unwrap();
        let (c, handle) = Committer::start(binlog, 8).unwrap();
        let tmp = dir.path().join("t1");
        std::fs::write(&tmp, b"abc").unwrap();
        let dest = dir.path().join("data/0A/0B/f1");
        c.commit(
            vec![Action::Publish {
                tmp,
                dest: dest.clone(),
            }],
            vec![Record::new(Op::Create, "M00/0A/0B/f1".into())],
            true,
        )
        .await
        .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");

        let tmp2 = dir.path().join("t2");
        std::fs::write(&tmp2, b"zz").unwrap();
        let r = c
            .commit(
                vec![Action::Publish {
                    tmp: tmp2.clone(),
                    dest: dest.clone(),
                }],
                vec![],
                true,
            )
            .await;
        assert!(matches!(r, Err(CommitError::Exists)));
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        assert!(tmp2.exists());

        c.commit(
            vec![Action::Remove {
                path: dest.clone(),
                must_exist: true,
            }],
            vec![Record::new(Op::Delete, "M00/0A/0B/f1".into())],
            true,
        )
        .await
        .unwrap();
        let r = c
            .commit(
                vec![Action::Remove {
                    path: dest,
                    must_exist: true,
                }],
                vec![],
                true,
            )
            .await;
        assert!(matches!(r, Err(CommitError::NotFound)));
        drop(c);
        handle.join().unwrap();
        let log = std::fs::read_to_string(dir.path().join("data/sync/binlog.000")).unwrap();
        let ops: Vec<&str> = log.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
        assert_eq!(ops, ["C", "D"]);
    }
}

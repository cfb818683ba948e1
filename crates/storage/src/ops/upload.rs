//! 11 UPLOAD_FILE, 23 UPLOAD_APPENDER_FILE, 21 UPLOAD_SLAVE_FILE.
//!
//! Content goes to a temp file whose data is made durable (fdatasync, or written out for the
//! group commit's journal commit: see `commit.rs` and `[sync] durability`) before the committer
//! renames it into place; only then is the file ID sent. Any failure on the way removes the temp
//! file (`TempGuard`), so an interrupted upload leaves nothing behind.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use fdfs_proto::fileid::{self, SizeKind};
use fdfs_proto::frame::Header;
use fdfs_proto::status;
use fdfs_proto::storage::{SlaveUploadRequest, StoredFile, UploadRequest};
use fdfs_proto::{Body, IpWidth};

use super::files::{
    blocking, io_fail, new_name, provisional_hash_input, read_head, resolve_name, source,
};
use crate::binlog::{Op, Record};
use crate::commit::{Action, CommitError};
use crate::conn::{Abort, Conn, Fail, Outcome};
use crate::disk;

/// Bodies up to this size are read whole and written with one blocking call.
const CHUNK: usize = 256 * 1024;
/// Attempts at a name that does not exist yet (random bits collide only by bad luck).
const NAME_ATTEMPTS: usize = 10;

/// Deletes the temp file unless the upload reached its final name.
pub struct TempGuard(Option<PathBuf>);

impl TempGuard {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    pub fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            match std::fs::remove_file(&p) {
                Ok(()) => tracing::debug!(path = %p.display(), "removed temp file"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(path = %p.display(), error = %e, "cannot remove temp file")
                }
            }
        }
    }
}

pub struct Received {
    pub tmp: TempGuard,
    pub size: u64,
    pub crc: u32,
    pub mtime: i64,
    pub store_index: u8,
    pub sub: (u8, u8),
}

impl Received {
    pub fn tmp_path(&self) -> PathBuf {
        self.tmp.path().to_owned()
    }
}

pub async fn upload(c: &mut Conn, h: Header, appender: bool) -> Outcome {
    let (req, size) = match read_head::<UploadRequest>(c, &h).await? {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    let Some(sp) = c.shared.layout.choose_path(req.store_path_index) else {
        return Ok(Err(Fail::new(
            status::EINVAL,
            format!("store path index {} out of range", req.store_path_index),
        )));
    };
    let store_index = sp.index;
    let rx = match receive(c, store_index, size, None).await? {
        Ok(r) => r,
        Err(f) => return Ok(Err(f)),
    };
    let kind = if appender {
        SizeKind::Appender
    } else {
        SizeKind::Normal
    };
    let logical = match publish_new(c, rx, kind, &req.ext).await {
        Ok(l) => l,
        Err(f) => return Ok(Err(f)),
    };
    reply_stored(c, logical).await
}

pub async fn upload_slave(c: &mut Conn, h: Header) -> Outcome {
    let (req, size) = match read_head::<SlaveUploadRequest>(c, &h).await? {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    let master = match resolve_name(c, &req.master_file_name) {
        Ok(t) => t,
        Err(f) => return Ok(Err(f.closing())),
    };
    let ext = (!req.ext.is_empty()).then_some(req.ext.as_str());
    let slave = match fileid::slave_name(&master.logical, &req.prefix, ext) {
        Ok(s) => s,
        Err(e) => return Ok(Err(Fail::new(status::EINVAL, e.to_string()))),
    };
    let dest = match resolve_name(c, &slave) {
        Ok(t) => t,
        Err(f) => return Ok(Err(f.closing())),
    };
    let mp = master.path.clone();
    if let Err(e) = blocking(move || std::fs::metadata(&mp)).await {
        // The content is still unread: skip it if cheap, so the connection stays usable.
        let mut f = io_fail("master file", &e);
        if size <= CHUNK as u64 {
            c.discard(size).await?;
        } else {
            f = f.closing();
        }
        return Ok(Err(f));
    }
    let mut rx = match receive(c, master.store_index, size, Some(master.sub)).await? {
        Ok(r) => r,
        Err(f) => return Ok(Err(f)),
    };
    let action = Action::Publish {
        tmp: rx.tmp.path().to_owned(),
        dest: dest.path.clone(),
    };
    let ordered = c
        .shared
        .layout
        .path(master.store_index)
        .is_some_and(|sp| sp.journal_ordered);
    match c
        .shared
        .committer
        .commit(
            vec![action],
            vec![Record::new(Op::Create, slave.clone())],
            !ordered,
        )
        .await
    {
        Ok(()) => rx.tmp.disarm(),
        Err(CommitError::Exists) => {
            return Ok(Err(Fail::new(
                status::EEXIST,
                format!("slave {slave} exists"),
            )))
        }
        Err(e) => return Ok(Err(commit_fail(e))),
    }
    reply_stored(c, slave).await
}

async fn reply_stored(c: &mut Conn, logical: String) -> Outcome {
    let body = StoredFile {
        group: c.shared.cfg.group_name.clone(),
        file_name: logical,
    }
    .to_bytes(IpWidth::V4);
    c.reply(&body).await.map(Ok)
}

pub fn commit_fail(e: CommitError) -> Fail {
    match e {
        CommitError::NotFound => Fail::new(status::ENOENT, "file not found"),
        CommitError::Exists => Fail::new(status::EEXIST, "file exists"),
        CommitError::Io(e) => io_fail("commit", &e),
        CommitError::Stopped => Fail::new(status::EAGAIN, "storage is shutting down").closing(),
    }
}

/// Gives the received content its final name and makes it durable.
async fn publish_new(
    c: &Conn,
    mut rx: Received,
    kind: SizeKind,
    ext: &str,
) -> Result<String, Fail> {
    let Some(sp) = c.shared.layout.path(rx.store_index) else {
        return Err(Fail::new(status::EIO, "store path vanished"));
    };
    let src = source(c);
    for _ in 0..NAME_ATTEMPTS {
        let logical = new_name(sp, rx.sub, src, rx.mtime, kind, rx.size, rx.crc, ext)?;
        let dest = sp.root.join("data").join(&logical[4..]);
        let action = Action::Publish {
            tmp: rx.tmp.path().to_owned(),
            dest,
        };
        match c
            .shared
            .committer
            .commit(
                vec![action],
                vec![Record::new(Op::Create, logical.clone())],
                !sp.journal_ordered,
            )
            .await
        {
            Ok(()) => {
                rx.tmp.disarm();
                return Ok(logical);
            }
            Err(CommitError::Exists) => continue,
            Err(e) => return Err(commit_fail(e)),
        }
    }
    Err(Fail::new(
        status::EEXIST,
        "no free file name after 10 attempts",
    ))
}

/// Streams `size` content bytes into a fsynced temp file in store path `store_index`.
pub async fn receive(
    c: &mut Conn,
    store_index: u8,
    size: u64,
    sub: Option<(u8, u8)>,
) -> Result<Result<Received, Fail>, Abort> {
    let cfg = &c.shared.cfg;
    if size > cfg.max_file_size {
        return Ok(Err(Fail::new(
            status::EINVAL,
            format!(
                "file of {size} bytes exceeds max_file_size {}",
                cfg.max_file_size
            ),
        )
        .closing()));
    }
    let Some(sp) = c.shared.layout.path(store_index) else {
        return Ok(Err(
            Fail::new(status::EINVAL, "no such store path").closing()
        ));
    };
    let reserve = cfg.reserve;
    match sp
        .space
        .try_claim(&sp.root, size, |total| reserve.bytes_for_total(total))
    {
        Ok(Ok(())) => {}
        Ok(Err(s)) => {
            return Ok(Err(Fail::new(
                status::ENOSPC,
                format!(
                    "{} would go below reserved space ({} free, {size} incoming, {} reserved)",
                    sp.root.display(),
                    s.avail,
                    reserve.bytes_for_total(s.total)
                ),
            )
            .closing()))
        }
        Err(e) => return Ok(Err(io_fail("statvfs", &e).closing())),
    }
    let sub = match sub {
        Some(s) => s,
        None => c
            .shared
            .layout
            .alloc_subdir(&provisional_hash_input(source(c))),
    };
    let ordered = sp.journal_ordered;
    let tmp = TempGuard(Some(c.shared.layout.temp_file(sp)));
    let path = tmp.path().to_owned();
    let written = if size <= CHUNK as u64 {
        let mut buf = vec![0u8; size as usize];
        c.read_exact_into(&mut buf).await?;
        let crc = fdfs_proto::fileid::Crc32::checksum(&buf);
        blocking(move || {
            let mut f = File::create_new(&path)?;
            f.write_all(&buf)?;
            finish(&f, ordered)
        })
        .await
        .map(|m| (crc, m))
    } else {
        match stream_to(c, &path, size, ordered).await? {
            Ok(v) => v,
            Err(f) => return Ok(Err(f)),
        }
    };
    match written {
        Ok((crc, mtime)) => Ok(Ok(Received {
            tmp,
            size,
            crc,
            mtime,
            store_index,
            sub,
        })),
        Err(e) => Ok(Err(io_fail("writing temp file", &e))),
    }
}

/// Makes the content durable (or, on journal-ordered paths, written out so that the group
/// commit's journal commit makes it durable together with its rename) and returns its mtime,
/// which becomes the name's timestamp as in FastDFS.
fn finish(f: &File, journal_ordered: bool) -> io::Result<i64> {
    if journal_ordered {
        disk::write_out(f)?;
    } else {
        f.sync_data()?;
    }
    let m = f.metadata()?.modified()?;
    Ok(m.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0))
}

async fn stream_to(
    c: &mut Conn,
    path: &Path,
    size: u64,
    ordered: bool,
) -> Result<Result<io::Result<(u32, i64)>, Fail>, Abort> {
    let p = path.to_owned();
    let mut file = match blocking(move || File::create_new(&p)).await {
        Ok(f) => f,
        Err(e) => return Ok(Err(io_fail("creating temp file", &e).closing())),
    };
    let mut hasher = fdfs_proto::fileid::Crc32::new();
    let mut left = size;
    let mut buf = vec![0u8; CHUNK];
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        buf.resize(n, 0);
        c.read_exact_into(&mut buf).await?;
        hasher.update(&buf);
        left -= n as u64;
        let r = blocking(move || {
            file.write_all(&buf)?;
            Ok((file, buf))
        })
        .await;
        match r {
            Ok((f, b)) => {
                file = f;
                buf = b;
            }
            Err(e) => return Ok(Err(io_fail("writing temp file", &e).closing())),
        }
    }
    let crc = hasher.finalize();
    Ok(Ok(blocking(move || finish(&file, ordered))
        .await
        .map(|m| (crc, m))))
}

//! 24 APPEND_FILE, 34 MODIFY_FILE, 36 TRUNCATE_FILE on appender files.
//!
//! New data is first received into a fsynced temp file (so a client that vanishes mid-body
//! never changes the target), then copied into the appender file under a lock, fsynced, and
//! logged. A failed append is rolled back to the old length.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};

use fdfs_proto::fileid::FileType;
use fdfs_proto::frame::Header;
use fdfs_proto::status;
use fdfs_proto::storage::{AppendRequest, ModifyRequest, TruncateRequest};
use fdfs_proto::Body;

use super::files::{blocking, io_fail, read_head, resolve_name, Target};
use super::upload::{commit_fail, receive};
use crate::binlog::{Op, Record};
use crate::conn::{Conn, Fail, Outcome};

fn check_appender(t: &Target) -> Result<(), Fail> {
    if t.file_type() != FileType::Appender {
        return Err(Fail::new(
            status::EINVAL,
            format!("{} is not an appender file", t.logical),
        ));
    }
    Ok(())
}

/// Appends (offset `None`) or overwrites at `offset` with `size` bytes from the connection.
async fn write_in(c: &mut Conn, name: &str, offset: Option<u64>, size: u64) -> Outcome {
    let t = match resolve_name(c, name).and_then(|t| check_appender(&t).map(|()| t)) {
        Ok(t) => t,
        Err(f) => return Ok(Err(f.closing())),
    };
    let shared = c.shared.clone();
    let _guard = shared.appender_lock.lock().await;
    let p = t.path.clone();
    let cur = match blocking(move || std::fs::metadata(&p).map(|m| m.len())).await {
        Ok(n) => n,
        Err(e) => {
            let mut f = io_fail(&t.logical, &e);
            if size <= 256 * 1024 {
                c.discard(size).await?;
            } else {
                f = f.closing();
            }
            return Ok(Err(f));
        }
    };
    if let Some(off) = offset {
        if off > cur {
            return Ok(Err(Fail::new(
                status::EINVAL,
                format!("{}: modify offset {off} beyond size {cur}", t.logical),
            )));
        }
    }
    let rx = match receive(c, t.store_index, size, Some(t.sub)).await? {
        Ok(r) => r,
        Err(f) => return Ok(Err(f)),
    };
    let (target, src) = (t.path.clone(), rx.tmp_path());
    let applied = blocking(move || -> io::Result<u64> {
        let mut input = File::open(&src)?;
        let mut out = OpenOptions::new().write(true).open(&target)?;
        let old = out.metadata()?.len();
        let at = offset.unwrap_or(old);
        out.seek(SeekFrom::Start(at))?;
        let r = io::copy(&mut input, &mut out).and_then(|_| out.sync_data());
        if let Err(e) = r {
            if offset.is_none() {
                // Give back the old length: a failed append must not leave half its data.
                let _ = out.set_len(old).and_then(|()| out.sync_data());
            }
            return Err(e);
        }
        Ok(at)
    })
    .await;
    drop(rx);
    let at = match applied {
        Ok(at) => at,
        Err(e) => return Ok(Err(io_fail(&t.logical, &e))),
    };
    let op = if offset.is_some() {
        Op::Modify
    } else {
        Op::Append
    };
    let rec = Record::new(op, t.logical.clone()).with_extra(at, size);
    match shared.committer.commit(vec![], vec![rec], true).await {
        Ok(()) => c.reply(&[]).await.map(Ok),
        Err(e) => Ok(Err(commit_fail(e))),
    }
}

pub async fn append(c: &mut Conn, h: Header) -> Outcome {
    let (req, size) = match read_head::<AppendRequest>(c, &h).await? {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    write_in(c, &req.file_name, None, size).await
}

pub async fn modify(c: &mut Conn, h: Header) -> Outcome {
    let (req, size) = match read_head::<ModifyRequest>(c, &h).await? {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    write_in(c, &req.file_name, Some(req.offset), size).await
}

pub async fn truncate(c: &mut Conn, h: Header) -> Outcome {
    let body = match c.read_body(&h).await? {
        Ok(b) => b,
        Err(f) => return Ok(Err(f)),
    };
    let req = match TruncateRequest::decode(&body) {
        Ok(r) => r,
        Err(e) => return Ok(Err(Fail::new(e.status(), e.to_string()))),
    };
    let t = match resolve_name(c, &req.file_name).and_then(|t| check_appender(&t).map(|()| t)) {
        Ok(t) => t,
        Err(f) => return Ok(Err(f)),
    };
    let shared = c.shared.clone();
    let _guard = shared.appender_lock.lock().await;
    let (p, new) = (t.path.clone(), req.new_size);
    let old = match blocking(move || {
        let f = OpenOptions::new().write(true).open(&p)?;
        let old = f.metadata()?.len();
        if old != new {
            f.set_len(new)?;
            f.sync_all()?;
        }
        Ok(old)
    })
    .await
    {
        Ok(o) => o,
        Err(e) => return Ok(Err(io_fail(&t.logical, &e))),
    };
    if old != new {
        let rec = Record::new(Op::Truncate, t.logical.clone()).with_extra(old, new);
        if let Err(e) = shared.committer.commit(vec![], vec![rec], true).await {
            return Ok(Err(commit_fail(e)));
        }
    }
    c.reply(&[]).await.map(Ok)
}

//! The receiving side of replication: 9 REPORT_SERVER_ID, 16/18 SYNC_CREATE/UPDATE, 17
//! SYNC_DELETE, and 26 FETCH_ONE_PATH_BINLOG for recovering peers.
//!
//! A copy lands exactly like an upload (temp file, fsync, atomic rename by the committer)
//! under the source's name, with the source's mtime, and is logged in lowercase so it is
//! never sent on. Repeats are harmless: a create of a file we hold with the same size is
//! answered EEXIST without touching it, a delete of a missing file succeeds.

use std::time::{Duration, UNIX_EPOCH};

use fdfs_proto::common::ServerId;
use fdfs_proto::frame::Header;
use fdfs_proto::storage::{FetchPathBinlog, SyncCopyRequest, SyncDeleteRequest};
use fdfs_proto::{cmd, status, Body};

use crate::binlog::{Op, Record};
use crate::commit::Action;
use crate::conn::{Conn, Fail, Outcome};
use crate::ops::files::{blocking, io_fail, read_head, resolve_name, Target};
use crate::ops::upload::{commit_fail, receive};

pub async fn dispatch(c: &mut Conn, h: Header) -> Outcome {
    match h.cmd {
        cmd::STORAGE_REPORT_SERVER_ID => {
            let body = match c.read_body(&h).await? {
                Ok(b) => b,
                Err(f) => return Ok(Err(f)),
            };
            match ServerId::decode(&body) {
                Ok(id) => {
                    tracing::debug!(peer = %c.peer, id = %id.id, "peer announced itself");
                    c.reply(&[]).await.map(Ok)
                }
                Err(e) => Ok(Err(Fail::new(e.status(), e.to_string()))),
            }
        }
        cmd::SYNC_CREATE_FILE | cmd::SYNC_UPDATE_FILE => copy(c, h).await,
        cmd::SYNC_DELETE_FILE => delete(c, h).await,
        fdfs_proto::storage::SYNC_STATUS => sync_status(c, h).await,
        _ => fetch_binlog(c, h).await,
    }
}

fn check_group(c: &Conn, group: &str) -> Result<(), Fail> {
    if group != c.shared.cfg.group_name {
        return Err(Fail::new(
            status::EINVAL,
            format!(
                "sync for group {group:?}, this storage is in {:?}",
                c.shared.cfg.group_name
            ),
        ));
    }
    Ok(())
}

/// A synced name: a data file, or its `-m` metadata sidecar.
fn resolve_synced(c: &Conn, name: &str) -> Result<(Target, bool), Fail> {
    let (base, meta) = match name.strip_suffix("-m") {
        Some(b) => (b, true),
        None => (name, false),
    };
    resolve_name(c, base).map(|t| (t, meta))
}

fn sync_dirs(c: &Conn, t: &Target) -> bool {
    c.shared
        .layout
        .path(t.store_index)
        .is_none_or(|sp| !sp.journal_ordered)
}

fn busy() -> Fail {
    Fail::new(status::EAGAIN, "initial copy from the group still running")
}

async fn copy(c: &mut Conn, h: Header) -> Outcome {
    let (req, size) = match read_head::<SyncCopyRequest>(c, &h).await? {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    // Until the content is read the stream is not in sync: every early refusal closes.
    if c.shared.sync.is_recovering() {
        return Ok(Err(busy().closing()));
    }
    let (t, meta) =
        match check_group(c, &req.group).and_then(|()| resolve_synced(c, &req.file_name)) {
            Ok(v) => v,
            Err(f) => return Ok(Err(f.closing())),
        };
    let dest = if meta { t.meta_path() } else { t.path.clone() };
    let (d2, data) = (dest.clone(), t.path.clone());
    let (existing, data_exists) = blocking(move || {
        let len = match std::fs::metadata(&d2) {
            Ok(m) => Some(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok((len, data.exists()))
    })
    .await
    .unwrap_or((None, false));
    let skip = if !req.has_content {
        Some(if existing.is_some() {
            status::OK
        } else {
            status::ENOENT
        })
    } else if meta && !data_exists {
        // The file was deleted since; its delete record follows.
        Some(status::ENOENT)
    } else if h.cmd == cmd::SYNC_CREATE_FILE && existing == Some(req.file_size) {
        Some(status::EEXIST)
    } else {
        None
    };
    if let Some(st) = skip {
        c.discard(size).await?;
        return if st == status::OK {
            c.reply(&[]).await.map(Ok)
        } else {
            Ok(Err(Fail::new(
                st,
                format!("{}: nothing to do", req.file_name),
            )))
        };
    }
    let mut rx = match receive(c, t.store_index, size, Some(t.sub)).await? {
        Ok(r) => r,
        Err(f) => return Ok(Err(f)),
    };
    let tmp = rx.tmp_path();
    let mtime = UNIX_EPOCH + Duration::from_secs(u64::from(req.timestamp));
    let tmp2 = tmp.clone();
    if let Err(e) = blocking(move || {
        std::fs::File::options()
            .write(true)
            .open(&tmp2)?
            .set_modified(mtime)
    })
    .await
    {
        return Ok(Err(io_fail("setting mtime", &e)));
    }
    let op = if h.cmd == cmd::SYNC_CREATE_FILE && !meta {
        Op::Create
    } else {
        Op::Update
    };
    let record = Record::replicated(op, req.file_name.clone(), i64::from(req.timestamp));
    let r = c
        .shared
        .committer
        .commit(
            vec![Action::Replace { tmp, dest }],
            vec![record],
            sync_dirs(c, &t),
        )
        .await;
    match r {
        Ok(()) => {
            rx.tmp.disarm();
            c.reply(&[]).await.map(Ok)
        }
        Err(e) => Ok(Err(commit_fail(e))),
    }
}

async fn delete(c: &mut Conn, h: Header) -> Outcome {
    let body = match c.read_body(&h).await? {
        Ok(b) => b,
        Err(f) => return Ok(Err(f)),
    };
    let req = match SyncDeleteRequest::decode(&body) {
        Ok(r) => r,
        Err(e) => return Ok(Err(Fail::new(e.status(), e.to_string()))),
    };
    if c.shared.sync.is_recovering() {
        return Ok(Err(busy()));
    }
    let (t, meta) =
        match check_group(c, &req.group).and_then(|()| resolve_synced(c, &req.file_name)) {
            Ok(v) => v,
            Err(f) => return Ok(Err(f)),
        };
    let target = if meta { t.meta_path() } else { t.path.clone() };
    let t2 = target.clone();
    if !blocking(move || Ok(t2.exists())).await.unwrap_or(true) {
        return c.reply(&[]).await.map(Ok);
    }
    let mut actions = vec![Action::Remove {
        path: target,
        must_exist: false,
    }];
    if !meta {
        actions.push(Action::Remove {
            path: t.meta_path(),
            must_exist: false,
        });
    }
    let record = Record::replicated(Op::Delete, req.file_name.clone(), i64::from(req.timestamp));
    match c
        .shared
        .committer
        .commit(actions, vec![record], sync_dirs(c, &t))
        .await
    {
        Ok(()) => c.reply(&[]).await.map(Ok),
        Err(e) => Ok(Err(commit_fail(e))),
    }
}

/// Sends every binlog segment as it is now; the requester keeps the lines of its path.
async fn fetch_binlog(c: &mut Conn, h: Header) -> Outcome {
    let body = match c.read_body(&h).await? {
        Ok(b) => b,
        Err(f) => return Ok(Err(f)),
    };
    let req = match FetchPathBinlog::decode(&body) {
        Ok(r) => r,
        Err(e) => return Ok(Err(Fail::new(e.status(), e.to_string()))),
    };
    if let Err(f) = check_group(c, &req.group) {
        return Ok(Err(f));
    }
    if c.shared.layout.path(req.store_path_index).is_none() {
        return Ok(Err(Fail::new(
            status::EINVAL,
            format!("no store path {}", req.store_path_index),
        )));
    }
    if c.shared.sync.is_recovering() {
        // Our own binlog is incomplete until the initial copy is done.
        return Ok(Err(busy()));
    }
    let dir = c.shared.sync.sync_dir.clone();
    let segments = blocking(move || {
        let mut v = Vec::new();
        let mut i = 0u32;
        loop {
            let p = super::binlog_read::segment(&dir, i);
            match std::fs::File::open(&p) {
                Ok(f) => {
                    let len = f.metadata()?.len();
                    v.push((f, len));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && i > 0 => return Ok(v),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            i += 1;
        }
    })
    .await;
    let segments = match segments {
        Ok(s) => s,
        Err(e) => return Ok(Err(io_fail("reading binlog", &e))),
    };
    let total: u64 = segments.iter().map(|s| s.1).sum();
    c.send(&Header::response(status::OK, total).encode())
        .await?;
    for (mut f, len) in segments {
        let mut left = len;
        while left > 0 {
            let n = left.min(256 * 1024) as usize;
            let r = blocking(move || {
                use std::io::Read;
                let mut buf = vec![0u8; n];
                f.read_exact(&mut buf)?;
                Ok((f, buf))
            })
            .await;
            let (f2, buf) = r.map_err(|e| crate::conn::Abort(format!("binlog read: {e}")))?;
            f = f2;
            c.send(&buf).await?;
            left -= n as u64;
        }
    }
    Ok(Ok(()))
}

/// 120 (fdfs-rs extension): replication figures per peer.
async fn sync_status(c: &mut Conn, h: Header) -> Outcome {
    if h.pkg_len != 0 {
        return Ok(Err(Fail::new(status::EINVAL, "SYNC_STATUS with a body")));
    }
    let members = c.shared.sync.members().borrow().clone().unwrap_or_default();
    let stats = super::lock(&c.shared.sync.stats).clone();
    let peers = members
        .iter()
        .map(|p| {
            let s = stats.get(&p.key()).cloned().unwrap_or_default();
            fdfs_proto::storage::PeerSyncStatus {
                id: p.id.clone(),
                addr: p.addr(),
                synced_until: s.synced_until,
                lag_records: s.lag_records,
                lag_seconds: s.lag_seconds,
                records_sent: s.records_sent,
                bytes_sent: s.bytes_sent,
            }
        })
        .collect();
    let body = fdfs_proto::storage::SyncStatus {
        recovering: c.shared.sync.is_recovering(),
        peers,
    }
    .to_bytes(fdfs_proto::IpWidth::V4);
    c.reply(&body).await.map(Ok)
}

//! Push replication: one task per group peer replays our own binlog records to it, in order,
//! one request at a time, from the persisted mark. Errors back off exponentially
//! (`retry_min` … `retry_max`), never in a hot loop; a peer that is down is simply retried.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fdfs_proto::common::ServerId;
use fdfs_proto::storage::{SyncCopyRequest, SyncDeleteRequest};
use fdfs_proto::{cmd, status, Body, IpWidth, Streamed};
use tokio::sync::watch;

use super::binlog_read::{self, Line};
use super::mark::{self, Mark};
use super::missing::{self, Resolution};
use super::peer_conn::PeerConn;
use super::{st, Peer};
use crate::binlog::unix_now;
use crate::server::Shared;

/// Binlog bytes read per batch: bounds memory per peer.
const BATCH_BYTES: usize = 64 * 1024;
/// Binlog bytes scanned when counting the records a peer is behind.
const LAG_SCAN_BYTES: usize = 16 << 20;
/// An idle connection is probed this often so the peer's idle timeout never closes it.
const KEEPALIVE: Duration = Duration::from_secs(60);

pub async fn manage(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut members = shared.sync.members();
    let mut running: HashMap<String, (tokio::task::JoinHandle<()>, watch::Sender<Peer>)> =
        HashMap::new();
    loop {
        let list = members.borrow_and_update().clone();
        if let Some(peers) = list {
            for p in peers.iter().filter(|p| p.status != st::DELETED) {
                match running.get(&p.key()) {
                    Some((_, tx)) => {
                        tx.send_if_modified(|cur| {
                            let changed = cur != p;
                            *cur = p.clone();
                            changed
                        });
                    }
                    None => {
                        let (tx, rx) = watch::channel(p.clone());
                        tracing::info!(peer = %p.addr(), id = %p.id, "replicating to new group peer");
                        let h = tokio::spawn(run_peer(shared.clone(), p.key(), rx));
                        running.insert(p.key(), (h, tx));
                    }
                }
            }
            let gone: Vec<String> = running
                .keys()
                .filter(|k| {
                    !peers
                        .iter()
                        .any(|p| &p.key() == *k && p.status != st::DELETED)
                })
                .cloned()
                .collect();
            for k in gone {
                if let Some((h, _)) = running.remove(&k) {
                    h.abort();
                }
                // FastDFS drops the mark of a deleted storage: if it ever comes back it is new.
                mark::remove(&shared.sync.sync_dir, &k);
                super::lock(&shared.sync.stats).remove(&k);
                tracing::info!(peer = %k, "peer left the group; replication to it stopped");
            }
        }
        tokio::select! {
            r = members.changed() => if r.is_err() { break },
            _ = stop.changed() => break,
        }
    }
    for (_, (h, _)) in running {
        h.abort();
    }
}

async fn run_peer(shared: Arc<Shared>, key: String, peer: watch::Receiver<Peer>) {
    let dir = shared.sync.sync_dir.clone();
    let mut m = match mark::load(&dir, &key) {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => {
            tracing::error!(peer = %key, error = %e, "unreadable mark; replaying from the start");
            Mark::default()
        }
    };
    let id = peer.borrow().id.clone();
    shared.sync.update_stat(&key, |s| {
        s.id = id;
        s.synced_until = m.synced_until;
        s.records_sent = m.records;
    });
    let settings = shared.sync.settings.clone();
    let mut backoff = settings.retry_min;
    let mut failures = 0u32;
    loop {
        let before = m.records;
        let e = session(&shared, &key, &peer, &mut m).await;
        if let Err(err) = persist(&dir, &key, &m, true).await {
            tracing::error!(peer = %key, error = %err, "cannot save sync mark");
        }
        if m.records > before {
            backoff = settings.retry_min;
            failures = 0;
        }
        failures += 1;
        if failures <= 3 || failures.is_power_of_two() {
            tracing::warn!(peer = %key, error = %e, failures, retry_in = ?backoff, "sync to peer interrupted");
        }
        shared
            .sync
            .update_stat(&key, |s| s.last_error = Some(e.clone()));
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(settings.retry_max);
    }
}

/// Runs until an error; returns its description. `m` always reflects acknowledged records.
async fn session(
    shared: &Arc<Shared>,
    key: &str,
    peer: &watch::Receiver<Peer>,
    m: &mut Mark,
) -> String {
    let settings = &shared.sync.settings;
    let addr = peer.borrow().addr();
    let mut conns = match open(shared, &addr).await {
        Ok(c) => vec![c],
        Err(e) => return e,
    };
    let dir = shared.sync.sync_dir.clone();
    let mut unsaved = 0u64;
    let mut last_lag = Instant::now() - Duration::from_secs(10);
    let mut last_io = Instant::now();
    loop {
        let (d, pos) = (dir.clone(), m.pos);
        let lines =
            match tokio::task::spawn_blocking(move || binlog_read::read_from(&d, pos, BATCH_BYTES))
                .await
            {
                Ok(Ok(l)) => l,
                Ok(Err(e)) => return format!("reading binlog: {e}"),
                Err(e) => return format!("binlog reader: {e}"),
            };
        if lines.is_empty() {
            // Caught up: everything committed before now (less the margin) is on the peer.
            let until = unix_now() - settings.report_margin;
            m.synced_until = m.synced_until.max(until);
            shared.sync.update_stat(key, |s| {
                s.synced_until = m.synced_until;
                s.lag_records = 0;
                s.lag_seconds = 0;
                s.last_error = None;
            });
            if unsaved > 0 {
                if let Err(e) = persist(&dir, key, m, true).await {
                    return format!("saving mark: {e}");
                }
                unsaved = 0;
            }
            if last_io.elapsed() >= KEEPALIVE {
                // Extra streams are only for backlogs: let them go when idle.
                conns.truncate(1);
                let pkt = fdfs_proto::frame::packet(cmd::ACTIVE_TEST, 0, &[]);
                if let Err(e) = call(&mut conns[0], &pkt).await {
                    return format!("keepalive: {e}");
                }
                last_io = Instant::now();
            }
            tokio::time::sleep(settings.wait).await;
            continue;
        }
        if last_lag.elapsed() >= Duration::from_secs(1) {
            let (d, pos) = (dir.clone(), m.pos);
            let (n, oldest) = tokio::task::spawn_blocking(move || {
                binlog_read::count_own_after(&d, pos, LAG_SCAN_BYTES)
            })
            .await
            .unwrap_or((0, None));
            shared.sync.update_stat(key, |s| {
                s.lag_records = n;
                s.lag_seconds = oldest.map_or(0, |t| (unix_now() - t).max(0));
            });
            last_lag = Instant::now();
        }
        // A slot per batch: at most `max_parallel_peers` peers transfer at once.
        let _slot = shared.sync.slots.clone().acquire_owned().await;
        let streams = settings.streams_per_peer;
        let window = streams * 8;
        let mut i = 0;
        while i < lines.len() {
            let (mut j, mut own) = (i, 0usize);
            while j < lines.len() && own < window {
                own += usize::from(lines[j].0.is_own());
                j += 1;
            }
            let part = &lines[i..j];
            i = j;
            if own > 1 && streams > 1 {
                while conns.len() < streams {
                    match open(shared, &addr).await {
                        Ok(c) => conns.push(c),
                        Err(e) => return e,
                    }
                }
                let (n, bytes) = match send_parallel(shared, &mut conns, part).await {
                    Ok(v) => v,
                    Err(e) => return e,
                };
                m.records += n;
                shared.sync.update_stat(key, |s| {
                    s.records_sent += n;
                    s.bytes_sent += bytes;
                });
                last_io = Instant::now();
                for (line, pos) in part {
                    if line.is_own() {
                        m.synced_until =
                            m.synced_until.max(line.timestamp - settings.report_margin);
                    }
                    m.pos = *pos;
                }
                unsaved += part.len() as u64;
                let durable = unsaved >= settings.mark_every;
                if durable {
                    unsaved = 0;
                }
                if let Err(e) = persist(&dir, key, m, durable).await {
                    return format!("saving mark: {e}");
                }
            } else {
                for (line, pos) in part {
                    if line.is_own() {
                        match send_record(shared, &mut conns[0], line, *pos).await {
                            Ok(bytes) => {
                                m.records += 1;
                                shared.sync.update_stat(key, |s| {
                                    s.records_sent += 1;
                                    s.bytes_sent += bytes;
                                });
                            }
                            Err(e) => return format!("{} {}: {e}", line.op, line.name),
                        }
                        last_io = Instant::now();
                        // Sent in commit order, which follows time to within the report margin.
                        m.synced_until =
                            m.synced_until.max(line.timestamp - settings.report_margin);
                    }
                    m.pos = *pos;
                    unsaved += 1;
                    let saved = if unsaved >= settings.mark_every {
                        unsaved = 0;
                        persist(&dir, key, m, true).await
                    } else if line.is_own() {
                        persist(&dir, key, m, false).await
                    } else {
                        Ok(())
                    };
                    if let Err(e) = saved {
                        return format!("saving mark: {e}");
                    }
                }
            }
        }
        shared
            .sync
            .update_stat(key, |s| s.synced_until = m.synced_until);
    }
}

/// A connection to the peer that announced us (9).
async fn open(shared: &Arc<Shared>, addr: &str) -> Result<PeerConn, String> {
    let cfg = &shared.cfg;
    let mut c = PeerConn::connect(addr, cfg.network_timeout)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let me = ServerId {
        id: cfg.storage_id.map(|i| i.to_string()).unwrap_or_default(),
    };
    call(
        &mut c,
        &me.packet(cmd::STORAGE_REPORT_SERVER_ID, 0, IpWidth::V4),
    )
    .await
    .map_err(|e| format!("report server id: {e}"))?;
    Ok(c)
}

/// Sends the own records of `part` over all `conns` at once: every record of one file goes
/// to the same connection, in binlog order, so per-file order holds; the window is complete
/// only when every connection is done. Returns (records, content bytes).
async fn send_parallel(
    shared: &Arc<Shared>,
    conns: &mut Vec<PeerConn>,
    part: &[(Line, binlog_read::Pos)],
) -> Result<(u64, u64), String> {
    let k = conns.len();
    let mut buckets: Vec<Vec<(Line, binlog_read::Pos)>> = vec![Vec::new(); k];
    for (l, pos) in part.iter().filter(|(l, _)| l.is_own()) {
        let h = l
            .data_name()
            .0
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        buckets[(h % k as u64) as usize].push((l.clone(), *pos));
    }
    let mut set = tokio::task::JoinSet::new();
    for (mut c, b) in conns.drain(..).zip(buckets) {
        let shared = shared.clone();
        set.spawn(async move {
            let (mut n, mut bytes) = (0u64, 0u64);
            for (l, pos) in &b {
                match send_record(&shared, &mut c, l, *pos).await {
                    Ok(x) => {
                        n += 1;
                        bytes += x;
                    }
                    Err(e) => return Err(format!("{} {}: {e}", l.op, l.name)),
                }
            }
            Ok((c, n, bytes))
        });
    }
    let (mut n, mut bytes, mut failed) = (0, 0, None);
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok((c, a, b))) => {
                conns.push(c);
                n += a;
                bytes += b;
            }
            Ok(Err(e)) => {
                failed.get_or_insert(e);
            }
            Err(e) => {
                failed.get_or_insert(format!("sender task: {e}"));
            }
        }
    }
    match failed {
        // The window is sent again after a reconnect; the peer treats repeats as done.
        Some(e) => Err(e),
        None => Ok((n, bytes)),
    }
}

/// Saves the mark off the async threads (fsync when `durable`).
async fn persist(dir: &std::path::Path, key: &str, m: &Mark, durable: bool) -> std::io::Result<()> {
    let (dir, key, m) = (dir.to_owned(), key.to_owned(), *m);
    tokio::task::spawn_blocking(move || {
        if durable {
            mark::save(&dir, &key, &m)
        } else {
            mark::save_fast(&dir, &key, &m)
        }
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?
}

async fn call(conn: &mut PeerConn, pkt: &[u8]) -> std::io::Result<u8> {
    conn.send(pkt).await?;
    Ok(conn.response(0).await?.0)
}

/// Sends one own record (read up to `after`); `Ok(bytes of content)` once the peer has it
/// (or it is moot).
async fn send_record(
    shared: &Arc<Shared>,
    conn: &mut PeerConn,
    line: &Line,
    after: binlog_read::Pos,
) -> Result<u64, String> {
    let group = shared.cfg.group_name.clone();
    let (data_name, meta) = line.data_name();
    match line.op {
        'D' => {
            let req = SyncDeleteRequest {
                timestamp: line.timestamp.clamp(0, i64::from(u32::MAX)) as u32,
                group,
                file_name: line.name.clone(),
            };
            let st = call(conn, &req.packet(cmd::SYNC_DELETE_FILE, 0, IpWidth::V4))
                .await
                .map_err(|e| e.to_string())?;
            match st {
                status::OK | status::ENOENT => Ok(0),
                s => Err(format!("peer answered status {s}")),
            }
        }
        'C' | 'U' | 'A' | 'M' | 'T' => {
            let Ok(id) = fdfs_proto::fileid::parse_logical_name(data_name.as_bytes()) else {
                tracing::warn!(name = %line.name, "binlog names an invalid file; not replicated");
                return Ok(0);
            };
            let Some(sp) = shared.layout.path(id.store_path_index) else {
                tracing::warn!(name = %line.name, "binlog names a missing store path; not replicated");
                return Ok(0);
            };
            let data = sp.root.join(id.data_rel_path());
            let mut path = data.clone().into_os_string();
            if meta {
                path.push("-m");
            }
            let path = std::path::PathBuf::from(path);
            let (file, len, mtime) = match open_content(&path).await? {
                Ok(v) => v,
                // Missing is not "deleted": the binlog decides, or a member gives it back.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    match missing::resolve(shared, line, after, &data).await? {
                        Resolution::Skip => return Ok(0),
                        Resolution::Restored => match open_content(&path).await? {
                            Ok(v) => v,
                            Err(e) => return Err(format!("open {}: {e}", path.display())),
                        },
                    }
                }
                Err(e) => return Err(format!("open {}: {e}", path.display())),
            };
            let create = line.op == 'C' && !meta;
            let req = SyncCopyRequest {
                file_name: line.name.clone(),
                file_size: len,
                timestamp: mtime.min(u64::from(u32::MAX)) as u32,
                group,
                has_content: true,
            };
            let c = if create {
                cmd::SYNC_CREATE_FILE
            } else {
                cmd::SYNC_UPDATE_FILE
            };
            conn.send(&req.head_packet(c))
                .await
                .map_err(|e| e.to_string())?;
            conn.send_file(file, len).await.map_err(|e| e.to_string())?;
            let (st, _) = conn.response(0).await.map_err(|e| e.to_string())?;
            match st {
                status::OK | status::EEXIST | status::ENOENT => Ok(len),
                s => Err(format!("peer answered status {s}")),
            }
        }
        _ => Ok(0),
    }
}

/// Opens a file to push with its length and mtime; the outer error is the blocking task's.
async fn open_content(
    path: &std::path::Path,
) -> Result<std::io::Result<(std::fs::File, u64, u64)>, String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path)?;
        let md = f.metadata()?;
        let mtime = md
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok((f, md.len(), mtime))
    })
    .await
    .map_err(|e| e.to_string())
}

//! Initial copy of a new member, or of a store path that lost its data.
//!
//! The storage joined as WAIT_SYNC, so the tracker neither sends it clients nor makes it
//! ACTIVE. For each pending store path it fetches the binlog of every ACTIVE peer (26),
//! computes the files that are live there (a name is never reused, so one delete anywhere
//! makes it dead), and downloads each one it lacks (22 info for the mtime, 14 content,
//! 15 metadata), writing it like a replicated create. Pushes from peers are refused (EAGAIN)
//! meanwhile, so a delete cannot overtake the copy of its file. When every path is done it
//! tells the trackers (88) and peers' queued pushes flow in.
//!
//! If no other member has data (every other member is new too), there is nothing to copy.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use fdfs_proto::common::FileRef;
use fdfs_proto::fileid::Source;
use fdfs_proto::storage::{DownloadRequest, FetchPathBinlog, FileInfo};
use fdfs_proto::{cmd, status, Body, IpWidth};
use tokio::sync::watch;

use super::binlog_read::parse_line;
use super::peer_conn::PeerConn;
use super::{st, Peer};
use crate::binlog::{Op, Record};
use crate::commit::Action;
use crate::server::Shared;

pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    if !shared.sync.is_recovering() {
        return;
    }
    let mut members = shared.sync.members();
    let settings = shared.sync.settings.clone();
    let mut backoff = settings.retry_min;
    loop {
        let peers = members.borrow_and_update().clone();
        if let Some(peers) = peers {
            let holders: Vec<&Peer> = peers
                .iter()
                .filter(|p| matches!(p.status, st::ONLINE | st::ACTIVE | st::OFFLINE))
                .collect();
            let sources: Vec<Peer> = holders
                .iter()
                .filter(|p| p.status == st::ACTIVE)
                .map(|p| (*p).clone())
                .collect();
            if holders.is_empty() {
                tracing::info!("no group member holds data: nothing to copy");
                finish_all(&shared, &[]);
                return;
            }
            if !sources.is_empty() {
                for idx in shared.sync.pending_paths() {
                    match copy_path(&shared, &sources, idx).await {
                        Ok(n) => {
                            tracing::info!(
                                path = idx,
                                files = n,
                                "initial copy of store path done"
                            );
                            if let Err(e) = shared.sync.path_done(&shared.cfg, idx) {
                                tracing::error!(error = %e, "cannot record the initial copy");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(path = idx, error = %e, retry_in = ?backoff, "initial copy interrupted");
                            break;
                        }
                    }
                }
                if !shared.sync.is_recovering() {
                    return;
                }
            } else {
                tracing::info!("waiting for an ACTIVE group member to copy from");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(settings.retry_max);
    }
}

fn finish_all(shared: &Shared, _from: &[Peer]) {
    for idx in shared.sync.pending_paths() {
        if let Err(e) = shared.sync.path_done(&shared.cfg, idx) {
            tracing::error!(error = %e, "cannot record the initial copy");
        }
    }
}

/// Live data files of one path according to the given binlogs, with who lists each.
fn live_files(binlogs: &[String], prefix: &str) -> Vec<(String, Vec<usize>)> {
    let mut dead = HashSet::new();
    let mut live: BTreeMap<String, (usize, Vec<usize>)> = BTreeMap::new();
    let mut order = 0;
    for (src, text) in binlogs.iter().enumerate() {
        for l in text.lines().filter_map(parse_line) {
            if !l.name.starts_with(prefix) {
                continue;
            }
            let (name, meta) = l.data_name();
            match l.op.to_ascii_uppercase() {
                'D' if !meta => {
                    dead.insert(name.to_owned());
                }
                'C' | 'U' | 'A' | 'M' | 'T' => {
                    let e = live.entry(name.to_owned()).or_insert_with(|| {
                        order += 1;
                        (order, Vec::new())
                    });
                    if !e.1.contains(&src) {
                        e.1.push(src);
                    }
                }
                _ => {}
            }
        }
    }
    let mut v: Vec<(usize, String, Vec<usize>)> = live
        .into_iter()
        .filter(|(n, _)| !dead.contains(n))
        .map(|(n, (o, s))| (o, n, s))
        .collect();
    v.sort();
    v.into_iter().map(|(_, n, s)| (n, s)).collect()
}

async fn copy_path(shared: &Arc<Shared>, sources: &[Peer], idx: u8) -> Result<usize, String> {
    let t = shared.cfg.network_timeout;
    let group = shared.cfg.group_name.clone();
    let mut conns = Vec::new();
    let mut binlogs = Vec::new();
    for p in sources {
        let mut c = PeerConn::connect(&p.addr(), t)
            .await
            .map_err(|e| format!("connect {}: {e}", p.addr()))?;
        let req = FetchPathBinlog {
            group: group.clone(),
            store_path_index: idx,
        };
        c.send(&req.packet(cmd::FETCH_ONE_PATH_BINLOG, 0, IpWidth::V4))
            .await
            .map_err(|e| e.to_string())?;
        let h = c.header().await.map_err(|e| e.to_string())?;
        if h.status != status::OK {
            return Err(format!(
                "{} answered binlog fetch with status {}",
                p.addr(),
                h.status
            ));
        }
        // Streamed through a temp file: a big binlog never sits in memory as bytes.
        let tmp = temp_in(shared, idx)?;
        let f = std::fs::File::options()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| format!("temp file: {e}"))?;
        let r = c.recv_to_file(f, h.pkg_len).await;
        let t2 = tmp.clone();
        let text = tokio::task::spawn_blocking(move || {
            let t = std::fs::read(&t2).map(|b| String::from_utf8_lossy(&b).into_owned());
            let _ = std::fs::remove_file(&t2);
            t
        })
        .await
        .map_err(|e| e.to_string())?;
        r.map_err(|e| format!("binlog from {}: {e}", p.addr()))?;
        binlogs.push(text.map_err(|e| e.to_string())?);
        conns.push(c);
    }
    let prefix = format!("M{idx:02X}/");
    let files = live_files(&binlogs, &prefix);
    drop(binlogs);
    drop(conns);
    // A few downloads in flight: small files are latency-bound, not bandwidth-bound.
    let queue = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(
        files,
    )));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..RECOVERY_WORKERS {
        let (shared, sources, queue) = (shared.clone(), sources.to_vec(), queue.clone());
        workers.spawn(async move { copy_worker(&shared, &sources, &queue).await });
    }
    let mut copied = 0;
    let mut failed = None;
    while let Some(r) = workers.join_next().await {
        match r {
            Ok(Ok(n)) => copied += n,
            Ok(Err(e)) => {
                // Stop the others: the whole path is retried (copied files are skipped).
                super::lock(&queue).clear();
                failed.get_or_insert(e);
            }
            Err(e) => {
                failed.get_or_insert(format!("copy worker: {e}"));
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(copied),
    }
}

const RECOVERY_WORKERS: usize = 4;

type Queue = std::sync::Mutex<std::collections::VecDeque<(String, Vec<usize>)>>;

async fn copy_worker(
    shared: &Arc<Shared>,
    sources: &[Peer],
    queue: &Queue,
) -> Result<usize, String> {
    let mut conns: Vec<Option<PeerConn>> = sources.iter().map(|_| None).collect();
    let mut copied = 0;
    loop {
        let Some((name, holders)) = super::lock(queue).pop_front() else {
            return Ok(copied);
        };
        let Ok(id) = fdfs_proto::fileid::parse_logical_name(name.as_bytes()) else {
            continue;
        };
        let Some(sp) = shared.layout.path(id.store_path_index) else {
            continue;
        };
        let dest = sp.root.join(id.data_rel_path());
        if dest.exists() {
            continue;
        }
        for &h in &holders {
            let addr = sources[h].addr();
            if conns[h].is_none() {
                let c = PeerConn::connect(&addr, shared.cfg.network_timeout)
                    .await
                    .map_err(|e| format!("connect {addr}: {e}"))?;
                conns[h] = Some(c);
            }
            let Some(c) = conns[h].as_mut() else { continue };
            match fetch_one(shared, c, &name, &dest).await {
                Ok(true) => {
                    copied += 1;
                    break;
                }
                // Gone there (deleted meanwhile): try the next holder.
                Ok(false) => {}
                Err(e) => return Err(format!("{name} from {addr}: {e}")),
            }
        }
    }
}

fn temp_in(shared: &Shared, idx: u8) -> Result<std::path::PathBuf, String> {
    let sp = shared.layout.path(idx).ok_or("no such store path")?;
    Ok(shared.layout.temp_file(sp))
}

/// Copies one file (and its metadata) from a peer; `Ok(false)` if the peer no longer has it.
pub(super) async fn fetch_one(
    shared: &Arc<Shared>,
    c: &mut PeerConn,
    name: &str,
    dest: &std::path::Path,
) -> Result<bool, String> {
    let group = shared.cfg.group_name.clone();
    let fref = FileRef {
        group: group.clone(),
        file_name: name.to_owned(),
    };
    let e = |e: std::io::Error| e.to_string();
    c.send(&fref.packet(cmd::QUERY_FILE_INFO, 0, IpWidth::V4))
        .await
        .map_err(e)?;
    let (st, body) = c.response(1024).await.map_err(e)?;
    if st == status::ENOENT {
        return Ok(false);
    }
    if st != status::OK {
        return Err(format!("file info: status {st}"));
    }
    let info = FileInfo::decode(&body).map_err(|e| e.to_string())?;
    let req = DownloadRequest {
        offset: 0,
        length: 0,
        group,
        file_name: name.to_owned(),
    };
    c.send(&req.packet(cmd::DOWNLOAD_FILE, 0, IpWidth::V4))
        .await
        .map_err(e)?;
    let h = c.header().await.map_err(e)?;
    if h.status == status::ENOENT {
        return Ok(false);
    }
    if h.status != status::OK {
        return Err(format!("download: status {}", h.status));
    }
    let idx = fdfs_proto::fileid::parse_logical_name(name.as_bytes())
        .map_err(|e| e.to_string())?
        .store_path_index;
    let tmp = temp_in(shared, idx)?;
    let mut guard = TempFile(Some(tmp.clone()));
    let f = std::fs::File::create_new(&tmp).map_err(e)?;
    let f = c.recv_to_file(f, h.pkg_len).await.map_err(e)?;
    let mtime = UNIX_EPOCH + Duration::from_secs(info.create_timestamp.max(0) as u64);
    tokio::task::spawn_blocking(move || {
        f.sync_data()?;
        f.set_modified(mtime)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(e)?;
    c.send(&fref.packet(cmd::GET_METADATA, 0, IpWidth::V4))
        .await
        .map_err(e)?;
    let (mst, meta) = c.response(shared.cfg.max_request_body).await.map_err(e)?;
    let mut actions = vec![Action::Publish {
        tmp: tmp.clone(),
        dest: dest.to_owned(),
    }];
    let ts = info.create_timestamp;
    // Only a file's source pushes it. A source that lost its base path lost the records of
    // files it had not pushed to every member yet; logging its recovered own files as its own
    // again makes its senders offer them to every member (one that has them answers EEXIST).
    let replica = !(shared.sync.fresh_base && is_own_source(shared, name));
    let rec = |op, n: String| Record {
        replica,
        ..Record::replicated(op, n, ts)
    };
    let mut records = vec![rec(Op::Create, name.to_owned())];
    let mut meta_guard = TempFile(None);
    if mst == status::OK && !meta.is_empty() {
        let mtmp = temp_in(shared, idx)?;
        let m2 = mtmp.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::write(&m2, &meta)?;
            std::fs::File::open(&m2)?.sync_data()
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(e)?;
        meta_guard.0 = Some(mtmp.clone());
        let mut mdest = dest.as_os_str().to_owned();
        mdest.push("-m");
        actions.push(Action::Replace {
            tmp: mtmp,
            dest: mdest.into(),
        });
        records.push(rec(Op::Update, format!("{name}-m")));
    }
    let ordered = shared.layout.path(idx).is_some_and(|sp| sp.journal_ordered);
    match shared.committer.commit(actions, records, !ordered).await {
        Ok(()) | Err(crate::commit::CommitError::Exists) => {
            guard.0 = None;
            meta_guard.0 = None;
            Ok(true)
        }
        Err(err) => Err(format!("commit: {err}")),
    }
}

/// Whether this storage created `name` (its source bytes are our storage id or source_ip).
fn is_own_source(shared: &Shared, name: &str) -> bool {
    let Ok(id) = fdfs_proto::fileid::parse_logical_name(name.as_bytes()) else {
        return false;
    };
    match (
        id.decode().source,
        shared.cfg.storage_id,
        shared.cfg.source_ip,
    ) {
        (Source::ServerId(s), Some(me), _) => s == me,
        (Source::Ipv4(ip), None, Some(me)) => ip == me,
        _ => false,
    }
}

/// Removes a temp file unless disarmed.
struct TempFile(Option<std::path::PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::live_files;

    #[test]
    fn live_set_from_several_binlogs() {
        let a =
            "1 C M00/00/00/a\n2 U M00/00/00/a-m\n3 C M00/00/00/b\n4 C M01/00/00/x\n".to_string();
        let b =
            "1 c M00/00/00/a\n5 C M00/00/00/c\n6 d M00/00/00/b\n7 D M00/00/00/c-m\n".to_string();
        let got = live_files(&[a, b], "M00/");
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["M00/00/00/a", "M00/00/00/c"]);
        assert_eq!(got[0].1, [0, 1]);
        assert_eq!(got[1].1, [1]);
    }
}

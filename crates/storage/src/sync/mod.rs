//! Group replication.
//!
//! * **Push, from the binlog** (`sender`): one task per group peer replays this storage's own
//!   records (uppercase ops) to that peer with the storage→storage commands 16/17/18, from a
//!   position persisted in `<base_path>/data/sync/<ip>_<port>.mark`. Records applied on behalf
//!   of a peer are logged lowercase (`recv`) and never sent on, so nothing loops.
//! * **Pull, for a new or wiped member** (`recovery`): a storage that has never finished its
//!   initial copy (or a store path that lost its data) joins the tracker as WAIT_SYNC, fetches
//!   every ACTIVE peer's binlog (command 26), downloads the files that are live there, and only
//!   then tells the tracker (88) it may become ACTIVE. Meanwhile it answers pushes with EAGAIN.
//! * **Read placement** (`report`): each sender knows up to which time its peer holds every
//!   file of ours; storages report that per peer (89) and the tracker's fetch uses it.
//!
//! Membership comes from the tracker's beat replies (`on_members`).

pub mod binlog_read;
pub mod mark;
pub mod missing;
pub mod peer_conn;
pub mod recovery;
pub mod recv;
pub mod report;
pub mod sender;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fdfs_proto::tracker::StorageBrief;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify, Semaphore};

use crate::server::Shared;

/// `[replication]` in storage.toml.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSettings {
    enabled: bool,
    /// Peers served at the same time (each sender holds a slot while it has work).
    max_parallel_peers: usize,
    /// Poll interval of an idle sender, in ms (FastDFS `sync_wait_msec`).
    wait_ms: u64,
    /// Back-off after an error: starts at `retry_min_ms`, doubles up to `retry_max_ms`.
    retry_min_ms: u64,
    retry_max_ms: u64,
    /// Seconds subtracted from reported sync times, covering an upload's commit delay.
    report_margin: u64,
    /// Marks are written after this many records (and whenever the sender goes idle).
    mark_every: u64,
    /// Connections per peer: a backlog is sent over several at once (same file → same
    /// connection, in order), so the peer's group commit can batch them.
    streams_per_peer: usize,
}

impl Default for RawSettings {
    fn default() -> Self {
        RawSettings {
            enabled: true,
            max_parallel_peers: 4,
            wait_ms: 20,
            retry_min_ms: 200,
            retry_max_ms: 10_000,
            report_margin: 2,
            mark_every: 100,
            streams_per_peer: 4,
        }
    }
}

impl RawSettings {
    pub fn validate(self) -> Result<Settings, (&'static str, String)> {
        if self.max_parallel_peers == 0 || self.max_parallel_peers > 32 {
            return Err(("replication.max_parallel_peers", "must be 1..=32".into()));
        }
        if self.wait_ms == 0 || self.retry_min_ms == 0 || self.retry_max_ms < self.retry_min_ms {
            return Err((
                "replication.retry_max_ms",
                "intervals must be >= 1 ms and retry_max_ms >= retry_min_ms".into(),
            ));
        }
        if self.mark_every == 0 {
            return Err(("replication.mark_every", "must be >= 1".into()));
        }
        if !(1..=16).contains(&self.streams_per_peer) {
            return Err(("replication.streams_per_peer", "must be 1..=16".into()));
        }
        Ok(Settings {
            enabled: self.enabled,
            max_parallel_peers: self.max_parallel_peers,
            wait: Duration::from_millis(self.wait_ms),
            retry_min: Duration::from_millis(self.retry_min_ms),
            retry_max: Duration::from_millis(self.retry_max_ms),
            report_margin: self.report_margin as i64,
            mark_every: self.mark_every,
            streams_per_peer: self.streams_per_peer,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub enabled: bool,
    pub max_parallel_peers: usize,
    pub wait: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub report_margin: i64,
    pub mark_every: u64,
    pub streams_per_peer: usize,
}

/// A group member other than us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub id: String,
    pub ip: String,
    pub port: u16,
    pub status: u8,
}

impl Peer {
    pub fn key(&self) -> String {
        format!("{}_{}", self.ip, self.port)
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// Per-peer replication figures (also the source of the 89 report).
#[derive(Debug, Clone, Default)]
pub struct PeerStat {
    pub id: String,
    /// The peer holds every file of ours whose timestamp is below this (0 = unknown).
    pub synced_until: i64,
    pub records_sent: u64,
    pub bytes_sent: u64,
    /// Own records not yet acknowledged by the peer.
    pub lag_records: u64,
    /// Age of the oldest unacknowledged record, seconds (0 when caught up).
    pub lag_seconds: i64,
    pub last_error: Option<String>,
}

/// Tracker status codes used here.
pub mod st {
    pub const WAIT_SYNC: u8 = 1;
    pub const DELETED: u8 = 4;
    pub const OFFLINE: u8 = 5;
    pub const ONLINE: u8 = 6;
    pub const ACTIVE: u8 = 7;
}

pub struct SyncState {
    pub settings: Settings,
    pub sync_dir: PathBuf,
    /// Every store path index whose initial copy is not done yet.
    pending_paths: Mutex<Vec<u8>>,
    /// True while any store path still needs its initial copy: pushes get EAGAIN.
    pub recovering: AtomicBool,
    /// The base path (binlog, marks) was new or lost at start: the records of our own old
    /// files are gone, so the initial copy logs those files as our own again (see recovery).
    pub fresh_base: bool,
    /// Wakes tracker sessions when the status they must announce changed.
    pub status_changed: Notify,
    members: watch::Sender<Option<Vec<Peer>>>,
    pub stats: Mutex<BTreeMap<String, PeerStat>>,
    pub slots: Arc<Semaphore>,
}

const INIT_FILE: &str = "sync_init.dat";
/// Written into each store path once it holds the group's data (FastDFS keeps a store path
/// mark for the same purpose): its absence after init means the disk was replaced.
pub const PATH_MARK: &str = ".fdfs_rs_synced";

impl SyncState {
    pub fn new(cfg: &crate::config::Config) -> SyncState {
        let sync_dir = cfg.base_path.join("data").join("sync");
        let active = cfg.replication.enabled && !cfg.tracker_servers.is_empty();
        let init_done = sync_dir.join(INIT_FILE).exists();
        let pending: Vec<u8> = if !active {
            Vec::new()
        } else {
            cfg.store_paths
                .iter()
                .enumerate()
                .filter(|(_, p)| !init_done || !p.join("data").join(PATH_MARK).exists())
                .map(|(i, _)| i as u8)
                .collect()
        };
        let (members, _) = watch::channel(None);
        SyncState {
            settings: cfg.replication.clone(),
            sync_dir,
            recovering: AtomicBool::new(!pending.is_empty()),
            fresh_base: active && !init_done,
            pending_paths: Mutex::new(pending),
            status_changed: Notify::new(),
            members,
            stats: Mutex::new(BTreeMap::new()),
            slots: Arc::new(Semaphore::new(cfg.replication.max_parallel_peers)),
        }
    }

    pub fn is_recovering(&self) -> bool {
        self.recovering.load(Ordering::Acquire)
    }

    pub fn pending_paths(&self) -> Vec<u8> {
        lock(&self.pending_paths).clone()
    }

    /// Status byte for JOIN: WAIT_SYNC until the initial copy is done, else "unknown" (-1).
    pub fn join_status(&self) -> i8 {
        if self.is_recovering() {
            st::WAIT_SYNC as i8
        } else {
            -1
        }
    }

    /// The member list of a beat reply. `me` identifies us: our storage id, or the IP our
    /// tracker connection comes from plus our port.
    pub fn on_members(&self, briefs: &[StorageBrief], my_id: Option<&str>, my_ip: &str, port: u16) {
        let peers: Vec<Peer> = briefs
            .iter()
            .filter(|b| match my_id {
                Some(id) => b.id != id,
                None => !(b.ip_addr == my_ip && b.port == u32::from(port)),
            })
            .filter_map(|b| {
                Some(Peer {
                    id: b.id.clone(),
                    ip: b.ip_addr.clone(),
                    port: u16::try_from(b.port).ok()?,
                    status: b.status,
                })
            })
            .collect();
        self.members.send_if_modified(|cur| {
            let changed = cur.as_ref() != Some(&peers);
            *cur = Some(peers);
            changed
        });
    }

    pub fn members(&self) -> watch::Receiver<Option<Vec<Peer>>> {
        self.members.subscribe()
    }

    /// Marks store path `index` as holding the group's data.
    pub fn path_done(&self, cfg: &crate::config::Config, index: u8) -> std::io::Result<()> {
        if let Some(p) = cfg.store_paths.get(usize::from(index)) {
            write_durable(&p.join("data").join(PATH_MARK), b"synced=1\n")?;
        }
        let mut pending = lock(&self.pending_paths);
        pending.retain(|&i| i != index);
        if pending.is_empty() {
            write_durable(&self.sync_dir.join(INIT_FILE), b"sync_old_done=1\n")?;
            self.recovering.store(false, Ordering::Release);
            self.status_changed.notify_waiters();
        }
        Ok(())
    }

    pub fn update_stat(&self, key: &str, f: impl FnOnce(&mut PeerStat)) {
        let mut s = lock(&self.stats);
        f(s.entry(key.to_owned()).or_default());
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// temp + fsync + rename + directory fsync.
pub fn write_durable(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("/"));
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Starts replication: the recovery task (if needed) and the peer manager.
pub fn spawn(
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if !shared.cfg.replication.enabled || shared.cfg.tracker_servers.is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        let rec = tokio::spawn(recovery::run(shared.clone(), stop.clone()));
        sender::manage(shared, stop).await;
        rec.abort();
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const MIN: &str = "group_name = \"group1\"\nbase_path = \"/tmp/x\"\n";

    #[test]
    fn replication_settings_and_storage_id() {
        let c = Config::parse_str(MIN).unwrap();
        assert!(c.replication.enabled);
        assert_eq!(c.replication.wait, std::time::Duration::from_millis(20));
        assert_eq!(c.storage_id, None);
        let c = Config::parse_str(&format!(
            "{MIN}storage_id = 100001\n[replication]\nmax_parallel_peers = 2\nretry_max_ms = 500\n"
        ))
        .unwrap();
        assert_eq!(c.storage_id, Some(100001));
        assert_eq!(c.replication.max_parallel_peers, 2);
        for bad in [
            "storage_id = 0",
            "storage_id = 16777216",
            "[replication]\nmax_parallel_peers = 0",
            "[replication]\nmax_parallel_peers = 33",
            "[replication]\nwait_ms = 0",
            "[replication]\nretry_min_ms = 500\nretry_max_ms = 100",
            "[replication]\nmark_every = 0",
            "[replication]\nstreams_per_peer = 0",
            "[replication]\nunknown_key = 1",
        ] {
            assert!(
                Config::parse_str(&format!("{MIN}{bad}\n")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn fresh_state_waits_only_with_trackers() {
        let dir = tempfile::tempdir().unwrap();
        let base = format!("group_name = \"g1\"\nbase_path = {:?}\n", dir.path());
        let alone = Config::parse_str(&base).unwrap();
        assert!(!super::SyncState::new(&alone).is_recovering());
        let grouped =
            Config::parse_str(&format!("{base}tracker_servers = [\"127.0.0.1:22122\"]\n")).unwrap();
        let st = super::SyncState::new(&grouped);
        assert!(st.is_recovering());
        assert_eq!(st.join_status(), 1);
        st.path_done(&grouped, 0).unwrap();
        assert!(!st.is_recovering());
        assert_eq!(st.join_status(), -1);
        // Initialised now; losing the store path's mark (a replaced disk) means copying again.
        assert!(!super::SyncState::new(&grouped).is_recovering());
        std::fs::remove_file(dir.path().join("data").join(super::PATH_MARK)).unwrap();
        assert_eq!(super::SyncState::new(&grouped).pending_paths(), [0]);
    }
}

//! Groups, storages and the status life cycle. Pure state: no I/O, no clocks of its own
//! (callers pass `now`), so every rule is unit-tested.
//!
//! Life cycle (FastDFS status bytes, spec §2.5/§5.1):
//!
//! | event | status |
//! |---|---|
//! | JOIN (81) | ONLINE (a known member keeps its record; a DELETED one is re-added) |
//! | BEAT (83) or DISK REPORT (84) once disk usage is known | ACTIVE |
//! | the storage's tracker connection closes | OFFLINE at once |
//! | no beat for `check_active_interval` | OFFLINE (a later beat on the same socket revives it) |
//! | tracker restart | every member is loaded OFFLINE until it joins again |
//!
//! INIT, WAIT_SYNC and SYNCING are shown when a storage reports them in its JOIN (status byte);
//! the tracker does not drive "sync old data" itself (see docs in `conf/tracker.toml`).

use std::collections::BTreeMap;
use std::time::Instant;

use fdfs_proto::tracker::{PathUsage, StatBlock};
use serde::{Deserialize, Serialize};

/// Storage status bytes (`tracker_types.h`).
pub mod status {
    pub const INIT: u8 = 0;
    pub const WAIT_SYNC: u8 = 1;
    pub const SYNCING: u8 = 2;
    pub const IP_CHANGED: u8 = 3;
    pub const DELETED: u8 = 4;
    pub const OFFLINE: u8 = 5;
    pub const ONLINE: u8 = 6;
    pub const ACTIVE: u8 = 7;
    pub const RECOVERY: u8 = 9;
    pub const NONE: u8 = 99;

    /// Caption as `fdfs_monitor` prints it.
    pub fn caption(s: u8) -> &'static str {
        match s {
            INIT => "INIT",
            WAIT_SYNC => "WAIT_SYNC",
            SYNCING => "SYNCING",
            IP_CHANGED => "IP_CHANGED",
            DELETED => "DELETED",
            OFFLINE => "OFFLINE",
            ONLINE => "ONLINE",
            ACTIVE => "ACTIVE",
            RECOVERY => "RECOVERY",
            _ => "UNKNOWN",
        }
    }
}

/// Identifies one storage: its group and index there. Stable while the tracker runs
/// (members are never removed from the vector, only marked DELETED).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberKey {
    pub group: String,
    pub index: usize,
}

/// One storage as the tracker knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Storage {
    /// Storage id: the configured id, or the IP when ids are not used.
    pub id: String,
    pub ip: String,
    pub port: u16,
    pub status: u8,
    pub version: String,
    pub join_time: i64,
    pub up_time: i64,
    pub upload_priority: i64,
    pub store_path_count: u16,
    pub subdir_count_per_path: u16,
    /// Per store path, as last reported (empty until the first disk report).
    pub paths: Vec<(i64, i64)>,
    pub current_write_path: usize,
    #[serde(skip)]
    pub stat: StatBlock,
    /// Connection that owns this member; its closing makes the member OFFLINE.
    #[serde(skip)]
    pub conn: Option<u64>,
    #[serde(skip)]
    pub last_beat: Option<Instant>,
    pub last_heart_beat_time: i64,
}

impl Storage {
    pub fn total_mb(&self) -> i64 {
        self.paths.iter().map(|p| p.0).sum()
    }

    pub fn free_mb(&self) -> i64 {
        self.paths.iter().map(|p| p.1).sum()
    }

    /// Readable and writable: only ACTIVE members serve clients (rw_mode is always "both").
    pub fn is_active(&self) -> bool {
        self.status == status::ACTIVE
    }
}

/// One group.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// In join order (never reordered, never shrunk: [`MemberKey`] indexes it).
    pub storages: Vec<Storage>,
    #[serde(skip)]
    pub current_write_server: usize,
    #[serde(skip)]
    pub current_read_server: usize,
    /// Bumped on every membership or status change; beat replies tell storages about it.
    #[serde(skip)]
    pub version: u64,
    /// Who holds whose files, from the storages' 89 reports (see `sync_state`).
    #[serde(skip)]
    pub synced: crate::sync_state::SyncedPairs,
}

impl Group {
    pub fn active(&self) -> impl Iterator<Item = (usize, &Storage)> {
        self.storages
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_active())
    }

    /// Members that are not DELETED.
    pub fn members(&self) -> impl Iterator<Item = &Storage> {
        self.storages.iter().filter(|s| s.status != status::DELETED)
    }
}

/// What a JOIN carries that the cluster keeps.
#[derive(Debug, Clone)]
pub struct JoinInfo {
    pub group: String,
    pub storage_id: String,
    pub ip: String,
    pub port: u16,
    pub version: String,
    pub join_time: i64,
    pub up_time: i64,
    pub upload_priority: i64,
    pub store_path_count: u16,
    pub subdir_count_per_path: u16,
    /// Status byte the storage sent (`-1`/255 = unknown).
    pub reported_status: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error("storage {ip}:{port} already belongs to group {other}")]
    OtherGroup {
        ip: String,
        port: u16,
        other: String,
    },
    #[error("too many groups (512 max)")]
    TooManyGroups,
    #[error("too many storages in group {0} (32 max)")]
    TooManyStorages(String),
    #[error("disk report has {got} paths, storage announced {want}")]
    PathCount { got: usize, want: usize },
}

pub const MAX_GROUPS: usize = 512;
pub const MAX_STORAGES_PER_GROUP: usize = 32;

/// The whole cluster.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub groups: BTreeMap<String, Group>,
    /// Round-robin / load-balance pointer over `groups` (index in key order).
    pub current_write_group: usize,
    /// Set when something worth persisting changed.
    pub dirty: bool,
}

impl Cluster {
    /// After loading a snapshot: nobody is connected, so nobody is online.
    pub fn from_snapshot(groups: Vec<Group>) -> Cluster {
        let mut c = Cluster::default();
        for mut g in groups {
            for s in &mut g.storages {
                if s.status != status::DELETED {
                    s.status = status::OFFLINE;
                }
            }
            g.storages.sort_by(|a, b| a.id.cmp(&b.id));
            c.groups.insert(g.name.clone(), g);
        }
        c
    }

    pub fn storage(&self, k: &MemberKey) -> Option<&Storage> {
        self.groups.get(&k.group)?.storages.get(k.index)
    }

    fn storage_mut(&mut self, k: &MemberKey) -> Option<&mut Storage> {
        self.groups.get_mut(&k.group)?.storages.get_mut(k.index)
    }

    fn touch(&mut self, group: &str) {
        if let Some(g) = self.groups.get_mut(group) {
            g.version += 1;
        }
        self.dirty = true;
    }

    /// JOIN: find or create the member and bind it to connection `conn`.
    pub fn join(
        &mut self,
        j: &JoinInfo,
        conn: u64,
        now: Instant,
    ) -> Result<MemberKey, ClusterError> {
        for (name, g) in &self.groups {
            let elsewhere = g
                .storages
                .iter()
                .any(|s| s.ip == j.ip && s.port == j.port && s.status != status::DELETED);
            if elsewhere && *name != j.group {
                return Err(ClusterError::OtherGroup {
                    ip: j.ip.clone(),
                    port: j.port,
                    other: name.clone(),
                });
            }
        }
        if !self.groups.contains_key(&j.group) {
            if self.groups.len() >= MAX_GROUPS {
                return Err(ClusterError::TooManyGroups);
            }
            let g = Group {
                name: j.group.clone(),
                ..Group::default()
            };
            self.groups.insert(j.group.clone(), g);
        }
        let id = if j.storage_id.is_empty() {
            j.ip.clone()
        } else {
            j.storage_id.clone()
        };
        let g = self
            .groups
            .get_mut(&j.group)
            .ok_or(ClusterError::TooManyGroups)?;
        let pos = g
            .storages
            .iter()
            .position(|s| s.ip == j.ip && s.port == j.port);
        let index = match pos {
            Some(i) => i,
            None => {
                if g.members().count() >= MAX_STORAGES_PER_GROUP {
                    return Err(ClusterError::TooManyStorages(j.group.clone()));
                }
                g.storages.push(Storage {
                    id: id.clone(),
                    ip: j.ip.clone(),
                    port: j.port,
                    status: status::INIT,
                    version: String::new(),
                    join_time: j.join_time,
                    up_time: 0,
                    upload_priority: 0,
                    store_path_count: 0,
                    subdir_count_per_path: 0,
                    paths: Vec::new(),
                    current_write_path: 0,
                    stat: StatBlock::default(),
                    conn: None,
                    last_beat: None,
                    last_heart_beat_time: 0,
                });
                // Append only: indices in MemberKeys held by other connections stay valid.
                // Listings and "first by id" sort on the fly.
                g.storages.len() - 1
            }
        };
        let s = &mut g.storages[index];
        s.id = id;
        s.version = j.version.clone();
        s.up_time = j.up_time;
        if s.join_time == 0 || s.status == status::DELETED {
            s.join_time = j.join_time;
        }
        s.upload_priority = j.upload_priority;
        if s.store_path_count != j.store_path_count {
            s.paths.clear();
            s.current_write_path = 0;
        }
        s.store_path_count = j.store_path_count;
        s.subdir_count_per_path = j.subdir_count_per_path;
        s.status = match j.reported_status {
            status::WAIT_SYNC | status::SYNCING | status::INIT | status::RECOVERY => {
                j.reported_status
            }
            _ => status::ONLINE,
        };
        s.conn = Some(conn);
        s.last_beat = Some(now);
        let key = MemberKey {
            group: j.group.clone(),
            index,
        };
        self.touch(&j.group);
        Ok(key)
    }

    /// Resolves the member a connection joined as; `None` if it was re-bound elsewhere since.
    pub fn owned(&self, k: &MemberKey, conn: u64) -> bool {
        self.storage(k).is_some_and(|s| s.conn == Some(conn))
    }

    /// BEAT: liveness, counters, promotion to ACTIVE.
    pub fn beat(&mut self, k: &MemberKey, stat: Option<StatBlock>, now: Instant, unix_now: i64) {
        let Some(s) = self.storage_mut(k) else { return };
        s.last_beat = Some(now);
        s.last_heart_beat_time = unix_now;
        if let Some(mut st) = stat {
            st.last_heart_beat_time = unix_now;
            s.stat = st;
        }
        self.promote(k);
    }

    /// REPORT_DISK_USAGE: per-path space, promotion to ACTIVE.
    pub fn disk_usage(
        &mut self,
        k: &MemberKey,
        paths: &[PathUsage],
        now: Instant,
    ) -> Result<(), ClusterError> {
        let Some(s) = self.storage_mut(k) else {
            return Ok(());
        };
        if paths.len() != usize::from(s.store_path_count) {
            return Err(ClusterError::PathCount {
                got: paths.len(),
                want: usize::from(s.store_path_count),
            });
        }
        s.paths = paths.iter().map(|p| (p.total_mb, p.free_mb)).collect();
        s.last_beat = Some(now);
        self.dirty = true;
        self.promote(k);
        Ok(())
    }

    /// ONLINE/OFFLINE → ACTIVE once the storage's disk space is known.
    fn promote(&mut self, k: &MemberKey) {
        let Some(s) = self.storage_mut(k) else { return };
        let can = matches!(s.status, status::ONLINE | status::OFFLINE) && !s.paths.is_empty();
        if can {
            s.status = status::ACTIVE;
            tracing::info!(group = %k.group, id = %s.id, port = s.port, "storage ACTIVE");
            self.touch(&k.group.clone());
        }
    }

    /// The connection of a member closed.
    pub fn disconnected(&mut self, k: &MemberKey, conn: u64) {
        let Some(s) = self.storage_mut(k) else { return };
        if s.conn != Some(conn) {
            return;
        }
        s.conn = None;
        if s.status != status::DELETED && s.status != status::OFFLINE {
            s.status = status::OFFLINE;
            tracing::warn!(group = %k.group, id = %s.id, port = s.port, "storage OFFLINE (connection closed)");
            self.touch(&k.group.clone());
        }
    }

    /// Admin 93: marks an OFFLINE (or never-synced) member DELETED. Status: ENOENT (no such
    /// group or id), EBUSY (ONLINE / ACTIVE / RECOVERY), EALREADY (already deleted).
    pub fn delete_storage(&mut self, group: &str, id: &str) -> Result<(), u8> {
        use fdfs_proto::status::{EALREADY, EBUSY, ENOENT};
        let g = self.groups.get_mut(group).ok_or(ENOENT)?;
        let mut found = g.storages.iter_mut().filter(|s| s.id == id).peekable();
        found.peek().ok_or(ENOENT)?;
        let mut live: Vec<&mut Storage> = found.filter(|s| s.status != status::DELETED).collect();
        if live.is_empty() {
            return Err(EALREADY);
        }
        if live
            .iter()
            .any(|s| matches!(s.status, status::ONLINE | status::ACTIVE | status::RECOVERY))
        {
            return Err(EBUSY);
        }
        for s in &mut live {
            s.status = status::DELETED;
            s.conn = None;
        }
        tracing::info!(group, id, "storage DELETED");
        self.touch(group);
        Ok(())
    }

    /// Admin 108: removes a group that has no members left (ENOENT / EBUSY otherwise).
    pub fn delete_group(&mut self, group: &str) -> Result<(), u8> {
        use fdfs_proto::status::{EBUSY, ENOENT};
        let g = self.groups.get(group).ok_or(ENOENT)?;
        if g.members().next().is_some() {
            return Err(EBUSY);
        }
        self.groups.remove(group);
        self.current_write_group = 0;
        self.dirty = true;
        tracing::info!(group, "group deleted");
        Ok(())
    }

    /// Marks members whose beats stopped for longer than `max_silence`. Returns how many.
    pub fn expire(&mut self, now: Instant, max_silence: std::time::Duration) -> usize {
        let mut changed = Vec::new();
        for (name, g) in &mut self.groups {
            for s in &mut g.storages {
                let silent = s
                    .last_beat
                    .is_none_or(|t| now.duration_since(t) > max_silence);
                if matches!(s.status, status::ONLINE | status::ACTIVE) && silent {
                    s.status = status::OFFLINE;
                    tracing::warn!(group = %name, id = %s.id, port = s.port, "storage OFFLINE (no heartbeat)");
                    changed.push(name.clone());
                }
            }
        }
        let n = changed.len();
        for g in changed {
            self.touch(&g);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    pub(crate) fn join_info(group: &str, port: u16) -> JoinInfo {
        JoinInfo {
            group: group.into(),
            storage_id: String::new(),
            ip: "127.0.0.1".into(),
            port,
            version: "6.16.1".into(),
            join_time: 100,
            up_time: 100,
            upload_priority: 10,
            store_path_count: 1,
            subdir_count_per_path: 256,
            reported_status: 255,
        }
    }

    #[test]
    fn life_cycle() {
        let mut c = Cluster::default();
        let t0 = Instant::now();
        let k = c.join(&join_info("g1", 23000), 1, t0).unwrap();
        assert_eq!(c.storage(&k).unwrap().status, status::ONLINE);
        c.beat(&k, None, t0, 1);
        assert_eq!(
            c.storage(&k).unwrap().status,
            status::ONLINE,
            "no disk report yet"
        );
        let p = [PathUsage {
            total_mb: 1000,
            free_mb: 500,
        }];
        c.disk_usage(&k, &p, t0).unwrap();
        assert_eq!(c.storage(&k).unwrap().status, status::ACTIVE);
        assert!(c.disk_usage(&k, &[p[0], p[0]], t0).is_err());
        assert_eq!(
            c.expire(t0 + Duration::from_secs(1), Duration::from_secs(2)),
            0
        );
        assert_eq!(
            c.expire(t0 + Duration::from_secs(3), Duration::from_secs(2)),
            1
        );
        assert_eq!(c.storage(&k).unwrap().status, status::OFFLINE);
        c.beat(&k, None, t0 + Duration::from_secs(4), 2);
        assert_eq!(c.storage(&k).unwrap().status, status::ACTIVE);
        c.disconnected(&k, 99);
        assert_eq!(c.storage(&k).unwrap().status, status::ACTIVE, "other conn");
        c.disconnected(&k, 1);
        assert_eq!(c.storage(&k).unwrap().status, status::OFFLINE);
    }

    #[test]
    fn admin_deletes() {
        use fdfs_proto::status::{EALREADY, EBUSY, ENOENT};
        let mut c = Cluster::default();
        let t0 = Instant::now();
        let k = c.join(&join_info("g1", 23000), 1, t0).unwrap();
        assert_eq!(c.delete_storage("g1", "127.0.0.1"), Err(EBUSY));
        assert_eq!(c.delete_storage("g1", "10.9.9.9"), Err(ENOENT));
        assert_eq!(c.delete_storage("g9", "127.0.0.1"), Err(ENOENT));
        assert_eq!(c.delete_group("g1"), Err(EBUSY));
        c.disconnected(&k, 1);
        assert_eq!(c.delete_storage("g1", "127.0.0.1"), Ok(()));
        assert_eq!(c.delete_storage("g1", "127.0.0.1"), Err(EALREADY));
        assert_eq!(c.groups["g1"].members().count(), 0);
        assert_eq!(c.delete_group("g1"), Ok(()));
        assert_eq!(c.delete_group("g1"), Err(ENOENT));
        // A deleted storage that joins again is a fresh member.
        let k = c.join(&join_info("g1", 23000), 2, t0).unwrap();
        assert_eq!(c.storage(&k).unwrap().status, status::ONLINE);
    }

    #[test]
    fn rejoin_keeps_record_and_snapshot_loads_offline() {
        let mut c = Cluster::default();
        let t0 = Instant::now();
        let k = c.join(&join_info("g1", 23000), 1, t0).unwrap();
        let mut j = join_info("g1", 23000);
        j.join_time = 555;
        let k2 = c.join(&j, 2, t0).unwrap();
        assert_eq!(k, k2);
        assert_eq!(
            c.storage(&k).unwrap().join_time,
            100,
            "first join time kept"
        );
        assert_eq!(c.groups["g1"].storages.len(), 1);
        assert!(
            c.join(&join_info("g2", 23000), 3, t0).is_err(),
            "same ip:port, other group"
        );
        let c2 = Cluster::from_snapshot(c.groups.values().cloned().collect());
        assert_eq!(c2.groups["g1"].storages[0].status, status::OFFLINE);
    }
}

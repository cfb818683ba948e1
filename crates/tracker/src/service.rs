//! One request frame in, one action out. Every body is decoded and encoded with `fdfs-proto`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use fdfs_proto::common::{Empty, FileRef, GroupName};
use fdfs_proto::frame::{packet, Frame};
use fdfs_proto::status::{EACCES, EINVAL, ENOENT};
use fdfs_proto::tracker::{
    Beat, ChangeSet, Changes, DiskUsage, FetchTargets, GroupStat, GroupStatV5, GroupStats,
    GroupStatsV5, JoinRequest, JoinResponse, ListStorages, Parameters, StorageBrief, StorageStat,
    StorageStatV5, StorageStats, StorageStatsV5, StoreTarget, StoreTargets,
};
use fdfs_proto::{cmd, Body};
use tokio::sync::Notify;

use crate::cluster::{status, Cluster, Group, JoinInfo, MemberKey, Storage};
use crate::config::{Config, ListLayout, StorePath};
use crate::persist::Store;
use crate::select::{self, FetchKind};

/// State shared by all connections.
pub struct Shared {
    pub cfg: Config,
    pub cluster: Mutex<Cluster>,
    pub store: Store,
    /// Wakes the persister after a membership change.
    pub dirty: Notify,
}

impl Shared {
    pub fn new(cfg: Config, cluster: Cluster, store: Store) -> Arc<Shared> {
        Arc::new(Shared {
            cfg,
            cluster: Mutex::new(cluster),
            store,
            dirty: Notify::new(),
        })
    }

    /// Nothing under this lock awaits or does I/O, so a poisoned lock only means a panic
    /// elsewhere; the data is still consistent enough to keep serving.
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Per-connection state.
pub struct Conn {
    pub id: u64,
    pub peer: SocketAddr,
    /// Set once the peer joined as a storage.
    pub member: Option<MemberKey>,
    /// Group version last sent to this storage in a beat reply.
    pub seen_version: u64,
}

/// What the connection loop does next.
pub enum Action {
    Reply(Vec<u8>),
    /// QUIT: close without a reply.
    Close,
}

fn ok(body: Vec<u8>) -> Action {
    Action::Reply(packet(cmd::RESP, 0, &body))
}

pub fn error(status: u8) -> Action {
    Action::Reply(packet(cmd::RESP, status, &[]))
}

/// Commands only a joined storage may send (FastDFS answers EACCES on other sockets).
const STORAGE_ONLY: &[u8] = &[
    cmd::STORAGE_BEAT,
    cmd::STORAGE_REPORT_DISK_USAGE,
    cmd::STORAGE_REPLICA_CHG,
    cmd::STORAGE_SYNC_SRC_REQ,
    cmd::STORAGE_SYNC_DEST_REQ,
    cmd::STORAGE_SYNC_NOTIFY,
    cmd::STORAGE_SYNC_REPORT,
    cmd::STORAGE_SYNC_DEST_QUERY,
    cmd::STORAGE_REPORT_IP_CHANGED,
    cmd::STORAGE_CHANGELOG_REQ,
    cmd::STORAGE_REPORT_STATUS,
    cmd::STORAGE_REPORT_TRUNK_FREE,
    cmd::STORAGE_REPORT_TRUNK_FID,
    cmd::STORAGE_FETCH_TRUNK_FID,
    cmd::STORAGE_CHANGE_STATUS,
];

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn handle(sh: &Shared, conn: &mut Conn, f: Frame<'_>) -> Action {
    let c = f.header.cmd;
    match dispatch(sh, conn, c, f.body) {
        Ok(a) => a,
        Err(st) => {
            if st == EINVAL {
                tracing::debug!(peer = %conn.peer, cmd = c, len = f.body.len(), "malformed request");
            }
            error(st)
        }
    }
}

fn dispatch(sh: &Shared, conn: &mut Conn, c: u8, body: &[u8]) -> Result<Action, u8> {
    let ipw = sh.cfg.ip_width;
    let bad = |_| EINVAL;
    if STORAGE_ONLY.contains(&c) {
        let Some(key) = conn.member.clone() else {
            tracing::warn!(peer = %conn.peer, cmd = c, "storage command on a non-storage connection");
            return Err(EACCES);
        };
        if !sh.lock().owned(&key, conn.id) {
            // Another connection joined as this storage since; this one is stale.
            return Err(EACCES);
        }
        return storage_cmd(sh, conn, &key, c, body);
    }
    match c {
        cmd::ACTIVE_TEST => {
            Empty::decode(body).map_err(bad)?;
            Ok(ok(Vec::new()))
        }
        cmd::QUIT => Ok(Action::Close),
        cmd::QUERY_STORE_WITHOUT_GROUP_ONE | cmd::QUERY_STORE_WITHOUT_GROUP_ALL => {
            Empty::decode(body).map_err(bad)?;
            store(sh, None, c == cmd::QUERY_STORE_WITHOUT_GROUP_ALL)
        }
        cmd::QUERY_STORE_WITH_GROUP_ONE | cmd::QUERY_STORE_WITH_GROUP_ALL => {
            let g = GroupName::decode(body).map_err(bad)?;
            store(sh, Some(&g.group), c == cmd::QUERY_STORE_WITH_GROUP_ALL)
        }
        cmd::QUERY_FETCH_ONE | cmd::QUERY_UPDATE | cmd::QUERY_FETCH_ALL => {
            let r = FileRef::decode(body).map_err(bad)?;
            let kind = match c {
                cmd::QUERY_FETCH_ONE => FetchKind::One,
                cmd::QUERY_UPDATE => FetchKind::Update,
                _ => FetchKind::All,
            };
            let servers = select::fetch(
                &mut sh.lock(),
                &sh.cfg,
                &r.group,
                &r.file_name,
                kind,
                unix_now(),
            )?;
            Ok(ok(FetchTargets {
                group: r.group,
                servers,
            }
            .to_bytes(ipw)))
        }
        cmd::SERVER_LIST_ALL_GROUPS => {
            Empty::decode(body).map_err(bad)?;
            let c = sh.lock();
            let v = c.groups.values().map(|g| group_stat(&sh.cfg, g)).collect();
            Ok(ok(groups_body(&sh.cfg, v)))
        }
        cmd::SERVER_LIST_ONE_GROUP => {
            let g = GroupName::decode(body).map_err(bad)?;
            let c = sh.lock();
            let g = c.groups.get(&g.group).ok_or(ENOENT)?;
            Ok(ok(groups_body(&sh.cfg, vec![group_stat(&sh.cfg, g)])))
        }
        cmd::SERVER_LIST_STORAGE => {
            let req = ListStorages::decode(body).map_err(bad)?;
            let c = sh.lock();
            let g = c.groups.get(&req.group).ok_or(ENOENT)?;
            let mut v: Vec<&Storage> = g
                .members()
                .filter(|s| req.storage_id.as_ref().is_none_or(|id| &s.id == id))
                .collect();
            if v.is_empty() && req.storage_id.is_some() {
                return Err(ENOENT);
            }
            v.sort_by(|a, b| a.id.cmp(&b.id).then(a.port.cmp(&b.port)));
            let recs: Vec<StorageStat> = v.into_iter().map(|s| storage_stat(&sh.cfg, s)).collect();
            let body = match sh.cfg.list_layout {
                ListLayout::Current => StorageStats(recs).to_bytes(ipw),
                ListLayout::EraA => {
                    StorageStatsV5(recs.into_iter().map(storage_v5).collect()).to_bytes(ipw)
                }
            };
            Ok(ok(body))
        }
        cmd::STORAGE_PARAMETER_REQ => {
            Empty::decode(body).map_err(bad)?;
            Ok(ok(parameters(&sh.cfg).to_bytes(ipw)))
        }
        cmd::STORAGE_JOIN => join(sh, conn, body),
        cmd::SERVER_DELETE_STORAGE => {
            crate::sync_state::delete_storage(&mut sh.lock(), body)?;
            sh.dirty.notify_one();
            Ok(ok(Vec::new()))
        }
        _ => {
            tracing::warn!(peer = %conn.peer, cmd = c, "unsupported command");
            Err(EINVAL)
        }
    }
}

fn store(sh: &Shared, group: Option<&str>, all: bool) -> Result<Action, u8> {
    let p = select::store(&mut sh.lock(), &sh.cfg, group, all)?;
    let ipw = sh.cfg.ip_width;
    let body = if all {
        StoreTargets {
            group: p.group,
            servers: p.servers,
            store_path_index: p.store_path_index,
        }
        .to_bytes(ipw)
    } else {
        let server = p.servers.into_iter().next().ok_or(ENOENT)?;
        StoreTarget {
            group: p.group,
            server,
            store_path_index: p.store_path_index,
        }
        .to_bytes(ipw)
    };
    Ok(ok(body))
}

fn join(sh: &Shared, conn: &mut Conn, body: &[u8]) -> Result<Action, u8> {
    let j = JoinRequest::decode(body).map_err(|e| {
        tracing::warn!(peer = %conn.peer, error = %e, "bad JOIN");
        EINVAL
    })?;
    if fdfs_proto::fileid::validate_group_name(j.group.as_bytes()).is_err() {
        tracing::warn!(peer = %conn.peer, group = %j.group, "JOIN with an invalid group name");
        return Err(EINVAL);
    }
    let ip = match conn.peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.to_string(), |v4| v4.to_string()),
        v4 => v4.to_string(),
    };
    let info = JoinInfo {
        group: j.group.clone(),
        storage_id: j.storage_id.clone(),
        ip,
        port: j.storage_port,
        version: j.version.clone(),
        join_time: j.join_time,
        up_time: j.up_time,
        upload_priority: j.upload_priority,
        store_path_count: j.store_path_count,
        subdir_count_per_path: j.subdir_count_per_path,
        reported_status: j.status as u8,
    };
    let mut c = sh.lock();
    if let Some(old) = conn.member.take() {
        c.disconnected(&old, conn.id);
    }
    let key = c.join(&info, conn.id, Instant::now()).map_err(|e| {
        tracing::warn!(peer = %conn.peer, error = %e, "JOIN refused");
        EINVAL
    })?;
    let my_status = c.storage(&key).map_or(status::ONLINE, |s| s.status);
    drop(c);
    tracing::info!(peer = %conn.peer, group = %j.group, port = j.storage_port, "storage joined");
    conn.member = Some(key);
    conn.seen_version = 0;
    sh.dirty.notify_one();
    let resp = JoinResponse {
        my_status,
        src_id: String::new(),
    };
    Ok(ok(resp.to_bytes(sh.cfg.ip_width)))
}

fn storage_cmd(
    sh: &Shared,
    conn: &mut Conn,
    key: &MemberKey,
    c: u8,
    body: &[u8],
) -> Result<Action, u8> {
    let now = Instant::now();
    let mut cl = sh.lock();
    match c {
        cmd::STORAGE_BEAT => {
            let b = Beat::decode(body).map_err(|_| EINVAL)?;
            cl.beat(key, b.0, now, unix_now());
        }
        cmd::STORAGE_REPORT_DISK_USAGE => {
            let d = DiskUsage::decode(body).map_err(|_| EINVAL)?;
            cl.disk_usage(key, &d.0, now).map_err(|e| {
                tracing::warn!(peer = %conn.peer, error = %e, "bad disk report");
                EINVAL
            })?;
            sh.dirty.notify_one();
        }
        cmd::STORAGE_SYNC_REPORT => crate::sync_state::report(&mut cl, key, body)?,
        cmd::STORAGE_SYNC_NOTIFY => {
            crate::sync_state::notify(&mut cl, key, body)?;
            sh.dirty.notify_one();
        }
        _ => {
            tracing::warn!(peer = %conn.peer, cmd = c, "unsupported storage command");
            return Err(EINVAL);
        }
    }
    let g = cl.groups.get(&key.group).ok_or(ENOENT)?;
    let changes = if g.version != conn.seen_version {
        conn.seen_version = g.version;
        let members = g.members().map(brief).collect();
        Changes(Some(ChangeSet {
            leader: None,
            trunk_server: None,
            members: Some(members),
        }))
    } else {
        Changes(None)
    };
    Ok(ok(changes.to_bytes(sh.cfg.ip_width)))
}

fn brief(s: &Storage) -> StorageBrief {
    StorageBrief {
        status: s.status,
        port: u32::from(s.port),
        id: s.id.clone(),
        ip_addr: s.ip.clone(),
    }
}

fn group_stat(cfg: &Config, g: &Group) -> GroupStat {
    let active: Vec<&Storage> = g.active().map(|(_, s)| s).collect();
    let total = active.iter().map(|s| s.total_mb()).min().unwrap_or(0);
    let first = g.members().next();
    GroupStat {
        group: g.name.clone(),
        total_mb: total,
        free_mb: select::group_free_mb(g),
        reserved_mb: cfg.reserve.mb_for(total),
        trunk_free_mb: 0,
        storage_count: g.members().count() as i64,
        storage_port: first.map_or(0, |s| i64::from(s.port)),
        readable_server_count: active.len() as i64,
        writable_server_count: active.len() as i64,
        current_write_server: g.current_write_server as i64,
        store_path_count: first.map_or(0, |s| i64::from(s.store_path_count)),
        subdir_count_per_path: first.map_or(0, |s| i64::from(s.subdir_count_per_path)),
        current_trunk_file_id: -1,
    }
}

/// 91 (all) or 90 (one record) in the configured layout.
fn groups_body(cfg: &Config, v: Vec<GroupStat>) -> Vec<u8> {
    match cfg.list_layout {
        ListLayout::Current => GroupStats(v).to_bytes(cfg.ip_width),
        ListLayout::EraA => {
            GroupStatsV5(v.into_iter().map(group_v5).collect()).to_bytes(cfg.ip_width)
        }
    }
}

fn group_v5(g: GroupStat) -> GroupStatV5 {
    GroupStatV5 {
        group: g.group,
        total_mb: g.total_mb,
        free_mb: g.free_mb,
        trunk_free_mb: g.trunk_free_mb,
        storage_count: g.storage_count,
        storage_port: g.storage_port,
        storage_http_port: 0,
        active_count: g.writable_server_count,
        current_write_server: g.current_write_server,
        store_path_count: g.store_path_count,
        subdir_count_per_path: g.subdir_count_per_path,
        current_trunk_file_id: g.current_trunk_file_id,
    }
}

fn storage_v5(s: StorageStat) -> StorageStatV5 {
    StorageStatV5 {
        status: s.status,
        id: s.id,
        ip_addr: s.ip_addr,
        domain_name: String::new(),
        src_id: s.src_id,
        version: s.version,
        join_time: s.join_time,
        up_time: s.up_time,
        total_mb: s.total_mb,
        free_mb: s.free_mb,
        upload_priority: s.upload_priority,
        store_path_count: s.store_path_count,
        subdir_count_per_path: s.subdir_count_per_path,
        current_write_path: s.current_write_path,
        storage_port: s.storage_port,
        storage_http_port: 0,
        stat: s.stat,
        if_trunk_server: s.if_trunk_server,
    }
}

fn storage_stat(cfg: &Config, s: &Storage) -> StorageStat {
    let total = s.total_mb();
    StorageStat {
        status: s.status,
        // rw_mode: both (4|2); per-storage modes need storage_ids.conf, which we do not have.
        rw_mode: 6,
        id: s.id.clone(),
        ip_addr: s.ip.clone(),
        src_id: String::new(),
        version: s.version.clone(),
        join_time: s.join_time,
        up_time: s.up_time,
        total_mb: total,
        free_mb: s.free_mb(),
        reserved_mb: cfg.reserve.mb_for(total),
        upload_priority: s.upload_priority,
        store_path_count: i64::from(s.store_path_count),
        subdir_count_per_path: i64::from(s.subdir_count_per_path),
        current_write_path: s.current_write_path as i64,
        storage_port: i64::from(s.port),
        stat: {
            let mut st = s.stat.clone();
            st.last_heart_beat_time = s.last_heart_beat_time;
            st
        },
        if_trunk_server: 0,
    }
}

/// Same keys, in the same order, as FastDFS 6.16 sends.
fn parameters(cfg: &Config) -> Parameters {
    let store_path = match cfg.store_path {
        StorePath::RoundRobin => "0",
        StorePath::LoadBalance => "2",
    };
    let kv = [
        ("use_storage_id", "0".to_owned()),
        ("id_type_in_filename", "ip".into()),
        ("trust_storage_server_id", "1".into()),
        ("response_ip_addr_size", cfg.ip_width.size().to_string()),
        ("storage_ip_changed_auto_adjust", "0".into()),
        (
            "storage_sync_file_max_delay",
            cfg.sync_file_max_delay.to_string(),
        ),
        ("store_path", store_path.into()),
        ("reserved_storage_space", cfg.reserve_text.clone()),
        ("use_trunk_file", "0".into()),
        ("slot_min_size", "256".into()),
        ("slot_max_size", "1048576".into()),
        ("trunk_alloc_alignment_size", "256".into()),
        ("trunk_file_size", "67108864".into()),
        ("trunk_create_file_advance", "0".into()),
        ("trunk_create_file_time_base", "02:00".into()),
        ("trunk_create_file_interval", "86400".into()),
        ("trunk_create_file_space_threshold", "0".into()),
        ("trunk_init_check_occupying", "0".into()),
        ("trunk_init_reload_from_binlog", "0".into()),
        ("trunk_free_space_merge", "0".into()),
        ("delete_unused_trunk_files", "0".into()),
        ("trunk_compress_binlog_min_interval", "0".into()),
        ("trunk_compress_binlog_interval", "0".into()),
        ("trunk_compress_binlog_time_base", "03:00".into()),
        ("trunk_binlog_max_backups", "0".into()),
        ("store_slave_file_use_link", "0".into()),
    ];
    Parameters(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

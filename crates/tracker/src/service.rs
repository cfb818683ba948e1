//! One request frame in, one action out. Every body is decoded and encoded with `fdfs-proto`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use fdfs_proto::common::{Empty, FileRef, GroupName};
use fdfs_proto::frame::{packet, Frame};
use fdfs_proto::status::{EACCES, EINVAL, ENOENT};
use fdfs_proto::tracker::{
    Beat, ChangeSet, Changes, DiskUsage, FetchTargets, JoinRequest, JoinResponse, ListStorages,
    StorageBrief, StorageStat, StorageStats, StorageStatsV5, StoreTarget, StoreTargets,
};
use fdfs_proto::{cmd, Body};
use tokio::sync::Notify;

use crate::cluster::{status, Cluster, JoinInfo, MemberKey, Storage};
use crate::config::{Config, ListLayout};
use crate::listing::{group_stat, groups_body, parameters, storage_stat, storage_v5};
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
            // Same layout as 92's request (group + unpadded id), with the id required.
            let req = ListStorages::decode(body).map_err(bad)?;
            let id = req.storage_id.filter(|id| !id.is_empty()).ok_or(EINVAL)?;
            {
                let mut c = sh.lock();
                c.delete_storage(&req.group, &id)?;
                crate::sync_state::forget(&mut c, &req.group, &id);
            }
            tracing::info!(peer = %conn.peer, group = %req.group, %id, "admin: storage deleted");
            sh.dirty.notify_one();
            Ok(ok(Vec::new()))
        }
        cmd::SERVER_DELETE_GROUP => {
            let g = GroupName::decode(body).map_err(bad)?;
            sh.lock().delete_group(&g.group)?;
            tracing::info!(peer = %conn.peer, group = %g.group, "admin: group deleted");
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

#[cfg(test)]
mod tests {
    use fdfs_proto::frame::{decode_frame, Header, Limits, Progress};
    use fdfs_proto::IpWidth;

    use super::*;

    fn send(sh: &Shared, conn: &mut Conn, c: u8, body: &[u8]) -> (u8, Vec<u8>) {
        let f = Frame {
            header: Header::request(c, body.len() as u64),
            body,
        };
        let Action::Reply(out) = handle(sh, conn, f) else {
            panic!("no reply")
        };
        match decode_frame(&out, &Limits::TRACKER) {
            Ok(Progress::Complete(r)) => (r.header.status, r.body.to_vec()),
            other => panic!("{other:?}"),
        }
    }

    fn join(sh: &Shared, id: u64, port: u16) -> Conn {
        let mut conn = Conn {
            id,
            peer: "127.0.0.1:4000".parse().unwrap(),
            member: None,
            seen_version: 0,
        };
        let j = JoinRequest {
            group: "group1".into(),
            storage_port: port,
            store_path_count: 1,
            subdir_count_per_path: 256,
            version: "6.16.1".into(),
            status: -1,
            trackers: vec!["127.0.0.1:22122".into()],
            ..Default::default()
        };
        let (st, body) = send(sh, &mut conn, cmd::STORAGE_JOIN, &j.to_bytes(IpWidth::V4));
        assert_eq!(st, 0);
        assert_eq!(
            JoinResponse::decode(&body).unwrap().my_status,
            status::ONLINE
        );
        conn
    }

    #[test]
    fn beat_replies_carry_the_member_list_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::parse_str(&format!("base_path = {:?}", dir.path())).unwrap();
        let sh = Shared::new(cfg, Cluster::default(), Store::open(dir.path()).unwrap());
        let mut a = join(&sh, 1, 23000);
        let members = |body: &[u8]| Changes::decode(body).unwrap().0.and_then(|c| c.members);
        let (_, b) = send(&sh, &mut a, cmd::STORAGE_BEAT, &[]);
        let m = members(&b).expect("first beat: full list");
        assert_eq!(
            (m.len(), m[0].port, m[0].status),
            (1, 23000, status::ONLINE)
        );
        let (_, b) = send(&sh, &mut a, cmd::STORAGE_BEAT, &[]);
        assert!(b.is_empty(), "nothing changed");
        let _b = join(&sh, 2, 23001);
        let usage = DiskUsage(vec![fdfs_proto::tracker::PathUsage {
            total_mb: 100,
            free_mb: 50,
        }]);
        let (st, b) = send(
            &sh,
            &mut a,
            cmd::STORAGE_REPORT_DISK_USAGE,
            &usage.to_bytes(IpWidth::V4),
        );
        assert_eq!(st, 0);
        let m = members(&b).expect("a member joined and this one became ACTIVE");
        assert_eq!(m.len(), 2);
        assert!(m
            .iter()
            .any(|s| s.port == 23000 && s.status == status::ACTIVE));
    }
}

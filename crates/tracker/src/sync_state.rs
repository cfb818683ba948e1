//! Replication bookkeeping on the tracker: who holds whose files (89 SYNC_REPORT), the end of
//! a member's initial copy (88 SYNC_NOTIFY), and forgetting a deleted member's pairs (93).
//!
//! Storages report as *sources*: entry `{D, t}` in a report from S means "D holds every file
//! S created before t" (see `fdfs_storage::sync::report`). [`Group::synced`] keeps those pairs;
//! the fetch queries (`select::fetch`) use them to answer only members that hold the file.

use fdfs_proto::status::{EINVAL, ENOENT};
use fdfs_proto::tracker::{SyncNotify, SyncReport};
use fdfs_proto::Body;

use crate::cluster::{status, Cluster, Group, MemberKey};

/// `synced[(source id, destination id)]`: unix time below which the destination holds all of
/// the source's files.
pub type SyncedPairs = std::collections::BTreeMap<(String, String), i64>;

/// 89 from the storage `key`.
pub fn report(c: &mut Cluster, key: &MemberKey, body: &[u8]) -> Result<(), u8> {
    let r = SyncReport::decode(body).map_err(|_| EINVAL)?;
    let g = c.groups.get_mut(&key.group).ok_or(ENOENT)?;
    let src = g.storages.get(key.index).ok_or(ENOENT)?.id.clone();
    for e in r.0 {
        if e.storage_id == src || !g.members().any(|s| s.id == e.storage_id) {
            continue;
        }
        let v = g.synced.entry((src.clone(), e.storage_id)).or_insert(0);
        // Monotonic: a stale report from an older connection must not move it back.
        *v = (*v).max(i64::from(e.timestamp));
    }
    refresh_last_synced(g);
    Ok(())
}

/// What listings show as `last_synced_timestamp`: the oldest of a member's per-source times
/// (FastDFS's rule for `store_server = round_robin`), 0 while any source has not reported.
fn refresh_last_synced(g: &mut Group) {
    let ids: Vec<String> = g.members().map(|s| s.id.clone()).collect();
    for s in g.storages.iter_mut() {
        let oldest = ids
            .iter()
            .filter(|src| **src != s.id)
            .map(|src| {
                g.synced
                    .get(&(src.clone(), s.id.clone()))
                    .copied()
                    .unwrap_or(0)
            })
            .min()
            .unwrap_or(0);
        s.stat.last_synced_timestamp = oldest;
    }
}

/// 88: the storage finished its initial copy (or needed none): it may become ONLINE, and
/// the next beat makes it ACTIVE.
pub fn notify(c: &mut Cluster, key: &MemberKey, body: &[u8]) -> Result<(), u8> {
    SyncNotify::decode(body).map_err(|_| EINVAL)?;
    let g = c.groups.get_mut(&key.group).ok_or(ENOENT)?;
    let s = g.storages.get_mut(key.index).ok_or(ENOENT)?;
    if matches!(
        s.status,
        status::INIT | status::WAIT_SYNC | status::SYNCING | status::RECOVERY
    ) {
        s.status = status::ONLINE;
        tracing::info!(group = %key.group, id = %s.id, port = s.port, "initial copy done: storage ONLINE");
        g.version += 1;
        c.dirty = true;
    }
    Ok(())
}

/// After 93: the deleted member's sync pairs are gone with it.
pub fn forget(c: &mut Cluster, group: &str, id: &str) {
    if let Some(g) = c.groups.get_mut(group) {
        g.synced.retain(|(a, b), _| a != id && b != id);
        refresh_last_synced(g);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use fdfs_proto::tracker::{PathUsage, SyncedUntil};
    use fdfs_proto::IpWidth;

    use super::*;
    use crate::cluster::JoinInfo;

    fn join(c: &mut Cluster, id: &str, port: u16) -> MemberKey {
        let j = JoinInfo {
            group: "g1".into(),
            storage_id: id.into(),
            ip: "127.0.0.1".into(),
            port,
            version: "6.16.1".into(),
            join_time: 1,
            up_time: 1,
            upload_priority: 10,
            store_path_count: 1,
            subdir_count_per_path: 4,
            reported_status: 1,
        };
        c.join(&j, u64::from(port), Instant::now()).unwrap()
    }

    #[test]
    fn notify_report_and_forget() {
        let mut c = Cluster::default();
        let a = join(&mut c, "100001", 1);
        let b = join(&mut c, "100002", 2);
        assert_eq!(c.storage(&a).unwrap().status, status::WAIT_SYNC);
        let n = SyncNotify::default().to_bytes(IpWidth::V4);
        notify(&mut c, &a, &n).unwrap();
        assert_eq!(c.storage(&a).unwrap().status, status::ONLINE);
        let p = [PathUsage {
            total_mb: 10,
            free_mb: 5,
        }];
        c.disk_usage(&a, &p, Instant::now()).unwrap();
        assert_eq!(c.storage(&a).unwrap().status, status::ACTIVE);
        assert_eq!(notify(&mut c, &a, b"short"), Err(EINVAL));

        let rep = |id: &str, t| {
            SyncReport(vec![SyncedUntil {
                storage_id: id.into(),
                timestamp: t,
            }])
            .to_bytes(IpWidth::V4)
        };
        report(&mut c, &a, &rep("100002", 50)).unwrap();
        report(&mut c, &a, &rep("100002", 40)).unwrap();
        report(&mut c, &a, &rep("nobody", 99)).unwrap();
        let g = &c.groups["g1"];
        assert_eq!(g.synced[&("100001".into(), "100002".into())], 50);
        assert_eq!(g.synced.len(), 1);
        assert_eq!(c.storage(&b).unwrap().stat.last_synced_timestamp, 50);

        c.disconnected(&b, 2);
        c.delete_storage("g1", "100002").unwrap();
        forget(&mut c, "g1", "100002");
        assert!(c.groups["g1"].synced.is_empty());
    }

    /// 102/105 answer a peer only once the file's source reported it synced past the
    /// file's time; the source itself always qualifies.
    #[test]
    fn fetch_uses_pairs() {
        use fdfs_proto::fileid::{encode_raw, masked_size, SizeKind, Source};

        use crate::select::{fetch, FetchKind};
        let cfg = crate::config::Config::parse_str("base_path = \"/tmp/x\"").unwrap();
        let mut c = Cluster::default();
        let keys: Vec<MemberKey> = [("100001", 1), ("100002", 2), ("100003", 3)]
            .iter()
            .map(|(id, port)| {
                let k = join(&mut c, id, *port);
                notify(&mut c, &k, &SyncNotify::default().to_bytes(IpWidth::V4)).unwrap();
                let p = [PathUsage {
                    total_mb: 10,
                    free_mb: 5,
                }];
                c.disk_usage(&k, &p, Instant::now()).unwrap();
                k
            })
            .collect();
        let now = 1_700_000_000i64;
        let raw = encode_raw(
            Source::ServerId(100002),
            now as i32 - 3,
            masked_size(SizeKind::Normal, 5, 1),
            7,
        );
        let b64 = fdfs_proto::fileid::base64::encode20(&raw);
        let name = format!("M00/00/00/{}123.txt", std::str::from_utf8(&b64).unwrap());
        let ports = |c: &mut Cluster| {
            let mut v: Vec<u16> = fetch(c, &cfg, "g1", &name, FetchKind::All, now)
                .unwrap()
                .iter()
                .map(|s| s.port)
                .collect();
            v.sort();
            v
        };
        assert_eq!(ports(&mut c), [2], "only the source before any report");
        for _ in 0..5 {
            let one = fetch(&mut c, &cfg, "g1", &name, FetchKind::One, now).unwrap();
            assert_eq!(one[0].port, 2);
        }
        let rep = |id: &str, t: u32| {
            SyncReport(vec![SyncedUntil {
                storage_id: id.into(),
                timestamp: t,
            }])
            .to_bytes(IpWidth::V4)
        };
        // A report from a non-source, or one not past the file's time, changes nothing.
        report(&mut c, &keys[0], &rep("100003", now as u32)).unwrap();
        report(&mut c, &keys[1], &rep("100001", now as u32 - 3)).unwrap();
        assert_eq!(ports(&mut c), [2]);
        report(&mut c, &keys[1], &rep("100001", now as u32 - 2)).unwrap();
        assert_eq!(ports(&mut c), [1, 2]);
        report(&mut c, &keys[1], &rep("100003", now as u32)).unwrap();
        assert_eq!(ports(&mut c), [1, 2, 3]);
    }
}

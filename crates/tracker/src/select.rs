//! Target selection: where to upload (101/104/106/107) and where to read or update
//! (102/103/105). Spec §5.3 and §5.4; deviations are documented on each function.

use fdfs_proto::common::ServerAddr;
use fdfs_proto::fileid::{DecodedFileId, FileType, Source};
use fdfs_proto::status::{EINVAL, ENOENT, ENOSPC};

use crate::cluster::{Cluster, Group, Storage};
use crate::config::{Config, DownloadServer, StoreLookup, StorePath, StoreServer};

/// An upload target: group, storages (one for 101/104, all candidates for 106/107), path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePick {
    pub group: String,
    pub servers: Vec<ServerAddr>,
    pub store_path_index: u8,
}

fn addr(s: &Storage) -> ServerAddr {
    ServerAddr {
        ip: s.ip.clone(),
        port: s.port,
    }
}

fn has_space(s: &Storage, cfg: &Config) -> bool {
    let n = s.paths.len();
    s.paths.iter().any(|&(t, f)| cfg.reserve.path_ok(t, f, n))
}

/// Why a group cannot take an upload: ENOENT (nobody writable) or ENOSPC (reserve reached).
fn group_block(g: &Group, cfg: &Config) -> Option<u8> {
    let mut active = g.active().peekable();
    if active.peek().is_none() {
        return Some(ENOENT);
    }
    if !active.any(|(_, s)| has_space(s, cfg)) {
        return Some(ENOSPC);
    }
    None
}

/// Smallest free space among writable members: what FastDFS reports as the group's free MB.
pub fn group_free_mb(g: &Group) -> i64 {
    g.active().map(|(_, s)| s.free_mb()).min().unwrap_or(0)
}

/// Query store. `named` is the group of 104/107; `all` selects the 106/107 form.
pub fn store(
    c: &mut Cluster,
    cfg: &Config,
    named: Option<&str>,
    all: bool,
) -> Result<StorePick, u8> {
    let name = match named {
        Some(n) => n.to_owned(),
        None => choose_group(c, cfg)?,
    };
    let g = c.groups.get_mut(&name).ok_or(ENOENT)?;
    if let Some(st) = group_block(g, cfg) {
        return Err(st);
    }
    let candidates: Vec<usize> = g
        .active()
        .filter(|(_, s)| has_space(s, cfg))
        .map(|(i, _)| i)
        .collect();
    let chosen = match cfg.store_server {
        StoreServer::RoundRobin => {
            let cur = g.current_write_server;
            let pick = candidates
                .iter()
                .copied()
                .find(|&i| i >= cur)
                .or(candidates.first().copied())
                .ok_or(ENOENT)?;
            g.current_write_server = pick + 1;
            pick
        }
        StoreServer::FirstById => candidates
            .iter()
            .copied()
            .min_by(|&a, &b| g.storages[a].id.cmp(&g.storages[b].id))
            .ok_or(ENOENT)?,
        StoreServer::Priority => candidates
            .iter()
            .copied()
            .min_by(|&a, &b| {
                let (x, y) = (&g.storages[a], &g.storages[b]);
                x.upload_priority
                    .cmp(&y.upload_priority)
                    .then(x.id.cmp(&y.id))
            })
            .ok_or(ENOENT)?,
    };
    let path = choose_path(&mut g.storages[chosen], cfg).ok_or(ENOSPC)?;
    let servers = if all {
        let mut v: Vec<&Storage> = candidates.iter().map(|&i| &g.storages[i]).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id).then(a.port.cmp(&b.port)));
        v.into_iter().map(addr).collect()
    } else {
        vec![addr(&g.storages[chosen])]
    };
    Ok(StorePick {
        group: name,
        servers,
        store_path_index: path,
    })
}

fn choose_group(c: &mut Cluster, cfg: &Config) -> Result<String, u8> {
    if c.groups.is_empty() {
        return Err(ENOENT);
    }
    if cfg.store_lookup == StoreLookup::SpecifiedGroup {
        return cfg.store_group.clone().ok_or(ENOENT);
    }
    let names: Vec<String> = c.groups.keys().cloned().collect();
    let n = names.len();
    // ENOSPC wins over ENOENT: "there are storages, but they are full" is the useful answer.
    let mut worst = ENOENT;
    if cfg.store_lookup == StoreLookup::LoadBalance {
        let best = names
            .iter()
            .filter_map(|name| {
                let g = &c.groups[name];
                match group_block(g, cfg) {
                    None => Some((group_free_mb(g), name)),
                    Some(st) => {
                        if st == ENOSPC {
                            worst = ENOSPC;
                        }
                        None
                    }
                }
            })
            // Most free wins; on ties the first group in name order.
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)));
        return best.map(|(_, name)| name.clone()).ok_or(worst);
    }
    for i in 0..n {
        let idx = (c.current_write_group + i) % n;
        match group_block(&c.groups[&names[idx]], cfg) {
            None => {
                c.current_write_group = (idx + 1) % n;
                return Ok(names[idx].clone());
            }
            Some(ENOSPC) => worst = ENOSPC,
            Some(_) => {}
        }
    }
    Err(worst)
}

fn choose_path(s: &mut Storage, cfg: &Config) -> Option<u8> {
    let n = s.paths.len();
    let ok = |p: &(i64, i64)| cfg.reserve.path_ok(p.0, p.1, n);
    let idx = match cfg.store_path {
        StorePath::RoundRobin => {
            let start = s.current_write_path % n.max(1);
            let i = (0..n).map(|k| (start + k) % n).find(|&i| ok(&s.paths[i]))?;
            s.current_write_path = (i + 1) % n;
            i
        }
        StorePath::LoadBalance => {
            let (i, _) = s
                .paths
                .iter()
                .enumerate()
                .filter(|(_, p)| ok(p))
                // Most free wins; on ties the lowest index.
                .max_by(|a, b| a.1 .1.cmp(&b.1 .1).then(b.0.cmp(&a.0)))?;
            i
        }
    };
    u8::try_from(idx).ok()
}

/// Which fetch query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchKind {
    /// 102: one storage that has the file.
    One,
    /// 103: the storage to modify on (the source when it is up).
    Update,
    /// 105: every storage that has the file.
    All,
}

/// Query fetch / update. Readable = ACTIVE. A storage "has" a normal file when it is the
/// source, or the file is older than `storage_sync_file_max_delay`, or the source reported
/// (89) that this storage holds its files up to past the file's timestamp (spec §5.4, with
/// per source/destination pairs instead of one timestamp per storage; when several members
/// share the source's IP, all of them must have synced it). Deviation: when no member
/// qualifies, any ACTIVE member is returned (FastDFS returns its current write server), since
/// a possibly-unsynced replica is more useful to a client than ENOENT.
pub fn fetch(
    c: &mut Cluster,
    cfg: &Config,
    group: &str,
    name: &str,
    kind: FetchKind,
    unix_now: i64,
) -> Result<Vec<ServerAddr>, u8> {
    let g = c.groups.get_mut(group).ok_or(ENOENT)?;
    let id = DecodedFileId::from_name_lenient(name.as_bytes()).ok_or(EINVAL)?;
    let is_source = |s: &Storage| match id.source {
        Source::Ipv4(ip) => s.ip == ip.to_string(),
        Source::ServerId(n) => s.id == n.to_string(),
    };
    let active: Vec<usize> = g.active().map(|(i, _)| i).collect();
    if active.is_empty() {
        return Err(ENOENT);
    }
    let source = active.iter().copied().find(|&i| is_source(&g.storages[i]));
    let source_only = kind == FetchKind::Update
        || cfg.download_server == DownloadServer::SourceFirst
        || matches!(id.file_type(), FileType::Appender | FileType::Slave);
    if let (true, Some(i)) = (source_only, source) {
        return Ok(vec![addr(&g.storages[i])]);
    }
    let t = i64::from(id.create_timestamp);
    // Members that may have created the file (several when storages share an IP).
    let sources: Vec<String> = g
        .members()
        .filter(|s| is_source(s))
        .map(|s| s.id.clone())
        .collect();
    let pairs = &g.synced;
    // A member holds the file if every other possible source has synced it past `t`.
    let synced = |s: &Storage| {
        t < unix_now - cfg.sync_file_max_delay
            || sources.iter().filter(|src| **src != s.id).all(|src| {
                let last = pairs
                    .get(&(src.clone(), s.id.clone()))
                    .copied()
                    .unwrap_or(0);
                last > t || (last + 1 >= t && unix_now - t > cfg.sync_file_max_time)
            })
    };
    let mut holders: Vec<usize> = active
        .iter()
        .copied()
        .filter(|&i| synced(&g.storages[i]))
        .collect();
    if holders.is_empty() {
        holders = active;
    }
    if kind == FetchKind::All {
        return Ok(holders.iter().map(|&i| addr(&g.storages[i])).collect());
    }
    let cur = g.current_read_server;
    let pick = holders
        .iter()
        .copied()
        .find(|&i| i >= cur)
        .unwrap_or(holders[0]);
    g.current_read_server = pick + 1;
    Ok(vec![addr(&g.storages[pick])])
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use fdfs_proto::fileid::{encode_raw, masked_size, SizeKind};
    use fdfs_proto::tracker::PathUsage;

    use super::*;
    use crate::cluster::{status, JoinInfo};

    fn cfg(extra: &str) -> Config {
        Config::parse_str(&format!("base_path = \"/tmp/x\"\n{extra}")).unwrap()
    }

    fn add(c: &mut Cluster, group: &str, ip: &str, port: u16, free: &[i64]) {
        let j = JoinInfo {
            group: group.into(),
            storage_id: String::new(),
            ip: ip.into(),
            port,
            version: "6.16.1".into(),
            join_time: 1,
            up_time: 1,
            upload_priority: 10,
            store_path_count: free.len() as u16,
            subdir_count_per_path: 256,
            reported_status: 255,
        };
        let k = c.join(&j, u64::from(port), Instant::now()).unwrap();
        let p: Vec<_> = free
            .iter()
            .map(|&f| PathUsage {
                total_mb: 1000,
                free_mb: f,
            })
            .collect();
        c.disk_usage(&k, &p, Instant::now()).unwrap();
        assert_eq!(c.storage(&k).unwrap().status, status::ACTIVE);
    }

    #[test]
    fn round_robin_groups_and_servers() {
        let cfg = cfg("store_lookup = \"round_robin\"");
        let mut c = Cluster::default();
        add(&mut c, "g1", "10.0.0.1", 1, &[500]);
        add(&mut c, "g2", "10.0.0.2", 2, &[500]);
        add(&mut c, "g2", "10.0.0.3", 3, &[500]);
        let picks: Vec<_> = (0..4)
            .map(|_| store(&mut c, &cfg, None, false).unwrap())
            .collect();
        assert_eq!(picks[0].group, "g1");
        assert_eq!(picks[1].group, "g2");
        assert_eq!(picks[2].group, "g1");
        assert_ne!(
            picks[1].servers, picks[3].servers,
            "servers rotate inside g2"
        );
        let all = store(&mut c, &cfg, Some("g2"), true).unwrap();
        assert_eq!(all.servers.len(), 2);
        assert_eq!(store(&mut c, &cfg, Some("nope"), false), Err(ENOENT));
    }

    #[test]
    fn reserve_gives_enospc_and_paths_skip_full_ones() {
        let mut c = Cluster::default();
        add(&mut c, "g1", "10.0.0.1", 1, &[50, 900]);
        let full = cfg("reserved_storage_space = \"10%\"");
        let p = store(&mut c, &full, None, false).unwrap();
        assert_eq!(p.store_path_index, 1, "path 0 is below 10%");
        assert_eq!(
            store(&mut c, &full, None, false).unwrap().store_path_index,
            1
        );
        let huge = cfg("reserved_storage_space = \"95%\"");
        assert_eq!(store(&mut c, &huge, None, false), Err(ENOSPC));
        assert_eq!(store(&mut c, &huge, Some("g1"), false), Err(ENOSPC));
        let lb = cfg("store_path = \"load_balance\"\nreserved_storage_space = \"1%\"");
        assert_eq!(store(&mut c, &lb, None, false).unwrap().store_path_index, 1);
    }

    #[test]
    fn load_balance_and_specified_group() {
        let mut c = Cluster::default();
        add(&mut c, "g1", "10.0.0.1", 1, &[300]);
        add(&mut c, "g2", "10.0.0.2", 2, &[800]);
        let lb = cfg("store_lookup = \"load_balance\"");
        assert_eq!(store(&mut c, &lb, None, false).unwrap().group, "g2");
        let sg = cfg("store_lookup = \"specified_group\"\nstore_group = \"g1\"");
        assert_eq!(store(&mut c, &sg, None, false).unwrap().group, "g1");
        assert_eq!(Cluster::default().groups.len(), 0);
        assert_eq!(
            store(&mut Cluster::default(), &lb, None, false),
            Err(ENOENT)
        );
    }

    fn name_from(ip: [u8; 4], ts: i32) -> String {
        let raw = encode_raw(
            Source::Ipv4(ip.into()),
            ts,
            masked_size(SizeKind::Normal, 5, 1),
            7,
        );
        let b64 = fdfs_proto::fileid::base64::encode20(&raw);
        format!("M00/00/00/{}123.txt", std::str::from_utf8(&b64).unwrap())
    }

    #[test]
    fn fetch_prefers_source_for_fresh_files() {
        let cfg = cfg("");
        let mut c = Cluster::default();
        add(&mut c, "g1", "10.0.0.1", 1, &[500]);
        add(&mut c, "g1", "10.0.0.2", 2, &[500]);
        let now = 1_700_000_000;
        let fresh = name_from([10, 0, 0, 2], now as i32 - 5);
        for _ in 0..3 {
            let s = fetch(&mut c, &cfg, "g1", &fresh, FetchKind::One, now).unwrap();
            assert_eq!(s[0].ip, "10.0.0.2");
        }
        let old = name_from([10, 0, 0, 2], now as i32 - 100_000);
        let a = fetch(&mut c, &cfg, "g1", &old, FetchKind::All, now).unwrap();
        assert_eq!(a.len(), 2);
        let u = fetch(&mut c, &cfg, "g1", &old, FetchKind::Update, now).unwrap();
        assert_eq!(u[0].ip, "10.0.0.2");
        assert_eq!(
            fetch(&mut c, &cfg, "g9", &old, FetchKind::One, now),
            Err(ENOENT)
        );
        assert_eq!(
            fetch(&mut c, &cfg, "g1", "M00/00/00/short", FetchKind::One, now),
            Err(EINVAL)
        );
    }
}

//! Listing records (90/91/92) in both layouts, and the parameters reply (75).

use fdfs_proto::tracker::{
    GroupStat, GroupStatV5, GroupStats, GroupStatsV5, Parameters, StorageStat, StorageStatV5,
};
use fdfs_proto::Body;

use crate::cluster::{Group, Storage};
use crate::config::{Config, ListLayout, StorePath};
use crate::select;

pub fn group_stat(cfg: &Config, g: &Group) -> GroupStat {
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
pub fn groups_body(cfg: &Config, v: Vec<GroupStat>) -> Vec<u8> {
    match cfg.list_layout {
        ListLayout::Current => GroupStats(v).to_bytes(cfg.ip_width),
        ListLayout::EraA => {
            GroupStatsV5(v.into_iter().map(group_v5).collect()).to_bytes(cfg.ip_width)
        }
    }
}

pub fn group_v5(g: GroupStat) -> GroupStatV5 {
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

pub fn storage_v5(s: StorageStat) -> StorageStatV5 {
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

pub fn storage_stat(cfg: &Config, s: &Storage) -> StorageStat {
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
pub fn parameters(cfg: &Config) -> Parameters {
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

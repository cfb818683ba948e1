//! `fdfs monitor`: groups (91) and their storages (92), as text like `fdfs_monitor` or JSON.

use fdfs_client::FdfsClient;
use fdfs_proto::tracker::{GroupStat, StorageStat};
use serde_json::json;

use crate::info::utc;

/// Status captions as FastDFS prints them.
pub fn caption(s: u8) -> &'static str {
    match s {
        0 => "INIT",
        1 => "WAIT_SYNC",
        2 => "SYNCING",
        3 => "IP_CHANGED",
        4 => "DELETED",
        5 => "OFFLINE",
        6 => "ONLINE",
        7 => "ACTIVE",
        9 => "RECOVERY",
        _ => "UNKNOWN",
    }
}

pub async fn run(client: &FdfsClient, as_json: bool) -> Result<(), String> {
    let data = client
        .with_tracker(|t| {
            Box::pin(async move {
                let groups = t.list_groups().await?;
                let mut out = Vec::new();
                for g in groups {
                    let s = t.list_storages(&g.group, None).await?;
                    out.push((g, s));
                }
                Ok(out)
            })
        })
        .await
        .map_err(|e| format!("monitor: {e}"))?;
    if as_json {
        let groups: Vec<_> = data.iter().map(|(g, s)| group_json(g, s)).collect();
        let v = json!({ "trackers": client.trackers(), "groups": groups });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!("group count: {}", data.len());
    for (g, storages) in &data {
        println!("\nGroup: {}", g.group);
        println!("disk total space = {} MB", g.total_mb);
        println!("disk free space = {} MB", g.free_mb);
        println!("disk reserved space = {} MB", g.reserved_mb);
        println!("storage server count = {}", g.storage_count);
        println!("readable server count = {}", g.readable_server_count);
        println!("writable server count = {}", g.writable_server_count);
        println!("storage server port = {}", g.storage_port);
        println!("store path count = {}", g.store_path_count);
        println!("subdir count per path = {}", g.subdir_count_per_path);
        println!("current write server index = {}", g.current_write_server);
        for (i, s) in storages.iter().enumerate() {
            println!("\n\tStorage {}:", i + 1);
            println!("\t\tid = {}", s.id);
            println!(
                "\t\thost = {}:{}  {}",
                s.ip_addr,
                s.storage_port,
                caption(s.status)
            );
            println!("\t\tversion = {}", s.version);
            println!("\t\tjoin time = {}", utc(s.join_time));
            println!("\t\tup time = {}", utc(s.up_time));
            println!("\t\ttotal storage = {} MB", s.total_mb);
            println!("\t\tfree storage = {} MB", s.free_mb);
            println!("\t\tupload priority = {}", s.upload_priority);
            println!("\t\tstore_path_count = {}", s.store_path_count);
            println!("\t\tcurrent_write_path = {}", s.current_write_path);
            println!(
                "\t\tlast_heart_beat_time = {}",
                utc(s.stat.last_heart_beat_time)
            );
        }
    }
    Ok(())
}

fn group_json(g: &GroupStat, storages: &[StorageStat]) -> serde_json::Value {
    let s: Vec<_> = storages
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "ip": s.ip_addr, "port": s.storage_port,
                "status": caption(s.status), "status_code": s.status,
                "version": s.version, "join_time": s.join_time, "up_time": s.up_time,
                "total_mb": s.total_mb, "free_mb": s.free_mb, "reserved_mb": s.reserved_mb,
                "upload_priority": s.upload_priority, "store_path_count": s.store_path_count,
                "current_write_path": s.current_write_path,
                "last_heart_beat_time": s.stat.last_heart_beat_time,
                "counters": s.stat.counters().into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    json!({
        "group": g.group, "total_mb": g.total_mb, "free_mb": g.free_mb,
        "reserved_mb": g.reserved_mb, "storage_count": g.storage_count,
        "storage_port": g.storage_port, "readable_server_count": g.readable_server_count,
        "writable_server_count": g.writable_server_count,
        "current_write_server": g.current_write_server, "store_path_count": g.store_path_count,
        "subdir_count_per_path": g.subdir_count_per_path, "storages": s,
    })
}

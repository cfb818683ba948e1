//! `fdfs monitor`: groups (91) and their storages (92), as text like `fdfs_monitor` or JSON.

use std::time::Duration;

use fdfs_client::{FdfsClient, StorageClient, StorageOptions};
use fdfs_proto::storage::{SyncStatus, SYNC_STATUS};
use fdfs_proto::tracker::{GroupStat, StorageStat};
use fdfs_proto::Body;
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
    let mut repl = std::collections::HashMap::new();
    for (_, storages) in &data {
        for s in storages {
            let addr = format!("{}:{}", s.ip_addr, s.storage_port);
            if let Some(st) = sync_status(&addr).await {
                repl.insert(addr, st);
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if as_json {
        let groups: Vec<_> = data.iter().map(|(g, s)| group_json(g, s, &repl)).collect();
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
            let synced = s.stat.last_synced_timestamp;
            if synced > 0 {
                println!(
                    "\t\tlast_synced_timestamp = {} ({}s delay)",
                    utc(synced),
                    now - synced
                );
            }
            if let Some(r) = repl.get(&format!("{}:{}", s.ip_addr, s.storage_port)) {
                if r.recovering {
                    println!("\t\tinitial copy from the group: running");
                }
                for p in &r.peers {
                    println!(
                        "\t\tsync to {} ({}): lag {} records / {} s, synced until {}, sent {} records / {} bytes",
                        p.id,
                        p.addr,
                        p.lag_records,
                        p.lag_seconds,
                        if p.synced_until > 0 { utc(p.synced_until) } else { "-".into() },
                        p.records_sent,
                        p.bytes_sent
                    );
                }
            }
        }
    }
    Ok(())
}

/// Replication figures of one storage (fdfs-rs command 120); `None` if it does not answer
/// (down, or a stock FastDFS storage).
async fn sync_status(addr: &str) -> Option<SyncStatus> {
    let opts = StorageOptions {
        timeout: Duration::from_secs(2),
        max_response: 1 << 16,
    };
    let mut c = StorageClient::connect_with(addr, opts).await.ok()?;
    let pkt = fdfs_proto::frame::packet(SYNC_STATUS, 0, &[]);
    let (h, body) = c.raw(&pkt).await.ok()?;
    if h.status != 0 {
        return None;
    }
    SyncStatus::decode(&body).ok()
}

fn repl_json(r: &SyncStatus) -> serde_json::Value {
    let peers: Vec<_> = r
        .peers
        .iter()
        .map(|p| {
            json!({
                "id": p.id, "addr": p.addr, "synced_until": p.synced_until,
                "lag_records": p.lag_records, "lag_seconds": p.lag_seconds,
                "records_sent": p.records_sent, "bytes_sent": p.bytes_sent,
            })
        })
        .collect();
    json!({ "initial_copy_running": r.recovering, "peers": peers })
}

fn group_json(
    g: &GroupStat,
    storages: &[StorageStat],
    repl: &std::collections::HashMap<String, SyncStatus>,
) -> serde_json::Value {
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
                "last_synced_timestamp": s.stat.last_synced_timestamp,
                "replication": repl.get(&format!("{}:{}", s.ip_addr, s.storage_port)).map(repl_json),
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

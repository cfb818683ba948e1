//! `fdfs_monitor [CONF] [-h TRACKER] [list [GROUP [STORAGE_ID]] | delete GROUP [STORAGE_ID]]`:
//! the C tool's report, line for line (scripts grep it), from the tracker's lists (91, 92).

use std::fmt::Write as _;

use fdfs_client::{Error, TrackerClient};
use fdfs_proto::tracker::{GroupStat, StorageStat};

use super::{block_on, client_from, errno, strerror};
use crate::info::utc;
use crate::monitor::caption;

const DEFAULT_CONF: &str = "/etc/fdfs/client.conf";

fn usage(argv0: &str) {
    println!("\nUsage:\n  {argv0} [CONF] [-h TRACKER_HOST[:PORT]] [list [GROUP [STORAGE_ID]] | delete GROUP [STORAGE_ID]]\n");
    println!("  CONF defaults to {DEFAULT_CONF}; the tracker port defaults to 22122.\n");
}

pub fn run(argv0: &str, args: &[String]) -> i32 {
    if args.len() == 1 && args[0] == "-h" {
        usage(argv0);
        return 0;
    }
    let conf = args.first().map_or(DEFAULT_CONF, String::as_str);
    let mut rest = args.get(1..).unwrap_or_default().iter().map(String::as_str);
    let mut op = rest.next();
    let mut only = None;
    if let Some(h) = op.and_then(|o| o.strip_prefix("-h")) {
        let Some(t) = (if h.is_empty() { rest.next() } else { Some(h) }) else {
            usage(argv0);
            return 1;
        };
        only = Some(if t.contains(':') {
            t.to_owned()
        } else {
            format!("{t}:22122")
        });
        op = rest.next();
    }
    let operands: Vec<&str> = rest.collect();
    let client = match client_from(conf) {
        Ok(c) => c,
        Err(n) => return n,
    };
    let trackers = client.trackers().to_vec();
    let index = match &only {
        None => 0,
        Some(t) => match trackers.iter().position(|x| x == t) {
            Some(i) => i,
            None => {
                println!("tracker server: {t} not exists!");
                return 2;
            }
        },
    };
    println!(
        "tracker server count={}, current server index={index}",
        trackers.len()
    );
    let timeout = client.options().connect_timeout;
    let op = op.unwrap_or("list");
    let run = async {
        let mut last = None;
        for addr in trackers.iter().cycle().skip(index).take(trackers.len()) {
            match TrackerClient::connect(addr.as_str(), timeout).await {
                Ok(t) => {
                    println!("\ntracker server is {addr}\n");
                    return command(t, op, &operands, &trackers).await;
                }
                Err(e) => {
                    eprintln!("fdfs: tracker {addr}: {e}");
                    last = Some(e);
                }
            }
        }
        last.map_or(super::ECONNREFUSED, |e| errno(&e))
    };
    match op {
        "list" | "delete" => block_on(run).unwrap_or_else(|n| n),
        _ => {
            println!("Invalid command {op}\n");
            usage(argv0);
            1
        }
    }
}

async fn command(mut t: TrackerClient, op: &str, operands: &[&str], all: &[String]) -> i32 {
    if op == "delete" {
        let Some(group) = operands.first() else {
            println!("delete: GROUP missing");
            return 1;
        };
        return delete(group, operands.get(1).copied(), all).await;
    }
    let groups = match t.list_groups().await {
        Ok(g) => g,
        Err(e) => return failed("list groups", &e),
    };
    let (group, storage) = (operands.first().copied(), operands.get(1).copied());
    if group.is_none() {
        println!("group count: {}", groups.len());
    }
    for (i, g) in groups.iter().enumerate() {
        if group.is_some_and(|want| want != g.group) {
            continue;
        }
        let mut list = match t.list_storages(&g.group, None).await {
            Ok(l) => l,
            Err(e) => return failed(&format!("list storages of {}", g.group), &e),
        };
        if let Some(id) = storage {
            list.retain(|s| s.id == id);
        }
        if group.is_none() {
            println!("\nGroup {}:", i + 1);
        }
        super::out::text(&render_group(g, &list));
    }
    let _ = t.quit().await;
    0
}

fn failed(what: &str, e: &Error) -> i32 {
    let n = errno(e);
    eprintln!("fdfs: {what}: {e}");
    println!("{what} fail, error no: {n}, error info: {}", strerror(n));
    n
}

/// Sent to every tracker of the config, as the C client does (each keeps its own state).
async fn delete(group: &str, id: Option<&str>, all: &[String]) -> i32 {
    let mut result = 0;
    for addr in all {
        let t = TrackerClient::connect(addr.as_str(), std::time::Duration::from_secs(5)).await;
        let r = match (t, id) {
            (Err(e), _) => Err(e),
            (Ok(mut t), Some(id)) => t.delete_storage(group, id).await,
            (Ok(mut t), None) => t.delete_group(group).await,
        };
        if let Err(e) = r {
            eprintln!("fdfs: tracker {addr}: {e}");
            result = errno(&e);
        }
    }
    let what = match id {
        Some(id) => format!("delete storage server {group}::{id}"),
        None => format!("delete group: {group}"),
    };
    if result == 0 {
        println!("{what} success");
    } else {
        println!(
            "{what} fail, error no: {result}, error info: {}",
            strerror(result)
        );
    }
    result
}

/// `bytes_to_human_str` of libfastcommon: one decimal below 10 units, else rounded.
fn human_mb(mb: i64) -> String {
    let bytes = mb.max(0).saturating_mul(1 << 20);
    const UNITS: [(i64, &str); 6] = [
        (1 << 60, "E"),
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    let Some(&(unit, name)) = UNITS.iter().find(|(u, _)| bytes >= *u) else {
        return format!("{bytes}  B");
    };
    let (mut n, rem) = (bytes / unit, bytes % unit);
    let num = if n < 10 {
        let mut frac = (rem * 10 + unit / 2) / unit;
        if frac == 10 {
            n += 1;
            frac = 0;
        }
        if n < 10 {
            format!("{n}.{frac}")
        } else {
            n.to_string()
        }
    } else {
        if rem >= unit / 2 {
            n += 1;
        }
        n.to_string()
    };
    format!("{num} {name}B")
}

/// `seconds_to_human_str` of libfastcommon: "1 hour 2 minutes 5 seconds".
fn human_secs(s: i64) -> String {
    let s = s.max(0);
    let parts = [
        (s / 86400, "day"),
        (s % 86400 / 3600, "hour"),
        (s % 3600 / 60, "minute"),
        (s % 60, "second"),
    ];
    let Some(first) = parts.iter().position(|(n, _)| *n > 0) else {
        return "0 second".into();
    };
    let words: Vec<String> = parts[first..]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n} {u}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    words.join(" ")
}

fn rw_caption(m: u8) -> &'static str {
    match m {
        0 => "none (disabled)",
        4 => "readonly",
        2 => "writeonly",
        6 => "both (normal)",
        _ => "unknown",
    }
}

fn render_group(g: &GroupStat, list: &[StorageStat]) -> String {
    let mut o = String::new();
    let avail = (g.free_mb - g.reserved_mb).max(0);
    let _ = writeln!(o, "group name = {}", g.group);
    let _ = writeln!(o, "disk total space     = {:>7}", human_mb(g.total_mb));
    let _ = writeln!(o, "disk free space      = {:>7}", human_mb(g.free_mb));
    let _ = writeln!(o, "disk reserved space  = {:>7}", human_mb(g.reserved_mb));
    let _ = writeln!(o, "disk available space = {:>7}", human_mb(avail));
    let trunk = g.current_trunk_file_id >= 0;
    if trunk {
        let _ = writeln!(o, "trunk free space = {:>7}", human_mb(g.trunk_free_mb));
    }
    for (k, v) in [
        ("storage server count", g.storage_count),
        ("readable server count", g.readable_server_count),
        ("writable server count", g.writable_server_count),
        ("storage server port", g.storage_port),
        ("store path count", g.store_path_count),
        ("subdir count per path", g.subdir_count_per_path),
        ("current write server index", g.current_write_server),
    ] {
        let _ = writeln!(o, "{k} = {v}");
    }
    match list
        .iter()
        .find(|s| s.if_trunk_server != 0)
        .filter(|_| trunk)
    {
        Some(s) => {
            let _ = writeln!(o, "current trunk server = {} ({})", s.id, s.ip_addr);
            let _ = writeln!(o, "current trunk file id = {}\n", g.current_trunk_file_id);
        }
        None => o.push('\n'),
    }
    for (i, s) in list.iter().enumerate() {
        // Delay is measured against the newest source update of the other members.
        let newest = list
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, p)| p.stat.last_source_update)
            .max()
            .unwrap_or(0);
        let delay = match (newest, s.stat.last_synced_timestamp) {
            (0, _) => String::new(),
            (_, 0) => "(never synced)".into(),
            (n, t) => format!("({} delay)", human_secs(n - t)),
        };
        render_storage(&mut o, i + 1, s, &delay);
    }
    o
}

fn render_storage(o: &mut String, k: usize, s: &StorageStat, delay: &str) {
    let avail = (s.free_mb - s.reserved_mb).max(0);
    let up = if s.up_time != 0 {
        utc(s.up_time)
    } else {
        String::new()
    };
    let _ = writeln!(o, "\tStorage {k}:");
    let _ = writeln!(o, "\t\tid = {}", s.id);
    let _ = writeln!(
        o,
        "\t\thost = {}:{}  {}",
        s.ip_addr,
        s.storage_port,
        caption(s.status)
    );
    let _ = writeln!(o, "\t\tread write mode = {}", rw_caption(s.rw_mode));
    let _ = writeln!(o, "\t\tversion = {}", s.version);
    let _ = writeln!(o, "\t\tjoin time = {}", utc(s.join_time));
    let _ = writeln!(o, "\t\tup time = {up}");
    let _ = writeln!(o, "\t\tdisk total space     = {:>7}", human_mb(s.total_mb));
    let _ = writeln!(o, "\t\tdisk free space      = {:>7}", human_mb(s.free_mb));
    let _ = writeln!(
        o,
        "\t\tdisk reserved space  = {:>7}",
        human_mb(s.reserved_mb)
    );
    let _ = writeln!(o, "\t\tdisk available space = {:>7}", human_mb(avail));
    let _ = writeln!(o, "\t\tupload priority = {}", s.upload_priority);
    let _ = writeln!(o, "\t\tstore_path_count = {}", s.store_path_count);
    let _ = writeln!(o, "\t\tsubdir_count_per_path = {}", s.subdir_count_per_path);
    let _ = writeln!(o, "\t\tcurrent_write_path = {}", s.current_write_path);
    let _ = writeln!(o, "\t\tsource storage id = {}", s.src_id);
    let _ = writeln!(o, "\t\tif_trunk_server = {}", s.if_trunk_server);
    let st = &s.stat;
    let _ = writeln!(o, "\t\tconnection.alloc_count = {}", st.alloc_count);
    let _ = writeln!(o, "\t\tconnection.current_count = {}", st.current_count);
    let _ = writeln!(o, "\t\tconnection.max_count = {}", st.max_count);
    const TIMES: [&str; 4] = [
        "last_source_update",
        "last_sync_update",
        "last_synced_timestamp",
        "last_heart_beat_time",
    ];
    for (name, v) in st.counters() {
        if TIMES.contains(&name) {
            continue;
        }
        // The C tool's spelling, which scripts match.
        let name = if name == "total_download_bytes" {
            "stotal_download_bytes"
        } else {
            name
        };
        let _ = writeln!(o, "\t\t{name} = {v}");
    }
    let _ = writeln!(
        o,
        "\t\tlast_heart_beat_time = {}",
        utc(st.last_heart_beat_time)
    );
    let _ = writeln!(o, "\t\tlast_source_update = {}", utc(st.last_source_update));
    let _ = writeln!(o, "\t\tlast_sync_update = {}", utc(st.last_sync_update));
    let _ = writeln!(
        o,
        "\t\tlast_synced_timestamp = {} {delay}",
        utc(st.last_synced_timestamp)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_as_libfastcommon() {
        // From a C fdfs_monitor capture: 1024 MB reserved prints "1.0 GB".
        assert_eq!(human_mb(1024), "1.0 GB");
        assert_eq!(human_mb(258_048 + 300), "252 GB");
        assert_eq!(human_mb(0), "0  B");
        assert_eq!(human_mb(1), "1.0 MB");
        assert_eq!(human_mb(10 * 1024 - 1), "10 GB");
        assert_eq!(human_secs(0), "0 second");
        assert_eq!(human_secs(1), "1 second");
        assert_eq!(human_secs(3725), "1 hour 2 minutes 5 seconds");
        assert_eq!(human_secs(86400 + 5), "1 day 5 seconds");
    }
}

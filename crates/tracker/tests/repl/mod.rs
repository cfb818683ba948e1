//! Helpers for the replication tests: a group of storages with storage ids (so each is a
//! distinct file source on one host), tree snapshots, polling with generous deadlines.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fdfs_client::{split_file_id, MetaItem, Metadata};

use crate::common::{fdfs_cli, free_port, storaged, Proc};

/// Writes the config of storage `id` (numeric storage id) of group1, tuned for tests.
pub fn write_config(dir: &Path, port: u16, id: u32, trackers: &[String]) -> (PathBuf, PathBuf) {
    write_config_with(dir, port, id, trackers, "")
}

/// As [`write_config`], with extra top-level keys.
pub fn write_config_with(
    dir: &Path,
    port: u16,
    id: u32,
    trackers: &[String],
    extra: &str,
) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let log = dir.join("storage.log");
    let config = dir.join("storage.toml");
    let text = format!(
        "group_name = \"group1\"\nport = {port}\nbase_path = {dir:?}\nlog_file = {log:?}\n\
         log_level = \"info\"\nstorage_id = {id}\n\
         tracker_servers = {trackers:?}\nheart_beat_interval = 1\nstat_report_interval = 1\n\
         subdir_count_per_path = 4\nreserved_storage_space = \"0%\"\n{extra}\n\
         [replication]\nwait_ms = 20\nretry_min_ms = 50\nretry_max_ms = 1000\nreport_margin = 1\n"
    );
    std::fs::write(&config, text).unwrap();
    (config, log)
}

/// Starts storage `id` (numeric storage id) of group1 on `port`, replication tuned for tests.
pub fn storage_id_on(dir: &Path, port: u16, id: u32, trackers: &[String]) -> Proc {
    storage_id_with(dir, port, id, trackers, "")
}

pub fn storage_id_with(dir: &Path, port: u16, id: u32, trackers: &[String], extra: &str) -> Proc {
    let (config, log) = write_config_with(dir, port, id, trackers, extra);
    let child = std::process::Command::new(storaged())
        .arg("--config")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut p = Proc {
        child,
        port,
        dir: dir.to_owned(),
        config,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = p.child.try_wait() {
            panic!("storage exited with {st}: {}", p.log_text());
        }
        assert!(Instant::now() < deadline, "storage did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

pub fn storage_id(dir: &Path, id: u32, trackers: &[String]) -> Proc {
    storage_id_on(dir, free_port(), id, trackers)
}

/// Restarts a killed storage with the same config.
pub fn respawn(p: &mut Proc) {
    let child = std::process::Command::new(storaged())
        .arg("--config")
        .arg(&p.config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    p.child = child;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", p.port)).is_err() {
        assert!(Instant::now() < deadline, "storage did not listen again");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Relative path under `data/` → (content, mtime), for data files and `-m` sidecars;
/// our temp dir, binlogs, marks and state files are left out.
pub type Tree = BTreeMap<String, (Vec<u8>, i64)>;

pub fn tree(base: &Path) -> Tree {
    let mut out = Tree::new();
    let data = base.join("data");
    let mut stack = vec![data.clone()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(&data)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if p.is_dir() {
                if rel != ".tmp" && rel != "sync" {
                    stack.push(p);
                }
                continue;
            }
            // Only HH/HH/<name> files are content.
            if rel.matches('/').count() != 2 {
                continue;
            }
            // Files may vanish while we look (deletes in flight): skip them this round.
            let (Ok(md), Ok(bytes)) = (std::fs::metadata(&p), std::fs::read(&p)) else {
                continue;
            };
            // A sidecar's mtime is not part of the contract (GET_METADATA does not carry it).
            let mtime = if rel.ends_with("-m") {
                0
            } else {
                md.modified()
                    .unwrap()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64
            };
            out.insert(rel, (bytes, mtime));
        }
    }
    out
}

/// Polls until every base has the same tree satisfying `ok`, or panics with a diff summary.
pub fn wait_converged(bases: &[PathBuf], within: Duration, ok: impl Fn(&Tree) -> bool) -> Tree {
    let t0 = Instant::now();
    loop {
        let trees: Vec<Tree> = bases.iter().map(|b| tree(b)).collect();
        if trees.windows(2).all(|w| w[0] == w[1]) && ok(&trees[0]) {
            return trees.into_iter().next().unwrap();
        }
        if t0.elapsed() > within {
            let sizes: Vec<usize> = trees.iter().map(|t| t.len()).collect();
            let mut diff = Vec::new();
            for (i, t) in trees.iter().enumerate().skip(1) {
                for k in trees[0].keys().filter(|k| !t.contains_key(*k)).take(3) {
                    diff.push(format!("missing on {i}: {k}"));
                }
                for k in t.keys().filter(|k| !trees[0].contains_key(*k)).take(3) {
                    diff.push(format!("extra on {i}: {k}"));
                }
                for (k, v) in t
                    .iter()
                    .filter(|(k, v)| trees[0].get(*k).is_some_and(|w| w != *v))
                    .take(3)
                {
                    diff.push(format!(
                        "differs on {i}: {k} (mtime {} vs {})",
                        v.1, trees[0][k].1
                    ));
                }
            }
            panic!("no convergence within {within:?}: sizes {sizes:?}; {diff:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn binlog(base: &Path) -> String {
    let mut s = String::new();
    for i in 0..100 {
        match std::fs::read_to_string(base.join(format!("data/sync/binlog.{i:03}"))) {
            Ok(t) => s.push_str(&t),
            Err(_) => break,
        }
    }
    s
}

/// Rewrites the config of a storage whose directory was wiped, then starts it again.
pub fn respawn_with_config(p: &mut Proc, id: u32, trackers: &[String]) {
    write_config(&p.dir, p.port, id, trackers);
    respawn(p);
}

/// The machine's disk may be fuller than the default reserve allows; space is not under test.
pub const TRACKER_CONF: &str = "reserved_storage_space = \"0%\"";

pub fn meta(k: &str, v: &str) -> Metadata {
    Metadata(vec![MetaItem {
        name: k.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    }])
}
pub fn data(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}
pub fn rel(id: &str) -> String {
    split_file_id(id).unwrap().1[4..].to_owned()
}
/// Every name is applied at most once on each storage: own (C) or replicated (c).
pub fn assert_no_duplicate_creates(b: &str) {
    let mut seen = std::collections::HashSet::new();
    for l in b.lines() {
        let mut f = l.split(' ');
        let (_, op, name) = (f.next(), f.next(), f.next());
        if matches!(op, Some("C") | Some("c")) {
            assert!(seen.insert(name.unwrap().to_owned()), "applied twice: {l}");
        }
    }
}
pub fn fdfs(tracker: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(fdfs_cli())
        .arg("--tracker")
        .arg(tracker)
        .args(args)
        .output()
        .unwrap()
}

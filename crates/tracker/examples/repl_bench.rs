//! Replication figures with real release binaries: one tracker, two storages of one group.
//!
//! 1. Lag: uploads of `--size` bytes at `--rate` files/s for `--seconds`, spread over both
//!    storages by the tracker; for each, the time from the upload's acknowledgement until the
//!    other storage has it durably (its binlog records the replicated create, which is written
//!    after the file's commit). p50 / p99 / max.
//! 2. Sync rate: with storage 2 stopped, `--backlog` files are uploaded to storage 1; storage 2
//!    is restarted and the rate is measured between its first and last replicated create
//!    (connection back-off before the first one is not counted). Once with small files, once
//!    with 1 MiB files.
//! 3. Recovery: storage 2 is wiped and restarted; time from its start until it is ACTIVE
//!    again, i.e. it copied every file from storage 1 (initial copy, four downloads in flight).
//!
//! `cargo run --release -p fdfs-tracker --example repl_bench -- --bin-dir target/release`
//! Prints `key=value` lines for `scripts/bench/replication.sh`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use fdfs_client::{split_file_id, ClientOptions, FdfsClient};
use fdfs_proto::fileid::Source;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    bin_dir: PathBuf,
    #[arg(long, default_value_t = 50)]
    rate: u32,
    #[arg(long, default_value_t = 20)]
    seconds: u32,
    #[arg(long, default_value_t = 10 * 1024)]
    size: usize,
    #[arg(long, default_value_t = 3000)]
    backlog: usize,
    #[arg(long, default_value_t = 100)]
    big_backlog: usize,
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn spawn(bin: &Path, config: &Path) -> Result<Child, String> {
    Command::new(bin)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))
}

fn storage_conf(dir: &Path, port: u16, id: u32, tracker: u16) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let conf = dir.join("storage.toml");
    let text = format!(
        "group_name = \"group1\"\nport = {port}\nbase_path = {dir:?}\nlog_level = \"warn\"\n\
         storage_id = {id}\ntracker_servers = [\"127.0.0.1:{tracker}\"]\nheart_beat_interval = 1\n\
         stat_report_interval = 1\nreserved_storage_space = \"0%\"\n\
         [replication]\nretry_max_ms = 500\n"
    );
    std::fs::write(&conf, text).map_err(|e| e.to_string())?;
    Ok(conf)
}

/// Follows a storage's binlog and reports when each replicated create (`c`) appeared.
struct Tail {
    path: PathBuf,
    offset: usize,
}

impl Tail {
    fn poll(&mut self, seen: &mut HashMap<String, Instant>) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        let mut b = Vec::new();
        if f.seek(SeekFrom::Start(self.offset as u64)).is_err() || f.read_to_end(&mut b).is_err() {
            return;
        }
        let end = b.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        let now = Instant::now();
        for line in String::from_utf8_lossy(&b[..end]).lines() {
            let mut f = line.split(' ');
            if let (Some(_), Some("c"), Some(name)) = (f.next(), f.next(), f.next()) {
                seen.entry(name.to_owned()).or_insert(now);
            }
        }
        self.offset += end;
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn main() -> Result<(), String> {
    let a = Args::parse();
    let work = std::env::temp_dir().join(format!("repl-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let (tp, p1, p2) = (port(), port(), port());
    std::fs::create_dir_all(work.join("t")).map_err(|e| e.to_string())?;
    let tconf = work.join("tracker.toml");
    std::fs::write(
        &tconf,
        format!(
            "port = {tp}\nbase_path = {:?}\nlog_level = \"warn\"\nheart_beat_interval = 1\n\
             check_active_interval = 3\nreserved_storage_space = \"0%\"\n",
            work.join("t")
        ),
    )
    .map_err(|e| e.to_string())?;
    let (d1, d2) = (work.join("s1"), work.join("s2"));
    let c1 = storage_conf(&d1, p1, 100001, tp)?;
    let c2 = storage_conf(&d2, p2, 100002, tp)?;
    let mut procs = Procs(vec![spawn(&a.bin_dir.join("fdfs_trackerd"), &tconf)?]);
    std::thread::sleep(Duration::from_millis(300));
    procs.0.push(spawn(&a.bin_dir.join("fdfs_storaged"), &c1)?);
    procs.0.push(spawn(&a.bin_dir.join("fdfs_storaged"), &c2)?);
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let client = FdfsClient::new(
        vec![format!("127.0.0.1:{tp}")],
        ClientOptions {
            connect_timeout: Duration::from_secs(2),
            network_timeout: Duration::from_secs(30),
        },
    )
    .map_err(|e| e.to_string())?;
    let payload: Vec<u8> = (0..a.size).map(|i| (i * 7 + 3) as u8).collect();
    rt.block_on(async {
        // Both ACTIVE: an upload spread over both must succeed on each.
        let t0 = Instant::now();
        loop {
            let mut t = fdfs_client::TrackerClient::connect(format!("127.0.0.1:{tp}"), Duration::from_secs(2))
                .await
                .map_err(|e| e.to_string())?;
            // ENOENT until the first storage joined.
            let l = t.list_storages("group1", None).await.unwrap_or_default();
            if l.len() == 2 && l.iter().all(|s| s.status == 7) {
                break;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                return Err("storages did not become ACTIVE".to_string());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Phase 1: lag under steady load.
        let mut tails = [
            Tail { path: d1.join("data/sync/binlog.000"), offset: 0 },
            Tail { path: d2.join("data/sync/binlog.000"), offset: 0 },
        ];
        let mut seen = HashMap::new();
        let mut acked: Vec<(String, Instant)> = Vec::new();
        let every = Duration::from_secs_f64(1.0 / f64::from(a.rate));
        let n = a.rate * a.seconds;
        let start = Instant::now();
        for i in 0..n {
            let due = start + every * i;
            while Instant::now() < due {
                for t in &mut tails {
                    t.poll(&mut seen);
                }
                tokio::time::sleep(Duration::from_millis(2).min(due.saturating_duration_since(Instant::now()))).await;
            }
            let id = client.upload(&payload, "bin", None).await.map_err(|e| e.to_string())?;
            acked.push((split_file_id(&id).map_err(|e| e.to_string())?.1.to_owned(), Instant::now()));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.iter().any(|(n, _)| !seen.contains_key(n)) && Instant::now() < deadline {
            for t in &mut tails {
                t.poll(&mut seen);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut lags: Vec<f64> = acked
            .iter()
            .filter_map(|(n, t)| seen.get(n).map(|s| s.saturating_duration_since(*t).as_secs_f64()))
            .collect();
        let lost = acked.len() - lags.len();
        let on1 = acked.iter().filter(|(n, _)| matches!(
            fdfs_proto::fileid::parse_logical_name(n.as_bytes()).map(|d| d.decode().source),
            Ok(Source::ServerId(100001))
        )).count();
        println!(
            "lag_files={} lag_rate={} lag_size={} from_s1={} p50_s={:.3} p99_s={:.3} max_s={:.3} missing={lost}",
            acked.len(), a.rate, a.size, on1,
            pct(&mut lags, 0.5), pct(&mut lags, 0.99), pct(&mut lags, 1.0)
        );
        // Phase 2: backlog replay rate, small then big files.
        for (count, size) in [(a.backlog, a.size), (a.big_backlog, 1 << 20)] {
            let s2 = procs.0.pop().ok_or("no storage 2")?;
            drop(Procs(vec![s2]));
            let t0 = Instant::now();
            loop {
                let mut t = fdfs_client::TrackerClient::connect(format!("127.0.0.1:{tp}"), Duration::from_secs(2))
                    .await
                    .map_err(|e| e.to_string())?;
                let l = t.list_storages("group1", None).await.unwrap_or_default();
                if l.iter().filter(|s| s.status == 7).count() == 1 {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(30) {
                    return Err("storage 2 still ACTIVE".to_string());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let body: Vec<u8> = (0..size).map(|i| (i * 13 + count) as u8).collect();
            let mut names = Vec::new();
            for _ in 0..count {
                let id = client.upload(&body, "bin", None).await.map_err(|e| e.to_string())?;
                names.push(split_file_id(&id).map_err(|e| e.to_string())?.1.to_owned());
            }
            let mut tail = Tail { path: d2.join("data/sync/binlog.000"), offset: 0 };
            let mut before = HashMap::new();
            tail.poll(&mut before);
            procs.0.push(spawn(&a.bin_dir.join("fdfs_storaged"), &c2)?);
            let mut got = HashMap::new();
            let deadline = Instant::now() + Duration::from_secs(300);
            while names.iter().any(|n| !got.contains_key(n)) && Instant::now() < deadline {
                tail.poll(&mut got);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let times: Vec<Instant> = names.iter().filter_map(|n| got.get(n).copied()).collect();
            let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
                return Err("nothing replicated".to_string());
            };
            let secs = last.duration_since(*first).as_secs_f64().max(1e-3);
            let files = times.len() as f64 - 1.0;
            println!(
                "backlog_files={count} backlog_size={size} replicated={} seconds={secs:.2} files_per_s={:.0} mb_per_s={:.1}",
                times.len(),
                files / secs,
                files * size as f64 / secs / 1e6
            );
        }
        // Phase 3: wipe storage 2 and let it recover everything from storage 1.
        let s2 = procs.0.pop().ok_or("no storage 2")?;
        drop(Procs(vec![s2]));
        std::fs::remove_dir_all(&d2).map_err(|e| e.to_string())?;
        let c2 = storage_conf(&d2, p2, 100002, tp)?;
        let (mut files, mut bytes) = (0u64, 0u64);
        let mut stack = vec![d1.join("data")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(|e| e.to_string())?.flatten() {
                let rel = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if rel.is_dir() {
                    if name.len() == 2 {
                        stack.push(rel);
                    }
                } else if !name.ends_with("-m") && d != d1.join("data") {
                    files += 1;
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
            }
        }
        let t0 = Instant::now();
        procs.0.push(spawn(&a.bin_dir.join("fdfs_storaged"), &c2)?);
        loop {
            if let Ok(mut t) = fdfs_client::TrackerClient::connect(format!("127.0.0.1:{tp}"), Duration::from_secs(2)).await {
                let l = t.list_storages("group1", None).await.unwrap_or_default();
                if l.iter().any(|s| s.storage_port == i64::from(p2) && s.status == 7) {
                    break;
                }
            }
            if t0.elapsed() > Duration::from_secs(600) {
                return Err("wiped storage never became ACTIVE".to_string());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "recovery_files={files} recovery_bytes={bytes} seconds={secs:.2} files_per_s={:.0} mb_per_s={:.1}",
            files as f64 / secs,
            bytes as f64 / secs / 1e6
        );
        Ok::<(), String>(())
    })?;
    drop(procs);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

//! tyrant-engine-bench: the same durable-write / reopen / random-read workload against tyrantd's
//! log engine and against fjall with key-value separation (the alternative considered).
//!
//! `tyrant-engine-bench --engine log|fjall --dir /tmp/x --value-size 102400 --count 10000`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tyrant::engine::log::{EngineConfig, LogEngine, SyncMode};
use tyrant::engine::{Engine, Mutation, Outcome, StoreMode};

#[derive(Parser, Debug, Clone)]
#[command(about = "Engine benchmark: writes then random reads straight on a storage engine")]
struct Args {
    /// Engine under test: log | fjall (fjall needs the fjall-bench feature)
    #[arg(long)]
    engine: String,
    /// Directory for the engine's files (created; use an empty one)
    #[arg(long)]
    dir: PathBuf,
    /// Bytes per value
    #[arg(long, default_value_t = 102_400)]
    value_size: usize,
    /// Values written
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Writer and reader threads
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Random reads after the writes
    #[arg(long, default_value_t = 20_000)]
    reads: usize,
}

trait Store: Send + Sync {
    fn put(&self, key: &[u8], value: &[u8]);
    fn get_len(&self, key: &[u8]) -> Option<usize>;
}

struct Log(LogEngine);

impl Store for Log {
    fn put(&self, key: &[u8], value: &[u8]) {
        let m = Mutation::Store {
            mode: StoreMode::Set,
            key: key.to_vec(),
            value: value.to_vec(),
            flags: 0,
            exptime: 0,
        };
        match self.0.submit(m).blocking_recv() {
            Ok(Ok(Outcome::Stored { .. })) => {}
            other => panic!("log put failed: {other:?}"),
        }
    }
    fn get_len(&self, key: &[u8]) -> Option<usize> {
        self.0.get(key).ok().flatten().map(|i| i.value().len())
    }
}

#[cfg(feature = "fjall-bench")]
struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

#[cfg(feature = "fjall-bench")]
impl Store for Fjall {
    fn put(&self, key: &[u8], value: &[u8]) {
        self.ks.insert(key, value).expect("fjall insert");
        // Same durability promise as tyrantd's default: on disk before the reply.
        self.db
            .persist(fjall::PersistMode::SyncData)
            .expect("fjall persist");
    }
    fn get_len(&self, key: &[u8]) -> Option<usize> {
        self.ks.get(key).ok().flatten().map(|v| v.len())
    }
}

fn open(a: &Args) -> Arc<dyn Store> {
    match a.engine.as_str() {
        "log" => Arc::new(Log(LogEngine::open(EngineConfig {
            dir: a.dir.clone(),
            sync: SyncMode::Always,
            segment_bytes: 1 << 30,
            checkpoint_bytes: 256 << 20,
            checkpoint_interval: Duration::from_secs(300),
            node_id: 1,
            direct_io: std::env::var_os("TYRANT_BUFFERED_IO").is_none(),
        })
        .expect("open log engine"))),
        #[cfg(feature = "fjall-bench")]
        "fjall" => {
            let db = fjall::Database::builder(&a.dir).open().expect("open fjall");
            let ks = db
                .keyspace("kv", || {
                    fjall::KeyspaceCreateOptions::default()
                        .with_kv_separation(Some(fjall::KvSeparationOptions::default()))
                })
                .expect("fjall keyspace");
            Arc::new(Fjall { db, ks })
        }
        other => panic!("unknown engine {other}"),
    }
}

fn du(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e
                .metadata()
                .map(|m| (m.is_dir(), m.len()))
                .unwrap_or((false, 0));
            n += if m.0 { du(&e.path()) } else { m.1 };
        }
    }
    n
}

fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

fn parallel(threads: usize, f: impl Fn(usize) + Send + Sync + 'static) {
    let f = Arc::new(f);
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let f = f.clone();
            std::thread::spawn(move || f(t))
        })
        .collect();
    for h in hs {
        h.join().expect("bench thread");
    }
}

fn main() {
    let a = Args::parse();
    let _ = std::fs::remove_dir_all(&a.dir);
    // Incompressible, like JPEG/PNG payloads (fjall compresses blocks by default).
    let mut x = 0x853c_49e6_748f_ea9bu64;
    let value: Arc<Vec<u8>> = Arc::new(
        (0..a.value_size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect(),
    );
    let rss0 = rss();
    let store = open(&a);
    let t = Instant::now();
    {
        let (store, value, a2) = (store.clone(), value.clone(), a.clone());
        parallel(a.threads, move |th| {
            let mut i = th;
            while i < a2.count {
                store.put(format!("/img/{i:010}.jpg").as_bytes(), &value);
                i += a2.threads;
            }
        });
    }
    let write_s = t.elapsed().as_secs_f64();
    let rss_after_write = rss();
    drop(store);
    let t = Instant::now();
    let store = open(&a);
    let reopen_ms = t.elapsed().as_millis();
    let t = Instant::now();
    {
        let (store, a2) = (store.clone(), a.clone());
        parallel(a.threads, move |th| {
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (th as u64 + 1);
            for _ in 0..a2.reads / a2.threads {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = x as usize % a2.count;
                assert_eq!(
                    store.get_len(format!("/img/{i:010}.jpg").as_bytes()),
                    Some(a2.value_size)
                );
            }
        });
    }
    let read_s = t.elapsed().as_secs_f64();
    let data = (a.count * a.value_size) as f64;
    println!(
        "engine={} value_size={} count={} threads={} write_ops_per_sec={:.0} write_mb_per_sec={:.1} reopen_ms={} read_ops_per_sec={:.0} read_mb_per_sec={:.1} disk_mb={:.1} space_amp={:.2} rss_growth_mb={:.1}",
        a.engine,
        a.value_size,
        a.count,
        a.threads,
        a.count as f64 / write_s,
        data / write_s / 1e6,
        reopen_ms,
        a.reads as f64 / read_s,
        a.reads as f64 * a.value_size as f64 / read_s / 1e6,
        du(&a.dir) as f64 / 1e6,
        du(&a.dir) as f64 / data,
        rss_after_write.saturating_sub(rss0) as f64 / 1e6,
    );
}

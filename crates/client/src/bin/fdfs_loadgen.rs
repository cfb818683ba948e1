//! Load generator for fdfs_storaged benchmarks: N concurrent clients, each on its own
//! persistent connection, uploading or downloading files of a fixed size for a fixed time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use fdfs_client::{StorageClient, StoredFile};

#[derive(Clone, Copy, ValueEnum, Debug)]
enum Op {
    Upload,
    Download,
}

#[derive(Parser)]
#[command(name = "fdfs_loadgen", about = "Benchmark a FastDFS storage server")]
struct Args {
    /// Storage address.
    #[arg(long, default_value = "127.0.0.1:23000")]
    addr: String,
    /// Operation measured
    #[arg(long, value_enum)]
    op: Op,
    /// File size in bytes (suffix K or M allowed).
    #[arg(long, default_value = "10K", value_parser = parse_size)]
    size: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Files uploaded beforehand for the download test.
    #[arg(long, default_value_t = 64)]
    prepare: usize,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let (n, m) = match s.strip_suffix(['K', 'k']) {
        Some(n) => (n, 1024),
        None => match s.strip_suffix(['M', 'm']) {
            Some(n) => (n, 1024 * 1024),
            None => (s, 1),
        },
    };
    n.parse::<usize>().map(|v| v * m).map_err(|e| e.to_string())
}

/// Deterministic, incompressible-looking content that differs per file.
fn content(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("fdfs_loadgen: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), fdfs_client::Error> {
    let files: Arc<Vec<StoredFile>> = Arc::new(match args.op {
        Op::Upload => Vec::new(),
        Op::Download => {
            let mut c = StorageClient::connect(&args.addr).await?;
            let mut v = Vec::with_capacity(args.prepare);
            for i in 0..args.prepare.max(1) {
                v.push(c.upload(0, "bin", &content(args.size, i as u64)).await?);
            }
            v
        }
    });
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (addr, files, op, size) = (args.addr.clone(), files.clone(), args.op, args.size);
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut c = StorageClient::connect(&addr).await?;
            let data = content(size, 1_000_000 + w as u64);
            let mut i = w;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = match op {
                    Op::Upload => c.upload(0, "bin", &data).await.map(drop),
                    Op::Download => {
                        let f = &files[i % files.len()];
                        c.download(&f.group, &f.file_name, 0, 0)
                            .await
                            .and_then(|b| {
                                if b.len() == size {
                                    Ok(())
                                } else {
                                    Err(fdfs_client::Error::Protocol(format!(
                                        "downloaded {} bytes, expected {size}",
                                        b.len()
                                    )))
                                }
                            })
                    }
                };
                match r {
                    Ok(()) => lat.push(t.elapsed().as_micros() as u32),
                    Err(e) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("worker {w}: {e}");
                        }
                        c = StorageClient::connect(&addr).await?;
                    }
                }
                i += args.concurrency;
            }
            Ok::<_, fdfs_client::Error>((lat, errors))
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for w in workers {
        match w.await {
            Ok(Ok((l, e))) => {
                lat.extend(l);
                errors += e;
            }
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                return Err(fdfs_client::Error::Protocol(format!(
                    "worker panicked: {e}"
                )))
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map(|&us| us as f64 / 1000.0)
            .unwrap_or(0.0)
    };
    let ops = lat.len() as f64;
    println!(
        "op={:?} size={} clients={} ops={} secs={:.2} ops_per_sec={:.0} mib_per_sec={:.1} errors={} p50_ms={:.2} p99_ms={:.2}",
        args.op,
        args.size,
        args.concurrency,
        lat.len(),
        secs,
        ops / secs,
        ops * args.size as f64 / secs / (1024.0 * 1024.0),
        errors,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

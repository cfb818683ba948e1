//! Query load against a tracker: `--concurrency` persistent connections, each sending one
//! request and waiting for its answer, for `--seconds`. Prints one line of figures.
//!
//! `cargo run --release -p fdfs-tracker --example tracker_bench -- --addr 127.0.0.1:22122 \
//!     --cmd 101 --concurrency 32 --seconds 10 [--file-id group1/M00/...]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fdfs_client::{split_file_id, TrackerClient};
use fdfs_proto::common::FileRef;
use fdfs_proto::frame::packet;
use fdfs_proto::{cmd, Body, IpWidth};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:22122")]
    addr: String,
    /// 101 (query store) or 102 (query fetch; needs --file-id).
    #[arg(long, default_value_t = 101)]
    cmd: u8,
    #[arg(long)]
    file_id: Option<String>,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

fn main() -> Result<(), String> {
    let a = Args::parse();
    let body = match (a.cmd, &a.file_id) {
        (cmd::QUERY_STORE_WITHOUT_GROUP_ONE, _) => Vec::new(),
        (cmd::QUERY_FETCH_ONE, Some(id)) => {
            let (g, n) = split_file_id(id).map_err(|e| e.to_string())?;
            FileRef {
                group: g.into(),
                file_name: n.into(),
            }
            .to_bytes(IpWidth::V4)
        }
        _ => return Err("--cmd 101, or --cmd 102 with --file-id".into()),
    };
    let req = Arc::new(packet(a.cmd, 0, &body));
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let dur = Duration::from_secs_f64(a.seconds);
        let start = Instant::now();
        let tasks: Vec<_> = (0..a.concurrency)
            .map(|_| {
                let (req, addr) = (req.clone(), a.addr.clone());
                tokio::spawn(async move {
                    let mut c =
                        TrackerClient::connect(addr.as_str(), Duration::from_secs(5)).await?;
                    let (mut lat, mut errors) = (Vec::new(), 0u64);
                    while start.elapsed() < dur {
                        let t = Instant::now();
                        let (h, _) = c.raw(&req).await?;
                        lat.push(t.elapsed());
                        errors += u64::from(h.status != 0);
                    }
                    Ok::<_, fdfs_client::Error>((lat, errors))
                })
            })
            .collect();
        let (mut lat, mut errors) = (Vec::new(), 0);
        for t in tasks {
            let (l, e) = t
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            lat.extend(l);
            errors += e;
        }
        let secs = start.elapsed().as_secs_f64();
        lat.sort();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "cmd={} conns={} ops={} qps={:.0} p50_ms={:.3} p99_ms={:.3} errors={}",
            a.cmd,
            a.concurrency,
            lat.len(),
            lat.len() as f64 / secs,
            pct(0.5),
            pct(0.99),
            errors
        );
        Ok(())
    })
}

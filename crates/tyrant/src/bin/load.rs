//! tyrant-load: a small memcached load generator (the same tool drives memcached and tyrantd in
//! the benchmarks). Requests are encoded and replies parsed with the project codec.
//!
//! `tyrant-load --server 127.0.0.1:11211 --op set --value-size 1024 --conns 32 --secs 10`

use std::time::{Duration, Instant};

use clap::Parser;
use fdfs_proto::memcached::{Request, Response, ResponseParser, RetrievalCommand, StorageCommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug, Clone)]
#[command(about = "memcached-protocol load generator")]
struct Args {
    /// Server address (memcached protocol)
    #[arg(long, default_value = "127.0.0.1:1978")]
    server: String,
    /// Operation measured: get | set
    #[arg(long, default_value = "get")]
    op: String,
    /// Bytes per value
    #[arg(long, default_value_t = 1024)]
    value_size: usize,
    /// Distinct keys (get: stored first by --prefill).
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Connections, each with one request in flight
    #[arg(long, default_value_t = 32)]
    conns: usize,
    /// Measured duration in seconds
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Store every key once before measuring.
    #[arg(long)]
    prefill: bool,
    /// Runtime worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write every key exactly once (ignores --secs and --op): for fills.
    #[arg(long)]
    fill: bool,
    /// Key prefix (several runs can share a server without colliding).
    #[arg(long, default_value = "bench")]
    prefix: String,
}

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    parser: ResponseParser,
}

impl Client {
    async fn connect(addr: &str) -> std::io::Result<Client> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Client {
            s,
            buf: Vec::with_capacity(256 * 1024),
            parser: ResponseParser::new(),
        })
    }

    /// Sends one request and waits for its reply; returns the value bytes seen (for gets).
    async fn call(&mut self, req: &[u8], want_hit: bool) -> Result<usize, String> {
        self.s.write_all(req).await.map_err(|e| e.to_string())?;
        loop {
            let parsed = self
                .parser
                .parse_response(&self.buf)
                .map_err(|e| format!("bad reply: {e:?}"))?;
            if let Some((resp, n)) = parsed {
                let out = match resp {
                    Response::Values(vs) if want_hit && vs.is_empty() => Err("miss".to_string()),
                    Response::Values(vs) => Ok(vs.iter().map(|v| v.data.len()).sum()),
                    Response::Line(l) => {
                        let mut b = Vec::new();
                        l.encode(&mut b);
                        if b.starts_with(b"STORED") {
                            Ok(0)
                        } else {
                            Err(String::from_utf8_lossy(&b).trim().to_string())
                        }
                    }
                    other => Err(format!("unexpected {other:?}")),
                };
                self.buf.drain(..n);
                return out;
            }
            self.buf.reserve(64 * 1024);
            let k = self
                .s
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| e.to_string())?;
            if k == 0 {
                return Err("server closed".into());
            }
        }
    }
}

fn key(a: &Args, i: usize) -> String {
    format!("{}:{:08}", a.prefix, i)
}

fn set_req(a: &Args, i: usize, value: &[u8]) -> Vec<u8> {
    let k = key(a, i);
    Request::Storage {
        command: StorageCommand::Set,
        key: k.as_bytes(),
        flags: 0,
        exptime: 0,
        cas: None,
        noreply: false,
        data: value,
    }
    .to_bytes()
}

fn get_req(a: &Args, i: usize) -> Vec<u8> {
    let k = key(a, i);
    Request::Retrieval {
        command: RetrievalCommand::Get,
        exptime: None,
        keys: vec![k.as_bytes()],
    }
    .to_bytes()
}

async fn prefill(a: &Args, value: &[u8]) -> Result<(), String> {
    let mut tasks = Vec::new();
    for c in 0..a.conns.min(16) {
        let (a, value) = (a.clone(), value.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut cl = Client::connect(&a.server)
                .await
                .map_err(|e| e.to_string())?;
            let mut i = c;
            while i < a.keys {
                cl.call(&set_req(&a, i, &value), false).await?;
                i += a.conns.min(16);
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

async fn run(a: Args) -> Result<(), String> {
    let value: Vec<u8> = (0..a.value_size).map(|i| b'a' + (i % 26) as u8).collect();
    if a.prefill {
        prefill(&a, &value).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(a.secs);
    let mut tasks = Vec::new();
    for c in 0..a.conns {
        let (a, value) = (a.clone(), value.clone());
        tasks.push(tokio::spawn(async move {
            let mut cl = Client::connect(&a.server)
                .await
                .map_err(|e| e.to_string())?;
            let mut lat = Vec::with_capacity(100_000);
            let mut bytes = 0usize;
            let mut x = 0x2545_f491_4f6c_dd1du64 ^ (c as u64 + 1);
            let mut next = c;
            loop {
                let i = if a.fill {
                    if next >= a.keys {
                        break;
                    }
                    next += a.conns;
                    next - a.conns
                } else {
                    if Instant::now() >= deadline {
                        break;
                    }
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % a.keys as u64) as usize
                };
                let set = a.fill || a.op == "set";
                let req = if set {
                    set_req(&a, i, &value)
                } else {
                    get_req(&a, i)
                };
                let t = Instant::now();
                bytes += cl.call(&req, !set).await?;
                lat.push(t.elapsed().as_micros() as u32);
                if set {
                    bytes += value.len();
                }
            }
            Ok::<_, String>((lat, bytes))
        }));
    }
    let start = Instant::now();
    let mut lat = Vec::new();
    let mut bytes = 0;
    for t in tasks {
        let (l, b) = t.await.map_err(|e| e.to_string())??;
        lat.extend(l);
        bytes += b;
    }
    let secs = if a.fill {
        start.elapsed().as_secs_f64()
    } else {
        start.elapsed().as_secs_f64().max(a.secs as f64)
    };
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "op={} value_size={} conns={} ops={} ops_per_sec={:.0} mb_per_sec={:.1} p50_us={} p99_us={}",
        if a.fill { "fill" } else { &a.op },
        a.value_size,
        a.conns,
        lat.len(),
        lat.len() as f64 / secs,
        bytes as f64 / secs / 1e6,
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}

fn main() {
    let a = Args::parse();
    if a.op != "get" && a.op != "set" {
        eprintln!("tyrant-load: --op must be get or set");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tyrant-load: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(a)) {
        eprintln!("tyrant-load: {e}");
        std::process::exit(1);
    }
}

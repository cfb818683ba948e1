//! tyrantd: persistent KV daemon for images keyed by URL (memcached protocol + HTTP, one port).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use tokio::sync::watch;
use tyrant::config::{Config, ConfigError, FileConfig};
use tyrant::engine::log::{EngineConfig, LogEngine};
use tyrant::server::{self, App};
use tyrant::stats::{ReplStatus, Stats};

#[derive(Parser, Debug)]
#[command(
    name = "tyrantd",
    version,
    about = "Persistent KV daemon speaking memcached and HTTP on one port"
)]
struct Args {
    /// Configuration file (TOML); flags override it [default: none, flags and defaults only]
    #[arg(short = 'c', long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the configuration, print the effective settings as TOML and exit
    #[arg(long)]
    check_config: bool,
    /// Listen address (IP:port) [default: 127.0.0.1:1978]
    #[arg(short = 'l', long, value_name = "ADDR")]
    listen: Option<String>,
    /// Data directory, created if missing [default: none, required here or as data_dir]
    #[arg(short = 'd', long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Worker threads [default: 2]
    #[arg(short = 't', long, value_name = "N")]
    threads: Option<usize>,
    /// When writes reach the disk: always | interval:<ms> | none [default: always]
    #[arg(long, value_name = "MODE")]
    sync: Option<String>,
    /// Segment / update-log rotation size [default: 1g]
    #[arg(long, alias = "ulim", value_name = "SIZE")]
    segment_size: Option<String>,
    /// Checkpoint after this much log [default: 256m]
    #[arg(long, value_name = "SIZE")]
    checkpoint_size: Option<String>,
    /// Checkpoint at least this often when there were writes [default: 300]
    #[arg(long, value_name = "SECS")]
    checkpoint_interval_secs: Option<u64>,
    /// Compact sealed segments whose live fraction is below this (0 = never) [default: 0.5]
    #[arg(long, value_name = "RATIO")]
    compact_ratio: Option<f64>,
    /// Look for a segment to compact this often [default: 60]
    #[arg(long, value_name = "SECS")]
    compact_interval_secs: Option<u64>,
    /// crc-check one sealed segment this often (0 = never) [default: 600]
    #[arg(long, value_name = "SECS")]
    scrub_interval_secs: Option<u64>,
    /// Server id, non-zero and unique among replicating servers [default: 1]
    #[arg(long, alias = "sid", value_name = "ID")]
    server_id: Option<u16>,
    /// Replicate from this master (host:port) [default: none, not a replica]
    #[arg(long, value_name = "HOST:PORT")]
    master: Option<String>,
    /// Refuse client writes [default: off]
    #[arg(long)]
    read_only: bool,
    /// Networks allowed to write (repeatable), e.g. 10.0.0.0/8 [default: 127.0.0.0/8 ::1/128]
    #[arg(long, value_name = "NET")]
    allow_write: Vec<String>,
    /// Most client connections at once [default: 10000]
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Close connections idle this long (0 = never) [default: 0]
    #[arg(long, value_name = "SECS")]
    idle_timeout_secs: Option<u64>,
    /// Longest key in bytes [default: 250]
    #[arg(long, value_name = "BYTES")]
    max_key_len: Option<usize>,
    /// Largest value [default: 64m]
    #[arg(long, value_name = "SIZE")]
    max_item_size: Option<String>,
    /// Longest memcached command line in bytes, 1024..16M [default: 65536]
    #[arg(long, value_name = "BYTES")]
    max_line: Option<usize>,
    /// Let flush_all erase everything [default: off]
    #[arg(long)]
    allow_flush_all: bool,
    /// How an HTTP path becomes a key: nginx | tt [default: nginx]
    #[arg(long, value_name = "MODE")]
    http_key_mode: Option<String>,
    /// Write the process id here while running [default: none]
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// error | warn | info | debug | trace [default: info]
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Append to the log through the page cache instead of with O_DIRECT [default: off]
    #[arg(long)]
    buffered_io: bool,
}

impl Args {
    fn overrides(&self) -> FileConfig {
        FileConfig {
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
            threads: self.threads,
            sync: self.sync.clone(),
            direct_io: self.buffered_io.then_some(false),
            segment_size: self.segment_size.clone(),
            checkpoint_size: self.checkpoint_size.clone(),
            checkpoint_interval_secs: self.checkpoint_interval_secs,
            compact_ratio: self.compact_ratio,
            compact_interval_secs: self.compact_interval_secs,
            scrub_interval_secs: self.scrub_interval_secs,
            server_id: self.server_id,
            master: self.master.clone(),
            read_only: self.read_only.then_some(true),
            allow_write: (!self.allow_write.is_empty()).then(|| self.allow_write.clone()),
            max_connections: self.max_connections,
            idle_timeout_secs: self.idle_timeout_secs,
            max_key_len: self.max_key_len,
            max_item_size: self.max_item_size.clone(),
            max_line: self.max_line,
            allow_flush_all: self.allow_flush_all.then_some(true),
            http_key_mode: self.http_key_mode.clone(),
            pid_file: self.pid_file.clone(),
            log_level: self.log_level.clone(),
        }
    }
}

fn load(args: &Args) -> Result<Config, String> {
    let (file, text) = match &args.config {
        Some(p) => (
            FileConfig::load(p).map_err(|e| e.to_string())?,
            std::fs::read_to_string(p).unwrap_or_default(),
        ),
        None => (FileConfig::default(), String::new()),
    };
    let over = args.overrides();
    let from_flags = toml::to_string(&over).unwrap_or_default();
    file.merge(over).validate().map_err(|e| match e {
        ConfigError::Invalid { field, msg } => {
            // Name where the bad value came from: the flag that overrode it, or file:line.
            if fdfs_daemon::config::key_line(&from_flags, field).is_some() {
                format!("--{}: {msg}", field.replace('_', "-"))
            } else if let Some(p) = args.config.as_deref() {
                fdfs_daemon::config::locate(fdfs_daemon::config::invalid(field, msg), &text, p)
                    .to_string()
            } else {
                e_text(field, &msg)
            }
        }
        e => e.to_string(),
    })
}

fn e_text(field: &str, msg: &str) -> String {
    format!("invalid value for `{field}`: {msg}")
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tyrantd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        let source = args
            .config
            .as_deref()
            .map_or("flags and defaults".into(), |p| p.display().to_string());
        match toml::to_string(&cfg.effective()) {
            Ok(t) => println!(
                "# {source}: configuration OK; the effective settings, defaults filled in:\n{t}"
            ),
            Err(e) => {
                eprintln!("tyrantd: cannot show the configuration: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tyrantd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("tyrantd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cfg: Config) -> Result<(), String> {
    let t = Instant::now();
    let engine = LogEngine::open(EngineConfig {
        dir: cfg.data_dir.clone(),
        sync: cfg.sync,
        segment_bytes: cfg.segment_bytes,
        checkpoint_bytes: cfg.checkpoint_bytes,
        checkpoint_interval: cfg.checkpoint_interval,
        node_id: cfg.server_id,
        direct_io: cfg.direct_io,
    })
    .map_err(|e| format!("opening {}: {e}", cfg.data_dir.display()))?;
    let engine = Arc::new(engine);
    tracing::info!(
        items = tyrant::engine::Engine::stats(&*engine).curr_items,
        ms = t.elapsed().as_millis() as u64,
        "storage opened"
    );
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    if let Some(p) = &cfg.pid_file {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .map_err(|e| format!("writing pid file {}: {e}", p.display()))?;
    }
    let (drain_tx, draining) = watch::channel(false);
    let app = Arc::new(App {
        cfg: cfg.clone(),
        engine: engine.clone(),
        stats: Stats::default(),
        repl: Arc::new(ReplStatus::default()),
        started: Instant::now(),
        draining,
    });
    tracing::info!(listen = %cfg.listen, sid = cfg.server_id, master = cfg.master.as_deref().unwrap_or("-"), "tyrantd ready");
    if let Some(m) = cfg.master.clone() {
        tokio::spawn(tyrant::repl::follow(app.clone(), m));
    }
    if let Some(every) = cfg.scrub_interval {
        tokio::spawn(scrubber(app.clone(), every));
    }
    if cfg.compact_ratio > 0.0 {
        tokio::spawn(compactor(app.clone()));
    }
    let server = tokio::spawn(server::serve(app.clone(), listener));
    wait_for_signal().await;
    tracing::info!("shutting down: draining connections");
    let _ = drain_tx.send(true);
    let _ = server.await;
    let engine2 = engine.clone();
    let _ = tokio::task::spawn_blocking(move || engine2.close()).await;
    if let Some(p) = &cfg.pid_file {
        let _ = std::fs::remove_file(p);
    }
    tracing::info!("stopped");
    Ok(())
}

/// Reclaims space from overwritten and deleted values, one segment at a time, off the runtime.
async fn compactor(app: Arc<App>) {
    use std::sync::atomic::Ordering;
    let mut draining = app.draining.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(app.cfg.compact_interval) => {}
            _ = draining.changed() => return,
        }
        loop {
            let (engine, ratio) = (app.engine.clone(), app.cfg.compact_ratio);
            match tokio::task::spawn_blocking(move || engine.compact_once(ratio)).await {
                Ok(Ok(Some(r))) => {
                    app.stats.compactions.fetch_add(1, Ordering::Relaxed);
                    app.stats
                        .compacted_bytes
                        .fetch_add(r.reclaimed_bytes, Ordering::Relaxed);
                }
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    tracing::error!("compaction failed: {e}");
                    break;
                }
                Err(e) => {
                    tracing::error!("compaction task failed: {e}");
                    break;
                }
            }
            if *app.draining.borrow() {
                return;
            }
        }
    }
}

/// Walks the sealed segments round-robin, one per interval, checking every record's crc.
async fn scrubber(app: Arc<App>, every: std::time::Duration) {
    use std::sync::atomic::Ordering;
    let mut draining = app.draining.clone();
    let mut after = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = draining.changed() => return,
        }
        let engine = app.engine.clone();
        match tokio::task::spawn_blocking(move || engine.scrub_next(after)).await {
            Ok(Ok(Some((seg, bad)))) => {
                after = seg;
                app.stats.scrubbed_segments.fetch_add(1, Ordering::Relaxed);
                app.stats.scrub_errors.fetch_add(bad, Ordering::Relaxed);
            }
            Ok(Ok(None)) => after = 0,
            Ok(Err(e)) => tracing::error!("scrub failed: {e}"),
            Err(e) => tracing::error!("scrub task failed: {e}"),
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

//! `fdfs_storaged --config storage.toml [--check-config]`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fdfs_storage::config::Config;

#[derive(Parser)]
#[command(
    name = "fdfs_storaged",
    version,
    about = "FastDFS-compatible storage daemon"
)]
struct Args {
    /// Path to storage.toml.
    #[arg(short, long, default_value = "/etc/fdfs/storage.toml")]
    config: PathBuf,
    /// Validate the configuration and exit (0 = valid).
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fdfs_storaged: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        println!("{}: configuration OK", args.config.display());
        return ExitCode::SUCCESS;
    }
    let log = match fdfs_daemon::init_logging(cfg.log_file.as_deref(), &cfg.log_level) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fdfs_storaged: cannot open log file: {e}");
            return ExitCode::from(2);
        }
    };
    // A panic in a connection task would otherwise only reach stderr; make it visible in the log.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("panicked: {info}");
        eprintln!("fdfs_storaged panicked: {info}");
    }));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.worker_threads)
        .enable_all()
        .thread_name("storaged")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fdfs_storaged: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(fdfs_storage::server::run(cfg, log));
    // Blocking file I/O still running belongs to abandoned requests; do not wait forever.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("fdfs_storaged: {e}");
            ExitCode::FAILURE
        }
    }
}

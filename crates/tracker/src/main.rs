//! `fdfs_trackerd --config tracker.toml [--check-config]`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fdfs_tracker::config::Config;

#[derive(Parser)]
#[command(
    name = "fdfs_trackerd",
    version,
    about = "FastDFS-compatible tracker daemon"
)]
struct Args {
    /// Path to tracker.toml.
    #[arg(short, long, default_value = "/etc/fdfs/tracker.toml")]
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
            eprintln!("fdfs_trackerd: {e}");
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
            eprintln!("fdfs_trackerd: cannot open log file: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("trackerd")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fdfs_trackerd: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fdfs_tracker::server::run(cfg, log)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("fdfs_trackerd: {e}");
            ExitCode::FAILURE
        }
    }
}

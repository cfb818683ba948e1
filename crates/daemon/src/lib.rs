//! Plumbing the fastdfs-rs daemons share, so each binary keeps only what is its own.

mod admission;
pub mod config;
mod hosts;
pub mod logging;
pub mod process;

pub use admission::admit;
pub use hosts::HostRule;

use std::io;
use std::path::Path;

use logging::LogTarget;

/// Sends `tracing` output at `level` (an `EnvFilter` directive; `info` if it does not parse)
/// to `log_file`, or to stderr when there is none. Returns the target so SIGHUP can reopen it.
pub fn init_logging(log_file: Option<&Path>, level: &str) -> io::Result<LogTarget> {
    let log = LogTarget::new(log_file)?;
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(log.clone())
        .init();
    Ok(log)
}

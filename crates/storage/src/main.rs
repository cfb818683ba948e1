//! `fdfs_storaged --config storage.toml [--check-config]`

use std::process::ExitCode;

use fdfs_daemon::process::{self, Binary, Settings};
use fdfs_storage::config::Config;

fn main() -> ExitCode {
    process::main(
        Binary {
            name: "fdfs_storaged",
            version: env!("CARGO_PKG_VERSION"),
            about: "FastDFS-compatible storage daemon",
            default_config: "/etc/fdfs/storage.toml",
            thread_name: "storaged",
        },
        Config::load,
        |c| c.effective.clone(),
        |c| Settings {
            log_file: c.log_file.clone(),
            log_level: c.log_level.clone(),
            worker_threads: Some(c.worker_threads),
        },
        fdfs_storage::server::run,
    )
}

//! `fdfs_trackerd --config tracker.toml [--check-config]`

use std::process::ExitCode;

use fdfs_daemon::process::{self, Binary, Settings};
use fdfs_tracker::config::Config;

fn main() -> ExitCode {
    process::main(
        Binary {
            name: "fdfs_trackerd",
            version: env!("CARGO_PKG_VERSION"),
            about: "FastDFS-compatible tracker daemon",
            default_config: "/etc/fdfs/tracker.toml",
            thread_name: "trackerd",
        },
        Config::load,
        |c| c.effective.clone(),
        |c| Settings {
            log_file: c.log_file.clone(),
            log_level: c.log_level.clone(),
            worker_threads: None,
        },
        fdfs_tracker::server::run,
    )
}

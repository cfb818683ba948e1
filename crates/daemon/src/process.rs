//! The life of a daemon process around its server: command line, configuration check, logging,
//! panic hook, tokio runtime, exit code. Each binary supplies only its names and its config type.

use std::fmt::Display;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{value_parser, Arg, ArgAction, Command};

use crate::logging::LogTarget;

/// What differs between the daemon binaries.
pub struct Binary {
    pub name: &'static str,
    pub version: &'static str,
    pub about: &'static str,
    pub default_config: &'static str,
    /// Prefix of the runtime's worker thread names.
    pub thread_name: &'static str,
}

/// The process settings a loaded configuration provides.
pub struct Settings {
    pub log_file: Option<PathBuf>,
    pub log_level: String,
    /// `None`: one per CPU (tokio's default).
    pub worker_threads: Option<usize>,
}

/// `NAME --config FILE [--check-config]`: loads the configuration (exit 2 if it is invalid),
/// sets up logging and runs `serve` to completion on a multi-threaded runtime.
/// `effective` renders the loaded configuration as the config file format (`--check-config`).
pub fn main<C, LoadErr, ServeErr, Fut>(
    bin: Binary,
    load: impl FnOnce(&Path) -> Result<C, LoadErr>,
    effective: impl FnOnce(&C) -> String,
    settings: impl FnOnce(&C) -> Settings,
    serve: impl FnOnce(C, LogTarget) -> Fut,
) -> ExitCode
where
    LoadErr: Display,
    ServeErr: Display,
    Fut: Future<Output = Result<(), ServeErr>>,
{
    let name = bin.name;
    let args = Command::new(name)
        .version(bin.version)
        .about(bin.about)
        .arg(
            Arg::new("config")
                .short('c')
                .long("config")
                .value_name("FILE")
                .help("Path to the configuration file (TOML)")
                .default_value(bin.default_config)
                .value_parser(value_parser!(PathBuf)),
        )
        .arg(
            Arg::new("check-config")
                .long("check-config")
                .help(
                    "Validate the configuration, print the effective settings as TOML \
                     (defaults filled in) and exit (0 = valid, 2 = invalid)",
                )
                .action(ArgAction::SetTrue),
        )
        .get_matches();
    let path: PathBuf = args
        .get_one::<PathBuf>("config")
        .cloned()
        .unwrap_or_else(|| PathBuf::from(bin.default_config));
    let cfg = match load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    if args.get_flag("check-config") {
        println!(
            "# {}: configuration OK; the effective settings, defaults filled in:\n{}",
            path.display(),
            effective(&cfg)
        );
        return ExitCode::SUCCESS;
    }
    let s = settings(&cfg);
    let log = match crate::init_logging(s.log_file.as_deref(), &s.log_level) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{name}: cannot open log file: {e}");
            return ExitCode::from(2);
        }
    };
    // A panic in a connection task would otherwise only reach stderr; make it visible in the log.
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panicked: {info}");
        eprintln!("{name} panicked: {info}");
    }));
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = s.worker_threads {
        builder.worker_threads(n);
    }
    let rt = match builder.enable_all().thread_name(bin.thread_name).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(serve(cfg, log));
    // Blocking file I/O still running belongs to abandoned requests; do not wait forever.
    rt.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

//! The FastDFS C tools' names (`fdfs_upload_file`, `fdfs_monitor`, ...): when `fdfs` is started
//! through a symlink with one of those names, it takes that tool's arguments in its order and
//! answers with its output and errno-style exit codes, so scripts written for FastDFS keep
//! working. `fdfs install-links DIR` makes the symlinks. docs/tools.md lists the differences.

/// `println!` that ends the process quietly when stdout is a closed pipe (`fdfs monitor | head`)
/// instead of panicking: Rust ignores SIGPIPE, so the write error comes back to us.
macro_rules! println {
    () => {
        $crate::ctools::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::ctools::out::line(format_args!($($arg)*))
    };
}

pub mod cli;
mod file_info;
pub mod input;
mod links;
mod monitor;
pub mod out;
mod tools;

use std::path::Path;
use std::process::ExitCode;

use fdfs_client::{Error, FdfsClient};

pub use links::install;

/// The tool names `install-links` creates, each with the function that runs it.
pub const TOOLS: [(&str, Tool); 8] = [
    ("fdfs_upload_file", tools::upload_file),
    ("fdfs_upload_appender", tools::upload_appender),
    ("fdfs_append_file", tools::append_file),
    ("fdfs_download_file", tools::download_file),
    ("fdfs_delete_file", tools::delete_file),
    ("fdfs_file_info", file_info::run),
    ("fdfs_monitor", monitor::run),
    ("fdfs_crc32", tools::crc32),
];

/// A tool gets its arguments without argv[0] and returns the exit code (an errno, 1 for usage).
type Tool = fn(&str, &[String]) -> i32;

/// Runs the C tool named by argv[0], if it names one.
pub fn dispatch() -> Option<ExitCode> {
    let raw: Vec<_> = std::env::args_os().collect();
    let name = Path::new(raw.first()?).file_name()?.to_str()?;
    let (_, tool) = TOOLS.iter().find(|(n, _)| *n == name)?;
    let mut args = Vec::with_capacity(raw.len());
    for a in &raw {
        match a.to_str() {
            Some(s) => args.push(s.to_owned()),
            None => {
                eprintln!("fdfs: {name}: argument {a:?} is not valid UTF-8");
                return Some(ExitCode::from(EINVAL as u8));
            }
        }
    }
    let code = tool(&args[0], &args[1..]);
    Some(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// The errno a C tool would return for `e`.
pub fn errno(e: &Error) -> i32 {
    if let Some(s) = e.status() {
        return i32::from(s);
    }
    match e.root() {
        Error::Io(io) => io.raw_os_error().unwrap_or(EIO),
        Error::Timeout => ETIMEDOUT,
        _ => EINVAL,
    }
}

pub const EIO: i32 = 5;
pub const EINVAL: i32 = 22;
pub const ETIMEDOUT: i32 = 110;
pub const ECONNREFUSED: i32 = 111;

/// `strerror(n)` text, as the C tools print after "error info:".
pub fn strerror(n: i32) -> String {
    let s = std::io::Error::from_raw_os_error(n).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// The errno of an I/O error on a local file.
pub fn io_errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(EIO)
}

/// A client for the trackers of a FastDFS `client.conf`, or the exit code when the file
/// cannot be read (its errno, like `fdfs_client_init`) or names no tracker.
pub fn client_from(conf: &str) -> Result<FdfsClient, i32> {
    if let Err(e) = std::fs::metadata(conf) {
        eprintln!("fdfs: cannot read config file {conf}: {e}");
        return Err(io_errno(&e));
    }
    let (trackers, opts) = crate::conf::resolve(&[], Some(Path::new(conf))).map_err(|e| {
        eprintln!("fdfs: {e}");
        EINVAL
    })?;
    FdfsClient::new(trackers, opts).map_err(|e| {
        eprintln!("fdfs: {conf}: {e}");
        ECONNREFUSED
    })
}

/// Runs a future on a one-thread runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T, i32> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Ok(rt.block_on(f)),
        Err(e) => {
            eprintln!("fdfs: cannot start runtime: {e}");
            Err(EIO)
        }
    }
}

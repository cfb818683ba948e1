//! `storage.toml`: parsing and validation. See `conf/storage.toml` for the documented example.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use fdfs_daemon::config::{parse_bytes, ConfigError, Reserve};
pub use fdfs_daemon::HostRule;

use fdfs_daemon::config::invalid;

/// How new files are spread over the `HH/HH` sub-directories (FastDFS `file_distribute_path_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistributeMode {
    /// Round robin, switching directory every `rotate_count` files; position persisted.
    RoundRobin { rotate_count: u32 },
    /// Directory derived from the PJW hash of the name.
    Hash,
}

/// How an upload's content is made durable before its rename (see `commit.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `journal` where the file system orders it (ext4/XFS, same file system as the binlog),
    /// `fsync` elsewhere.
    Auto,
    /// fdatasync every temp file before its rename: portable, two journal commits per upload.
    Fsync,
    /// Write the data out and wait (sync_file_range), then let the group commit's single
    /// journal commit make data, rename and binlog durable together. Needs ext4 or XFS.
    Journal,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    group_name: String,
    #[serde(default = "d_bind")]
    bind_addr: IpAddr,
    #[serde(default = "d_port")]
    port: u16,
    base_path: PathBuf,
    #[serde(default)]
    store_paths: Vec<PathBuf>,
    #[serde(default = "d_subdirs")]
    subdir_count_per_path: u32,
    #[serde(default)]
    precreate_subdirs: bool,
    #[serde(default)]
    file_distribute_path_mode: u8,
    #[serde(default = "d_rotate")]
    file_distribute_rotate_count: u32,
    #[serde(default = "d_reserve")]
    reserved_storage_space: String,
    source_ip: Option<Ipv4Addr>,
    #[serde(default)]
    tracker_servers: Vec<String>,
    #[serde(default = "d_beat")]
    heart_beat_interval: u64,
    #[serde(default = "d_stat")]
    stat_report_interval: u64,
    #[serde(default = "d_allow")]
    allow_hosts: Vec<String>,
    log_file: Option<PathBuf>,
    #[serde(default = "d_log_level")]
    log_level: String,
    #[serde(default = "d_ipsize")]
    response_ip_addr_size: u8,
    #[serde(default = "d_workers")]
    worker_threads: usize,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    sync: RawSync,
    /// Numeric storage id (1..=16777215): put in file names instead of the IP and announced
    /// in JOIN, FastDFS's `use_storage_id` + `id_type_in_filename = id`.
    storage_id: Option<u32>,
    #[serde(default)]
    replication: crate::sync::RawSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    max_connections: usize,
    max_file_size: String,
    max_request_body: String,
    network_timeout: u64,
    idle_timeout: u64,
    shutdown_grace: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_connections: 1024,
            max_file_size: "4G".into(),
            max_request_body: "256K".into(),
            network_timeout: 30,
            idle_timeout: 600,
            shutdown_grace: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawSync {
    durability: String,
    commit_max_batch: usize,
    binlog_rotate_size: String,
}

impl Default for RawSync {
    fn default() -> Self {
        RawSync {
            durability: "auto".into(),
            commit_max_batch: 256,
            binlog_rotate_size: "1G".into(),
        }
    }
}

fn d_workers() -> usize {
    1
}
fn d_ipsize() -> u8 {
    16
}
fn d_bind() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}
fn d_port() -> u16 {
    23000
}
fn d_subdirs() -> u32 {
    256
}
fn d_rotate() -> u32 {
    100
}
fn d_reserve() -> String {
    "10%".into()
}
fn d_beat() -> u64 {
    30
}
fn d_stat() -> u64 {
    60
}
fn d_allow() -> Vec<String> {
    vec!["*".into()]
}
fn d_log_level() -> String {
    "info".into()
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub group_name: String,
    pub listen: SocketAddr,
    pub base_path: PathBuf,
    pub store_paths: Vec<PathBuf>,
    pub subdir_count: u32,
    pub precreate_subdirs: bool,
    pub distribute: DistributeMode,
    pub reserve: Reserve,
    pub source_ip: Option<Ipv4Addr>,
    /// Width of the IP field in QUERY_FILE_INFO responses (16 or 46, see spec §0.1).
    pub response_ip_width: fdfs_proto::IpWidth,
    /// Async network threads; disk I/O runs on separate blocking threads and the committer.
    pub worker_threads: usize,
    pub tracker_servers: Vec<String>,
    pub heart_beat_interval: Duration,
    pub stat_report_interval: Duration,
    pub allow_hosts: Vec<HostRule>,
    pub log_file: Option<PathBuf>,
    pub log_level: String,
    pub max_connections: usize,
    pub max_file_size: u64,
    pub max_request_body: u64,
    pub network_timeout: Duration,
    pub idle_timeout: Duration,
    pub shutdown_grace: Duration,
    pub durability: Durability,
    pub commit_max_batch: usize,
    pub binlog_rotate_size: u64,
    pub storage_id: Option<u32>,
    pub replication: crate::sync::Settings,
    /// The settings as a `storage.toml` with every default written out (`--check-config`).
    pub effective: String,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        fdfs_daemon::config::load(path, Config::from_raw)
    }

    pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
        fdfs_daemon::config::parse(text, Path::new("<string>"), Config::from_raw)
    }

    fn from_raw(mut r: RawConfig) -> Result<Config, ConfigError> {
        if fdfs_proto::fileid::validate_group_name(r.group_name.as_bytes()).is_err() {
            return Err(invalid("group_name", "1..16 characters of [A-Za-z0-9]"));
        }
        let response_ip_width = match r.response_ip_addr_size {
            16 => fdfs_proto::IpWidth::V4,
            46 => fdfs_proto::IpWidth::V6,
            _ => return Err(invalid("response_ip_addr_size", "must be 16 or 46")),
        };
        if !(1..=64).contains(&r.worker_threads) {
            return Err(invalid("worker_threads", "must be 1..64"));
        }
        if !r.base_path.is_absolute() {
            return Err(invalid("base_path", "must be an absolute path"));
        }
        if r.store_paths.is_empty() {
            r.store_paths = vec![r.base_path.clone()];
        }
        let effective = toml::to_string(&r).map_err(|e| invalid("(all)", e.to_string()))?;
        let store_paths = r.store_paths;
        if store_paths.len() > 256 {
            return Err(invalid("store_paths", "at most 256 store paths"));
        }
        if let Some(p) = store_paths.iter().find(|p| !p.is_absolute()) {
            return Err(invalid(
                "store_paths",
                format!("{} is not absolute", p.display()),
            ));
        }
        if !(1..=256).contains(&r.subdir_count_per_path) {
            return Err(invalid("subdir_count_per_path", "must be 1..256"));
        }
        let distribute = match r.file_distribute_path_mode {
            0 if r.file_distribute_rotate_count == 0 => {
                return Err(invalid("file_distribute_rotate_count", "must be >= 1"))
            }
            0 => DistributeMode::RoundRobin {
                rotate_count: r.file_distribute_rotate_count,
            },
            1 => DistributeMode::Hash,
            _ => return Err(invalid("file_distribute_path_mode", "must be 0 or 1")),
        };
        let reserve = Reserve::parse(&r.reserved_storage_space)
            .map_err(|e| invalid("reserved_storage_space", e))?;
        if r.tracker_servers.len() > 16 {
            return Err(invalid("tracker_servers", "at most 16 trackers"));
        }
        for (i, t) in r.tracker_servers.iter().enumerate() {
            let ok = t
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                return Err(invalid(
                    format!("tracker_servers[{i}]"),
                    format!("{t:?} is not host:port"),
                ));
            }
        }
        if r.heart_beat_interval == 0 || r.stat_report_interval == 0 {
            return Err(invalid("heart_beat_interval", "intervals must be >= 1 s"));
        }
        let allow_hosts = r
            .allow_hosts
            .iter()
            .map(|h| HostRule::parse(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("allow_hosts", e))?;
        if tracing_subscriber::EnvFilter::try_new(&r.log_level).is_err() {
            return Err(invalid("log_level", "not a valid level/filter"));
        }
        let l = r.limits;
        if l.max_connections == 0 {
            return Err(invalid("limits.max_connections", "must be >= 1"));
        }
        let max_file_size =
            parse_bytes(&l.max_file_size).map_err(|e| invalid("limits.max_file_size", e))?;
        let max_request_body =
            parse_bytes(&l.max_request_body).map_err(|e| invalid("limits.max_request_body", e))?;
        if max_request_body < 1024 {
            // Metadata and file names must fit; FastDFS uses 256 KB.
            return Err(invalid("limits.max_request_body", "must be >= 1K"));
        }
        if l.network_timeout == 0 || l.idle_timeout == 0 {
            return Err(invalid("limits.network_timeout", "timeouts must be >= 1 s"));
        }
        let durability = match r.sync.durability.as_str() {
            "auto" => Durability::Auto,
            "fsync" => Durability::Fsync,
            "journal" => Durability::Journal,
            _ => return Err(invalid("sync.durability", "must be auto, fsync or journal")),
        };
        if r.sync.commit_max_batch == 0 {
            return Err(invalid("sync.commit_max_batch", "must be >= 1"));
        }
        let binlog_rotate_size = parse_bytes(&r.sync.binlog_rotate_size)
            .map_err(|e| invalid("sync.binlog_rotate_size", e))?;
        if binlog_rotate_size < 4096 {
            return Err(invalid("sync.binlog_rotate_size", "must be >= 4K"));
        }
        if r.storage_id.is_some_and(|id| id == 0 || id > 0xFF_FFFF) {
            return Err(invalid("storage_id", "must be 1..=16777215"));
        }
        let replication = r
            .replication
            .validate()
            .map_err(|(key, why)| invalid(key, why))?;
        Ok(Config {
            group_name: r.group_name,
            listen: SocketAddr::new(r.bind_addr, r.port),
            base_path: r.base_path,
            store_paths,
            subdir_count: r.subdir_count_per_path,
            precreate_subdirs: r.precreate_subdirs,
            distribute,
            reserve,
            source_ip: r.source_ip,
            response_ip_width,
            worker_threads: r.worker_threads,
            tracker_servers: r.tracker_servers,
            heart_beat_interval: Duration::from_secs(r.heart_beat_interval),
            stat_report_interval: Duration::from_secs(r.stat_report_interval),
            allow_hosts,
            log_file: r.log_file,
            log_level: r.log_level,
            max_connections: l.max_connections,
            max_file_size,
            max_request_body,
            network_timeout: Duration::from_secs(l.network_timeout),
            idle_timeout: Duration::from_secs(l.idle_timeout),
            shutdown_grace: Duration::from_secs(l.shutdown_grace),
            durability,
            commit_max_batch: r.sync.commit_max_batch,
            binlog_rotate_size,
            storage_id: r.storage_id,
            replication,
            effective,
        })
    }

    pub fn host_allowed(&self, ip: IpAddr) -> bool {
        self.allow_hosts.iter().any(|r| r.matches(ip))
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

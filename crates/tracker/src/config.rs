//! `tracker.toml`: parsing and validation. `conf/tracker.toml` is the documented example.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fdfs_proto::IpWidth;
use serde::{Deserialize, Serialize};

pub use fdfs_daemon::config::ConfigError;
pub use fdfs_daemon::HostRule;

use fdfs_daemon::config::{invalid, parse_bytes};

/// How 101/106 pick a group (FastDFS `store_lookup` 0/1/2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreLookup {
    RoundRobin,
    SpecifiedGroup,
    LoadBalance,
}

/// How a storage is picked inside a group (FastDFS `store_server` 0/1/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreServer {
    RoundRobin,
    FirstById,
    Priority,
}

/// How a store path is picked on the storage (FastDFS `store_path` 0/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StorePath {
    RoundRobin,
    LoadBalance,
}

/// How 102/105 pick a storage (FastDFS `download_server` 0/1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadServer {
    RoundRobin,
    SourceFirst,
}

/// Layout of the 90/91/92 listing records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListLayout {
    /// FastDFS ≥ 6.13.1: 113-byte groups, 487/517-byte storages (HEAD `fdfs_monitor`).
    Current,
    /// FastDFS ≤ 6.10: 105-byte groups, 612-byte storages (fdfs-client-py3, old SDKs).
    EraA,
}

/// Space every store path must keep free (FastDFS `reserved_storage_space`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reserve {
    Mb(u64),
    /// Fraction of the path's total, 0.0..1.0.
    Ratio(f64),
}

impl Reserve {
    /// `20%`, `10.5%`, or a size with unit (`1G`, `512M`, `4096K`, bytes without unit).
    pub fn parse(s: &str) -> Result<Reserve, String> {
        // The tracker compares against the MB figures storages report.
        Ok(match fdfs_daemon::config::Reserve::parse(s)? {
            fdfs_daemon::config::Reserve::Bytes(b) => Reserve::Mb(b >> 20),
            fdfs_daemon::config::Reserve::Ratio(r) => Reserve::Ratio(r),
        })
    }

    /// Whether a store path with these figures still accepts uploads. An absolute reserve is
    /// shared between the storage's paths, as FastDFS does.
    pub fn path_ok(self, total_mb: i64, free_mb: i64, path_count: usize) -> bool {
        match self {
            Reserve::Mb(mb) => {
                let per_path = mb / path_count.max(1) as u64;
                free_mb > 0 && free_mb as u64 > per_path
            }
            Reserve::Ratio(r) => total_mb > 0 && free_mb as f64 / total_mb as f64 > r,
        }
    }

    /// The reserve in MB for a path of `total_mb` (what listings show).
    pub fn mb_for(self, total_mb: i64) -> i64 {
        match self {
            Reserve::Mb(mb) => i64::try_from(mb).unwrap_or(i64::MAX),
            Reserve::Ratio(r) => (total_mb.max(0) as f64 * r) as i64,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "d_bind")]
    bind_addr: IpAddr,
    #[serde(default = "d_port")]
    port: u16,
    base_path: PathBuf,
    #[serde(default = "d_lookup")]
    store_lookup: StoreLookup,
    store_group: Option<String>,
    #[serde(default = "d_server")]
    store_server: StoreServer,
    #[serde(default = "d_path")]
    store_path: StorePath,
    #[serde(default = "d_download")]
    download_server: DownloadServer,
    #[serde(default = "d_reserve")]
    reserved_storage_space: String,
    #[serde(default = "d_beat")]
    heart_beat_interval: u64,
    #[serde(default = "d_check")]
    check_active_interval: u64,
    #[serde(default = "d_max_delay")]
    storage_sync_file_max_delay: u64,
    #[serde(default = "d_max_time")]
    storage_sync_file_max_time: u64,
    #[serde(default = "d_ipsize")]
    response_ip_addr_size: u8,
    #[serde(default = "d_layout")]
    list_layout: ListLayout,
    #[serde(default = "d_allow")]
    allow_hosts: Vec<String>,
    log_file: Option<PathBuf>,
    #[serde(default = "d_log_level")]
    log_level: String,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    max_connections: usize,
    max_pkg_size: String,
    network_timeout: u64,
    idle_timeout: u64,
    shutdown_grace: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_connections: 1024,
            max_pkg_size: "128K".into(),
            network_timeout: 30,
            idle_timeout: 900,
            shutdown_grace: 10,
        }
    }
}

fn d_bind() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}
fn d_port() -> u16 {
    22122
}
fn d_lookup() -> StoreLookup {
    StoreLookup::LoadBalance
}
fn d_server() -> StoreServer {
    StoreServer::RoundRobin
}
fn d_path() -> StorePath {
    StorePath::RoundRobin
}
fn d_download() -> DownloadServer {
    DownloadServer::RoundRobin
}
fn d_reserve() -> String {
    "10%".into()
}
fn d_beat() -> u64 {
    30
}
fn d_check() -> u64 {
    100
}
fn d_max_delay() -> u64 {
    86400
}
fn d_max_time() -> u64 {
    300
}
fn d_ipsize() -> u8 {
    16
}
fn d_layout() -> ListLayout {
    ListLayout::Current
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
    pub listen: SocketAddr,
    pub base_path: PathBuf,
    pub store_lookup: StoreLookup,
    /// Set exactly when `store_lookup = specified_group`.
    pub store_group: Option<String>,
    pub store_server: StoreServer,
    pub store_path: StorePath,
    pub download_server: DownloadServer,
    pub reserve: Reserve,
    /// Kept for the parameters reply (75).
    pub reserve_text: String,
    pub heart_beat_interval: Duration,
    pub check_active_interval: Duration,
    pub sync_file_max_delay: i64,
    pub sync_file_max_time: i64,
    pub ip_width: IpWidth,
    pub list_layout: ListLayout,
    pub allow_hosts: Vec<HostRule>,
    pub log_file: Option<PathBuf>,
    pub log_level: String,
    pub max_connections: usize,
    pub max_pkg_size: u64,
    pub network_timeout: Duration,
    pub idle_timeout: Duration,
    pub shutdown_grace: Duration,
    /// The settings as a `tracker.toml` with every default written out (`--check-config`).
    pub effective: String,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        fdfs_daemon::config::load(path, Self::from_raw)
    }

    pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
        fdfs_daemon::config::parse(text, Path::new("<string>"), Self::from_raw)
    }

    fn from_raw(r: RawConfig) -> Result<Config, ConfigError> {
        let effective = toml::to_string(&r).map_err(|e| invalid("(all)", e.to_string()))?;
        let store_group = match (&r.store_lookup, r.store_group) {
            (StoreLookup::SpecifiedGroup, Some(g)) => {
                fdfs_proto::fileid::validate_group_name(g.as_bytes())
                    .map_err(|_| invalid("store_group", format!("{g:?} is not a group name")))?;
                Some(g)
            }
            (StoreLookup::SpecifiedGroup, None) => {
                return Err(invalid(
                    "store_group",
                    "required when store_lookup = \"specified_group\"",
                ))
            }
            (_, _) => None,
        };
        let reserve = Reserve::parse(&r.reserved_storage_space)
            .map_err(|e| invalid("reserved_storage_space", e))?;
        if r.heart_beat_interval == 0 {
            return Err(invalid("heart_beat_interval", "must be >= 1 s"));
        }
        // A check interval at or below the beat interval would flap healthy storages.
        if r.check_active_interval <= r.heart_beat_interval {
            return Err(invalid(
                "check_active_interval",
                "must be larger than heart_beat_interval",
            ));
        }
        let ip_width = match r.response_ip_addr_size {
            16 => IpWidth::V4,
            46 => IpWidth::V6,
            n => {
                return Err(invalid(
                    "response_ip_addr_size",
                    format!("{n}: must be 16 or 46"),
                ))
            }
        };
        let allow_hosts = r
            .allow_hosts
            .iter()
            .map(|h| HostRule::parse(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("allow_hosts", e))?;
        // Below 4 KiB a JOIN listing 16 trackers would not fit.
        let max_pkg_size = parse_bytes(&r.limits.max_pkg_size)
            .ok()
            .filter(|n| (4096..=16 << 20).contains(n))
            .ok_or_else(|| invalid("limits.max_pkg_size", "a size between 4K and 16M"))?;
        if r.limits.max_connections == 0 {
            return Err(invalid("limits.max_connections", "must be >= 1"));
        }
        if r.limits.network_timeout == 0 || r.limits.idle_timeout == 0 {
            return Err(invalid("limits.network_timeout", "timeouts must be >= 1 s"));
        }
        Ok(Config {
            listen: SocketAddr::new(r.bind_addr, r.port),
            base_path: r.base_path,
            store_lookup: r.store_lookup,
            store_group,
            store_server: r.store_server,
            store_path: r.store_path,
            download_server: r.download_server,
            reserve,
            reserve_text: r.reserved_storage_space,
            heart_beat_interval: Duration::from_secs(r.heart_beat_interval),
            check_active_interval: Duration::from_secs(r.check_active_interval),
            sync_file_max_delay: i64::try_from(r.storage_sync_file_max_delay).unwrap_or(i64::MAX),
            sync_file_max_time: i64::try_from(r.storage_sync_file_max_time).unwrap_or(i64::MAX),
            ip_width,
            list_layout: r.list_layout,
            allow_hosts,
            log_file: r.log_file,
            log_level: r.log_level,
            max_connections: r.limits.max_connections,
            max_pkg_size,
            network_timeout: Duration::from_secs(r.limits.network_timeout),
            idle_timeout: Duration::from_secs(r.limits.idle_timeout),
            shutdown_grace: Duration::from_secs(r.limits.shutdown_grace),
            effective,
        })
    }

    pub fn host_allowed(&self, ip: IpAddr) -> bool {
        self.allow_hosts.iter().any(|h| h.matches(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::parse_str("base_path = \"/tmp/x\"").unwrap();
        assert_eq!(c.listen.port(), 22122);
        assert!(c.listen.ip().is_loopback());
        assert_eq!(c.ip_width, IpWidth::V4);
        assert_eq!(c.reserve, Reserve::Ratio(0.1));
        assert_eq!(c.max_pkg_size, 128 * 1024);
        assert_eq!(c.store_lookup, StoreLookup::LoadBalance);
    }

    #[test]
    fn documented_example_parses_and_states_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf/tracker.toml");
        let ex = Config::load(Path::new(path)).unwrap();
        let d = Config::parse_str(&format!("base_path = {:?}", ex.base_path)).unwrap();
        assert_eq!(ex.effective, d.effective);
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            "response_ip_addr_size = 32",
            "reserved_storage_space = \"120%\"",
            "reserved_storage_space = \"12Q\"",
            "store_lookup = \"specified_group\"",
            "store_lookup = \"specified_group\"\nstore_group = \"bad/name\"",
            "store_lookup = \"sideways\"",
            "list_layout = \"v7\"",
            "heart_beat_interval = 30\ncheck_active_interval = 30",
            "allow_hosts = [\"10.0.0.0/33\"]",
            "typo_key = 1",
            "[limits]\nmax_pkg_size = \"1K\"",
            "[limits]\nmax_connections = 0",
        ] {
            let text = format!("base_path = \"/tmp/x\"\n{bad}");
            assert!(Config::parse_str(&text).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn reserve_rules() {
        assert_eq!(Reserve::parse("1G").unwrap(), Reserve::Mb(1024));
        assert_eq!(Reserve::parse("2048").unwrap(), Reserve::Mb(0));
        let r = Reserve::Mb(1000);
        assert!(r.path_ok(5000, 600, 2));
        assert!(!r.path_ok(5000, 400, 2));
        let r = Reserve::Ratio(0.2);
        assert!(r.path_ok(100, 21, 1));
        assert!(!r.path_ok(100, 20, 1));
        assert!(!r.path_ok(0, 0, 1));
    }

    #[test]
    fn host_rules() {
        let r = HostRule::parse("10.1.0.0/16").unwrap();
        assert!(r.matches("10.1.2.3".parse().unwrap()));
        assert!(!r.matches("10.2.0.1".parse().unwrap()));
        assert!(r.matches("::ffff:10.1.9.9".parse().unwrap()));
        assert!(HostRule::parse("*")
            .unwrap()
            .matches("::1".parse().unwrap()));
    }
}

//! `tyrant.toml` plus command-line overrides, validated into [`Config`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::log::SyncMode;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or parsing the file; names file and line.
    #[error(transparent)]
    File(#[from] fdfs_daemon::config::ConfigError),
    #[error("invalid value for `{field}`: {msg}")]
    Invalid { field: &'static str, msg: String },
}

fn invalid(field: &'static str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        msg: msg.into(),
    }
}

/// The file as written; every field optional so flags and defaults can fill the gaps.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub threads: Option<usize>,
    pub sync: Option<String>,
    pub direct_io: Option<bool>,
    pub segment_size: Option<String>,
    pub checkpoint_size: Option<String>,
    pub checkpoint_interval_secs: Option<u64>,
    pub compact_ratio: Option<f64>,
    pub compact_interval_secs: Option<u64>,
    pub scrub_interval_secs: Option<u64>,
    pub server_id: Option<u16>,
    pub master: Option<String>,
    pub read_only: Option<bool>,
    pub allow_write: Option<Vec<String>>,
    pub max_connections: Option<usize>,
    pub idle_timeout_secs: Option<u64>,
    pub max_key_len: Option<usize>,
    pub max_item_size: Option<String>,
    pub max_line: Option<usize>,
    pub allow_flush_all: Option<bool>,
    pub http_key_mode: Option<String>,
    pub pid_file: Option<PathBuf>,
    pub log_level: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Key = the request path as nginx `$uri` holds it, escaped the way `memcached_pass` sends it.
    Nginx,
    /// Tokyo Tyrant: drop one leading `/`, percent-decode the rest (query included).
    Tt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    pub fn parse(s: &str) -> Result<Net, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("bad address {a:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .map_err(|_| format!("bad prefix {p:?}"))?,
            None => max,
        };
        if prefix > max {
            return Err(format!("prefix /{prefix} too long"));
        }
        Ok(Net { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask_eq(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask_eq(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask_eq(n: &[u8], a: &[u8], prefix: u8) -> bool {
    let full = (prefix / 8) as usize;
    if n[..full] != a[..full] {
        return false;
    }
    let rem = prefix % 8;
    rem == 0 || (n[full] ^ a[full]) & (0xffu8 << (8 - rem)) == 0
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub threads: usize,
    pub sync: SyncMode,
    /// Append to the log with O_DIRECT (falls back to buffered writes where refused).
    pub direct_io: bool,
    pub segment_bytes: u64,
    pub checkpoint_bytes: u64,
    pub checkpoint_interval: Duration,
    pub compact_ratio: f64,
    pub compact_interval: Duration,
    /// One sealed segment is crc-checked per interval (None = never).
    pub scrub_interval: Option<Duration>,
    pub server_id: u16,
    pub master: Option<String>,
    pub read_only: bool,
    pub allow_write: Vec<Net>,
    pub max_connections: usize,
    pub idle_timeout: Option<Duration>,
    pub max_key_len: usize,
    pub max_item_size: usize,
    pub max_line: usize,
    pub allow_flush_all: bool,
    pub http_key_mode: KeyMode,
    pub pid_file: Option<PathBuf>,
    pub log_level: String,
}

/// `64m`, `1g`, `512k`, `4096`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (&t[..], 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad size {s:?} (examples: 4096, 512k, 64m, 1g)"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("size {s:?} overflows"))
}

/// The largest unit that divides `n` exactly, as [`parse_size`] reads it.
fn show_size(n: u64) -> String {
    for (unit, shift) in [("g", 30), ("m", 20), ("k", 10)] {
        if n != 0 && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

pub fn parse_sync(s: &str) -> Result<SyncMode, String> {
    match s.trim() {
        "always" => Ok(SyncMode::Always),
        "none" => Ok(SyncMode::Never),
        other => match other.strip_prefix("interval:") {
            Some(ms) => {
                let ms: u64 = ms
                    .parse()
                    .map_err(|_| format!("bad sync interval {ms:?}"))?;
                if ms == 0 {
                    return Err("sync interval must be > 0 ms".into());
                }
                Ok(SyncMode::Interval(Duration::from_millis(ms)))
            }
            None => Err(format!(
                "bad sync mode {other:?}: use always, interval:<ms> or none"
            )),
        },
    }
}

impl FileConfig {
    pub fn load(path: &std::path::Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            fdfs_daemon::config::ConfigError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
        Ok(fdfs_daemon::config::parse_toml(&text, path)?)
    }

    /// Fields set in `over` win.
    pub fn merge(self, over: FileConfig) -> FileConfig {
        macro_rules! pick {
            ($($f:ident),*) => { FileConfig { $($f: over.$f.or(self.$f)),* } };
        }
        pick!(
            listen,
            data_dir,
            threads,
            sync,
            direct_io,
            segment_size,
            checkpoint_size,
            checkpoint_interval_secs,
            compact_ratio,
            compact_interval_secs,
            scrub_interval_secs,
            server_id,
            master,
            read_only,
            allow_write,
            max_connections,
            idle_timeout_secs,
            max_key_len,
            max_item_size,
            max_line,
            allow_flush_all,
            http_key_mode,
            pid_file,
            log_level
        )
    }

    pub fn validate(self) -> Result<Config, ConfigError> {
        let listen = self.listen.as_deref().unwrap_or("127.0.0.1:1978");
        let listen: SocketAddr = listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{listen:?} is not host:port (an IP address)"),
            )
        })?;
        let size =
            |field: &'static str, v: Option<String>, default: &str| -> Result<u64, ConfigError> {
                parse_size(v.as_deref().unwrap_or(default)).map_err(|m| invalid(field, m))
            };
        let segment_bytes = size("segment_size", self.segment_size, "1g")?;
        if !(1 << 20..=1 << 39).contains(&segment_bytes) {
            return Err(invalid("segment_size", "must be between 1m and 512g"));
        }
        let max_item_size = size("max_item_size", self.max_item_size, "64m")?;
        if max_item_size == 0 || max_item_size > 1 << 30 {
            return Err(invalid("max_item_size", "must be between 1 and 1g"));
        }
        let max_key_len = self.max_key_len.unwrap_or(250);
        if !(1..=65535).contains(&max_key_len) {
            return Err(invalid("max_key_len", "must be between 1 and 65535"));
        }
        let allow_write = self
            .allow_write
            .unwrap_or_else(|| vec!["127.0.0.0/8".into(), "::1/128".into()])
            .iter()
            .map(|s| Net::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| invalid("allow_write", m))?;
        let server_id = self.server_id.unwrap_or(1);
        if server_id == 0 {
            return Err(invalid("server_id", "must be non-zero"));
        }
        if let Some(m) = &self.master {
            if m.rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err(invalid("master", format!("{m:?} is not host:port")));
            }
        }
        let http_key_mode = match self.http_key_mode.as_deref().unwrap_or("nginx") {
            "nginx" => KeyMode::Nginx,
            "tt" => KeyMode::Tt,
            other => {
                return Err(invalid(
                    "http_key_mode",
                    format!("{other:?}: use nginx or tt"),
                ))
            }
        };
        let threads = self.threads.unwrap_or(2);
        if threads == 0 || threads > 1024 {
            return Err(invalid("threads", "must be between 1 and 1024"));
        }
        Ok(Config {
            listen,
            // No default: a daemon started by hand must not create a directory it was not told of.
            data_dir: self.data_dir.ok_or_else(|| {
                invalid(
                    "data_dir",
                    "no data directory: pass --data-dir DIR or set data_dir = \"DIR\" in the \
                     config file (tyrantd has no default and writes nowhere else)",
                )
            })?,
            threads,
            sync: parse_sync(self.sync.as_deref().unwrap_or("always"))
                .map_err(|m| invalid("sync", m))?,
            direct_io: self.direct_io.unwrap_or(true),
            segment_bytes,
            checkpoint_bytes: size("checkpoint_size", self.checkpoint_size, "256m")?,
            checkpoint_interval: Duration::from_secs(
                self.checkpoint_interval_secs.unwrap_or(300).max(1),
            ),
            compact_ratio: match self.compact_ratio.unwrap_or(0.5) {
                r if (0.0..1.0).contains(&r) => r,
                _ => return Err(invalid("compact_ratio", "must be in [0, 1)")),
            },
            compact_interval: Duration::from_secs(self.compact_interval_secs.unwrap_or(60).max(1)),
            scrub_interval: match self.scrub_interval_secs.unwrap_or(600) {
                0 => None,
                s => Some(Duration::from_secs(s)),
            },
            server_id,
            master: self.master,
            read_only: self.read_only.unwrap_or(false),
            allow_write,
            max_connections: self.max_connections.unwrap_or(10_000).max(1),
            idle_timeout: match self.idle_timeout_secs.unwrap_or(0) {
                0 => None,
                s => Some(Duration::from_secs(s)),
            },
            max_key_len,
            max_item_size: max_item_size as usize,
            max_line: self.max_line.unwrap_or(64 * 1024).clamp(1024, 16 << 20),
            allow_flush_all: self.allow_flush_all.unwrap_or(false),
            http_key_mode,
            pid_file: self.pid_file,
            log_level: self.log_level.unwrap_or_else(|| "info".into()),
        })
    }
}

impl Config {
    /// The settings as a `tyrant.toml` with every default written out (`--check-config`).
    pub fn effective(&self) -> FileConfig {
        let secs = |d: Option<Duration>| Some(d.map_or(0, |d| d.as_secs()));
        FileConfig {
            listen: Some(self.listen.to_string()),
            data_dir: Some(self.data_dir.clone()),
            threads: Some(self.threads),
            sync: Some(match self.sync {
                SyncMode::Always => "always".into(),
                SyncMode::Never => "none".into(),
                SyncMode::Interval(d) => format!("interval:{}", d.as_millis()),
            }),
            direct_io: Some(self.direct_io),
            segment_size: Some(show_size(self.segment_bytes)),
            checkpoint_size: Some(show_size(self.checkpoint_bytes)),
            checkpoint_interval_secs: Some(self.checkpoint_interval.as_secs()),
            compact_ratio: Some(self.compact_ratio),
            compact_interval_secs: Some(self.compact_interval.as_secs()),
            scrub_interval_secs: secs(self.scrub_interval),
            server_id: Some(self.server_id),
            master: self.master.clone(),
            read_only: Some(self.read_only),
            allow_write: Some(self.allow_write.iter().map(|n| n.to_string()).collect()),
            max_connections: Some(self.max_connections),
            idle_timeout_secs: secs(self.idle_timeout),
            max_key_len: Some(self.max_key_len),
            max_item_size: Some(show_size(self.max_item_size as u64)),
            max_line: Some(self.max_line),
            allow_flush_all: Some(self.allow_flush_all),
            http_key_mode: Some(
                match self.http_key_mode {
                    KeyMode::Nginx => "nginx",
                    KeyMode::Tt => "tt",
                }
                .into(),
            ),
            pid_file: self.pid_file.clone(),
            log_level: Some(self.log_level.clone()),
        }
    }

    pub fn may_write(&self, peer: IpAddr) -> bool {
        self.allow_write.iter().any(|n| n.contains(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_sync_modes() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999999g").is_err());
        assert_eq!(parse_sync("always"), Ok(SyncMode::Always));
        assert_eq!(
            parse_sync("interval:100"),
            Ok(SyncMode::Interval(Duration::from_millis(100)))
        );
        assert!(parse_sync("interval:0").is_err());
        assert!(parse_sync("sometimes").is_err());
    }

    #[test]
    fn networks() {
        let n = Net::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(Net::parse("127.0.0.0/8")
            .unwrap()
            .contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(Net::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(Net::parse("1.2.3.4/33").is_err());
        assert!(Net::parse("nonsense").is_err());
    }

    #[test]
    fn example_file_parses_and_defaults_apply() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/tyrant.toml");
        let c = FileConfig::load(&path).unwrap().validate().unwrap();
        assert_eq!(c.sync, SyncMode::Always);
        assert!(FileConfig::default().validate().is_err(), "no data_dir");
        let d = FileConfig {
            data_dir: Some("/nonexistent".into()),
            ..FileConfig::default()
        }
        .validate()
        .unwrap();
        assert_eq!(d.listen.to_string(), "127.0.0.1:1978");
        assert!(d.may_write("127.0.0.1".parse().unwrap()));
        assert!(!d.may_write("192.0.2.1".parse().unwrap()));
        let bad: Result<FileConfig, _> = toml::from_str("listne = \"x\"");
        assert!(bad.is_err());
    }
}

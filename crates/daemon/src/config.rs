//! Configuration pieces the daemons share: the error type, reading a TOML file, sizes with
//! units, and FastDFS's `reserved_storage_space`.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

pub fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// Reads and deserialises a TOML file (validation is the caller's).
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text, path)
}

/// Deserialises TOML text; `origin` names it in errors.
pub fn parse_toml<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|source| ConfigError::Parse {
        path: origin.to_owned(),
        source,
    })
}

/// `123`, `64K`, `512M`, `2G`, `1T` (binary units, optional trailing `B`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim().trim_end_matches(['B', 'b']);
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mul: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown unit in {s:?}")),
            };
            (&t[..i], mul)
        }
        _ => (t, 1),
    };
    let n: u64 = num.trim().parse().map_err(|_| format!("bad size {s:?}"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("size {s:?} overflows"))
}

/// Disk space that uploads must leave free (FastDFS `reserved_storage_space`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reserve {
    Bytes(u64),
    /// Fraction of the store path's total size, 0.0..1.0.
    Ratio(f64),
}

impl Reserve {
    /// `20%`, `10.5%`, or a size with unit (`1G`, `512M`, `4096K`, bytes without unit).
    pub fn parse(s: &str) -> Result<Reserve, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("bad percentage {s:?}"))?;
            if !(0.0..100.0).contains(&v) {
                return Err(format!("percentage {s:?} must be in 0..100"));
            }
            return Ok(Reserve::Ratio(v / 100.0));
        }
        parse_bytes(s).map(Reserve::Bytes)
    }

    pub fn bytes_for_total(self, total: u64) -> u64 {
        match self {
            Reserve::Bytes(b) => b,
            Reserve::Ratio(r) => (total as f64 * r) as u64,
        }
    }
}

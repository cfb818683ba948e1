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
    /// Not TOML (or not this daemon's keys); `line` from the parser's span.
    #[error("{}: {message}", at(path, *line))]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error(
        "{}: this looks like a FastDFS ini file (line {line}: `{text}`), but this version reads \
         TOML: quote string values (`key = \"value\"`), see the example files in conf/",
        path.display()
    )]
    IniFile {
        path: PathBuf,
        line: usize,
        text: String,
    },
    /// A value that parsed but did not validate; `path`/`line` once known.
    #[error("{}invalid value for `{key}`: {reason}", origin(path.as_deref(), *line))]
    Invalid {
        key: String,
        reason: String,
        path: Option<PathBuf>,
        line: Option<usize>,
    },
}

fn at(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{}:{l}", path.display()),
        None => path.display().to_string(),
    }
}

fn origin(path: Option<&Path>, line: Option<usize>) -> String {
    path.map(|p| format!("{}: ", at(p, line)))
        .unwrap_or_default()
}

pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
        path: None,
        line: None,
    }
}

/// Reads a TOML file and validates it with `validate`; every error names the file and, where
/// the text has one, the line.
pub fn load<R: DeserializeOwned, C>(
    path: &Path,
    validate: impl FnOnce(R) -> Result<C, ConfigError>,
) -> Result<C, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path, validate)
}

/// [`load`] on text already read; `origin` names it in errors.
pub fn parse<R: DeserializeOwned, C>(
    text: &str,
    origin: &Path,
    validate: impl FnOnce(R) -> Result<C, ConfigError>,
) -> Result<C, ConfigError> {
    let raw = parse_toml(text, origin)?;
    validate(raw).map_err(|e| locate(e, text, origin))
}

/// Gives an [`ConfigError::Invalid`] without a place the file and line of its key in `text`.
pub fn locate(e: ConfigError, text: &str, origin: &Path) -> ConfigError {
    match e {
        ConfigError::Invalid {
            key,
            reason,
            path: None,
            ..
        } => {
            let line = key_line(text, &key);
            ConfigError::Invalid {
                key,
                reason,
                path: Some(origin.to_owned()),
                line,
            }
        }
        e => e,
    }
}

/// 1-based line where the value of `key` starts: dotted for tables (`limits.max_file_size`),
/// `name[i]` for an array element. None when the key is not in the text (a default failed).
pub fn key_line(text: &str, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item = doc.as_item();
    for part in key.split('.') {
        let (name, index) = match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
            Some((n, i)) => (n, i.parse::<usize>().ok()),
            None => (part, None),
        };
        item = item.get(name)?;
        if let Some(i) = index {
            match item.as_array().and_then(|a| a.get(i)) {
                Some(v) => return v.span().map(|s| line_of(text, s.start)),
                None => break,
            }
        }
    }
    item.span().map(|s| line_of(text, s.start))
}

fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// Deserialises TOML text; `origin` names it in errors.
pub fn parse_toml<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        if let Some((line, text)) = ini_line(text) {
            return ConfigError::IniFile {
                path: origin.to_owned(),
                line,
                text,
            };
        }
        // The parser's message may span lines ("invalid string\nexpected `\"`"); keep one.
        let message = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError::Parse {
            path: origin.to_owned(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: match e.span().and_then(|s| key_before(text, s.start)) {
                Some(key) => format!("invalid value for `{key}`: {message}"),
                None => message,
            },
        }
    })
}

/// The key of the `key = value` line whose value holds `offset` (a type error names no key).
fn key_before(text: &str, offset: usize) -> Option<&str> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = text[start..offset].split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('#')).then_some(key)
}

/// The first `key=value` line whose value is not a TOML value (`group_name=group1`), in a text
/// that quotes no value at all: what a FastDFS `.conf` file is made of. A TOML file with one
/// unquoted string quotes its others, so it gets the parser's message.
fn ini_line(text: &str) -> Option<(usize, String)> {
    let mut first = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if t.starts_with('#')
            || k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            continue;
        }
        let v = v.trim();
        if v.starts_with(['"', '\'', '[', '{']) {
            return None;
        }
        if first.is_none() && !v.is_empty() && format!("x = {v}").parse::<toml::Table>().is_err() {
            first = Some((i + 1, t.to_owned()));
        }
    }
    first
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

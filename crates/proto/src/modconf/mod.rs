//! `mod_fastdfs.conf` (and the `http.conf` it `#include`s), as fastdfs-nginx-module reads
//! them, so an existing file works unchanged with our nginx module (`fastdfs_conf`).
//!
//! The format is libfastcommon's ini: `key = value` lines (spaces around both trimmed), `#`
//! comments, `#include FILE` (relative to the including file), `[section]` headers, repeated
//! keys kept in order. Booleans are true for `true`, `yes`, `on` or `1` (any case).
//!
//! | key | meaning here |
//! |---|---|
//! | `group_name`, `store_path_count`, `store_path0..N` (`base_path` when `store_path0` is missing) | the local group and its store paths |
//! | `group_count` + `[group1]..[groupN]` with `group_name`, `store_path_count`, `store_pathN` | several local groups (needs `url_have_group_name = true`) |
//! | `url_have_group_name` | as `fastdfs_url_have_group_name` |
//! | `response_mode` (`proxy`/`redirect`) | as `fastdfs_response_mode` |
//! | `storage_sync_file_max_delay` | as `fastdfs_sync_max_delay` |
//! | `flv_support`, `flv_extension` | as `fastdfs_flv`, `fastdfs_flv_extension` |
//! | `http.anti_steal.check_token`, `.token_ttl`, `.secret_key`, `.token_check_fail` | tokens |
//! | `anti_steal_bypass_header_name`, `anti_steal_bypass_header_value` | token bypass header |
//! | `load_fdfs_parameters_from_tracker`, `tracker_server`, `use_storage_id` | reported in `warnings`: nothing is fetched from a tracker at start |
//!
//! Other keys (timeouts, logging, ports, mime types) have no meaning for an nginx module that
//! serves through nginx itself and are ignored.

use thiserror::Error;

/// One `key = value` line, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file the line is in (an included file names itself).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The `[section]` the line is under, if any.
    pub section: Option<String>,
    /// Text before the first `=`, trimmed.
    pub key: String,
    /// Text after the first `=`, trimmed.
    pub value: String,
}

/// A bad file or value, naming the file, the line and the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}: {key}: {message}", where_(file, *line))]
pub struct ConfError {
    /// The file holding the bad line (or missing the key).
    pub file: String,
    /// 1-based line, or 0 when the key is missing altogether.
    pub line: usize,
    /// The key (or `#include`).
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// `file:line`, or just `file` for a key that is missing altogether (line 0).
fn where_(file: &str, line: usize) -> String {
    if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}")
    }
}

/// Reads an included file: given the including file and the name after `#include`, returns
/// the included file's path and text.
pub type Include<'a> = dyn FnMut(&str, &str) -> Result<(String, String), String> + 'a;

const MAX_INCLUDE_DEPTH: usize = 8;

/// Parses `text` (the contents of `file`) into entries, following `#include`.
pub fn parse_ini(
    file: &str,
    text: &str,
    include: &mut Include<'_>,
) -> Result<Vec<Entry>, ConfError> {
    let mut out = Vec::new();
    let mut section = None;
    parse_into(file, text, include, &mut section, &mut out, 0)?;
    Ok(out)
}

fn parse_into(
    file: &str,
    text: &str,
    include: &mut Include<'_>,
    section: &mut Option<String>,
    out: &mut Vec<Entry>,
    depth: usize,
) -> Result<(), ConfError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let err = |key: &str, message: String| ConfError {
            file: file.to_string(),
            line: i + 1,
            key: key.to_string(),
            message,
        };
        if let Some(name) = line.strip_prefix("#include") {
            let name = name.trim();
            if name.is_empty() || depth >= MAX_INCLUDE_DEPTH {
                return Err(err("#include", "empty or too deeply nested include".into()));
            }
            let (path, inner) = include(file, name).map_err(|e| err("#include", e))?;
            parse_into(&path, &inner, include, section, out, depth + 1)?;
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            *section = Some(name.trim().to_string());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(line, "expected key = value".into()));
        };
        out.push(Entry {
            file: file.to_string(),
            line: i + 1,
            section: section.clone(),
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        });
    }
    Ok(())
}

/// A local group and its store paths (index `i` is `M<i>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPaths {
    /// `group_name`.
    pub name: String,
    /// `store_path0..N`, as written.
    pub store_paths: Vec<String>,
}

/// Token settings (`http.anti_steal.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// `http.anti_steal.secret_key`.
    pub secret_key: String,
    /// `http.anti_steal.token_ttl` in seconds.
    pub ttl: i64,
    /// Path of the file answered on failure, as written.
    pub fail_file: Option<String>,
}

/// Everything of a mod_fastdfs.conf the nginx module uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModConf {
    /// The local groups (one unless `group_count` > 0).
    pub groups: Vec<GroupPaths>,
    /// `url_have_group_name`.
    pub url_have_group_name: bool,
    /// `true` for `redirect`, `false` for `proxy`.
    pub redirect_mode: bool,
    /// `storage_sync_file_max_delay` in seconds.
    pub sync_max_delay: i64,
    /// `flv_support`.
    pub flv: bool,
    /// `flv_extension`, without a dot.
    pub flv_extension: String,
    /// Set when `http.anti_steal.check_token` is true.
    pub token: Option<TokenSettings>,
    /// `anti_steal_bypass_header_name` and `_value`.
    pub bypass_header: Option<(String, String)>,
    /// Settings we cannot honour, for the log.
    pub warnings: Vec<String>,
}

/// libfastcommon's boolean rule.
pub fn parse_bool(v: &str) -> bool {
    ["true", "yes", "on", "1"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
}

struct Lookup<'a> {
    entries: &'a [Entry],
    file: &'a str,
}

impl<'a> Lookup<'a> {
    fn get(&self, section: Option<&str>, key: &str) -> Option<&'a Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key == key && e.section.as_deref() == section)
    }

    fn missing(&self, key: &str, message: &str) -> ConfError {
        ConfError {
            file: self.file.to_string(),
            line: 0,
            key: key.to_string(),
            message: message.to_string(),
        }
    }

    fn int(
        &self,
        section: Option<&str>,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfError> {
        let Some(e) = self.get(section, key) else {
            return Ok(default);
        };
        match e.value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(bad(
                e,
                &format!("expected a whole number from {min} to {max}"),
            )),
        }
    }

    fn flag(&self, section: Option<&str>, key: &str) -> bool {
        self.get(section, key).is_some_and(|e| parse_bool(&e.value))
    }

    fn group(&self, section: Option<&str>) -> Result<GroupPaths, ConfError> {
        let name = self
            .get(section, "group_name")
            .ok_or_else(|| self.missing("group_name", "is required"))?;
        if crate::fileid::validate_group_name(name.value.as_bytes()).is_err() {
            return Err(bad(name, "is not a valid group name"));
        }
        let count = self.int(section, "store_path_count", 1, 1, 256)?;
        let mut store_paths = Vec::new();
        for i in 0..count {
            let key = format!("store_path{i}");
            let path = match self.get(section, &key) {
                Some(e) => e,
                None if i == 0 => self
                    .get(None, "base_path")
                    .ok_or_else(|| self.missing(&key, "is required (or base_path)"))?,
                None => return Err(self.missing(&key, "is required by store_path_count")),
            };
            if !path.value.starts_with('/') {
                return Err(bad(path, "must be an absolute path"));
            }
            store_paths.push(path.value.clone());
        }
        Ok(GroupPaths {
            name: name.value.clone(),
            store_paths,
        })
    }
}

fn bad(e: &Entry, message: &str) -> ConfError {
    ConfError {
        file: e.file.clone(),
        line: e.line,
        key: e.key.clone(),
        message: format!("\"{}\" {message}", e.value),
    }
}

/// Interprets the entries of `file` as fastdfs-nginx-module does, with its validations.
pub fn mod_fastdfs_conf(file: &str, entries: &[Entry]) -> Result<ModConf, ConfError> {
    let l = Lookup { entries, file };
    let url_have_group_name = l.flag(None, "url_have_group_name");
    let group_count = l.int(None, "group_count", 0, 0, 64)?;
    let groups = if group_count == 0 {
        vec![l.group(None)?]
    } else {
        if !url_have_group_name {
            let e = l
                .get(None, "group_count")
                .ok_or_else(|| l.missing("group_count", ""))?;
            return Err(bad(e, "needs url_have_group_name = true"));
        }
        (1..=group_count)
            .map(|i| l.group(Some(&format!("group{i}"))))
            .collect::<Result<_, _>>()?
    };
    let redirect_mode = match l.get(None, "response_mode") {
        None => false,
        Some(e) if e.value == "proxy" => false,
        Some(e) if e.value == "redirect" => true,
        Some(e) => return Err(bad(e, "is neither proxy nor redirect")),
    };
    let sync_max_delay = l.int(
        None,
        "storage_sync_file_max_delay",
        86_400,
        0,
        i64::from(i32::MAX),
    )?;
    let flv_extension = l.get(None, "flv_extension").map_or("flv".to_string(), |e| {
        e.value.trim_start_matches('.').to_string()
    });
    let token = if l.flag(None, "http.anti_steal.check_token") {
        let secret = l.get(None, "http.anti_steal.secret_key").ok_or_else(|| {
            l.missing(
                "http.anti_steal.secret_key",
                "is required when check_token is true",
            )
        })?;
        if secret.value.is_empty() || secret.value.len() > 128 {
            return Err(bad(secret, "must be 1 to 128 bytes"));
        }
        Some(TokenSettings {
            secret_key: secret.value.clone(),
            ttl: l.int(
                None,
                "http.anti_steal.token_ttl",
                600,
                1,
                i64::from(i32::MAX),
            )?,
            fail_file: l
                .get(None, "http.anti_steal.token_check_fail")
                .map(|e| e.value.clone())
                .filter(|v| !v.is_empty()),
        })
    } else {
        None
    };
    let bypass_header = match (
        l.get(None, "anti_steal_bypass_header_name"),
        l.get(None, "anti_steal_bypass_header_value"),
    ) {
        (Some(n), Some(v)) if !n.value.is_empty() => Some((n.value.clone(), v.value.clone())),
        _ => None,
    };
    let mut warnings = Vec::new();
    if l.flag(None, "load_fdfs_parameters_from_tracker") {
        warnings.push(
            "load_fdfs_parameters_from_tracker: nothing is fetched from the tracker at start; storage_sync_file_max_delay applies"
                .to_string(),
        );
    }
    if l.flag(None, "use_storage_id") {
        warnings.push(
            "use_storage_id: files named by storage id are not looked for on other members"
                .to_string(),
        );
    }
    Ok(ModConf {
        groups,
        url_have_group_name,
        redirect_mode,
        sync_max_delay,
        flv: l.flag(None, "flv_support"),
        flv_extension,
        token,
        bypass_header,
        warnings,
    })
}

#[cfg(test)]
mod tests;

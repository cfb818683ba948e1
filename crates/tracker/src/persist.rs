//! Membership snapshot: `<base_path>/data/cluster.toml`, replaced atomically
//! (write temp file, fsync, rename, fsync directory) so a crash leaves the old or the new
//! snapshot, never a torn one. Counters and liveness are not persisted: after a restart every
//! member is OFFLINE until it joins again.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cluster::Group;

const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt snapshot {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: u32,
    #[serde(default)]
    groups: Vec<Group>,
}

pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Creates `<base_path>/data` if needed.
    pub fn open(base_path: &Path) -> Result<Store, PersistError> {
        let dir = base_path.join("data");
        fs::create_dir_all(&dir).map_err(|source| PersistError::Io {
            what: "create",
            path: dir.clone(),
            source,
        })?;
        Ok(Store { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("cluster.toml")
    }

    /// The saved groups; empty on first start.
    pub fn load(&self) -> Result<Vec<Group>, PersistError> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(PersistError::Io {
                    what: "read",
                    path,
                    source,
                })
            }
        };
        let snap: Snapshot = toml::from_str(&text).map_err(|e| PersistError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if snap.format != FORMAT {
            return Err(PersistError::Corrupt {
                path,
                reason: format!("format {} (this build reads {FORMAT})", snap.format),
            });
        }
        Ok(snap.groups)
    }

    pub fn save(&self, groups: Vec<Group>) -> Result<(), PersistError> {
        let snap = Snapshot {
            format: FORMAT,
            groups,
        };
        let text = toml::to_string(&snap).map_err(|e| PersistError::Corrupt {
            path: self.path(),
            reason: e.to_string(),
        })?;
        let tmp = self.dir.join("cluster.toml.tmp");
        let io = |what, path: &Path| {
            let path = path.to_owned();
            move |source| PersistError::Io { what, path, source }
        };
        let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(text.as_bytes()).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
        drop(f);
        fs::rename(&tmp, self.path()).map_err(io("rename", &tmp))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync", &self.dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::cluster::{status, Cluster, JoinInfo};

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.load().unwrap().is_empty());
        let mut c = Cluster::default();
        let j = JoinInfo {
            group: "group1".into(),
            storage_id: String::new(),
            ip: "127.0.0.1".into(),
            port: 23000,
            version: "6.16.1".into(),
            join_time: 42,
            up_time: 43,
            upload_priority: 10,
            store_path_count: 2,
            subdir_count_per_path: 256,
            reported_status: 255,
        };
        c.join(&j, 1, Instant::now()).unwrap();
        store.save(c.groups.values().cloned().collect()).unwrap();
        let back = Cluster::from_snapshot(store.load().unwrap());
        let s = &back.groups["group1"].storages[0];
        assert_eq!(
            (s.join_time, s.port, s.status),
            (42, 23000, status::OFFLINE)
        );
        fs::write(store.path(), "format = 1\ngroups = 7\n").unwrap();
        assert!(matches!(store.load(), Err(PersistError::Corrupt { .. })));
    }
}

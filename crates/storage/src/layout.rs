//! Store paths on disk, exactly as FastDFS lays them out: `<store_path>/data/HH/HH/<name>`,
//! plus our private `<store_path>/data/.tmp/` for uploads in flight (same file system, so the
//! final rename is atomic; cleared at start because nothing in it was ever acknowledged).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::config::{Config, DistributeMode, Durability};

pub const TMP_DIR: &str = ".tmp";

#[derive(Debug)]
pub struct StorePath {
    pub index: u8,
    pub root: PathBuf,
    pub data: PathBuf,
    pub tmp: PathBuf,
    /// Content may rely on the group commit's journal commit (see `config::Durability`).
    pub journal_ordered: bool,
    pub space: crate::disk::SpaceCache,
}

/// Round-robin sub-directory position, persisted like FastDFS's `storage_stat.dat` keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DistState {
    high: u32,
    low: u32,
    count: u32,
}

pub struct Layout {
    pub paths: Vec<StorePath>,
    subdir_count: u32,
    mode: DistributeMode,
    dist: Mutex<DistState>,
    stat_file: PathBuf,
    next_path: AtomicUsize,
    tmp_seq: AtomicU64,
    pid: u32,
}

impl Layout {
    /// Prepares every store path; removes leftovers of interrupted uploads.
    pub fn open(cfg: &Config) -> io::Result<Layout> {
        let base_data = cfg.base_path.join("data");
        fs::create_dir_all(&base_data).map_err(|e| with_path(e, &base_data))?;
        let (binlog_dev, _) =
            crate::disk::fs_identity(&base_data).map_err(|e| with_path(e, &base_data))?;
        let mut paths = Vec::with_capacity(cfg.store_paths.len());
        for (i, root) in cfg.store_paths.iter().enumerate() {
            let data = root.join("data");
            let tmp = data.join(TMP_DIR);
            fs::create_dir_all(&tmp).map_err(|e| with_path(e, &tmp))?;
            let removed = clean_tmp(&tmp).map_err(|e| with_path(e, &tmp))?;
            if removed > 0 {
                tracing::warn!(dir = %tmp.display(), removed, "removed orphaned temp files of interrupted uploads");
            }
            if cfg.precreate_subdirs {
                precreate(&data, cfg.subdir_count).map_err(|e| with_path(e, &data))?;
            }
            let (dev, journaled) =
                crate::disk::fs_identity(&data).map_err(|e| with_path(e, &data))?;
            let orderable = journaled && dev == binlog_dev;
            let journal_ordered = match cfg.durability {
                Durability::Fsync => false,
                Durability::Auto => orderable,
                Durability::Journal if orderable => true,
                Durability::Journal => {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!(
                            "sync.durability = \"journal\" needs {} on ext4/XFS and on the same file system as base_path",
                            root.display()
                        ),
                    ))
                }
            };
            tracing::info!(path = %root.display(), journal_ordered, "store path ready");
            paths.push(StorePath {
                index: i as u8,
                root: root.clone(),
                data,
                tmp,
                journal_ordered,
                space: Default::default(),
            });
        }
        let stat_file = base_data.join("storage_stat.dat");
        let dist = load_dist(&stat_file, cfg.subdir_count);
        Ok(Layout {
            paths,
            subdir_count: cfg.subdir_count,
            mode: cfg.distribute,
            dist: Mutex::new(dist),
            stat_file,
            next_path: AtomicUsize::new(0),
            tmp_seq: AtomicU64::new(0),
            pid: std::process::id(),
        })
    }

    /// Store path for an upload: the requested one, or round robin for 0xFF (-1).
    pub fn choose_path(&self, requested: u8) -> Option<&StorePath> {
        if requested == 0xFF {
            let i = self.next_path.fetch_add(1, Ordering::Relaxed) % self.paths.len();
            return self.paths.get(i);
        }
        self.paths.get(usize::from(requested))
    }

    pub fn path(&self, index: u8) -> Option<&StorePath> {
        self.paths.get(usize::from(index))
    }

    /// A fresh, unique temp file name in `sp`'s temp directory.
    pub fn temp_file(&self, sp: &StorePath) -> PathBuf {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        sp.tmp.join(format!("{}-{n}.tmp", self.pid))
    }

    /// Sub-directory for a new file. `hash_input` is the 27-char name prefix used by mode 1.
    pub fn alloc_subdir(&self, hash_input: &[u8]) -> (u8, u8) {
        match self.mode {
            DistributeMode::Hash => fdfs_proto::fileid::hash_subdir(hash_input, self.subdir_count),
            DistributeMode::RoundRobin { rotate_count } => {
                let (pos, rotated) = {
                    let mut d = match self.dist.lock() {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                    let pos = (d.high as u8, d.low as u8);
                    d.count += 1;
                    let rotated = d.count >= rotate_count;
                    if rotated {
                        d.count = 0;
                        d.low += 1;
                        if d.low >= self.subdir_count {
                            d.low = 0;
                            d.high = (d.high + 1) % self.subdir_count;
                        }
                    }
                    (pos, rotated.then_some(*d))
                };
                if let Some(state) = rotated {
                    // Losing a position in a crash only skews the spread, so no fsync here.
                    if let Err(e) = save_dist(&self.stat_file, state) {
                        tracing::warn!(error = %e, "cannot persist sub-directory position");
                    }
                }
                pos
            }
        }
    }

    pub fn persist(&self) {
        let state = match self.dist.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        if let Err(e) = save_dist(&self.stat_file, state) {
            tracing::warn!(error = %e, "cannot persist sub-directory position");
        }
    }
}

fn with_path(e: io::Error, p: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

fn clean_tmp(tmp: &Path) -> io::Result<usize> {
    let mut n = 0;
    for entry in fs::read_dir(tmp)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}

fn precreate(data: &Path, count: u32) -> io::Result<()> {
    for h in 0..count {
        for l in 0..count {
            let d = data.join(format!("{h:02X}")).join(format!("{l:02X}"));
            match fs::create_dir_all(&d) {
                Ok(()) => {}
                Err(e) => return Err(with_path(e, &d)),
            }
        }
    }
    Ok(())
}

fn load_dist(path: &Path, count: u32) -> DistState {
    let Ok(text) = fs::read_to_string(path) else {
        return DistState::default();
    };
    let get = |k: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(key, _)| key.trim() == k)
            .and_then(|(_, v)| v.trim().parse::<u32>().ok())
            .unwrap_or(0)
    };
    DistState {
        high: get("dist_path_index_high") % count,
        low: get("dist_path_index_low") % count,
        count: get("dist_write_file_count"),
    }
}

fn save_dist(path: &Path, d: DistState) -> io::Result<()> {
    let tmp = path.with_extension("dat.tmp");
    let mut f = fs::File::create(&tmp)?;
    write!(
        f,
        "dist_path_index_high={}\ndist_path_index_low={}\ndist_write_file_count={}\n",
        d.high, d.low, d.count
    )?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path, extra: &str) -> Config {
        Config::parse_str(&format!(
            "group_name = \"group1\"\nbase_path = \"{}\"\nsubdir_count_per_path = 4\n{extra}",
            dir.display()
        ))
        .unwrap()
    }

    #[test]
    fn round_robin_rotates_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(dir.path(), "file_distribute_rotate_count = 2\n");
        let l = Layout::open(&c).unwrap();
        let got: Vec<_> = (0..10).map(|_| l.alloc_subdir(b"")).collect();
        assert_eq!(
            got,
            [
                (0, 0),
                (0, 0),
                (0, 1),
                (0, 1),
                (0, 2),
                (0, 2),
                (0, 3),
                (0, 3),
                (1, 0),
                (1, 0)
            ]
        );
        l.alloc_subdir(b"");
        l.persist();
        drop(l);
        let l = Layout::open(&c).unwrap();
        assert_eq!(l.alloc_subdir(b""), (1, 1));
    }

    #[test]
    fn hash_mode_and_tmp_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(
            dir.path(),
            "file_distribute_path_mode = 1\nprecreate_subdirs = true\n",
        );
        let l = Layout::open(&c).unwrap();
        assert_eq!(
            l.alloc_subdir(b"wKjzh0_xaR63RExnAAAaDqbNk5E"),
            (0x55 % 4, 0xC5 % 4)
        );
        assert!(dir.path().join("data/03/03").is_dir());
        let t = l.temp_file(&l.paths[0]);
        fs::write(&t, b"partial").unwrap();
        drop(l);
        let _l = Layout::open(&c).unwrap();
        assert!(!t.exists());
        assert!(l_choose_ok(&_l));
    }

    fn l_choose_ok(l: &Layout) -> bool {
        l.choose_path(0).is_some() && l.choose_path(0xFF).is_some() && l.choose_path(1).is_none()
    }
}

//! Per-peer sync position, `<base_path>/data/sync/<ip>_<port>.mark`, in FastDFS's ini style
//! (`binlog_index`, `binlog_offset`, plus our `synced_until`). Replaced atomically, so a crash
//! leaves an older mark: the records after it are sent again, and the receiver treats a
//! repeated create or delete as already done.

use std::io;
use std::path::{Path, PathBuf};

use super::binlog_read::Pos;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    pub pos: Pos,
    pub synced_until: i64,
    pub records: u64,
}

pub fn path(sync_dir: &Path, key: &str) -> PathBuf {
    sync_dir.join(format!("{key}.mark"))
}

/// The saved mark; `None` when there is none (a new peer: start from the beginning).
pub fn load(sync_dir: &Path, key: &str) -> io::Result<Option<Mark>> {
    let text = match std::fs::read_to_string(path(sync_dir, key)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let get = |k: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(key, _)| key.trim() == k)
            .map(|(_, v)| v.trim().to_owned())
    };
    let num = |k: &str| -> io::Result<i64> {
        get(k).and_then(|v| v.parse().ok()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("mark for {key}: missing or bad {k}"),
            )
        })
    };
    Ok(Some(Mark {
        pos: Pos {
            index: u32::try_from(num("binlog_index")?).unwrap_or(0),
            offset: u64::try_from(num("binlog_offset")?).unwrap_or(0),
        },
        synced_until: num("synced_until").unwrap_or(0),
        records: u64::try_from(num("sync_row_count").unwrap_or(0)).unwrap_or(0),
    }))
}

fn text(m: &Mark) -> String {
    format!(
        "binlog_index={}\nbinlog_offset={}\nsynced_until={}\nsync_row_count={}\n",
        m.pos.index, m.pos.offset, m.synced_until, m.records
    )
}

/// Durable (fsync) save: every `mark_every` records and when the sender goes idle.
pub fn save(sync_dir: &Path, key: &str, m: &Mark) -> io::Result<()> {
    super::write_durable(&path(sync_dir, key), text(m).as_bytes())
}

/// Atomic but not fsynced: after every acknowledged record. A killed process keeps it (the
/// page cache survives), so a restart re-sends nothing; only a power loss falls back to the
/// last durable save, and the repeats that follow are harmless.
pub fn save_fast(sync_dir: &Path, key: &str, m: &Mark) -> io::Result<()> {
    let p = path(sync_dir, key);
    let mut tmp = p.clone().into_os_string();
    tmp.push(".tmp");
    std::fs::write(&tmp, text(m))?;
    std::fs::rename(&tmp, &p)
}

pub fn remove(sync_dir: &Path, key: &str) {
    let _ = std::fs::remove_file(path(sync_dir, key));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load(d.path(), "127.0.0.1_23000").unwrap(), None);
        let m = Mark {
            pos: Pos {
                index: 2,
                offset: 4711,
            },
            synced_until: 1_700_000_000,
            records: 9,
        };
        save(d.path(), "127.0.0.1_23000", &m).unwrap();
        assert_eq!(load(d.path(), "127.0.0.1_23000").unwrap(), Some(m));
        std::fs::write(path(d.path(), "x"), "binlog_index=zz\n").unwrap();
        assert!(load(d.path(), "x").is_err());
    }
}

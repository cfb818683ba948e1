//! The binlog: one line per change, `<unix ts> <op> <logical name>[ <extra>]\n`, in FastDFS's
//! format and file names (`<base_path>/data/sync/binlog.NNN` + `binlog_index.dat`), so group
//! replication can replay it. Only the committer thread writes it; it fsyncs before replies.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Operation letters (uppercase = originated here; replicas would log lowercase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Delete,
    Update,
    Append,
    Modify,
    Truncate,
}

impl Op {
    pub fn letter(self) -> char {
        match self {
            Op::Create => 'C',
            Op::Delete => 'D',
            Op::Update => 'U',
            Op::Append => 'A',
            Op::Modify => 'M',
            Op::Truncate => 'T',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub timestamp: i64,
    pub op: Op,
    /// Logical name, `Mxx/HH/HH/<name>`.
    pub name: String,
    /// A/M: `<offset> <length>`; T: `<old size> <new size>`.
    pub extra: Option<(u64, u64)>,
    /// Applied on behalf of a group peer: logged in lowercase and never sent on.
    pub replica: bool,
}

impl Record {
    pub fn new(op: Op, name: String) -> Record {
        Record {
            timestamp: unix_now(),
            op,
            name,
            extra: None,
            replica: false,
        }
    }

    /// A change replicated from a peer, with the source's timestamp.
    pub fn replicated(op: Op, name: String, timestamp: i64) -> Record {
        Record {
            timestamp,
            replica: true,
            ..Record::new(op, name)
        }
    }

    pub fn with_extra(mut self, a: u64, b: u64) -> Record {
        self.extra = Some((a, b));
        self
    }

    pub fn write_line(&self, out: &mut Vec<u8>) {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(self.name.len() + 32);
        let letter = if self.replica {
            self.op.letter().to_ascii_lowercase()
        } else {
            self.op.letter()
        };
        let _ = write!(s, "{} {} {}", self.timestamp, letter, self.name);
        if let Some((a, b)) = self.extra {
            let _ = write!(s, " {a} {b}");
        }
        s.push('\n');
        out.extend_from_slice(s.as_bytes());
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub struct Binlog {
    dir: PathBuf,
    index: u32,
    file: File,
    size: u64,
    rotate_size: u64,
}

const INDEX_FILE: &str = "binlog_index.dat";

impl Binlog {
    /// Opens (creating if needed) the current binlog file under `<base_path>/data/sync`.
    pub fn open(base_path: &Path, rotate_size: u64) -> io::Result<Binlog> {
        let dir = base_path.join("data").join("sync");
        std::fs::create_dir_all(&dir)?;
        let index = match std::fs::read_to_string(dir.join(INDEX_FILE)) {
            Ok(text) => parse_index(&text).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} has no valid current_write",
                        dir.join(INDEX_FILE).display()
                    ),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                write_index(&dir, 0)?;
                0
            }
            Err(e) => return Err(e),
        };
        let (file, size) = open_segment(&dir, index)?;
        Ok(Binlog {
            dir,
            index,
            file,
            size,
            rotate_size,
        })
    }

    pub fn current_path(&self) -> PathBuf {
        segment_path(&self.dir, self.index)
    }

    /// Appends already formatted lines (not yet durable: call [`Binlog::sync`]).
    pub fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size + lines.len() as u64 > self.rotate_size {
            self.rotate()?;
        }
        self.file.write_all(lines)?;
        self.size += lines.len() as u64;
        Ok(())
    }

    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        let next = self.index + 1;
        let (file, size) = open_segment(&self.dir, next)?;
        write_index(&self.dir, next)?;
        self.index = next;
        self.file = file;
        self.size = size;
        Ok(())
    }
}

fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("binlog.{index:03}"))
}

fn open_segment(dir: &Path, index: u32) -> io::Result<(File, u64)> {
    let path = segment_path(dir, index);
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let size = file.metadata()?.len();
    // The segment's directory entry must be durable before records in it are acknowledged.
    File::open(dir)?.sync_all()?;
    Ok((file, size))
}

fn parse_index(text: &str) -> Option<u32> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "current_write")
        .and_then(|(_, v)| v.trim().parse().ok())
}

fn write_index(dir: &Path, index: u32) -> io::Result<()> {
    let tmp = dir.join(format!("{INDEX_FILE}.tmp"));
    let mut f = File::create(&tmp)?;
    write!(f, "current_write={index}\ncurrent_compress=0\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(INDEX_FILE))?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_format() {
        let mut out = Vec::new();
        let mut r = Record::new(Op::Create, "M00/00/00/abc.txt".into());
        r.timestamp = 1700000000;
        r.write_line(&mut out);
        let mut a = r.clone().with_extra(5, 7);
        a.op = Op::Append;
        a.write_line(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1700000000 C M00/00/00/abc.txt\n1700000000 A M00/00/00/abc.txt 5 7\n"
        );
    }

    #[test]
    fn rotates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Binlog::open(dir.path(), 4096).unwrap();
        let line = vec![b'x'; 1000];
        for _ in 0..9 {
            b.append(&line).unwrap();
        }
        b.sync().unwrap();
        assert!(b.current_path().ends_with("binlog.002"));
        drop(b);
        let b = Binlog::open(dir.path(), 4096).unwrap();
        assert!(b.current_path().ends_with("binlog.002"));
        assert_eq!(b.size, 1000);
        let idx = std::fs::read_to_string(dir.path().join("data/sync/binlog_index.dat")).unwrap();
        assert!(idx.starts_with("current_write=2\n"));
    }
}

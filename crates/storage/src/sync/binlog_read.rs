//! Reading the binlog back: line parsing and a position-keeping reader over the segments
//! `binlog.NNN`. Only complete lines are consumed, so a record being appended is never seen
//! half-written.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A parsed binlog line. `op` is the letter as written: uppercase = our own change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub timestamp: i64,
    pub op: char,
    pub name: String,
    pub extra: Option<String>,
}

impl Line {
    pub fn is_own(&self) -> bool {
        self.op.is_ascii_uppercase()
    }

    /// `name` without the metadata suffix, and whether it had one.
    pub fn data_name(&self) -> (&str, bool) {
        match self.name.strip_suffix("-m") {
            Some(base) => (base, true),
            None => (&self.name, false),
        }
    }
}

/// `<ts> <op> <name>[ <extra>]`; `None` for anything else (logged by the caller).
pub fn parse_line(line: &str) -> Option<Line> {
    let mut it = line.splitn(4, ' ');
    let timestamp = it.next()?.parse().ok()?;
    let op = it.next()?;
    let mut chars = op.chars();
    let op = chars.next().filter(|c| c.is_ascii_alphabetic())?;
    if chars.next().is_some() {
        return None;
    }
    let name = it.next().filter(|n| !n.is_empty())?.to_owned();
    let extra = it.next().map(str::to_owned);
    Some(Line {
        timestamp,
        op,
        name,
        extra,
    })
}

/// Position in the binlog: segment index and byte offset in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub index: u32,
    pub offset: u64,
}

pub fn segment(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("binlog.{index:03}"))
}

/// Reads up to `max_bytes` of complete lines from `pos`, moving to the next segment at the
/// end of one that has a successor. Returns the lines with the position after each.
pub fn read_from(dir: &Path, mut pos: Pos, max_bytes: usize) -> io::Result<Vec<(Line, Pos)>> {
    let mut out = Vec::new();
    loop {
        let mut f = match File::open(segment(dir, pos.index)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A missing segment with a successor was removed by an operator: skip it.
                if segment(dir, pos.index + 1).exists() {
                    pos = Pos {
                        index: pos.index + 1,
                        offset: 0,
                    };
                    continue;
                }
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        f.seek(SeekFrom::Start(pos.offset))?;
        let mut buf = Vec::with_capacity(max_bytes.min(1 << 20));
        f.by_ref().take(max_bytes as u64).read_to_end(&mut buf)?;
        let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut off = pos.offset;
        for raw in buf[..complete].split_inclusive(|&b| b == b'\n') {
            off += raw.len() as u64;
            let text = String::from_utf8_lossy(&raw[..raw.len() - 1]);
            let at = Pos {
                index: pos.index,
                offset: off,
            };
            match parse_line(&text) {
                Some(l) => out.push((l, at)),
                None => {
                    if !text.trim().is_empty() {
                        tracing::warn!(line = %text, "skipping unparsable binlog line");
                    }
                    // Keep the position moving past it.
                    out.push((
                        Line {
                            timestamp: 0,
                            op: '?',
                            name: String::new(),
                            extra: None,
                        },
                        at,
                    ));
                }
            }
        }
        if complete > 0 || buf.len() >= max_bytes {
            return Ok(out);
        }
        // Nothing complete here: move on only if this segment is finished (has a successor).
        if segment(dir, pos.index + 1).exists() {
            let len = f.metadata()?.len();
            if pos.offset >= len {
                pos = Pos {
                    index: pos.index + 1,
                    offset: 0,
                };
                continue;
            }
        }
        return Ok(out);
    }
}

/// Own (uppercase) records after `pos`, counted up to `cap` bytes of binlog.
pub fn count_own_after(dir: &Path, mut pos: Pos, cap: usize) -> (u64, Option<i64>) {
    let mut n = 0;
    let mut oldest = None;
    let mut budget = cap;
    while budget > 0 {
        let Ok(lines) = read_from(dir, pos, budget.min(1 << 20)) else {
            break;
        };
        let Some(&(_, last)) = lines.last() else {
            break;
        };
        for (l, _) in &lines {
            if l.is_own() {
                n += 1;
                oldest.get_or_insert(l.timestamp);
            }
        }
        let used = if last.index == pos.index {
            (last.offset - pos.offset) as usize
        } else {
            last.offset as usize
        };
        budget = budget.saturating_sub(used.max(1));
        pos = last;
    }
    (n, oldest)
}

/// Whether a delete of `name` (our own or one applied for a peer) follows `pos`.
pub fn deleted_after(dir: &Path, mut pos: Pos, name: &str) -> io::Result<bool> {
    loop {
        let lines = read_from(dir, pos, 1 << 20)?;
        let Some(&(_, last)) = lines.last() else {
            return Ok(false);
        };
        if lines
            .iter()
            .any(|(l, _)| l.op.eq_ignore_ascii_case(&'D') && l.name == name)
        {
            return Ok(true);
        }
        pos = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let l = parse_line("1700000000 C M00/00/00/abc.txt").unwrap();
        assert_eq!(l.op, 'C');
        assert!(l.is_own());
        assert_eq!(l.data_name(), ("M00/00/00/abc.txt", false));
        let l = parse_line("17 u M00/00/00/abc.txt-m").unwrap();
        assert!(!l.is_own());
        assert_eq!(l.data_name(), ("M00/00/00/abc.txt", true));
        let l = parse_line("17 A M00/00/00/abc.txt 5 7").unwrap();
        assert_eq!(l.extra.as_deref(), Some("5 7"));
        for bad in ["", "x C a", "17 CC a", "17 C", "17 C ", "17 1 a"] {
            assert!(parse_line(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn reads_across_segments_and_skips_partial_lines() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(segment(d.path(), 0), "1 C a\n2 c b\n3 D").unwrap();
        let got = read_from(d.path(), Pos::default(), 1 << 16).unwrap();
        assert_eq!(got.len(), 2);
        let end = got[1].1;
        assert_eq!(
            end,
            Pos {
                index: 0,
                offset: 12
            }
        );
        assert!(read_from(d.path(), end, 1 << 16).unwrap().is_empty());
        std::fs::write(segment(d.path(), 0), "1 C a\n2 c b\n").unwrap();
        std::fs::write(segment(d.path(), 1), "4 D a\n").unwrap();
        let got = read_from(d.path(), end, 1 << 16).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.name, "a");
        assert_eq!(
            got[0].1,
            Pos {
                index: 1,
                offset: 6
            }
        );
        assert_eq!(
            count_own_after(d.path(), Pos::default(), 1 << 20),
            (2, Some(1))
        );
        assert!(deleted_after(d.path(), Pos::default(), "a").unwrap());
        assert!(!deleted_after(d.path(), end, "b").unwrap());
        // Small read budget: still makes progress line by line.
        let got = read_from(d.path(), Pos::default(), 7).unwrap();
        assert_eq!(got.len(), 1);
    }
}

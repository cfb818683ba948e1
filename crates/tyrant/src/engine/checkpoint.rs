//! Index checkpoint: the whole in-memory index plus the log position it covers, written to a
//! temporary file, fsynced and renamed, so recovery replays only the log after that position.
//!
//! Layout: `TYCK0001 | pos | next_cas | hlc | master_pos | total_items | count` (u64 LE each),
//! then per entry `klen u16 | key | seg u32 | off u64 | vlen u32 | flags u32 | exptime u32 |
//! cas u64 | hlc u64 | origin u16 | tomb u8`, then crc32c of everything before it.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::log::{Entry, Index};
use super::EngineError;

const MAGIC: &[u8; 8] = b"TYCK0001";

pub(crate) struct Loaded {
    pub pos: u64,
    pub next_cas: u64,
    pub hlc: u64,
    pub master_pos: u64,
    pub total_items: u64,
    pub index: Vec<(Box<[u8]>, Entry)>,
}

pub(crate) struct Meta {
    pub pos: u64,
    pub next_cas: u64,
    pub hlc: u64,
    pub master_pos: u64,
    pub total_items: u64,
}

/// Serialises the index as of `m.pos` (done under the index lock; the file is written by
/// [`persist`], which may run on another thread).
pub(crate) fn encode(m: &Meta, index: &Index) -> Vec<u8> {
    let mut w = Vec::with_capacity(64 + index.len() * 64);
    w.extend_from_slice(MAGIC);
    for v in [
        m.pos,
        m.next_cas,
        m.hlc,
        m.master_pos,
        m.total_items,
        index.len() as u64,
    ] {
        w.extend_from_slice(&v.to_le_bytes());
    }
    for (k, e) in index {
        w.extend_from_slice(&(k.len() as u16).to_le_bytes());
        w.extend_from_slice(k);
        w.extend_from_slice(&e.seg.to_le_bytes());
        w.extend_from_slice(&e.off.to_le_bytes());
        w.extend_from_slice(&e.vlen.to_le_bytes());
        w.extend_from_slice(&e.flags.to_le_bytes());
        w.extend_from_slice(&e.exptime.to_le_bytes());
        w.extend_from_slice(&e.cas.to_le_bytes());
        w.extend_from_slice(&e.hlc.to_le_bytes());
        w.extend_from_slice(&e.origin.to_le_bytes());
        w.push(e.tomb as u8);
    }
    // One pass over the finished buffer: crc32c per small field was most of the encoding time.
    let crc = crc32c::crc32c(&w);
    w.extend_from_slice(&crc.to_le_bytes());
    w
}

/// Makes an encoded checkpoint the current one: temp file, fsync, rename, fsync of the directory.
/// Returns its size in bytes.
pub(crate) fn persist(dir: &Path, bytes: &[u8]) -> Result<u64, EngineError> {
    let tmp = dir.join("index.ckpt.tmp");
    let io = |e| EngineError::io("writing checkpoint", e);
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, dir.join("index.ckpt")).map_err(io)?;
    sync_dir(dir)?;
    Ok(bytes.len() as u64)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), EngineError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| EngineError::io(format!("syncing {}", dir.display()), e))
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|s| u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Some(u64::from_le_bytes(a))
    }
}

pub(crate) fn load(dir: &Path) -> Result<Option<Loaded>, EngineError> {
    let data = match fs::read(dir.join("index.ckpt")) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io("reading checkpoint", e)),
    };
    let bad = |why: &str| EngineError::BadDir(format!("checkpoint {why}"));
    if data.len() < MAGIC.len() + 4 || &data[..8] != MAGIC {
        return Err(bad("has a bad header"));
    }
    let (body, tail) = data.split_at(data.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) {
        return Err(bad("checksum mismatch"));
    }
    let mut c = Cursor { b: body, at: 8 };
    let parse = |c: &mut Cursor| -> Option<Loaded> {
        let (pos, next_cas, hlc, master_pos, total_items, count) =
            (c.u64()?, c.u64()?, c.u64()?, c.u64()?, c.u64()?, c.u64()?);
        let mut index = Vec::with_capacity(count.min(1 << 24) as usize);
        for _ in 0..count {
            let klen = c.u16()?;
            let key: Box<[u8]> = c.take(klen as usize)?.into();
            let e = Entry {
                seg: c.u32()?,
                off: c.u64()?,
                vlen: c.u32()?,
                flags: c.u32()?,
                exptime: c.u32()?,
                cas: c.u64()?,
                hlc: c.u64()?,
                origin: c.u16()?,
                tomb: c.take(1)?[0] != 0,
                klen,
            };
            index.push((key, e));
        }
        Some(Loaded {
            pos,
            next_cas,
            hlc,
            master_pos,
            total_items,
            index,
        })
    };
    parse(&mut c).map(Some).ok_or_else(|| bad("is truncated"))
}

/// The epoch of the master log our replication position refers to (0 = none yet).
pub(crate) fn load_master_epoch(dir: &Path) -> u64 {
    fs::read_to_string(dir.join("replica.state"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("master_epoch ")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

pub(crate) fn store_master_epoch(dir: &Path, epoch: u64) -> Result<(), EngineError> {
    let tmp = dir.join("replica.state.tmp");
    let io = |e| EngineError::io("writing replica.state", e);
    fs::write(&tmp, format!("master_epoch {epoch}\n")).map_err(io)?;
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
    fs::rename(&tmp, dir.join("replica.state")).map_err(io)?;
    sync_dir(dir)
}

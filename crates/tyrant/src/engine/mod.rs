//! Storage engine boundary. The daemon talks to storage only through [`Engine`], so the
//! Haystack-shaped [`log::LogEngine`] can be swapped (the fjall variant lives in the benchmark).

mod append;
mod checkpoint;
pub mod compact;
pub mod log;
pub mod record;
mod writer;

use thiserror::Error;
use tokio::sync::oneshot;

/// Metadata of a stored item (no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemMeta {
    pub flags: u32,
    /// Absolute Unix seconds, 0 = never.
    pub exptime: u32,
    pub cas: u64,
    /// Hybrid clock of the write, µs since the epoch; doubles as the modification time.
    pub hlc: u64,
    pub origin: u16,
    pub vlen: u32,
}

/// A live item read from disk; the value was checksum-verified.
#[derive(Debug)]
pub struct Item {
    pub meta: ItemMeta,
    buf: Vec<u8>,
    vstart: usize,
}

impl Item {
    pub fn value(&self) -> &[u8] {
        &self.buf[self.vstart..]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas(u64),
}

/// A write. Conditional checks run in the single writer, so they are atomic with the write.
#[derive(Debug)]
pub enum Mutation {
    Store {
        mode: StoreMode,
        key: Vec<u8>,
        value: Vec<u8>,
        flags: u32,
        exptime: u32,
    },
    Delete {
        key: Vec<u8>,
        cas: Option<u64>,
    },
    Arith {
        key: Vec<u8>,
        incr: bool,
        delta: u64,
    },
    Touch {
        key: Vec<u8>,
        exptime: u32,
    },
    FlushAll,
    /// A record from the master's log, applied by last-writer-wins on (hlc, origin).
    /// `pos` is the master's log position after it.
    Replicated {
        record: Vec<u8>,
        pos: u64,
    },
    /// Master heartbeat: nothing to apply, but the position moves.
    ReplPosition {
        pos: u64,
        epoch: u64,
    },
    /// Compaction: copy a still-live record from segment `seg` at `off` to the head, unless the
    /// key has moved on meanwhile.
    Relocate {
        record: Vec<u8>,
        seg: u32,
        off: u64,
    },
    /// Sync the log and write an index checkpoint now.
    Checkpoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored { cas: u64 },
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    Number { value: u64, cas: u64 },
    NonNumeric,
    Flushed(u64),
    Applied(bool),
}

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("I/O error on {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("corrupt record at segment {seg} offset {off}: {reason}")]
    Corrupt { seg: u32, off: u64, reason: String },
    #[error("storage writer stopped")]
    Stopped,
    #[error("bad data directory: {0}")]
    BadDir(String),
}

impl EngineError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        EngineError::Io {
            what: what.into(),
            source,
        }
    }
    /// True when the disk is full (memcached maps this to "out of memory storing object").
    pub fn is_no_space(&self) -> bool {
        matches!(self, EngineError::Io { source, .. } if source.raw_os_error() == Some(28))
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct EngineStats {
    pub curr_items: u64,
    pub bytes: u64,
    pub total_items: u64,
    pub disk_bytes: u64,
    pub segments: u64,
    pub index_entries: u64,
    pub head_pos: u64,
    pub master_pos: u64,
    pub master_epoch: u64,
    pub epoch: u64,
    pub last_applied_hlc: u64,
}

pub type Pending = oneshot::Receiver<Result<Outcome, EngineError>>;

pub trait Engine: Send + Sync + 'static {
    /// Live item (not expired, not deleted) with its verified value.
    fn get(&self, key: &[u8]) -> Result<Option<Item>, EngineError>;
    /// Live item metadata without reading the value.
    fn meta(&self, key: &[u8]) -> Option<ItemMeta>;
    /// Queues a write; the receiver resolves once it is as durable as the sync mode promises.
    fn submit(&self, m: Mutation) -> Pending;
    fn stats(&self) -> EngineStats;
}

pub async fn apply<E: Engine + ?Sized>(e: &E, m: Mutation) -> Result<Outcome, EngineError> {
    e.submit(m).await.unwrap_or(Err(EngineError::Stopped))
}

/// Log position: segment number in the high 24 bits, byte offset in the low 40.
pub fn pos(seg: u32, off: u64) -> u64 {
    ((seg as u64) << 40) | off
}
pub fn pos_parts(p: u64) -> (u32, u64) {
    ((p >> 40) as u32, p & ((1 << 40) - 1))
}

/// memcached's number rule for incr/decr: optional leading spaces, digits, optional trailing
/// spaces (left by an earlier in-place shrink); overflow counts as non-numeric.
pub fn parse_counter(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    let t = s
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .trim_end_matches(' ');
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// memcached keeps the old length and pads with spaces when the number gets shorter.
pub fn format_counter(n: u64, old_len: usize) -> Vec<u8> {
    let mut s = n.to_string().into_bytes();
    if s.len() < old_len {
        s.resize(old_len, b' ');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_memcached() {
        assert_eq!(parse_counter(b" 1"), Some(1));
        assert_eq!(parse_counter(b"0   "), Some(0));
        assert_eq!(parse_counter(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_counter(b"184467440737095516150"), None);
        assert_eq!(parse_counter(b"abc"), None);
        assert_eq!(parse_counter(b""), None);
        assert_eq!(format_counter(99, 3), b"99 ");
        assert_eq!(format_counter(1099, 3), b"1099");
    }

    #[test]
    fn positions_roundtrip() {
        assert_eq!(pos_parts(pos(7, 123_456)), (7, 123_456));
        assert!(pos(2, 0) > pos(1, (1 << 40) - 1));
    }
}

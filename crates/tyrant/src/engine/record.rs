//! On-disk record: the unit of the segment files, of the update log and of the replication
//! stream (the same bytes travel in all three, so a record is checksummed once, at its origin).
//!
//! Layout (little endian):
//! `magic u32 | crc32c u32 | kind u8 | origin u16 | klen u16 | flags u32 | exptime u32 |
//!  vlen u32 | cas u64 | hlc u64 | repl_pos u64 | key | value`
//! The crc covers every byte after itself.

use thiserror::Error;

pub const MAGIC: u32 = 0x3152_5954; // "TYR1"
pub const HEADER_LEN: usize = 4 + 4 + 1 + 2 + 2 + 4 + 4 + 4 + 8 + 8 + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Put = 1,
    Tombstone = 2,
}

/// Everything about a record except its key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub origin: u16,
    pub klen: u16,
    pub flags: u32,
    /// Absolute Unix seconds, 0 = never.
    pub exptime: u32,
    pub vlen: u32,
    pub cas: u64,
    /// Hybrid logical clock (µs since the epoch, bumped to stay unique); orders writes across nodes.
    pub hlc: u64,
    /// For a record applied from a master: the master's log position just after it; else 0.
    pub repl_pos: u64,
}

impl Header {
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.klen as usize + self.vlen as usize
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record truncated: need {need} bytes, have {have}")]
    Truncated { need: usize, have: usize },
    #[error("bad record magic {0:#010x}")]
    BadMagic(u32),
    #[error("bad record kind {0}")]
    BadKind(u8),
    #[error("record checksum mismatch")]
    BadCrc,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// Appends the encoded record to `out`.
pub fn encode(h: &Header, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    debug_assert_eq!(h.klen as usize, key.len());
    debug_assert_eq!(h.vlen as usize, value.len());
    let start = out.len();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.push(h.kind as u8);
    out.extend_from_slice(&h.origin.to_le_bytes());
    out.extend_from_slice(&h.klen.to_le_bytes());
    out.extend_from_slice(&h.flags.to_le_bytes());
    out.extend_from_slice(&h.exptime.to_le_bytes());
    out.extend_from_slice(&h.vlen.to_le_bytes());
    out.extend_from_slice(&h.cas.to_le_bytes());
    out.extend_from_slice(&h.hlc.to_le_bytes());
    out.extend_from_slice(&h.repl_pos.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let crc = crc32c::crc32c(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Parses a header without checking the crc (the body may not have been read yet).
pub fn decode_header(b: &[u8]) -> Result<Header, RecordError> {
    if b.len() < HEADER_LEN {
        return Err(RecordError::Truncated {
            need: HEADER_LEN,
            have: b.len(),
        });
    }
    let magic = u32_at(b, 0);
    if magic != MAGIC {
        return Err(RecordError::BadMagic(magic));
    }
    let kind = match b[8] {
        1 => Kind::Put,
        2 => Kind::Tombstone,
        k => return Err(RecordError::BadKind(k)),
    };
    Ok(Header {
        kind,
        origin: u16_at(b, 9),
        klen: u16_at(b, 11),
        flags: u32_at(b, 13),
        exptime: u32_at(b, 17),
        vlen: u32_at(b, 21),
        cas: u64_at(b, 25),
        hlc: u64_at(b, 33),
        repl_pos: u64_at(b, 41),
    })
}

/// Checks a complete record (header + key + value) and returns its header.
pub fn verify(b: &[u8]) -> Result<Header, RecordError> {
    let h = decode_header(b)?;
    let need = h.total_len();
    if b.len() < need {
        return Err(RecordError::Truncated {
            need,
            have: b.len(),
        });
    }
    let crc = u32_at(b, 4);
    if crc32c::crc32c(&b[8..need]) != crc {
        return Err(RecordError::BadCrc);
    }
    Ok(h)
}

/// Rewrites `repl_pos` of an encoded record and fixes its crc (a follower stores the master's
/// record with its own position so that data and position land in one write).
pub fn set_repl_pos(b: &mut [u8], pos: u64) {
    b[41..49].copy_from_slice(&pos.to_le_bytes());
    let crc = crc32c::crc32c(&b[8..]);
    b[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Rewrites the local cas of an encoded record (cas values are per node) and fixes its crc.
pub fn set_cas(b: &mut [u8], cas: u64) {
    b[25..33].copy_from_slice(&cas.to_le_bytes());
    let crc = crc32c::crc32c(&b[8..]);
    b[4..8].copy_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Header, Vec<u8>) {
        let h = Header {
            kind: Kind::Put,
            origin: 7,
            klen: 3,
            flags: 0xdead_beef,
            exptime: 12,
            vlen: 5,
            cas: 99,
            hlc: 1 << 50,
            repl_pos: 0,
        };
        let mut out = Vec::new();
        encode(&h, b"key", b"value", &mut out);
        (h, out)
    }

    #[test]
    fn roundtrip() {
        let (h, out) = sample();
        assert_eq!(out.len(), h.total_len());
        assert_eq!(verify(&out).unwrap(), h);
        assert_eq!(&out[HEADER_LEN..HEADER_LEN + 3], b"key");
    }

    #[test]
    fn detects_corruption_and_truncation() {
        let (_, mut out) = sample();
        assert!(matches!(
            verify(&out[..out.len() - 1]),
            Err(RecordError::Truncated { .. })
        ));
        let last = out.len() - 1;
        out[last] ^= 1;
        assert_eq!(verify(&out), Err(RecordError::BadCrc));
        out[0] = 0;
        assert!(matches!(verify(&out), Err(RecordError::BadMagic(_))));
    }

    #[test]
    fn rewrite_pos_keeps_crc_valid() {
        let (_, mut out) = sample();
        set_repl_pos(&mut out, 42);
        set_cas(&mut out, 5);
        let h = verify(&out).unwrap();
        assert_eq!((h.repl_pos, h.cas), (42, 5));
    }
}

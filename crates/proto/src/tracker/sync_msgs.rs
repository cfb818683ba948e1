//! Storage → tracker replication bookkeeping: 88 SYNC_NOTIFY and 89 SYNC_REPORT.

use crate::body::{Body, BodyError, IpWidth};
use crate::wire::{put_fixed, put_u32, put_u64, Reader, ID};

/// Request 88: a storage tells the tracker where its initial copy came from.
/// An empty `src_id` means "I need no (more) sync": the tracker may make it ONLINE.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | source storage id (NUL-padded; empty = none) |
/// | 16 | 8 | until timestamp |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncNotify {
    /// Storage the data was copied from, or empty.
    pub src_id: String,
    /// Copy covered everything up to this time.
    pub until_timestamp: i64,
}

impl Body for SyncNotify {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.src_id, ID);
        put_u64(out, self.until_timestamp as u64);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "sync notify";
        if body.len() != ID + 8 {
            return Err(BodyError::len(MSG, body.len(), "24"));
        }
        let mut r = Reader::new(body, MSG);
        Ok(SyncNotify {
            src_id: r.fixed_str("src_id", ID)?,
            until_timestamp: r.i64("until_timestamp")?,
        })
    }
}

/// One entry of [`SyncReport`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncedUntil {
    /// The other storage of the pair.
    pub storage_id: String,
    /// Unix time (seconds).
    pub timestamp: u32,
}

/// Request 89: per-storage sync timestamps, `n × {id (16), u32}`, 0 ≤ n ≤ 32.
///
/// | off | size | field |
/// |---|---|---|
/// | 16·k+4·k | 16 | storage id |
/// | +16 | 4 | timestamp |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncReport(pub Vec<SyncedUntil>);

impl SyncReport {
    /// Bytes per entry.
    pub const ENTRY_LEN: usize = ID + 4;
}

impl Body for SyncReport {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        for e in &self.0 {
            put_fixed(out, &e.storage_id, ID);
            put_u32(out, e.timestamp);
        }
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "sync report";
        let n = body.len() / Self::ENTRY_LEN;
        if !body.len().is_multiple_of(Self::ENTRY_LEN) || n > crate::tracker::MAX_SERVERS_PER_GROUP
        {
            return Err(BodyError::len(MSG, body.len(), "n × 20, n ≤ 32"));
        }
        let mut r = Reader::new(body, MSG);
        let v = (0..n)
            .map(|_| {
                Ok(SyncedUntil {
                    storage_id: r.fixed_str("storage_id", ID)?,
                    timestamp: r.u32("timestamp")?,
                })
            })
            .collect::<Result<_, BodyError>>()?;
        Ok(SyncReport(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bad_lengths() {
        let n = SyncNotify {
            src_id: "100001".into(),
            until_timestamp: 1_700_000_000,
        };
        let b = n.to_bytes(IpWidth::V4);
        assert_eq!(b.len(), 24);
        assert_eq!(SyncNotify::decode(&b).unwrap(), n);
        assert!(SyncNotify::decode(&b[..23]).is_err());

        let r = SyncReport(vec![
            SyncedUntil {
                storage_id: "100002".into(),
                timestamp: 5,
            },
            SyncedUntil {
                storage_id: "100003".into(),
                timestamp: u32::MAX,
            },
        ]);
        let b = r.to_bytes(IpWidth::V4);
        assert_eq!(b.len(), 40);
        assert_eq!(SyncReport::decode(&b).unwrap(), r);
        assert_eq!(SyncReport::decode(&[]).unwrap(), SyncReport(vec![]));
        assert!(SyncReport::decode(&b[..39]).is_err());
        assert!(SyncReport::decode(&vec![0u8; 33 * 20]).is_err());
    }
}

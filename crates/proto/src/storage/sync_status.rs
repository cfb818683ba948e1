//! fdfs-rs extension, command 120 SYNC_STATUS (not in FastDFS, whose storages answer EINVAL):
//! a storage's replication figures per group peer, for `fdfs monitor`.

use crate::body::{Body, BodyError, IpWidth};
use crate::wire::{put_fixed, put_u64, Reader, ID};

/// Command code (unused by FastDFS).
pub const SYNC_STATUS: u8 = 120;

const ADDR: usize = 64;

/// One peer's figures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerSyncStatus {
    /// Peer storage id.
    pub id: String,
    /// Peer `ip:port`.
    pub addr: String,
    /// The peer holds every file of ours created before this unix time (0 = unknown).
    pub synced_until: i64,
    /// Own records the peer has not acknowledged yet.
    pub lag_records: u64,
    /// Age of the oldest of them, seconds.
    pub lag_seconds: i64,
    /// Records sent since the mark was created.
    pub records_sent: u64,
    /// Content bytes sent since start.
    pub bytes_sent: u64,
}

/// Response to [`SYNC_STATUS`] (empty request body).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 1 | 1 while the storage's initial copy from the group is running, else 0 |
/// | 1 + 120·k | 16 | peer id |
/// | +16 | 64 | peer `ip:port` |
/// | +80 | 8 × 5 | synced_until, lag_records, lag_seconds, records_sent, bytes_sent |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncStatus {
    /// Initial copy running.
    pub recovering: bool,
    /// One entry per peer (at most 32).
    pub peers: Vec<PeerSyncStatus>,
}

/// Bytes per peer entry.
pub const PEER_LEN: usize = ID + ADDR + 5 * 8;

impl Body for SyncStatus {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        out.push(u8::from(self.recovering));
        for p in self
            .peers
            .iter()
            .take(crate::tracker::MAX_SERVERS_PER_GROUP)
        {
            put_fixed(out, &p.id, ID);
            put_fixed(out, &p.addr, ADDR);
            put_u64(out, p.synced_until as u64);
            put_u64(out, p.lag_records);
            put_u64(out, p.lag_seconds as u64);
            put_u64(out, p.records_sent);
            put_u64(out, p.bytes_sent);
        }
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "sync status";
        let n = body.len().saturating_sub(1) / PEER_LEN;
        if body.is_empty()
            || !(body.len() - 1).is_multiple_of(PEER_LEN)
            || n > crate::tracker::MAX_SERVERS_PER_GROUP
        {
            return Err(BodyError::len(MSG, body.len(), "1 + n × 120, n ≤ 32"));
        }
        let mut r = Reader::new(body, MSG);
        let recovering = match r.u8("recovering")? {
            0 => false,
            1 => true,
            _ => return Err(BodyError::field(MSG, "recovering", "not 0 or 1")),
        };
        let peers = (0..n)
            .map(|_| {
                Ok(PeerSyncStatus {
                    id: r.fixed_str("id", ID)?,
                    addr: r.fixed_str("addr", ADDR)?,
                    synced_until: r.i64("synced_until")?,
                    lag_records: r.u64("lag_records")?,
                    lag_seconds: r.i64("lag_seconds")?,
                    records_sent: r.u64("records_sent")?,
                    bytes_sent: r.u64("bytes_sent")?,
                })
            })
            .collect::<Result<_, BodyError>>()?;
        Ok(SyncStatus { recovering, peers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_input() {
        let s = SyncStatus {
            recovering: true,
            peers: vec![PeerSyncStatus {
                id: "100002".into(),
                addr: "127.0.0.1:23001".into(),
                synced_until: 1_700_000_000,
                lag_records: 3,
                lag_seconds: 2,
                records_sent: 99,
                bytes_sent: 1 << 40,
            }],
        };
        let b = s.to_bytes(IpWidth::V4);
        assert_eq!(b.len(), 1 + PEER_LEN);
        assert_eq!(SyncStatus::decode(&b).unwrap(), s);
        assert!(SyncStatus::decode(&[]).is_err());
        assert!(SyncStatus::decode(&b[..b.len() - 1]).is_err());
        assert!(SyncStatus::decode(&[2]).is_err());
        assert_eq!(SyncStatus::decode(&[0]).unwrap(), SyncStatus::default());
    }
}

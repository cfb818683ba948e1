//! Online compaction: a sealed segment whose live bytes fell below a ratio has its live records
//! (tombstones included, so deletes survive for replication) copied to the head through the
//! writer, which skips any key that moved on meanwhile; after a checkpoint the file is deleted.
//! Copies keep their (hlc, origin), so followers that see them again apply nothing.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::sync::atomic::Ordering;

use super::log::LogEngine;
use super::record::{self, HEADER_LEN};
use super::{pos_parts, Engine, EngineError, Mutation, Pending};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    pub segment: u32,
    pub moved_records: u64,
    pub reclaimed_bytes: u64,
}

fn wait(p: Pending) -> Result<(), EngineError> {
    p.blocking_recv()
        .unwrap_or(Err(EngineError::Stopped))
        .map(|_| ())
}

impl LogEngine {
    /// Live bytes per segment, from the index.
    fn live_bytes(&self) -> HashMap<u32, u64> {
        let mut live: HashMap<u32, u64> = HashMap::new();
        if let Ok(idx) = self.sh.index.read() {
            for e in idx.values() {
                *live.entry(e.seg).or_default() += e.record_len() as u64;
            }
        }
        live
    }

    /// Compacts the sealed segment with the lowest live ratio if that ratio is below
    /// `max_live_ratio`. Blocking: call from a blocking thread.
    pub fn compact_once(&self, max_live_ratio: f64) -> Result<Option<CompactReport>, EngineError> {
        let active = pos_parts(*self.sh.head.borrow()).0;
        let live = self.live_bytes();
        let segs: Vec<(u32, std::sync::Arc<std::fs::File>)> = match self.sh.segs.read() {
            Ok(s) => s
                .iter()
                .filter(|(k, _)| **k < active)
                .map(|(k, f)| (*k, f.clone()))
                .collect(),
            Err(_) => return Ok(None),
        };
        let mut best: Option<(f64, u32, std::sync::Arc<std::fs::File>, u64)> = None;
        for (seg, f) in segs {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len == 0 {
                continue;
            }
            let ratio = live.get(&seg).copied().unwrap_or(0) as f64 / len as f64;
            if ratio < max_live_ratio && best.as_ref().is_none_or(|b| ratio < b.0) {
                best = Some((ratio, seg, f, len));
            }
        }
        let Some((_, seg, file, len)) = best else {
            return Ok(None);
        };
        let mut r = BufReader::with_capacity(1 << 20, &*file);
        let mut off = 0u64;
        let mut pending = Vec::new();
        let mut moved = 0;
        while off < len {
            let mut buf = vec![0u8; HEADER_LEN];
            if r.read_exact(&mut buf).is_err() {
                break;
            }
            let Ok(h) = record::decode_header(&buf) else {
                break;
            };
            buf.resize(h.total_len(), 0);
            if r.read_exact(&mut buf[HEADER_LEN..]).is_err() || record::verify(&buf).is_err() {
                break;
            }
            let key = &buf[HEADER_LEN..HEADER_LEN + h.klen as usize];
            let here = self
                .sh
                .index
                .read()
                .ok()
                .and_then(|i| i.get(key).copied())
                .is_some_and(|e| e.seg == seg && e.off == off);
            off += buf.len() as u64;
            if here {
                moved += 1;
                pending.push(self.submit(Mutation::Relocate {
                    record: buf,
                    seg,
                    off: off - h.total_len() as u64,
                }));
                if pending.len() >= 64 {
                    for p in pending.drain(..) {
                        wait(p)?;
                    }
                }
            }
        }
        for p in pending {
            wait(p)?;
        }
        // Copies are durable and in a checkpoint before the original goes.
        wait(self.submit(Mutation::Checkpoint))?;
        let still_used = self
            .sh
            .index
            .read()
            .map(|i| i.values().any(|e| e.seg == seg))
            .unwrap_or(true);
        if still_used {
            tracing::warn!(seg, "segment still referenced after compaction; kept");
            return Ok(None);
        }
        if let Ok(mut s) = self.sh.segs.write() {
            s.remove(&seg);
        }
        let path = super::log::seg_path(&self.sh.dir, seg);
        std::fs::remove_file(&path)
            .map_err(|e| EngineError::io(format!("removing {}", path.display()), e))?;
        super::checkpoint::sync_dir(&self.sh.dir.join("seg"))?;
        self.sh
            .counters
            .disk_bytes
            .fetch_sub(len, Ordering::Relaxed);
        tracing::info!(seg, moved, reclaimed = len, "segment compacted");
        Ok(Some(CompactReport {
            segment: seg,
            moved_records: moved,
            reclaimed_bytes: len,
        }))
    }
}

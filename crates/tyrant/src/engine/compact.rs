//! Online compaction: a sealed segment whose live bytes fell below a ratio has its live records
//! (tombstones included, so deletes survive for replication) copied to the head through the
//! writer, which skips any key that moved on meanwhile; after a checkpoint the file is deleted.
//! Copies keep their (hlc, origin), so followers that see them again apply nothing.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::sync::atomic::Ordering;

use super::log::{LogEngine, PosReader};
use super::record::{self, HEADER_LEN};
use super::{pos_parts, Engine, EngineError, Mutation, Pending};
use std::os::unix::fs::FileExt;

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
        // Only what the index still points at is read: an overwrite-heavy segment is mostly
        // garbage, and reading it all back from disk would compete with the writes it serves.
        let mut wanted: Vec<(u64, usize)> = match self.sh.index.read() {
            Ok(i) => i
                .values()
                .filter(|e| e.seg == seg)
                .map(|e| (e.off, e.record_len()))
                .collect(),
            Err(_) => return Ok(None),
        };
        wanted.sort_unstable();
        let mut pending = Vec::new();
        let mut moved = 0;
        for (off, rlen) in wanted {
            let mut buf = vec![0u8; rlen];
            if let Err(e) = file.read_exact_at(&mut buf, off) {
                tracing::error!(seg, off, "compaction cannot read a live record: {e}");
                continue;
            }
            let h = match record::verify(&buf) {
                Ok(h) => h,
                Err(e) => {
                    // Left in place: the segment stays, and the scrubber reports it.
                    tracing::error!(seg, off, "live record fails its check: {e}");
                    continue;
                }
            };
            let key = &buf[HEADER_LEN..HEADER_LEN + h.klen as usize];
            let here = self
                .sh
                .index
                .read()
                .ok()
                .and_then(|i| i.get(key).copied())
                .is_some_and(|e| e.seg == seg && e.off == off);
            if here {
                moved += 1;
                pending.push(self.submit(Mutation::Relocate {
                    record: buf,
                    seg,
                    off,
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
        let still_used = self.sh.index.read().ok().and_then(|i| {
            i.iter()
                .find(|(_, e)| e.seg == seg)
                .map(|(k, e)| (k.clone(), *e))
        });
        if let Some((k, e)) = still_used {
            tracing::warn!(seg, key = %String::from_utf8_lossy(&k), off = e.off, tomb = e.tomb, len, "segment still referenced after compaction; kept");
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

impl LogEngine {
    /// Reads a sealed segment end to end and checks every record's crc (values served with
    /// straight from the file are not checked per read). Returns the segment checked and the number of invalid
    /// records/bytes regions found, or `None` when there is no sealed segment after `after`.
    pub fn scrub_next(&self, after: u32) -> Result<Option<(u32, u64)>, EngineError> {
        let active = pos_parts(*self.sh.head.borrow()).0;
        let next = self.sh.segs.read().ok().and_then(|s| {
            s.range(after + 1..active)
                .next()
                .map(|(k, f)| (*k, f.clone()))
        });
        let Some((seg, file)) = next else {
            return Ok(None);
        };
        let len = file
            .metadata()
            .map_err(|e| EngineError::io("stat segment", e))?
            .len();
        let mut r = BufReader::with_capacity(
            1 << 20,
            PosReader {
                file: &file,
                pos: 0,
            },
        );
        let mut off = 0u64;
        let mut bad = 0;
        while off < len {
            let mut buf = vec![0u8; HEADER_LEN];
            if r.read_exact(&mut buf).is_err() {
                bad += 1;
                break;
            }
            let h = match record::decode_header(&buf) {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!(seg, off, "scrub: unreadable record header: {e}");
                    bad += 1;
                    break;
                }
            };
            buf.resize(h.total_len(), 0);
            if r.read_exact(&mut buf[HEADER_LEN..]).is_err() {
                bad += 1;
                break;
            }
            if let Err(e) = record::verify(&buf) {
                tracing::error!(seg, off, "scrub: {e}");
                bad += 1;
            }
            off += buf.len() as u64;
        }
        Ok(Some((seg, bad)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use crate::engine::log::{EngineConfig, LogEngine, SyncMode};
    use crate::engine::{Engine, Mutation, StoreMode};

    #[test]
    fn compaction_under_concurrent_overwrites_releases_segments() {
        let dir = tempfile::tempdir().unwrap();
        let e = Arc::new(
            LogEngine::open(EngineConfig {
                dir: dir.path().to_path_buf(),
                sync: SyncMode::Never,
                segment_bytes: 1 << 20,
                checkpoint_bytes: 64 << 20,
                checkpoint_interval: Duration::from_secs(300),
                node_id: 1,
                direct_io: true,
            })
            .unwrap(),
        );
        // Cold keys, written once: compaction has to move them.
        for k in 0..200 {
            let m = Mutation::Store {
                mode: StoreMode::Set,
                key: format!("cold{k}").into_bytes(),
                value: vec![7; 2000],
                flags: 0,
                exptime: 0,
            };
            e.submit(m).blocking_recv().unwrap().unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..3)
            .map(|t| {
                let (e, stop) = (e.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("k{}", (i * 7 + t) % 300).into_bytes();
                        let m = Mutation::Store {
                            mode: StoreMode::Set,
                            key,
                            value: vec![t as u8; 3000],
                            flags: 0,
                            exptime: 0,
                        };
                        e.submit(m).blocking_recv().unwrap().unwrap();
                        i += 1;
                    }
                })
            })
            .collect();
        let mut done = 0;
        let mut moved = 0;
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_secs(4) {
            match e.compact_once(0.5).unwrap() {
                Some(r) => {
                    assert!(r.reclaimed_bytes > 0);
                    done += 1;
                    moved += r.moved_records;
                }
                // Spinning here would starve the writers of this 2-core machine.
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        assert!(done > 3, "only {done} compactions");
        assert!(moved >= 200, "cold records not moved: {moved}");
        assert!(
            !dir.path().join("seg/00000001.seg").exists(),
            "first segment not reclaimed"
        );
        for k in 0..300 {
            assert!(e.get(format!("k{k}").as_bytes()).unwrap().is_some());
        }
        for k in 0..200 {
            assert_eq!(
                e.get(format!("cold{k}").as_bytes())
                    .unwrap()
                    .unwrap()
                    .value(),
                &[7u8; 2000][..]
            );
        }
    }
}

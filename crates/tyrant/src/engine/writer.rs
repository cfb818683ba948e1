//! The single writer thread. It drains every queued mutation, evaluates their conditions in
//! order against the index (plus this batch's own earlier writes), appends the resulting records
//! with one `write`, syncs once for the whole batch (group commit), publishes the index changes and
//! only then answers. Readers therefore never see a record that is not yet in the file.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::append::Appender;
use super::checkpoint;
use super::log::{seg_path, EngineConfig, Entry, Shared, SyncMode};
use super::record::{self, Header, Kind, HEADER_LEN};
use super::{format_counter, parse_counter, pos, EngineError, Mutation, Outcome, StoreMode};
use crate::clock::now_secs;

pub(crate) struct Job {
    pub m: Mutation,
    pub reply: oneshot::Sender<Result<Outcome, EngineError>>,
}

/// Log bytes between two checkpoints, at least, as a multiple of the last checkpoint's size.
const CHECKPOINT_SPACING: u64 = 32;

/// Upper bound of record bytes gathered into one batch before it is written.
const BATCH_BYTES: usize = 16 << 20;

pub(crate) struct Writer {
    sh: Arc<Shared>,
    cfg: EngineConfig,
    seg: u32,
    /// The active segment and the batch being assembled for it.
    app: Appender,
    next_cas: u64,
    overlay: HashMap<Box<[u8]>, Entry>,
    since_ckpt: u64,
    /// Size of the last index checkpoint written.
    last_ckpt_bytes: u64,
    /// A periodic checkpoint being written by a helper thread.
    ckpt_job: Option<std::thread::JoinHandle<Result<u64, EngineError>>>,
    last_ckpt: Instant,
    last_sync: Instant,
    unsynced: bool,
}

impl Writer {
    pub fn new(
        sh: Arc<Shared>,
        cfg: EngineConfig,
        seg: u32,
        off: u64,
        next_cas: u64,
    ) -> Result<Self, EngineError> {
        let file = sh
            .segs
            .read()
            .ok()
            .and_then(|s| s.get(&seg).cloned())
            .ok_or_else(|| EngineError::BadDir(format!("active segment {seg} not open")))?;
        let path = seg_path(&sh.dir, seg);
        let app = Appender::open(file, &path, off, cfg.direct_io)
            .map_err(|e| EngineError::io(format!("opening {} for appending", path.display()), e))?;
        tracing::info!(direct_io = app.is_direct(), "appending to segment {seg}");
        Ok(Writer {
            sh,
            cfg,
            seg,
            app,
            next_cas,
            overlay: HashMap::new(),
            since_ckpt: 0,
            last_ckpt_bytes: 0,
            ckpt_job: None,
            last_ckpt: Instant::now(),
            last_sync: Instant::now(),
            unsynced: false,
        })
    }

    pub fn run(mut self, rx: mpsc::Receiver<Job>) {
        let tick = match self.cfg.sync {
            SyncMode::Interval(d) => d.min(Duration::from_secs(1)),
            _ => Duration::from_secs(1),
        };
        loop {
            let first = match rx.recv_timeout(tick) {
                Ok(j) => j,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.housekeeping(false);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut jobs = vec![first];
            while self.app.pending_len() < BATCH_BYTES {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            self.batch(jobs);
            self.housekeeping(false);
        }
        self.housekeeping(true);
    }

    fn batch(&mut self, jobs: Vec<Job>) {
        let start = (self.seg, self.app.off());
        let mut results = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for Job { m, reply } in jobs {
            results.push(self.eval(m));
            replies.push(reply);
        }
        let wrote = self.app.pending_len() > 0 || (self.seg, self.app.off()) != start;
        let durable = self.flush().and_then(|()| match self.cfg.sync {
            SyncMode::Always if wrote => self.sync(),
            _ => Ok(()),
        });
        match durable {
            Ok(()) => self.publish(),
            Err(e) => {
                tracing::error!("write failed, batch rolled back: {e}");
                self.rollback();
                for r in replies {
                    let _ = r.send(Err(EngineError::io("appending to the log", clone_io(&e))));
                }
                return;
            }
        }
        for (r, res) in replies.into_iter().zip(results) {
            let _ = r.send(res);
        }
    }

    /// Drops what was not written; a partial write is cut off. Records an earlier flush of this
    /// batch already wrote stay in the log (their writers got an error: an ambiguous outcome).
    fn rollback(&mut self) {
        self.overlay.clear();
        self.app.discard();
        let _ = self.app.file().set_len(self.app.off());
    }

    fn publish(&mut self) {
        if let Ok(mut idx) = self.sh.index.write() {
            for (k, e) in self.overlay.drain() {
                let old = idx.insert(k, e);
                self.sh.counters.replace(old.as_ref(), &e);
            }
        }
        self.sh.head.send_replace(pos(self.seg, self.app.off()));
    }

    fn flush(&mut self) -> Result<(), EngineError> {
        let n = self
            .app
            .flush()
            .map_err(|e| EngineError::io(format!("writing segment {}", self.seg), e))?
            as u64;
        if n == 0 {
            return Ok(());
        }
        self.since_ckpt += n;
        self.sh.counters.disk_bytes.fetch_add(n, Ordering::Relaxed);
        self.unsynced = true;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), EngineError> {
        if self.unsynced {
            self.app
                .file()
                .sync_data()
                .map_err(|e| EngineError::io(format!("syncing segment {}", self.seg), e))?;
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), EngineError> {
        self.flush()?;
        // A sealed segment ends exactly at its last record (readers stop at its end of file).
        self.app
            .trim()
            .and_then(|()| self.app.file().sync_all())
            .map_err(|e| EngineError::io(format!("sealing segment {}", self.seg), e))?;
        self.unsynced = false;
        let seg = self.seg + 1;
        let path = seg_path(&self.sh.dir, seg);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| EngineError::io(format!("creating {}", path.display()), e))?;
        let f = Arc::new(f);
        if let Ok(mut s) = self.sh.segs.write() {
            s.insert(seg, f.clone());
        }
        checkpoint::sync_dir(&self.sh.dir.join("seg"))?;
        tracing::info!(seg, "rotated to a new segment");
        self.app
            .switch(f, &path, 0, self.cfg.direct_io)
            .map_err(|e| EngineError::io(format!("opening {} for appending", path.display()), e))?;
        self.seg = seg;
        Ok(())
    }

    fn housekeeping(&mut self, closing: bool) {
        let due_sync = match self.cfg.sync {
            SyncMode::Interval(d) => self.last_sync.elapsed() >= d,
            _ => false,
        };
        if (due_sync || closing) && self.sync().is_err() {
            tracing::error!("periodic sync failed");
        }
        if closing {
            if let Err(e) = self.app.trim() {
                tracing::warn!("cannot trim the padding after the log's end: {e}");
            }
        }
        // Each checkpoint rewrites the whole index, which grows with the data: spacing them by a
        // multiple of their own size keeps their share of the disk writes bounded (at 30 GiB of
        // 100 KiB values the index is 30 MB, an eighth of the default 256 MiB spacing).
        let spacing = self
            .cfg
            .checkpoint_bytes
            .max(CHECKPOINT_SPACING * self.last_ckpt_bytes);
        let due_ckpt = self.since_ckpt >= spacing
            || (self.since_ckpt > 0 && self.last_ckpt.elapsed() >= self.cfg.checkpoint_interval);
        let busy = self.ckpt_job.as_ref().is_some_and(|j| !j.is_finished());
        let r = if closing && self.since_ckpt > 0 {
            self.checkpoint()
        } else if due_ckpt && !busy {
            self.checkpoint_in_background()
        } else {
            Ok(())
        };
        if let Err(e) = r {
            tracing::error!("checkpoint failed: {e}");
        }
    }

    /// Writes a checkpoint and returns once it is durable.
    pub fn checkpoint(&mut self) -> Result<(), EngineError> {
        let bytes = self.encode_checkpoint()?;
        self.last_ckpt_bytes = checkpoint::persist(&self.sh.dir, &bytes)?;
        Ok(())
    }

    /// Serialises the index here and leaves the file writing and fsyncs to a helper thread: they
    /// grow with the index, and writes would otherwise wait for them.
    fn checkpoint_in_background(&mut self) -> Result<(), EngineError> {
        let bytes = self.encode_checkpoint()?;
        let dir = self.sh.dir.clone();
        let job = std::thread::Builder::new()
            .name("tyrant-ckpt".into())
            .spawn(move || checkpoint::persist(&dir, &bytes))
            .map_err(|e| EngineError::io("spawning the checkpoint thread", e))?;
        self.ckpt_job = Some(job);
        Ok(())
    }

    /// Waits for a background checkpoint, so checkpoints land in order.
    fn join_checkpoint(&mut self) {
        if let Some(job) = self.ckpt_job.take() {
            match job.join() {
                Ok(Ok(n)) => self.last_ckpt_bytes = n,
                Ok(Err(e)) => tracing::error!("background checkpoint failed: {e}"),
                Err(_) => tracing::error!("background checkpoint thread panicked"),
            }
        }
    }

    fn encode_checkpoint(&mut self) -> Result<Vec<u8>, EngineError> {
        self.join_checkpoint();
        // The checkpoint must never cover log bytes that a crash could still lose, and must
        // contain every record it covers (also those of the batch in progress).
        self.flush()?;
        self.sync()?;
        self.publish();
        let c = &self.sh.counters;
        let meta = checkpoint::Meta {
            pos: pos(self.seg, self.app.off()),
            next_cas: self.next_cas,
            hlc: self.sh.hlc.peek(),
            master_pos: c.master_pos.load(Ordering::Acquire),
            total_items: c.total_items.load(Ordering::Relaxed),
        };
        let t = Instant::now();
        let idx = self
            .sh
            .index
            .read()
            .map_err(|_| EngineError::BadDir("index lock poisoned".into()))?;
        let bytes = checkpoint::encode(&meta, &idx);
        tracing::info!(
            entries = idx.len(),
            bytes = bytes.len(),
            ms = t.elapsed().as_millis() as u64,
            "index checkpoint encoded"
        );
        drop(idx);
        self.since_ckpt = 0;
        self.last_ckpt = Instant::now();
        Ok(bytes)
    }

    fn current(&self, key: &[u8]) -> Option<Entry> {
        if let Some(e) = self.overlay.get(key) {
            return Some(*e);
        }
        self.sh.index.read().ok()?.get(key).copied()
    }

    fn read_value(&self, e: &Entry) -> Result<Vec<u8>, EngineError> {
        let len = e.record_len();
        let mut rec = vec![0u8; len];
        if let Some(pending) = self
            .app
            .pending_at(e.off, len)
            .filter(|_| e.seg == self.seg)
        {
            rec.copy_from_slice(pending);
        } else {
            let f = self
                .sh
                .segs
                .read()
                .ok()
                .and_then(|s| s.get(&e.seg).cloned());
            let f = f.ok_or_else(|| EngineError::Corrupt {
                seg: e.seg,
                off: e.off,
                reason: "segment missing".into(),
            })?;
            f.read_exact_at(&mut rec, e.off)
                .map_err(|err| EngineError::io(format!("reading segment {}", e.seg), err))?;
            record::verify(&rec).map_err(|err| EngineError::Corrupt {
                seg: e.seg,
                off: e.off,
                reason: err.to_string(),
            })?;
        }
        Ok(rec.split_off(HEADER_LEN + e.klen as usize))
    }

    /// Appends an already-encoded record and remembers where it went.
    fn append_raw(&mut self, key: &[u8], rec: &[u8]) -> Result<Entry, EngineError> {
        let end = self.app.end();
        if end > 0 && end + rec.len() as u64 > self.cfg.segment_bytes {
            self.rotate()?;
        }
        let h = record::decode_header(rec).map_err(|e| EngineError::Corrupt {
            seg: self.seg,
            off: 0,
            reason: e.to_string(),
        })?;
        let e = Entry::from_header(&h, self.seg, self.app.end());
        self.app.records().extend_from_slice(rec);
        self.overlay.insert(key.into(), e);
        Ok(e)
    }

    fn put(
        &mut self,
        kind: Kind,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: u32,
    ) -> Result<u64, EngineError> {
        let cas = self.next_cas;
        self.next_cas += 1;
        let h = Header {
            kind,
            origin: self.sh.node_id,
            klen: key.len() as u16,
            flags,
            exptime,
            vlen: value.len() as u32,
            cas,
            hlc: self.sh.hlc.tick(),
            repl_pos: 0,
        };
        // Encoded straight into the batch buffer: a value is copied once on its way to the file.
        let end = self.app.end();
        if end > 0 && end + h.total_len() as u64 > self.cfg.segment_bytes {
            self.rotate()?;
        }
        let e = Entry::from_header(&h, self.seg, self.app.end());
        record::encode(&h, key, value, self.app.records());
        self.overlay.insert(key.into(), e);
        self.sh.counters.total_items.fetch_add(1, Ordering::Relaxed);
        Ok(cas)
    }

    fn eval(&mut self, m: Mutation) -> Result<Outcome, EngineError> {
        let now = now_secs();
        match m {
            Mutation::Store {
                mode,
                key,
                value,
                flags,
                exptime,
            } => {
                let cur = self.current(&key).filter(|e| e.live(now));
                let (value, flags, exptime) = match (mode, cur) {
                    (StoreMode::Add, Some(_))
                    | (StoreMode::Replace | StoreMode::Append | StoreMode::Prepend, None) => {
                        return Ok(Outcome::NotStored)
                    }
                    (StoreMode::Cas(_), None) => return Ok(Outcome::NotFound),
                    (StoreMode::Cas(c), Some(e)) if e.cas != c => return Ok(Outcome::Exists),
                    (StoreMode::Append, Some(e)) => {
                        let mut v = self.read_value(&e)?;
                        v.extend_from_slice(&value);
                        (v, e.flags, e.exptime)
                    }
                    (StoreMode::Prepend, Some(e)) => {
                        let mut v = value;
                        v.extend_from_slice(&self.read_value(&e)?);
                        (v, e.flags, e.exptime)
                    }
                    _ => (value, flags, exptime),
                };
                let cas = self.put(Kind::Put, &key, &value, flags, exptime)?;
                Ok(Outcome::Stored { cas })
            }
            Mutation::Delete { key, cas } => match self.current(&key).filter(|e| e.live(now)) {
                None => Ok(Outcome::NotFound),
                Some(e) if cas.is_some_and(|c| c != e.cas) => Ok(Outcome::Exists),
                Some(_) => {
                    self.put(Kind::Tombstone, &key, &[], 0, 0)?;
                    Ok(Outcome::Deleted)
                }
            },
            Mutation::Arith { key, incr, delta } => {
                let Some(e) = self.current(&key).filter(|e| e.live(now)) else {
                    return Ok(Outcome::NotFound);
                };
                let old = self.read_value(&e)?;
                let Some(n) = parse_counter(&old) else {
                    return Ok(Outcome::NonNumeric);
                };
                let value = if incr {
                    n.wrapping_add(delta)
                } else {
                    n.saturating_sub(delta)
                };
                let cas = self.put(
                    Kind::Put,
                    &key,
                    &format_counter(value, old.len()),
                    e.flags,
                    e.exptime,
                )?;
                Ok(Outcome::Number { value, cas })
            }
            Mutation::Touch { key, exptime } => {
                let Some(e) = self.current(&key).filter(|e| e.live(now)) else {
                    return Ok(Outcome::NotFound);
                };
                let v = self.read_value(&e)?;
                self.put(Kind::Put, &key, &v, e.flags, exptime)?;
                Ok(Outcome::Touched)
            }
            Mutation::FlushAll => {
                let mut keys: Vec<Box<[u8]>> = match self.sh.index.read() {
                    Ok(i) => i
                        .iter()
                        .filter(|(_, e)| e.live(now))
                        .map(|(k, _)| k.clone())
                        .collect(),
                    Err(_) => Vec::new(),
                };
                keys.extend(
                    self.overlay
                        .iter()
                        .filter(|(_, e)| e.live(now))
                        .map(|(k, _)| k.clone()),
                );
                keys.sort_unstable();
                keys.dedup();
                for k in &keys {
                    self.put(Kind::Tombstone, k, &[], 0, 0)?;
                }
                Ok(Outcome::Flushed(keys.len() as u64))
            }
            Mutation::Replicated { mut record, pos } => {
                let h = record::verify(&record).map_err(|e| EngineError::Corrupt {
                    seg: 0,
                    off: pos,
                    reason: format!("replicated record: {e}"),
                })?;
                self.sh.hlc.observe(h.hlc);
                self.sh.counters.master_pos.store(pos, Ordering::Release);
                let key: Vec<u8> = record[HEADER_LEN..HEADER_LEN + h.klen as usize].to_vec();
                if let Some(cur) = self.current(&key) {
                    if (cur.hlc, cur.origin) >= (h.hlc, h.origin) {
                        return Ok(Outcome::Applied(false));
                    }
                }
                record::set_repl_pos(&mut record, pos);
                record::set_cas(&mut record, self.next_cas);
                self.next_cas += 1;
                self.append_raw(&key, &record)?;
                self.sh.counters.total_items.fetch_add(1, Ordering::Relaxed);
                self.sh
                    .counters
                    .last_applied_hlc
                    .store(h.hlc, Ordering::Relaxed);
                Ok(Outcome::Applied(true))
            }
            Mutation::Relocate { record, seg, off } => {
                let h = record::verify(&record).map_err(|e| EngineError::Corrupt {
                    seg,
                    off,
                    reason: e.to_string(),
                })?;
                let key = record[HEADER_LEN..HEADER_LEN + h.klen as usize].to_vec();
                match self.current(&key) {
                    Some(e) if e.seg == seg && e.off == off => {
                        self.append_raw(&key, &record)?;
                        Ok(Outcome::Applied(true))
                    }
                    _ => Ok(Outcome::Applied(false)),
                }
            }
            Mutation::Checkpoint => {
                self.checkpoint()?;
                Ok(Outcome::Applied(true))
            }
            Mutation::ReplPosition { pos, epoch } => {
                let c = &self.sh.counters;
                if c.master_epoch.load(Ordering::Acquire) != epoch {
                    checkpoint::store_master_epoch(&self.sh.dir, epoch)?;
                    c.master_epoch.store(epoch, Ordering::Release);
                    c.master_pos.store(pos, Ordering::Release);
                    // Records carry positions of the old master; pin the new one in a checkpoint.
                    self.checkpoint()?;
                } else {
                    c.master_pos.store(pos, Ordering::Release);
                }
                Ok(Outcome::Applied(false))
            }
        }
    }
}

fn clone_io(e: &EngineError) -> std::io::Error {
    match e {
        EngineError::Io { source, .. } => match source.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(source.kind(), source.to_string()),
        },
        other => std::io::Error::other(other.to_string()),
    }
}

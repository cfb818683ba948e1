//! Haystack-shaped engine: values live once, in append-only segment files that double as the
//! ordered update log; keys and metadata live in an in-memory index that is checkpointed, so a
//! restart loads the checkpoint and replays only the log written after it.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::record::{self, Header, Kind, HEADER_LEN};
use super::writer::{Job, Writer};
use super::{
    checkpoint, pos, pos_parts, Engine, EngineError, EngineStats, Item, ItemMeta, Mutation, Pending,
};
use crate::clock::{is_expired, now_secs, now_us, Hlc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fdatasync before every reply; concurrent writers share one sync (group commit).
    Always,
    /// fdatasync at most every interval: a crash may lose the last interval of acknowledged writes.
    Interval(Duration),
    /// Leave it to the OS.
    Never,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub dir: PathBuf,
    pub sync: SyncMode,
    /// Rotate the active segment (= update-log file) above this size.
    pub segment_bytes: u64,
    /// Write an index checkpoint after this many log bytes; bounds recovery replay.
    pub checkpoint_bytes: u64,
    pub checkpoint_interval: Duration,
    pub node_id: u16,
    /// Append with `O_DIRECT` where the filesystem allows it (see `append.rs`).
    pub direct_io: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub seg: u32,
    pub off: u64,
    pub klen: u16,
    pub vlen: u32,
    pub flags: u32,
    pub exptime: u32,
    pub cas: u64,
    pub hlc: u64,
    pub origin: u16,
    pub tomb: bool,
}

impl Entry {
    pub fn from_header(h: &Header, seg: u32, off: u64) -> Self {
        Entry {
            seg,
            off,
            klen: h.klen,
            vlen: h.vlen,
            flags: h.flags,
            exptime: h.exptime,
            cas: h.cas,
            hlc: h.hlc,
            origin: h.origin,
            tomb: h.kind == Kind::Tombstone,
        }
    }
    pub fn live(&self, now: u32) -> bool {
        !self.tomb && !is_expired(self.exptime, now)
    }
    pub fn meta(&self) -> ItemMeta {
        ItemMeta {
            flags: self.flags,
            exptime: self.exptime,
            cas: self.cas,
            hlc: self.hlc,
            origin: self.origin,
            vlen: self.vlen,
        }
    }
    pub fn record_len(&self) -> usize {
        HEADER_LEN + self.klen as usize + self.vlen as usize
    }
}

pub(crate) type Index = HashMap<Box<[u8]>, Entry>;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub curr_items: AtomicU64,
    pub bytes: AtomicU64,
    pub total_items: AtomicU64,
    pub disk_bytes: AtomicU64,
    pub master_pos: AtomicU64,
    pub master_epoch: AtomicU64,
    pub last_applied_hlc: AtomicU64,
}

impl Counters {
    /// Keeps live-item counters right when `new` replaces `old` in the index.
    pub fn replace(&self, old: Option<&Entry>, new: &Entry) {
        if let Some(o) = old.filter(|o| !o.tomb) {
            self.curr_items.fetch_sub(1, Ordering::Relaxed);
            self.bytes.fetch_sub(o.vlen as u64, Ordering::Relaxed);
        }
        if !new.tomb {
            self.curr_items.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(new.vlen as u64, Ordering::Relaxed);
        }
    }
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    pub index: RwLock<Index>,
    pub segs: RwLock<BTreeMap<u32, Arc<File>>>,
    pub hlc: Hlc,
    pub head: watch::Sender<u64>,
    pub counters: Counters,
    pub epoch: u64,
    pub node_id: u16,
}

pub struct LogEngine {
    pub(super) sh: Arc<Shared>,
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

pub(crate) fn seg_path(dir: &Path, seg: u32) -> PathBuf {
    dir.join("seg").join(format!("{seg:08}.seg"))
}

fn list_segments(dir: &Path) -> Result<Vec<u32>, EngineError> {
    let mut out = Vec::new();
    let rd = fs::read_dir(dir.join("seg")).map_err(|e| EngineError::io("listing segments", e))?;
    for ent in rd {
        let ent = ent.map_err(|e| EngineError::io("listing segments", e))?;
        let name = ent.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_suffix(".seg")
            .and_then(|s| s.parse::<u32>().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn load_or_create_epoch(dir: &Path) -> Result<u64, EngineError> {
    let p = dir.join("meta");
    match fs::read_to_string(&p) {
        Ok(s) => s
            .lines()
            .find_map(|l| l.strip_prefix("epoch "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| EngineError::BadDir(format!("{} has no epoch line", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Distinguishes this log from any other, so a follower never resumes a position
            // taken in a different (e.g. wiped and recreated) master log.
            let epoch = now_us() ^ ((std::process::id() as u64) << 48) | 1;
            let tmp = dir.join("meta.tmp");
            fs::write(&tmp, format!("tyrant-data 1\nepoch {epoch}\n"))
                .map_err(|e| EngineError::io("writing meta", e))?;
            File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| EngineError::io("syncing meta", e))?;
            fs::rename(&tmp, &p).map_err(|e| EngineError::io("renaming meta", e))?;
            Ok(epoch)
        }
        Err(e) => Err(EngineError::io("reading meta", e)),
    }
}

/// What a log scan learned besides index entries.
#[derive(Default)]
pub(crate) struct ScanState {
    pub max_cas: u64,
    pub max_hlc: u64,
    pub master_pos: u64,
}

/// Replays one segment from `start` into the index; returns the offset of the first invalid byte.
fn scan_segment(
    f: &File,
    seg: u32,
    start: u64,
    index: &mut Index,
    st: &mut ScanState,
    c: &Counters,
) -> Result<u64, EngineError> {
    let mut r = BufReader::with_capacity(
        1 << 20,
        PosReader {
            file: f,
            pos: start,
        },
    );
    let mut off = start;
    let mut buf = vec![0u8; HEADER_LEN];
    loop {
        buf.resize(HEADER_LEN, 0);
        if read_full(&mut r, &mut buf)
            .map_err(|e| EngineError::io(format!("reading segment {seg}"), e))?
            < HEADER_LEN
        {
            return Ok(off);
        }
        let Ok(h) = record::decode_header(&buf) else {
            return Ok(off);
        };
        let total = h.total_len();
        buf.resize(total, 0);
        if read_full(&mut r, &mut buf[HEADER_LEN..])
            .map_err(|e| EngineError::io(format!("reading segment {seg}"), e))?
            < total - HEADER_LEN
        {
            return Ok(off);
        }
        if record::verify(&buf).is_err() {
            return Ok(off);
        }
        let key: Box<[u8]> = buf[HEADER_LEN..HEADER_LEN + h.klen as usize].into();
        let e = Entry::from_header(&h, seg, off);
        st.max_cas = st.max_cas.max(h.cas);
        st.max_hlc = st.max_hlc.max(h.hlc);
        if h.repl_pos != 0 {
            st.master_pos = h.repl_pos;
        }
        let old = index.insert(key, e);
        c.replace(old.as_ref(), &e);
        c.total_items.fetch_add(1, Ordering::Relaxed);
        off += total as u64;
    }
}

/// True when the bytes between the last valid record and the end of file are what an
/// untrimmed direct-I/O batch leaves there.
fn padding_only(f: &File, end: u64, len: u64) -> Result<bool, EngineError> {
    if len - end >= super::append::BLOCK as u64 {
        return Ok(false);
    }
    let mut b = vec![0u8; (len - end) as usize];
    f.read_exact_at(&mut b, end)
        .map_err(|e| EngineError::io("reading segment tail", e))?;
    Ok(super::append::is_padding(&b))
}

/// Sequential reads by offset (`pread`): segment files are shared, so nobody may rely on or move
/// their cursor.
pub(crate) struct PosReader<'a> {
    pub file: &'a File,
    pub pos: u64,
}

impl Read for PosReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

impl LogEngine {
    pub fn open(cfg: EngineConfig) -> Result<Self, EngineError> {
        let dir = cfg.dir.clone();
        fs::create_dir_all(dir.join("seg"))
            .map_err(|e| EngineError::io(format!("creating {}", dir.display()), e))?;
        let epoch = load_or_create_epoch(&dir)?;
        let segs = list_segments(&dir)?;
        let counters = Counters::default();
        let mut index = Index::new();
        let mut st = ScanState::default();
        let mut from = pos(segs.first().copied().unwrap_or(1), 0);
        match checkpoint::load(&dir) {
            Ok(Some(ck)) if segs.contains(&pos_parts(ck.pos).0) => {
                tracing::info!(entries = ck.index.len(), "loaded index checkpoint");
                for (k, e) in ck.index {
                    counters.replace(None, &e);
                    index.insert(k, e);
                }
                counters
                    .total_items
                    .store(ck.total_items, Ordering::Relaxed);
                st.max_cas = ck.next_cas.saturating_sub(1);
                st.max_hlc = ck.hlc;
                st.master_pos = ck.master_pos;
                from = ck.pos;
            }
            Ok(_) => tracing::info!("no usable checkpoint; replaying the whole log"),
            Err(e) => tracing::warn!("ignoring unreadable checkpoint: {e}"),
        }
        let (from_seg, from_off) = pos_parts(from);
        let mut files = BTreeMap::new();
        let mut last_end = 0;
        for (i, &seg) in segs.iter().enumerate() {
            let path = seg_path(&dir, seg);
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| EngineError::io(format!("opening {}", path.display()), e))?;
            let len = f
                .metadata()
                .map_err(|e| EngineError::io("stat segment", e))?
                .len();
            let mut end = len;
            if seg >= from_seg {
                let start = if seg == from_seg { from_off } else { 0 };
                end = scan_segment(&f, seg, start, &mut index, &mut st, &counters)?;
                if end < len && padding_only(&f, end, len)? {
                    tracing::debug!(seg, end, len, "cutting the zero padding of a direct write");
                    f.set_len(end)
                        .map_err(|e| EngineError::io("trimming segment padding", e))?;
                } else if end < len {
                    if i + 1 == segs.len() {
                        tracing::warn!(
                            seg,
                            valid = end,
                            len,
                            "truncating torn tail of the last segment"
                        );
                        f.set_len(end)
                            .map_err(|e| EngineError::io("truncating torn tail", e))?;
                        f.sync_all()
                            .map_err(|e| EngineError::io("syncing truncated segment", e))?;
                    } else {
                        tracing::error!(
                            seg,
                            valid = end,
                            len,
                            "invalid bytes inside a sealed segment; records after them are ignored"
                        );
                    }
                }
            }
            counters.disk_bytes.fetch_add(end, Ordering::Relaxed);
            last_end = end;
            files.insert(seg, Arc::new(f));
        }
        let active_seg = segs.last().copied().unwrap_or(1);
        if files.is_empty() {
            let path = seg_path(&dir, active_seg);
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| EngineError::io(format!("creating {}", path.display()), e))?;
            files.insert(active_seg, Arc::new(f));
        }
        let master_epoch = crate::engine::checkpoint::load_master_epoch(&dir);
        counters.master_pos.store(st.master_pos, Ordering::Relaxed);
        counters.master_epoch.store(master_epoch, Ordering::Relaxed);
        let hlc = Hlc::default();
        hlc.observe(st.max_hlc);
        let (head, _) = watch::channel(pos(active_seg, last_end));
        let sh = Arc::new(Shared {
            dir,
            index: RwLock::new(index),
            segs: RwLock::new(files),
            hlc,
            head,
            counters,
            epoch,
            node_id: cfg.node_id,
        });
        let (tx, rx) = mpsc::channel();
        let writer = Writer::new(sh.clone(), cfg, active_seg, last_end, st.max_cas + 1)?;
        let handle = std::thread::Builder::new()
            .name("tyrant-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| EngineError::io("spawning writer thread", e))?;
        Ok(LogEngine {
            sh,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
        })
    }

    /// Stops the writer after it has synced the log and written a final checkpoint.
    pub fn close(&self) {
        let tx = self.tx.lock().ok().and_then(|mut g| g.take());
        drop(tx);
        if let Some(h) = self.writer.lock().ok().and_then(|mut g| g.take()) {
            let _ = h.join();
        }
    }

    pub fn epoch(&self) -> u64 {
        self.sh.epoch
    }
    pub fn node_id(&self) -> u16 {
        self.sh.node_id
    }
    pub fn hlc_now(&self) -> u64 {
        self.sh.hlc.peek()
    }
    /// Position up to which the log is written; changes wake the receiver.
    pub fn head(&self) -> watch::Receiver<u64> {
        self.sh.head.subscribe()
    }
    pub fn first_segment(&self) -> u32 {
        self.sh
            .segs
            .read()
            .map(|s| s.keys().next().copied().unwrap_or(1))
            .unwrap_or(1)
    }
    pub fn master_position(&self) -> (u64, u64) {
        let c = &self.sh.counters;
        (
            c.master_epoch.load(Ordering::Acquire),
            c.master_pos.load(Ordering::Acquire),
        )
    }

    /// Reads the complete record at a log position: `Ok(None)` when `p` is at the end of its
    /// segment (the caller moves to the next segment or waits for the head to move).
    pub fn read_at(&self, p: u64) -> Result<Option<Vec<u8>>, EngineError> {
        let (seg, off) = pos_parts(p);
        let Some(f) = self.sh.segs.read().ok().and_then(|s| s.get(&seg).cloned()) else {
            return Ok(None);
        };
        let mut hdr = vec![0u8; HEADER_LEN];
        match f.read_exact_at(&mut hdr, off) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(EngineError::io(format!("reading segment {seg}"), e)),
        }
        let h = record::decode_header(&hdr).map_err(|e| EngineError::Corrupt {
            seg,
            off,
            reason: e.to_string(),
        })?;
        let mut buf = hdr;
        buf.resize(h.total_len(), 0);
        f.read_exact_at(&mut buf[HEADER_LEN..], off + HEADER_LEN as u64)
            .map_err(|e| EngineError::io(format!("reading segment {seg}"), e))?;
        record::verify(&buf).map_err(|e| EngineError::Corrupt {
            seg,
            off,
            reason: e.to_string(),
        })?;
        Ok(Some(buf))
    }

    /// Where a live value lies on disk: its metadata, the segment file and the value's offset.
    /// The file handle stays readable even if compaction deletes the segment meanwhile.
    /// The value's crc is *not* checked: callers that stream it from the file trade the
    /// per-read check for zero copies (compaction and replication still verify every record).
    pub fn locate(&self, key: &[u8]) -> Option<(ItemMeta, Arc<File>, u64)> {
        for _ in 0..3 {
            let e = self.sh.index.read().ok()?.get(key).copied()?;
            if !e.live(now_secs()) {
                return None;
            }
            if let Some(f) = self
                .sh
                .segs
                .read()
                .ok()
                .and_then(|s| s.get(&e.seg).cloned())
            {
                return Some((e.meta(), f, e.off + HEADER_LEN as u64 + e.klen as u64));
            }
        }
        None
    }

    /// Next segment number after `seg`, if one exists.
    pub fn next_segment(&self, seg: u32) -> Option<u32> {
        self.sh
            .segs
            .read()
            .ok()
            .and_then(|s| s.range(seg + 1..).next().map(|(k, _)| *k))
    }
}

impl Drop for LogEngine {
    fn drop(&mut self) {
        self.close();
    }
}

impl Engine for LogEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Item>, EngineError> {
        // A compaction may delete the segment between the index lookup and the read; the index
        // then already points at the copy, so look again.
        for _ in 0..3 {
            let Some(e) = self.sh.index.read().ok().and_then(|i| i.get(key).copied()) else {
                return Ok(None);
            };
            if !e.live(now_secs()) {
                return Ok(None);
            }
            let Some(f) = self
                .sh
                .segs
                .read()
                .ok()
                .and_then(|s| s.get(&e.seg).cloned())
            else {
                continue;
            };
            let mut buf = vec![0u8; e.record_len()];
            f.read_exact_at(&mut buf, e.off)
                .map_err(|err| EngineError::io(format!("reading segment {}", e.seg), err))?;
            record::verify(&buf).map_err(|err| EngineError::Corrupt {
                seg: e.seg,
                off: e.off,
                reason: err.to_string(),
            })?;
            return Ok(Some(Item {
                meta: e.meta(),
                buf,
                vstart: HEADER_LEN + e.klen as usize,
            }));
        }
        Err(EngineError::BadDir("segment vanished during read".into()))
    }

    fn meta(&self, key: &[u8]) -> Option<ItemMeta> {
        let e = self.sh.index.read().ok()?.get(key).copied()?;
        e.live(now_secs()).then(|| e.meta())
    }

    fn submit(&self, m: Mutation) -> Pending {
        let (tx, rx) = oneshot::channel();
        let sent = self
            .tx
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|s| s.send(Job { m, reply: tx })));
        if let Some(Err(mpsc::SendError(job))) = sent {
            let _ = job.reply.send(Err(EngineError::Stopped));
        }
        rx
    }

    fn stats(&self) -> EngineStats {
        let c = &self.sh.counters;
        EngineStats {
            curr_items: c.curr_items.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            total_items: c.total_items.load(Ordering::Relaxed),
            disk_bytes: c.disk_bytes.load(Ordering::Relaxed),
            segments: self.sh.segs.read().map(|s| s.len() as u64).unwrap_or(0),
            index_entries: self.sh.index.read().map(|i| i.len() as u64).unwrap_or(0),
            head_pos: *self.sh.head.borrow(),
            master_pos: c.master_pos.load(Ordering::Relaxed),
            master_epoch: c.master_epoch.load(Ordering::Relaxed),
            epoch: self.sh.epoch,
            last_applied_hlc: c.last_applied_hlc.load(Ordering::Relaxed),
        }
    }
}

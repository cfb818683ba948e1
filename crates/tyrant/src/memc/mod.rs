//! memcached door: memcached 1.6 text and meta protocol. Parsing and the exact error lines come
//! from `fdfs_proto::memcached` (the one codec); this file only executes requests.

mod meta;

use fdfs_proto::memcached::{
    encode_value_header, Action, ArithCommand, Limits, Parsed, Request, RequestDecoder,
    StorageCommand, ValueLimit,
};
use std::io::IoSlice;
use std::os::unix::fs::FileExt;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::clock::{absolute_exptime, now_secs};
use crate::conn::Conn;
use crate::engine::{apply, Engine, EngineError, Mutation, Outcome, StoreMode};
use crate::server::App;
use crate::stats::inc;

/// What `version` reports: the memcached release whose semantics we follow (clients such as
/// libmemcached parse it as numbers). `stats` shows tyrantd's own version.
pub const MEMCACHED_VERSION: &str = "1.6.18";
/// Output is flushed once this much is buffered, even in the middle of a pipeline.
const FLUSH_AT: usize = 128 * 1024;
/// Values at least this large are read straight from the segment, without the per-read crc
/// check (the scrubber checks them in the background).
const DIRECT_AT: usize = 32 * 1024;
/// Up to this size such values are `pread` into the output buffer; larger ones go out with
/// `sendfile`. On loopback and on these VMs one buffered write beat header + sendfile + trailer
/// under TCP_CORK by 1.3x for 100 KiB values, while this cap bounds per-connection memory.
const PREAD_MAX: usize = 256 * 1024;
/// An output buffer grown past this is given back before the connection waits for input.
const KEEP_OUT: usize = 512 * 1024;

/// Per-connection state for replies of values read straight from the segments.
#[derive(Default)]
struct BigValues {
    /// TCP_CORK is on (a sendfile reply is in progress); cleared when output is flushed.
    corked: bool,
    /// A value read into a pooled buffer, waiting to go out in one `writev` with the output
    /// buffered before it (`out[..split]`) and after it (`out[split..]`, e.g. `END`).
    held: Option<Held>,
}

struct Held {
    value: Scratch,
    len: usize,
    split: usize,
}

impl BigValues {
    fn pending(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.len)
    }
}

/// Sends everything buffered for the client, in order.
async fn flush(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    big: &mut BigValues,
) -> std::io::Result<()> {
    match big.held.take() {
        None => stream.write_all(out).await?,
        Some(h) => {
            let (before, after) = out.split_at(h.split);
            let mut bufs = [
                IoSlice::new(before),
                IoSlice::new(&h.value.0[..h.len]),
                IoSlice::new(after),
            ];
            write_all_vectored(stream, &mut bufs).await?;
        }
    }
    out.clear();
    Ok(())
}

/// Value-sized read buffers shared by all connections: idle connections hold none, and a busy
/// one does not pay an allocation and zero-fill per value.
static SCRATCH_POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const SCRATCH_POOL_MAX: usize = 64;

struct Scratch(Vec<u8>);

impl Scratch {
    fn take(len: usize) -> Scratch {
        let mut v = SCRATCH_POOL
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        if v.len() < len {
            v.resize(len.max(PREAD_MAX), 0);
        }
        Scratch(v)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut p) = SCRATCH_POOL.lock() {
            if p.len() < SCRATCH_POOL_MAX {
                p.push(std::mem::take(&mut self.0));
            }
        }
    }
}

async fn write_all_vectored(
    stream: &mut TcpStream,
    mut bufs: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    while !bufs.is_empty() {
        let n = stream.write_vectored(bufs).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

pub(crate) enum Flow {
    Continue,
    Close,
}

pub fn limits(app: &App) -> Limits {
    Limits {
        max_key_len: app.cfg.max_key_len,
        value_limit: ValueLimit::Bytes(app.cfg.max_item_size),
        // memcached closes after 2048 bytes without a newline; long URL keys need more.
        max_line_without_newline: (app.cfg.max_key_len + 64).max(2048),
        max_line: app.cfg.max_line,
        wrap_numbers: true,
    }
}

pub async fn serve(app: &App, mut conn: Conn, may_write: bool) {
    let mut dec = RequestDecoder::new(limits(app));
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut draining = app.draining.clone();
    let mut big = BigValues::default();
    loop {
        loop {
            let (buf, stream) = conn.split();
            let (consumed, flow) = match dec.decode(buf) {
                Parsed::Incomplete => break,
                Parsed::Swallowed { consumed } => (consumed, Flow::Continue),
                Parsed::Error { error, consumed } => {
                    if let Some(r) = error.reply_to_send() {
                        out.extend_from_slice(r);
                    }
                    let flow = if error.action == Action::Close {
                        Flow::Close
                    } else {
                        Flow::Continue
                    };
                    (consumed, flow)
                }
                Parsed::Request { request, consumed } => (
                    consumed,
                    exec(app, request, may_write, &mut out, stream, &mut big).await,
                ),
            };
            conn.consume(consumed);
            if matches!(flow, Flow::Close) {
                let _ = flush(&mut conn.stream, &mut out, &mut big).await;
                return;
            }
            if out.len() + big.pending() >= FLUSH_AT
                && flush(&mut conn.stream, &mut out, &mut big).await.is_err()
            {
                return;
            }
        }
        if (!out.is_empty() || big.held.is_some())
            && flush(&mut conn.stream, &mut out, &mut big).await.is_err()
        {
            return;
        }
        if big.corked {
            crate::sendfile::cork(&conn.stream, false);
            big.corked = false;
        }
        if out.capacity() > KEEP_OUT {
            out = Vec::with_capacity(16 * 1024);
        }
        if *app.draining.borrow() {
            return;
        }
        let r = tokio::select! {
            r = conn.fill(16 * 1024) => r,
            _ = draining.changed() => return,
        };
        if r.is_err() {
            return;
        }
    }
}

pub(crate) fn line(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

pub(crate) fn server_error(out: &mut Vec<u8>, e: &EngineError, app: &App) {
    inc(&app.stats.write_errors);
    tracing::error!("storage error: {e}");
    if e.is_no_space() {
        line(out, "SERVER_ERROR out of memory storing object");
    } else {
        line(out, "SERVER_ERROR storage failure");
    }
}

/// Writes refused by policy. Connection-level reasons are answered like ttserver's `-mask`.
pub(crate) fn refused(app: &App, may_write: bool) -> Option<&'static str> {
    if !may_write {
        Some("CLIENT_ERROR forbidden")
    } else if app.cfg.read_only {
        Some("SERVER_ERROR read-only server")
    } else {
        None
    }
}

async fn exec(
    app: &App,
    req: Request<'_>,
    may_write: bool,
    out: &mut Vec<u8>,
    stream: &mut TcpStream,
    big: &mut BigValues,
) -> Flow {
    if req.noreply() {
        // Executed for its effect; whatever it would say is dropped.
        let mut sink = Vec::new();
        exec_inner(app, req, may_write, &mut sink, stream, big).await
    } else {
        // Replies go into the shared output in order; big values may flush it early.
        exec_inner(app, req, may_write, out, stream, big).await
    }
}

async fn exec_inner(
    app: &App,
    req: Request<'_>,
    may_write: bool,
    out: &mut Vec<u8>,
    stream: &mut TcpStream,
    big: &mut BigValues,
) -> Flow {
    let now = now_secs();
    match req {
        Request::Retrieval {
            command,
            exptime,
            keys,
        } => {
            if command.touches() {
                if let Some(why) = refused(app, may_write) {
                    line(out, why);
                    return Flow::Continue;
                }
            }
            for key in keys {
                inc(&app.stats.cmd_get);
                if let Some(e) = exptime {
                    inc(&app.stats.cmd_touch);
                    let m = Mutation::Touch {
                        key: key.to_vec(),
                        exptime: absolute_exptime(e as i64, now),
                    };
                    if let Err(e) = apply(&*app.engine, m).await {
                        server_error(out, &e, app);
                        return Flow::Continue;
                    }
                }
                if let Some((m, file, voff)) = app
                    .engine
                    .locate(key)
                    .filter(|l| l.0.vlen as usize >= DIRECT_AT)
                {
                    inc(&app.stats.get_hits);
                    let cas = command.returns_cas().then_some(m.cas);
                    let vlen = m.vlen as usize;
                    encode_value_header(out, key, m.flags, vlen, cas);
                    if vlen <= PREAD_MAX {
                        // Read into a pooled buffer and sent with what surrounds it in one
                        // writev: no zero-fill, no copy into `out`, one packet train per reply.
                        let mut scratch = Scratch::take(vlen);
                        if let Err(e) = file.read_exact_at(&mut scratch.0[..vlen], voff) {
                            // The header is already in `out`: the reply cannot be repaired.
                            tracing::error!("read failed: {e}");
                            return Flow::Close;
                        }
                        // One held value at a time: an earlier one goes out now, with this header.
                        if big.held.is_some() && flush(stream, out, big).await.is_err() {
                            return Flow::Close;
                        }
                        big.held = Some(Held {
                            value: scratch,
                            len: vlen,
                            split: out.len(),
                        });
                        out.extend_from_slice(b"\r\n");
                        continue;
                    }
                    // Bigger: header through `out`, value by sendfile straight from the segment.
                    if !big.corked {
                        crate::sendfile::cork(stream, true);
                        big.corked = true;
                    }
                    if flush(stream, out, big).await.is_err()
                        || crate::sendfile::send_file(stream, &file, voff, m.vlen as u64)
                            .await
                            .is_err()
                    {
                        return Flow::Close;
                    }
                    out.clear();
                    out.extend_from_slice(b"\r\n");
                    continue;
                }
                match app.engine.get(key) {
                    Ok(Some(item)) => {
                        inc(&app.stats.get_hits);
                        let v = item.value();
                        let cas = command.returns_cas().then_some(item.meta.cas);
                        encode_value_header(out, key, item.meta.flags, v.len(), cas);
                        out.extend_from_slice(v);
                        out.extend_from_slice(b"\r\n");
                    }
                    Ok(None) => inc(&app.stats.get_misses),
                    Err(e) => {
                        tracing::error!("read failed: {e}");
                        line(out, "SERVER_ERROR storage failure");
                        return Flow::Continue;
                    }
                }
            }
            line(out, "END");
        }
        Request::Storage {
            command,
            key,
            flags,
            exptime,
            cas,
            data,
            ..
        } => {
            inc(&app.stats.cmd_set);
            if let Some(why) = refused(app, may_write) {
                line(out, why);
                return Flow::Continue;
            }
            let mode = match command {
                StorageCommand::Set => StoreMode::Set,
                StorageCommand::Add => StoreMode::Add,
                StorageCommand::Replace => StoreMode::Replace,
                StorageCommand::Append => StoreMode::Append,
                StorageCommand::Prepend => StoreMode::Prepend,
                StorageCommand::Cas => StoreMode::Cas(cas.unwrap_or(0)),
            };
            let m = Mutation::Store {
                mode,
                key: key.to_vec(),
                value: data.to_vec(),
                flags,
                exptime: absolute_exptime(exptime as i64, now),
            };
            match apply(&*app.engine, m).await {
                Ok(Outcome::Stored { .. }) => {
                    if command == StorageCommand::Cas {
                        inc(&app.stats.cas_hits);
                    }
                    line(out, "STORED")
                }
                Ok(Outcome::NotStored) => line(out, "NOT_STORED"),
                Ok(Outcome::Exists) => {
                    inc(&app.stats.cas_badval);
                    line(out, "EXISTS")
                }
                Ok(Outcome::NotFound) => {
                    inc(&app.stats.cas_misses);
                    line(out, "NOT_FOUND")
                }
                Ok(o) => line(out, &format!("SERVER_ERROR unexpected outcome {o:?}")),
                Err(e) => server_error(out, &e, app),
            }
        }
        Request::Delete { key, .. } => {
            if let Some(why) = refused(app, may_write) {
                line(out, why);
                return Flow::Continue;
            }
            match apply(
                &*app.engine,
                Mutation::Delete {
                    key: key.to_vec(),
                    cas: None,
                },
            )
            .await
            {
                Ok(Outcome::Deleted) => {
                    inc(&app.stats.delete_hits);
                    line(out, "DELETED")
                }
                Ok(_) => {
                    inc(&app.stats.delete_misses);
                    line(out, "NOT_FOUND")
                }
                Err(e) => server_error(out, &e, app),
            }
        }
        Request::Arithmetic {
            command,
            key,
            delta,
            ..
        } => {
            if let Some(why) = refused(app, may_write) {
                line(out, why);
                return Flow::Continue;
            }
            let m = Mutation::Arith {
                key: key.to_vec(),
                incr: command == ArithCommand::Incr,
                delta,
            };
            match apply(&*app.engine, m).await {
                Ok(Outcome::Number { value, .. }) => {
                    inc(&app.stats.incr_hits);
                    line(out, &value.to_string())
                }
                Ok(Outcome::NonNumeric) => line(
                    out,
                    "CLIENT_ERROR cannot increment or decrement non-numeric value",
                ),
                Ok(_) => {
                    inc(&app.stats.incr_misses);
                    line(out, "NOT_FOUND")
                }
                Err(e) => server_error(out, &e, app),
            }
        }
        Request::Touch { key, exptime, .. } => {
            inc(&app.stats.cmd_touch);
            if let Some(why) = refused(app, may_write) {
                line(out, why);
                return Flow::Continue;
            }
            let m = Mutation::Touch {
                key: key.to_vec(),
                exptime: absolute_exptime(exptime as i64, now),
            };
            match apply(&*app.engine, m).await {
                Ok(Outcome::Touched) => line(out, "TOUCHED"),
                Ok(_) => line(out, "NOT_FOUND"),
                Err(e) => server_error(out, &e, app),
            }
        }
        Request::FlushAll { delay, .. } => {
            if !app.cfg.allow_flush_all {
                line(out, "SERVER_ERROR flush_all disabled");
            } else if let Some(why) = refused(app, may_write) {
                line(out, why);
            } else {
                let delay = delay.unwrap_or(0);
                if delay > 0 {
                    // Not persisted: a restart before the delay cancels the flush.
                    let engine = app.engine.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_secs(delay as u64)).await;
                        let _ = apply(&*engine, Mutation::FlushAll).await;
                    });
                    line(out, "OK");
                } else {
                    match apply(&*app.engine, Mutation::FlushAll).await {
                        Ok(_) => line(out, "OK"),
                        Err(e) => server_error(out, &e, app),
                    }
                }
            }
        }
        Request::Version => line(out, &format!("VERSION {MEMCACHED_VERSION}")),
        Request::Verbosity { .. } => line(out, "OK"),
        Request::Stats { args } => {
            if args.is_empty() {
                meta::write_stats(app, out);
            } else {
                line(out, "ERROR");
            }
        }
        Request::Quit => return Flow::Close,
        Request::Meta(m) => return meta::meta(app, m, may_write, out).await,
        Request::Admin { .. } => line(out, "ERROR"),
    }
    Flow::Continue
}

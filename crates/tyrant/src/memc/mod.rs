//! memcached door: memcached 1.6 text and meta protocol. Parsing and the exact error lines come
//! from `fdfs_proto::memcached` (the one codec); this file only executes requests.

mod meta;

use fdfs_proto::memcached::{
    encode_value_header, Action, ArithCommand, Limits, Parsed, Request, RequestDecoder,
    StorageCommand, ValueLimit,
};
use std::io::IoSlice;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::clock::{absolute_exptime, now_secs};
use crate::conn::Conn;
use crate::engine::{apply, Engine, EngineError, Mutation, Outcome, StoreMode};
use crate::server::App;
use crate::stats::inc;
use crate::valueio::{send_with_file, write_all_vectored, Scratch, CHUNK};

/// What `version` reports: the memcached release whose semantics we follow (clients such as
/// libmemcached parse it as numbers). `stats` shows tyrantd's own version.
pub const MEMCACHED_VERSION: &str = "1.6.18";
/// Output is flushed once this much is buffered, even in the middle of a pipeline.
const FLUSH_AT: usize = 128 * 1024;
/// Values at least this large are read straight from the segment, without the per-read crc
/// check (the scrubber checks them in the background).
const DIRECT_AT: usize = 32 * 1024;
/// An output buffer grown past this is given back before the connection waits for input.
const KEEP_OUT: usize = 512 * 1024;

/// A value read into a pooled buffer, waiting to go out in one `writev` with the output buffered
/// before it (`out[..split]`) and after it (`out[split..]`, e.g. `END`).
struct Held {
    value: Scratch,
    len: usize,
    split: usize,
}

/// Sends everything buffered for the client, in order.
async fn flush(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    held: &mut Option<Held>,
) -> std::io::Result<()> {
    match held.take() {
        None => stream.write_all(out).await?,
        Some(h) => {
            let (before, after) = out.split_at(h.split);
            let mut bufs = [
                IoSlice::new(before),
                IoSlice::new(h.value.get(h.len)),
                IoSlice::new(after),
            ];
            write_all_vectored(stream, &mut bufs).await?;
        }
    }
    out.clear();
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
    let mut held: Option<Held> = None;
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
                    exec(app, request, may_write, &mut out, stream, &mut held).await,
                ),
            };
            conn.consume(consumed);
            if matches!(flow, Flow::Close) {
                let _ = flush(&mut conn.stream, &mut out, &mut held).await;
                return;
            }
            if out.len() + held.as_ref().map_or(0, |h| h.len) >= FLUSH_AT
                && flush(&mut conn.stream, &mut out, &mut held).await.is_err()
            {
                return;
            }
        }
        if (!out.is_empty() || held.is_some())
            && flush(&mut conn.stream, &mut out, &mut held).await.is_err()
        {
            return;
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
    held: &mut Option<Held>,
) -> Flow {
    if req.noreply() {
        // Executed for its effect; whatever it would say is dropped.
        let mut sink = Vec::new();
        exec_inner(app, req, may_write, &mut sink, stream, held).await
    } else {
        // Replies go into the shared output in order; big values may flush it early.
        exec_inner(app, req, may_write, out, stream, held).await
    }
}

async fn exec_inner(
    app: &App,
    req: Request<'_>,
    may_write: bool,
    out: &mut Vec<u8>,
    stream: &mut TcpStream,
    held: &mut Option<Held>,
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
                    if vlen > CHUNK {
                        // Streamed in chunks right away: nothing value-sized stays buffered.
                        if held.is_some() && flush(stream, out, held).await.is_err()
                            || send_with_file(stream, out, &file, voff, vlen as u64)
                                .await
                                .is_err()
                        {
                            return Flow::Close;
                        }
                        out.clear();
                        out.extend_from_slice(b"\r\n");
                        continue;
                    }
                    let mut value = Scratch::take();
                    if let Err(e) = value.read(&file, voff, vlen) {
                        // The header is already in `out`: the reply cannot be repaired.
                        tracing::error!("read failed: {e}");
                        return Flow::Close;
                    }
                    // One held value at a time: an earlier one goes out now, with this header.
                    if held.is_some() && flush(stream, out, held).await.is_err() {
                        return Flow::Close;
                    }
                    *held = Some(Held {
                        value,
                        len: vlen,
                        split: out.len(),
                    });
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

//! memcached door: memcached 1.6 text and meta protocol. Parsing and the exact error lines come
//! from `fdfs_proto::memcached` (the one codec); this file only executes requests.

use std::sync::atomic::Ordering;

use fdfs_proto::memcached::{
    encode_value_header, Action, ArithCommand, Limits, MetaCommand, MetaFlag, MetaReply, MetaRequest, MetaStatus, Parsed, Request,
    RequestDecoder, RetrievalCommand, StorageCommand, ValueLimit,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::clock::{absolute_exptime, now_secs};
use crate::conn::Conn;
use crate::engine::{apply, Engine, EngineError, ItemMeta, Mutation, Outcome, StoreMode};
use crate::server::App;
use crate::stats::{self, cpu_times, get, inc, rss_bytes};

/// What `version` reports: the memcached release whose semantics we follow (clients such as
/// libmemcached parse it as numbers). `stats` shows tyrantd's own version.
pub const MEMCACHED_VERSION: &str = "1.6.18";
/// Output is flushed once this much is buffered, even in the middle of a pipeline.
const FLUSH_AT: usize = 128 * 1024;

enum Flow {
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
                    let flow = if error.action == Action::Close { Flow::Close } else { Flow::Continue };
                    (consumed, flow)
                }
                Parsed::Request { request, consumed } => (consumed, exec(app, request, may_write, &mut out, stream).await),
            };
            conn.consume(consumed);
            if matches!(flow, Flow::Close) {
                let _ = conn.stream.write_all(&out).await;
                return;
            }
            if out.len() >= FLUSH_AT {
                if conn.stream.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
        }
        if !out.is_empty() {
            if conn.stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
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

fn line(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn server_error(out: &mut Vec<u8>, e: &EngineError, app: &App) {
    inc(&app.stats.write_errors);
    tracing::error!("storage error: {e}");
    if e.is_no_space() {
        line(out, "SERVER_ERROR out of memory storing object");
    } else {
        line(out, "SERVER_ERROR storage failure");
    }
}

/// Writes refused by policy. Connection-level reasons are answered like ttserver's `-mask`.
fn refused(app: &App, may_write: bool) -> Option<&'static str> {
    if !may_write {
        Some("CLIENT_ERROR forbidden")
    } else if app.cfg.read_only {
        Some("SERVER_ERROR read-only server")
    } else {
        None
    }
}

async fn exec(app: &App, req: Request<'_>, may_write: bool, out: &mut Vec<u8>, stream: &mut TcpStream) -> Flow {
    let noreply = req.noreply();
    let mut reply = Vec::new();
    let flow = exec_inner(app, req, may_write, &mut reply, stream).await;
    if !noreply {
        out.extend_from_slice(&reply);
    }
    flow
}

async fn exec_inner(app: &App, req: Request<'_>, may_write: bool, out: &mut Vec<u8>, stream: &mut TcpStream) -> Flow {
    let now = now_secs();
    match req {
        Request::Retrieval { command, exptime, keys } => {
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
                    let m = Mutation::Touch { key: key.to_vec(), exptime: absolute_exptime(e as i64, now) };
                    if let Err(e) = apply(&*app.engine, m).await {
                        server_error(out, &e, app);
                        return Flow::Continue;
                    }
                }
                match app.engine.get(key) {
                    Ok(Some(item)) => {
                        inc(&app.stats.get_hits);
                        let v = item.value();
                        let cas = command.returns_cas().then_some(item.meta.cas);
                        encode_value_header(out, key, item.meta.flags, v.len(), cas);
                        if v.len() >= FLUSH_AT {
                            // Big values go straight to the socket instead of through `out`.
                            if stream.write_all(out).await.is_err() || stream.write_all(v).await.is_err() {
                                return Flow::Close;
                            }
                            out.clear();
                        } else {
                            out.extend_from_slice(v);
                        }
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
            let _ = RetrievalCommand::Get;
            line(out, "END");
        }
        Request::Storage { command, key, flags, exptime, cas, data, .. } => {
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
            let m = Mutation::Store { mode, key: key.to_vec(), value: data.to_vec(), flags, exptime: absolute_exptime(exptime as i64, now) };
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
            match apply(&*app.engine, Mutation::Delete { key: key.to_vec(), cas: None }).await {
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
        Request::Arithmetic { command, key, delta, .. } => {
            if let Some(why) = refused(app, may_write) {
                line(out, why);
                return Flow::Continue;
            }
            let m = Mutation::Arith { key: key.to_vec(), incr: command == ArithCommand::Incr, delta };
            match apply(&*app.engine, m).await {
                Ok(Outcome::Number { value, .. }) => {
                    inc(&app.stats.incr_hits);
                    line(out, &value.to_string())
                }
                Ok(Outcome::NonNumeric) => line(out, "CLIENT_ERROR cannot increment or decrement non-numeric value"),
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
            let m = Mutation::Touch { key: key.to_vec(), exptime: absolute_exptime(exptime as i64, now) };
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
                write_stats(app, out);
            } else {
                line(out, "ERROR");
            }
        }
        Request::Quit => return Flow::Close,
        Request::Meta(m) => return meta(app, m, may_write, out).await,
        Request::Admin { .. } => line(out, "ERROR"),
    }
    Flow::Continue
}

fn write_stats(app: &App, out: &mut Vec<u8>) {
    let s = &app.stats;
    let e = app.engine.stats();
    let (user, sys) = cpu_times();
    let repl = &app.repl;
    let rows: Vec<(&str, String)> = vec![
        ("pid", std::process::id().to_string()),
        ("uptime", app.started.elapsed().as_secs().to_string()),
        ("time", now_secs().to_string()),
        ("version", MEMCACHED_VERSION.to_string()),
        ("tyrantd_version", crate::server::VERSION.to_string()),
        ("pointer_size", (usize::BITS).to_string()),
        ("rusage_user", format!("{}.{:06}", user / 1_000_000, user % 1_000_000)),
        ("rusage_system", format!("{}.{:06}", sys / 1_000_000, sys % 1_000_000)),
        ("max_connections", app.cfg.max_connections.to_string()),
        ("curr_connections", get(&s.curr_connections).to_string()),
        ("total_connections", get(&s.total_connections).to_string()),
        ("rejected_connections", get(&s.rejected_connections).to_string()),
        ("cmd_get", get(&s.cmd_get).to_string()),
        ("cmd_set", get(&s.cmd_set).to_string()),
        ("cmd_touch", get(&s.cmd_touch).to_string()),
        ("get_hits", get(&s.get_hits).to_string()),
        ("get_misses", get(&s.get_misses).to_string()),
        ("delete_hits", get(&s.delete_hits).to_string()),
        ("delete_misses", get(&s.delete_misses).to_string()),
        ("incr_hits", get(&s.incr_hits).to_string()),
        ("incr_misses", get(&s.incr_misses).to_string()),
        ("cas_hits", get(&s.cas_hits).to_string()),
        ("cas_misses", get(&s.cas_misses).to_string()),
        ("cas_badval", get(&s.cas_badval).to_string()),
        ("http_requests", get(&s.http_requests).to_string()),
        ("write_errors", get(&s.write_errors).to_string()),
        ("threads", app.cfg.threads.to_string()),
        ("curr_items", e.curr_items.to_string()),
        ("total_items", e.total_items.to_string()),
        ("bytes", e.bytes.to_string()),
        ("limit_maxbytes", e.disk_bytes.max(e.bytes).to_string()),
        ("disk_bytes", e.disk_bytes.to_string()),
        ("segments", e.segments.to_string()),
        ("index_entries", e.index_entries.to_string()),
        ("rss_bytes", rss_bytes().to_string()),
        ("server_id", app.cfg.server_id.to_string()),
        ("log_position", e.head_pos.to_string()),
        ("repl_master", app.cfg.master.clone().unwrap_or_else(|| "-".into())),
        ("repl_connected", (repl.connected.load(Ordering::Relaxed) as u8).to_string()),
        ("repl_position", e.master_pos.to_string()),
        ("repl_master_head", repl.master_head.load(Ordering::Relaxed).to_string()),
        ("repl_lag_bytes", crate::repl::lag_bytes(app).to_string()),
        ("repl_delay_seconds", format!("{:.3}", crate::repl::delay_secs(app))),
        ("repl_records_received", repl.applied.load(Ordering::Relaxed).to_string()),
        ("repl_full_resyncs", repl.full_resyncs.load(Ordering::Relaxed).to_string()),
    ];
    for (k, v) in rows {
        line(out, &format!("STAT {k} {v}"));
    }
    line(out, "END");
}

fn ttl_left(m: &ItemMeta, now: u32) -> i64 {
    if m.exptime == 0 {
        -1
    } else {
        m.exptime.saturating_sub(now) as i64
    }
}

/// Return flags in request order, as memcached echoes them.
fn ret_flags<'a>(req: &MetaRequest<'a>, meta: Option<&ItemMeta>, now: u32, scratch: &'a mut Vec<Vec<u8>>) -> Vec<MetaFlag<'a>> {
    let mut tokens: Vec<(u8, Vec<u8>)> = Vec::new();
    for f in &req.flags {
        let tok = match (f.flag, meta) {
            (b'f', Some(m)) => m.flags.to_string().into_bytes(),
            (b's', Some(m)) => m.vlen.to_string().into_bytes(),
            (b't', Some(m)) => ttl_left(m, now).to_string().into_bytes(),
            (b'c', Some(m)) => m.cas.to_string().into_bytes(),
            (b'O', _) => f.token.to_vec(),
            (b'k', _) => {
                let mut k = Vec::new();
                if req.base64_key() {
                    fdfs_proto::memcached::base64_encode(&req.key, &mut k);
                } else {
                    k.extend_from_slice(&req.key);
                }
                tokens.push((b'k', k));
                if req.base64_key() {
                    tokens.push((b'b', Vec::new()));
                }
                continue;
            }
            _ => continue,
        };
        tokens.push((f.flag, tok));
    }
    let letters: Vec<u8> = tokens.iter().map(|(l, _)| *l).collect();
    *scratch = tokens.into_iter().map(|(_, t)| t).collect();
    letters.into_iter().zip(scratch.iter()).map(|(flag, t)| MetaFlag { flag, token: t.as_slice() }).collect()
}

fn meta_line(out: &mut Vec<u8>, status: MetaStatus, req: &MetaRequest<'_>, meta: Option<&ItemMeta>, now: u32) {
    let mut scratch = Vec::new();
    let flags = ret_flags(req, meta, now, &mut scratch);
    MetaReply { status, flags }.encode(out);
}

async fn meta(app: &App, req: MetaRequest<'_>, may_write: bool, out: &mut Vec<u8>) -> Flow {
    let now = now_secs();
    let quiet = req.quiet();
    let key = req.key.to_vec();
    let unsupported: &[u8] = match req.command {
        MetaCommand::Get => b"NRhl",
        MetaCommand::Set | MetaCommand::Delete => b"I",
        _ => b"",
    };
    if req.flags.iter().any(|f| unsupported.contains(&f.flag)) {
        // Cache-only machinery (stale items, win tokens, access tracking) has no place in a
        // persistent store; say so rather than pretend.
        line(out, "CLIENT_ERROR flag not supported by tyrantd");
        return Flow::Continue;
    }
    let is_write = matches!(req.command, MetaCommand::Set | MetaCommand::Delete | MetaCommand::Arithmetic) || req.ttl().is_some();
    if is_write {
        if let Some(why) = refused(app, may_write) {
            line(out, why);
            return Flow::Continue;
        }
    }
    match req.command {
        MetaCommand::Noop => line(out, "MN"),
        MetaCommand::Debug => line(out, "ERROR"),
        MetaCommand::Get => {
            inc(&app.stats.cmd_get);
            if let Some(t) = req.ttl() {
                let m = Mutation::Touch { key: key.clone(), exptime: absolute_exptime(t as i64, now) };
                if let Err(e) = apply(&*app.engine, m).await {
                    server_error(out, &e, app);
                    return Flow::Continue;
                }
            }
            let item = match app.engine.get(&key) {
                Ok(i) => i,
                Err(e) => {
                    tracing::error!("read failed: {e}");
                    line(out, "SERVER_ERROR storage failure");
                    return Flow::Continue;
                }
            };
            match item {
                None => {
                    inc(&app.stats.get_misses);
                    if !quiet {
                        line(out, "EN");
                    }
                }
                Some(item) => {
                    inc(&app.stats.get_hits);
                    if req.has(b'v') {
                        meta_line(out, MetaStatus::Value(item.value().len()), &req, Some(&item.meta), now);
                        out.extend_from_slice(item.value());
                        out.extend_from_slice(b"\r\n");
                    } else {
                        meta_line(out, MetaStatus::Header, &req, Some(&item.meta), now);
                    }
                }
            }
        }
        MetaCommand::Set => {
            inc(&app.stats.cmd_set);
            let data = req.data.unwrap_or(&[]).to_vec();
            let mode = match (req.mode(), req.compare_cas()) {
                (_, Some(c)) => StoreMode::Cas(c),
                (None | Some(b'S') | Some(b's'), None) => StoreMode::Set,
                (Some(b'E') | Some(b'e'), None) => StoreMode::Add,
                (Some(b'A') | Some(b'a'), None) => StoreMode::Append,
                (Some(b'P') | Some(b'p'), None) => StoreMode::Prepend,
                (Some(b'R') | Some(b'r'), None) => StoreMode::Replace,
                _ => {
                    line(out, "CLIENT_ERROR invalid mode for ms STORE");
                    return Flow::Continue;
                }
            };
            let flags = req.client_flags().unwrap_or(0);
            let exptime = absolute_exptime(req.ttl().unwrap_or(0) as i64, now);
            match apply(&*app.engine, Mutation::Store { mode, key: key.clone(), value: data, flags, exptime }).await {
                Ok(Outcome::Stored { cas }) => {
                    if !quiet {
                        let m = app.engine.meta(&key).unwrap_or(ItemMeta { flags, exptime, cas, hlc: 0, origin: 0, vlen: 0 });
                        meta_line(out, MetaStatus::Header, &req, Some(&m), now);
                    }
                }
                Ok(Outcome::NotStored) => meta_line(out, MetaStatus::NotStored, &req, None, now),
                Ok(Outcome::Exists) => meta_line(out, MetaStatus::Exists, &req, None, now),
                Ok(Outcome::NotFound) => meta_line(out, MetaStatus::NotFound, &req, None, now),
                Ok(_) => line(out, "SERVER_ERROR unexpected outcome"),
                Err(e) => server_error(out, &e, app),
            }
        }
        MetaCommand::Delete => match apply(&*app.engine, Mutation::Delete { key, cas: req.compare_cas() }).await {
            Ok(Outcome::Deleted) => {
                inc(&app.stats.delete_hits);
                if !quiet {
                    meta_line(out, MetaStatus::Header, &req, None, now);
                }
            }
            Ok(Outcome::Exists) => meta_line(out, MetaStatus::Exists, &req, None, now),
            Ok(_) => {
                inc(&app.stats.delete_misses);
                meta_line(out, MetaStatus::NotFound, &req, None, now)
            }
            Err(e) => server_error(out, &e, app),
        },
        MetaCommand::Arithmetic => {
            let incr = !matches!(req.mode(), Some(b'D') | Some(b'd') | Some(b'-'));
            let delta = req.delta().unwrap_or(1);
            let mut res = apply(&*app.engine, Mutation::Arith { key: key.clone(), incr, delta }).await;
            if let (Ok(Outcome::NotFound), Some(ttl)) = (&res, req.vivify_ttl()) {
                let init = req.initial().unwrap_or(0);
                let m = Mutation::Store {
                    mode: StoreMode::Add,
                    key: key.clone(),
                    value: init.to_string().into_bytes(),
                    flags: 0,
                    exptime: absolute_exptime(ttl as i64, now),
                };
                res = apply(&*app.engine, m).await.map(|o| match o {
                    Outcome::Stored { cas } => Outcome::Number { value: init, cas },
                    other => other,
                });
            }
            match res {
                Ok(Outcome::Number { value, .. }) => {
                    let m = app.engine.meta(&key);
                    if req.has(b'v') {
                        let v = value.to_string();
                        meta_line(out, MetaStatus::Value(v.len()), &req, m.as_ref(), now);
                        line(out, &v);
                    } else if !quiet {
                        meta_line(out, MetaStatus::Header, &req, m.as_ref(), now);
                    }
                }
                Ok(Outcome::NonNumeric) => line(out, "CLIENT_ERROR cannot increment or decrement non-numeric value"),
                Ok(Outcome::NotStored) => meta_line(out, MetaStatus::NotStored, &req, None, now),
                Ok(_) => meta_line(out, MetaStatus::NotFound, &req, None, now),
                Err(e) => server_error(out, &e, app),
            }
        }
    }
    let _ = stats::get;
    Flow::Continue
}

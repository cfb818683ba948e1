//! memcached door, part two: `stats` and the meta commands (`mg`, `ms`, `md`, `ma`, `mn`).

use std::sync::atomic::Ordering;

use fdfs_proto::memcached::{MetaCommand, MetaFlag, MetaReply, MetaRequest, MetaStatus};

use super::{line, refused, server_error, Flow, MEMCACHED_VERSION};
use crate::clock::{absolute_exptime, now_secs};
use crate::engine::{apply, Engine, ItemMeta, Mutation, Outcome, StoreMode};
use crate::server::App;
use crate::stats::{cpu_times, get, inc, rss_bytes};

pub(super) fn write_stats(app: &App, out: &mut Vec<u8>) {
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
        (
            "rusage_user",
            format!("{}.{:06}", user / 1_000_000, user % 1_000_000),
        ),
        (
            "rusage_system",
            format!("{}.{:06}", sys / 1_000_000, sys % 1_000_000),
        ),
        ("max_connections", app.cfg.max_connections.to_string()),
        ("curr_connections", get(&s.curr_connections).to_string()),
        ("total_connections", get(&s.total_connections).to_string()),
        (
            "rejected_connections",
            get(&s.rejected_connections).to_string(),
        ),
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
        ("compactions", get(&s.compactions).to_string()),
        ("compacted_bytes", get(&s.compacted_bytes).to_string()),
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
        (
            "repl_master",
            app.cfg.master.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "repl_connected",
            (repl.connected.load(Ordering::Relaxed) as u8).to_string(),
        ),
        ("repl_position", e.master_pos.to_string()),
        (
            "repl_master_head",
            repl.master_head.load(Ordering::Relaxed).to_string(),
        ),
        ("repl_lag_bytes", crate::repl::lag_bytes(app).to_string()),
        (
            "repl_delay_seconds",
            format!("{:.3}", crate::repl::delay_secs(app)),
        ),
        (
            "repl_records_received",
            repl.applied.load(Ordering::Relaxed).to_string(),
        ),
        (
            "repl_full_resyncs",
            repl.full_resyncs.load(Ordering::Relaxed).to_string(),
        ),
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
fn ret_flags<'a>(
    req: &MetaRequest<'a>,
    meta: Option<&ItemMeta>,
    now: u32,
    scratch: &'a mut Vec<Vec<u8>>,
) -> Vec<MetaFlag<'a>> {
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
    letters
        .into_iter()
        .zip(scratch.iter())
        .map(|(flag, t)| MetaFlag {
            flag,
            token: t.as_slice(),
        })
        .collect()
}

fn meta_line(
    out: &mut Vec<u8>,
    status: MetaStatus,
    req: &MetaRequest<'_>,
    meta: Option<&ItemMeta>,
    now: u32,
) {
    let mut scratch = Vec::new();
    let flags = ret_flags(req, meta, now, &mut scratch);
    MetaReply { status, flags }.encode(out);
}

pub(super) async fn meta(
    app: &App,
    req: MetaRequest<'_>,
    may_write: bool,
    out: &mut Vec<u8>,
) -> Flow {
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
    let is_write = matches!(
        req.command,
        MetaCommand::Set | MetaCommand::Delete | MetaCommand::Arithmetic
    ) || req.ttl().is_some();
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
                let m = Mutation::Touch {
                    key: key.clone(),
                    exptime: absolute_exptime(t as i64, now),
                };
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
                        meta_line(
                            out,
                            MetaStatus::Value(item.value().len()),
                            &req,
                            Some(&item.meta),
                            now,
                        );
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
            match apply(
                &*app.engine,
                Mutation::Store {
                    mode,
                    key: key.clone(),
                    value: data,
                    flags,
                    exptime,
                },
            )
            .await
            {
                Ok(Outcome::Stored { cas }) => {
                    if !quiet {
                        let m = app.engine.meta(&key).unwrap_or(ItemMeta {
                            flags,
                            exptime,
                            cas,
                            hlc: 0,
                            origin: 0,
                            vlen: 0,
                        });
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
        MetaCommand::Delete => match apply(
            &*app.engine,
            Mutation::Delete {
                key,
                cas: req.compare_cas(),
            },
        )
        .await
        {
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
            let mut res = apply(
                &*app.engine,
                Mutation::Arith {
                    key: key.clone(),
                    incr,
                    delta,
                },
            )
            .await;
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
                Ok(Outcome::NonNumeric) => line(
                    out,
                    "CLIENT_ERROR cannot increment or decrement non-numeric value",
                ),
                Ok(Outcome::NotStored) => meta_line(out, MetaStatus::NotStored, &req, None, now),
                Ok(_) => meta_line(out, MetaStatus::NotFound, &req, None, now),
                Err(e) => server_error(out, &e, app),
            }
        }
    }
    Flow::Continue
}

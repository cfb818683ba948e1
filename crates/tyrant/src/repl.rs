//! Replication: a follower pulls the master's log (= its segment files) from a persisted position.
//!
//! Handshake (one text line each way, on the ordinary port):
//! `TTREPL 1 <follower-sid> <master-epoch-we-know> <position>\r\n` →
//! `TTREPL-OK <master-sid> <master-epoch> <start-position>\r\n` (or `TTREPL-ERR <why>\r\n`).
//! Then binary frames from the master: `R len:u32 pos_after:u64 head:u64 record` and, when idle, once a
//! second, `H head:u64 hlc:u64`.
//!
//! Loops: the master never sends a record whose origin is the follower, and applying is
//! last-writer-wins on (hlc, origin) where a losing or equal record writes nothing, so a record
//! cannot circulate in a pair (or a ring). Records are state, not operations (an append ships the
//! whole new value), so re-applying after a restart is harmless.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;

use crate::clock::now_us;
use crate::conn::Conn;
use crate::engine::record::{self, HEADER_LEN};
use crate::engine::{pos, pos_parts, Engine, Mutation, Pending};
use crate::server::App;

const HEARTBEAT: Duration = Duration::from_secs(1);
/// Records applied but not yet acknowledged by the engine: keeps catch-up from paying one sync
/// per record while bounding memory.
const IN_FLIGHT: usize = 256;
/// Frames larger than this are refused (a record holds at most a 64 KiB key and a 1 GiB value).
const MAX_FRAME: u32 = (1 << 30) + (1 << 17);

/// Seconds the follower is behind its master (0 when caught up or not a follower).
pub fn delay_secs(app: &App) -> f64 {
    let r = &app.repl;
    let (_, applied) = app.engine.master_position();
    let head = r.master_head.load(Ordering::Relaxed);
    if app.cfg.master.is_none() || applied >= head {
        return 0.0;
    }
    let last = app.engine.stats().last_applied_hlc;
    (now_us().saturating_sub(last.max(1))) as f64 / 1e6
}

/// Bytes of master log not yet applied (approximate across segment boundaries).
pub fn lag_bytes(app: &App) -> u64 {
    let head = app.repl.master_head.load(Ordering::Relaxed);
    let (_, applied) = app.engine.master_position();
    let ((hs, ho), (as_, ao)) = (pos_parts(head), pos_parts(applied));
    if head <= applied {
        0
    } else if hs == as_ {
        ho - ao
    } else {
        ho
    }
}

fn parse_handshake(line: &str) -> Option<(u16, u64, u64)> {
    let mut t = line.split_whitespace();
    if t.next()? != "TTREPL" || t.next()? != "1" {
        return None;
    }
    let sid = t.next()?.parse().ok()?;
    let epoch = t.next()?.parse().ok()?;
    let p = t.next()?.parse().ok()?;
    t.next().is_none().then_some((sid, epoch, p))
}

/// Master side: stream our log to a follower.
pub async fn serve_follower(app: &App, mut conn: Conn, peer: SocketAddr, may_write: bool) {
    let Some(nl) = conn.buffered().iter().position(|&b| b == b'\n') else {
        return;
    };
    let line = String::from_utf8_lossy(&conn.buffered()[..nl])
        .trim()
        .to_string();
    conn.consume(nl + 1);
    let reply_err = |why: &str| format!("TTREPL-ERR {why}\r\n");
    let Some((sid, epoch, want)) = parse_handshake(&line) else {
        let _ = conn
            .stream
            .write_all(reply_err("bad handshake").as_bytes())
            .await;
        return;
    };
    if !may_write {
        let _ = conn
            .stream
            .write_all(reply_err("forbidden").as_bytes())
            .await;
        return;
    }
    if sid == app.cfg.server_id || sid == 0 {
        let _ = conn
            .stream
            .write_all(reply_err("circular replication (same server id)").as_bytes())
            .await;
        return;
    }
    let eng = &app.engine;
    let mut head_rx = eng.head();
    let head = *head_rx.borrow();
    let oldest = pos(eng.first_segment(), 0);
    // A position from another log, beyond our head or older than our oldest kept segment means
    // the follower cannot resume: it gets everything we have (a full resync).
    let start = if epoch != eng.epoch() || want > head || want < oldest {
        oldest
    } else {
        want
    };
    if start != want {
        tracing::info!(%peer, sid, want, start, "follower needs a full resync");
    }
    tracing::info!(%peer, sid, start, "follower attached");
    let hello = format!(
        "TTREPL-OK {} {} {}\r\n",
        app.cfg.server_id,
        eng.epoch(),
        start
    );
    let mut w = BufWriter::with_capacity(256 * 1024, conn.stream);
    if w.write_all(hello.as_bytes()).await.is_err() || w.flush().await.is_err() {
        return;
    }
    let mut p = start;
    let mut draining = app.draining.clone();
    loop {
        let head = *head_rx.borrow_and_update();
        let mut sent = false;
        while p < head {
            let rec = match eng.read_at(p) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    let (seg, _) = pos_parts(p);
                    match eng.next_segment(seg) {
                        Some(n) => {
                            p = pos(n, 0);
                            continue;
                        }
                        None => break,
                    }
                }
                Err(e) => {
                    tracing::error!(%peer, "cannot read the log for a follower: {e}");
                    return;
                }
            };
            let (seg, off) = pos_parts(p);
            p = pos(seg, off + rec.len() as u64);
            let origin = record::decode_header(&rec).map(|h| h.origin).unwrap_or(0);
            if origin == sid {
                continue;
            }
            let mut frame = Vec::with_capacity(21);
            frame.push(b'R');
            frame.extend_from_slice(&(rec.len() as u32).to_le_bytes());
            frame.extend_from_slice(&p.to_le_bytes());
            frame.extend_from_slice(&head.to_le_bytes());
            if w.write_all(&frame).await.is_err() || w.write_all(&rec).await.is_err() {
                return;
            }
            sent = true;
        }
        if sent && w.flush().await.is_err() {
            return;
        }
        tokio::select! {
            r = head_rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(HEARTBEAT) => {
                // Skipped records (the follower's own) still move its position forward.
                let mut hb = Vec::with_capacity(17);
                hb.push(b'H');
                hb.extend_from_slice(&p.to_le_bytes());
                hb.extend_from_slice(&eng.hlc_now().to_le_bytes());
                if w.write_all(&hb).await.is_err() || w.flush().await.is_err() {
                    return;
                }
            }
            _ = draining.changed() => return,
        }
    }
}

/// Follower side: keep a connection to the master and apply what it sends, forever.
pub async fn follow(app: Arc<App>, master: String) {
    let mut draining = app.draining.clone();
    loop {
        let r = tokio::select! {
            r = follow_once(&app, &master) => r,
            _ = draining.changed() => return,
        };
        app.repl.connected.store(false, Ordering::Relaxed);
        if let Err(e) = r {
            tracing::warn!(%master, "replication: {e}; retrying in 1 s");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = draining.changed() => return,
        }
    }
}

async fn settle(pending: &mut VecDeque<Pending>, keep: usize) -> Result<(), String> {
    while pending.len() > keep {
        if let Some(rx) = pending.pop_front() {
            match rx.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("applying a replicated record: {e}")),
                Err(_) => return Err("storage stopped".into()),
            }
        }
    }
    Ok(())
}

async fn follow_once(app: &App, master: &str) -> Result<(), String> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(master))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (epoch, p) = app.engine.master_position();
    let hello = format!("TTREPL 1 {} {} {}\r\n", app.cfg.server_id, epoch, p);
    let mut r = BufReader::with_capacity(256 * 1024, stream);
    r.get_mut()
        .write_all(hello.as_bytes())
        .await
        .map_err(|e| format!("send handshake: {e}"))?;
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        (&mut r).take(512).read_line(&mut line),
    )
    .await;
    read.map_err(|_| "handshake timed out".to_string())?
        .map_err(|e| format!("read handshake: {e}"))?;
    let mut t = line.split_whitespace();
    if t.next() != Some("TTREPL-OK") {
        return Err(format!("master refused: {}", line.trim()));
    }
    let nums: Vec<u64> = t.filter_map(|v| v.parse().ok()).collect();
    let [msid, mepoch, start] = nums[..] else {
        return Err(format!("bad handshake reply {:?}", line.trim()));
    };
    if msid == app.cfg.server_id as u64 {
        return Err("master has our own server id".into());
    }
    if start != p || mepoch != epoch {
        tracing::warn!(
            master,
            from = p,
            start,
            "full resync from the master's oldest log"
        );
        app.repl.full_resyncs.fetch_add(1, Ordering::Relaxed);
    }
    crate::engine::apply(
        &*app.engine,
        Mutation::ReplPosition {
            pos: start,
            epoch: mepoch,
        },
    )
    .await
    .map_err(|e| format!("storing replication position: {e}"))?;
    app.repl.connected.store(true, Ordering::Relaxed);
    tracing::info!(master, start, "replicating");
    let mut pending: VecDeque<Pending> = VecDeque::new();
    loop {
        // A silent master (no heartbeat for 10 s) is treated as gone.
        let kind = match tokio::time::timeout(Duration::from_secs(10), r.read_u8()).await {
            Err(_) => return Err("master silent for 10 s".into()),
            Ok(Err(e)) => return Err(format!("stream ended: {e}")),
            Ok(Ok(k)) => k,
        };
        match kind {
            b'R' => {
                let len = r.read_u32_le().await.map_err(|e| e.to_string())?;
                let after = r.read_u64_le().await.map_err(|e| e.to_string())?;
                let head = r.read_u64_le().await.map_err(|e| e.to_string())?;
                if !(HEADER_LEN as u32..=MAX_FRAME).contains(&len) {
                    return Err(format!("bad frame length {len}"));
                }
                let mut rec = vec![0u8; len as usize];
                r.read_exact(&mut rec).await.map_err(|e| e.to_string())?;
                record::verify(&rec).map_err(|e| format!("bad record from master: {e}"))?;
                app.repl
                    .master_head
                    .store(head.max(after), Ordering::Relaxed);
                app.repl.applied.fetch_add(1, Ordering::Relaxed);
                pending.push_back(app.engine.submit(Mutation::Replicated {
                    record: rec,
                    pos: after,
                }));
                // Let the writer batch while the stream is busy; settle when it pauses.
                let keep = if r.buffer().is_empty() { 0 } else { IN_FLIGHT };
                settle(&mut pending, keep).await?;
            }
            b'H' => {
                let head = r.read_u64_le().await.map_err(|e| e.to_string())?;
                let hlc = r.read_u64_le().await.map_err(|e| e.to_string())?;
                settle(&mut pending, 0).await?;
                app.repl.master_head.store(head, Ordering::Relaxed);
                app.repl.master_hlc.store(hlc, Ordering::Relaxed);
                app.engine.submit(Mutation::ReplPosition {
                    pos: head,
                    epoch: mepoch,
                });
            }
            other => return Err(format!("bad frame type {other:#04x}")),
        }
    }
}

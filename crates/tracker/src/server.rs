//! Accept loop, connection loop, liveness checker, persister, signals and graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fdfs_proto::frame::{decode_frame, packet, Limits, Progress};
use fdfs_proto::{cmd, status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, Semaphore};

use crate::cluster::Cluster;
use crate::config::Config;
use crate::logging::LogTarget;
use crate::persist::{PersistError, Store};
use crate::service::{self, Action, Conn, Shared};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cluster state: {0}")]
    State(#[from] PersistError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
}

pub async fn run(cfg: Config, log: LogTarget) -> Result<(), StartError> {
    let store = Store::open(&cfg.base_path)?;
    let cluster = Cluster::from_snapshot(store.load()?);
    let known: usize = cluster.groups.values().map(|g| g.storages.len()).sum();
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: cfg.listen,
            source,
        })?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(StartError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(StartError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(StartError::Signal)?;

    let max_conns = cfg.max_connections;
    let grace = cfg.shutdown_grace;
    let sh = Shared::new(cfg, cluster, store);
    let (stop_tx, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(max_conns));
    let checker = tokio::spawn(check_active(sh.clone()));
    let persister = tokio::spawn(persist_loop(sh.clone()));
    let next_id = AtomicU64::new(1);
    tracing::info!(
        listen = %sh.cfg.listen,
        groups = sh.lock().groups.len(),
        storages = known,
        ip_width = sh.cfg.ip_width.size(),
        "fdfs_trackerd ready"
    );

    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    admit(&sh, &permits, &stop_rx, stream, peer, id);
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = sigterm.recv() => { tracing::info!("SIGTERM: draining"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: draining"); break; }
            _ = sighup.recv() => match log.reopen() {
                Ok(()) => tracing::info!("SIGHUP: log reopened"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: cannot reopen log"),
            },
        }
    }

    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max_conns).unwrap_or(u32::MAX);
    match tokio::time::timeout(grace, permits.acquire_many(all)).await {
        Ok(_) => tracing::info!("all connections closed"),
        Err(_) => tracing::warn!(
            busy = max_conns - permits.available_permits(),
            "shutdown grace period over; abandoning busy connections"
        ),
    }
    checker.abort();
    persister.abort();
    save(&sh).await;
    tracing::info!("fdfs_trackerd stopped");
    Ok(())
}

fn admit(
    sh: &Arc<Shared>,
    permits: &Arc<Semaphore>,
    stop: &watch::Receiver<bool>,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
) {
    let allowed = sh.cfg.host_allowed(peer.ip());
    let Some(permit) = fdfs_daemon::admit(allowed, permits, sh.cfg.max_connections, &stream, peer)
    else {
        return;
    };
    let sh = sh.clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        serve(&sh, stream, peer, id, stop).await;
        drop(permit);
    });
}

/// Reads frames and answers them in order until the peer leaves, misbehaves, or we stop.
async fn serve(
    sh: &Shared,
    mut stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = Conn {
        id,
        peer,
        member: None,
        seen_version: 0,
    };
    let limits = Limits {
        max_body_len: sh.cfg.max_pkg_size,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let why = loop {
        let need = match decode_frame(&buf, &limits) {
            Ok(Progress::Complete(f)) => {
                let used = f.len();
                let action = service::handle(sh, &mut conn, f);
                buf.drain(..used);
                let out = match action {
                    Action::Reply(b) => b,
                    Action::Close => break "quit",
                };
                let w = tokio::time::timeout(sh.cfg.network_timeout, stream.write_all(&out)).await;
                if !matches!(w, Ok(Ok(()))) {
                    break "write failed";
                }
                continue;
            }
            Ok(Progress::NeedMore(n)) => n,
            Err(e) => {
                // The stream cannot be resynchronised after a bad header: answer and close.
                tracing::warn!(%peer, error = %e, "bad header");
                let out = packet(cmd::RESP, status::EINVAL, &[]);
                let _ = tokio::time::timeout(sh.cfg.network_timeout, stream.write_all(&out)).await;
                break "bad header";
            }
        };
        // Idle between requests may be long (storages beat every 30 s); a started frame must
        // finish within network_timeout, so a slow sender cannot hold a connection forever.
        let limit = if buf.is_empty() {
            sh.cfg.idle_timeout
        } else {
            sh.cfg.network_timeout
        };
        buf.reserve(need.min(64 * 1024));
        tokio::select! {
            r = tokio::time::timeout(limit, stream.read_buf(&mut buf)) => match r {
                Ok(Ok(0)) => break if buf.is_empty() { "peer closed" } else { "peer closed mid-frame" },
                Ok(Ok(_)) => {}
                Ok(Err(_)) => break "read error",
                Err(_) => break "timeout",
            },
            _ = stop.changed(), if buf.is_empty() => break "shutdown",
        }
    };
    tracing::debug!(%peer, reason = why, "connection closed");
    if let Some(k) = conn.member.take() {
        sh.lock().disconnected(&k, conn.id);
        sh.dirty.notify_one();
    }
}

/// Storages whose beats stopped go OFFLINE after `check_active_interval`.
async fn check_active(sh: Arc<Shared>) {
    let every = (sh.cfg.check_active_interval / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let n = sh
            .lock()
            .expire(std::time::Instant::now(), sh.cfg.check_active_interval);
        if n > 0 {
            sh.dirty.notify_one();
        }
    }
}

/// Writes the snapshot after changes, coalescing bursts (many storages joining at once).
async fn persist_loop(sh: Arc<Shared>) {
    loop {
        sh.dirty.notified().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        save(&sh).await;
    }
}

async fn save(sh: &Arc<Shared>) {
    let groups = {
        let mut c = sh.lock();
        if !c.dirty {
            return;
        }
        c.dirty = false;
        c.groups.values().cloned().collect::<Vec<_>>()
    };
    let sh2 = sh.clone();
    let r = tokio::task::spawn_blocking(move || sh2.store.save(groups)).await;
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot save cluster state; will retry on the next change");
            sh.lock().dirty = true;
        }
        Err(e) => tracing::error!(error = %e, "state writer failed"),
    }
}

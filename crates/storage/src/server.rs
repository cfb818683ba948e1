//! Accept loop, connection limits, `allow_hosts`, signals and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, Semaphore};

use crate::binlog::Binlog;
use crate::commit::Committer;
use crate::config::Config;
use crate::layout::Layout;
use crate::logging::LogTarget;

/// Everything a connection handler needs.
pub struct Shared {
    pub cfg: Config,
    pub layout: Layout,
    pub committer: Committer,
    /// Serialises metadata read-modify-write (merge).
    pub meta_lock: tokio::sync::Mutex<()>,
    /// Serialises appender mutations (append/modify/truncate).
    pub appender_lock: tokio::sync::Mutex<()>,
    /// Group replication state (see `sync`).
    pub sync: crate::sync::SyncState,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare store paths: {0}")]
    Layout(std::io::Error),
    #[error("cannot open binlog: {0}")]
    Binlog(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
    #[error("cannot start committer thread: {0}")]
    Committer(std::io::Error),
}

pub async fn run(cfg: Config, log: LogTarget) -> Result<(), StartError> {
    // Before anything can make us look ready: an early SIGHUP must not kill the process.
    let mut sigterm = signal(SignalKind::terminate()).map_err(StartError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(StartError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(StartError::Signal)?;
    let layout = Layout::open(&cfg).map_err(StartError::Layout)?;
    let binlog =
        Binlog::open(&cfg.base_path, cfg.binlog_rotate_size).map_err(StartError::Binlog)?;
    let (committer, commit_thread) =
        Committer::start(binlog, cfg.commit_max_batch).map_err(StartError::Committer)?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: cfg.listen,
            source,
        })?;

    let max_conns = cfg.max_connections;
    let grace = cfg.shutdown_grace;
    let sync = crate::sync::SyncState::new(&cfg);
    let shared = Arc::new(Shared {
        cfg,
        layout,
        committer,
        meta_lock: tokio::sync::Mutex::new(()),
        appender_lock: tokio::sync::Mutex::new(()),
        sync,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(max_conns));
    let reporter = crate::tracker::spawn(shared.clone(), stop_rx.clone());
    let replication = crate::sync::spawn(shared.clone(), stop_rx.clone());
    tracing::info!(
        listen = %shared.cfg.listen,
        group = %shared.cfg.group_name,
        store_paths = shared.cfg.store_paths.len(),
        "fdfs_storaged ready"
    );

    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => admit(&shared, &permits, &stop_rx, stream, peer),
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = sigterm.recv() => { tracing::info!("SIGTERM: draining"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: draining"); break; }
            _ = sighup.recv() => {
                match log.reopen() {
                    Ok(()) => tracing::info!("SIGHUP: log reopened"),
                    Err(e) => tracing::error!(error = %e, "SIGHUP: cannot reopen log"),
                }
            }
        }
    }

    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max_conns).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_ok();
    reporter.abort();
    let _ = reporter.await;
    if let Some(r) = replication {
        r.abort();
        let _ = r.await;
    }
    shared.layout.persist();
    if drained {
        tracing::info!("all connections closed");
        // The committer thread ends once every handle to it is gone; joining it means every
        // acknowledged change has been committed.
        drop(shared);
        if tokio::task::spawn_blocking(move || commit_thread.join())
            .await
            .map_or(true, |r| r.is_err())
        {
            tracing::error!("committer thread panicked");
        }
    } else {
        // Abandoned connections still hold the committer; their clients got no reply, so
        // nothing acknowledged is lost by exiting now.
        tracing::warn!(
            busy = max_conns - permits.available_permits(),
            "shutdown grace period over; abandoning busy connections"
        );
    }
    tracing::info!("fdfs_storaged stopped");
    Ok(())
}

fn admit(
    shared: &Arc<Shared>,
    permits: &Arc<Semaphore>,
    stop: &watch::Receiver<bool>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let allowed = shared.cfg.host_allowed(peer.ip());
    let limit = shared.cfg.max_connections;
    let Some(permit) = fdfs_daemon::admit(allowed, permits, limit, &stream, peer) else {
        return;
    };
    let shared = shared.clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        crate::conn::serve(shared, stream, peer, stop).await;
        drop(permit);
    });
}

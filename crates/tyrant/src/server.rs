//! Listener: one port, three doors told apart by the first line (memcached text protocol,
//! HTTP/1.x, replication stream), with connection limits, idle timeouts and a graceful drain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::config::Config;
use crate::conn::{Conn, ReadError};
use crate::engine::log::LogEngine;
use crate::stats::{self, ReplStatus, Stats};

pub struct App {
    pub cfg: Config,
    pub engine: Arc<LogEngine>,
    pub stats: Stats,
    pub repl: Arc<ReplStatus>,
    pub started: Instant,
    /// Flips to true on SIGTERM: connections finish the request in hand and close.
    pub draining: watch::Receiver<bool>,
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    Memcached,
    Http,
    Replication,
}

/// ttserver's rule: a first line whose third token starts with `HTTP/1.` is HTTP.
fn sniff(line: &[u8]) -> Door {
    if line.starts_with(b"TTREPL ") {
        return Door::Replication;
    }
    // Methods are upper case and memcached commands lower case, so `get a HTTP/1.1` (a
    // multi-get) stays memcached, unlike in ttserver.
    let mut toks = line.split(|&b| b == b' ').filter(|t| !t.is_empty());
    let method_like = toks
        .next()
        .is_some_and(|m| m.iter().all(|b| b.is_ascii_uppercase()));
    match toks.nth(1) {
        Some(t) if method_like && t.starts_with(b"HTTP/1.") => Door::Http,
        _ => Door::Memcached,
    }
}

pub async fn serve(app: Arc<App>, listener: TcpListener) {
    let limit = Arc::new(Semaphore::new(app.cfg.max_connections));
    let mut draining = app.draining.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = draining.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            stats::inc(&app.stats.rejected_connections);
            tracing::debug!(%peer, "connection limit reached; closing");
            drop(stream);
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            stats::inc(&app.stats.total_connections);
            stats::inc(&app.stats.curr_connections);
            handle(app.clone(), stream, peer).await;
            app.stats
                .curr_connections
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            drop(permit);
        });
    }
    // Wait (bounded) for connections to finish what they are doing.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats::get(&app.stats.curr_connections) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn handle(app: Arc<App>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream, app.cfg.idle_timeout);
    // Look at the first line only; memcached clients may pipeline data right after it.
    let door = loop {
        if let Some(nl) = conn.buffered().iter().position(|&b| b == b'\n') {
            break sniff(&conn.buffered()[..nl]);
        }
        // memcached gives up on a line after 2048 bytes without a newline; so does the sniffer.
        if conn.buffered().len() >= 2048 {
            break Door::Memcached;
        }
        match conn.fill(4096).await {
            Ok(_) => {}
            Err(ReadError::Closed) | Err(ReadError::Idle) => return,
            Err(ReadError::Io(e)) => {
                tracing::debug!(%peer, "read error: {e}");
                return;
            }
        }
    };
    let may_write = app.cfg.may_write(peer.ip());
    match door {
        Door::Memcached => crate::memc::serve(&app, conn, may_write).await,
        Door::Http => crate::http::serve(&app, conn, may_write).await,
        Door::Replication => crate::repl::serve_follower(&app, conn, peer, may_write).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_follows_ttserver() {
        assert_eq!(sniff(b"GET /a.jpg HTTP/1.1\r"), Door::Http);
        assert_eq!(sniff(b"PUT  /a.jpg  HTTP/1.0"), Door::Http);
        assert_eq!(sniff(b"get /a.jpg"), Door::Memcached);
        assert_eq!(sniff(b"set k 0 0 5"), Door::Memcached);
        assert_eq!(sniff(b"get a HTTP/1.1"), Door::Memcached);
        assert_eq!(sniff(b"TTREPL 1 2 3 4"), Door::Replication);
        assert_eq!(sniff(b""), Door::Memcached);
    }
}

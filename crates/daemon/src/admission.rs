//! What every daemon checks before it serves a new connection.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `allow_hosts` first, then the connection limit. Returns the permit the connection must hold
/// for as long as it is served; `None` means close it (the reason is logged).
pub fn admit(
    allowed: bool,
    permits: &Arc<Semaphore>,
    limit: usize,
    stream: &TcpStream,
    peer: SocketAddr,
) -> Option<OwnedSemaphorePermit> {
    if !allowed {
        tracing::warn!(%peer, "connection refused by allow_hosts");
        return None;
    }
    let Ok(permit) = permits.clone().try_acquire_owned() else {
        tracing::warn!(%peer, limit, "too many connections; closing");
        return None;
    };
    let _ = stream.set_nodelay(true);
    Some(permit)
}

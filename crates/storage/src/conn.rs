//! One client connection: read a header, run the command, answer, repeat. Persistent and
//! sequential like FastDFS; idle connections are closed after `idle_timeout`, and every read
//! or write inside a request must make progress within `network_timeout`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use fdfs_proto::frame::{Header, HEADER_LEN};
use fdfs_proto::{cmd, status};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::server::Shared;

/// What a failed request answers: an errno status and whether the stream is still in sync.
#[derive(Debug)]
pub struct Fail {
    pub status: u8,
    /// The request body was not fully consumed (or the client misbehaved): close after replying.
    pub close: bool,
    pub reason: String,
}

impl Fail {
    pub fn new(status: u8, reason: impl Into<String>) -> Fail {
        Fail {
            status,
            // FastDFS closes after every header-only EINVAL response.
            close: status == status::EINVAL,
            reason: reason.into(),
        }
    }

    pub fn closing(mut self) -> Fail {
        self.close = true;
        self
    }
}

/// The connection is unusable (peer gone, timed out): stop without replying.
#[derive(Debug)]
pub struct Abort(pub String);

impl From<io::Error> for Abort {
    fn from(e: io::Error) -> Abort {
        Abort(e.to_string())
    }
}

pub type Outcome = Result<Result<(), Fail>, Abort>;

pub struct Conn {
    pub shared: Arc<Shared>,
    pub rd: BufReader<OwnedReadHalf>,
    pub wr: OwnedWriteHalf,
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

impl Conn {
    /// Applies `network_timeout` to one I/O step.
    pub async fn timed<T>(
        &self,
        what: &str,
        f: impl Future<Output = io::Result<T>>,
    ) -> Result<T, Abort> {
        match tokio::time::timeout(self.shared.cfg.network_timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Abort(format!("{what}: {e}"))),
            Err(_) => Err(Abort(format!("{what}: timed out"))),
        }
    }

    pub async fn read_exact_into(&mut self, buf: &mut [u8]) -> Result<(), Abort> {
        let t = self.shared.cfg.network_timeout;
        match tokio::time::timeout(t, self.rd.read_exact(buf)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(Abort("client closed the connection mid-request".into()))
            }
            Ok(Err(e)) => Err(Abort(format!("read: {e}"))),
            Err(_) => Err(Abort("read timed out".into())),
        }
    }

    /// Reads a whole (small) body, enforcing `max_request_body`.
    pub async fn read_body(&mut self, h: &Header) -> Result<Result<Vec<u8>, Fail>, Abort> {
        if h.pkg_len > self.shared.cfg.max_request_body {
            return Ok(Err(Fail::new(
                status::EINVAL,
                format!(
                    "body of {} bytes exceeds max_request_body {}",
                    h.pkg_len, self.shared.cfg.max_request_body
                ),
            )
            .closing()));
        }
        let mut body = vec![0u8; h.pkg_len as usize];
        self.read_exact_into(&mut body).await?;
        Ok(Ok(body))
    }

    /// Reads and discards `n` body bytes so the stream stays usable after an early error.
    pub async fn discard(&mut self, mut n: u64) -> Result<(), Abort> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            self.read_exact_into(&mut buf[..k]).await?;
            n -= k as u64;
        }
        Ok(())
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Abort> {
        let t = self.shared.cfg.network_timeout;
        match tokio::time::timeout(t, self.wr.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Abort(format!("write: {e}"))),
            Err(_) => Err(Abort("write timed out".into())),
        }
    }

    /// Header + body in one write (some clients read the header with a single recv).
    pub async fn reply(&mut self, body: &[u8]) -> Result<(), Abort> {
        let pkt = fdfs_proto::frame::packet(cmd::RESP, status::OK, body);
        self.send(&pkt).await
    }
}

pub async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let local = match stream.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "connection vanished before serving");
            return;
        }
    };
    let (rd, wr) = stream.into_split();
    let mut c = Conn {
        shared,
        // Small: large reads (bodies) bypass the buffer anyway, and idle connections stay cheap.
        rd: BufReader::with_capacity(16 * 1024, rd),
        wr,
        peer,
        local,
    };
    loop {
        let mut hb = [0u8; HEADER_LEN];
        let idle = c.shared.cfg.idle_timeout;
        let got = tokio::select! {
            r = tokio::time::timeout(idle, c.rd.read_exact(&mut hb)) => r,
            _ = stop.changed() => {
                tracing::debug!(%peer, "closing idle connection for shutdown");
                break;
            }
        };
        match got {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "read error");
                break;
            }
            Err(_) => {
                tracing::info!(%peer, "idle timeout; closing connection");
                break;
            }
        }
        let h = match Header::decode(&hb) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "bad header");
                let _ = c.send(&Header::response(status::EINVAL, 0).encode()).await;
                break;
            }
        };
        if h.cmd == cmd::QUIT {
            break;
        }
        let command = h.cmd;
        match crate::ops::dispatch(&mut c, h).await {
            Ok(Ok(())) => {}
            Ok(Err(fail)) => {
                let quiet = fail.status == status::ENOENT;
                if quiet {
                    tracing::debug!(%peer, cmd = command, status = fail.status, reason = %fail.reason, "request failed");
                } else {
                    tracing::warn!(%peer, cmd = command, status = fail.status, reason = %fail.reason, "request failed");
                }
                if c.send(&Header::response(fail.status, 0).encode())
                    .await
                    .is_err()
                    || fail.close
                {
                    break;
                }
            }
            Err(Abort(why)) => {
                tracing::warn!(%peer, cmd = command, reason = %why, "connection aborted");
                break;
            }
        }
        if *stop.borrow() {
            break;
        }
    }
    let _ = c.wr.shutdown().await;
}

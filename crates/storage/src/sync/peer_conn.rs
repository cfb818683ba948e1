//! A connection to a group peer: every step bounded by `network_timeout`, file content
//! streamed in chunks (memory per connection stays at one chunk).

use std::fs::File;
use std::io::{self, Read};
use std::time::Duration;

use fdfs_proto::frame::{decode_header, Header, Limits, HEADER_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHUNK: usize = 256 * 1024;

pub struct PeerConn {
    s: TcpStream,
    timeout: Duration,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

impl PeerConn {
    pub async fn connect(addr: &str, timeout: Duration) -> io::Result<PeerConn> {
        let s = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out("connect"))??;
        let _ = s.set_nodelay(true);
        Ok(PeerConn { s, timeout })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        tokio::time::timeout(self.timeout, self.s.write_all(bytes))
            .await
            .map_err(|_| timed_out("send"))?
    }

    /// Sends exactly `len` bytes of `file` from its current position.
    pub async fn send_file(&mut self, mut file: File, len: u64) -> io::Result<()> {
        let mut left = len;
        let mut buf = Vec::with_capacity(CHUNK);
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            let r = tokio::task::spawn_blocking(move || {
                buf.resize(n, 0);
                file.read_exact(&mut buf)?;
                Ok::<_, io::Error>((file, buf))
            })
            .await
            .map_err(|e| io::Error::other(format!("reader task: {e}")))?;
            let (f, b) = r.map_err(|e| {
                io::Error::new(e.kind(), format!("file shrank while being sent: {e}"))
            })?;
            file = f;
            self.send(&b).await?;
            buf = b;
            left -= n as u64;
        }
        Ok(())
    }

    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        tokio::time::timeout(self.timeout, self.s.read_exact(buf))
            .await
            .map_err(|_| timed_out("receive"))?
            .map(|_| ())
    }

    pub async fn header(&mut self) -> io::Result<Header> {
        let mut hb = [0u8; HEADER_LEN];
        self.read_exact(&mut hb).await?;
        decode_header(
            &hb,
            &Limits {
                max_body_len: u64::MAX >> 1,
            },
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short header"))
    }

    /// A whole response: status and body (at most `max` bytes, else an error).
    pub async fn response(&mut self, max: u64) -> io::Result<(u8, Vec<u8>)> {
        let h = self.header().await?;
        if h.status != 0 {
            // Header-only on error; a body would desynchronise us, so refuse it.
            if h.pkg_len != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("error status {} with a {}-byte body", h.status, h.pkg_len),
                ));
            }
            return Ok((h.status, Vec::new()));
        }
        if h.pkg_len > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("response of {} bytes exceeds {max}", h.pkg_len),
            ));
        }
        let mut body = vec![0u8; h.pkg_len as usize];
        self.read_exact(&mut body).await?;
        Ok((h.status, body))
    }

    /// Streams `len` response bytes into `out` (a temp file), chunk by chunk.
    pub async fn recv_to_file(&mut self, mut out: File, len: u64) -> io::Result<File> {
        use std::io::Write;
        let mut left = len;
        let mut buf = vec![0u8; CHUNK];
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            buf.resize(n, 0);
            self.read_exact(&mut buf).await?;
            let r = tokio::task::spawn_blocking(move || {
                out.write_all(&buf)?;
                Ok::<_, io::Error>((out, buf))
            })
            .await
            .map_err(|e| io::Error::other(format!("writer task: {e}")))??;
            out = r.0;
            buf = r.1;
            left -= n as u64;
        }
        Ok(out)
    }
}

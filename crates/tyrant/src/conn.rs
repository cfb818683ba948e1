//! Buffered connection input shared by the doors.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    pub idle: Option<Duration>,
}

#[derive(Debug)]
pub enum ReadError {
    Closed,
    Idle,
    Io(std::io::Error),
}

impl Conn {
    pub fn new(stream: TcpStream, idle: Option<Duration>) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            start: 0,
            idle,
        }
    }

    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The unread input and the socket, borrowed together (a parsed request borrows the input
    /// while its reply may already be written).
    pub fn split(&mut self) -> (&[u8], &mut TcpStream) {
        (&self.buf[self.start..], &mut self.stream)
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads more bytes (waiting at most the idle timeout); reserves room for `want` more.
    pub async fn fill(&mut self, want: usize) -> Result<usize, ReadError> {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(want.clamp(4096, 1 << 20));
        let fut = self.stream.read_buf(&mut self.buf);
        let r = match self.idle {
            Some(d) => tokio::time::timeout(d, fut)
                .await
                .map_err(|_| ReadError::Idle)?,
            None => fut.await,
        };
        match r {
            Ok(0) => Err(ReadError::Closed),
            Ok(n) => Ok(n),
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// Buffers until `n` bytes are available.
    pub async fn fill_to(&mut self, n: usize) -> Result<(), ReadError> {
        while self.buffered().len() < n {
            self.fill(n - self.buffered().len()).await?;
        }
        Ok(())
    }
}

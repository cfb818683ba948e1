//! Protocol errors of the server-side parser. Each carries the exact reply
//! memcached 1.6.18 sends and what the connection must do next.

use std::fmt;

/// Why a request was refused. Several kinds share one reply text; the kind is
/// for logs, metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Unknown or upper-case command name, wrong number of tokens, empty
    /// line, NUL-truncated line: `ERROR`.
    UnknownCommand,
    /// A numeric argument did not parse: `CLIENT_ERROR bad command line format`.
    BadCommandLine,
    /// A key longer than [`Limits::max_key_len`](super::Limits::max_key_len):
    /// `CLIENT_ERROR bad command line format`.
    KeyTooLong,
    /// `delete <key> <something other than 0>`.
    DeleteUsage,
    /// `touch`, `gat`, `gats`, `flush_all` with a bad exptime.
    InvalidExptime,
    /// `incr`/`decr` with a delta that is not an unsigned 64-bit number.
    InvalidDelta,
    /// The two bytes after a data block were not CRLF.
    BadDataChunk,
    /// A data block above [`Limits::value_limit`](super::Limits::value_limit).
    ObjectTooLarge,
    /// A meta command flag problem; the reply text says which.
    MetaFlags,
    /// No newline within [`Limits::max_line_without_newline`](super::Limits)
    /// bytes on a line that is not a multi-get: close without a reply.
    NoNewline,
    /// A line longer than [`Limits::max_line`](super::Limits::max_line):
    /// `CLIENT_ERROR line too long`, then close.
    LineTooLong,
    /// The last token starts with `HTTP/`: memcached closes without a reply.
    /// A server speaking HTTP on the same port switches protocol instead.
    Http,
}

/// What the connection does after the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the reply (unless [`ProtocolError::noreply`]) and parse the
    /// following bytes as a new command.
    Continue,
    /// Discard this many more bytes (the declared data block and its CRLF,
    /// whatever they contain), then send the reply and continue. memcached
    /// sends the reply only once the bytes are swallowed.
    /// [`RequestDecoder`](super::RequestDecoder) does this for you.
    Swallow(usize),
    /// Send the reply if there is one, then close the connection.
    Close,
}

/// A request the parser refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Exact bytes memcached sends, CRLF included; empty when it sends nothing.
    pub reply: &'static [u8],
    /// memcached would not send [`reply`](Self::reply) because the command
    /// line ended in `noreply` (classic commands hide even their errors).
    /// Meta commands never set this: their errors are always sent.
    pub noreply: bool,
    /// What the connection must do next.
    pub action: Action,
}

pub(crate) const R_ERROR: &[u8] = b"ERROR\r\n";
pub(crate) const R_BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad command line format\r\n";
pub(crate) const R_DELETE_USAGE: &[u8] =
    b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
pub(crate) const R_INVALID_EXPTIME: &[u8] = b"CLIENT_ERROR invalid exptime argument\r\n";
pub(crate) const R_INVALID_DELTA: &[u8] = b"CLIENT_ERROR invalid numeric delta argument\r\n";
pub(crate) const R_BAD_CHUNK: &[u8] = b"CLIENT_ERROR bad data chunk\r\n";
pub(crate) const R_TOO_LARGE: &[u8] = b"SERVER_ERROR object too large for cache\r\n";
pub(crate) const R_LINE_TOO_LONG: &[u8] = b"CLIENT_ERROR line too long\r\n";

impl ProtocolError {
    pub(crate) const fn new(kind: ErrorKind, reply: &'static [u8]) -> ProtocolError {
        ProtocolError {
            kind,
            reply,
            noreply: false,
            action: Action::Continue,
        }
    }

    pub(crate) const fn unknown() -> ProtocolError {
        ProtocolError::new(ErrorKind::UnknownCommand, R_ERROR)
    }

    pub(crate) const fn with_noreply(mut self, noreply: bool) -> ProtocolError {
        self.noreply = noreply;
        self
    }

    pub(crate) const fn with_action(mut self, action: Action) -> ProtocolError {
        self.action = action;
        self
    }

    /// The bytes to write to the client: `None` when memcached stays silent
    /// (no reply text, or `noreply`).
    pub fn reply_to_send(&self) -> Option<&'static [u8]> {
        if self.noreply || self.reply.is_empty() {
            None
        } else {
            Some(self.reply)
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.reply.strip_suffix(b"\r\n").unwrap_or(self.reply);
        write!(
            f,
            "memcached protocol error {:?}: {:?}",
            self.kind,
            String::from_utf8_lossy(text)
        )
    }
}

impl std::error::Error for ProtocolError {}

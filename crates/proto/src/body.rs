//! What every command body shares: the IP-width setting, the error type and the two codec traits.

use thiserror::Error;

use crate::frame::Header;

/// Width of IP address fields in responses (`response_ip_addr_size`, see spec §0.1).
///
/// Encoders use the configured width; decoders accept both wherever the C client does,
/// telling them apart by body length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IpWidth {
    /// 16-byte fields (FastDFS ≤ 6.10, and ≥ 6.15 with `auto`): every stock client.
    #[default]
    V4,
    /// 46-byte fields (FastDFS 6.11–6.14, or `response_ip_addr_size = IPv6`).
    V6,
}

impl IpWidth {
    /// Field width in bytes: 16 or 46.
    pub const fn size(self) -> usize {
        match self {
            IpWidth::V4 => 16,
            IpWidth::V6 => 46,
        }
    }

    /// Both widths, narrow first.
    pub const ALL: [IpWidth; 2] = [IpWidth::V4, IpWidth::V6];
}

/// Why a body was refused. Servers answer EINVAL (see [`BodyError::status`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BodyError {
    /// The body length does not fit the layout.
    #[error("{msg}: body is {got} bytes, expected {expected}")]
    Length {
        /// Which message.
        msg: &'static str,
        /// Actual body length.
        got: u64,
        /// What the layout allows.
        expected: String,
    },
    /// A field holds a value the layout forbids.
    #[error("{msg}: field {field}: {problem}")]
    Field {
        /// Which message.
        msg: &'static str,
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl BodyError {
    /// The status a server answers with: always EINVAL, as FastDFS does.
    pub const fn status(&self) -> u8 {
        crate::status::EINVAL
    }

    pub(crate) fn len(msg: &'static str, got: usize, expected: impl Into<String>) -> Self {
        BodyError::Length {
            msg,
            got: got as u64,
            expected: expected.into(),
        }
    }

    pub(crate) fn field(msg: &'static str, field: &'static str, problem: &'static str) -> Self {
        BodyError::Field {
            msg,
            field,
            problem,
        }
    }
}

/// Why a request could not be typed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// A command this side does not implement.
    #[error("unknown command {0}")]
    UnknownCommand(u8),
    /// The body does not fit the command's layout.
    #[error(transparent)]
    Body(#[from] BodyError),
}

impl RequestError {
    /// The status a server answers with: EINVAL for both, as FastDFS does.
    pub const fn status(&self) -> u8 {
        crate::status::EINVAL
    }
}

/// A body that is always read whole (bounded by [`crate::frame::Limits`]).
pub trait Body: Sized {
    /// Appends the body. `ip` matters only for messages with IP fields.
    fn encode(&self, ip: IpWidth, out: &mut Vec<u8>);

    /// Parses a whole body, accepting either IP width where the C client does.
    fn decode(body: &[u8]) -> Result<Self, BodyError>;

    /// The body as a fresh buffer.
    fn to_bytes(&self, ip: IpWidth) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(ip, &mut v);
        v
    }

    /// Header + body in one buffer, ready for a single write (requests: `status` 0 or flags;
    /// responses: `cmd` = [`crate::cmd::RESP`]).
    fn packet(&self, cmd: u8, status: u8, ip: IpWidth) -> Vec<u8> {
        let mut v = vec![0u8; crate::frame::HEADER_LEN];
        self.encode(ip, &mut v);
        let h = Header {
            pkg_len: (v.len() - crate::frame::HEADER_LEN) as u64,
            cmd,
            status,
        };
        v[..crate::frame::HEADER_LEN].copy_from_slice(&h.encode());
        v
    }
}

/// Result of [`Streamed::decode_head`] on a prefix of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadProgress<T> {
    /// The head needs this many body bytes in total (not "more"): read until the prefix has them.
    NeedBytes(usize),
    /// The head is complete.
    Complete {
        /// The decoded head.
        head: T,
        /// Bytes of the body the head used; content starts here.
        head_len: usize,
        /// Content bytes that follow, to be streamed (`pkg_len - head_len`).
        content_len: u64,
    },
}

/// A request whose body is a small head followed by file content that is streamed,
/// never buffered (uploads, appends, sync copies). The head is decoded from a body prefix;
/// `pkg_len` is checked against the head's own length fields before any content is read.
pub trait Streamed: Sized {
    /// Appends the head (everything before the content).
    fn encode_head(&self, out: &mut Vec<u8>);

    /// Content bytes this head announces.
    fn content_len(&self) -> u64;

    /// The request header status byte this message travels with (normally 0).
    fn header_status(&self) -> u8 {
        0
    }

    /// Decodes the head from the first bytes of the body. `header` supplies `pkg_len`
    /// (and `status` where it matters).
    fn decode_head(header: &Header, prefix: &[u8]) -> Result<HeadProgress<Self>, BodyError>;

    /// Head bytes plus the header that announces head + content.
    fn head_packet(&self, cmd: u8) -> Vec<u8> {
        let mut head = Vec::new();
        self.encode_head(&mut head);
        let h = Header {
            pkg_len: head.len() as u64 + self.content_len(),
            cmd,
            status: self.header_status(),
        };
        let mut out = h.encode().to_vec();
        out.extend_from_slice(&head);
        out
    }
}

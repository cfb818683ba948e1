//! Framing: the 10-byte header and incremental frame decoding.
//!
//! | off | size | field | notes |
//! |---|---|---|---|
//! | 0 | 8 | `pkg_len` | body length (header excluded), signed 64-bit big-endian |
//! | 8 | 1 | `cmd` | command code ([`crate::cmd`]); every response uses 100 |
//! | 9 | 1 | `status` | 0 in requests (except QUERY_FILE_INFO flags, SYNC EEXIST); errno in responses |
//!
//! Nothing here allocates: [`decode_frame`] borrows the body from the caller's buffer and checks
//! `pkg_len` against the caller's [`Limits`] before saying how many more bytes to read, so a
//! hostile `pkg_len` (negative, 2^62, ...) is refused before anyone reserves memory for it.

use thiserror::Error;

use crate::cmd;

/// Header length.
pub const HEADER_LEN: usize = 10;

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Body length in bytes (never negative once decoded).
    pub pkg_len: u64,
    /// Command code.
    pub cmd: u8,
    /// Status (errno) or request flags.
    pub status: u8,
}

impl Header {
    /// A request header.
    pub const fn request(cmd: u8, pkg_len: u64) -> Header {
        Header {
            pkg_len,
            cmd,
            status: 0,
        }
    }

    /// A response header (`cmd` 100).
    pub const fn response(status: u8, pkg_len: u64) -> Header {
        Header {
            pkg_len,
            cmd: cmd::RESP,
            status,
        }
    }

    /// The 10 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(&self.pkg_len.to_be_bytes());
        b[8] = self.cmd;
        b[9] = self.status;
        b
    }

    /// Decodes 10 bytes, refusing a negative length (as `fdfs_recv_header` does).
    pub fn decode(b: &[u8; HEADER_LEN]) -> Result<Header, FrameError> {
        let mut len = [0u8; 8];
        len.copy_from_slice(&b[..8]);
        let raw = i64::from_be_bytes(len);
        let pkg_len = u64::try_from(raw).map_err(|_| FrameError::NegativeLength(raw))?;
        Ok(Header {
            pkg_len,
            cmd: b[8],
            status: b[9],
        })
    }
}

/// Size limits for buffered frames. Daemons pick them from their config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted.
    pub max_body_len: u64,
}

impl Limits {
    /// Tracker default: its network buffer (`max_buff_size` 128 KiB).
    pub const TRACKER: Limits = Limits {
        max_body_len: 128 * 1024,
    };
    /// Storage default for everything that is not streamed content (`buff_size` 256 KiB).
    pub const STORAGE: Limits = Limits {
        max_body_len: 256 * 1024,
    };
}

/// Why a frame is invalid. After any of these the connection cannot be resynchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// `pkg_len` has its sign bit set.
    #[error("invalid header: negative pkg_len {0}")]
    NegativeLength(i64),
    /// `pkg_len` is above the configured limit.
    #[error("invalid header: pkg_len {len} exceeds the limit of {max} bytes (cmd {cmd})")]
    TooLong {
        /// Declared length.
        len: u64,
        /// Configured limit.
        max: u64,
        /// Command of the offending header.
        cmd: u8,
    },
}

/// One complete frame borrowed from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: Header,
    /// Exactly `header.pkg_len` bytes.
    pub body: &'a [u8],
}

impl Frame<'_> {
    /// Bytes of input this frame used (header + body).
    pub fn len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }

    /// Never true: a frame always has its header.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Result of feeding a buffer to [`decode_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// At least this many more bytes are needed (bounded by the limit).
    NeedMore(usize),
    /// A complete frame is at the start of the buffer.
    Complete(Frame<'a>),
}

/// Decodes and checks a header at the start of `buf`, if 10 bytes are there.
pub fn decode_header(buf: &[u8], limits: &Limits) -> Result<Option<Header>, FrameError> {
    let Some(first) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let h = Header::decode(first)?;
    if h.pkg_len > limits.max_body_len {
        return Err(FrameError::TooLong {
            len: h.pkg_len,
            max: limits.max_body_len,
            cmd: h.cmd,
        });
    }
    Ok(Some(h))
}

/// Incremental decoding: "need more", "complete", or an error for an invalid header.
pub fn decode_frame<'a>(buf: &'a [u8], limits: &Limits) -> Result<Progress<'a>, FrameError> {
    let Some(header) = decode_header(buf, limits)? else {
        return Ok(Progress::NeedMore(HEADER_LEN - buf.len()));
    };
    // pkg_len <= max_body_len was checked; saturate on 32-bit targets rather than wrap.
    let body_len = usize::try_from(header.pkg_len).unwrap_or(usize::MAX);
    let have = buf.len() - HEADER_LEN;
    if have < body_len {
        return Ok(Progress::NeedMore(body_len - have));
    }
    Ok(Progress::Complete(Frame {
        header,
        body: &buf[HEADER_LEN..HEADER_LEN + body_len],
    }))
}

/// Like [`decode_frame`], for the client side: a response with a non-zero status is complete
/// after its 10 header bytes, whatever its `pkg_len` says. That is how `fdfs_recv_header`
/// reads it, and the storage does send error headers that still carry the planned download
/// length with no body behind them.
pub fn decode_response_frame<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Progress<'a>, FrameError> {
    if let Some(first) = buf.first_chunk::<HEADER_LEN>() {
        if first[9] != 0 {
            let mut header = Header::decode(first).unwrap_or(Header {
                pkg_len: 0,
                cmd: first[8],
                status: first[9],
            });
            header.pkg_len = 0;
            return Ok(Progress::Complete(Frame { header, body: &[] }));
        }
    }
    decode_frame(buf, limits)
}

/// Header + body as one buffer (what should go out in one write).
pub fn packet(cmd: u8, status: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    let h = Header {
        pkg_len: body.len() as u64,
        cmd,
        status,
    };
    out.extend_from_slice(&h.encode());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_and_negative_lengths_are_refused_before_reading_the_body() {
        let mut b = Header::request(11, 1 << 62).encode().to_vec();
        let e = decode_frame(&b, &Limits::STORAGE).unwrap_err();
        assert_eq!(
            e,
            FrameError::TooLong {
                len: 1 << 62,
                max: 256 * 1024,
                cmd: 11
            }
        );
        assert!(e.to_string().contains("exceeds the limit"));
        b[0] = 0x80;
        assert!(matches!(
            decode_frame(&b, &Limits::STORAGE),
            Err(FrameError::NegativeLength(_))
        ));
    }

    #[test]
    fn need_more_then_complete() {
        let p = packet(cmd::ACTIVE_TEST, 0, b"abc");
        for cut in 0..HEADER_LEN {
            assert_eq!(
                decode_frame(&p[..cut], &Limits::TRACKER),
                Ok(Progress::NeedMore(HEADER_LEN - cut))
            );
        }
        assert_eq!(
            decode_frame(&p[..11], &Limits::TRACKER),
            Ok(Progress::NeedMore(2))
        );
        let mut more = p.clone();
        more.extend_from_slice(b"next");
        match decode_frame(&more, &Limits::TRACKER) {
            Ok(Progress::Complete(f)) => {
                assert_eq!(f.body, b"abc");
                assert_eq!(f.len(), 13);
                assert_eq!(f.header.cmd, cmd::ACTIVE_TEST);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn body_packet_matches_manual_framing() {
        use crate::body::{Body, IpWidth};
        use crate::common::GroupName;
        let g = GroupName {
            group: "group1".into(),
        };
        let p = g.packet(cmd::QUERY_STORE_WITH_GROUP_ONE, 0, IpWidth::V4);
        assert_eq!(
            p,
            packet(cmd::QUERY_STORE_WITH_GROUP_ONE, 0, &g.to_bytes(IpWidth::V4))
        );
        assert_eq!(&p[..10], &[0, 0, 0, 0, 0, 0, 0, 16, 104, 0]);
    }

    #[test]
    fn error_responses_ignore_pkg_len() {
        let mut b = Header::response(crate::status::EINVAL, 14)
            .encode()
            .to_vec();
        match decode_response_frame(&b, &Limits::TRACKER) {
            Ok(Progress::Complete(f)) => {
                assert_eq!(f.header.status, crate::status::EINVAL);
                assert_eq!(f.header.pkg_len, 0);
                assert_eq!(f.len(), HEADER_LEN);
            }
            other => panic!("{other:?}"),
        }
        // Requests (and OK responses) still wait for their body.
        assert_eq!(
            decode_frame(&b, &Limits::TRACKER),
            Ok(Progress::NeedMore(14))
        );
        b[9] = 0;
        assert_eq!(
            decode_response_frame(&b, &Limits::TRACKER),
            Ok(Progress::NeedMore(14))
        );
    }

    #[test]
    fn exact_limit_is_accepted() {
        let lim = Limits { max_body_len: 3 };
        let p = packet(1, 0, b"abc");
        assert!(matches!(decode_frame(&p, &lim), Ok(Progress::Complete(_))));
        let p = packet(1, 0, b"abcd");
        assert!(decode_frame(&p, &lim).is_err());
    }
}

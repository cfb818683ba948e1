//! A stateful wrapper over [`parse_request`] that performs memcached's
//! "swallow": after refusing an oversized data block it discards the block as
//! it streams in, and reports the error only once the block is gone (which is
//! when memcached sends `SERVER_ERROR object too large for cache`).

use super::error::{Action, ProtocolError};
use super::limits::Limits;
use super::parse::{complete_data, parse_head_from, Head, Parsed};

/// Per-connection request decoder.
///
/// Always pass the unconsumed input: after [`Parsed::Incomplete`] the next
/// buffer must start with the same bytes (plus whatever arrived). The
/// decoder relies on it to avoid rescanning a partial line it has already
/// searched for a newline, so a line trickling in byte by byte costs linear
/// rather than quadratic time.
///
/// ```
/// use fdfs_proto::memcached::{Limits, Parsed, RequestDecoder};
/// let mut dec = RequestDecoder::new(Limits::memcached());
/// let mut buf = b"get a b\r\nset k 0 0 2\r\nhi".to_vec();
/// let consumed = match dec.decode(&buf) {
///     Parsed::Request { consumed, .. } => consumed,
///     other => panic!("{other:?}"),
/// };
/// buf.drain(..consumed);
/// assert_eq!(dec.decode(&buf), Parsed::Incomplete); // the CRLF is missing
/// ```
#[derive(Debug, Clone)]
pub struct RequestDecoder {
    limits: Limits,
    swallow: Option<(usize, ProtocolError)>,
    /// Leading bytes of the unconsumed input already searched for a newline.
    no_newline_in: usize,
}

impl RequestDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> RequestDecoder {
        RequestDecoder {
            limits,
            swallow: None,
            no_newline_in: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// True while a refused data block is being discarded.
    pub fn is_swallowing(&self) -> bool {
        self.swallow.is_some()
    }

    /// Decodes the next event from `buf` (the unconsumed input). Never
    /// returns an error with [`Action::Swallow`]: that error is returned, with
    /// [`Action::Continue`], once all of its bytes have been consumed, and
    /// [`Parsed::Swallowed`] reports progress in between.
    pub fn decode<'a>(&mut self, buf: &'a [u8]) -> Parsed<'a> {
        match self.decode_head(buf) {
            Head::Done(parsed) => parsed,
            Head::Data(pending) => complete_data(buf, pending),
        }
    }

    /// Like [`decode`](Self::decode), but returns storage commands as soon
    /// as their line is complete ([`Head::Data`]); the caller then consumes
    /// `consumed + data_len + 2` bytes itself, checking the last two with
    /// [`PendingData::check_trailer`](super::PendingData::check_trailer),
    /// before calling this again. For servers that stream large values to
    /// disk instead of buffering them.
    pub fn decode_head<'a>(&mut self, buf: &'a [u8]) -> Head<'a> {
        if let Some((remaining, error)) = self.swallow {
            return Head::Done(self.continue_swallow(buf, remaining, error, 0));
        }
        match parse_head_from(buf, &self.limits, self.no_newline_in) {
            Head::Done(Parsed::Incomplete) => {
                // No newline yet: remember how far we looked.
                self.no_newline_in = buf.len();
                Head::Done(Parsed::Incomplete)
            }
            Head::Done(parsed) => {
                self.no_newline_in = 0;
                Head::Done(self.start_swallow(buf, parsed))
            }
            data => {
                self.no_newline_in = 0;
                data
            }
        }
    }

    fn start_swallow<'a>(&mut self, buf: &'a [u8], parsed: Parsed<'a>) -> Parsed<'a> {
        match parsed {
            Parsed::Error {
                error:
                    error @ ProtocolError {
                        action: Action::Swallow(n),
                        ..
                    },
                consumed,
            } => {
                let error = error.with_action(Action::Continue);
                self.continue_swallow(&buf[consumed..], n, error, consumed)
            }
            other => other,
        }
    }

    fn continue_swallow<'a>(
        &mut self,
        buf: &'a [u8],
        remaining: usize,
        error: ProtocolError,
        already: usize,
    ) -> Parsed<'a> {
        let take = remaining.min(buf.len());
        let left = remaining - take;
        if left == 0 {
            self.swallow = None;
            Parsed::Error {
                error,
                consumed: already + take,
            }
        } else {
            self.swallow = Some((left, error));
            if already + take == 0 {
                Parsed::Incomplete
            } else {
                Parsed::Swallowed {
                    consumed: already + take,
                }
            }
        }
    }
}

impl Default for RequestDecoder {
    fn default() -> Self {
        RequestDecoder::new(Limits::default())
    }
}

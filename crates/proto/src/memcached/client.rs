//! Client-side reply parsing, incremental: every function takes the bytes
//! received so far and answers `Ok(None)` when they are not enough.
//!
//! Streaming consumers (the nginx module) call [`ResponseParser::parse_line`]
//! to get a `VALUE`/`VA` header and its data length, move the data bytes
//! themselves, then check the CRLF with [`ResponseParser::parse_trailer`].
//! Buffering consumers (the CLI) call [`ResponseParser::parse_response`].

use super::meta::MetaFlag;
use super::number::parse_plain_u64;
use super::response::{MetaReply, MetaStatus, ReplyLine, Response, Value};

/// A reply that is not valid memcached protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// No newline within the allowed line length.
    #[error("memcached reply line longer than {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A line ended in a bare LF (memcached always sends CRLF; nginx treats
    /// anything else as an invalid response).
    #[error("memcached reply line not terminated by CRLF")]
    BadLineEnd,
    /// A known reply with malformed arguments.
    #[error("malformed memcached {what} line")]
    Malformed {
        /// Which reply.
        what: &'static str,
    },
    /// A line that is no memcached reply.
    #[error("unknown memcached reply line")]
    Unknown,
    /// The two bytes after a data block were not CRLF.
    #[error("memcached data block not followed by CRLF")]
    BadDataTerminator,
    /// A data length above [`ResponseParser::max_value_len`].
    #[error("memcached value of {len} bytes exceeds the limit of {max}")]
    ValueTooLarge {
        /// Announced length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A line that cannot appear inside a `VALUE …`/`STAT …` sequence.
    #[error("unexpected line inside a multi-line memcached reply")]
    Unexpected,
}

/// Reply parser with its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseParser {
    /// Longest accepted reply line, CRLF excluded (default 64 KiB).
    pub max_line: usize,
    /// Largest accepted data length (default 1 GiB, memcached's `-I` ceiling).
    pub max_value_len: usize,
}

impl Default for ResponseParser {
    fn default() -> Self {
        ResponseParser::new()
    }
}

fn malformed(what: &'static str) -> ResponseError {
    ResponseError::Malformed { what }
}

impl ResponseParser {
    /// Default limits.
    pub const fn new() -> ResponseParser {
        ResponseParser {
            max_line: 64 * 1024,
            max_value_len: 1 << 30,
        }
    }

    /// Parses one reply line. Returns the line and the bytes it occupies
    /// (CRLF included). For `VALUE` and `VA` the data block is **not**
    /// consumed: see [`ReplyLine::data_len`].
    pub fn parse_line<'a>(
        &self,
        buf: &'a [u8],
    ) -> Result<Option<(ReplyLine<'a>, usize)>, ResponseError> {
        let scan = &buf[..buf.len().min(self.max_line.saturating_add(2))];
        let Some(nl) = scan.iter().position(|&b| b == b'\n') else {
            if buf.len() > self.max_line.saturating_add(1) {
                return Err(ResponseError::LineTooLong { max: self.max_line });
            }
            return Ok(None);
        };
        if nl == 0 || buf[nl - 1] != b'\r' {
            return Err(ResponseError::BadLineEnd);
        }
        let line = &buf[..nl - 1];
        if line.len() > self.max_line {
            return Err(ResponseError::LineTooLong { max: self.max_line });
        }
        Ok(Some((self.classify(line)?, nl + 1)))
    }

    fn len_of(&self, tok: &[u8], what: &'static str) -> Result<usize, ResponseError> {
        let len = parse_plain_u64(tok).ok_or(malformed(what))?;
        match usize::try_from(len) {
            Ok(l) if l <= self.max_value_len => Ok(l),
            _ => Err(ResponseError::ValueTooLarge {
                len,
                max: self.max_value_len,
            }),
        }
    }

    fn classify<'a>(&self, line: &'a [u8]) -> Result<ReplyLine<'a>, ResponseError> {
        let simple = match line {
            b"END" => Some(ReplyLine::End),
            b"STORED" => Some(ReplyLine::Stored),
            b"NOT_STORED" => Some(ReplyLine::NotStored),
            b"EXISTS" => Some(ReplyLine::Exists),
            b"NOT_FOUND" => Some(ReplyLine::NotFound),
            b"DELETED" => Some(ReplyLine::Deleted),
            b"TOUCHED" => Some(ReplyLine::Touched),
            b"OK" => Some(ReplyLine::Ok),
            b"RESET" => Some(ReplyLine::Reset),
            b"ERROR" => Some(ReplyLine::Error),
            b"CLIENT_ERROR" => Some(ReplyLine::ClientError(b"")),
            b"SERVER_ERROR" => Some(ReplyLine::ServerError(b"")),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok(s);
        }
        if let Some(rest) = line.strip_prefix(b"VALUE ") {
            let parts: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
            if !(parts.len() == 3 || parts.len() == 4) || parts[0].is_empty() {
                return Err(malformed("VALUE"));
            }
            let flags = parse_plain_u64(parts[1])
                .and_then(|f| u32::try_from(f).ok())
                .ok_or(malformed("VALUE"))?;
            let len = self.len_of(parts[2], "VALUE")?;
            let cas = match parts.get(3) {
                Some(c) => Some(parse_plain_u64(c).ok_or(malformed("VALUE"))?),
                None => None,
            };
            return Ok(ReplyLine::Value {
                key: parts[0],
                flags,
                len,
                cas,
            });
        }
        if let Some(rest) = line.strip_prefix(b"STAT ") {
            let sp = rest
                .iter()
                .position(|&b| b == b' ')
                .ok_or(malformed("STAT"))?;
            return Ok(ReplyLine::Stat {
                name: &rest[..sp],
                value: &rest[sp + 1..],
            });
        }
        if let Some(rest) = line.strip_prefix(b"VERSION ") {
            return Ok(ReplyLine::Version(rest));
        }
        if let Some(rest) = line.strip_prefix(b"CLIENT_ERROR ") {
            return Ok(ReplyLine::ClientError(rest));
        }
        if let Some(rest) = line.strip_prefix(b"SERVER_ERROR ") {
            return Ok(ReplyLine::ServerError(rest));
        }
        if let Some(rest) = line.strip_prefix(b"ME ") {
            let sp = rest
                .iter()
                .position(|&b| b == b' ')
                .ok_or(malformed("ME"))?;
            return Ok(ReplyLine::MetaDebug {
                key: &rest[..sp],
                info: &rest[sp + 1..],
            });
        }
        if line.first().is_some_and(u8::is_ascii_digit) {
            // memcached may pad a shrinking incr/decr result with spaces.
            let end = line.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
            let digits = &line[..end];
            return parse_plain_u64(digits)
                .map(ReplyLine::Number)
                .ok_or(malformed("incr/decr"));
        }
        self.classify_meta(line)
    }

    fn classify_meta<'a>(&self, line: &'a [u8]) -> Result<ReplyLine<'a>, ResponseError> {
        if line.len() < 2 || (line.len() > 2 && line[2] != b' ') {
            return Err(ResponseError::Unknown);
        }
        let mut toks = if line.len() > 2 {
            line[3..].split(|&b| b == b' ').collect::<Vec<_>>()
        } else {
            Vec::new()
        };
        let status = match &line[..2] {
            b"VA" => {
                if toks.is_empty() {
                    return Err(malformed("VA"));
                }
                let len = self.len_of(toks.remove(0), "VA")?;
                MetaStatus::Value(len)
            }
            b"HD" => MetaStatus::Header,
            b"EN" => MetaStatus::Miss,
            b"NF" => MetaStatus::NotFound,
            b"NS" => MetaStatus::NotStored,
            b"EX" => MetaStatus::Exists,
            b"MN" => MetaStatus::Noop,
            _ => return Err(ResponseError::Unknown),
        };
        let flags = toks
            .into_iter()
            .map(|t| MetaFlag::from_token(t).ok_or(malformed("meta flags")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReplyLine::Meta(MetaReply { status, flags }))
    }

    /// Checks the CRLF that ends a data block the caller consumed itself.
    /// Returns the bytes to skip (2) once they are there.
    pub fn parse_trailer(&self, buf: &[u8]) -> Result<Option<usize>, ResponseError> {
        match buf {
            [] | [b'\r'] => Ok(None),
            [b'\r', b'\n', ..] => Ok(Some(2)),
            _ => Err(ResponseError::BadDataTerminator),
        }
    }

    /// A data block of `len` bytes and its CRLF at the start of `buf`.
    pub fn parse_data<'a>(
        &self,
        buf: &'a [u8],
        len: usize,
    ) -> Result<Option<(&'a [u8], usize)>, ResponseError> {
        if buf.len() < len {
            return Ok(None);
        }
        match self.parse_trailer(&buf[len..])? {
            Some(t) => Ok(Some((&buf[..len], len + t))),
            None => Ok(None),
        }
    }

    /// Parses one complete reply (all `VALUE` blocks up to `END`, all `STAT`
    /// lines up to `END`, a `VA` line with its data, or a single line).
    pub fn parse_response<'a>(
        &self,
        buf: &'a [u8],
    ) -> Result<Option<(Response<'a>, usize)>, ResponseError> {
        let Some((first, mut pos)) = self.parse_line(buf)? else {
            return Ok(None);
        };
        match first {
            ReplyLine::Value { .. } | ReplyLine::End => {
                let mut values = Vec::new();
                let mut line = first;
                loop {
                    match line {
                        ReplyLine::End => return Ok(Some((Response::Values(values), pos))),
                        ReplyLine::Value {
                            key,
                            flags,
                            len,
                            cas,
                        } => {
                            let Some((data, used)) = self.parse_data(&buf[pos..], len)? else {
                                return Ok(None);
                            };
                            pos += used;
                            values.push(Value {
                                key,
                                flags,
                                cas,
                                data,
                            });
                        }
                        _ => return Err(ResponseError::Unexpected),
                    }
                    let Some((next, used)) = self.parse_line(&buf[pos..])? else {
                        return Ok(None);
                    };
                    pos += used;
                    line = next;
                }
            }
            ReplyLine::Stat { .. } => {
                let mut stats = Vec::new();
                let mut line = first;
                loop {
                    match line {
                        ReplyLine::End => return Ok(Some((Response::Stats(stats), pos))),
                        ReplyLine::Stat { name, value } => stats.push((name, value)),
                        _ => return Err(ResponseError::Unexpected),
                    }
                    let Some((next, used)) = self.parse_line(&buf[pos..])? else {
                        return Ok(None);
                    };
                    pos += used;
                    line = next;
                }
            }
            ReplyLine::Meta(reply) => match reply.status {
                MetaStatus::Value(len) => {
                    let Some((data, used)) = self.parse_data(&buf[pos..], len)? else {
                        return Ok(None);
                    };
                    Ok(Some((Response::MetaValue { reply, data }, pos + used)))
                }
                _ => Ok(Some((Response::Line(ReplyLine::Meta(reply)), pos))),
            },
            other => Ok(Some((Response::Line(other), pos))),
        }
    }
}

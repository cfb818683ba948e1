//! Replies a server sends, and their encoding. The same types come back out
//! of the client-side parser ([`ResponseParser`](super::ResponseParser)).

use super::meta::MetaFlag;
use super::number::{parse_plain_u64, push_u64};

/// Status code of a meta reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaStatus {
    /// `VA <len>`: a data block of `len` bytes follows.
    Value(usize),
    /// `HD`: success without a value.
    Header,
    /// `EN`: miss (`mg`).
    Miss,
    /// `NF`: not found (`md`, `ma`, `ms` in replace/append mode with cas).
    NotFound,
    /// `NS`: not stored.
    NotStored,
    /// `EX`: cas mismatch.
    Exists,
    /// `MN`: answer to `mn`.
    Noop,
}

impl MetaStatus {
    fn code(self) -> &'static [u8] {
        match self {
            MetaStatus::Value(_) => b"VA",
            MetaStatus::Header => b"HD",
            MetaStatus::Miss => b"EN",
            MetaStatus::NotFound => b"NF",
            MetaStatus::NotStored => b"NS",
            MetaStatus::Exists => b"EX",
            MetaStatus::Noop => b"MN",
        }
    }
}

/// A meta reply line: status plus return flags in request order, e.g.
/// `VA 3 f5 s3 t-1 kmk c20`, `HD c55 kmk2`, `EN`, or the `W`/`X`/`Z`
/// markers (win, stale, token already sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaReply<'a> {
    /// Status code (with the value length for `VA`).
    pub status: MetaStatus,
    /// Return flags.
    pub flags: Vec<MetaFlag<'a>>,
}

impl<'a> MetaReply<'a> {
    /// The token of the first return flag with this letter.
    pub fn flag(&self, letter: u8) -> Option<&'a [u8]> {
        self.flags
            .iter()
            .find(|f| f.flag == letter)
            .map(|f| f.token)
    }

    fn number(&self, letter: u8) -> Option<u64> {
        self.flag(letter).and_then(parse_plain_u64)
    }

    /// `s`: value size.
    pub fn size(&self) -> Option<u64> {
        self.number(b's')
    }

    /// `f`: client flags.
    pub fn client_flags(&self) -> Option<u32> {
        self.number(b'f').and_then(|f| u32::try_from(f).ok())
    }

    /// `c`: cas unique.
    pub fn cas(&self) -> Option<u64> {
        self.number(b'c')
    }

    /// `t`: seconds left, `-1` for no expiry.
    pub fn ttl(&self) -> Option<i64> {
        match self.flag(b't')? {
            b"-1" => Some(-1),
            t => parse_plain_u64(t).and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// `k`: the key (base64 when the reply also carries `b`).
    pub fn key(&self) -> Option<&'a [u8]> {
        self.flag(b'k')
    }

    /// `O`: the opaque token echoed back.
    pub fn opaque(&self) -> Option<&'a [u8]> {
        self.flag(b'O')
    }

    /// `W`: this client won the right to recache the item.
    pub fn won(&self) -> bool {
        self.flag(b'W').is_some()
    }

    /// `X`: the item is stale (invalidated with `md … I`).
    pub fn stale(&self) -> bool {
        self.flag(b'X').is_some()
    }

    /// `Z`: another client already holds the recache token.
    pub fn token_sent(&self) -> bool {
        self.flag(b'Z').is_some()
    }

    /// Appends the line (not the data block of `VA`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.status.code());
        if let MetaStatus::Value(len) = self.status {
            out.push(b' ');
            push_u64(out, len as u64);
        }
        for f in &self.flags {
            f.encode(out);
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// One reply line. Lines announcing data (`VALUE`, `VA`) carry its length;
/// the data block and its CRLF come after the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyLine<'a> {
    /// `VALUE <key> <flags> <bytes>[ <cas>]`. `cas` is present for
    /// `gets`/`gats` only.
    Value {
        /// Key, exactly as requested.
        key: &'a [u8],
        /// Client flags.
        flags: u32,
        /// Data length.
        len: usize,
        /// cas unique (`gets`/`gats`).
        cas: Option<u64>,
    },
    /// `END`: end of a retrieval or stats reply.
    End,
    /// `STORED`
    Stored,
    /// `NOT_STORED`
    NotStored,
    /// `EXISTS`
    Exists,
    /// `NOT_FOUND`
    NotFound,
    /// `DELETED`
    Deleted,
    /// `TOUCHED`
    Touched,
    /// `OK` (`flush_all`, `verbosity`)
    Ok,
    /// `RESET` (`stats reset`)
    Reset,
    /// The new value after `incr`/`decr`.
    Number(u64),
    /// `VERSION <version>`
    Version(&'a [u8]),
    /// `STAT <name> <value>`; the value may contain spaces.
    Stat {
        /// Statistic name.
        name: &'a [u8],
        /// Rest of the line.
        value: &'a [u8],
    },
    /// `ERROR`
    Error,
    /// `CLIENT_ERROR <text>`
    ClientError(&'a [u8]),
    /// `SERVER_ERROR <text>`
    ServerError(&'a [u8]),
    /// A meta reply (`VA`, `HD`, `EN`, `NF`, `NS`, `EX`, `MN`).
    Meta(MetaReply<'a>),
    /// `ME <key> <info>`: the `me` debug dump.
    MetaDebug {
        /// Key as printed.
        key: &'a [u8],
        /// `exp=… la=… cas=… fetch=… cls=… size=…`
        info: &'a [u8],
    },
}

impl ReplyLine<'_> {
    /// Length of the data block that follows this line, if any.
    pub fn data_len(&self) -> Option<usize> {
        match self {
            ReplyLine::Value { len, .. } => Some(*len),
            ReplyLine::Meta(MetaReply {
                status: MetaStatus::Value(len),
                ..
            }) => Some(*len),
            _ => None,
        }
    }

    /// Appends the line with its CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let simple: &[u8] = match self {
            ReplyLine::Value {
                key,
                flags,
                len,
                cas,
            } => {
                encode_value_header(out, key, *flags, *len, *cas);
                return;
            }
            ReplyLine::End => b"END",
            ReplyLine::Stored => b"STORED",
            ReplyLine::NotStored => b"NOT_STORED",
            ReplyLine::Exists => b"EXISTS",
            ReplyLine::NotFound => b"NOT_FOUND",
            ReplyLine::Deleted => b"DELETED",
            ReplyLine::Touched => b"TOUCHED",
            ReplyLine::Ok => b"OK",
            ReplyLine::Reset => b"RESET",
            ReplyLine::Error => b"ERROR",
            ReplyLine::Number(n) => {
                push_u64(out, *n);
                b""
            }
            ReplyLine::Version(v) => {
                out.extend_from_slice(b"VERSION ");
                v
            }
            ReplyLine::Stat { name, value } => {
                out.extend_from_slice(b"STAT ");
                out.extend_from_slice(name);
                out.push(b' ');
                value
            }
            ReplyLine::ClientError(t) => {
                out.extend_from_slice(b"CLIENT_ERROR ");
                t
            }
            ReplyLine::ServerError(t) => {
                out.extend_from_slice(b"SERVER_ERROR ");
                t
            }
            ReplyLine::Meta(m) => {
                m.encode(out);
                return;
            }
            ReplyLine::MetaDebug { key, info } => {
                out.extend_from_slice(b"ME ");
                out.extend_from_slice(key);
                out.push(b' ');
                info
            }
        };
        out.extend_from_slice(simple);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `VALUE <key> <flags> <len>[ <cas>]\r\n`. The caller then sends
/// the `len` data bytes and `\r\n` (e.g. straight from a file).
pub fn encode_value_header(
    out: &mut Vec<u8>,
    key: &[u8],
    flags: u32,
    len: usize,
    cas: Option<u64>,
) {
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    out.push(b' ');
    push_u64(out, u64::from(flags));
    out.push(b' ');
    push_u64(out, len as u64);
    if let Some(c) = cas {
        out.push(b' ');
        push_u64(out, c);
    }
    out.extend_from_slice(b"\r\n");
}

/// One item of a retrieval reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// Key, exactly as requested.
    pub key: &'a [u8],
    /// Client flags.
    pub flags: u32,
    /// cas unique (`gets`/`gats` only).
    pub cas: Option<u64>,
    /// The data.
    pub data: &'a [u8],
}

impl Value<'_> {
    /// Appends `VALUE …\r\n<data>\r\n`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_value_header(out, self.key, self.flags, self.data.len(), self.cas);
        out.extend_from_slice(self.data);
        out.extend_from_slice(b"\r\n");
    }
}

/// A complete reply to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    /// `VALUE` blocks then `END` (an empty list is a bare `END`).
    Values(Vec<Value<'a>>),
    /// `STAT` lines then `END` (at least one line; a bare `END` decodes as
    /// [`Response::Values`]).
    Stats(Vec<(&'a [u8], &'a [u8])>),
    /// A meta reply with its data block (`VA`).
    MetaValue {
        /// The `VA` line; its length must equal `data.len()`.
        reply: MetaReply<'a>,
        /// The data.
        data: &'a [u8],
    },
    /// Any single-line reply (never `VALUE`, `STAT`, `END` or `VA`).
    Line(ReplyLine<'a>),
}

impl Response<'_> {
    /// Appends the whole reply.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Values(values) => {
                for v in values {
                    v.encode(out);
                }
                out.extend_from_slice(b"END\r\n");
            }
            Response::Stats(stats) => {
                for (name, value) in stats {
                    ReplyLine::Stat { name, value }.encode(out);
                }
                out.extend_from_slice(b"END\r\n");
            }
            Response::MetaValue { reply, data } => {
                reply.encode(out);
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            Response::Line(line) => line.encode(out),
        }
    }

    /// Convenience: [`encode`](Self::encode) into a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

//! Requests as the server-side parser returns them, and their encoding (for
//! clients). Every slice borrows from the parsed buffer.

use std::borrow::Cow;

use super::meta::MetaRequest;
use super::number::{push_i64, push_u64};

/// `get`, `gets`, `gat`, `gats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetrievalCommand {
    /// `get <key>*` (also the legacy alias `bget`).
    Get,
    /// `gets <key>*`: hits carry the cas unique.
    Gets,
    /// `gat <exptime> <key>*`: get and touch.
    Gat,
    /// `gats <exptime> <key>*`: get and touch, hits carry the cas unique.
    Gats,
}

impl RetrievalCommand {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            RetrievalCommand::Get => "get",
            RetrievalCommand::Gets => "gets",
            RetrievalCommand::Gat => "gat",
            RetrievalCommand::Gats => "gats",
        }
    }

    /// Whether `VALUE` lines in the reply carry the cas unique. `get`/`gat`
    /// never do (stock nginx rejects a fourth number), `gets`/`gats` always do.
    pub fn returns_cas(self) -> bool {
        matches!(self, RetrievalCommand::Gets | RetrievalCommand::Gats)
    }

    /// Whether the command takes an exptime and touches the hits.
    pub fn touches(self) -> bool {
        matches!(self, RetrievalCommand::Gat | RetrievalCommand::Gats)
    }
}

/// `set`, `add`, `replace`, `append`, `prepend`, `cas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageCommand {
    /// Store unconditionally.
    Set,
    /// Store only if absent (expired counts as absent).
    Add,
    /// Store only if present.
    Replace,
    /// Append to an existing value; flags and exptime given are ignored.
    Append,
    /// Prepend to an existing value; flags and exptime given are ignored.
    Prepend,
    /// Store only if the cas unique still matches.
    Cas,
}

impl StorageCommand {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            StorageCommand::Set => "set",
            StorageCommand::Add => "add",
            StorageCommand::Replace => "replace",
            StorageCommand::Append => "append",
            StorageCommand::Prepend => "prepend",
            StorageCommand::Cas => "cas",
        }
    }
}

/// `incr` or `decr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithCommand {
    /// Add, wrapping at 2^64.
    Incr,
    /// Subtract, saturating at 0.
    Decr,
}

impl ArithCommand {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            ArithCommand::Incr => "incr",
            ArithCommand::Decr => "decr",
        }
    }
}

/// One parsed request.
///
/// `noreply` is `true` when the line ended in the `noreply` token: the server
/// then sends **nothing** for this command, whatever the outcome
/// (`NOT_STORED`, `NOT_FOUND`, a refused `flush_all`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// `get`/`gets`/`gat`/`gats`. `keys` may be empty only for `gat`/`gats`
    /// (`gat 100` answers `END`). Duplicates are kept: memcached answers them
    /// twice.
    Retrieval {
        /// Which retrieval command.
        command: RetrievalCommand,
        /// The new exptime for `gat`/`gats`, `None` for `get`/`gets`.
        exptime: Option<i32>,
        /// Keys in request order.
        keys: Vec<&'a [u8]>,
    },
    /// `set`/`add`/`replace`/`append`/`prepend`/`cas` with its data block.
    Storage {
        /// Which storage command.
        command: StorageCommand,
        /// The key.
        key: &'a [u8],
        /// Opaque client flags.
        flags: u32,
        /// 0 = never, 1..=2592000 relative seconds, above: absolute Unix
        /// time, negative: already expired. The server converts.
        exptime: i32,
        /// The cas unique, `Some` exactly for `cas`.
        cas: Option<u64>,
        /// Reply suppressed.
        noreply: bool,
        /// The data block, without its CRLF.
        data: &'a [u8],
    },
    /// `delete <key> [0] [noreply]`.
    Delete {
        /// The key.
        key: &'a [u8],
        /// Reply suppressed.
        noreply: bool,
    },
    /// `incr`/`decr <key> <delta> [noreply]`.
    Arithmetic {
        /// Which one.
        command: ArithCommand,
        /// The key.
        key: &'a [u8],
        /// Unsigned 64-bit delta.
        delta: u64,
        /// Reply suppressed.
        noreply: bool,
    },
    /// `touch <key> <exptime> [noreply]`.
    Touch {
        /// The key.
        key: &'a [u8],
        /// New exptime (same encoding as for storage).
        exptime: i32,
        /// Reply suppressed.
        noreply: bool,
    },
    /// `flush_all [delay] [noreply]`.
    FlushAll {
        /// Seconds from now, `None` when absent.
        delay: Option<i32>,
        /// Reply suppressed (also for a refused flush).
        noreply: bool,
    },
    /// `version`.
    Version,
    /// `verbosity <level> [noreply]`.
    Verbosity {
        /// Requested level.
        level: u32,
        /// Reply suppressed.
        noreply: bool,
    },
    /// `stats [args]`. Unknown sub-commands are answered `ERROR` by the
    /// server, so the arguments are passed through.
    Stats {
        /// Tokens after `stats`.
        args: Vec<&'a [u8]>,
    },
    /// `quit`: close without a reply.
    Quit,
    /// Meta commands `mg`, `ms`, `md`, `ma`, `mn`, `me`.
    Meta(MetaRequest<'a>),
    /// memcached administration commands we recognise but do not interpret
    /// (`shutdown`, `slabs`, `lru_crawler`, `lru`, `watch`, `cache_memlimit`,
    /// `extstore`). The server answers them (memcached with default settings
    /// says e.g. `ERROR: shutdown not enabled`).
    Admin {
        /// Command name.
        command: &'a [u8],
        /// Tokens after it.
        args: Vec<&'a [u8]>,
    },
}

impl<'a> Request<'a> {
    /// Whether the reply to this request must be suppressed. Meta commands
    /// use the `q` flag instead, whose meaning depends on the outcome (see
    /// [`MetaRequest::quiet`]).
    pub fn noreply(&self) -> bool {
        match self {
            Request::Storage { noreply, .. }
            | Request::Delete { noreply, .. }
            | Request::Arithmetic { noreply, .. }
            | Request::Touch { noreply, .. }
            | Request::FlushAll { noreply, .. }
            | Request::Verbosity { noreply, .. } => *noreply,
            _ => false,
        }
    }

    /// Appends the wire form (command line and, for storage commands and
    /// `ms`, the data block). Keys are written as given: check them with
    /// [`validate_key`] first when they come from users.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Request::Retrieval {
                command,
                exptime,
                keys,
            } => {
                out.extend_from_slice(command.name().as_bytes());
                if command.touches() {
                    out.push(b' ');
                    push_i64(out, i64::from(exptime.unwrap_or(0)));
                }
                for k in keys {
                    out.push(b' ');
                    out.extend_from_slice(k);
                }
                out.extend_from_slice(b"\r\n");
            }
            Request::Storage {
                command,
                key,
                flags,
                exptime,
                cas,
                noreply,
                data,
            } => {
                out.extend_from_slice(command.name().as_bytes());
                out.push(b' ');
                out.extend_from_slice(key);
                out.push(b' ');
                push_u64(out, u64::from(*flags));
                out.push(b' ');
                push_i64(out, i64::from(*exptime));
                out.push(b' ');
                push_u64(out, data.len() as u64);
                if *command == StorageCommand::Cas {
                    out.push(b' ');
                    push_u64(out, cas.unwrap_or(0));
                }
                noreply_suffix(out, *noreply);
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            Request::Delete { key, noreply } => {
                out.extend_from_slice(b"delete ");
                out.extend_from_slice(key);
                noreply_suffix(out, *noreply);
            }
            Request::Arithmetic {
                command,
                key,
                delta,
                noreply,
            } => {
                out.extend_from_slice(command.name().as_bytes());
                out.push(b' ');
                out.extend_from_slice(key);
                out.push(b' ');
                push_u64(out, *delta);
                noreply_suffix(out, *noreply);
            }
            Request::Touch {
                key,
                exptime,
                noreply,
            } => {
                out.extend_from_slice(b"touch ");
                out.extend_from_slice(key);
                out.push(b' ');
                push_i64(out, i64::from(*exptime));
                noreply_suffix(out, *noreply);
            }
            Request::FlushAll { delay, noreply } => {
                out.extend_from_slice(b"flush_all");
                if let Some(d) = delay {
                    out.push(b' ');
                    push_i64(out, i64::from(*d));
                }
                noreply_suffix(out, *noreply);
            }
            Request::Version => out.extend_from_slice(b"version\r\n"),
            Request::Verbosity { level, noreply } => {
                out.extend_from_slice(b"verbosity ");
                push_u64(out, u64::from(*level));
                noreply_suffix(out, *noreply);
            }
            Request::Stats { args } => {
                out.extend_from_slice(b"stats");
                for a in args {
                    out.push(b' ');
                    out.extend_from_slice(a);
                }
                out.extend_from_slice(b"\r\n");
            }
            Request::Quit => out.extend_from_slice(b"quit\r\n"),
            Request::Meta(m) => m.encode(out),
            Request::Admin { command, args } => {
                out.extend_from_slice(command);
                for a in args {
                    out.push(b' ');
                    out.extend_from_slice(a);
                }
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Convenience: [`encode`](Self::encode) into a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// The key of a single-key request (decoded for base64 meta keys).
    pub fn key(&self) -> Option<Cow<'a, [u8]>> {
        match self {
            Request::Storage { key, .. }
            | Request::Delete { key, .. }
            | Request::Arithmetic { key, .. }
            | Request::Touch { key, .. } => Some(Cow::Borrowed(*key)),
            Request::Meta(m) if m.command != super::meta::MetaCommand::Noop => Some(m.key.clone()),
            _ => None,
        }
    }
}

fn noreply_suffix(out: &mut Vec<u8>, noreply: bool) {
    if noreply {
        out.extend_from_slice(b" noreply");
    }
    out.extend_from_slice(b"\r\n");
}

/// Why a key cannot be sent safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Zero-length key.
    #[error("empty memcached key")]
    Empty,
    /// Longer than allowed.
    #[error("memcached key is {len} bytes, the limit is {max}")]
    TooLong {
        /// Actual length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Contains a space, a control byte or DEL.
    #[error("memcached key contains byte 0x{byte:02x} at offset {offset}")]
    BadByte {
        /// The byte.
        byte: u8,
        /// Where.
        offset: usize,
    },
}

/// Client-side key check (what careful clients such as pymemcache enforce):
/// 1..=`max` bytes, no byte `<= 0x20` and no DEL. memcached itself only
/// enforces the length; spaces and line ends would split the command.
pub fn validate_key(key: &[u8], max: usize) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > max {
        return Err(KeyError::TooLong {
            len: key.len(),
            max,
        });
    }
    if let Some(offset) = key.iter().position(|&b| b <= b' ' || b == 0x7f) {
        return Err(KeyError::BadByte {
            byte: key[offset],
            offset,
        });
    }
    Ok(())
}

/// Appends `key` escaped the way stock nginx's `memcached_pass` escapes
/// `$memcached_key` (`ngx_escape_uri` with `NGX_ESCAPE_MEMCACHED`): space,
/// `%` and the bytes 0x00–0x1F become `%XX` with upper-case hex; DEL and bytes
/// ≥ 0x80 are sent raw. Keys written through nginx-style clients are stored
/// under this form, so readers must escape the same way to find them.
pub fn nginx_escape_key(key: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in key {
        if b <= 0x20 || b == b'%' {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.push(b);
        }
    }
}

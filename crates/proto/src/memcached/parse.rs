//! The server-side request parser: one call, one command (or error), over a
//! byte buffer that may hold less or more than one command.

use super::error::{
    Action, ErrorKind, ProtocolError, R_BAD_CHUNK, R_BAD_FORMAT, R_DELETE_USAGE, R_INVALID_DELTA,
    R_INVALID_EXPTIME, R_LINE_TOO_LONG, R_TOO_LARGE,
};
use super::limits::Limits;
use super::meta::parse_meta;
use super::number::{parse_i32, parse_u32, parse_u64};
use super::request::{ArithCommand, Request, RetrievalCommand, StorageCommand};

/// Outcome of one parse step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// The buffer does not hold a whole command (line, or line plus data
    /// block) yet. Nothing was consumed: call again with more bytes.
    Incomplete,
    /// Only from [`RequestDecoder`](super::RequestDecoder): it discarded
    /// `consumed` bytes of a refused data block and needs more of them.
    Swallowed {
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// A complete request that occupies the first `consumed` bytes.
    Request {
        /// The request, borrowing from the buffer.
        request: Request<'a>,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// The first `consumed` bytes were refused; see [`ProtocolError::action`].
    Error {
        /// What memcached would reply and do.
        error: ProtocolError,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
}

/// memcached tokenizes into at most 24 slots (23 tokens plus a terminal
/// one); argument-count checks see that capped count.
const MAX_TOKENS: usize = 24;

/// A storage command (or `ms`) whose line is parsed and whose data block the
/// caller reads itself, e.g. straight into a file: returned by
/// [`parse_request_head`] as soon as the line is complete, so a server never
/// has to buffer a whole (up to [`Limits::value_limit`]) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingData<'a> {
    /// The request with an empty data block (`data: &[]`, or `Some(&[])`
    /// for `ms`).
    pub request: Request<'a>,
    /// Length of the data block that follows the line. Already checked
    /// against the value limit; the CRLF after it is not included.
    pub data_len: usize,
    /// Bytes of the command line (the data block starts right after).
    pub consumed: usize,
}

impl<'a> PendingData<'a> {
    /// Checks the two bytes that followed the data block. memcached answers
    /// `CLIENT_ERROR bad data chunk` when they are not CRLF and goes on
    /// parsing right after them; the error honours `noreply` for classic
    /// commands and never for `ms`.
    pub fn check_trailer(&self, trailer: [u8; 2]) -> Result<(), ProtocolError> {
        if &trailer == b"\r\n" {
            return Ok(());
        }
        let noreply = matches!(self.request, Request::Storage { noreply: true, .. });
        Err(ProtocolError::new(ErrorKind::BadDataChunk, R_BAD_CHUNK).with_noreply(noreply))
    }

    /// The request with its data block filled in.
    pub fn with_data(self, data: &'a [u8]) -> Request<'a> {
        match self.request {
            Request::Storage {
                command,
                key,
                flags,
                exptime,
                cas,
                noreply,
                ..
            } => Request::Storage {
                command,
                key,
                flags,
                exptime,
                cas,
                noreply,
                data,
            },
            Request::Meta(mut m) => {
                m.data = Some(data);
                Request::Meta(m)
            }
            other => other,
        }
    }
}

/// Outcome of [`parse_request_head`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head<'a> {
    /// A command line announcing a data block; nothing of the block is
    /// consumed yet.
    Data(PendingData<'a>),
    /// Anything else, exactly as [`parse_request`] reports it (never a
    /// storage request).
    Done(Parsed<'a>),
}

/// Like [`parse_request`], but hands storage commands back as soon as their
/// command line is complete, leaving the data block to the caller (see
/// [`PendingData`]).
pub fn parse_request_head<'a>(buf: &'a [u8], limits: &Limits) -> Head<'a> {
    parse_head_from(buf, limits, 0)
}

/// [`parse_request_head`] for a buffer whose first `skip` bytes are known
/// to contain no newline.
pub(crate) fn parse_head_from<'a>(buf: &'a [u8], limits: &Limits, skip: usize) -> Head<'a> {
    let (line, line_len) = match find_line(buf, limits, skip) {
        Ok(Some(v)) => v,
        Ok(None) => return Head::Done(Parsed::Incomplete),
        Err(error) => return Head::Done(Parsed::Error { error, consumed: 0 }),
    };
    match parse_line(line, limits) {
        Ok(LineOutcome::Done(request)) => Head::Done(Parsed::Request {
            request,
            consumed: line_len,
        }),
        Ok(LineOutcome::NeedsData(request, data_len)) => Head::Data(PendingData {
            request,
            data_len,
            consumed: line_len,
        }),
        Err(error) => Head::Done(Parsed::Error {
            error,
            consumed: line_len,
        }),
    }
}

/// Parses the first command in `buf`.
///
/// Never panics and never allocates in proportion to a length field: a data
/// block is only looked at once all of its bytes are in `buf`. A refused
/// oversized block is reported with [`Action::Swallow`]; use
/// [`RequestDecoder`](super::RequestDecoder) to have it discarded as it
/// streams in.
pub fn parse_request<'a>(buf: &'a [u8], limits: &Limits) -> Parsed<'a> {
    match parse_request_head(buf, limits) {
        Head::Done(parsed) => parsed,
        Head::Data(pending) => complete_data(buf, pending),
    }
}

/// Turns a parsed storage line into the request once its data block is in
/// `buf`.
pub(crate) fn complete_data<'a>(buf: &'a [u8], pending: PendingData<'a>) -> Parsed<'a> {
    let start = pending.consumed;
    let end = start.saturating_add(pending.data_len);
    let total = end.saturating_add(2);
    if buf.len() < total {
        return Parsed::Incomplete;
    }
    match pending.check_trailer([buf[end], buf[end + 1]]) {
        Ok(()) => Parsed::Request {
            request: pending.with_data(&buf[start..end]),
            consumed: total,
        },
        Err(error) => Parsed::Error {
            error,
            consumed: total,
        },
    }
}

/// Finds the first command line. Returns the line (without `\n`, and
/// without a `\r` before it, and cut at the first NUL as memcached treats it
/// as a C string) and the bytes it occupies.
/// `skip` bytes at the front are known to hold no newline (a previous call
/// saw them), so a line trickling in byte by byte is not rescanned.
fn find_line<'a>(
    buf: &'a [u8],
    limits: &Limits,
    skip: usize,
) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
    let scan = &buf[..buf.len().min(limits.max_line.saturating_add(1))];
    let skip = skip.min(scan.len());
    match scan[skip..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| p + skip)
    {
        Some(nl) => {
            let mut line = &buf[..nl];
            // memcached only strips the CR of lines longer than one byte:
            // a lone "\r\n" stays "\r", which is an unknown command anyway.
            if nl > 1 && line[nl - 1] == b'\r' {
                line = &line[..nl - 1];
            }
            if let Some(nul) = line.iter().position(|&b| b == 0) {
                line = &line[..nul];
            }
            Ok(Some((line, nl + 1)))
        }
        None if buf.len() > limits.max_line => {
            Err(ProtocolError::new(ErrorKind::LineTooLong, R_LINE_TOO_LONG)
                .with_action(Action::Close))
        }
        None if buf.len() > limits.max_line_without_newline && !is_multiget_prefix(buf) => {
            Err(ProtocolError::new(ErrorKind::NoNewline, b"").with_action(Action::Close))
        }
        None => Ok(None),
    }
}

/// memcached tolerates a long line without newline only when, after at most
/// 100 spaces, it starts with `get ` or `gets `.
fn is_multiget_prefix(buf: &[u8]) -> bool {
    let spaces = buf.iter().take_while(|&&b| b == b' ').count();
    let rest = &buf[spaces..];
    spaces <= 100 && (rest.starts_with(b"get ") || rest.starts_with(b"gets "))
}

enum LineOutcome<'a> {
    Done(Request<'a>),
    NeedsData(Request<'a>, usize),
}

type LineResult<'a> = Result<LineOutcome<'a>, ProtocolError>;

fn tokenize(line: &[u8]) -> Vec<&[u8]> {
    line.split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .collect()
}

/// Parses one command line the way memcached 1.6.18's
/// `process_command_ascii` dispatches it.
fn parse_line<'a>(line: &'a [u8], limits: &Limits) -> LineResult<'a> {
    let toks = tokenize(line);
    // memcached's token count: real tokens (capped) plus the terminal one.
    let ntokens = toks.len().min(MAX_TOKENS - 1) + 1;
    if toks.is_empty() || toks[0].len() < 2 {
        return Err(ProtocolError::unknown());
    }
    let cmd = toks[0];
    let want = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(ProtocolError::unknown())
        }
    };
    if cmd[0] == b'm' && cmd.len() == 2 {
        let (req, vlen) = parse_meta(&toks, ntokens, limits)?;
        return Ok(match vlen {
            Some(n) => LineOutcome::NeedsData(Request::Meta(req), n),
            None => LineOutcome::Done(Request::Meta(req)),
        });
    }
    let storage = match cmd {
        b"set" => Some(StorageCommand::Set),
        b"add" => Some(StorageCommand::Add),
        b"replace" => Some(StorageCommand::Replace),
        b"append" => Some(StorageCommand::Append),
        b"prepend" => Some(StorageCommand::Prepend),
        b"cas" => Some(StorageCommand::Cas),
        _ => None,
    };
    if let Some(command) = storage {
        if command == StorageCommand::Cas {
            want(ntokens == 7 || ntokens == 8)?;
        } else {
            want(ntokens == 6 || ntokens == 7)?;
        }
        return parse_storage(command, &toks, limits);
    }
    let noreply = toks[ntokens - 2] == b"noreply";
    let done = |r: Request<'a>| Ok(LineOutcome::Done(r));
    match cmd {
        b"get" | b"gets" | b"gat" | b"gats" | b"bget" => {
            want(ntokens >= 3)?;
            let command = match cmd {
                b"gets" => RetrievalCommand::Gets,
                b"gat" => RetrievalCommand::Gat,
                b"gats" => RetrievalCommand::Gats,
                _ => RetrievalCommand::Get,
            };
            let mut keys_from = 1;
            let mut exptime = None;
            if command.touches() {
                exptime = Some(parse_i32(toks[1], limits.wrap_numbers).ok_or(
                    ProtocolError::new(ErrorKind::InvalidExptime, R_INVALID_EXPTIME),
                )?);
                keys_from = 2;
            }
            let keys = toks[keys_from..].to_vec();
            if keys.iter().any(|k| k.len() > limits.max_key_len) {
                return Err(ProtocolError::new(ErrorKind::KeyTooLong, R_BAD_FORMAT));
            }
            done(Request::Retrieval {
                command,
                exptime,
                keys,
            })
        }
        b"incr" | b"decr" => {
            want(ntokens == 4 || ntokens == 5)?;
            let command = if cmd == b"incr" {
                ArithCommand::Incr
            } else {
                ArithCommand::Decr
            };
            let key = checked_key(toks[1], limits, noreply)?;
            let delta = parse_u64(toks[2]).ok_or(
                ProtocolError::new(ErrorKind::InvalidDelta, R_INVALID_DELTA).with_noreply(noreply),
            )?;
            done(Request::Arithmetic {
                command,
                key,
                delta,
                noreply,
            })
        }
        b"delete" => {
            want((3..=5).contains(&ntokens))?;
            let mut noreply = false;
            if ntokens > 3 {
                let hold_is_zero = toks[2] == b"0";
                noreply = toks[ntokens - 2] == b"noreply";
                let valid = (ntokens == 4 && (hold_is_zero || noreply))
                    || (ntokens == 5 && hold_is_zero && noreply);
                if !valid {
                    return Err(ProtocolError::new(ErrorKind::DeleteUsage, R_DELETE_USAGE)
                        .with_noreply(noreply));
                }
            }
            let key = checked_key(toks[1], limits, noreply)?;
            done(Request::Delete { key, noreply })
        }
        b"touch" => {
            want(ntokens == 4 || ntokens == 5)?;
            let key = checked_key(toks[1], limits, noreply)?;
            let exptime = parse_i32(toks[2], limits.wrap_numbers).ok_or(
                ProtocolError::new(ErrorKind::InvalidExptime, R_INVALID_EXPTIME)
                    .with_noreply(noreply),
            )?;
            done(Request::Touch {
                key,
                exptime,
                noreply,
            })
        }
        b"flush_all" => {
            want((2..=4).contains(&ntokens))?;
            let delay = if ntokens != if noreply { 3 } else { 2 } {
                Some(
                    parse_i32(toks[1], limits.wrap_numbers).ok_or(
                        ProtocolError::new(ErrorKind::InvalidExptime, R_INVALID_EXPTIME)
                            .with_noreply(noreply),
                    )?,
                )
            } else {
                None
            };
            done(Request::FlushAll { delay, noreply })
        }
        b"verbosity" => {
            want(ntokens == 3 || ntokens == 4)?;
            let level = parse_u32(toks[1], limits.wrap_numbers).ok_or(
                ProtocolError::new(ErrorKind::BadCommandLine, R_BAD_FORMAT).with_noreply(noreply),
            )?;
            done(Request::Verbosity { level, noreply })
        }
        b"version" => done(Request::Version),
        b"quit" => done(Request::Quit),
        b"stats" => done(Request::Stats {
            args: toks[1..].to_vec(),
        }),
        b"shutdown" | b"slabs" | b"lru_crawler" | b"watch" => done(Request::Admin {
            command: cmd,
            args: toks[1..].to_vec(),
        }),
        b"cache_memlimit" => {
            want(ntokens == 3 || ntokens == 4)?;
            done(Request::Admin {
                command: cmd,
                args: toks[1..].to_vec(),
            })
        }
        b"lru" | b"extstore" => {
            want(ntokens >= 3)?;
            done(Request::Admin {
                command: cmd,
                args: toks[1..].to_vec(),
            })
        }
        // Commands are dispatched on their first letter before anything
        // else; only a name matching none of them reaches the HTTP check.
        _ if !matches!(cmd[0], b'g' | b's' | b'a' | b'c' | b'i' | b'd' | b't')
            && toks[ntokens - 2].starts_with(b"HTTP/") =>
        {
            Err(ProtocolError::new(ErrorKind::Http, b"").with_action(Action::Close))
        }
        _ => Err(ProtocolError::unknown()),
    }
}

fn checked_key<'a>(
    key: &'a [u8],
    limits: &Limits,
    noreply: bool,
) -> Result<&'a [u8], ProtocolError> {
    if key.len() > limits.max_key_len {
        Err(ProtocolError::new(ErrorKind::KeyTooLong, R_BAD_FORMAT).with_noreply(noreply))
    } else {
        Ok(key)
    }
}

/// memcached's `process_update_command`, in its order of checks.
fn parse_storage<'a>(
    command: StorageCommand,
    toks: &[&'a [u8]],
    limits: &Limits,
) -> LineResult<'a> {
    let noreply = toks[toks.len() - 1] == b"noreply";
    let bad = ProtocolError::new(ErrorKind::BadCommandLine, R_BAD_FORMAT).with_noreply(noreply);
    let key = checked_key(toks[1], limits, noreply)?;
    let flags = parse_u32(toks[2], limits.wrap_numbers).ok_or(bad)?;
    let exptime = parse_i32(toks[3], limits.wrap_numbers).ok_or(bad)?;
    let vlen = parse_i32(toks[4], limits.wrap_numbers).ok_or(bad)?;
    let cas = if command == StorageCommand::Cas {
        Some(parse_u64(toks[5]).ok_or(bad)?)
    } else {
        None
    };
    if !(0..=i32::MAX - 2).contains(&vlen) {
        return Err(bad);
    }
    let vlen = vlen as usize;
    if limits.value_limit.too_large(key.len(), flags, vlen) {
        return Err(ProtocolError::new(ErrorKind::ObjectTooLarge, R_TOO_LARGE)
            .with_noreply(noreply)
            .with_action(Action::Swallow(vlen + 2)));
    }
    let request = Request::Storage {
        command,
        key,
        flags,
        exptime,
        cas,
        noreply,
        data: &[],
    };
    Ok(LineOutcome::NeedsData(request, vlen))
}

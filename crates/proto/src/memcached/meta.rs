//! Meta commands (`mg`, `ms`, `md`, `ma`, `mn`, `me`): request types, flag
//! validation with memcached 1.6.18's error texts, and encoding.

use std::borrow::Cow;

use super::base64;
use super::error::{Action, ErrorKind, ProtocolError, R_BAD_FORMAT, R_TOO_LARGE};
use super::limits::Limits;
use super::number::{parse_i32, parse_u32, parse_u64, push_u64};

/// Which meta command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaCommand {
    /// `mg <key> <flags>*`
    Get,
    /// `ms <key> <datalen> <flags>*` + data block
    Set,
    /// `md <key> <flags>*`
    Delete,
    /// `ma <key> <flags>*`
    Arithmetic,
    /// `mn`: answers `MN`, used to end quiet pipelines.
    Noop,
    /// `me <key> [b]`: debug dump.
    Debug,
}

impl MetaCommand {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            MetaCommand::Get => "mg",
            MetaCommand::Set => "ms",
            MetaCommand::Delete => "md",
            MetaCommand::Arithmetic => "ma",
            MetaCommand::Noop => "mn",
            MetaCommand::Debug => "me",
        }
    }
}

/// One meta flag: a single byte, optionally followed by a token without a
/// space (`v`, `T30`, `Oopaque`, `MS`). Used for requests and replies alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetaFlag<'a> {
    /// The flag letter.
    pub flag: u8,
    /// The bytes after the letter (may be empty).
    pub token: &'a [u8],
}

impl<'a> MetaFlag<'a> {
    /// A flag without argument, e.g. `MetaFlag::bare(b'v')`.
    pub const fn bare(flag: u8) -> MetaFlag<'static> {
        MetaFlag { flag, token: b"" }
    }

    /// Splits a whitespace-free token into letter and argument.
    pub fn from_token(tok: &'a [u8]) -> Option<MetaFlag<'a>> {
        let (&flag, token) = tok.split_first()?;
        Some(MetaFlag { flag, token })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(b' ');
        out.push(self.flag);
        out.extend_from_slice(self.token);
    }
}

/// A parsed meta request. Flags are kept in request order because the reply
/// echoes the return flags (`f`, `t`, `c`, `k`, `s`, `O`, ...) in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaRequest<'a> {
    /// Which command.
    pub command: MetaCommand,
    /// The key, base64-decoded when the `b` flag is present (empty for `mn`).
    pub key: Cow<'a, [u8]>,
    /// Flags in request order (`me` keeps its optional `b` here).
    pub flags: Vec<MetaFlag<'a>>,
    /// The data block of `ms` (without its CRLF); `None` otherwise.
    pub data: Option<&'a [u8]>,
}

impl<'a> MetaRequest<'a> {
    /// The first flag with this letter (the parser refuses duplicates).
    pub fn flag(&self, letter: u8) -> Option<&MetaFlag<'a>> {
        self.flags.iter().find(|f| f.flag == letter)
    }

    /// Whether the flag is present.
    pub fn has(&self, letter: u8) -> bool {
        self.flag(letter).is_some()
    }

    /// `q`: suppress the common-case reply — `EN` for `mg`, `HD` for `ms`,
    /// `md`, `ma`. `NF`, `NS`, `EX`, a hit's `VA` and errors are still sent.
    pub fn quiet(&self) -> bool {
        self.has(b'q')
    }

    /// `b`: the key travels base64-encoded; `k` returns it encoded too.
    pub fn base64_key(&self) -> bool {
        self.has(b'b')
    }

    fn i32_of(&self, letter: u8) -> Option<i32> {
        self.flag(letter).and_then(|f| parse_i32(f.token, true))
    }

    fn u64_of(&self, letter: u8) -> Option<u64> {
        self.flag(letter).and_then(|f| parse_u64(f.token))
    }

    /// `T<ttl>`: new exptime.
    pub fn ttl(&self) -> Option<i32> {
        self.i32_of(b'T')
    }

    /// `N<ttl>`: create the item on a miss (mg: empty value; ma: `J` value).
    pub fn vivify_ttl(&self) -> Option<i32> {
        self.i32_of(b'N')
    }

    /// `R<ttl>`: win the recache token if the remaining TTL is below this.
    pub fn recache_ttl(&self) -> Option<i32> {
        self.i32_of(b'R')
    }

    /// `F<flags>`: client flags for `ms`.
    pub fn client_flags(&self) -> Option<u32> {
        self.flag(b'F').and_then(|f| parse_u32(f.token, true))
    }

    /// `C<cas>`: compare-and-swap value.
    pub fn compare_cas(&self) -> Option<u64> {
        self.u64_of(b'C')
    }

    /// `J<n>`: initial value for `ma` auto-vivify.
    pub fn initial(&self) -> Option<u64> {
        self.u64_of(b'J')
    }

    /// `D<n>`: delta for `ma` (default 1).
    pub fn delta(&self) -> Option<u64> {
        self.u64_of(b'D')
    }

    /// `M<mode>`: `ms` mode `E` add, `A` append, `P` prepend, `R` replace,
    /// `S` set; `ma` mode `I`/`+` incr, `D`/`-` decr.
    pub fn mode(&self) -> Option<u8> {
        self.flag(b'M').and_then(|f| f.token.first().copied())
    }

    /// `O<opaque>`: echoed back verbatim (at most 32 bytes with the `O`).
    pub fn opaque(&self) -> Option<&'a [u8]> {
        self.flag(b'O').map(|f| f.token)
    }

    /// Appends the wire form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.command.name().as_bytes());
        if self.command == MetaCommand::Noop {
            out.extend_from_slice(b"\r\n");
            return;
        }
        out.push(b' ');
        if self.base64_key() {
            base64::encode(&self.key, out);
        } else {
            out.extend_from_slice(&self.key);
        }
        if self.command == MetaCommand::Set {
            out.push(b' ');
            push_u64(out, self.data.map_or(0, |d| d.len()) as u64);
        }
        for f in &self.flags {
            f.encode(out);
        }
        out.extend_from_slice(b"\r\n");
        if self.command == MetaCommand::Set {
            out.extend_from_slice(self.data.unwrap_or(b""));
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// memcached refuses meta lines with more than this many tokens (the
/// terminal pseudo-token included).
const MAX_META_NTOKENS: usize = 20;
/// Longest `O` token, letter included.
const MAX_OPAQUE: usize = 32;

fn meta_err(reply: &'static [u8]) -> ProtocolError {
    ProtocolError::new(ErrorKind::MetaFlags, reply)
}

/// Result of parsing a meta command line: the request (without data) and,
/// for `ms`, the data length that follows.
pub(crate) type MetaLine<'a> = (MetaRequest<'a>, Option<usize>);

/// Parses a meta command line. `toks[0]` is the two-byte command, `ntokens`
/// is memcached's token count (real tokens, capped at 23, plus one).
pub(crate) fn parse_meta<'a>(
    toks: &[&'a [u8]],
    ntokens: usize,
    limits: &Limits,
) -> Result<MetaLine<'a>, ProtocolError> {
    let command = match toks[0][1] {
        b'g' => MetaCommand::Get,
        b's' => MetaCommand::Set,
        b'd' => MetaCommand::Delete,
        b'a' => MetaCommand::Arithmetic,
        b'n' => MetaCommand::Noop,
        b'e' => MetaCommand::Debug,
        _ => return Err(ProtocolError::unknown()),
    };
    match command {
        MetaCommand::Noop => {
            let req = MetaRequest {
                command,
                key: Cow::Borrowed(&b""[..]),
                flags: Vec::new(),
                data: None,
            };
            return Ok((req, None));
        }
        MetaCommand::Debug => return parse_me(toks, ntokens, limits),
        _ => {}
    }
    if ntokens < 3 {
        return Err(ProtocolError::unknown());
    }
    let key_tok = toks[1];
    if key_tok.len() > limits.max_key_len {
        return Err(ProtocolError::new(ErrorKind::KeyTooLong, R_BAD_FORMAT));
    }
    let mut first_flag = 2;
    let mut vlen = None;
    if command == MetaCommand::Set {
        if ntokens == 3 {
            return Err(ProtocolError::new(ErrorKind::BadCommandLine, R_BAD_FORMAT));
        }
        if ntokens > MAX_META_NTOKENS {
            return Err(meta_err(b"CLIENT_ERROR options flags too long\r\n"));
        }
        let len = parse_i32(toks[2], limits.wrap_numbers)
            .filter(|l| (0..=i32::MAX - 2).contains(l))
            .ok_or(ProtocolError::new(ErrorKind::BadCommandLine, R_BAD_FORMAT))?;
        vlen = Some(len as usize);
        first_flag = 3;
    } else if ntokens > MAX_META_NTOKENS {
        let reply: &'static [u8] = if command == MetaCommand::Get {
            b"CLIENT_ERROR options flags are too long\r\n"
        } else {
            b"CLIENT_ERROR options flags too long\r\n"
        };
        return Err(meta_err(reply));
    }
    // Errors after the data length is known swallow the data block.
    let swallow = |e: ProtocolError| match vlen {
        Some(n) => e.with_action(Action::Swallow(n + 2)),
        None => e,
    };
    let flag_toks = &toks[first_flag..];
    let pre = preparse(key_tok, flag_toks, limits);
    let (key, flags) = match pre {
        Ok(v) => v,
        Err(reply) => {
            let reply = match command {
                MetaCommand::Delete | MetaCommand::Arithmetic => {
                    b"CLIENT_ERROR invalid or duplicate flag\r\n"
                }
                _ => reply,
            };
            return Err(swallow(meta_err(reply)));
        }
    };
    let opaque_too_long = flags
        .iter()
        .any(|f| f.flag == b'O' && f.token.len() + 1 > MAX_OPAQUE);
    let req = MetaRequest {
        command,
        key,
        flags,
        data: None,
    };
    let mode_ok = match (command, req.mode()) {
        (_, None) | (MetaCommand::Get, _) | (MetaCommand::Delete, _) => true,
        (MetaCommand::Set, Some(m)) => matches!(m, b'E' | b'A' | b'P' | b'R' | b'S'),
        (MetaCommand::Arithmetic, Some(m)) => matches!(m, b'I' | b'+' | b'D' | b'-'),
        _ => true,
    };
    // memcached's own order: ms checks the mode before the opaque length,
    // ma looks at the opaque only after the mode.
    if !mode_ok {
        let reply: &'static [u8] = if command == MetaCommand::Set {
            b"CLIENT_ERROR invalid mode for ms M token\r\n"
        } else {
            b"CLIENT_ERROR invalid mode for ma M token\r\n"
        };
        return Err(swallow(meta_err(reply)));
    }
    if opaque_too_long {
        return Err(swallow(meta_err(b"CLIENT_ERROR opaque token too long\r\n")));
    }
    if let Some(n) = vlen {
        let client_flags = req.client_flags().unwrap_or(0);
        if limits.value_limit.too_large(req.key.len(), client_flags, n) {
            return Err(ProtocolError::new(ErrorKind::ObjectTooLarge, R_TOO_LARGE)
                .with_action(Action::Swallow(n + 2)));
        }
    }
    Ok((req, vlen))
}

fn parse_me<'a>(
    toks: &[&'a [u8]],
    ntokens: usize,
    limits: &Limits,
) -> Result<MetaLine<'a>, ProtocolError> {
    if ntokens < 3 || toks[1].len() > limits.max_key_len {
        return Err(ProtocolError::new(ErrorKind::BadCommandLine, R_BAD_FORMAT));
    }
    let flags: Vec<MetaFlag<'a>> = toks[2..]
        .iter()
        .filter_map(|t| MetaFlag::from_token(t))
        .collect();
    let key = if toks.get(2).is_some_and(|t| *t == b"b") {
        Cow::Owned(
            base64::decode(toks[1])
                .ok_or(ProtocolError::new(ErrorKind::BadCommandLine, R_BAD_FORMAT))?,
        )
    } else {
        Cow::Borrowed(toks[1])
    };
    // Only a `b` right after the key means base64 for `me`; keep the others
    // out so that re-encoding cannot turn them into one.
    let flags = if toks.get(2).is_some_and(|t| *t == b"b") {
        flags
    } else {
        flags.into_iter().filter(|f| f.flag != b'b').collect()
    };
    Ok((
        MetaRequest {
            command: MetaCommand::Debug,
            key,
            flags,
            data: None,
        },
        None,
    ))
}

/// The (decoded) key and the validated flags.
type KeyAndFlags<'a> = (Cow<'a, [u8]>, Vec<MetaFlag<'a>>);

/// memcached's `_meta_flag_preparse`: every flag is checked whatever the
/// command. `Err` carries the reply text.
fn preparse<'a>(
    key_tok: &'a [u8],
    toks: &[&'a [u8]],
    limits: &Limits,
) -> Result<KeyAndFlags<'a>, &'static [u8]> {
    let mut seen = [false; 127];
    let mut flags = Vec::with_capacity(toks.len());
    let mut err: Option<&'static [u8]> = None;
    let mut key = Cow::Borrowed(key_tok);
    for tok in toks {
        let Some(f) = MetaFlag::from_token(tok) else {
            continue;
        };
        let o = usize::from(f.flag);
        if o >= seen.len() || seen[o] {
            return Err(b"CLIENT_ERROR duplicate flag\r\n");
        }
        seen[o] = true;
        let bad_token: &'static [u8] = b"CLIENT_ERROR bad token in command line format\r\n";
        match f.flag {
            b'b' => match base64::decode(key_tok) {
                Some(k) => key = Cow::Owned(k),
                None => err = Some(b"CLIENT_ERROR error decoding key\r\n"),
            },
            b'N' | b'T' | b'R' => {
                if parse_i32(f.token, limits.wrap_numbers).is_none() {
                    err = Some(bad_token);
                }
            }
            b'F' => {
                if parse_u32(f.token, limits.wrap_numbers).is_none() {
                    err = Some(err.unwrap_or(R_BAD_FORMAT));
                }
            }
            b'C' => {
                if parse_u64(f.token).is_none() {
                    err = Some(bad_token);
                }
            }
            b'M' => {
                if f.token.len() != 1 {
                    err = Some(b"CLIENT_ERROR incorrect length for M token\r\n");
                }
            }
            b'J' => {
                if parse_u64(f.token).is_none() {
                    err = Some(b"CLIENT_ERROR invalid numeric initial value\r\n");
                }
            }
            b'D' => {
                if parse_u64(f.token).is_none() {
                    err = Some(b"CLIENT_ERROR invalid numeric delta value\r\n");
                }
            }
            b'l' | b'O' | b'P' | b'L' | b'k' | b's' | b't' | b'c' | b'f' | b'v' | b'h' | b'u'
            | b'q' | b'I' => {}
            _ => return Err(b"CLIENT_ERROR invalid flag\r\n"),
        }
        flags.push(f);
    }
    match err {
        Some(e) => Err(e),
        None => Ok((key, flags)),
    }
}

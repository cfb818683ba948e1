#![warn(missing_docs)]
//! The memcached text ("ASCII") protocol, as spoken by memcached 1.6.18:
//! server-side request parsing, reply encoding, client-side reply parsing.
//!
//! This module is the reference for the format in this project; `tyrantd`,
//! the nginx module's `memc_store` and the CLI all use it and nothing else.
//! Behaviour marked *(1.6.18)* was observed on the wire and is pinned by the
//! golden transcripts in `shared/testdata/memcached-transcripts.json`.
//!
//! # Framing
//!
//! A command is one line: a name and arguments separated by spaces, ended by
//! `\r\n` or a bare `\n` *(1.6.18)*. Runs of spaces and trailing spaces are
//! tolerated; tabs are **not** separators (they end up inside tokens).
//! Names are lower-case and case-sensitive (`GET a` → `ERROR`). An empty
//! line is `ERROR`. The line is a C string for memcached: everything after a
//! NUL byte is ignored (`set nul\0key 0 0 1` has too few tokens → `ERROR`).
//!
//! Storage commands are followed by a data block of exactly `<bytes>` octets
//! and `\r\n`. The length, never the terminator, delimits the data; when the
//! two bytes after it are not `\r\n` the reply is `CLIENT_ERROR bad data
//! chunk` and parsing resumes right after those two bytes (so the leftover
//! of a longer block usually yields an extra `ERROR`).
//!
//! Line-length rules ([`Limits`]): memcached closes the connection without a
//! reply when more than 2048 bytes arrived without a newline, unless the line
//! starts with `get `/`gets ` (long multi-gets are fine). Because memcached
//! decides when the bytes *arrive*, a 3000-byte non-get line that arrives in
//! one piece is parsed, and one that arrives in pieces is not; the parser
//! reproduces that, so only lines up to `max_line_without_newline` parse the
//! same however they are split. On top, every line is capped at
//! `max_line` bytes (`CLIENT_ERROR line too long`, then close).
//!
//! # Commands
//!
//! | request | replies |
//! |---|---|
//! | `get <key>+`, `gets <key>+` | `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n`… `END` |
//! | `gat <exptime> <key>*`, `gats <exptime> <key>*` | as `get`/`gets`; `gat 100` alone → `END` |
//! | `set`/`add`/`replace`/`append`/`prepend <key> <flags> <exptime> <bytes> [noreply]` | `STORED`, `NOT_STORED` |
//! | `cas <key> <flags> <exptime> <bytes> <cas> [noreply]` | `STORED`, `EXISTS`, `NOT_FOUND` |
//! | `delete <key> [0] [noreply]` | `DELETED`, `NOT_FOUND` |
//! | `incr`/`decr <key> <u64> [noreply]` | the new value, `NOT_FOUND`, `CLIENT_ERROR cannot increment or decrement non-numeric value` |
//! | `touch <key> <exptime> [noreply]` | `TOUCHED`, `NOT_FOUND` |
//! | `flush_all [delay] [noreply]` | `OK` |
//! | `version` | `VERSION 1.6.18` |
//! | `verbosity <n> [noreply]` | `OK` |
//! | `stats [args]` | `STAT <name> <value>`… `END`; unknown args → `ERROR` |
//! | `quit` | connection closed, no reply |
//!
//! Retrieval hits come in request order, misses are omitted, duplicates are
//! repeated. `get`/`gat` **never** carry the cas field; `gets`/`gats` always
//! do ([`RetrievalCommand::returns_cas`]). `noreply` is an ordinary key for
//! retrieval commands. Each hit is encoded with [`Value::encode`] or
//! [`encode_value_header`] (header only, for streaming the data).
//!
//! # Errors the parser decides
//!
//! | input | reply ([`ProtocolError::reply`]) | then ([`Action`]) |
//! |---|---|---|
//! | unknown/upper-case name, wrong token count, empty line, `get` without key | `ERROR` | continue |
//! | key longer than `max_key_len` (250), in any command; one long key fails a whole multi-get | `CLIENT_ERROR bad command line format` | continue |
//! | non-numeric or negative flags/exptime/length, bad cas, bad `verbosity` level | `CLIENT_ERROR bad command line format` | continue — the data line that follows is parsed as a command |
//! | `delete <key> <not 0>` | `CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]` | continue |
//! | bad exptime in `touch`/`gat`/`gats`/`flush_all` | `CLIENT_ERROR invalid exptime argument` | continue |
//! | bad `incr`/`decr` delta (`abc`, `-1`, ≥ 2^64) | `CLIENT_ERROR invalid numeric delta argument` | continue |
//! | data block not followed by CRLF | `CLIENT_ERROR bad data chunk` | continue after `<bytes>+2` |
//! | data block above the value limit | `SERVER_ERROR object too large for cache` | swallow `<bytes>+2`, *then* reply |
//! | >2048 bytes without newline, not a multi-get | nothing | close |
//! | line above `max_line` | `CLIENT_ERROR line too long` | close |
//! | last token starts with `HTTP/` (a stray HTTP request) | nothing | close (a server with HTTP on the same port switches instead) |
//!
//! Control bytes in keys are **not** rejected (1.6.18 stores `ctl\x01key`
//! and `tab\tkey`); only the length is checked. [`validate_key`] is the
//! stricter check clients should apply before sending.
//!
//! # Numbers
//!
//! memcached parses with C `strtoul`/`strtol` and stores flags and exptime in
//! 32 bits: `4294967296` as flags is accepted and stored as `0`, `-1` as
//! flags is refused, exptime `-1` means "already expired". The parser owns
//! this decision because it changes what the connection does next (a refused
//! line leaves its data block to be parsed as a command): with
//! [`Limits::wrap_numbers`] `true` (default) it truncates like memcached,
//! with `false` it refuses out-of-range values with `CLIENT_ERROR bad command
//! line format`. Interpreting exptime (relative up to 2592000 s, absolute
//! above, negative = expired) is the server's job, done with
//! [`Expiry::from_exptime`].
//!
//! # noreply
//!
//! `noreply` as the **last** token of `set`-like commands, `cas`, `delete`,
//! `incr`/`decr`, `touch`, `flush_all` and `verbosity` suppresses every reply
//! to that command — success, failure and even its error replies
//! (`set k 0 0 -1 noreply` answers nothing; an oversized or badly
//! terminated data block of a `noreply` set is swallowed silently). The parser reports it in
//! [`Request::noreply`] and [`ProtocolError::noreply`]; the server must then
//! stay silent ([`ProtocolError::reply_to_send`]). Errors found before the
//! command is recognised (`ERROR` for a bad token count, e.g.
//! `set foo 0 0 1 noreply extra`) are always sent.
//!
//! # Meta commands
//!
//! `<mg|ms|md|ma|me> <key> [<datalen> for ms] <flag>*`, and `mn`. A flag is a
//! letter, optionally followed by a token: `T30`, `F5`, `C<cas>`,
//! `Oopaque`, `MS`. Accepted flags (all commands share one validator):
//! `b` base64 key, `c` return cas, `f` return flags, `h` hit before, `k`
//! return key, `l` last access, `O` opaque (≤ 32 bytes), `q` quiet, `s`
//! size, `t` TTL left, `u` no LRU bump, `v` value, `N<ttl>` vivify on miss,
//! `R<ttl>` recache, `T<ttl>` touch, `F<flags>`, `C<cas>` compare, `I`
//! invalidate / set stale, `M<mode>` (ms: `E` add, `A` append, `P` prepend,
//! `R` replace, `S` set; ma: `I`/`+` incr, `D`/`-` decr), `J<init>`,
//! `D<delta>`, `P`/`L` (proxy hints, ignored). Errors, always sent even
//! with `q`: `CLIENT_ERROR invalid flag`, `CLIENT_ERROR duplicate flag`,
//! `CLIENT_ERROR bad token in command line format`, `CLIENT_ERROR invalid
//! or duplicate flag` (md/ma), `CLIENT_ERROR error decoding key`,
//! `CLIENT_ERROR opaque token too long`, `CLIENT_ERROR invalid mode for ms M
//! token`; `ms` swallows its data block after such an error.
//!
//! Replies ([`MetaReply`]): `VA <len> <flags>*` + data, `HD <flags>*`, `EN`
//! (miss), `NF`, `NS`, `EX`, `MN`; return flags echo the request order, e.g.
//! `mg mk v f t c k s` → `VA 3 f0 t-1 c54 kmk s3`. Markers `W` (won the
//! recache token), `X` (stale), `Z` (token already sent) may follow. `q`
//! hides the common-case reply — `EN` for `mg`, `HD` for `ms`/`md`/`ma` —
//! but not `NF`, `NS`, `EX` or a hit's `VA` *(1.6.18)*, so a quiet pipeline
//! ends with `mn` → `MN`.
//!
//! # Streaming data blocks
//!
//! [`parse_request`] and [`RequestDecoder::decode`] return a storage command
//! once its whole data block is buffered. A server that would rather stream
//! large values to disk uses [`parse_request_head`] /
//! [`RequestDecoder::decode_head`]: they return [`Head::Data`] as soon as the
//! command line is complete (limits already enforced); the caller moves the
//! `data_len` bytes itself and checks the two that follow with
//! [`PendingData::check_trailer`].
//!
//! # Client side
//!
//! [`ResponseParser::parse_line`] returns one reply line, e.g. the `VALUE`
//! header with its data length, without touching the data, so a caller can
//! stream the body and then check [`ResponseParser::parse_trailer`].
//! [`ResponseParser::parse_response`] returns a whole reply.
//!
//! # Item semantics and keys
//!
//! Pure helpers for answering like memcached: [`Expiry::from_exptime`]
//! (0 never, ≤ 2592000 s relative, larger absolute, negative already
//! expired — the same rule for storage commands, `touch`, `gat`, meta `T`/`N`
//! and `flush_all` delays) and [`apply_delta`] (`incr` wraps at 2^64, `decr`
//! stops at 0, a shrinking number is stored space-padded: `decr` of `100`
//! by 1 stores `99 ` while the reply line is `99`). [`nginx_escape_key`]
//! reproduces the key escaping of stock nginx `memcached_pass` (space, `%`
//! and control bytes as `%XX`), so readers find what nginx-style writers
//! stored.
//!
//! # Example
//!
//! ```
//! use fdfs_proto::memcached::{
//!     Limits, Parsed, ReplyLine, Request, RequestDecoder, Value,
//! };
//! let mut dec = RequestDecoder::new(Limits::memcached());
//! let input = b"set k 5 0 2\r\nhi\r\nget k nosuch\r\nGET k\r\n";
//! let (mut pos, mut out) = (0, Vec::new());
//! loop {
//!     match dec.decode(&input[pos..]) {
//!         Parsed::Request { request, consumed } => {
//!             match request {
//!                 Request::Storage { noreply: false, .. } => ReplyLine::Stored.encode(&mut out),
//!                 Request::Retrieval { command, keys, .. } => {
//!                     let cas = command.returns_cas().then_some(1);
//!                     Value { key: keys[0], flags: 5, cas, data: b"hi" }.encode(&mut out);
//!                     ReplyLine::End.encode(&mut out);
//!                 }
//!                 _ => {}
//!             }
//!             pos += consumed;
//!         }
//!         Parsed::Error { error, consumed } => {
//!             out.extend_from_slice(error.reply_to_send().unwrap_or_default());
//!             pos += consumed;
//!         }
//!         Parsed::Swallowed { consumed } => pos += consumed,
//!         Parsed::Incomplete => break,
//!     }
//! }
//! assert_eq!(out, b"STORED\r\nVALUE k 5 2\r\nhi\r\nEND\r\nERROR\r\n");
//! ```
//!
//! # Parser versus server
//!
//! The codec decides everything that depends on bytes only: framing, token
//! counts, number syntax, key and value limits, `noreply`, what to swallow.
//! The server decides everything that depends on stored state or policy:
//! hit/miss, cas comparison, incr on non-numeric values, exptime
//! arithmetic, `flush_all` permission, `stats` sub-commands, meta markers.

mod base64;
mod client;
mod decoder;
mod error;
mod item;
mod limits;
mod meta;
pub mod nginx;
mod number;
mod parse;
mod request;
mod response;

pub use base64::encode as base64_encode;
pub use client::{ResponseError, ResponseParser};
pub use decoder::RequestDecoder;
pub use error::{Action, ErrorKind, ProtocolError};
pub use item::{apply_delta, DeltaOutcome, Expiry, NonNumeric, MAX_RELATIVE_EXPTIME};
pub use limits::{Limits, ValueLimit};
pub use meta::{MetaCommand, MetaFlag, MetaRequest};
pub use parse::{parse_request, parse_request_head, Head, Parsed, PendingData};
pub use request::{
    nginx_escape_key, validate_key, ArithCommand, KeyError, Request, RetrievalCommand,
    StorageCommand,
};
pub use response::{encode_value_header, MetaReply, MetaStatus, ReplyLine, Response, Value};

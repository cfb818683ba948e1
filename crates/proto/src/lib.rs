//! Pure codecs shared by every fastdfs-rs component. No I/O, no async.
//!
//! - [`frame`]: the 10-byte header and incremental, allocation-free frame decoding with limits.
//! - [`cmd`], [`status`]: command codes and status (errno) values.
//! - [`tracker`], [`storage`], [`common`]: every command body, typed, both directions. Whole
//!   bodies implement [`Body`]; requests that carry file content implement [`Streamed`] so the
//!   content is never buffered.
//! - [`fileid`]: FastDFS file IDs (strict validator for URLs, decoder, encoder).
//! - [`token`]: fastdfs-nginx-module anti-steal tokens, with the expiry rule made explicit.
//!
//! IP fields in responses come in two widths ([`IpWidth`]): encoders take the configured width,
//! decoders accept both by body length, as the C client does.

#![warn(missing_docs)]

pub mod body;
pub mod cmd;
pub mod common;
pub mod fileid;
pub mod frame;
pub mod status;
pub mod storage;
pub mod token;
pub mod tracker;
mod wire;

pub use body::{Body, BodyError, HeadProgress, IpWidth, RequestError, Streamed};

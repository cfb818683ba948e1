//! Pure codecs shared by every fastdfs-rs component. No I/O, no async.
//!
//! - [`frame`]: the 10-byte header and incremental, allocation-free frame decoding with limits.
//! - [`cmd`], [`status`]: command codes and status (errno) values.
//! - [`tracker`], [`storage`], [`common`]: every command body, typed, both directions. Whole
//!   bodies implement [`Body`]; requests that carry file content implement [`Streamed`] so the
//!   content is never buffered.
//! - [`fileid`]: FastDFS file IDs (strict validator for URLs, decoder, encoder).
//! - [`token`]: fastdfs-nginx-module anti-steal tokens, with the expiry rule made explicit.
//! - [`memcached`]: the memcached text and meta protocol, server and client side.
//!
//! IP fields in responses come in two widths ([`IpWidth`]): encoders take the configured width,
//! decoders accept both by body length, as the C client does.
//!
//! ```
//! use fdfs_proto::common::ServerAddr;
//! use fdfs_proto::frame::{decode_frame, Limits, Progress};
//! use fdfs_proto::tracker::{StoreTarget, TrackerRequest};
//! use fdfs_proto::{cmd, status, Body, IpWidth};
//!
//! // A client asks where to upload (cmd 101, empty body).
//! let wire = [0, 0, 0, 0, 0, 0, 0, 0, 101, 0];
//! let Progress::Complete(frame) = decode_frame(&wire, &Limits::TRACKER)? else {
//!     unreachable!("10 bytes are a whole frame")
//! };
//! let req = TrackerRequest::decode(&frame.header, frame.body)?;
//! assert_eq!(req, TrackerRequest::QueryStoreWithoutGroupOne);
//!
//! // The tracker answers with a 40-byte body (16-byte IP era).
//! let resp = StoreTarget {
//!     group: "group1".into(),
//!     server: ServerAddr { ip: "127.0.0.1".into(), port: 23000 },
//!     store_path_index: 0,
//! };
//! let bytes = resp.packet(cmd::RESP, status::OK, IpWidth::V4);
//! assert_eq!(bytes.len(), 10 + 40);
//! assert_eq!(StoreTarget::decode(&bytes[10..])?, resp);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod body;
pub mod cmd;
pub mod common;
pub mod fileid;
pub mod frame;
pub mod http;
pub mod memcached;
pub mod modconf;
pub mod status;
pub mod storage;
pub mod token;
pub mod tracker;
mod wire;

pub use body::{Body, BodyError, HeadProgress, IpWidth, RequestError, Streamed};

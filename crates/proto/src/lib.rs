//! Pure codecs shared by every fastdfs-rs component. No I/O, no async.
//!
//! - [`fileid`]: FastDFS file IDs (strict validator for URLs, decoder, encoder).

pub mod fileid;

//! Pure codecs shared by every fastdfs-rs component. No I/O, no async.
pub mod memcached;

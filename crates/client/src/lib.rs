//! Async FastDFS client (storage commands) built on `fdfs-proto`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fdfs_client::Error> {
//! let mut s = fdfs_client::StorageClient::connect("127.0.0.1:23000").await?;
//! let stored = s.upload(0, "txt", b"hello").await?;
//! let bytes = s.download(&stored.group, &stored.file_name, 0, 0).await?;
//! assert_eq!(bytes, b"hello");
//! # Ok(()) }
//! ```

mod error;
mod fdfs;
mod storage;
pub mod tracker;
pub mod transfer;

pub use fdfs::{split_file_id, ClientOptions, FdfsClient, Upload};
pub use storage::{StorageClient, StorageOptions};
pub use tracker::TrackerClient;

pub use fdfs_proto::storage::{FileInfo, MetaItem, MetaOp, Metadata, StoredFile};

pub use error::{Error, Role};

impl From<fdfs_proto::BodyError> for Error {
    fn from(e: fdfs_proto::BodyError) -> Error {
        Error::Protocol(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

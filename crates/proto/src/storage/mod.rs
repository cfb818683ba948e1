//! Storage command bodies (client → storage and storage → storage).
//!
//! | cmd | request | response |
//! |---|---|---|
//! | 11 UPLOAD_FILE, 23 UPLOAD_APPENDER_FILE | [`UploadRequest`] + content | [`StoredFile`] |
//! | 21 UPLOAD_SLAVE_FILE | [`SlaveUploadRequest`] + content | [`StoredFile`] |
//! | 14 DOWNLOAD_FILE | [`DownloadRequest`] | content |
//! | 12 DELETE_FILE | [`crate::common::FileRef`] | empty |
//! | 13 SET_METADATA | [`SetMetadataRequest`] | empty |
//! | 15 GET_METADATA | [`crate::common::FileRef`] | [`Metadata`] |
//! | 22 QUERY_FILE_INFO | [`crate::common::FileRef`] (flags in header status) | [`FileInfo`] |
//! | 24 APPEND_FILE | [`AppendRequest`] + data | empty |
//! | 34 MODIFY_FILE | [`ModifyRequest`] + data | empty |
//! | 36 TRUNCATE_FILE | [`TruncateRequest`] | empty |
//! | 16 / 18 SYNC_CREATE / SYNC_UPDATE | [`SyncCopyRequest`] + content | empty |
//! | 17 SYNC_DELETE_FILE | [`SyncDeleteRequest`] | empty |
//! | 19 SYNC_CREATE_LINK | [`SyncLinkRequest`] | empty |
//! | 25 / 35 SYNC_APPEND / SYNC_MODIFY | [`SyncWriteRequest`] + data | empty |
//! | 37 SYNC_TRUNCATE_FILE | [`SyncTruncateRequest`] | empty |
//! | 26 FETCH_ONE_PATH_BINLOG | [`FetchPathBinlog`] | binlog text |
//! | 120 SYNC_STATUS (fdfs-rs extension) | [`crate::common::Empty`] | [`SyncStatus`] |
//! | 9 REPORT_SERVER_ID | [`crate::common::ServerId`] | empty |
//!
//! [`StorageRequest`] types any of these from a header and a body prefix.

mod file;
mod meta;
mod recovery;
mod request;
mod sync;
mod sync_status;
mod upload;

pub use file::{AppendRequest, DownloadRequest, FileInfo, ModifyRequest, TruncateRequest};
pub use meta::{
    MetaItem, MetaOp, Metadata, SetMetadataRequest, FIELD_SEPARATOR, MAX_NAME_LEN, MAX_VALUE_LEN,
    RECORD_SEPARATOR,
};
pub use recovery::FetchPathBinlog;
pub use request::StorageRequest;
pub use sync::{
    SyncCopyRequest, SyncDeleteRequest, SyncLinkRequest, SyncTruncateRequest, SyncWriteRequest,
};
pub use sync_status::{PeerSyncStatus, SyncStatus, PEER_LEN as SYNC_STATUS_PEER_LEN, SYNC_STATUS};
pub use upload::{SlaveUploadRequest, StoredFile, UploadRequest};

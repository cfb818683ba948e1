//! Every storage request, typed by command code: what a storage daemon dispatches on.
//!
//! Uploads, appends and sync copies are [`Streamed`]: only their head is decoded and the
//! content is left to the caller. Everything else is read whole, bounded by [`Limits`].

use crate::body::{Body, BodyError, HeadProgress, IpWidth, RequestError, Streamed};
use crate::cmd;
use crate::common::{Empty, FileRef, ServerId};
use crate::frame::{Header, Limits};
use crate::storage::*;

/// A decoded storage request (for streamed commands: the head; content follows).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum StorageRequest {
    /// 11
    Upload(UploadRequest),
    /// 23
    UploadAppender(UploadRequest),
    /// 21
    UploadSlave(SlaveUploadRequest),
    /// 14
    Download(DownloadRequest),
    /// 12
    Delete(FileRef),
    /// 13
    SetMetadata(SetMetadataRequest),
    /// 15
    GetMetadata(FileRef),
    /// 22, with the header status byte as flags
    QueryFileInfo { file: FileRef, flags: u8 },
    /// 24
    Append(AppendRequest),
    /// 34
    Modify(ModifyRequest),
    /// 36
    Truncate(TruncateRequest),
    /// 16
    SyncCreate(SyncCopyRequest),
    /// 18
    SyncUpdate(SyncCopyRequest),
    /// 17
    SyncDelete(SyncDeleteRequest),
    /// 19
    SyncLink(SyncLinkRequest),
    /// 25
    SyncAppend(SyncWriteRequest),
    /// 35
    SyncModify(SyncWriteRequest),
    /// 37
    SyncTruncate(SyncTruncateRequest),
    /// 9
    ReportServerId(ServerId),
    /// 111
    ActiveTest,
    /// 82: close without answering.
    Quit,
}

impl StorageRequest {
    /// Decodes the request head from the first bytes of the body. Streamed commands complete
    /// as soon as their head is in; the others need the whole body, which must fit `limits`
    /// (checked before asking for the bytes, so nothing is reserved for a huge `pkg_len`).
    pub fn decode_head(
        header: &Header,
        prefix: &[u8],
        limits: &Limits,
    ) -> Result<HeadProgress<Self>, RequestError> {
        use StorageRequest as R;
        fn map<T, U>(p: HeadProgress<T>, f: impl FnOnce(T) -> U) -> HeadProgress<U> {
            match p {
                HeadProgress::NeedBytes(n) => HeadProgress::NeedBytes(n),
                HeadProgress::Complete {
                    head,
                    head_len,
                    content_len,
                } => HeadProgress::Complete {
                    head: f(head),
                    head_len,
                    content_len,
                },
            }
        }
        let (h, p) = (header, prefix);
        match header.cmd {
            cmd::UPLOAD_FILE => return Ok(map(UploadRequest::decode_head(h, p)?, R::Upload)),
            cmd::UPLOAD_APPENDER_FILE => {
                return Ok(map(UploadRequest::decode_head(h, p)?, R::UploadAppender))
            }
            cmd::UPLOAD_SLAVE_FILE => {
                return Ok(map(SlaveUploadRequest::decode_head(h, p)?, R::UploadSlave))
            }
            cmd::APPEND_FILE => return Ok(map(AppendRequest::decode_head(h, p)?, R::Append)),
            cmd::MODIFY_FILE => return Ok(map(ModifyRequest::decode_head(h, p)?, R::Modify)),
            cmd::SYNC_CREATE_FILE => {
                return Ok(map(SyncCopyRequest::decode_head(h, p)?, R::SyncCreate))
            }
            cmd::SYNC_UPDATE_FILE => {
                return Ok(map(SyncCopyRequest::decode_head(h, p)?, R::SyncUpdate))
            }
            cmd::SYNC_APPEND_FILE => {
                return Ok(map(SyncWriteRequest::decode_head(h, p)?, R::SyncAppend))
            }
            cmd::SYNC_MODIFY_FILE => {
                return Ok(map(SyncWriteRequest::decode_head(h, p)?, R::SyncModify))
            }
            _ => {}
        }
        if header.pkg_len > limits.max_body_len {
            return Err(BodyError::Length {
                msg: "storage request",
                got: header.pkg_len,
                expected: format!("<= {} (limit)", limits.max_body_len),
            }
            .into());
        }
        let len = header.pkg_len as usize;
        if prefix.len() < len {
            return Ok(HeadProgress::NeedBytes(len));
        }
        let b = &prefix[..len];
        let req = match header.cmd {
            cmd::DOWNLOAD_FILE => R::Download(DownloadRequest::decode(b)?),
            cmd::DELETE_FILE => R::Delete(FileRef::decode(b)?),
            cmd::SET_METADATA => R::SetMetadata(SetMetadataRequest::decode(b)?),
            cmd::GET_METADATA => R::GetMetadata(FileRef::decode(b)?),
            cmd::QUERY_FILE_INFO => R::QueryFileInfo {
                file: FileRef::decode(b)?,
                flags: header.status,
            },
            cmd::TRUNCATE_FILE => R::Truncate(TruncateRequest::decode(b)?),
            cmd::SYNC_DELETE_FILE => R::SyncDelete(SyncDeleteRequest::decode(b)?),
            cmd::SYNC_CREATE_LINK => R::SyncLink(SyncLinkRequest::decode(b)?),
            cmd::SYNC_TRUNCATE_FILE => R::SyncTruncate(SyncTruncateRequest::decode(b)?),
            cmd::STORAGE_REPORT_SERVER_ID => R::ReportServerId(ServerId::decode(b)?),
            cmd::ACTIVE_TEST => {
                Empty::decode(b)?;
                R::ActiveTest
            }
            cmd::QUIT => R::Quit,
            other => return Err(RequestError::UnknownCommand(other)),
        };
        Ok(HeadProgress::Complete {
            head: req,
            head_len: len,
            content_len: 0,
        })
    }

    /// Command code.
    pub fn cmd(&self) -> u8 {
        use StorageRequest as R;
        match self {
            R::Upload(_) => cmd::UPLOAD_FILE,
            R::UploadAppender(_) => cmd::UPLOAD_APPENDER_FILE,
            R::UploadSlave(_) => cmd::UPLOAD_SLAVE_FILE,
            R::Download(_) => cmd::DOWNLOAD_FILE,
            R::Delete(_) => cmd::DELETE_FILE,
            R::SetMetadata(_) => cmd::SET_METADATA,
            R::GetMetadata(_) => cmd::GET_METADATA,
            R::QueryFileInfo { .. } => cmd::QUERY_FILE_INFO,
            R::Append(_) => cmd::APPEND_FILE,
            R::Modify(_) => cmd::MODIFY_FILE,
            R::Truncate(_) => cmd::TRUNCATE_FILE,
            R::SyncCreate(_) => cmd::SYNC_CREATE_FILE,
            R::SyncUpdate(_) => cmd::SYNC_UPDATE_FILE,
            R::SyncDelete(_) => cmd::SYNC_DELETE_FILE,
            R::SyncLink(_) => cmd::SYNC_CREATE_LINK,
            R::SyncAppend(_) => cmd::SYNC_APPEND_FILE,
            R::SyncModify(_) => cmd::SYNC_MODIFY_FILE,
            R::SyncTruncate(_) => cmd::SYNC_TRUNCATE_FILE,
            R::ReportServerId(_) => cmd::STORAGE_REPORT_SERVER_ID,
            R::ActiveTest => cmd::ACTIVE_TEST,
            R::Quit => cmd::QUIT,
        }
    }

    /// Header + head (for streamed commands the content still has to follow).
    pub fn head_packet(&self) -> Vec<u8> {
        use StorageRequest as R;
        let (c, ip) = (self.cmd(), IpWidth::V4);
        match self {
            R::Upload(m) | R::UploadAppender(m) => m.head_packet(c),
            R::UploadSlave(m) => m.head_packet(c),
            R::Append(m) => m.head_packet(c),
            R::Modify(m) => m.head_packet(c),
            R::SyncCreate(m) | R::SyncUpdate(m) => m.head_packet(c),
            R::SyncAppend(m) | R::SyncModify(m) => m.head_packet(c),
            R::Download(m) => m.packet(c, 0, ip),
            R::Delete(m) | R::GetMetadata(m) => m.packet(c, 0, ip),
            R::QueryFileInfo { file, flags } => file.packet(c, *flags, ip),
            R::SetMetadata(m) => m.packet(c, 0, ip),
            R::Truncate(m) => m.packet(c, 0, ip),
            R::SyncDelete(m) => m.packet(c, 0, ip),
            R::SyncLink(m) => m.packet(c, 0, ip),
            R::SyncTruncate(m) => m.packet(c, 0, ip),
            R::ReportServerId(m) => m.packet(c, 0, ip),
            R::ActiveTest | R::Quit => Empty.packet(c, 0, ip),
        }
    }
}

//! Storage → storage replication: 16 / 18 copy, 17 delete, 19 link, 25 / 35 append / modify,
//! 37 truncate. Each carries the *source* operation timestamp so the receiver keeps the mtime.

use crate::body::{Body, BodyError, HeadProgress, IpWidth, Streamed};
use crate::frame::Header;
use crate::status::EEXIST;
use crate::storage::file::{named_head, need_hint};
use crate::wire::{put_fixed, put_u32, put_u64, Reader, GROUP, NAME_MAX, NAME_MIN};

/// Request 16 (create) / 18 (update) head; the content follows unless the header status is
/// EEXIST (17), which means "only make sure the file exists; no content".
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | filename_len (22..=127) |
/// | 8 | 8 | file_size |
/// | 16 | 4 | source op timestamp |
/// | 20 | 16 | group name |
/// | 36 | n | logical name |
/// | 36+n | file_size or 0 | content |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncCopyRequest {
    /// Logical name.
    pub file_name: String,
    /// File size at the source.
    pub file_size: u64,
    /// Source operation time.
    pub timestamp: u32,
    /// Group.
    pub group: String,
    /// False when sent with header status EEXIST (no content).
    pub has_content: bool,
}

impl Streamed for SyncCopyRequest {
    fn encode_head(&self, out: &mut Vec<u8>) {
        put_u64(out, self.file_name.len() as u64);
        put_u64(out, self.file_size);
        put_u32(out, self.timestamp);
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn content_len(&self) -> u64 {
        if self.has_content {
            self.file_size
        } else {
            0
        }
    }

    fn header_status(&self) -> u8 {
        if self.has_content {
            0
        } else {
            EEXIST
        }
    }

    fn decode_head(header: &Header, prefix: &[u8]) -> Result<HeadProgress<Self>, BodyError> {
        const MSG: &str = "sync copy";
        const FIXED: usize = 8 + 8 + 4 + GROUP;
        let Some((mut r, head_len, name_len)) = named_head(MSG, header, prefix, FIXED)? else {
            return Ok(HeadProgress::NeedBytes(need_hint(prefix, FIXED)));
        };
        r.u64("filename_len")?;
        let file_size = r.u64("file_size")?;
        let timestamp = r.u32("timestamp")?;
        let group = r.fixed_str("group_name", GROUP)?;
        let file_name = r.str_n("filename", name_len)?;
        let has_content = header.status == 0;
        let declared = if has_content { file_size } else { 0 };
        let content_len = crate::wire::content_matches(MSG, header.pkg_len, head_len, declared)?;
        Ok(HeadProgress::Complete {
            head: SyncCopyRequest {
                file_name,
                file_size,
                timestamp,
                group,
                has_content,
            },
            head_len,
            content_len,
        })
    }
}

/// Request 17.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 4 | source delete timestamp |
/// | 4 | 16 | group name |
/// | 20 | n | logical name, 22 ≤ n < 128 |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncDeleteRequest {
    /// Source operation time.
    pub timestamp: u32,
    /// Group.
    pub group: String,
    /// Logical name.
    pub file_name: String,
}

impl Body for SyncDeleteRequest {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_u32(out, self.timestamp);
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "sync delete";
        const FIXED: usize = 4 + GROUP;
        if body.len() < FIXED + NAME_MIN || body.len() >= FIXED + NAME_MAX {
            return Err(BodyError::len(MSG, body.len(), "42..=147 (20 + name)"));
        }
        let mut r = Reader::new(body, MSG);
        Ok(SyncDeleteRequest {
            timestamp: r.u32("timestamp")?,
            group: r.fixed_str("group_name", GROUP)?,
            file_name: r.str_n("filename", body.len() - FIXED)?,
        })
    }
}

/// Request 19: `dest_name` becomes a link to `src_name`.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | dest_len (22..=127) |
/// | 8 | 8 | src_len (22..=127) |
/// | 16 | 4 | source op timestamp |
/// | 20 | 16 | group name |
/// | 36 | dest_len | link logical name |
/// | 36+dest_len | src_len | target logical name |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncLinkRequest {
    /// Link name.
    pub dest_name: String,
    /// Link target.
    pub src_name: String,
    /// Source operation time.
    pub timestamp: u32,
    /// Group.
    pub group: String,
}

impl Body for SyncLinkRequest {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_u64(out, self.dest_name.len() as u64);
        put_u64(out, self.src_name.len() as u64);
        put_u32(out, self.timestamp);
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.dest_name.as_bytes());
        out.extend_from_slice(self.src_name.as_bytes());
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "sync link";
        let mut r = Reader::new(body, MSG);
        let dest_len = r.name_len("dest_filename_len")?;
        let src_len = r.name_len("src_filename_len")?;
        let want = 8 + 8 + 4 + GROUP + dest_len + src_len;
        if body.len() != want {
            return Err(BodyError::len(MSG, body.len(), want.to_string()));
        }
        Ok(SyncLinkRequest {
            timestamp: r.u32("timestamp")?,
            group: r.fixed_str("group_name", GROUP)?,
            dest_name: r.str_n("dest_filename", dest_len)?,
            src_name: r.str_n("src_filename", src_len)?,
        })
    }
}

/// Request 25 (append) / 35 (modify) head; `length` data bytes follow.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | filename_len (22..=127) |
/// | 8 | 8 | start_offset |
/// | 16 | 8 | length |
/// | 24 | 4 | source op timestamp |
/// | 28 | 16 | group name |
/// | 44 | n | logical name |
/// | 44+n | length | data |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncWriteRequest {
    /// Logical name.
    pub file_name: String,
    /// Where the data goes.
    pub start_offset: u64,
    /// Data length.
    pub length: u64,
    /// Source operation time.
    pub timestamp: u32,
    /// Group.
    pub group: String,
}

impl Streamed for SyncWriteRequest {
    fn encode_head(&self, out: &mut Vec<u8>) {
        put_u64(out, self.file_name.len() as u64);
        put_u64(out, self.start_offset);
        put_u64(out, self.length);
        put_u32(out, self.timestamp);
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn content_len(&self) -> u64 {
        self.length
    }

    fn decode_head(header: &Header, prefix: &[u8]) -> Result<HeadProgress<Self>, BodyError> {
        const MSG: &str = "sync append/modify";
        const FIXED: usize = 8 + 8 + 8 + 4 + GROUP;
        let Some((mut r, head_len, name_len)) = named_head(MSG, header, prefix, FIXED)? else {
            return Ok(HeadProgress::NeedBytes(need_hint(prefix, FIXED)));
        };
        r.u64("filename_len")?;
        let start_offset = r.u64("start_offset")?;
        let length = r.u64("length")?;
        let timestamp = r.u32("timestamp")?;
        let group = r.fixed_str("group_name", GROUP)?;
        let file_name = r.str_n("filename", name_len)?;
        let content_len = crate::wire::content_matches(MSG, header.pkg_len, head_len, length)?;
        Ok(HeadProgress::Complete {
            head: SyncWriteRequest {
                file_name,
                start_offset,
                length,
                timestamp,
                group,
            },
            head_len,
            content_len,
        })
    }
}

/// Request 37.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | filename_len (22..=127) |
/// | 8 | 8 | old file size |
/// | 16 | 8 | new file size |
/// | 24 | 4 | source op timestamp |
/// | 28 | 16 | group name |
/// | 44 | n | logical name |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncTruncateRequest {
    /// Logical name.
    pub file_name: String,
    /// Size before.
    pub old_size: u64,
    /// Size after.
    pub new_size: u64,
    /// Source operation time.
    pub timestamp: u32,
    /// Group.
    pub group: String,
}

impl Body for SyncTruncateRequest {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_u64(out, self.file_name.len() as u64);
        put_u64(out, self.old_size);
        put_u64(out, self.new_size);
        put_u32(out, self.timestamp);
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "sync truncate";
        let mut r = Reader::new(body, MSG);
        let name_len = r.name_len("filename_len")?;
        let want = 8 + 8 + 8 + 4 + GROUP + name_len;
        if body.len() != want {
            return Err(BodyError::len(MSG, body.len(), want.to_string()));
        }
        Ok(SyncTruncateRequest {
            old_size: r.u64("old_file_size")?,
            new_size: r.u64("new_file_size")?,
            timestamp: r.u32("timestamp")?,
            group: r.fixed_str("group_name", GROUP)?,
            file_name: r.str_n("filename", name_len)?,
        })
    }
}

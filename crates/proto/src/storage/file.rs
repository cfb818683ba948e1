//! Reading and changing stored files: 14 download, 22 file info, 24 append, 34 modify,
//! 36 truncate.

use crate::body::{Body, BodyError, HeadProgress, IpWidth, Streamed};
use crate::frame::Header;
use crate::wire::{
    content_matches, need, put_fixed, put_i64, put_u64, Reader, GROUP, NAME_MAX, NAME_MIN,
};

/// Request 14. The response body is the content itself (`pkg_len` bytes, streamed).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | file_offset |
/// | 8 | 8 | download_bytes (0 = to the end) |
/// | 16 | 16 | group name |
/// | 32 | n | logical name, 22 ≤ n < 128 |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DownloadRequest {
    /// First byte.
    pub offset: u64,
    /// Byte count; 0 means "to the end of the file".
    pub length: u64,
    /// Group.
    pub group: String,
    /// Logical name.
    pub file_name: String,
}

impl Body for DownloadRequest {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_u64(out, self.offset);
        put_u64(out, self.length);
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "download";
        const FIXED: usize = 16 + GROUP;
        if body.len() < FIXED + NAME_MIN || body.len() >= FIXED + NAME_MAX {
            return Err(BodyError::len(MSG, body.len(), "54..=159 (32 + name)"));
        }
        let mut r = Reader::new(body, MSG);
        Ok(DownloadRequest {
            offset: r.u64("file_offset")?,
            length: r.u64("download_bytes")?,
            group: r.fixed_str("group_name", GROUP)?,
            file_name: r.str_n("remote_filename", body.len() - FIXED)?,
        })
    }
}

/// Response to 22 (request: [`crate::common::FileRef`], flags in the header status byte).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | file_size |
/// | 8 | 8 | create_timestamp (mtime) |
/// | 16 | 8 | crc32, written by C as a sign-extended `int` |
/// | 24 | S | source IP (S = 16 or 46); empty for unresolved server ids |
///
/// 40 or 70 bytes; both are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileInfo {
    /// Size from `stat`.
    pub file_size: i64,
    /// mtime.
    pub create_timestamp: i64,
    /// CRC-32 of the content (from the name, or recomputed for appender/slave files).
    pub crc32: u32,
    /// Source storage IP.
    pub source_ip: String,
}

impl Body for FileInfo {
    fn encode(&self, ip: IpWidth, out: &mut Vec<u8>) {
        put_i64(out, self.file_size);
        put_i64(out, self.create_timestamp);
        put_i64(out, i64::from(self.crc32 as i32));
        put_fixed(out, &self.source_ip, ip.size());
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "file info response";
        let ip = IpWidth::ALL
            .into_iter()
            .find(|w| body.len() == 24 + w.size())
            .ok_or_else(|| BodyError::len(MSG, body.len(), "40 or 70"))?;
        let mut r = Reader::new(body, MSG);
        let file_size = r.i64("file_size")?;
        let create_timestamp = r.i64("create_timestamp")?;
        let crc = r.i64("crc32")?;
        // Accept the sign-extended form C writes and a zero-extended one.
        let crc32 = u32::try_from(crc)
            .or_else(|_| i32::try_from(crc).map(|v| v as u32))
            .map_err(|_| BodyError::field(MSG, "crc32", "not a 32-bit value"))?;
        let source_ip = r.fixed_str("source_ip_addr", ip.size())?;
        Ok(FileInfo {
            file_size,
            create_timestamp,
            crc32,
            source_ip,
        })
    }
}

/// Request 24 head; `append_size` content bytes follow.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | appender_filename_len (22..=127) |
/// | 8 | 8 | append_size |
/// | 16 | n | appender logical name |
/// | 16+n | append_size | data |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppendRequest {
    /// Appender logical name.
    pub file_name: String,
    /// Bytes to append.
    pub append_size: u64,
}

impl Streamed for AppendRequest {
    fn encode_head(&self, out: &mut Vec<u8>) {
        put_u64(out, self.file_name.len() as u64);
        put_u64(out, self.append_size);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn content_len(&self) -> u64 {
        self.append_size
    }

    fn decode_head(header: &Header, prefix: &[u8]) -> Result<HeadProgress<Self>, BodyError> {
        const MSG: &str = "append";
        let Some((mut r, head_len, name_len)) = named_head(MSG, header, prefix, 16)? else {
            return Ok(HeadProgress::NeedBytes(need_hint(prefix, 16)));
        };
        r.u64("appender_filename_len")?;
        let append_size = r.u64("append_size")?;
        let file_name = r.str_n("appender_filename", name_len)?;
        let content_len = content_matches(MSG, header.pkg_len, head_len, append_size)?;
        Ok(HeadProgress::Complete {
            head: AppendRequest {
                file_name,
                append_size,
            },
            head_len,
            content_len,
        })
    }
}

/// Request 34 head; `size` content bytes follow.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | appender_filename_len (22..=127) |
/// | 8 | 8 | file_offset (≤ current size) |
/// | 16 | 8 | modify size |
/// | 24 | n | appender logical name |
/// | 24+n | size | data |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModifyRequest {
    /// Appender logical name.
    pub file_name: String,
    /// Where to write.
    pub offset: u64,
    /// Bytes to write.
    pub size: u64,
}

impl Streamed for ModifyRequest {
    fn encode_head(&self, out: &mut Vec<u8>) {
        put_u64(out, self.file_name.len() as u64);
        put_u64(out, self.offset);
        put_u64(out, self.size);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn content_len(&self) -> u64 {
        self.size
    }

    fn decode_head(header: &Header, prefix: &[u8]) -> Result<HeadProgress<Self>, BodyError> {
        const MSG: &str = "modify";
        let Some((mut r, head_len, name_len)) = named_head(MSG, header, prefix, 24)? else {
            return Ok(HeadProgress::NeedBytes(need_hint(prefix, 24)));
        };
        r.u64("appender_filename_len")?;
        let offset = r.u64("file_offset")?;
        let size = r.u64("modify_size")?;
        let file_name = r.str_n("appender_filename", name_len)?;
        let content_len = content_matches(MSG, header.pkg_len, head_len, size)?;
        Ok(HeadProgress::Complete {
            head: ModifyRequest {
                file_name,
                offset,
                size,
            },
            head_len,
            content_len,
        })
    }
}

/// Request 36 (header-only response).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | appender_filename_len (22..=127) |
/// | 8 | 8 | new file size |
/// | 16 | n | appender logical name |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TruncateRequest {
    /// Appender logical name.
    pub file_name: String,
    /// Size after truncation.
    pub new_size: u64,
}

impl Body for TruncateRequest {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_u64(out, self.file_name.len() as u64);
        put_u64(out, self.new_size);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "truncate";
        let mut r = Reader::new(body, MSG);
        let name_len = r.name_len("appender_filename_len")?;
        if body.len() != 16 + name_len {
            return Err(BodyError::len(
                MSG,
                body.len(),
                format!("{}", 16 + name_len),
            ));
        }
        let new_size = r.u64("truncated_file_size")?;
        let file_name = r.str_n("appender_filename", name_len)?;
        Ok(TruncateRequest {
            file_name,
            new_size,
        })
    }
}

/// For heads of `fixed` bytes whose first u64 is a name length followed (after the fixed part)
/// by the name: `None` while more bytes are needed, else a reader over exactly the head.
pub(crate) fn named_head<'a>(
    msg: &'static str,
    header: &Header,
    prefix: &'a [u8],
    fixed: usize,
) -> Result<Option<(Reader<'a>, usize, usize)>, BodyError> {
    if need(msg, header.pkg_len, prefix, 8)?.is_some() {
        return Ok(None);
    }
    let name_len = Reader::new(prefix, msg).name_len("filename_len")?;
    let head_len = fixed + name_len;
    if need(msg, header.pkg_len, prefix, head_len)?.is_some() {
        return Ok(None);
    }
    Ok(Some((
        Reader::new(&prefix[..head_len], msg),
        head_len,
        name_len,
    )))
}

/// How many bytes to ask for when [`named_head`] returned `None`.
pub(crate) fn need_hint(prefix: &[u8], fixed: usize) -> usize {
    match prefix.first_chunk::<8>() {
        // The name length was readable and valid (named_head checked it).
        Some(b) => fixed + u64::from_be_bytes(*b) as usize,
        None => 8,
    }
}

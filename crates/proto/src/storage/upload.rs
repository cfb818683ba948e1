//! Uploads: 11 (normal), 23 (appender), 21 (slave), and the response they share.

use crate::body::{Body, BodyError, HeadProgress, IpWidth, Streamed};
use crate::frame::Header;
use crate::wire::{
    content_matches, need, put_fixed, put_u64, Reader, EXT, GROUP, NAME_MAX, PREFIX,
};

/// Request 11 / 23 head; `file_size` content bytes follow.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 1 | store_path_index (0xFF = storage chooses) |
/// | 1 | 8 | file_size |
/// | 9 | 6 | ext name, NUL-padded, no dot, `[A-Za-z0-9._-]` |
/// | 15 | file_size | content |
///
/// `pkg_len` must be exactly `15 + file_size`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadRequest {
    /// Store path chosen by the tracker; 0xFF lets the storage pick.
    pub store_path_index: u8,
    /// Content length.
    pub file_size: u64,
    /// Extension without the dot (≤ 6 chars).
    pub ext: String,
}

impl UploadRequest {
    /// Head length.
    pub const HEAD_LEN: usize = 1 + 8 + EXT;
}

impl Streamed for UploadRequest {
    fn encode_head(&self, out: &mut Vec<u8>) {
        out.push(self.store_path_index);
        put_u64(out, self.file_size);
        put_fixed(out, &self.ext, EXT);
    }

    fn content_len(&self) -> u64 {
        self.file_size
    }

    fn decode_head(header: &Header, prefix: &[u8]) -> Result<HeadProgress<Self>, BodyError> {
        const MSG: &str = "upload";
        if let Some(n) = need(MSG, header.pkg_len, prefix, Self::HEAD_LEN)? {
            return Ok(HeadProgress::NeedBytes(n));
        }
        let mut r = Reader::new(&prefix[..Self::HEAD_LEN], MSG);
        let head = UploadRequest {
            store_path_index: r.u8("store_path_index")?,
            file_size: r.u64("file_size")?,
            ext: r.ext("file_ext_name")?,
        };
        let content_len = content_matches(MSG, header.pkg_len, Self::HEAD_LEN, head.file_size)?;
        Ok(HeadProgress::Complete {
            head,
            head_len: Self::HEAD_LEN,
            content_len,
        })
    }
}

/// Request 21 head; `file_size` content bytes follow.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | master_filename_len (22..=127) |
/// | 8 | 8 | file_size |
/// | 16 | 16 | prefix, NUL-padded, non-empty, `[A-Za-z0-9._-]` |
/// | 32 | 6 | ext name, NUL-padded (empty = master's ext) |
/// | 38 | n | master logical name |
/// | 38+n | file_size | content |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlaveUploadRequest {
    /// Master logical name (no group).
    pub master_file_name: String,
    /// Content length.
    pub file_size: u64,
    /// Slave prefix, e.g. `_150x150`.
    pub prefix: String,
    /// Extension without the dot.
    pub ext: String,
}

impl SlaveUploadRequest {
    /// Fixed part before the master name.
    pub const FIXED_LEN: usize = 8 + 8 + PREFIX + EXT;
}

impl Streamed for SlaveUploadRequest {
    fn encode_head(&self, out: &mut Vec<u8>) {
        put_u64(out, self.master_file_name.len() as u64);
        put_u64(out, self.file_size);
        put_fixed(out, &self.prefix, PREFIX);
        put_fixed(out, &self.ext, EXT);
        out.extend_from_slice(self.master_file_name.as_bytes());
    }

    fn content_len(&self) -> u64 {
        self.file_size
    }

    fn decode_head(header: &Header, prefix: &[u8]) -> Result<HeadProgress<Self>, BodyError> {
        const MSG: &str = "upload slave";
        if let Some(n) = need(MSG, header.pkg_len, prefix, 8)? {
            return Ok(HeadProgress::NeedBytes(n));
        }
        let name_len = Reader::new(prefix, MSG).name_len("master_filename_len")?;
        let head_len = Self::FIXED_LEN + name_len;
        if let Some(n) = need(MSG, header.pkg_len, prefix, head_len)? {
            return Ok(HeadProgress::NeedBytes(n));
        }
        let mut r = Reader::new(&prefix[..head_len], MSG);
        r.u64("master_filename_len")?;
        let file_size = r.u64("file_size")?;
        let slave_prefix = r.fixed_str("prefix_name", PREFIX)?;
        if slave_prefix.is_empty() || !slave_prefix.bytes().all(crate::fileid::is_ext_char) {
            return Err(BodyError::field(
                MSG,
                "prefix_name",
                "must be 1..=16 chars of [A-Za-z0-9._-]",
            ));
        }
        let ext = r.ext("file_ext_name")?;
        let master_file_name = r.str_n("master_filename", name_len)?;
        let content_len = content_matches(MSG, header.pkg_len, head_len, file_size)?;
        Ok(HeadProgress::Complete {
            head: SlaveUploadRequest {
                master_file_name,
                file_size,
                prefix: slave_prefix,
                ext,
            },
            head_len,
            content_len,
        })
    }
}

/// Response to 11 / 21 / 23 / 38: where the file now lives.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | group name |
/// | 16 | n | logical name (no NUL), 1 ≤ n < 128 |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredFile {
    /// Group name.
    pub group: String,
    /// Logical name `Mxx/HH/HH/<name>`.
    pub file_name: String,
}

impl StoredFile {
    /// `group/Mxx/...`, the file ID clients print.
    pub fn file_id(&self) -> String {
        format!("{}/{}", self.group, self.file_name)
    }
}

impl Body for StoredFile {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "upload response";
        if body.len() <= GROUP || body.len() >= GROUP + NAME_MAX {
            return Err(BodyError::len(MSG, body.len(), "17..=143 (16 + name)"));
        }
        let mut r = Reader::new(body, MSG);
        Ok(StoredFile {
            group: r.fixed_str("group_name", GROUP)?,
            file_name: r.str_n("remote_filename", body.len() - GROUP)?,
        })
    }
}

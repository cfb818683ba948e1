//! Building names exactly as the FastDFS storage does (`storage_gen_filename`,
//! `storage_format_ext_name`, `fdfs_gen_slave_filename`, `trunk_file_info_encode`).

use super::base64;
use super::decoded::{Source, TrunkInfo};
use super::error::FileIdError;
use super::validate::is_ext_char;
use super::{APPENDER_FLAG, EXT_NAME_MAX_LEN, SLAVE_PREFIX_MAX_LEN, TRUNK_FLAG};

/// Streaming CRC-32 as FastDFS puts it in names (reflected, poly 0xEDB88320 = zlib's).
#[derive(Debug, Clone, Default)]
pub struct Crc32(crc32fast::Hasher);

impl Crc32 {
    /// Fresh state.
    pub fn new() -> Self {
        Crc32(crc32fast::Hasher::new())
    }

    /// Feeds content bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The value for bytes 16–19 of the name.
    pub fn finalize(self) -> u32 {
        self.0.finalize()
    }

    /// One-shot CRC of `data`.
    pub fn checksum(data: &[u8]) -> u32 {
        crc32fast::hash(data)
    }
}

/// What kind of file a size field is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeKind {
    /// Normal upload of `size` bytes.
    Normal,
    /// Appender file: the size is not recorded (low word 0), bit 58 set.
    Appender,
    /// Normal file stored in a trunk slot: bit 59 set.
    Trunk,
}

/// The masked size field (bytes 8–15). `random23` is masked to 23 bits.
///
/// `R = 1<<31 | random23`; normal `< 2^32`: `R<<32 | size`; normal `>= 2^32`: `size` verbatim;
/// appender: `R<<32 | 1<<58`; trunk: `R<<32 | 1<<59 | (size & 0xFFFFFFFF)`.
pub fn masked_size(kind: SizeKind, size: u64, random23: u32) -> u64 {
    let r = u64::from((random23 & 0x7F_FFFF) | 0x8000_0000) << 32;
    match kind {
        SizeKind::Normal if size >> 32 != 0 => size,
        SizeKind::Normal => r | size,
        SizeKind::Appender => r | APPENDER_FLAG,
        SizeKind::Trunk => r | TRUNK_FLAG | (size & 0xFFFF_FFFF),
    }
}

/// The 20 bytes: source, timestamp, size field, CRC-32.
pub fn encode_raw(source: Source, timestamp: i32, size_field: u64, crc32: u32) -> [u8; 20] {
    let mut raw = [0u8; 20];
    raw[0..4].copy_from_slice(&source.to_bytes());
    raw[4..8].copy_from_slice(&timestamp.to_be_bytes());
    raw[8..16].copy_from_slice(&size_field.to_be_bytes());
    raw[16..20].copy_from_slice(&crc32.to_be_bytes());
    raw
}

/// The 7-character formatted extension: 7 random digits if `ext` is empty, else
/// `6 - ext.len()` random digits + `.` + `ext`. `next_digit` yields values `0..=9`
/// (taken modulo 10). `ext` has no leading dot, at most 6 chars of `[A-Za-z0-9._-]`.
pub fn format_ext(ext: &str, mut next_digit: impl FnMut() -> u8) -> Result<String, FileIdError> {
    let e = ext.as_bytes();
    if e.len() > EXT_NAME_MAX_LEN {
        return Err(FileIdError::Encode("extension longer than 6 characters"));
    }
    if !e.iter().all(|&c| is_ext_char(c)) {
        return Err(FileIdError::Encode(
            "extension has characters outside [A-Za-z0-9._-]",
        ));
    }
    let pad = if e.is_empty() {
        EXT_NAME_MAX_LEN + 1
    } else {
        EXT_NAME_MAX_LEN - e.len()
    };
    let mut out = String::with_capacity(7);
    for _ in 0..pad {
        out.push(char::from(b'0' + next_digit() % 10));
    }
    if !e.is_empty() {
        out.push('.');
        out.push_str(ext);
    }
    Ok(out)
}

/// `MXX/HH/HH/<27 base64>[<16 trunk base64>]<formatted_ext>`.
pub fn logical_name(
    store_path_index: u8,
    sub_high: u8,
    sub_low: u8,
    raw: &[u8; 20],
    trunk: Option<TrunkInfo>,
    formatted_ext: &str,
) -> String {
    let mut s = format!("M{store_path_index:02X}/{sub_high:02X}/{sub_low:02X}/");
    s.extend(base64::encode20(raw).iter().map(|&b| char::from(b)));
    if let Some(t) = trunk {
        s.extend(
            base64::encode12(&t.to_bytes())
                .iter()
                .map(|&b| char::from(b)),
        );
    }
    s.push_str(formatted_ext);
    s
}

/// Slave name from its master (`fdfs_gen_slave_filename`): the master name up to its dot
/// (searched only in the last 7 chars), then `prefix`, then `.ext`. `ext = None` keeps the
/// master's extension; `Some("")` gives none. The storage requires a non-empty prefix; an
/// empty prefix is also refused here when it would reproduce the master's name, and `-m`
/// with no extension is refused because it names the metadata sidecar.
pub fn slave_name(master: &str, prefix: &str, ext: Option<&str>) -> Result<String, FileIdError> {
    let m = master.as_bytes();
    if m.len() < 28 + EXT_NAME_MAX_LEN {
        return Err(FileIdError::Encode("master name too short"));
    }
    if prefix.len() > SLAVE_PREFIX_MAX_LEN || !prefix.bytes().all(is_ext_char) {
        return Err(FileIdError::Encode(
            "slave prefix must be <= 16 chars of [A-Za-z0-9._-]",
        ));
    }
    let tail_start = m.len() - (EXT_NAME_MAX_LEN + 1);
    let dot = m[tail_start..]
        .iter()
        .position(|&c| c == b'.')
        .map(|i| tail_start + i);
    let true_ext: String = match ext {
        Some("") => String::new(),
        Some(e) => {
            let e = e.strip_prefix('.').unwrap_or(e);
            if e.len() > EXT_NAME_MAX_LEN || !e.bytes().all(is_ext_char) {
                return Err(FileIdError::Encode("slave extension must be <= 6 chars"));
            }
            format!(".{e}")
        }
        None => dot.map(|d| master[d..].to_string()).unwrap_or_default(),
    };
    if true_ext.is_empty() && prefix == "-m" {
        return Err(FileIdError::Encode(
            "prefix '-m' without extension names the sidecar",
        ));
    }
    let stem = &master[..dot.unwrap_or(m.len())];
    if prefix.is_empty() && dot.map(|d| &master[d..]).unwrap_or("") == true_ext {
        return Err(FileIdError::Encode(
            "empty prefix with the master's own extension",
        ));
    }
    Ok(format!("{stem}{prefix}{true_ext}"))
}

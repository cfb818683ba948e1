//! The strict validator: the only gate between a URL/packet and a path on disk.

use super::base64;
use super::decoded::{DecodedFileId, TrunkInfo};
use super::error::FileIdError;
use super::{
    GROUP_NAME_MAX_LEN, LEGACY_FOREIGN_BITS, LOGIC_PATH_LEN, MAX_LOGIC_NAME_LEN,
    NORMAL_LOGIC_NAME_LEN, TRUNK_FLAG, TRUNK_LOGIC_NAME_LEN,
};

/// A validated file ID borrowed from the input. Every field points into the original bytes.
///
/// Layout: `[<group>/]M<XX>/<HH>/<HH>/<name>`; `<name>` = 27 base64 chars, optional 16 trunk
/// chars, then the 7-char formatted extension (normal/trunk) or the slave suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileIdRef<'a> {
    /// Group name (`None` when parsed by [`parse_logical_name`]).
    pub group: Option<&'a str>,
    /// `XX` of `MXX`: index of `store_pathN`.
    pub store_path_index: u8,
    /// First `HH` directory.
    pub sub_high: u8,
    /// Second `HH` directory.
    pub sub_low: u8,
    /// File name under `data/HH/HH/`.
    pub file_name: &'a str,
    /// `MXX/HH/HH/<name>`: what the wire protocol carries and what tokens hash.
    pub logical_name: &'a str,
}

impl<'a> FileIdRef<'a> {
    /// Decodes the 20 bytes (and trunk info) of a validated name. Never fails on a value
    /// returned by the parsers; on a hand-built value it decodes as leniently as the C client.
    pub fn decode(&self) -> DecodedFileId {
        let name = self.file_name.as_bytes();
        let raw = base64::decode27(name.get(..27).unwrap_or(&[])).unwrap_or_else(|_| {
            let mut raw = [0u8; 20];
            base64::decode_lenient(name, &mut raw);
            raw
        });
        let mut d = DecodedFileId::from_raw(raw, self.logical_name.len(), None);
        if d.file_type() == super::FileType::Trunk {
            d.trunk = name
                .get(27..43)
                .and_then(|s| base64::decode16(s).ok())
                .map(TrunkInfo::from_bytes);
        }
        d
    }

    /// `data/HH/HH/<name>`, relative to the store path.
    pub fn data_rel_path(&self) -> String {
        format!(
            "data/{:02X}/{:02X}/{}",
            self.sub_high, self.sub_low, self.file_name
        )
    }
}

/// Validates `<group>/MXX/HH/HH/<name>` (no leading slash).
pub fn parse_file_id(s: &[u8]) -> Result<FileIdRef<'_>, FileIdError> {
    let slash = s
        .iter()
        .position(|&b| b == b'/')
        .ok_or(FileIdError::MissingGroup)?;
    let group = &s[..slash];
    validate_group_name(group)?;
    let mut id = parse_logical_name(&s[slash + 1..])?;
    id.group = Some(ascii_str(group)?);
    Ok(id)
}

/// Validates a URL path as the nginx module sees it: exactly one leading `/`, then
/// `<group>/MXX/...` when `with_group` (`url_have_group_name = true`) or `MXX/...` otherwise.
/// The path must already be percent-decoded and stripped of its query string.
pub fn parse_url_path(path: &[u8], with_group: bool) -> Result<FileIdRef<'_>, FileIdError> {
    let rest = path.strip_prefix(b"/").ok_or(FileIdError::NotAbsolute)?;
    if with_group {
        parse_file_id(rest)
    } else {
        parse_logical_name(rest)
    }
}

/// Validates `MXX/HH/HH/<name>` (no group, no leading slash).
pub fn parse_logical_name(s: &[u8]) -> Result<FileIdRef<'_>, FileIdError> {
    let len = s.len();
    if !(NORMAL_LOGIC_NAME_LEN..=MAX_LOGIC_NAME_LEN).contains(&len) {
        return Err(FileIdError::BadLength(len));
    }
    if s[0] != b'M' || s[3] != b'/' {
        return Err(FileIdError::BadStorePath);
    }
    let store_path_index = upper_hex_pair(s[1], s[2]).ok_or(FileIdError::BadStorePath)?;
    if s[6] != b'/' || s[9] != b'/' {
        return Err(FileIdError::BadSubdir);
    }
    let sub_high = upper_hex_pair(s[4], s[5]).ok_or(FileIdError::BadSubdir)?;
    let sub_low = upper_hex_pair(s[7], s[8]).ok_or(FileIdError::BadSubdir)?;
    let name = &s[LOGIC_PATH_LEN..];
    validate_name(name, len)?;
    if is_sidecar_of_valid_name(name, len) {
        return Err(FileIdError::MetadataSidecar);
    }
    Ok(FileIdRef {
        group: None,
        store_path_index,
        sub_high,
        sub_low,
        file_name: ascii_str(name)?,
        logical_name: ascii_str(s)?,
    })
}

/// Group names: 1..=16 bytes of `[A-Za-z0-9]` (`fdfs_validate_group_name`).
pub fn validate_group_name(g: &[u8]) -> Result<(), FileIdError> {
    if g.is_empty() || g.len() > GROUP_NAME_MAX_LEN || !g.iter().all(u8::is_ascii_alphanumeric) {
        return Err(FileIdError::BadGroupName);
    }
    Ok(())
}

/// Characters the storage accepts in extensions and slave prefixes (`fdfs_validate_filename`).
pub const fn is_ext_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_'
}

fn validate_name(name: &[u8], logical_len: usize) -> Result<(), FileIdError> {
    let raw = base64::decode27(&name[..27]).map_err(|e| match e {
        base64::DecodeError::BadChar(i) => FileIdError::BadBase64(i),
        base64::DecodeError::NonCanonical => FileIdError::NonCanonicalBase64,
    })?;
    let size_field = u64::from_be_bytes([
        raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15],
    ]);
    // Pre-V4 names carry random noise in the flag bits; their "trunk flag" means nothing.
    let high = (size_field >> 32) as u32;
    let legacy = high >> 31 == 1 && high & LEGACY_FOREIGN_BITS != 0;
    let trunk = size_field & TRUNK_FLAG != 0 && !legacy;
    let mut tail = &name[27..];
    if trunk && logical_len >= TRUNK_LOGIC_NAME_LEN {
        // Trunk names and slaves of trunk masters both carry the 16 trunk chars.
        base64::decode16(&tail[..16]).map_err(|e| match e {
            base64::DecodeError::BadChar(i) => FileIdError::BadBase64(27 + i),
            base64::DecodeError::NonCanonical => FileIdError::NonCanonicalBase64,
        })?;
        tail = &tail[16..];
    }
    let is_plain = logical_len == NORMAL_LOGIC_NAME_LEN && !trunk;
    let is_trunk = logical_len == TRUNK_LOGIC_NAME_LEN && trunk;
    if is_plain || is_trunk {
        return validate_formatted_ext(tail);
    }
    if trunk && logical_len < TRUNK_LOGIC_NAME_LEN {
        // C clients would call this a trunk file, but no storage ever writes such a name.
        return Err(FileIdError::TrunkMismatch);
    }
    validate_slave_suffix(tail)
}

/// `ddddddd` or `d{k}.ext` with `ext` of `6-k` chars from `[A-Za-z0-9._-]`.
fn validate_formatted_ext(t: &[u8]) -> Result<(), FileIdError> {
    if t.len() != 7 {
        return Err(FileIdError::BadExtension);
    }
    let digits = t.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 7 {
        return Ok(());
    }
    let ext = &t[digits + 1..];
    if t[digits] != b'.' || ext.is_empty() || !ext.iter().all(|&c| is_ext_char(c)) {
        return Err(FileIdError::BadExtension);
    }
    if contains_dotdot(t) || t.ends_with(b".") {
        return Err(FileIdError::BadExtension);
    }
    Ok(())
}

/// Slave suffix = master's digits before its dot + prefix (1..=16) + optional `.ext` (≤ 6).
/// The parts cannot be told apart in general (prefixes may hold digits and dots), so this checks
/// what makes it safe and plausible: length, charset, no `..`, no trailing `.`.
fn validate_slave_suffix(t: &[u8]) -> Result<(), FileIdError> {
    const MAX_SUFFIX: usize = 7 + super::SLAVE_PREFIX_MAX_LEN + 7;
    if t.len() < 8 || t.len() > MAX_SUFFIX {
        return Err(FileIdError::BadSlaveSuffix);
    }
    if !t.iter().all(|&c| is_ext_char(c)) || contains_dotdot(t) || t.ends_with(b".") {
        return Err(FileIdError::BadSlaveSuffix);
    }
    Ok(())
}

/// `<valid name>-m` is that file's metadata sidecar (`FDFS_STORAGE_META_FILE_EXT_STR`); it
/// sits next to the file on disk and must never be served as a file of its own. Known cost: a
/// slave whose extension ends in `-m` (e.g. `.A-m`) has the same path as the sidecar of
/// another possible slave, so it is refused too.
fn is_sidecar_of_valid_name(name: &[u8], logical_len: usize) -> bool {
    match name.strip_suffix(b"-m") {
        Some(base) if logical_len - 2 >= NORMAL_LOGIC_NAME_LEN => {
            validate_name(base, logical_len - 2).is_ok()
        }
        _ => false,
    }
}

fn contains_dotdot(t: &[u8]) -> bool {
    t.windows(2).any(|w| w == b"..")
}

fn upper_hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn upper_hex_pair(h: u8, l: u8) -> Option<u8> {
    Some(upper_hex_digit(h)? << 4 | upper_hex_digit(l)?)
}

fn ascii_str(b: &[u8]) -> Result<&str, FileIdError> {
    // Every caller has already restricted `b` to ASCII; this cannot fail, but stays checked.
    std::str::from_utf8(b).map_err(|_| FileIdError::BadBase64(0))
}

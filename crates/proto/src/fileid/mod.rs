//! FastDFS file IDs: strict parsing, decoding and encoding.
//!
//! A file ID is `<group>/<logical name>`; the protocol carries the two parts separately.
//!
//! | part | length | content |
//! |---|---|---|
//! | group | 1..=16 | `[A-Za-z0-9]` |
//! | `MXX/` | 4 | `M` + store path index as two **uppercase** hex digits (`%02X`) |
//! | `HH/HH/` | 6 | sub-directory high and low, two uppercase hex digits each |
//! | base64 | 27 | 20 bytes (see [`DecodedFileId`]), alphabet `A-Za-z0-9-_`, no padding |
//! | trunk info | 16 | trunk files only: base64 of {id, offset, size} u32 BE ([`TrunkInfo`]) |
//! | formatted ext | 7 | `ddddddd`, or `d{6-n}` + `.` + ext of n chars (`1398.py`, `.tar.gz`) |
//! | slave suffix | 8..=30 | slaves only: master digits + prefix + `.ext` (replaces the formatted ext) |
//!
//! Logical names are 44 (normal), 60 (trunk) or longer (slave), always < 128 bytes.
//!
//! Type rules (V4+, what every stock client applies): appender if bit 58 of the size field;
//! slave if the logical name is longer than 60, or longer than 44 without the trunk bit;
//! otherwise normal (trunk when bit 59 is set). Names from V2.07–V3.x have noise in those bits;
//! [`DecodedFileId::is_legacy_pre_v4`] recognises them.
//!
//! ```
//! use fdfs_proto::fileid::{parse_file_id, FileType, Source};
//!
//! let id = parse_file_id(b"group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg")?;
//! assert_eq!((id.group, id.store_path_index, id.sub_high, id.sub_low), (Some("group1"), 0, 0, 0));
//! assert_eq!(id.data_rel_path(), "data/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg");
//! let d = id.decode();
//! assert_eq!(d.source, Source::Ipv4([121, 42, 44, 101].into()));
//! assert_eq!((d.file_type(), d.size(), d.crc32), (FileType::Normal, Some(54004), 0x879C_A0A4));
//!
//! assert!(parse_file_id(b"group1/M00/../00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg").is_err());
//! # Ok::<(), fdfs_proto::fileid::FileIdError>(())
//! ```

pub mod base64;
mod decoded;
mod encode;
mod error;
mod subdir;
mod validate;

pub use decoded::{DecodedFileId, FileType, Source, TrunkInfo};
pub use encode::{encode_raw, format_ext, logical_name, masked_size, slave_name, Crc32, SizeKind};
pub use error::FileIdError;
pub use subdir::{hash_subdir, pjw_hash};
pub use validate::{
    is_ext_char, parse_file_id, parse_logical_name, parse_url_path, validate_group_name, FileIdRef,
};

/// Longest group name (`FDFS_GROUP_NAME_MAX_LEN`).
pub const GROUP_NAME_MAX_LEN: usize = 16;
/// `MXX/HH/HH/` (`FDFS_LOGIC_FILE_PATH_LEN`).
pub const LOGIC_PATH_LEN: usize = 10;
/// Longest extension without the dot (`FDFS_FILE_EXT_NAME_MAX_LEN`).
pub const EXT_NAME_MAX_LEN: usize = 6;
/// Longest slave prefix (`FDFS_FILE_PREFIX_MAX_LEN`).
pub const SLAVE_PREFIX_MAX_LEN: usize = 16;
/// Normal logical name length (`FDFS_NORMAL_LOGIC_FILENAME_LENGTH`).
pub const NORMAL_LOGIC_NAME_LEN: usize = 44;
/// Trunk logical name length (`FDFS_TRUNK_LOGIC_FILENAME_LENGTH`).
pub const TRUNK_LOGIC_NAME_LEN: usize = 60;
/// Logical names are always shorter than 128 bytes.
pub const MAX_LOGIC_NAME_LEN: usize = 127;
/// Size-field bit 58 (`FDFS_APPENDER_FILE_SIZE`, libfastcommon `INFINITE_FILE_SIZE`).
pub const APPENDER_FLAG: u64 = 1 << 58;
/// Size-field bit 59 (`FDFS_TRUNK_FILE_MARK_SIZE`).
pub const TRUNK_FLAG: u64 = 1 << 59;
/// Largest server id; smaller non-zero source words are ids, not addresses.
pub const MAX_SERVER_ID: u32 = 0xFF_FFFF;
/// High-word bits V4+ never sets next to bit 31 (not random, not flags): pre-V4 marker.
pub const LEGACY_FOREIGN_BITS: u32 = 0x7380_0000;

#[cfg(test)]
mod tests;

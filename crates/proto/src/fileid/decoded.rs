//! The 20 bytes hidden in every file name, and what FastDFS clients conclude from them.

use std::fmt;
use std::net::Ipv4Addr;

use super::base64;
use super::{
    APPENDER_FLAG, LEGACY_FOREIGN_BITS, LOGIC_PATH_LEN, MAX_SERVER_ID, NORMAL_LOGIC_NAME_LEN,
    TRUNK_FLAG, TRUNK_LOGIC_NAME_LEN,
};

/// Who created the file (bytes 0–3 of the encoded name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Octets in dotted order.
    Ipv4(Ipv4Addr),
    /// `use_storage_id = true` with `id_type_in_filename = id`: the numeric storage id.
    ServerId(u32),
}

impl Source {
    /// Applies the C rule (`fdfs_get_server_id_type`): `v = le_u32(bytes)`, `0 < v <= 0xFFFFFF`
    /// is a server id, anything else an IPv4 address. Quirk kept on purpose: `x.y.z.0`
    /// addresses therefore decode as server ids, exactly as in stock clients.
    pub fn from_bytes(b: [u8; 4]) -> Source {
        let v = u32::from_le_bytes(b);
        if v > 0 && v <= MAX_SERVER_ID {
            Source::ServerId(v)
        } else {
            Source::Ipv4(Ipv4Addr::from(b))
        }
    }

    /// The 4 bytes as they appear in the name.
    pub fn to_bytes(self) -> [u8; 4] {
        match self {
            Source::Ipv4(ip) => ip.octets(),
            Source::ServerId(id) => id.to_le_bytes(),
        }
    }
}

impl fmt::Display for Source {
    /// Dotted IPv4, or the server id in decimal (as `storage_ids.conf` spells it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Ipv4(ip) => ip.fmt(f),
            Source::ServerId(id) => id.fmt(f),
        }
    }
}

/// File type as FastDFS V4+ clients derive it from a name (`fdfs_get_file_info_ex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// A plain upload; size and CRC come from the name.
    Normal,
    /// Appender flag (bit 58) set; size must be asked from the storage.
    Appender,
    /// Name longer than a normal (or trunk) name; size must be asked from the storage.
    Slave,
    /// A normal file stored inside a trunk file (bit 59 set). Stock tools print it as "normal".
    Trunk,
}

/// Slot of a file stored inside a trunk file (the 16 extra base64 characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrunkInfo {
    /// Trunk file id (its on-disk name is this number zero-padded to 6 digits).
    pub id: u32,
    /// Slot offset inside the trunk file (content starts 24 bytes later).
    pub offset: u32,
    /// Slot size.
    pub size: u32,
}

impl TrunkInfo {
    /// The 12 big-endian bytes that are base64-encoded into the name.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.id.to_be_bytes());
        b[4..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b
    }

    /// Inverse of [`TrunkInfo::to_bytes`].
    pub fn from_bytes(b: [u8; 12]) -> TrunkInfo {
        let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        TrunkInfo {
            id: w(0),
            offset: w(4),
            size: w(8),
        }
    }
}

/// The decoded contents of a file name.
///
/// | off | size | field | byte order |
/// |---|---|---|---|
/// | 0 | 4 | source: IPv4 octets, or server id | octets as-is / id little-endian |
/// | 4 | 4 | create timestamp (unix seconds, signed) | big-endian |
/// | 8 | 8 | masked size: `1<<63 \| rand23<<32 \| size`, flags bit 58 appender, bit 59 trunk | big-endian |
/// | 16 | 4 | CRC-32 (zlib) of the content at upload time | big-endian |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodedFileId {
    /// The 20 bytes behind the 27 base64 characters.
    pub raw: [u8; 20],
    /// Bytes 0–3.
    pub source: Source,
    /// Bytes 4–7: file mtime at upload (trunk: upload start).
    pub create_timestamp: i32,
    /// Bytes 8–15 verbatim.
    pub size_field: u64,
    /// Bytes 16–19.
    pub crc32: u32,
    /// Length of `Mxx/HH/HH/<name>`; the type rules depend on it.
    pub logical_name_len: usize,
    /// The 16-char trunk slot info, when the name carries it.
    pub trunk: Option<TrunkInfo>,
}

impl DecodedFileId {
    /// Splits 20 raw bytes into fields. `logical_name_len` is the length of `Mxx/HH/HH/<name>`.
    pub fn from_raw(raw: [u8; 20], logical_name_len: usize, trunk: Option<TrunkInfo>) -> Self {
        let source = Source::from_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let create_timestamp = i32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
        let mut s = [0u8; 8];
        s.copy_from_slice(&raw[8..16]);
        let size_field = u64::from_be_bytes(s);
        let crc32 = u32::from_be_bytes([raw[16], raw[17], raw[18], raw[19]]);
        DecodedFileId {
            raw,
            source,
            create_timestamp,
            size_field,
            crc32,
            logical_name_len,
            trunk,
        }
    }

    /// Decodes a logical name (`Mxx/HH/HH/<name>`) the way the lenient C client does:
    /// characters outside the alphabet are skipped, nothing else is checked beyond the minimum
    /// length (44). Use [`super::parse_logical_name`] for anything that comes from the network.
    pub fn from_name_lenient(logical_name: &[u8]) -> Option<Self> {
        if logical_name.len() < NORMAL_LOGIC_NAME_LEN {
            return None;
        }
        let mut raw = [0u8; 20];
        base64::decode_lenient(&logical_name[LOGIC_PATH_LEN..LOGIC_PATH_LEN + 27], &mut raw);
        Some(Self::from_raw(raw, logical_name.len(), None))
    }

    /// Bit 58 (`FDFS_APPENDER_FILE_SIZE`).
    pub fn appender_flag(&self) -> bool {
        self.size_field & APPENDER_FLAG != 0
    }

    /// Bit 59 (`FDFS_TRUNK_FILE_MARK_SIZE`).
    pub fn trunk_flag(&self) -> bool {
        self.size_field & TRUNK_FLAG != 0
    }

    /// Bit 63: set whenever the high word is a random word (every V4+ name of a file < 4 GiB).
    pub fn random_word_flag(&self) -> bool {
        self.size_field >> 63 != 0
    }

    /// The 23 random bits of the high word.
    pub fn random23(&self) -> u32 {
        ((self.size_field >> 32) as u32) & 0x7F_FFFF
    }

    /// Type under the V4+ rules every current client applies (`IS_APPENDER_FILE`, `IS_SLAVE_FILE`).
    pub fn file_type(&self) -> FileType {
        if self.appender_flag() {
            FileType::Appender
        } else if self.logical_name_len > TRUNK_LOGIC_NAME_LEN
            || (self.logical_name_len > NORMAL_LOGIC_NAME_LEN && !self.trunk_flag())
        {
            FileType::Slave
        } else if self.trunk_flag() {
            FileType::Trunk
        } else {
            FileType::Normal
        }
    }

    /// Size under the V4+ rules: `None` for appender and slave files (ask the storage),
    /// otherwise the low 32 bits if bit 63 or 59 is set, else the whole field.
    pub fn size(&self) -> Option<u64> {
        match self.file_type() {
            FileType::Appender | FileType::Slave => None,
            FileType::Normal | FileType::Trunk => {
                if self.random_word_flag() || self.trunk_flag() {
                    Some(self.size_field & 0xFFFF_FFFF)
                } else {
                    Some(self.size_field)
                }
            }
        }
    }

    /// True for names made by V2.07–V3.x: bit 63 set and random bits outside the V4 23-bit mask
    /// and the two flag bits (`high & 0x73800000 != 0`). V4+ never produces that, so for these
    /// names the appender/trunk bits are noise.
    pub fn is_legacy_pre_v4(&self) -> bool {
        let high = (self.size_field >> 32) as u32;
        self.random_word_flag() && high & LEGACY_FOREIGN_BITS != 0
    }

    /// Type with the legacy rule applied: pre-V4 normal-length names are `Normal` whatever their
    /// noise bits say. Stock clients do not do this (they ask the storage); the nginx module may,
    /// to derive Last-Modified and size without a round trip.
    pub fn file_type_legacy_aware(&self) -> FileType {
        if !self.is_legacy_pre_v4() {
            return self.file_type();
        }
        if self.logical_name_len > NORMAL_LOGIC_NAME_LEN {
            FileType::Slave
        } else {
            FileType::Normal
        }
    }

    /// Size with the legacy rule applied (pre-V4 normal names: the low 32 bits).
    pub fn size_legacy_aware(&self) -> Option<u64> {
        match self.file_type_legacy_aware() {
            FileType::Normal if self.is_legacy_pre_v4() => Some(self.size_field & 0xFFFF_FFFF),
            FileType::Appender | FileType::Slave => None,
            _ => self.size(),
        }
    }
}

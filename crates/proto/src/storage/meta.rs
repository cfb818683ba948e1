//! Metadata: 13 SET_METADATA, 15 GET_METADATA and the `0x01`/`0x02` record format.

use crate::body::{Body, BodyError, IpWidth};
use crate::wire::{put_fixed, put_u64, Reader, GROUP};

/// Separates records.
pub const RECORD_SEPARATOR: u8 = 0x01;
/// Separates a name from its value.
pub const FIELD_SEPARATOR: u8 = 0x02;
/// Longest name the C side keeps (`FDFS_MAX_META_NAME_LEN`).
pub const MAX_NAME_LEN: usize = 64;
/// Longest value the C side keeps (`FDFS_MAX_META_VALUE_LEN`).
pub const MAX_VALUE_LEN: usize = 256;

/// One metadata item. Bytes, not text: FastDFS stores whatever the client sent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MetaItem {
    /// Name (≤ 64 bytes, no 0x00/0x01/0x02).
    pub name: Vec<u8>,
    /// Value (≤ 256 bytes, no 0x00/0x01/0x02).
    pub value: Vec<u8>,
}

impl MetaItem {
    /// Convenience constructor.
    pub fn new(name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        MetaItem {
            name: name.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
        }
    }
}

/// A metadata list: `name 0x02 value` records joined by `0x01`, no trailing separator.
///
/// | part | bytes |
/// |---|---|
/// | record | name (≤ 64) · `0x02` · value (≤ 256) |
/// | list | record · (`0x01` · record)* — empty body = no records |
///
/// It is both the SET payload and the whole GET_METADATA response body (also the `-m`
/// sidecar file content, where the storage keeps records sorted by name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata(pub Vec<MetaItem>);

impl Metadata {
    /// Records sorted by name, as the storage writes them.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| a.name.cmp(&b.name));
        self
    }

    /// 'M' semantics: items of `other` replace same-named items, new names are added.
    pub fn merge(&mut self, other: Metadata) {
        for item in other.0 {
            match self.0.iter_mut().find(|i| i.name == item.name) {
                Some(i) => i.value = item.value,
                None => self.0.push(item),
            }
        }
    }

    /// Appends the packed bytes.
    pub fn pack(&self, out: &mut Vec<u8>) {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(RECORD_SEPARATOR);
            }
            out.extend_from_slice(&m.name);
            out.push(FIELD_SEPARATOR);
            out.extend_from_slice(&m.value);
        }
    }

    /// Packed length.
    pub fn packed_len(&self) -> usize {
        self.0
            .iter()
            .map(|m| m.name.len() + m.value.len() + 1)
            .sum::<usize>()
            + self.0.len().saturating_sub(1)
    }

    /// Parses packed bytes. Unlike the C code (which silently skips records without `0x02` and
    /// truncates long names/values), malformed input is an error.
    pub fn parse(b: &[u8]) -> Result<Metadata, BodyError> {
        const MSG: &str = "metadata";
        if b.is_empty() {
            return Ok(Metadata::default());
        }
        if b.contains(&0) {
            return Err(BodyError::field(MSG, "meta_data", "contains NUL"));
        }
        b.split(|&c| c == RECORD_SEPARATOR)
            .map(|rec| {
                let sep = rec
                    .iter()
                    .position(|&c| c == FIELD_SEPARATOR)
                    .ok_or(BodyError::field(MSG, "record", "no 0x02 separator"))?;
                let (name, value) = (&rec[..sep], &rec[sep + 1..]);
                if value.contains(&FIELD_SEPARATOR) {
                    return Err(BodyError::field(MSG, "value", "contains 0x02"));
                }
                if name.len() > MAX_NAME_LEN {
                    return Err(BodyError::field(MSG, "name", "longer than 64 bytes"));
                }
                if value.len() > MAX_VALUE_LEN {
                    return Err(BodyError::field(MSG, "value", "longer than 256 bytes"));
                }
                Ok(MetaItem::new(name, value))
            })
            .collect::<Result<_, _>>()
            .map(Metadata)
    }
}

impl Body for Metadata {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        self.pack(out);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        Metadata::parse(body)
    }
}

/// SET_METADATA mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetaOp {
    /// `O`: replace all metadata.
    #[default]
    Overwrite,
    /// `M`: update named items, add new ones.
    Merge,
}

impl MetaOp {
    /// Wire byte.
    pub const fn byte(self) -> u8 {
        match self {
            MetaOp::Overwrite => b'O',
            MetaOp::Merge => b'M',
        }
    }
}

/// Request 13 (header-only response; ENOENT if the file is missing).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 8 | filename_len (22..=127) |
/// | 8 | 8 | meta_len |
/// | 16 | 1 | op flag `O` / `M` |
/// | 17 | 16 | group name |
/// | 33 | filename_len | logical name |
/// | 33+filename_len | meta_len | [`Metadata`] bytes |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetMetadataRequest {
    /// Overwrite or merge.
    pub op: MetaOp,
    /// Group.
    pub group: String,
    /// Logical name.
    pub file_name: String,
    /// Items.
    pub metadata: Metadata,
}

impl Body for SetMetadataRequest {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_u64(out, self.file_name.len() as u64);
        put_u64(out, self.metadata.packed_len() as u64);
        out.push(self.op.byte());
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.file_name.as_bytes());
        self.metadata.pack(out);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "set metadata";
        const FIXED: usize = 8 + 8 + 1 + GROUP;
        let mut r = Reader::new(body, MSG);
        let name_len = r.name_len("filename_len")?;
        let meta_len = r.len_field("meta_len", body.len())?;
        if body.len() != FIXED + name_len + meta_len {
            return Err(BodyError::len(
                MSG,
                body.len(),
                format!("{} (33 + name + meta)", FIXED + name_len + meta_len),
            ));
        }
        let op = match r.u8("op_flag")? {
            b'O' => MetaOp::Overwrite,
            b'M' => MetaOp::Merge,
            _ => return Err(BodyError::field(MSG, "op_flag", "must be 'O' or 'M'")),
        };
        let group = r.fixed_str("group_name", GROUP)?;
        let file_name = r.str_n("remote_filename", name_len)?;
        let metadata = Metadata::parse(r.rest())?;
        Ok(SetMetadataRequest {
            op,
            group,
            file_name,
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_and_ops() {
        let m = Metadata(vec![
            MetaItem::new("width", "160"),
            MetaItem::new("author", "vectors"),
        ]);
        let mut b = Vec::new();
        m.pack(&mut b);
        assert_eq!(b, b"width\x02160\x01author\x02vectors");
        assert_eq!(m.packed_len(), b.len());
        assert_eq!(Metadata::parse(&b).unwrap(), m);
        let mut sorted = m.clone().sorted();
        assert_eq!(sorted.0[0].name, b"author");
        sorted.merge(Metadata(vec![
            MetaItem::new("width", "1024"),
            MetaItem::new("height", "80"),
        ]));
        let names: Vec<_> = sorted
            .clone()
            .sorted()
            .0
            .into_iter()
            .map(|i| (i.name, i.value))
            .collect();
        assert_eq!(
            names,
            vec![
                (b"author".to_vec(), b"vectors".to_vec()),
                (b"height".to_vec(), b"80".to_vec()),
                (b"width".to_vec(), b"1024".to_vec())
            ]
        );
        assert_eq!(MetaOp::Overwrite.byte(), b'O');
        assert_eq!(MetaOp::Merge.byte(), b'M');
    }

    #[test]
    fn malformed_metadata_is_refused() {
        assert_eq!(Metadata::parse(b"").unwrap(), Metadata::default());
        for bad in [
            &b"noseparator"[..],
            b"a\x02b\x01",
            b"a\x02b\x02c",
            b"a\x00\x02b",
        ] {
            assert!(Metadata::parse(bad).is_err(), "{bad:?}");
        }
        let long_name = [b'n'; 65];
        let mut rec = long_name.to_vec();
        rec.extend_from_slice(b"\x02v");
        assert!(Metadata::parse(&rec).is_err());
        let mut rec = b"n\x02".to_vec();
        rec.extend_from_slice(&[b'v'; 257]);
        assert!(Metadata::parse(&rec).is_err());
    }

    #[test]
    fn set_metadata_lengths_must_add_up() {
        let req = SetMetadataRequest {
            op: MetaOp::Merge,
            group: "group1".into(),
            file_name: "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg".into(),
            metadata: Metadata(vec![MetaItem::new("a", "b")]),
        };
        let mut b = req.to_bytes(IpWidth::V4);
        assert_eq!(SetMetadataRequest::decode(&b).unwrap(), req);
        b.push(b'x');
        assert!(SetMetadataRequest::decode(&b).is_err());
        b.pop();
        b[16] = b'X';
        assert!(SetMetadataRequest::decode(&b).is_err());
    }
}

//! 26 FETCH_ONE_PATH_BINLOG: a recovering storage asks a group peer for the binlog records of
//! one store path; the response body is binlog text (`<ts> <op> <name>[ <extra>]\n` lines).

use crate::body::{Body, BodyError, IpWidth};
use crate::wire::{put_fixed, Reader, GROUP};

/// Request 26.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | group name |
/// | 16 | 1 | store path index |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchPathBinlog {
    /// Group.
    pub group: String,
    /// Store path whose records are wanted.
    pub store_path_index: u8,
}

impl Body for FetchPathBinlog {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP);
        out.push(self.store_path_index);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "fetch one path binlog";
        if body.len() != GROUP + 1 {
            return Err(BodyError::len(MSG, body.len(), "17"));
        }
        let mut r = Reader::new(body, MSG);
        Ok(FetchPathBinlog {
            group: r.fixed_str("group_name", GROUP)?,
            store_path_index: r.u8("store_path_index")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let f = FetchPathBinlog {
            group: "group1".into(),
            store_path_index: 3,
        };
        let b = f.to_bytes(IpWidth::V4);
        assert_eq!(b.len(), 17);
        assert_eq!(FetchPathBinlog::decode(&b).unwrap(), f);
        assert!(FetchPathBinlog::decode(&b[..16]).is_err());
    }
}

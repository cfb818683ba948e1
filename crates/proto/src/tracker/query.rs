//! Query responses: where to upload (101/104/106/107), where to download or update (102/103/105).

use crate::body::{Body, BodyError, IpWidth};
use crate::common::ServerAddr;
use crate::wire::{put_fixed, Reader, GROUP};

/// Response to 101 / 104: one upload target.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | group name |
/// | 16 | S-1 | storage IP (S = 16 or 46) |
/// | 15+S | 8 | storage port |
/// | 23+S | 1 | store path index |
///
/// 40 bytes (S = 16) or 70 (S = 46); the decoder accepts both, like the C client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreTarget {
    /// Group to upload into.
    pub group: String,
    /// Storage to connect to.
    pub server: ServerAddr,
    /// Store path to put in the UPLOAD request (`0xFF` = let the storage choose).
    pub store_path_index: u8,
}

impl Body for StoreTarget {
    fn encode(&self, ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP);
        self.server.put(ip, out);
        out.push(self.store_path_index);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "query store response";
        let ip = width_by_exact_len(body.len(), GROUP + 1)
            .ok_or_else(|| BodyError::len(MSG, body.len(), "40 or 70"))?;
        let mut r = Reader::new(body, MSG);
        let group = r.fixed_str("group_name", GROUP)?;
        let server = ServerAddr::read(&mut r, ip)?;
        let store_path_index = r.u8("store_path_index")?;
        r.finish()?;
        Ok(StoreTarget {
            group,
            server,
            store_path_index,
        })
    }
}

/// Response to 106 / 107: every writable storage of the chosen group.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | group name |
/// | 16 | n × (S-1+8) | n × {IP (S-1), port (8)} |
/// | end-1 | 1 | store path index |
///
/// Width is inferred as the C client does: `(len - 17)` divisible by 23 ⇒ S = 16, else by 53;
/// at most 32 servers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreTargets {
    /// Group to upload into.
    pub group: String,
    /// Writable storages, n ≥ 1.
    pub servers: Vec<ServerAddr>,
    /// Store path index.
    pub store_path_index: u8,
}

impl Body for StoreTargets {
    fn encode(&self, ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP);
        for s in &self.servers {
            s.put(ip, out);
        }
        out.push(self.store_path_index);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "query store-all response";
        let (ip, n) = width_by_records(body.len(), GROUP + 1)
            .ok_or_else(|| BodyError::len(MSG, body.len(), "17 + n×23 or 17 + n×53, 1 ≤ n ≤ 32"))?;
        let mut r = Reader::new(body, MSG);
        let group = r.fixed_str("group_name", GROUP)?;
        let servers = (0..n)
            .map(|_| ServerAddr::read(&mut r, ip))
            .collect::<Result<_, _>>()?;
        let store_path_index = r.u8("store_path_index")?;
        r.finish()?;
        Ok(StoreTargets {
            group,
            servers,
            store_path_index,
        })
    }
}

/// Response to 102 / 103 / 105: storages holding the file.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | group name |
/// | 16 | n × (S-1+8) | n × {IP (S-1), port (8)}; n = 1 for 102/103 (39 or 69 bytes) |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchTargets {
    /// Group of the file.
    pub group: String,
    /// Storages, n ≥ 1.
    pub servers: Vec<ServerAddr>,
}

impl Body for FetchTargets {
    fn encode(&self, ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP);
        for s in &self.servers {
            s.put(ip, out);
        }
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "query fetch response";
        let (ip, n) = width_by_records(body.len(), GROUP)
            .ok_or_else(|| BodyError::len(MSG, body.len(), "16 + n×23 or 16 + n×53, 1 ≤ n ≤ 32"))?;
        let mut r = Reader::new(body, MSG);
        let group = r.fixed_str("group_name", GROUP)?;
        let servers = (0..n)
            .map(|_| ServerAddr::read(&mut r, ip))
            .collect::<Result<_, _>>()?;
        r.finish()?;
        Ok(FetchTargets { group, servers })
    }
}

impl FetchTargets {
    /// Decodes a 102/103 response, which must name exactly one storage.
    pub fn decode_one(body: &[u8]) -> Result<(String, ServerAddr), BodyError> {
        let mut t = Self::decode(body)?;
        match t.servers.pop() {
            Some(s) if t.servers.is_empty() => Ok((t.group, s)),
            _ => Err(BodyError::len(
                "query fetch-one response",
                body.len(),
                "39 or 69",
            )),
        }
    }
}

/// `len == fixed + (S-1+8)` for exactly one server.
fn width_by_exact_len(len: usize, fixed: usize) -> Option<IpWidth> {
    IpWidth::ALL
        .into_iter()
        .find(|&w| len == fixed + ServerAddr::wire_len(w))
}

/// Most storages a group can have (`FDFS_MAX_SERVERS_EACH_GROUP`).
pub const MAX_SERVERS_PER_GROUP: usize = 32;

/// `len == fixed + n × (S-1+8)` with 1 ≤ n ≤ 32, narrow width first as in the C client.
/// The cap is what makes the two widths unambiguous: 23 wide records have the length of 53
/// narrow ones, which no group can have.
fn width_by_records(len: usize, fixed: usize) -> Option<(IpWidth, usize)> {
    let rest = len.checked_sub(fixed)?;
    IpWidth::ALL.into_iter().find_map(|w| {
        let rec = ServerAddr::wire_len(w);
        let n = rest / rec;
        (rest.is_multiple_of(rec) && (1..=MAX_SERVERS_PER_GROUP).contains(&n)).then_some((w, n))
    })
}

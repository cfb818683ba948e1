//! Bodies shared by many commands.

use crate::body::{Body, BodyError, IpWidth};
use crate::wire::{put_fixed, put_u64, Reader, GROUP, ID, NAME_MAX, NAME_MIN};

/// An empty body: requests 101, 106, 91, 75, 87, 111, 82; every header-only response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl Body for Empty {
    fn encode(&self, _ip: IpWidth, _out: &mut Vec<u8>) {}

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        if !body.is_empty() {
            return Err(BodyError::len("empty body", body.len(), "0"));
        }
        Ok(Empty)
    }
}

/// A group name alone: requests 104, 107 (query store with group), 90 (list one group),
/// 108 (delete group).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | group name, NUL-padded |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupName {
    /// Group name (≤ 16 bytes).
    pub group: String,
}

impl Body for GroupName {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        if body.len() != GROUP {
            return Err(BodyError::len("group name", body.len(), "16"));
        }
        let group = Reader::new(body, "group name").fixed_str("group_name", GROUP)?;
        Ok(GroupName { group })
    }
}

/// A storage id alone: request 9 (REPORT_SERVER_ID, storage → storage before syncing).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | storage id, NUL-padded |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerId {
    /// Storage id (or IP when ids are not used).
    pub id: String,
}

impl Body for ServerId {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.id, ID);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        if body.len() != ID {
            return Err(BodyError::len("server id", body.len(), "16"));
        }
        let id = Reader::new(body, "server id").fixed_str("storage_id", ID)?;
        Ok(ServerId { id })
    }
}

/// Group + logical file name: requests 102, 103, 105 (tracker queries), 12 (delete),
/// 15 (get metadata), 22 (query file info; flags travel in the header status byte).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | group name, NUL-padded |
/// | 16 | n | logical name `Mxx/HH/HH/<name>`, 22 ≤ n < 128, no NUL |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileRef {
    /// Group name.
    pub group: String,
    /// Logical name (no group).
    pub file_name: String,
}

impl Body for FileRef {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP);
        out.extend_from_slice(self.file_name.as_bytes());
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "group + file name";
        if body.len() < GROUP + NAME_MIN || body.len() >= GROUP + NAME_MAX {
            return Err(BodyError::len(MSG, body.len(), "38..=143 (16 + name)"));
        }
        let mut r = Reader::new(body, MSG);
        let group = r.fixed_str("group_name", GROUP)?;
        let file_name = r.str_n("remote_filename", body.len() - GROUP)?;
        Ok(FileRef { group, file_name })
    }
}

/// A storage address as tracker responses carry it.
///
/// | size | field |
/// |---|---|
/// | S-1 | IP text, NUL-padded (S = 16 or 46, [`IpWidth`]) |
/// | 8 | port (u64 BE) |
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ServerAddr {
    /// IP address text.
    pub ip: String,
    /// TCP port.
    pub port: u16,
}

impl ServerAddr {
    /// Encoded size for an IP width.
    pub const fn wire_len(ip: IpWidth) -> usize {
        ip.size() - 1 + 8
    }

    pub(crate) fn put(&self, ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.ip, ip.size() - 1);
        put_u64(out, u64::from(self.port));
    }

    pub(crate) fn read(r: &mut Reader<'_>, ip: IpWidth) -> Result<Self, BodyError> {
        let ip_text = r.fixed_str("ip_addr", ip.size() - 1)?;
        let port = r.port("port")?;
        Ok(ServerAddr { ip: ip_text, port })
    }
}

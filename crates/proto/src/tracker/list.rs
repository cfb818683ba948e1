//! Admin listings: group stats (90/91) and storage stats (92), FastDFS ≥ 6.13.1 layouts.

use crate::body::{Body, BodyError, IpWidth};
use crate::tracker::stat::StatBlock;
use crate::wire::{put_fixed, put_i64, Reader, GROUP, ID};

/// Version string field (`FDFS_VERSION_SIZE`, 8 since 6.12).
pub const VERSION_LEN: usize = 8;

/// One group's stats (`TrackerGroupStat`, 113 bytes). 91 answers a concatenation, 90 one record.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 17 | group name, NUL-padded |
/// | 17 | 8 | total_mb |
/// | 25 | 8 | free_mb (minimum over writable members) |
/// | 33 | 8 | reserved_mb |
/// | 41 | 8 | trunk_free_mb |
/// | 49 | 8 | storage_count |
/// | 57 | 8 | storage_port |
/// | 65 | 8 | readable_server_count |
/// | 73 | 8 | writable_server_count |
/// | 81 | 8 | current_write_server |
/// | 89 | 8 | store_path_count |
/// | 97 | 8 | subdir_count_per_path |
/// | 105 | 8 | current_trunk_file_id (-1 when trunk is off) |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct GroupStat {
    pub group: String,
    pub total_mb: i64,
    pub free_mb: i64,
    pub reserved_mb: i64,
    pub trunk_free_mb: i64,
    pub storage_count: i64,
    pub storage_port: i64,
    pub readable_server_count: i64,
    pub writable_server_count: i64,
    pub current_write_server: i64,
    pub store_path_count: i64,
    pub subdir_count_per_path: i64,
    pub current_trunk_file_id: i64,
}

impl GroupStat {
    /// Record size.
    pub const LEN: usize = 17 + 12 * 8;

    fn put(&self, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP + 1);
        for v in [
            self.total_mb,
            self.free_mb,
            self.reserved_mb,
            self.trunk_free_mb,
            self.storage_count,
            self.storage_port,
            self.readable_server_count,
            self.writable_server_count,
            self.current_write_server,
            self.store_path_count,
            self.subdir_count_per_path,
            self.current_trunk_file_id,
        ] {
            put_i64(out, v);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(GroupStat {
            group: r.fixed_str("group_name", GROUP + 1)?,
            total_mb: r.i64("total_mb")?,
            free_mb: r.i64("free_mb")?,
            reserved_mb: r.i64("reserved_mb")?,
            trunk_free_mb: r.i64("trunk_free_mb")?,
            storage_count: r.i64("storage_count")?,
            storage_port: r.i64("storage_port")?,
            readable_server_count: r.i64("readable_server_count")?,
            writable_server_count: r.i64("writable_server_count")?,
            current_write_server: r.i64("current_write_server")?,
            store_path_count: r.i64("store_path_count")?,
            subdir_count_per_path: r.i64("subdir_count_per_path")?,
            current_trunk_file_id: r.i64("current_trunk_file_id")?,
        })
    }
}

impl Body for GroupStat {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        self.put(out);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        if body.len() != Self::LEN {
            return Err(BodyError::len("group stat", body.len(), "113"));
        }
        Self::read(&mut Reader::new(body, "group stat"))
    }
}

/// Response to 91: n × [`GroupStat`] (n may be 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupStats(pub Vec<GroupStat>);

impl Body for GroupStats {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        self.0.iter().for_each(|g| g.put(out));
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "list groups response";
        if !body.len().is_multiple_of(GroupStat::LEN) {
            return Err(BodyError::len(MSG, body.len(), "a multiple of 113"));
        }
        let mut r = Reader::new(body, MSG);
        let n = body.len() / GroupStat::LEN;
        Ok(GroupStats(
            (0..n)
                .map(|_| GroupStat::read(&mut r))
                .collect::<Result<_, _>>()?,
        ))
    }
}

/// Request 92: a group and optionally one storage id.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 16 | group name |
/// | 16 | 0..=15 | storage id (unpadded; absent = all storages) |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListStorages {
    /// Group.
    pub group: String,
    /// Only this storage.
    pub storage_id: Option<String>,
}

impl Body for ListStorages {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP);
        if let Some(id) = &self.storage_id {
            let n = id.len().min(ID - 1);
            out.extend_from_slice(&id.as_bytes()[..n]);
        }
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "list storages request";
        if body.len() < GROUP || body.len() >= GROUP + ID {
            return Err(BodyError::len(MSG, body.len(), "16..=31"));
        }
        let mut r = Reader::new(body, MSG);
        let group = r.fixed_str("group_name", GROUP)?;
        let rest = r.remaining();
        let storage_id = if rest == 0 {
            None
        } else {
            Some(r.str_n("storage_id", rest)?)
        };
        Ok(ListStorages { group, storage_id })
    }
}

/// One storage's record in the 92 response (`TrackerStorageStatIPv4/IPv6`).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 1 | status (0 INIT … 7 ACTIVE, 9 RECOVERY, 99 NONE) |
/// | 1 | 1 | rw_mode (0 none, 2 write, 4 read, 6 both) |
/// | 2 | 16 | id |
/// | 18 | S | ip_addr (S = 16 or 46) |
/// | 18+S | 16 | src_id |
/// | 34+S | 8 | version |
/// | 42+S | 10 × 8 | join_time, up_time, total_mb, free_mb, reserved_mb, upload_priority, store_path_count, subdir_count_per_path, current_write_path, storage_port |
/// | 122+S | 348 | [`StatBlock`] |
/// | 470+S | 1 | if_trunk_server |
///
/// 487 bytes (S = 16) or 517 (S = 46).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct StorageStat {
    pub status: u8,
    pub rw_mode: u8,
    pub id: String,
    pub ip_addr: String,
    pub src_id: String,
    pub version: String,
    pub join_time: i64,
    pub up_time: i64,
    pub total_mb: i64,
    pub free_mb: i64,
    pub reserved_mb: i64,
    pub upload_priority: i64,
    pub store_path_count: i64,
    pub subdir_count_per_path: i64,
    pub current_write_path: i64,
    pub storage_port: i64,
    pub stat: StatBlock,
    pub if_trunk_server: u8,
}

impl StorageStat {
    /// Record size for an IP width.
    pub const fn len(ip: IpWidth) -> usize {
        2 + ID + ip.size() + ID + VERSION_LEN + 10 * 8 + StatBlock::LEN + 1
    }

    fn put(&self, ip: IpWidth, out: &mut Vec<u8>) {
        out.push(self.status);
        out.push(self.rw_mode);
        put_fixed(out, &self.id, ID);
        put_fixed(out, &self.ip_addr, ip.size());
        put_fixed(out, &self.src_id, ID);
        put_fixed(out, &self.version, VERSION_LEN);
        for v in [
            self.join_time,
            self.up_time,
            self.total_mb,
            self.free_mb,
            self.reserved_mb,
            self.upload_priority,
            self.store_path_count,
            self.subdir_count_per_path,
            self.current_write_path,
            self.storage_port,
        ] {
            put_i64(out, v);
        }
        self.stat.put(out);
        out.push(self.if_trunk_server);
    }

    fn read(r: &mut Reader<'_>, ip: IpWidth) -> Result<Self, BodyError> {
        Ok(StorageStat {
            status: r.u8("status")?,
            rw_mode: r.u8("rw_mode")?,
            id: r.fixed_str("id", ID)?,
            ip_addr: r.fixed_str("ip_addr", ip.size())?,
            src_id: r.fixed_str("src_id", ID)?,
            version: r.fixed_str("version", VERSION_LEN)?,
            join_time: r.i64("join_time")?,
            up_time: r.i64("up_time")?,
            total_mb: r.i64("total_mb")?,
            free_mb: r.i64("free_mb")?,
            reserved_mb: r.i64("reserved_mb")?,
            upload_priority: r.i64("upload_priority")?,
            store_path_count: r.i64("store_path_count")?,
            subdir_count_per_path: r.i64("subdir_count_per_path")?,
            current_write_path: r.i64("current_write_path")?,
            storage_port: r.i64("storage_port")?,
            stat: StatBlock::read(r)?,
            if_trunk_server: r.u8("if_trunk_server")?,
        })
    }
}

/// Response to 92: n × [`StorageStat`]; the width is whichever record size divides the body
/// (487 first, as the C client checks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageStats(pub Vec<StorageStat>);

impl Body for StorageStats {
    fn encode(&self, ip: IpWidth, out: &mut Vec<u8>) {
        self.0.iter().for_each(|s| s.put(ip, out));
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "list storages response";
        let ip = IpWidth::ALL
            .into_iter()
            .find(|&w| body.len().is_multiple_of(StorageStat::len(w)))
            .ok_or_else(|| BodyError::len(MSG, body.len(), "a multiple of 487 or 517"))?;
        let n = body.len() / StorageStat::len(ip);
        let mut r = Reader::new(body, MSG);
        Ok(StorageStats(
            (0..n)
                .map(|_| StorageStat::read(&mut r, ip))
                .collect::<Result<_, _>>()?,
        ))
    }
}

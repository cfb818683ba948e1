//! Era-A listings (FastDFS ≤ 6.10, and what `fdfs-client-py3` still expects): group stats of
//! 105 bytes and storage stats of 612 bytes. A tracker picks these or the HEAD layouts
//! ([`super::GroupStat`], [`super::StorageStat`]) per deployment; the lengths never collide for
//! realistic counts, but the protocol carries no version, so the choice is explicit.

use crate::body::{Body, BodyError, IpWidth};
use crate::tracker::stat::StatBlock;
use crate::wire::{put_fixed, put_i64, Reader, GROUP, ID};

/// Version field before 6.12.
pub const VERSION_LEN_V5: usize = 6;
/// `FDFS_DOMAIN_NAME_MAX_SIZE`.
pub const DOMAIN_LEN: usize = 128;

/// Era-A group stats (105 bytes, `V5.05:tracker/tracker_proto.h:147-161`).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 17 | group name |
/// | 17 | 11 × 8 | total_mb, free_mb, trunk_free_mb, storage_count, storage_port, storage_http_port, active_count, current_write_server, store_path_count, subdir_count_per_path, current_trunk_file_id |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct GroupStatV5 {
    pub group: String,
    pub total_mb: i64,
    pub free_mb: i64,
    pub trunk_free_mb: i64,
    pub storage_count: i64,
    pub storage_port: i64,
    pub storage_http_port: i64,
    pub active_count: i64,
    pub current_write_server: i64,
    pub store_path_count: i64,
    pub subdir_count_per_path: i64,
    pub current_trunk_file_id: i64,
}

impl GroupStatV5 {
    /// Record size.
    pub const LEN: usize = GROUP + 1 + 11 * 8;

    fn put(&self, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP + 1);
        for v in [
            self.total_mb,
            self.free_mb,
            self.trunk_free_mb,
            self.storage_count,
            self.storage_port,
            self.storage_http_port,
            self.active_count,
            self.current_write_server,
            self.store_path_count,
            self.subdir_count_per_path,
            self.current_trunk_file_id,
        ] {
            put_i64(out, v);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(GroupStatV5 {
            group: r.fixed_str("group_name", GROUP + 1)?,
            total_mb: r.i64("total_mb")?,
            free_mb: r.i64("free_mb")?,
            trunk_free_mb: r.i64("trunk_free_mb")?,
            storage_count: r.i64("storage_count")?,
            storage_port: r.i64("storage_port")?,
            storage_http_port: r.i64("storage_http_port")?,
            active_count: r.i64("active_count")?,
            current_write_server: r.i64("current_write_server")?,
            store_path_count: r.i64("store_path_count")?,
            subdir_count_per_path: r.i64("subdir_count_per_path")?,
            current_trunk_file_id: r.i64("current_trunk_file_id")?,
        })
    }
}

/// Era-A response to 91 / 90: n × [`GroupStatV5`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupStatsV5(pub Vec<GroupStatV5>);

impl Body for GroupStatsV5 {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        self.0.iter().for_each(|g| g.put(out));
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "list groups response (era A)";
        if !body.len().is_multiple_of(GroupStatV5::LEN) {
            return Err(BodyError::len(MSG, body.len(), "a multiple of 105"));
        }
        let mut r = Reader::new(body, MSG);
        let n = body.len() / GroupStatV5::LEN;
        Ok(GroupStatsV5(
            (0..n)
                .map(|_| GroupStatV5::read(&mut r))
                .collect::<Result<_, _>>()?,
        ))
    }
}

/// Era-A storage stats (612 bytes, `V5.05:tracker/tracker_proto.h:163-183`).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 1 | status |
/// | 1 | 16 | id |
/// | 17 | 16 | ip_addr |
/// | 33 | 128 | domain_name |
/// | 161 | 16 | src_id |
/// | 177 | 6 | version |
/// | 183 | 10 × 8 | join_time, up_time, total_mb, free_mb, upload_priority, store_path_count, subdir_count_per_path, current_write_path, storage_port, storage_http_port |
/// | 263 | 348 | [`StatBlock`] |
/// | 611 | 1 | if_trunk_server |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct StorageStatV5 {
    pub status: u8,
    pub id: String,
    pub ip_addr: String,
    pub domain_name: String,
    pub src_id: String,
    pub version: String,
    pub join_time: i64,
    pub up_time: i64,
    pub total_mb: i64,
    pub free_mb: i64,
    pub upload_priority: i64,
    pub store_path_count: i64,
    pub subdir_count_per_path: i64,
    pub current_write_path: i64,
    pub storage_port: i64,
    pub storage_http_port: i64,
    pub stat: StatBlock,
    pub if_trunk_server: u8,
}

impl StorageStatV5 {
    /// Record size.
    pub const LEN: usize =
        1 + ID + 16 + DOMAIN_LEN + ID + VERSION_LEN_V5 + 10 * 8 + StatBlock::LEN + 1;

    fn put(&self, out: &mut Vec<u8>) {
        out.push(self.status);
        put_fixed(out, &self.id, ID);
        put_fixed(out, &self.ip_addr, 16);
        put_fixed(out, &self.domain_name, DOMAIN_LEN);
        put_fixed(out, &self.src_id, ID);
        put_fixed(out, &self.version, VERSION_LEN_V5);
        for v in [
            self.join_time,
            self.up_time,
            self.total_mb,
            self.free_mb,
            self.upload_priority,
            self.store_path_count,
            self.subdir_count_per_path,
            self.current_write_path,
            self.storage_port,
            self.storage_http_port,
        ] {
            put_i64(out, v);
        }
        self.stat.put(out);
        out.push(self.if_trunk_server);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(StorageStatV5 {
            status: r.u8("status")?,
            id: r.fixed_str("id", ID)?,
            ip_addr: r.fixed_str("ip_addr", 16)?,
            domain_name: r.fixed_str("domain_name", DOMAIN_LEN)?,
            src_id: r.fixed_str("src_id", ID)?,
            version: r.fixed_str("version", VERSION_LEN_V5)?,
            join_time: r.i64("join_time")?,
            up_time: r.i64("up_time")?,
            total_mb: r.i64("total_mb")?,
            free_mb: r.i64("free_mb")?,
            upload_priority: r.i64("upload_priority")?,
            store_path_count: r.i64("store_path_count")?,
            subdir_count_per_path: r.i64("subdir_count_per_path")?,
            current_write_path: r.i64("current_write_path")?,
            storage_port: r.i64("storage_port")?,
            storage_http_port: r.i64("storage_http_port")?,
            stat: StatBlock::read(r)?,
            if_trunk_server: r.u8("if_trunk_server")?,
        })
    }
}

/// Era-A response to 92: n × [`StorageStatV5`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageStatsV5(pub Vec<StorageStatV5>);

impl Body for StorageStatsV5 {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        self.0.iter().for_each(|s| s.put(out));
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "list storages response (era A)";
        if !body.len().is_multiple_of(StorageStatV5::LEN) {
            return Err(BodyError::len(MSG, body.len(), "a multiple of 612"));
        }
        let mut r = Reader::new(body, MSG);
        let n = body.len() / StorageStatV5::LEN;
        Ok(StorageStatsV5(
            (0..n)
                .map(|_| StorageStatV5::read(&mut r))
                .collect::<Result<_, _>>()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sizes_match_v5() {
        assert_eq!(GroupStatV5::LEN, 105);
        assert_eq!(StorageStatV5::LEN, 612);
        let s = StorageStatsV5(vec![StorageStatV5::default(); 2]);
        assert_eq!(s.to_bytes(IpWidth::V4).len(), 1224);
        assert_eq!(StorageStatsV5::decode(&s.to_bytes(IpWidth::V4)).unwrap(), s);
        let g = GroupStatsV5(vec![GroupStatV5 {
            group: "group1".into(),
            current_trunk_file_id: -1,
            ..Default::default()
        }]);
        assert_eq!(GroupStatsV5::decode(&g.to_bytes(IpWidth::V4)).unwrap(), g);
    }
}

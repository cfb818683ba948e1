//! Storage ↔ tracker membership: JOIN (81), BEAT (83), REPORT_DISK_USAGE (84), their
//! responses, and PARAMETER_REQ (75).

use crate::body::{Body, BodyError, IpWidth};
use crate::tracker::list::VERSION_LEN;
use crate::tracker::stat::StatBlock;
use crate::wire::{put_fixed, put_i64, put_u32, Reader, GROUP, ID};

/// IP field inside JOIN and the storage briefs: libfastcommon's `IP_ADDRESS_SIZE` (46), not the
/// response-width setting.
pub const MEMBER_IP_LEN: usize = 46;
/// Most trackers a storage may list (`FDFS_MAX_TRACKERS`).
pub const MAX_TRACKERS: usize = 16;
/// Longest tracker line (`FDFS_MAX_MULTI_IP_PORT_SIZE`).
pub const MAX_TRACKER_LINE: usize = 2 * MEMBER_IP_LEN + 8;

/// Request 81: a storage joins (HEAD layout, 145 bytes + tracker lines).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 17 | group name |
/// | 17 | 8 | storage_port |
/// | 25 | 8 | store_path_count (1..=256) |
/// | 33 | 8 | subdir_count_per_path (1..=256) |
/// | 41 | 8 | upload_priority |
/// | 49 | 8 | join_time |
/// | 57 | 8 | up_time |
/// | 65 | 8 | version text |
/// | 73 | 1 | init_flag (1 while "sync old" is not done) |
/// | 74 | 1 | status (signed; -1 unknown) |
/// | 75 | 16 | storage_id (with `use_storage_id`) |
/// | 91 | 46 | current_tracker_ip |
/// | 137 | 8 | tracker_count (1..=16) |
/// | 145 | … | tracker_count lines `host:port\n` |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct JoinRequest {
    pub group: String,
    pub storage_port: u16,
    pub store_path_count: u16,
    pub subdir_count_per_path: u16,
    pub upload_priority: i64,
    pub join_time: i64,
    pub up_time: i64,
    pub version: String,
    pub init_flag: u8,
    pub status: i8,
    pub storage_id: String,
    pub current_tracker_ip: String,
    /// `host:port` (or `ip1,ip2:port`, `[v6]:port`) of every tracker the storage knows.
    pub trackers: Vec<String>,
}

impl JoinRequest {
    /// Fixed part length.
    pub const FIXED_LEN: usize = GROUP + 1 + 6 * 8 + VERSION_LEN + 2 + ID + MEMBER_IP_LEN + 8;
}

impl Body for JoinRequest {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        put_fixed(out, &self.group, GROUP + 1);
        put_i64(out, i64::from(self.storage_port));
        put_i64(out, i64::from(self.store_path_count));
        put_i64(out, i64::from(self.subdir_count_per_path));
        put_i64(out, self.upload_priority);
        put_i64(out, self.join_time);
        put_i64(out, self.up_time);
        put_fixed(out, &self.version, VERSION_LEN);
        out.push(self.init_flag);
        out.push(self.status as u8);
        put_fixed(out, &self.storage_id, ID);
        put_fixed(out, &self.current_tracker_ip, MEMBER_IP_LEN);
        put_i64(out, self.trackers.len() as i64);
        for t in &self.trackers {
            out.extend_from_slice(t.as_bytes());
            out.push(b'\n');
        }
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "storage join";
        if body.len() < Self::FIXED_LEN {
            return Err(BodyError::len(MSG, body.len(), ">= 145"));
        }
        let mut r = Reader::new(body, MSG);
        let group = r.fixed_str("group_name", GROUP + 1)?;
        let storage_port = r.port("storage_port")?;
        let range = |r: &mut Reader<'_>, f| -> Result<u16, BodyError> {
            let v = r.i64(f)?;
            u16::try_from(v)
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or(BodyError::field(MSG, f, "must be 1..=256"))
        };
        let store_path_count = range(&mut r, "store_path_count")?;
        let subdir_count_per_path = range(&mut r, "subdir_count_per_path")?;
        let mut j = JoinRequest {
            group,
            storage_port,
            store_path_count,
            subdir_count_per_path,
            upload_priority: r.i64("upload_priority")?,
            join_time: r.i64("join_time")?,
            up_time: r.i64("up_time")?,
            version: r.fixed_str("version", VERSION_LEN)?,
            init_flag: r.u8("init_flag")?,
            status: r.u8("status")? as i8,
            storage_id: r.fixed_str("storage_id", ID)?,
            current_tracker_ip: r.fixed_str("current_tracker_ip", MEMBER_IP_LEN)?,
            trackers: Vec::new(),
        };
        let count = r.i64("tracker_count")?;
        let count = usize::try_from(count)
            .ok()
            .filter(|n| (1..=MAX_TRACKERS).contains(n))
            .ok_or(BodyError::field(MSG, "tracker_count", "must be 1..=16"))?;
        let lines = r.rest();
        if lines.len() > count * MAX_TRACKER_LINE {
            return Err(BodyError::len(
                MSG,
                body.len(),
                "145 + at most 100 per tracker",
            ));
        }
        let mut parts = lines.split(|&b| b == b'\n');
        for _ in 0..count {
            let line = parts
                .next()
                .filter(|l| !l.is_empty())
                .ok_or(BodyError::field(MSG, "trackers", "missing line"))?;
            let text = std::str::from_utf8(line)
                .map_err(|_| BodyError::field(MSG, "trackers", "not UTF-8"))?;
            j.trackers.push(text.to_owned());
        }
        // After `count` LF-terminated lines only the empty remainder of the split may be left.
        if parts.next() != Some(&[][..]) || parts.next().is_some() {
            return Err(BodyError::field(
                MSG,
                "trackers",
                "lines must be LF-terminated, no extra data",
            ));
        }
        Ok(j)
    }
}

/// Response to 81 (17 bytes).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 1 | my_status: the status the tracker has for this storage |
/// | 1 | 16 | src_id: storage to sync old data from (empty = none) |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinResponse {
    /// Tracker's view of the storage's status.
    pub my_status: u8,
    /// Sync source id.
    pub src_id: String,
}

impl Body for JoinResponse {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        out.push(self.my_status);
        put_fixed(out, &self.src_id, ID);
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "storage join response";
        if body.len() != 1 + ID {
            return Err(BodyError::len(MSG, body.len(), "17"));
        }
        let mut r = Reader::new(body, MSG);
        Ok(JoinResponse {
            my_status: r.u8("my_status")?,
            src_id: r.fixed_str("src_id", ID)?,
        })
    }
}

/// Request 83: heartbeat, optionally carrying the counters.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 0 or 348 | nothing, or a [`StatBlock`] |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Beat(pub Option<StatBlock>);

impl Body for Beat {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        if let Some(s) = &self.0 {
            s.put(out);
        }
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        match body.len() {
            0 => Ok(Beat(None)),
            StatBlock::LEN => Ok(Beat(Some(StatBlock::read(&mut Reader::new(body, "beat"))?))),
            n => Err(BodyError::len("beat", n, "0 or 348")),
        }
    }
}

/// Space of one store path, in MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathUsage {
    /// Total MB.
    pub total_mb: i64,
    /// Free MB.
    pub free_mb: i64,
}

/// Request 84: one entry per store path, in path order.
///
/// | off | size | field |
/// |---|---|---|
/// | 16·i | 8 | total_mb of path i |
/// | 16·i+8 | 8 | free_mb of path i |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskUsage(pub Vec<PathUsage>);

impl Body for DiskUsage {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        for p in &self.0 {
            put_i64(out, p.total_mb);
            put_i64(out, p.free_mb);
        }
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "disk usage report";
        if body.is_empty() || !body.len().is_multiple_of(16) || body.len() > 256 * 16 {
            return Err(BodyError::len(
                MSG,
                body.len(),
                "16 × store_path_count (1..=256)",
            ));
        }
        let mut r = Reader::new(body, MSG);
        let n = body.len() / 16;
        let v = (0..n)
            .map(|_| {
                Ok(PathUsage {
                    total_mb: r.i64("total_mb")?,
                    free_mb: r.i64("free_mb")?,
                })
            })
            .collect::<Result<_, BodyError>>()?;
        Ok(DiskUsage(v))
    }
}

/// A group member as trackers describe it to storages (`FDFSStorageBrief`, 67 bytes).
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 1 | status |
/// | 1 | 4 | port (u32) |
/// | 5 | 16 | id |
/// | 21 | 46 | ip_addr |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct StorageBrief {
    pub status: u8,
    pub port: u32,
    pub id: String,
    pub ip_addr: String,
}

impl StorageBrief {
    /// Record size.
    pub const LEN: usize = 1 + 4 + ID + MEMBER_IP_LEN;

    fn put(&self, out: &mut Vec<u8>) {
        out.push(self.status);
        put_u32(out, self.port);
        put_fixed(out, &self.id, ID);
        put_fixed(out, &self.ip_addr, MEMBER_IP_LEN);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(StorageBrief {
            status: r.u8("status")?,
            port: r.u32("port")?,
            id: r.fixed_str("id", ID)?,
            ip_addr: r.fixed_str("ip_addr", MEMBER_IP_LEN)?,
        })
    }
}

/// Flag bit: the tracker leader changed.
pub const CHANGE_FLAG_LEADER: u8 = 1;
/// Flag bit: the trunk server changed.
pub const CHANGE_FLAG_TRUNK_SERVER: u8 = 2;
/// Flag bit: group membership changed.
pub const CHANGE_FLAG_GROUP_SERVER: u8 = 4;

/// Response to 83 / 84 / 89: what changed since the storage last asked.
///
/// | off | size | field |
/// |---|---|---|
/// | 0 | 1 | flags: 1 leader, 2 trunk server, 4 group members |
/// | 1 | 67 | leader brief, if flag 1 |
/// | … | 67 | trunk server brief, if flag 2 |
/// | … | n × 67 | every member, if flag 4 |
///
/// A tracker with nothing to say for a storage it does not know sends an empty body
/// (`None` here).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes(pub Option<ChangeSet>);

/// The non-empty form of [`Changes`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeSet {
    /// New tracker leader.
    pub leader: Option<StorageBrief>,
    /// New trunk server.
    pub trunk_server: Option<StorageBrief>,
    /// Full member list.
    pub members: Option<Vec<StorageBrief>>,
}

impl Body for Changes {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        let Some(c) = &self.0 else { return };
        let bit = |present: bool, flag: u8| if present { flag } else { 0 };
        let flags = bit(c.leader.is_some(), CHANGE_FLAG_LEADER)
            | bit(c.trunk_server.is_some(), CHANGE_FLAG_TRUNK_SERVER)
            | bit(c.members.is_some(), CHANGE_FLAG_GROUP_SERVER);
        out.push(flags);
        c.leader
            .iter()
            .chain(&c.trunk_server)
            .for_each(|b| b.put(out));
        c.members.iter().flatten().for_each(|b| b.put(out));
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "storage change response";
        if body.is_empty() {
            return Ok(Changes(None));
        }
        let mut r = Reader::new(body, MSG);
        let flags = r.u8("flags")?;
        if flags & !(CHANGE_FLAG_LEADER | CHANGE_FLAG_TRUNK_SERVER | CHANGE_FLAG_GROUP_SERVER) != 0
        {
            return Err(BodyError::field(MSG, "flags", "unknown bits"));
        }
        let mut c = ChangeSet::default();
        if flags & CHANGE_FLAG_LEADER != 0 {
            c.leader = Some(StorageBrief::read(&mut r)?);
        }
        if flags & CHANGE_FLAG_TRUNK_SERVER != 0 {
            c.trunk_server = Some(StorageBrief::read(&mut r)?);
        }
        if flags & CHANGE_FLAG_GROUP_SERVER != 0 {
            if !r.remaining().is_multiple_of(StorageBrief::LEN) {
                return Err(BodyError::len(MSG, body.len(), "1 + n × 67"));
            }
            let n = r.remaining() / StorageBrief::LEN;
            c.members = Some(
                (0..n)
                    .map(|_| StorageBrief::read(&mut r))
                    .collect::<Result<_, _>>()?,
            );
        }
        r.finish()?;
        Ok(Changes(Some(c)))
    }
}

/// Response to 75: tracker parameters as `key=value\n` lines, in the tracker's order.
///
/// | part | bytes |
/// |---|---|
/// | line | key · `=` · value · `\n` (values may contain `=`, keys may not) |
/// | body | line* (740 bytes from 6.16.1: use_storage_id, id_type_in_filename, response_ip_addr_size, storage_sync_file_max_delay, …) |
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameters(pub Vec<(String, String)>);

impl Parameters {
    /// Value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl Body for Parameters {
    fn encode(&self, _ip: IpWidth, out: &mut Vec<u8>) {
        for (k, v) in &self.0 {
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
            out.push(b'\n');
        }
    }

    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        const MSG: &str = "parameters";
        let text =
            std::str::from_utf8(body).map_err(|_| BodyError::field(MSG, "text", "not UTF-8"))?;
        let Some(text) = text.strip_suffix('\n').or(text.is_empty().then_some("")) else {
            return Err(BodyError::field(
                MSG,
                "text",
                "last line is not LF-terminated",
            ));
        };
        if text.is_empty() {
            return Ok(Parameters(Vec::new()));
        }
        text.split('\n')
            .map(|line| {
                let (k, v) = line
                    .split_once('=')
                    .ok_or(BodyError::field(MSG, "line", "no '='"))?;
                Ok((k.to_owned(), v.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Parameters)
    }
}

//! Tracker client: one persistent connection, queries in sequence. Accepts both IP widths in
//! every response, as the C client does (the codec tells them apart by length).

use std::time::Duration;

use fdfs_proto::common::{Empty, FileRef, GroupName, ServerAddr};
use fdfs_proto::frame::{decode_header, Header, Limits, HEADER_LEN};
use fdfs_proto::tracker::{
    FetchTargets, GroupStat, GroupStatV5, GroupStats, GroupStatsV5, ListStorages, Parameters,
    StorageStat, StorageStatV5, StorageStats, StorageStatsV5, StoreTarget, StoreTargets,
};
use fdfs_proto::{cmd, Body, IpWidth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::{Error, Result, Role};

/// Largest tracker response accepted: 512 groups × 113 bytes or 32 storages × 517 bytes fit
/// many times over.
const MAX_RESPONSE: u64 = 1 << 20;

pub struct TrackerClient {
    stream: TcpStream,
    timeout: Duration,
    /// For errors: the address connected to.
    addr: String,
}

impl TrackerClient {
    pub async fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> Result<TrackerClient> {
        let (stream, addr) = crate::error::dial(addr, timeout, Role::Tracker).await?;
        Ok(TrackerClient {
            stream,
            timeout,
            addr,
        })
    }

    /// The tracker's address (as connected to).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends raw bytes and reads one response; non-zero statuses are returned, not errors.
    /// For tests and tools that inspect replies.
    pub async fn raw(&mut self, request: &[u8]) -> Result<(Header, Vec<u8>)> {
        tokio::time::timeout(self.timeout, async {
            self.stream.write_all(request).await?;
            self.read_response().await
        })
        .await
        .map_err(|_| Error::Timeout)
        .and_then(|r| r)
        .map_err(|e| e.at(Role::Tracker, &self.addr, None))
    }

    async fn read_response(&mut self) -> Result<(Header, Vec<u8>)> {
        let mut hb = [0u8; HEADER_LEN];
        self.stream.read_exact(&mut hb).await?;
        let limits = Limits {
            max_body_len: MAX_RESPONSE,
        };
        let h = decode_header(&hb, &limits)
            .map_err(|e| Error::Protocol(e.to_string()))?
            .ok_or_else(|| Error::Protocol("short header".into()))?;
        if h.status != 0 {
            // Error responses carry no body; pkg_len is to be ignored.
            return Ok((h, Vec::new()));
        }
        let mut body = vec![0u8; h.pkg_len as usize];
        self.stream.read_exact(&mut body).await?;
        Ok((h, body))
    }

    async fn call_raw(&mut self, command: u8, req: &impl Body) -> Result<Vec<u8>> {
        let pkt = fdfs_proto::frame::packet(command, 0, &req.to_bytes(IpWidth::V4));
        let (h, body) = self.raw(&pkt).await?;
        if h.status != 0 {
            return Err(Error::Status {
                cmd: command,
                status: h.status,
            }
            .at(Role::Tracker, &self.addr, None));
        }
        Ok(body)
    }

    async fn call<R: Body>(&mut self, command: u8, req: &impl Body) -> Result<R> {
        let body = self.call_raw(command, req).await?;
        R::decode(&body).map_err(|e| Error::from(e).at(Role::Tracker, &self.addr, None))
    }

    /// 101 (any group) or 104 (named group).
    pub async fn query_store(&mut self, group: Option<&str>) -> Result<StoreTarget> {
        match group {
            None => self.call(cmd::QUERY_STORE_WITHOUT_GROUP_ONE, &Empty).await,
            Some(g) => {
                self.call(cmd::QUERY_STORE_WITH_GROUP_ONE, &group_name(g))
                    .await
            }
        }
    }

    /// 106 (any group) or 107 (named group): every writable storage.
    pub async fn query_store_all(&mut self, group: Option<&str>) -> Result<StoreTargets> {
        match group {
            None => self.call(cmd::QUERY_STORE_WITHOUT_GROUP_ALL, &Empty).await,
            Some(g) => {
                self.call(cmd::QUERY_STORE_WITH_GROUP_ALL, &group_name(g))
                    .await
            }
        }
    }

    /// 102: a storage to download from.
    pub async fn query_fetch(&mut self, group: &str, name: &str) -> Result<ServerAddr> {
        self.fetch_one(cmd::QUERY_FETCH_ONE, group, name).await
    }

    /// 103: the storage to delete or change metadata on.
    pub async fn query_update(&mut self, group: &str, name: &str) -> Result<ServerAddr> {
        self.fetch_one(cmd::QUERY_UPDATE, group, name).await
    }

    async fn fetch_one(&mut self, command: u8, group: &str, name: &str) -> Result<ServerAddr> {
        let file = format!("{group}/{name}");
        let t: FetchTargets = self
            .call(command, &file_ref(group, name))
            .await
            .map_err(|e| e.for_file(&file))?;
        match <[ServerAddr; 1]>::try_from(t.servers) {
            Ok([s]) => Ok(s),
            Err(v) => Err(
                Error::Protocol(format!("expected 1 storage, got {}", v.len())).at(
                    Role::Tracker,
                    &self.addr,
                    Some(&file),
                ),
            ),
        }
    }

    /// 105: every storage that can serve the file.
    pub async fn query_fetch_all(&mut self, group: &str, name: &str) -> Result<Vec<ServerAddr>> {
        let t: FetchTargets = self
            .call(cmd::QUERY_FETCH_ALL, &file_ref(group, name))
            .await
            .map_err(|e| e.for_file(&format!("{group}/{name}")))?;
        Ok(t.servers)
    }

    /// 91. Accepts the current (113-byte) and the ≤ 6.10 (105-byte) layouts.
    pub async fn list_groups(&mut self) -> Result<Vec<GroupStat>> {
        let body = self.call_raw(cmd::SERVER_LIST_ALL_GROUPS, &Empty).await?;
        decode_groups(&body)
    }

    /// 90.
    pub async fn list_group(&mut self, group: &str) -> Result<GroupStat> {
        let body = self
            .call_raw(cmd::SERVER_LIST_ONE_GROUP, &group_name(group))
            .await?;
        let mut v = decode_groups(&body)?;
        match (v.pop(), v.is_empty()) {
            (Some(g), true) => Ok(g),
            _ => Err(Error::Protocol(format!(
                "list one group: {} bytes",
                body.len()
            ))),
        }
    }

    /// 92: storages of a group, optionally only the one with `id`.
    pub async fn list_storages(
        &mut self,
        group: &str,
        id: Option<&str>,
    ) -> Result<Vec<StorageStat>> {
        let req = ListStorages {
            group: group.to_owned(),
            storage_id: id.map(str::to_owned),
        };
        let body = self.call_raw(cmd::SERVER_LIST_STORAGE, &req).await?;
        match StorageStats::decode(&body) {
            Ok(s) => Ok(s.0),
            Err(e) => match StorageStatsV5::decode(&body) {
                Ok(s) => Ok(s.0.into_iter().map(storage_from_v5).collect()),
                Err(_) => Err(e.into()),
            },
        }
    }

    /// 93: delete an OFFLINE storage (ENOENT, EBUSY while it is up, EALREADY).
    pub async fn delete_storage(&mut self, group: &str, id: &str) -> Result<()> {
        // The request has 92's layout with the id required.
        let req = ListStorages {
            group: group.to_owned(),
            storage_id: Some(id.to_owned()),
        };
        self.call_raw(cmd::SERVER_DELETE_STORAGE, &req)
            .await
            .map(drop)
    }

    /// 108: delete a group whose storages are all deleted (ENOENT, EBUSY).
    pub async fn delete_group(&mut self, group: &str) -> Result<()> {
        self.call_raw(cmd::SERVER_DELETE_GROUP, &group_name(group))
            .await
            .map(drop)
    }

    /// 75.
    pub async fn parameters(&mut self) -> Result<Parameters> {
        self.call(cmd::STORAGE_PARAMETER_REQ, &Empty).await
    }

    /// 111.
    pub async fn active_test(&mut self) -> Result<()> {
        self.call::<Empty>(cmd::ACTIVE_TEST, &Empty).await.map(drop)
    }

    /// 82: no reply; the server closes.
    pub async fn quit(mut self) -> Result<()> {
        let pkt = Header::request(cmd::QUIT, 0).encode();
        self.stream.write_all(&pkt).await?;
        Ok(())
    }
}

/// Current layout first; a length that only fits the ≤ 6.10 layout is read as that.
fn decode_groups(body: &[u8]) -> Result<Vec<GroupStat>> {
    match GroupStats::decode(body) {
        Ok(g) => Ok(g.0),
        Err(e) => match GroupStatsV5::decode(body) {
            Ok(g) => Ok(g.0.into_iter().map(group_from_v5).collect()),
            Err(_) => Err(e.into()),
        },
    }
}

fn group_from_v5(g: GroupStatV5) -> GroupStat {
    GroupStat {
        group: g.group,
        total_mb: g.total_mb,
        free_mb: g.free_mb,
        reserved_mb: 0,
        trunk_free_mb: g.trunk_free_mb,
        storage_count: g.storage_count,
        storage_port: g.storage_port,
        readable_server_count: g.active_count,
        writable_server_count: g.active_count,
        current_write_server: g.current_write_server,
        store_path_count: g.store_path_count,
        subdir_count_per_path: g.subdir_count_per_path,
        current_trunk_file_id: g.current_trunk_file_id,
    }
}

fn storage_from_v5(s: StorageStatV5) -> StorageStat {
    StorageStat {
        status: s.status,
        rw_mode: 6,
        id: s.id,
        ip_addr: s.ip_addr,
        src_id: s.src_id,
        version: s.version,
        join_time: s.join_time,
        up_time: s.up_time,
        total_mb: s.total_mb,
        free_mb: s.free_mb,
        reserved_mb: 0,
        upload_priority: s.upload_priority,
        store_path_count: s.store_path_count,
        subdir_count_per_path: s.subdir_count_per_path,
        current_write_path: s.current_write_path,
        storage_port: s.storage_port,
        stat: s.stat,
        if_trunk_server: s.if_trunk_server,
    }
}

fn group_name(g: &str) -> GroupName {
    GroupName {
        group: g.to_owned(),
    }
}

fn file_ref(group: &str, name: &str) -> FileRef {
    FileRef {
        group: group.to_owned(),
        file_name: name.to_owned(),
    }
}

//! Every tracker request, typed by command code: what a tracker daemon dispatches on.

use crate::body::{Body, BodyError, IpWidth, RequestError};
use crate::cmd;
use crate::common::{Empty, FileRef, GroupName};
use crate::frame::Header;
use crate::tracker::{Beat, DiskUsage, JoinRequest, ListStorages};

/// A decoded tracker request (all are small and read whole).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TrackerRequest {
    /// 101
    QueryStoreWithoutGroupOne,
    /// 104
    QueryStoreWithGroupOne(GroupName),
    /// 106
    QueryStoreWithoutGroupAll,
    /// 107
    QueryStoreWithGroupAll(GroupName),
    /// 102
    QueryFetchOne(FileRef),
    /// 103
    QueryUpdate(FileRef),
    /// 105
    QueryFetchAll(FileRef),
    /// 90
    ListOneGroup(GroupName),
    /// 91
    ListAllGroups,
    /// 92
    ListStorages(ListStorages),
    /// 81
    Join(JoinRequest),
    /// 83
    /// (boxed: the counter block is 348 bytes)
    Beat(Box<Beat>),
    /// 84
    ReportDiskUsage(DiskUsage),
    /// 75
    ParameterReq,
    /// 111
    ActiveTest,
    /// 82: close without answering.
    Quit,
}

impl TrackerRequest {
    /// Types a request from its header and whole body.
    pub fn decode(header: &Header, body: &[u8]) -> Result<Self, RequestError> {
        use TrackerRequest as R;
        let empty = |r: R| -> Result<R, BodyError> { Empty::decode(body).map(|_| r) };
        Ok(match header.cmd {
            cmd::QUERY_STORE_WITHOUT_GROUP_ONE => empty(R::QueryStoreWithoutGroupOne)?,
            cmd::QUERY_STORE_WITH_GROUP_ONE => R::QueryStoreWithGroupOne(GroupName::decode(body)?),
            cmd::QUERY_STORE_WITHOUT_GROUP_ALL => empty(R::QueryStoreWithoutGroupAll)?,
            cmd::QUERY_STORE_WITH_GROUP_ALL => R::QueryStoreWithGroupAll(GroupName::decode(body)?),
            cmd::QUERY_FETCH_ONE => R::QueryFetchOne(FileRef::decode(body)?),
            cmd::QUERY_UPDATE => R::QueryUpdate(FileRef::decode(body)?),
            cmd::QUERY_FETCH_ALL => R::QueryFetchAll(FileRef::decode(body)?),
            cmd::SERVER_LIST_ONE_GROUP => R::ListOneGroup(GroupName::decode(body)?),
            cmd::SERVER_LIST_ALL_GROUPS => empty(R::ListAllGroups)?,
            cmd::SERVER_LIST_STORAGE => R::ListStorages(ListStorages::decode(body)?),
            cmd::STORAGE_JOIN => R::Join(JoinRequest::decode(body)?),
            cmd::STORAGE_BEAT => R::Beat(Box::new(Beat::decode(body)?)),
            cmd::STORAGE_REPORT_DISK_USAGE => R::ReportDiskUsage(DiskUsage::decode(body)?),
            cmd::STORAGE_PARAMETER_REQ => empty(R::ParameterReq)?,
            cmd::ACTIVE_TEST => empty(R::ActiveTest)?,
            // The tracker closes on QUIT whatever follows; accept any body.
            cmd::QUIT => R::Quit,
            other => return Err(RequestError::UnknownCommand(other)),
        })
    }

    /// Command code.
    pub fn cmd(&self) -> u8 {
        use TrackerRequest as R;
        match self {
            R::QueryStoreWithoutGroupOne => cmd::QUERY_STORE_WITHOUT_GROUP_ONE,
            R::QueryStoreWithGroupOne(_) => cmd::QUERY_STORE_WITH_GROUP_ONE,
            R::QueryStoreWithoutGroupAll => cmd::QUERY_STORE_WITHOUT_GROUP_ALL,
            R::QueryStoreWithGroupAll(_) => cmd::QUERY_STORE_WITH_GROUP_ALL,
            R::QueryFetchOne(_) => cmd::QUERY_FETCH_ONE,
            R::QueryUpdate(_) => cmd::QUERY_UPDATE,
            R::QueryFetchAll(_) => cmd::QUERY_FETCH_ALL,
            R::ListOneGroup(_) => cmd::SERVER_LIST_ONE_GROUP,
            R::ListAllGroups => cmd::SERVER_LIST_ALL_GROUPS,
            R::ListStorages(_) => cmd::SERVER_LIST_STORAGE,
            R::Join(_) => cmd::STORAGE_JOIN,
            R::Beat(_) => cmd::STORAGE_BEAT,
            R::ReportDiskUsage(_) => cmd::STORAGE_REPORT_DISK_USAGE,
            R::ParameterReq => cmd::STORAGE_PARAMETER_REQ,
            R::ActiveTest => cmd::ACTIVE_TEST,
            R::Quit => cmd::QUIT,
        }
    }

    /// Header + body, ready to send.
    pub fn packet(&self) -> Vec<u8> {
        use TrackerRequest as R;
        let (c, ip) = (self.cmd(), IpWidth::V4);
        match self {
            R::QueryStoreWithGroupOne(b) | R::QueryStoreWithGroupAll(b) | R::ListOneGroup(b) => {
                b.packet(c, 0, ip)
            }
            R::QueryFetchOne(b) | R::QueryUpdate(b) | R::QueryFetchAll(b) => b.packet(c, 0, ip),
            R::ListStorages(b) => b.packet(c, 0, ip),
            R::Join(b) => b.packet(c, 0, ip),
            R::Beat(b) => b.packet(c, 0, ip),
            R::ReportDiskUsage(b) => b.packet(c, 0, ip),
            R::QueryStoreWithoutGroupOne
            | R::QueryStoreWithoutGroupAll
            | R::ListAllGroups
            | R::ParameterReq
            | R::ActiveTest
            | R::Quit => Empty.packet(c, 0, ip),
        }
    }
}

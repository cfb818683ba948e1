//! Tracker command bodies.
//!
//! | cmd | request | response |
//! |---|---|---|
//! | 101 QUERY_STORE_WITHOUT_GROUP_ONE | [`crate::common::Empty`] | [`StoreTarget`] |
//! | 104 QUERY_STORE_WITH_GROUP_ONE | [`crate::common::GroupName`] | [`StoreTarget`] |
//! | 106 QUERY_STORE_WITHOUT_GROUP_ALL | [`crate::common::Empty`] | [`StoreTargets`] |
//! | 107 QUERY_STORE_WITH_GROUP_ALL | [`crate::common::GroupName`] | [`StoreTargets`] |
//! | 102 QUERY_FETCH_ONE, 103 QUERY_UPDATE | [`crate::common::FileRef`] | [`FetchTargets`] (one server) |
//! | 105 QUERY_FETCH_ALL | [`crate::common::FileRef`] | [`FetchTargets`] |
//! | 90 LIST_ONE_GROUP | [`crate::common::GroupName`] | [`GroupStat`] |
//! | 91 LIST_ALL_GROUPS | [`crate::common::Empty`] | [`GroupStats`] |
//! | 92 LIST_STORAGE | [`ListStorages`] | [`StorageStats`] |
//! | 90 / 91 / 92, era A (≤ 6.10, fdfs-client-py3) | as above | [`GroupStatsV5`] / [`StorageStatsV5`] |
//! | 81 STORAGE_JOIN | [`JoinRequest`] | [`JoinResponse`] |
//! | 83 STORAGE_BEAT | [`Beat`] | [`Changes`] |
//! | 84 STORAGE_REPORT_DISK_USAGE | [`DiskUsage`] | [`Changes`] |
//! | 88 STORAGE_SYNC_NOTIFY | [`SyncNotify`] | [`crate::common::Empty`] |
//! | 89 STORAGE_SYNC_REPORT | [`SyncReport`] | [`Changes`] |
//! | 75 STORAGE_PARAMETER_REQ | [`crate::common::Empty`] | [`Parameters`] |
//! | 111 ACTIVE_TEST | [`crate::common::Empty`] | [`crate::common::Empty`] |
//! | 82 QUIT | [`crate::common::Empty`] | none (the server closes) |
//!
//! [`TrackerRequest`] types any of these from a header and its body.

mod list;
mod list_v5;
mod member;
mod query;
mod request;
mod stat;
mod sync_msgs;

pub use list::{GroupStat, GroupStats, ListStorages, StorageStat, StorageStats, VERSION_LEN};
pub use list_v5::{
    GroupStatV5, GroupStatsV5, StorageStatV5, StorageStatsV5, DOMAIN_LEN, VERSION_LEN_V5,
};
pub use member::{
    Beat, ChangeSet, Changes, DiskUsage, JoinRequest, JoinResponse, Parameters, PathUsage,
    StorageBrief, CHANGE_FLAG_GROUP_SERVER, CHANGE_FLAG_LEADER, CHANGE_FLAG_TRUNK_SERVER,
    MAX_TRACKERS, MEMBER_IP_LEN,
};
pub use query::{FetchTargets, StoreTarget, StoreTargets, MAX_SERVERS_PER_GROUP};
pub use request::TrackerRequest;
pub use stat::StatBlock;
pub use sync_msgs::{SyncNotify, SyncReport, SyncedUntil};

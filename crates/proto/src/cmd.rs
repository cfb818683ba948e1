//! Command codes (`tracker/tracker_proto.h`). Every response carries [`RESP`].

macro_rules! commands {
    ($($(#[$m:meta])* $name:ident = $val:expr, $cname:literal;)*) => {
        $($(#[$m])* pub const $name: u8 = $val;)*
        /// The C macro name of a command code (`None` for codes FastDFS does not define).
        pub fn name(cmd: u8) -> Option<&'static str> {
            match cmd {
                $($val => Some($cname),)*
                _ => None,
            }
        }
    };
}

commands! {
    /// Response to anything.
    RESP = 100, "TRACKER_PROTO_CMD_RESP";
    /// Liveness probe; empty body both ways.
    ACTIVE_TEST = 111, "FDFS_PROTO_CMD_ACTIVE_TEST";
    /// Close the connection; no response.
    QUIT = 82, "FDFS_PROTO_CMD_QUIT";

    /// Query an upload target, any group.
    QUERY_STORE_WITHOUT_GROUP_ONE = 101, "TRACKER_PROTO_CMD_SERVICE_QUERY_STORE_WITHOUT_GROUP_ONE";
    /// Query a download target.
    QUERY_FETCH_ONE = 102, "TRACKER_PROTO_CMD_SERVICE_QUERY_FETCH_ONE";
    /// Query the storage to modify/delete on.
    QUERY_UPDATE = 103, "TRACKER_PROTO_CMD_SERVICE_QUERY_UPDATE";
    /// Query an upload target in a named group.
    QUERY_STORE_WITH_GROUP_ONE = 104, "TRACKER_PROTO_CMD_SERVICE_QUERY_STORE_WITH_GROUP_ONE";
    /// Query every storage that can serve a download.
    QUERY_FETCH_ALL = 105, "TRACKER_PROTO_CMD_SERVICE_QUERY_FETCH_ALL";
    /// Query every upload target, any group.
    QUERY_STORE_WITHOUT_GROUP_ALL = 106, "TRACKER_PROTO_CMD_SERVICE_QUERY_STORE_WITHOUT_GROUP_ALL";
    /// Query every upload target in a named group.
    QUERY_STORE_WITH_GROUP_ALL = 107, "TRACKER_PROTO_CMD_SERVICE_QUERY_STORE_WITH_GROUP_ALL";
    /// Admin: delete an empty group.
    SERVER_DELETE_GROUP = 108, "TRACKER_PROTO_CMD_SERVER_DELETE_GROUP";
    /// Admin: stats of one group.
    SERVER_LIST_ONE_GROUP = 90, "TRACKER_PROTO_CMD_SERVER_LIST_ONE_GROUP";
    /// Admin: stats of all groups.
    SERVER_LIST_ALL_GROUPS = 91, "TRACKER_PROTO_CMD_SERVER_LIST_ALL_GROUPS";
    /// Admin: storages of a group.
    SERVER_LIST_STORAGE = 92, "TRACKER_PROTO_CMD_SERVER_LIST_STORAGE";
    /// Admin: delete a storage.
    SERVER_DELETE_STORAGE = 93, "TRACKER_PROTO_CMD_SERVER_DELETE_STORAGE";
    /// Admin: choose the trunk server.
    SERVER_SET_TRUNK_SERVER = 94, "TRACKER_PROTO_CMD_SERVER_SET_TRUNK_SERVER";

    /// Storage joins a tracker.
    STORAGE_JOIN = 81, "TRACKER_PROTO_CMD_STORAGE_JOIN";
    /// Storage heartbeat.
    STORAGE_BEAT = 83, "TRACKER_PROTO_CMD_STORAGE_BEAT";
    /// Storage reports free/total space per store path.
    STORAGE_REPORT_DISK_USAGE = 84, "TRACKER_PROTO_CMD_STORAGE_REPORT_DISK_USAGE";
    /// Storage learns new group members.
    STORAGE_REPLICA_CHG = 85, "TRACKER_PROTO_CMD_STORAGE_REPLICA_CHG";
    /// Sync source asks whether it must copy old data to a newcomer.
    STORAGE_SYNC_SRC_REQ = 86, "TRACKER_PROTO_CMD_STORAGE_SYNC_SRC_REQ";
    /// Newcomer asks for its sync source.
    STORAGE_SYNC_DEST_REQ = 87, "TRACKER_PROTO_CMD_STORAGE_SYNC_DEST_REQ";
    /// Sync done notification.
    STORAGE_SYNC_NOTIFY = 88, "TRACKER_PROTO_CMD_STORAGE_SYNC_NOTIFY";
    /// Storage reports per-source synced timestamps.
    STORAGE_SYNC_REPORT = 89, "TRACKER_PROTO_CMD_STORAGE_SYNC_REPORT";
    /// Newcomer re-queries its sync source.
    STORAGE_SYNC_DEST_QUERY = 79, "TRACKER_PROTO_CMD_STORAGE_SYNC_DEST_QUERY";
    /// Storage reports an IP change.
    STORAGE_REPORT_IP_CHANGED = 78, "TRACKER_PROTO_CMD_STORAGE_REPORT_IP_CHANGED";
    /// Storage requests the changelog.
    STORAGE_CHANGELOG_REQ = 77, "TRACKER_PROTO_CMD_STORAGE_CHANGELOG_REQ";
    /// Storage reports another storage's status.
    STORAGE_REPORT_STATUS = 76, "TRACKER_PROTO_CMD_STORAGE_REPORT_STATUS";
    /// Tracker parameters as `key=value` lines.
    STORAGE_PARAMETER_REQ = 75, "TRACKER_PROTO_CMD_STORAGE_PARAMETER_REQ";
    /// Storage reports trunk free space.
    STORAGE_REPORT_TRUNK_FREE = 74, "TRACKER_PROTO_CMD_STORAGE_REPORT_TRUNK_FREE";
    /// Storage reports the current trunk file id.
    STORAGE_REPORT_TRUNK_FID = 73, "TRACKER_PROTO_CMD_STORAGE_REPORT_TRUNK_FID";
    /// Storage fetches the current trunk file id.
    STORAGE_FETCH_TRUNK_FID = 72, "TRACKER_PROTO_CMD_STORAGE_FETCH_TRUNK_FID";
    /// Storage status from the tracker.
    STORAGE_GET_STATUS = 71, "TRACKER_PROTO_CMD_STORAGE_GET_STATUS";
    /// Storage id from the tracker.
    STORAGE_GET_SERVER_ID = 70, "TRACKER_PROTO_CMD_STORAGE_GET_SERVER_ID";
    /// All storage ids (`use_storage_id`).
    STORAGE_FETCH_STORAGE_IDS = 69, "TRACKER_PROTO_CMD_STORAGE_FETCH_STORAGE_IDS";
    /// Storage asks which IP the tracker sees.
    STORAGE_GET_MY_IP = 60, "TRACKER_PROTO_CMD_STORAGE_GET_MY_IP";
    /// Storage status change.
    STORAGE_CHANGE_STATUS = 59, "TRACKER_PROTO_CMD_STORAGE_CHANGE_STATUS";
    /// Storage asks for its group name.
    STORAGE_GET_GROUP_NAME = 109, "TRACKER_PROTO_CMD_STORAGE_GET_GROUP_NAME";

    /// Storage→storage: announce the sender's id before syncing.
    STORAGE_REPORT_SERVER_ID = 9, "STORAGE_PROTO_CMD_REPORT_SERVER_ID";
    /// Upload a normal file.
    UPLOAD_FILE = 11, "STORAGE_PROTO_CMD_UPLOAD_FILE";
    /// Delete a file.
    DELETE_FILE = 12, "STORAGE_PROTO_CMD_DELETE_FILE";
    /// Set metadata.
    SET_METADATA = 13, "STORAGE_PROTO_CMD_SET_METADATA";
    /// Download (a range of) a file.
    DOWNLOAD_FILE = 14, "STORAGE_PROTO_CMD_DOWNLOAD_FILE";
    /// Get metadata.
    GET_METADATA = 15, "STORAGE_PROTO_CMD_GET_METADATA";
    /// Storage→storage: replicate a new file.
    SYNC_CREATE_FILE = 16, "STORAGE_PROTO_CMD_SYNC_CREATE_FILE";
    /// Storage→storage: replicate a delete.
    SYNC_DELETE_FILE = 17, "STORAGE_PROTO_CMD_SYNC_DELETE_FILE";
    /// Storage→storage: replicate a whole-file update.
    SYNC_UPDATE_FILE = 18, "STORAGE_PROTO_CMD_SYNC_UPDATE_FILE";
    /// Storage→storage: replicate a link.
    SYNC_CREATE_LINK = 19, "STORAGE_PROTO_CMD_SYNC_CREATE_LINK";
    /// Create a slave as a link.
    CREATE_LINK = 20, "STORAGE_PROTO_CMD_CREATE_LINK";
    /// Upload a slave file.
    UPLOAD_SLAVE_FILE = 21, "STORAGE_PROTO_CMD_UPLOAD_SLAVE_FILE";
    /// Size, mtime, CRC and source of a file.
    QUERY_FILE_INFO = 22, "STORAGE_PROTO_CMD_QUERY_FILE_INFO";
    /// Upload an appender file.
    UPLOAD_APPENDER_FILE = 23, "STORAGE_PROTO_CMD_UPLOAD_APPENDER_FILE";
    /// Append to an appender file.
    APPEND_FILE = 24, "STORAGE_PROTO_CMD_APPEND_FILE";
    /// Storage→storage: replicate an append.
    SYNC_APPEND_FILE = 25, "STORAGE_PROTO_CMD_SYNC_APPEND_FILE";
    /// Disk recovery: fetch one store path's binlog.
    FETCH_ONE_PATH_BINLOG = 26, "STORAGE_PROTO_CMD_FETCH_ONE_PATH_BINLOG";
    /// Modify part of an appender file.
    MODIFY_FILE = 34, "STORAGE_PROTO_CMD_MODIFY_FILE";
    /// Storage→storage: replicate a modify.
    SYNC_MODIFY_FILE = 35, "STORAGE_PROTO_CMD_SYNC_MODIFY_FILE";
    /// Truncate an appender file.
    TRUNCATE_FILE = 36, "STORAGE_PROTO_CMD_TRUNCATE_FILE";
    /// Storage→storage: replicate a truncate.
    SYNC_TRUNCATE_FILE = 37, "STORAGE_PROTO_CMD_SYNC_TRUNCATE_FILE";
    /// Rename an appender file to a normal file name.
    REGENERATE_APPENDER_FILENAME = 38, "STORAGE_PROTO_CMD_REGENERATE_APPENDER_FILENAME";
    /// Storage→storage: replicate a rename.
    SYNC_RENAME_FILE = 40, "STORAGE_PROTO_CMD_SYNC_RENAME_FILE";
}

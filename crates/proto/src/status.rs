//! Status byte values: Linux errno numbers, one unsigned byte.

macro_rules! statuses {
    ($($(#[$m:meta])* $name:ident = $val:expr;)*) => {
        $($(#[$m])* pub const $name: u8 = $val;)*
        /// The errno name of a status byte (`"OK"` for 0), `None` if not one FastDFS uses.
        pub fn name(status: u8) -> Option<&'static str> {
            match status {
                $($val => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

statuses! {
    /// Success.
    OK = 0;
    /// Token mismatch, rename failure.
    EPERM = 1;
    /// No such group, storage, file or metadata.
    ENOENT = 2;
    /// I/O error.
    EIO = 5;
    /// Retry later (recovery, sync).
    EAGAIN = 11;
    /// Out of memory.
    ENOMEM = 12;
    /// Storage-only command on a non-joined socket.
    EACCES = 13;
    /// Member still online / group not empty.
    EBUSY = 16;
    /// File exists; as a SYNC_CREATE/UPDATE request status: "no content follows".
    EEXIST = 17;
    /// Malformed package, wrong group, bad offsets, not an appender.
    EINVAL = 22;
    /// Reserved space reached, no space.
    ENOSPC = 28;
    /// Operation not supported.
    EOPNOTSUPP = 95;
    /// Token expired (HTTP side).
    ETIMEDOUT = 110;
    /// Storage already deleted.
    EALREADY = 114;
}

/// QUERY_FILE_INFO request flag (in the header status byte): do not compute CRC32.
pub const FINFO_FLAG_NO_CRC32: u8 = 1;
/// QUERY_FILE_INFO request flag (in the header status byte): do not log ENOENT.
pub const FINFO_FLAG_KEEP_SILENCE: u8 = 2;

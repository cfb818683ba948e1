//! `fdfs_storaged`: a FastDFS-compatible storage daemon. The binary is a thin shell around
//! [`server::run`]; the modules are public so their unit tests and docs stay next to them.

pub mod binlog;
pub mod commit;
pub mod config;
pub mod conn;
pub mod disk;
pub mod layout;
pub use fdfs_daemon::logging;
pub mod ops;
pub mod server;
pub mod sync;
pub mod tracker;

//! `fdfs_trackerd`: the FastDFS-compatible tracker.
//!
//! - `config`: `tracker.toml`.
//! - `cluster`: groups and storages and their status life cycle. Pure and synchronous; the
//!   network layer holds it behind one mutex.
//! - `select`: upload and download target selection over a `Cluster`.
//! - `persist`: the membership snapshot written atomically to `base_path`.
//! - `service`: one request frame in, one response out (every body via `fdfs-proto`).
//! - `listing`: the 90/91/92 records in both layouts and the 75 parameters.
//! - `server`: accept loop, connection loop, `allow_hosts`, liveness checker, signals.

pub mod cluster;
pub mod config;
pub mod listing;
pub use fdfs_daemon::logging;
pub mod persist;
pub mod select;
pub mod server;
pub mod service;
pub mod sync_state;

#[cfg(test)]
mod props;

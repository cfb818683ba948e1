//! `fdfs_trackerd`: the FastDFS-compatible tracker.
//!
//! - `config`: `tracker.toml`.
//! - `cluster`: groups and storages, their status life cycle, upload/download target
//!   selection. Pure and synchronous; the network layer holds it behind one mutex.
//! - `persist`: the membership snapshot written atomically to `base_path`.
//! - `service`: one request frame in, one response out (every body via `fdfs-proto`).
//! - `server`: accept loop, connection loop, `allow_hosts`, liveness checker, signals.

pub mod cluster;
pub mod config;
pub mod logging;
pub mod persist;
pub mod select;
pub mod server;
pub mod service;
pub mod sync_state;

#[cfg(test)]
mod props;

//! Key placement exactly as the writers of a sharded memcached fleet do it, so a reader (the
//! nginx module, `fdfs kv`) finds each key on the shard that twemproxy or libmemcached put it on.
//!
//! - `compat=twemproxy` (nutcracker 0.5): `ketama`, `modula`, `random` over its twelve hashes,
//!   `hash_tag`, weights and server names.
//! - `compat=libmemcached`: non-weighted ketama (pylibmc `{"ketama": True}`).
//! - `compat=libmemcached_weighted`: `ketama_weighted` / PHP memcached
//!   `OPT_LIBKETAMA_COMPATIBLE` (the same continuum as twemproxy, key hash md5).
//!
//! `random` has no placement: twemproxy sends each request to a random server, so no reader
//! can agree with it; `Ring::locate` says so and `Ring::locate_random` serves proxies.

pub mod config;
pub mod eject;
pub mod hash;
pub mod ring;

pub use config::{parse_time, Compat, Distribution, Options, Server};
pub use eject::{Millis, Pool};
pub use hash::HashFn;
pub use ring::{ketama_points, LocateError, Ring};

//! tyrantd library: storage engine, protocol doors, replication.

pub mod clock;
pub mod config;
pub mod conn;
pub mod engine;
pub mod http;
pub mod httpdate;
pub mod memc;
pub mod repl;
pub mod server;
pub mod stats;
pub mod valueio;

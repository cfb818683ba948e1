//! What went wrong in a request, said the way an operator reads it: the meaning, the file ID
//! and the server's address first, the protocol detail (command, status) last.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use fdfs_proto::status;
use tokio::net::{TcpStream, ToSocketAddrs};

/// Which kind of server a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Tracker,
    Storage,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Tracker => "tracker",
            Role::Storage => "storage",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered with a non-zero status (errno).
    #[error("server answered cmd {cmd} with status {status} ({})", status::name(*status).unwrap_or("?"))]
    Status { cmd: u8, status: u8 },
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("timed out")]
    Timeout,
    /// One of the above, with the server it happened on and the file concerned.
    #[error("{}", explain(*role, addr, file.as_deref(), source))]
    At {
        role: Role,
        addr: String,
        file: Option<String>,
        source: Box<Error>,
    },
}

impl Error {
    /// The errno status, if the server sent one.
    pub fn status(&self) -> Option<u8> {
        match self.root() {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error without its place.
    pub fn root(&self) -> &Error {
        match self {
            Error::At { source, .. } => source.root(),
            e => e,
        }
    }

    /// The address of the server concerned, when known.
    pub fn addr(&self) -> Option<&str> {
        match self {
            Error::At { addr, .. } => Some(addr),
            _ => None,
        }
    }

    /// The file ID concerned, when known.
    pub fn file(&self) -> Option<&str> {
        match self {
            Error::At { file, .. } => file.as_deref(),
            _ => None,
        }
    }

    /// Places the error on `role` at `addr`; an error already placed keeps its server and
    /// only gains the file if it had none.
    pub fn at(self, role: Role, addr: &str, file: Option<&str>) -> Error {
        match self {
            Error::At {
                role,
                addr,
                file: f,
                source,
            } => Error::At {
                role,
                addr,
                file: f.or_else(|| file.map(str::to_owned)),
                source,
            },
            e => Error::At {
                role,
                addr: addr.to_owned(),
                file: file.map(str::to_owned),
                source: Box::new(e),
            },
        }
    }

    /// Adds the file ID to a placed error (unplaced errors stay as they are).
    pub fn for_file(self, file: &str) -> Error {
        match self {
            Error::At {
                role,
                addr,
                file: None,
                source,
            } => Error::At {
                role,
                addr,
                file: Some(file.to_owned()),
                source,
            },
            e => e,
        }
    }
}

/// `No such file or directory` for 2: the C library's text without Rust's "(os error N)".
fn strerror(n: u8) -> String {
    let s = std::io::Error::from_raw_os_error(i32::from(n)).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

fn is_store_query(cmd: u8) -> bool {
    use fdfs_proto::cmd::*;
    [
        QUERY_STORE_WITHOUT_GROUP_ONE,
        QUERY_STORE_WITH_GROUP_ONE,
        QUERY_STORE_WITHOUT_GROUP_ALL,
        QUERY_STORE_WITH_GROUP_ALL,
    ]
    .contains(&cmd)
}

fn explain(role: Role, addr: &str, file: Option<&str>, source: &Error) -> String {
    let who = format!("{role} {addr}");
    let of = file.map(|f| format!(" {f}")).unwrap_or_default();
    let also = if file.is_some() {
        format!(", for{of}")
    } else {
        String::new()
    };
    match source {
        Error::Status { cmd, status: st } => {
            let detail = format!(
                "(cmd {cmd}, status {st} {})",
                status::name(*st).unwrap_or("?")
            );
            match (*st, role) {
                (status::ENOENT, Role::Storage) if file.is_some() => {
                    format!("file not found:{of} on {who} {detail}")
                }
                (status::ENOENT, Role::Tracker) if file.is_some() => {
                    format!("no active storage holds{of}: the group is unknown to {who} or all its storages are down {detail}")
                }
                (status::ENOENT, Role::Tracker) if is_store_query(*cmd) => format!(
                    "no storage to upload to: {who} knows no active storage (of that group) {detail}"
                ),
                (status::ENOSPC, Role::Tracker) => {
                    format!("no space left: {who} knows no storage with free space {detail}")
                }
                (status::ENOSPC, Role::Storage) => format!("{who} has no space left{also} {detail}"),
                (status::EACCES, _) => format!(
                    "refused by {who}: permission denied (allow_hosts, or a command it takes only from its peers){also} {detail}"
                ),
                (status::EEXIST, _) => format!("already exists{of} on {who} {detail}"),
                (status::EINVAL, _) => {
                    format!("{who} rejected the request as invalid{also} {detail}")
                }
                (status::EBUSY, _) => format!("{who} is busy: {}{also} {detail}", strerror(*st)),
                _ => format!("{who} failed{also}: {} {detail}", strerror(*st).to_lowercase()),
            }
        }
        Error::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => format!("connection refused by {who}{also}"),
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe => format!(
                "{who} closed the connection without answering{also} (refused by allow_hosts, or shutting down: see its log)"
            ),
            _ => format!("{who}{also}: {e}"),
        },
        Error::Timeout => format!("{who} did not answer in time{also} (timed out)"),
        Error::Protocol(m) => format!("{who}{also}: protocol error: {m}"),
        Error::At { .. } => source.to_string(),
    }
}

/// Connects to the first address of `addr` that answers; errors name the address tried.
pub(crate) async fn dial(
    addr: impl ToSocketAddrs,
    timeout: Duration,
    role: Role,
) -> Result<(TcpStream, String), Error> {
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(timeout, tokio::net::lookup_host(addr)).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => {
                return Err(Error::Protocol(format!(
                    "cannot resolve the {role} address: {e}"
                )))
            }
            Err(_) => return Err(Error::Timeout),
        };
    let mut last = Error::Protocol(format!("the {role} address resolves to nothing"));
    for a in addrs {
        let shown = a.to_string();
        match tokio::time::timeout(timeout, TcpStream::connect(a)).await {
            Ok(Ok(s)) => {
                s.set_nodelay(true)
                    .map_err(|e| Error::Io(e).at(role, &shown, None))?;
                return Ok((s, shown));
            }
            Ok(Err(e)) => last = Error::Io(e).at(role, &shown, None),
            Err(_) => {
                last = Error::Protocol(format!("no connection within {timeout:?}"))
                    .at(role, &shown, None)
            }
        }
    }
    Err(last)
}

//! Helpers shared by the handlers: name resolution, blocking I/O, request heads, new names.

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use fdfs_proto::fileid::{self, DecodedFileId, FileType, SizeKind, Source};
use fdfs_proto::frame::Header;
use fdfs_proto::{status, HeadProgress, Streamed};

use crate::conn::{Abort, Conn, Fail};
use crate::layout::StorePath;

/// A validated logical name of this storage and where it lives on disk.
#[derive(Debug, Clone)]
pub struct Target {
    pub logical: String,
    pub path: PathBuf,
    pub store_index: u8,
    pub sub: (u8, u8),
    pub decoded: DecodedFileId,
}

impl Target {
    pub fn meta_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push("-m");
        PathBuf::from(p)
    }

    pub fn file_type(&self) -> FileType {
        self.decoded.file_type()
    }
}

/// Checks the group and the name (strictly: no traversal, uppercase hex dirs, valid base64).
pub fn resolve(c: &Conn, group: &str, name: &str) -> Result<Target, Fail> {
    if group != c.shared.cfg.group_name {
        return Err(Fail::new(
            status::EINVAL,
            format!("group {group:?} is not this storage's group"),
        ));
    }
    resolve_name(c, name)
}

pub fn resolve_name(c: &Conn, name: &str) -> Result<Target, Fail> {
    let id = fileid::parse_logical_name(name.as_bytes())
        .map_err(|e| Fail::new(status::EINVAL, format!("bad file name {name:?}: {e}")))?;
    let sp = c.shared.layout.path(id.store_path_index).ok_or_else(|| {
        Fail::new(
            status::EINVAL,
            format!("store path M{:02X} does not exist", id.store_path_index),
        )
    })?;
    Ok(Target {
        logical: id.logical_name.to_owned(),
        path: sp.root.join(id.data_rel_path()),
        store_index: id.store_path_index,
        sub: (id.sub_high, id.sub_low),
        decoded: id.decode(),
    })
}

/// Runs blocking file-system work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(format!("blocking task failed: {e}"))))
}

/// Maps a file-system error to the status FastDFS would answer.
pub fn io_fail(what: &str, e: &io::Error) -> Fail {
    let st = match e.kind() {
        io::ErrorKind::NotFound => status::ENOENT,
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => status::ENOSPC,
        io::ErrorKind::AlreadyExists => status::EEXIST,
        _ => match e.raw_os_error() {
            Some(n) if (1..=255).contains(&n) => n as u8,
            _ => status::EIO,
        },
    };
    Fail::new(st, format!("{what}: {e}"))
}

/// Reads a streamed request's head; errors mean the body is not consumed (close after reply).
pub async fn read_head<T: Streamed>(
    c: &mut Conn,
    h: &Header,
) -> Result<Result<(T, u64), Fail>, Abort> {
    let mut prefix = Vec::new();
    loop {
        match T::decode_head(h, &prefix) {
            Ok(HeadProgress::Complete {
                head, content_len, ..
            }) => return Ok(Ok((head, content_len))),
            Ok(HeadProgress::NeedBytes(n))
                if n > prefix.len() && n as u64 <= c.shared.cfg.max_request_body =>
            {
                let old = prefix.len();
                prefix.resize(n, 0);
                c.read_exact_into(&mut prefix[old..]).await?;
            }
            Ok(HeadProgress::NeedBytes(n)) => {
                return Ok(Err(Fail::new(
                    status::EINVAL,
                    format!("request head of {n} bytes refused"),
                )
                .closing()))
            }
            Err(e) => return Ok(Err(Fail::new(e.status(), e.to_string()).closing())),
        }
    }
}

/// The 4 source bytes of new names: `source_ip`, else the address the client connected to.
pub fn source(c: &Conn) -> Source {
    if let Some(id) = c.shared.cfg.storage_id {
        return Source::ServerId(id);
    }
    if let Some(ip) = c.shared.cfg.source_ip {
        return Source::Ipv4(ip);
    }
    let ip = match c.local.ip() {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::LOCALHOST),
    };
    Source::Ipv4(ip)
}

/// Builds a new logical name for content written to `sp`, in directory `sub`.
#[allow(clippy::too_many_arguments)]
pub fn new_name(
    sp: &StorePath,
    sub: (u8, u8),
    src: Source,
    mtime: i64,
    kind: SizeKind,
    size: u64,
    crc: u32,
    ext: &str,
) -> Result<String, Fail> {
    let r = rand_u64();
    let size_field = fileid::masked_size(kind, size, (r & 0x7F_FFFF) as u32);
    let raw = fileid::encode_raw(src, mtime as i32, size_field, crc);
    let mut digits = r >> 23;
    let fext = fileid::format_ext(ext, || {
        let d = (digits % 10) as u8;
        digits /= 10;
        d
    })
    .map_err(|e| Fail::new(status::EINVAL, e.to_string()))?;
    Ok(fileid::logical_name(
        sp.index, sub.0, sub.1, &raw, None, &fext,
    ))
}

/// Input for the mode-1 (hash) directory choice: like FastDFS, a provisional name made from
/// the start time and random bits, since the final name is not known before the content is.
pub fn provisional_hash_input(src: Source) -> [u8; 27] {
    let r = rand_u64();
    let raw = fileid::encode_raw(src, crate::binlog::unix_now() as i32, r, (r >> 32) as u32);
    fileid::base64::encode20(&raw)
}

/// Small fast PRNG for name randomness (xorshift64*); not security relevant, only spread.
pub fn rand_u64() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() | 1
}

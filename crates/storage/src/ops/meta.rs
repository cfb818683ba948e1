//! 12 DELETE_FILE, 13 SET_METADATA, 15 GET_METADATA, 22 QUERY_FILE_INFO.

use std::fs::File;
use std::io::{self, Read, Write};
use std::time::UNIX_EPOCH;

use fdfs_proto::common::FileRef;
use fdfs_proto::fileid::{FileType, Source};
use fdfs_proto::frame::Header;
use fdfs_proto::status::{self, FINFO_FLAG_KEEP_SILENCE, FINFO_FLAG_NO_CRC32};
use fdfs_proto::storage::{FileInfo, MetaOp, Metadata, SetMetadataRequest};
use fdfs_proto::Body;

use super::files::{blocking, io_fail, resolve, Target};
use super::upload::commit_fail;
use crate::binlog::{Op, Record};
use crate::commit::Action;
use crate::conn::{Conn, Fail, Outcome};

/// Directory fsyncs are needed unless the store path is journal-ordered (see `commit.rs`).
fn sync_dirs(c: &Conn, t: &Target) -> bool {
    c.shared
        .layout
        .path(t.store_index)
        .is_none_or(|sp| !sp.journal_ordered)
}

async fn file_ref(c: &mut Conn, h: &Header) -> Result<Result<Target, Fail>, crate::conn::Abort> {
    let body = match c.read_body(h).await? {
        Ok(b) => b,
        Err(f) => return Ok(Err(f)),
    };
    Ok(FileRef::decode(&body)
        .map_err(|e| Fail::new(e.status(), e.to_string()))
        .and_then(|r| resolve(c, &r.group, &r.file_name)))
}

pub async fn delete(c: &mut Conn, h: Header) -> Outcome {
    let t = match file_ref(c, &h).await? {
        Ok(t) => t,
        Err(f) => return Ok(Err(f)),
    };
    let actions = vec![
        Action::Remove {
            path: t.path.clone(),
            must_exist: true,
        },
        Action::Remove {
            path: t.meta_path(),
            must_exist: false,
        },
    ];
    match c
        .shared
        .committer
        .commit(
            actions,
            vec![Record::new(Op::Delete, t.logical.clone())],
            sync_dirs(c, &t),
        )
        .await
    {
        Ok(()) => c.reply(&[]).await.map(Ok),
        Err(e) => Ok(Err(commit_fail(e))),
    }
}

pub async fn get_metadata(c: &mut Conn, h: Header) -> Outcome {
    let t = match file_ref(c, &h).await? {
        Ok(t) => t,
        Err(f) => return Ok(Err(f)),
    };
    let mp = t.meta_path();
    match blocking(move || std::fs::read(mp)).await {
        Ok(bytes) => c.reply(&bytes).await.map(Ok),
        Err(e) => Ok(Err(io_fail(&format!("metadata of {}", t.logical), &e))),
    }
}

pub async fn set_metadata(c: &mut Conn, h: Header) -> Outcome {
    let body = match c.read_body(&h).await? {
        Ok(b) => b,
        Err(f) => return Ok(Err(f)),
    };
    let req = match SetMetadataRequest::decode(&body) {
        Ok(r) => r,
        Err(e) => return Ok(Err(Fail::new(e.status(), e.to_string()))),
    };
    let t = match resolve(c, &req.group, &req.file_name) {
        Ok(t) => t,
        Err(f) => return Ok(Err(f)),
    };
    // Merges read-modify-write the sidecar: serialise them.
    let shared = c.shared.clone();
    let _guard = shared.meta_lock.lock().await;
    let (data, mp) = (t.path.clone(), t.meta_path());
    let tmp = c
        .shared
        .layout
        .path(t.store_index)
        .map(|sp| c.shared.layout.temp_file(sp));
    let Some(tmp) = tmp else {
        return Ok(Err(Fail::new(status::EINVAL, "no such store path")));
    };
    let (op, meta) = (req.op, req.metadata);
    let tmp2 = tmp.clone();
    let prepared = blocking(move || -> io::Result<Option<()>> {
        std::fs::metadata(&data)?;
        let mut all = match op {
            MetaOp::Overwrite => Metadata::default(),
            MetaOp::Merge => match std::fs::read(&mp) {
                Ok(b) => Metadata::parse(&b)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => Metadata::default(),
                Err(e) => return Err(e),
            },
        };
        all.merge(meta);
        if all.0.is_empty() {
            return Ok(None);
        }
        let mut packed = Vec::new();
        all.sorted().pack(&mut packed);
        let mut f = File::create_new(&tmp2)?;
        f.write_all(&packed)?;
        f.sync_data()?;
        Ok(Some(()))
    })
    .await;
    let meta_name = format!("{}-m", t.logical);
    let (actions, record) = match prepared {
        Ok(Some(())) => (
            vec![Action::Replace {
                tmp: tmp.clone(),
                dest: t.meta_path(),
            }],
            Record::new(Op::Update, meta_name),
        ),
        // Overwriting with nothing removes the sidecar, as FastDFS does.
        Ok(None) => (
            vec![Action::Remove {
                path: t.meta_path(),
                must_exist: false,
            }],
            Record::new(Op::Delete, meta_name),
        ),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Ok(Err(io_fail(&format!("set metadata of {}", t.logical), &e)));
        }
    };
    let r = c
        .shared
        .committer
        .commit(actions, vec![record], sync_dirs(c, &t))
        .await;
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    match r {
        Ok(()) => c.reply(&[]).await.map(Ok),
        Err(e) => Ok(Err(commit_fail(e))),
    }
}

pub async fn query_file_info(c: &mut Conn, h: Header) -> Outcome {
    let t = match file_ref(c, &h).await? {
        Ok(t) => t,
        Err(f) => return Ok(Err(f)),
    };
    let flags = h.status;
    // Normal files carry their CRC in the name; appender and slave contents must be read.
    let compute_crc = matches!(t.file_type(), FileType::Appender | FileType::Slave)
        && flags & FINFO_FLAG_NO_CRC32 == 0;
    let path = t.path.clone();
    let stat = blocking(move || {
        let mut f = File::open(&path)?;
        let md = f.metadata()?;
        let mtime = md
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let crc = if compute_crc {
            let mut h = fdfs_proto::fileid::Crc32::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Some(h.finalize())
        } else {
            None
        };
        Ok((md.len(), mtime, crc))
    })
    .await;
    let (size, mtime, crc) = match stat {
        Ok(v) => v,
        Err(e) => {
            let mut f = io_fail(&format!("file info of {}", t.logical), &e);
            if flags & FINFO_FLAG_KEEP_SILENCE != 0 {
                f.reason.push_str(" (silent)");
            }
            return Ok(Err(f));
        }
    };
    let crc32 = match (t.file_type(), crc) {
        (_, Some(c)) => c,
        (FileType::Appender | FileType::Slave, None) => 0,
        _ => t.decoded.crc32,
    };
    let source_ip = match t.decoded.source {
        Source::Ipv4(ip) => ip.to_string(),
        // Server ids need the tracker's storage id table to resolve; FastDFS sends "" then.
        Source::ServerId(_) => String::new(),
    };
    let info = FileInfo {
        file_size: size as i64,
        create_timestamp: mtime,
        crc32,
        source_ip,
    };
    let body = info.to_bytes(c.shared.cfg.response_ip_width);
    c.reply(&body).await.map(Ok)
}

//! 14 DOWNLOAD_FILE: offset/length semantics of FastDFS 6.16 (offset past the end → EINVAL,
//! length beyond the end clamped), except that a 0-byte file downloads fine (6.15.4+ refuses
//! offset 0 of an empty file, a regression we do not copy).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use fdfs_proto::frame::Header;
use fdfs_proto::storage::DownloadRequest;
use fdfs_proto::{status, Body};

use super::files::{blocking, io_fail, resolve};
use crate::conn::{Conn, Fail, Outcome};

const CHUNK: usize = 256 * 1024;

pub async fn download(c: &mut Conn, h: Header) -> Outcome {
    let body = match c.read_body(&h).await? {
        Ok(b) => b,
        Err(f) => return Ok(Err(f)),
    };
    let req = match DownloadRequest::decode(&body) {
        Ok(r) => r,
        Err(e) => return Ok(Err(Fail::new(e.status(), e.to_string()))),
    };
    let t = match resolve(c, &req.group, &req.file_name) {
        Ok(t) => t,
        Err(f) => return Ok(Err(f)),
    };
    let (offset, want) = (req.offset, req.length);
    let path = t.path.clone();
    // Open, check the range and read the first chunk in one blocking call.
    let opened = blocking(move || {
        let mut f = File::open(&path)?;
        let size = f.metadata()?.len();
        let range = range(size, offset, want);
        let first = match range {
            Ok(len) => {
                f.seek(SeekFrom::Start(offset))?;
                let mut buf = vec![0u8; len.min(CHUNK as u64) as usize];
                f.read_exact(&mut buf)?;
                buf
            }
            Err(_) => Vec::new(),
        };
        Ok((f, size, range, first))
    })
    .await;
    let (mut file, size, range, first) = match opened {
        Ok(v) => v,
        Err(e) => return Ok(Err(io_fail(&format!("open {}", t.logical), &e))),
    };
    let len = match range {
        Ok(l) => l,
        Err(why) => {
            return Ok(Err(Fail::new(
                status::EINVAL,
                format!(
                    "{}: {why} (size {size}, offset {offset}, length {want})",
                    t.logical
                ),
            )))
        }
    };
    let mut out = Header::response(status::OK, len).encode().to_vec();
    out.extend_from_slice(&first);
    c.send(&out).await?;
    let mut left = len - first.len() as u64;
    let mut buf = first;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        let r = blocking(move || {
            buf.resize(n, 0);
            file.read_exact(&mut buf)?;
            Ok((file, buf))
        })
        .await;
        match r {
            Ok((f, b)) => {
                file = f;
                buf = b;
            }
            // The header promised more bytes than we can deliver: only closing is honest.
            Err(e) => {
                return Err(crate::conn::Abort(format!(
                    "{}: read failed mid-download: {e}",
                    t.logical
                )))
            }
        }
        c.send(&buf).await?;
        left -= n as u64;
    }
    Ok(Ok(()))
}

/// Bytes to send for `offset`/`length` (0 = to the end) of a file of `size` bytes.
pub fn range(size: u64, offset: u64, length: u64) -> Result<u64, &'static str> {
    if size == 0 && offset == 0 {
        return Ok(0);
    }
    if offset >= size {
        return Err("offset beyond the end of the file");
    }
    let rest = size - offset;
    Ok(if length == 0 { rest } else { length.min(rest) })
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn ranges() {
        assert_eq!(range(0, 0, 0), Ok(0));
        assert_eq!(range(0, 0, 5), Ok(0));
        assert!(range(0, 1, 0).is_err());
        assert!(range(14, 14, 1).is_err());
        assert_eq!(range(14, 6, 7), Ok(7));
        assert_eq!(range(14, 6, 100), Ok(8));
        assert_eq!(range(14, 0, 0), Ok(14));
    }
}

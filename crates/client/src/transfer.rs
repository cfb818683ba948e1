//! Streaming upload and download: file content goes between the socket and a reader/writer in
//! chunks, never whole in memory, with a progress callback (the CLI draws a bar with it).

use std::time::Duration;

use fdfs_proto::frame::{decode_header, Limits, HEADER_LEN};
use fdfs_proto::storage::{AppendRequest, DownloadRequest, StoredFile, UploadRequest};
use fdfs_proto::{cmd, Body, IpWidth, Streamed};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Error, Result, Role};

const CHUNK: usize = 256 * 1024;

async fn connect(addr: &str, t: Duration) -> Result<TcpStream> {
    Ok(crate::error::dial(addr, t, Role::Storage).await?.0)
}

async fn io<T>(t: Duration, f: impl std::future::Future<Output = std::io::Result<T>>) -> Result<T> {
    Ok(tokio::time::timeout(t, f)
        .await
        .map_err(|_| Error::Timeout)??)
}

/// UPLOAD_FILE (11) of `size` bytes read from `src`. `timeout` applies to each network step.
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    addr: &str,
    store_path_index: u8,
    ext: &str,
    size: u64,
    src: &mut (impl AsyncRead + Unpin),
    timeout: Duration,
    progress: &mut dyn FnMut(u64),
) -> Result<StoredFile> {
    upload_as(
        cmd::UPLOAD_FILE,
        addr,
        store_path_index,
        ext,
        size,
        src,
        timeout,
        progress,
    )
    .await
}

/// UPLOAD_FILE (11) or UPLOAD_APPENDER_FILE (23), whichever `command` says.
#[allow(clippy::too_many_arguments)]
pub async fn upload_as(
    command: u8,
    addr: &str,
    store_path_index: u8,
    ext: &str,
    size: u64,
    src: &mut (impl AsyncRead + Unpin),
    timeout: Duration,
    progress: &mut dyn FnMut(u64),
) -> Result<StoredFile> {
    let head = UploadRequest {
        store_path_index,
        file_size: size,
        ext: ext.to_owned(),
    };
    let pkt = head.head_packet(command);
    let body = send(addr, command, &pkt, size, src, timeout, progress)
        .await
        .map_err(|e| e.at(Role::Storage, addr, None))?;
    StoredFile::decode(&body).map_err(|e| Error::from(e).at(Role::Storage, addr, None))
}

/// APPEND_FILE (24): `size` bytes from `src` go to the end of appender file `name` (no group).
pub async fn append(
    addr: &str,
    name: &str,
    size: u64,
    src: &mut (impl AsyncRead + Unpin),
    timeout: Duration,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let head = AppendRequest {
        file_name: name.to_owned(),
        append_size: size,
    };
    let pkt = head.head_packet(cmd::APPEND_FILE);
    send(addr, cmd::APPEND_FILE, &pkt, size, src, timeout, progress)
        .await
        .map(drop)
        .map_err(|e| e.at(Role::Storage, addr, Some(name)))
}

/// Sends `head` then `size` content bytes from `src`; returns the reply body.
async fn send(
    addr: &str,
    command: u8,
    head: &[u8],
    size: u64,
    src: &mut (impl AsyncRead + Unpin),
    timeout: Duration,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<u8>> {
    let mut s = connect(addr, timeout).await?;
    io(timeout, s.write_all(head)).await?;
    let mut buf = vec![0u8; CHUNK];
    let mut sent = 0u64;
    while sent < size {
        let want = usize::try_from(size - sent).unwrap_or(CHUNK).min(CHUNK);
        let n = src.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(Error::Protocol(format!(
                "local file shrank during upload: {sent} of {size} bytes"
            )));
        }
        io(timeout, s.write_all(&buf[..n])).await?;
        sent += n as u64;
        progress(sent);
    }
    let (status, len) = read_header(&mut s, timeout, Limits::STORAGE.max_body_len).await?;
    if status != 0 {
        return Err(Error::Status {
            cmd: command,
            status,
        });
    }
    let mut body = vec![0u8; len as usize];
    io(timeout, s.read_exact(&mut body)).await?;
    Ok(body)
}

/// DOWNLOAD_FILE (14) of the whole file into `dst`. Returns the byte count.
pub async fn download(
    addr: &str,
    group: &str,
    name: &str,
    dst: &mut (impl AsyncWrite + Unpin),
    timeout: Duration,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    download_range(addr, group, name, (0, 0), dst, timeout, progress).await
}

/// DOWNLOAD_FILE (14) of `length` bytes from `offset` (`range`; length 0 = to the end).
pub async fn download_range(
    addr: &str,
    group: &str,
    name: &str,
    (offset, length): (u64, u64),
    dst: &mut (impl AsyncWrite + Unpin),
    timeout: Duration,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let file = format!("{group}/{name}");
    download_inner(addr, group, name, (offset, length), dst, timeout, progress)
        .await
        .map_err(|e| e.at(Role::Storage, addr, Some(&file)))
}

#[allow(clippy::too_many_arguments)]
async fn download_inner(
    addr: &str,
    group: &str,
    name: &str,
    (offset, length): (u64, u64),
    dst: &mut (impl AsyncWrite + Unpin),
    timeout: Duration,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let mut s = connect(addr, timeout).await?;
    let req = DownloadRequest {
        offset,
        length,
        group: group.to_owned(),
        file_name: name.to_owned(),
    };
    let pkt = fdfs_proto::frame::packet(cmd::DOWNLOAD_FILE, 0, &req.to_bytes(IpWidth::V4));
    io(timeout, s.write_all(&pkt)).await?;
    let (status, total) = read_header(&mut s, timeout, u64::MAX >> 1).await?;
    if status != 0 {
        return Err(Error::Status {
            cmd: cmd::DOWNLOAD_FILE,
            status,
        });
    }
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    progress(0, total);
    while got < total {
        let want = usize::try_from(total - got).unwrap_or(CHUNK).min(CHUNK);
        let n = io(timeout, s.read(&mut buf[..want])).await?;
        if n == 0 {
            return Err(Error::Protocol(format!(
                "storage closed after {got} of {total} bytes"
            )));
        }
        dst.write_all(&buf[..n]).await?;
        got += n as u64;
        progress(got, total);
    }
    dst.flush().await?;
    Ok(got)
}

async fn read_header(s: &mut TcpStream, t: Duration, max: u64) -> Result<(u8, u64)> {
    let mut hb = [0u8; HEADER_LEN];
    io(t, s.read_exact(&mut hb)).await?;
    let h = decode_header(&hb, &Limits { max_body_len: max })
        .map_err(|e| Error::Protocol(e.to_string()))?
        .ok_or_else(|| Error::Protocol("short header".into()))?;
    Ok((h.status, h.pkg_len))
}

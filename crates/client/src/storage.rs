//! Storage-server client: one persistent connection, requests in sequence.

use std::time::Duration;

use fdfs_proto::common::FileRef;
use fdfs_proto::frame::{decode_header, Header, Limits, HEADER_LEN};
use fdfs_proto::storage::{
    AppendRequest, DownloadRequest, FileInfo, MetaOp, Metadata, ModifyRequest, SetMetadataRequest,
    SlaveUploadRequest, StoredFile, TruncateRequest, UploadRequest,
};
use fdfs_proto::{cmd, Body, IpWidth, Streamed};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::{Error, Result, Role};

#[derive(Debug, Clone, Copy)]
pub struct StorageOptions {
    /// Applies to connect and to every request.
    pub timeout: Duration,
    /// Largest response body accepted (downloads included).
    pub max_response: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            timeout: Duration::from_secs(30),
            max_response: 1 << 30,
        }
    }
}

pub struct StorageClient {
    stream: BufReader<TcpStream>,
    opts: StorageOptions,
    /// For errors: the address connected to.
    addr: String,
}

impl StorageClient {
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<StorageClient> {
        Self::connect_with(addr, StorageOptions::default()).await
    }

    pub async fn connect_with(
        addr: impl ToSocketAddrs,
        opts: StorageOptions,
    ) -> Result<StorageClient> {
        let (s, addr) = crate::error::dial(addr, opts.timeout, Role::Storage).await?;
        Ok(StorageClient {
            stream: BufReader::new(s),
            opts,
            addr,
        })
    }

    /// The storage's address (as connected to).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Places an error on this storage and, if given, the file.
    fn on(&self, group: &str, name: &str) -> impl Fn(Error) -> Error {
        let addr = self.addr.clone();
        let file = match group {
            "" => name.to_owned(),
            g => format!("{g}/{name}"),
        };
        move |e| e.at(Role::Storage, &addr, Some(&file))
    }

    /// Sends raw bytes and reads one response (header, body). Non-zero statuses are returned,
    /// not turned into errors: this is for tests and tools that inspect replies.
    pub async fn raw(&mut self, request: &[u8]) -> Result<(Header, Vec<u8>)> {
        let t = self.opts.timeout;
        tokio::time::timeout(t, async {
            self.stream.get_mut().write_all(request).await?;
            self.read_response().await
        })
        .await
        .map_err(|_| Error::Timeout)
        .and_then(|r| r)
        .map_err(|e| e.at(Role::Storage, &self.addr, None))
    }

    /// Reads one response (header + body) without sending anything.
    pub async fn read_response(&mut self) -> Result<(Header, Vec<u8>)> {
        let mut hb = [0u8; HEADER_LEN];
        self.stream.read_exact(&mut hb).await?;
        let limits = Limits {
            max_body_len: self.opts.max_response,
        };
        let h = decode_header(&hb, &limits)
            .map_err(|e| Error::Protocol(e.to_string()))?
            .ok_or_else(|| Error::Protocol("short header".into()))?;
        if h.status != 0 {
            // FastDFS error responses carry no body; pkg_len is to be ignored.
            return Ok((h, Vec::new()));
        }
        let mut body = vec![0u8; h.pkg_len as usize];
        self.stream.read_exact(&mut body).await?;
        Ok((h, body))
    }

    async fn call(
        &mut self,
        command: u8,
        status: u8,
        body: &[u8],
        content: &[u8],
    ) -> Result<Vec<u8>> {
        let mut pkt = Header {
            pkg_len: (body.len() + content.len()) as u64,
            cmd: command,
            status,
        }
        .encode()
        .to_vec();
        pkt.extend_from_slice(body);
        pkt.extend_from_slice(content);
        self.exchange(command, &pkt).await
    }

    async fn exchange(&mut self, command: u8, pkt: &[u8]) -> Result<Vec<u8>> {
        let (h, body) = self.raw(pkt).await?;
        if h.status != 0 {
            return Err(Error::Status {
                cmd: command,
                status: h.status,
            }
            .at(Role::Storage, &self.addr, None));
        }
        Ok(body)
    }

    async fn streamed<T: Streamed>(
        &mut self,
        command: u8,
        head: &T,
        content: &[u8],
    ) -> Result<Vec<u8>> {
        let mut pkt = head.head_packet(command);
        pkt.extend_from_slice(content);
        self.exchange(command, &pkt).await
    }

    /// UPLOAD_FILE (11). `store_path_index` 0xFF lets the storage choose.
    pub async fn upload(
        &mut self,
        store_path_index: u8,
        ext: &str,
        data: &[u8],
    ) -> Result<StoredFile> {
        self.upload_cmd(cmd::UPLOAD_FILE, store_path_index, ext, data)
            .await
    }

    /// UPLOAD_APPENDER_FILE (23).
    pub async fn upload_appender(
        &mut self,
        store_path_index: u8,
        ext: &str,
        data: &[u8],
    ) -> Result<StoredFile> {
        self.upload_cmd(cmd::UPLOAD_APPENDER_FILE, store_path_index, ext, data)
            .await
    }

    async fn upload_cmd(
        &mut self,
        command: u8,
        idx: u8,
        ext: &str,
        data: &[u8],
    ) -> Result<StoredFile> {
        let head = UploadRequest {
            store_path_index: idx,
            file_size: data.len() as u64,
            ext: ext.to_string(),
        };
        let body = self.streamed(command, &head, data).await?;
        StoredFile::decode(&body).map_err(|e| Error::from(e).at(Role::Storage, &self.addr, None))
    }

    /// UPLOAD_SLAVE_FILE (21): `master` is the master's logical name (no group).
    pub async fn upload_slave(
        &mut self,
        master: &str,
        prefix: &str,
        ext: &str,
        data: &[u8],
    ) -> Result<StoredFile> {
        let head = SlaveUploadRequest {
            master_file_name: master.to_string(),
            file_size: data.len() as u64,
            prefix: prefix.to_string(),
            ext: ext.to_string(),
        };
        let on = self.on("", master);
        let body = self
            .streamed(cmd::UPLOAD_SLAVE_FILE, &head, data)
            .await
            .map_err(&on)?;
        StoredFile::decode(&body).map_err(|e| on(e.into()))
    }

    /// DOWNLOAD_FILE (14); `length` 0 = to the end.
    pub async fn download(
        &mut self,
        group: &str,
        name: &str,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>> {
        let req = DownloadRequest {
            offset,
            length,
            group: group.to_string(),
            file_name: name.to_string(),
        };
        let on = self.on(group, name);
        self.call(cmd::DOWNLOAD_FILE, 0, &req.to_bytes(IpWidth::V4), &[])
            .await
            .map_err(on)
    }

    /// DELETE_FILE (12).
    pub async fn delete(&mut self, group: &str, name: &str) -> Result<()> {
        let body = file_ref(group, name);
        let on = self.on(group, name);
        self.call(cmd::DELETE_FILE, 0, &body, &[])
            .await
            .map(drop)
            .map_err(on)
    }

    /// SET_METADATA (13).
    pub async fn set_metadata(
        &mut self,
        group: &str,
        name: &str,
        op: MetaOp,
        meta: Metadata,
    ) -> Result<()> {
        let req = SetMetadataRequest {
            op,
            group: group.to_string(),
            file_name: name.to_string(),
            metadata: meta,
        };
        let on = self.on(group, name);
        self.call(cmd::SET_METADATA, 0, &req.to_bytes(IpWidth::V4), &[])
            .await
            .map(drop)
            .map_err(on)
    }

    /// GET_METADATA (15).
    pub async fn get_metadata(&mut self, group: &str, name: &str) -> Result<Metadata> {
        let on = self.on(group, name);
        let body = self
            .call(cmd::GET_METADATA, 0, &file_ref(group, name), &[])
            .await
            .map_err(&on)?;
        Metadata::parse(&body).map_err(|e| on(e.into()))
    }

    /// QUERY_FILE_INFO (22); `flags`: 1 = no CRC32, 2 = keep silence.
    pub async fn query_file_info(
        &mut self,
        group: &str,
        name: &str,
        flags: u8,
    ) -> Result<FileInfo> {
        let on = self.on(group, name);
        let body = self
            .call(cmd::QUERY_FILE_INFO, flags, &file_ref(group, name), &[])
            .await
            .map_err(&on)?;
        FileInfo::decode(&body).map_err(|e| on(e.into()))
    }

    /// APPEND_FILE (24).
    pub async fn append(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let head = AppendRequest {
            file_name: name.to_string(),
            append_size: data.len() as u64,
        };
        let on = self.on("", name);
        self.streamed(cmd::APPEND_FILE, &head, data)
            .await
            .map(drop)
            .map_err(on)
    }

    /// MODIFY_FILE (34).
    pub async fn modify(&mut self, name: &str, offset: u64, data: &[u8]) -> Result<()> {
        let head = ModifyRequest {
            file_name: name.to_string(),
            offset,
            size: data.len() as u64,
        };
        let on = self.on("", name);
        self.streamed(cmd::MODIFY_FILE, &head, data)
            .await
            .map(drop)
            .map_err(on)
    }

    /// TRUNCATE_FILE (36).
    pub async fn truncate(&mut self, name: &str, new_size: u64) -> Result<()> {
        let req = TruncateRequest {
            file_name: name.to_string(),
            new_size,
        };
        let on = self.on("", name);
        self.call(cmd::TRUNCATE_FILE, 0, &req.to_bytes(IpWidth::V4), &[])
            .await
            .map(drop)
            .map_err(on)
    }

    /// ACTIVE_TEST (111).
    pub async fn active_test(&mut self) -> Result<()> {
        self.call(cmd::ACTIVE_TEST, 0, &[], &[]).await.map(drop)
    }

    /// QUIT (82): no reply; the server closes.
    pub async fn quit(mut self) -> Result<()> {
        let pkt = Header::request(cmd::QUIT, 0).encode();
        self.stream.get_mut().write_all(&pkt).await?;
        Ok(())
    }
}

fn file_ref(group: &str, name: &str) -> Vec<u8> {
    FileRef {
        group: group.to_string(),
        file_name: name.to_string(),
    }
    .to_bytes(IpWidth::V4)
}

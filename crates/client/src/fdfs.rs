//! `FdfsClient`: file operations by file ID over a set of trackers. A tracker that cannot be
//! reached is skipped (the next one is tried), so one tracker down changes nothing; an answer
//! with a status from any tracker is final.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fdfs_proto::common::ServerAddr;
use fdfs_proto::storage::{FileInfo, MetaOp, Metadata};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::storage::{StorageClient, StorageOptions};
use crate::tracker::TrackerClient;
use crate::{transfer, Error, Result};

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub network_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            network_timeout: Duration::from_secs(60),
        }
    }
}

/// How to upload: the defaults are a normal file, placed by the tracker, no metadata.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// File extension for the ID (up to 6 characters, may be empty).
    pub ext: &'a str,
    /// Ask the tracker for a storage of this group (query 104) instead of any (101).
    pub group: Option<&'a str>,
    /// An appender file (23), which `append` can extend, instead of a normal one (11).
    pub appender: bool,
    /// Send to this storage `host:port` directly; the tracker is not asked.
    pub storage: Option<&'a str>,
    /// Store path index; default: the tracker's choice, or the storage's (0xFF) with `storage`.
    pub store_path_index: Option<u8>,
    /// Set right after the upload on the same storage.
    pub meta: &'a Metadata,
}

static NO_META: Metadata = Metadata(Vec::new());

impl Default for Upload<'_> {
    fn default() -> Self {
        Upload {
            ext: "",
            group: None,
            appender: false,
            storage: None,
            store_path_index: None,
            meta: &NO_META,
        }
    }
}

pub struct FdfsClient {
    trackers: Vec<String>,
    opts: ClientOptions,
    next: AtomicUsize,
}

/// Splits `group/Mxx/...` at the first `/`, as the C client does, with light checks.
pub fn split_file_id(id: &str) -> Result<(&str, &str)> {
    let bad = |why: &str| Error::Protocol(format!("invalid file ID {id:?}: {why}"));
    let (g, n) = id.split_once('/').ok_or_else(|| bad("no group"))?;
    fdfs_proto::fileid::validate_group_name(g.as_bytes()).map_err(|_| bad("bad group name"))?;
    if !(fdfs_proto::fileid::NORMAL_LOGIC_NAME_LEN..=fdfs_proto::fileid::MAX_LOGIC_NAME_LEN)
        .contains(&n.len())
    {
        return Err(bad("file name must be 44..=127 bytes"));
    }
    Ok((g, n))
}

fn addr(s: &ServerAddr) -> String {
    if s.ip.contains(':') {
        format!("[{}]:{}", s.ip, s.port)
    } else {
        format!("{}:{}", s.ip, s.port)
    }
}

impl FdfsClient {
    pub fn new(trackers: Vec<String>, opts: ClientOptions) -> Result<FdfsClient> {
        if trackers.is_empty() {
            return Err(Error::Protocol("no tracker configured".into()));
        }
        Ok(FdfsClient {
            trackers,
            opts,
            next: AtomicUsize::new(0),
        })
    }

    pub fn trackers(&self) -> &[String] {
        &self.trackers
    }

    pub fn options(&self) -> ClientOptions {
        self.opts
    }

    fn storage_opts(&self) -> StorageOptions {
        StorageOptions {
            timeout: self.opts.network_timeout,
            ..StorageOptions::default()
        }
    }

    /// Runs `f` on the first tracker that can be reached, starting from a rotating index so
    /// load spreads over trackers.
    pub async fn with_tracker<T>(
        &self,
        f: impl for<'a> Fn(&'a mut TrackerClient) -> BoxFut<'a, T>,
    ) -> Result<T> {
        let n = self.trackers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        for i in 0..n {
            let addr = &self.trackers[(start + i) % n];
            let mut t = match TrackerClient::connect(addr.as_str(), self.opts.connect_timeout).await
            {
                Ok(t) => t,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            match f(&mut t).await {
                Err(e @ (Error::Io(_) | Error::Timeout)) => last = Some(e),
                r => {
                    let _ = t.quit().await;
                    return r;
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Protocol("no tracker".into())))
    }

    async fn update_server(&self, group: &str, name: &str) -> Result<StorageClient> {
        let (g, n) = (group.to_owned(), name.to_owned());
        let s = self
            .with_tracker(move |t| {
                let (g, n) = (g.clone(), n.clone());
                Box::pin(async move { t.query_update(&g, &n).await })
            })
            .await?;
        StorageClient::connect_with(addr(&s), self.storage_opts()).await
    }

    async fn fetch_server(&self, group: &str, name: &str) -> Result<ServerAddr> {
        let (g, n) = (group.to_owned(), name.to_owned());
        self.with_tracker(move |t| {
            let (g, n) = (g.clone(), n.clone());
            Box::pin(async move { t.query_fetch(&g, &n).await })
        })
        .await
    }

    /// Uploads `size` bytes from `src`; returns the file ID. Metadata, if any, is set right
    /// after on the same storage (as the stock clients do).
    pub async fn upload_stream(
        &self,
        src: &mut (impl AsyncRead + Unpin),
        size: u64,
        ext: &str,
        group: Option<&str>,
        meta: &Metadata,
        progress: &mut dyn FnMut(u64),
    ) -> Result<String> {
        let how = Upload {
            ext,
            group,
            meta,
            ..Upload::default()
        };
        self.upload_with(src, size, &how, progress).await
    }

    /// Uploads `size` bytes from `src` as `how` says; returns the file ID.
    pub async fn upload_with(
        &self,
        src: &mut (impl AsyncRead + Unpin),
        size: u64,
        how: &Upload<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<String> {
        let (storage, idx) = match how.storage {
            Some(addr) => (addr.to_owned(), how.store_path_index.unwrap_or(0xFF)),
            None => {
                let g = how.group.map(str::to_owned);
                let target = self
                    .with_tracker(move |t| {
                        let g = g.clone();
                        Box::pin(async move { t.query_store(g.as_deref()).await })
                    })
                    .await?;
                let idx = how.store_path_index.unwrap_or(target.store_path_index);
                (addr(&target.server), idx)
            }
        };
        let command = if how.appender {
            fdfs_proto::cmd::UPLOAD_APPENDER_FILE
        } else {
            fdfs_proto::cmd::UPLOAD_FILE
        };
        let t = self.opts.network_timeout;
        let stored =
            transfer::upload_as(command, &storage, idx, how.ext, size, src, t, progress).await?;
        if !how.meta.0.is_empty() {
            let mut s = StorageClient::connect_with(storage.as_str(), self.storage_opts()).await?;
            s.set_metadata(
                &stored.group,
                &stored.file_name,
                MetaOp::Overwrite,
                how.meta.clone(),
            )
            .await?;
        }
        Ok(stored.file_id())
    }

    /// APPEND_FILE (24): adds `size` bytes from `src` to the end of an appender file, on the
    /// storage the tracker names for updates (the file's source).
    pub async fn append_stream(
        &self,
        file_id: &str,
        src: &mut (impl AsyncRead + Unpin),
        size: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let (g, n) = split_file_id(file_id)?;
        let (gq, nq) = (g.to_owned(), n.to_owned());
        let s = self
            .with_tracker(move |t| {
                let (g, n) = (gq.clone(), nq.clone());
                Box::pin(async move { t.query_update(&g, &n).await })
            })
            .await?;
        let t = self.opts.network_timeout;
        transfer::append(&addr(&s), n, size, src, t, progress)
            .await
            .map_err(|e| e.for_file(file_id))
    }

    /// Appends a buffer to an appender file.
    pub async fn append(&self, file_id: &str, data: &[u8]) -> Result<()> {
        let mut src = data;
        self.append_stream(file_id, &mut src, data.len() as u64, &mut |_| {})
            .await
    }

    /// Uploads a buffer; returns the file ID.
    pub async fn upload(&self, data: &[u8], ext: &str, group: Option<&str>) -> Result<String> {
        let mut src = data;
        let meta = Metadata::default();
        self.upload_stream(&mut src, data.len() as u64, ext, group, &meta, &mut |_| {})
            .await
    }

    /// Streams a file into `dst`; returns its size.
    pub async fn download_to(
        &self,
        file_id: &str,
        dst: &mut (impl AsyncWrite + Unpin),
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        self.download_range_to(file_id, 0, 0, dst, progress).await
    }

    /// Streams `length` bytes from `offset` into `dst` (length 0 = to the end).
    pub async fn download_range_to(
        &self,
        file_id: &str,
        offset: u64,
        length: u64,
        dst: &mut (impl AsyncWrite + Unpin),
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        let (g, n) = split_file_id(file_id)?;
        let s = self.fetch_server(g, n).await?;
        let t = self.opts.network_timeout;
        transfer::download_range(&addr(&s), g, n, (offset, length), dst, t, progress)
            .await
            .map_err(|e| e.for_file(file_id))
    }

    /// Downloads a whole file into memory.
    pub async fn download(&self, file_id: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.download_to(file_id, &mut out, &mut |_, _| {}).await?;
        Ok(out)
    }

    pub async fn delete(&self, file_id: &str) -> Result<()> {
        let (g, n) = split_file_id(file_id)?;
        let r = async { self.update_server(g, n).await?.delete(g, n).await };
        r.await.map_err(|e| e.for_file(file_id))
    }

    pub async fn set_metadata(&self, file_id: &str, op: MetaOp, meta: Metadata) -> Result<()> {
        let (g, n) = split_file_id(file_id)?;
        let r = async {
            self.update_server(g, n)
                .await?
                .set_metadata(g, n, op, meta)
                .await
        };
        r.await.map_err(|e| e.for_file(file_id))
    }

    pub async fn get_metadata(&self, file_id: &str) -> Result<Metadata> {
        let (g, n) = split_file_id(file_id)?;
        let r = async {
            let s = self.fetch_server(g, n).await?;
            let mut c = StorageClient::connect_with(addr(&s), self.storage_opts()).await?;
            c.get_metadata(g, n).await
        };
        r.await.map_err(|e| e.for_file(file_id))
    }

    /// QUERY_FILE_INFO (22) on a storage that has the file.
    pub async fn query_file_info(&self, file_id: &str) -> Result<FileInfo> {
        self.query_file_info_flags(file_id, 0).await
    }

    /// QUERY_FILE_INFO (22) with `flags`: 1 = do not compute the CRC32 of appender files,
    /// 2 = the storage logs nothing when the file is missing.
    pub async fn query_file_info_flags(&self, file_id: &str, flags: u8) -> Result<FileInfo> {
        let (g, n) = split_file_id(file_id)?;
        let r = async {
            let s = self.fetch_server(g, n).await?;
            let mut c = StorageClient::connect_with(addr(&s), self.storage_opts()).await?;
            c.query_file_info(g, n, flags).await
        };
        r.await.map_err(|e| e.for_file(file_id))
    }
}

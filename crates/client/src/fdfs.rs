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
        let g = group.map(str::to_owned);
        let target = self
            .with_tracker(move |t| {
                let g = g.clone();
                Box::pin(async move { t.query_store(g.as_deref()).await })
            })
            .await?;
        let storage = addr(&target.server);
        let t = self.opts.network_timeout;
        let idx = target.store_path_index;
        let stored = transfer::upload(&storage, idx, ext, size, src, t, progress).await?;
        if !meta.0.is_empty() {
            let mut s = StorageClient::connect_with(storage.as_str(), self.storage_opts()).await?;
            s.set_metadata(
                &stored.group,
                &stored.file_name,
                MetaOp::Overwrite,
                meta.clone(),
            )
            .await?;
        }
        Ok(stored.file_id())
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
        let (g, n) = split_file_id(file_id)?;
        let s = self.fetch_server(g, n).await?;
        transfer::download(&addr(&s), g, n, dst, self.opts.network_timeout, progress).await
    }

    /// Downloads a whole file into memory.
    pub async fn download(&self, file_id: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.download_to(file_id, &mut out, &mut |_, _| {}).await?;
        Ok(out)
    }

    pub async fn delete(&self, file_id: &str) -> Result<()> {
        let (g, n) = split_file_id(file_id)?;
        self.update_server(g, n).await?.delete(g, n).await
    }

    pub async fn set_metadata(&self, file_id: &str, op: MetaOp, meta: Metadata) -> Result<()> {
        let (g, n) = split_file_id(file_id)?;
        self.update_server(g, n)
            .await?
            .set_metadata(g, n, op, meta)
            .await
    }

    pub async fn get_metadata(&self, file_id: &str) -> Result<Metadata> {
        let (g, n) = split_file_id(file_id)?;
        let s = self.fetch_server(g, n).await?;
        let mut c = StorageClient::connect_with(addr(&s), self.storage_opts()).await?;
        c.get_metadata(g, n).await
    }

    /// QUERY_FILE_INFO (22) on a storage that has the file.
    pub async fn query_file_info(&self, file_id: &str) -> Result<FileInfo> {
        let (g, n) = split_file_id(file_id)?;
        let s = self.fetch_server(g, n).await?;
        let mut c = StorageClient::connect_with(addr(&s), self.storage_opts()).await?;
        c.query_file_info(g, n, 0).await
    }
}

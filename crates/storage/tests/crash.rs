//! kill -9 during a stream of uploads: after restart every acknowledged file is intact and
//! no file sits under a final name with content that does not match that name.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{bytes, Daemon, GROUP};
use fdfs_proto::fileid::{parse_logical_name, FileType};

/// Checks every data file on disk against its own name (size and CRC are encoded in it).
fn assert_no_partial_files(d: &Daemon) -> usize {
    let files = d.data_files();
    for p in &files {
        let rel = p
            .strip_prefix(d.base())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let logical = format!("M00/{}", rel.strip_prefix("data/").unwrap());
        let id =
            parse_logical_name(logical.as_bytes()).unwrap_or_else(|e| panic!("{logical}: {e}"));
        let dec = id.decode();
        assert_eq!(dec.file_type(), FileType::Normal);
        let content = std::fs::read(p).unwrap();
        assert_eq!(
            Some(content.len() as u64),
            dec.size(),
            "partial file {logical}"
        );
        assert_eq!(
            fdfs_proto::fileid::Crc32::checksum(&content),
            dec.crc32,
            "corrupt file {logical}"
        );
    }
    files.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_uploads_journal_ordered() {
    kill9_during_uploads_loses_no_acknowledged_file("auto").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_uploads_fsync_per_file() {
    kill9_during_uploads_loses_no_acknowledged_file("fsync").await;
}

async fn kill9_during_uploads_loses_no_acknowledged_file(durability: &str) {
    let mut d = Daemon::start(&format!("[sync]\ndurability = \"{durability}\"\n"));
    let acked: Arc<Mutex<Vec<(String, u32, usize)>>> = Arc::default();
    for round in 0..2u64 {
        let mut tasks = Vec::new();
        for w in 0..6u64 {
            let (addr, acked) = (d.addr(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let Ok(mut c) = fdfs_client::StorageClient::connect(addr).await else {
                    return;
                };
                for i in 0.. {
                    // Sizes cross the 256 KiB streaming threshold now and then.
                    let len = if i % 7 == 0 {
                        300_000
                    } else {
                        (i * 977 + w as usize * 131) % 40_000
                    };
                    let data = bytes(len, round * 1_000_000 + w * 10_000 + i as u64);
                    match c.upload(0, "bin", &data).await {
                        Ok(f) => acked.lock().unwrap().push((
                            f.file_name,
                            fdfs_proto::fileid::Crc32::checksum(&data),
                            len,
                        )),
                        Err(_) => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        d.kill9();
        for t in tasks {
            t.await.unwrap();
        }
        d.spawn();
        // Interrupted uploads' temp files are removed at start.
        assert!(d.tmp_files().is_empty(), "{:?}", d.tmp_files());
        let on_disk = assert_no_partial_files(&d);
        let acked = acked.lock().unwrap().clone();
        assert!(
            acked.len() > 20,
            "too few uploads to mean anything: {}",
            acked.len()
        );
        assert!(on_disk >= acked.len());
        let mut c = d.client().await;
        for (name, crc, len) in &acked {
            let got = c.download(GROUP, name, 0, 0).await.unwrap();
            assert_eq!(
                (got.len(), fdfs_proto::fileid::Crc32::checksum(&got)),
                (*len, *crc),
                "{name}"
            );
        }
        // Every acknowledged upload is in the binlog.
        let log = d.binlog();
        for (name, _, _) in &acked {
            assert!(
                log.contains(&format!(" C {name}\n")),
                "{name} missing from binlog"
            );
        }
    }
}

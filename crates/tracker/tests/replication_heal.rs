//! Issue 22: a member that dies before pushing its newest uploads to every peer and comes
//! back with an empty store must still get those files to every member. Real processes on
//! loopback ports 19500..19599 (this test's range).

mod common;
mod repl;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use fdfs_client::StorageClient;
use repl::*;

const FILES: usize = 50;

fn store(d: &Path) -> String {
    format!("store_paths = [{:?}]", d.join("p0"))
}

/// Downloads `name` from the storage at `addr` itself (not tracker-routed).
async fn get_from(addr: &str, name: &str) -> Option<Vec<u8>> {
    let mut c = StorageClient::connect(addr).await.ok()?;
    c.download("group1", name, 0, 0).await.ok()
}

/// Waits until every file of `files` is on every member of `addrs`, byte for byte; panics
/// with the count per member that still lacks some.
async fn wait_everywhere(addrs: &[String], files: &[(String, Vec<u8>)], within: Duration) {
    let t0 = Instant::now();
    loop {
        let mut missing = Vec::new();
        for a in addrs {
            let mut n = 0;
            for (name, body) in files {
                if get_from(a, name).await.as_deref() != Some(body.as_slice()) {
                    n += 1;
                }
            }
            missing.push((a.clone(), n));
        }
        if missing.iter().all(|(_, n)| *n == 0) {
            return;
        }
        assert!(
            t0.elapsed() < within,
            "after {within:?} files still missing or different per member (of {}): {missing:?}",
            files.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Stop C, upload to B (acknowledged, on A and B), kill -9 B, wipe B's store path (or its
/// whole base path with `wipe_base`), resume C, restart B: everything reaches all three.
fn heal_after_wipe(port0: u16, wipe_base: bool) {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let tr = tracker_on(&dir.path().join("t"), port0, TRACKER_CONF);
        let ts = [tr.addr()];
        let d: Vec<_> = (1..=3).map(|i| dir.path().join(format!("s{i}"))).collect();
        let a = storage_id_with(&d[0], port0 + 1, 100001, &ts, &store(&d[0]));
        let mut b = storage_id_with(&d[1], port0 + 2, 100002, &ts, &store(&d[1]));
        let c = storage_id_with(&d[2], port0 + 3, 100003, &ts, &store(&d[2]));
        for s in [&a, &b, &c] {
            wait_status(
                &tr.addr(),
                "group1",
                s.port,
                ACTIVE,
                Duration::from_secs(30),
            )
            .await;
        }
        c.signal("STOP");
        let mut up = StorageClient::connect(b.addr()).await.unwrap();
        let mut files = Vec::new();
        for i in 0..FILES {
            let body = data(i, 1000 + i * 13);
            let f = up.upload(0, "bin", &body).await.unwrap();
            files.push((f.file_name, body));
        }
        drop(up);
        // Acknowledged and on A too: a copy survives B's wipe.
        wait_everywhere(&[a.addr()], &files, Duration::from_secs(30)).await;
        b.kill9();
        if wipe_base {
            std::fs::remove_dir_all(&b.dir).unwrap();
            write_config_with(&b.dir, b.port, 100002, &ts, &store(&b.dir));
        } else {
            std::fs::remove_dir_all(b.dir.join("p0")).unwrap();
        }
        c.signal("CONT");
        respawn(&mut b);
        let all = [a.addr(), b.addr(), c.addr()];
        wait_everywhere(&all, &files, Duration::from_secs(60)).await;
    });
}

#[test]
fn wiped_store_path_of_source_heals_everywhere() {
    heal_after_wipe(19500, false);
}

#[test]
fn wiped_base_path_of_source_heals_everywhere() {
    heal_after_wipe(19510, true);
}

//! The receiving side of replication (9, 16/17/18, 26) against the real daemon: what a
//! peer's push does on disk, idempotent repeats, and bad input (wrong group, traversal,
//! length mismatch, oversized, vanished sender) refused without leaving anything behind.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::{raw_exchange, read_until_quiet, Daemon, GROUP};
use fdfs_proto::common::ServerId;
use fdfs_proto::fileid::{self, SizeKind, Source};
use fdfs_proto::frame::{packet, Header};
use fdfs_proto::storage::{FetchPathBinlog, SyncCopyRequest, SyncDeleteRequest};
use fdfs_proto::{cmd, status, Body, IpWidth, Streamed};
use tokio::io::AsyncWriteExt;

const QUIET: Duration = Duration::from_millis(1500);
const TS: u32 = 1_700_000_000;

fn header_only(st: u8) -> Vec<u8> {
    Header::response(st, 0).encode().to_vec()
}

/// A valid name as another storage (server id 7) would have made it.
fn peer_name(n: u32, content: &[u8]) -> String {
    let crc = fileid::Crc32::checksum(content);
    let size = fileid::masked_size(SizeKind::Normal, content.len() as u64, n);
    let raw = fileid::encode_raw(Source::ServerId(7), TS as i32, size, crc);
    let ext = fileid::format_ext("bin", || 1).unwrap();
    fileid::logical_name(0, 1, 2, &raw, None, &ext)
}

fn copy_pkt(c: u8, group: &str, name: &str, content: &[u8]) -> Vec<u8> {
    let req = SyncCopyRequest {
        file_name: name.into(),
        file_size: content.len() as u64,
        timestamp: TS,
        group: group.into(),
        has_content: true,
    };
    let mut p = req.head_packet(c);
    p.extend_from_slice(content);
    p
}

fn delete_pkt(name: &str) -> Vec<u8> {
    SyncDeleteRequest {
        timestamp: TS + 5,
        group: GROUP.into(),
        file_name: name.into(),
    }
    .packet(cmd::SYNC_DELETE_FILE, 0, IpWidth::V4)
}

fn on_disk(d: &Daemon, name: &str) -> std::path::PathBuf {
    d.base().join("data").join(&name[4..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_applies_like_the_source_and_repeats_are_harmless() {
    {
        let d = Daemon::start("");
        let a = d.addr();
        let content = b"replicated content".to_vec();
        let name = peer_name(1, &content);
        let id = ServerId { id: "7".into() }.packet(cmd::STORAGE_REPORT_SERVER_ID, 0, IpWidth::V4);
        assert_eq!(raw_exchange(&a, &id, QUIET).await.0, header_only(0));

        let pkt = copy_pkt(cmd::SYNC_CREATE_FILE, GROUP, &name, &content);
        assert_eq!(raw_exchange(&a, &pkt, QUIET).await.0, header_only(0));
        let p = on_disk(&d, &name);
        assert_eq!(std::fs::read(&p).unwrap(), content);
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
        assert_eq!(
            mtime.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            u64::from(TS)
        );
        // The same create again: EEXIST, nothing logged twice.
        assert_eq!(
            raw_exchange(&a, &pkt, QUIET).await.0,
            header_only(status::EEXIST)
        );
        // Metadata sidecar via update.
        let meta = b"w\x02640".to_vec();
        let mname = format!("{name}-m");
        let upd = copy_pkt(cmd::SYNC_UPDATE_FILE, GROUP, &mname, &meta);
        assert_eq!(raw_exchange(&a, &upd, QUIET).await.0, header_only(0));
        let mut mp = p.clone().into_os_string();
        mp.push("-m");
        assert_eq!(std::fs::read(&mp).unwrap(), meta);
        // Downloadable like any file.
        let mut c = d.client().await;
        assert_eq!(c.download(GROUP, &name, 0, 0).await.unwrap(), content);
        // Delete, and a repeated delete of a file that is gone: both fine.
        assert_eq!(
            raw_exchange(&a, &delete_pkt(&name), QUIET).await.0,
            header_only(0)
        );
        assert!(!p.exists() && !std::path::Path::new(&mp).exists());
        assert_eq!(
            raw_exchange(&a, &delete_pkt(&name), QUIET).await.0,
            header_only(0)
        );
        // Metadata for a file that no longer exists is not resurrected.
        assert_eq!(
            raw_exchange(&a, &upd, QUIET).await.0,
            header_only(status::ENOENT)
        );
        assert!(!std::path::Path::new(&mp).exists());
        let log = d.binlog();
        let ops: Vec<&str> = log.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
        assert_eq!(
            ops,
            ["c", "u", "d"],
            "replicated ops are lowercase, once each:\n{log}"
        );
        assert!(log.starts_with(&format!("{TS} c {name}\n")));

        // 26 returns the binlog text.
        let f = FetchPathBinlog {
            group: GROUP.into(),
            store_path_index: 0,
        }
        .packet(cmd::FETCH_ONE_PATH_BINLOG, 0, IpWidth::V4);
        let (got, _) = raw_exchange(&a, &f, QUIET).await;
        assert_eq!(&got[10..], log.as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pushes_are_refused_and_leave_nothing() {
    {
        let d = Daemon::start("[limits]\nmax_file_size = \"1M\"\n");
        let a = d.addr();
        let content = b"abc".to_vec();
        let name = peer_name(2, &content);
        let einval = header_only(status::EINVAL);
        // Wrong group: refused and closed.
        let (got, closed) = raw_exchange(
            &a,
            &copy_pkt(cmd::SYNC_CREATE_FILE, "other", &name, &content),
            QUIET,
        )
        .await;
        assert_eq!((got, closed), (einval.clone(), true));
        // Traversal and malformed names.
        for bad in [
            "M00/../../../../etc/passwd_xxxxxxxxxxxxxxxxxxxxxxxxxx",
            "M00/01/02/../../../x/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt",
            "M05/01/02/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt",
        ] {
            let (got, closed) = raw_exchange(
                &a,
                &copy_pkt(cmd::SYNC_CREATE_FILE, GROUP, bad, &content),
                QUIET,
            )
            .await;
            assert_eq!((got, closed), (einval.clone(), true), "{bad}");
            let (got, _) = raw_exchange(&a, &delete_pkt(bad), QUIET).await;
            assert_eq!(got, einval, "delete {bad}");
        }
        // Declared size does not match pkg_len.
        // The head says 3 content bytes, pkg_len says 4.
        let mut p = copy_pkt(cmd::SYNC_CREATE_FILE, GROUP, &name, &content);
        p.push(b'!');
        p[7] += 1;
        let (got, closed) = raw_exchange(&a, &p, QUIET).await;
        assert_eq!((got, closed), (einval.clone(), true));
        // Over max_file_size: refused before any content is read.
        let huge = SyncCopyRequest {
            file_name: name.clone(),
            file_size: 1 << 30,
            timestamp: TS,
            group: GROUP.into(),
            has_content: true,
        }
        .head_packet(cmd::SYNC_CREATE_FILE);
        let (got, closed) = raw_exchange(&a, &huge, QUIET).await;
        assert_eq!((got, closed), (einval.clone(), true));
        // A sender that vanishes mid-content: no file, no temp file, no record.
        let full = copy_pkt(cmd::SYNC_CREATE_FILE, GROUP, &name, &vec![7u8; 100_000]);
        let mut s = tokio::net::TcpStream::connect(&a).await.unwrap();
        s.write_all(&full[..full.len() - 50_000]).await.unwrap();
        drop(s);
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Bad server id and bad binlog requests.
        let (got, _) = raw_exchange(
            &a,
            &packet(cmd::STORAGE_REPORT_SERVER_ID, 0, b"short"),
            QUIET,
        )
        .await;
        assert_eq!(got, einval);
        let f = FetchPathBinlog {
            group: GROUP.into(),
            store_path_index: 9,
        }
        .packet(cmd::FETCH_ONE_PATH_BINLOG, 0, IpWidth::V4);
        assert_eq!(raw_exchange(&a, &f, QUIET).await.0, einval);
        assert!(!on_disk(&d, &name).exists());
        assert!(d.tmp_files().is_empty(), "{:?}", d.tmp_files());
        assert_eq!(d.binlog(), "");
        // Still serving, and the stream stays usable after a harmless refusal.
        let mut s = tokio::net::TcpStream::connect(&a).await.unwrap();
        s.write_all(&delete_pkt(&name)).await.unwrap();
        s.write_all(&packet(cmd::ACTIVE_TEST, 0, &[]))
            .await
            .unwrap();
        let (got, _) = read_until_quiet(&mut s, QUIET).await;
        assert_eq!(got, [header_only(0), header_only(0)].concat());
    }
}

//! Bad input and limits: each answered with FastDFS's errno status, logged, no panic, no
//! leaked temp file, and the daemon keeps serving.

mod common;

use std::time::Duration;

use common::{raw_exchange, read_until_quiet, Daemon, GROUP};
use fdfs_proto::frame::{packet, Header};
use fdfs_proto::storage::UploadRequest;
use fdfs_proto::{cmd, status, Streamed};
use tokio::io::AsyncWriteExt;

const QUIET: Duration = Duration::from_millis(1500);

fn header_only(st: u8) -> Vec<u8> {
    Header::response(st, 0).encode().to_vec()
}

fn file_ref(group: &str, name: &str) -> Vec<u8> {
    let mut b = group.as_bytes().to_vec();
    b.resize(16, 0);
    b.extend_from_slice(name.as_bytes());
    b
}

fn set_meta(meta: &[u8]) -> Vec<u8> {
    let name = "M00/00/00/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt";
    let mut b = (name.len() as u64).to_be_bytes().to_vec();
    b.extend_from_slice(&(meta.len() as u64).to_be_bytes());
    b.push(b'O');
    b.extend_from_slice(&file_ref(GROUP, name));
    b.extend_from_slice(meta);
    b
}

async fn still_serving(d: &Daemon) {
    let mut c = d.client().await;
    let f = c.upload(0, "txt", b"alive").await.unwrap();
    assert_eq!(
        c.download(GROUP, &f.file_name, 0, 0).await.unwrap(),
        b"alive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_get_einval_and_close() {
    let d = Daemon::start("");
    let cases: Vec<(&str, Vec<u8>, u8)> = vec![
        ("unknown command", packet(200, 0, b""), status::EINVAL),
        (
            "negative pkg_len",
            [0xFFu8; 8]
                .iter()
                .copied()
                .chain([cmd::DOWNLOAD_FILE, 0])
                .collect(),
            status::EINVAL,
        ),
        (
            "huge declared body",
            Header::request(cmd::DELETE_FILE, 1 << 40).encode().to_vec(),
            status::EINVAL,
        ),
        (
            "active test with body",
            packet(cmd::ACTIVE_TEST, 0, b"x"),
            status::EINVAL,
        ),
        (
            "wrong group",
            packet(
                cmd::DELETE_FILE,
                0,
                &file_ref("group2", "M00/00/00/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt"),
            ),
            status::EINVAL,
        ),
        (
            "path traversal",
            packet(
                cmd::DELETE_FILE,
                0,
                &file_ref(GROUP, "M00/../../../../etc/passwd/AAAAAAAAAAAAAAAAAAA.txt"),
            ),
            status::EINVAL,
        ),
        (
            "lowercase dirs",
            packet(
                cmd::DELETE_FILE,
                0,
                &file_ref(GROUP, "M00/0a/00/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt"),
            ),
            status::EINVAL,
        ),
        (
            "metadata sidecar name",
            packet(
                cmd::GET_METADATA,
                0,
                &file_ref(GROUP, "M00/00/00/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt-m"),
            ),
            status::EINVAL,
        ),
        (
            "store path out of range",
            packet(
                cmd::DELETE_FILE,
                0,
                &file_ref(GROUP, "M05/00/00/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt"),
            ),
            status::EINVAL,
        ),
        (
            "short body",
            packet(cmd::DOWNLOAD_FILE, 0, b"\0\0\0"),
            status::EINVAL,
        ),
        (
            "metadata without 0x02",
            packet(cmd::SET_METADATA, 0, &set_meta(b"noseparator")),
            status::EINVAL,
        ),
        (
            "metadata name over 64 bytes",
            packet(
                cmd::SET_METADATA,
                0,
                &set_meta(&[&[b'n'; 65][..], b"\x02v"].concat()),
            ),
            status::EINVAL,
        ),
    ];
    for (what, req, st) in cases {
        let (got, closed) = raw_exchange(&d.addr(), &req, QUIET).await;
        assert_eq!(got, header_only(st), "{what}");
        assert!(closed, "{what}: connection should be closed after EINVAL");
    }
    // QUIT: no reply, connection closed.
    let (got, closed) = raw_exchange(&d.addr(), &packet(cmd::QUIT, 0, b""), QUIET).await;
    assert!(got.is_empty() && closed);
    // Missing file: ENOENT and the connection stays open.
    let (got, closed) = raw_exchange(
        &d.addr(),
        &packet(
            cmd::DELETE_FILE,
            0,
            &file_ref(GROUP, "M00/00/00/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt"),
        ),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(got, header_only(status::ENOENT));
    assert!(!closed);
    let log = d.log();
    assert!(log.contains("unknown command 200"), "{log}");
    assert!(log.contains("exceeds max_request_body"), "{log}");
    still_serving(&d).await;
}

fn upload_head(size: u64, ext: &str) -> Vec<u8> {
    UploadRequest {
        store_path_index: 0,
        file_size: size,
        ext: ext.into(),
    }
    .head_packet(cmd::UPLOAD_FILE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_limits_and_malformed_heads() {
    let d = Daemon::start("[limits]\nmax_file_size = \"64K\"\n");
    // Declared size over max_file_size: refused before reading the content.
    let (got, closed) = raw_exchange(&d.addr(), &upload_head(65 * 1024, "bin"), QUIET).await;
    assert_eq!(got, header_only(status::EINVAL));
    assert!(closed);
    // pkg_len disagreeing with file_size.
    let mut bad = upload_head(10, "bin");
    bad[7] = 15 + 11;
    let (got, _) = raw_exchange(&d.addr(), &bad, QUIET).await;
    assert_eq!(got, header_only(status::EINVAL));
    // Extension with a forbidden character (FastDFS: EINVAL).
    let mut req = upload_head(3, "a+b");
    req.extend_from_slice(b"abc");
    let (got, _) = raw_exchange(&d.addr(), &req, QUIET).await;
    assert_eq!(got, header_only(status::EINVAL));
    // Store path index that does not exist.
    let mut req = upload_head(3, "txt");
    req[10] = 7;
    req.extend_from_slice(b"abc");
    let (got, _) = raw_exchange(&d.addr(), &req, QUIET).await;
    assert_eq!(got, header_only(status::EINVAL));
    assert!(d.data_files().is_empty());
    assert!(d.tmp_files().is_empty());
    still_serving(&d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_stalled_uploads_leave_nothing() {
    let d = Daemon::start("[limits]\nnetwork_timeout = 1\n");
    // Client vanishes mid-body (small file path and streamed path).
    for size in [10_000u64, 3 << 20] {
        let mut s = tokio::net::TcpStream::connect(d.addr()).await.unwrap();
        s.write_all(&upload_head(size, "bin")).await.unwrap();
        s.write_all(&vec![7u8; (size / 2) as usize]).await.unwrap();
        drop(s);
    }
    // Client stalls mid-body: network_timeout closes it.
    let mut s = tokio::net::TcpStream::connect(d.addr()).await.unwrap();
    s.write_all(&upload_head(1 << 20, "bin")).await.unwrap();
    s.write_all(&vec![7u8; 300 * 1024]).await.unwrap();
    let (got, closed) = read_until_quiet(&mut s, Duration::from_secs(5)).await;
    assert!(got.is_empty() && closed, "stalled upload must be cut off");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(d.data_files().is_empty(), "{:?}", d.data_files());
    assert!(d.tmp_files().is_empty(), "{:?}", d.tmp_files());
    assert!(d.binlog().is_empty());
    let log = d.log();
    assert!(log.contains("mid-request"), "{log}");
    assert!(log.contains("timed out"), "{log}");
    still_serving(&d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_space_answers_enospc() {
    // More reserve than this disk will ever have free.
    let d = Daemon::start("reserved_storage_space = \"99.99%\"\n");
    let mut c = d.client().await;
    let e = c.upload(0, "txt", b"no room").await.unwrap_err();
    assert_eq!(e.status(), Some(status::ENOSPC));
    assert!(d.data_files().is_empty());
    assert!(d.tmp_files().is_empty());
    assert!(d.log().contains("reserved space"));
    let d = Daemon::start("reserved_storage_space = \"1000000T\"\n");
    let mut c = d.client().await;
    let e = c.upload_appender(0, "log", b"x").await.unwrap_err();
    assert_eq!(e.status(), Some(status::ENOSPC));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_allow_hosts_and_connection_limit() {
    let d = Daemon::start("[limits]\nidle_timeout = 1\nmax_connections = 2\n");
    // Let the harness's readiness probe connection be released first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut idle = tokio::net::TcpStream::connect(d.addr()).await.unwrap();
    let mut second = d.client().await;
    second.active_test().await.unwrap();
    // Third connection is over the limit: closed without a reply.
    let (got, closed) = raw_exchange(&d.addr(), &packet(cmd::ACTIVE_TEST, 0, b""), QUIET).await;
    assert!(got.is_empty() && closed);
    let (got, closed) = read_until_quiet(&mut idle, Duration::from_secs(4)).await;
    assert!(got.is_empty() && closed, "idle connection must be closed");
    assert!(d.log().contains("idle timeout"));
    drop(second);

    let d = Daemon::start("allow_hosts = [\"10.0.0.0/8\"]\n");
    let (got, closed) = raw_exchange(&d.addr(), &packet(cmd::ACTIVE_TEST, 0, b""), QUIET).await;
    assert!(got.is_empty() && closed);
    assert!(d.log().contains("allow_hosts"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_reader_that_stops_reading_is_cut_off() {
    let d = Daemon::start("[limits]\nnetwork_timeout = 1\n");
    let mut c = d.client().await;
    let big = vec![9u8; 48 << 20];
    let f = c.upload(0, "bin", &big).await.unwrap();
    let mut s = tokio::net::TcpStream::connect(d.addr()).await.unwrap();
    let mut req = 0u64.to_be_bytes().to_vec();
    req.extend_from_slice(&0u64.to_be_bytes());
    req.extend_from_slice(&file_ref(GROUP, &f.file_name));
    s.write_all(&packet(cmd::DOWNLOAD_FILE, 0, &req))
        .await
        .unwrap();
    // Never read: the server's writes stall and network_timeout ends the connection.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !d.log().contains("write timed out") {
        assert!(
            std::time::Instant::now() < deadline,
            "stalled download not cut off\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    still_serving(&d).await;
}

/// Every name a strict validator must refuse (testdata `invalid_names`) gets EINVAL from
/// DOWNLOAD and DELETE, never a file-system lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_file_ids_from_testdata_are_einval() {
    let ids: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::testdata().join("fastdfs-file-ids.json")).unwrap(),
    )
    .unwrap();
    let d = Daemon::start("");
    let names = ids["invalid_names"].as_array().unwrap();
    assert!(names.len() >= 50);
    for n in names {
        let id = n["file_id"].as_str().unwrap();
        let (group, name) = id.split_once('/').unwrap_or((id, ""));
        let mut fr = group.as_bytes()[..group.len().min(16)].to_vec();
        fr.resize(16, 0);
        fr.extend_from_slice(name.as_bytes());
        let mut dl = [0u8; 16].to_vec();
        dl.extend_from_slice(&fr);
        for req in [
            packet(cmd::DOWNLOAD_FILE, 0, &dl),
            packet(cmd::DELETE_FILE, 0, &fr),
        ] {
            let (got, closed) = raw_exchange(&d.addr(), &req, QUIET).await;
            assert_eq!(got, header_only(status::EINVAL), "{id:?}");
            assert!(closed, "{id:?}");
        }
    }
    still_serving(&d).await;
}

/// Garbage never crashes the daemon: random commands with random (often lying) lengths and
/// random bodies, including every storage command code, then a normal round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_garbage_never_crashes() {
    let d = Daemon::start("[limits]\nnetwork_timeout = 1\n");
    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let addr = d.addr();
        tasks.push(tokio::spawn(async move {
            for i in 0..60u64 {
                let seed = t * 1000 + i;
                let noise = common::bytes(64, seed);
                let cmd =
                    [11u8, 12, 13, 14, 15, 21, 22, 23, 24, 34, 36, 111, noise[0]][i as usize % 13];
                let body_len = (noise[1] as usize) * (noise[2] as usize % 9);
                let declared = match noise[3] % 4 {
                    0 => body_len as u64,
                    1 => body_len as u64 + u64::from(noise[4]),
                    2 => body_len.saturating_sub(usize::from(noise[4])) as u64,
                    _ => u64::from_be_bytes(noise[8..16].try_into().unwrap()),
                };
                let mut req = Header {
                    pkg_len: declared,
                    cmd,
                    status: noise[5],
                }
                .encode()
                .to_vec();
                req.extend_from_slice(&common::bytes(body_len, seed + 7));
                let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
                    panic!("daemon stopped accepting");
                };
                let _ = s.write_all(&req).await;
                let _ = read_until_quiet(&mut s, Duration::from_millis(50)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    still_serving(&d).await;
    assert!(!d.log().contains("panicked"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(d.tmp_files().is_empty(), "{:?}", d.tmp_files());
}

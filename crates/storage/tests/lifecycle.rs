//! Process life cycle: --check-config, SIGTERM drain, SIGHUP log reopen, trackers that do
//! not answer, and opening a store path written by real FastDFS 6.16.1.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{bytes, testdata, Daemon, GROUP};
use fdfs_proto::storage::UploadRequest;
use fdfs_proto::{cmd, Streamed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn check_config_validates_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "group_name = \"group1\"\nbase_path = \"{}\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fdfs_storaged"))
        .args(["--check-config", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The documented example must stay valid.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/storage.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_fdfs_storaged"))
        .args(["--check-config", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "group_name = \"group1\"\nbase_path = \"/x\"\nsubdir_count_per_path = 300\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fdfs_storaged"))
        .args(["--check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("subdir_count_per_path"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_inflight_upload_then_exits() {
    let mut d = Daemon::start("");
    let data = bytes(2 << 20, 42);
    let mut s = tokio::net::TcpStream::connect(d.addr()).await.unwrap();
    let idle = tokio::net::TcpStream::connect(d.addr()).await.unwrap();
    let head = UploadRequest {
        store_path_index: 0,
        file_size: data.len() as u64,
        ext: "bin".into(),
    }
    .head_packet(cmd::UPLOAD_FILE);
    s.write_all(&head).await.unwrap();
    s.write_all(&data[..1 << 20]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    d.signal(libc::SIGTERM);
    // No new connections once draining...
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(d.addr()).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "still accepting after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...but the request in flight completes.
    s.write_all(&data[1 << 20..]).await.unwrap();
    let mut hb = [0u8; 10];
    s.read_exact(&mut hb).await.unwrap();
    assert_eq!(hb[9], 0, "upload status");
    let mut body = vec![0u8; u64::from_be_bytes(hb[..8].try_into().unwrap()) as usize];
    s.read_exact(&mut body).await.unwrap();
    let name = String::from_utf8(body[16..].to_vec()).unwrap();
    drop(idle);
    let st = d.stop();
    assert!(st.success(), "{st}");
    assert!(d.log().contains("SIGTERM: draining"));
    d.spawn();
    let mut c = d.client().await;
    assert_eq!(c.download(GROUP, &name, 0, 0).await.unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_log_file() {
    let d = Daemon::start("");
    let log = d.base().join("storaged.log");
    let rotated = d.base().join("storaged.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    d.signal(libc::SIGHUP);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !log.exists() {
        assert!(std::time::Instant::now() < deadline, "log not reopened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut c = d.client().await;
    c.upload(0, "txt", b"x").await.unwrap();
    let _ = common::raw_exchange(
        &d.addr(),
        &fdfs_proto::frame::packet(201, 0, b""),
        Duration::from_millis(500),
    )
    .await;
    let new = std::fs::read_to_string(&log).unwrap();
    assert!(new.contains("unknown command 201"), "{new}");
    assert!(std::fs::read_to_string(&rotated).unwrap().contains("ready"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_tracker_does_not_block_serving() {
    let dead = common::free_port();
    let d = Daemon::start(&format!(
        "tracker_servers = [\"127.0.0.1:{dead}\"]\nheart_beat_interval = 1\n"
    ));
    let mut c = d.client().await;
    let f = c.upload(0, "txt", b"standalone").await.unwrap();
    assert_eq!(
        c.download(GROUP, &f.file_name, 0, 0).await.unwrap(),
        b"standalone"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = d.log();
    assert!(log.contains("tracker unavailable"), "{log}");
    c.active_test().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_a_store_path_written_by_fastdfs() {
    let td = testdata();
    let ids: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(td.join("fastdfs-file-ids.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut expected = Vec::new();
    for r in ids["records"].as_array().unwrap() {
        let kind = r["kind"].as_str().unwrap();
        if kind != "normal" && kind != "slave" {
            continue;
        }
        let content = std::fs::read(td.join(r["sample_file"].as_str().unwrap())).unwrap();
        let phys = dir.path().join(r["physical_path"].as_str().unwrap());
        std::fs::create_dir_all(phys.parent().unwrap()).unwrap();
        std::fs::write(&phys, &content).unwrap();
        let meta = r["metadata_sidecar"]["content_hex"].as_str().map(|h| {
            let m: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect();
            std::fs::write(
                dir.path()
                    .join(r["metadata_sidecar"]["physical_path"].as_str().unwrap()),
                &m,
            )
            .unwrap();
            m
        });
        let id = r["file_id"].as_str().unwrap();
        expected.push((
            id.strip_prefix("group1/").unwrap().to_string(),
            content,
            meta,
            kind.to_string(),
        ));
    }
    assert!(expected.len() >= 9);
    // Point a daemon at that directory as its store path.
    let mut d = Daemon::start(&format!("store_paths = [\"{}\"]\n", dir.path().display()));
    let mut c = d.client().await;
    for (name, content, meta, kind) in &expected {
        assert_eq!(
            &c.download(GROUP, name, 0, 0).await.unwrap(),
            content,
            "{name}"
        );
        let info = c.query_file_info(GROUP, name, 0).await.unwrap();
        assert_eq!(info.file_size as usize, content.len());
        assert_eq!(
            info.crc32,
            fdfs_proto::fileid::Crc32::checksum(content),
            "{name} ({kind})"
        );
        assert_eq!(info.source_ip, "127.0.0.1");
        if let Some(m) = meta {
            let got = c.get_metadata(GROUP, name).await.unwrap();
            let mut packed = Vec::new();
            got.pack(&mut packed);
            assert_eq!(&packed, m);
        }
    }
    // New uploads land beside them, and deletes work on the old files.
    let f = c.upload(0, "txt", b"new").await.unwrap();
    assert!(dir.path().join("data").join(&f.file_name[4..]).exists());
    c.delete(GROUP, &expected[0].0).await.unwrap();
    d.kill9();
}

/// The JOIN the daemon sends is a valid FastDFS 6.16 JOIN (decoded by the shared codec), and a
/// tracker that hangs up is retried while clients keep being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_codec_join_and_retries_after_hangup() {
    use fdfs_proto::tracker::JoinRequest;
    use fdfs_proto::Body;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tport = l.local_addr().unwrap().port();
    let d = Daemon::start(&format!("tracker_servers = [\"127.0.0.1:{tport}\"]\n"));
    for attempt in 0..2 {
        let (mut s, _) = tokio::time::timeout(Duration::from_secs(10), l.accept())
            .await
            .unwrap_or_else(|_| panic!("no connection attempt {attempt}"))
            .unwrap();
        let mut h = [0u8; 10];
        s.read_exact(&mut h).await.unwrap();
        assert_eq!(h[8], cmd::STORAGE_JOIN);
        let mut body = vec![0u8; u64::from_be_bytes(h[..8].try_into().unwrap()) as usize];
        s.read_exact(&mut body).await.unwrap();
        let j = JoinRequest::decode(&body).unwrap();
        assert_eq!(j.group, GROUP);
        assert_eq!(j.storage_port, d.port);
        assert_eq!((j.store_path_count, j.subdir_count_per_path), (1, 256));
        assert_eq!(j.trackers, vec![format!("127.0.0.1:{tport}")]);
        assert_eq!(j.current_tracker_ip, "127.0.0.1");
        // The first join time is kept where FastDFS keeps it.
        let flag = std::fs::read_to_string(d.base().join("data/.data_init_flag")).unwrap();
        assert_eq!(flag, format!("storage_join_time={}\n", j.join_time));
        drop(s);
        let mut c = d.client().await;
        c.active_test().await.unwrap();
    }
    assert!(d.log().contains("tracker unavailable"));
}

/// A store path on another file system (tmpfs here) cannot rely on the binlog's journal
/// commit: `auto` falls back to per-file fsync, and an explicit `journal` refuses to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durability_falls_back_to_fsync_off_the_binlog_file_system() {
    let shm = tempfile::tempdir_in("/dev/shm").expect("tmpfs at /dev/shm");
    let store = format!("store_paths = [\"{}\"]\n", shm.path().display());
    let d = Daemon::start(&store);
    let mut c = d.client().await;
    let f = c.upload(0, "txt", b"on tmpfs").await.unwrap();
    assert_eq!(
        c.download(GROUP, &f.file_name, 0, 0).await.unwrap(),
        b"on tmpfs"
    );
    assert!(d.log().contains("journal_ordered=false"), "{}", d.log());
    // On the project's own disk the journal path is taken exactly when it is ext4 or XFS.
    let on_disk = Daemon::start("");
    let magic = fs_magic(on_disk.base());
    let expect = format!(
        "journal_ordered={}",
        magic == 0xEF53 || magic == 0x5846_5342
    );
    assert!(on_disk.log().contains(&expect), "{}", on_disk.log());

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cfg = dir.path().join("s.toml");
    std::fs::write(
        &cfg,
        format!(
            "group_name = \"group1\"\nbase_path = \"{}\"\nport = {}\n{store}[sync]\ndurability = \"journal\"\n",
            dir.path().display(),
            common::free_port()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fdfs_storaged"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs"),
        "{out:?}"
    );
}

fn fs_magic(p: &std::path::Path) -> i64 {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: statfs writes into the zeroed struct we own; the path is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut st) }, 0);
    st.f_type as i64
}

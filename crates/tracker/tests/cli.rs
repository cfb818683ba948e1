//! The `fdfs` CLI against a real tracker and storage, and the 46-byte IP era.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use fdfs_proto::frame::packet;
use fdfs_proto::tracker::{StorageStat, StorageStats};
use fdfs_proto::{cmd, Body, IpWidth};

use common::fdfs_at as fdfs;

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "fdfs failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn cli_upload_download_info_meta_monitor_delete() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("t"), "");
    let s = storage(&dir.path().join("s"), "group1", &[t.addr()]);
    let rt = rt();
    rt.block_on(wait_status(
        &t.addr(),
        "group1",
        s.port,
        ACTIVE,
        Duration::from_secs(8),
    ));
    let a = t.addr();

    let src = dir.path().join("photo.jpg");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let out = ok(&fdfs(
        &a,
        &[
            "upload",
            src.to_str().unwrap(),
            "--meta",
            "w=640",
            "--meta",
            "h=480",
        ],
    ));
    let id = out.trim_end().to_owned();
    assert_eq!(out, format!("{id}\n"), "stdout is just the file ID");
    assert!(
        id.starts_with("group1/M00/") && id.ends_with(".jpg"),
        "{id}"
    );

    let dst = dir.path().join("back.jpg");
    ok(&fdfs(&a, &["download", &id, dst.to_str().unwrap()]));
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    let piped = fdfs(&a, &["download", &id, "-"]);
    assert!(piped.status.success());
    assert_eq!(piped.stdout, data);

    let info = ok(&fdfs(&a, &["info", &id]));
    assert!(
        info.starts_with("GET FROM SERVER: false\n\nfile type: normal\n"),
        "{info}"
    );
    assert!(info.contains("source ip address: 127.0.0.1\n"), "{info}");
    assert!(
        info.contains(&format!("file size: {}\n", data.len())),
        "{info}"
    );
    let crc = crc32(&data);
    assert!(
        info.contains(&format!("file crc32: {} (0x{crc:08x})", crc as i32)),
        "{info}"
    );
    let info = ok(&fdfs(&a, &["info", "--server", &id]));
    assert!(info.starts_with("GET FROM SERVER: true\n"), "{info}");
    assert!(
        info.contains(&format!("file size: {}\n", data.len())),
        "{info}"
    );

    assert_eq!(ok(&fdfs(&a, &["meta", "get", &id])), "h=480\nw=640\n");
    ok(&fdfs(&a, &["meta", "set", &id, "w=1", "--merge"]));
    assert_eq!(ok(&fdfs(&a, &["meta", "get", &id])), "h=480\nw=1\n");

    let mon = ok(&fdfs(&a, &["monitor", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&mon).unwrap();
    assert_eq!(v["groups"][0]["group"], "group1");
    assert_eq!(v["groups"][0]["storages"][0]["status"], "ACTIVE");
    assert_eq!(v["groups"][0]["storages"][0]["port"], s.port);
    let text = ok(&fdfs(&a, &["monitor"]));
    assert!(
        text.contains(&format!("host = 127.0.0.1:{}  ACTIVE", s.port)),
        "{text}"
    );

    ok(&fdfs(&a, &["delete", &id]));
    // Every failure is a non-zero exit with a message, and no partial output file.
    let gone = dir.path().join("gone.jpg");
    let o = fdfs(&a, &["download", &id, gone.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("ENOENT"));
    assert!(!gone.exists());
    assert!(!fdfs(&a, &["delete", &id]).status.success());
    assert!(!fdfs(&a, &["info", "not-an-id"]).status.success());
    assert!(!fdfs(&a, &["upload", "/nonexistent/file"]).status.success());
    let dead = format!("127.0.0.1:{}", free_port());
    assert!(!fdfs(&dead, &["upload", src.to_str().unwrap()])
        .status
        .success());
    // A client.conf with a dead tracker first and the live one second still works.
    let conf = dir.path().join("client.conf");
    std::fs::write(
        &conf,
        format!("connect_timeout = 2\ntracker_server = {dead}\ntracker_server = {a}\n"),
    )
    .unwrap();
    let o = Command::new(fdfs_cli())
        .args([
            "--config",
            conf.to_str().unwrap(),
            "upload",
            src.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(ok(&o).starts_with("group1/M00/"));
}

fn crc32(b: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn ip46_era_body_sizes_and_client_accepts_both() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("t"), "response_ip_addr_size = 46");
    let s = storage(&dir.path().join("s"), "group1", &[t.addr()]);
    rt().block_on(async {
        wait_status(&t.addr(), "group1", s.port, ACTIVE, Duration::from_secs(8)).await;
        let mut tc = tclient(&t.addr()).await;
        let (h, b) = tc
            .raw(&packet(cmd::QUERY_STORE_WITHOUT_GROUP_ONE, 0, &[]))
            .await
            .unwrap();
        assert_eq!((h.status, b.len()), (0, 70));
        let (_, b) = tc
            .raw(&packet(cmd::QUERY_STORE_WITHOUT_GROUP_ALL, 0, &[]))
            .await
            .unwrap();
        assert_eq!(b.len(), 16 + 53 + 1);
        let mut g = b"group1".to_vec();
        g.resize(16, 0);
        let (_, b) = tc
            .raw(&packet(cmd::SERVER_LIST_STORAGE, 0, &g))
            .await
            .unwrap();
        assert_eq!(b.len(), StorageStat::len(IpWidth::V6));
        assert_eq!(StorageStats::decode(&b).unwrap().0[0].ip_addr, "127.0.0.1");
        let c = client(&[t.addr()]);
        let id = c.upload(b"wide", "txt", None).await.unwrap();
        let (g2, n) = fdfs_client::split_file_id(&id).unwrap();
        let mut q = g2.as_bytes().to_vec();
        q.resize(16, 0);
        q.extend_from_slice(n.as_bytes());
        let (_, b) = tc.raw(&packet(cmd::QUERY_FETCH_ONE, 0, &q)).await.unwrap();
        assert_eq!(b.len(), 69);
        assert_eq!(c.download(&id).await.unwrap(), b"wide");
        let p = tc.parameters().await.unwrap();
        assert_eq!(p.get("response_ip_addr_size"), Some("46"));
    });
}

#[test]
fn era_a_list_layout_for_old_clients() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("t"), "list_layout = \"era_a\"");
    let s = storage(&dir.path().join("s"), "group1", &[t.addr()]);
    rt().block_on(async {
        wait_status(&t.addr(), "group1", s.port, ACTIVE, Duration::from_secs(8)).await;
        let mut tc = tclient(&t.addr()).await;
        let (_, b) = tc
            .raw(&packet(cmd::SERVER_LIST_ALL_GROUPS, 0, &[]))
            .await
            .unwrap();
        assert_eq!(b.len(), 105);
        let mut g = b"group1".to_vec();
        g.resize(16, 0);
        let (_, b) = tc
            .raw(&packet(cmd::SERVER_LIST_STORAGE, 0, &g))
            .await
            .unwrap();
        assert_eq!(b.len(), 612);
        let v5 = fdfs_proto::tracker::StorageStatsV5::decode(&b).unwrap();
        assert_eq!(v5.0[0].storage_port, i64::from(s.port));
        assert_eq!(v5.0[0].status, ACTIVE);
        // Our client reads either layout.
        assert_eq!(tc.list_group("group1").await.unwrap().storage_count, 1);
        assert_eq!(
            tc.list_storages("group1", None).await.unwrap()[0].storage_port,
            i64::from(s.port)
        );
    });
    let mon = ok(&fdfs(&t.addr(), &["monitor", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&mon).unwrap();
    assert_eq!(v["groups"][0]["storages"][0]["status"], "ACTIVE");
}

#[test]
fn progress_bar_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("t"), "");
    let s = storage(&dir.path().join("s"), "group1", &[t.addr()]);
    rt().block_on(wait_status(
        &t.addr(),
        "group1",
        s.port,
        ACTIVE,
        Duration::from_secs(8),
    ));
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 6 << 20]).unwrap();
    let plain = fdfs(&t.addr(), &["upload", big.to_str().unwrap()]);
    ok(&plain);
    assert!(plain.stderr.is_empty(), "no bar without a terminal");
    // `script` (util-linux) gives the CLI a pseudo-terminal.
    let cmdline = format!(
        "{} --tracker {} upload {}",
        fdfs_cli().display(),
        t.addr(),
        big.display()
    );
    let o = Command::new("script")
        .args(["-qec", &cmdline, "/dev/null"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("upload [") && out.contains("100%"), "{out}");
    assert!(out.contains("group1/M00/"), "{out}");
}

#[test]
fn admin_deletes_go_to_every_tracker() {
    let dir = tempfile::tempdir().unwrap();
    let ta = tracker(&dir.path().join("ta"), "");
    let tb = tracker(&dir.path().join("tb"), "");
    let ts = [ta.addr(), tb.addr()];
    let mut s1 = storage(&dir.path().join("s1"), "group1", &ts);
    let s2 = storage(&dir.path().join("s2"), "group2", &ts);
    let rt = rt();
    for t in &ts {
        rt.block_on(wait_status(
            t,
            "group1",
            s1.port,
            ACTIVE,
            Duration::from_secs(8),
        ));
        rt.block_on(wait_status(
            t,
            "group2",
            s2.port,
            ACTIVE,
            Duration::from_secs(8),
        ));
    }
    let admin = |args: &[&str]| {
        Command::new(fdfs_cli())
            .args(["-t", &ts[0], "-t", &ts[1], "admin"])
            .args(args)
            .output()
            .unwrap()
    };
    let busy = admin(&["delete-storage", "group1", "127.0.0.1"]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("EBUSY"));
    s1.kill9();
    for t in &ts {
        rt.block_on(wait_status(
            t,
            "group1",
            s1.port,
            OFFLINE,
            Duration::from_secs(3),
        ));
    }
    ok(&admin(&["delete-storage", "group1", "127.0.0.1"]));
    let again = admin(&["delete-storage", "group1", "127.0.0.1"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("EALREADY"));
    ok(&admin(&["delete-group", "group1"]));
    for t in &ts {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&fdfs(t, &["monitor", "--json"]))).unwrap();
        let groups: Vec<_> = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["group"].clone())
            .collect();
        assert_eq!(groups, [serde_json::json!("group2")], "on {t}");
    }
    assert!(!admin(&["delete-group", "group9"]).status.success());
}

//! Malformed and hostile input: the tracker answers with the spec's status, closes only when
//! the stream cannot be resynchronised, and never falls over.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use fdfs_proto::frame::{packet, Header, HEADER_LEN};
use fdfs_proto::status::{EACCES, EINVAL, ENOENT};
use fdfs_proto::tracker::{Beat, JoinRequest, StatBlock};
use fdfs_proto::{cmd, Body, IpWidth};

fn sock(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Sends `req`, returns (status, body).
fn call(s: &mut TcpStream, req: &[u8]) -> (u8, Vec<u8>) {
    s.write_all(req).unwrap();
    let mut h = [0u8; HEADER_LEN];
    s.read_exact(&mut h).unwrap();
    let h = Header::decode(&h).unwrap();
    assert_eq!(h.cmd, cmd::RESP);
    let mut body = vec![0u8; if h.status == 0 { h.pkg_len as usize } else { 0 }];
    s.read_exact(&mut body).unwrap();
    (h.status, body)
}

/// True when the server closed the connection (EOF or reset) without sending anything more;
/// false if it sent a byte or stayed silent until the read timeout.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

fn alive(addr: &str) {
    let mut s = sock(addr);
    assert_eq!(call(&mut s, &packet(cmd::ACTIVE_TEST, 0, &[])), (0, vec![]));
}

fn join_body(group: &str, port: u16, paths: u16) -> Vec<u8> {
    JoinRequest {
        group: group.into(),
        storage_port: port,
        store_path_count: paths,
        subdir_count_per_path: 256,
        upload_priority: 10,
        join_time: 1,
        up_time: 1,
        version: "6.16.1".into(),
        init_flag: 0,
        status: -1,
        storage_id: String::new(),
        current_tracker_ip: "127.0.0.1".into(),
        trackers: vec!["127.0.0.1:22122".into()],
    }
    .to_bytes(IpWidth::V4)
}

#[test]
fn wrong_sizes_get_einval_and_the_connection_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path(), "");
    let mut s = sock(&t.addr());
    let cases: Vec<(u8, Vec<u8>)> = vec![
        (cmd::QUERY_STORE_WITHOUT_GROUP_ONE, vec![0; 3]),
        (cmd::QUERY_STORE_WITHOUT_GROUP_ALL, vec![0; 16]),
        (cmd::QUERY_STORE_WITH_GROUP_ONE, b"group1".to_vec()),
        (cmd::QUERY_STORE_WITH_GROUP_ALL, vec![b'g'; 17]),
        (cmd::QUERY_FETCH_ONE, vec![b'a'; 20]),
        (cmd::QUERY_UPDATE, vec![b'a'; 16 + 128]),
        (cmd::QUERY_FETCH_ALL, vec![]),
        (cmd::SERVER_LIST_ALL_GROUPS, vec![1]),
        (cmd::SERVER_LIST_ONE_GROUP, vec![]),
        (cmd::SERVER_LIST_STORAGE, vec![b'g'; 40]),
        (cmd::STORAGE_PARAMETER_REQ, vec![0; 2]),
        (cmd::ACTIVE_TEST, vec![0]),
        (cmd::STORAGE_JOIN, vec![0; 10]),
        (cmd::STORAGE_JOIN, join_body("bad/group", 23000, 1)),
        (cmd::STORAGE_JOIN, {
            let mut b = join_body("group1", 23000, 1);
            b.truncate(b.len() - 1); // tracker line without its LF
            b
        }),
        (200, vec![]),
        (0, vec![1, 2, 3]),
    ];
    for (c, body) in &cases {
        let (st, b) = call(&mut s, &packet(*c, 0, body));
        assert_eq!(
            (st, b.len()),
            (EINVAL, 0),
            "cmd {c} with {} bytes",
            body.len()
        );
    }
    // A 102 for a well-formed name in an unknown group: ENOENT, not EINVAL.
    let mut q = b"group9".to_vec();
    q.resize(16, 0);
    q.extend_from_slice(b"M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt");
    assert_eq!(call(&mut s, &packet(cmd::QUERY_FETCH_ONE, 0, &q)).0, ENOENT);
    assert_eq!(call(&mut s, &packet(cmd::ACTIVE_TEST, 0, &[])), (0, vec![]));
    // QUIT: no reply, server closes.
    s.write_all(&packet(cmd::QUIT, 0, &[])).unwrap();
    assert!(closed(&mut s));
    alive(&t.addr());
}

#[test]
fn storage_commands_from_a_client_socket_get_eacces() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path(), "");
    let mut s = sock(&t.addr());
    let stat = Beat(Some(StatBlock::default())).to_bytes(IpWidth::V4);
    for (c, body) in [
        (cmd::STORAGE_BEAT, vec![]),
        (cmd::STORAGE_BEAT, stat),
        (cmd::STORAGE_REPORT_DISK_USAGE, vec![0; 16]),
        (cmd::STORAGE_SYNC_REPORT, vec![0; 20]),
        (cmd::STORAGE_SYNC_DEST_REQ, vec![]),
    ] {
        assert_eq!(call(&mut s, &packet(c, 0, &body)).0, EACCES, "cmd {c}");
    }
    // After joining, the same socket may beat; a disk report with the wrong path count is EINVAL.
    assert_eq!(
        call(
            &mut s,
            &packet(cmd::STORAGE_JOIN, 0, &join_body("group1", 23999, 2))
        )
        .0,
        0
    );
    assert_eq!(call(&mut s, &packet(cmd::STORAGE_BEAT, 0, &[])).0, 0);
    assert_eq!(
        call(&mut s, &packet(cmd::STORAGE_BEAT, 0, &[0; 5])).0,
        EINVAL
    );
    assert_eq!(
        call(&mut s, &packet(cmd::STORAGE_REPORT_DISK_USAGE, 0, &[0; 16])).0,
        EINVAL
    );
    assert_eq!(
        call(&mut s, &packet(cmd::STORAGE_REPORT_DISK_USAGE, 0, &[0; 32])).0,
        0
    );
    // Another socket is still refused.
    let mut other = sock(&t.addr());
    assert_eq!(
        call(&mut other, &packet(cmd::STORAGE_BEAT, 0, &[])).0,
        EACCES
    );
    alive(&t.addr());
}

#[test]
fn huge_negative_and_slow_frames_close_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path(), "[limits]\nnetwork_timeout = 1");
    for pkg_len in [1u64 << 62, 128 * 1024 + 1, u64::MAX] {
        let mut s = sock(&t.addr());
        let mut h = Header::request(cmd::QUERY_STORE_WITHOUT_GROUP_ONE, 0).encode();
        h[..8].copy_from_slice(&pkg_len.to_be_bytes());
        s.write_all(&h).unwrap();
        let mut r = [0u8; HEADER_LEN];
        s.read_exact(&mut r).unwrap();
        assert_eq!(
            Header::decode(&r).unwrap().status,
            EINVAL,
            "pkg_len {pkg_len:#x}"
        );
        assert!(closed(&mut s));
    }
    // Half a header, then silence: dropped after network_timeout.
    let mut s = sock(&t.addr());
    s.write_all(&[0, 0, 0]).unwrap();
    let t0 = std::time::Instant::now();
    assert!(closed(&mut s));
    assert!(t0.elapsed() < Duration::from_secs(4));
    // Garbage bursts.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..50 {
        let mut s = sock(&t.addr());
        let junk: Vec<u8> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = s.write_all(&junk);
    }
    alive(&t.addr());
    assert!(t.log_text().contains("bad header"));
}

#[test]
fn hosts_outside_allow_hosts_are_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path(), "allow_hosts = [\"10.0.0.0/8\"]");
    let mut s = sock(&t.addr());
    let _ = s.write_all(&packet(cmd::ACTIVE_TEST, 0, &[]));
    assert!(closed(&mut s), "no reply to a refused host");
    assert!(t.log_text().contains("refused by allow_hosts"));
}

#[test]
fn check_config_accepts_good_and_rejects_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, format!("base_path = {:?}\n", dir.path())).unwrap();
    let run = |p: &std::path::Path| {
        std::process::Command::new(TRACKERD)
            .arg("--config")
            .arg(p)
            .arg("--check-config")
            .output()
            .unwrap()
    };
    let o = run(&good);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("configuration OK"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "base_path = \"/x\"\nresponse_ip_addr_size = 20\n").unwrap();
    let o = run(&bad);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("response_ip_addr_size"));
    let o = run(&dir.path().join("missing.toml"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
}

#[test]
fn corrupt_state_file_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/cluster.toml"),
        "format = 1\ngroups = [[[\n",
    )
    .unwrap();
    let cfg = dir.path().join("t.toml");
    let port = free_port();
    std::fs::write(
        &cfg,
        format!("port = {port}\nbase_path = {:?}\n", dir.path()),
    )
    .unwrap();
    let o = std::process::Command::new(TRACKERD)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("corrupt snapshot") && err.contains("cluster.toml"),
        "{err}"
    );
    // The file is left for the operator to inspect, not overwritten.
    let kept = std::fs::read_to_string(dir.path().join("data/cluster.toml")).unwrap();
    assert!(kept.contains("[[["));
}

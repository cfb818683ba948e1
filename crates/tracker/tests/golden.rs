//! Replays every client→tracker request captured from FastDFS 6.16.1 (shared/testdata,
//! `fastdfs-packets.json`, configs ip16 and ip46) against our tracker with one group1 storage,
//! and checks what stock clients check: response command, status, body length (and for 75 the
//! keys, for 101/104/106 the group and storage address).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use fdfs_proto::frame::{Header, HEADER_LEN};
use fdfs_proto::tracker::{Parameters, StoreTarget};
use fdfs_proto::{cmd, Body};
use serde_json::Value;

/// `<ancestor>/shared/testdata` or `<ancestor>/../shared/testdata`, walking up from this crate.
fn testdata() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        for cand in [dir.join("shared/testdata"), dir.join("../shared/testdata")] {
            if cand.join("fastdfs-packets.json").exists() {
                return cand;
            }
        }
        assert!(
            dir.pop(),
            "shared/testdata not found above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn replay(config: &str, ip_size: u8) {
    let text = std::fs::read_to_string(testdata().join("fastdfs-packets.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(
        &dir.path().join("t"),
        &format!("response_ip_addr_size = {ip_size}\nstore_lookup = \"round_robin\""),
    );
    let s = storage(&dir.path().join("s"), "group1", &[t.addr()]);
    rt().block_on(wait_status(
        &t.addr(),
        "group1",
        s.port,
        ACTIVE,
        Duration::from_secs(8),
    ));
    let mut n = 0;
    for e in doc["exchanges"].as_array().unwrap() {
        if e["config"] != config || e["connection"]["server"] != "tracker" {
            continue;
        }
        let req = &e["request"];
        let mut bytes = hex(req["header_hex"].as_str().unwrap());
        bytes.extend(hex(req["body_hex"].as_str().unwrap()));
        let c = req["header"]["cmd"].as_u64().unwrap() as u8;
        let id = e["id"].as_str().unwrap();
        let mut sock = TcpStream::connect(t.addr()).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.write_all(&bytes).unwrap();
        let mut hb = [0u8; HEADER_LEN];
        if e["response"].is_null() {
            // QUIT: the real server closes without a reply.
            assert_eq!(c, cmd::QUIT, "{id}");
            assert!(matches!(sock.read(&mut hb), Ok(0)), "{id}: expected close");
            n += 1;
            continue;
        }
        sock.read_exact(&mut hb).unwrap();
        let h = Header::decode(&hb).unwrap();
        let want = &e["response"]["header"];
        let want_body = hex(e["response"]["body_hex"].as_str().unwrap());
        assert_eq!(h.cmd, cmd::RESP, "{id}");
        assert_eq!(
            u64::from(h.status),
            want["status"].as_u64().unwrap(),
            "{id} ({c}) status"
        );
        let mut body = vec![0u8; h.pkg_len as usize];
        sock.read_exact(&mut body).unwrap();
        match c {
            cmd::STORAGE_PARAMETER_REQ => {
                let ours = Parameters::decode(&body).unwrap();
                let theirs = Parameters::decode(&want_body).unwrap();
                let keys = |p: &Parameters| p.0.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
                assert_eq!(keys(&ours), keys(&theirs), "{id}: parameter keys");
                assert_eq!(
                    ours.get("response_ip_addr_size"),
                    Some(&*ip_size.to_string())
                );
            }
            _ => assert_eq!(body.len(), want_body.len(), "{id} ({c}) body length"),
        }
        if h.status == 0 && matches!(c, 101 | 104) {
            let ours = StoreTarget::decode(&body).unwrap();
            assert_eq!(ours.group, "group1", "{id}");
            assert_eq!(
                (ours.server.ip.as_str(), ours.server.port),
                ("127.0.0.1", s.port),
                "{id}"
            );
        }
        n += 1;
    }
    assert!(n > 40, "only {n} exchanges replayed for {config}");
}

#[test]
fn captured_ip16_tracker_exchanges() {
    replay("ip16", 16);
}

#[test]
fn captured_ip46_tracker_exchanges() {
    replay("ip46", 46);
}

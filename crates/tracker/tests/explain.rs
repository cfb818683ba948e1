//! Errors explain themselves, through the real `fdfs` CLI against real daemons: the meaning,
//! the file ID and the address come first, the protocol detail (cmd, status) last.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{free_port, storage, tracker};

use common::fdfs_at as fdfs;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Uploads until the storage is active; returns the file ID.
fn upload_when_ready(tracker: &str, file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = fdfs(tracker, &["upload", file.to_str().unwrap()]);
        if o.status.success() {
            return String::from_utf8(o.stdout).unwrap().trim().to_owned();
        }
        assert!(Instant::now() < deadline, "no upload: {}", stderr(&o));
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_missing_file_is_named_with_the_storage_that_lacks_it() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("t"), "");
    let s = storage(&dir.path().join("s"), "group1", &[t.addr()]);
    let f = dir.path().join("a.txt");
    std::fs::write(&f, b"hello").unwrap();
    let id = upload_when_ready(&t.addr(), &f);
    assert!(fdfs(&t.addr(), &["delete", &id]).status.success());

    let out = dir.path().join("out");
    let o = fdfs(&t.addr(), &["download", &id, out.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success());
    let want = format!(
        "file not found: {id} on storage 127.0.0.1:{} (cmd 14, status 2 ENOENT)",
        s.port
    );
    assert!(err.contains(&want), "wanted {want:?} in {err:?}");
    assert!(!err.contains("server answered"), "{err}");

    let o = fdfs(&t.addr(), &["meta", "get", &id]);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "file not found: {id} on storage 127.0.0.1:{}",
            s.port
        )),
        "{err}"
    );

    let other = id.replacen("group1/", "group9/", 1);
    let o = fdfs(&t.addr(), &["download", &other, out.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("no active storage holds {other}")) && err.contains(&t.addr()),
        "{err}"
    );
}

#[test]
fn a_refused_connection_names_the_tracker() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.txt");
    std::fs::write(&f, b"x").unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let o = fdfs(&addr, &["upload", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains(&format!("connection refused by tracker {addr}")),
        "{err}"
    );
}

#[test]
fn a_host_outside_allow_hosts_is_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("t"), "allow_hosts = [\"192.0.2.0/24\"]");
    let o = fdfs(&t.addr(), &["monitor"]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains(&format!("tracker {}", t.addr())) && err.contains("allow_hosts"),
        "{err}"
    );
}

#[test]
fn no_space_is_said_with_the_server_that_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("t"), "reserved_storage_space = \"99.99%\"");
    let _s = storage(&dir.path().join("s"), "group1", &[t.addr()]);
    let f = dir.path().join("a.txt");
    std::fs::write(&f, b"x").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        let o = fdfs(&t.addr(), &["upload", f.to_str().unwrap()]);
        assert!(!o.status.success(), "upload passed a 99.99% reserve");
        let err = stderr(&o);
        if err.contains("ENOSPC") || Instant::now() > deadline {
            break err;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        err.contains(&format!("no space left: tracker {}", t.addr()))
            && err.contains("(cmd 101, status 28 ENOSPC)"),
        "{err}"
    );

    // The storage's own reserve: it answers ENOSPC itself.
    let sdir = dir.path().join("full");
    std::fs::create_dir_all(&sdir).unwrap();
    let port = free_port();
    let (conf, log) = (sdir.join("storage.toml"), sdir.join("storage.log"));
    std::fs::write(
        &conf,
        format!(
            "group_name = \"group1\"\nport = {port}\nbase_path = {sdir:?}\nlog_file = {log:?}\n\
             reserved_storage_space = \"99.99%\"\nsubdir_count_per_path = 4\n"
        ),
    )
    .unwrap();
    let _full = common::spawn(common::storaged(), &conf, &log, port, &sdir);
    let e = common::rt()
        .block_on(async {
            let mut c = fdfs_client::StorageClient::connect(("127.0.0.1", port)).await?;
            c.upload(0xFF, "txt", b"x").await
        })
        .unwrap_err();
    let want = format!("storage 127.0.0.1:{port} has no space left (cmd 11, status 28 ENOSPC)");
    assert_eq!(e.to_string(), want);
}

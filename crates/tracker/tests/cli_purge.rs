//! `fdfs delete --purge`: the delete goes through a real tracker and storage, then every front
//! cache gets `PURGE <prefix>/<file ID>`; a front that fails makes the command fail without
//! undoing the delete. The fronts here are plain listeners that answer a chosen status (the
//! real nginx + cache-purge module is t/front-purge.t); they record what they were sent.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use common::*;

/// A front answering every connection with `status`; sends each request head it read.
fn front(status: &'static str) -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
        }
    });
    (addr, rx)
}

use common::fdfs_at as fdfs;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Cluster {
    _dir: tempfile::TempDir,
    _t: Proc,
    _s: Proc,
    tracker: String,
    file: std::path::PathBuf,
}

fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("t"), "");
    let s = storage(&dir.path().join("s"), "group1", &[t.addr()]);
    rt().block_on(wait_status(
        &t.addr(),
        "group1",
        s.port,
        ACTIVE,
        Duration::from_secs(20),
    ));
    let file = dir.path().join("photo.jpg");
    std::fs::write(&file, b"cached at the front").unwrap();
    Cluster {
        tracker: t.addr(),
        _dir: dir,
        _t: t,
        _s: s,
        file,
    }
}

impl Cluster {
    fn upload(&self) -> String {
        let o = fdfs(&self.tracker, &["upload", self.file.to_str().unwrap()]);
        assert!(o.status.success(), "upload: {}", text(&o.stderr));
        text(&o.stdout).trim_end().to_owned()
    }

    fn exists(&self, id: &str) -> bool {
        fdfs(&self.tracker, &["download", id, "-"]).status.success()
    }
}

#[test]
fn a_front_answering_500_fails_the_command_but_the_file_stays_deleted() {
    let c = cluster();
    let id = c.upload();
    let (bad, bad_rx) = front("500 Internal Server Error");
    let (good, good_rx) = front("200 OK");
    let (cold, _cold_rx) = front("404 Not Found");
    let (bad_url, good_url) = (
        format!("http://{bad}/purge"),
        format!("http://{good}/purge/"),
    );
    let cold_url = format!("http://{cold}");
    let o = fdfs(
        &c.tracker,
        &[
            "delete", &id, "--purge", &bad_url, "--purge", &good_url, "--purge", &cold_url,
        ],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "stdout: {out}\nstderr: {err}");
    assert!(!c.exists(&id), "the file must stay deleted");
    // Every front is tried and reported, the failing one first on the command line.
    assert_eq!(
        out,
        format!(
            "purge {id} at {bad_url}: 500: purge failed, the front may still serve the file \
             (HTTP/1.1 500 Internal Server Error)\n\
             purge {id} at {good_url}: 200 purged\n\
             purge {id} at {cold_url}: 404 not cached there\n"
        )
    );
    assert!(
        err.contains(&format!(
            "{id} is deleted, but 1 of 3 front caches were not purged: {bad_url}: 500"
        )),
        "{err}"
    );
    let head = bad_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        head.starts_with(&format!("PURGE /purge/{id} HTTP/1.1\r\n")),
        "{head}"
    );
    assert!(head.contains(&format!("\r\nHost: {bad}\r\n")), "{head}");
    let head = good_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        head.starts_with(&format!("PURGE /purge/{id} HTTP/1.1\r\n")),
        "a trailing / in the prefix is not doubled: {head}"
    );

    // The retry: the storage says the file is gone, the fronts are purged all the same, and
    // both failures are reported.
    let again = fdfs(
        &c.tracker,
        &["delete", &id, "--purge", &bad_url, "--purge", &good_url],
    );
    let (out2, err2) = (text(&again.stdout), text(&again.stderr));
    assert_eq!(again.status.code(), Some(1), "{err2}");
    assert_eq!(out2.lines().count(), 2, "{out2}");
    assert!(
        out2.contains(&format!("at {good_url}: 200 purged\n")),
        "{out2}"
    );
    assert!(
        err2.contains(&format!("fdfs: file not found: {id} on storage "))
            && err2.contains(" ENOENT)"),
        "{err2}"
    );
    assert!(
        err2.contains("; and 1 of 2 front caches were not purged: "),
        "{err2}"
    );
    assert!(bad_rx.recv_timeout(Duration::from_secs(5)).is_ok());
}

#[test]
fn every_front_purged_or_not_cached_is_success() {
    let c = cluster();
    let id = c.upload();
    let (a, _) = front("200 OK");
    let (b, _) = front("404 Not Found");
    let o = fdfs(
        &c.tracker,
        &[
            "delete",
            &id,
            "--purge",
            &format!("http://{a}/purge"),
            "--purge",
            &format!("http://{b}/purge"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!c.exists(&id));
}

#[test]
fn purge_urls_from_the_config_file_and_unreachable_fronts() {
    let c = cluster();
    let id = c.upload();
    let (a, a_rx) = front("200 OK");
    // A port nothing listens on.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let conf = c.file.with_file_name("client.conf");
    std::fs::write(
        &conf,
        format!(
            "tracker_server = {}\n# purge_url = http://commented.out/purge\npurge_url = http://{a}/purge\npurge_url=http://{dead}/purge\n",
            c.tracker
        ),
    )
    .unwrap();
    let o = Command::new(fdfs_cli())
        .args(["--config", conf.to_str().unwrap(), "delete", &id])
        .output()
        .unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "stdout: {out}\nstderr: {err}");
    assert!(!c.exists(&id));
    assert!(
        out.contains(&format!("purge {id} at http://{a}/purge: 200 purged\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "purge {id} at http://{dead}/purge: purge failed, the front may still serve the file: cannot connect to {dead}"
        )),
        "{out}"
    );
    assert!(a_rx.recv_timeout(Duration::from_secs(5)).is_ok());
}

#[test]
fn a_bad_purge_url_is_refused_before_anything_is_deleted() {
    let c = cluster();
    let id = c.upload();
    for (url, why) in [
        (
            "https://front1/purge",
            "only http://host[:port]/path is supported",
        ),
        (
            "http://front1:99999/purge",
            "the port is not a number from 1 to 65535",
        ),
        ("http:///purge", "no host"),
    ] {
        let o = fdfs(&c.tracker, &["delete", &id, "--purge", url]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{url}: {err}");
        assert_eq!(err, format!("fdfs: purge URL {url:?}: {why}\n"));
        assert!(c.exists(&id), "{url}: nothing may be deleted");
    }
    let conf = c.file.with_file_name("bad.conf");
    std::fs::write(&conf, "purge_url = ftp://front1/purge\n").unwrap();
    let o = Command::new(fdfs_cli())
        .args(["--tracker", &c.tracker, "--config"])
        .arg(&conf)
        .args(["delete", &id])
        .output()
        .unwrap();
    assert_eq!(
        text(&o.stderr),
        format!(
            "fdfs: {}: line 1: purge URL \"ftp://front1/purge\": only http://host[:port]/path is supported\n",
            conf.display()
        )
    );
    assert!(c.exists(&id));
}

//! Daemon lifecycle with the real binary: config checking, SIGTERM drain, pid file, and what must
//! survive a restart (flags, exptime, cas).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Daemon, Mc, Reply};
use fdfs_proto::memcached::{Request, RetrievalCommand, StorageCommand};

fn tyrantd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tyrantd"))
}

#[test]
fn check_config_accepts_the_example_and_rejects_mistakes() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf/tyrant.toml");
    let ok = tyrantd()
        .args(["--check-config", "-c", example])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("listen = \"nowhere\"\n", "listen"),
        ("sync = \"sometimes\"\n", "sync"),
        ("max_item_size = \"lots\"\n", "max_item_size"),
        ("server_id = 0\n", "server_id"),
        ("allow_write = [\"10.0.0.0/99\"]\n", "allow_write"),
        ("no_such_setting = 1\n", "no_such_setting"),
    ] {
        let p = dir.path().join("bad.toml");
        // data_dir has no default; give one so the mistake under test is the only one.
        std::fs::write(&p, format!("data_dir = \"/nonexistent/kv\"\n{text}")).unwrap();
        let out = tyrantd()
            .args(["--check-config", "-c"])
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{text}: {err}");
    }
    let out = tyrantd()
        .args([
            "--check-config",
            "-d",
            "/nonexistent/kv",
            "--sync",
            "interval:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sigterm_drains_and_restart_keeps_flags_exptime_and_cas() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("tyrantd.pid");
    let pid_arg = pid_file.to_str().unwrap().to_string();
    let mut d = Daemon::start(&dir.path().join("data"), &["--pid-file", &pid_arg]);
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        d.child.id().to_string()
    );
    let mut mc = Mc::connect(&d.addr());
    let store = |mc: &mut Mc, key: &str, flags: u32, exptime: i32| {
        let req = Request::Storage {
            command: StorageCommand::Set,
            key: key.as_bytes(),
            flags,
            exptime,
            cas: None,
            noreply: false,
            data: b"v",
        };
        assert!(mc.send(&req));
        assert_eq!(mc.reply(), Some(Reply::Line("STORED".into())));
    };
    store(&mut mc, "flags", 0xdead_beef, 0);
    store(&mut mc, "short", 0, 3);
    store(&mut mc, "long", 7, 1000);
    let gets = |mc: &mut Mc, key: &str| -> Option<(u32, String)> {
        assert!(mc.send(&Request::Retrieval {
            command: RetrievalCommand::Gets,
            exptime: None,
            keys: vec![key.as_bytes()]
        }));
        match mc.reply() {
            Some(Reply::Values(v)) => v
                .first()
                .map(|(_, f, _)| *f)
                .map(|f| (f, format!("{:?}", v))),
            other => panic!("{other:?}"),
        }
    };
    assert!(mc.send(&Request::Retrieval {
        command: RetrievalCommand::Gets,
        exptime: None,
        keys: vec![b"flags"]
    }));
    let before = mc.reply();
    // A connection that is mid-conversation when SIGTERM arrives is closed after its request.
    let status = d.term();
    assert!(status.success(), "exit status {status}");
    assert!(!pid_file.exists(), "pid file left behind");
    d.restart();
    let mut mc = Mc::connect(&d.addr());
    assert!(mc.send(&Request::Retrieval {
        command: RetrievalCommand::Gets,
        exptime: None,
        keys: vec![b"flags"]
    }));
    assert_eq!(mc.reply(), before, "flags or cas changed across restart");
    assert_eq!(gets(&mut mc, "long").map(|x| x.0), Some(7));
    assert!(mc.stat("index_entries").unwrap().parse::<u64>().unwrap() >= 3);
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(gets(&mut mc, "short"), None, "expired item still visible");
    assert!(gets(&mut mc, "long").is_some());
}

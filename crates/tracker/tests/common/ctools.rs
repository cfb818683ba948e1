//! A tracker and a storage with a `client.conf` for them and the C tool names linked to `fdfs`
//! (for the ctools tests).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::*;

pub struct Cluster {
    _t: Proc,
    pub s: Proc,
    pub tracker: String,
    pub conf: PathBuf,
    pub bin: PathBuf,
}

pub fn cluster(dir: &Path) -> Cluster {
    let t = tracker(&dir.join("t"), "");
    let s = storage(&dir.join("s"), "group1", &[t.addr()]);
    rt().block_on(wait_status(
        &t.addr(),
        "group1",
        s.port,
        ACTIVE,
        Duration::from_secs(8),
    ));
    let conf = dir.join("client.conf");
    std::fs::write(
        &conf,
        format!(
            "connect_timeout = 2\nnetwork_timeout = 10\nbase_path = /tmp\ntracker_server = {}\n",
            t.addr()
        ),
    )
    .unwrap();
    let bin = dir.join("bin");
    let o = Command::new(fdfs_cli())
        .arg("install-links")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Cluster {
        tracker: t.addr(),
        _t: t,
        s,
        conf,
        bin,
    }
}

impl Cluster {
    /// Runs tool `name` with CONF first, as the C tools take it.
    pub fn tool(&self, name: &str, args: &[&str]) -> Output {
        Command::new(self.bin.join(name))
            .arg(&self.conf)
            .args(args)
            .current_dir(self.bin.parent().unwrap())
            .output()
            .unwrap()
    }

    pub fn fdfs(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new(fdfs_cli())
            .args(["--tracker", &self.tracker])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut i = c.stdin.take().unwrap();
        if let Some(b) = stdin {
            // A command that fails before reading stdin closes it: not this helper's failure.
            let _ = i.write_all(b);
        }
        drop(i);
        c.wait_with_output().unwrap()
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exit code 0; returns stdout.
pub fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

pub fn crc32(b: &[u8]) -> u32 {
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

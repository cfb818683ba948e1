//! Test harness: runs the real `fdfs_storaged` binary on a free 127.0.0.1 port with a
//! temporary store directory.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use fdfs_client::{StorageClient, StorageOptions};

pub const GROUP: &str = "group1";

pub struct Daemon {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Daemon {
    /// Starts a daemon; `extra` is appended to the generated TOML (top-level keys first,
    /// then any `[limits]`/`[sync]` tables).
    pub fn start(extra: &str) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("storaged-test")
            .tempdir_in(test_root())
            .unwrap();
        let port = free_port();
        let config = dir.path().join("storage.toml");
        let text = format!(
            "group_name = \"{GROUP}\"\nbase_path = \"{}\"\nport = {port}\nlog_level = \"debug\"\nlog_file = \"{}\"\n{extra}\n",
            dir.path().display(),
            dir.path().join("storaged.log").display()
        );
        std::fs::write(&config, text).unwrap();
        let mut d = Daemon {
            child: None,
            port,
            dir,
            config,
        };
        d.spawn();
        d
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.base().join("storaged.log")).unwrap_or_default()
    }

    pub fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_fdfs_storaged"))
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(self.addr()).is_err() {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited at start: {st}\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not start\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        let mut c = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "daemon ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub async fn client(&self) -> StorageClient {
        StorageClient::connect_with(
            self.addr(),
            StorageOptions {
                timeout: Duration::from_secs(20),
                max_response: 1 << 30,
            },
        )
        .await
        .unwrap()
    }

    /// Files (not directories) under `data/` except the binlog/stat area and temp dir.
    pub fn data_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.base().join("data"), &mut out);
        out.retain(|p| {
            let s = p.to_string_lossy();
            !s.contains("/data/sync/")
                && !s.contains("/data/.tmp/")
                && !s.ends_with("/data/storage_stat.dat")
                && !s.ends_with("/data/.data_init_flag")
        });
        out
    }

    pub fn tmp_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.base().join("data/.tmp"), &mut out);
        out
    }

    pub fn binlog(&self) -> String {
        std::fs::read_to_string(self.base().join("data/sync/binlog.000")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Temp dirs live on the same disk as the project (not tmpfs) so fsync paths are exercised.
fn test_root() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// `<ancestor>/shared/testdata` or `<ancestor>/../shared/testdata`, walking up from the crate.
pub fn testdata() -> PathBuf {
    let mut cur = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = cur {
        for cand in [d.join("shared/testdata"), d.join("../shared/testdata")] {
            if cand.is_dir() {
                return cand;
            }
        }
        cur = d.parent();
    }
    panic!(
        "shared/testdata not found above {}",
        env!("CARGO_MANIFEST_DIR")
    );
}

/// Deterministic pseudo-random bytes.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Sends raw bytes on a fresh connection and returns everything the server sent until it
/// closed or went quiet for `quiet`, plus whether it closed.
pub async fn raw_exchange(addr: &str, req: &[u8], quiet: Duration) -> (Vec<u8>, bool) {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    read_until_quiet(&mut s, quiet).await
}

pub async fn read_until_quiet(s: &mut tokio::net::TcpStream, quiet: Duration) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match tokio::time::timeout(quiet, s.read(&mut buf)).await {
            Ok(Ok(0)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

//! Shared helpers: start the real `tyrantd` binary on a free loopback port.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fdfs_proto::memcached::{Request, Response, ResponseParser, RetrievalCommand, StorageCommand};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `<ancestor>/shared/testdata` or `<ancestor>/../shared/testdata`, walking up from the crate.
pub fn testdata() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    loop {
        for cand in [dir.join("shared/testdata"), dir.join("../shared/testdata")] {
            if cand.is_dir() {
                return cand;
            }
        }
        if !dir.pop() {
            panic!(
                "shared/testdata not found above {}",
                env!("CARGO_MANIFEST_DIR")
            );
        }
    }
}

pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub args: Vec<String>,
}

impl Daemon {
    pub fn start(dir: &Path, extra: &[&str]) -> Daemon {
        Self::start_on(dir, free_port(), extra)
    }

    pub fn start_on(dir: &Path, port: u16, extra: &[&str]) -> Daemon {
        let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tyrantd"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn tyrantd");
        let d = Daemon {
            child,
            port,
            dir: dir.to_path_buf(),
            args,
        };
        d.wait_ready();
        d
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(mut s) = TcpStream::connect(self.addr()) {
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                if s.write_all(b"version\r\n").is_ok() {
                    let mut b = [0u8; 64];
                    if let Ok(n) = s.read(&mut b) {
                        if b[..n].starts_with(b"VERSION ") {
                            return;
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("tyrantd on {} did not become ready", self.addr());
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn term(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if t.elapsed() > Duration::from_secs(20) {
                panic!("tyrantd did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn restart(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let d = Daemon::start_on(&self.dir, self.port, &args);
        let old = std::mem::replace(self, d);
        std::mem::forget(old);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking memcached client for tests: requests encoded and replies parsed by the project codec.
pub struct Mc {
    pub s: TcpStream,
    buf: Vec<u8>,
}

/// A reply reduced to what tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Values(Vec<(Vec<u8>, u32, Vec<u8>)>),
    Line(String),
    Stats(Vec<(String, String)>),
    Other(String),
}

impl Mc {
    pub fn connect(addr: &str) -> Mc {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        Mc { s, buf: Vec::new() }
    }

    fn fill(&mut self) -> bool {
        let mut b = [0u8; 65536];
        match self.s.read(&mut b) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&b[..n]);
                true
            }
        }
    }

    pub fn send(&mut self, req: &Request<'_>) -> bool {
        self.s.write_all(&req.to_bytes()).is_ok()
    }

    /// Next complete reply; `None` when the connection ends first.
    pub fn reply(&mut self) -> Option<Reply> {
        let p = ResponseParser::new();
        loop {
            let parsed = match p.parse_response(&self.buf) {
                Ok(Some((r, n))) => {
                    let out = match &r {
                        Response::Values(vs) => Reply::Values(
                            vs.iter()
                                .map(|v| (v.key.to_vec(), v.flags, v.data.to_vec()))
                                .collect(),
                        ),
                        Response::Line(l) => {
                            let mut b = Vec::new();
                            l.encode(&mut b);
                            Reply::Line(String::from_utf8_lossy(&b).trim_end().to_string())
                        }
                        Response::Stats(st) => Reply::Stats(
                            st.iter()
                                .map(|(k, v)| {
                                    (
                                        String::from_utf8_lossy(k).into_owned(),
                                        String::from_utf8_lossy(v).into_owned(),
                                    )
                                })
                                .collect(),
                        ),
                        other => Reply::Other(format!("{other:?}")),
                    };
                    Some((out, n))
                }
                Ok(None) => None,
                Err(e) => panic!("bad reply from tyrantd: {e:?}"),
            };
            if let Some((out, n)) = parsed {
                self.buf.drain(..n);
                return Some(out);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    pub fn set(&mut self, key: &str, val: &[u8]) -> Option<String> {
        let req = Request::Storage {
            command: StorageCommand::Set,
            key: key.as_bytes(),
            flags: 0,
            exptime: 0,
            cas: None,
            noreply: false,
            data: val,
        };
        if !self.send(&req) {
            return None;
        }
        match self.reply()? {
            Reply::Line(l) => Some(l),
            other => Some(format!("{other:?}")),
        }
    }

    pub fn get(&mut self, key: &str) -> Option<Option<Vec<u8>>> {
        let req = Request::Retrieval {
            command: RetrievalCommand::Get,
            exptime: None,
            keys: vec![key.as_bytes()],
        };
        if !self.send(&req) {
            return None;
        }
        match self.reply()? {
            Reply::Values(mut v) => Some(v.pop().map(|(_, _, d)| d)),
            other => panic!("unexpected get reply {other:?}"),
        }
    }

    pub fn stat(&mut self, name: &str) -> Option<String> {
        if !self.send(&Request::Stats { args: vec![] }) {
            return None;
        }
        match self.reply()? {
            Reply::Stats(st) => st.into_iter().find(|(k, _)| k == name).map(|(_, v)| v),
            other => panic!("unexpected stats reply {other:?}"),
        }
    }

    pub fn delete(&mut self, key: &str) -> Option<String> {
        if !self.send(&Request::Delete {
            key: key.as_bytes(),
            noreply: false,
        }) {
            return None;
        }
        match self.reply()? {
            Reply::Line(l) => Some(l),
            other => Some(format!("{other:?}")),
        }
    }
}

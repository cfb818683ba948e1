//! Real processes on loopback ports: `fdfs_trackerd` (this package, `CARGO_BIN_EXE_*`) and
//! `fdfs_storaged` / `fdfs` (other packages). Cargo cannot depend on another package's binary,
//! so those two are built once per test process with `cargo build -p … --bin …` into the same
//! target directory and profile as this test (found from the test executable's path).

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fdfs_client::{ClientOptions, FdfsClient, TrackerClient};

pub mod ctools;

pub const TRACKERD: &str = env!("CARGO_BIN_EXE_fdfs_trackerd");

/// `target/<profile>` of this build.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test-binary>
    exe.parent().unwrap().parent().unwrap().to_owned()
}

pub fn build(package: &str, bin: &str) -> PathBuf {
    let dir = profile_dir();
    let profile = dir.file_name().unwrap().to_str().unwrap().to_owned();
    let target = dir.parent().unwrap();
    let mut c = Command::new(env!("CARGO"));
    c.args([
        "build",
        "--quiet",
        "-p",
        package,
        "--bin",
        bin,
        "--target-dir",
    ])
    .arg(target);
    if profile == "release" {
        c.arg("--release");
    } else if profile != "debug" {
        c.args(["--profile", &profile]);
    }
    let st = c.status().expect("run cargo build");
    assert!(st.success(), "cargo build -p {package} --bin {bin} failed");
    let p = dir.join(bin);
    assert!(p.exists(), "{} missing after build", p.display());
    p
}

pub fn storaged() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build("fdfs-storage", "fdfs_storaged"))
}

pub fn fdfs_cli() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build("fdfs-client", "fdfs"))
}

/// Runs the real `fdfs` CLI against `tracker` and returns what it did.
pub fn fdfs_at(tracker: &str, args: &[&str]) -> std::process::Output {
    Command::new(fdfs_cli())
        .args(["--tracker", tracker])
        .args(args)
        .output()
        .expect("run fdfs")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (SIGKILL) on drop.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl Proc {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // A SIGSTOPped child must be able to die.
            let _ = Command::new("kill")
                .args(["-CONT", &self.pid().to_string()])
                .stderr(Stdio::null())
                .status();
        }
        self.kill9();
    }
}

pub fn spawn(bin: &Path, config: &Path, log: &Path, port: u16, dir: &Path) -> Proc {
    let child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut p = Proc {
        child,
        port,
        dir: dir.to_owned(),
        config: config.to_owned(),
        log: log.to_owned(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = p.child.try_wait() {
            panic!("{} exited with {st}: {}", bin.display(), p.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "{} did not listen on {port}",
            bin.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// Starts a tracker in `dir` (its base_path) with extra TOML lines.
pub fn tracker(dir: &Path, extra: &str) -> Proc {
    tracker_on(dir, free_port(), extra)
}

pub fn tracker_on(dir: &Path, port: u16, extra: &str) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    let log = dir.join("tracker.log");
    let config = dir.join("tracker.toml");
    let text = format!(
        "port = {port}\nbase_path = {dir:?}\nlog_file = {log:?}\nlog_level = \"debug\"\n\
         heart_beat_interval = 1\ncheck_active_interval = 3\n{extra}\n"
    );
    std::fs::write(&config, text).unwrap();
    spawn(Path::new(TRACKERD), &config, &log, port, dir)
}

/// Starts a storage of `group` reporting to `trackers` every second.
pub fn storage(dir: &Path, group: &str, trackers: &[String]) -> Proc {
    storage_on(dir, free_port(), group, trackers)
}

pub fn storage_on(dir: &Path, port: u16, group: &str, trackers: &[String]) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    let log = dir.join("storage.log");
    let config = dir.join("storage.toml");
    let text = format!(
        "group_name = \"{group}\"\nport = {port}\nbase_path = {dir:?}\nlog_file = {log:?}\n\
         tracker_servers = {trackers:?}\nheart_beat_interval = 1\nstat_report_interval = 1\n\
         subdir_count_per_path = 4\nreserved_storage_space = \"0%\"\n"
    );
    std::fs::write(&config, text).unwrap();
    spawn(storaged(), &config, &log, port, dir)
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub async fn tclient(addr: &str) -> TrackerClient {
    TrackerClient::connect(addr, Duration::from_secs(5))
        .await
        .unwrap()
}

pub fn client(trackers: &[String]) -> FdfsClient {
    let opts = ClientOptions {
        connect_timeout: Duration::from_secs(2),
        network_timeout: Duration::from_secs(10),
    };
    FdfsClient::new(trackers.to_vec(), opts).unwrap()
}

/// Status byte of the storage on `port` in `group`, as tracker `addr` lists it.
pub async fn status_of(addr: &str, group: &str, port: u16) -> Option<u8> {
    let mut t = TrackerClient::connect(addr, Duration::from_secs(2))
        .await
        .ok()?;
    let list = t.list_storages(group, None).await.ok()?;
    list.iter()
        .find(|s| s.storage_port == i64::from(port))
        .map(|s| s.status)
}

pub async fn wait_status(
    addr: &str,
    group: &str,
    port: u16,
    want: u8,
    within: Duration,
) -> Duration {
    let t0 = Instant::now();
    loop {
        let got = status_of(addr, group, port).await;
        if got == Some(want) {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < within,
            "storage {group}:{port} status {got:?}, wanted {want} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub const ACTIVE: u8 = 7;
pub const OFFLINE: u8 = 5;

/// `shared/testdata/fastdfs-c-6.16` (captures of the C FastDFS 6.16.1 reference), found by
/// walking up from this crate (`<ancestor>/shared` or `<ancestor>/../shared`).
pub fn c_captures() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        for cand in [dir.join("shared/testdata"), dir.join("../shared/testdata")] {
            let c = cand.join("fastdfs-c-6.16");
            if c.join("store-plain/manifest.json").exists() {
                return c;
            }
        }
        assert!(dir.pop(), "shared/testdata/fastdfs-c-6.16 not found");
    }
}

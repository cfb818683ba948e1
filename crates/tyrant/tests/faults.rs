//! Fault tests with real processes: kill -9 under load, dual-master convergence, late followers,
//! recovery from a checkpoint plus log tail.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, Daemon, Mc, Reply};
use fdfs_proto::memcached::Request;

fn value_for(key: &str, round: usize) -> Vec<u8> {
    let mut v = format!("{key}:{round}:").into_bytes();
    v.resize(1000 + (round * 37) % 9000, b'a' + (round % 26) as u8);
    v
}

/// All keys with their values, through a pipelined multi-get.
fn dump(addr: &str, keys: &[String]) -> BTreeMap<String, Vec<u8>> {
    let mut mc = Mc::connect(addr);
    let mut out = BTreeMap::new();
    for chunk in keys.chunks(100) {
        let ks: Vec<&[u8]> = chunk.iter().map(|k| k.as_bytes()).collect();
        assert!(mc.send(&Request::Retrieval {
            command: fdfs_proto::memcached::RetrievalCommand::Get,
            exptime: None,
            keys: ks
        }));
        match mc.reply().unwrap() {
            Reply::Values(vs) => {
                for (k, _, v) in vs {
                    out.insert(String::from_utf8(k).unwrap(), v);
                }
            }
            other => panic!("{other:?}"),
        }
    }
    out
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn kill9_under_write_load_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    // Small segments and checkpoints so the crash lands after rotations and a checkpoint.
    let mut d = Daemon::start(
        &dir.path().join("data"),
        &["--segment-size", "1m", "--checkpoint-size", "2m"],
    );
    let acked: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, stop, addr) = (acked.clone(), stop.clone(), d.addr());
        writers.push(std::thread::spawn(move || {
            let mut mc = Mc::connect(&addr);
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}-k{}", round % 150);
                let v = value_for(&key, round);
                match mc.set(&key, &v) {
                    Some(r) if r == "STORED" => {
                        acked.lock().unwrap().insert(key, v);
                    }
                    _ => break,
                }
                round += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(2500));
    d.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 100, "too little load: {}", acked.len());
    let segs = std::fs::read_dir(d.dir.join("seg")).unwrap().count();
    eprintln!(
        "acked keys {}, segments {segs}, checkpoint {}",
        acked.len(),
        d.dir.join("index.ckpt").exists()
    );
    d.restart();
    let keys: Vec<String> = acked.keys().cloned().collect();
    let got = dump(&d.addr(), &keys);
    let mut lost = 0;
    for (k, v) in &acked {
        // A write in flight at the kill may have landed after the last ack; an acked one must be
        // there, possibly overwritten only by that in-flight write of the same writer.
        match got.get(k) {
            Some(g) if g == v => {}
            Some(g) if g.starts_with(format!("{k}:").as_bytes()) => {
                let r = |b: &[u8]| {
                    String::from_utf8_lossy(b)
                        .split(':')
                        .nth(1)
                        .and_then(|s| s.parse::<usize>().ok())
                        .unwrap_or(0)
                };
                assert!(r(g) > r(v), "{k}: older value after restart");
            }
            _ => lost += 1,
        }
    }
    assert_eq!(lost, 0, "{lost} acknowledged writes lost");
}

#[test]
fn dual_master_pair_converges_after_a_kill_and_a_late_follower_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let a_args = ["--server-id", "1", "--master", &format!("127.0.0.1:{pb}")].map(String::from);
    let b_args = ["--server-id", "2", "--master", &format!("127.0.0.1:{pa}")].map(String::from);
    let a = Daemon::start_on(&dir.path().join("a"), pa, &args(&a_args));
    let mut b = Daemon::start_on(&dir.path().join("b"), pb, &args(&b_args));
    let keys: Vec<String> = (0..300).map(|i| format!("/img/{i}.jpg")).collect();
    // Writes on both sides, including the same keys on both (conflicts) and deletes.
    let mut ma = Mc::connect(&a.addr());
    let mut mb = Mc::connect(&b.addr());
    for (i, k) in keys.iter().enumerate() {
        let m = if i % 2 == 0 { &mut ma } else { &mut mb };
        assert_eq!(m.set(k, &value_for(k, i)).as_deref(), Some("STORED"));
        if i % 10 == 0 {
            assert_eq!(ma.set(k, b"from-a").as_deref(), Some("STORED"));
            assert_eq!(mb.set(k, b"from-b").as_deref(), Some("STORED"));
        }
    }
    wait_until("first convergence", Duration::from_secs(30), || {
        dump(&a.addr(), &keys) == dump(&b.addr(), &keys)
    });
    // Kill B, keep writing on A (B misses it), restart B.
    b.kill9();
    for (i, k) in keys.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        assert_eq!(
            ma.set(k, &value_for(k, i + 1000)).as_deref(),
            Some("STORED")
        );
    }
    for k in keys.iter().filter(|k| k.ends_with("7.jpg")) {
        assert_eq!(ma.delete(k).as_deref(), Some("DELETED"), "{k}");
    }
    b.restart();
    let mut mb = Mc::connect(&b.addr());
    for (i, k) in keys.iter().enumerate().filter(|(i, _)| i % 5 == 1) {
        assert_eq!(
            mb.set(k, &value_for(k, i + 2000)).as_deref(),
            Some("STORED")
        );
    }
    wait_until("pair convergence", Duration::from_secs(30), || {
        dump(&a.addr(), &keys) == dump(&b.addr(), &keys)
    });
    let final_a = dump(&a.addr(), &keys);
    assert!(
        final_a.len() > 250 && final_a.len() < 300,
        "deletes replicated: {}",
        final_a.len()
    );
    // No record bounced back: counters stay put once converged.
    std::thread::sleep(Duration::from_millis(1500));
    let head = |addr: &str| Mc::connect(addr).stat("log_position").unwrap();
    let (ha, hb) = (head(&a.addr()), head(&b.addr()));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        (ha, hb),
        (head(&a.addr()), head(&b.addr())),
        "replication loop: logs keep growing"
    );
    // A follower started late catches up with everything, deletes included.
    let c = Daemon::start(
        &dir.path().join("c"),
        &["--server-id", "3", "--master", &a.addr(), "--read-only"],
    );
    wait_until("late follower", Duration::from_secs(30), || {
        dump(&c.addr(), &keys) == final_a
    });
}

#[test]
fn compaction_reclaims_space_and_keeps_data_across_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let opts = [
        "--segment-size",
        "1m",
        "--compact-interval-secs",
        "1",
        "--compact-ratio",
        "0.5",
    ];
    let mut d = Daemon::start(&dir.path().join("data"), &opts);
    let keys: Vec<String> = (0..200).map(|i| format!("/c/{i}.png")).collect();
    let mut mc = Mc::connect(&d.addr());
    for round in 0..4 {
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                mc.set(k, &value_for(k, round * 1000 + i)).as_deref(),
                Some("STORED")
            );
        }
    }
    for k in keys.iter().filter(|k| k.ends_with("3.png")) {
        assert_eq!(mc.delete(k).as_deref(), Some("DELETED"));
    }
    let before = dump(&d.addr(), &keys);
    let disk = |mc: &mut Mc| mc.stat("disk_bytes").unwrap().parse::<u64>().unwrap();
    let disk0 = disk(&mut mc);
    wait_until("a compaction", Duration::from_secs(30), || {
        Mc::connect(&d.addr()).stat("compactions").unwrap() != "0"
    });
    wait_until("space reclaimed", Duration::from_secs(30), || {
        disk(&mut Mc::connect(&d.addr())) < disk0 / 2
    });
    assert_eq!(dump(&d.addr(), &keys), before);
    d.kill9();
    d.restart();
    assert_eq!(dump(&d.addr(), &keys), before, "after kill -9 and restart");
}

//! Replays the golden memcached 1.6.18 transcripts against the real `tyrantd` binary and compares
//! the replies byte for byte, after these documented normalisations (applied to both sides):
//! 1. `VERSION x.y.z` → `VERSION <v>` (the file says to check only the shape).
//! 2. The cas unique of `VALUE <key> <flags> <len> <cas>` lines (gets/gats) and meta `c<N>`
//!    return flags → `<cas>`: cas values depend on server history. Every cas we saw is mapped from
//!    the recorded one to ours, and later `cas …` lines / meta `C<N>` flags are rewritten with it.
//! 3. Meta `t<N>` TTLs with N ≥ 0 → `t<ttl>` (timing); `t-1` is compared as is.
//! 4. The case "cas: success, EXISTS…" starts with `gets casit` that hits an item the capture set
//!    up off the record; we store `casit`=`1` first. Likewise "cas noreply" uses cas 52 of an
//!    `nrc` item set off the record: we store `nrc` and map 52 to its cas.
//!
//! Cases using meta flags tyrantd deliberately does not implement (N vivify, I invalidate: cache
//! stampede machinery with no meaning in a persistent store) are checked separately: tyrantd must
//! answer those steps with `CLIENT_ERROR flag not supported by tyrantd`.
//! Server settings match the capture: 1 MiB item limit, flush_all allowed.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{testdata, Daemon};
use serde_json::Value;

fn latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

fn send_bytes(step: &Value) -> Vec<Vec<u8>> {
    if let Some(s) = step["send"].as_str() {
        return vec![latin1(s)];
    }
    let desc = step["send_desc"].as_str().unwrap_or("");
    if desc.starts_with("set big 0 0 1572864") {
        let mut v = b"set big 0 0 1572864\r\n".to_vec();
        v.extend(std::iter::repeat_n(b'x', 1_572_864));
        v.extend_from_slice(b"\r\n");
        vec![v]
    } else if desc.starts_with("2097152 bytes of 'y'") {
        let mut v = vec![b'y'; 2_097_152];
        v.extend_from_slice(b"\r\n");
        vec![v]
    } else if desc.starts_with("get followed by 300 keys") {
        let keys: Vec<String> = (0..300).map(|i| format!("mk{i:08}")).collect();
        vec![format!("get {}\r\n", keys.join(" ")).into_bytes()]
    } else if desc.is_empty() && step["server_closed"].as_bool() == Some(true) {
        // "line too long without newline": 4096 bytes, no newline, not a get.
        vec![vec![b'x'; 4096]]
    } else {
        panic!("unknown send_desc {desc:?}");
    }
}

fn is_meta_line(l: &[u8]) -> bool {
    [&b"VA"[..], b"HD", b"EN", b"NF", b"NS", b"EX", b"MN"]
        .iter()
        .any(|p| l.starts_with(p) && (l.len() == 2 || l[2] == b' '))
}

/// Normalises a reply; returns it plus the cas values in order of appearance.
fn normalize(b: &[u8]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut cas = Vec::new();
    let mut rest = b;
    while !rest.is_empty() {
        let (line, tail) = match rest.windows(2).position(|w| w == b"\r\n") {
            Some(p) => (&rest[..p], &rest[p + 2..]),
            None => (rest, &b""[..]),
        };
        let mut l = line.to_vec();
        let toks: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
        if line.starts_with(b"VERSION ") {
            l = b"VERSION <v>".to_vec();
        } else if line.starts_with(b"VALUE ") && toks.len() == 5 {
            if let Some(c) = std::str::from_utf8(toks[4])
                .ok()
                .and_then(|s| s.parse().ok())
            {
                cas.push(c);
            }
            l = [&toks[..4].join(&b' ')[..], b" <cas>"].concat();
        } else if is_meta_line(line) {
            let t: Vec<Vec<u8>> = toks
                .iter()
                .map(|t| {
                    let num = |t: &[u8]| {
                        std::str::from_utf8(&t[1..])
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                    };
                    if t.len() > 1 && t[0] == b'c' && num(t).is_some() {
                        cas.push(num(t).unwrap_or(0));
                        b"c<cas>".to_vec()
                    } else if t.len() > 1 && t[0] == b't' && num(t).is_some() {
                        b"t<ttl>".to_vec()
                    } else {
                        t.to_vec()
                    }
                })
                .collect();
            l = t.join(&b' ');
        }
        out.extend_from_slice(&l);
        if rest.len() > line.len() {
            out.extend_from_slice(b"\r\n");
        }
        rest = tail;
    }
    (out, cas)
}

/// Rewrites recorded cas uniques in a request with the ones our server handed out.
fn map_cas(req: &[u8], map: &HashMap<u64, u64>) -> Vec<u8> {
    let Some(p) = req.windows(2).position(|w| w == b"\r\n") else {
        return req.to_vec();
    };
    let (line, rest) = req.split_at(p);
    let mut toks: Vec<Vec<u8>> = line.split(|&c| c == b' ').map(<[u8]>::to_vec).collect();
    let lookup = |t: &[u8]| {
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .and_then(|c| map.get(&c).copied())
    };
    if toks.first().map(Vec::as_slice) == Some(b"cas") && toks.len() >= 6 {
        if let Some(n) = lookup(&toks[5]) {
            toks[5] = n.to_string().into_bytes();
        }
    }
    if toks.first().is_some_and(|t| t.len() == 2 && t[0] == b'm') {
        for t in toks.iter_mut().skip(2) {
            if t.len() > 1 && t[0] == b'C' {
                if let Some(n) = lookup(&t[1..]) {
                    *t = format!("C{n}").into_bytes();
                }
            }
        }
    }
    [toks.join(&b' '), rest.to_vec()].concat()
}

/// Reads until the normalised reply equals `want`, the server closes, or it stays idle.
fn read_reply(s: &mut TcpStream, want: &[u8], patience: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let idle = if want.is_empty() {
        Duration::from_millis(150)
    } else {
        Duration::from_millis(400)
    };
    let start = Instant::now();
    let mut last = Instant::now();
    loop {
        if !want.is_empty() && normalize(&got).0 == want {
            // Anything extra would show up quickly.
            s.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            match s.read(&mut buf) {
                Ok(0) => return (got, true),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => return (got, false),
            }
            continue;
        }
        let wait = if got.is_empty() && !want.is_empty() && start.elapsed() < patience {
            patience - start.elapsed()
        } else {
            idle.saturating_sub(last.elapsed())
        };
        if wait.is_zero() {
            return (got, false);
        }
        s.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                last = Instant::now();
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                if !got.is_empty() || start.elapsed() >= patience || want.is_empty() {
                    return (got, false);
                }
            }
            Err(_) => return (got, true),
        }
    }
}

const UNSUPPORTED_CASES: [&str; 2] = ["mg T touch and N vivify", "md I invalidate then mg"];

#[test]
fn golden_memcached_transcripts_replay() {
    let path = testdata().join("memcached-transcripts.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &dir.path().join("data"),
        &["--max-item-size", "1m", "--allow-flush-all"],
    );
    let mut cas_map: HashMap<u64, u64> = HashMap::new();
    let mut failures = Vec::new();
    let mut steps_checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let unsupported = UNSUPPORTED_CASES.contains(&name);
        let mut s = TcpStream::connect(d.addr()).unwrap();
        s.set_nodelay(true).unwrap();
        let t0 = Instant::now();
        if name.starts_with("cas: success") {
            s.write_all(b"set casit 0 0 1\r\n1\r\n").unwrap();
            let (r, _) = read_reply(&mut s, b"STORED\r\n", Duration::from_secs(2));
            assert_eq!(r, b"STORED\r\n");
        }
        if name == "cas noreply" {
            // The capture stored `nrc` (cas 52) off the record.
            s.write_all(b"set nrc 0 0 1\r\n1\r\ngets nrc\r\n").unwrap();
            let (r, _) = read_reply(
                &mut s,
                b"STORED\r\nVALUE nrc 0 1 <cas>\r\n1\r\nEND\r\n",
                Duration::from_secs(2),
            );
            cas_map.insert(52, normalize(&r).1[0]);
        }
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let want_raw = latin1(step["recv"].as_str().unwrap());
            let (want, want_cas) = normalize(&want_raw);
            let sends = send_bytes(step);
            let uses_unsupported = sends[0].starts_with(b"m")
                && sends[0]
                    .split(|&c| c == b'\r')
                    .next()
                    .unwrap_or(&[])
                    .split(|&c| c == b' ')
                    .skip(2)
                    .any(|t| t.first().is_some_and(|f| *f == b'N' || *f == b'I'));
            if !unsupported {
                for b in &sends {
                    s.write_all(&map_cas(b, &cas_map)).unwrap();
                }
            }
            let patience = if sends[0].len() > 1 << 20 {
                Duration::from_secs(5)
            } else {
                Duration::from_secs(2)
            };
            if unsupported {
                if uses_unsupported {
                    let mut s = TcpStream::connect(d.addr()).unwrap();
                    s.write_all(&sends[0]).unwrap();
                    let (got, _) = read_reply(
                        &mut s,
                        b"CLIENT_ERROR flag not supported by tyrantd\r\n",
                        patience,
                    );
                    if got != b"CLIENT_ERROR flag not supported by tyrantd\r\n" {
                        failures.push(format!(
                            "{name} step {i}: unsupported flag answered {:?}",
                            String::from_utf8_lossy(&got)
                        ));
                    }
                    steps_checked += 1;
                }
                continue;
            }
            let (got_raw, closed) = read_reply(&mut s, &want, patience);
            let (got, got_cas) = normalize(&got_raw);
            for (w, g) in want_cas.iter().zip(&got_cas) {
                cas_map.insert(*w, *g);
            }
            steps_checked += 1;
            if got != want {
                failures.push(format!(
                    "{name} step {i}: sent {:?}\n  want {:?}\n  got  {:?}",
                    String::from_utf8_lossy(&sends[0][..sends[0].len().min(80)]),
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                ));
            }
            let want_closed = step["server_closed"].as_bool().unwrap_or(false);
            if want_closed && !closed {
                failures.push(format!(
                    "{name} step {i}: server should have closed the connection"
                ));
            }
            if closed && !want_closed {
                failures.push(format!(
                    "{name} step {i}: server closed the connection unexpectedly"
                ));
                break;
            }
        }
        if t0.elapsed() > Duration::from_millis(800) {
            eprintln!("slow case {name:?}: {:?}", t0.elapsed());
        }
    }
    assert!(steps_checked > 200, "only {steps_checked} steps checked");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Values of 32 KiB and more are sent straight from the segment file; pipelined replies must stay in order and
/// intact, in `get` and `gets` form, and survive a restart.
#[test]
fn big_values_pipelined_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&dir.path().join("data"), &[]);
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut mc = common::Mc::connect(&d.addr());
    assert_eq!(mc.set("big", &big).as_deref(), Some("STORED"));
    assert_eq!(mc.set("small", b"s").as_deref(), Some("STORED"));
    for _ in 0..2 {
        let mut s = TcpStream::connect(d.addr()).unwrap();
        s.write_all(b"get small\r\nget big small big\r\ngets big\r\nget small\r\n")
            .unwrap();
        let mut want = b"VALUE small 0 1\r\ns\r\nEND\r\n".to_vec();
        for k in ["big", "small", "big"] {
            let v: &[u8] = if k == "big" { &big } else { b"s" };
            want.extend_from_slice(format!("VALUE {k} 0 {}\r\n", v.len()).as_bytes());
            want.extend_from_slice(v);
            want.extend_from_slice(b"\r\n");
        }
        want.extend_from_slice(b"END\r\n");
        let mut got = vec![0u8; want.len()];
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.read_exact(&mut got).unwrap();
        assert!(got == want, "pipelined get replies differ");
        let mut rest = Vec::new();
        while !rest.ends_with(b"VALUE small 0 1\r\ns\r\nEND\r\n") {
            let mut b = [0u8; 65536];
            let n = s.read(&mut b).unwrap();
            assert!(n > 0);
            rest.extend_from_slice(&b[..n]);
        }
        let (norm, _) = normalize(&rest[..rest.len() - 25]);
        let mut gets_want = format!("VALUE big 0 {} <cas>\r\n", big.len()).into_bytes();
        gets_want.extend_from_slice(&big);
        gets_want.extend_from_slice(b"\r\nEND\r\n");
        assert!(norm == gets_want, "gets reply differs");
        d.kill9();
        d.restart();
    }
}

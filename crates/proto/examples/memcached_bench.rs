//! Throughput of the memcached codec on typical traffic. Run with
//! `cargo run --release -p fdfs-proto --example memcached_bench`
//! (or `scripts/bench/memcached-codec`); prints a Markdown table.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fdfs_proto::memcached::{
    encode_value_header, parse_request, Limits, Parsed, ReplyLine, RequestDecoder, ResponseParser,
    Value,
};

/// Runs `f` (which handles `bytes` bytes and `ops` operations per call) for
/// about `budget` and prints one table row.
fn bench(name: &str, bytes: usize, ops: usize, budget: Duration, mut f: impl FnMut()) {
    for _ in 0..1000 {
        f();
    }
    let start = Instant::now();
    let mut iters: u64 = 0;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        iters += 100;
    }
    let secs = start.elapsed().as_secs_f64();
    let ops_s = iters as f64 * ops as f64 / secs;
    let mb_s = iters as f64 * bytes as f64 / secs / 1e6;
    let ops = if ops_s >= 1e6 {
        format!("{:.2} M/s", ops_s / 1e6)
    } else {
        format!("{:.2} k/s", ops_s / 1e3)
    };
    println!(
        "| {name} | {ops} | {mb_s:.0} MB/s | {:.0} ns |",
        1e9 / ops_s
    );
}

fn main() {
    let budget = Duration::from_millis(700);
    let limits = Limits::memcached();
    println!("| operation | ops | bytes | per op |");
    println!("|---|---|---|---|");

    let get = b"get /images/2024/05/17/photo-000123.jpg\r\n";
    bench("parse `get <40-byte key>`", get.len(), 1, budget, || {
        black_box(parse_request(black_box(get), &limits));
    });

    let mut set = b"set /images/2024/05/17/photo-000123.jpg 0 0 4096\r\n".to_vec();
    set.extend(vec![b'x'; 4096]);
    set.extend_from_slice(b"\r\n");
    bench(
        "parse `set` with a 4 KiB value",
        set.len(),
        1,
        budget,
        || {
            black_box(parse_request(black_box(&set), &limits));
        },
    );

    let mut multi = b"get".to_vec();
    for i in 0..100 {
        multi.extend_from_slice(format!(" /img/{i:06}.jpg").as_bytes());
    }
    multi.extend_from_slice(b"\r\n");
    bench(
        "parse 100-key multi-get (per key)",
        multi.len(),
        100,
        budget,
        || {
            black_box(parse_request(black_box(&multi), &limits));
        },
    );

    let mut pipeline = Vec::new();
    for i in 0..50 {
        pipeline.extend_from_slice(
            format!("get /img/{i}.jpg\r\nset /img/{i}.jpg 0 0 5 noreply\r\nhello\r\n").as_bytes(),
        );
    }
    bench(
        "decode a 100-command pipeline (per command)",
        pipeline.len(),
        100,
        budget,
        || {
            let mut dec = RequestDecoder::new(limits.clone());
            let mut pos = 0;
            while let Parsed::Request { consumed, request } = dec.decode(&pipeline[pos..]) {
                black_box(request);
                pos += consumed;
            }
            assert_eq!(pos, pipeline.len());
        },
    );

    let mut long_get = b"get".to_vec();
    while long_get.len() < 60_000 {
        long_get.extend_from_slice(b" /images/2024/05/17/photo-000123.jpg");
    }
    long_get.extend_from_slice(b"\r\n");
    bench(
        "decode a 60 KB multi-get arriving 16 bytes at a time",
        long_get.len(),
        1,
        Duration::from_millis(300),
        || {
            let mut dec = RequestDecoder::new(limits.clone());
            let mut fed = 0;
            loop {
                fed = (fed + 16).min(long_get.len());
                match dec.decode(&long_get[..fed]) {
                    Parsed::Incomplete => continue,
                    other => {
                        black_box(other);
                        break;
                    }
                }
            }
        },
    );

    let data = vec![b'y'; 4096];
    let mut out = Vec::with_capacity(8192);
    bench(
        "encode `VALUE` reply with 4 KiB data",
        4096 + 60,
        1,
        budget,
        || {
            out.clear();
            Value {
                key: b"/images/2024/05/17/photo-000123.jpg",
                flags: 0,
                cas: None,
                data: &data,
            }
            .encode(&mut out);
            out.extend_from_slice(b"END\r\n");
            black_box(&out);
        },
    );

    let mut reply = Vec::new();
    encode_value_header(
        &mut reply,
        b"/images/2024/05/17/photo-000123.jpg",
        0,
        4096,
        None,
    );
    reply.extend(vec![b'z'; 4096]);
    reply.extend_from_slice(b"\r\nEND\r\n");
    let parser = ResponseParser::new();
    bench("client: parse `VALUE` header line", 50, 1, budget, || {
        black_box(parser.parse_line(black_box(&reply)).ok());
    });
    bench(
        "client: parse whole 4 KiB get reply",
        reply.len(),
        1,
        budget,
        || {
            let r = parser.parse_response(black_box(&reply));
            assert!(matches!(r, Ok(Some(_))));
            black_box(r.ok());
        },
    );
    let mut line = Vec::new();
    ReplyLine::Stored.encode(&mut line);
    bench("client: parse `STORED`", line.len(), 1, budget, || {
        black_box(parser.parse_line(black_box(&line)).ok());
    });
}

//! Prints the FastDFS logical name (`M00/HH/HH/<name>`) a storage at IPV4 would give FILE now.
//! Used by `scripts/run` to place its demo image; the storage daemon names uploads the same way.
//!
//! `cargo run -p fdfs-proto --example file_id -- FILE IPV4 [SUB_HIGH SUB_LOW]`

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use fdfs_proto::fileid::{encode_raw, format_ext, logical_name, masked_size, SizeKind, Source};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(name) => {
            println!("{name}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("file_id: {e}");
            eprintln!("usage: file_id FILE IPV4 [SUB_HIGH SUB_LOW]");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<String, String> {
    let [file, ip, rest @ ..] = args.as_slice() else {
        return Err("missing arguments".into());
    };
    let data = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let ip: Ipv4Addr = ip.parse().map_err(|e| format!("bad IPv4 {ip}: {e}"))?;
    let sub = |i: usize| -> Result<u8, String> {
        rest.get(i)
            .map(|s| u8::from_str_radix(s, 16).map_err(|e| format!("bad sub-directory {s}: {e}")))
            .unwrap_or(Ok(0))
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let seed = now.subsec_nanos();
    let timestamp = i32::try_from(now.as_secs()).map_err(|_| "clock past 2038")?;
    let ext = std::path::Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 6)
        .unwrap_or("");
    let raw = encode_raw(
        Source::Ipv4(ip),
        timestamp,
        masked_size(SizeKind::Normal, data.len() as u64, seed),
        crc32fast::hash(&data),
    );
    let mut digits = seed;
    let formatted = format_ext(ext, || {
        digits = digits.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (digits >> 16) as u8
    })
    .map_err(|e| e.to_string())?;
    Ok(logical_name(0, sub(0)?, sub(1)?, &raw, None, &formatted))
}

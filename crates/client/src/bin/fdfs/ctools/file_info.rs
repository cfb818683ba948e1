//! `fdfs_file_info [-n] [-s] CONF FILE_ID`: the C tool's lines. A normal file is decoded from
//! its ID alone (a deleted one still "succeeds", as in C); appender and slave files, and IDs
//! that carry a storage id instead of an IP, are asked from the storage (`GET FROM SERVER: true`).

use fdfs_client::split_file_id;
use fdfs_proto::fileid::{DecodedFileId, FileType, Source};

use super::{block_on, client_from, errno, strerror, EINVAL};
use crate::info::utc;

/// `-n`: the storage skips the CRC32 of appender files; `-s`: it logs nothing if missing.
const NO_CRC32: u8 = 1;
const SILENT: u8 = 2;

pub fn run(argv0: &str, args: &[String]) -> i32 {
    let mut flags = 0u8;
    let mut pos = Vec::new();
    for a in args {
        match a.strip_prefix('-') {
            Some(opts) if !opts.is_empty() => {
                for c in opts.chars() {
                    match c {
                        'n' => flags |= NO_CRC32,
                        's' => flags |= SILENT,
                        _ => return usage(argv0),
                    }
                }
            }
            _ => pos.push(a.as_str()),
        }
    }
    let [conf, id, ..] = pos[..] else {
        return usage(argv0);
    };
    let client = match client_from(conf) {
        Ok(c) => c,
        Err(n) => return n,
    };
    let fail = |n: i32, detail: String| {
        eprintln!("fdfs: {detail}");
        eprintln!(
            "query file info fail, error no: {n}, error info: {}",
            strerror(n)
        );
        n
    };
    let decoded = split_file_id(id)
        .map_err(|e| e.to_string())
        .and_then(|(_, name)| {
            DecodedFileId::from_name_lenient(name.as_bytes())
                .ok_or_else(|| format!("cannot decode file ID {id}"))
        });
    let d = match decoded {
        Ok(d) => d,
        Err(e) => return fail(EINVAL, e),
    };
    let ftype = d.file_type();
    let (src_id, mut src_ip) = match d.source {
        Source::Ipv4(ip) => (0, ip.to_string()),
        Source::ServerId(id) => (id, String::new()),
    };
    let ask = matches!(ftype, FileType::Appender | FileType::Slave) || src_ip.is_empty();
    let (mut ts, mut size, mut crc) = (
        i64::from(d.create_timestamp),
        d.size().map_or(-1, |s| s as i64),
        d.crc32,
    );
    if ask {
        match block_on(client.query_file_info_flags(id, flags)) {
            Ok(Ok(fi)) => {
                ts = fi.create_timestamp;
                size = fi.file_size;
                crc = fi.crc32;
                src_ip = fi.source_ip;
            }
            Ok(Err(e)) => return fail(errno(&e), format!("query file info of {id}: {e}")),
            Err(n) => return n,
        }
    }
    let kind = match ftype {
        FileType::Normal | FileType::Trunk => "normal",
        FileType::Appender => "appender",
        FileType::Slave => "slave",
    };
    println!("GET FROM SERVER: {ask}\n");
    println!("file type: {kind}");
    println!("source storage id: {src_id}");
    println!("source ip address: {src_ip}");
    println!("file create timestamp: {}", utc(ts));
    println!("file size: {size}");
    if flags & NO_CRC32 == 0 || crc != 0 {
        println!("file crc32: {} (0x{crc:08x})", crc as i32);
    }
    println!();
    0
}

fn usage(argv0: &str) -> i32 {
    println!(
        "Usage: {argv0} [-n (no CRC32 of appender files)] [-s (storage stays silent)] CONF FILE_ID"
    );
    1
}

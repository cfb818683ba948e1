//! `fdfs info`: what `fdfs_file_info` prints. Normal files are decoded from the ID alone;
//! appender and slave files (whose size is not in the name), or `--server`, ask the storage.

use fdfs_client::{split_file_id, FdfsClient};
use fdfs_proto::fileid::{DecodedFileId, FileType, Source};

pub async fn run(client: &FdfsClient, file_id: &str, server: bool) -> Result<(), String> {
    let (_, name) = split_file_id(file_id).map_err(|e| e.to_string())?;
    let d = DecodedFileId::from_name_lenient(name.as_bytes())
        .ok_or_else(|| format!("cannot decode {file_id}"))?;
    let ftype = d.file_type();
    let ask = server || matches!(ftype, FileType::Appender | FileType::Slave);
    let (src_id, mut src_ip) = match d.source {
        Source::Ipv4(ip) => ("0".to_owned(), ip.to_string()),
        Source::ServerId(id) => (id.to_string(), String::new()),
    };
    let (mut ts, mut size, mut crc) = (
        i64::from(d.create_timestamp),
        d.size().map_or(-1, |s| s as i64),
        d.crc32,
    );
    if ask {
        let fi = client
            .query_file_info(file_id)
            .await
            .map_err(|e| format!("query file info of {file_id}: {e}"))?;
        ts = fi.create_timestamp;
        size = fi.file_size;
        crc = fi.crc32;
        if !fi.source_ip.is_empty() {
            src_ip = fi.source_ip;
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
    println!("file crc32: {} (0x{crc:08x})\n", crc as i32);
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (days-from-civil inverse, Howard Hinnant's algorithm).
pub fn utc(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86400), t.rem_euclid(86400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_format() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_763_764_756), "2025-11-21 22:39:16");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00");
    }
}

//! Round trips against the real daemon: exact bytes, names, statuses, on-disk layout.

mod common;

use std::collections::HashSet;

use common::{bytes, Daemon, GROUP};
use fdfs_client::{MetaItem, MetaOp, Metadata};
use fdfs_proto::fileid::{parse_logical_name, FileType, Source};
use fdfs_proto::status;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_download_delete_exact_bytes_and_layout() {
    let d = Daemon::start("");
    let mut c = d.client().await;
    for (i, len) in [0usize, 1, 14, 10 * 1024, 300 * 1024, 1 << 20]
        .into_iter()
        .enumerate()
    {
        let data = bytes(len, i as u64);
        let f = c.upload(0, "bin", &data).await.unwrap();
        assert_eq!(f.group, GROUP);
        assert_eq!(f.file_name.len(), 44, "{}", f.file_name);
        assert!(f.file_name.ends_with(".bin"));
        let id = parse_logical_name(f.file_name.as_bytes()).unwrap();
        let dec = id.decode();
        assert_eq!(dec.file_type(), FileType::Normal);
        assert_eq!(dec.size(), Some(len as u64));
        assert_eq!(dec.crc32, fdfs_proto::fileid::Crc32::checksum(&data));
        assert_eq!(dec.source, Source::Ipv4("127.0.0.1".parse().unwrap()));
        // Exactly FastDFS's layout, so nginx can serve it as a plain file.
        let on_disk = std::fs::read(d.base().join(id.data_rel_path())).unwrap();
        assert_eq!(on_disk, data);
        assert_eq!(c.download(GROUP, &f.file_name, 0, 0).await.unwrap(), data);
        if len >= 14 {
            assert_eq!(
                c.download(GROUP, &f.file_name, 6, 7).await.unwrap(),
                &data[6..13]
            );
            // Length past the end is clamped, as in FastDFS 6.16.
            assert_eq!(
                c.download(GROUP, &f.file_name, 6, 1 << 40).await.unwrap(),
                &data[6..]
            );
        }
        c.delete(GROUP, &f.file_name).await.unwrap();
        let e = c.download(GROUP, &f.file_name, 0, 0).await.unwrap_err();
        assert_eq!(e.status(), Some(status::ENOENT));
        // ENOENT keeps the connection usable.
        c.active_test().await.unwrap();
        assert!(!d.base().join(id.data_rel_path()).exists());
    }
    let e = c
        .delete(GROUP, "M00/00/00/fwAAAWsCHaeAJxvrAAAADg4Qul0442.txt")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(status::ENOENT));
    assert!(d.tmp_files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_byte_download_succeeds_but_offset_at_end_is_einval() {
    let d = Daemon::start("");
    let mut c = d.client().await;
    let empty = c.upload(0, "", b"").await.unwrap();
    // 7 random digits, no dot, for an empty extension.
    assert!(empty.file_name[37..].bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        c.download(GROUP, &empty.file_name, 0, 0).await.unwrap(),
        b""
    );
    let f = c.upload(0, "txt", b"hello fastdfs\n").await.unwrap();
    let e = c.download(GROUP, &f.file_name, 14, 1).await.unwrap_err();
    assert_eq!(e.status(), Some(status::EINVAL));
    // FastDFS closes after a header-only EINVAL.
    assert!(c.active_test().await.is_err());
    let mut c = d.client().await;
    let e = c.download(GROUP, &empty.file_name, 1, 0).await.unwrap_err();
    assert_eq!(e.status(), Some(status::EINVAL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_set_merge_get_and_sidecar() {
    let d = Daemon::start("");
    let mut c = d.client().await;
    let f = c.upload(0, "jpg", b"image").await.unwrap();
    let e = c.get_metadata(GROUP, &f.file_name).await.unwrap_err();
    assert_eq!(e.status(), Some(status::ENOENT));
    let m = |v: &[(&str, &str)]| Metadata(v.iter().map(|(a, b)| MetaItem::new(a, b)).collect());
    c.set_metadata(
        GROUP,
        &f.file_name,
        MetaOp::Overwrite,
        m(&[("width", "160"), ("author", "vectors")]),
    )
    .await
    .unwrap();
    let sidecar = d.base().join(
        parse_logical_name(f.file_name.as_bytes())
            .unwrap()
            .data_rel_path()
            + "-m",
    );
    assert_eq!(
        std::fs::read(&sidecar).unwrap(),
        b"author\x02vectors\x01width\x02160"
    );
    c.set_metadata(
        GROUP,
        &f.file_name,
        MetaOp::Merge,
        m(&[("height", "80"), ("width", "1024")]),
    )
    .await
    .unwrap();
    let got = c.get_metadata(GROUP, &f.file_name).await.unwrap();
    assert_eq!(
        got,
        m(&[("author", "vectors"), ("height", "80"), ("width", "1024")])
    );
    c.set_metadata(GROUP, &f.file_name, MetaOp::Overwrite, m(&[("a", "1")]))
        .await
        .unwrap();
    assert_eq!(
        c.get_metadata(GROUP, &f.file_name).await.unwrap(),
        m(&[("a", "1")])
    );
    // Overwriting with nothing removes the sidecar.
    c.set_metadata(GROUP, &f.file_name, MetaOp::Overwrite, Metadata::default())
        .await
        .unwrap();
    assert!(!sidecar.exists());
    c.set_metadata(GROUP, &f.file_name, MetaOp::Merge, m(&[("k", "v")]))
        .await
        .unwrap();
    // Delete takes the sidecar with it.
    c.delete(GROUP, &f.file_name).await.unwrap();
    assert!(!sidecar.exists());
    let e = c
        .set_metadata(GROUP, &f.file_name, MetaOp::Merge, m(&[("k", "v")]))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(status::ENOENT));
    let log = d.binlog();
    let ops: Vec<&str> = log.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(ops, ["C", "U", "U", "U", "D", "U", "D"], "{log}");
    assert!(log
        .lines()
        .nth(1)
        .unwrap()
        .ends_with(&format!("{}-m", f.file_name)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appender_append_modify_truncate_and_file_info() {
    let d = Daemon::start("");
    let mut c = d.client().await;
    let a = c.upload_appender(0, "log", b"part1-").await.unwrap();
    let dec = parse_logical_name(a.file_name.as_bytes()).unwrap().decode();
    assert_eq!(dec.file_type(), FileType::Appender);
    assert_eq!(dec.crc32, fdfs_proto::fileid::Crc32::checksum(b"part1-"));
    c.append(&a.file_name, b"part2\n").await.unwrap();
    assert_eq!(
        c.download(GROUP, &a.file_name, 0, 0).await.unwrap(),
        b"part1-part2\n"
    );
    c.modify(&a.file_name, 4, b"XY").await.unwrap();
    assert_eq!(
        c.download(GROUP, &a.file_name, 0, 0).await.unwrap(),
        b"partXY"
            .iter()
            .chain(b"part2\n")
            .copied()
            .collect::<Vec<u8>>()
    );
    let info = c.query_file_info(GROUP, &a.file_name, 0).await.unwrap();
    assert_eq!(info.file_size, 12);
    assert_eq!(
        info.crc32,
        fdfs_proto::fileid::Crc32::checksum(b"partXYpart2\n")
    );
    assert_eq!(info.source_ip, "127.0.0.1");
    let info = c.query_file_info(GROUP, &a.file_name, 1).await.unwrap();
    assert_eq!(info.crc32, 0, "flag 1 = do not compute CRC32");
    c.truncate(&a.file_name, 4).await.unwrap();
    assert_eq!(
        c.download(GROUP, &a.file_name, 0, 0).await.unwrap(),
        b"part"
    );
    c.truncate(&a.file_name, 4).await.unwrap();
    let e = c.modify(&a.file_name, 5, b"z").await.unwrap_err();
    assert_eq!(e.status(), Some(status::EINVAL), "offset beyond the end");

    let mut c = d.client().await;
    let n = c.upload(0, "txt", b"normal").await.unwrap();
    let info = c.query_file_info(GROUP, &n.file_name, 0).await.unwrap();
    assert_eq!(
        (info.file_size, info.crc32),
        (6, fdfs_proto::fileid::Crc32::checksum(b"normal"))
    );
    let e = c.append(&n.file_name, b"x").await.unwrap_err();
    assert_eq!(e.status(), Some(status::EINVAL), "append to a normal file");
    let mut c = d.client().await;
    c.delete(GROUP, &n.file_name).await.unwrap();
    let e = c.query_file_info(GROUP, &n.file_name, 2).await.unwrap_err();
    assert_eq!(e.status(), Some(status::ENOENT));
    let log = d.binlog();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines[1].ends_with(&format!(" A {} 6 6", a.file_name)),
        "{log}"
    );
    assert!(
        lines[2].ends_with(&format!(" M {} 4 2", a.file_name)),
        "{log}"
    );
    assert!(
        lines[3].ends_with(&format!(" T {} 12 4", a.file_name)),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_upload_names_and_errors() {
    let d = Daemon::start("");
    let mut c = d.client().await;
    let m = c.upload(0, "txt", b"hello fastdfs\n").await.unwrap();
    let s = c
        .upload_slave(&m.file_name, "_big", "txt", b"slave bytes")
        .await
        .unwrap();
    let stem = &m.file_name[..m.file_name.len() - 4];
    assert_eq!(s.file_name, format!("{stem}_big.txt"));
    assert_eq!(
        c.download(GROUP, &s.file_name, 0, 0).await.unwrap(),
        b"slave bytes"
    );
    let info = c.query_file_info(GROUP, &s.file_name, 0).await.unwrap();
    assert_eq!(
        (info.file_size, info.crc32),
        (11, fdfs_proto::fileid::Crc32::checksum(b"slave bytes"))
    );
    // Empty ext keeps the master's.
    let s2 = c.upload_slave(&m.file_name, "_s", "", b"x").await.unwrap();
    assert_eq!(s2.file_name, format!("{stem}_s.txt"));
    let e = c
        .upload_slave(&m.file_name, "_big", "txt", b"again")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(status::EEXIST));
    c.delete(GROUP, &m.file_name).await.unwrap();
    let e = c
        .upload_slave(&m.file_name, "_t", "txt", b"orphan")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(status::ENOENT));
    c.active_test().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_uploads_get_unique_ids() {
    let d = Daemon::start("");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let addr = d.addr();
        tasks.push(tokio::spawn(async move {
            let mut c = fdfs_client::StorageClient::connect(addr).await.unwrap();
            let mut ids = Vec::new();
            for _ in 0..60 {
                ids.push(
                    c.upload(0, "txt", b"same content, same second")
                        .await
                        .unwrap()
                        .file_name,
                );
            }
            ids
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(all.insert(id.clone()), "duplicate id {id}");
        }
    }
    assert_eq!(all.len(), 480);
    assert_eq!(d.data_files().len(), 480);
    let mut c = d.client().await;
    for id in all.iter().take(20) {
        assert_eq!(
            c.download(GROUP, id, 0, 0).await.unwrap(),
            b"same content, same second"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subdirectory_modes_and_multiple_store_paths() {
    // Round robin: two files per directory, then the next one.
    let d = Daemon::start("subdir_count_per_path = 4\nfile_distribute_rotate_count = 2\n");
    let mut c = d.client().await;
    let mut dirs = Vec::new();
    for i in 0..10u8 {
        dirs.push(c.upload(0, "txt", &[i]).await.unwrap().file_name[4..9].to_string());
    }
    assert_eq!(
        dirs,
        [
            "00/00", "00/00", "00/01", "00/01", "00/02", "00/02", "00/03", "00/03", "01/00",
            "01/00"
        ]
    );
    // Hash mode stays inside the configured directory count.
    let d = Daemon::start("subdir_count_per_path = 3\nfile_distribute_path_mode = 1\n");
    let mut c = d.client().await;
    let mut seen = HashSet::new();
    for i in 0..60u8 {
        let f = c.upload(0, "txt", &[i]).await.unwrap();
        let id = parse_logical_name(f.file_name.as_bytes()).unwrap();
        assert!(id.sub_high < 3 && id.sub_low < 3, "{}", f.file_name);
        seen.insert((id.sub_high, id.sub_low));
    }
    assert!(seen.len() > 3, "hash mode should spread files: {seen:?}");
    // Two store paths: M01 lands in the second; 0xFF lets the storage choose.
    let second = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let first = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = Daemon::start(&format!(
        "store_paths = [\"{}\", \"{}\"]\n",
        first.path().display(),
        second.path().display()
    ));
    let mut c = d.client().await;
    let f = c.upload(1, "txt", b"second path").await.unwrap();
    assert!(f.file_name.starts_with("M01/"));
    assert!(second.path().join("data").join(&f.file_name[4..]).exists());
    let mut prefixes = HashSet::new();
    for _ in 0..4 {
        prefixes.insert(c.upload(0xFF, "txt", b"any").await.unwrap().file_name[..3].to_string());
    }
    assert_eq!(
        prefixes,
        HashSet::from(["M00".to_string(), "M01".to_string()])
    );
    assert_eq!(
        c.download(GROUP, &f.file_name, 0, 0).await.unwrap(),
        b"second path"
    );
}

/// Requests written back to back on one connection (and split at odd places) are answered in
/// order, as FastDFS's persistent connections allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_and_fragmented_requests() {
    use fdfs_proto::frame::packet;
    use fdfs_proto::storage::UploadRequest;
    use fdfs_proto::{cmd, Streamed};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let d = Daemon::start("");
    let mut s = tokio::net::TcpStream::connect(d.addr()).await.unwrap();
    let mut all = packet(cmd::ACTIVE_TEST, 0, b"");
    let mut up = UploadRequest {
        store_path_index: 0,
        file_size: 5,
        ext: "txt".into(),
    }
    .head_packet(cmd::UPLOAD_FILE);
    up.extend_from_slice(b"hello");
    all.extend_from_slice(&up);
    all.extend_from_slice(&packet(cmd::ACTIVE_TEST, 0, b""));
    // One byte at a time for the first 20 bytes, then the rest at once.
    for b in &all[..20] {
        s.write_all(&[*b]).await.unwrap();
        s.flush().await.unwrap();
    }
    s.write_all(&all[20..]).await.unwrap();
    let mut h = [0u8; 10];
    s.read_exact(&mut h).await.unwrap();
    assert_eq!(h, [0, 0, 0, 0, 0, 0, 0, 0, 100, 0]);
    s.read_exact(&mut h).await.unwrap();
    assert_eq!((h[7], h[8], h[9]), (60, 100, 0));
    let mut body = [0u8; 60];
    s.read_exact(&mut body).await.unwrap();
    s.read_exact(&mut h).await.unwrap();
    assert_eq!(h, [0, 0, 0, 0, 0, 0, 0, 0, 100, 0]);
    let name = std::str::from_utf8(&body[16..]).unwrap();
    let mut c = d.client().await;
    assert_eq!(c.download(GROUP, name, 0, 0).await.unwrap(), b"hello");
}

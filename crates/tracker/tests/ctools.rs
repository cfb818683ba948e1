//! The `fdfs` binary started by the FastDFS C tool names (symlinks from `fdfs install-links`),
//! with the C tools' argument order, stdout and errno exit codes, against a real tracker and
//! storage; and stdout closed early.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::ctools::*;
use common::*;

/// The lines `fdfs_file_info` prints, with the timestamp line left out.
fn info_lines(from_server: bool, kind: &str, size: usize, crc: u32) -> String {
    format!(
        "GET FROM SERVER: {from_server}\n\nfile type: {kind}\nsource storage id: 0\n\
         source ip address: 127.0.0.1\nfile size: {size}\nfile crc32: {} (0x{crc:08x})\n\n",
        crc as i32
    )
}

fn without_timestamp(out: &str) -> String {
    let mut stamp = 0;
    let kept: Vec<&str> = out
        .split_inclusive('\n')
        .filter(|l| {
            let t = l.strip_prefix("file create timestamp: ");
            if let Some(t) = t {
                // YYYY-MM-DD HH:MM:SS
                assert_eq!(t.trim_end().len(), 19, "{l:?}");
                stamp += 1;
            }
            t.is_none()
        })
        .collect();
    assert_eq!(stamp, 1, "{out}");
    kept.concat()
}

#[test]
fn c_tool_names_upload_download_info_append_delete() {
    let dir = tempfile::tempdir().unwrap();
    let c = cluster(dir.path());
    let src = dir.path().join("hello.txt");
    let data = b"hello, fastdfs\n".repeat(1000);
    std::fs::write(&src, &data).unwrap();
    let srcs = src.to_str().unwrap();

    let out = ok(&c.tool("fdfs_upload_file", &[srcs]));
    let id = out.trim_end().to_owned();
    assert_eq!(out, format!("{id}\n"), "stdout is the file ID alone");
    assert!(
        id.starts_with("group1/M00/") && id.ends_with(".txt"),
        "{id}"
    );
    // Extensions as the C client takes them (the capture: `sample.tar.gz` got `.tar.gz`,
    // `toolong.abcdefg` none, and `badext.a+b` EINVAL from the storage).
    for (name, tail) in [("sample.tar.gz", ".tar.gz"), ("toolong.abcdefg", "")] {
        let f = dir.path().join(name);
        std::fs::write(&f, b"x").unwrap();
        let id = ok(&c.tool("fdfs_upload_file", &[f.to_str().unwrap()]));
        let file = id.trim_end().rsplit('/').next().unwrap();
        // 27 base64 characters, then 7: digits up to `.` + the extension, or 7 digits.
        assert_eq!(file.len(), 34, "{id}");
        let digits = &file[27..34 - tail.len()];
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{id}");
        assert!(file.ends_with(tail), "{id}");
    }
    let bad = dir.path().join("badext.a+b");
    std::fs::write(&bad, b"x").unwrap();
    let o = c.tool("fdfs_upload_file", &[bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(22), "{}", text(&o.stderr));
    assert!(text(&o.stderr).ends_with(
        "upload file fail, error no: 22, error info: Invalid argument
"
    ));
    // The storage named on the command line, with a store path index; -p BASE_PATH accepted.
    let direct = format!("127.0.0.1:{}", c.s.port);
    let conf = c.conf.to_str().unwrap();
    let o = Command::new(c.bin.join("fdfs_upload_file"))
        .args(["-p", "/tmp", conf, srcs, &direct, "0"])
        .output()
        .unwrap();
    assert!(ok(&o).starts_with("group1/M00/"));

    let back = dir.path().join("back.txt");
    let backs = back.to_str().unwrap();
    assert_eq!(ok(&c.tool("fdfs_download_file", &[&id, backs])), "");
    assert_eq!(std::fs::read(&back).unwrap(), data);
    ok(&c.tool("fdfs_download_file", &[&id, backs, "7", "20"]));
    assert_eq!(std::fs::read(&back).unwrap(), &data[7..27]);
    // No LOCAL_FILE: the name part of the ID, in the current directory.
    ok(&c.tool("fdfs_download_file", &[&id]));
    let default_name = dir.path().join(id.rsplit('/').next().unwrap());
    assert_eq!(std::fs::read(&default_name).unwrap(), data);

    let info = ok(&c.tool("fdfs_file_info", &[&id]));
    assert_eq!(
        without_timestamp(&info),
        info_lines(false, "normal", data.len(), crc32(&data))
    );

    let part1 = dir.path().join("part1.log");
    let part2 = dir.path().join("part2.log");
    std::fs::write(&part1, b"first line\n").unwrap();
    std::fs::write(&part2, b"second line\n").unwrap();
    let out = ok(&c.tool("fdfs_upload_appender", &[part1.to_str().unwrap()]));
    let aid = out.trim_end().to_owned();
    assert!(aid.ends_with(".log"), "{aid}");
    assert_eq!(
        ok(&c.tool("fdfs_append_file", &[&aid, part2.to_str().unwrap()])),
        ""
    );
    let whole = b"first line\nsecond line\n";
    ok(&c.tool("fdfs_download_file", &[&aid, backs]));
    assert_eq!(std::fs::read(&back).unwrap(), whole);
    let info = ok(&c.tool("fdfs_file_info", &[&aid]));
    assert_eq!(
        without_timestamp(&info),
        info_lines(true, "appender", whole.len(), crc32(whole))
    );
    // Appending to a normal file is refused by the storage.
    let o = c.tool("fdfs_append_file", &[&id, part2.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("append file fail, error no: "));

    assert_eq!(ok(&c.tool("fdfs_delete_file", &[&id])), "");
    assert_eq!(ok(&c.tool("fdfs_delete_file", &[&aid])), "");

    // Not found: errno 2 (ENOENT) and the C tools' failure lines.
    let enoent = "fail, error no: 2, error info: No such file or directory\n";
    let o = c.tool("fdfs_delete_file", &[&id]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stdout), format!("delete file {enoent}"));
    let gone = dir.path().join("gone.txt");
    let o = c.tool("fdfs_download_file", &[&id, gone.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stdout), format!("download file {enoent}"));
    assert!(!gone.exists(), "no partial file is left");
    let o = c.tool("fdfs_file_info", &[&aid]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).ends_with(&format!("query file info {enoent}")));
    let o = c.tool("fdfs_append_file", &[&aid, part2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let o = c.tool("fdfs_file_info", &["group1/short"]);
    assert_eq!(o.status.code(), Some(22));
    let o = c.tool(
        "fdfs_upload_file",
        &[dir.path().join("nope").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).ends_with(&format!("upload file {enoent}")));
    assert_eq!(o.stdout, b"");

    // A config file that does not exist: its errno; a tracker that refuses: ECONNREFUSED.
    let o = Command::new(c.bin.join("fdfs_upload_file"))
        .args(["/nonexistent/client.conf", srcs])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let dead = dir.path().join("dead.conf");
    std::fs::write(
        &dead,
        format!("tracker_server = 127.0.0.1:{}\n", free_port()),
    )
    .unwrap();
    let o = Command::new(c.bin.join("fdfs_upload_file"))
        .arg(&dead)
        .arg(srcs)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111), "{}", text(&o.stderr));
    // Too few arguments: usage on stdout, exit 1.
    let o = Command::new(c.bin.join("fdfs_delete_file"))
        .arg(&c.conf)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).starts_with("Usage: "));
}

/// The key of a monitor line (`disk free space      =   54 GB` -> `disk free space`).
fn keys(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once(" = ") {
            Some((k, _)) => k.trim_end().to_owned(),
            None => l.trim_end().to_owned(),
        })
        .collect()
}

#[test]
fn c_monitor_report_and_closed_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let c = cluster(dir.path());
    let out = ok(&c.tool("fdfs_monitor", &[]));
    let head = format!(
        "tracker server count=1, current server index=0\n\ntracker server is {}\n\n\
         group count: 1\n\nGroup 1:\ngroup name = group1\n",
        c.tracker
    );
    assert!(out.starts_with(&head), "{out}");
    assert!(
        out.contains(&format!("\t\thost = 127.0.0.1:{}  ACTIVE\n", c.s.port)),
        "{out}"
    );
    // Same lines in the same order as the C tool's report of a group (its first storage).
    let capture = std::fs::read_to_string(c_captures().join("sync-run/monitor.txt")).unwrap();
    let capture = capture.split("\tStorage 2:").next().unwrap();
    let mut want = keys(capture);
    let mut got = keys(&out);
    // The tracker line names the address.
    want.retain(|k| !k.starts_with("tracker server is "));
    got.retain(|k| !k.starts_with("tracker server is "));
    assert_eq!(got, want);
    // Sizes are right-aligned in 7 columns, as `%7s` prints them.
    for l in out.lines().filter(|l| l.trim_start().starts_with("disk ")) {
        let v = l.split_once(" = ").unwrap().1;
        assert!(v.len() >= 7 && v.ends_with('B'), "{l:?}");
    }

    // One group, by -h TRACKER: no group count line.
    let out = ok(&c.tool("fdfs_monitor", &["-h", &c.tracker, "list", "group1"]));
    let rest = out.split_once("\n\ntracker server is ").unwrap().1;
    assert!(
        rest.split_once("\n\n")
            .unwrap()
            .1
            .starts_with("group name = group1\n"),
        "{out}"
    );
    let out = ok(&c.tool("fdfs_monitor", &["list", "group1", "no-such-id"]));
    assert!(!out.contains("\tStorage 1:"), "{out}");
    let o = c.tool("fdfs_monitor", &["-h", "127.0.0.9:1", "list"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stdout), "tracker server: 127.0.0.9:1 not exists!\n");
    // Deleting an active storage is refused; the C line and its errno.
    let id = "127.0.0.1";
    let o = c.tool("fdfs_monitor", &["delete", "group1", id]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o.stdout).contains(&format!(
            "delete storage server group1::{id} fail, error no: "
        )),
        "{}",
        text(&o.stdout)
    );

    // stdout closed before anything is written (`| head` that already quit): no panic,
    // nothing on stderr, exit 0.
    let up = dir.path().join("big.bin");
    std::fs::write(&up, vec![7u8; 300_000]).unwrap();
    let id = ok(&c.fdfs(&["upload", up.to_str().unwrap()], None));
    let runs: [(PathBuf, Vec<&str>); 3] = [
        (
            fdfs_cli().to_owned(),
            vec!["--tracker", &c.tracker, "monitor"],
        ),
        (
            fdfs_cli().to_owned(),
            vec!["--tracker", &c.tracker, "download", id.trim_end(), "-"],
        ),
        (c.bin.join("fdfs_monitor"), vec![c.conf.to_str().unwrap()]),
    ];
    for (bin, args) in runs {
        let mut child = Command::new(&bin)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), "", "{args:?}");
    }
}

#[test]
fn c_monitor_deletes_storage_then_group() {
    let dir = tempfile::tempdir().unwrap();
    let c = cluster(dir.path());
    let mut s2 = storage(
        &dir.path().join("s2"),
        "group2",
        std::slice::from_ref(&c.tracker),
    );
    let rt = rt();
    let port = s2.port;
    let wait =
        |status, within| rt.block_on(wait_status(&c.tracker, "group2", port, status, within));
    wait(ACTIVE, Duration::from_secs(8));
    let last_line = |o: &Output| text(&o.stdout).lines().last().unwrap_or("").to_owned();
    // A storage that is up cannot be deleted: EBUSY (16).
    let o = c.tool("fdfs_monitor", &["delete", "group2", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(16), "{}", text(&o.stderr));
    assert_eq!(
        last_line(&o),
        "delete storage server group2::127.0.0.1 fail, error no: 16, error info: Device or resource busy"
    );
    s2.kill9();
    wait(OFFLINE, Duration::from_secs(8));
    let o = c.tool("fdfs_monitor", &["delete", "group2", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        last_line(&o),
        "delete storage server group2::127.0.0.1 success"
    );
    let o = c.tool("fdfs_monitor", &["delete", "group2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(last_line(&o), "delete group: group2 success");
    let out = ok(&c.tool("fdfs_monitor", &["list"]));
    assert!(out.contains("\ngroup count: 1\n"), "{out}");
    assert!(!out.contains("group2"), "{out}");
}

//! The `fdfs` commands that came with the C tool names: `upload -` (stdin), `--ext`,
//! `upload --appender`, `append`, `crc32`, against a real tracker and storage.

mod common;

use common::ctools::*;

#[test]
fn fdfs_upload_stdin_ext_appender_append_crc32() {
    let dir = tempfile::tempdir().unwrap();
    let c = cluster(dir.path());
    let data = b"piped bytes".to_vec();
    let id = ok(&c.fdfs(&["upload", "-", "--ext", "txt"], Some(&data)));
    let id = id.trim_end();
    assert!(id.ends_with(".txt"), "{id}");
    assert_eq!(c.fdfs(&["download", id, "-"], None).stdout, data);
    // A leading dot is dropped; no --ext: no extension.
    assert!(ok(&c.fdfs(&["upload", "-", "--ext", ".jpg"], Some(b"x"))).ends_with(".jpg\n"));
    let bare = ok(&c.fdfs(&["upload", "-"], Some(b"no ext")));
    let name = bare.trim_end().rsplit('/').next().unwrap();
    assert!(!name.contains('.'), "{bare}");
    let o = c.fdfs(&["upload", "-", "--ext", "a+b"], Some(b"x"));
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("--ext"), "{}", text(&o.stderr));
    // More than fits in memory goes through a temporary file.
    let big: Vec<u8> = (0..(17u32 << 20)).map(|i| (i % 251) as u8).collect();
    let id = ok(&c.fdfs(&["upload", "-", "--ext", "bin"], Some(&big)));
    assert_eq!(c.fdfs(&["download", id.trim_end(), "-"], None).stdout, big);

    // --appender, then append from a file and from stdin.
    let f = dir.path().join("a.log");
    std::fs::write(&f, b"one\n").unwrap();
    let aid = ok(&c.fdfs(&["upload", "--appender", f.to_str().unwrap()], None));
    let aid = aid.trim_end();
    ok(&c.fdfs(&["append", aid, f.to_str().unwrap()], None));
    ok(&c.fdfs(&["append", aid, "-"], Some(b"two\n")));
    let whole = b"one\none\ntwo\n";
    assert_eq!(c.fdfs(&["download", aid, "-"], None).stdout, whole);
    let info = ok(&c.fdfs(&["info", aid], None));
    assert!(info.contains("file type: appender\n"), "{info}");
    assert!(
        info.contains(&format!("file size: {}\n", whole.len())),
        "{info}"
    );
    // A normal file cannot be appended to.
    let nid = ok(&c.fdfs(&["upload", f.to_str().unwrap()], None));
    assert!(!c
        .fdfs(&["append", nid.trim_end(), "-"], Some(b"x"))
        .status
        .success());

    std::fs::write(&f, whole).unwrap();
    let want = format!("{:08x}\n", crc32(whole));
    assert_eq!(ok(&c.fdfs(&["crc32", f.to_str().unwrap()], None)), want);
    assert_eq!(ok(&c.fdfs(&["crc32", "-"], Some(whole))), want);
}

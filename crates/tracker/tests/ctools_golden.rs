//! `fdfs_file_info` and `fdfs_crc32` (the `fdfs` binary started by those names) print what
//! FastDFS 6.16.1's tools printed for the captured stores (shared/testdata/fastdfs-c-6.16).
//! Normal files are decoded from the ID alone, so no daemon is needed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// A directory with the C tool names linked to `fdfs` (made by `fdfs install-links`).
fn links(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    let o = Command::new(fdfs_cli())
        .arg("install-links")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    bin
}

fn manifest(run: &str) -> serde_json::Map<String, Value> {
    let p = c_captures().join(run).join("manifest.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["files"].as_object().unwrap().clone()
}

#[test]
fn file_info_prints_what_the_c_tool_printed() {
    let dir = tempfile::tempdir().unwrap();
    let bin = links(dir.path());
    // Nothing listens there: decoding must not need the tracker.
    let conf = dir.path().join("client.conf");
    std::fs::write(
        &conf,
        format!("tracker_server = 127.0.0.1:{}\n", free_port()),
    )
    .unwrap();
    let mut checked = 0;
    for run in ["store-plain", "store-trunk"] {
        for (id, f) in manifest(run) {
            let want: Vec<&str> = f["fdfs_file_info_output"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            if want.first() != Some(&"GET FROM SERVER: false") {
                continue;
            }
            let o = Command::new(bin.join("fdfs_file_info"))
                .arg(&conf)
                .arg(&id)
                .env("TZ", "UTC")
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{id}");
            let out = String::from_utf8(o.stdout).unwrap();
            let mut expect = want.join("\n");
            expect.push_str("\n\n");
            assert_eq!(out, expect, "{run} {id}");
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} IDs compared");
}

#[test]
fn crc32_prints_the_c_tools_hex() {
    let dir = tempfile::tempdir().unwrap();
    let bin = links(dir.path());
    let data = c_captures().join("store-plain/store_path0/data");
    let mut checked = 0;
    for (id, f) in manifest("store-plain") {
        let path = data.join(id.split_once("/M00/").unwrap().1);
        let Some(crc) = f["crc32_of_content"].as_str() else {
            continue;
        };
        // The capture keeps the link as a file holding its old target path.
        if f["kind"] == "link" || !path.exists() {
            continue;
        }
        let crc = u32::from_str_radix(crc.trim_start_matches("0x"), 16).unwrap();
        let o = Command::new(bin.join("fdfs_crc32"))
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{id}");
        // %x of an int: no leading zeros, negative values as their two's complement.
        assert_eq!(String::from_utf8(o.stdout).unwrap(), format!("{crc:x}\n"));
        let o = Command::new(fdfs_cli())
            .arg("crc32")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(o.stdout).unwrap(), format!("{crc:08x}\n"));
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} files compared");
    let o = Command::new(bin.join("fdfs_crc32"))
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "ENOENT");
    let o = Command::new(bin.join("fdfs_crc32")).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "usage");
}

#[test]
fn install_links_replaces_links_and_spares_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let bin = links(dir.path());
    for name in [
        "fdfs_upload_file",
        "fdfs_upload_appender",
        "fdfs_append_file",
        "fdfs_download_file",
        "fdfs_delete_file",
        "fdfs_file_info",
        "fdfs_monitor",
        "fdfs_crc32",
    ] {
        let l = bin.join(name);
        assert!(l.is_symlink(), "{name}");
        assert_eq!(
            std::fs::canonicalize(&l).unwrap(),
            fdfs_cli().canonicalize().unwrap()
        );
    }
    // Again: the links are replaced, no error.
    links(dir.path());
    // A real file (a C tool, say) is left alone unless --force.
    let c_tool = bin.join("fdfs_monitor");
    std::fs::remove_file(&c_tool).unwrap();
    std::fs::write(&c_tool, "#!/bin/sh\n").unwrap();
    let o = Command::new(fdfs_cli())
        .arg("install-links")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("fdfs_monitor"));
    assert_eq!(std::fs::read_to_string(&c_tool).unwrap(), "#!/bin/sh\n");
    let o = Command::new(fdfs_cli())
        .args(["install-links", "--force"])
        .arg(&bin)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(c_tool.is_symlink());
}

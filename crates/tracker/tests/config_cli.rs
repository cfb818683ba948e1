//! The daemons' configuration as an operator meets it, through the real binaries: a bad value
//! names file:line and key, a FastDFS ini file is recognised, and `--check-config` prints the
//! effective settings as a TOML file that reads back to the same settings.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trackerd() -> PathBuf {
    PathBuf::from(common::TRACKERD)
}

fn check(bin: &Path, config: &Path) -> Output {
    Command::new(bin)
        .arg("--check-config")
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// (binary, file text, line of the bad value, key the message must name)
fn bad_values(dir: &Path) -> Vec<(PathBuf, String, usize, &'static str)> {
    let base = format!("base_path = {:?}\n", dir.display().to_string());
    let storage = format!("group_name = \"group1\"\n{base}");
    vec![
        (
            trackerd(),
            format!("{base}port = 22122\nreserved_storage_space = \"120%\"\n"),
            3,
            "reserved_storage_space",
        ),
        (
            trackerd(),
            format!("{base}\n[limits]\nmax_pkg_size = \"1K\"\n"),
            4,
            "limits.max_pkg_size",
        ),
        (trackerd(), format!("{base}port = \"x\"\n"), 2, "port"),
        (
            trackerd(),
            format!("{base}allow_hosts = [\"10.0.0.0/33\"]\n"),
            2,
            "allow_hosts",
        ),
        (
            common::storaged().to_owned(),
            format!("{storage}tracker_servers = [\n  \"127.0.0.1:22122\",\n  \"nohost\",\n]\n"),
            5,
            "tracker_servers[1]",
        ),
        (
            common::storaged().to_owned(),
            format!("{storage}\nreserved_storage_space = \"12Q\"\n"),
            4,
            "reserved_storage_space",
        ),
        (
            common::storaged().to_owned(),
            format!("{storage}[limits]\nmax_file_size = \"big\"\n"),
            4,
            "limits.max_file_size",
        ),
    ]
}

#[test]
fn value_errors_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (bin, text, line, key)) in bad_values(dir.path()).into_iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, &text).unwrap();
        let o = check(&bin, &path);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        let at = format!("{}:{line}:", path.display());
        assert!(err.contains(&at), "{text}\nwanted {at} in: {err}");
        assert!(
            err.contains(&format!("`{key}`")),
            "{text}\nwanted `{key}` in: {err}"
        );
    }
}

#[test]
fn fastdfs_ini_files_are_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("storage.conf");
    std::fs::write(&short, "group_name=group1\nport=23000\n").unwrap();
    let c_samples = Path::new("/work/shared/testdata/fastdfs-c-6.16/conf");
    let mut files = vec![short];
    for name in ["plain-storage.conf", "plain-tracker.conf"] {
        if c_samples.join(name).exists() {
            files.push(c_samples.join(name));
        }
    }
    for bin in [trackerd(), common::storaged().to_owned()] {
        for f in &files {
            let o = check(&bin, f);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{err}");
            assert!(err.contains(&f.display().to_string()), "{err}");
            assert!(err.contains("FastDFS ini file"), "{err}");
            assert!(err.contains("reads TOML"), "{err}");
        }
    }
}

/// The settings part of `--check-config`'s output (comment lines name the file).
fn settings(o: &Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    let text = String::from_utf8_lossy(&o.stdout);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn check_config_prints_effective_toml_that_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("base_path = {:?}\n", dir.path().display().to_string());
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf");
    let cases = [
        (trackerd(), base.clone(), "check_active_interval = 100"),
        (
            common::storaged().to_owned(),
            format!("group_name = \"group1\"\n{base}"),
            "max_request_body = \"256K\"",
        ),
    ];
    for (i, (bin, text, default_shown)) in cases.into_iter().enumerate() {
        let first = dir.path().join(format!("min{i}.toml"));
        std::fs::write(&first, &text).unwrap();
        let printed = settings(&check(&bin, &first));
        assert!(printed.contains(default_shown), "{printed}");
        assert!(
            printed.parse::<toml::Table>().is_ok(),
            "not TOML: {printed}"
        );
        let again = dir.path().join(format!("again{i}.toml"));
        std::fs::write(&again, &printed).unwrap();
        assert_eq!(settings(&check(&bin, &again)), printed);
    }
    for (bin, example) in [
        (trackerd(), "tracker.toml"),
        (common::storaged().to_owned(), "storage.toml"),
    ] {
        let printed = settings(&check(&bin, &Path::new(conf).join(example)));
        let again = dir.path().join(example);
        std::fs::write(&again, &printed).unwrap();
        assert_eq!(settings(&check(&bin, &again)), printed, "{example}");
    }
}

//! tyrantd's configuration through the real binary: no data directory unless told, bad values
//! name the flag or file:line, `--check-config` prints TOML that reads back the same.

use std::path::Path;
use std::process::{Command, Output};

fn tyrantd(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tyrantd"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn without_a_data_dir_it_refuses_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    for args in [vec!["--check-config"], vec!["--listen", &listen]] {
        let o = tyrantd(dir.path(), &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("--data-dir") && err.contains("data_dir"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_values_name_the_flag_or_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("tyrant.toml");
    std::fs::write(
        &conf,
        "data_dir = \"/nonexistent/kv\"\n\n# sizes\nmax_item_size = \"lots\"\n",
    )
    .unwrap();
    let c = conf.to_str().unwrap();
    let o = tyrantd(dir.path(), &["--check-config", "-c", c]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{c}:4:")), "{err}");
    assert!(err.contains("`max_item_size`"), "{err}");

    let o = tyrantd(
        dir.path(),
        &[
            "--check-config",
            "-d",
            "/nonexistent/kv",
            "--sync",
            "interval:0",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sync:"), "{}", stderr(&o));

    std::fs::write(&conf, "listen=127.0.0.1:1978\ndata_dir=/var/lib/tt\n").unwrap();
    let o = tyrantd(dir.path(), &["--check-config", "-c", c]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("FastDFS ini file") && err.contains(c), "{err}");
}

fn settings(o: &Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn check_config_prints_toml_that_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf/tyrant.toml");
    let runs: [&[&str]; 2] = [
        &["--check-config", "-c", example],
        &[
            "--check-config",
            "-d",
            "/nonexistent/kv",
            "--sync",
            "interval:50",
        ],
    ];
    for args in runs {
        let printed = settings(&tyrantd(dir.path(), args));
        let table: toml::Table = printed.parse().expect("TOML");
        assert!(
            table.contains_key("max_item_size"),
            "defaults filled: {printed}"
        );
        let again = dir.path().join("again.toml");
        std::fs::write(&again, &printed).unwrap();
        let reread = settings(&tyrantd(
            dir.path(),
            &["--check-config", "-c", again.to_str().unwrap()],
        ));
        assert_eq!(reread, printed, "{args:?}");
    }
}

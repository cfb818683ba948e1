//! Every flag and argument of every installed binary explains itself: `--help` of each binary
//! and of each `fdfs` subcommand (spawned for real) has text for every entry, and every option
//! that takes a value shows its default (or is required).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn help(bin: &Path, path: &[&str]) -> String {
    let o = Command::new(bin).args(path).arg("--help").output().unwrap();
    assert!(
        o.status.success(),
        "{} {path:?} --help: {o:?}",
        bin.display()
    );
    String::from_utf8(o.stdout).unwrap()
}

struct Entry {
    section: String,
    head: String,
    text: String,
}

fn is_entry(line: &str) -> bool {
    line.starts_with("  ") && !line.starts_with("   ") && line[2..].starts_with(['-', '<', '['])
        || line.starts_with("      --")
}

/// The entries of the Options and Arguments sections, in both clap layouts (text after the
/// head, or on the lines below it).
fn entries(help: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut section = String::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line.trim_end_matches(':').to_owned();
            continue;
        }
        if section != "Options" && section != "Arguments" {
            continue;
        }
        if is_entry(line) {
            let body = line.trim_start();
            let (head, text) = match body.find("  ") {
                Some(i) => (&body[..i], body[i..].trim()),
                None => (body, ""),
            };
            out.push(Entry {
                section: section.clone(),
                head: head.to_owned(),
                text: text.to_owned(),
            });
        } else if let Some(e) = out.last_mut() {
            e.text = format!("{} {}", e.text, line.trim()).trim().to_owned();
        }
    }
    out
}

/// The subcommands listed in a help text (without clap's `help`).
fn subcommands(help: &str) -> Vec<String> {
    let mut in_cmds = false;
    let mut out = Vec::new();
    for line in help.lines() {
        if !line.starts_with(' ') {
            in_cmds = line == "Commands:";
            continue;
        }
        if in_cmds {
            if let Some(name) = line.split_whitespace().next() {
                if name != "help" {
                    out.push(name.to_owned());
                }
            }
        }
    }
    out
}

/// Help text without clap's own annotations.
fn own_words(text: &str) -> String {
    let mut t = text.to_owned();
    for tag in ["[default: ", "[possible values: ", "[aliases: "] {
        while let Some(i) = t.find(tag) {
            let end = t[i..].find(']').map_or(t.len(), |j| i + j + 1);
            t.replace_range(i..end, "");
        }
    }
    t.trim().to_owned()
}

fn check(bin: &Path, path: &[&str], faults: &mut Vec<String>) {
    let text = help(bin, path);
    let name = format!(
        "{} {}",
        bin.file_name().unwrap().to_string_lossy(),
        path.join(" ")
    );
    let usage = text
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or("")
        .to_owned();
    for e in entries(&text) {
        if e.head.contains("--help") || e.head.contains("--version") {
            continue;
        }
        if own_words(&e.text).is_empty() {
            faults.push(format!("{name}: `{}` has no help text", e.head));
        }
        let takes_value = e.section == "Options" && e.head.contains('<');
        let long = e.head.split([' ', ',']).find(|w| w.starts_with("--"));
        let required = long.is_some_and(|l| usage.contains(&format!("{l} <")));
        if takes_value && !required && !e.text.contains("[default: ") {
            faults.push(format!("{name}: `{}` shows no [default: ...]", e.head));
        }
    }
    for sub in subcommands(&text) {
        let mut p: Vec<&str> = path.to_vec();
        p.push(&sub);
        check(bin, &p, faults);
    }
}

#[test]
fn every_flag_of_every_binary_has_help_and_shows_its_default() {
    let bins: Vec<PathBuf> = vec![
        PathBuf::from(common::TRACKERD),
        common::storaged().to_owned(),
        common::fdfs_cli().to_owned(),
        common::build("fdfs-client", "fdfs_loadgen"),
        common::build("tyrant", "tyrantd"),
        common::build("tyrant", "tyrant-load"),
        common::build("tyrant", "tyrant-engine-bench"),
    ];
    let mut faults = Vec::new();
    for bin in &bins {
        check(bin, &[], &mut faults);
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[test]
fn the_checker_sees_a_missing_text_and_a_missing_default() {
    let sample =
        "Usage: x [OPTIONS] --op <OP>\n\nOptions:\n      --op <OP>  [possible values: a]\n  \
                  -n, --n <N>    Count\n      --dir <DIR>  \n  -h, --help  Print help\n";
    let e = entries(sample);
    assert_eq!(e.len(), 4);
    assert!(own_words(&e[0].text).is_empty());
    assert_eq!(e[1].text, "Count");
    assert!(own_words(&e[2].text).is_empty());
}

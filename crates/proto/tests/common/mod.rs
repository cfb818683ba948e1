#![allow(dead_code)]
//! Locating and reading `shared/testdata` (a sibling of the project checkout).

pub mod fields;

use std::path::PathBuf;

pub fn testdata_dir() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        for cand in [dir.join("shared/testdata"), dir.join("../shared/testdata")] {
            if cand.is_dir() {
                return cand;
            }
        }
        assert!(
            dir.pop(),
            "shared/testdata not found above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
}

pub fn load(name: &str) -> serde_json::Value {
    let path = testdata_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

//! Arbitrary bytes as a file ID / URL path and as token parameters. Whatever the strict
//! validator accepts must be safe to join to a store path and must re-encode to itself.
#![no_main]

use fdfs_proto::fileid::{parse_file_id, parse_logical_name, DecodedFileId, FileIdRef};
use fdfs_proto::token::{check_token, TokenPolicy};
use libfuzzer_sys::fuzz_target;

fn check(id: &FileIdRef<'_>) {
    let rebuilt = format!(
        "M{:02X}/{:02X}/{:02X}/{}",
        id.store_path_index, id.sub_high, id.sub_low, id.file_name
    );
    assert_eq!(rebuilt, id.logical_name);
    assert!(id
        .file_name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)));
    assert!(!id.file_name.contains(".."));
    assert!(!id.file_name.starts_with('.'));
    if let Some(base) = id.logical_name.strip_suffix("-m") {
        assert!(parse_logical_name(base.as_bytes()).is_err());
    }
    let d = id.decode();
    let _ = (d.file_type(), d.size(), d.size_legacy_aware(), d.source.to_string());
    if let Some(g) = id.group {
        assert!(!g.is_empty() && g.len() <= 16 && g.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = parse_file_id(data) {
        check(&id);
    }
    if let Ok(id) = parse_logical_name(data) {
        check(&id);
    }
    let _ = DecodedFileId::from_name_lenient(data);
    // token=<32>&ts=<rest>
    if data.len() > 32 {
        let (token, ts) = data.split_at(32);
        let policy = TokenPolicy::new("secret", 600);
        let _ = check_token(&policy, b"M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg", token, ts, 1_700_000_000);
    }
});

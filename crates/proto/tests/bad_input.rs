//! Malformed bodies get a clear error (EINVAL), never a panic, and never a wait for bytes that
//! a hostile length field announced.

use fdfs_proto::cmd;
use fdfs_proto::common::{FileRef, GroupName};
use fdfs_proto::frame::{Header, Limits};
use fdfs_proto::storage::{SlaveUploadRequest, StorageRequest, UploadRequest};
use fdfs_proto::tracker::{JoinRequest, Parameters, StoreTarget};
use fdfs_proto::{status, Body, BodyError, HeadProgress, IpWidth, RequestError, Streamed};

const NAME: &str = "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg";

#[test]
fn upload_size_must_match_pkg_len() {
    let head = UploadRequest {
        store_path_index: 0,
        file_size: 10,
        ext: "jpg".into(),
    };
    let p = head.head_packet(cmd::UPLOAD_FILE);
    let h = Header::request(cmd::UPLOAD_FILE, 15 + 5);
    let e = UploadRequest::decode_head(&h, &p[10..]).unwrap_err();
    assert!(e.to_string().contains("head + declared size"), "{e}");
    assert_eq!(e.status(), status::EINVAL);
}

#[test]
fn negative_sizes_are_refused() {
    let mut body = vec![0u8];
    body.extend_from_slice(&(1u64 << 63).to_be_bytes());
    body.extend_from_slice(b"jpg\0\0\0");
    let h = Header::request(cmd::UPLOAD_FILE, 15);
    let e = UploadRequest::decode_head(&h, &body).unwrap_err();
    assert_eq!(
        e,
        BodyError::Field {
            msg: "upload",
            field: "file_size",
            problem: "negative"
        }
    );
}

#[test]
fn huge_name_length_fails_before_reading_more() {
    let mut body = 500u64.to_be_bytes().to_vec();
    body.extend_from_slice(&[0; 8]);
    let h = Header::request(cmd::UPLOAD_SLAVE_FILE, 1 << 40);
    let e = SlaveUploadRequest::decode_head(&h, &body[..8]).unwrap_err();
    assert!(e.to_string().contains("master_filename_len"), "{e}");
}

#[test]
fn short_pkg_len_fails_instead_of_waiting() {
    let h = Header::request(cmd::UPLOAD_FILE, 3);
    assert!(UploadRequest::decode_head(&h, &[]).is_err());
    let h = Header::request(cmd::UPLOAD_FILE, 15);
    assert_eq!(
        UploadRequest::decode_head(&h, &[0; 3]),
        Ok(HeadProgress::NeedBytes(15))
    );
}

#[test]
fn buffered_storage_requests_respect_limits() {
    let h = Header::request(cmd::DOWNLOAD_FILE, 1 << 62);
    let e = StorageRequest::decode_head(&h, &[], &Limits::STORAGE).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
    let h = Header::request(200, 0);
    assert_eq!(
        StorageRequest::decode_head(&h, &[], &Limits::STORAGE),
        Err(RequestError::UnknownCommand(200))
    );
}

#[test]
fn wrong_lengths_name_the_layout() {
    let e = StoreTarget::decode(&[0; 41]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "query store response: body is 41 bytes, expected 40 or 70"
    );
    assert!(GroupName::decode(&[0; 17]).is_err());
    let long = format!("{NAME}{}", "x".repeat(100));
    let f = FileRef {
        group: "group1".into(),
        file_name: long,
    };
    assert!(FileRef::decode(&f.to_bytes(IpWidth::V4)).is_err());
}

#[test]
fn join_tracker_count_and_lines_are_checked() {
    let mut j = JoinRequest {
        group: "group1".into(),
        storage_port: 23000,
        store_path_count: 1,
        subdir_count_per_path: 256,
        version: "6.16.1".into(),
        trackers: vec!["127.0.0.1:22122".into()],
        ..Default::default()
    };
    let ok = j.to_bytes(IpWidth::V4);
    assert_eq!(JoinRequest::decode(&ok).unwrap(), j);
    // Missing trailing newline.
    assert!(JoinRequest::decode(&ok[..ok.len() - 1]).is_err());
    // Extra bytes after the announced lines.
    let mut extra = ok.clone();
    extra.extend_from_slice(b"x");
    assert!(JoinRequest::decode(&extra).is_err());
    j.trackers = vec!["t:1".into(); 17];
    assert!(JoinRequest::decode(&j.to_bytes(IpWidth::V4)).is_err());
    j.trackers = vec!["t:1".into()];
    j.store_path_count = 0;
    assert!(JoinRequest::decode(&j.to_bytes(IpWidth::V4)).is_err());
}

#[test]
fn parameters_need_key_value_lines() {
    assert!(Parameters::decode(b"a=1\nb\n").is_err());
    assert!(Parameters::decode(b"a=1").is_err());
    let p = Parameters::decode(b"a=1\nb=x=y\n").unwrap();
    assert_eq!(p.get("b"), Some("x=y"));
    assert_eq!(Parameters::decode(b"").unwrap(), Parameters::default());
}

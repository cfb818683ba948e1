//! Arbitrary bytes as a FastDFS connection: frames are cut with the incremental decoder and
//! every body decoder (whole and streamed) runs on every frame. Anything that decodes must
//! re-encode to something that decodes to the same value.
#![no_main]

use fdfs_proto::common::{Empty, FileRef, GroupName};
use fdfs_proto::frame::{decode_frame, decode_response_frame, Header, Limits, Progress};
use fdfs_proto::storage::*;
use fdfs_proto::tracker::*;
use fdfs_proto::{Body, HeadProgress, IpWidth, Streamed};
use libfuzzer_sys::fuzz_target;

fn whole<T: Body + PartialEq + std::fmt::Debug>(body: &[u8]) {
    if let Ok(m) = T::decode(body) {
        // The wide encoding holds whatever either width decoded; the narrow one may truncate
        // IP text but must still decode.
        let again = T::decode(&m.to_bytes(IpWidth::V6));
        assert_eq!(again.as_ref(), Ok(&m), "re-encoded {m:?}");
        assert!(T::decode(&m.to_bytes(IpWidth::V4)).is_ok(), "narrow {m:?}");
    }
}

fn streamed<T: Streamed + PartialEq + std::fmt::Debug>(h: &Header, body: &[u8]) {
    // Every prefix length must either ask for more, complete within it, or fail.
    for cut in [0, 1, 8, 15, 16, 24, 36, 44, body.len() / 2, body.len()] {
        let cut = cut.min(body.len());
        match T::decode_head(h, &body[..cut]) {
            Ok(HeadProgress::NeedBytes(n)) => assert!(n > cut),
            Ok(HeadProgress::Complete {
                head,
                head_len,
                content_len,
            }) => {
                assert!(head_len <= cut);
                assert_eq!(head_len as u64 + content_len, h.pkg_len);
                let p = head.head_packet(h.cmd);
                let h2 = Header::decode(p[..10].try_into().unwrap()).unwrap();
                match T::decode_head(&h2, &p[10..]) {
                    Ok(HeadProgress::Complete { head: again, .. }) => assert_eq!(again, head),
                    other => panic!("re-encoded head {head:?} decodes as {other:?}"),
                }
            }
            Err(_) => {}
        }
    }
}

fn requests(h: &Header, b: &[u8]) {
    if let Ok(r) = TrackerRequest::decode(h, b) {
        let p = r.packet();
        let h2 = Header::decode(p[..10].try_into().unwrap()).unwrap();
        assert_eq!(TrackerRequest::decode(&h2, &p[10..]).as_ref(), Ok(&r));
    }
    let limits = Limits { max_body_len: 1024 };
    if let Ok(HeadProgress::Complete { head, .. }) = StorageRequest::decode_head(h, b, &limits) {
        let p = head.head_packet();
        let h2 = Header::decode(p[..10].try_into().unwrap()).unwrap();
        match StorageRequest::decode_head(&h2, &p[10..], &limits) {
            Ok(HeadProgress::Complete { head: again, .. }) => assert_eq!(again, head),
            other => panic!("re-encoded {head:?} decodes as {other:?}"),
        }
    }
}

fn all(h: &Header, b: &[u8]) {
    requests(h, b);
    whole::<Empty>(b);
    whole::<GroupName>(b);
    whole::<FileRef>(b);
    whole::<StoredFile>(b);
    whole::<StoreTarget>(b);
    whole::<StoreTargets>(b);
    whole::<FetchTargets>(b);
    whole::<GroupStat>(b);
    whole::<GroupStats>(b);
    whole::<ListStorages>(b);
    whole::<StorageStats>(b);
    whole::<GroupStatsV5>(b);
    whole::<StorageStatsV5>(b);
    whole::<JoinRequest>(b);
    whole::<JoinResponse>(b);
    whole::<Beat>(b);
    whole::<DiskUsage>(b);
    whole::<Changes>(b);
    whole::<Parameters>(b);
    whole::<DownloadRequest>(b);
    whole::<FileInfo>(b);
    whole::<TruncateRequest>(b);
    whole::<Metadata>(b);
    whole::<SetMetadataRequest>(b);
    whole::<SyncDeleteRequest>(b);
    whole::<SyncLinkRequest>(b);
    whole::<SyncTruncateRequest>(b);
    streamed::<UploadRequest>(h, b);
    streamed::<SlaveUploadRequest>(h, b);
    streamed::<AppendRequest>(h, b);
    streamed::<ModifyRequest>(h, b);
    streamed::<SyncCopyRequest>(h, b);
    streamed::<SyncWriteRequest>(h, b);
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_body_len: 4096 };
    if let Ok(Progress::Complete(f)) = decode_response_frame(data, &limits) {
        assert!(f.len() <= data.len());
    }
    let mut rest = data;
    loop {
        match decode_frame(rest, &limits) {
            Ok(Progress::Complete(f)) => {
                all(&f.header, f.body);
                rest = &rest[f.len()..];
            }
            Ok(Progress::NeedMore(n)) => {
                assert!(n as u64 <= limits.max_body_len + 10);
                // Streamed heads see partial bodies with the announced pkg_len.
                if let Some(h) = rest.first_chunk::<10>().and_then(|b| Header::decode(b).ok()) {
                    all(&h, &rest[10..]);
                }
                break;
            }
            Err(_) => break,
        }
    }
});

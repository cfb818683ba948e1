//! Property tests: every message type survives encode → decode (both IP widths), and no
//! decoder panics on arbitrary bytes.

use fdfs_proto::common::{Empty, FileRef, GroupName, ServerAddr};
use fdfs_proto::frame::{
    decode_frame, decode_response_frame, Header, Limits, Progress, HEADER_LEN,
};
use fdfs_proto::storage::*;
use fdfs_proto::tracker::*;
use fdfs_proto::{Body, HeadProgress, IpWidth, Streamed};
use proptest::prelude::*;

fn group() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{1,16}"
}
fn name() -> impl Strategy<Value = String> {
    "M[0-9A-F]{2}/[0-9A-F]{2}/[0-9A-F]{2}/[A-Za-z0-9_.-]{12,117}"
}
fn ip_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9a-f.:]{{0,{max}}}")).unwrap()
}
fn id16() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.]{0,16}"
}
fn width() -> impl Strategy<Value = IpWidth> {
    prop_oneof![Just(IpWidth::V4), Just(IpWidth::V6)]
}
fn server() -> impl Strategy<Value = ServerAddr> {
    (ip_text(15), any::<u16>()).prop_map(|(ip, port)| ServerAddr { ip, port })
}
fn ext() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{0,6}"
}
fn meta() -> impl Strategy<Value = Metadata> {
    let item = (
        proptest::collection::vec(3u8..=255, 0..=64),
        proptest::collection::vec(3u8..=255, 0..=256),
    )
        .prop_map(|(n, v)| MetaItem::new(n, v));
    proptest::collection::vec(item, 0..6).prop_map(Metadata)
}
fn stat() -> impl Strategy<Value = StatBlock> {
    // Built from wire bytes so every one of the 42 counters gets its own random value.
    (
        any::<[u32; 3]>(),
        proptest::collection::vec(any::<i64>(), 42),
    )
        .prop_map(|(c, v)| {
            let mut raw = Vec::new();
            c.iter()
                .for_each(|x| raw.extend_from_slice(&x.to_be_bytes()));
            v.iter()
                .for_each(|x| raw.extend_from_slice(&x.to_be_bytes()));
            Beat::decode(&raw).unwrap().0.unwrap()
        })
}
fn brief() -> impl Strategy<Value = StorageBrief> {
    (any::<u8>(), any::<u32>(), id16(), ip_text(46)).prop_map(|(status, port, id, ip_addr)| {
        StorageBrief {
            status,
            port,
            id,
            ip_addr,
        }
    })
}

/// encode → decode is the identity, and the encoding is stable.
fn body_round_trip<T: Body + PartialEq + std::fmt::Debug>(m: &T, ip: IpWidth) {
    let bytes = m.to_bytes(ip);
    let back = T::decode(&bytes).unwrap_or_else(|e| panic!("{m:?}: {e}"));
    assert_eq!(&back, m);
    assert_eq!(back.to_bytes(ip), bytes);
}

/// head_packet → header + head → decode_head gives the same head and content length.
fn streamed_round_trip<T: Streamed + PartialEq + std::fmt::Debug>(m: &T, cmd: u8) {
    let p = m.head_packet(cmd);
    let h = Header::decode(p[..HEADER_LEN].try_into().unwrap()).unwrap();
    assert_eq!(h.cmd, cmd);
    match T::decode_head(&h, &p[HEADER_LEN..]).unwrap() {
        HeadProgress::Complete {
            head,
            head_len,
            content_len,
        } => {
            assert_eq!(&head, m);
            assert_eq!(head_len, p.len() - HEADER_LEN);
            assert_eq!(content_len, m.content_len());
        }
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn simple_bodies(g in group(), n in name(), ip in width()) {
        body_round_trip(&Empty, ip);
        body_round_trip(&GroupName { group: g.clone() }, ip);
        body_round_trip(&FileRef { group: g.clone(), file_name: n.clone() }, ip);
        body_round_trip(&StoredFile { group: g, file_name: n }, ip);
    }

    #[test]
    fn full_groups_are_unambiguous(g in group(), s in server(), ip in width()) {
        // 23 wide records are as long as 53 narrow ones; the 32-server cap decides.
        body_round_trip(&StoreTargets { group: g.clone(), servers: vec![s.clone(); 23], store_path_index: 1 }, ip);
        body_round_trip(&FetchTargets { group: g, servers: vec![s; MAX_SERVERS_PER_GROUP] }, ip);
    }

    #[test]
    fn query_responses(g in group(), s in proptest::collection::vec(server(), 1..8), idx in any::<u8>(), ip in width()) {
        body_round_trip(&StoreTarget { group: g.clone(), server: s[0].clone(), store_path_index: idx }, ip);
        body_round_trip(&StoreTargets { group: g.clone(), servers: s.clone(), store_path_index: idx }, ip);
        body_round_trip(&FetchTargets { group: g, servers: s }, ip);
    }

    #[test]
    fn listings(g in group(), id in proptest::option::of("[A-Za-z0-9.]{1,15}"), st in stat(),
                nums in proptest::collection::vec(any::<i64>(), 12), ip in width(),
                ip_s in ip_text(16), count in 0usize..4) {
        body_round_trip(&ListStorages { group: g.clone(), storage_id: id }, ip);
        let gs = GroupStat {
            group: g.clone(), total_mb: nums[0], free_mb: nums[1], reserved_mb: nums[2],
            trunk_free_mb: nums[3], storage_count: nums[4], storage_port: nums[5],
            readable_server_count: nums[6], writable_server_count: nums[7],
            current_write_server: nums[8], store_path_count: nums[9],
            subdir_count_per_path: nums[10], current_trunk_file_id: nums[11],
        };
        body_round_trip(&gs, ip);
        body_round_trip(&GroupStats(vec![gs; count]), ip);
        let ss = StorageStat {
            status: 7, rw_mode: 6, id: g.clone(), ip_addr: ip_s, src_id: String::new(),
            version: "6.16.1".into(), join_time: nums[0], up_time: nums[1], total_mb: nums[2],
            free_mb: nums[3], reserved_mb: nums[4], upload_priority: nums[5],
            store_path_count: nums[6], subdir_count_per_path: nums[7],
            current_write_path: nums[8], storage_port: nums[9], stat: st, if_trunk_server: 1,
        };
        body_round_trip(&StorageStats(vec![ss; count]), ip);
        let g5 = GroupStatV5 {
            group: g.clone(), total_mb: nums[0], free_mb: nums[1], trunk_free_mb: nums[2],
            storage_count: nums[3], storage_port: nums[4], storage_http_port: nums[5],
            active_count: nums[6], current_write_server: nums[7], store_path_count: nums[8],
            subdir_count_per_path: nums[9], current_trunk_file_id: nums[10],
        };
        body_round_trip(&GroupStatsV5(vec![g5; count]), ip);
        let s5 = StorageStatV5 {
            status: 7, id: g.clone(), ip_addr: "10.0.0.1".into(), domain_name: "x".repeat(count * 40),
            src_id: g.clone(), version: "5.05".into(), join_time: nums[0], up_time: nums[1],
            total_mb: nums[2], free_mb: nums[3], upload_priority: nums[4], store_path_count: nums[5],
            subdir_count_per_path: nums[6], current_write_path: nums[7], storage_port: nums[8],
            storage_http_port: nums[9], stat: StatBlock::default(), if_trunk_server: 0,
        };
        body_round_trip(&StorageStatsV5(vec![s5; count]), ip);
    }

    #[test]
    fn membership(g in group(), port in 1u16.., paths in 1u16..=256, subdirs in 1u16..=256,
                  t in any::<[i64; 3]>(), status in any::<i8>(), init in any::<u8>(),
                  id in id16(), tip in ip_text(46),
                  trackers in proptest::collection::vec("[0-9.]{7,15}:[0-9]{1,5}", 1..=16),
                  st in proptest::option::of(stat()),
                  usage in proptest::collection::vec(any::<(i64, i64)>(), 1..8),
                  leader in proptest::option::of(brief()), trunk in proptest::option::of(brief()),
                  members in proptest::option::of(proptest::collection::vec(brief(), 0..5)),
                  empty_changes in any::<bool>(),
                  params in proptest::collection::vec(("[a-z_]{1,24}", "[ -<>-~]{0,24}"), 0..10)) {
        let j = JoinRequest {
            group: g.clone(), storage_port: port, store_path_count: paths,
            subdir_count_per_path: subdirs, upload_priority: t[0], join_time: t[1], up_time: t[2],
            version: "6.16.1".into(), init_flag: init, status, storage_id: id.clone(),
            current_tracker_ip: tip, trackers,
        };
        body_round_trip(&j, IpWidth::V4);
        body_round_trip(&JoinResponse { my_status: init, src_id: id }, IpWidth::V4);
        body_round_trip(&Beat(st), IpWidth::V4);
        body_round_trip(&DiskUsage(usage.into_iter().map(|(total_mb, free_mb)| PathUsage { total_mb, free_mb }).collect()), IpWidth::V4);
        let changes = if empty_changes { Changes(None) } else {
            Changes(Some(ChangeSet { leader, trunk_server: trunk, members }))
        };
        body_round_trip(&changes, IpWidth::V4);
        body_round_trip(&Parameters(params), IpWidth::V4);
    }

    #[test]
    fn storage_bodies(g in group(), n in name(), n2 in name(), a in any::<u64>(), b in any::<u64>(),
                      size in any::<i64>(), ts in any::<i64>(), crc in any::<u32>(), ip_s in ip_text(16),
                      m in meta(), merge in any::<bool>(), stamp in any::<u32>(), ip in width()) {
        let a = a >> 1; // lengths and offsets are non-negative i64 on the wire
        let b = b >> 1;
        body_round_trip(&DownloadRequest { offset: a, length: b, group: g.clone(), file_name: n.clone() }, ip);
        body_round_trip(&FileInfo { file_size: size, create_timestamp: ts, crc32: crc, source_ip: ip_s }, ip);
        body_round_trip(&TruncateRequest { file_name: n.clone(), new_size: a }, ip);
        body_round_trip(&m, ip);
        let op = if merge { MetaOp::Merge } else { MetaOp::Overwrite };
        body_round_trip(&SetMetadataRequest { op, group: g.clone(), file_name: n.clone(), metadata: m }, ip);
        body_round_trip(&SyncDeleteRequest { timestamp: stamp, group: g.clone(), file_name: n.clone() }, ip);
        body_round_trip(&SyncLinkRequest { dest_name: n.clone(), src_name: n2, timestamp: stamp, group: g.clone() }, ip);
        body_round_trip(&SyncTruncateRequest { file_name: n, old_size: a, new_size: b, timestamp: stamp, group: g }, ip);
    }

    #[test]
    fn streamed_heads(g in group(), n in name(), e in ext(), pre in "[A-Za-z0-9._-]{1,16}",
                      idx in any::<u8>(), a in 0u64..(1 << 40), b in 0u64..(1 << 40),
                      stamp in any::<u32>(), content in any::<bool>()) {
        streamed_round_trip(&UploadRequest { store_path_index: idx, file_size: a, ext: e.clone() }, 11);
        streamed_round_trip(&SlaveUploadRequest { master_file_name: n.clone(), file_size: a, prefix: pre, ext: e }, 21);
        streamed_round_trip(&AppendRequest { file_name: n.clone(), append_size: a }, 24);
        streamed_round_trip(&ModifyRequest { file_name: n.clone(), offset: b, size: a }, 34);
        streamed_round_trip(&SyncCopyRequest { file_name: n.clone(), file_size: a, timestamp: stamp, group: g.clone(), has_content: content }, 16);
        streamed_round_trip(&SyncWriteRequest { file_name: n, start_offset: b, length: a, timestamp: stamp, group: g }, 25);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700),
                                   pkg_len in any::<u64>(), status in any::<u8>()) {
        let _ = decode_frame(&bytes, &Limits { max_body_len: pkg_len });
        if let Ok(Progress::Complete(f)) = decode_response_frame(&bytes, &Limits::TRACKER) {
            prop_assert!(f.len() <= bytes.len());
        }
        if let Ok(Progress::Complete(f)) = decode_frame(&bytes, &Limits::STORAGE) {
            prop_assert!(f.len() <= bytes.len());
        }
        fuzz_all_bodies(&bytes);
        let h = Header { pkg_len, cmd: 0, status };
        let _ = UploadRequest::decode_head(&h, &bytes);
        let _ = SlaveUploadRequest::decode_head(&h, &bytes);
        let _ = AppendRequest::decode_head(&h, &bytes);
        let _ = ModifyRequest::decode_head(&h, &bytes);
        let _ = SyncCopyRequest::decode_head(&h, &bytes);
        let _ = SyncWriteRequest::decode_head(&h, &bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Valid encodings with bytes flipped, cut or extended: errors, never panics.
    #[test]
    fn mutated_valid_bodies_never_panic(g in group(), n in name(), m in meta(), s in proptest::collection::vec(server(), 1..3),
                                        st in stat(), pos in any::<prop::sample::Index>(), val in any::<u8>(),
                                        cut in any::<prop::sample::Index>(), ip in width()) {
        let samples = [
            FileRef { group: g.clone(), file_name: n.clone() }.to_bytes(ip),
            SetMetadataRequest { op: MetaOp::Merge, group: g.clone(), file_name: n.clone(), metadata: m }.to_bytes(ip),
            FetchTargets { group: g.clone(), servers: s.clone() }.to_bytes(ip),
            StoreTargets { group: g.clone(), servers: s, store_path_index: 0 }.to_bytes(ip),
            Beat(Some(st)).to_bytes(ip),
            SyncLinkRequest { dest_name: n.clone(), src_name: n.clone(), timestamp: 1, group: g.clone() }.to_bytes(ip),
            UploadRequest { store_path_index: 0, file_size: 3, ext: "jpg".into() }.head_packet(11)[HEADER_LEN..].to_vec(),
            SlaveUploadRequest { master_file_name: n, file_size: 3, prefix: "_s".into(), ext: "jpg".into() }.head_packet(21)[HEADER_LEN..].to_vec(),
        ];
        for mut b in samples {
            let i = pos.index(b.len());
            b[i] = val;
            fuzz_all_bodies(&b);
            let h = Header { pkg_len: b.len() as u64 + 3, cmd: 0, status: 0 };
            let _ = UploadRequest::decode_head(&h, &b);
            let _ = SlaveUploadRequest::decode_head(&h, &b);
            let c = cut.index(b.len() + 1);
            fuzz_all_bodies(&b[..c]);
            let _ = SlaveUploadRequest::decode_head(&h, &b[..c]);
        }
    }
}

fn fuzz_all_bodies(b: &[u8]) {
    let _ = Empty::decode(b);
    let _ = GroupName::decode(b);
    let _ = FileRef::decode(b);
    let _ = StoredFile::decode(b);
    let _ = StoreTarget::decode(b);
    let _ = StoreTargets::decode(b);
    let _ = FetchTargets::decode(b);
    let _ = FetchTargets::decode_one(b);
    let _ = GroupStat::decode(b);
    let _ = GroupStats::decode(b);
    let _ = ListStorages::decode(b);
    let _ = StorageStats::decode(b);
    let _ = GroupStatsV5::decode(b);
    let _ = StorageStatsV5::decode(b);
    let _ = JoinRequest::decode(b);
    let _ = JoinResponse::decode(b);
    let _ = Beat::decode(b);
    let _ = DiskUsage::decode(b);
    let _ = Changes::decode(b);
    let _ = Parameters::decode(b);
    let _ = DownloadRequest::decode(b);
    let _ = FileInfo::decode(b);
    let _ = TruncateRequest::decode(b);
    let _ = Metadata::decode(b);
    let _ = SetMetadataRequest::decode(b);
    let _ = SyncDeleteRequest::decode(b);
    let _ = SyncLinkRequest::decode(b);
    let _ = SyncTruncateRequest::decode(b);
}

//! Property tests for file IDs: encode → strict parse → decode round trips, and the validator
//! never panics and never accepts anything unsafe.

use fdfs_proto::fileid::*;
use proptest::prelude::*;

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(Source::from_bytes),
        (1u32..=MAX_SERVER_ID).prop_map(Source::ServerId),
    ]
}

fn kind() -> impl Strategy<Value = SizeKind> {
    prop_oneof![
        Just(SizeKind::Normal),
        Just(SizeKind::Appender),
        Just(SizeKind::Trunk)
    ]
}

/// Invariants of anything the validator accepts.
fn check_accepted(id: &FileIdRef<'_>) {
    let rebuilt = format!(
        "M{:02X}/{:02X}/{:02X}/{}",
        id.store_path_index, id.sub_high, id.sub_low, id.file_name
    );
    assert_eq!(rebuilt, id.logical_name);
    let f = id.file_name.as_bytes();
    assert!(f
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || b"._-".contains(&c)));
    assert!(!id.file_name.contains(".."));
    // Never a metadata sidecar `<valid name>-m`.
    if let Some(base) = id.logical_name.strip_suffix("-m") {
        assert!(parse_logical_name(base.as_bytes()).is_err());
    }
    assert!(id.logical_name.len() >= 44 && id.logical_name.len() < 128);
    // Canonical: the 27 chars are exactly what the 20 bytes encode to.
    let d = id.decode();
    assert_eq!(
        &logical_name(0, 0, 0, &d.raw, None, "")[10..],
        &id.file_name[..27]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn encode_parse_decode(src in source(), ts in any::<i32>(), k in kind(), size in any::<u64>(),
                           crc in any::<u32>(), r in any::<u32>(), ext in "[A-Za-z0-9_-]{0,6}",
                           digits in any::<u64>(), spi in any::<u8>(), hi in any::<u8>(), lo in any::<u8>(),
                           trunk in any::<(u32, u32, u32)>(), group in "[A-Za-z0-9]{1,16}") {
        // Real sizes stay far below the flag bits (2^58); >= 2^32 is stored verbatim.
        let size = if k == SizeKind::Normal { size >> 14 } else { size & 0xFFFF_FFFF };
        let field = masked_size(k, size, r);
        let raw = encode_raw(src, ts, field, crc);
        let mut d = digits;
        let fext = format_ext(&ext, || { d /= 10; (d % 10) as u8 }).unwrap();
        prop_assert_eq!(fext.len(), 7);
        let t = (k == SizeKind::Trunk).then_some(TrunkInfo { id: trunk.0, offset: trunk.1, size: trunk.2 });
        let name = logical_name(spi, hi, lo, &raw, t, &fext);
        let full = format!("{group}/{name}");
        let id = parse_file_id(full.as_bytes()).unwrap();
        check_accepted(&id);
        prop_assert_eq!(id.group, Some(group.as_str()));
        prop_assert_eq!((id.store_path_index, id.sub_high, id.sub_low), (spi, hi, lo));
        let dec = id.decode();
        prop_assert_eq!(dec.source, src);
        prop_assert_eq!(dec.create_timestamp, ts);
        prop_assert_eq!(dec.size_field, field);
        prop_assert_eq!(dec.crc32, crc);
        if size >> 32 == 0 {
            prop_assert_eq!(dec.random23(), r & 0x7F_FFFF);
        }
        prop_assert!(!dec.is_legacy_pre_v4());
        match k {
            SizeKind::Normal => {
                prop_assert_eq!(dec.file_type(), FileType::Normal);
                prop_assert_eq!(dec.size(), Some(size));
            }
            SizeKind::Appender => {
                prop_assert_eq!(dec.file_type(), FileType::Appender);
                prop_assert_eq!(dec.size(), None);
            }
            SizeKind::Trunk => {
                prop_assert_eq!(dec.file_type(), FileType::Trunk);
                prop_assert_eq!(dec.size(), Some(size));
                prop_assert_eq!(dec.trunk, t);
            }
        }
        // A slave of it is also valid and typed as a slave. (An extension ending in "-m" makes
        // the slave's name collide with another slave's sidecar path; those are refused.)
        if k != SizeKind::Trunk && !ext.is_empty() && !ext.ends_with("-m") {
            let slave = slave_name(&name, "_s1", None).unwrap();
            let s = parse_logical_name(slave.as_bytes()).unwrap();
            check_accepted(&s);
            prop_assert_eq!(s.decode().file_type(), if k == SizeKind::Appender { FileType::Appender } else { FileType::Slave });
        }
    }

    #[test]
    fn arbitrary_input_never_panics(b in proptest::collection::vec(any::<u8>(), 0..160)) {
        if let Ok(id) = parse_file_id(&b) { check_accepted(&id); }
        if let Ok(id) = parse_logical_name(&b) { check_accepted(&id); }
        let _ = DecodedFileId::from_name_lenient(&b);
    }

    #[test]
    fn mutated_ids_are_safe(pos in any::<prop::sample::Index>(), c in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let base = b"group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527_150x150.jpg".to_vec();
        let mut m = base.clone();
        let i = pos.index(m.len());
        m[i] = c;
        if let Ok(id) = parse_file_id(&m) { check_accepted(&id); }
        let k = cut.index(m.len());
        if let Ok(id) = parse_file_id(&m[..k]) { check_accepted(&id); }
        let mut ins = base;
        ins.insert(i, c);
        if let Ok(id) = parse_file_id(&ins) { check_accepted(&id); }
    }
}

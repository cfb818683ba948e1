use super::*;
use std::net::Ipv4Addr;

const EX2: &str = "group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg";

#[test]
fn spec_example_4_server_id() {
    let size = masked_size(SizeKind::Normal, 12345, 0);
    let raw = encode_raw(Source::ServerId(100_001), 1_700_000_000, size, 0xDEAD_BEEF);
    let name = logical_name(0, 0, 0, &raw, None, "0000000");
    assert_eq!(&name[10..37], "oYYBAGVT8QCAAAAAAAAwOd6tvu8");
    let id = parse_logical_name(name.as_bytes()).unwrap();
    let d = id.decode();
    assert_eq!(d.source, Source::ServerId(100_001));
    assert_eq!(d.size(), Some(12345));
    assert_eq!(d.crc32, 0xDEAD_BEEF);
    assert_eq!(d.file_type(), FileType::Normal);
}

#[test]
fn ipv4_ending_in_zero_reads_as_server_id_like_c() {
    assert_eq!(
        Source::from_bytes([1, 2, 3, 0]),
        Source::ServerId(0x0003_0201)
    );
    assert_eq!(
        Source::from_bytes([127, 0, 0, 1]),
        Source::Ipv4(Ipv4Addr::new(127, 0, 0, 1))
    );
    assert_eq!(
        Source::from_bytes([0, 0, 0, 0]),
        Source::Ipv4(Ipv4Addr::UNSPECIFIED)
    );
}

#[test]
fn trunk_names_round_trip() {
    let size = masked_size(SizeKind::Trunk, 5000, 0x12345);
    let raw = encode_raw(
        Source::Ipv4(Ipv4Addr::new(10, 0, 0, 7)),
        1_700_000_000,
        size,
        7,
    );
    let t = TrunkInfo {
        id: 3,
        offset: 4096,
        size: 8192,
    };
    let name = logical_name(1, 0xAB, 0x0C, &raw, Some(t), "123.jpg");
    assert_eq!(name.len(), TRUNK_LOGIC_NAME_LEN);
    let id = parse_logical_name(name.as_bytes()).unwrap();
    assert_eq!(
        (id.store_path_index, id.sub_high, id.sub_low),
        (1, 0xAB, 0x0C)
    );
    let d = id.decode();
    assert_eq!(d.file_type(), FileType::Trunk);
    assert_eq!(d.trunk, Some(t));
    assert_eq!(d.size(), Some(5000));
    // The same 60-char shape without the trunk bit is a slave; a trunk bit at 44 chars is refused.
    let plain = encode_raw(d.source, 1, masked_size(SizeKind::Normal, 1, 0), 0);
    let n44 = logical_name(0, 0, 0, &raw, None, "123.jpg");
    assert_eq!(
        parse_logical_name(n44.as_bytes()),
        Err(FileIdError::TrunkMismatch)
    );
    let n60 = logical_name(0, 0, 0, &plain, Some(t), "123.jpg");
    let d60 = parse_logical_name(n60.as_bytes()).unwrap().decode();
    assert_eq!(d60.file_type(), FileType::Slave);
}

#[test]
fn formatted_ext_rules() {
    let mut d = 0u8;
    let mut next = || {
        d += 1;
        d
    };
    assert_eq!(format_ext("py", &mut next).unwrap(), "1234.py");
    assert_eq!(format_ext("", &mut next).unwrap(), "5678901");
    assert_eq!(format_ext("tar.gz", &mut next).unwrap(), ".tar.gz");
    assert!(format_ext("abcdefg", &mut next).is_err());
    assert!(format_ext("a+b", &mut next).is_err());
}

#[test]
fn slave_names_follow_fdfs_gen_slave_filename() {
    let m = "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg";
    assert_eq!(
        slave_name(m, "_150x150", None).unwrap(),
        "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527_150x150.jpg"
    );
    assert_eq!(
        slave_name(m, "_s", Some("png")).unwrap(),
        "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527_s.png"
    );
    assert_eq!(
        slave_name(m, "", Some("png")).unwrap(),
        "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.png"
    );
    assert!(slave_name(m, "", None).is_err());
    assert!(slave_name(m, "-m", Some("")).is_err());
    let noext = "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ5270001";
    assert_eq!(
        slave_name(noext, "-x", None).unwrap(),
        "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ5270001-x"
    );
    for s in [
        slave_name(m, "_150x150", None).unwrap(),
        slave_name(noext, "-x", None).unwrap(),
    ] {
        let d = parse_logical_name(s.as_bytes()).unwrap().decode();
        assert_eq!(d.file_type(), FileType::Slave);
        assert_eq!(d.size(), None);
    }
}

#[test]
fn sidecars_and_unsafe_suffixes_are_refused() {
    let m = "M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg";
    let side = format!("{m}-m");
    assert_eq!(
        parse_logical_name(side.as_bytes()),
        Err(FileIdError::MetadataSidecar)
    );
    for bad in [
        "527.jpg..x",
        "527_a/b.jpg",
        "527_a%2e.jp",
        "527_ab.jpg.",
        "527_a\\b.jpg",
    ] {
        let s = format!("M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ{bad}");
        assert!(parse_logical_name(s.as_bytes()).is_err(), "{s}");
    }
}

#[test]
fn full_id_accessors() {
    let id = parse_file_id(EX2.as_bytes()).unwrap();
    assert_eq!(id.group, Some("group1"));
    assert_eq!(id.logical_name, &EX2[7..]);
    assert_eq!(
        id.data_rel_path(),
        "data/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg"
    );
    let hi = "group1/MFF/FF/0A/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg";
    let id = parse_file_id(hi.as_bytes()).unwrap();
    assert_eq!(
        (id.store_path_index, id.sub_high, id.sub_low),
        (255, 255, 10)
    );
    let long_group = "abcdefghijklmnop/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg";
    assert!(parse_file_id(long_group.as_bytes()).is_ok());
}

#[test]
fn lenient_decoder_matches_c_client() {
    // The C client ignores characters outside the alphabet; the strict parser does not.
    let s = b"M00/00/00/eSosZVfrMy2ADEcx+ADS9IecoKQ527.jpg";
    assert!(parse_logical_name(s).is_err());
    assert!(DecodedFileId::from_name_lenient(s).is_some());
    assert!(DecodedFileId::from_name_lenient(b"M00/00/00/short").is_none());
}

#[test]
fn url_paths() {
    let p = b"/group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg";
    assert_eq!(parse_url_path(p, true).unwrap().group, Some("group1"));
    assert!(parse_url_path(p, false).is_err());
    assert!(parse_url_path(&p[7..], false).is_ok());
    assert!(parse_url_path(&p[1..], true).is_err());
    assert!(parse_url_path(
        b"//group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg",
        true
    )
    .is_err());
}

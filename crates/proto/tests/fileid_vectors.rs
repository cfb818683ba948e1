//! `shared/testdata/fastdfs-file-ids.json`: every record and known ID decodes to the captured
//! fields and re-encodes to itself; every invalid name is refused.

mod common;

use common::{hex, load, unhex};
use fdfs_proto::fileid::{
    encode_raw, logical_name, masked_size, parse_file_id, parse_logical_name, slave_name, Crc32,
    FileType, SizeKind, Source,
};
use serde_json::Value;

fn check_decoded(file_id: &str, d: &Value) {
    let id = parse_file_id(file_id.as_bytes()).unwrap_or_else(|e| panic!("{file_id}: {e}"));
    assert_eq!(id.group, Some(d["group_name"].as_str().unwrap()));
    assert_eq!(
        id.store_path_index,
        d["store_path_index"].as_u64().unwrap() as u8
    );
    assert_eq!(
        format!("{:02X}", id.sub_high),
        d["subdir_high"].as_str().unwrap()
    );
    assert_eq!(
        format!("{:02X}", id.sub_low),
        d["subdir_low"].as_str().unwrap()
    );
    assert_eq!(id.file_name, d["filename"].as_str().unwrap());
    assert_eq!(
        id.logical_name.len() as u64,
        d["logical_name_length"].as_u64().unwrap()
    );
    assert_eq!(
        parse_logical_name(id.logical_name.as_bytes())
            .unwrap()
            .group,
        None
    );

    let dec = id.decode();
    assert_eq!(hex(&dec.raw), d["decoded_20_bytes_hex"].as_str().unwrap());
    let src = &d["source"];
    match (dec.source, src["kind"].as_str().unwrap()) {
        (Source::Ipv4(ip), "ipv4") => assert_eq!(ip.to_string(), src["ipv4"].as_str().unwrap()),
        (Source::ServerId(v), "server_id") => {
            assert_eq!(u64::from(v), src["le_u32"].as_u64().unwrap())
        }
        (s, k) => panic!("{file_id}: source {s:?} vs {k}"),
    }
    assert_eq!(
        i64::from(dec.create_timestamp),
        d["create_timestamp"].as_i64().unwrap()
    );
    assert_eq!(
        format!("{:016x}", dec.size_field),
        d["size_field_hex"].as_str().unwrap()
    );
    assert_eq!(
        format!("{:06x}", dec.random23()),
        d["random_23bits_hex"].as_str().unwrap()
    );
    assert_eq!(
        dec.random_word_flag(),
        d["flag_bit63_set"].as_bool().unwrap()
    );
    assert_eq!(
        dec.appender_flag(),
        d["appender_flag_bit58"].as_bool().unwrap()
    );
    assert_eq!(dec.trunk_flag(), d["trunk_flag_bit59"].as_bool().unwrap());
    assert_eq!(
        format!("{:08x}", dec.crc32),
        d["crc32_hex"].as_str().unwrap()
    );
    let ty = match dec.file_type() {
        FileType::Normal | FileType::Trunk => "normal",
        FileType::Appender => "appender",
        FileType::Slave => "slave",
    };
    assert_eq!(ty, d["type_by_v4_rules"].as_str().unwrap(), "{file_id}");
    assert_eq!(dec.size(), d["size_by_v4_rules"].as_u64(), "{file_id}");

    // Re-encode from the decoded fields: identical name.
    let raw = encode_raw(dec.source, dec.create_timestamp, dec.size_field, dec.crc32);
    assert_eq!(raw, dec.raw);
    let tail = &id.file_name[27..];
    let rebuilt = logical_name(
        id.store_path_index,
        id.sub_high,
        id.sub_low,
        &raw,
        None,
        tail,
    );
    assert_eq!(rebuilt, id.logical_name);
}

#[test]
fn records_decode_and_reencode() {
    let v = load("fastdfs-file-ids.json");
    let mut n = 0;
    for r in v["records"].as_array().unwrap() {
        let Some(file_id) = r["file_id"].as_str() else {
            assert_eq!(r["kind"], "rejected_upload");
            continue;
        };
        check_decoded(file_id, &r["decoded"]);
        let dec = parse_file_id(file_id.as_bytes()).unwrap().decode();
        // What fdfs_file_info printed must agree with the ID.
        let info = &r["fdfs_file_info"]["parsed"];
        if info["get_from_server"] == false {
            assert_eq!(dec.size(), info["file_size"].as_u64(), "{file_id}");
            assert_eq!(
                format!("{:08x}", dec.crc32),
                info["file_crc32_hex"].as_str().unwrap()
            );
        }
        // The ID's CRC and size are those of the uploaded content (appender: at upload time).
        let content = r.get("content_at_upload").unwrap_or(&r["content"]);
        if r["kind"] == "normal" {
            assert_eq!(dec.size(), content["size"].as_u64(), "{file_id}");
        }
        // CRC and size of the real sample file (the appender's ID keeps the upload-time CRC).
        let sample = common::testdata_dir().join(r["sample_file"].as_str().unwrap());
        let bytes = std::fs::read(&sample).unwrap();
        let mut streamed = Crc32::new();
        bytes.chunks(7).for_each(|c| streamed.update(c));
        let crc = streamed.finalize();
        assert_eq!(crc, Crc32::checksum(&bytes));
        if r["kind"] == "normal" || r["kind"] == "slave" {
            assert_eq!(
                format!("{crc:08x}"),
                r["content"]["crc32_hex"].as_str().unwrap()
            );
        }
        if r["kind"] == "normal" {
            assert_eq!(crc, dec.crc32, "{file_id}");
            assert_eq!(dec.size(), Some(bytes.len() as u64));
        }
        if r["kind"] != "slave" {
            assert_eq!(
                format!("{:08x}", dec.crc32),
                content["crc32_hex"].as_str().unwrap()
            );
        }
        if r["kind"] == "appender" {
            assert_eq!(dec.size_field & 0xFFFF_FFFF, 0);
            assert_eq!(
                masked_size(SizeKind::Appender, 0, dec.random23()),
                dec.size_field
            );
        }
        if r["kind"] == "normal" {
            let size = content["size"].as_u64().unwrap();
            assert_eq!(
                masked_size(SizeKind::Normal, size, dec.random23()),
                dec.size_field
            );
        }
        if let Some(master) = r["master_file_id"].as_str() {
            let m = parse_file_id(master.as_bytes()).unwrap();
            let slave = slave_name(m.logical_name, "_big", None).unwrap();
            assert_eq!(format!("group1/{slave}"), file_id);
        }
        n += 1;
    }
    assert_eq!(n, 11);
}

#[test]
fn known_ids_decode() {
    let v = load("fastdfs-file-ids.json");
    for k in v["known_ids"].as_array().unwrap() {
        let file_id = k["file_id"].as_str().unwrap();
        check_decoded(file_id, &k["decoded"]);
        let dec = parse_file_id(file_id.as_bytes()).unwrap().decode();
        let exp = &k["expected"];
        assert_eq!(dec.source.to_string(), exp["source_ip"].as_str().unwrap());
        // The brief's real size holds for all three once the legacy rule is applied.
        assert_eq!(
            dec.size_legacy_aware(),
            exp["real_size"].as_u64(),
            "{file_id}"
        );
        let legacy = file_id.contains("wKjzh0_");
        assert_eq!(dec.is_legacy_pre_v4(), legacy, "{file_id}");
        if legacy {
            assert_eq!(dec.file_type(), FileType::Appender);
            assert_eq!(dec.file_type_legacy_aware(), FileType::Normal);
        }
    }
}

#[test]
fn all_invalid_names_rejected() {
    let v = load("fastdfs-file-ids.json");
    let list = v["invalid_names"].as_array().unwrap();
    assert_eq!(list.len(), 53);
    for e in list {
        let bytes = unhex(e["file_id_utf8_hex"].as_str().unwrap());
        let r = parse_file_id(&bytes);
        assert!(r.is_err(), "accepted {:?} ({})", e["file_id"], e["reason"]);
        // Without the group, the logical-name form must be refused as well (when it has one).
        if let Some(i) = bytes.iter().position(|&b| b == b'/') {
            let group_ok = fdfs_proto::fileid::validate_group_name(&bytes[..i]).is_ok();
            if group_ok {
                assert!(
                    parse_logical_name(&bytes[i + 1..]).is_err(),
                    "{:?}",
                    e["file_id"]
                );
            }
        }
    }
}

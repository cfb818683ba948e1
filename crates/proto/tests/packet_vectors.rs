//! `shared/testdata/fastdfs-packets.json`: every exchange of both configs. Request and
//! response bodies decode into typed messages whose fields equal the captured `fields`, and
//! re-encode (with the config's IP width) to the exact captured bytes.

mod common;

use common::fields::{compare, Fields};
use common::{hex, load, unhex};
use fdfs_proto::cmd;
use fdfs_proto::common::{Empty, FileRef, GroupName};
use fdfs_proto::frame::{decode_frame, packet, Header, Limits, Progress, HEADER_LEN};
use fdfs_proto::status;
use fdfs_proto::storage::{
    AppendRequest, DownloadRequest, FileInfo, Metadata, SetMetadataRequest, SlaveUploadRequest,
    StoredFile, UploadRequest,
};
use fdfs_proto::tracker::{
    FetchTargets, GroupStat, GroupStats, ListStorages, Parameters, StorageStats, StoreTarget,
    StoreTargets,
};
use fdfs_proto::{Body, BodyError, HeadProgress, IpWidth, Streamed};
use serde_json::Value;

/// Decodes a streamed request from the whole body, checking the incremental contract too.
fn streamed<T: Streamed + PartialEq + std::fmt::Debug>(
    h: &Header,
    body: &[u8],
) -> Result<(T, usize), BodyError> {
    // Feeding fewer bytes must ask for more (or fail the same way), never panic.
    for cut in 0..body.len().min(64) {
        match T::decode_head(h, &body[..cut]) {
            Ok(HeadProgress::NeedBytes(n)) => assert!(n > cut),
            Ok(HeadProgress::Complete { head_len, .. }) => assert!(head_len <= cut),
            Err(_) => {}
        }
    }
    match T::decode_head(h, body)? {
        HeadProgress::Complete {
            head,
            head_len,
            content_len,
        } => {
            assert_eq!(head_len as u64 + content_len, h.pkg_len);
            assert_eq!(head.content_len(), content_len);
            Ok((head, head_len))
        }
        HeadProgress::NeedBytes(n) => panic!("whole body given, still needs {n}"),
    }
}

/// Decodes, records fields and re-encodes a request. `Err` = our decoder refused it.
fn request(h: &Header, body: &[u8], ip: IpWidth) -> Result<(Fields, Vec<u8>), BodyError> {
    let mut f = Fields::default();
    let enc = match h.cmd {
        cmd::QUERY_STORE_WITHOUT_GROUP_ONE
        | cmd::QUERY_STORE_WITHOUT_GROUP_ALL
        | cmd::SERVER_LIST_ALL_GROUPS
        | cmd::STORAGE_PARAMETER_REQ
        | cmd::ACTIVE_TEST
        | cmd::QUIT => Empty::decode(body)?.to_bytes(ip),
        cmd::QUERY_STORE_WITH_GROUP_ONE
        | cmd::QUERY_STORE_WITH_GROUP_ALL
        | cmd::SERVER_LIST_ONE_GROUP => {
            let m = GroupName::decode(body)?;
            f.s("group_name", &m.group);
            m.to_bytes(ip)
        }
        cmd::SERVER_LIST_STORAGE => {
            let m = ListStorages::decode(body)?;
            f.s("group_name", &m.group);
            if let Some(id) = &m.storage_id {
                f.s("storage_id", id);
            }
            m.to_bytes(ip)
        }
        cmd::QUERY_FETCH_ONE
        | cmd::QUERY_UPDATE
        | cmd::QUERY_FETCH_ALL
        | cmd::DELETE_FILE
        | cmd::GET_METADATA
        | cmd::QUERY_FILE_INFO => {
            let m = FileRef::decode(body)?;
            f.s("group_name", &m.group)
                .s("remote_filename", &m.file_name);
            m.to_bytes(ip)
        }
        cmd::DOWNLOAD_FILE => {
            let m = DownloadRequest::decode(body)?;
            f.n("file_offset", m.offset)
                .n("download_bytes", m.length)
                .s("group_name", &m.group)
                .s("remote_filename", &m.file_name);
            m.to_bytes(ip)
        }
        cmd::SET_METADATA => {
            let m = SetMetadataRequest::decode(body)?;
            f.n("filename_len", m.file_name.len() as u64)
                .n("meta_len", m.metadata.packed_len() as u64)
                .s("op_flag", &char::from(m.op.byte()).to_string())
                .s("group_name", &m.group)
                .s("remote_filename", &m.file_name)
                .meta("meta_data", &m.metadata);
            m.to_bytes(ip)
        }
        cmd::UPLOAD_FILE | cmd::UPLOAD_APPENDER_FILE => {
            let (m, n) = streamed::<UploadRequest>(h, body)?;
            f.n("store_path_index", m.store_path_index)
                .n("file_size", m.file_size)
                .s("file_ext_name", &m.ext)
                .b("file_content", &body[n..]);
            with_content(m.head_packet(h.cmd), &body[n..])
        }
        cmd::UPLOAD_SLAVE_FILE => {
            let (m, n) = streamed::<SlaveUploadRequest>(h, body)?;
            f.n("master_filename_len", m.master_file_name.len() as u64)
                .n("file_size", m.file_size)
                .s("prefix_name", &m.prefix)
                .s("file_ext_name", &m.ext)
                .s("master_filename", &m.master_file_name)
                .b("file_content", &body[n..]);
            with_content(m.head_packet(h.cmd), &body[n..])
        }
        cmd::APPEND_FILE => {
            let (m, n) = streamed::<AppendRequest>(h, body)?;
            f.n("appender_filename_len", m.file_name.len() as u64)
                .n("append_size", m.append_size)
                .s("appender_filename", &m.file_name)
                .b("append_content", &body[n..]);
            with_content(m.head_packet(h.cmd), &body[n..])
        }
        other => panic!("request cmd {other} has no decoder in this test"),
    };
    Ok((f, enc))
}

/// Streamed encoders produce header + head; strip the header, append the content.
fn with_content(head_packet: Vec<u8>, content: &[u8]) -> Vec<u8> {
    let mut v = head_packet[HEADER_LEN..].to_vec();
    v.extend_from_slice(content);
    v
}

fn servers(f: &mut Fields, list: &[fdfs_proto::common::ServerAddr]) {
    for (i, s) in list.iter().enumerate() {
        let p = if list.len() == 1 {
            String::new()
        } else {
            format!("server[{i}].")
        };
        f.s(&format!("{p}ip_addr"), &s.ip)
            .n(&format!("{p}port"), s.port);
    }
}

fn response(req_cmd: u8, body: &[u8], ip: IpWidth) -> (Fields, Vec<u8>) {
    let mut f = Fields::default();
    let enc = match req_cmd {
        cmd::QUERY_STORE_WITHOUT_GROUP_ONE | cmd::QUERY_STORE_WITH_GROUP_ONE => {
            let m = StoreTarget::decode(body).unwrap();
            f.s("group_name", &m.group);
            servers(&mut f, std::slice::from_ref(&m.server));
            f.n("store_path_index", m.store_path_index);
            m.to_bytes(ip)
        }
        cmd::QUERY_STORE_WITHOUT_GROUP_ALL | cmd::QUERY_STORE_WITH_GROUP_ALL => {
            let m = StoreTargets::decode(body).unwrap();
            f.s("group_name", &m.group);
            servers(&mut f, &m.servers);
            f.n("store_path_index", m.store_path_index);
            m.to_bytes(ip)
        }
        cmd::QUERY_FETCH_ONE | cmd::QUERY_UPDATE | cmd::QUERY_FETCH_ALL => {
            let m = FetchTargets::decode(body).unwrap();
            if req_cmd != cmd::QUERY_FETCH_ALL {
                FetchTargets::decode_one(body).unwrap();
            }
            f.s("group_name", &m.group);
            servers(&mut f, &m.servers);
            m.to_bytes(ip)
        }
        cmd::STORAGE_PARAMETER_REQ => {
            let m = Parameters::decode(body).unwrap();
            let text: String = m.0.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            f.s("parameters", &text);
            let want = match ip {
                IpWidth::V4 => "16",
                IpWidth::V6 => "46",
            };
            assert_eq!(m.get("response_ip_addr_size"), Some(want));
            m.to_bytes(ip)
        }
        cmd::SERVER_LIST_ALL_GROUPS => {
            let m = GroupStats::decode(body).unwrap();
            for (i, g) in m.0.iter().enumerate() {
                group_fields(&mut f, &format!("group[{i}]."), g);
            }
            m.to_bytes(ip)
        }
        cmd::SERVER_LIST_ONE_GROUP => {
            let m = GroupStat::decode(body).unwrap();
            group_fields(&mut f, "", &m);
            m.to_bytes(ip)
        }
        cmd::SERVER_LIST_STORAGE => {
            let m = StorageStats::decode(body).unwrap();
            for (i, s) in m.0.iter().enumerate() {
                let p = format!("storage[{i}].");
                f.n(&format!("{p}status"), s.status)
                    .n(&format!("{p}rw_mode"), s.rw_mode)
                    .s(&format!("{p}id"), &s.id)
                    .s(&format!("{p}ip_addr"), &s.ip_addr)
                    .s(&format!("{p}src_id"), &s.src_id)
                    .s(&format!("{p}version"), &s.version);
                for (n, v) in [
                    ("join_time", s.join_time),
                    ("up_time", s.up_time),
                    ("total_mb", s.total_mb),
                    ("free_mb", s.free_mb),
                    ("reserved_mb", s.reserved_mb),
                    ("upload_priority", s.upload_priority),
                    ("store_path_count", s.store_path_count),
                    ("subdir_count_per_path", s.subdir_count_per_path),
                    ("current_write_path", s.current_write_path),
                    ("storage_port", s.storage_port),
                ] {
                    f.n(&format!("{p}{n}"), v);
                }
                f.n(
                    &format!("{p}stat.connection.alloc_count"),
                    s.stat.alloc_count,
                )
                .n(
                    &format!("{p}stat.connection.current_count"),
                    s.stat.current_count,
                )
                .n(&format!("{p}stat.connection.max_count"), s.stat.max_count);
                for (n, v) in s.stat.counters() {
                    f.n(&format!("{p}stat.{n}"), v);
                }
                f.n(&format!("{p}if_trunk_server"), s.if_trunk_server);
            }
            m.to_bytes(ip)
        }
        cmd::UPLOAD_FILE | cmd::UPLOAD_APPENDER_FILE | cmd::UPLOAD_SLAVE_FILE => {
            let m = StoredFile::decode(body).unwrap();
            f.s("group_name", &m.group)
                .s("remote_filename", &m.file_name);
            // Every returned name passes the strict validator.
            fdfs_proto::fileid::parse_file_id(m.file_id().as_bytes()).unwrap();
            m.to_bytes(ip)
        }
        cmd::DOWNLOAD_FILE => {
            if !body.is_empty() {
                f.b("file_content", body);
            }
            body.to_vec()
        }
        cmd::GET_METADATA => {
            let m = Metadata::decode(body).unwrap();
            f.meta("meta_data", &m);
            m.to_bytes(ip)
        }
        cmd::QUERY_FILE_INFO => {
            let m = FileInfo::decode(body).unwrap();
            f.n("file_size", m.file_size)
                .n("create_timestamp", m.create_timestamp)
                .n("crc32", i64::from(m.crc32 as i32))
                .s("source_ip_addr", &m.source_ip);
            m.to_bytes(ip)
        }
        cmd::ACTIVE_TEST | cmd::DELETE_FILE | cmd::SET_METADATA | cmd::APPEND_FILE => {
            Empty::decode(body).unwrap().to_bytes(ip)
        }
        other => panic!("response to cmd {other} has no decoder in this test"),
    };
    (f, enc)
}

fn group_fields(f: &mut Fields, p: &str, g: &GroupStat) {
    f.s(&format!("{p}group_name"), &g.group);
    for (n, v) in [
        ("total_mb", g.total_mb),
        ("free_mb", g.free_mb),
        ("reserved_mb", g.reserved_mb),
        ("trunk_free_mb", g.trunk_free_mb),
        ("storage_count", g.storage_count),
        ("storage_port", g.storage_port),
        ("readable_server_count", g.readable_server_count),
        ("writable_server_count", g.writable_server_count),
        ("current_write_server", g.current_write_server),
        ("store_path_count", g.store_path_count),
        ("subdir_count_per_path", g.subdir_count_per_path),
        ("current_trunk_file_id", g.current_trunk_file_id),
    ] {
        f.n(&format!("{p}{n}"), v);
    }
}

/// Header + body from a message; checks the header and the frame decoder on the real bytes.
fn frame_of(id: &str, m: &Value) -> (Header, Vec<u8>) {
    let head = unhex(m["header_hex"].as_str().unwrap());
    let body = unhex(m["body_hex"].as_str().unwrap());
    let h = Header::decode(head.as_slice().try_into().unwrap()).unwrap();
    assert_eq!(h.pkg_len, body.len() as u64, "{id}");
    assert_eq!(h.cmd, m["header"]["cmd"].as_u64().unwrap() as u8);
    assert_eq!(h.status, m["header"]["status"].as_u64().unwrap() as u8);
    assert_eq!(h.encode().as_slice(), head.as_slice());
    let name = m["header"]["status_name"].as_str().unwrap();
    if name != "OK" || h.status == 0 {
        assert_eq!(status::name(h.status), Some(name), "{id}");
    }
    if let Some(n) = cmd::name(h.cmd) {
        assert_eq!(n, m["header"]["cmd_name"].as_str().unwrap(), "{id}");
    } else {
        assert_eq!(m["header"]["cmd_name"], "unknown");
    }
    let mut wire = head.clone();
    wire.extend_from_slice(&body);
    let lim = Limits {
        max_body_len: 1 << 20,
    };
    match decode_frame(&wire, &lim).unwrap() {
        Progress::Complete(f) => {
            assert_eq!(f.header, h);
            assert_eq!(f.body, body.as_slice());
        }
        p => panic!("{id}: {p:?}"),
    }
    (h, body)
}

#[test]
fn every_exchange_of_both_configs() {
    let v = load("fastdfs-packets.json");
    let exchanges = v["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 162);
    let (mut typed_req, mut typed_resp, mut refused, mut error_resp) = (0, 0, 0, 0);
    for e in exchanges {
        let id = e["id"].as_str().unwrap();
        let ip = match e["config"].as_str().unwrap() {
            "ip16" => IpWidth::V4,
            "ip46" => IpWidth::V6,
            c => panic!("{c}"),
        };
        let (rh, rbody) = frame_of(id, &e["request"]);
        let resp = (!e["response"].is_null()).then(|| frame_of(id, &e["response"]));
        if let Some((h, _)) = &resp {
            assert_eq!(h.cmd, cmd::RESP, "{id}");
        }
        let resp_status = resp.as_ref().map(|(h, _)| h.status);

        if cmd::name(rh.cmd).is_none() {
            // Unknown command: servers answer a bare EINVAL.
            assert_eq!(resp_status, Some(status::EINVAL), "{id}");
            refused += 1;
        } else {
            match request(&rh, &rbody, ip) {
                Ok((fields, enc)) => {
                    compare(id, &fields, &e["request"]["fields"]);
                    assert_eq!(hex(&enc), hex(&rbody), "{id}: request re-encode");
                    let mut wire = rh.encode().to_vec();
                    wire.extend_from_slice(&rbody);
                    assert_eq!(packet(rh.cmd, rh.status, &enc), wire, "{id}: packet");
                    typed_req += 1;
                }
                Err(err) => {
                    // We refuse exactly what the real server refused as malformed.
                    assert_eq!(resp_status, Some(status::EINVAL), "{id}: {err}");
                    assert_eq!(err.status(), status::EINVAL);
                    refused += 1;
                }
            }
        }
        if rh.cmd == cmd::QUIT {
            assert!(resp.is_none(), "{id}: QUIT has no response");
        }
        let Some((h, body)) = resp else { continue };
        if h.status != 0 {
            // Error responses carry no body; clients ignore pkg_len anyway.
            assert!(body.is_empty(), "{id}");
            assert!(e["response"]["fields"].as_array().unwrap().is_empty());
            error_resp += 1;
            continue;
        }
        let (fields, enc) = response(rh.cmd, &body, ip);
        compare(id, &fields, &e["response"]["fields"]);
        assert_eq!(hex(&enc), hex(&body), "{id}: response re-encode");
        typed_resp += 1;
    }
    eprintln!(
        "typed requests {typed_req}, refused {refused}, typed responses {typed_resp}, error responses {error_resp}"
    );
    assert_eq!(typed_req + refused, 162);
    assert!(typed_resp + error_resp >= 160);
}

#[test]
fn status_byte_carries_file_info_flags() {
    let v = load("fastdfs-packets.json");
    let flagged: Vec<_> = v["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["request"]["header"]["cmd"] == cmd::QUERY_FILE_INFO
                && e["request"]["header"]["status"] != 0
        })
        .collect();
    assert!(flagged.len() >= 2);
    for e in flagged {
        let (h, body) = frame_of(e["id"].as_str().unwrap(), &e["request"]);
        assert!(h.status & (status::FINFO_FLAG_NO_CRC32 | status::FINFO_FLAG_KEEP_SILENCE) != 0);
        FileRef::decode(&body).unwrap();
    }
}

#[test]
fn request_enums_type_every_captured_request() {
    use fdfs_proto::storage::StorageRequest;
    use fdfs_proto::tracker::TrackerRequest;
    let v = load("fastdfs-packets.json");
    let (mut tracker, mut storage) = (0, 0);
    for e in v["exchanges"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        let (h, body) = frame_of(id, &e["request"]);
        let mut wire = h.encode().to_vec();
        wire.extend_from_slice(&body);
        let refused = e["response"]["header"]["status"] == status::EINVAL;
        match e["connection"]["server"].as_str().unwrap() {
            "tracker" => match TrackerRequest::decode(&h, &body) {
                Ok(r) => {
                    assert_eq!(r.cmd(), h.cmd);
                    assert_eq!(r.packet(), wire, "{id}");
                    tracker += 1;
                }
                Err(err) => assert!(refused, "{id}: {err}"),
            },
            "storage" => {
                // Feed the body a byte at a time as a socket would.
                let mut got = None;
                for n in 0..=body.len() {
                    match StorageRequest::decode_head(&h, &body[..n], &Limits::STORAGE) {
                        Ok(HeadProgress::NeedBytes(k)) => assert!(k > n, "{id}"),
                        Ok(HeadProgress::Complete {
                            head,
                            head_len,
                            content_len,
                        }) => {
                            got = Some(Ok((head, head_len, content_len)));
                            break;
                        }
                        Err(err) => {
                            got = Some(Err(err));
                            break;
                        }
                    }
                }
                match got.expect("decoder never completed") {
                    Ok((r, head_len, content_len)) => {
                        assert_eq!(r.cmd(), h.cmd);
                        assert_eq!(head_len as u64 + content_len, h.pkg_len);
                        assert_eq!(r.head_packet(), wire[..HEADER_LEN + head_len], "{id}");
                        storage += 1;
                    }
                    Err(err) => {
                        assert!(refused, "{id}: {err}");
                        assert_eq!(err.status(), status::EINVAL);
                    }
                }
            }
            s => panic!("{s}"),
        }
    }
    eprintln!("typed tracker requests {tracker}, storage requests {storage}");
    assert_eq!(tracker + storage, 162 - 9);
}

//! Property tests: any sequence of membership events keeps placement answers consistent, and
//! no request, however malformed, makes the service panic or answer out of protocol.

use std::time::{Duration, Instant};

use fdfs_proto::frame::{decode_frame, Frame, Header, Limits, Progress};
use fdfs_proto::status::{EACCES, EALREADY, EBUSY, EINVAL, ENOENT, ENOSPC};
use fdfs_proto::tracker::PathUsage;
use fdfs_proto::{cmd, Body, IpWidth};
use proptest::prelude::*;

use crate::cluster::{status, Cluster, JoinInfo, MemberKey};
use crate::config::Config;
use crate::persist::Store;
use crate::select::{self, FetchKind};
use crate::service::{self, Action, Conn, Shared};

#[derive(Debug, Clone)]
enum Ev {
    Join {
        group: u8,
        port: u8,
        paths: u8,
        conn: u8,
    },
    Beat {
        who: u8,
    },
    Disk {
        who: u8,
        free: Vec<i64>,
    },
    Drop {
        who: u8,
        conn: u8,
    },
    Expire {
        secs: u8,
    },
    Store {
        group: Option<u8>,
    },
    Fetch {
        who: u8,
        age: u32,
        kind: u8,
    },
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        (0..3u8, 0..4u8, 1..4u8, 0..6u8).prop_map(|(group, port, paths, conn)| Ev::Join {
            group,
            port,
            paths,
            conn
        }),
        any::<u8>().prop_map(|who| Ev::Beat { who }),
        (any::<u8>(), prop::collection::vec(-5i64..2000, 0..4))
            .prop_map(|(who, free)| Ev::Disk { who, free }),
        (any::<u8>(), 0..6u8).prop_map(|(who, conn)| Ev::Drop { who, conn }),
        (0..10u8).prop_map(|secs| Ev::Expire { secs }),
        prop::option::of(0..4u8).prop_map(|group| Ev::Store { group }),
        (any::<u8>(), any::<u32>(), 0..3u8).prop_map(|(who, age, kind)| Ev::Fetch {
            who,
            age,
            kind
        }),
    ]
}

fn cfg(i: u8) -> Config {
    let extra = [
        "store_lookup = \"round_robin\"\nreserved_storage_space = \"50%\"",
        "store_lookup = \"load_balance\"\nstore_path = \"load_balance\"\nreserved_storage_space = \"100M\"",
        "store_server = \"priority\"\nreserved_storage_space = \"0%\"",
    ][usize::from(i % 3)];
    Config::parse_str(&format!("base_path = \"/tmp/x\"\n{extra}")).unwrap()
}

fn file_name(ip: [u8; 4], ts: i32) -> String {
    use fdfs_proto::fileid::{base64, encode_raw, masked_size, SizeKind, Source};
    let raw = encode_raw(
        Source::Ipv4(ip.into()),
        ts,
        masked_size(SizeKind::Normal, 9, 3),
        1,
    );
    format!(
        "M00/00/00/{}123.txt",
        std::str::from_utf8(&base64::encode20(&raw)).unwrap()
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn placement_only_names_active_members_with_space(
        c_idx in 0..3u8,
        evs in prop::collection::vec(ev(), 1..60),
    ) {
        let cfg = cfg(c_idx);
        let mut c = Cluster::default();
        let t0 = Instant::now();
        let mut now = t0;
        let mut keys: Vec<(MemberKey, u64)> = Vec::new();
        let pick = |keys: &Vec<(MemberKey, u64)>, who: u8| {
            (!keys.is_empty()).then(|| keys[usize::from(who) % keys.len()].clone())
        };
        for e in evs {
            match e {
                Ev::Join { group, port, paths, conn } => {
                    let j = JoinInfo {
                        group: format!("g{group}"),
                        storage_id: String::new(),
                        ip: format!("10.0.0.{port}"),
                        port: 23000 + u16::from(port),
                        version: "6.16.1".into(),
                        join_time: 1,
                        up_time: 1,
                        upload_priority: i64::from(port),
                        store_path_count: u16::from(paths),
                        subdir_count_per_path: 256,
                        reported_status: 255,
                    };
                    if let Ok(k) = c.join(&j, u64::from(conn), now) {
                        keys.push((k, u64::from(conn)));
                    }
                }
                Ev::Beat { who } => if let Some((k, _)) = pick(&keys, who) {
                    c.beat(&k, None, now, 5);
                },
                Ev::Disk { who, free } => if let Some((k, _)) = pick(&keys, who) {
                    let p: Vec<_> = free.iter().map(|&f| PathUsage { total_mb: 1000, free_mb: f }).collect();
                    let _ = c.disk_usage(&k, &p, now);
                },
                Ev::Drop { who, conn } => if let Some((k, _)) = pick(&keys, who) {
                    c.disconnected(&k, u64::from(conn));
                },
                Ev::Expire { secs } => {
                    now += Duration::from_secs(u64::from(secs));
                    c.expire(now, Duration::from_secs(3));
                }
                Ev::Store { group } => {
                    let g = group.map(|g| format!("g{g}"));
                    match select::store(&mut c, &cfg, g.as_deref(), false) {
                        Ok(p) => {
                            let grp = &c.groups[&p.group];
                            let s = grp.storages.iter()
                                .find(|s| s.port == p.servers[0].port && s.ip == p.servers[0].ip)
                                .expect("named storage is a member");
                            prop_assert_eq!(s.status, status::ACTIVE);
                            let (t, f) = s.paths[usize::from(p.store_path_index)];
                            prop_assert!(cfg.reserve.path_ok(t, f, s.paths.len()));
                            if let Some(g) = g { prop_assert_eq!(p.group, g); }
                        }
                        Err(st) => prop_assert!(st == ENOENT || st == ENOSPC, "status {}", st),
                    }
                }
                Ev::Fetch { who, age, kind } => {
                    let kind = [FetchKind::One, FetchKind::Update, FetchKind::All][usize::from(kind)];
                    let name = file_name([10, 0, 0, who % 4], 1_700_000_000 - (age % 200_000) as i32);
                    match select::fetch(&mut c, &cfg, &format!("g{}", who % 3), &name, kind, 1_700_000_000) {
                        Ok(v) => {
                            prop_assert!(!v.is_empty());
                            let grp = &c.groups[&format!("g{}", who % 3)];
                            for a in v {
                                prop_assert!(grp.active().any(|(_, s)| s.ip == a.ip && s.port == a.port));
                            }
                        }
                        Err(st) => prop_assert_eq!(st, ENOENT),
                    }
                }
            }
        }
    }

    #[test]
    fn any_request_gets_a_well_formed_answer(
        frames in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..200)), 1..20),
        joined in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::parse_str(&format!("base_path = {:?}", dir.path())).unwrap();
        let sh = Shared::new(cfg, Cluster::default(), Store::open(dir.path()).unwrap());
        let mut conn = Conn { id: 1, peer: "127.0.0.1:5000".parse().unwrap(), member: None, seen_version: 0 };
        if joined {
            let j = fdfs_proto::tracker::JoinRequest {
                group: "group1".into(), storage_port: 23000, store_path_count: 1,
                subdir_count_per_path: 256, version: "6.16.1".into(), status: -1,
                trackers: vec!["127.0.0.1:22122".into()], ..Default::default()
            };
            let body = j.to_bytes(IpWidth::V4);
            let f = Frame { header: Header::request(cmd::STORAGE_JOIN, body.len() as u64), body: &body };
            prop_assert!(matches!(service::handle(&sh, &mut conn, f), Action::Reply(_)));
        }
        for (c, body) in &frames {
            let f = Frame { header: Header::request(*c, body.len() as u64), body };
            match service::handle(&sh, &mut conn, f) {
                Action::Close => prop_assert_eq!(*c, cmd::QUIT),
                Action::Reply(out) => {
                    let Ok(Progress::Complete(r)) = decode_frame(&out, &Limits { max_body_len: 1 << 20 }) else {
                        return Err(TestCaseError::fail("reply is not one whole frame"));
                    };
                    prop_assert_eq!(r.len(), out.len());
                    prop_assert_eq!(r.header.cmd, cmd::RESP);
                    let st = r.header.status;
                    prop_assert!([0, EINVAL, ENOENT, ENOSPC, EACCES, EBUSY, EALREADY].contains(&st), "status {}", st);
                    if st != 0 { prop_assert!(r.body.is_empty()); }
                }
            }
        }
    }
}

//! Group replication with real processes: one tracker, storages of one group with storage ids.

mod common;
mod repl;

use std::time::Duration;

use common::*;
use fdfs_client::{split_file_id, MetaItem, MetaOp, Metadata};
use repl::*;

fn meta(k: &str, v: &str) -> Metadata {
    Metadata(vec![MetaItem {
        name: k.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    }])
}

fn data(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}

/// Two storages: creates, metadata and deletes made on either side reach the other, under
/// the same names with the same bytes and mtimes; replicated records are logged lowercase and
/// never sent back; a restart resumes from the persisted marks.
#[test]
fn two_storages_converge_without_loops() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let tr = tracker(&dir.path().join("t"), "");
        let ts = [tr.addr()];
        let s1 = storage_id(&dir.path().join("s1"), 100001, &ts);
        let mut s2 = storage_id(&dir.path().join("s2"), 100002, &ts);
        for s in [&s1, &s2] {
            wait_status(
                &tr.addr(),
                "group1",
                s.port,
                ACTIVE,
                Duration::from_secs(20),
            )
            .await;
        }
        let c = client(&ts);
        let mut ids = Vec::new();
        for i in 0..60 {
            let id = c.upload(&data(i, 100 + i * 37), "bin", None).await.unwrap();
            if i % 3 == 0 {
                c.set_metadata(&id, MetaOp::Overwrite, meta("n", &i.to_string()))
                    .await
                    .unwrap();
            }
            ids.push(id);
        }
        for id in ids.iter().step_by(5) {
            c.delete(id).await.unwrap();
        }
        let bases = [s1.dir.clone(), s2.dir.clone()];
        let t = wait_converged(&bases, Duration::from_secs(60), |t| {
            t.keys().filter(|k| !k.ends_with("-m")).count() == 48
        });
        // 60 uploads, 12 deleted; metadata on i % 3 == 0 but not i % 5 == 0: 16 sidecars.
        assert_eq!(t.keys().filter(|k| k.ends_with("-m")).count(), 16);
        for (i, id) in ids.iter().enumerate() {
            let (_, name) = split_file_id(id).unwrap();
            let rel = &name[4..];
            if i % 5 == 0 {
                assert!(!t.contains_key(rel));
            } else {
                assert_eq!(t[rel].0, data(i, 100 + i * 37), "{id}");
            }
        }
        // Both sources were used, each side logged the other's files in lowercase only.
        let (b1, b2) = (binlog(&s1.dir), binlog(&s2.dir));
        let own = |b: &str| {
            b.lines()
                .filter(|l| l.split(' ').nth(1) == Some("C"))
                .count()
        };
        let replica = |b: &str| {
            b.lines()
                .filter(|l| l.split(' ').nth(1) == Some("c"))
                .count()
        };
        assert!(
            own(&b1) > 0 && own(&b2) > 0,
            "uploads went to both storages"
        );
        assert_eq!(
            own(&b1),
            replica(&b2),
            "every own create of s1 applied once on s2"
        );
        assert_eq!(
            own(&b2),
            replica(&b1),
            "and vice versa (no loops, no duplicates)"
        );
        assert!(s1
            .dir
            .join("data/sync/127.0.0.1_".to_string() + &s2.port.to_string() + ".mark")
            .exists());

        // Restart s2 (kill -9): it resumes; nothing is applied twice.
        s2.kill9();
        let more = c
            .upload(b"after restart", "txt", Some("group1"))
            .await
            .unwrap();
        respawn(&mut s2);
        wait_status(
            &tr.addr(),
            "group1",
            s2.port,
            ACTIVE,
            Duration::from_secs(20),
        )
        .await;
        let more2 = c
            .upload(b"after restart 2", "txt", Some("group1"))
            .await
            .unwrap();
        wait_converged(&bases, Duration::from_secs(60), |t| {
            [&more, &more2]
                .iter()
                .all(|id| t.contains_key(&split_file_id(id).unwrap().1[4..]))
        });
        let (b1, b2) = (binlog(&s1.dir), binlog(&s2.dir));
        assert_eq!(own(&b1), replica(&b2));
        assert_eq!(own(&b2), replica(&b1));
    });
}

//! Group replication with real processes: one tracker, storages of one group with storage ids.

mod common;
mod repl;

use std::time::Duration;

use common::*;
use fdfs_client::{split_file_id, MetaOp};
use repl::*;

/// Two storages: creates, metadata and deletes made on either side reach the other, under
/// the same names with the same bytes and mtimes; replicated records are logged lowercase and
/// never sent back; a restart resumes from the persisted marks.
#[test]
fn two_storages_converge_without_loops() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let tr = tracker(&dir.path().join("t"), TRACKER_CONF);
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

/// Three storages, 1,000 uploads spread over all of them, one member killed with SIGKILL in
/// the middle and restarted while uploads go on, then 100 deletes: all three end up with the
/// same 900 files (bytes, mtimes, metadata), each applied exactly once.
#[test]
fn three_storages_converge_through_kill9_and_deletes() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let tr = tracker(&dir.path().join("t"), TRACKER_CONF);
        let ts = [tr.addr()];
        let s1 = storage_id(&dir.path().join("s1"), 100001, &ts);
        let s2 = storage_id(&dir.path().join("s2"), 100002, &ts);
        let mut s3 = storage_id(&dir.path().join("s3"), 100003, &ts);
        for s in [&s1, &s2, &s3] {
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
        for i in 0..1000 {
            if i == 300 {
                s3.kill9();
                // The tracker sees the connection drop and stops sending uploads there.
                wait_status(
                    &tr.addr(),
                    "group1",
                    s3.port,
                    OFFLINE,
                    Duration::from_secs(20),
                )
                .await;
            }
            if i == 600 {
                respawn(&mut s3);
            }
            let id = c
                .upload(&data(i, 500 + i % 700), "dat", None)
                .await
                .unwrap();
            if i % 10 == 3 {
                c.set_metadata(&id, MetaOp::Overwrite, meta("k", &i.to_string()))
                    .await
                    .unwrap();
            }
            ids.push(id);
        }
        wait_status(
            &tr.addr(),
            "group1",
            s3.port,
            ACTIVE,
            Duration::from_secs(20),
        )
        .await;
        for id in ids.iter().step_by(10) {
            c.delete(id).await.unwrap();
        }
        let bases = [s1.dir.clone(), s2.dir.clone(), s3.dir.clone()];
        let t = wait_converged(&bases, Duration::from_secs(120), |t| {
            t.keys().filter(|k| !k.ends_with("-m")).count() == 900
        });
        assert_eq!(t.keys().filter(|k| k.ends_with("-m")).count(), 100);
        for (i, id) in ids.iter().enumerate() {
            match t.get(&rel(id)) {
                Some((bytes, _)) => assert_eq!(*bytes, data(i, 500 + i % 700)),
                None => assert_eq!(i % 10, 0, "{id} lost"),
            }
        }
        for s in [&s1, &s2, &s3] {
            let b = binlog(&s.dir);
            assert!(
                b.lines().any(|l| l.contains(" C ")),
                "{} got uploads",
                s.port
            );
            assert_no_duplicate_creates(&b);
        }
    });
}

/// A new member catches up from the group before it is ACTIVE; a member whose store was
/// wiped recovers everything (including its own old files) from its peers.
#[test]
fn new_member_and_wiped_member_recover_everything() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let tr = tracker(&dir.path().join("t"), TRACKER_CONF);
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
        for i in 0..200 {
            let id = c.upload(&data(i, 2000 + i), "img", None).await.unwrap();
            if i % 4 == 0 {
                c.set_metadata(&id, MetaOp::Overwrite, meta("w", "640"))
                    .await
                    .unwrap();
            }
            ids.push(id);
        }
        for id in ids.iter().skip(1).step_by(20) {
            c.delete(id).await.unwrap();
        }
        wait_converged(
            &[s1.dir.clone(), s2.dir.clone()],
            Duration::from_secs(60),
            |t| t.keys().filter(|k| !k.ends_with("-m")).count() == 190,
        );

        // A brand-new third member.
        let s3 = storage_id(&dir.path().join("s3"), 100003, &ts);
        wait_status(
            &tr.addr(),
            "group1",
            s3.port,
            ACTIVE,
            Duration::from_secs(60),
        )
        .await;
        // ACTIVE only after the copy: everything is already there.
        let t3 = tree(&s3.dir);
        assert_eq!(t3, tree(&s1.dir), "new member ACTIVE before it caught up");

        // Wipe s2 completely and restart it; keep writing meanwhile.
        s2.kill9();
        std::fs::remove_dir_all(&s2.dir).unwrap();
        std::fs::create_dir_all(&s2.dir).unwrap();
        respawn_with_config(&mut s2, 100002, &ts);
        let late = c
            .upload(b"written during recovery", "txt", None)
            .await
            .unwrap();
        c.delete(&ids[2]).await.unwrap();
        let (group, name) = split_file_id(&ids[3]).unwrap();
        let mut t = tclient(&tr.addr()).await;
        wait_status(
            &tr.addr(),
            "group1",
            s2.port,
            ACTIVE,
            Duration::from_secs(60),
        )
        .await;
        let bases = [s1.dir.clone(), s2.dir.clone(), s3.dir.clone()];
        let tr_final = wait_converged(&bases, Duration::from_secs(60), |t| {
            t.contains_key(&rel(&late)) && !t.contains_key(&rel(&ids[2]))
        });
        assert_eq!(tr_final.keys().filter(|k| !k.ends_with("-m")).count(), 190);
        // s2's own old uploads came back too, and downloads work from every member.
        assert!(t.query_fetch_all(group, name).await.unwrap().len() >= 2);
        assert_no_duplicate_creates(&binlog(&s2.dir));
    });
}

/// A replaced disk: one of two store paths loses everything while the other and the binlog
/// survive; only that path is copied back from the peer.
#[test]
fn replaced_store_path_is_recovered_alone() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let tr = tracker(&dir.path().join("t"), TRACKER_CONF);
        let ts = [tr.addr()];
        let paths =
            |d: &std::path::Path| format!("store_paths = [{:?}, {:?}]", d.join("p0"), d.join("p1"));
        let (d1, d2) = (dir.path().join("s1"), dir.path().join("s2"));
        let s1 = storage_id_with(&d1, free_port(), 100001, &ts, &paths(&d1));
        let mut s2 = storage_id_with(&d2, free_port(), 100002, &ts, &paths(&d2));
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
        for i in 0..80 {
            c.upload(&data(i, 4000), "bin", None).await.unwrap();
        }
        for p in ["p0", "p1"] {
            wait_converged(&[d1.join(p), d2.join(p)], Duration::from_secs(60), |t| {
                !t.is_empty()
            });
        }
        let before: Vec<usize> = ["p0", "p1"]
            .iter()
            .map(|p| tree(&d1.join(p)).len())
            .collect();
        assert_eq!(before.iter().sum::<usize>(), 80, "{before:?}");
        s2.kill9();
        std::fs::remove_dir_all(d2.join("p1")).unwrap();
        respawn(&mut s2);
        wait_status(
            &tr.addr(),
            "group1",
            s2.port,
            ACTIVE,
            Duration::from_secs(60),
        )
        .await;
        for p in ["p0", "p1"] {
            let t = wait_converged(&[d1.join(p), d2.join(p)], Duration::from_secs(60), |_| true);
            assert!(!t.is_empty());
        }
        // Path 0 was not copied again: its files were logged once (own or replicated).
        let p0: String = binlog(&d2)
            .lines()
            .filter(|l| l.contains(" M00/"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_no_duplicate_creates(&p0);
        let recopied = binlog(&d2)
            .lines()
            .filter(|l| l.contains(" c M01/"))
            .count();
        assert!(recopied >= before[1], "path 1 came back from the peer");
    });
}

/// Appender files: append, modify and truncate on one member reach the other (as whole-file
/// updates), ending byte-identical with the source's mtime.
#[test]
fn appender_changes_replicate() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let tr = tracker(&dir.path().join("t"), TRACKER_CONF);
        let ts = [tr.addr()];
        let s1 = storage_id(&dir.path().join("s1"), 100001, &ts);
        let s2 = storage_id(&dir.path().join("s2"), 100002, &ts);
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
        let mut c = fdfs_client::StorageClient::connect(s1.addr())
            .await
            .unwrap();
        let f = c.upload_appender(0, "log", b"first line\n").await.unwrap();
        let name = f.file_name;
        let bases = [s1.dir.clone(), s2.dir.clone()];
        let want = |t: &Tree, body: &[u8]| t.get(&name[4..]).is_some_and(|v| v.0 == body);
        wait_converged(&bases, Duration::from_secs(30), |t| {
            want(t, b"first line\n")
        });
        c.append(&name, b"second line\n").await.unwrap();
        c.modify(&name, 0, b"FIRST").await.unwrap();
        wait_converged(&bases, Duration::from_secs(30), |t| {
            want(t, b"FIRST line\nsecond line\n")
        });
        c.truncate(&name, 5).await.unwrap();
        wait_converged(&bases, Duration::from_secs(30), |t| want(t, b"FIRST"));
        let b2 = binlog(&s2.dir);
        assert!(
            b2.lines().any(|l| l.contains(" u ") && l.ends_with(&name)),
            "{b2}"
        );
        assert!(
            !b2.lines().any(|l| l
                .split(' ')
                .nth(1)
                .is_some_and(|o| o.chars().all(|c| c.is_ascii_uppercase()))),
            "s2 originated nothing: {b2}"
        );
    });
}

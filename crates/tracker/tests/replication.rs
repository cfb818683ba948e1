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

fn rel(id: &str) -> String {
    split_file_id(id).unwrap().1[4..].to_owned()
}

/// Every name is applied at most once on each storage: own (C) or replicated (c).
fn assert_no_duplicate_creates(b: &str) {
    let mut seen = std::collections::HashSet::new();
    for l in b.lines() {
        let mut f = l.split(' ');
        let (_, op, name) = (f.next(), f.next(), f.next());
        if matches!(op, Some("C") | Some("c")) {
            assert!(seen.insert(name.unwrap().to_owned()), "applied twice: {l}");
        }
    }
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

/// Right after each upload, 1,000 fetches through the tracker-chosen storage: never a
/// not-found. Later, once the peers reported the file synced, the tracker spreads reads.
#[test]
fn reads_right_after_upload_never_miss() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let tr = tracker(&dir.path().join("t"), TRACKER_CONF);
        let ts = [tr.addr()];
        let s: Vec<_> = (0..3)
            .map(|i| storage_id(&dir.path().join(format!("s{i}")), 100001 + i, &ts))
            .collect();
        for p in &s {
            wait_status(
                &tr.addr(),
                "group1",
                p.port,
                ACTIVE,
                Duration::from_secs(20),
            )
            .await;
        }
        let c = client(&ts);
        let mut t = tclient(&tr.addr()).await;
        let mut conns: std::collections::HashMap<u16, fdfs_client::StorageClient> =
            Default::default();
        let mut served_by = std::collections::HashSet::new();
        let mut ids = Vec::new();
        for i in 0..12 {
            let body = data(i, 3000);
            let id = c.upload(&body, "jpg", None).await.unwrap();
            let (group, name) = split_file_id(&id).unwrap();
            for _ in 0..1000 {
                let at = t.query_fetch(group, name).await.unwrap();
                if let std::collections::hash_map::Entry::Vacant(e) = conns.entry(at.port) {
                    let sc = fdfs_client::StorageClient::connect(("127.0.0.1", at.port))
                        .await
                        .unwrap();
                    e.insert(sc);
                }
                let sc = conns.get_mut(&at.port).unwrap();
                match sc.download(group, name, 0, 0).await {
                    Ok(got) => assert_eq!(got, body),
                    Err(e) => panic!("{id} from port {}: {e}", at.port),
                }
                served_by.insert(at.port);
            }
            ids.push(id);
        }
        // Placement is not just "always the source": synced peers get reads too.
        let (group, name) = split_file_id(&ids[0]).unwrap();
        let t0 = std::time::Instant::now();
        loop {
            let all = t.query_fetch_all(group, name).await.unwrap();
            if all.len() == 3 {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "peers never reported {group}/{name} synced"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(served_by.len() >= 2, "reads went to {served_by:?}");
    });
}

fn fdfs(tracker: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(fdfs_cli())
        .arg("--tracker")
        .arg(tracker)
        .args(args)
        .output()
        .unwrap()
}

/// `fdfs monitor` shows per-peer lag; `fdfs monitor delete` removes a stopped member (not a
/// serving one), and its peers stop replicating to it.
#[test]
fn monitor_shows_lag_and_deletes_a_stopped_member() {
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
        for i in 0..20 {
            c.upload(&data(i, 1000), "txt", None).await.unwrap();
        }
        let bases = [s1.dir.clone(), s2.dir.clone()];
        wait_converged(&bases, Duration::from_secs(60), |t| t.len() == 20);
        // Figures settle once both sides are idle and have reported.
        let t0 = std::time::Instant::now();
        let v = loop {
            let out = fdfs(&tr.addr(), &["monitor", "--json"]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let st = &v["groups"][0]["storages"];
            let settled = (0..2).all(|i| {
                let p = &st[i]["replication"]["peers"][0];
                p["lag_records"] == 0
                    && p["records_sent"].as_u64().unwrap_or(0) > 0
                    && st[i]["last_synced_timestamp"].as_i64().unwrap_or(0) > 0
            });
            if settled {
                break v;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "monitor never settled: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        let sent: u64 = (0..2)
            .map(|i| {
                v["groups"][0]["storages"][i]["replication"]["peers"][0]["records_sent"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        assert_eq!(sent, 20, "every upload sent once to the other member");
        let text = fdfs(&tr.addr(), &["monitor"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("sync to 100002") && text.contains("lag 0 records"),
            "{text}"
        );

        // A serving member cannot be deleted.
        let out = fdfs(&tr.addr(), &["monitor", "delete", "group1", "100002"]);
        assert!(!out.status.success());
        s2.kill9();
        wait_status(
            &tr.addr(),
            "group1",
            s2.port,
            OFFLINE,
            Duration::from_secs(20),
        )
        .await;
        let out = fdfs(&tr.addr(), &["monitor", "delete", "group1", "100002"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut t = tclient(&tr.addr()).await;
        assert_eq!(t.list_storages("group1", None).await.unwrap().len(), 1);
        let again = fdfs(&tr.addr(), &["monitor", "delete", "group1", "100002"]);
        assert!(!again.status.success(), "already deleted");
        // s1 drops its replication state for the deleted member.
        let mark = s1.dir.join(format!("data/sync/127.0.0.1_{}.mark", s2.port));
        let t0 = std::time::Instant::now();
        while mark.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "mark of deleted peer kept"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

/// A member that returns after missing uploads is ACTIVE again at once, but the tracker sends
/// no reader to it for a file it does not have yet.
#[test]
fn returning_member_gets_no_reads_for_files_it_lacks() {
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
        s2.kill9();
        wait_status(
            &tr.addr(),
            "group1",
            s2.port,
            OFFLINE,
            Duration::from_secs(20),
        )
        .await;
        let c = client(&ts);
        let mut files = Vec::new();
        for i in 0..300 {
            let body = data(i, 20_000);
            files.push((c.upload(&body, "png", None).await.unwrap(), body));
        }
        respawn(&mut s2);
        wait_status(
            &tr.addr(),
            "group1",
            s2.port,
            ACTIVE,
            Duration::from_secs(20),
        )
        .await;
        let mut t = tclient(&tr.addr()).await;
        let mut conns: std::collections::HashMap<u16, fdfs_client::StorageClient> =
            Default::default();
        let mut from_s2 = 0;
        // Read every file through the tracker, over and over, while s2 catches up.
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_secs(8) {
            for (id, body) in &files {
                let (group, name) = split_file_id(id).unwrap();
                let at = t.query_fetch(group, name).await.unwrap();
                if let std::collections::hash_map::Entry::Vacant(e) = conns.entry(at.port) {
                    let sc = fdfs_client::StorageClient::connect(("127.0.0.1", at.port))
                        .await
                        .unwrap();
                    e.insert(sc);
                }
                let got = conns
                    .get_mut(&at.port)
                    .unwrap()
                    .download(group, name, 0, 0)
                    .await;
                match got {
                    Ok(b) => assert_eq!(&b, body),
                    Err(e) => panic!("{id} from port {}: {e}", at.port),
                }
                from_s2 += usize::from(at.port == s2.port);
            }
        }
        assert!(from_s2 > 0, "s2 never got reads after catching up");
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

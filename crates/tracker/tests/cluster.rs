//! Real tracker + real storages on loopback: placement, reserve, liveness, persistence,
//! several trackers.

mod common;

use std::time::Duration;

use common::*;
use fdfs_client::split_file_id;
use fdfs_proto::status::{ENOENT, ENOSPC};

/// 1 tracker, group1 and group2 with one storage each, all ACTIVE.
struct Stack {
    _dir: tempfile::TempDir,
    tracker: Proc,
    s1: Proc,
    s2: Proc,
}

async fn stack(tracker_extra: &str) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let tracker = common::tracker(&dir.path().join("t"), tracker_extra);
    let ts = [tracker.addr()];
    let s1 = storage(&dir.path().join("s1"), "group1", &ts);
    let s2 = storage(&dir.path().join("s2"), "group2", &ts);
    for (g, s) in [("group1", &s1), ("group2", &s2)] {
        wait_status(&tracker.addr(), g, s.port, ACTIVE, Duration::from_secs(8)).await;
    }
    Stack {
        _dir: dir,
        tracker,
        s1,
        s2,
    }
}

fn group_of(id: &str) -> &str {
    split_file_id(id).unwrap().0
}

#[test]
fn round_robin_and_specified_group_placement() {
    rt().block_on(async {
        let st = stack("store_lookup = \"round_robin\"").await;
        let c = client(&[st.tracker.addr()]);
        let mut groups = Vec::new();
        let mut ids = Vec::new();
        for i in 0..4 {
            let data = format!("file number {i}");
            let id = c.upload(data.as_bytes(), "txt", None).await.unwrap();
            groups.push(group_of(&id).to_owned());
            assert_eq!(c.download(&id).await.unwrap(), data.as_bytes());
            ids.push(id);
        }
        assert_ne!(groups[0], groups[1], "round robin alternates: {groups:?}");
        assert_eq!(groups[0], groups[2]);
        assert_eq!(groups[1], groups[3]);
        for _ in 0..3 {
            let id = c.upload(b"pinned", "bin", Some("group2")).await.unwrap();
            assert_eq!(group_of(&id), "group2");
        }
        // 102 names the storage of the file's group.
        let mut t = tclient(&st.tracker.addr()).await;
        for id in &ids {
            let (g, n) = split_file_id(id).unwrap();
            let s = t.query_fetch(g, n).await.unwrap();
            let want = if g == "group1" {
                st.s1.port
            } else {
                st.s2.port
            };
            assert_eq!(s.port, want);
            assert_eq!(t.query_update(g, n).await.unwrap().port, want);
            assert_eq!(t.query_fetch_all(g, n).await.unwrap().len(), 1);
        }
        let all = t.query_store_all(Some("group1")).await.unwrap();
        assert_eq!(all.servers.len(), 1);
        assert_eq!(all.servers[0].port, st.s1.port);
        let e = t.query_store(Some("group9")).await.unwrap_err();
        assert_eq!(e.status(), Some(ENOENT));
        for id in &ids {
            c.delete(id).await.unwrap();
            assert_eq!(c.download(id).await.unwrap_err().status(), Some(ENOENT));
        }
        let groups = t.list_groups().await.unwrap();
        assert_eq!(groups.len(), 2);
        assert!(groups
            .iter()
            .all(|g| g.storage_count == 1 && g.writable_server_count == 1));
        let p = t.parameters().await.unwrap();
        assert_eq!(p.get("response_ip_addr_size"), Some("16"));
        t.active_test().await.unwrap();
    });
}

#[test]
fn specified_group_lookup_and_reserve_gives_enospc() {
    rt().block_on(async {
        let st = stack("store_lookup = \"specified_group\"\nstore_group = \"group2\"").await;
        let c = client(&[st.tracker.addr()]);
        for _ in 0..3 {
            let id = c.upload(b"x", "txt", None).await.unwrap();
            assert_eq!(group_of(&id), "group2");
        }
        drop(st);
        // No disk is this big: every path is below the reserve.
        let st = stack("reserved_storage_space = \"1000000T\"").await;
        let mut t = tclient(&st.tracker.addr()).await;
        assert_eq!(
            t.query_store(None).await.unwrap_err().status(),
            Some(ENOSPC)
        );
        assert_eq!(
            t.query_store(Some("group1")).await.unwrap_err().status(),
            Some(ENOSPC)
        );
        assert_eq!(
            t.query_store_all(None).await.unwrap_err().status(),
            Some(ENOSPC)
        );
        let c = client(&[st.tracker.addr()]);
        assert_eq!(
            c.upload(b"x", "txt", None).await.unwrap_err().status(),
            Some(ENOSPC)
        );
        let g = t.list_group("group1").await.unwrap();
        assert!(
            g.reserved_mb > g.free_mb,
            "listing shows the reserve: {g:?}"
        );
    });
}

#[test]
fn offline_after_kill_and_after_silence() {
    rt().block_on(async {
        let mut st = stack("store_lookup = \"round_robin\"").await;
        let addr = st.tracker.addr();
        // Connection drop: OFFLINE within 2 heartbeat intervals (1 s each here).
        st.s1.kill9();
        let took = wait_status(&addr, "group1", st.s1.port, OFFLINE, Duration::from_secs(2)).await;
        eprintln!("OFFLINE {took:?} after kill -9");
        let c = client(std::slice::from_ref(&addr));
        for _ in 0..4 {
            let id = c.upload(b"still works", "txt", None).await.unwrap();
            assert_eq!(group_of(&id), "group2");
        }
        // Beats stop but the socket stays open (SIGSTOP): OFFLINE after check_active_interval
        // (3 s), ACTIVE again once beats resume.
        st.s2.signal("STOP");
        wait_status(&addr, "group2", st.s2.port, OFFLINE, Duration::from_secs(6)).await;
        let mut t = tclient(&addr).await;
        assert_eq!(
            t.query_store(None).await.unwrap_err().status(),
            Some(ENOENT)
        );
        st.s2.signal("CONT");
        wait_status(&addr, "group2", st.s2.port, ACTIVE, Duration::from_secs(5)).await;
        assert!(st
            .tracker
            .log_text()
            .contains("storage OFFLINE (no heartbeat)"));
    });
}

#[test]
fn tracker_restart_keeps_membership() {
    rt().block_on(async {
        let mut st = stack("").await;
        let tdir = st.tracker.dir.clone();
        let port = st.tracker.port;
        let addr = st.tracker.addr();
        let mut t = tclient(&addr).await;
        let before = t.list_storages("group1", None).await.unwrap();
        drop(t);
        // Changes reach the snapshot within ~100 ms (writes are coalesced).
        let snap = tdir.join("data/cluster.toml");
        let t0 = std::time::Instant::now();
        while !std::fs::read_to_string(&snap)
            .is_ok_and(|s| s.contains("group1") && s.contains("group2"))
        {
            assert!(
                t0.elapsed() < Duration::from_secs(3),
                "snapshot not written"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Crash everything: the snapshot on disk is all the new tracker has.
        st.tracker.kill9();
        st.s1.kill9();
        st.s2.kill9();
        let tracker = tracker_on(&tdir, port, "");
        let mut t = tclient(&addr).await;
        let groups = t.list_groups().await.unwrap();
        let names: Vec<_> = groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(names, ["group1", "group2"]);
        let after = t.list_storages("group1", None).await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].status, OFFLINE, "nobody is connected yet");
        assert_eq!(after[0].join_time, before[0].join_time);
        assert_eq!(after[0].storage_port, before[0].storage_port);
        assert_eq!(
            t.query_store(None).await.unwrap_err().status(),
            Some(ENOENT)
        );
        // The storage comes back and is served again.
        let s1 = storage_on(
            &st.s1.dir,
            st.s1.port,
            "group1",
            std::slice::from_ref(&addr),
        );
        wait_status(&addr, "group1", s1.port, ACTIVE, Duration::from_secs(8)).await;
        let c = client(std::slice::from_ref(&addr));
        let id = c.upload(b"after restart", "txt", None).await.unwrap();
        assert_eq!(group_of(&id), "group1");
        // SIGTERM drains and exits 0.
        drop(t);
        tracker.signal("TERM");
        let mut tracker = tracker;
        let code = tracker.child.wait().unwrap();
        assert!(code.success(), "{code}");
        assert!(tracker.log_text().contains("fdfs_trackerd stopped"));
    });
}

#[test]
fn two_trackers_one_killed_keeps_serving() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut ta = tracker(&dir.path().join("ta"), "store_lookup = \"round_robin\"");
        let tb = tracker(&dir.path().join("tb"), "store_lookup = \"round_robin\"");
        let ts = [ta.addr(), tb.addr()];
        let s1 = storage(&dir.path().join("s1"), "group1", &ts);
        let s2 = storage(&dir.path().join("s2"), "group2", &ts);
        for t in &ts {
            wait_status(t, "group1", s1.port, ACTIVE, Duration::from_secs(8)).await;
            wait_status(t, "group2", s2.port, ACTIVE, Duration::from_secs(8)).await;
        }
        let c = client(&ts);
        let mut ids = Vec::new();
        for i in 0..4 {
            ids.push(
                c.upload(format!("v{i}").as_bytes(), "txt", None)
                    .await
                    .unwrap(),
            );
        }
        ta.kill9();
        for i in 4..10 {
            ids.push(
                c.upload(format!("v{i}").as_bytes(), "txt", None)
                    .await
                    .unwrap(),
            );
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(c.download(id).await.unwrap(), format!("v{i}").as_bytes());
        }
        for id in &ids[..5] {
            c.delete(id).await.unwrap();
        }
        let groups: Vec<_> = ids.iter().map(|id| group_of(id)).collect();
        assert!(groups.contains(&"group1") && groups.contains(&"group2"));
        assert_eq!(status_of(&tb.addr(), "group1", s1.port).await, Some(ACTIVE));
    });
}

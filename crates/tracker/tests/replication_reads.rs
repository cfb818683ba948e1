//! Read placement and monitoring with real processes: the tracker never sends a reader to a
//! member that lacks the file; `fdfs monitor` shows replication lag and deletes members.

mod common;
mod repl;

use std::time::Duration;

use common::*;
use fdfs_client::split_file_id;
use repl::*;

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

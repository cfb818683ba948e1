//! Reporting to trackers: JOIN, then BEAT every `heart_beat_interval` and REPORT_DISK_USAGE
//! every `stat_report_interval`, one long-lived connection per tracker as FastDFS does.
//! Unreachable trackers are retried with exponential back-off; none of this ever blocks
//! serving clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fdfs_proto::frame::{decode_header, Header, Limits, HEADER_LEN};
use fdfs_proto::tracker::{Beat, Changes, DiskUsage, JoinRequest, JoinResponse, PathUsage};
use fdfs_proto::{cmd, Body, IpWidth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::disk;
use crate::server::Shared;

/// The version we announce: the FastDFS release whose wire format we follow.
const VERSION: &str = "6.16.1";
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub fn spawn(shared: Arc<Shared>, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if shared.cfg.tracker_servers.is_empty() {
            return;
        }
        let up_time = crate::binlog::unix_now();
        let join_time = join_time(&shared.cfg.base_path, up_time);
        let tasks: Vec<_> = shared
            .cfg
            .tracker_servers
            .clone()
            .into_iter()
            .map(|t| {
                tokio::spawn(report_to(
                    shared.clone(),
                    t,
                    (join_time, up_time),
                    stop.clone(),
                ))
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    })
}

async fn report_to(
    shared: Arc<Shared>,
    tracker: String,
    times: (i64, i64),
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    let mut failures = 0u32;
    loop {
        let r = tokio::select! {
            r = session(&shared, &tracker, times) => r,
            _ = stop.changed() => return,
        };
        let e = match r {
            Ok(()) => return,
            Err(e) => e,
        };
        failures += 1;
        // Log the first failures and then only occasionally: a dead tracker must not flood logs.
        if failures <= 3 || failures.is_power_of_two() {
            tracing::warn!(%tracker, error = %e, failures, retry_in = ?backoff, "tracker unavailable");
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn session(
    shared: &Shared,
    tracker: &str,
    (join_time, up_time): (i64, i64),
) -> Result<(), String> {
    let cfg = &shared.cfg;
    let mut s = tokio::time::timeout(cfg.network_timeout, TcpStream::connect(tracker))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let host = tracker.rsplit_once(':').map(|(h, _)| h).unwrap_or(tracker);
    let my_ip = s
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let mut link = crate::sync::report::TrackerLink::default();
    let join_status = shared.sync.join_status();
    let join = JoinRequest {
        group: cfg.group_name.clone(),
        storage_port: cfg.listen.port(),
        store_path_count: cfg.store_paths.len() as u16,
        subdir_count_per_path: cfg.subdir_count as u16,
        upload_priority: 10,
        join_time,
        up_time,
        version: VERSION.into(),
        init_flag: u8::from(join_status >= 0),
        status: join_status,
        storage_id: cfg.storage_id.map(|i| i.to_string()).unwrap_or_default(),
        current_tracker_ip: host.to_string(),
        trackers: cfg.tracker_servers.clone(),
    };
    let resp = call(
        &mut s,
        cfg.network_timeout,
        cmd::STORAGE_JOIN,
        &join.to_bytes(IpWidth::V4),
    )
    .await?;
    let joined = JoinResponse::decode(&resp).map_err(|e| e.to_string())?;
    link.joined(join_status);
    tracing::info!(%tracker, status = joined.my_status, sync_src = %joined.src_id, "joined tracker");
    let mut last_report: Option<Instant> = None;
    // Beat and report right after joining, as FastDFS storages do: the tracker makes a member
    // writable only once it knows its disk space.
    loop {
        let reply = call(
            &mut s,
            cfg.network_timeout,
            cmd::STORAGE_BEAT,
            &Beat(None).to_bytes(IpWidth::V4),
        )
        .await?;
        log_changes(tracker, &reply)?;
        let port = cfg.listen.port();
        link.on_reply(&shared.sync, &reply, cfg.storage_id, &my_ip, port);
        if let Some(b) = link.notify(&shared.sync) {
            call(&mut s, cfg.network_timeout, cmd::STORAGE_SYNC_NOTIFY, &b).await?;
        }
        if let Some(b) = link.report(&shared.sync) {
            let reply = call(&mut s, cfg.network_timeout, cmd::STORAGE_SYNC_REPORT, &b).await?;
            link.on_reply(&shared.sync, &reply, cfg.storage_id, &my_ip, port);
        }
        if last_report.is_none_or(|t| t.elapsed() >= cfg.stat_report_interval) {
            let usage = DiskUsage(
                cfg.store_paths
                    .iter()
                    .map(|p| {
                        let sp = disk::space(p).unwrap_or(disk::Space { total: 0, avail: 0 });
                        PathUsage {
                            total_mb: (sp.total >> 20) as i64,
                            free_mb: (sp.avail >> 20) as i64,
                        }
                    })
                    .collect(),
            );
            call(
                &mut s,
                cfg.network_timeout,
                cmd::STORAGE_REPORT_DISK_USAGE,
                &usage.to_bytes(IpWidth::V4),
            )
            .await?;
            last_report = Some(Instant::now());
        }
        // A finished initial copy is announced at once, not a heartbeat later.
        tokio::select! {
            _ = tokio::time::sleep(cfg.heart_beat_interval) => {}
            _ = shared.sync.status_changed.notified() => {}
        }
    }
}

/// Membership news in a BEAT/REPORT response: only logged until group replication exists.
fn log_changes(tracker: &str, body: &[u8]) -> Result<(), String> {
    let Changes(changes) = Changes::decode(body).map_err(|e| e.to_string())?;
    if let Some(c) = changes {
        if let Some(members) = &c.members {
            let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
            tracing::info!(%tracker, ?ids, "group membership changed");
        }
        if let Some(l) = &c.leader {
            tracing::debug!(%tracker, leader = %l.id, "tracker leader changed");
        }
    }
    Ok(())
}

/// First join time, kept like FastDFS in `<base_path>/data/.data_init_flag`
/// (`storage_join_time=`); an existing file (ours or FastDFS's) is never rewritten.
fn join_time(base: &std::path::Path, now: i64) -> i64 {
    let path = base.join("data").join(".data_init_flag");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some(t) = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == "storage_join_time")
            .and_then(|(_, v)| v.trim().parse().ok())
        {
            return t;
        }
        return now;
    }
    if let Err(e) = std::fs::write(&path, format!("storage_join_time={now}\n")) {
        tracing::warn!(path = %path.display(), error = %e, "cannot record join time");
    }
    now
}

/// One request/response on the tracker connection.
async fn call(s: &mut TcpStream, t: Duration, command: u8, body: &[u8]) -> Result<Vec<u8>, String> {
    let pkt = fdfs_proto::frame::packet(command, 0, body);
    let io = async {
        s.write_all(&pkt).await.map_err(|e| format!("send: {e}"))?;
        let mut hb = [0u8; HEADER_LEN];
        s.read_exact(&mut hb)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        let h: Header = decode_header(&hb, &Limits::TRACKER)
            .map_err(|e| e.to_string())?
            .ok_or("short header")?;
        if h.status != 0 {
            return Err(format!(
                "tracker answered cmd {command} with status {}",
                h.status
            ));
        }
        let mut resp = vec![0u8; h.pkg_len as usize];
        s.read_exact(&mut resp)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        Ok(resp)
    };
    tokio::time::timeout(t, io)
        .await
        .map_err(|_| "tracker timed out".to_string())?
}

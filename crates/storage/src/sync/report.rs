//! What replication tells each tracker, on the storage's joined tracker connection:
//! membership is read from beat replies; 88 SYNC_NOTIFY says the initial copy is done;
//! 89 SYNC_REPORT carries, per peer, the time up to which that peer holds all our files.
//!
//! Deviation from FastDFS, where a *destination* reports the last timestamp it received
//! from each source: the *source* reports here, because only it knows that a peer is fully
//! caught up (an idle source sends nothing a destination could report). The body format is
//! FastDFS's; the tracker reads entry `{id, t}` from storage S as "`id` holds S's files < t".

use fdfs_proto::tracker::{Changes, SyncNotify, SyncReport, SyncedUntil};
use fdfs_proto::{Body, IpWidth};

use super::SyncState;

/// Per tracker session.
#[derive(Default)]
pub struct TrackerLink {
    last_report: Vec<SyncedUntil>,
    joined_waiting: bool,
}

impl TrackerLink {
    /// Call with the status sent in JOIN.
    pub fn joined(&mut self, join_status: i8) {
        self.joined_waiting = join_status >= 0;
        self.last_report.clear();
    }

    /// A beat / disk / sync-report reply: learn the group's members from it.
    pub fn on_reply(
        &mut self,
        sync: &SyncState,
        body: &[u8],
        my_id: Option<u32>,
        my_ip: &str,
        port: u16,
    ) {
        match Changes::decode(body) {
            Ok(Changes(Some(c))) => {
                if let Some(m) = c.members {
                    let id = my_id.map(|i| i.to_string());
                    sync.on_members(&m, id.as_deref(), my_ip, port);
                }
            }
            Ok(Changes(None)) => {}
            Err(e) => tracing::warn!(error = %e, "tracker reply not understood"),
        }
    }

    /// The 88 body, once, when the initial copy finished after we joined as WAIT_SYNC.
    pub fn notify(&mut self, sync: &SyncState) -> Option<Vec<u8>> {
        if !self.joined_waiting || sync.is_recovering() {
            return None;
        }
        self.joined_waiting = false;
        let n = SyncNotify {
            src_id: String::new(),
            until_timestamp: crate::binlog::unix_now(),
        };
        Some(n.to_bytes(IpWidth::V4))
    }

    /// The 89 body when any peer's figure changed since the last one.
    pub fn report(&mut self, sync: &SyncState) -> Option<Vec<u8>> {
        let now: Vec<SyncedUntil> = super::lock(&sync.stats)
            .values()
            .filter(|s| s.synced_until > 0 && !s.id.is_empty())
            .take(fdfs_proto::tracker::MAX_SERVERS_PER_GROUP)
            .map(|s| SyncedUntil {
                storage_id: s.id.clone(),
                timestamp: s.synced_until.clamp(0, i64::from(u32::MAX)) as u32,
            })
            .collect();
        if now.is_empty() || now == self.last_report {
            return None;
        }
        self.last_report = now.clone();
        Some(SyncReport(now).to_bytes(IpWidth::V4))
    }
}

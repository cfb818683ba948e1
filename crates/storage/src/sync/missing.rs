//! A source's own file is missing from disk while its binlog still has records to push.
//!
//! Absence alone proves nothing: after a wiped store path the initial copy is still bringing
//! files back, and the files this member never pushed exist only on the members it did reach.
//! Skipping them would leave them under-replicated for good (issue 22). So "deleted since" is
//! read from the binlog (a later delete record for the same name); otherwise the file is
//! fetched back from a group member, and if none can say yet, the sender waits and retries
//! without moving its mark past the record.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::binlog_read::{self, Line, Pos};
use super::peer_conn::PeerConn;
use super::{recovery, st};
use crate::server::Shared;

/// The unlink of a delete is applied just before its binlog record is appended (same commit
/// batch): a sender that looked in between sees neither, so it looks once more after this.
const DELETE_SETTLE: Duration = Duration::from_millis(100);

/// What the sender does with a record whose file is missing.
pub enum Resolution {
    /// The file is on disk again: push it.
    Restored,
    /// Not to be pushed (already logged with the reason).
    Skip,
}

/// Decides about `line` (read up to `after`), whose file `data` is missing on disk. `Err`
/// means "not decidable yet": the session ends and the record is retried after a back-off.
pub async fn resolve(
    shared: &Arc<Shared>,
    line: &Line,
    after: Pos,
    data: &Path,
) -> Result<Resolution, String> {
    let (name, meta) = line.data_name();
    let file_id = format!("{}/{}", shared.cfg.group_name, line.name);
    for settle in [true, false] {
        let (dir, n) = (shared.sync.sync_dir.clone(), name.to_owned());
        let deleted =
            tokio::task::spawn_blocking(move || binlog_read::deleted_after(&dir, after, &n))
                .await
                .map_err(|e| format!("binlog scan: {e}"))?
                .map_err(|e| format!("reading binlog for a later delete of {file_id}: {e}"))?;
        if deleted {
            tracing::warn!(file_id = %file_id, op = %line.op,
                "not pushing a missing file: a later delete record in the binlog removed it");
            return Ok(Resolution::Skip);
        }
        if settle {
            tokio::time::sleep(DELETE_SETTLE).await;
        }
    }
    if data.exists() {
        if meta {
            // The data file is here: its metadata sidecar was removed since.
            tracing::warn!(file_id = %file_id, op = %line.op,
                "not pushing missing metadata: the file exists without it");
            return Ok(Resolution::Skip);
        }
        tracing::info!(file_id = %file_id, op = %line.op,
            "own file was missing on disk (no delete in the binlog) and is back: pushing it");
        return Ok(Resolution::Restored);
    }
    let peers = shared.sync.members().borrow().clone().unwrap_or_default();
    // Only "every member answered that it does not have it" makes the file lost; anything
    // less (a member down, recovering or unreachable) may still bring it back.
    let mut unsure = shared.sync.is_recovering();
    for p in peers.iter().filter(|p| p.status != st::DELETED) {
        if !matches!(p.status, st::ACTIVE | st::ONLINE) {
            unsure = true;
            continue;
        }
        let addr = p.addr();
        let mut c = match PeerConn::connect(&addr, shared.cfg.network_timeout).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(file_id = %file_id, peer = %addr, error = %e, "cannot ask peer for a missing file");
                unsure = true;
                continue;
            }
        };
        match recovery::fetch_one(shared, &mut c, name, data).await {
            Ok(true) => {
                tracing::warn!(file_id = %file_id, peer = %addr,
                    "own file was missing on disk (no delete in the binlog): fetched it back from a group member");
                return Ok(Resolution::Restored);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(file_id = %file_id, peer = %addr, error = %e, "fetching a missing file back failed");
                unsure = true;
            }
        }
    }
    if unsure {
        return Err(format!(
            "own file {file_id} missing on disk, no later delete in the binlog, and no member \
             could give it back yet: waiting (the record is retried, the mark stays before it)"
        ));
    }
    tracing::error!(file_id = %file_id, op = %line.op,
        "own file missing on disk and on every group member, never deleted: lost, not pushed");
    Ok(Resolution::Skip)
}

//! Command handlers. Each returns `Ok(Ok(()))` after replying itself, `Ok(Err(fail))` for a
//! header-only error reply (sent by the connection loop), or `Err(Abort)` if the connection is
//! gone.

mod appender;
mod download;
pub(crate) mod files;
mod meta;
pub(crate) mod upload;

use fdfs_proto::frame::Header;
use fdfs_proto::{cmd, status};

use crate::conn::{Conn, Fail, Outcome};

pub use files::rand_u64;

pub async fn dispatch(c: &mut Conn, h: Header) -> Outcome {
    match h.cmd {
        cmd::UPLOAD_FILE => upload::upload(c, h, false).await,
        cmd::UPLOAD_APPENDER_FILE => upload::upload(c, h, true).await,
        cmd::UPLOAD_SLAVE_FILE => upload::upload_slave(c, h).await,
        cmd::DOWNLOAD_FILE => download::download(c, h).await,
        cmd::DELETE_FILE => meta::delete(c, h).await,
        cmd::SET_METADATA => meta::set_metadata(c, h).await,
        cmd::GET_METADATA => meta::get_metadata(c, h).await,
        cmd::QUERY_FILE_INFO => meta::query_file_info(c, h).await,
        cmd::APPEND_FILE => appender::append(c, h).await,
        cmd::MODIFY_FILE => appender::modify(c, h).await,
        cmd::TRUNCATE_FILE => appender::truncate(c, h).await,
        cmd::STORAGE_REPORT_SERVER_ID
        | cmd::SYNC_CREATE_FILE
        | cmd::SYNC_UPDATE_FILE
        | cmd::SYNC_DELETE_FILE
        | cmd::FETCH_ONE_PATH_BINLOG
        | fdfs_proto::storage::SYNC_STATUS => crate::sync::recv::dispatch(c, h).await,
        cmd::ACTIVE_TEST => {
            if h.pkg_len != 0 {
                return Ok(Err(Fail::new(status::EINVAL, "ACTIVE_TEST with a body")));
            }
            c.reply(&[]).await.map(Ok)
        }
        other => Ok(Err(Fail::new(
            status::EINVAL,
            format!("unknown command {other} ({} body bytes)", h.pkg_len),
        ))),
    }
}

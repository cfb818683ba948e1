//! `FDFSStorageStatBuff`: the 348-byte counter block in BEAT requests and LIST_STORAGE records.

use crate::body::BodyError;
use crate::wire::{put_i64, put_u32, Reader};

macro_rules! stat_block {
    ($($field:ident),* $(,)?) => {
        /// Storage counters (`FDFSStorageStatBuff`, 348 bytes, identical since V5).
        ///
        /// | off | size | field |
        /// |---|---|---|
        /// | 0 | 4 | connection.alloc_count (u32) |
        /// | 4 | 4 | connection.current_count (u32) |
        /// | 8 | 4 | connection.max_count (u32) |
        /// | 12 | 42 × 8 | the i64 counters below, in declaration order: `total_`/`success_` pairs for upload, append, modify, truncate, set_meta, delete, download, get_meta, create_link, delete_link counts; upload, append, modify, download, sync_in, sync_out bytes; file open, read, write counts; then last_source_update, last_sync_update, last_synced_timestamp, last_heart_beat_time |
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct StatBlock {
            /// Connections allocated.
            pub alloc_count: u32,
            /// Connections open now.
            pub current_count: u32,
            /// Most connections ever open.
            pub max_count: u32,
            $(#[allow(missing_docs)] pub $field: i64,)*
        }

        impl StatBlock {
            /// Encoded size.
            pub const LEN: usize = 12 + 8 * [$(stringify!($field)),*].len();

            /// The i64 counters with their C names (without `sz_`), in wire order.
            pub fn counters(&self) -> Vec<(&'static str, i64)> {
                vec![$((stringify!($field), self.$field)),*]
            }

            pub(crate) fn put(&self, out: &mut Vec<u8>) {
                put_u32(out, self.alloc_count);
                put_u32(out, self.current_count);
                put_u32(out, self.max_count);
                $(put_i64(out, self.$field);)*
            }

            pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
                Ok(StatBlock {
                    alloc_count: r.u32("connection.alloc_count")?,
                    current_count: r.u32("connection.current_count")?,
                    max_count: r.u32("connection.max_count")?,
                    $($field: r.i64(stringify!($field))?,)*
                })
            }
        }
    };
}

stat_block!(
    total_upload_count,
    success_upload_count,
    total_append_count,
    success_append_count,
    total_modify_count,
    success_modify_count,
    total_truncate_count,
    success_truncate_count,
    total_set_meta_count,
    success_set_meta_count,
    total_delete_count,
    success_delete_count,
    total_download_count,
    success_download_count,
    total_get_meta_count,
    success_get_meta_count,
    total_create_link_count,
    success_create_link_count,
    total_delete_link_count,
    success_delete_link_count,
    total_upload_bytes,
    success_upload_bytes,
    total_append_bytes,
    success_append_bytes,
    total_modify_bytes,
    success_modify_bytes,
    total_download_bytes,
    success_download_bytes,
    total_sync_in_bytes,
    success_sync_in_bytes,
    total_sync_out_bytes,
    success_sync_out_bytes,
    total_file_open_count,
    success_file_open_count,
    total_file_read_count,
    success_file_read_count,
    total_file_write_count,
    success_file_write_count,
    last_source_update,
    last_sync_update,
    last_synced_timestamp,
    last_heart_beat_time,
);

#[cfg(test)]
mod tests {
    #[test]
    fn block_is_348_bytes() {
        assert_eq!(super::StatBlock::LEN, 348);
        let mut v = Vec::new();
        super::StatBlock::default().put(&mut v);
        assert_eq!(v.len(), 348);
    }
}

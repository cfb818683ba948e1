//! Content to send: a local file, or stdin for `-`. FastDFS announces the size before the
//! bytes, so stdin is read to its end first: in memory up to 16 MiB, beyond that in an unlinked
//! temporary file (nothing is left behind however the process ends).

use std::io::{Cursor, SeekFrom};
use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

const MEM_MAX: u64 = 16 << 20;

pub type Reader = Box<dyn AsyncRead + Unpin + Send>;

/// Opens `path` (`-` = stdin) and returns it with its size.
pub async fn open(path: &Path) -> std::io::Result<(Reader, u64)> {
    if path.as_os_str() == "-" {
        return spool_stdin().await;
    }
    let f = tokio::fs::File::open(path).await?;
    let size = f.metadata().await?.len();
    Ok((Box::new(f), size))
}

async fn spool_stdin() -> std::io::Result<(Reader, u64)> {
    let mut stdin = tokio::io::stdin();
    let mut mem = Vec::new();
    (&mut stdin).take(MEM_MAX + 1).read_to_end(&mut mem).await?;
    let head = mem.len() as u64;
    if head <= MEM_MAX {
        return Ok((Box::new(Cursor::new(mem)), head));
    }
    let path = std::env::temp_dir().join(format!("fdfs-stdin-{}", std::process::id()));
    let mut f = tokio::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .await?;
    tokio::fs::remove_file(&path).await?;
    f.write_all(&mem).await?;
    drop(mem);
    let rest = tokio::io::copy(&mut stdin, &mut f).await?;
    f.flush().await?;
    f.seek(SeekFrom::Start(0)).await?;
    Ok((Box::new(f), head + rest))
}

/// The extension for the file ID: `--ext` (a leading dot is dropped), else the local file
/// name's as the C client takes it; stdin without `--ext` gets none.
pub fn ext(flag: Option<&str>, path: &Path) -> Result<String, String> {
    let Some(e) = flag else {
        return Ok(if path.as_os_str() == "-" {
            String::new()
        } else {
            crate::ext_of(path)
        });
    };
    let e = e.strip_prefix('.').unwrap_or(e);
    if e.len() > 6 || !e.bytes().all(fdfs_proto::fileid::is_ext_char) {
        return Err(format!(
            "--ext {e:?}: an extension is at most 6 of letters, digits, '.', '-', '_'"
        ));
    }
    Ok(e.to_owned())
}

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
/// name's as the C client takes it, without characters the storage would refuse; stdin
/// without `--ext` gets none.
pub fn ext(flag: Option<&str>, path: &Path) -> Result<String, String> {
    let valid = |e: &str| e.len() <= 6 && e.bytes().all(fdfs_proto::fileid::is_ext_char);
    let Some(e) = flag else {
        if path.as_os_str() == "-" {
            return Ok(String::new());
        }
        let (wide, last) = c_ext_parts(path);
        return Ok([wide, last]
            .into_iter()
            .find(|e| valid(e))
            .unwrap_or_default());
    };
    let e = e.strip_prefix('.').unwrap_or(e);
    if !valid(e) {
        return Err(format!(
            "--ext {e:?}: an extension is at most 6 of letters, digits, '.', '-', '_'"
        ));
    }
    Ok(e.to_owned())
}

/// The extension the C client sends for a local file (`fdfs_upload_file`): the storage
/// answers EINVAL for characters it does not take, as it does for the C tool.
pub fn c_ext(path: &Path) -> String {
    c_ext_parts(path).0
}

/// (what the C client sends, the part after the last dot alone). The C client takes the part
/// after the last dot of the whole path if it is at most 6 bytes and has no `/`, widened to
/// two parts (`tar.gz`) when both fit in 6 bytes.
fn c_ext_parts(path: &Path) -> (String, String) {
    use std::os::unix::ffi::OsStrExt;
    let s = path.as_os_str().as_bytes();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let Some(dot) = s.iter().rposition(|&b| b == b'.') else {
        return Default::default();
    };
    let last = &s[dot + 1..];
    if last.len() > 6 || last.contains(&b'/') {
        return Default::default();
    }
    // A second dot counts only strictly after `floor`, so that both parts fit in 6 bytes.
    let floor = dot.saturating_sub(6 - last.len() + 1);
    let wide = s[..dot]
        .iter()
        .rposition(|&b| b == b'.')
        .filter(|&p| p > floor && !s[p + 1..].contains(&b'/'));
    match wide {
        Some(p) => (text(&s[p + 1..]), text(last)),
        None => (text(last), text(last)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_as_the_c_client_takes_them() {
        let c = |p: &str| c_ext(Path::new(p));
        assert_eq!(c("/x/hello.txt"), "txt");
        assert_eq!(c("sample.tar.gz"), "tar.gz");
        assert_eq!(c("a.b.c.d"), "c.d");
        assert_eq!(c("long.abcdefg"), "");
        assert_eq!(c("noext"), "");
        assert_eq!(c("/dir.d/noext"), "");
        assert_eq!(c("badext.a+b"), "a+b");
        assert_eq!(c("x.abcdef"), "abcdef");
        let e = |p: &str| ext(None, Path::new(p)).unwrap();
        assert_eq!(e("badext.a+b"), "");
        assert_eq!(e("x.a+b.gz"), "gz");
        assert_eq!(e("sample.tar.gz"), "tar.gz");
        assert_eq!(e("-"), "");
        assert_eq!(ext(Some(".jpg"), Path::new("-")).unwrap(), "jpg");
        assert!(ext(Some("a+b"), Path::new("-")).is_err());
        assert!(ext(Some("toolong7"), Path::new("-")).is_err());
    }
}

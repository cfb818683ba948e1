//! The `fdfs` subcommands that came with the C tool names: `upload -`/`--ext`/`--appender`,
//! `append`, `crc32`, `install-links`.

use std::path::Path;

use fdfs_client::{FdfsClient, Upload};

use super::input;
use crate::Cmd;

/// Commands that need no tracker; `None` for the others.
pub fn local(cmd: &Cmd) -> Option<Result<(), String>> {
    match cmd {
        Cmd::Crc32 { file } => Some(
            super::tools::crc32_of(file)
                .map(|c| println!("{c:08x}"))
                .map_err(|e| format!("cannot read {}: {e}", file.display())),
        ),
        Cmd::InstallLinks { dir, force } => Some(super::install(dir, *force).map(|made| {
            for l in made {
                println!("{}", l.display());
            }
        })),
        _ => None,
    }
}

/// `fdfs upload FILE|-`: prints the file ID.
pub async fn upload(
    client: &FdfsClient,
    file: &Path,
    group: Option<&str>,
    meta: &[String],
    ext: Option<&str>,
    appender: bool,
) -> Result<(), String> {
    let meta = crate::parse_meta(meta)?;
    let ext = input::ext(ext, file)?;
    let shown = if file.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        file.display().to_string()
    };
    let (mut src, size) = input::open(file)
        .await
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut bar = crate::progress::Bar::new("upload", size);
    let how = Upload {
        ext: &ext,
        group,
        appender,
        meta: &meta,
        ..Upload::default()
    };
    let id = client
        .upload_with(&mut src, size, &how, &mut |n| bar.update(n))
        .await
        .map_err(|e| format!("upload {shown}: {e}"))?;
    bar.finish();
    println!("{id}");
    Ok(())
}

/// `fdfs append FILE_ID FILE|-`.
pub async fn append(client: &FdfsClient, file_id: &str, file: &Path) -> Result<(), String> {
    let (mut src, size) = input::open(file)
        .await
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut bar = crate::progress::Bar::new("append", size);
    client
        .append_stream(file_id, &mut src, size, &mut |n| bar.update(n))
        .await
        .map_err(|e| format!("append {} to {file_id}: {e}", file.display()))?;
    bar.finish();
    Ok(())
}

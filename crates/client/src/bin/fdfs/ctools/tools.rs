//! `fdfs_upload_file`, `fdfs_upload_appender`, `fdfs_append_file`, `fdfs_download_file`,
//! `fdfs_delete_file`, `fdfs_crc32`: the C tools' arguments, stdout and exit codes.

use std::io::Read;
use std::path::{Path, PathBuf};

use fdfs_client::{Error, FdfsClient, Upload};
use tokio::io::AsyncWriteExt;

use super::{block_on, client_from, errno, input, io_errno, strerror, EIO};

/// Where a C tool prints its "... fail, error no: N, error info: ..." line.
#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

/// Prints our explanation (stderr), then the C tool's failure line; returns the exit code.
fn fail(what: &str, n: i32, detail: &str, to: Stream) -> i32 {
    let n = if n == 0 { EIO } else { n };
    eprintln!("fdfs: {detail}");
    let line = format!("{what} fail, error no: {n}, error info: {}", strerror(n));
    match to {
        Stream::Out => println!("{line}"),
        Stream::Err => eprintln!("{line}"),
    }
    n
}

fn client_fail(what: &str, e: &Error, detail: &str, to: Stream) -> i32 {
    fail(what, errno(e), &format!("{detail}: {e}"), to)
}

fn usage(argv0: &str, args: &str) -> i32 {
    println!("Usage: {argv0} {args}");
    1
}

/// `fdfs_upload_file [-p BASE_PATH] CONF LOCAL_FILE [STORAGE_IP:PORT] [STORE_PATH_INDEX]`.
/// BASE_PATH is accepted and ignored (the C client only logs there).
pub fn upload_file(argv0: &str, args: &[String]) -> i32 {
    let args = match args.first().map(String::as_str) {
        Some("-p") => args.get(2..).unwrap_or_default(),
        _ => args,
    };
    if args.len() < 2 {
        return usage(
            argv0,
            "[-p BASE_PATH] CONF LOCAL_FILE [STORAGE_IP:PORT] [STORE_PATH_INDEX]",
        );
    }
    let storage = args.get(2).map(|s| {
        if s.contains(':') {
            s.clone()
        } else {
            format!("{s}:23000")
        }
    });
    // atoi() semantics: junk is 0; a negative index lets the storage choose (0xFF).
    let index = args
        .get(3)
        .map(|s| u8::try_from(s.trim().parse::<i64>().unwrap_or(0)).unwrap_or(0xFF));
    upload(&args[0], &args[1], false, storage.as_deref(), index)
}

/// `fdfs_upload_appender CONF LOCAL_FILE`.
pub fn upload_appender(argv0: &str, args: &[String]) -> i32 {
    if args.len() < 2 {
        return usage(argv0, "CONF LOCAL_FILE");
    }
    upload(&args[0], &args[1], true, None, None)
}

fn upload(
    conf: &str,
    file: &str,
    appender: bool,
    storage: Option<&str>,
    store_path_index: Option<u8>,
) -> i32 {
    let client = match client_from(conf) {
        Ok(c) => c,
        Err(n) => return n,
    };
    let path = Path::new(file);
    let ext = input::c_ext(path);
    let run = async {
        let (mut src, size) = match input::open(path).await {
            Ok(x) => x,
            Err(e) => {
                let detail = format!("cannot open {file}: {e}");
                return fail("upload file", io_errno(&e), &detail, Stream::Err);
            }
        };
        let how = Upload {
            ext: &ext,
            appender,
            storage,
            store_path_index,
            ..Upload::default()
        };
        match client.upload_with(&mut src, size, &how, &mut |_| {}).await {
            Ok(id) => {
                println!("{id}");
                0
            }
            Err(e) => client_fail("upload file", &e, &format!("upload {file}"), Stream::Err),
        }
    };
    block_on(run).unwrap_or_else(|n| n)
}

/// `fdfs_append_file CONF APPENDER_FILE_ID LOCAL_FILE`.
pub fn append_file(argv0: &str, args: &[String]) -> i32 {
    if args.len() < 3 {
        return usage(argv0, "CONF APPENDER_FILE_ID LOCAL_FILE");
    }
    let client = match client_from(&args[0]) {
        Ok(c) => c,
        Err(n) => return n,
    };
    let (id, file) = (&args[1], &args[2]);
    let run = async {
        let (mut src, size) = match input::open(Path::new(file)).await {
            Ok(x) => x,
            Err(e) => {
                let detail = format!("cannot open {file}: {e}");
                return fail("append file", io_errno(&e), &detail, Stream::Out);
            }
        };
        match client.append_stream(id, &mut src, size, &mut |_| {}).await {
            Ok(()) => 0,
            Err(e) => client_fail("append file", &e, &format!("append to {id}"), Stream::Out),
        }
    };
    block_on(run).unwrap_or_else(|n| n)
}

/// `fdfs_delete_file CONF FILE_ID`.
pub fn delete_file(argv0: &str, args: &[String]) -> i32 {
    if args.len() < 2 {
        return usage(argv0, "CONF FILE_ID");
    }
    let client = match client_from(&args[0]) {
        Ok(c) => c,
        Err(n) => return n,
    };
    let id = &args[1];
    match block_on(client.delete(id)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => client_fail("delete file", &e, &format!("delete {id}"), Stream::Out),
        Err(n) => n,
    }
}

/// `fdfs_download_file CONF FILE_ID [LOCAL_FILE] [OFFSET DOWNLOAD_BYTES]`. Unlike the C tool
/// (which exits 0 whatever happened), a failure exits with its errno, and LOCAL_FILE is
/// replaced only by a complete download.
pub fn download_file(argv0: &str, args: &[String]) -> i32 {
    if args.len() < 2 {
        return usage(argv0, "CONF FILE_ID [LOCAL_FILE] [OFFSET DOWNLOAD_BYTES]");
    }
    let client = match client_from(&args[0]) {
        Ok(c) => c,
        Err(n) => return n,
    };
    let id = args[1].as_str();
    let local = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id).to_owned());
    // strtoll() semantics: junk is 0; both or neither are given.
    let num = |i: usize| {
        args.get(i)
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(0, |v| v.max(0) as u64)
    };
    let range = if args.len() >= 5 {
        (num(3), num(4))
    } else {
        (0, 0)
    };
    let r = block_on(download(&client, id, PathBuf::from(local), range));
    match r {
        Ok(Ok(())) => 0,
        Ok(Err((n, detail))) => fail("download file", n, &detail, Stream::Out),
        Err(n) => n,
    }
}

async fn download(
    client: &FdfsClient,
    id: &str,
    out: PathBuf,
    (offset, len): (u64, u64),
) -> Result<(), (i32, String)> {
    let net = |e: Error| (errno(&e), format!("download {id}: {e}"));
    if out.as_os_str() == "-" {
        let mut o = super::out::QuietStdout::new();
        client
            .download_range_to(id, offset, len, &mut o, &mut |_, _| {})
            .await
            .map_err(net)?;
        return o.flush().await.map_err(|e| (io_errno(&e), e.to_string()));
    }
    let mut tmp_name = out.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".fdfs-part-{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let local = |what: &str, p: &Path, e: std::io::Error| {
        (io_errno(&e), format!("cannot {what} {}: {e}", p.display()))
    };
    let mut f = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| local("create", &tmp, e))?;
    let r = client
        .download_range_to(id, offset, len, &mut f, &mut |_, _| {})
        .await
        .map_err(net);
    let r = match r {
        Ok(_) => f.sync_all().await.map_err(|e| local("write", &tmp, e)),
        Err(e) => Err(e),
    };
    drop(f);
    let r = r.and_then(|()| std::fs::rename(&tmp, &out).map_err(|e| local("rename to", &out, e)));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// CRC-32 of a file (`-` = stdin) as FastDFS computes it for file IDs and `fdfs_file_info`.
pub fn crc32_of(path: &Path) -> std::io::Result<u32> {
    let mut src: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let mut c = fdfs_proto::fileid::Crc32::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match src.read(&mut buf) {
            Ok(0) => return Ok(c.finalize()),
            Ok(n) => c.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `fdfs_crc32 FILE`: prints the CRC-32 in hex without leading zeros, as the C tool does.
pub fn crc32(argv0: &str, args: &[String]) -> i32 {
    let Some(file) = args.first() else {
        return usage(argv0, "FILE");
    };
    match crc32_of(Path::new(file)) {
        Ok(c) => {
            println!("{c:x}");
            0
        }
        Err(e) => {
            let n = io_errno(&e);
            println!(
                "open file {file} fail, errno: {n}, error info: {}",
                strerror(n)
            );
            n
        }
    }
}

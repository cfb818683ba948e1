//! `fdfs`: upload, download, delete, inspect files and monitor a FastDFS cluster.
//! Every failure exits non-zero (unlike the C `fdfs_download_file`). Started by a FastDFS C
//! tool name (a symlink, `fdfs install-links`) it is that tool: see `ctools`.

// First: its `println!` (broken-pipe safe) is used by the modules below.
#[macro_use]
mod ctools;

mod conf;
mod info;
mod monitor;
mod progress;
mod purge;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fdfs_client::{FdfsClient, MetaItem, MetaOp, Metadata};
use tokio::io::AsyncWriteExt;

#[derive(Parser)]
#[command(name = "fdfs", version, about = "FastDFS command-line client")]
struct Cli {
    /// Tracker `host:port` (repeatable). Overrides `tracker_server` lines of the config file
    /// [default: the config file's]
    #[arg(short, long = "tracker", global = true, value_name = "HOST:PORT")]
    trackers: Vec<String>,
    /// FastDFS `client.conf`-style file (`tracker_server = host:port`, `connect_timeout`,
    /// `network_timeout`, `purge_url` for `delete`) [default: /etc/fdfs/client.conf when no
    /// --tracker is given]
    #[arg(short, long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Upload FILE (`-` = stdin); prints the file ID (and nothing else) on stdout.
    Upload {
        /// Local file; `-` = stdin
        file: PathBuf,
        /// Extension in the file ID (at most 6 characters) [default: the local file's; none
        /// for stdin]
        #[arg(long)]
        ext: Option<String>,
        /// Upload an appender file, which `fdfs append` can extend.
        #[arg(long)]
        appender: bool,
        /// Upload into this group (query 104) instead of letting the tracker choose (101)
        /// [default: the tracker's choice]
        #[arg(short, long)]
        group: Option<String>,
        /// Metadata item `name=value` (repeatable), set right after the upload [default: none]
        #[arg(short, long = "meta")]
        meta: Vec<String>,
    },
    /// Download FILE_ID to OUT (default: the file name part of the ID; `-` = stdout).
    Download {
        /// File ID, `group1/M00/00/00/...`
        file_id: String,
        /// Local file to write; `-` = stdout [default: the file name part of the ID]
        out: Option<PathBuf>,
    },
    /// Delete FILE_ID, then purge it from the front caches (docs/front-tier.md).
    Delete {
        /// File ID, `group1/M00/00/00/...`
        file_id: String,
        /// Front cache purge URL prefix, e.g. `http://front1/purge` (repeatable): sends
        /// `PURGE <prefix>/<FILE_ID>` to each after the delete. Overrides the config file's
        /// `purge_url = ...` lines. A failed purge exits non-zero; the file stays deleted
        /// [default: the config file's purge_url lines]
        #[arg(long = "purge", value_name = "URL_PREFIX")]
        purge: Vec<String>,
    },
    /// Decode FILE_ID like `fdfs_file_info`; asks the storage when needed or with --server.
    Info {
        /// File ID, `group1/M00/00/00/...`
        file_id: String,
        /// Always ask the storage (QUERY_FILE_INFO), even for normal files.
        #[arg(short, long)]
        server: bool,
    },
    /// Groups and storages with their status (like `fdfs_monitor`).
    Monitor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<MonitorCmd>,
    },
    /// Append FILE to the appender file FILE_ID (made by `upload --appender`).
    Append {
        /// Appender file ID.
        file_id: String,
        /// Local file whose bytes are appended; `-` = stdin.
        file: PathBuf,
    },
    /// Print the CRC-32 of FILE as FastDFS computes it (file IDs, `info`).
    Crc32 {
        /// Local file; `-` = stdin.
        file: PathBuf,
    },
    /// Link the FastDFS C tool names (fdfs_upload_file, ...) to this program.
    ///
    /// Creates DIR/fdfs_upload_file, fdfs_upload_appender, fdfs_append_file,
    /// fdfs_download_file, fdfs_delete_file, fdfs_file_info, fdfs_monitor and fdfs_crc32:
    /// started by those names, fdfs takes the C tools' arguments and answers with their output
    /// and exit codes (docs/tools.md).
    InstallLinks {
        /// Where the symlinks go (created if missing).
        dir: PathBuf,
        /// Replace files there that are not symlinks (e.g. the C tools themselves).
        #[arg(long)]
        force: bool,
    },
    /// Metadata of a file.
    Meta {
        #[command(subcommand)]
        op: MetaCmd,
    },
    /// Cluster administration; sent to every tracker given (each keeps its own state).
    Admin {
        #[command(subcommand)]
        op: AdminCmd,
    },
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Forget a storage that is OFFLINE for good (refused while it is up).
    DeleteStorage {
        /// Group of the storage
        group: String,
        /// Storage id or IP address as the tracker lists it
        id: String,
    },
    /// Remove a group whose storages are all deleted.
    DeleteGroup {
        /// Group name
        group: String,
    },
}

#[derive(Subcommand)]
enum MonitorCmd {
    /// Same as `admin delete-storage` (FastDFS's `fdfs_monitor conf delete GROUP ID`).
    Delete {
        /// Group of the storage
        group: String,
        /// Storage id or IP address as the tracker lists it
        storage_id: String,
    },
}

#[derive(Subcommand)]
enum MetaCmd {
    /// Print `name=value` lines.
    Get {
        /// File ID, `group1/M00/00/00/...`
        file_id: String,
    },
    /// Set items `name=value`; replaces all metadata unless --merge.
    Set {
        /// File ID, `group1/M00/00/00/...`
        file_id: String,
        /// Items `name=value`
        #[arg(required = true)]
        items: Vec<String>,
        /// Keep the items not named (FastDFS merge); without it, all others are removed
        #[arg(long)]
        merge: bool,
    },
}

fn main() -> ExitCode {
    if let Some(code) = ctools::dispatch() {
        return code;
    }
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fdfs: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fdfs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_meta(items: &[String]) -> Result<Metadata, String> {
    items
        .iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("metadata {kv:?} is not name=value"))?;
            if k.is_empty() || k.len() > 64 || v.len() > 256 {
                return Err(format!(
                    "metadata {kv:?}: name 1..=64 bytes, value <= 256 bytes"
                ));
            }
            Ok(MetaItem::new(k, v))
        })
        .collect::<Result<_, _>>()
        .map(Metadata)
}

/// `e` when it names the file itself (its meaning first), else `WHAT ID: e`.
fn explain(what: &str, id: &str, e: &fdfs_client::Error) -> String {
    match e.file() {
        Some(_) => e.to_string(),
        None => format!("{what} {id}: {e}"),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Some(r) = ctools::cli::local(&cli.cmd) {
        return r;
    }
    let (trackers, opts) = conf::resolve(&cli.trackers, cli.config.as_deref())?;
    let client = FdfsClient::new(trackers, opts).map_err(|e| e.to_string())?;
    let err = |what: &str, id: &str| {
        let (what, id) = (what.to_owned(), id.to_owned());
        move |e: fdfs_client::Error| explain(&what, &id, &e)
    };
    match cli.cmd {
        Cmd::Upload {
            file,
            group,
            meta,
            ext,
            appender,
        } => {
            let (g, e) = (group.as_deref(), ext.as_deref());
            ctools::cli::upload(&client, &file, g, &meta, e, appender).await?
        }
        Cmd::Append { file_id, file } => ctools::cli::append(&client, &file_id, &file).await?,
        // Answered by ctools::cli::local before any tracker is looked for.
        Cmd::Crc32 { .. } | Cmd::InstallLinks { .. } => {}
        Cmd::Download { file_id, out } => download(&client, &file_id, out).await?,
        Cmd::Delete { file_id, purge } => {
            let urls = purge_urls(&purge, conf::path(&cli.trackers, cli.config.as_deref()))?;
            purge::delete(&client, &file_id, &urls).await?
        }
        Cmd::Info { file_id, server } => info::run(&client, &file_id, server).await?,
        Cmd::Monitor {
            action: Some(MonitorCmd::Delete { group, storage_id }),
            ..
        } => {
            let op = AdminCmd::DeleteStorage {
                group,
                id: storage_id,
            };
            admin(&client, op).await?
        }
        Cmd::Monitor { json, .. } => monitor::run(&client, json).await?,
        Cmd::Admin { op } => admin(&client, op).await?,
        Cmd::Meta {
            op: MetaCmd::Get { file_id },
        } => {
            let m = client
                .get_metadata(&file_id)
                .await
                .map_err(err("get metadata of", &file_id))?;
            for i in m.0 {
                println!(
                    "{}={}",
                    String::from_utf8_lossy(&i.name),
                    String::from_utf8_lossy(&i.value)
                );
            }
        }
        Cmd::Meta {
            op:
                MetaCmd::Set {
                    file_id,
                    items,
                    merge,
                },
        } => {
            let op = if merge {
                MetaOp::Merge
            } else {
                MetaOp::Overwrite
            };
            client
                .set_metadata(&file_id, op, parse_meta(&items)?)
                .await
                .map_err(err("set metadata of", &file_id))?;
        }
    }
    Ok(())
}

/// `--purge` flags, else the config file's `purge_url` lines; checked before anything is
/// deleted.
fn purge_urls(flags: &[String], config: Option<&Path>) -> Result<Vec<purge::PurgeUrl>, String> {
    if !flags.is_empty() {
        return flags.iter().map(|u| purge::PurgeUrl::parse(u)).collect();
    }
    let Some(p) = config else {
        return Ok(Vec::new());
    };
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    purge::from_conf(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// Runs an admin command on every tracker; any failure fails the command.
async fn admin(client: &FdfsClient, op: AdminCmd) -> Result<(), String> {
    let mut failed = Vec::new();
    for addr in client.trackers() {
        let t =
            fdfs_client::TrackerClient::connect(addr.as_str(), client.options().connect_timeout)
                .await;
        let r = match (t, &op) {
            (Err(e), _) => Err(e),
            (Ok(mut t), AdminCmd::DeleteStorage { group, id }) => t.delete_storage(group, id).await,
            (Ok(mut t), AdminCmd::DeleteGroup { group }) => t.delete_group(group).await,
        };
        match r {
            Ok(()) => eprintln!("tracker {addr}: done"),
            Err(e) => failed.push(format!("tracker {addr}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// Downloads into a temporary file beside OUT and renames it, so a failed download never
/// leaves a truncated OUT behind.
async fn download(client: &FdfsClient, file_id: &str, out: Option<PathBuf>) -> Result<(), String> {
    let e = |e: fdfs_client::Error| explain("download", file_id, &e);
    fdfs_client::split_file_id(file_id).map_err(e)?;
    let out = out.unwrap_or_else(|| PathBuf::from(file_id.rsplit('/').next().unwrap_or(file_id)));
    if out.as_os_str() == "-" {
        let mut stdout = ctools::out::QuietStdout::new();
        client
            .download_to(file_id, &mut stdout, &mut |_, _| {})
            .await
            .map_err(e)?;
        return stdout.flush().await.map_err(|e| e.to_string());
    }
    let mut tmp_name = out.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".fdfs-part-{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let mut f = tokio::fs::File::create(&tmp)
        .await
        .map_err(|err| format!("cannot create {}: {err}", tmp.display()))?;
    let mut bar: Option<progress::Bar> = None;
    let r = client
        .download_to(file_id, &mut f, &mut |done, total| {
            bar.get_or_insert_with(|| progress::Bar::new("download", total))
                .update(done)
        })
        .await;
    if let Some(b) = bar.as_mut() {
        b.finish();
    }
    let synced = f.sync_all().await;
    drop(f);
    let done = r
        .map_err(e)
        .and_then(|_| synced.map_err(|err| format!("cannot write {}: {err}", tmp.display())));
    match done {
        Ok(()) => tokio::fs::rename(&tmp, &out)
            .await
            .map_err(|err| format!("cannot rename to {}: {err}", out.display())),
        Err(msg) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(msg)
        }
    }
}

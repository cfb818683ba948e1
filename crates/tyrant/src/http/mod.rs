//! HTTP/1.1 door: Tokyo Tyrant's REST surface (GET/HEAD/PUT/DELETE/OPTIONS, X-TT-PDMODE) plus
//! validators, ranges and conditional requests. Heads are parsed by `httparse`, bodies only by
//! Content-Length (no chunked uploads), everything bounded.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::clock::{absolute_exptime, now_secs};
use crate::conn::Conn;

mod key;
use crate::engine::{apply, Engine, ItemMeta, Mutation, Outcome, StoreMode};
use crate::server::{App, VERSION};
use crate::{httpdate, stats};
pub use key::{content_type, key_for, memcached_escape};

const MAX_HEAD: usize = 16 * 1024;
/// A request head must arrive within this time: slow-header clients cannot pin a connection.
const HEAD_DEADLINE: Duration = Duration::from_secs(30);

/// Same on both servers of a pair for the same write (cas values are per server).
fn etag(m: &ItemMeta) -> String {
    format!("\"{:x}-{:x}\"", m.hlc, m.origin)
}

struct Req {
    method: String,
    target: Vec<u8>,
    keep_alive: bool,
    headers: Vec<(String, String)>,
    head_len: usize,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Head {
    Ok(Req),
    Bad(u16, &'static str),
}

fn parse_head(buf: &[u8]) -> Option<Head> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Request::new(&mut hs);
    match r.parse(buf) {
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => Some(Head::Bad(431, "too many headers")),
        Err(_) => Some(Head::Bad(400, "malformed request")),
        Ok(httparse::Status::Complete(n)) => {
            let version = r.version.unwrap_or(1);
            let headers: Vec<(String, String)> = r
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).trim().to_string(),
                    )
                })
                .collect();
            let conn_hdr = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("connection"))
                .map(|(_, v)| v.to_ascii_lowercase());
            let keep_alive = match conn_hdr.as_deref() {
                Some(v) if v.contains("close") => false,
                Some(v) if v.contains("keep-alive") => true,
                _ => version == 1,
            };
            Some(Head::Ok(Req {
                method: r.method.unwrap_or("").to_string(),
                target: r.path.unwrap_or("").as_bytes().to_vec(),
                keep_alive,
                headers,
                head_len: n,
            }))
        }
    }
}

struct Resp {
    /// Body to stream from a segment file (offset, length) instead of `body`.
    file: Option<(std::sync::Arc<std::fs::File>, u64)>,
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Content-Length to announce for HEAD (the body is not sent).
    length: Option<usize>,
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

fn text(status: u16, body: &str) -> Resp {
    Resp {
        file: None,
        status,
        headers: vec![("Content-Type", "text/plain".into())],
        body: body.as_bytes().to_vec(),
        length: None,
    }
}

async fn send(conn: &mut Conn, r: Resp, head_only: bool, keep_alive: bool) -> bool {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status)).as_bytes());
    out.extend_from_slice(
        format!(
            "Server: tyrantd/{VERSION}\r\nDate: {}\r\n",
            httpdate::format(now_secs() as u64)
        )
        .as_bytes(),
    );
    for (k, v) in &r.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    let len = r.length.unwrap_or(r.body.len());
    if r.status != 304 {
        out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
    }
    out.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    if let (Some((file, off)), false) = (&r.file, head_only) {
        return crate::valueio::send_with_file(&mut conn.stream, &out, file, *off, len as u64)
            .await
            .is_ok();
    }
    let body: &[u8] = if head_only || r.status == 304 {
        &[]
    } else {
        &r.body
    };
    if body.len() < 64 * 1024 {
        out.extend_from_slice(body);
        conn.stream.write_all(&out).await.is_ok()
    } else {
        conn.stream.write_all(&out).await.is_ok() && conn.stream.write_all(body).await.is_ok()
    }
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range; anything else is served in full).
fn parse_range(v: &str, len: usize) -> Option<Result<(usize, usize), ()>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: usize = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let s: usize = a.parse().ok()?;
        let e: usize = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse().ok()?
        };
        if s >= len || e < s {
            return Some(Err(()));
        }
        (s, e.min(len - 1))
    };
    Some(Ok(r))
}

fn not_modified(req: &Req, m: &ItemMeta) -> bool {
    if let Some(inm) = req.header("If-None-Match") {
        let tag = etag(m);
        return inm
            .split(',')
            .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == tag);
    }
    if let Some(ims) = req.header("If-Modified-Since").and_then(httpdate::parse) {
        return m.hlc / 1_000_000 <= ims;
    }
    false
}

/// Values from this size on (and every HEAD) are described from the index and streamed with
/// straight from the segment file; smaller ones are read and crc-checked.
const SENDFILE_AT: u32 = 32 * 1024;

async fn get(app: &App, req: &Req, key: &[u8]) -> Resp {
    stats::inc(&app.stats.cmd_get);
    let Some((m, file, voff)) = app.engine.locate(key) else {
        stats::inc(&app.stats.get_misses);
        return text(404, "Not Found\n");
    };
    let small = m.vlen < SENDFILE_AT && req.method != "HEAD";
    let item = if small {
        match app.engine.get(key) {
            Ok(Some(i)) => Some(i),
            Ok(None) => {
                stats::inc(&app.stats.get_misses);
                return text(404, "Not Found\n");
            }
            Err(e) => {
                tracing::error!("read failed: {e}");
                return text(500, "Internal Server Error\n");
            }
        }
    } else {
        None
    };
    stats::inc(&app.stats.get_hits);
    let m = item.as_ref().map_or(m, |i| i.meta);
    let mut headers = vec![
        ("Content-Type", content_type(key).to_string()),
        ("ETag", etag(&m)),
        ("Last-Modified", httpdate::format(m.hlc / 1_000_000)),
        ("Accept-Ranges", "bytes".to_string()),
        ("X-Kv-Flags", m.flags.to_string()),
    ];
    if not_modified(req, &m) {
        return Resp {
            file: None,
            status: 304,
            headers,
            body: Vec::new(),
            length: None,
        };
    }
    let total = m.vlen as usize;
    let part = |s: usize, e: usize| match &item {
        Some(i) => (None, i.value()[s..=e].to_vec(), None),
        None => (
            Some((file.clone(), voff + s as u64)),
            Vec::new(),
            Some(e + 1 - s),
        ),
    };
    match req.header("Range").and_then(|r| parse_range(r, total)) {
        Some(Ok((s, e))) => {
            headers.push(("Content-Range", format!("bytes {s}-{e}/{total}")));
            let (file, body, length) = part(s, e);
            Resp {
                file,
                status: 206,
                headers,
                body,
                length,
            }
        }
        Some(Err(())) => Resp {
            file: None,
            status: 416,
            headers: vec![("Content-Range", format!("bytes */{total}"))],
            body: Vec::new(),
            length: None,
        },
        None if total == 0 => Resp {
            file: None,
            status: 200,
            headers,
            body: Vec::new(),
            length: None,
        },
        None => {
            let (file, body, length) = part(0, total - 1);
            Resp {
                file,
                status: 200,
                headers,
                body,
                length,
            }
        }
    }
}

fn write_failed(e: &crate::engine::EngineError) -> Resp {
    tracing::error!("write failed: {e}");
    if e.is_no_space() {
        text(507, "Insufficient Storage\n")
    } else {
        text(500, "Internal Server Error\n")
    }
}

async fn put(app: &App, req: &Req, key: Vec<u8>, body: Vec<u8>) -> Resp {
    stats::inc(&app.stats.cmd_set);
    let flags = match req.header("X-Kv-Flags").map(str::parse::<u32>) {
        None => 0,
        Some(Ok(f)) => f,
        Some(Err(_)) => return text(400, "Bad X-Kv-Flags\n"),
    };
    let exptime = match req.header("X-Kv-Exptime").map(str::parse::<i64>) {
        None => 0,
        Some(Ok(e)) => absolute_exptime(e, now_secs()),
        Some(Err(_)) => return text(400, "Bad X-Kv-Exptime\n"),
    };
    let mut mode = match req.header("X-TT-PDMODE") {
        None | Some("0") => StoreMode::Set,
        Some("1") => StoreMode::Add,
        Some("2") => StoreMode::Append,
        Some(_) => return text(400, "Bad X-TT-PDMODE\n"),
    };
    if let Some(want) = req.header("If-Match") {
        match app.engine.meta(&key) {
            Some(m) if want.trim() == "*" || want.split(',').any(|t| t.trim() == etag(&m)) => {
                mode = StoreMode::Cas(m.cas)
            }
            _ => return text(412, "Precondition Failed\n"),
        }
    }
    let append = mode == StoreMode::Append;
    let m = Mutation::Store {
        mode,
        key: key.clone(),
        value: body.clone(),
        flags,
        exptime,
    };
    let mut res = apply(&*app.engine, m).await;
    if append && matches!(res, Ok(Outcome::NotStored)) {
        // Tokyo Tyrant's putcat creates a missing record.
        res = apply(
            &*app.engine,
            Mutation::Store {
                mode: StoreMode::Add,
                key,
                value: body,
                flags,
                exptime,
            },
        )
        .await;
    }
    match res {
        Ok(Outcome::Stored { .. }) => text(201, "Created\n"),
        Ok(Outcome::NotStored) if !append => text(409, "Conflict\n"),
        Ok(Outcome::Exists | Outcome::NotFound) => text(412, "Precondition Failed\n"),
        Ok(_) => text(409, "Conflict\n"),
        Err(e) => write_failed(&e),
    }
}

fn options(app: &App) -> Resp {
    let s = app.engine.stats();
    let master = app.cfg.master.clone().unwrap_or_default();
    let (mhost, mport) = master
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap_or_default();
    let delay = crate::repl::delay_secs(app);
    Resp {
        file: None,
        status: 200,
        headers: vec![
            ("Allow", "OPTIONS, GET, HEAD, PUT, DELETE".into()),
            ("X-TT-VERSION", VERSION.into()),
            ("X-TT-PID", std::process::id().to_string()),
            ("X-TT-SID", app.cfg.server_id.to_string()),
            ("X-TT-TYPE", "tyrantd-log".into()),
            ("X-TT-RNUM", s.curr_items.to_string()),
            ("X-TT-SIZE", s.disk_bytes.to_string()),
            ("X-TT-MHOST", mhost),
            ("X-TT-MPORT", mport),
            ("X-TT-RTS", s.master_pos.to_string()),
            ("X-TT-DELAY", format!("{delay:.6}")),
        ],
        body: Vec::new(),
        length: None,
    }
}

pub async fn serve(app: &App, mut conn: Conn, may_write: bool) {
    let mut draining = app.draining.clone();
    loop {
        let started = tokio::time::Instant::now();
        let head = loop {
            let buf = conn.buffered();
            if !buf.is_empty() {
                if let Some(h) = parse_head(buf) {
                    break h;
                }
                if buf.len() > MAX_HEAD {
                    break Head::Bad(431, "request head too large");
                }
            }
            let limit = app
                .cfg
                .idle_timeout
                .map_or(HEAD_DEADLINE, |d| d.min(HEAD_DEADLINE));
            let deadline = if buf.is_empty() {
                None
            } else {
                Some(started + limit)
            };
            let r = match deadline {
                Some(d) => match tokio::time::timeout_at(d, conn.fill(4096)).await {
                    Ok(r) => r,
                    Err(_) => return,
                },
                None => tokio::select! {
                    r = conn.fill(4096) => r,
                    _ = draining.changed() => return,
                },
            };
            if r.is_err() {
                return;
            }
        };
        let req = match head {
            Head::Ok(r) => r,
            Head::Bad(status, why) => {
                send(&mut conn, text(status, &format!("{why}\n")), false, false).await;
                return;
            }
        };
        stats::inc(&app.stats.http_requests);
        conn.consume(req.head_len);
        let mut keep = req.keep_alive && !*app.draining.borrow();
        let head_only = req.method == "HEAD";
        let resp = route(app, &mut conn, &req, may_write, &mut keep).await;
        if !send(&mut conn, resp, head_only, keep).await || !keep {
            return;
        }
    }
}

async fn route(app: &App, conn: &mut Conn, req: &Req, may_write: bool, keep: &mut bool) -> Resp {
    let method = req.method.as_str();
    if method == "OPTIONS" {
        return options(app);
    }
    let known = matches!(method, "GET" | "HEAD" | "PUT" | "DELETE" | "POST");
    if !known {
        *keep = false;
        return text(405, "Method Not Allowed\n");
    }
    let key = match key_for(&req.target, app.cfg.http_key_mode) {
        Ok(k) if k.is_empty() => return text(400, "Empty key\n"),
        Ok(k) if k.len() > app.cfg.max_key_len => return text(414, "Key too long\n"),
        Ok(k) => k,
        Err(why) => return text(400, &format!("{why}\n")),
    };
    let writes = matches!(method, "PUT" | "DELETE" | "POST");
    if writes && (!may_write || app.cfg.read_only) {
        // The body, if any, is not read: close so it cannot be taken for a request.
        *keep = false;
        return text(403, "Forbidden\n");
    }
    match method {
        "GET" | "HEAD" => get(app, req, &key).await,
        "DELETE" => match apply(&*app.engine, Mutation::Delete { key, cas: None }).await {
            Ok(Outcome::Deleted) => {
                stats::inc(&app.stats.delete_hits);
                text(200, "OK\n")
            }
            Ok(_) => {
                stats::inc(&app.stats.delete_misses);
                text(404, "Not Found\n")
            }
            Err(e) => write_failed(&e),
        },
        "POST" => {
            *keep = false;
            if req.header("X-TT-XNAME").is_some() || req.header("X-TT-MNAME").is_some() {
                text(501, "Not Implemented\n")
            } else {
                text(400, "Bad Request\n")
            }
        }
        _ => {
            if req.header("Transfer-Encoding").is_some() {
                *keep = false;
                return text(411, "Length Required\n");
            }
            let Some(len) = req.header("Content-Length") else {
                *keep = false;
                return text(411, "Length Required\n");
            };
            let Ok(len) = len.parse::<usize>() else {
                *keep = false;
                return text(400, "Bad Content-Length\n");
            };
            if len > app.cfg.max_item_size {
                *keep = false;
                return text(413, "Payload Too Large\n");
            }
            if req
                .header("Expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
                && conn
                    .stream
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .is_err()
            {
                *keep = false;
                return text(400, "Bad Request\n");
            }
            if conn.fill_to(len).await.is_err() {
                *keep = false;
                return text(400, "Incomplete body\n");
            }
            let body = conn.buffered()[..len].to_vec();
            conn.consume(len);
            put(app, req, key, body).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-3", 19), Some(Ok((0, 3))));
        assert_eq!(parse_range("bytes=5-", 19), Some(Ok((5, 18))));
        assert_eq!(parse_range("bytes=-4", 19), Some(Ok((15, 18))));
        assert_eq!(parse_range("bytes=0-100", 19), Some(Ok((0, 18))));
        assert_eq!(parse_range("bytes=30-40", 19), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 19), None);
        assert_eq!(parse_range("items=1-2", 19), None);
    }
}

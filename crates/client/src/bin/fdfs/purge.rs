//! Removing a deleted file from the front caches (nginx `proxy_cache` + the cache-purge module,
//! see docs/front-tier.md): one `PURGE <prefix>/<file ID>` HTTP/1.1 request per front.
//!
//! A plain request over a tokio TCP stream is all this needs (one request, read the status
//! line, close), so no HTTP client dependency.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A purge target: `http://host[:port][/path]`, the file ID is appended to the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeUrl {
    /// What the user wrote, for messages.
    pub text: String,
    host: String,
    port: u16,
    path: String,
}

impl fmt::Display for PurgeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PurgeUrl {
    pub fn parse(text: &str) -> Result<PurgeUrl, String> {
        let bad = |why: &str| format!("purge URL {text:?}: {why}");
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http://host[:port]/path is supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(bad("user information is not supported"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            // [v6]:port
            Some(v6) => {
                let (h, tail) = v6
                    .split_once(']')
                    .ok_or_else(|| bad("unclosed [ in the host"))?;
                (format!("[{h}]"), tail)
            }
            None => match authority.rfind(':') {
                Some(i) => (authority[..i].to_owned(), &authority[i..]),
                None => (authority.to_owned(), ""),
            },
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("no host"));
        }
        let port = match port {
            "" => 80,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse::<u16>().ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        };
        if path.contains(['?', '#']) || path.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(bad("the path must be plain (no query, fragment, spaces)"));
        }
        Ok(PurgeUrl {
            text: text.to_owned(),
            host,
            port,
            path: path.trim_end_matches('/').to_owned(),
        })
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The request target for FILE_ID: the prefix path, `/`, the ID (percent-encoded where
    /// it is not a plain URL character; real IDs never are).
    pub fn target(&self, file_id: &str) -> String {
        let mut t = self.path.clone();
        t.push('/');
        for b in file_id.trim_start_matches('/').bytes() {
            if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
                t.push(b as char);
            } else {
                t.push_str(&format!("%{b:02X}"));
            }
        }
        t
    }
}

/// `purge_url = http://...` lines of a client.conf-style file (repeatable), in order.
pub fn from_conf(text: &str) -> Result<Vec<PurgeUrl>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() == "purge_url" {
            out.push(PurgeUrl::parse(v.trim()).map_err(|e| format!("line {}: {e}", n + 1))?);
        }
    }
    Ok(out)
}

/// How one front answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200: the cached copy is gone.
    Purged,
    /// 404: that front had no copy.
    NotCached,
    /// Any other status: the copy may still be served.
    Status(u16, String),
    /// No answer at all.
    Failed(String),
}

impl Outcome {
    pub fn ok(&self) -> bool {
        matches!(self, Outcome::Purged | Outcome::NotCached)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Purged => f.write_str("200 purged"),
            Outcome::NotCached => f.write_str("404 not cached there"),
            Outcome::Status(403, line) => write!(
                f,
                "403: purge refused, this host is not in the front's allow list; the front may \
                 still serve the file ({line})"
            ),
            Outcome::Status(code, line) => write!(
                f,
                "{code}: purge failed, the front may still serve the file ({line})"
            ),
            Outcome::Failed(why) => {
                write!(f, "purge failed, the front may still serve the file: {why}")
            }
        }
    }
}

/// Sends one purge; never fails, the outcome says what happened.
pub async fn purge(
    url: &PurgeUrl,
    file_id: &str,
    connect_timeout: Duration,
    network_timeout: Duration,
) -> Outcome {
    let addr = url.addr();
    let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(&addr)).await {
        Err(_) => return Outcome::Failed(format!("connect to {addr} timed out")),
        Ok(Err(e)) => return Outcome::Failed(format!("cannot connect to {addr}: {e}")),
        Ok(Ok(s)) => s,
    };
    let host = if url.port == 80 {
        url.host.clone()
    } else {
        url.addr()
    };
    let req = format!(
        "PURGE {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: fdfs/{}\r\nConnection: close\r\n\r\n",
        url.target(file_id),
        env!("CARGO_PKG_VERSION")
    );
    match tokio::time::timeout(network_timeout, exchange(stream, req.as_bytes())).await {
        Err(_) => Outcome::Failed(format!("{addr} did not answer within {network_timeout:?}")),
        Ok(Err(e)) => Outcome::Failed(format!("{addr}: {e}")),
        Ok(Ok(line)) => classify(&line),
    }
}

/// Writes the request and returns the response's status line.
async fn exchange(mut s: TcpStream, req: &[u8]) -> Result<String, String> {
    s.write_all(req)
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    // Only the status line matters; 8 KiB is far more than any status line.
    while !buf.contains(&b'\n') {
        if buf.len() > 8192 {
            return Err("no HTTP status line in the first 8 KiB of the answer".into());
        }
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if n == 0 {
            return Err(if buf.is_empty() {
                "closed the connection without answering".into()
            } else {
                format!(
                    "closed the connection after {:?}",
                    String::from_utf8_lossy(&buf)
                )
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..end]).trim_end().to_owned())
}

fn classify(status_line: &str) -> Outcome {
    let mut parts = status_line.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match (proto.starts_with("HTTP/1."), code.parse::<u16>()) {
        (true, Ok(200)) => Outcome::Purged,
        (true, Ok(404)) => Outcome::NotCached,
        (true, Ok(c)) => Outcome::Status(c, status_line.to_owned()),
        _ => Outcome::Failed(format!("not an HTTP/1.x answer: {status_line:?}")),
    }
}

/// Deletes FILE_ID, then purges it from every front in URLS (all of them, whatever each
/// answers). A failed purge makes the command fail but never undoes the delete. A file the
/// storage no longer has is still purged: that is how a purge that failed is retried.
pub async fn delete(
    client: &fdfs_client::FdfsClient,
    file_id: &str,
    urls: &[PurgeUrl],
) -> Result<(), String> {
    let deleted = client.delete(file_id).await;
    let gone = match &deleted {
        Ok(()) => true,
        // ENOENT: deleted before (maybe by the run whose purge failed).
        Err(e) => e.status() == Some(2),
    };
    // An error naming the file says it first; others get the command and ID in front.
    let deleted = deleted.map_err(|e| match e.file() {
        Some(_) => e.to_string(),
        None => format!("delete {file_id}: {e}"),
    });
    if !gone || urls.is_empty() {
        return deleted;
    }
    if let Err(e) = &deleted {
        eprintln!("fdfs: {e}; purging the front caches anyway");
    }
    let opts = client.options();
    let mut failed = Vec::new();
    for url in urls {
        let outcome = purge(url, file_id, opts.connect_timeout, opts.network_timeout).await;
        println!("purge {file_id} at {url}: {outcome}");
        if !outcome.ok() {
            failed.push(format!("{url}: {outcome}"));
        }
    }
    if failed.is_empty() {
        return deleted;
    }
    let not_purged = format!(
        "{} of {} front caches were not purged: {}",
        failed.len(),
        urls.len(),
        failed.join("; ")
    );
    Err(match deleted {
        Ok(()) => format!("{file_id} is deleted, but {not_purged}"),
        Err(e) => format!("{e}; and {not_purged}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = PurgeUrl::parse("http://front1/purge/").unwrap();
        assert_eq!(
            (u.addr().as_str(), u.path.as_str()),
            ("front1:80", "/purge")
        );
        assert_eq!(
            u.target("group1/M00/00/00/a b.jpg"),
            "/purge/group1/M00/00/00/a%20b.jpg"
        );
        let u = PurgeUrl::parse("http://10.0.0.1:8080").unwrap();
        assert_eq!(u.addr(), "10.0.0.1:8080");
        assert_eq!(u.target("group1/M00/x"), "/group1/M00/x");
        assert_eq!(
            PurgeUrl::parse("http://[::1]:81/p").unwrap().addr(),
            "[::1]:81"
        );
        for bad in [
            "https://front1/purge",
            "front1/purge",
            "http://",
            "http://:80/p",
            "http://h:0/p",
            "http://h:x/p",
            "http://h/p?x=1",
            "http://u@h/p",
            "http://[::1/p",
        ] {
            let e = PurgeUrl::parse(bad).unwrap_err();
            assert!(e.starts_with(&format!("purge URL {bad:?}: ")), "{e}");
        }
    }

    #[test]
    fn conf_lines() {
        let v = from_conf(
            "tracker_server = h:1\npurge_url = http://f1/purge\n# purge_url = http://x\n purge_url=http://f2:81/purge\n",
        )
        .unwrap();
        let t: Vec<_> = v.iter().map(|u| u.text.as_str()).collect();
        assert_eq!(t, ["http://f1/purge", "http://f2:81/purge"]);
        let e = from_conf("\npurge_url = ftp://f1\n").unwrap_err();
        assert!(e.starts_with("line 2: purge URL \"ftp://f1\""), "{e}");
    }

    #[test]
    fn status_lines() {
        assert_eq!(classify("HTTP/1.1 200 OK"), Outcome::Purged);
        assert_eq!(classify("HTTP/1.0 404 Not Found"), Outcome::NotCached);
        assert!(matches!(
            classify("HTTP/1.1 403 Forbidden"),
            Outcome::Status(403, _)
        ));
        assert!(matches!(classify("SSH-2.0-OpenSSH"), Outcome::Failed(_)));
        assert!(!Outcome::Status(500, String::new()).ok());
    }
}

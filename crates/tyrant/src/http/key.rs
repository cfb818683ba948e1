//! HTTP path → key rules.

use crate::config::KeyMode;

fn unhex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(s: &[u8], plus_is_space: bool) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = s.get(i + 1).copied().and_then(unhex);
                let lo = s.get(i + 2).copied().and_then(unhex);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err("bad percent escape"),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// nginx's `$uri` normalisation: merge slashes, resolve `.` and `..` (never above the root).
fn normalize(path: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut segs: Vec<&[u8]> = Vec::new();
    for s in path.split(|&b| b == b'/').skip(1) {
        match s {
            b"" | b"." => {}
            b".." => {
                if segs.pop().is_none() {
                    return Err("path escapes the root");
                }
            }
            s => segs.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for s in &segs {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    let trailing = path.ends_with(b"/") || path.ends_with(b"/.") || path.ends_with(b"/..");
    if out.is_empty() || trailing {
        out.push(b'/');
    }
    Ok(out)
}

/// The escape nginx applies to `$memcached_key`: space, `%` and control bytes become `%XX`.
pub fn memcached_escape(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len());
    for &b in key {
        if b <= b' ' || b == b'%' {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// Maps a request target to a key. In `nginx` mode a value PUT at `/a b.jpg` (sent as
/// `/a%20b.jpg`) is stored under the exact key `memcached_pass` asks for with `$memcached_key $uri`.
pub fn key_for(target: &[u8], mode: KeyMode) -> Result<Vec<u8>, &'static str> {
    let mut t = target;
    for scheme in [&b"http://"[..], b"https://"] {
        if t.len() >= scheme.len() && t[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let rest = &t[scheme.len()..];
            t = rest
                .iter()
                .position(|&b| b == b'/')
                .map(|p| &rest[p..])
                .unwrap_or(b"/");
        }
    }
    if !t.starts_with(b"/") {
        return Err("request target must start with /");
    }
    match mode {
        KeyMode::Nginx => {
            let path = t.split(|&b| b == b'?').next().unwrap_or(t);
            let decoded = percent_decode(path, false)?;
            Ok(memcached_escape(&normalize(&decoded)?))
        }
        KeyMode::Tt => percent_decode(&t[1..], true),
    }
}

pub fn content_type(key: &[u8]) -> &'static str {
    let name = key.rsplit(|&b| b == b'/').next().unwrap_or(key);
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(p) => name[p + 1..].to_ascii_lowercase(),
        None => return "application/octet-stream",
    };
    match &ext[..] {
        b"jpg" | b"jpeg" => "image/jpeg",
        b"png" => "image/png",
        b"gif" => "image/gif",
        b"webp" => "image/webp",
        b"avif" => "image/avif",
        b"svg" => "image/svg+xml",
        b"ico" => "image/x-icon",
        b"txt" => "text/plain",
        b"html" | b"htm" => "text/html",
        b"css" => "text/css",
        b"js" => "application/javascript",
        b"json" => "application/json",
        b"pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_key_rule_matches_memcached_pass() {
        let k = |t: &str| key_for(t.as_bytes(), KeyMode::Nginx).unwrap();
        assert_eq!(k("/hit.jpg"), b"/hit.jpg");
        assert_eq!(k("/a%20b.txt"), b"/a%20b.txt");
        assert_eq!(k("/p%25q"), b"/p%25q");
        assert_eq!(k("/x%0Ay"), b"/x%0Ay");
        assert_eq!(k("/%C3%A9t%C3%A9"), "/été".as_bytes());
        assert_eq!(k("/a//b/./c/../d.jpg?x=1"), b"/a/b/d.jpg");
        assert_eq!(k("http://example.com/i.png"), b"/i.png");
        assert!(key_for(b"/../etc/passwd", KeyMode::Nginx).is_err());
        assert!(key_for(b"/bad%zz", KeyMode::Nginx).is_err());
        assert!(key_for(b"noslash", KeyMode::Nginx).is_err());
    }

    #[test]
    fn tt_key_rule() {
        assert_eq!(key_for(b"/a/b.jpg", KeyMode::Tt).unwrap(), b"a/b.jpg");
        assert_eq!(key_for(b"/a+b%21?q=1", KeyMode::Tt).unwrap(), b"a b!?q=1");
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type(b"/a/b.JPG"), "image/jpeg");
        assert_eq!(content_type(b"/a.b/noext"), "application/octet-stream");
    }
}

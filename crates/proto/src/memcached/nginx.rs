//! What an nginx reader of a memcached-protocol store needs besides the
//! wire format: the key escaping of stock `memcached_pass`, the key check
//! made before any server is contacted, validators derived from stored
//! values, and nginx's "will this be a 304?" decision, so that HEAD and
//! conditional GET can be answered from metadata without moving the value.

use super::request::{nginx_escape_key, KeyError};

/// Escapes a key derived from a URL exactly as stock nginx `memcached_pass`
/// does ([`nginx_escape_key`]) into `out`, after the check made before any
/// server is contacted: not empty, no control byte (0x00–0x1F, DEL) in the
/// unescaped key, and at most `max_len` bytes once escaped. On error `out`
/// is left as it was.
///
/// Stock nginx escapes control bytes and sends any length, so memcached
/// answers `CLIENT_ERROR` for long keys (a 502); refusing such keys up
/// front turns them into a 400 that never reaches a server.
pub fn escape_url_key(key: &[u8], max_len: usize, out: &mut Vec<u8>) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if let Some(offset) = key.iter().position(|&b| b < 0x20 || b == 0x7f) {
        return Err(KeyError::BadByte {
            byte: key[offset],
            offset,
        });
    }
    let start = out.len();
    nginx_escape_key(key, out);
    let len = out.len() - start;
    if len > max_len {
        out.truncate(start);
        return Err(KeyError::TooLong { len, max: max_len });
    }
    Ok(())
}

/// Strong entity tag of a stored value: its size and cas unique in hex,
/// quoted (`"2800-1f"`), in the spirit of nginx's `"<mtime>-<size>"` for
/// files. The cas changes on every modification of the item.
pub fn value_etag(size: u64, cas: u64) -> String {
    format!("\"{size:x}-{cas:x}\"")
}

/// nginx's `if_modified_since` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfModifiedSince {
    /// Never answer 304 for `If-Modified-Since`.
    Off,
    /// Only when the date equals `Last-Modified` (nginx's default).
    Exact,
    /// When the date is not older than `Last-Modified`.
    Before,
}

/// Whether the not-modified filter of nginx would turn a 200 carrying
/// `etag`/`last_modified` into a 304 for a request with these headers.
/// `if_modified_since` is the header parsed by `ngx_parse_http_time`
/// (`-1` when unparseable), `None` when absent. Requests carrying
/// `If-Match`/`If-Unmodified-Since` are outside this function: nginx may
/// answer them with 412 or 200, so they need the value.
pub fn is_not_modified(
    if_none_match: Option<&[u8]>,
    if_modified_since: Option<i64>,
    mode: IfModifiedSince,
    etag: Option<&[u8]>,
    last_modified: Option<i64>,
) -> bool {
    if if_none_match.is_none() && if_modified_since.is_none() {
        return false;
    }
    if let Some(ims) = if_modified_since {
        if modified_since(ims, mode, last_modified) {
            return false;
        }
    }
    match if_none_match {
        Some(header) => etag_list_matches(header, etag),
        None => true,
    }
}

/// `ngx_http_test_if_modified`.
fn modified_since(ims: i64, mode: IfModifiedSince, last_modified: Option<i64>) -> bool {
    let Some(lm) = last_modified else {
        return true;
    };
    match mode {
        IfModifiedSince::Off => true,
        _ if ims == lm => false,
        IfModifiedSince::Exact => true,
        IfModifiedSince::Before => ims < lm,
    }
}

/// `ngx_http_test_if_match` with weak comparison (`If-None-Match`): `*`,
/// or a comma-separated list in which one entry, `W/` stripped, equals the
/// tag.
pub fn etag_list_matches(header: &[u8], etag: Option<&[u8]>) -> bool {
    let Some(mut etag) = etag else {
        return false;
    };
    if header == b"*" {
        return true;
    }
    if let Some(strong) = etag.strip_prefix(b"W/") {
        etag = strong;
    }
    let mut rest = header;
    while !rest.is_empty() {
        if rest.len() > 2 && rest.starts_with(b"W/") {
            rest = &rest[2..];
        }
        if etag.len() > rest.len() {
            return false;
        }
        if rest.starts_with(etag) {
            let after = &rest[etag.len()..];
            let after = trim_start(after, b" \t");
            if after.is_empty() || after[0] == b',' {
                return true;
            }
        }
        let next = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        rest = trim_start(&rest[next..], b" ,\t");
    }
    false
}

fn trim_start<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let skip = s.iter().take_while(|b| set.contains(b)).count();
    &s[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &[u8], max: usize) -> Result<Vec<u8>, KeyError> {
        let mut out = b"prefix ".to_vec();
        escape_url_key(k, max, &mut out).map(|()| out[7..].to_vec())
    }

    #[test]
    fn url_key_escaped_like_stock_nginx() {
        assert_eq!(key(b"/a b", 250), Ok(b"/a%20b".to_vec()));
        assert_eq!(key(b"/p%q", 250), Ok(b"/p%25q".to_vec()));
        assert_eq!(key("/été".as_bytes(), 250), Ok("/été".as_bytes().to_vec()));
    }

    #[test]
    fn url_key_check() {
        assert_eq!(key(b"", 250), Err(KeyError::Empty));
        assert_eq!(
            key(b"/x\ny", 250),
            Err(KeyError::BadByte {
                byte: b'\n',
                offset: 2
            })
        );
        assert!(matches!(
            key(b"/\x7f", 250),
            Err(KeyError::BadByte { byte: 0x7f, .. })
        ));
        assert_eq!(key(&[b'k'; 250], 250), Ok(vec![b'k'; 250]));
        let mut k = vec![b'k'; 248];
        k.push(b' ');
        assert_eq!(key(&k, 250), Err(KeyError::TooLong { len: 251, max: 250 }));
        let mut out = b"keep".to_vec();
        assert!(escape_url_key(&k, 250, &mut out).is_err());
        assert_eq!(out, b"keep");
    }

    #[test]
    fn etag_shape() {
        assert_eq!(value_etag(10240, 31), "\"2800-1f\"");
    }

    #[test]
    fn if_none_match_like_nginx() {
        let tag = Some(&b"\"a-1\""[..]);
        assert!(etag_list_matches(b"\"a-1\"", tag));
        assert!(etag_list_matches(b"W/\"a-1\"", tag));
        assert!(etag_list_matches(b"\"x\", \"a-1\"", tag));
        assert!(etag_list_matches(b"\"x\",W/\"a-1\" ", tag));
        assert!(etag_list_matches(b"*", tag));
        assert!(!etag_list_matches(b"*", None));
        assert!(!etag_list_matches(b"\"a-12\"", tag));
        assert!(!etag_list_matches(b"\"a-\"", tag));
        assert!(!etag_list_matches(b"", tag));
    }

    #[test]
    fn not_modified_decision() {
        use IfModifiedSince::*;
        let tag = Some(&b"\"a\""[..]);
        assert!(!is_not_modified(None, None, Exact, tag, Some(5)));
        assert!(is_not_modified(Some(b"\"a\""), None, Exact, tag, None));
        assert!(!is_not_modified(Some(b"\"b\""), None, Exact, tag, None));
        assert!(is_not_modified(None, Some(5), Exact, None, Some(5)));
        assert!(!is_not_modified(None, Some(6), Exact, None, Some(5)));
        assert!(is_not_modified(None, Some(6), Before, None, Some(5)));
        assert!(!is_not_modified(None, Some(4), Before, None, Some(5)));
        assert!(!is_not_modified(None, Some(5), Off, None, Some(5)));
        assert!(!is_not_modified(None, Some(-1), Exact, None, Some(5)));
        assert!(!is_not_modified(None, Some(5), Exact, tag, None));
        // Both headers: both must agree, as in nginx.
        assert!(is_not_modified(
            Some(b"\"a\""),
            Some(5),
            Exact,
            tag,
            Some(5)
        ));
        assert!(!is_not_modified(
            Some(b"\"a\""),
            Some(4),
            Exact,
            tag,
            Some(5)
        ));
        assert!(!is_not_modified(
            Some(b"\"b\""),
            Some(5),
            Exact,
            tag,
            Some(5)
        ));
    }
}

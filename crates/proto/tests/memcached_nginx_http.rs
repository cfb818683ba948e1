//! `memcached::nginx` (what the nginx module's `memc_store` adds around the codec): the key check
//! against the limits seen in the golden transcripts, and properties of the URL key check, the
//! value ETag and nginx's 304 decision. Escaping itself is pinned in `memcached_nginx.rs`.

use fdfs_proto::memcached::nginx::{
    escape_url_key, etag_list_matches, is_not_modified, value_etag, IfModifiedSince,
};
use fdfs_proto::memcached::{nginx_escape_key, KeyError};
use proptest::prelude::*;

fn escaped(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    nginx_escape_key(key, &mut out);
    out
}

fn check_url_key(key: &[u8], max: usize) -> Result<usize, KeyError> {
    let mut out = Vec::new();
    escape_url_key(key, max, &mut out).map(|()| out.len())
}

#[test]
fn stock_limits_of_the_transcripts() {
    // 250-byte key: memcached answered; 251 and 300: CLIENT_ERROR (502). We refuse them first.
    assert_eq!(check_url_key(&[b'k'; 250], 250), Ok(250));
    assert_eq!(
        check_url_key(&[b'k'; 251], 250),
        Err(KeyError::TooLong { len: 251, max: 250 })
    );
}

fn unescape(e: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < e.len() {
        if e[i] == b'%' {
            let hex = std::str::from_utf8(&e[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(e[i]);
            i += 1;
        }
    }
    out
}

proptest! {
    #[test]
    fn escape_is_reversible_and_wire_safe(key in proptest::collection::vec(any::<u8>(), 0..300)) {
        let e = escaped(&key);
        prop_assert_eq!(unescape(&e), key.clone());
        prop_assert!(e.iter().all(|&b| b > b' '));
        for (i, _) in e.iter().enumerate().filter(|(_, &b)| b == b'%') {
            prop_assert!(e[i + 1..i + 3].iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)));
        }
        if key.iter().all(|&b| b > b' ' && b != b'%') {
            prop_assert_eq!(&e, &key);
        }
    }

    #[test]
    fn key_check_agrees_with_escaping(key in proptest::collection::vec(any::<u8>(), 0..300), max in 1usize..400) {
        match check_url_key(&key, max) {
            Ok(len) => {
                prop_assert_eq!(len, escaped(&key).len());
                prop_assert!(len <= max);
                prop_assert!(!key.iter().any(|&b| b < 0x20 || b == 0x7f));
            }
            Err(KeyError::Empty) => prop_assert!(key.is_empty()),
            Err(KeyError::BadByte { byte, offset }) => {
                prop_assert_eq!(key[offset], byte);
                prop_assert!(byte < 0x20 || byte == 0x7f);
            }
            Err(KeyError::TooLong { len, .. }) => prop_assert!(len > max),
        }
    }

    #[test]
    fn own_etag_always_matches_itself(size in any::<u64>(), cas in any::<u64>(), other in any::<u64>()) {
        let tag = value_etag(size, cas);
        prop_assert!(etag_list_matches(tag.as_bytes(), Some(tag.as_bytes())));
        let list = format!("{}, W/{tag}", value_etag(size, other ^ cas ^ 1));
        prop_assert!(etag_list_matches(list.as_bytes(), Some(tag.as_bytes())));
        prop_assert!(is_not_modified(Some(tag.as_bytes()), None, IfModifiedSince::Exact, Some(tag.as_bytes()), None));
        if other != cas {
            let stale = value_etag(size, other);
            prop_assert!(!etag_list_matches(stale.as_bytes(), Some(tag.as_bytes())));
        }
    }

    #[test]
    fn etag_matching_never_panics(header in proptest::collection::vec(any::<u8>(), 0..80), tag in proptest::collection::vec(any::<u8>(), 0..20)) {
        let _ = etag_list_matches(&header, Some(&tag));
    }
}

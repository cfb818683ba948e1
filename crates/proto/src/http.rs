//! Small HTTP value formats the nginx module needs and that deserve unit tests: the
//! `Content-Disposition` built from fastdfs-nginx-module's `?filename=` parameter.
//!
//! The C module pastes the raw parameter into `attachment; filename="..."`, so a crafted name
//! can break out of the quotes or inject header bytes. Here the value is percent-decoded once,
//! reduced to its last path component, stripped of control characters, and written per RFC 6266:
//! an ASCII `filename="..."` fallback plus `filename*=UTF-8''...` with the exact name.

/// Longest decoded name kept, in bytes (cut at a character boundary).
pub const MAX_FILENAME_LEN: usize = 255;

/// Decodes `%XX` escapes and `+` (a space in query strings); invalid escapes stay as they are.
pub fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' if i + 2 < s.len() => match (hex(s[i + 1]), hex(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The `Content-Disposition` value for a raw (still percent-encoded) `filename` query value,
/// or `None` when nothing usable remains.
pub fn content_disposition(raw: &[u8]) -> Option<String> {
    let decoded = percent_decode(raw);
    let text = String::from_utf8_lossy(&decoded);
    let base = text.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = base.chars().filter(|c| !c.is_control()).collect();
    name = name.trim().to_string();
    if name.len() > MAX_FILENAME_LEN {
        let mut cut = MAX_FILENAME_LEN;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != '%' => c,
            _ => '_',
        })
        .collect();
    let mut value = format!("attachment; filename=\"{fallback}\"");
    if fallback != name {
        value.push_str("; filename*=UTF-8''");
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                value.push(char::from(b));
            } else {
                value.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_ascii_name_is_quoted() {
        assert_eq!(
            content_disposition(b"photo.jpg").as_deref(),
            Some("attachment; filename=\"photo.jpg\"")
        );
    }

    #[test]
    fn quotes_and_injection_cannot_escape() {
        let v = content_disposition(b"a%22%0d%0aSet-Cookie:%20x=1.jpg").unwrap();
        assert_eq!(
            v,
            "attachment; filename=\"a_Set-Cookie: x=1.jpg\"; filename*=UTF-8''a%22Set-Cookie%3A%20x%3D1.jpg"
        );
    }

    #[test]
    fn utf8_names_get_filename_star() {
        let v = content_disposition("%E5%9B%BE%E7%89%87.png".as_bytes()).unwrap();
        assert_eq!(
            v,
            "attachment; filename=\"__.png\"; filename*=UTF-8''%E5%9B%BE%E7%89%87.png"
        );
    }

    #[test]
    fn paths_are_reduced_to_the_last_component() {
        assert_eq!(
            content_disposition(b"..%2F..%2Fetc%2Fpasswd").as_deref(),
            Some("attachment; filename=\"passwd\"")
        );
        assert_eq!(content_disposition(b"a%2F..").as_deref(), None);
        assert_eq!(content_disposition(b"").as_deref(), None);
        assert_eq!(content_disposition(b"%0a%0d").as_deref(), None);
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let raw = "%C3%A9".repeat(200);
        let v = content_disposition(raw.as_bytes()).unwrap();
        assert!(v.ends_with("%C3%A9"), "{v}");
    }

    #[test]
    fn percent_decode_keeps_broken_escapes() {
        assert_eq!(percent_decode(b"a%2"), b"a%2");
        assert_eq!(percent_decode(b"%zz+%41"), b"%zz A");
    }

    proptest! {
        #[test]
        fn header_value_is_always_safe(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Some(v) = content_disposition(&raw) {
                prop_assert!(v.bytes().all(|b| (0x20..0x7f).contains(&b)));
                let quoted = v.split('"').count();
                prop_assert_eq!(quoted, 3, "exactly one quoted string: {}", v);
            }
        }
    }
}

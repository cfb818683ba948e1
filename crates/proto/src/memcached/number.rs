//! Number parsing with the exact acceptance rules of memcached's
//! `safe_strtoul`/`safe_strtol`/`safe_strtoull` (C `strto*` underneath):
//! optional leading C whitespace, an optional sign, at least one digit, and
//! then either the end of the token or a whitespace byte (anything after it
//! is ignored, as in C).

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Sign and magnitude of the decimal prefix; `None` when C would fail
/// (no digits, or a non-space byte right after them). The magnitude
/// saturates at `u128::MAX` which every caller treats as out of range.
fn scan(tok: &[u8]) -> Option<(bool, u128)> {
    let mut i = 0;
    while i < tok.len() && is_c_space(tok[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < tok.len() && (tok[i] == b'+' || tok[i] == b'-') {
        negative = tok[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut mag: u128 = 0;
    while i < tok.len() && tok[i].is_ascii_digit() {
        mag = mag
            .saturating_mul(10)
            .saturating_add(u128::from(tok[i] - b'0'));
        i += 1;
    }
    if i == start {
        return None;
    }
    if i < tok.len() && !is_c_space(tok[i]) {
        return None;
    }
    Some((negative, mag))
}

/// `safe_strtoull`: u64, a negative number is refused only when its
/// two's-complement value would look negative (so `-0` is `0`).
pub(crate) fn parse_u64(tok: &[u8]) -> Option<u64> {
    let (negative, mag) = scan(tok)?;
    if mag > u128::from(u64::MAX) {
        return None;
    }
    let mag = mag as u64;
    let v = if negative { mag.wrapping_neg() } else { mag };
    if (v as i64) < 0 && tok.contains(&b'-') {
        return None;
    }
    Some(v)
}

/// `safe_strtoul` into a `uint32_t`: parsed as 64-bit, then truncated when
/// `wrap` (memcached), or refused above `u32::MAX` when not.
pub(crate) fn parse_u32(tok: &[u8], wrap: bool) -> Option<u32> {
    let v = parse_u64(tok)?;
    if wrap {
        Some(v as u32)
    } else {
        u32::try_from(v).ok()
    }
}

/// `safe_strtol` into an `int32_t`: parsed as a 64-bit `long`, then
/// truncated when `wrap` (memcached), or refused outside `i32` when not.
pub(crate) fn parse_i32(tok: &[u8], wrap: bool) -> Option<i32> {
    let (negative, mag) = scan(tok)?;
    let v: i64 = if negative {
        if mag > 1u128 << 63 {
            return None;
        }
        (mag as i128).wrapping_neg() as i64
    } else {
        if mag > i64::MAX as u128 {
            return None;
        }
        mag as i64
    };
    if wrap {
        Some(v as i32)
    } else {
        i32::try_from(v).ok()
    }
}

/// Appends the decimal form of `v`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the decimal form of `v` (with a leading `-` when negative).
pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Strict unsigned decimal as memcached *writes* it (client side): digits
/// only, no sign, no spaces, no overflow.
pub(crate) fn parse_plain_u64(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in tok {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_semantics() {
        assert_eq!(parse_u32(b"4294967295", true), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296", true), Some(0));
        assert_eq!(parse_u32(b"4294967296", false), None);
        assert_eq!(parse_u32(b"-1", true), None);
        assert_eq!(parse_u32(b"-0", true), Some(0));
        assert_eq!(parse_u32(b"abc", true), None);
        assert_eq!(parse_u32(b"1a", true), None);
        assert_eq!(parse_u32(b"+7", true), Some(7));
        assert_eq!(parse_u32(b"7\tzz", true), Some(7));
        assert_eq!(parse_u32(b"", true), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_i32(b"-1", true), Some(-1));
        assert_eq!(parse_i32(b"4294967297", true), Some(1));
        assert_eq!(parse_i32(b"4294967297", false), None);
        assert_eq!(parse_i32(b"-9223372036854775808", true), Some(0));
        assert_eq!(parse_i32(b"-9223372036854775809", true), None);
        assert_eq!(parse_plain_u64(b"0"), Some(0));
        assert_eq!(parse_plain_u64(b"+1"), None);
    }

    #[test]
    fn formatting() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b' ');
        push_u64(&mut v, u64::MAX);
        v.push(b' ');
        push_i64(&mut v, i64::MIN);
        assert_eq!(v, b"0 18446744073709551615 -9223372036854775808");
    }
}

//! The base64 variant FastDFS uses in file names (libfastcommon `base64_init_ex(ctx, 0, '-', '_', '.')`).
//!
//! Alphabet `A–Z a–z 0–9 - _`, standard MSB-first 6-bit grouping, no padding on output.
//! The C decoder silently skips characters outside the alphabet; this one refuses them and
//! also refuses non-canonical input (unused trailing bits set), because a name that does not
//! re-encode to itself is not a name FastDFS ever produced.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Value of one alphabet character, `None` for anything else.
#[inline]
pub const fn char_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// True if `c` belongs to the FastDFS base64 alphabet.
#[inline]
pub const fn is_alphabet(c: u8) -> bool {
    char_value(c).is_some()
}

/// Number of characters the unpadded encoding of `n` bytes takes.
pub const fn encoded_len(n: usize) -> usize {
    (n * 8).div_ceil(6)
}

/// Encodes `src` into `dst` (which must be exactly `encoded_len(src.len())` long).
pub fn encode_into(src: &[u8], dst: &mut [u8]) {
    debug_assert_eq!(dst.len(), encoded_len(src.len()));
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut out = 0;
    for &b in src {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            dst[out] = ALPHABET[((acc >> bits) & 0x3F) as usize];
            out += 1;
        }
    }
    if bits > 0 {
        dst[out] = ALPHABET[((acc << (6 - bits)) & 0x3F) as usize];
    }
}

/// Encodes 20 bytes into the 27-character file-name prefix.
pub fn encode20(src: &[u8; 20]) -> [u8; 27] {
    let mut out = [0u8; 27];
    encode_into(src, &mut out);
    out
}

/// Encodes the 12-byte trunk info into its 16 characters.
pub fn encode12(src: &[u8; 12]) -> [u8; 16] {
    let mut out = [0u8; 16];
    encode_into(src, &mut out);
    out
}

/// Why strict decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Byte at this index is not in the alphabet.
    BadChar(usize),
    /// The last character carries non-zero unused bits.
    NonCanonical,
}

/// Strictly decodes `src` into `dst`, which must be exactly `src.len() * 6 / 8` long.
pub fn decode_into(src: &[u8], dst: &mut [u8]) -> Result<(), DecodeError> {
    debug_assert_eq!(dst.len(), src.len() * 6 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut out = 0;
    for (i, &c) in src.iter().enumerate() {
        let v = char_value(c).ok_or(DecodeError::BadChar(i))?;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            dst[out] = (acc >> bits) as u8;
            out += 1;
        }
        acc &= (1 << bits) - 1;
    }
    if acc != 0 {
        return Err(DecodeError::NonCanonical);
    }
    Ok(())
}

/// Strictly decodes the 27-character file-name prefix.
pub fn decode27(src: &[u8]) -> Result<[u8; 20], DecodeError> {
    let mut out = [0u8; 20];
    if src.len() != 27 {
        return Err(DecodeError::BadChar(src.len().min(27)));
    }
    decode_into(src, &mut out)?;
    Ok(out)
}

/// Strictly decodes the 16-character trunk info.
pub fn decode16(src: &[u8]) -> Result<[u8; 12], DecodeError> {
    let mut out = [0u8; 12];
    if src.len() != 16 {
        return Err(DecodeError::BadChar(src.len().min(16)));
    }
    decode_into(src, &mut out)?;
    Ok(out)
}

/// Decodes like libfastcommon's `base64_decode_auto` as the C client calls it: characters
/// outside the alphabet are skipped, missing input reads as zero bits. Never fails; used only
/// where FastDFS itself is lenient (e.g. [`super::DecodedFileId::from_name_lenient`]).
pub fn decode_lenient(src: &[u8], dst: &mut [u8]) {
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut out = 0;
    for v in src.iter().filter_map(|&c| char_value(c)) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if out == dst.len() {
                return;
            }
            dst[out] = (acc >> bits) as u8;
            out += 1;
        }
        acc &= (1 << bits) - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_3_encodes() {
        let raw = [
            0xc0, 0xa8, 0xf3, 0x87, 0x4f, 0xf1, 0x69, 0x1e, 0x80, 0x12, 0x34, 0x56, 0, 0, 0, 0x0e,
            0x0e, 0x10, 0xba, 0x5d,
        ];
        assert_eq!(&encode20(&raw), b"wKjzh0_xaR6AEjRWAAAADg4Qul0");
        assert_eq!(decode27(b"wKjzh0_xaR6AEjRWAAAADg4Qul0"), Ok(raw));
    }

    #[test]
    fn rejects_non_canonical_and_foreign_chars() {
        assert_eq!(
            decode27(b"eSosZVfrMy2ADEcxAADS9IecoKR"),
            Err(DecodeError::NonCanonical)
        );
        assert_eq!(
            decode27(b"eSosZVfrMy2ADEcx+ADS9IecoKQ"),
            Err(DecodeError::BadChar(16))
        );
    }

    #[test]
    fn lenient_skips_foreign_chars() {
        let mut a = [0u8; 20];
        let mut b = [0u8; 20];
        decode_lenient(b"eSosZVfrMy2ADEcxAADS9IecoKQ", &mut a);
        decode_lenient(b"eSosZVfrMy2A!DEcxAADS9IecoKQ", &mut b);
        assert_eq!(a, b);
    }
}

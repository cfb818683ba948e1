//! The key hashes of twemproxy's hashkit (and libhashkit, which shares them), bit for bit.
//!
//! Several of them read the key through C `char`, which is signed on x86 Linux: a byte ≥ 0x80
//! is sign-extended before it is mixed in. Writers on x86 placed their keys that way, so we
//! do the same on every platform (see `sx`).

use std::fmt;
use std::str::FromStr;

/// A key hash function by its twemproxy name (variants spelled like those names).
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashFn {
    OneAtATime,
    Md5,
    Crc16,
    Crc32,
    Crc32a,
    Fnv1_64,
    Fnv1a_64,
    Fnv1_32,
    Fnv1a_32,
    Hsieh,
    Murmur,
    Jenkins,
}

impl HashFn {
    pub const ALL: [HashFn; 12] = [
        HashFn::OneAtATime,
        HashFn::Md5,
        HashFn::Crc16,
        HashFn::Crc32,
        HashFn::Crc32a,
        HashFn::Fnv1_64,
        HashFn::Fnv1a_64,
        HashFn::Fnv1_32,
        HashFn::Fnv1a_32,
        HashFn::Hsieh,
        HashFn::Murmur,
        HashFn::Jenkins,
    ];

    /// The name used in twemproxy's YAML (`hash: fnv1a_64`) and in our options.
    pub fn name(self) -> &'static str {
        match self {
            HashFn::OneAtATime => "one_at_a_time",
            HashFn::Md5 => "md5",
            HashFn::Crc16 => "crc16",
            HashFn::Crc32 => "crc32",
            HashFn::Crc32a => "crc32a",
            HashFn::Fnv1_64 => "fnv1_64",
            HashFn::Fnv1a_64 => "fnv1a_64",
            HashFn::Fnv1_32 => "fnv1_32",
            HashFn::Fnv1a_32 => "fnv1a_32",
            HashFn::Hsieh => "hsieh",
            HashFn::Murmur => "murmur",
            HashFn::Jenkins => "jenkins",
        }
    }

    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            HashFn::OneAtATime => one_at_a_time(key),
            HashFn::Md5 => md5_word(key, 0),
            HashFn::Crc16 => crc16(key),
            HashFn::Crc32 => (crc32fast::hash(key) >> 16) & 0x7fff,
            HashFn::Crc32a => crc32fast::hash(key),
            HashFn::Fnv1_64 => fnv1_64(key),
            HashFn::Fnv1a_64 => fnv1a_64(key),
            HashFn::Fnv1_32 => fnv1_32(key),
            HashFn::Fnv1a_32 => fnv1a_32(key),
            HashFn::Hsieh => hsieh(key),
            HashFn::Murmur => murmur(key),
            HashFn::Jenkins => jenkins(key),
        }
    }
}

impl fmt::Display for HashFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashFn {
    type Err = String;
    fn from_str(s: &str) -> Result<HashFn, String> {
        HashFn::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = HashFn::ALL.iter().map(|h| h.name()).collect();
                format!("unknown hash {s:?} (known: {})", names.join(", "))
            })
    }
}

/// A byte as x86 C code sees it through a signed `char`, widened to 32 bits.
fn sx(b: u8) -> u32 {
    b as i8 as i32 as u32
}

/// Little-endian u32 from bytes `4*word .. 4*word+4` of MD5(data): the ketama point and the
/// `md5` key hash (word 0).
pub fn md5_word(data: &[u8], word: usize) -> u32 {
    md5_words(data)[word]
}

pub fn md5_words(data: &[u8]) -> [u32; 4] {
    use md5::Digest;
    let d = md5::Md5::digest(data);
    let w = |i: usize| u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

fn one_at_a_time(key: &[u8]) -> u32 {
    let mut v: u32 = 0;
    for &b in key {
        v = v.wrapping_add(sx(b));
        v = v.wrapping_add(v << 10);
        v ^= v >> 6;
    }
    v = v.wrapping_add(v << 3);
    v ^= v >> 11;
    v.wrapping_add(v << 15)
}

// twemproxy's "fnv1a_64" runs in 32 bits with the low halves of the 64-bit constants.
fn fnv1a_64(key: &[u8]) -> u32 {
    key.iter()
        .fold(0x8422_2325u32, |h, &b| (h ^ sx(b)).wrapping_mul(0x1b3))
}

fn fnv1_64(key: &[u8]) -> u32 {
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        h.wrapping_mul(0x100_0000_01b3) ^ (b as i8 as i64 as u64)
    });
    h as u32
}

fn fnv1_32(key: &[u8]) -> u32 {
    key.iter()
        .fold(2_166_136_261u32, |h, &b| h.wrapping_mul(16_777_619) ^ sx(b))
}

fn fnv1a_32(key: &[u8]) -> u32 {
    key.iter().fold(2_166_136_261u32, |h, &b| {
        (h ^ sx(b)).wrapping_mul(16_777_619)
    })
}

const fn crc16_table() -> [u16; 256] {
    // CRC-16/XMODEM (polynomial 0x1021, MSB first).
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC16: [u16; 256] = crc16_table();

// The register is 32 bits wide and never masked to 16, so bits shifted past bit 15 stay in
// the result: long keys give hashes above 0xffff, and placement depends on them.
fn crc16(key: &[u8]) -> u32 {
    key.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ CRC16[(((crc >> 8) ^ sx(b)) & 0xff) as usize] as u32
    })
}

fn hsieh(key: &[u8]) -> u32 {
    if key.is_empty() {
        return 0;
    }
    let g16 = |p: &[u8]| p[0] as u32 | (p[1] as u32) << 8;
    let mut h: u32 = 0;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        h = h.wrapping_add(g16(c));
        let tmp = (g16(&c[2..]) << 11) ^ h;
        h = (h << 16) ^ tmp;
        h = h.wrapping_add(h >> 11);
    }
    let rem = chunks.remainder();
    match rem.len() {
        3 => {
            h = h.wrapping_add(g16(rem));
            h ^= h << 16;
            // The third byte goes through a signed char here (and only here).
            h ^= sx(rem[2]) << 18;
            h = h.wrapping_add(h >> 11);
        }
        2 => {
            h = h.wrapping_add(g16(rem));
            h ^= h << 11;
            h = h.wrapping_add(h >> 17);
        }
        1 => {
            h = h.wrapping_add(rem[0] as u32);
            h ^= h << 10;
            h = h.wrapping_add(h >> 1);
        }
        _ => {}
    }
    h ^= h << 3;
    h = h.wrapping_add(h >> 5);
    h ^= h << 4;
    h = h.wrapping_add(h >> 17);
    h ^= h << 25;
    h.wrapping_add(h >> 6)
}

fn murmur(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let len = key.len() as u32;
    let mut h = 0xdead_beefu32.wrapping_mul(len) ^ len;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rem = chunks.remainder();
    if rem.len() >= 3 {
        h ^= (rem[2] as u32) << 16;
    }
    if rem.len() >= 2 {
        h ^= (rem[1] as u32) << 8;
    }
    if !rem.is_empty() {
        h ^= rem[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

// Bob Jenkins' lookup3 "hashlittle" with initval 13, unsigned bytes.
fn jenkins(key: &[u8]) -> u32 {
    let init = 0xdead_beefu32
        .wrapping_add(key.len() as u32)
        .wrapping_add(13);
    let (mut a, mut b, mut c) = (init, init, init);
    let word = |p: &[u8]| {
        let mut w = [0u8; 4];
        w[..p.len()].copy_from_slice(p);
        u32::from_le_bytes(w)
    };
    let mut rest = key;
    while rest.len() > 12 {
        a = a.wrapping_add(word(&rest[0..4]));
        b = b.wrapping_add(word(&rest[4..8]));
        c = c.wrapping_add(word(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    if rest.is_empty() {
        return c;
    }
    let part = |from: usize| {
        let to = rest.len().min(from + 4);
        if from < to {
            word(&rest[from..to])
        } else {
            0
        }
    };
    a = a.wrapping_add(part(0));
    b = b.wrapping_add(part(4));
    c = c.wrapping_add(part(8));
    final_mix(&mut a, &mut b, &mut c);
    c
}

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c) ^ c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c) ^ c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_5_8_vectors() {
        let cafe = "/images/café/1.png".as_bytes();
        assert_eq!(HashFn::Fnv1a_64.hash(b"key0"), 0x5cbd_a5d4);
        assert_eq!(HashFn::Fnv1a_64.hash(b"/img/1.jpg"), 0x7506_e8ec);
        assert_eq!(HashFn::Fnv1a_64.hash(cafe), 0xa194_39b4);
        assert_eq!(HashFn::Md5.hash(b"key0"), 0xf202_f421);
        assert_eq!(HashFn::Md5.hash(cafe), 0xa69d_3517);
        assert_eq!(HashFn::Crc32a.hash(b"key0"), 0x5b5b_54c6);
        assert_eq!(HashFn::Crc32a.hash(cafe), 0x420c_7b16);
        assert_eq!(
            md5_words(b"127.0.0.1:11321-0"),
            [0x593f_e950, 0x4820_adcb, 0xe931_c686, 0x8394_0a18]
        );
    }

    #[test]
    fn names_round_trip_and_unknown_is_explained() {
        for h in HashFn::ALL {
            assert_eq!(h.name().parse::<HashFn>(), Ok(h));
        }
        let e = "fnv".parse::<HashFn>().unwrap_err();
        assert!(
            e.contains("unknown hash \"fnv\"") && e.contains("fnv1a_64"),
            "{e}"
        );
    }

    #[test]
    fn empty_keys_do_not_panic() {
        for h in HashFn::ALL {
            h.hash(b"");
        }
    }
}

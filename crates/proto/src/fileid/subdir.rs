//! Sub-directory choice of `file_distribute_path_mode = 1` (hash): FastDFS takes libfastcommon's
//! `PJWHash` of the 27 base64 characters of a (provisional) name, `n = hash % 65536`,
//! `high = (n >> 8) % count`, `low = (n & 0xFF) % count`.

/// libfastcommon `PJWHash` on a signed 32-bit accumulator (the shift of `t` is arithmetic).
pub fn pjw_hash(data: &[u8]) -> u32 {
    let mut h: i32 = 0;
    for &b in data {
        h = h.wrapping_shl(4).wrapping_add(i32::from(b));
        let t = h & (0xF000_0000u32 as i32);
        if t != 0 {
            h = (h ^ (t >> 24)) & 0x0FFF_FFFF;
        }
    }
    h as u32
}

/// `(high, low)` directory indexes for `name27` with `subdir_count` (1..=256) per level.
pub fn hash_subdir(name27: &[u8], subdir_count: u32) -> (u8, u8) {
    let count = subdir_count.clamp(1, 256);
    let n = pjw_hash(name27) % 65536;
    (((n >> 8) % count) as u8, ((n & 0xFF) % count) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_5() {
        // §4.8 example 5: the 27 chars of example 1 hash to 15881669 -> 55/C5.
        let name = b"wKjzh0_xaR63RExnAAAaDqbNk5E";
        assert_eq!(pjw_hash(name), 15881669);
        assert_eq!(hash_subdir(name, 256), (0x55, 0xC5));
        assert_eq!(hash_subdir(name, 16), (0x55 % 16, 0xC5 % 16));
    }

    proptest::proptest! {
        #[test]
        fn always_in_range(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64), count in 1u32..=256) {
            let (h, l) = hash_subdir(&data, count);
            proptest::prop_assert!(u32::from(h) < count && u32::from(l) < count);
            proptest::prop_assert!(pjw_hash(&data) <= 0x0FFF_FFFF);
        }
    }
}

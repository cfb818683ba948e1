//! Pure pieces of memcached's item semantics that a server needs to answer
//! byte-for-byte like memcached 1.6.18: exptime interpretation and
//! `incr`/`decr` on stored bytes (including the space padding).

use super::number::{parse_u64, push_u64};
use super::request::ArithCommand;

/// Exptimes up to this many seconds (30 days) are relative to now; larger
/// ones are absolute Unix times.
pub const MAX_RELATIVE_EXPTIME: i32 = 60 * 60 * 24 * 30;

/// When an item expires, in absolute Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expiry {
    /// exptime 0.
    Never,
    /// Invisible once the clock reaches this second.
    At(u64),
}

impl Expiry {
    /// Resolves a wire exptime at Unix time `now`: `0` never expires,
    /// `1..=2592000` is relative, larger values are absolute (a time in the
    /// past expires at once), negative values are already expired.
    pub fn from_exptime(exptime: i32, now: u64) -> Expiry {
        match exptime {
            0 => Expiry::Never,
            e if e < 0 => Expiry::At(0),
            e if e > MAX_RELATIVE_EXPTIME => Expiry::At(e as u64),
            e => Expiry::At(now.saturating_add(e as u64)),
        }
    }

    /// Whether an item with this expiry is invisible at `now`.
    pub fn is_expired(self, now: u64) -> bool {
        matches!(self, Expiry::At(t) if now >= t)
    }

    /// Seconds left as the meta `t` flag reports them: `-1` for never.
    pub fn ttl(self, now: u64) -> i64 {
        match self {
            Expiry::Never => -1,
            Expiry::At(t) => i64::try_from(t.saturating_sub(now)).unwrap_or(i64::MAX),
        }
    }
}

/// `incr`/`decr` on a value that is not a decimal number memcached accepts:
/// reply `CLIENT_ERROR cannot increment or decrement non-numeric value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot increment or decrement non-numeric value")]
pub struct NonNumeric;

/// Result of [`apply_delta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaOutcome {
    /// The new value: the reply line for `incr`/`decr`, the `VA` data of `ma`.
    pub value: u64,
    /// The bytes to store. memcached rewrites the item in place when the new
    /// number is not longer than the old value and pads with spaces, so
    /// `decr` of `100` by 1 stores `99 ` (three bytes).
    pub stored: Vec<u8>,
}

/// memcached's `do_add_delta`: the stored bytes are read like `strtoull`
/// would (leading whitespace allowed, digits, then whitespace or the end;
/// 21 digits or a sign that makes it negative is non-numeric), `incr` wraps
/// at 2^64 and `decr` stops at 0.
pub fn apply_delta(
    current: &[u8],
    command: ArithCommand,
    delta: u64,
) -> Result<DeltaOutcome, NonNumeric> {
    if current.is_empty() {
        return Err(NonNumeric);
    }
    // memcached reads the value as a C string: a NUL ends it.
    let text = current
        .iter()
        .position(|&b| b == 0)
        .map_or(current, |n| &current[..n]);
    let old = parse_u64(text).ok_or(NonNumeric)?;
    let value = match command {
        ArithCommand::Incr => old.wrapping_add(delta),
        ArithCommand::Decr => old.saturating_sub(delta),
    };
    let mut stored = Vec::with_capacity(current.len().max(20));
    push_u64(&mut stored, value);
    if stored.len() <= current.len() {
        stored.resize(current.len(), b' ');
    }
    Ok(DeltaOutcome { value, stored })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cur: &[u8], cmd: ArithCommand, delta: u64) -> Result<(u64, Vec<u8>), NonNumeric> {
        apply_delta(cur, cmd, delta).map(|o| (o.value, o.stored))
    }

    #[test]
    fn transcript_behaviour() {
        use ArithCommand::*;
        assert_eq!(run(b"10", Incr, 5), Ok((15, b"15".to_vec())));
        assert_eq!(run(b"12", Decr, 100), Ok((0, b"0 ".to_vec())));
        assert_eq!(run(b"100", Decr, 1), Ok((99, b"99 ".to_vec())));
        assert_eq!(run(b"99 ", Incr, 1000), Ok((1099, b"1099".to_vec())));
        assert_eq!(
            run(b"18446744073709551615", Incr, 1),
            Ok((0, b"0                   ".to_vec()))
        );
        assert_eq!(
            run(b"18446744073709551610", Incr, 10),
            Ok((4, b"4                   ".to_vec()))
        );
        assert_eq!(run(b" 1", Incr, 1).map(|r| r.1), Ok(b"2 ".to_vec()));
        assert_eq!(run(b"184467440737095516150", Incr, 1), Err(NonNumeric));
        assert_eq!(run(b"abc", Incr, 1), Err(NonNumeric));
        assert_eq!(run(b"", Incr, 1), Err(NonNumeric));
        assert_eq!(run(b"-1", Incr, 1), Err(NonNumeric));
        assert_eq!(run(b"12 abc", Incr, 1).map(|r| r.0), Ok(13));
    }

    #[test]
    fn exptimes() {
        let now = 1_700_000_000;
        assert_eq!(Expiry::from_exptime(0, now), Expiry::Never);
        assert!(Expiry::from_exptime(-1, now).is_expired(now));
        assert!(Expiry::from_exptime(2_592_001, now).is_expired(now));
        let e = Expiry::from_exptime(2_592_000, now);
        assert!(!e.is_expired(now) && e.ttl(now) == 2_592_000);
        assert!(Expiry::from_exptime(1, now).is_expired(now + 1));
        assert_eq!(Expiry::Never.ttl(now), -1);
    }
}

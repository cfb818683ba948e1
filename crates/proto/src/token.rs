//! Anti-steal tokens as fastdfs-nginx-module checks them (`fdfs_http_gen_token` /
//! `fdfs_http_check_token`).
//!
//! `token = lowercase_hex(md5(logical_name ‖ secret_key ‖ decimal(ts)))`, where `logical_name`
//! is `Mxx/HH/HH/<name>` **without** the group. Check order, as in C: token length 32, then
//! expiry (`ts != 0 && now - ts > ttl`), then the digest.
//!
//! Differences from C, all explicit in [`TokenPolicy`]:
//! - `ts = 0` ("never expires") is accepted only when [`TokenPolicy::allow_never_expiring`] is set;
//! - `ts` must be a plain decimal number (C's `atoi` turns garbage into 0, i.e. "never expires");
//! - optionally, timestamps too far in the future are refused (C accepts them forever-ish).
//!
//! ```
//! use fdfs_proto::token::{check_token, gen_token, TokenError, TokenPolicy};
//!
//! let name = b"M00/00/00/wKjzh0_xaR6AEjRWAAAADg4Qul0042.txt";
//! let token = gen_token(name, b"FastDFS1234567890", 1_700_000_000);
//! assert_eq!(&token, b"df69278afbabf899460724595b91fe6a");
//! let policy = TokenPolicy::new("FastDFS1234567890", 900);
//! assert_eq!(check_token(&policy, name, &token, b"1700000000", 1_700_000_900), Ok(()));
//! assert_eq!(check_token(&policy, name, &token, b"1700000000", 1_700_000_901), Err(TokenError::Expired));
//! ```

use md5::{Digest, Md5};
use thiserror::Error;

use crate::status;

/// How tokens are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// `http.anti_steal.secret_key` (≤ 128 bytes in FastDFS).
    pub secret_key: Vec<u8>,
    /// `http.anti_steal.token_ttl` in seconds: a token is expired when `now - ts > ttl`.
    pub ttl: i64,
    /// Accept `ts = 0` as "never expires" (C behaviour; off by default here).
    pub allow_never_expiring: bool,
    /// Refuse `ts > now + max_future_skew` (`None` = accept any future ts, as C does).
    pub max_future_skew: Option<i64>,
}

impl TokenPolicy {
    /// A policy with C's expiry rule and the safe defaults above.
    pub fn new(secret_key: impl Into<Vec<u8>>, ttl: i64) -> Self {
        TokenPolicy {
            secret_key: secret_key.into(),
            ttl,
            allow_never_expiring: false,
            max_future_skew: None,
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TokenError {
    /// Not 32 characters (C: EINVAL).
    #[error("token must be 32 hex characters")]
    BadLength,
    /// `ts` is not a decimal integer.
    #[error("ts is not a decimal timestamp")]
    BadTimestamp,
    /// `ts = 0` while never-expiring tokens are disabled.
    #[error("ts=0 (never-expiring token) is not allowed")]
    NeverExpiringDisabled,
    /// `now - ts > ttl` (C: ETIMEDOUT).
    #[error("token expired")]
    Expired,
    /// `ts` is beyond the allowed clock skew.
    #[error("ts is too far in the future")]
    FromTheFuture,
    /// Digest differs (C: EPERM).
    #[error("token does not match")]
    Mismatch,
}

impl TokenError {
    /// The errno the C module would report.
    pub const fn status(self) -> u8 {
        match self {
            TokenError::BadLength | TokenError::BadTimestamp => status::EINVAL,
            TokenError::Expired | TokenError::FromTheFuture => status::ETIMEDOUT,
            TokenError::NeverExpiringDisabled | TokenError::Mismatch => status::EPERM,
        }
    }
}

/// The 32 lowercase hex characters for `logical_name` (no group), `secret_key` and `ts`.
pub fn gen_token(logical_name: &[u8], secret_key: &[u8], ts: i64) -> [u8; 32] {
    let mut h = Md5::new();
    h.update(logical_name);
    h.update(secret_key);
    h.update(ts.to_string().as_bytes());
    let digest = h.finalize();
    let mut out = [0u8; 32];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xF)];
    }
    out
}

/// Parses the `ts` query value: optional `-`, 1..=19 decimal digits.
pub fn parse_ts(ts: &[u8]) -> Result<i64, TokenError> {
    let digits = ts.strip_prefix(b"-").unwrap_or(ts);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(TokenError::BadTimestamp);
    }
    std::str::from_utf8(ts)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(TokenError::BadTimestamp)
}

/// Checks `token` and the raw `ts` parameter for `logical_name` (no group) at time `now`.
pub fn check_token(
    policy: &TokenPolicy,
    logical_name: &[u8],
    token: &[u8],
    ts: &[u8],
    now: i64,
) -> Result<(), TokenError> {
    if token.len() != 32 {
        return Err(TokenError::BadLength);
    }
    let ts = parse_ts(ts)?;
    if ts == 0 {
        if !policy.allow_never_expiring {
            return Err(TokenError::NeverExpiringDisabled);
        }
    } else {
        if now.saturating_sub(ts) > policy.ttl {
            return Err(TokenError::Expired);
        }
        if let Some(skew) = policy.max_future_skew {
            if ts.saturating_sub(now) > skew {
                return Err(TokenError::FromTheFuture);
            }
        }
    }
    let want = gen_token(logical_name, &policy.secret_key, ts);
    // Compare without an early exit so the time taken does not reveal the matching prefix.
    let diff = want
        .iter()
        .zip(token)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(TokenError::Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &[u8] = b"M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg";

    fn tok(ts: i64) -> [u8; 32] {
        gen_token(NAME, b"s3cret", ts)
    }

    #[test]
    fn ttl_boundary_is_inclusive_like_c() {
        let p = TokenPolicy::new("s3cret", 600);
        let t = tok(1000);
        assert_eq!(check_token(&p, NAME, &t, b"1000", 1600), Ok(()));
        assert_eq!(
            check_token(&p, NAME, &t, b"1000", 1601),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn zero_ts_only_when_enabled() {
        let mut p = TokenPolicy::new("s3cret", 600);
        let t = tok(0);
        assert_eq!(
            check_token(&p, NAME, &t, b"0", 1 << 40),
            Err(TokenError::NeverExpiringDisabled)
        );
        p.allow_never_expiring = true;
        assert_eq!(check_token(&p, NAME, &t, b"0", 1 << 40), Ok(()));
    }

    #[test]
    fn malformed_inputs() {
        let p = TokenPolicy::new("s3cret", 600);
        let t = tok(1000);
        assert_eq!(
            check_token(&p, NAME, &t[..31], b"1000", 1000),
            Err(TokenError::BadLength)
        );
        for ts in [&b""[..], b"abc", b"10a", b"+5", b"99999999999999999999"] {
            assert_eq!(
                check_token(&p, NAME, &t, ts, 1000),
                Err(TokenError::BadTimestamp),
                "{ts:?}"
            );
        }
        let mut upper = t;
        upper.make_ascii_uppercase();
        if upper != t {
            assert_eq!(
                check_token(&p, NAME, &upper, b"1000", 1000),
                Err(TokenError::Mismatch)
            );
        }
        // The group must not be part of the hashed name.
        let with_group = gen_token(
            b"group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg",
            b"s3cret",
            1000,
        );
        assert_eq!(
            check_token(&p, NAME, &with_group, b"1000", 1000),
            Err(TokenError::Mismatch)
        );
    }

    #[test]
    fn future_skew_is_optional() {
        let mut p = TokenPolicy::new("s3cret", 600);
        let t = tok(5000);
        assert_eq!(check_token(&p, NAME, &t, b"5000", 1000), Ok(()));
        p.max_future_skew = Some(60);
        assert_eq!(
            check_token(&p, NAME, &t, b"5000", 1000),
            Err(TokenError::FromTheFuture)
        );
    }
}

//! Hybrid logical clock and wall-clock helpers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

pub fn now_secs() -> u32 {
    (now_us() / 1_000_000) as u32
}

/// Timestamps in µs that never repeat on one node and never run behind anything the node has seen,
/// so last-writer-wins agrees on both sides of a pair even when their wall clocks differ a little.
#[derive(Debug, Default)]
pub struct Hlc {
    last: AtomicU64,
}

impl Hlc {
    pub fn tick(&self) -> u64 {
        let wall = now_us();
        let mut cur = self.last.load(Ordering::Relaxed);
        loop {
            let next = wall.max(cur + 1);
            match self
                .last
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(v) => cur = v,
            }
        }
    }

    pub fn observe(&self, ts: u64) {
        self.last.fetch_max(ts, Ordering::AcqRel);
    }

    pub fn peek(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }
}

/// memcached exptime rule: 0 = never, ≤ 30 days = relative seconds, above = absolute Unix time,
/// negative = already expired. Returns absolute seconds (0 = never; 1 = the distant past).
pub fn absolute_exptime(exptime: i64, now: u32) -> u32 {
    const MONTH: i64 = 60 * 60 * 24 * 30;
    if exptime == 0 {
        0
    } else if exptime < 0 {
        1
    } else if exptime <= MONTH {
        (now as i64 + exptime).min(u32::MAX as i64) as u32
    } else {
        exptime.min(u32::MAX as i64) as u32
    }
}

pub fn is_expired(exptime: u32, now: u32) -> bool {
    exptime != 0 && exptime <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_is_strictly_monotonic_and_follows_observed() {
        let c = Hlc::default();
        let a = c.tick();
        let b = c.tick();
        assert!(b > a);
        c.observe(b + 1_000_000_000);
        assert!(c.tick() > b + 1_000_000_000);
    }

    #[test]
    fn exptime_rules() {
        let now = 1_700_000_000;
        assert_eq!(absolute_exptime(0, now), 0);
        assert_eq!(absolute_exptime(10, now), now + 10);
        assert_eq!(absolute_exptime(2_592_000, now), now + 2_592_000);
        assert_eq!(absolute_exptime(2_592_001, now), 2_592_001);
        assert!(is_expired(absolute_exptime(2_678_400, now), now));
        assert!(is_expired(absolute_exptime(-1, now), now));
        assert!(!is_expired(absolute_exptime(0, now), now));
    }
}

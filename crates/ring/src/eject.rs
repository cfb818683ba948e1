//! twemproxy's `auto_eject_hosts` as a pure state machine: the caller reports failures and
//! successes and passes the clock in; the ring is rebuilt over the live servers when the live
//! set changes.

use std::time::Duration;

use crate::config::{Options, Server};
use crate::ring::{LocateError, Ring};

/// A point in time on the caller's monotonic clock.
pub type Millis = u64;

#[derive(Debug, Clone, Default)]
struct State {
    failures: u32,
    /// Ejected until this time (inclusive), as twemproxy's `next_retry`.
    until: Option<Millis>,
}

/// Servers, options, ejection state and the ring built over the servers live now.
#[derive(Debug, Clone)]
pub struct Pool {
    servers: Vec<Server>,
    opts: Options,
    state: Vec<State>,
    ring: Ring,
    live: Vec<bool>,
}

impl Pool {
    pub fn new(servers: Vec<Server>, opts: Options) -> Result<Pool, String> {
        opts.check_servers(&servers)?;
        let live = vec![true; servers.len()];
        let ring = Ring::build(&servers, &opts, &live);
        let state = vec![State::default(); servers.len()];
        Ok(Pool {
            servers,
            opts,
            state,
            ring,
            live,
        })
    }

    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The ring as of the last `refresh`.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Brings back servers whose retry time has passed; rebuilds the ring if anything changed.
    pub fn refresh(&mut self, now: Millis) {
        let live: Vec<bool> = self
            .state
            .iter_mut()
            .map(|s| match s.until {
                Some(t) if now > t => {
                    s.until = None;
                    true
                }
                Some(_) => false,
                None => true,
            })
            .collect();
        if live != self.live {
            self.ring = Ring::build(&self.servers, &self.opts, &live);
            self.live = live;
        }
    }

    /// The server for `key` at time `now`.
    pub fn locate(&mut self, key: &[u8], now: Millis) -> Result<usize, LocateError> {
        self.refresh(now);
        self.ring.locate(key)
    }

    pub fn is_live(&self, server: usize) -> bool {
        self.live.get(server).copied().unwrap_or(false)
    }

    /// A connect error, timeout or EOF on `server`. Returns true when this failure ejected it.
    /// With `eject=off` nothing changes: the caller answers the request with an error.
    pub fn failure(&mut self, server: usize, now: Millis) -> bool {
        if !self.opts.eject {
            return false;
        }
        let limit = self.opts.failure_limit;
        let retry = duration_ms(self.opts.retry_timeout);
        let Some(s) = self.state.get_mut(server) else {
            return false;
        };
        if s.until.is_some() {
            return false;
        }
        s.failures += 1;
        if s.failures < limit {
            return false;
        }
        s.failures = 0;
        s.until = Some(now.saturating_add(retry));
        let mut live = self.live.clone();
        live[server] = false;
        self.ring = Ring::build(&self.servers, &self.opts, &live);
        self.live = live;
        true
    }

    /// A good reply from `server`: its failure count starts over.
    pub fn success(&mut self, server: usize) {
        if let Some(s) = self.state.get_mut(server) {
            s.failures = 0;
        }
    }
}

fn duration_ms(d: Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(eject: bool) -> Pool {
        let servers = (1..=3)
            .map(|i| Server::parse(&format!("127.0.0.1:1960{i}")).unwrap())
            .collect();
        let opts = Options {
            eject,
            failure_limit: 2,
            retry_timeout: Duration::from_millis(1000),
            ..Options::default()
        };
        Pool::new(servers, opts).unwrap()
    }

    fn key_on(p: &mut Pool, server: usize) -> Vec<u8> {
        (0..)
            .map(|i| format!("/k/{i}").into_bytes())
            .find(|k| p.locate(k, 0) == Ok(server))
            .unwrap()
    }

    #[test]
    fn ejects_at_the_limit_and_returns_after_the_timeout() {
        let mut p = pool(true);
        let k = key_on(&mut p, 1);
        assert!(!p.failure(1, 10));
        assert_eq!(p.locate(&k, 10), Ok(1), "one failure is below the limit");
        assert!(p.failure(1, 20));
        let moved = p.locate(&k, 20).unwrap();
        assert_ne!(moved, 1);
        assert_eq!(p.locate(&k, 1020), Ok(moved), "still out at next_retry");
        assert_eq!(p.locate(&k, 1021), Ok(1), "back after the retry timeout");
        assert!(!p.failure(1, 1022), "the count started over at ejection");
    }

    #[test]
    fn success_resets_the_count() {
        let mut p = pool(true);
        p.failure(0, 0);
        p.success(0);
        assert!(!p.failure(0, 1));
        assert!(p.is_live(0));
    }

    #[test]
    fn eject_off_never_moves_keys() {
        let mut p = pool(false);
        let k = key_on(&mut p, 2);
        for t in 0..10 {
            assert!(!p.failure(2, t));
        }
        assert_eq!(p.locate(&k, 10), Ok(2));
    }

    #[test]
    fn all_ejected_is_an_error_then_recovers() {
        let mut p = pool(true);
        for s in 0..3 {
            p.failure(s, 0);
            p.failure(s, 0);
        }
        assert_eq!(p.locate(b"x", 5), Err(LocateError::NoLiveServer));
        assert!(p.locate(b"x", 2000).is_ok());
    }
}

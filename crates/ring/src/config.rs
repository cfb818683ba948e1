//! Typed ring options and server lines, parsed with errors that name the bad word.

use std::time::Duration;

use crate::hash::HashFn;

/// Whose placement to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compat {
    /// twemproxy (nutcracker): weighted MD5 continuum, any key hash, names, hash_tag.
    Twemproxy,
    /// libmemcached `ketama` without weighting (pylibmc `{"ketama": True}`): 100 points per
    /// server, points and keys hashed with the key hash (default one_at_a_time).
    Libmemcached,
    /// libmemcached `ketama_weighted` / PHP memcached `OPT_LIBKETAMA_COMPATIBLE`: the
    /// weighted MD5 continuum, key hash md5 by default.
    LibmemcachedWeighted,
}

impl Compat {
    pub fn name(self) -> &'static str {
        match self {
            Compat::Twemproxy => "twemproxy",
            Compat::Libmemcached => "libmemcached",
            Compat::LibmemcachedWeighted => "libmemcached_weighted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    Ketama,
    Modula,
    Random,
}

/// Everything that decides placement and ejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub hash: HashFn,
    pub hash_tag: Option<[u8; 2]>,
    pub compat: Compat,
    pub distribution: Distribution,
    pub eject: bool,
    pub failure_limit: u32,
    pub retry_timeout: Duration,
}

impl Default for Options {
    /// twemproxy's defaults: fnv1a_64, ketama, no ejection, limit 2, retry 30 s.
    fn default() -> Options {
        Options {
            hash: HashFn::Fnv1a_64,
            hash_tag: None,
            compat: Compat::Twemproxy,
            distribution: Distribution::Ketama,
            eject: false,
            failure_limit: 2,
            retry_timeout: Duration::from_secs(30),
        }
    }
}

impl Options {
    /// Parses `hash=NAME hash_tag=XY compat=… distribution=… eject=on|off failure_limit=N
    /// retry_timeout=TIME` words (any order, each at most once). TIME is nginx-style: `500ms`,
    /// `30s`, `1m`, `1h`; a bare number means seconds.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Options, String> {
        let mut o = Options::default();
        let mut hash = None;
        let mut seen: Vec<&str> = Vec::new();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| format!("option {w:?} is not NAME=VALUE"))?;
            if seen.contains(&k) {
                return Err(format!("option {k:?} given twice"));
            }
            seen.push(k);
            match k {
                "hash" => hash = Some(v.parse::<HashFn>()?),
                "hash_tag" => {
                    let b = v.as_bytes();
                    if b.len() != 2 {
                        return Err(format!(
                            "hash_tag {v:?} must be exactly two bytes, e.g. hash_tag={{}}"
                        ));
                    }
                    o.hash_tag = Some([b[0], b[1]]);
                }
                "compat" => {
                    o.compat = match v {
                        "twemproxy" => Compat::Twemproxy,
                        "libmemcached" => Compat::Libmemcached,
                        "libmemcached_weighted" => Compat::LibmemcachedWeighted,
                        _ => return Err(format!(
                            "unknown compat {v:?} (known: twemproxy, libmemcached, libmemcached_weighted)"
                        )),
                    }
                }
                "distribution" => {
                    o.distribution = match v {
                        "ketama" => Distribution::Ketama,
                        "modula" => Distribution::Modula,
                        "random" => Distribution::Random,
                        _ => {
                            return Err(format!(
                                "unknown distribution {v:?} (known: ketama, modula, random)"
                            ))
                        }
                    }
                }
                "eject" => {
                    o.eject = match v {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("eject={v:?}: expected on or off")),
                    }
                }
                "failure_limit" => {
                    o.failure_limit = match v.parse::<u32>() {
                        Ok(n) if n > 0 => n,
                        _ => {
                            return Err(format!(
                                "failure_limit={v:?}: expected a whole number ≥ 1"
                            ))
                        }
                    }
                }
                "retry_timeout" => o.retry_timeout = parse_time(v)?,
                _ => {
                    return Err(format!(
                        "unknown option {k:?} (known: hash, hash_tag, compat, distribution, \
                         eject, failure_limit, retry_timeout)"
                    ))
                }
            }
        }
        o.hash = hash.unwrap_or(match o.compat {
            Compat::Twemproxy => HashFn::Fnv1a_64,
            Compat::Libmemcached => HashFn::OneAtATime,
            Compat::LibmemcachedWeighted => HashFn::Md5,
        });
        if o.compat != Compat::Twemproxy {
            if o.hash_tag.is_some() {
                return Err(format!(
                    "hash_tag is a twemproxy feature; compat={} has none",
                    o.compat.name()
                ));
            }
            if o.distribution != Distribution::Ketama {
                return Err(format!(
                    "compat={} supports distribution=ketama only",
                    o.compat.name()
                ));
            }
        }
        Ok(o)
    }

    /// Checks a server list against these options (weights, names the mode cannot use).
    pub fn check_servers(&self, servers: &[Server]) -> Result<(), String> {
        if servers.is_empty() {
            return Err("no servers".into());
        }
        for s in servers {
            if self.compat != Compat::Twemproxy && s.name.is_some() {
                return Err(format!(
                    "server {}: names are a twemproxy feature; compat={} hashes host:port",
                    s.addr,
                    self.compat.name()
                ));
            }
            if self.compat == Compat::Libmemcached && s.weight != 1 {
                return Err(format!(
                    "server {}: weight {} with compat=libmemcached (non-weighted ketama ignores \
                     weights); use compat=libmemcached_weighted",
                    s.addr, s.weight
                ));
            }
        }
        Ok(())
    }
}

/// nginx-style time: `500ms`, `30s`, `2m`, `1h`, bare number = seconds.
pub fn parse_time(v: &str) -> Result<Duration, String> {
    let bad = || format!("time {v:?}: expected a number with ms, s, m or h (e.g. 30s)");
    let (num, mult_ms) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = v.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (v, 1000)
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(mult_ms)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// One server: `host:port`, optional weight, optional continuum name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `host:port` as written.
    pub addr: String,
    pub host: String,
    pub port: u16,
    pub weight: u32,
    /// twemproxy's `name`: when given it is what the continuum hashes.
    pub name: Option<String>,
}

impl Server {
    /// `host:port`, `host:port:weight` or twemproxy's `host:port:weight name`.
    pub fn parse(line: &str) -> Result<Server, String> {
        let line = line.trim();
        let (spec, name) = match line.rsplit_once(' ') {
            Some((s, n)) if !n.is_empty() => (s.trim_end(), Some(n.to_owned())),
            _ => (line, None),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, port, weight) = match parts[..] {
            [h, p] => (h, p, "1"),
            [h, p, w] => (h, p, w),
            _ => {
                return Err(format!(
                    "server {line:?}: expected host:port[:weight] [name]"
                ))
            }
        };
        if host.is_empty() {
            return Err(format!("server {line:?}: empty host"));
        }
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("server {line:?}: bad port {port:?}")),
        };
        let weight: u32 = match weight.parse() {
            Ok(0) => return Err(format!("server {line:?}: weight 0 (must be ≥ 1)")),
            Ok(w) => w,
            Err(_) => return Err(format!("server {line:?}: bad weight {weight:?}")),
        };
        Ok(Server {
            addr: format!("{host}:{port}"),
            host: host.to_owned(),
            port,
            weight,
            name,
        })
    }

    /// The string the continuum hashes: the name if any (twemproxy), else `host` when the
    /// port is memcached's default 11211, else `host:port` — both writers drop the default
    /// port for compatibility with old libmemcached rings.
    pub fn node_string(&self, compat: Compat) -> String {
        match (&self.name, compat) {
            (Some(n), Compat::Twemproxy) => n.clone(),
            _ if self.port == 11211 => self.host.clone(),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_options() {
        let o = Options::parse(
            "hash=md5 hash_tag={} compat=twemproxy distribution=modula eject=on \
             failure_limit=3 retry_timeout=500ms"
                .split_whitespace(),
        )
        .unwrap();
        assert_eq!(o.hash, HashFn::Md5);
        assert_eq!(o.hash_tag, Some(*b"{}"));
        assert_eq!(o.distribution, Distribution::Modula);
        assert!(o.eject);
        assert_eq!(o.failure_limit, 3);
        assert_eq!(o.retry_timeout, Duration::from_millis(500));
        let o = Options::parse(["compat=libmemcached"]).unwrap();
        assert_eq!(o.hash, HashFn::OneAtATime);
        let o = Options::parse(["compat=libmemcached_weighted"]).unwrap();
        assert_eq!(o.hash, HashFn::Md5);
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let err = |s: &str| Options::parse(s.split_whitespace()).unwrap_err();
        assert!(err("hash=fnv").contains("unknown hash \"fnv\""));
        assert!(err("hash_tag={").contains("exactly two bytes"));
        assert!(err("hash_tag={{}").contains("exactly two bytes"));
        assert!(err("compat=php").contains("unknown compat"));
        assert!(err("eject=yes").contains("on or off"));
        assert!(err("failure_limit=0").contains("≥ 1"));
        assert!(err("retry_timeout=5x").contains("time \"5x\""));
        assert!(err("hash=md5 hash=md5").contains("twice"));
        assert!(err("colour=red").contains("unknown option"));
        assert!(err("compat=libmemcached hash_tag={}").contains("twemproxy feature"));
    }

    #[test]
    fn server_lines() {
        let s = Server::parse("10.0.0.1:11211:3 shard-a").unwrap();
        assert_eq!((s.port, s.weight), (11211, 3));
        assert_eq!(s.node_string(Compat::Twemproxy), "shard-a");
        assert_eq!(s.node_string(Compat::LibmemcachedWeighted), "10.0.0.1");
        let s = Server::parse("127.0.0.1:19601").unwrap();
        assert_eq!(s.node_string(Compat::Twemproxy), "127.0.0.1:19601");
        assert!(Server::parse("h:1:0").unwrap_err().contains("weight 0"));
        assert!(Server::parse("h:x").unwrap_err().contains("bad port"));
        assert!(Server::parse("h").unwrap_err().contains("host:port"));
        let o = Options::parse(["compat=libmemcached"]).unwrap();
        let e = o
            .check_servers(&[Server::parse("h:1:2").unwrap()])
            .unwrap_err();
        assert!(e.contains("weight 2"), "{e}");
    }
}

//! Continuum construction and lookup, per writer.

use crate::config::{Compat, Distribution, Options, Server};
use crate::hash::{md5_words, HashFn};

/// Why a key has no server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocateError {
    /// Every server is ejected (twemproxy answers such requests with an error too).
    NoLiveServer,
    /// `distribution=random` places each request on a random server: a reader cannot know
    /// where a writer put a key, so there is nothing to agree with. Use `locate_random`.
    Random,
}

impl std::fmt::Display for LocateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LocateError::NoLiveServer => "no live server in the ring (all ejected)",
            LocateError::Random => {
                "distribution random has no key placement (each request goes to any server)"
            }
        })
    }
}

/// A ring over the live subset of a server list. Indexes returned are into the full list.
#[derive(Debug, Clone)]
pub struct Ring {
    dist: Distribution,
    hash: HashFn,
    hash_tag: Option<[u8; 2]>,
    compat: Compat,
    nservers: usize,
    /// Ketama: sorted (point, server). Modula and random: value unused, one entry per slot.
    points: Vec<(u32, usize)>,
}

impl Ring {
    /// Builds the ring; `live[i] == false` leaves server i out (ejected).
    pub fn build(servers: &[Server], opts: &Options, live: &[bool]) -> Ring {
        let is_live = |i: usize| live.get(i).copied().unwrap_or(true);
        let alive: Vec<usize> = (0..servers.len()).filter(|&i| is_live(i)).collect();
        let mut points = Vec::new();
        match (opts.distribution, opts.compat) {
            (Distribution::Ketama, Compat::Libmemcached) => {
                // 100 points per server, one per hash, hashed with the key hash.
                for &i in &alive {
                    let node = servers[i].node_string(opts.compat);
                    for p in 0..100u32 {
                        let v = opts.hash.hash(format!("{node}-{p}").as_bytes());
                        points.push((v, i));
                    }
                }
            }
            (Distribution::Ketama, _) => {
                let total: u64 = alive.iter().map(|&i| servers[i].weight as u64).sum();
                for &i in &alive {
                    let node = servers[i].node_string(opts.compat);
                    let n = ketama_points(servers[i].weight, total, alive.len());
                    for p in 0..n / 4 {
                        for v in md5_words(format!("{node}-{p}").as_bytes()) {
                            points.push((v, i));
                        }
                    }
                }
            }
            (Distribution::Modula, _) => {
                for &i in &alive {
                    points.extend((0..servers[i].weight).map(|_| (0, i)));
                }
            }
            (Distribution::Random, _) => points.extend(alive.iter().map(|&i| (0, i))),
        }
        if opts.distribution == Distribution::Ketama {
            // libmemcached breaks ties by server index; twemproxy's qsort leaves them in an
            // unspecified order (MD5 ties are rare enough not to matter).
            points.sort_unstable();
        }
        Ring {
            dist: opts.distribution,
            hash: opts.hash,
            hash_tag: opts.hash_tag,
            compat: opts.compat,
            nservers: servers.len(),
            points,
        }
    }

    /// Number of points (ketama) or slots (modula, random) in the ring.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Points per server index, for inspection and tests.
    pub fn points_of(&self, server: usize) -> usize {
        self.points.iter().filter(|p| p.1 == server).count()
    }

    /// The key's hash as the writer computes it (after hash_tag), before the ring lookup.
    pub fn key_hash(&self, key: &[u8]) -> u32 {
        let key = self.tagged(key);
        match self.compat {
            Compat::Twemproxy if key.is_empty() => 0,
            _ => self.hash.hash(key),
        }
    }

    fn tagged<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        let Some([open, close]) = self.hash_tag else {
            return key;
        };
        let Some(s) = key.iter().position(|&b| b == open) else {
            return key;
        };
        match key[s + 1..].iter().position(|&b| b == close) {
            Some(len) if len > 0 => &key[s + 1..s + 1 + len],
            _ => key,
        }
    }

    /// The index (into the configured server list) of the server holding `key`.
    pub fn locate(&self, key: &[u8]) -> Result<usize, LocateError> {
        if self.points.is_empty() {
            return Err(LocateError::NoLiveServer);
        }
        if self.dist == Distribution::Random {
            return Err(LocateError::Random);
        }
        if self.nservers == 1 {
            return Ok(self.points[0].1);
        }
        let h = self.key_hash(key);
        Ok(match self.dist {
            Distribution::Modula => self.points[(h as usize) % self.points.len()].1,
            _ => {
                let at = self.points.partition_point(|p| p.0 < h);
                self.points.get(at).unwrap_or(&self.points[0]).1
            }
        })
    }

    /// `distribution=random`: the server for a request, from a random number the caller draws.
    pub fn locate_random(&self, r: u32) -> Result<usize, LocateError> {
        if self.points.is_empty() {
            return Err(LocateError::NoLiveServer);
        }
        Ok(self.points[(r as usize) % self.points.len()].1)
    }
}

/// Points of one server in the weighted continuum: 160 per server for equal weights, else in
/// proportion, rounded down to a multiple of 4 — computed in `float` as both writers do, so
/// that the rounding matches theirs.
pub fn ketama_points(weight: u32, total_weight: u64, nlive: usize) -> u32 {
    if total_weight == 0 {
        return 0;
    }
    let pct = weight as f32 / total_weight as f32;
    let x = pct * 160.0 / 4.0 * nlive as f32;
    let x = (x as f64 + 0.000_000_000_1) as f32;
    (x.floor() as u32) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three(compat: Compat, hash: HashFn) -> (Vec<Server>, Options) {
        let servers = (1..=3)
            .map(|i| Server::parse(&format!("127.0.0.1:1132{i}")).unwrap())
            .collect();
        let opts = Options {
            compat,
            hash,
            ..Options::default()
        };
        (servers, opts)
    }

    #[test]
    fn spec_5_8_placements() {
        let cafe = "/images/café/1.png".as_bytes();
        let (s, o) = three(Compat::Twemproxy, HashFn::Fnv1a_64);
        let r = Ring::build(&s, &o, &[]);
        assert_eq!(r.len(), 480);
        assert_eq!(r.points[0], (0x0050_9b4d, 0));
        assert_eq!(r.locate(b"key0"), Ok(1));
        assert_eq!(r.locate(b"/img/1.jpg"), Ok(1));
        assert_eq!(r.locate(cafe), Ok(2));
        let (s, o) = three(Compat::Twemproxy, HashFn::Md5);
        let r = Ring::build(&s, &o, &[]);
        assert_eq!(r.locate(b"key0"), Ok(2));
        assert_eq!(r.locate(b"/img/1.jpg"), Ok(0));
        assert_eq!(r.locate(cafe), Ok(0));
        let (s, mut o) = three(Compat::Twemproxy, HashFn::Fnv1a_64);
        o.distribution = Distribution::Modula;
        let r = Ring::build(&s, &o, &[]);
        assert_eq!(r.locate(b"key0"), Ok(1));
        assert_eq!(r.locate(b"/img/1.jpg"), Ok(0));
        assert_eq!(r.locate(cafe), Ok(0));
    }

    #[test]
    fn weights_2_3_1_give_160_240_80_points() {
        let s: Vec<Server> = ["a:1:2", "b:1:3", "c:1:1"]
            .iter()
            .map(|l| Server::parse(l).unwrap())
            .collect();
        let r = Ring::build(&s, &Options::default(), &[]);
        assert_eq!(
            (r.points_of(0), r.points_of(1), r.points_of(2)),
            (160, 240, 80)
        );
    }

    #[test]
    fn hash_tag_hashes_the_span_only_when_non_empty() {
        let (s, mut o) = three(Compat::Twemproxy, HashFn::Fnv1a_64);
        o.hash_tag = Some(*b"{}");
        let r = Ring::build(&s, &o, &[]);
        assert_eq!(r.key_hash(b"user:{42}:a"), HashFn::Fnv1a_64.hash(b"42"));
        assert_eq!(r.key_hash(b"a{}b"), HashFn::Fnv1a_64.hash(b"a{}b"));
        assert_eq!(r.key_hash(b"a{b"), HashFn::Fnv1a_64.hash(b"a{b"));
    }

    #[test]
    fn ejected_server_gets_no_keys_and_others_keep_theirs() {
        let (s, o) = three(Compat::Twemproxy, HashFn::Fnv1a_64);
        let full = Ring::build(&s, &o, &[]);
        let part = Ring::build(&s, &o, &[true, false, true]);
        for i in 0..2000 {
            let k = format!("/k/{i}");
            let (a, b) = (full.locate(k.as_bytes()), part.locate(k.as_bytes()));
            assert_ne!(b, Ok(1));
            if a != Ok(1) {
                assert_eq!(a, b, "{k} moved although its server stayed");
            }
        }
        let none = Ring::build(&s, &o, &[false, false, false]);
        assert_eq!(none.locate(b"x"), Err(LocateError::NoLiveServer));
    }
}

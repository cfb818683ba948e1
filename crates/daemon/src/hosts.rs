//! `allow_hosts` rules, shared by the daemons' configurations.

use std::net::IpAddr;

/// One `allow_hosts` entry: `*`, an address, or `addr/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    Any,
    Net { addr: IpAddr, prefix: u8 },
}

impl HostRule {
    pub fn parse(s: &str) -> Result<HostRule, String> {
        let s = s.trim();
        if s == "*" {
            return Ok(HostRule::Any);
        }
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("bad address {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("bad prefix in {s:?}"))?,
            None => max,
        };
        Ok(HostRule::Net { addr, prefix })
    }

    pub fn matches(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self, ip) {
            (HostRule::Any, _) => true,
            (
                HostRule::Net {
                    addr: IpAddr::V4(n),
                    prefix,
                },
                IpAddr::V4(i),
            ) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(i) & mask
            }
            (
                HostRule::Net {
                    addr: IpAddr::V6(n),
                    prefix,
                },
                IpAddr::V6(i),
            ) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

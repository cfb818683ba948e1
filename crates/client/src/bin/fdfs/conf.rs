//! Where the trackers are: `--tracker` flags, else `tracker_server` lines of a FastDFS
//! `client.conf` (the same file the stock tools read).

use std::path::Path;
use std::time::Duration;

use fdfs_client::ClientOptions;

const DEFAULT_CONF: &str = "/etc/fdfs/client.conf";

pub fn resolve(
    flags: &[String],
    config: Option<&Path>,
) -> Result<(Vec<String>, ClientOptions), String> {
    let mut opts = ClientOptions::default();
    let mut from_file = Vec::new();
    if let Some(p) = path(flags, config) {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        from_file =
            parse(&text, &mut opts).map_err(|(line, e)| format!("{}:{line}: {e}", p.display()))?;
    }
    let trackers = if flags.is_empty() {
        from_file
    } else {
        flags.to_vec()
    };
    if trackers.is_empty() {
        return Err(format!(
            "no tracker: pass --tracker host:port or --config FILE (or create {DEFAULT_CONF})"
        ));
    }
    for t in &trackers {
        check_addr(t)?;
    }
    Ok((trackers, opts))
}

/// The config file to read: --config, else the default one when no --tracker is given.
pub fn path<'a>(flags: &[String], config: Option<&'a Path>) -> Option<&'a Path> {
    match config {
        Some(p) => Some(p),
        None if flags.is_empty() && Path::new(DEFAULT_CONF).exists() => {
            Some(Path::new(DEFAULT_CONF))
        }
        None => None,
    }
}

fn check_addr(t: &str) -> Result<(), String> {
    match t.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0) => Ok(()),
        _ => Err(format!("tracker {t:?} is not host:port")),
    }
}

/// `key = value` lines, `#` comments; unknown keys are ignored as the C client does.
/// Errors carry the 1-based line.
fn parse(text: &str, opts: &mut ClientOptions) -> Result<Vec<String>, (usize, String)> {
    let mut trackers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err((n + 1, format!("expected key = value, not {line:?}")));
        };
        let (k, v) = (k.trim(), v.trim());
        let secs = || {
            v.parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| (n + 1, format!("{k} must be a number of seconds, not {v:?}")))
        };
        match k {
            // "ip1,ip2:port" (inner and outer address): the first one is used.
            "tracker_server" => {
                let bad = || (n + 1, format!("tracker_server {v:?} is not host:port"));
                let (hosts, port) = v.rsplit_once(':').ok_or_else(bad)?;
                let host = hosts.split(',').next().unwrap_or(hosts).trim();
                let addr = format!("{host}:{}", port.trim());
                check_addr(&addr).map_err(|_| bad())?;
                trackers.push(addr);
            }
            "connect_timeout" => opts.connect_timeout = secs()?,
            "network_timeout" => opts.network_timeout = secs()?,
            _ => {}
        }
    }
    Ok(trackers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_conf() {
        let mut o = ClientOptions::default();
        let t = parse(
            "# c\nconnect_timeout = 3\nnetwork_timeout=9\ntracker_server = 10.0.0.1,1.2.3.4:22122\ntracker_server=h:1\nbase_path=/x\n",
            &mut o,
        )
        .unwrap();
        assert_eq!(t, ["10.0.0.1:22122", "h:1"]);
        assert_eq!(o.connect_timeout, Duration::from_secs(3));
        assert_eq!(o.network_timeout, Duration::from_secs(9));
        assert!(parse("tracker_server = nope", &mut o).is_err());
        assert!(parse("connect_timeout = x", &mut o).is_err());
        assert!(check_addr("h:0").is_err());
        assert!(check_addr("h:22122").is_ok());
    }
}

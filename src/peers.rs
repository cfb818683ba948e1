//! Directives of the not-yet-synced fallback: `fastdfs_peer`, `fastdfs_response_mode`,
//! `fastdfs_sync_max_delay`, `fastdfs_proxy_location`.

use std::net::Ipv4Addr;

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::NGX_LOG_EMERG;
use ngx::ngx_conf_log_error;

use crate::conf::{directive, set_seconds, LocConf};
use crate::fallback::{Mode, Peer};

directive!(set_peer, |cf, args, lc| {
    let group = std::str::from_utf8(args[1].as_bytes())
        .ok()
        .filter(|g| fdfs_proto::fileid::validate_group_name(g.as_bytes()).is_ok());
    let ip = std::str::from_utf8(args[2].as_bytes())
        .ok()
        .and_then(|s| s.parse::<Ipv4Addr>().ok());
    let (Some(group), Some(ip)) = (group, ip) else {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_peer: expected GROUP IPV4 [HOST:PORT], got \"{}\" \"{}\"",
            args[1],
            args[2]
        );
        return NGX_CONF_ERROR;
    };
    let addr = match args.get(3) {
        Some(a) => {
            let a = String::from_utf8_lossy(a.as_bytes()).into_owned();
            let valid = a
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
            if !valid {
                ngx_conf_log_error!(
                    NGX_LOG_EMERG,
                    cf,
                    "fastdfs_peer: \"{}\" is not HOST:PORT",
                    a
                );
                return NGX_CONF_ERROR;
            }
            Some(a)
        }
        None => None,
    };
    lc.peers.get_or_insert_with(Vec::new).push(Peer {
        group: group.to_owned(),
        ip,
        addr,
    });
    NGX_CONF_OK
});

directive!(set_response_mode, |cf, args, lc| {
    if lc.response_mode.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    lc.response_mode = Some(match args[1].as_bytes() {
        b"proxy" => Mode::Proxy,
        b"redirect" => Mode::Redirect,
        _ => {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "fastdfs_response_mode: \"{}\" is neither \"proxy\" nor \"redirect\"",
                args[1]
            );
            return NGX_CONF_ERROR;
        }
    });
    NGX_CONF_OK
});

directive!(set_sync_max_delay, |cf, _args, lc| {
    // SAFETY: cf is this directive's valid configuration.
    unsafe { set_seconds(cf, &mut lc.sync_max_delay, 0) }
});

directive!(set_proxy_location, |cf, args, lc| {
    if lc.proxy_location.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    let name = args[1].as_bytes();
    if name.len() < 2 || name[0] != b'@' {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_proxy_location: \"{}\" is not a named location (@name)",
            args[1]
        );
        return NGX_CONF_ERROR;
    }
    lc.proxy_location = Some(name.to_vec());
    NGX_CONF_OK
});

/// Inherits the fallback settings from the enclosing level.
pub fn merge(lc: &mut LocConf, prev: &LocConf) {
    if lc.peers.is_none() {
        lc.peers.clone_from(&prev.peers);
    }
    if lc.response_mode.is_none() {
        lc.response_mode = prev.response_mode;
    }
    if lc.sync_max_delay.is_none() {
        lc.sync_max_delay = prev.sync_max_delay;
    }
    if lc.proxy_location.is_none() {
        lc.proxy_location.clone_from(&prev.proxy_location);
    }
}

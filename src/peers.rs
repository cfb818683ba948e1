//! Directives of the not-yet-synced fallback: `fastdfs_peer`, `fastdfs_response_mode`,
//! `fastdfs_sync_max_delay`, `fastdfs_proxy_location`.

use std::ffi::{c_char, c_void};
use std::net::Ipv4Addr;

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_command_t, ngx_conf_t, ngx_parse_time, NGX_ERROR, NGX_LOG_EMERG};
use ngx::ngx_conf_log_error;

use crate::conf::{args, loc_conf, LocConf};
use crate::fallback::{Mode, Peer};

macro_rules! setter {
    ($name:ident, |$cf:ident, $args:ident, $lc:ident| $body:block) => {
        pub unsafe extern "C" fn $name(
            $cf: *mut ngx_conf_t,
            _cmd: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: called by nginx with valid pointers for this directive.
            let ($lc, $args) = unsafe { (loc_conf(conf), args($cf)) };
            $body
        }
    };
}

setter!(set_peer, |cf, args, lc| {
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

setter!(set_response_mode, |cf, args, lc| {
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

setter!(set_sync_max_delay, |cf, args, lc| {
    if lc.sync_max_delay.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    let mut value = args[1];
    // SAFETY: value points into the configuration buffer, valid during the call.
    let secs = unsafe { ngx_parse_time(&mut value, 1) };
    if secs == NGX_ERROR as isize || secs < 0 {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_sync_max_delay: \"{}\" is not a time (e.g. 86400 or 1d)",
            args[1]
        );
        return NGX_CONF_ERROR;
    }
    lc.sync_max_delay = Some(secs as i64);
    NGX_CONF_OK
});

setter!(set_proxy_location, |cf, args, lc| {
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

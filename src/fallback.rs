//! Files not (yet) on this storage: FastDFS replicates asynchronously, so a fresh upload may be
//! asked for on a member that has not received it. Such requests go to a member that has it,
//! either by a 302 (`redirect` mode) or through nginx's own proxy in a named location (`proxy`
//! mode). Unlike fastdfs-nginx-module, the target is always a configured member of the file's
//! group: a crafted file ID naming any other address gets a 404, and no connection is made.

use std::net::Ipv4Addr;
use std::sync::OnceLock;

use fdfs_proto::fileid::{self, Source};
use ngx::ffi::{
    ngx_http_named_location, ngx_http_request_t, ngx_list_push, ngx_str_t, ngx_table_elt_t,
    NGX_DONE, NGX_HTTP_BAD_GATEWAY, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_MOVED_TEMPORARILY,
    NGX_HTTP_NOT_FOUND, NGX_LOG_ERR, NGX_LOG_INFO, NGX_LOG_WARN,
};

use crate::conf::LocConf;
use crate::ctx::{Ctx, Decision, MAX_CANDIDATES};
use crate::handler::{copy_to_pool, log, status, Status};
use crate::token::arg;

/// `fastdfs_response_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Proxy,
    Redirect,
}

/// `fastdfs_peer GROUP IP [HOST:PORT]`: a member of GROUP whose file IDs carry IP.
#[derive(Debug, Clone)]
pub struct Peer {
    pub group: String,
    pub ip: Ipv4Addr,
    /// Its HTTP address; `None` means IP with this request's port.
    pub addr: Option<String>,
}

/// Default `fastdfs_sync_max_delay`: FastDFS's `storage_sync_file_max_delay`.
pub const DEFAULT_MAX_DELAY: i64 = 86_400;
/// Default `fastdfs_proxy_location`.
pub const DEFAULT_PROXY_LOCATION: &str = "@fastdfs_peer";

/// This host's IPv4 addresses, read once per worker: a file whose source is one of them and is
/// missing was lost here, so only the other members can have it.
fn local_ips() -> &'static [Ipv4Addr] {
    static IPS: OnceLock<Vec<Ipv4Addr>> = OnceLock::new();
    IPS.get_or_init(|| {
        let mut out = vec![Ipv4Addr::LOCALHOST];
        let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: getifaddrs fills a list we free with freeifaddrs; we only read sockaddr_in
        // entries whose family says they are AF_INET.
        unsafe {
            if libc::getifaddrs(&mut ifap) == 0 {
                let mut cur = ifap;
                while !cur.is_null() {
                    let addr = (*cur).ifa_addr;
                    if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                        let sin = addr.cast::<libc::sockaddr_in>();
                        out.push(Ipv4Addr::from(u32::from_be((*sin).sin_addr.s_addr)));
                    }
                    cur = (*cur).ifa_next;
                }
                libc::freeifaddrs(ifap);
            }
        }
        out
    })
}

/// What the handler knows about a file it could not serve from disk.
pub struct Missing<'a> {
    /// Group of the file (from the URL, or the location's group).
    pub group: &'a str,
    /// `Mxx/HH/HH/<name>`.
    pub logical: &'a str,
    /// The URL names a group this host does not store.
    pub other_group: bool,
}

/// Decides between 404, a 302 and a proxied attempt for a file that is not here.
pub fn not_here(r: &mut ngx_http_request_t, lc: &LocConf, ctx: &mut Ctx, m: Missing<'_>) -> Status {
    let not_found = |ctx: &mut Ctx| {
        ctx.decision = Decision::NotFound;
        status(NGX_HTTP_NOT_FOUND)
    };
    if arg(r, b"redirect").is_some() {
        log(
            r,
            NGX_LOG_INFO,
            0,
            "fastdfs: file not here and the request was already redirected (redirect=1)",
        );
        return not_found(ctx);
    }
    let Ok(id) = fileid::parse_logical_name(m.logical.as_bytes()) else {
        return not_found(ctx);
    };
    let decoded = id.decode();
    let Source::Ipv4(source) = decoded.source else {
        log(
            r,
            NGX_LOG_INFO,
            0,
            "fastdfs: file ID names a storage id, not an address; not proxied",
        );
        return not_found(ctx);
    };
    let local = local_ips();
    let own = local.contains(&source);
    if !m.other_group {
        // SAFETY: ngx_cached_time always points at a valid ngx_time_t in a running worker.
        let now = unsafe { (*ngx::ffi::ngx_cached_time).sec };
        let max_delay = lc.sync_max_delay.unwrap_or(DEFAULT_MAX_DELAY);
        if now - i64::from(decoded.create_timestamp) > max_delay {
            return not_found(ctx);
        }
    }
    let peers = lc.peers.as_deref().unwrap_or_default();
    let in_group = || peers.iter().filter(|p| p.group == m.group);
    // A file this host uploaded and no longer has (its store was wiped and is being refilled)
    // is on the members it was synced to: ask them.
    if !own && !in_group().any(|p| p.ip == source) {
        let msg = format!(
            "fastdfs: source {source} of the file is not a configured member of {} (fastdfs_peer); not proxied",
            m.group
        );
        log(r, NGX_LOG_WARN, 0, &msg);
        return not_found(ctx);
    }
    let ordered = in_group()
        .filter(|p| p.ip == source && !own)
        .chain(in_group().filter(|p| p.ip != source && !local.contains(&p.ip)));
    let port = local_port(r);
    ctx.count = 0;
    ctx.unreachable = false;
    for peer in ordered.take(MAX_CANDIDATES) {
        let addr = match &peer.addr {
            Some(a) => a.clone(),
            None => format!("{}:{port}", peer.ip),
        };
        let Some(s) = copy_str(r, &addr) else {
            return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
        };
        ctx.candidates[usize::from(ctx.count)] = s;
        ctx.count += 1;
    }
    if ctx.count == 0 {
        log(
            r,
            NGX_LOG_INFO,
            0,
            &format!("fastdfs: file of this host is missing and {} has no other member configured (fastdfs_peer)", m.group),
        );
        return not_found(ctx);
    }
    ctx.next = 0;
    match lc.response_mode.unwrap_or(Mode::Proxy) {
        Mode::Redirect => redirect(r, ctx),
        Mode::Proxy => {
            ctx.decision = Decision::Proxy;
            proxy(r, lc, ctx)
        }
    }
}

/// Called again (from the location named in `error_page` after a failed attempt): next member.
/// A member's 404 moves on like a failure does (it may lag as this host does), but only a
/// search where every member answered 404 ends in 404.
pub fn next_attempt(r: &mut ngx_http_request_t, lc: &LocConf, ctx: &mut Ctx) -> Status {
    let answered = last_upstream_status(r, ctx.states_before);
    let peer = ctx
        .candidates
        .get(usize::from(ctx.next))
        .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned())
        .unwrap_or_default();
    if answered == Some(NGX_HTTP_NOT_FOUND as usize) {
        log(
            r,
            NGX_LOG_INFO,
            0,
            &format!("fastdfs: group member {peer} does not have the file (404) either"),
        );
    } else {
        ctx.unreachable = true;
    }
    ctx.next += 1;
    if ctx.next >= ctx.count {
        if !ctx.unreachable {
            log(
                r,
                NGX_LOG_WARN,
                0,
                "fastdfs: no group member has the file (every one answered 404)",
            );
            ctx.decision = Decision::NotFound;
            return status(NGX_HTTP_NOT_FOUND);
        }
        log(
            r,
            NGX_LOG_ERR,
            0,
            "fastdfs: every group member failed for a file not synced here (none had it, some could not be asked)",
        );
        ctx.decision = Decision::PeersFailed;
        return status(NGX_HTTP_BAD_GATEWAY);
    }
    proxy(r, lc, ctx)
}

/// The status the proxy recorded for the attempt that started with `before` upstream states.
fn last_upstream_status(r: &ngx_http_request_t, before: usize) -> Option<usize> {
    let states = r.upstream_states;
    if states.is_null() {
        return None;
    }
    // SAFETY: upstream_states is the request's array of ngx_http_upstream_state_t, appended by
    // the upstream module and never shrunk.
    unsafe {
        let n = (*states).nelts;
        if n <= before {
            return None;
        }
        let all = (*states).elts.cast::<ngx::ffi::ngx_http_upstream_state_t>();
        Some((*all.add(n - 1)).status)
    }
}

fn upstream_states_len(r: &ngx_http_request_t) -> usize {
    if r.upstream_states.is_null() {
        0
    } else {
        // SAFETY: a non-NULL upstream_states is the request's valid ngx_array_t.
        unsafe { (*r.upstream_states).nelts }
    }
}

fn proxy(r: &mut ngx_http_request_t, lc: &LocConf, ctx: &mut Ctx) -> Status {
    ctx.states_before = upstream_states_len(r);
    let name = lc
        .proxy_location
        .as_deref()
        .unwrap_or(DEFAULT_PROXY_LOCATION.as_bytes());
    let mut name = ngx_str_t {
        len: name.len(),
        data: name.as_ptr().cast_mut(),
    };
    let peer =
        String::from_utf8_lossy(ctx.candidates[usize::from(ctx.next)].as_bytes()).into_owned();
    log(
        r,
        NGX_LOG_INFO,
        0,
        &format!("fastdfs: file not here yet, proxying to group member {peer}"),
    );
    // SAFETY: a content handler may hand the request to a named location; nginx takes over and
    // we return NGX_DONE as its own modules do. The name lives in the configuration.
    let rc = unsafe { ngx_http_named_location(r, &mut name) };
    if rc == NGX_DONE as isize {
        NGX_DONE as isize
    } else {
        rc
    }
}

fn redirect(r: &mut ngx_http_request_t, ctx: &mut Ctx) -> Status {
    ctx.decision = Decision::Redirect;
    let peer = ctx.candidates[0].as_bytes();
    let mut location = Vec::with_capacity(peer.len() + r.unparsed_uri.len + 24);
    location.extend_from_slice(b"http://");
    location.extend_from_slice(peer);
    location.extend_from_slice(&peer_uri(r));
    location.push(0);
    let Some(value) = copy_to_pool(r, &location) else {
        return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
    };
    // SAFETY: headers_out.headers is the request's list; the element is filled before use and
    // its strings live in the request pool or are static.
    unsafe {
        let h = ngx_list_push(&mut r.headers_out.headers).cast::<ngx_table_elt_t>();
        if h.is_null() {
            return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
        }
        // Zeroing also clears `next`, a field nginx 1.23+ has and 1.22 does not.
        std::ptr::write_bytes(h, 0, 1);
        (*h).hash = 1;
        (*h).key = ngx_str_t {
            len: 8,
            data: c"Location".as_ptr().cast_mut().cast(),
        };
        (*h).value = value;
        (*h).lowcase_key = c"location".as_ptr().cast_mut().cast();
        r.headers_out.location = h;
    }
    status(NGX_HTTP_MOVED_TEMPORARILY)
}

/// The original URI with `redirect=1` added: the loop guard the peer checks.
pub fn peer_uri(r: &ngx_http_request_t) -> Vec<u8> {
    let uri = r.unparsed_uri.as_bytes();
    let mut out = Vec::with_capacity(uri.len() + 11);
    out.extend_from_slice(uri);
    out.extend_from_slice(if uri.contains(&b'?') {
        b"&redirect=1"
    } else {
        b"?redirect=1"
    });
    out
}

fn local_port(r: &ngx_http_request_t) -> u16 {
    // SAFETY: the connection's local address is set for accepted connections (nginx fills it
    // on demand in ngx_connection_local_sockaddr; listen sockets always have it).
    unsafe {
        let c = r.connection;
        let mut s = ngx_str_t::default();
        if ngx::ffi::ngx_connection_local_sockaddr(c, &mut s, 0) != 0 {
            return 80;
        }
        let sa = (*c).local_sockaddr;
        if !sa.is_null() && i32::from((*sa).sa_family) == libc::AF_INET {
            return u16::from_be((*sa.cast::<libc::sockaddr_in>()).sin_port);
        }
    }
    80
}

fn copy_str(r: &mut ngx_http_request_t, s: &str) -> Option<ngx_str_t> {
    let mut bytes = s.as_bytes().to_vec();
    bytes.push(0);
    copy_to_pool(r, &bytes)
}

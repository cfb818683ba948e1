//! Anti-steal tokens (`?token=...&ts=...`) as fastdfs-nginx-module checks them; the digest and
//! expiry rule live in `fdfs_proto::token`, this file wires directives and the request check.

use fdfs_proto::token::{check_token, TokenPolicy};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_http_arg, ngx_http_request_t, ngx_str_t, NGX_LOG_EMERG, NGX_OK};
use ngx::ngx_conf_log_error;

use crate::conf::{directive, set_flag, set_seconds};

/// FastDFS limits `http.anti_steal.secret_key` to 128 bytes.
const MAX_SECRET_LEN: usize = 128;
/// `http.anti_steal.token_ttl` default in the C code.
const DEFAULT_TTL: i64 = 600;

/// Token settings of one configuration level; `None` inherits.
#[derive(Debug, Default, Clone)]
pub struct TokenConf {
    pub enabled: Option<bool>,
    pub secret: Option<Vec<u8>>,
    pub ttl: Option<i64>,
    pub never_expire: Option<bool>,
    /// NUL-terminated path of the file served with 200 instead of the 403.
    pub fail_file: Option<Vec<u8>>,
    /// Header name (lowercase) and value that skip the check (fastdfs-nginx-module v1.27).
    pub bypass: Option<(Vec<u8>, Vec<u8>)>,
    /// Built by `validate` when tokens are on.
    pub policy: Option<TokenPolicy>,
}

impl TokenConf {
    pub fn merge(&mut self, prev: &TokenConf) {
        fn inherit<T: Clone>(slot: &mut Option<T>, prev: &Option<T>) {
            if slot.is_none() {
                slot.clone_from(prev);
            }
        }
        inherit(&mut self.enabled, &prev.enabled);
        inherit(&mut self.secret, &prev.secret);
        inherit(&mut self.ttl, &prev.ttl);
        inherit(&mut self.never_expire, &prev.never_expire);
        inherit(&mut self.fail_file, &prev.fail_file);
        inherit(&mut self.bypass, &prev.bypass);
    }

    /// Checks the merged settings and prepares the policy the request check uses.
    pub fn validate(&mut self) -> Result<(), String> {
        self.policy = None;
        if self.enabled != Some(true) {
            return Ok(());
        }
        let Some(secret) = &self.secret else {
            return Err("\"fastdfs_token on\" needs \"fastdfs_token_secret\"".into());
        };
        let mut policy = TokenPolicy::new(secret.clone(), self.ttl.unwrap_or(DEFAULT_TTL));
        policy.allow_never_expiring = self.never_expire == Some(true);
        self.policy = Some(policy);
        Ok(())
    }
}

directive!(set_token, |cf, _args, lc| {
    let tc = &mut lc.token;
    // SAFETY: cf is this directive's valid conf.
    unsafe { set_flag(cf, &mut tc.enabled) }
});

directive!(set_never_expire, |cf, _args, lc| {
    let tc = &mut lc.token;
    // SAFETY: cf is this directive's valid conf.
    unsafe { set_flag(cf, &mut tc.never_expire) }
});

directive!(set_secret, |cf, args, lc| {
    let tc = &mut lc.token;
    if tc.secret.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    let secret = args[1].as_bytes();
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_token_secret: the secret must be 1 to {} bytes",
            MAX_SECRET_LEN
        );
        return NGX_CONF_ERROR;
    }
    tc.secret = Some(secret.to_vec());
    NGX_CONF_OK
});

directive!(set_ttl, |cf, _args, lc| {
    // SAFETY: cf is this directive's valid configuration.
    unsafe { set_seconds(cf, &mut lc.token.ttl, 1) }
});

directive!(set_fail_file, |cf, args, lc| {
    let tc = &mut lc.token;
    if tc.fail_file.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    let path = args[1].as_bytes();
    if path.first() != Some(&b'/') || path.contains(&0) {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_token_fail_file: \"{}\" must be an absolute path",
            args[1]
        );
        return NGX_CONF_ERROR;
    }
    let shown = String::from_utf8_lossy(path).into_owned();
    if !std::path::Path::new(&shown).is_file() {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_token_fail_file: \"{}\" is not a readable file",
            shown
        );
        return NGX_CONF_ERROR;
    }
    let mut with_nul = path.to_vec();
    with_nul.push(0);
    tc.fail_file = Some(with_nul);
    NGX_CONF_OK
});

directive!(set_bypass_header, |_cf, args, lc| {
    let tc = &mut lc.token;
    if tc.bypass.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    tc.bypass = Some((
        args[1].as_bytes().to_ascii_lowercase(),
        args[2].as_bytes().to_vec(),
    ));
    NGX_CONF_OK
});

/// Why a request's token was refused, for the log.
pub type Refusal = String;

/// Checks the request's `token` and `ts` against `logical_name` (no group).
pub fn check(
    r: &mut ngx_http_request_t,
    tc: &TokenConf,
    logical_name: &str,
) -> Result<(), Refusal> {
    let Some(policy) = &tc.policy else {
        return Ok(());
    };
    if let Some((name, value)) = &tc.bypass {
        if has_header(r, name, value) {
            return Ok(());
        }
    }
    let (Some(token), Some(ts)) = (arg(r, b"token"), arg(r, b"ts")) else {
        return Err("the URL has no token or no ts".into());
    };
    // SAFETY: ngx_cached_time always points at a valid ngx_time_t in a running worker.
    let now = unsafe { (*ngx::ffi::ngx_cached_time).sec };
    check_token(policy, logical_name.as_bytes(), token, ts, now).map_err(|e| e.to_string())
}

pub(crate) fn arg<'r>(r: &'r ngx_http_request_t, name: &[u8]) -> Option<&'r [u8]> {
    let mut value = ngx_str_t::default();
    let rp = r as *const ngx_http_request_t as *mut ngx_http_request_t;
    // SAFETY: ngx_http_arg only reads the name and r->args, and points value into r->args.
    let rc = unsafe { ngx_http_arg(rp, name.as_ptr().cast_mut(), name.len(), &mut value) };
    if rc != NGX_OK as isize || value.data.is_null() {
        return None;
    }
    // SAFETY: value points into r->args, which lives as long as the request borrow.
    Some(unsafe { std::slice::from_raw_parts(value.data, value.len) })
}

fn has_header(r: &ngx_http_request_t, name: &[u8], value: &[u8]) -> bool {
    // SAFETY: headers_in.headers is the request's valid header list.
    let headers = unsafe { ngx::http::list_iterator(&r.headers_in.headers) };
    headers
        .into_iter()
        .any(|(k, v)| k.as_bytes().eq_ignore_ascii_case(name) && ct_eq(v.as_bytes(), value))
}

/// Equality whose time does not depend on where the first difference is.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

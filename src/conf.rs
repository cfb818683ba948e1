//! Directives and the per-location configuration they build.

use std::ffi::{c_char, c_void, CString};
use std::os::fd::RawFd;

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    ngx_command_t, ngx_conf_t, ngx_pool_cleanup_add, ngx_str_t, NGX_LOG_EMERG, NGX_LOG_WARN,
};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};
use ngx::ngx_conf_log_error;

use crate::fallback::{Mode, Peer};
use crate::token::TokenConf;
use crate::{beneath, handler};

/// Highest store path index a FastDFS name can carry (`M%02X`).
const MAX_STORE_PATH_INDEX: usize = 255;

/// Configuration of one `http`, `server` or `location` level. `None` means "inherit".
#[derive(Debug, Default)]
pub struct LocConf {
    /// `ngx_fastdfs_module;` appears in this very location.
    pub enabled: bool,
    pub group: Option<String>,
    /// The store paths of each local group.
    pub stores: Option<Vec<GroupStore>>,
    pub url_have_group_name: Option<bool>,
    pub token: TokenConf,
    pub flv: Option<bool>,
    /// Without the dot; `flv` by default.
    pub flv_extension: Option<Vec<u8>>,
    /// Members of groups, for files not synced here yet (`fastdfs_peer`).
    pub peers: Option<Vec<Peer>>,
    pub response_mode: Option<Mode>,
    pub sync_max_delay: Option<i64>,
    /// `@name` of the location that proxies to a member.
    pub proxy_location: Option<Vec<u8>>,
}

/// `<store_path>/data` of one store path.
#[derive(Debug, Clone)]
pub struct DataDir {
    /// Without a trailing slash.
    pub path: Vec<u8>,
    /// An `O_PATH` handle opened at configuration time and closed with the configuration cycle;
    /// `None` when the directory could not be opened then.
    pub fd: Option<RawFd>,
}

/// The store paths of one group served from this host.
#[derive(Debug, Clone)]
pub struct GroupStore {
    /// `None`: the level's `fastdfs_group`.
    pub group: Option<String>,
    /// Index `i` is store path `M<i>`.
    pub dirs: Vec<Option<DataDir>>,
}

impl GroupStore {
    pub fn data_dir(&self, index: u8) -> Option<&DataDir> {
        self.dirs.get(usize::from(index))?.as_ref()
    }
}

impl LocConf {
    pub fn group_of<'a>(&'a self, store: &'a GroupStore) -> Option<&'a str> {
        store.group.as_deref().or(self.group.as_deref())
    }

    /// The local store of `url_group`, or of the default group when the URL carries none.
    pub fn store_for(&self, url_group: Option<&str>) -> Option<&GroupStore> {
        let stores = self.stores.as_ref()?;
        match url_group {
            Some(g) => stores.iter().find(|s| self.group_of(s) == Some(g)),
            None => stores
                .iter()
                .find(|s| s.group.is_none() || s.group == self.group)
                .or_else(|| stores.first()),
        }
    }

    /// Names of the groups stored here, for messages.
    pub fn local_groups(&self) -> String {
        let stores = self.stores.as_deref().unwrap_or_default();
        let names: Vec<&str> = stores.iter().filter_map(|s| self.group_of(s)).collect();
        names.join(", ")
    }

    pub fn url_have_group_name(&self) -> bool {
        self.url_have_group_name.unwrap_or(false)
    }
}

/// The arguments of the directive being parsed, name included.
///
/// # Safety
/// `cf` must be the valid `ngx_conf_t` nginx passes to a directive handler.
pub unsafe fn args<'a>(cf: *mut ngx_conf_t) -> &'a [ngx_str_t] {
    // SAFETY: during a directive callback `cf->args` is a valid array of ngx_str_t.
    unsafe { (*(*cf).args).as_slice() }
}

/// # Safety
/// `conf` must point to the `LocConf` nginx allocated for this level.
pub unsafe fn loc_conf<'a>(conf: *mut c_void) -> &'a mut LocConf {
    // SAFETY: nginx passes the pointer returned by our create_loc_conf for NGX_HTTP_LOC_CONF_OFFSET.
    unsafe { &mut *conf.cast::<LocConf>() }
}

fn arg_str(arg: &ngx_str_t) -> Option<&str> {
    std::str::from_utf8(arg.as_bytes()).ok()
}

pub unsafe extern "C" fn set_enable(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: called by nginx with valid pointers for this directive.
    let lc = unsafe { loc_conf(conf) };
    if lc.enabled {
        return c"is duplicate".as_ptr().cast_mut();
    }
    lc.enabled = true;
    // SAFETY: cf is valid; the core module's location conf exists at every location level.
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    clcf.handler = Some(handler::fastdfs_handler);
    NGX_CONF_OK
}

pub unsafe extern "C" fn set_group(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: called by nginx with valid pointers for this directive.
    let (lc, args) = unsafe { (loc_conf(conf), args(cf)) };
    if lc.group.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    let Some(name) =
        arg_str(&args[1]).filter(|n| fdfs_proto::fileid::validate_group_name(n.as_bytes()).is_ok())
    else {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_group: invalid group name \"{}\" (1-16 characters of A-Z a-z 0-9 _ -)",
            args[1]
        );
        return NGX_CONF_ERROR;
    };
    lc.group = Some(name.to_owned());
    NGX_CONF_OK
}

pub unsafe extern "C" fn set_store_path(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: called by nginx with valid pointers for this directive.
    let (lc, all_args) = unsafe { (loc_conf(conf), args(cf)) };
    // `fastdfs_store_path [GROUP] INDEX PATH`: keep args[1] = INDEX, args[2] = PATH.
    let (group, args) = if all_args.len() == 4 {
        let Some(name) = arg_str(&all_args[1])
            .filter(|n| fdfs_proto::fileid::validate_group_name(n.as_bytes()).is_ok())
        else {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "fastdfs_store_path: invalid group name \"{}\"",
                all_args[1]
            );
            return NGX_CONF_ERROR;
        };
        (Some(name.to_owned()), &all_args[1..])
    } else {
        (None, all_args)
    };
    let index = match arg_str(&args[1]).and_then(|s| s.parse::<usize>().ok()) {
        Some(i) if i <= MAX_STORE_PATH_INDEX => i,
        _ => {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "fastdfs_store_path: index \"{}\" is not a number from 0 to {} (M00 is 0)",
                args[1],
                MAX_STORE_PATH_INDEX
            );
            return NGX_CONF_ERROR;
        }
    };
    let path = args[2].as_bytes();
    if path.first() != Some(&b'/') || path.contains(&0) {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_store_path: \"{}\" must be an absolute path",
            args[2]
        );
        return NGX_CONF_ERROR;
    }
    let data_dir = data_dir_of(path);

    let stores = lc.stores.get_or_insert_with(Vec::new);
    let store_at = match stores.iter().position(|s| s.group == group) {
        Some(i) => i,
        None => {
            stores.push(GroupStore {
                group,
                dirs: Vec::new(),
            });
            stores.len() - 1
        }
    };
    let dirs = &mut stores[store_at].dirs;
    if dirs.len() <= index {
        dirs.resize(index + 1, None);
    }
    if dirs[index].is_some() {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_store_path: index {} is set twice",
            index
        );
        return NGX_CONF_ERROR;
    }
    // SAFETY: cf is this directive's valid configuration.
    let Ok(dir) = (unsafe { open_data_dir(cf, data_dir) }) else {
        return NGX_CONF_ERROR;
    };
    dirs[index] = Some(dir);
    NGX_CONF_OK
}

/// `<store_path>/data` for `store_path` (absolute, trailing slashes ignored).
pub fn data_dir_of(store_path: &[u8]) -> Vec<u8> {
    let trimmed = match store_path.iter().rposition(|&b| b != b'/') {
        Some(last) => &store_path[..=last],
        None => &store_path[..0],
    };
    let mut data_dir = trimmed.to_vec();
    data_dir.extend_from_slice(b"/data");
    data_dir
}

/// Opens the handle used by `openat2` for a data directory, closed with the configuration
/// cycle. A missing directory is only a warning: nginx may start before the storage daemon has
/// created its tree, and requests then simply get 404.
///
/// # Safety
/// `cf` must be a valid configuration being parsed.
pub unsafe fn open_data_dir(cf: *mut ngx_conf_t, data_dir: Vec<u8>) -> Result<DataDir, ()> {
    let shown = String::from_utf8_lossy(&data_dir).into_owned();
    let fd = match CString::new(data_dir.clone()).map(|c| beneath::open_dir(&c)) {
        Ok(Ok(fd)) => {
            // SAFETY: cf->pool is the configuration cycle's pool; the cleanup closes the handle
            // when that cycle is destroyed (reload or exit).
            let cln = unsafe { ngx_pool_cleanup_add((*cf).pool, 0) };
            if cln.is_null() {
                beneath::close(fd);
                return Err(());
            }
            // SAFETY: cln was just allocated by nginx and is ours to fill.
            unsafe {
                (*cln).handler = Some(close_dir_fd);
                (*cln).data = fd as usize as *mut c_void;
            }
            Some(fd)
        }
        Ok(Err(e)) => {
            ngx_conf_log_error!(
                NGX_LOG_WARN,
                cf,
                "fastdfs: store path data directory \"{}\" cannot be opened (yet): {}",
                shown,
                e
            );
            None
        }
        Err(_) => return Err(()),
    };
    Ok(DataDir { path: data_dir, fd })
}

unsafe extern "C" fn close_dir_fd(data: *mut c_void) {
    beneath::close(data as usize as RawFd);
}

pub unsafe extern "C" fn set_url_have_group_name(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: called by nginx with valid pointers for this directive.
    let lc = unsafe { loc_conf(conf) };
    // SAFETY: as above.
    unsafe { set_flag(cf, &mut lc.url_have_group_name) }
}

pub unsafe extern "C" fn set_flv(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: called by nginx with valid pointers for this directive.
    let lc = unsafe { loc_conf(conf) };
    // SAFETY: as above.
    unsafe { set_flag(cf, &mut lc.flv) }
}

pub unsafe extern "C" fn set_flv_extension(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: called by nginx with valid pointers for this directive.
    let (lc, args) = unsafe { (loc_conf(conf), args(cf)) };
    if lc.flv_extension.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    let ext = args[1].as_bytes();
    let ext = ext.strip_prefix(b".").unwrap_or(ext);
    if ext.is_empty() || !ext.iter().all(u8::is_ascii_alphanumeric) {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "fastdfs_flv_extension: \"{}\" is not an extension",
            args[1]
        );
        return NGX_CONF_ERROR;
    }
    lc.flv_extension = Some(ext.to_vec());
    NGX_CONF_OK
}

/// Defines a directive handler that gets the level's [`LocConf`] and the directive's arguments.
macro_rules! directive {
    ($name:ident, |$cf:ident, $args:ident, $lc:ident| $body:block) => {
        pub unsafe extern "C" fn $name(
            $cf: *mut ngx::ffi::ngx_conf_t,
            _cmd: *mut ngx::ffi::ngx_command_t,
            conf: *mut std::ffi::c_void,
        ) -> *mut std::ffi::c_char {
            // SAFETY: called by nginx with valid pointers for this directive.
            let ($lc, $args) = unsafe { (crate::conf::loc_conf(conf), crate::conf::args($cf)) };
            $body
        }
    };
}
pub(crate) use directive;

/// Parses a time argument (`900`, `15m`, `1d`) in seconds into `slot`; `min` is the smallest
/// accepted value.
///
/// # Safety
/// `cf` must be the valid `ngx_conf_t` of a directive callback taking one argument.
pub unsafe fn set_seconds(cf: *mut ngx_conf_t, slot: &mut Option<i64>, min: i64) -> *mut c_char {
    if slot.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    // SAFETY: guaranteed by the caller.
    let args = unsafe { args(cf) };
    let mut value = args[1];
    // SAFETY: value points into the configuration buffer, valid during the call.
    let secs = unsafe { ngx::ffi::ngx_parse_time(&mut value, 1) };
    if secs == ngx::ffi::NGX_ERROR as isize || (secs as i64) < min {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "{}: \"{}\" is not a time of at least {}s (e.g. 900, 15m or 1d)",
            args[0],
            args[1],
            min
        );
        return NGX_CONF_ERROR;
    }
    *slot = Some(secs as i64);
    NGX_CONF_OK
}

/// Parses an `on|off` argument into `slot`, refusing a second occurrence.
///
/// # Safety
/// `cf` must be the valid `ngx_conf_t` of a directive callback taking one argument.
pub unsafe fn set_flag(cf: *mut ngx_conf_t, slot: &mut Option<bool>) -> *mut c_char {
    if slot.is_some() {
        return c"is duplicate".as_ptr().cast_mut();
    }
    // SAFETY: guaranteed by the caller.
    let args = unsafe { args(cf) };
    let value = args[1].as_bytes();
    *slot = Some(if value.eq_ignore_ascii_case(b"on") {
        true
    } else if value.eq_ignore_ascii_case(b"off") {
        false
    } else {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "{}: \"{}\" is neither \"on\" nor \"off\"",
            args[0],
            args[1]
        );
        return NGX_CONF_ERROR;
    });
    NGX_CONF_OK
}

/// Inherits unset values and checks that a location serving files has what it needs, so that
/// mistakes fail `nginx -t` instead of every request.
pub unsafe extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    parent: *mut c_void,
    child: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes the LocConf pointers of the enclosing and the current level.
    let (prev, lc) = unsafe { (&*parent.cast::<LocConf>(), loc_conf(child)) };
    if lc.group.is_none() {
        lc.group.clone_from(&prev.group);
    }
    if lc.stores.is_none() {
        lc.stores.clone_from(&prev.stores);
    }
    if lc.url_have_group_name.is_none() {
        lc.url_have_group_name = prev.url_have_group_name;
    }
    lc.token.merge(&prev.token);
    crate::peers::merge(lc, prev);
    if lc.flv.is_none() {
        lc.flv = prev.flv;
    }
    if lc.flv_extension.is_none() {
        lc.flv_extension.clone_from(&prev.flv_extension);
    }
    if let Err(msg) = lc.token.validate() {
        ngx_conf_log_error!(NGX_LOG_EMERG, cf, "{}", msg);
        return NGX_CONF_ERROR;
    }
    if lc.enabled {
        let stores = lc.stores.as_deref().unwrap_or_default();
        if lc.url_have_group_name() && stores.iter().any(|s| lc.group_of(s).is_none()) {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "ngx_fastdfs_module with \"fastdfs_url_have_group_name on\" needs \"fastdfs_group\""
            );
            return NGX_CONF_ERROR;
        }
    }
    NGX_CONF_OK
}

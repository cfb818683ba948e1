//! Directives and the per-location configuration they build.

use std::ffi::{c_char, c_void};
use std::rc::Rc;

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_command_t, ngx_conf_t, ngx_str_t, NGX_LOG_EMERG};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};
use ngx::ngx_conf_log_error;

use crate::fallback::{Mode, Peer};
use crate::handler;
use crate::storedir::{self, DirHandle};
use crate::token::TokenConf;

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
    /// Opened when the configuration is read, closed when the last location using it is freed
    /// with its configuration cycle.
    pub handle: Rc<DirHandle>,
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

    /// What a location serving files lacks: a store path, and the group its files belong to
    /// (URLs with a group are matched against it, and the fallback asks that group's members).
    fn check_serving(&self) -> Result<(), String> {
        let stores = self.stores.as_deref().unwrap_or_default();
        if stores.iter().all(|s| s.dirs.iter().all(Option::is_none)) {
            return Err(
                "no store path to serve: set \"fastdfs_store_path INDEX PATH\" (the \
                 store_path<INDEX> of storage.conf) or \"fastdfs_conf mod_fastdfs.conf\" here \
                 or in the enclosing server or http block"
                    .into(),
            );
        }
        if stores.iter().any(|s| self.group_of(s).is_none()) {
            let why = if self.url_have_group_name() {
                "URLs carry the group (fastdfs_url_have_group_name on)"
            } else {
                "files not synced here yet are asked for from its members"
            };
            return Err(format!(
                "no group for the store paths: set \"fastdfs_group NAME\" (the group_name of \
                 storage.conf); {why}"
            ));
        }
        Ok(())
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
    let dir = match open_data_dir(path, "fastdfs_store_path") {
        Ok(dir) => dir,
        Err(msg) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "{}", msg);
            return NGX_CONF_ERROR;
        }
    };
    dirs[index] = Some(dir);
    NGX_CONF_OK
}

/// Opens the data directory of `store_path`; the error starts with `origin` (the directive, or
/// the file and key it came from). A store path that is missing or holds no `data/` fails
/// `nginx -t`: serving it would answer 404 for every file, which looks like lost data rather
/// than the typo or unmounted disk it is.
pub fn open_data_dir(store_path: &[u8], origin: &str) -> Result<DataDir, String> {
    let (path, handle) = storedir::open_store(store_path).map_err(|m| format!("{origin}: {m}"))?;
    Ok(DataDir {
        path,
        handle: Rc::new(handle),
    })
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
        if let Err(msg) = lc.check_serving() {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "ngx_fastdfs_module: {}", msg);
            return NGX_CONF_ERROR;
        }
        // SAFETY: cf is the configuration being merged.
        if unsafe { crate::proxycheck::check(cf, lc) }.is_err() {
            return NGX_CONF_ERROR;
        }
    }
    NGX_CONF_OK
}

//! `fastdfs_conf FILE;`: takes the settings of an existing mod_fastdfs.conf (and the http.conf
//! it includes), so a site can switch modules without touching that file. Values set with the
//! native directives at the same level win. Parsing and validation are `fdfs_proto::modconf`.

use std::ffi::{c_char, c_void};
use std::path::{Path, PathBuf};

use fdfs_proto::modconf::{self, ModConf};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_command_t, ngx_conf_t, NGX_LOG_EMERG, NGX_LOG_WARN};
use ngx::ngx_conf_log_error;

use crate::conf::{args, loc_conf, open_data_dir, GroupStore, LocConf};
use crate::fallback::Mode;

/// Where `name` is: absolute, or relative to the directory of nginx.conf (like `include`).
///
/// # Safety
/// `cf` must be a valid configuration being parsed.
unsafe fn conf_path(cf: *mut ngx_conf_t, name: &str) -> PathBuf {
    if name.starts_with('/') {
        return PathBuf::from(name);
    }
    // SAFETY: conf_prefix is set for the whole configuration pass.
    let prefix = unsafe { (*(*cf).cycle).conf_prefix };
    let prefix = String::from_utf8_lossy(prefix.as_bytes()).into_owned();
    Path::new(&prefix).join(name)
}

fn load(path: &Path) -> Result<ModConf, String> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut include = |from: &str, name: &str| {
        let base = Path::new(from).parent().unwrap_or(Path::new("/"));
        let p = base.join(name);
        std::fs::read_to_string(&p)
            .map(|t| (p.display().to_string(), t))
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let entries = modconf::parse_ini(&shown, &text, &mut include).map_err(|e| e.to_string())?;
    modconf::mod_fastdfs_conf(&shown, &entries).map_err(|e| e.to_string())
}

pub unsafe extern "C" fn set_conf(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: called by nginx with valid pointers for this directive.
    let (lc, args) = unsafe { (loc_conf(conf), args(cf)) };
    let name = String::from_utf8_lossy(args[1].as_bytes()).into_owned();
    // SAFETY: cf is valid during the directive.
    let path = unsafe { conf_path(cf, &name) };
    let mc = match load(&path) {
        Ok(mc) => mc,
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "fastdfs_conf: {}", e);
            return NGX_CONF_ERROR;
        }
    };
    for w in &mc.warnings {
        ngx_conf_log_error!(NGX_LOG_WARN, cf, "fastdfs_conf {}: {}", path.display(), w);
    }
    match apply(lc, mc, &path) {
        Ok(()) => NGX_CONF_OK,
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "fastdfs_conf: {}", e);
            NGX_CONF_ERROR
        }
    }
}

/// Fills what the level has not set itself.
fn apply(lc: &mut LocConf, mc: ModConf, path: &Path) -> Result<(), String> {
    if lc.stores.is_none() {
        let mut stores = Vec::new();
        for g in &mc.groups {
            let mut dirs = Vec::new();
            for (i, p) in g.store_paths.iter().enumerate() {
                let origin = format!("{}: store_path{i}", path.display());
                let dir = open_data_dir(p.as_bytes(), &origin)?;
                dirs.push(Some(dir));
            }
            stores.push(GroupStore {
                group: Some(g.name.clone()),
                dirs,
            });
        }
        lc.stores = Some(stores);
    }
    if lc.group.is_none() && mc.groups.len() == 1 {
        lc.group = Some(mc.groups[0].name.clone());
    }
    lc.url_have_group_name.get_or_insert(mc.url_have_group_name);
    lc.response_mode.get_or_insert(if mc.redirect_mode {
        Mode::Redirect
    } else {
        Mode::Proxy
    });
    lc.sync_max_delay.get_or_insert(mc.sync_max_delay);
    lc.flv.get_or_insert(mc.flv);
    lc.flv_extension
        .get_or_insert_with(|| mc.flv_extension.clone().into_bytes());
    if let Some(t) = mc.token {
        let tc = &mut lc.token;
        tc.enabled.get_or_insert(true);
        tc.secret.get_or_insert_with(|| t.secret_key.into_bytes());
        tc.ttl.get_or_insert(t.ttl);
        if let (None, Some(fail)) = (&tc.fail_file, t.fail_file) {
            let base = path.parent().unwrap_or(Path::new("/"));
            let full = base.join(&fail);
            if !full.is_file() {
                return Err(format!(
                    "{}: http.anti_steal.token_check_fail: \"{}\" is not a readable file",
                    path.display(),
                    full.display()
                ));
            }
            let mut bytes = full.display().to_string().into_bytes();
            bytes.push(0);
            tc.fail_file = Some(bytes);
        }
    }
    if let (None, Some((name, value))) = (&lc.token.bypass, mc.bypass_header) {
        lc.token.bypass = Some((name.to_ascii_lowercase().into_bytes(), value.into_bytes()));
    }
    Ok(())
}

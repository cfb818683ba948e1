//! `ngx_http_fastdfs_module`: serves FastDFS store paths from inside nginx.
//!
//! A `location` with `ngx_fastdfs_module;` maps `/<group>/Mxx/HH/HH/<name>` (or `/Mxx/...` when the
//! URL carries no group) to `<store_path>/data/HH/HH/<name>` and hands the file to nginx's own
//! static machinery (open file cache, sendfile, range and not-modified filters, `types`).
//! URL validation is delegated to `fdfs-proto`; this crate only wires nginx.

mod beneath;
mod conf;
mod ctx;
mod fallback;
mod handler;
mod memc;
mod modconf;
mod open;
mod peers;
mod proxycheck;
mod response;
mod storedir;
mod token;

use std::ffi::c_char;
use std::ptr;

use ngx::ffi::{
    ngx_command_t, ngx_http_module_t, ngx_module_t, ngx_uint_t, NGX_CONF_FLAG, NGX_CONF_NOARGS,
    NGX_CONF_TAKE1, NGX_CONF_TAKE2, NGX_CONF_TAKE23, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET,
    NGX_HTTP_MAIN_CONF, NGX_HTTP_MODULE, NGX_HTTP_SRV_CONF,
};
use ngx::http::{HttpModule, HttpModuleLocationConf};
use ngx::ngx_string;

pub(crate) struct Module;

impl HttpModule for Module {
    fn module() -> &'static ngx_module_t {
        // SAFETY: the module static is only mutated by nginx while it loads modules (single-threaded
        // configuration stage); afterwards it is read-only.
        unsafe { &*ptr::addr_of!(ngx_http_fastdfs_module) }
    }
}

// SAFETY: `create_loc_conf`/`merge_loc_conf` below allocate and merge exactly `conf::LocConf`.
unsafe impl HttpModuleLocationConf for Module {
    type LocationConf = conf::LocConf;
}

const ANY_LEVEL: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

const fn command(
    name: ngx::ffi::ngx_str_t,
    type_: u32,
    set: unsafe extern "C" fn(
        *mut ngx::ffi::ngx_conf_t,
        *mut ngx_command_t,
        *mut std::ffi::c_void,
    ) -> *mut c_char,
) -> ngx_command_t {
    ngx_command_t {
        name,
        type_: type_ as ngx_uint_t,
        set: Some(set),
        conf: NGX_HTTP_LOC_CONF_OFFSET,
        offset: 0,
        post: ptr::null_mut(),
    }
}

static mut NGX_HTTP_FASTDFS_COMMANDS: [ngx_command_t; 18] = [
    command(
        ngx_string!("ngx_fastdfs_module"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
        conf::set_enable,
    ),
    command(
        ngx_string!("fastdfs_group"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        conf::set_group,
    ),
    command(
        ngx_string!("fastdfs_store_path"),
        ANY_LEVEL | NGX_CONF_TAKE23,
        conf::set_store_path,
    ),
    command(
        ngx_string!("fastdfs_url_have_group_name"),
        ANY_LEVEL | NGX_CONF_FLAG,
        conf::set_url_have_group_name,
    ),
    command(
        ngx_string!("fastdfs_token"),
        ANY_LEVEL | NGX_CONF_FLAG,
        token::set_token,
    ),
    command(
        ngx_string!("fastdfs_token_secret"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        token::set_secret,
    ),
    command(
        ngx_string!("fastdfs_token_ttl"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        token::set_ttl,
    ),
    command(
        ngx_string!("fastdfs_token_never_expire"),
        ANY_LEVEL | NGX_CONF_FLAG,
        token::set_never_expire,
    ),
    command(
        ngx_string!("fastdfs_token_fail_file"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        token::set_fail_file,
    ),
    command(
        ngx_string!("fastdfs_token_bypass_header"),
        ANY_LEVEL | NGX_CONF_TAKE2,
        token::set_bypass_header,
    ),
    command(
        ngx_string!("fastdfs_flv"),
        ANY_LEVEL | NGX_CONF_FLAG,
        conf::set_flv,
    ),
    command(
        ngx_string!("fastdfs_flv_extension"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        conf::set_flv_extension,
    ),
    command(
        ngx_string!("fastdfs_peer"),
        ANY_LEVEL | NGX_CONF_TAKE23,
        peers::set_peer,
    ),
    command(
        ngx_string!("fastdfs_response_mode"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        peers::set_response_mode,
    ),
    command(
        ngx_string!("fastdfs_sync_max_delay"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        peers::set_sync_max_delay,
    ),
    command(
        ngx_string!("fastdfs_proxy_location"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        peers::set_proxy_location,
    ),
    command(
        ngx_string!("fastdfs_conf"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        modconf::set_conf,
    ),
    ngx_command_t::empty(),
];

unsafe extern "C" fn preconfiguration(cf: *mut ngx::ffi::ngx_conf_t) -> ngx::ffi::ngx_int_t {
    // SAFETY: nginx calls preconfiguration with a valid configuration.
    unsafe { ctx::add_variables(cf) }
}

static NGX_HTTP_FASTDFS_MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(preconfiguration),
    postconfiguration: None,
    create_main_conf: None,
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(Module::create_loc_conf),
    merge_loc_conf: Some(conf::merge_loc_conf),
};

use memc::ngx_http_memc_store_module;

// The module list nginx reads from a dynamic module. Written out because `ngx::ngx_modules!` of
// ngx 0.5.1 does not compile for more than one module (its `count!` rejects a trailing comma).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut ngx_modules: [*const ngx_module_t; 3] = [
    // Only the addresses of the module statics are taken.
    ptr::addr_of!(ngx_http_fastdfs_module),
    ptr::addr_of!(ngx_http_memc_store_module),
    ptr::null(),
];

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut ngx_module_names: [*const c_char; 3] = [
    c"ngx_http_fastdfs_module".as_ptr(),
    c"ngx_http_memc_store_module".as_ptr(),
    ptr::null(),
];

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut ngx_module_order: [*const c_char; 1] = [ptr::null()];

#[used]
#[allow(non_upper_case_globals)]
pub static mut ngx_http_fastdfs_module: ngx_module_t = ngx_module_t {
    ctx: ptr::addr_of!(NGX_HTTP_FASTDFS_MODULE_CTX) as _,
    // SAFETY: nginx reads the command table during configuration only; we never write to it.
    commands: unsafe { ptr::addr_of_mut!(NGX_HTTP_FASTDFS_COMMANDS[0]) },
    type_: NGX_HTTP_MODULE as _,
    ..ngx_module_t::default()
};

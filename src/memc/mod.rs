//! `ngx_http_memc_store_module`: serves URI-keyed values from memcached-protocol stores
//! (`tyrantd`, memcached, Tokyo Tyrant, twemproxy) through nginx's upstream machinery.
//!
//! A separate nginx module in the same shared object as `ngx_http_fastdfs_module`: its own
//! directives (`memc_store`, `memc_key`, `memc_protocol`, `memc_*_timeout`, ...), location
//! configuration and upstream callbacks. Wire formats, key escaping and validator rules come
//! from `fdfs_proto::memcached`; this module only wires nginx.

mod conf;
mod ffi;
mod handler;
mod reply;
mod stream;

use std::ffi::{c_char, c_void};
use std::mem::offset_of;
use std::ptr;

use ngx::ffi::{
    ngx_command_t, ngx_conf_bitmask_t, ngx_conf_enum_t, ngx_conf_set_bitmask_slot,
    ngx_conf_set_enum_slot, ngx_conf_set_flag_slot, ngx_conf_set_msec_slot, ngx_conf_set_num_slot,
    ngx_conf_set_size_slot, ngx_conf_t, ngx_http_module_t, ngx_http_set_complex_value_slot,
    ngx_http_upstream_bind_set_slot, ngx_module_t, ngx_str_t, ngx_uint_t, NGX_CONF_1MORE,
    NGX_CONF_FLAG, NGX_CONF_TAKE1, NGX_CONF_TAKE12, NGX_HTTP_LIF_CONF, NGX_HTTP_LOC_CONF,
    NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF, NGX_HTTP_MODULE, NGX_HTTP_SRV_CONF,
    NGX_HTTP_UPSTREAM_FT_ERROR, NGX_HTTP_UPSTREAM_FT_HTTP_404, NGX_HTTP_UPSTREAM_FT_INVALID_HEADER,
    NGX_HTTP_UPSTREAM_FT_OFF, NGX_HTTP_UPSTREAM_FT_TIMEOUT,
};
use ngx::http::{HttpModule, HttpModuleLocationConf};
use ngx::ngx_string;

pub(crate) use conf::LocConf;

pub(crate) struct MemcModule;

impl HttpModule for MemcModule {
    fn module() -> &'static ngx_module_t {
        // SAFETY: nginx writes the module static only while loading modules (single-threaded
        // configuration stage); afterwards it is read-only.
        unsafe { &*ptr::addr_of!(ngx_http_memc_store_module) }
    }
}

// SAFETY: `conf::create_loc_conf`/`conf::merge_loc_conf` allocate and merge exactly `LocConf`.
unsafe impl HttpModuleLocationConf for MemcModule {
    type LocationConf = LocConf;
}

const ANY_LEVEL: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

type SetFn = unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

const fn command(
    name: ngx_str_t,
    type_: u32,
    set: SetFn,
    offset: usize,
    post: *mut c_void,
) -> ngx_command_t {
    ngx_command_t {
        name,
        type_: type_ as ngx_uint_t,
        set: Some(set),
        conf: NGX_HTTP_LOC_CONF_OFFSET,
        offset,
        post,
    }
}

const fn up(field_offset: usize) -> usize {
    offset_of!(LocConf, upstream) + field_offset
}

static mut NEXT_UPSTREAM_MASKS: [ngx_conf_bitmask_t; 6] = [
    ngx_conf_bitmask_t {
        name: ngx_string!("error"),
        mask: NGX_HTTP_UPSTREAM_FT_ERROR as ngx_uint_t,
    },
    ngx_conf_bitmask_t {
        name: ngx_string!("timeout"),
        mask: NGX_HTTP_UPSTREAM_FT_TIMEOUT as ngx_uint_t,
    },
    ngx_conf_bitmask_t {
        name: ngx_string!("invalid_response"),
        mask: NGX_HTTP_UPSTREAM_FT_INVALID_HEADER as ngx_uint_t,
    },
    ngx_conf_bitmask_t {
        name: ngx_string!("not_found"),
        mask: NGX_HTTP_UPSTREAM_FT_HTTP_404 as ngx_uint_t,
    },
    ngx_conf_bitmask_t {
        name: ngx_string!("off"),
        mask: NGX_HTTP_UPSTREAM_FT_OFF as ngx_uint_t,
    },
    ngx_conf_bitmask_t {
        name: ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        },
        mask: 0,
    },
];

static mut PROTOCOLS: [ngx_conf_enum_t; 3] = [
    ngx_conf_enum_t {
        name: ngx_string!("get"),
        value: conf::PROTOCOL_GET,
    },
    ngx_conf_enum_t {
        name: ngx_string!("meta"),
        value: conf::PROTOCOL_META,
    },
    ngx_conf_enum_t {
        name: ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        },
        value: 0,
    },
];

use ngx::ffi::ngx_http_upstream_conf_t as U;

static mut NGX_HTTP_MEMC_STORE_COMMANDS: [ngx_command_t; 18] = [
    command(
        ngx_string!("memc_store"),
        NGX_HTTP_LOC_CONF | NGX_HTTP_LIF_CONF | NGX_CONF_TAKE1,
        conf::set_store,
        0,
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_key"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_http_set_complex_value_slot,
        offset_of!(LocConf, key),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_protocol"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_enum_slot,
        offset_of!(LocConf, protocol),
        // Only the address is taken; nginx reads the table during configuration.
        ptr::addr_of_mut!(PROTOCOLS).cast(),
    ),
    command(
        ngx_string!("memc_store_methods"),
        ANY_LEVEL | NGX_CONF_1MORE,
        conf::set_methods,
        0,
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_max_key_len"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_size_slot,
        offset_of!(LocConf, max_key_len),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_flags_to_last_modified"),
        ANY_LEVEL | NGX_CONF_FLAG,
        ngx_conf_set_flag_slot,
        offset_of!(LocConf, flags_to_last_modified),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_gzip_flag"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_num_slot,
        offset_of!(LocConf, gzip_flag),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_connect_timeout"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_msec_slot,
        up(offset_of!(U, connect_timeout)),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_send_timeout"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_msec_slot,
        up(offset_of!(U, send_timeout)),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_read_timeout"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_msec_slot,
        up(offset_of!(U, read_timeout)),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_buffer_size"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_size_slot,
        offset_of!(LocConf, value_buffer_size),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_next_upstream"),
        ANY_LEVEL | NGX_CONF_1MORE,
        ngx_conf_set_bitmask_slot,
        up(offset_of!(U, next_upstream)),
        // Only the address is taken; nginx reads the table during configuration.
        ptr::addr_of_mut!(NEXT_UPSTREAM_MASKS).cast(),
    ),
    command(
        ngx_string!("memc_next_upstream_tries"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_num_slot,
        up(offset_of!(U, next_upstream_tries)),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_next_upstream_timeout"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        ngx_conf_set_msec_slot,
        up(offset_of!(U, next_upstream_timeout)),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_bind"),
        ANY_LEVEL | NGX_CONF_TAKE12,
        ngx_http_upstream_bind_set_slot,
        up(offset_of!(U, local)),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_socket_keepalive"),
        ANY_LEVEL | NGX_CONF_FLAG,
        ngx_conf_set_flag_slot,
        up(offset_of!(U, socket_keepalive)),
        ptr::null_mut(),
    ),
    command(
        ngx_string!("memc_ignore_client_abort"),
        ANY_LEVEL | NGX_CONF_FLAG,
        ngx_conf_set_flag_slot,
        up(offset_of!(U, ignore_client_abort)),
        ptr::null_mut(),
    ),
    ngx_command_t::empty(),
];

static NGX_HTTP_MEMC_STORE_MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: None,
    postconfiguration: None,
    create_main_conf: None,
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(conf::create_loc_conf),
    merge_loc_conf: Some(conf::merge_loc_conf),
};

#[used]
#[allow(non_upper_case_globals)]
pub static mut ngx_http_memc_store_module: ngx_module_t = ngx_module_t {
    ctx: ptr::addr_of!(NGX_HTTP_MEMC_STORE_MODULE_CTX) as _,
    // SAFETY: nginx reads the command table during configuration only; we never write to it.
    commands: unsafe { ptr::addr_of_mut!(NGX_HTTP_MEMC_STORE_COMMANDS[0]) },
    type_: NGX_HTTP_MODULE as _,
    ..ngx_module_t::default()
};

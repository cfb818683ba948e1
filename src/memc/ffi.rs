//! Small safe wrappers over the nginx calls `memc_store` makes; each `unsafe` block states why it
//! holds. Everything here takes a live request (or its pool) and returns Rust values.

use std::ptr;
use std::slice;

use ngx::ffi::{
    ngx_alloc_chain_link, ngx_buf_t, ngx_chain_t, ngx_create_temp_buf, ngx_err_t,
    ngx_http_request_t, ngx_list_push, ngx_pnalloc, ngx_str_t, ngx_table_elt_t, ngx_uint_t,
};

/// A log line on the request's connection log; `err` adds nginx's "(errno: text)" suffix.
pub fn log(r: &ngx_http_request_t, level: u32, err: ngx_err_t, msg: &str) {
    // SAFETY: a request being handled always has a connection with a log.
    unsafe {
        let log = (*r.connection).log;
        if level as ngx_uint_t <= (*log).log_level {
            ngx::log::log_error(level as ngx_uint_t, log, err, msg.as_bytes());
        }
    }
}

/// The bytes of an `ngx_str_t` (empty for NULL data).
pub fn bytes(s: &ngx_str_t) -> &[u8] {
    if s.data.is_null() || s.len == 0 {
        return &[];
    }
    // SAFETY: nginx strings point at `len` readable bytes for as long as their owner lives,
    // which the borrow of `s` ties us to.
    unsafe { slice::from_raw_parts(s.data, s.len) }
}

/// Copies `data` into the request pool.
pub fn pool_str(r: &ngx_http_request_t, data: &[u8]) -> Option<ngx_str_t> {
    // SAFETY: the pool lives as long as the request; we write exactly the allocated length.
    unsafe {
        let p = ngx_pnalloc(r.pool, data.len().max(1)).cast::<u8>();
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(data.as_ptr(), p, data.len());
        Some(ngx_str_t {
            len: data.len(),
            data: p,
        })
    }
}

/// A chain link holding a new temporary buffer filled with `data`, from the request pool.
pub fn chain_with(r: &ngx_http_request_t, data: &[u8]) -> Option<*mut ngx_chain_t> {
    // SAFETY: buffer and link come from the request pool and live as long as the request; we
    // write `data.len()` bytes into a buffer of exactly that size.
    unsafe {
        let b = ngx_create_temp_buf(r.pool, data.len().max(1));
        let cl = ngx_alloc_chain_link(r.pool);
        if b.is_null() || cl.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(data.as_ptr(), (*b).last, data.len());
        (*b).last = (*b).last.add(data.len());
        (*cl).buf = b;
        (*cl).next = ptr::null_mut();
        Some(cl)
    }
}

/// A new chain link pointing at an existing buffer (the buffer is shared, not copied).
pub fn link_to(r: &ngx_http_request_t, b: *mut ngx_buf_t) -> Option<*mut ngx_chain_t> {
    // SAFETY: the link comes from the request pool; the buffer outlives it (request body).
    unsafe {
        let cl = ngx_alloc_chain_link(r.pool);
        if cl.is_null() {
            return None;
        }
        (*cl).buf = b;
        (*cl).next = ptr::null_mut();
        Some(cl)
    }
}

/// Bytes a buffer holds, in memory or in a file (nginx's `ngx_buf_size`).
pub fn buf_size(b: &ngx_buf_t) -> usize {
    let in_memory = b.temporary() != 0 || b.memory() != 0 || b.mmap() != 0;
    if in_memory {
        (b.last as usize).saturating_sub(b.pos as usize)
    } else {
        usize::try_from(b.file_last - b.file_pos).unwrap_or(0)
    }
}

/// The value of the first request header called `name` (case-insensitive).
pub fn header_in<'r>(r: &'r ngx_http_request_t, name: &[u8]) -> Option<&'r [u8]> {
    // SAFETY: headers_in.headers is the request's valid header list.
    let headers = unsafe { ngx::http::list_iterator(&r.headers_in.headers) };
    headers
        .into_iter()
        .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_bytes())
}

/// The value of one of nginx's pre-parsed request headers (`r->headers_in.if_match` etc.).
pub fn known_header(_r: &ngx_http_request_t, h: *mut ngx_table_elt_t) -> Option<&[u8]> {
    // SAFETY: the pointer is NULL or one of the request's header elements, which live as long
    // as the request the result borrows.
    unsafe { h.as_ref().map(|h| bytes(&h.value)) }
}

/// Adds `Content-Encoding: gzip` to the response, as `memcached_gzip_flag` does.
pub fn set_gzip_encoding(r: &mut ngx_http_request_t) -> Option<()> {
    // SAFETY: as in `set_etag`: one zeroed, then filled element of the response header list.
    unsafe {
        let h = ngx_list_push(&mut r.headers_out.headers).cast::<ngx_table_elt_t>();
        if h.is_null() {
            return None;
        }
        ptr::write_bytes(h, 0, 1);
        (*h).hash = 1;
        (*h).key = ngx::ngx_string!("Content-Encoding");
        (*h).value = ngx::ngx_string!("gzip");
        r.headers_out.content_encoding = h;
    }
    Some(())
}

/// Adds `ETag: <value>` to the response and records it where nginx's not-modified and range
/// filters look for it.
pub fn set_etag(r: &mut ngx_http_request_t, value: &[u8]) -> Option<()> {
    let value = pool_str(r, value)?;
    // SAFETY: headers_out.headers is the response's header list; ngx_list_push returns
    // uninitialised memory for one element, which we zero and fill before anyone reads it.
    unsafe {
        let h = ngx_list_push(&mut r.headers_out.headers).cast::<ngx_table_elt_t>();
        if h.is_null() {
            return None;
        }
        ptr::write_bytes(h, 0, 1);
        (*h).hash = 1;
        (*h).key = ngx::ngx_string!("ETag");
        (*h).value = value;
        r.headers_out.etag = h;
    }
    Some(())
}

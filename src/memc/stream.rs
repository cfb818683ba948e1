//! The input filter: the value streams from `u->buffer` to the client in place (one chain link
//! per read, no copy); only the trailer after it (`\r\nEND\r\n` or `\r\n`) is checked and
//! stripped, as in nginx's memcached module.

use std::ffi::c_void;
use std::ptr;
use std::slice;

use ngx::ffi::{
    ngx_chain_get_free_buf, ngx_http_request_t, ngx_http_upstream_t, ngx_int_t, ngx_uint_t,
    NGX_ERROR, NGX_HTTP_OK, NGX_LOG_ERR, NGX_OK,
};

use super::ffi::log;
use super::handler::{Ctx, Op};

/// # Safety
/// Called by nginx's upstream module once the reply line was accepted.
pub unsafe extern "C" fn filter_init(data: *mut c_void) -> ngx_int_t {
    // SAFETY: data is the Ctx we registered as input_filter_ctx.
    let ctx = unsafe { &mut *data.cast::<Ctx>() };
    // SAFETY: the request and its upstream are alive while the filter runs.
    let u = unsafe { &mut *(*ctx.request).upstream };
    if u.headers_in.status_n == NGX_HTTP_OK as ngx_uint_t && matches!(ctx.op, Op::Get | Op::MetaGet)
    {
        u.length = u.headers_in.content_length_n + ctx.trailer.len() as i64;
        ctx.rest = ctx.trailer.len();
    } else {
        u.length = 0;
    }
    NGX_OK as ngx_int_t
}

/// Called for every read of the value: passes the bytes on in place and strips the trailer.
///
/// # Safety
/// Called by nginx's upstream module with `bytes` new bytes at `u->buffer.last`.
pub unsafe extern "C" fn filter(data: *mut c_void, bytes: isize) -> ngx_int_t {
    // SAFETY: data is the Ctx registered as input_filter_ctx.
    let ctx = unsafe { &mut *data.cast::<Ctx>() };
    // SAFETY: the request owning this filter is alive during the call.
    let r = unsafe { &mut *ctx.request };
    // SAFETY: so is its upstream, a separate allocation.
    let u = unsafe { &mut *r.upstream };
    let bytes = bytes.max(0) as usize;
    let length = usize::try_from(u.length).unwrap_or(0);
    let trailer = ctx.trailer;
    // SAFETY: the upstream just read `bytes` bytes at buffer.last.
    let new = unsafe { slice::from_raw_parts(u.buffer.last, bytes) };

    if length == ctx.rest {
        // Only (the rest of) the trailer is due.
        let due = &trailer[trailer.len() - ctx.rest..];
        if bytes > length || !due.starts_with(new) {
            return bad_trailer(r, u, ctx);
        }
        u.length -= bytes as i64;
        ctx.rest -= bytes;
        u.set_keepalive(u32::from(u.length == 0));
        return NGX_OK as ngx_int_t;
    }

    // SAFETY: free_bufs/out_bufs are the upstream's chains; new links come from the pool.
    let cl = unsafe { ngx_chain_get_free_buf(r.pool, &mut u.free_bufs) };
    if cl.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    // While the value is still due, length = value left + the whole trailer.
    let value_left = length.saturating_sub(trailer.len());
    let value_bytes = bytes.min(value_left);
    // SAFETY: cl is a fresh link with a zeroed buffer; it points into u->buffer, which holds
    // these bytes until the output filter releases the link (busy_bufs).
    unsafe {
        let b = &mut *(*cl).buf;
        b.set_flush(1);
        b.set_memory(1);
        b.pos = u.buffer.last;
        b.last = u.buffer.last.add(value_bytes);
        b.tag = u.output.tag;
        let mut ll = ptr::addr_of_mut!(u.out_bufs);
        while !(*ll).is_null() {
            ll = ptr::addr_of_mut!((**ll).next);
        }
        *ll = cl;
        u.buffer.last = b.last;
    }
    if bytes <= value_left {
        u.length -= bytes as i64;
        return NGX_OK as ngx_int_t;
    }
    let tail = &new[value_bytes..];
    if bytes > length || !trailer.starts_with(tail) {
        return bad_trailer(r, u, ctx);
    }
    ctx.rest = trailer.len() - tail.len();
    u.length = ctx.rest as i64;
    u.set_keepalive(u32::from(u.length == 0));
    NGX_OK as ngx_int_t
}

fn bad_trailer(r: &ngx_http_request_t, u: &mut ngx_http_upstream_t, ctx: &mut Ctx) -> ngx_int_t {
    log(
        r,
        NGX_LOG_ERR,
        0,
        "memc_store: upstream sent invalid trailer after the value",
    );
    u.length = 0;
    ctx.rest = 0;
    NGX_OK as ngx_int_t
}

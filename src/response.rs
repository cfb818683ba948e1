//! Sending an opened file: nginx's static response (headers, validators, ranges by the range
//! filter), plus the two extras of fastdfs-nginx-module: `?filename=` and FLV `?start=` seeking.

use std::mem;
use std::ptr;

use ngx::ffi::{
    ngx_buf_t, ngx_chain_t, ngx_file_t, ngx_http_discard_request_body, ngx_http_output_filter,
    ngx_http_request_t, ngx_http_send_header, ngx_http_set_content_type, ngx_http_set_etag,
    ngx_int_t, ngx_open_file_info_t, ngx_pcalloc, ngx_str_t, ngx_uint_t, NGX_ERROR,
    NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_OK, NGX_HTTP_RANGE_NOT_SATISFIABLE, NGX_OK,
};
use ngx::http::Request;

use crate::conf::LocConf;
use crate::handler::{status, Status};
use crate::token::arg;

/// The 13 bytes an FLV stream starts with, sent before data read from an offset (as
/// fastdfs-nginx-module and nginx's flv module do).
static FLV_HEADER: [u8; 13] = *b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x09";

/// What a request adds to the plain static response.
#[derive(Debug, Default)]
pub struct Extras {
    /// `Content-Disposition` value from `?filename=`.
    pub disposition: Option<String>,
    /// FLV seek: bytes `start..end` of the file, preceded by the FLV header when `start > 0`.
    pub flv: Option<(i64, i64)>,
}

impl Extras {
    pub fn from_request(r: &ngx_http_request_t, lc: &LocConf, size: i64) -> Result<Self, Status> {
        let disposition = arg(r, b"filename").and_then(fdfs_proto::http::content_disposition);
        let flv = if lc.flv == Some(true) && is_flv(r, lc) {
            flv_range(r, size)?
        } else {
            None
        };
        Ok(Extras { disposition, flv })
    }
}

fn is_flv(r: &ngx_http_request_t, lc: &LocConf) -> bool {
    let want = lc.flv_extension.as_deref().unwrap_or(b"flv");
    r.exten.as_bytes().eq_ignore_ascii_case(want)
}

/// `?start=N[&end=M]` as byte offsets; absent or `start=0` without `end` means the whole file.
fn flv_range(r: &ngx_http_request_t, size: i64) -> Result<Option<(i64, i64)>, Status> {
    let parse = |v: &[u8]| -> Result<i64, Status> {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or(status(NGX_HTTP_RANGE_NOT_SATISFIABLE))
    };
    let start = match arg(r, b"start") {
        Some(v) => parse(v)?,
        None => return Ok(None),
    };
    let end = match arg(r, b"end") {
        Some(v) => parse(v)?.min(size),
        None => size,
    };
    if start == 0 && end == size {
        return Ok(None);
    }
    if start >= size || end <= start {
        return Err(status(NGX_HTTP_RANGE_NOT_SATISFIABLE));
    }
    Ok(Some((start, end)))
}

pub fn send_file(
    r: &mut ngx_http_request_t,
    path: ngx_str_t,
    of: &ngx_open_file_info_t,
    extras: &Extras,
) -> Status {
    let (start, end, flv_header) = match extras.flv {
        Some((start, end)) => (start, end, start > 0),
        None => (0, of.size, false),
    };
    let prefix = if flv_header {
        FLV_HEADER.len() as i64
    } else {
        0
    };
    // SAFETY: every call below is nginx API used as its static module uses it, on a live
    // request; buffers come from the request pool and stay valid until the request is freed.
    unsafe {
        let rc = ngx_http_discard_request_body(r);
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        (*(*r.connection).log).action = c"sending response to client".as_ptr().cast_mut();
        r.headers_out.status = NGX_HTTP_OK as ngx_uint_t;
        r.headers_out.content_length_n = end - start + prefix;
        r.headers_out.last_modified_time = of.mtime;
        // A seek answer is not the file: no validators, no ranges over it.
        let whole = extras.flv.is_none();
        if (whole && ngx_http_set_etag(r) != NGX_OK as ngx_int_t)
            || ngx_http_set_content_type(r) != NGX_OK as ngx_int_t
        {
            return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
        }
        r.set_allow_ranges(u32::from(whole));
        if let Some(value) = &extras.disposition {
            let req = Request::from_ngx_http_request(r);
            if req.add_header_out("Content-Disposition", value).is_none() {
                return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
            }
        }

        // Allocate before sending the header: after it, a failure could not be reported.
        let b = ngx_pcalloc(r.pool, mem::size_of::<ngx_buf_t>()).cast::<ngx_buf_t>();
        let file = ngx_pcalloc(r.pool, mem::size_of::<ngx_file_t>()).cast::<ngx_file_t>();
        let out = ngx_pcalloc(r.pool, 2 * mem::size_of::<ngx_chain_t>()).cast::<ngx_chain_t>();
        let head = ngx_pcalloc(r.pool, mem::size_of::<ngx_buf_t>()).cast::<ngx_buf_t>();
        if b.is_null() || file.is_null() || out.is_null() || head.is_null() {
            return status(NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        let rc = ngx_http_send_header(r);
        if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || r.header_only() != 0 {
            return rc;
        }

        let is_main = ptr::eq(r.main, r as *const ngx_http_request_t);
        let b = &mut *b;
        b.file_pos = start;
        b.file_last = end;
        b.set_in_file(u32::from(end > start));
        b.set_last_buf(u32::from(is_main));
        b.set_last_in_chain(1);
        b.set_sync(u32::from(!(is_main || end > start)));
        (*file).fd = of.fd;
        (*file).name = path;
        (*file).log = (*r.connection).log;
        (*file).set_directio(of.is_directio());
        b.file = file;

        let file_link = out.add(1);
        (*file_link).buf = b;
        (*file_link).next = ptr::null_mut();
        if flv_header {
            let head = &mut *head;
            head.pos = FLV_HEADER.as_ptr().cast_mut();
            head.last = head.pos.add(FLV_HEADER.len());
            // Read-only memory: nginx never writes to a `memory` buffer.
            head.set_memory(1);
            (*out).buf = head;
            (*out).next = file_link;
            ngx_http_output_filter(r, out)
        } else {
            ngx_http_output_filter(r, file_link)
        }
    }
}

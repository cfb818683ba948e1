//! Field-level readers and writers shared by the body codecs (crate-internal).

use crate::body::BodyError;

/// Cursor over a body; every read is bounds-checked and names the field on failure.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    msg: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], msg: &'static str) -> Self {
        Reader { buf, pos: 0, msg }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], BodyError> {
        if self.remaining() < n {
            return Err(BodyError::field(self.msg, field, "truncated"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, BodyError> {
        Ok(self.bytes(field, 1)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, BodyError> {
        let b = self.bytes(field, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i64(&mut self, field: &'static str) -> Result<i64, BodyError> {
        let b = self.bytes(field, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// A u64 field that the C code treats as a non-negative `int64_t`.
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, BodyError> {
        let v = self.i64(field)?;
        u64::try_from(v).map_err(|_| BodyError::field(self.msg, field, "negative"))
    }

    /// A length field that must fit `max`.
    pub(crate) fn len_field(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<usize, BodyError> {
        let v = self.u64(field)?;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(BodyError::field(self.msg, field, "out of range"))
    }

    pub(crate) fn port(&mut self, field: &'static str) -> Result<u16, BodyError> {
        let v = self.i64(field)?;
        u16::try_from(v).map_err(|_| BodyError::field(self.msg, field, "not a port number"))
    }

    /// Fixed-width NUL-padded string: the text before the first NUL (as C reads it).
    pub(crate) fn fixed_str(
        &mut self,
        field: &'static str,
        width: usize,
    ) -> Result<String, BodyError> {
        let b = self.bytes(field, width)?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        self.text(field, &b[..end])
    }

    /// Unpadded text of `n` bytes.
    pub(crate) fn str_n(&mut self, field: &'static str, n: usize) -> Result<String, BodyError> {
        let b = self.bytes(field, n)?;
        if b.contains(&0) {
            return Err(BodyError::field(self.msg, field, "contains NUL"));
        }
        self.text(field, b)
    }

    fn text(&self, field: &'static str, b: &[u8]) -> Result<String, BodyError> {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| BodyError::field(self.msg, field, "not UTF-8"))
    }

    pub(crate) fn finish(&self) -> Result<(), BodyError> {
        if self.remaining() != 0 {
            return Err(BodyError::len(
                self.msg,
                self.buf.len(),
                format!("{} (trailing bytes)", self.pos),
            ));
        }
        Ok(())
    }
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Fixed-width field: copied and NUL-padded; longer values are cut to `width` as C's
/// `memcpy`/`strncpy` into the struct would.
pub(crate) fn put_fixed(out: &mut Vec<u8>, s: &str, width: usize) {
    let b = s.as_bytes();
    let n = b.len().min(width);
    out.extend_from_slice(&b[..n]);
    out.resize(out.len() + (width - n), 0);
}

/// Group name field (16 bytes on the wire).
pub(crate) const GROUP: usize = 16;
/// Storage id field.
pub(crate) const ID: usize = 16;
/// Logical names are always shorter than this.
pub(crate) const NAME_MAX: usize = 128;
/// Shortest logical name the tracker accepts (`16 + 22` body rule).
pub(crate) const NAME_MIN: usize = 22;

impl Reader<'_> {
    /// A u64 name-length field: `NAME_MIN <= n < NAME_MAX`.
    pub(crate) fn name_len(&mut self, field: &'static str) -> Result<usize, BodyError> {
        let v = self.u64(field)?;
        usize::try_from(v)
            .ok()
            .filter(|n| (NAME_MIN..NAME_MAX).contains(n))
            .ok_or(BodyError::field(
                self.msg,
                field,
                "name length must be 22..=127",
            ))
    }

    /// Extension field (6 bytes, NUL-padded) limited to `[A-Za-z0-9._-]`.
    pub(crate) fn ext(&mut self, field: &'static str) -> Result<String, BodyError> {
        let e = self.fixed_str(field, EXT)?;
        if !e.bytes().all(crate::fileid::is_ext_char) {
            return Err(BodyError::field(
                self.msg,
                field,
                "characters outside [A-Za-z0-9._-]",
            ));
        }
        Ok(e)
    }
}

/// Extension field width.
pub(crate) const EXT: usize = 6;
/// Slave prefix field width.
pub(crate) const PREFIX: usize = 16;

/// A head needs `need` body bytes: `Ok(None)` if the prefix has them, `Ok(Some(need))` to ask for
/// them, or an error if `pkg_len` is too short to ever hold them.
pub(crate) fn need(
    msg: &'static str,
    pkg_len: u64,
    prefix: &[u8],
    need: usize,
) -> Result<Option<usize>, BodyError> {
    if pkg_len < need as u64 {
        return Err(BodyError::Length {
            msg,
            got: pkg_len,
            expected: format!(">= {need}"),
        });
    }
    Ok((prefix.len() < need).then_some(need))
}

/// Content length = `pkg_len - head_len`, which must equal `declared`.
pub(crate) fn content_matches(
    msg: &'static str,
    pkg_len: u64,
    head_len: usize,
    declared: u64,
) -> Result<u64, BodyError> {
    let content = pkg_len
        .checked_sub(head_len as u64)
        .ok_or_else(|| BodyError::len(msg, pkg_len as usize, format!(">= {head_len}")))?;
    if content != declared {
        return Err(BodyError::Length {
            msg,
            got: pkg_len,
            expected: format!("{head_len} + {declared} (head + declared size)"),
        });
    }
    Ok(content)
}

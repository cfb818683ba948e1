//! Limits the server-side parser enforces. All of them are parameters; the
//! defaults reproduce memcached 1.6.18 started with `-I 1m`.

/// How the size of a data block is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueLimit {
    /// At most this many data bytes (the CRLF after the block not counted).
    Bytes(usize),
    /// memcached's `-I <n>` accounting: the whole item must fit in `n` bytes,
    /// i.e. a 48-byte item header, an 8-byte cas, the key plus a NUL, 4 bytes of
    /// client flags when they are non-zero, and the data plus its CRLF. This is
    /// why memcached stores a 1 048 000-byte value with `-I 1m` but rejects one
    /// of 1 048 576 bytes.
    MemcachedItem(usize),
}

impl ValueLimit {
    /// True when a value of `len` data bytes under `key_len`/`flags` must be
    /// refused with `SERVER_ERROR object too large for cache`.
    pub fn too_large(self, key_len: usize, flags: u32, len: usize) -> bool {
        match self {
            ValueLimit::Bytes(max) => len > max,
            ValueLimit::MemcachedItem(item_max) => {
                let flags_size = if flags == 0 { 0 } else { 4 };
                let total = 48usize
                    .saturating_add(8)
                    .saturating_add(key_len)
                    .saturating_add(1)
                    .saturating_add(flags_size)
                    .saturating_add(len)
                    .saturating_add(2);
                total > item_max
            }
        }
    }
}

/// Parser limits and compatibility switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted key in bytes (memcached: 250). Longer keys get
    /// `CLIENT_ERROR bad command line format`; a multi-get fails as a whole.
    pub max_key_len: usize,
    /// Bound on data blocks of `set`-like commands and `ms`.
    pub value_limit: ValueLimit,
    /// memcached closes the connection, without a reply, when this many bytes
    /// arrived without a newline and the line does not start with `get ` or
    /// `gets ` (memcached: 2048).
    pub max_line_without_newline: usize,
    /// Hard cap on any command line, multi-gets included. Longer lines get
    /// `CLIENT_ERROR line too long` and the connection must be closed.
    /// memcached has no such cap for multi-gets; this is our guard against
    /// unbounded buffering.
    pub max_line: usize,
    /// memcached parses numbers with `strtoul`/`strtol` and silently
    /// truncates them to 32 bits (flags `4294967296` is stored as `0`,
    /// exptime `4294967297` means `1`). `true` reproduces that; `false`
    /// rejects out-of-range numbers with `CLIENT_ERROR bad command line
    /// format` (what `tyrantd` is advised to do for flags, spec §1.2).
    pub wrap_numbers: bool,
}

impl Limits {
    /// memcached 1.6.18 with `-I 1m` (the configuration of the golden
    /// transcripts), plus a 64 KiB hard cap on command lines.
    pub const fn memcached() -> Limits {
        Limits {
            max_key_len: 250,
            value_limit: ValueLimit::MemcachedItem(1024 * 1024),
            max_line_without_newline: 2048,
            max_line: 64 * 1024,
            wrap_numbers: true,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::memcached()
    }
}

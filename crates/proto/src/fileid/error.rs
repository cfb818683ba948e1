use thiserror::Error;

/// Why a file ID or logical name was refused by the strict validator.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileIdError {
    /// A URL path that does not start with `/`.
    #[error("URL path must start with '/'")]
    NotAbsolute,
    /// No `/` separating the group from `Mxx/...`.
    #[error("file id has no '<group>/' prefix")]
    MissingGroup,
    /// Group name empty, longer than 16, or not `[A-Za-z0-9]`.
    #[error("invalid group name (1..=16 characters of [A-Za-z0-9] required)")]
    BadGroupName,
    /// Logical name length outside `44..=127`.
    #[error("logical name is {0} bytes; FastDFS names are 44..=127 bytes")]
    BadLength(usize),
    /// Not `M` + two uppercase hex digits + `/`.
    #[error("store path segment must be 'M' followed by two uppercase hex digits")]
    BadStorePath,
    /// Not two uppercase hex digits + `/` (twice).
    #[error("sub-directory segments must be two uppercase hex digits each")]
    BadSubdir,
    /// A byte of the 27 (or trunk 16) base64 characters is outside `[A-Za-z0-9_-]`.
    #[error("byte {0} of the file name is not in the FastDFS base64 alphabet")]
    BadBase64(usize),
    /// The base64 part does not re-encode to itself (unused trailing bits set).
    #[error("file name base64 part is not canonical")]
    NonCanonicalBase64,
    /// The 7-character formatted extension is malformed.
    #[error("formatted extension must be 7 digits, or digits + '.' + [A-Za-z0-9._-]")]
    BadExtension,
    /// Slave suffix malformed or containing unsafe characters.
    #[error("slave file name suffix is malformed or has unsafe characters")]
    BadSlaveSuffix,
    /// The name has a trunk flag but not the trunk length, or the reverse.
    #[error("name length does not match the trunk flag in the encoded size")]
    TrunkMismatch,
    /// `<name>-m` is the metadata sidecar of `<name>`, never a file to serve.
    #[error("name ends with '-m' (metadata sidecar), not a file id")]
    MetadataSidecar,
    /// Input to an encoder was out of range (ext too long, bad characters...).
    #[error("cannot encode file name: {0}")]
    Encode(&'static str),
}

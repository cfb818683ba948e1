//! Zero-copy replies: `sendfile(2)` from a segment file straight into a tokio TCP socket.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::net::TcpStream;

/// Sends `len` bytes of `file` starting at `offset` to `stream`.
pub async fn send_file(
    stream: &TcpStream,
    file: &File,
    mut offset: u64,
    len: u64,
) -> io::Result<()> {
    let end = offset + len;
    while offset < end {
        stream.writable().await?;
        let r = stream.try_io(Interest::WRITABLE, || {
            let mut off = offset as libc::off_t;
            let want = (end - offset).min(1 << 30) as usize;
            // SAFETY: both descriptors are open for the duration of the call (borrowed from live
            // owners), `off` is a valid pointer to a local, and sendfile does not retain either.
            let n = unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut off, want) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as u64)
            }
        });
        match r {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment shorter than its index entry",
                ))
            }
            Ok(n) => offset += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// TCP_CORK: hold partial frames until uncorked, so a reply written as header + sendfile +
/// trailer leaves as full segments instead of three small packets.
pub fn cork(stream: &TcpStream, on: bool) {
    let v: libc::c_int = on as libc::c_int;
    // SAFETY: valid socket descriptor borrowed from a live TcpStream; `v` outlives the call and
    // its size is passed exactly.
    let _ = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            &v as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

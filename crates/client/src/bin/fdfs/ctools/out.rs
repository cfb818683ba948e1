//! Writing to stdout when the reader may go away early (`fdfs monitor | head`,
//! `fdfs download ID - | head -c 100`): a closed pipe ends the process quietly with status 0,
//! as a C tool killed by SIGPIPE would stop, instead of a panic or an error message.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// Writes one line to stdout (what `println!` does, see the macro in `ctools`).
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.write_all(b"\n")) {
        gone(&e);
    }
}

/// Writes text as it is to stdout.
pub fn text(s: &str) {
    if let Err(e) = std::io::stdout().lock().write_all(s.as_bytes()) {
        gone(&e);
    }
}

/// Ends the process after a failed stdout write.
pub fn gone(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("fdfs: cannot write to stdout: {e}");
    std::process::exit(1);
}

/// Tokio's stdout with the same broken-pipe rule.
pub struct QuietStdout(tokio::io::Stdout);

impl QuietStdout {
    pub fn new() -> QuietStdout {
        QuietStdout(tokio::io::stdout())
    }
}

fn check<T>(p: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
    if let Poll::Ready(Err(e)) = &p {
        gone(e);
    }
    p
}

impl AsyncWrite for QuietStdout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        check(Pin::new(&mut self.0).poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        check(Pin::new(&mut self.0).poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        check(Pin::new(&mut self.0).poll_shutdown(cx))
    }
}

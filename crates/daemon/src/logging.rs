//! Logs go to stderr or to `log_file`; SIGHUP reopens the file so logrotate can move it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone)]
pub struct LogTarget {
    inner: Arc<Mutex<Option<(PathBuf, File)>>>,
}

impl LogTarget {
    pub fn new(path: Option<&Path>) -> io::Result<LogTarget> {
        let inner = match path {
            Some(p) => Some((p.to_owned(), open(p)?)),
            None => None,
        };
        Ok(LogTarget {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    /// Reopens the log file (after rotation). No-op when logging to stderr.
    pub fn reopen(&self) -> io::Result<()> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((path, file)) = g.as_mut() {
            *file = open(path)?;
        }
        Ok(())
    }
}

fn open(p: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(p)
}

pub struct LogWriter(LogTarget);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut g = self.0.inner.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some((_, f)) => f.write(buf),
            None => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogTarget {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter(self.clone())
    }
}

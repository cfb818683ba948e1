//! A one-line progress bar on stderr, only when stderr is a terminal and the file is big.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const MIN_SIZE: u64 = 4 << 20;
const REDRAW: Duration = Duration::from_millis(100);

pub struct Bar {
    label: &'static str,
    total: u64,
    start: Instant,
    last: Option<Instant>,
    on: bool,
}

impl Bar {
    pub fn new(label: &'static str, total: u64) -> Bar {
        Bar {
            label,
            total,
            start: Instant::now(),
            last: None,
            on: total >= MIN_SIZE && std::io::stderr().is_terminal(),
        }
    }

    pub fn update(&mut self, done: u64) {
        if !self.on || self.last.is_some_and(|t| t.elapsed() < REDRAW) && done < self.total {
            return;
        }
        self.last = Some(Instant::now());
        let frac = if self.total == 0 {
            1.0
        } else {
            done as f64 / self.total as f64
        };
        let width = 30;
        let filled = ((frac * width as f64) as usize).min(width);
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let _ = write!(
            std::io::stderr(),
            "\r{} [{}{}] {:3.0}% {:.1}/{:.1} MiB {:.1} MiB/s ",
            self.label,
            "#".repeat(filled),
            " ".repeat(width - filled),
            frac * 100.0,
            mib(done),
            mib(self.total),
            mib(done) / secs
        );
    }

    pub fn finish(&mut self) {
        if self.on && self.last.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

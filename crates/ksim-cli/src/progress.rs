//! Progress on stderr: a bar on a terminal, plain lines otherwise (logs, CI).

use indicatif::{ProgressBar, ProgressStyle};
use ksim_core::time::SimTime;
use std::io::IsTerminal;
use std::time::Duration;

pub struct Progress {
    bar: Option<ProgressBar>,
    end: SimTime,
    last_line: Duration,
}

/// Wall time between plain progress lines.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(end: SimTime) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(end.0 / 1_000_000);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            end,
            last_line: Duration::ZERO,
        }
    }

    pub fn update(&mut self, now: SimTime, events: u64, wall: Duration) {
        let rate = events as f64 / wall.as_secs_f64().max(1e-9);
        let message = format!(
            "simulated {:.0}/{:.0} s, {} events, {:.2}M events/s",
            now.as_secs_f64(),
            self.end.as_secs_f64(),
            events,
            rate / 1e6
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(now.0 / 1_000_000);
                bar.set_message(message);
            }
            None if wall >= self.last_line + LINE_INTERVAL => {
                self.last_line = wall;
                eprintln!("progress: {message}");
            }
            None => {}
        }
    }

    pub fn finish(&mut self, events: u64, wall: Duration) {
        self.update(self.end, events, wall);
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

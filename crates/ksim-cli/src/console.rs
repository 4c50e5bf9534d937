//! Printing that never panics. std's `println!` panics when stdout fails:
//! when its reader has gone (`ksim validate x | head -1`) or the disk is full
//! (`ksim validate x > /dev/full`). The crate's `println!` and `eprintln!`
//! (defined in `main.rs`) come here instead: the first failure on stdout is
//! kept, later output is dropped, and `main` reports it once the command is
//! done; a failure on stderr is ignored, as there is nowhere left to report it.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The first failed write to stdout.
static STDOUT_FAILURE: Mutex<Option<io::Error>> = Mutex::new(None);

fn stdout_failure() -> MutexGuard<'static, Option<io::Error>> {
    STDOUT_FAILURE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

pub fn print_line(args: fmt::Arguments) {
    let mut failure = stdout_failure();
    if failure.is_none() {
        *failure = writeln!(io::stdout().lock(), "{args}").err();
    }
}

/// Keeps the outcome of a write to stdout made elsewhere (clap's help).
pub fn keep_stdout_result(result: io::Result<()>) {
    let mut failure = stdout_failure();
    if failure.is_none() {
        *failure = result.err();
    }
}

pub fn eprint_line(args: fmt::Arguments) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// Many lines to stderr through one lock and one buffer: 100,000 scenario
/// problems cost a few writes, not 100,000.
pub fn eprint_lines<T: fmt::Display>(lines: impl IntoIterator<Item = T>) {
    let mut out = io::BufWriter::new(io::stderr().lock());
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
    let _ = out.flush();
}

/// Whether everything printed reached stdout. A reader that has gone (a
/// closed pipe) is not an error: the command ends quietly, as other
/// command-line tools do.
pub fn stdout_result() -> io::Result<()> {
    let failure = stdout_failure().take();
    match failure.map_or_else(|| io::stdout().flush(), Err) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}

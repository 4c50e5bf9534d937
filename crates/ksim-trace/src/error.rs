//! What can go wrong reading a trace. Every message names the file, and a
//! row's problem its line and column.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("trace file `{}` does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read trace file `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Row {
        file: String,
        line: u64,
        /// 1-based column (field) number.
        column: usize,
        message: String,
    },
    #[error("`{file}` looks like {found}, not {expected}")]
    WrongFormat {
        file: String,
        expected: String,
        found: String,
    },
    #[error(
        "`{file}` ends in the middle of its gzip stream after line {line}: the file is \
         truncated, and the rows before are not a complete trace"
    )]
    Truncated { file: String, line: u64 },
    #[error("{0}")]
    Setting(String),
}

impl TraceError {
    /// The line of a row error; None for other errors.
    pub fn line(&self) -> Option<u64> {
        match self {
            TraceError::Row { line, .. } => Some(*line),
            _ => None,
        }
    }
}

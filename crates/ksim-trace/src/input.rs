//! Opening a trace file and walking its rows: plain or gzip'ed CSV (told
//! apart by the gzip magic bytes, not the name), streamed, with the bytes
//! read counted for a progress bar. Field readers turn a bad value into an
//! error naming file, line and column; with `skip_bad_rows` a bad row is
//! counted and passed over instead.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use csv::ByteRecord;
use flate2::read::MultiGzDecoder;

use crate::error::TraceError;

/// Bytes of the file read so far (compressed bytes for a gzip file), shared
/// with whoever draws a progress bar.
#[derive(Clone, Debug, Default)]
pub struct BytesRead(Rc<Cell<u64>>);

impl BytesRead {
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

struct Counting<R> {
    inner: R,
    read: BytesRead,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let cell = &self.read.0;
        cell.set(cell.get() + n as u64);
        Ok(n)
    }
}

/// How many rows were skipped as bad, and the first few line numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    pub rows: u64,
    pub first_lines: Vec<u64>,
}

/// Line numbers kept of the rows skipped.
const SKIPPED_LINES_KEPT: usize = 5;

/// One trace file's rows.
pub struct Rows {
    pub(crate) file: String,
    reader: csv::Reader<Box<dyn Read>>,
    pub(crate) record: ByteRecord,
    gzip: bool,
    pub(crate) line: u64,
    skip_bad_rows: bool,
    pub(crate) skipped: Skipped,
    bytes: BytesRead,
    total_bytes: u64,
}

impl Rows {
    /// Opens `path`; a missing file is an error naming it as resolved.
    pub fn open(path: &Path, skip_bad_rows: bool) -> Result<Rows, TraceError> {
        let io = |source| TraceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TraceError::Missing {
                path: absolute(path),
            },
            _ => io(e),
        })?;
        let total_bytes = file.metadata().map_err(io)?.len();
        let mut buffered = BufReader::with_capacity(1 << 16, file);
        let gzip = {
            use std::io::BufRead;
            let head = buffered.fill_buf().map_err(io)?;
            head.starts_with(&[0x1f, 0x8b])
        };
        let bytes = BytesRead::default();
        let counted = Counting {
            inner: buffered,
            read: bytes.clone(),
        };
        let stream: Box<dyn Read> = if gzip {
            Box::new(BufReader::with_capacity(
                1 << 16,
                MultiGzDecoder::new(counted),
            ))
        } else {
            Box::new(counted)
        };
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(stream);
        Ok(Rows {
            file: path.display().to_string(),
            reader,
            record: ByteRecord::new(),
            gzip,
            line: 0,
            skip_bad_rows,
            skipped: Skipped::default(),
            bytes,
            total_bytes,
        })
    }

    /// Reads the next row into `record`; false at the end of the file. A
    /// gzip stream that stops early is `TraceError::Truncated`.
    pub fn advance(&mut self) -> Result<bool, TraceError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => {
                // Counted here: the reader's own line of a record after a
                // CRLF ending is the previous line's. No trace format
                // quotes line breaks inside a field.
                self.line += u64::from(more);
                Ok(more)
            }
            Err(e) => Err(self.read_error(e)),
        }
    }

    fn read_error(&self, e: csv::Error) -> TraceError {
        let line = self.line + 1;
        match e.into_kind() {
            // Whatever the decoder's complaint (early end, bad checksum),
            // the stream does not hold a whole trace.
            csv::ErrorKind::Io(_) if self.gzip => TraceError::Truncated {
                file: self.file.clone(),
                line: self.line,
            },
            csv::ErrorKind::Io(source) => TraceError::Io {
                path: PathBuf::from(&self.file),
                source,
            },
            csv::ErrorKind::Utf8 { err, .. } => TraceError::Row {
                file: self.file.clone(),
                line,
                column: err.field() + 1,
                message: "not UTF-8".into(),
            },
            other => TraceError::Row {
                file: self.file.clone(),
                line,
                column: 1,
                message: format!("{other:?}"),
            },
        }
    }

    /// A row problem at `column` (1-based).
    pub fn error(&self, column: usize, message: impl Into<String>) -> TraceError {
        TraceError::Row {
            file: self.file.clone(),
            line: self.line,
            column,
            message: message.into(),
        }
    }

    /// A bad row: counted and passed over with `skip_bad_rows`, else the error.
    pub fn skip_or_fail(&mut self, error: TraceError) -> Result<(), TraceError> {
        match error {
            TraceError::Row { line, .. } if self.skip_bad_rows => {
                self.skipped.rows += 1;
                if self.skipped.first_lines.len() < SKIPPED_LINES_KEPT {
                    self.skipped.first_lines.push(line);
                }
                Ok(())
            }
            other => Err(other),
        }
    }

    pub fn bytes_read(&self) -> BytesRead {
        self.bytes.clone()
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn len(&self) -> usize {
        self.record.len()
    }

    pub fn is_empty(&self) -> bool {
        self.record.is_empty()
    }

    /// Field `column` (1-based), trimmed of spaces; a missing field is an error.
    pub fn str(&self, column: usize) -> Result<&str, TraceError> {
        let raw = self.record.get(column - 1).ok_or_else(|| {
            self.error(
                column,
                format!("missing field {column}: the row has {}", self.record.len()),
            )
        })?;
        std::str::from_utf8(raw)
            .map(str::trim)
            .map_err(|_| self.error(column, "not UTF-8"))
    }

    /// None when empty.
    pub fn opt_str(&self, column: usize) -> Result<Option<&str>, TraceError> {
        let s = self.str(column)?;
        Ok((!s.is_empty()).then_some(s))
    }

    pub fn u64(&self, column: usize, what: &str) -> Result<u64, TraceError> {
        self.opt_u64(column, what)?
            .ok_or_else(|| self.error(column, format!("{what} is empty")))
    }

    pub fn opt_u64(&self, column: usize, what: &str) -> Result<Option<u64>, TraceError> {
        match self.opt_str(column)? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| {
                self.error(column, format!("{what} `{s}` is not a whole number >= 0"))
            }),
        }
    }

    pub fn opt_i64(&self, column: usize, what: &str) -> Result<Option<i64>, TraceError> {
        match self.opt_str(column)? {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| self.error(column, format!("{what} `{s}` is not a whole number"))),
        }
    }

    pub fn i64(&self, column: usize, what: &str) -> Result<i64, TraceError> {
        self.opt_i64(column, what)?
            .ok_or_else(|| self.error(column, format!("{what} is empty")))
    }

    /// A finite number >= 0, or None when empty.
    pub fn opt_f64(&self, column: usize, what: &str) -> Result<Option<f64>, TraceError> {
        match self.opt_str(column)? {
            None => Ok(None),
            Some(s) => match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
                _ => Err(self.error(column, format!("{what} `{s}` is not a number >= 0"))),
            },
        }
    }

    pub fn f64(&self, column: usize, what: &str) -> Result<f64, TraceError> {
        self.opt_f64(column, what)?
            .ok_or_else(|| self.error(column, format!("{what} is empty")))
    }

    /// The row's fields, trimmed, for format detection and messages.
    pub fn fields(&self) -> Vec<String> {
        self.record
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect()
    }
}

/// The path as the process resolves it, for messages.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

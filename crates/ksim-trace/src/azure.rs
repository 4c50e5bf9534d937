//! Azure Functions 2019 (`azure-functions-2019`): per-minute invocation
//! counts per function, `HashOwner,HashApp,HashFunction,Trigger,<minutes>`,
//! become rate series (`time_s,workload,rate`, the load series the
//! scenario's `shape = "series"` reads): one workload per function, named
//! by the first 8 characters of its hash, each minute's count / 60 as the
//! rate from the minute's start. Minute 1 (or the first column) is time 0.

use std::io::Write;
use std::path::Path;

use crate::error::TraceError;
use crate::input::Rows;
use crate::task::expect_kind;

pub const RATE_HEADER: &str = "time_s,workload,rate";

/// Per function: its name and invocations per minute.
pub struct Function {
    pub name: String,
    pub trigger: String,
    pub per_minute: Vec<u64>,
}

/// Reads the invocations file, one function at a time, into `each`.
pub fn read_invocations(
    path: &Path,
    skip_bad_rows: bool,
    mut each: impl FnMut(Function) -> Result<(), TraceError>,
) -> Result<(u64, Vec<String>), TraceError> {
    let mut rows = Rows::open(path, skip_bad_rows)?;
    if !rows.advance()? {
        return Err(rows.error(1, "the file is empty"));
    }
    expect_kind(&rows, "azure-functions-2019")?;
    let header = rows.fields();
    if header.len() < 5 || header[..4] != ["HashOwner", "HashApp", "HashFunction", "Trigger"] {
        return Err(rows.error(
            1,
            "expected HashOwner,HashApp,HashFunction,Trigger,<minutes>",
        ));
    }
    let minutes = header[4..].to_vec();
    let mut functions = 0;
    while rows.advance()? {
        let parsed = (|| {
            if rows.len() != header.len() {
                return Err(rows.error(
                    1,
                    format!("expected {} fields, found {}", header.len(), rows.len()),
                ));
            }
            let hash = rows.str(3)?;
            let per_minute = (5..=header.len())
                .map(|c| rows.u64(c, "invocations"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Function {
                name: format!("fn-{}", &hash[..hash.len().min(8)]),
                trigger: rows.str(4)?.to_string(),
                per_minute,
            })
        })();
        match parsed {
            Ok(function) => {
                functions += 1;
                each(function)?;
            }
            Err(e) => rows.skip_or_fail(e)?,
        }
    }
    Ok((functions, minutes))
}

/// A function's series: (seconds from the first minute, rate per second).
pub fn rate_points(function: &Function) -> Vec<(u64, f64)> {
    function
        .per_minute
        .iter()
        .enumerate()
        .map(|(minute, count)| (minute as u64 * 60, *count as f64 / 60.0))
        .collect()
}

/// Writes a function's series as native rate rows.
pub fn write_series(out: &mut impl Write, function: &Function) -> std::io::Result<()> {
    for (secs, rate) in rate_points(function) {
        writeln!(out, "{secs},{},{rate}", function.name)?;
    }
    Ok(())
}

//! Rate-series CSV files (`shape = "series"`): `time_s,rate`, or
//! `time_s,workload,rate` with the rows of one workload selected; or an
//! Azure Functions 2019 invocations file, one function selected
//! (`ksim_trace::azure`: `fn-<first 8 characters of its hash>`).
//!
//! A problem in the file is reported at the scenario key that named it,
//! with the CSV file, line and column in the message.

use std::collections::BTreeSet;

use ksim_core::time::SimTime;

use crate::duration;
use crate::names;
use crate::reader::{self, Ctx, Node};

const TWO_COLUMNS: [&str; 2] = ["time_s", "rate"];
const THREE_COLUMNS: [&str; 3] = ["time_s", "workload", "rate"];

/// The points of the series at `path_node`: rows of `workload_node`'s
/// workload (default `default_workload`) when the file has a workload
/// column. Each point's rate is per second.
pub(crate) fn read(
    ctx: &mut Ctx,
    path_node: &Node,
    workload_node: Option<Node>,
    default_workload: &str,
) -> Option<Vec<(SimTime, f64)>> {
    let path = reader::name(ctx, path_node)?;
    let selected = match &workload_node {
        None => Some(default_workload),
        Some(n) => reader::name(ctx, n),
    };
    let file = ctx.resolve(path);
    let shown = file.display().to_string();
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) => {
            let message = format!("cannot read load series `{shown}`: {e}");
            ctx.error(&path_node.span, &path_node.path, message);
            return None;
        }
    };
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let file_problem = |ctx: &mut Ctx, at: String, message: String| {
        ctx.error(
            &path_node.span,
            &path_node.path,
            format!("{shown}:{at}: {message}"),
        );
    };
    let header: Vec<String> = match csv.headers() {
        Ok(header) => header.iter().map(str::to_string).collect(),
        Err(e) => {
            file_problem(ctx, "1".into(), format!("unreadable header: {}", kind(&e)));
            return None;
        }
    };
    if header.first().is_some_and(|h| h == "HashOwner") {
        return azure(ctx, path_node, workload_node.as_ref(), selected?, &file);
    }
    let with_workload = if header == THREE_COLUMNS {
        true
    } else if header == TWO_COLUMNS {
        false
    } else {
        file_problem(
            ctx,
            "1".into(),
            format!(
                "expected the header `time_s,rate` or `time_s,workload,rate`, found `{}`",
                header.join(",")
            ),
        );
        return None;
    };
    if let (false, Some(n)) = (with_workload, &workload_node) {
        ctx.error(
            &n.span,
            &n.path,
            format!(
                "`workload` selects the rows of a series with a workload column \
                 (time_s,workload,rate); `{shown}` has only time_s,rate"
            ),
        );
        return None;
    }
    let selected = selected?;
    let mut rows = Rows {
        points: Vec::new(),
        previous_line: 0,
        ok: true,
    };
    let mut others = BTreeSet::new();
    for record in csv.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                file_problem(ctx, line.to_string(), kind(&e));
                rows.ok = false;
                if matches!(
                    e.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                ) {
                    continue;
                }
                break;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if with_workload && &record[1] != selected {
            others.insert(record[1].to_string());
            continue;
        }
        let rate_column = if with_workload { 2 } else { 1 };
        if let Err((column, message)) = rows.push(line, &record[0], &record[rate_column]) {
            let column = if column == 0 { 1 } else { rate_column + 1 };
            let name = header[column - 1].as_str();
            file_problem(ctx, format!("{line}: column {column} ({name})"), message);
        }
    }
    if !rows.ok {
        return None;
    }
    if rows.points.is_empty() {
        let (span, key) = match &workload_node {
            Some(n) => (&n.span, n.path.as_str()),
            None => (&path_node.span, path_node.path.as_str()),
        };
        let message = empty_selection(&shown, with_workload, selected, &others);
        ctx.error(span, key, message);
        return None;
    }
    Some(rows.points)
}

/// One function's per-minute invocations as a rate series: each minute's
/// count / 60 from the minute's start (`docs/traces.md`).
fn azure(
    ctx: &mut Ctx,
    path_node: &Node,
    workload_node: Option<&Node>,
    selected: &str,
    file: &std::path::Path,
) -> Option<Vec<(SimTime, f64)>> {
    let mut points = None;
    let mut others = BTreeSet::new();
    let read = ksim_trace::azure::read_invocations(file, false, |function| {
        if function.name == selected && points.is_none() {
            points = Some(ksim_trace::azure::rate_points(&function));
        } else {
            others.insert(function.name);
        }
        Ok(())
    });
    if let Err(e) = read {
        ctx.error(&path_node.span, &path_node.path, e.to_string());
        return None;
    }
    if points.is_none() {
        let (span, key) = match workload_node {
            Some(n) => (&n.span, n.path.as_str()),
            None => (&path_node.span, path_node.path.as_str()),
        };
        let shown = file.display().to_string();
        ctx.error(span, key, empty_selection(&shown, true, selected, &others));
    }
    points.map(|p| {
        p.into_iter()
            .map(|(secs, rate)| (SimTime(secs * 1_000_000_000), rate))
            .collect()
    })
}

/// Why a file gave no point, with the workloads it does have rows for.
fn empty_selection(
    shown: &str,
    with_workload: bool,
    selected: &str,
    others: &BTreeSet<String>,
) -> String {
    if !with_workload {
        return format!("load series `{shown}` has no rows");
    }
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    let hint = match names::suggest(selected, &others) {
        Some(best) => format!(": did you mean `{best}`?"),
        None if others.is_empty() => String::new(),
        None => format!(" (it has rows for {})", names::list(&others)),
    };
    format!("load series `{shown}` has no rows for workload `{selected}`{hint}")
}

/// The points read so far.
struct Rows {
    points: Vec<(SimTime, f64)>,
    /// The line of the last point, for ordering problems.
    previous_line: u64,
    ok: bool,
}

impl Rows {
    /// Adds a row, or says which column (0: time, 1: rate) is wrong and why.
    fn push(&mut self, line: u64, time: &str, rate: &str) -> Result<(), (usize, String)> {
        let result = parse_time(time)
            .map_err(|m| (0, m))
            .and_then(|at| parse_rate(rate).map(|r| (at, r)).map_err(|m| (1, m)))
            .and_then(|(at, rate)| match self.points.last() {
                Some(&(before, _)) if at <= before => Err((
                    0,
                    format!(
                        "time {at} is not after the previous row's {before} (line {}): times \
                         must increase strictly",
                        self.previous_line
                    ),
                )),
                _ => Ok((at, rate)),
            });
        match result {
            Ok(point) => {
                self.points.push(point);
                self.previous_line = line;
                Ok(())
            }
            Err(problem) => {
                self.ok = false;
                Err(problem)
            }
        }
    }
}

/// Seconds from the start of the run.
fn parse_time(text: &str) -> Result<SimTime, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(format!(
            "time must be a finite number of seconds >= 0, found `{text}`"
        ));
    }
    let nanos = secs * 1e9;
    if nanos >= duration::LIMIT as f64 {
        return Err(format!(
            "time {text} s is beyond simulated time (2^63 ns, about 292 years)"
        ));
    }
    Ok(SimTime(nanos.round() as u64))
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a rate (a number per second)"))?;
    if !(rate.is_finite() && rate >= 0.0) {
        return Err(format!("rate must be a finite number >= 0, found `{text}`"));
    }
    Ok(rate)
}

/// A CSV error without the position the message already gives.
fn kind(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} columns, where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text ({err})"),
        _ => e.to_string(),
    }
}

//! A trace task in the trace's own time, before the window and scales of
//! a replay apply: what every format reader yields, in arrival order.

use crate::error::TraceError;
use crate::input::Rows;

/// One task (a pod, or `instances` identical pods) as the trace has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceTask {
    /// The row that created it (for messages).
    pub line: u64,
    /// Trace time, nanoseconds from the trace's zero (may be negative:
    /// before the trace started).
    pub arrival_ns: i64,
    /// When it started running in the trace; None: it never did.
    pub start_ns: Option<i64>,
    /// When it ended; None: no end in the trace.
    pub end_ns: Option<i64>,
    /// Ended Failed (failed, killed, evicted, lost) rather than Succeeded.
    pub failed: bool,
    /// The template (workload) it belongs to, from the trace's columns.
    pub template: String,
    pub priority: i32,
    /// The template's labels, `key=value` joined by `;` (native traces).
    pub labels: String,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub gpus: u64,
    /// Identical pods this row stands for (Alibaba 2017's instance count).
    pub instances: u64,
}

impl TraceTask {
    /// Its run time in the trace: from its start to its end.
    pub fn run_ns(&self) -> Option<i64> {
        Some(self.end_ns? - self.start_ns?)
    }
}

/// Tasks in arrival order from one trace file.
pub trait TaskReader {
    fn next_task(&mut self) -> Result<Option<TraceTask>, TraceError>;
    /// The file's rows (bytes read, rows skipped).
    fn rows(&self) -> &Rows;
    /// Counts of the format's own (rows of kinds ignored, requests missing).
    fn counts(&self) -> Vec<(&'static str, u64)>;
}

/// What a file's first row looks like, for "this looks like X, not Y".
pub fn looks_like(fields: &[String]) -> &'static str {
    let first = fields.first().map(String::as_str).unwrap_or("");
    let has = |name: &str| fields.iter().any(|f| f == name);
    let int = |i: usize| fields.get(i).is_some_and(|f| f.parse::<i64>().is_ok());
    if first == "name" && has("cpu_milli") {
        "alibaba-gpu-v2023 (a pod list)"
    } else if first == "sn" && has("cpu_milli") {
        "alibaba-gpu-v2023 (a node list)"
    } else if has("task_create_time") {
        "alibaba-v2017 (batch_task)"
    } else if first == "HashOwner" || first == "HashFunction" {
        "azure-functions-2019"
    } else if first == "arrival_s" {
        "native (a pod trace)"
    } else if first == "time_s" {
        "native (a rate series)"
    } else if fields.len() == 13 && int(0) && int(2) {
        "google-cluster-2011 (task_events)"
    } else if fields.len() == 6 && int(0) && int(1) && int(2) {
        "google-cluster-2011 (machine_events)"
    } else if fields.len() == 8
        && ["Terminated", "Waiting", "Running", "Failed"].contains(&fields[5].as_str())
    {
        "alibaba-v2017 (batch_task without a header)"
    } else {
        "an unknown format"
    }
}

/// Refuses a file whose first row is not what `expected` reads.
pub fn expect_kind(rows: &Rows, expected: &'static str) -> Result<(), TraceError> {
    let found = looks_like(&rows.fields());
    if found == expected {
        return Ok(());
    }
    let found = if found == "an unknown format" {
        let mut first: String = rows.fields().join(",");
        first.truncate(80);
        format!("an unknown format (line {}: `{first}`)", rows.line)
    } else {
        found.to_string()
    };
    Err(TraceError::WrongFormat {
        file: rows.file.clone(),
        expected: expected.to_string(),
        found,
    })
}

/// Seconds with up to nine decimals, exactly, as nanoseconds.
pub fn parse_seconds_ns(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || fraction.len() > 9
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos: i64 = 0;
    for (i, b) in fraction.bytes().enumerate() {
        nanos += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
    }
    let ns = whole.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    Some(if negative { -ns } else { ns })
}

/// Nanoseconds as seconds with nine decimals, trailing zeros dropped.
pub fn format_seconds(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let abs = ns.unsigned_abs();
    let (whole, nanos) = (abs / 1_000_000_000, abs % 1_000_000_000);
    if nanos == 0 {
        return format!("{sign}{whole}");
    }
    let fraction = format!("{nanos:09}");
    format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_exactly() {
        for ns in [
            0,
            1,
            999_999_999,
            1_000_000_000,
            1_500_000_000,
            -2_250_000_000,
            123_456_789_012,
        ] {
            assert_eq!(parse_seconds_ns(&format_seconds(ns)), Some(ns), "{ns}");
        }
        assert_eq!(parse_seconds_ns("1.5"), Some(1_500_000_000));
        assert_eq!(parse_seconds_ns("1e3"), None);
        assert_eq!(parse_seconds_ns("0.0000000001"), None);
        assert_eq!(parse_seconds_ns(""), None);
        assert_eq!(parse_seconds_ns("."), None);
    }

    #[test]
    fn first_rows_are_told_apart() {
        let f = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            looks_like(&f("0,2,3418309,0,4155527081,0,abc,3,9,,,,")),
            "google-cluster-2011 (task_events)"
        );
        assert_eq!(
            looks_like(&f("0,5,0,Hof,0.5,0.2493")),
            "google-cluster-2011 (machine_events)"
        );
        assert_eq!(
            looks_like(&f("task_create_time, task_end_time,job_id")),
            "alibaba-v2017 (batch_task)"
        );
        assert_eq!(
            looks_like(&f("6459,6524,3,4,15740,Terminated,50,0.007956928")),
            "alibaba-v2017 (batch_task without a header)"
        );
        assert_eq!(looks_like(&f("hello,world")), "an unknown format");
    }
}

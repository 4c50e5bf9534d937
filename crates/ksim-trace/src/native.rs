//! ksim's native pod trace (`native`): one row per pod, in arrival order,
//! in the units the simulator uses, so nothing is assumed:
//!
//! `arrival_s,run_s,template,priority,cpu_millis,memory_bytes,gpu,outcome,labels`
//!
//! Seconds have up to nine decimals (exact nanoseconds); an empty `run_s`
//! runs to the end of the run; `outcome` is `succeeded` or `failed`;
//! `labels` are `key=value` pairs joined by `;` (a template's rows agree).

use std::io::Write;
use std::path::Path;

use crate::error::TraceError;
use crate::input::Rows;
use crate::task::{expect_kind, format_seconds, parse_seconds_ns, TaskReader, TraceTask};

pub const HEADER: [&str; 9] = [
    "arrival_s",
    "run_s",
    "template",
    "priority",
    "cpu_millis",
    "memory_bytes",
    "gpu",
    "outcome",
    "labels",
];

pub struct NativePods {
    rows: Rows,
    previous_ns: i64,
}

impl NativePods {
    pub fn open(path: &Path, skip_bad_rows: bool) -> Result<Self, TraceError> {
        let mut rows = Rows::open(path, skip_bad_rows)?;
        if !rows.advance()? {
            return Err(rows.error(1, "the file is empty"));
        }
        expect_kind(&rows, "native (a pod trace)")?;
        if rows.fields() != HEADER {
            return Err(rows.error(1, format!("the header must be `{}`", HEADER.join(","))));
        }
        Ok(NativePods {
            rows,
            previous_ns: i64::MIN,
        })
    }

    fn seconds(&self, column: usize, what: &str) -> Result<Option<i64>, TraceError> {
        match self.rows.opt_str(column)? {
            None => Ok(None),
            Some(s) => parse_seconds_ns(s).map(Some).ok_or_else(|| {
                self.rows.error(
                    column,
                    format!("{what} `{s}` is not seconds (up to 9 decimals)"),
                )
            }),
        }
    }

    fn parse(&mut self) -> Result<TraceTask, TraceError> {
        let r = &self.rows;
        if r.len() != HEADER.len() {
            return Err(r.error(
                1,
                format!("expected {} fields, found {}", HEADER.len(), r.len()),
            ));
        }
        let arrival = self
            .seconds(1, "arrival_s")?
            .ok_or_else(|| r.error(1, "arrival_s is empty"))?;
        if arrival < 0 {
            return Err(r.error(1, "arrival_s is negative"));
        }
        if arrival < self.previous_ns {
            return Err(r.error(
                1,
                "arrival_s goes back in time: rows must be in arrival order",
            ));
        }
        let run = self.seconds(2, "run_s")?;
        if run.is_some_and(|run| run < 0) {
            return Err(r.error(2, "run_s is negative"));
        }
        let template = r.str(3)?;
        if template.is_empty() {
            return Err(r.error(3, "template is empty"));
        }
        let priority = r.i64(4, "priority")?;
        let priority = i32::try_from(priority).map_err(|_| r.error(4, "priority out of range"))?;
        let failed = match r.str(8)? {
            "succeeded" => false,
            "failed" => true,
            other => {
                return Err(r.error(8, format!("outcome `{other}` is not succeeded or failed")))
            }
        };
        let labels = r.str(9)?;
        for pair in labels.split(';').filter(|p| !p.is_empty()) {
            if pair.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                return Err(r.error(9, format!("label `{pair}` is not key=value")));
            }
        }
        let task = TraceTask {
            line: r.line,
            arrival_ns: arrival,
            start_ns: Some(arrival),
            end_ns: run.map(|run| arrival + run),
            failed,
            template: template.to_string(),
            priority,
            labels: labels.to_string(),
            cpu_millis: r.u64(5, "cpu_millis")?,
            memory_bytes: r.u64(6, "memory_bytes")?,
            gpus: r.u64(7, "gpu")?,
            instances: 1,
        };
        self.previous_ns = arrival;
        Ok(task)
    }
}

impl TaskReader for NativePods {
    fn next_task(&mut self) -> Result<Option<TraceTask>, TraceError> {
        while self.rows.advance()? {
            match self.parse() {
                Ok(task) => return Ok(Some(task)),
                Err(e) => self.rows.skip_or_fail(e)?,
            }
        }
        Ok(None)
    }

    fn rows(&self) -> &Rows {
        &self.rows
    }

    fn counts(&self) -> Vec<(&'static str, u64)> {
        vec![]
    }
}

/// One replayed pod as a native row.
pub struct NativeRow<'a> {
    pub arrival_ns: i64,
    pub run_ns: Option<i64>,
    pub template: &'a str,
    pub priority: i32,
    pub labels: &'a str,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub gpus: u64,
    pub failed: bool,
}

pub fn write_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{}", HEADER.join(","))
}

pub fn write_row(out: &mut impl Write, row: &NativeRow) -> std::io::Result<()> {
    writeln!(
        out,
        "{},{},{},{},{},{},{},{},{}",
        format_seconds(row.arrival_ns),
        row.run_ns.map(format_seconds).unwrap_or_default(),
        row.template,
        row.priority,
        row.cpu_millis,
        row.memory_bytes,
        row.gpus,
        if row.failed { "failed" } else { "succeeded" },
        row.labels
    )
}

/// Writes a replay of `spec` as a native pod trace: the pods as the replay
/// has them (window, scales and censoring applied), so replaying the
/// output with default settings gives the same pods. Returns the replay's
/// counts and the rows skipped.
pub fn convert(
    spec: &crate::TraceSpec,
    out: &mut impl Write,
    mut progress: impl FnMut(u64, u64),
) -> Result<(crate::replay::ReplayCounts, crate::input::Skipped), TraceError> {
    let mut replay = crate::replay::Replay::open(spec)?;
    let (bytes, total) = (replay.bytes_read(), replay.total_bytes());
    let io = |source| TraceError::Io {
        path: "(the native trace written)".into(),
        source,
    };
    write_header(out).map_err(io)?;
    while let Some(pod) = replay.next_pod()? {
        let t = &pod.task;
        let row = NativeRow {
            arrival_ns: pod.arrival_ns as i64,
            run_ns: pod.run_ns.map(|r| r as i64),
            template: &t.template,
            priority: t.priority,
            labels: &t.labels,
            cpu_millis: t.cpu_millis,
            memory_bytes: t.memory_bytes,
            gpus: t.gpus,
            failed: pod.failed,
        };
        write_row(out, &row).map_err(io)?;
        if replay.counts.pods.is_multiple_of(65_536) {
            progress(bytes.get(), total);
        }
    }
    progress(total, total);
    Ok((replay.counts.clone(), replay.skipped().clone()))
}

//! `timeline.csv` and `pods.csv`, written row by row (pods.csv can hold
//! millions of rows) with one reused formatting buffer.

use std::fmt::{Display, Write as _};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use ksim_core::metrics::{PodRecord, RunOutput, TimelineSample};
use ksim_core::time::SimTime;

use crate::atomic;
use crate::fixed::Fixed;
use crate::{OutputError, PODS_CSV, TIMELINE_CSV};

pub(crate) const TIMELINE_HEADER: [&str; 16] = [
    "time_s",
    "nodes_total",
    "nodes_ready",
    "pods_pending",
    "pods_running",
    "pods_succeeded",
    "pods_failed",
    "pods_unschedulable",
    "cpu_requested_millis",
    "cpu_allocatable_millis",
    "memory_requested_bytes",
    "memory_allocatable_bytes",
    "scheduling_attempts",
    "binds",
    "scheduling_latency_p50_ms",
    "scheduling_latency_p99_ms",
];

pub(crate) const PODS_HEADER: [&str; 8] = [
    "pod_id",
    "workload",
    "created_s",
    "bound_s",
    "started_s",
    "finished_s",
    "node",
    "phase",
];

/// A CSV writer that formats fields into one reused buffer and names the
/// file in its errors.
struct Rows<'w> {
    csv: csv::Writer<&'w mut BufWriter<File>>,
    field: String,
    target: &'w Path,
}

impl<'w> Rows<'w> {
    fn new(
        out: &'w mut BufWriter<File>,
        target: &'w Path,
        header: &[&str],
    ) -> Result<Self, OutputError> {
        let mut rows = Rows {
            csv: csv::Writer::from_writer(out),
            field: String::new(),
            target,
        };
        let written = rows.csv.write_record(header);
        rows.check(written)?;
        Ok(rows)
    }

    fn check(&self, result: csv::Result<()>) -> Result<(), OutputError> {
        result.map_err(|source| OutputError::Csv {
            path: self.target.to_path_buf(),
            source,
        })
    }

    fn field(&mut self, value: impl Display) -> Result<(), OutputError> {
        self.field.clear();
        // Writing into a String cannot fail.
        let _ = write!(self.field, "{value}");
        let written = self.csv.write_field(&self.field);
        self.check(written)
    }

    fn optional(&mut self, value: Option<impl Display>) -> Result<(), OutputError> {
        match value {
            Some(v) => self.field(v),
            None => self.field(""),
        }
    }

    fn end_row(&mut self) -> Result<(), OutputError> {
        let written = self.csv.write_record(None::<&[u8]>);
        self.check(written)
    }

    fn finish(mut self) -> Result<(), OutputError> {
        let flushed = self.csv.flush().map_err(csv::Error::from);
        self.check(flushed)
    }
}

pub(crate) fn write_timeline(dir: &Path, output: &RunOutput) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, TIMELINE_CSV, |out, target| {
        write_timeline_rows(Rows::new(out, target, &TIMELINE_HEADER)?, &output.timeline)
    })
}

fn write_timeline_rows(mut rows: Rows, timeline: &[TimelineSample]) -> Result<(), OutputError> {
    for s in timeline {
        rows.field(Fixed::secs3(s.time.0))?;
        for count in [
            s.nodes_total,
            s.nodes_ready,
            s.pods_pending,
            s.pods_running,
            s.pods_succeeded,
            s.pods_failed,
            s.pods_unschedulable,
            s.cpu_requested_millis,
            s.cpu_allocatable_millis,
            s.memory_requested_bytes,
            s.memory_allocatable_bytes,
            s.scheduling_attempts,
            s.binds,
        ] {
            rows.field(count)?;
        }
        rows.optional(s.scheduling_latency_p50.map(Fixed::ms3))?;
        rows.optional(s.scheduling_latency_p99.map(Fixed::ms3))?;
        rows.end_row()?;
    }
    rows.finish()
}

pub(crate) fn write_pods(
    dir: &Path,
    output: &RunOutput,
    pods: &[PodRecord],
) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, PODS_CSV, |out, target| {
        let rows = Rows::new(out, target, &PODS_HEADER)?;
        write_pod_rows(rows, pods, &output.workload_names)
    })
}

fn write_pod_rows(
    mut rows: Rows,
    pods: &[PodRecord],
    workload_names: &[String],
) -> Result<(), OutputError> {
    let secs = |t: Option<SimTime>| t.map(|t| Fixed::secs6(t.0));
    for pod in pods {
        let Some(workload) = workload_names.get(pod.workload as usize) else {
            return Err(OutputError::Data {
                path: rows.target.to_path_buf(),
                message: format!(
                    "pod {} belongs to workload {} but the run names only {} workloads",
                    pod.id,
                    pod.workload,
                    workload_names.len()
                ),
            });
        };
        rows.field(pod.id)?;
        rows.field(workload)?;
        rows.field(Fixed::secs6(pod.created.0))?;
        rows.optional(secs(pod.bound))?;
        rows.optional(secs(pod.started))?;
        rows.optional(secs(pod.finished))?;
        rows.optional(pod.node)?;
        rows.field(pod.phase.as_str())?;
        rows.end_row()?;
    }
    rows.finish()
}

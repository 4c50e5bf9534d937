//! `timeline.csv`, `pods.csv` and `control_plane.csv`, written row by row
//! (pods.csv can hold millions of rows) with one reused formatting buffer.

use std::fmt::{Display, Write as _};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use ksim_core::metrics::{
    ControlPlaneTimeline, DecisionTarget, PodRecord, RunOutput, TimelineSample,
};
use ksim_core::time::SimTime;

use crate::atomic;
use crate::fixed::{round_6dp, Fixed};
use crate::{
    OutputError, CONTROL_PLANE_CSV, DECISIONS_CSV, NODE_AUTOSCALER_CSV, NODE_POOLS_CSV, PODS_CSV,
    TIMELINE_CSV, WORKLOADS_CSV,
};

pub(crate) const TIMELINE_HEADER: [&str; 20] = [
    "time_s",
    "nodes_total",
    "nodes_ready",
    "nodes_provisioning",
    "nodes_not_ready",
    "nodes_cordoned",
    "nodes_draining",
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

/// Long format, one row per (sample, pool with nodes): thousands of pools
/// (an instance catalog) would not fit as columns.
pub(crate) const NODE_POOLS_HEADER: [&str; 5] =
    ["time_s", "pool", "nodes", "nodes_ready", "cost_per_hour"];
pub(crate) const NODE_AUTOSCALER_HEADER: [&str; 5] = [
    "time_s",
    "pods_unschedulable",
    "pods_no_group",
    "nodes_provisioning",
    "cost_per_hour",
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

/// One row per (sample, workload with a usage model or an autoscaler);
/// fields that do not apply to its model are empty.
pub(crate) const WORKLOADS_HEADER: [&str; 14] = [
    "time_s",
    "workload",
    "load_per_s",
    "replicas_desired",
    "replicas_current",
    "replicas_ready",
    "cpu_per_replica_millis",
    "memory_per_replica_bytes",
    "queue_length",
    "running_executions",
    "latency_ms",
    "wait_p50_ms",
    "wait_p99_ms",
    "dropped_total",
];

/// One row per autoscaler decision that changed, or wanted to change, a count.
/// Counts are replicas for a workload and nodes of the pool for a pool or a
/// node.
pub(crate) const DECISIONS_HEADER: [&str; 10] = [
    "time_s",
    "controller",
    "action",
    "target",
    "inputs",
    "current",
    "proposed",
    "stabilized",
    "desired",
    "reason",
];

/// Long format: one row per (sample time, series), so new series need no
/// new columns.
pub(crate) const CONTROL_PLANE_HEADER: [&str; 4] = ["time_s", "component", "metric", "value"];

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
        result.map_err(|source| OutputError::csv(self.target, source))
    }

    fn data_error(&self, message: String) -> OutputError {
        OutputError::Data {
            path: self.target.to_path_buf(),
            message,
        }
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
            s.nodes_provisioning,
            s.nodes_not_ready,
            s.nodes_cordoned,
            s.nodes_draining,
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

pub(crate) fn write_node_pools(dir: &Path, output: &RunOutput) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, NODE_POOLS_CSV, |out, target| {
        let mut rows = Rows::new(out, target, &NODE_POOLS_HEADER)?;
        for s in &output.pool_timeline {
            let Some(pool) = output.node_pool_names.get(s.pool as usize) else {
                return Err(rows.data_error(format!(
                    "a sample names pool {} but the run has {} pools",
                    s.pool,
                    output.node_pool_names.len()
                )));
            };
            rows.field(Fixed::secs3(s.time.0))?;
            rows.field(pool)?;
            rows.field(s.nodes)?;
            rows.field(s.nodes_ready)?;
            rows.field(round_6dp(s.cost_per_hour))?;
            rows.end_row()?;
        }
        rows.finish()
    })
}

pub(crate) fn write_node_autoscaler(
    dir: &Path,
    output: &RunOutput,
) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, NODE_AUTOSCALER_CSV, |out, target| {
        let mut rows = Rows::new(out, target, &NODE_AUTOSCALER_HEADER)?;
        for s in &output.node_autoscaler_timeline {
            rows.field(Fixed::secs3(s.time.0))?;
            rows.field(s.pods_unschedulable)?;
            rows.field(s.pods_no_group)?;
            rows.field(s.nodes_provisioning)?;
            rows.field(round_6dp(s.cost_per_hour))?;
            rows.end_row()?;
        }
        rows.finish()
    })
}

pub(crate) fn write_workloads(dir: &Path, output: &RunOutput) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, WORKLOADS_CSV, |out, target| {
        let mut rows = Rows::new(out, target, &WORKLOADS_HEADER)?;
        for s in &output.workload_timeline {
            let name = workload_name(&rows, output, s.workload)?;
            rows.field(Fixed::secs3(s.time.0))?;
            rows.field(name)?;
            rows.optional(s.load_per_s.map(round_6dp))?;
            rows.field(s.replicas_desired)?;
            rows.field(s.replicas_current)?;
            rows.field(s.replicas_ready)?;
            rows.optional(s.cpu_per_replica_millis.map(round_6dp))?;
            rows.optional(s.memory_per_replica_bytes.map(round_6dp))?;
            rows.optional(s.queue_length.map(round_6dp))?;
            rows.optional(s.running_executions)?;
            rows.optional(s.latency_ms.map(round_6dp))?;
            rows.optional(s.wait_p50_ms.map(round_6dp))?;
            rows.optional(s.wait_p99_ms.map(round_6dp))?;
            rows.optional(s.dropped_total.map(round_6dp))?;
            rows.end_row()?;
        }
        rows.finish()
    })
}

pub(crate) fn write_decisions(dir: &Path, output: &RunOutput) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, DECISIONS_CSV, |out, target| {
        let mut rows = Rows::new(out, target, &DECISIONS_HEADER)?;
        for d in &output.decisions {
            let target = match d.target {
                DecisionTarget::Workload(w) => workload_name(&rows, output, w)?.to_string(),
                DecisionTarget::Pool(p) => pool_name(&rows, output, p)?.to_string(),
                DecisionTarget::Node { pool, node } => {
                    format!("{}/{node}", pool_name(&rows, output, pool)?)
                }
            };
            rows.field(Fixed::secs3(d.at.0))?;
            rows.field(&d.controller)?;
            rows.field(d.action)?;
            rows.field(&target)?;
            rows.field(&d.inputs)?;
            rows.field(d.current)?;
            rows.field(d.proposed)?;
            rows.field(d.stabilized)?;
            rows.field(d.desired)?;
            rows.field(&d.reason)?;
            rows.end_row()?;
        }
        rows.finish()
    })
}

fn pool_name<'o>(rows: &Rows, output: &'o RunOutput, pool: u32) -> Result<&'o str, OutputError> {
    output
        .node_pool_names
        .get(pool as usize)
        .map(String::as_str)
        .ok_or_else(|| {
            rows.data_error(format!(
                "a row names pool {pool} but the run has {} pools",
                output.node_pool_names.len()
            ))
        })
}

fn workload_name<'o>(
    rows: &Rows,
    output: &'o RunOutput,
    workload: u32,
) -> Result<&'o str, OutputError> {
    output
        .workload_names
        .get(workload as usize)
        .map(String::as_str)
        .ok_or_else(|| {
            rows.data_error(format!(
                "a row names workload {workload} but the run has {} workloads",
                output.workload_names.len()
            ))
        })
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
            return Err(rows.data_error(format!(
                "pod {} belongs to workload {} but the run names only {} workloads",
                pod.id,
                pod.workload,
                workload_names.len()
            )));
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

pub(crate) fn write_control_plane(
    dir: &Path,
    timeline: &ControlPlaneTimeline,
) -> Result<PathBuf, OutputError> {
    write_series(dir, CONTROL_PLANE_CSV, timeline)
}

/// A long-format timeline (`time_s,component,metric,value`) under `name`:
/// `control_plane.csv`, `node_lifecycle.csv`.
pub(crate) fn write_series(
    dir: &Path,
    name: &str,
    timeline: &ControlPlaneTimeline,
) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, name, |out, target| {
        let rows = Rows::new(out, target, &CONTROL_PLANE_HEADER)?;
        write_control_plane_rows(rows, timeline)
    })
}

/// Rows in time order, then series order; an undefined value is an empty
/// cell. A malformed timeline (ragged, unordered, non-finite) is refused
/// rather than written in a shape nobody can read back.
fn write_control_plane_rows(
    mut rows: Rows,
    timeline: &ControlPlaneTimeline,
) -> Result<(), OutputError> {
    if timeline.values.len() != timeline.times.len() {
        return Err(rows.data_error(format!(
            "the control-plane timeline has {} sample times but {} rows of values",
            timeline.times.len(),
            timeline.values.len()
        )));
    }
    let mut previous = None;
    for (&time, values) in timeline.times.iter().zip(&timeline.values) {
        let at = Fixed::secs3(time.0);
        if values.len() != timeline.series.len() {
            return Err(rows.data_error(format!(
                "the control-plane sample at {at} s has {} values for {} series",
                values.len(),
                timeline.series.len()
            )));
        }
        if previous.is_some_and(|p| time < p) {
            return Err(rows.data_error(format!(
                "the control-plane sample at {at} s comes after a later one"
            )));
        }
        previous = Some(time);
        for (name, &value) in timeline.series.iter().zip(values) {
            if let Some(v) = value.filter(|v| !v.is_finite()) {
                return Err(rows.data_error(format!(
                    "control-plane series {} {} is {v} at {at} s",
                    name.component, name.metric
                )));
            }
            rows.field(at)?;
            rows.field(&name.component)?;
            rows.field(&name.metric)?;
            rows.optional(value.map(round_6dp))?;
            rows.end_row()?;
        }
    }
    rows.finish()
}

//! Alibaba traces: cluster-trace-v2017's batch_task (`alibaba-v2017`) and
//! cluster-trace-gpu-v2023's pod and node lists (`alibaba-gpu-v2023`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::TraceError;
use crate::input::Rows;
use crate::task::{expect_kind, looks_like, TaskReader, TraceTask};
use crate::Scale;

const S: i64 = 1_000_000_000;
const MIB: u64 = 1 << 20;

/// batch_task: one row per task, `number_of_instances` identical pods.
/// The file is ordered by job, not by time: `reorder::Sorted` puts it in
/// arrival order. create = arrival (and start: the trace has no separate
/// start), the latest state change = end for Terminated (Succeeded) and
/// Failed tasks; Waiting and Running tasks have no end. CPU is cores × 100;
/// memory is normalised to the largest machine.
pub struct BatchTask {
    rows: Rows,
    scale: Scale,
    first: bool,
    missing_requests: u64,
}

impl BatchTask {
    pub fn open(path: &Path, scale: Scale, skip_bad_rows: bool) -> Result<Self, TraceError> {
        Ok(BatchTask {
            rows: Rows::open(path, skip_bad_rows)?,
            scale,
            first: true,
            missing_requests: 0,
        })
    }

    fn parse(&mut self) -> Result<TraceTask, TraceError> {
        let r = &self.rows;
        if r.len() != 8 {
            return Err(r.error(1, format!("expected 8 fields, found {}", r.len())));
        }
        let create = r.i64(1, "task_create_time")?;
        let end = r.i64(2, "task_end_time")?;
        let status = r.str(6)?;
        let (end_ns, failed) = match status {
            "Terminated" => (Some(end * S), false),
            "Failed" => (Some(end * S), true),
            "Waiting" | "Running" => (None, false),
            other => {
                return Err(r.error(
                    6,
                    format!("status `{other}` is not Terminated, Failed, Waiting or Running"),
                ))
            }
        };
        // Empty for some tasks (mostly Waiting ones): no request.
        let cpu = r.opt_f64(7, "plan_cpu")?;
        let memory = r.opt_f64(8, "plan_mem")?;
        if cpu.is_none() || memory.is_none() {
            self.missing_requests += 1;
        }
        Ok(TraceTask {
            line: r.line,
            arrival_ns: create * S,
            start_ns: Some(create * S),
            end_ns: end_ns.map(|e: i64| e.max(create * S)),
            failed,
            template: "batch".into(),
            priority: 0,
            labels: String::new(),
            // plan_cpu is cores × 100: ×10 is millicores.
            cpu_millis: self
                .scale
                .cpu_abs((cpu.unwrap_or(0.0) * 10.0).round() as u64),
            memory_bytes: self.scale.memory_bytes(memory.unwrap_or(0.0)),
            gpus: 0,
            instances: r.u64(5, "number_of_instances")?,
        })
    }
}

impl TaskReader for BatchTask {
    fn next_task(&mut self) -> Result<Option<TraceTask>, TraceError> {
        while self.rows.advance()? {
            if self.first {
                self.first = false;
                let kind = looks_like(&self.rows.fields());
                if kind == "alibaba-v2017 (batch_task)" {
                    continue; // the header some copies carry
                }
                expect_kind(&self.rows, "alibaba-v2017 (batch_task without a header)")?;
            }
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
        vec![("tasks_missing_requests", self.missing_requests)]
    }
}

const POD_COLUMNS: [&str; 11] = [
    "name",
    "cpu_milli",
    "memory_mib",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
];

/// The pod list, in creation order. A GPU-sharing pod (`num_gpu` 1,
/// `gpu_milli` below 1000) asks for a whole GPU: the core allocates
/// extended resources per node, not per device, so a shared-GPU resource
/// would let a pod span two half-free GPUs; rounding up is the
/// conservative choice (what the default device plugin allows) and the
/// count of pods rounded up is reported.
pub struct PodList {
    rows: Rows,
    scale: Scale,
    columns: [usize; 11],
    rounded_up: u64,
    never_scheduled: u64,
}

impl PodList {
    pub fn open(path: &Path, scale: Scale, skip_bad_rows: bool) -> Result<Self, TraceError> {
        let mut rows = Rows::open(path, skip_bad_rows)?;
        let columns = header_columns(&mut rows, "alibaba-gpu-v2023 (a pod list)", &POD_COLUMNS)?;
        Ok(PodList {
            rows,
            scale,
            columns,
            rounded_up: 0,
            never_scheduled: 0,
        })
    }

    fn parse(&mut self) -> Result<TraceTask, TraceError> {
        let r = &self.rows;
        let c = &self.columns;
        let num_gpu = r.u64(c[3], "num_gpu")?;
        let gpu_milli = r.opt_u64(c[4], "gpu_milli")?.unwrap_or(0);
        if num_gpu == 1 && gpu_milli > 0 && gpu_milli < 1000 {
            self.rounded_up += 1;
        }
        let qos = r.str(c[6])?.to_ascii_lowercase();
        let phase = r.str(c[7])?;
        let failed = match phase {
            "Failed" => true,
            "Running" | "Succeeded" | "Pending" => false,
            other => {
                return Err(r.error(c[7] + 1, format!("pod_phase `{other}` is not a pod phase")))
            }
        };
        let creation = r.i64(c[8], "creation_time")? * S;
        let deletion = r.opt_i64(c[9], "deletion_time")?.map(|d| d * S);
        let scheduled = r.opt_i64(c[10], "scheduled_time")?.map(|d| d * S);
        if scheduled.is_none() {
            self.never_scheduled += 1;
        }
        Ok(TraceTask {
            line: r.line,
            arrival_ns: creation,
            // Never scheduled in production: its time from creation to deletion.
            start_ns: Some(scheduled.unwrap_or(creation)),
            end_ns: deletion,
            failed,
            template: format!("{qos}-{}", if num_gpu > 0 { "gpu" } else { "cpu" }),
            priority: 0,
            labels: String::new(),
            cpu_millis: self.scale.cpu_abs(r.u64(c[1], "cpu_milli")?),
            memory_bytes: self.scale.memory_abs(r.u64(c[2], "memory_mib")? * MIB),
            gpus: num_gpu,
            instances: 1,
        })
    }
}

impl TaskReader for PodList {
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
        vec![
            ("gpu_share_rounded_up", self.rounded_up),
            ("never_scheduled_in_trace", self.never_scheduled),
        ]
    }
}

/// Reads the header row: each wanted column's position (0-based).
fn header_columns<const N: usize>(
    rows: &mut Rows,
    kind: &'static str,
    wanted: &[&str; N],
) -> Result<[usize; N], TraceError> {
    if !rows.advance()? {
        return Err(rows.error(1, "the file is empty"));
    }
    expect_kind(rows, kind)?;
    let header = rows.fields();
    let mut columns = [0; N];
    for (i, name) in wanted.iter().enumerate() {
        columns[i] = header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| rows.error(1, format!("no `{name}` column")))?;
    }
    // Fields are read 1-based.
    Ok(columns.map(|c| c + 1))
}

/// The node list grouped by shape: (milli-CPU, memory bytes, GPUs, GPU
/// model) → nodes.
pub type NodeShapes = BTreeMap<(u64, u64, u64, String), u32>;

pub fn read_nodes(
    path: &Path,
    scale: Scale,
    skip_bad_rows: bool,
) -> Result<NodeShapes, TraceError> {
    let mut rows = Rows::open(path, skip_bad_rows)?;
    let c = header_columns(
        &mut rows,
        "alibaba-gpu-v2023 (a node list)",
        &["cpu_milli", "memory_mib", "gpu", "model"],
    )?;
    let mut shapes = NodeShapes::new();
    while rows.advance()? {
        let shape = (|| {
            Ok((
                scale.cpu_abs(rows.u64(c[0], "cpu_milli")?),
                scale.memory_abs(rows.u64(c[1], "memory_mib")? * MIB),
                rows.u64(c[2], "gpu")?,
                rows.str(c[3])?.to_string(),
            ))
        })();
        match shape {
            Ok(shape) => *shapes.entry(shape).or_insert(0) += 1,
            Err(e) => rows.skip_or_fail(e)?,
        }
    }
    Ok(shapes)
}

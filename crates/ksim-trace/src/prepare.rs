//! Adds a trace to a configuration: its node pools (from a node list), its
//! templates as job workloads fed by the source, and the source itself.

use std::collections::BTreeMap;

use ksim_core::config::{
    ArrivalProcess, ChangeAction, JobSpec, Label, NodePoolSpec, PodTemplate, Request,
    ScheduledChange, SimConfig, WorkloadKind, WorkloadSpec, DEFAULT_TERMINATION_GRACE_PERIOD,
};
use ksim_core::distribution::Distribution;
use ksim_core::ids::{PoolId, WorkloadId};
use ksim_core::resources::{ResourceNames, ResourceVec, CPU, MEMORY, NUM_RESOURCES, PODS};
use ksim_core::time::SimTime;

use crate::error::TraceError;
use crate::replay::Replay;
use crate::source::TraceSource;
use crate::stats::{census, Census};
use crate::{alibaba, google, Format, TraceSpec};

pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// Kubernetes' default `maxPods` per node.
const MAX_PODS: u64 = 110;
/// A trace template's workload is named `trace-<template>`.
pub const WORKLOAD_PREFIX: &str = "trace-";

pub struct Prepared {
    pub source: TraceSource,
    /// The first pass's findings.
    pub census: Census,
}

/// Reads the trace once (templates, counts; a bad row stops here, before
/// the run), adds its pools and workloads to `config`, and opens the
/// source the run pulls from.
pub fn prepare(
    spec: &TraceSpec,
    config: &mut SimConfig,
    progress: impl FnMut(u64, u64),
) -> Result<Prepared, TraceError> {
    let census = census(spec, progress)?;
    let (pools, machine_changes) = match &spec.nodes {
        Some(path) => node_pools(spec, path)?,
        None => (Vec::new(), Vec::new()),
    };
    let wants_gpu =
        census.templates.values().any(|t| t.gpus) || pools.iter().any(|(_, gpus, _)| *gpus > 0);
    let gpu = if wants_gpu {
        Some(ensure_extended(config, GPU_RESOURCE)?)
    } else {
        None
    };
    let first_pool = config.node_pools.len();
    for (mut pool, gpus, _) in pools {
        if config.node_pools.iter().any(|p| p.name == pool.name) {
            return Err(TraceError::Setting(format!(
                "the scenario already has a node pool `{}`",
                pool.name
            )));
        }
        if let Some(dim) = gpu {
            pool.allocatable.0[dim] = gpus;
        }
        config.node_pools.push(pool);
    }
    for change in machine_changes {
        let at = SimTime(change.at_ns);
        if at > config.end {
            break;
        }
        let pool = (first_pool + change.pool) as PoolId;
        let action = if change.added {
            ChangeAction::AddNodes { pool, count: 1 }
        } else {
            ChangeAction::DeleteNodes { pool, count: 1 }
        };
        config.changes.push(ScheduledChange {
            at,
            repeat: None,
            action,
        });
    }
    let mut workloads = BTreeMap::new();
    for (name, stats) in &census.templates {
        let workload_name = format!("{WORKLOAD_PREFIX}{name}");
        if config.workloads.iter().any(|w| w.name == workload_name) {
            return Err(TraceError::Setting(format!(
                "the scenario already has a workload `{workload_name}`"
            )));
        }
        let id = config.workloads.len() as WorkloadId;
        config.workloads.push(WorkloadSpec {
            name: workload_name,
            kind: WorkloadKind::Job(JobSpec {
                arrival: ArrivalProcess::Source { pods: stats.pods },
                start: SimTime::ZERO,
                stop: None,
                max_pods: None,
                duration: Distribution::constant(stats.mean_run_ns())
                    .map_err(|e| TraceError::Setting(e.to_string()))?,
                failure_probability: 0.0,
            }),
            template: template(stats.priority, &stats.labels),
            readiness_delay: None,
            model: Default::default(),
        });
        workloads.insert(name.clone(), id);
    }
    let name = format!("{} {}", spec.format.name(), spec.path.display());
    let source = TraceSource::new(name, Replay::open(spec)?, workloads, gpu);
    Ok(Prepared { source, census })
}

/// A trace template: requests come with each pod.
fn template(priority: i32, labels: &str) -> PodTemplate {
    let mut requests: [Request; NUM_RESOURCES] = std::array::from_fn(|_| Request::Fixed(0));
    requests[PODS] = Request::Fixed(1);
    PodTemplate {
        requests,
        priority,
        labels: labels
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| Label {
                key: key.to_string(),
                value: value.to_string(),
            })
            .collect(),
        node_selector: vec![],
        node_affinity: vec![],
        tolerations: vec![],
        anti_affinity: vec![],
        termination_grace_period: DEFAULT_TERMINATION_GRACE_PERIOD,
        eviction: Default::default(),
        // Traces give requests only.
        limits: Default::default(),
        ephemeral_storage_write_bytes_per_s: 0,
    }
}

/// The extended resource's dimension, added to the scenario's names if new.
fn ensure_extended(config: &mut SimConfig, name: &str) -> Result<usize, TraceError> {
    if let Some(dim) = config.resource_names.extended_index(name) {
        return Ok(dim);
    }
    let mut names = config.resource_names.extended().to_vec();
    names.push(name.to_string());
    config.resource_names = ResourceNames::new(names).map_err(|n| {
        TraceError::Setting(format!(
            "{n} extended resources: too many with the trace's `{name}`"
        ))
    })?;
    Ok(config
        .resource_names
        .extended_index(name)
        .expect("just added"))
}

/// A machine the trace adds to or removes from one of its pools (an index
/// into the pools `node_pools` returns), in simulated time.
struct MachineChange {
    at_ns: u64,
    pool: usize,
    added: bool,
}

/// A trace's pool, with its GPUs per node and GPU model.
type TracePool = (NodePoolSpec, u64, String);

/// One node shape of a trace's node list: a pool.
struct Shape {
    cpu_millis: u64,
    memory_bytes: u64,
    gpus: u64,
    model: String,
    /// Nodes at the window's start, and the most at once during it.
    count: u32,
    max: u32,
}

/// Pools from the trace's node list, one per node shape (GPUs are set once
/// the GPU dimension is known), and the machines it adds and removes in the
/// window (Google 2011's machine_events).
fn node_pools(
    spec: &TraceSpec,
    path: &std::path::Path,
) -> Result<(Vec<TracePool>, Vec<MachineChange>), TraceError> {
    let (scale, skip) = (spec.scale, spec.skip_bad_rows);
    let (shapes, changes) = match spec.format {
        Format::GoogleCluster2011 => {
            replay_machines(spec, &google::read_machines(path, scale, skip)?)
        }
        Format::AlibabaGpuV2023 => (
            alibaba::read_nodes(path, scale, skip)?
                .into_iter()
                .map(|((cpu_millis, memory_bytes, gpus, model), n)| Shape {
                    cpu_millis,
                    memory_bytes,
                    gpus,
                    model,
                    count: n,
                    max: n,
                })
                .collect(),
            Vec::new(),
        ),
        other => {
            return Err(TraceError::Setting(format!(
                "{} has no node list: define [[node_pools]] instead of `nodes`",
                other.name()
            )))
        }
    };
    Ok((shapes.into_iter().map(shape_pool).collect(), changes))
}

/// Google's machines: each shape's count at the window's start (events
/// before it applied), then each ADD and REMOVE in the window as a change at
/// its simulated time; a pool's max is the most machines of its shape at
/// once in the window.
fn replay_machines(
    spec: &TraceSpec,
    machines: &google::Machines,
) -> (Vec<Shape>, Vec<MachineChange>) {
    let start_us = spec
        .window_start_s
        .unwrap_or(spec.format.default_window_start_s()) as i64
        * 1_000_000;
    let end_us = spec.window_end_s.map(|s| s as i64 * 1_000_000);
    // Machines of each shape at the window's start: events before it applied.
    let mut at_start = machines.shapes.clone();
    let mut window = Vec::new();
    for e in &machines.events {
        if end_us.is_some_and(|end| e.time_us > end) {
            break;
        }
        if e.time_us >= start_us {
            window.push(*e);
            continue;
        }
        let n = at_start.entry(e.shape).or_default();
        *n = if e.added { *n + 1 } else { n.saturating_sub(1) };
    }
    // The window replayed: per shape, (machines now, most at once).
    let mut held: BTreeMap<(u64, u64), (u32, u32)> = at_start
        .iter()
        .map(|(&shape, &n)| (shape, (n, n)))
        .collect();
    let mut replayed = Vec::with_capacity(window.len());
    for e in window {
        let (now, most) = held.entry(e.shape).or_default();
        if e.added {
            *now += 1;
            *most = (*most).max(*now);
        } else if *now == 0 {
            continue; // a machine the window never held
        } else {
            *now -= 1;
        }
        replayed.push(e);
    }
    // Shapes the window never holds (all removed before it) get no pool.
    held.retain(|_, &mut (_, most)| most > 0);
    let index: BTreeMap<(u64, u64), usize> = held
        .keys()
        .enumerate()
        .map(|(i, &shape)| (shape, i))
        .collect();
    let changes = replayed
        .iter()
        .map(|e| MachineChange {
            at_ns: ((e.time_us - start_us) as f64 * 1_000.0 * spec.time_scale).round() as u64,
            pool: index[&e.shape],
            added: e.added,
        })
        .collect();
    let shapes = held
        .into_iter()
        .map(|(shape, (_, most))| Shape {
            cpu_millis: shape.0,
            memory_bytes: shape.1,
            gpus: 0,
            model: String::new(),
            count: at_start.get(&shape).copied().unwrap_or(0),
            max: most,
        })
        .collect();
    (shapes, changes)
}

/// A shape's pool. Machines join when the trace adds them: no provisioning
/// delay.
fn shape_pool(shape: Shape) -> TracePool {
    let Shape {
        cpu_millis,
        memory_bytes,
        gpus,
        model,
        count,
        max,
    } = shape;
    let mut allocatable = ResourceVec::ZERO;
    allocatable.0[CPU] = cpu_millis;
    allocatable.0[MEMORY] = memory_bytes;
    allocatable.0[PODS] = MAX_PODS;
    let mut name = format!("trace-{cpu_millis}m-{}mi", memory_bytes >> 20);
    let mut labels = vec![];
    if gpus > 0 {
        name.push_str(&format!("-{gpus}gpu"));
    }
    if !model.is_empty() {
        name.push_str(&format!("-{}", model.to_ascii_lowercase()));
        labels.push(Label {
            key: "gpu-model".into(),
            value: model.clone(),
        });
    }
    let pool = NodePoolSpec {
        name,
        count,
        min: 0,
        max,
        price_per_hour: 0.0,
        provisioning_delay: Distribution::Constant(0.0),
        allocatable,
        labels,
        taints: vec![],
        daemonset_requests: ResourceVec::ZERO,
    };
    (pool, gpus, model)
}

/// The mapping assumptions a replay of `spec` makes, for `ksim trace
/// inspect` and the docs.
pub fn assumptions(spec: &TraceSpec) -> Vec<String> {
    let s = &spec.scale;
    let mut out = vec![format!(
        "window starts at trace second {} (rows running then are initial state); time_scale {}",
        spec.window_start_s
            .unwrap_or(spec.format.default_window_start_s()),
        spec.time_scale
    )];
    match spec.format {
        Format::GoogleCluster2011 => {
            out.push(format!(
                "CPU 1.0 = {} millicores, memory 1.0 = {} MiB (the largest machine; undisclosed)",
                s.machine_cpu_millis,
                s.machine_memory_bytes >> 20
            ));
            out.push("template = priority (0-11, used as the pod priority)".into());
            out.push(
                "run time = end − SCHEDULE; FINISH succeeds, EVICT/FAIL/KILL/LOST fail".into(),
            );
            out.push(
                "machines present at the window's start form one pool per shape; later ADD and \
                 REMOVE events add and delete a node of their shape's pool at their time (not \
                 that machine: the pool's own choice); UPDATE events are counted, not replayed"
                    .into(),
            );
        }
        Format::AlibabaV2017 => {
            out.push(format!(
                "memory 1.0 = {} MiB (the largest machine; undisclosed); CPU = plan_cpu / 100 cores",
                s.machine_memory_bytes >> 20
            ));
            out.push(
                "one pod per instance; run time = end − create (includes the task's queueing)"
                    .into(),
            );
            out.push("the file is sorted by arrival in memory (it is ordered by job)".into());
        }
        Format::AlibabaGpuV2023 => {
            out.push("fractional GPUs (gpu_milli < 1000) are rounded up to one whole GPU".into());
            out.push(
                "template = qos and whether the pod asks for GPUs; gpu_spec is not enforced".into(),
            );
            out.push("run time = deletion − scheduled (− creation if never scheduled)".into());
        }
        Format::Native | Format::AzureFunctions2019 => {}
    }
    if s.cpu_factor != 1.0 || s.memory_factor != 1.0 {
        out.push(format!(
            "requests and capacities scaled: cpu ×{}, memory ×{}",
            s.cpu_factor, s.memory_factor
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::{MachineEvent, Machines};
    use std::path::PathBuf;

    fn event(time_s: i64, shape: (u64, u64), added: bool) -> MachineEvent {
        MachineEvent {
            time_us: time_s * 1_000_000,
            shape,
            added,
        }
    }

    /// Machines before the window set each pool's count at its start; the
    /// window's ADD and REMOVE events become changes at (t − start) ×
    /// time_scale; a pool's max is the most machines of its shape at once.
    #[test]
    fn machine_events_become_pool_counts_and_changes() {
        let (small, big, gone) = ((1000, 1 << 30), (2000, 2 << 30), (500, 1 << 29));
        let machines = Machines {
            shapes: BTreeMap::from([(small, 3), (gone, 1)]),
            events: vec![
                event(100, small, true), // before the window: 4 small
                event(200, gone, false), // the only `gone` machine leaves
                event(700, big, true),   // in the window
                event(800, small, false),
                event(900, big, true),
                event(2000, small, true), // after the window's end
            ],
            later_events: 0,
            missing_capacity: 0,
            skipped: Default::default(),
        };
        let mut spec = TraceSpec::new(Format::GoogleCluster2011, PathBuf::from("x"));
        spec.window_end_s = Some(1000);
        spec.time_scale = 0.5;
        let (shapes, changes) = replay_machines(&spec, &machines);
        let pools: Vec<(u64, u32, u32)> = shapes
            .iter()
            .map(|s| (s.cpu_millis, s.count, s.max))
            .collect();
        // Shapes in (cpu, memory) order; `gone` holds no machine in the window.
        assert_eq!(pools, vec![(1000, 4, 4), (2000, 0, 2)]);
        let changes: Vec<(u64, usize, bool)> = changes
            .iter()
            .map(|c| (c.at_ns / 1_000_000_000, c.pool, c.added))
            .collect();
        // 600 s is the format's default window start.
        assert_eq!(
            changes,
            vec![(50, 1, true), (100, 0, false), (150, 1, true)]
        );
    }
}

//! Adds a trace to a configuration: its node pools (from a node list), its
//! templates as job workloads fed by the source, and the source itself.

use std::collections::BTreeMap;

use ksim_core::config::{
    ArrivalProcess, JobSpec, Label, NodePoolSpec, PodTemplate, Request, SimConfig, WorkloadKind,
    WorkloadSpec, DEFAULT_PROVISIONING_DELAY, DEFAULT_TERMINATION_GRACE_PERIOD,
};
use ksim_core::distribution::Distribution;
use ksim_core::ids::WorkloadId;
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
    let pools = match &spec.nodes {
        Some(path) => node_pools(spec, path)?,
        None => Vec::new(),
    };
    let wants_gpu =
        census.templates.values().any(|t| t.gpus) || pools.iter().any(|(_, gpus, _)| *gpus > 0);
    let gpu = if wants_gpu {
        Some(ensure_extended(config, GPU_RESOURCE)?)
    } else {
        None
    };
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

/// Pools from the trace's node list: one per node shape. GPUs are set
/// once the GPU dimension is known.
fn node_pools(
    spec: &TraceSpec,
    path: &std::path::Path,
) -> Result<Vec<(NodePoolSpec, u64, String)>, TraceError> {
    let (scale, skip) = (spec.scale, spec.skip_bad_rows);
    let shapes: Vec<(u64, u64, u64, String, u32)> = match spec.format {
        Format::GoogleCluster2011 => google::read_machines(path, scale, skip)?
            .shapes
            .into_iter()
            .map(|((cpu, memory), n)| (cpu, memory, 0, String::new(), n))
            .collect(),
        Format::AlibabaGpuV2023 => alibaba::read_nodes(path, scale, skip)?
            .into_iter()
            .map(|((cpu, memory, gpu, model), n)| (cpu, memory, gpu, model, n))
            .collect(),
        other => {
            return Err(TraceError::Setting(format!(
                "{} has no node list: define [[node_pools]] instead of `nodes`",
                other.name()
            )))
        }
    };
    Ok(shapes
        .into_iter()
        .map(|(cpu, memory, gpus, model, count)| {
            let mut allocatable = ResourceVec::ZERO;
            allocatable.0[CPU] = cpu;
            allocatable.0[MEMORY] = memory;
            allocatable.0[PODS] = MAX_PODS;
            let mut name = format!("trace-{cpu}m-{}mi", memory >> 20);
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
                max: count,
                price_per_hour: 0.0,
                provisioning_delay: DEFAULT_PROVISIONING_DELAY,
                allocatable,
                labels,
                taints: vec![],
                daemonset_requests: ResourceVec::ZERO,
            };
            (pool, gpus, model)
        })
        .collect())
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
            out.push("machines added at time 0 form the node pools; later machine events are counted, not replayed".into());
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

//! What a run holds as it grows, for a guard between batches: `ksim run`
//! stops a run that outgrows its memory limit with a message, rather than
//! being killed by the OS. The per-item costs here are also those the
//! up-front estimate (`estimate`) multiplies by its expected counts.

use super::{Event, Simulation};
use crate::cluster::{ClusterState, Pods};
use crate::config::{SchedulerMode, SimConfig};
use crate::control_plane::config::{ApiKind, ApiRequest, ControlPlaneConfig};
use crate::ids::PodId;
use crate::metrics::{Decision, TimelineSample, WorkloadSample};
use crate::resources::NUM_RESOURCES;
use crate::scheduler::queue::QueueState;
use crate::time::SimTime;
use std::mem::size_of;

/// Per node: failure epoch and flag, when its NoExecute taint was added,
/// head of its pod list.
const HEALTH_BYTES_PER_NODE: u64 = 4 + 1 + 8 + 4;
/// Per node in fast mode: its tree position, readiness, controller taints
/// as last seen and pool membership; the tree adds
/// [`FAST_TREE_BYTES_PER_NODE_DIM`] per resource in use.
const FAST_INDEX_BYTES_PER_NODE: u64 = 4 + 1 + 1 + 4;
/// A leaf per block of 8 nodes, leaves rounded up to a power of two, as many
/// inner nodes: at most 4 entries of 8 bytes per 8 nodes.
const FAST_TREE_BYTES_PER_NODE_DIM: u64 = 4;
/// Per node in kube mode: the per-cycle list of feasible nodes (node, pool,
/// cpu and memory in use, pods without requests), at most every node, and
/// the node-tree order.
const KUBE_SCRATCH_BYTES_PER_NODE: u64 = 4 + 4 + 16 + 8 + 4;
/// Per node per anti-affinity term: two u32 counters.
const ANTI_AFFINITY_BYTES_PER_NODE_TERM: u64 = 8;
/// Per pod besides [`Pods::BYTES_PER_POD`]: its last failure reason and its
/// links in its node's and its workload's pod lists (only deployments' pods
/// are in a workload list: counting them for every pod is an upper bound).
const SIM_BYTES_PER_POD: u64 = 4 + 8 + 8;
/// The allocator's header and rounding of one small allocation.
const ALLOCATION_OVERHEAD_BYTES: u64 = 16;

impl Simulation {
    /// Bytes the simulation holds now: nodes and pods at their per-node and
    /// per-pod costs, the event list at its peak (its blocks are reused,
    /// never freed), the scheduler's active queue and the timeline rows.
    /// Comparable with [`crate::estimate::estimate_memory`] less its fixed
    /// base and slack.
    pub fn memory_in_use_bytes(&self) -> u64 {
        let nodes = self.cluster.nodes.len() as u64 * bytes_per_node(&self.config);
        let pods = self.pods.len() as u64 * bytes_per_pod();
        let queued = self.queue.active_len() as u64 * BYTES_PER_QUEUED_POD;
        let rows = self.timeline.len() as u64 * bytes_per_timeline_row(&self.config);
        let decisions = self.controllers.decisions.len() as u64 * BYTES_PER_DECISION;
        let usage = self.serving.bytes_held();
        // A B-tree entry per unschedulable pod: the id and the node's share.
        let unschedulable = self.counters.unschedulable.len() as u64 * 16;
        let sessions = self.sessions.bytes_held();
        // A hash-map entry per live sourced pod: its id and plan, and the
        // table's control byte and spare capacity.
        let plans = self.sources.plans_held() as u64 * BYTES_PER_SOURCED_PLAN;
        [
            nodes,
            pods,
            self.events.bytes_held(),
            queued,
            rows,
            decisions,
            usage,
            unschedulable,
            sessions,
            plans,
        ]
        .into_iter()
        .fold(0, u64::saturating_add)
    }

    pub fn pending_events(&self) -> u64 {
        self.events.len() as u64
    }

    pub fn timeline_rows(&self) -> u64 {
        self.timeline.len() as u64
    }
}

/// One pending event: its time and the event.
/// A live sourced pod's plan in a hash map: the entry, its control byte,
/// and as much again for the table's spare capacity.
pub(crate) const BYTES_PER_SOURCED_PLAN: u64 =
    2 * (size_of::<(PodId, (Option<crate::time::SimDuration>, bool))>() as u64 + 1);
pub(crate) const BYTES_PER_EVENT: u64 = size_of::<(SimTime, Event)>() as u64;
/// One entry of the scheduler's active queue: priority, sequence, pod.
pub(crate) const BYTES_PER_QUEUED_POD: u64 = size_of::<(i32, u64, PodId)>() as u64;

/// Per node: cluster state, health, anti-affinity counters and the
/// scheduler's structures.
pub(crate) fn bytes_per_node(config: &SimConfig) -> u64 {
    let terms: u64 = config
        .workloads
        .iter()
        .map(|w| w.template.anti_affinity.len() as u64)
        .sum();
    let scheduler = match config.scheduler.mode {
        SchedulerMode::Fast => {
            let dims_in_use = (0..NUM_RESOURCES)
                .filter(|&d| config.node_pools.iter().any(|p| p.allocatable.0[d] > 0))
                .count() as u64;
            FAST_INDEX_BYTES_PER_NODE + FAST_TREE_BYTES_PER_NODE_DIM * dims_in_use
        }
        SchedulerMode::Kube => KUBE_SCRATCH_BYTES_PER_NODE,
    };
    ClusterState::BYTES_PER_NODE
        + HEALTH_BYTES_PER_NODE
        + terms.saturating_mul(ANTI_AFFINITY_BYTES_PER_NODE_TERM)
        + scheduler
}

/// Per pod, for the whole run: its state, the scheduling queue's per-pod
/// state (queue position, priority, backoff end) and the simulation's.
pub(crate) fn bytes_per_pod() -> u64 {
    let scheduling_queue = size_of::<QueueState>() + size_of::<i32>() + size_of::<SimTime>();
    Pods::BYTES_PER_POD + scheduling_queue as u64 + SIM_BYTES_PER_POD
}

/// One autoscaler decision: the record and its two strings (the metrics
/// line at about 64 bytes, the reason at about 48).
const BYTES_PER_DECISION: u64 =
    size_of::<Decision>() as u64 + 64 + 48 + 2 * ALLOCATION_OVERHEAD_BYTES;

/// One timeline row, with its control-plane row when there is a control
/// plane and a row per workload with a usage model or an autoscaler.
pub(crate) fn bytes_per_timeline_row(config: &SimConfig) -> u64 {
    let observed = config
        .workloads
        .iter()
        .filter(|w| w.model.usage.is_some() || w.model.autoscaler.is_some())
        .count() as u64;
    let mut row =
        size_of::<TimelineSample>() as u64 + observed * size_of::<WorkloadSample>() as u64;
    if let Some(control_plane) = &config.control_plane {
        let values = control_plane_series(control_plane) * size_of::<Option<f64>>() as u64;
        row += (size_of::<SimTime>() + size_of::<Vec<Option<f64>>>()) as u64
            + values
            + ALLOCATION_OVERHEAD_BYTES;
    }
    row
}

/// The control-plane timeline's series: per store 11 metrics, per request
/// type a rate, 9 apiserver metrics, a watch-cache utilization per kind, and
/// the scheduler's busy share (`control_plane::series_names`).
fn control_plane_series(control_plane: &ControlPlaneConfig) -> u64 {
    (11 * control_plane.stores.len() + ApiRequest::COUNT + 9 + ApiKind::COUNT + 1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ArrivalProcess, JobSpec, Request, SimConfig, WorkloadKind, WorkloadSpec};
    use crate::distribution::Distribution;
    use crate::resources::CPU;
    use crate::scheduler::testutil::{pool, template};
    use crate::time::{SimDuration, SimTime};

    /// Ten nodes, a pod arriving every 100 ms and running a minute, 10 min.
    fn config() -> SimConfig {
        let mut template = template(&[]);
        template.requests[CPU] = Request::Fixed(100);
        let batch = WorkloadSpec {
            name: "batch".into(),
            kind: WorkloadKind::Job(JobSpec {
                arrival: ArrivalProcess::Constant {
                    interval: SimDuration::from_millis(100),
                },
                start: SimTime::ZERO,
                stop: None,
                max_pods: None,
                duration: Distribution::constant(60e9).unwrap(),
                failure_probability: 0.0,
            }),
            template,
            readiness_delay: None,
            model: Default::default(),
        };
        let mut config =
            SimConfig::for_tests(vec![pool("p", 10, 16_000, 64 << 30, 110)], vec![batch], 600);
        config.sample_interval = SimDuration::from_secs(1);
        config
    }

    #[test]
    fn the_footprint_grows_with_pods_events_and_rows() {
        let mut sim = Simulation::new(config()).unwrap();
        let at_start = sim.memory_in_use_bytes();
        while sim.now() < SimTime::ZERO + SimDuration::from_secs(120) {
            sim.run_batch(1_000).unwrap();
        }
        let (pods, events, rows) = (
            sim.pods().len() as u64,
            sim.pending_events(),
            sim.timeline_rows(),
        );
        // 10 arrivals a second, each running a minute.
        assert!(
            pods > 1_000 && events > 500 && rows >= 119,
            "{pods} {events} {rows}"
        );
        let held = sim.memory_in_use_bytes();
        assert!(held - at_start >= pods * bytes_per_pod());
        let counted = pods * bytes_per_pod()
            + events * BYTES_PER_EVENT
            + rows * bytes_per_timeline_row(&sim.config);
        assert!(held >= counted, "held {held}, counted {counted}");
    }

    #[test]
    fn control_plane_rows_have_the_series_the_control_plane_records() {
        let mut c = config();
        let mut control_plane = ControlPlaneConfig::default();
        control_plane.stores.push(control_plane.stores[0].clone());
        control_plane.stores[1].name = "leases".into();
        c.control_plane = Some(control_plane.clone());
        let output = Simulation::new(c).unwrap().run().unwrap();
        let series = output.control_plane.unwrap().timeline.series.len();
        assert_eq!(control_plane_series(&control_plane), series as u64);
    }
}

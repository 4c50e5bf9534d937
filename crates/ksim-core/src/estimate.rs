//! Up-front estimate of the memory a run needs, so an impossible scenario is
//! refused before it starts rather than killed by the OS halfway through.

use crate::cluster::{ClusterState, Pods};
use crate::config::{ArrivalProcess, SchedulerMode, SimConfig, WorkloadKind};
use crate::time::SimTime;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub nodes: u64,
    /// Pods the scenario is expected to create over the whole run.
    pub expected_pods: u64,
    pub bytes: u64,
}

/// Per pod beyond [`Pods::BYTES_PER_POD`]: queue state, backoff, failure reason,
/// its share of the event list and of the scheduling queue, its links in its node's pod list.
const QUEUE_BYTES_PER_POD: u64 = 1 + 4 + 8 + 4 + 24 + 24 + 8;
/// Per node: failure epoch and flag, head of its pod list.
const HEALTH_BYTES_PER_NODE: u64 = 4 + 1 + 4;
/// Per node beyond [`ClusterState::BYTES_PER_NODE`]: the fast index's tree (about two entries per node).
const FAST_INDEX_BYTES_PER_NODE: u64 = 2 * 64;
/// Per node per anti-affinity term: two u16 counters.
const ANTI_AFFINITY_BYTES_PER_NODE_TERM: u64 = 4;
/// Bytes per pod record kept for pods.csv.
const RECORD_BYTES_PER_POD: u64 = 64;
/// Allocator slack and vectors grown by doubling.
const SLACK_NUMERATOR: u64 = 3;
const SLACK_DENOMINATOR: u64 = 2;

pub fn estimate_memory(config: &SimConfig) -> MemoryEstimate {
    let nodes = config.nodes_total();
    let expected_pods: u64 = config
        .workloads
        .iter()
        .map(|w| expected_pods(config, &w.kind))
        .sum();
    let terms: u64 = config
        .workloads
        .iter()
        .map(|w| w.template.anti_affinity.len() as u64)
        .sum();
    let mut per_node = ClusterState::BYTES_PER_NODE
        + HEALTH_BYTES_PER_NODE
        + terms * ANTI_AFFINITY_BYTES_PER_NODE_TERM;
    if config.scheduler.mode == SchedulerMode::Fast {
        per_node += FAST_INDEX_BYTES_PER_NODE;
    }
    let mut per_pod = Pods::BYTES_PER_POD + QUEUE_BYTES_PER_POD;
    if config.record_pods {
        per_pod += RECORD_BYTES_PER_POD;
    }
    let raw = nodes
        .saturating_mul(per_node)
        .saturating_add(expected_pods.saturating_mul(per_pod));
    MemoryEstimate {
        nodes,
        expected_pods,
        bytes: raw.saturating_mul(SLACK_NUMERATOR) / SLACK_DENOMINATOR,
    }
}

fn expected_pods(config: &SimConfig, kind: &WorkloadKind) -> u64 {
    match kind {
        WorkloadKind::Deployment(d) => u64::from(d.replicas),
        WorkloadKind::Job(job) => {
            let stop = job.stop.unwrap_or(SimTime::MAX).min(config.end);
            let window = stop.saturating_since(job.start);
            let by_rate = match &job.arrival {
                ArrivalProcess::Constant { interval }
                | ArrivalProcess::Poisson {
                    mean_interval: interval,
                } => window.0.checked_div(interval.0).map_or(u64::MAX, |n| n + 1),
                ArrivalProcess::Schedule { times } => times.len() as u64,
            };
            job.max_pods.map_or(by_rate, |max| by_rate.min(max))
        }
    }
}

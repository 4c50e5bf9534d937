//! What a run holds as it grows, for a guard between batches: `ksim run`
//! stops a run that outgrows its memory limit with a message, rather than
//! being killed by the OS.

use super::Simulation;
use crate::estimate;

impl Simulation {
    /// Bytes the simulation holds now: nodes and pods at the estimate's
    /// per-node and per-pod costs, the event list at its peak (its blocks are
    /// reused, never freed), the scheduler's active queue and the timeline
    /// rows. Comparable with [`estimate::estimate_memory`] less its fixed
    /// base and slack.
    pub fn memory_in_use_bytes(&self) -> u64 {
        let nodes = self.cluster.nodes.len() as u64 * estimate::bytes_per_node(&self.config);
        let pods = self.pods.len() as u64 * estimate::bytes_per_pod();
        let queued = self.queue.active_len() as u64 * estimate::BYTES_PER_QUEUED_POD;
        let rows = self.timeline.len() as u64 * estimate::bytes_per_timeline_row(&self.config);
        [nodes, pods, self.events.bytes_held(), queued, rows]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        ArrivalProcess, JobSpec, NodeLifecycleConfig, NodePoolSpec, PodTemplate, Request,
        SchedulerConfig, SimConfig, WorkloadKind, WorkloadSpec,
    };
    use crate::distribution::Distribution;
    use crate::resources::{ResourceNames, ResourceVec, CPU, MEMORY, NUM_RESOURCES, PODS};
    use crate::time::{SimDuration, SimTime};

    /// Ten nodes, a pod arriving every 100 ms and running a minute, 10 min.
    fn config() -> SimConfig {
        let mut allocatable = ResourceVec::ZERO;
        allocatable.0[CPU] = 16_000;
        allocatable.0[MEMORY] = 64 << 30;
        allocatable.0[PODS] = 110;
        let mut requests: [Request; NUM_RESOURCES] = std::array::from_fn(|_| Request::Fixed(0));
        requests[CPU] = Request::Fixed(100);
        SimConfig {
            name: "footprint".into(),
            seed: 1,
            end: SimTime::ZERO + SimDuration::from_secs(600),
            sample_interval: SimDuration::from_secs(1),
            resource_names: ResourceNames::new(Vec::new()).unwrap(),
            node_pools: vec![NodePoolSpec {
                name: "p".into(),
                count: 10,
                allocatable,
                labels: Vec::new(),
                taints: Vec::new(),
            }],
            workloads: vec![WorkloadSpec {
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
                template: PodTemplate {
                    requests,
                    priority: 0,
                    labels: Vec::new(),
                    node_selector: Vec::new(),
                    node_affinity: Vec::new(),
                    tolerations: Vec::new(),
                    anti_affinity: Vec::new(),
                },
            }],
            scheduler: SchedulerConfig::default(),
            node_lifecycle: NodeLifecycleConfig::default(),
            node_failures: Vec::new(),
            node_failure_rates: Vec::new(),
            record_pods: false,
            control_plane: None,
        }
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
        assert!(held - at_start >= pods * estimate::bytes_per_pod());
        let counted = pods * estimate::bytes_per_pod()
            + events * estimate::BYTES_PER_EVENT
            + rows * estimate::bytes_per_timeline_row(&sim.config);
        assert!(held >= counted, "held {held}, counted {counted}");
    }
}

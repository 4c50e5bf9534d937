//! Builders shared by the integration tests: small hand-built clusters.
// Each test crate uses a different subset of these.
#![allow(dead_code)]

use ksim_core::config::*;
use ksim_core::distribution::Distribution;
use ksim_core::metrics::RunOutput;
use ksim_core::resources::{ResourceNames, ResourceVec, CPU, MEMORY, NUM_RESOURCES, PODS};
use ksim_core::sim::Simulation;
use ksim_core::time::{SimDuration, SimTime};

pub const GI: u64 = 1 << 30;

pub fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

pub fn pool(name: &str, count: u32, cpu_millis: u64, memory_bytes: u64) -> NodePoolSpec {
    let mut allocatable = ResourceVec::ZERO;
    allocatable.0[CPU] = cpu_millis;
    allocatable.0[MEMORY] = memory_bytes;
    allocatable.0[PODS] = 110;
    NodePoolSpec {
        name: name.into(),
        count,
        min: 0,
        max: count,
        price_per_hour: 0.0,
        provisioning_delay: DEFAULT_PROVISIONING_DELAY,
        allocatable,
        labels: vec![],
        taints: vec![],
        daemonset_requests: ResourceVec::ZERO,
    }
}

pub fn template(cpu_millis: u64, memory_bytes: u64) -> PodTemplate {
    let mut requests: [Request; NUM_RESOURCES] = std::array::from_fn(|_| Request::Fixed(0));
    requests[CPU] = Request::Fixed(cpu_millis);
    requests[MEMORY] = Request::Fixed(memory_bytes);
    requests[PODS] = Request::Fixed(1);
    PodTemplate {
        requests,
        priority: 0,
        labels: vec![],
        node_selector: vec![],
        node_affinity: vec![],
        tolerations: vec![],
        anti_affinity: vec![],
        termination_grace_period: DEFAULT_TERMINATION_GRACE_PERIOD,
        eviction: Default::default(),
        ephemeral_storage_write_bytes_per_s: 0,
        limits: Default::default(),
    }
}

pub fn job(name: &str, template: PodTemplate, times_s: &[u64], duration_s: u64) -> WorkloadSpec {
    WorkloadSpec {
        name: name.into(),
        kind: WorkloadKind::Job(JobSpec {
            arrival: ArrivalProcess::Schedule {
                times: times_s.iter().map(|&t| SimTime::ZERO + secs(t)).collect(),
            },
            start: SimTime::ZERO,
            stop: None,
            max_pods: None,
            duration: Distribution::constant(secs(duration_s).0 as f64).unwrap(),
            failure_probability: 0.0,
        }),
        template,
        readiness_delay: None,
        model: Default::default(),
    }
}

pub fn deployment(name: &str, template: PodTemplate, replicas: u32) -> WorkloadSpec {
    WorkloadSpec {
        name: name.into(),
        kind: WorkloadKind::Deployment(DeploymentSpec {
            replicas,
            start: SimTime::ZERO,
            pod_lifetime: None,
            service: false,
            disruption_budget: None,
        }),
        template,
        readiness_delay: None,
        model: Default::default(),
    }
}

pub fn config(pools: Vec<NodePoolSpec>, workloads: Vec<WorkloadSpec>, end_s: u64) -> SimConfig {
    let scheduler = SchedulerConfig {
        cycle_base_cost: SimDuration::from_millis(1),
        cycle_per_node_cost: SimDuration::ZERO,
        ..SchedulerConfig::default()
    };
    SimConfig {
        name: "test".into(),
        seed: 1,
        end: SimTime::ZERO + secs(end_s),
        sample_interval: secs(10),
        resource_names: ResourceNames::new(vec![]).unwrap(),
        node_pools: pools,
        workloads,
        scheduler,
        node_lifecycle: NodeLifecycleConfig::default(),
        node_failures: vec![],
        node_failure_rates: vec![],
        record_pods: true,
        control_plane: None,
        changes: vec![],
        autoscaling: Default::default(),
        node_autoscaler: None,
    }
}

/// Runs to the end with the invariant checker at every sample.
pub fn run(config: SimConfig) -> RunOutput {
    let mut sim = Simulation::new(config).expect("valid config");
    sim.enable_invariant_checks();
    sim.run().unwrap_or_else(|error| panic!("{error}"))
}

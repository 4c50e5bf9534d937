//! One scheduling decision at 10^6 nodes, in each placement mode.
//!
//! The cluster is built directly as a `ClusterState`: one pool of 1,000,000
//! nodes (16 cores, 64 GiB, 110 pods each) with random usage of 0-80% cpu
//! and memory per node. Placements are not bound, so every iteration sees
//! the same usage; kube mode's round-robin start still moves each cycle.
//! Kube mode is also measured at 100,000 nodes, the size of its studies.
//! `empty_pools`: a placement among 5,000 pools without nodes and two with.
//!
//! Run: `cargo bench -p ksim-benches --bench scheduler` (one group:
//! `... -- empty_pools`)

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ksim_core::cluster::ClusterState;
use ksim_core::config::{
    NodePoolSpec, PodTemplate, Request, SchedulerConfig, SchedulerMode, ScoringStrategy,
    DEFAULT_PROVISIONING_DELAY, DEFAULT_TERMINATION_GRACE_PERIOD,
};
use ksim_core::resources::{ResourceVec, CPU, MEMORY, PODS};
use ksim_core::rng::RngStreams;
use ksim_core::scheduler::{kube, Placement};
use rand::{Rng, SeedableRng};
use std::time::Duration;

const GIB: u64 = 1 << 30;

fn resources(cpu_millis: u64, memory_bytes: u64, pods: u64) -> ResourceVec {
    let mut v = ResourceVec::ZERO;
    v.0[CPU] = cpu_millis;
    v.0[MEMORY] = memory_bytes;
    v.0[PODS] = pods;
    v
}

fn cluster(nodes: u32) -> ClusterState {
    let allocatable = resources(16_000, 64 * GIB, 110);
    let spec = NodePoolSpec {
        name: "workers".into(),
        count: nodes,
        min: 0,
        max: nodes,
        price_per_hour: 0.0,
        provisioning_delay: DEFAULT_PROVISIONING_DELAY,
        allocatable,
        labels: Vec::new(),
        taints: Vec::new(),
        daemonset_requests: ResourceVec::ZERO,
    };
    let mut cluster = ClusterState::from_specs(&[spec], &[plain_template()]);
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(42);
    for used in cluster.nodes.requested.iter_mut() {
        let cpu = rng.random_range(0..=allocatable.0[CPU] * 8 / 10);
        let memory = rng.random_range(0..=allocatable.0[MEMORY] * 8 / 10);
        *used = resources(cpu, memory, rng.random_range(0..=80));
    }
    cluster
}

/// A pod template without labels or constraints.
fn plain_template() -> PodTemplate {
    PodTemplate {
        requests: std::array::from_fn(|i| Request::Fixed(u64::from(i == PODS))),
        priority: 0,
        labels: Vec::new(),
        node_selector: Vec::new(),
        node_affinity: Vec::new(),
        tolerations: Vec::new(),
        anti_affinity: Vec::new(),
        termination_grace_period: DEFAULT_TERMINATION_GRACE_PERIOD,
        eviction: Default::default(),
        limits: Default::default(),
        ephemeral_storage_write_bytes_per_s: 0,
    }
}

fn placement(mode: SchedulerMode, scoring: ScoringStrategy, cluster: &ClusterState) -> Placement {
    let config = SchedulerConfig {
        mode,
        scoring,
        percentage_of_nodes_to_score: 0,
        ..Default::default()
    };
    let mut placement = Placement::new(&config, cluster);
    for node in 0..cluster.nodes.len() as u32 {
        placement.node_changed(cluster, node);
    }
    placement
}

fn kube_decision(c: &mut Criterion, nodes: u32) {
    let cluster = cluster(nodes);
    let pod = resources(500, 2 * GIB, 1);
    let mut rng = RngStreams::new(1).stream("scheduler");
    let sampled = kube::num_feasible_nodes_to_find(0, nodes);
    let mut group = c.benchmark_group(format!("kube_{nodes}_nodes"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    // Throughput in nodes filtered and scored per second.
    group.throughput(Throughput::Elements(u64::from(sampled)));
    for scoring in [
        ScoringStrategy::LeastAllocated,
        ScoringStrategy::MostAllocated,
    ] {
        let mut kube = placement(SchedulerMode::Kube, scoring, &cluster);
        group.bench_function(format!("{scoring:?}"), |b| {
            b.iter(|| kube.place(&cluster, 0, &pod, &mut rng))
        });
    }
    group.finish();
}

fn decisions(c: &mut Criterion) {
    kube_decision(c, 1_000_000);
    kube_decision(c, 100_000);

    let mut cluster = cluster(1_000_000);
    let pod = resources(500, 2 * GIB, 1);
    let mut rng = RngStreams::new(1).stream("scheduler");
    let mut group = c.benchmark_group("fast_1000000_nodes");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for scoring in [
        ScoringStrategy::MostAllocated,
        ScoringStrategy::LeastAllocated,
    ] {
        let mut fast = placement(SchedulerMode::Fast, scoring, &cluster);
        group.bench_function(format!("{scoring:?}/place"), |b| {
            b.iter(|| fast.place(&cluster, 0, &pod, &mut rng))
        });
        // A full decision with its index upkeep: place, bind, release.
        group.bench_function(format!("{scoring:?}/place_bind_release"), |b| {
            b.iter(|| {
                let node = fast.place(&cluster, 0, &pod, &mut rng).node.unwrap();
                cluster.assign(0, &pod, node);
                fast.node_changed(&cluster, node);
                cluster.unassign(0, &pod, node);
                fast.node_changed(&cluster, node);
            })
        });
    }
    group.finish();
}

/// Pools without nodes (autoscaler node groups, a catalog of instance
/// types) must not cost per placement: two pools of 500 nodes with 5,000
/// empty pools interleaved, against the same two pools alone. Both figures
/// should be alike; before the cluster kept its pools with nodes, the
/// padded cluster cost every cycle a pass over all 5,002 pools.
fn empty_pools(c: &mut Criterion) {
    let pod = resources(500, 2 * GIB, 1);
    let mut group = c.benchmark_group("empty_pools");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for empty in [0, EMPTY_POOLS] {
        let cluster = padded_cluster(empty);
        for (mode, scoring) in [
            (SchedulerMode::Kube, ScoringStrategy::LeastAllocated),
            (SchedulerMode::Fast, ScoringStrategy::LeastAllocated),
            (SchedulerMode::Fast, ScoringStrategy::MostAllocated),
        ] {
            let mut rng = RngStreams::new(1).stream("scheduler");
            let mut placement = placement(mode, scoring, &cluster);
            let name = format!("{mode:?}/{scoring:?}/{empty}_empty_pools");
            group.bench_function(name, |b| {
                b.iter(|| placement.place(&cluster, 0, &pod, &mut rng))
            });
        }
    }
    group.finish();
}

const EMPTY_POOLS: u32 = 5_000;

/// Two pools of 500 nodes with random usage (as [`cluster`]), with `empty`
/// pools of other sizes before, between and after them.
fn padded_cluster(empty: u32) -> ClusterState {
    let spec = |name: String, count: u32, cpu_millis: u64| NodePoolSpec {
        name,
        count,
        min: 0,
        max: 1000,
        price_per_hour: 0.0,
        provisioning_delay: DEFAULT_PROVISIONING_DELAY,
        allocatable: resources(cpu_millis, 64 * GIB, 110),
        labels: Vec::new(),
        taints: Vec::new(),
        daemonset_requests: ResourceVec::ZERO,
    };
    let mut specs: Vec<NodePoolSpec> = (0..empty)
        .map(|i| spec(format!("empty-{i}"), 0, 2_000 + u64::from(i % 64) * 1_000))
        .collect();
    let third = specs.len() / 3;
    specs.insert(third, spec("a".into(), 500, 16_000));
    specs.insert(2 * third + 1, spec("b".into(), 500, 32_000));
    let mut cluster = ClusterState::from_specs(&specs, &[plain_template()]);
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(42);
    for node in 0..cluster.nodes.len() as u32 {
        let allocatable = *cluster.allocatable(node);
        let cpu = rng.random_range(0..=allocatable.0[CPU] * 8 / 10);
        let memory = rng.random_range(0..=allocatable.0[MEMORY] * 8 / 10);
        cluster.nodes.requested[node as usize] = resources(cpu, memory, rng.random_range(0..=80));
    }
    cluster
}

criterion_group!(benches, decisions, empty_pools);
criterion_main!(benches);

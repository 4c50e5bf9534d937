//! Node-pressure eviction end to end: pods whose use outgrows their requests
//! raise MemoryPressure or DiskPressure, taint their node, and are evicted
//! in the kubelet's order.

mod common;

use common::*;
use ksim_core::config::{Limits, WorkloadModel, WorkloadSpec};
use ksim_core::controller::kubelet_eviction::EVICTION_MONITORING_PERIOD;
use ksim_core::load::{LoadShape, LoadSpec};
use ksim_core::metrics::{NodePressureSummary, RunOutput};
use ksim_core::pod_phase::PodPhase;
use ksim_core::resources::EPHEMERAL_STORAGE;
use ksim_core::time::SimTime;
use ksim_core::usage::{ServiceModel, UsageModel};

const MI: u64 = 1 << 20;

/// 1,000 requests/s per replica, each in flight for 1 s and holding 10Mi:
/// a replica serving 50/s uses 512Mi + 500Mi.
fn service() -> ServiceModel {
    ServiceModel {
        capacity_per_replica_per_s: 1000.0,
        cpu_idle_millis: 0.0,
        cpu_per_request_millis: 0.0,
        memory_base_bytes: (512 * MI) as f64,
        memory_per_request_bytes: (10 * MI) as f64,
        service_time_s: 1.0,
        queue_limit_per_replica: 0.0,
    }
}

fn web(name: &str, load: LoadShape, replicas: u32, priority: i32) -> WorkloadSpec {
    let mut template = template(100, 900 * MI);
    template.priority = priority;
    let mut web = deployment(name, template, replicas);
    web.model = WorkloadModel {
        load: Some(LoadSpec {
            shape: load,
            noise_interval: None,
        }),
        usage: Some(UsageModel::Service(service())),
        autoscaler: None,
    };
    web
}

fn pressure(output: &RunOutput) -> NodePressureSummary {
    output
        .summary
        .node_pressure
        .expect("a kubelet-eviction summary")
}

fn at_s(t: SimTime) -> u64 {
    (t - SimTime::ZERO).as_secs_f64() as u64
}

fn rows<'a>(output: &'a RunOutput, action: &str) -> Vec<&'a ksim_core::metrics::Decision> {
    output
        .decisions
        .iter()
        .filter(|d| d.controller == "kubelet-eviction" && d.action == action)
        .collect()
}

/// Four replicas on two 4Gi nodes serve 200/s (1012Mi each, 2Gi a node):
/// nothing happens. At 300 s the load quadruples (2512Mi each, 5Gi a node):
/// both nodes meet memory.available, are tainted and each evict a replica,
/// whose replacement finds no untainted node.
#[test]
fn use_above_allocatable_raises_memory_pressure_and_evicts() {
    let load = LoadShape::steps(200.0, vec![(SimTime::ZERO + secs(300), 800.0)]).unwrap();
    let config = config(
        vec![pool("small", 2, 8000, 4 * GI)],
        vec![web("web", load, 4, 0)],
        400,
    );
    let output = run(config);
    let summary = pressure(&output);
    assert_eq!(summary.conditions_raised, 2, "{summary:?}");
    assert!(summary.evictions_memory >= 2, "{summary:?}");
    assert_eq!(summary.evictions_disk, 0);
    assert_eq!(summary.nodes_under_pressure_max, 2);
    let evictions = rows(&output, "evict");
    assert!(evictions.iter().all(|d| at_s(d.at) > 300), "{evictions:?}");
    let raised = rows(&output, "pressure");
    assert!(raised
        .iter()
        .all(|d| d.reason.starts_with("MemoryPressure")));
    let pods = output.pods.as_ref().unwrap();
    let failed = pods.iter().filter(|p| p.phase == PodPhase::Failed).count() as u64;
    assert_eq!(failed, summary.evictions_memory);
    // The replacements stay pending: every node is tainted memory-pressure.
    let pending = pods.iter().filter(|p| p.phase == PodPhase::Pending).count();
    assert!(pending >= 2, "{pending} pending");
}

/// The same cluster at 200/s throughout: use stays under allocatable.
#[test]
fn use_under_allocatable_never_evicts() {
    let config = config(
        vec![pool("small", 2, 8000, 4 * GI)],
        vec![web("web", LoadShape::constant(200.0).unwrap(), 4, 0)],
        400,
    );
    let output = run(config);
    assert_eq!(pressure(&output), NodePressureSummary::default());
    assert!(output.decisions.is_empty());
}

/// A memory limit at the request caps the use there: the same overload
/// never meets the signal.
#[test]
fn a_memory_limit_caps_use_so_pressure_never_comes() {
    let load = LoadShape::steps(200.0, vec![(SimTime::ZERO + secs(300), 800.0)]).unwrap();
    let mut capped = web("web", load, 4, 0);
    capped.template.limits = Limits {
        memory_bytes: Some(900 * MI),
        ..Limits::default()
    };
    let output = run(config(
        vec![pool("small", 2, 8000, 4 * GI)],
        vec![capped],
        400,
    ));
    assert_eq!(pressure(&output).evictions_memory, 0);
}

/// Two workloads above their requests on one node: the lower priority's
/// pod goes first, whatever it uses.
#[test]
fn lower_priority_is_evicted_first() {
    let load = || LoadShape::steps(50.0, vec![(SimTime::ZERO + secs(100), 300.0)]).unwrap();
    let config = config(
        vec![pool("one", 1, 8000, 6 * GI)],
        vec![
            web("important", load(), 1, 1000),
            web("batch", load(), 1, 0),
        ],
        130,
    );
    let output = run(config);
    let evictions = rows(&output, "evict");
    assert!(!evictions.is_empty());
    assert!(
        evictions[0].inputs.contains("workload=batch"),
        "{:?}",
        evictions[0]
    );
}

fn writer(rate_mi_per_s: u64, limit_mi: Option<u64>) -> WorkloadSpec {
    let mut template = template(100, 100 * MI);
    template.ephemeral_storage_write_bytes_per_s = rate_mi_per_s * MI;
    template.limits.ephemeral_storage_bytes = limit_mi.map(|l| l * MI);
    job("writer", template, &[0, 0], 1000)
}

fn disk_pool(ephemeral_mi: u64) -> ksim_core::config::NodePoolSpec {
    let mut pool = pool("disk", 1, 8000, 8 * GI);
    pool.allocatable.0[EPHEMERAL_STORAGE] = ephemeral_mi * MI;
    pool
}

/// Two pods writing 1Mi/s fill a 100Mi nodefs after 50 s: the pass at 60 s
/// finds DiskPressure and evicts one of them (the other alone fills it at
/// 100 s, after this run).
#[test]
fn writes_filling_nodefs_raise_disk_pressure() {
    let output = run(config(vec![disk_pool(100)], vec![writer(1, None)], 90));
    let summary = pressure(&output);
    assert_eq!(summary.evictions_disk, 1, "{summary:?}");
    let evictions = rows(&output, "evict");
    assert_eq!(at_s(evictions[0].at), 60);
    assert!(evictions[0].reason.starts_with("DiskPressure"));
}

/// A pool that declares no ephemeral storage has no nodefs signal.
#[test]
fn no_declared_ephemeral_storage_no_disk_signal() {
    let output = run(config(vec![disk_pool(0)], vec![writer(1, None)], 120));
    assert_eq!(pressure(&output).evictions_disk, 0);
}

/// A pod above its ephemeral-storage limit is evicted at the next pass,
/// pressure or not.
#[test]
fn ephemeral_storage_above_the_limit_evicts_the_pod() {
    let output = run(config(
        vec![disk_pool(10_000)],
        vec![writer(1, Some(30))],
        120,
    ));
    let summary = pressure(&output);
    assert_eq!(summary.evictions_over_limit, 2, "{summary:?}");
    assert_eq!(summary.evictions_disk, 0);
    // 30Mi is passed at 30 s; the next pass is the one at 40 s.
    let evictions = rows(&output, "evict");
    let period = EVICTION_MONITORING_PERIOD.as_secs_f64() as u64;
    assert_eq!(period, 10);
    assert!(evictions.iter().all(|d| at_s(d.at) == 40), "{evictions:?}");
}

/// Without a usage model or writes there is no eviction manager at all.
#[test]
fn pods_using_their_requests_have_no_eviction_manager() {
    let output = run(config(
        vec![pool("p", 1, 8000, 8 * GI)],
        vec![deployment("d", template(100, GI), 2)],
        60,
    ));
    assert!(output.summary.node_pressure.is_none());
}

//! `ksim validate`, and scenario loading shared with `ksim run`.

use anyhow::{anyhow, Result};
use ksim_core::config::{SchedulerMode, SimConfig, WorkloadKind};
use ksim_core::estimate::estimate_memory;
use ksim_scenario::Scenario;
use std::path::Path;

/// Loads a scenario; on failure prints every problem on its own line.
pub fn load(path: &Path) -> Result<Scenario> {
    ksim_scenario::load(path).map_err(|err| {
        for problem in &err.problems {
            eprintln!("{problem}");
        }
        let count = err.problems.len();
        anyhow!(
            "{}: {count} problem{} in the scenario",
            path.display(),
            if count == 1 { "" } else { "s" }
        )
    })
}

/// What ksim models today, as printed by `ksim validate`.
const MODELLED: &[&str] = &[
    "node pools: allocatable cpu, memory, ephemeral-storage, max pods, extended resources, labels, taints",
    "pods: requests, priority, nodeSelector, required node affinity, tolerations, required pod anti-affinity (hostname)",
    "workloads: deployments (replicas created at start; with pod_lifetime, lost pods are replaced), jobs (constant, Poisson or scheduled arrivals, duration distributions)",
    "kube-scheduler: filters in upstream order, LeastAllocated/MostAllocated + BalancedAllocation + TaintToleration scoring, \
     adaptive percentageOfNodesToScore with round-robin start, random tie-break, priority queue, backoff 1s..10s, \
     unschedulable pods requeued on cluster changes and flushed after 5 min",
    "fast scheduler mode: same filters through an index over free capacity",
    "scheduling cost: per-pod base plus per-node-evaluated simulated time",
    "node failures at scenario times or at a random rate: lease expiry after the grace period, unreachable taints (NoExecute rate-limited \
     per zone), eviction after the default 300 s toleration, replacement of deployment pods, recovery",
];

/// What ksim does not model yet; scenario keys for these do not exist, so nothing is silently ignored.
const NOT_MODELLED: &[&str] = &[
    "control plane: apiserver and store latency, watches, lease writes (pods start the moment they are bound)",
    "zone disruption modes of the node-lifecycle controller; node pressure conditions; \
     pod deletion by users; deployment scaling after creation",
    "preemption; PodTopologySpread (including its default constraints); preferred affinity; inter-pod affinity; \
     anti-affinity on topologies other than kubernetes.io/hostname",
    "volumes, host ports, image locality, DaemonSets, resource limits and actual usage",
    "autoscaling (HPA, KEDA, Cluster Autoscaler, Karpenter)",
];

pub fn validate(path: &Path) -> Result<()> {
    let scenario = load(path)?;
    let config = &scenario.config;
    println!("{}: ok", path.display());
    describe(config);
    for warning in &scenario.warnings {
        println!("warning: {warning}");
    }
    println!("modelled:");
    MODELLED.iter().for_each(|m| println!("  - {m}"));
    println!("not modelled (no keys exist for these):");
    NOT_MODELLED.iter().for_each(|m| println!("  - {m}"));
    Ok(())
}

fn describe(config: &SimConfig) {
    let estimate = estimate_memory(config);
    println!(
        "scenario `{}`: seed {}, {:.0} s simulated, samples every {:.0} s",
        config.name,
        config.seed,
        config.end.as_secs_f64(),
        config.sample_interval.as_secs_f64()
    );
    println!(
        "node pools: {} ({} nodes)",
        config.node_pools.len(),
        config.nodes_total()
    );
    let deployments = config
        .workloads
        .iter()
        .filter(|w| matches!(w.kind, WorkloadKind::Deployment(_)))
        .count();
    println!(
        "workloads: {} ({} deployments, {} jobs), about {} pods expected",
        config.workloads.len(),
        deployments,
        config.workloads.len() - deployments,
        estimate.expected_pods
    );
    let mode = match config.scheduler.mode {
        SchedulerMode::Kube => "kube",
        SchedulerMode::Fast => "fast",
    };
    println!("scheduler: {mode} mode, {:?}", config.scheduler.scoring);
    println!(
        "estimated memory: {:.1} MiB",
        estimate.bytes as f64 / (1u64 << 20) as f64
    );
}

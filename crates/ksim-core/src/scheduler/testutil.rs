//! Small hand-built clusters for the placement tests.

use crate::cluster::ClusterState;
use crate::config::{
    AntiAffinityTerm, Label, NodePoolSpec, PodTemplate, Request, Taint, DEFAULT_PROVISIONING_DELAY,
    DEFAULT_TERMINATION_GRACE_PERIOD,
};
use crate::ids::NodeId;
use crate::resources::{ResourceVec, CPU, MEMORY, NUM_RESOURCES, PODS};

use super::kube::record_failure;
use super::Diagnosis;

pub fn label(key: &str, value: &str) -> Label {
    Label {
        key: key.into(),
        value: value.into(),
    }
}

/// A pool of `count` nodes with the given cpu (millicores), memory (bytes) and pod slots.
pub fn pool(name: &str, count: u32, cpu: u64, memory: u64, pods: u64) -> NodePoolSpec {
    let mut allocatable = ResourceVec::ZERO;
    allocatable.0[CPU] = cpu;
    allocatable.0[MEMORY] = memory;
    allocatable.0[PODS] = pods;
    NodePoolSpec {
        name: name.into(),
        count,
        min: 0,
        max: count,
        price_per_hour: 0.0,
        provisioning_delay: DEFAULT_PROVISIONING_DELAY,
        allocatable,
        labels: vec![label("pool", name)],
        taints: Vec::new(),
        daemonset_requests: ResourceVec::ZERO,
    }
}

pub fn with_taints(mut pool: NodePoolSpec, taints: Vec<Taint>) -> NodePoolSpec {
    pool.taints = taints;
    pool
}

/// A template with the given labels and no constraints.
pub fn template(labels: &[(&str, &str)]) -> PodTemplate {
    PodTemplate {
        requests: std::array::from_fn(|i| Request::Fixed(u64::from(i == PODS))),
        priority: 0,
        labels: labels.iter().map(|(k, v)| label(k, v)).collect(),
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

/// Adds a required anti-affinity term (hostname topology) matching these labels.
pub fn anti(mut template: PodTemplate, match_labels: &[(&str, &str)]) -> PodTemplate {
    template.anti_affinity.push(AntiAffinityTerm {
        match_labels: match_labels.iter().map(|(k, v)| label(k, v)).collect(),
    });
    template
}

/// Compiles templates as the simulation does and adds each pool's nodes, pool by pool.
pub fn build(pools: &[NodePoolSpec], templates: &[PodTemplate]) -> ClusterState {
    ClusterState::from_specs(pools, templates)
}

/// A pod request: cpu millicores, memory bytes, one pod slot.
pub fn req(cpu: u64, memory: u64) -> ResourceVec {
    let mut v = ResourceVec::ZERO;
    v.0[CPU] = cpu;
    v.0[MEMORY] = memory;
    v.0[PODS] = 1;
    v
}

/// The nodes that pass every filter, by linear scan.
pub fn feasible(cluster: &ClusterState, template: u32, requests: &ResourceVec) -> Vec<NodeId> {
    let t = &cluster.templates[template as usize];
    (0..cluster.nodes.len() as NodeId)
        .filter(|&n| cluster.nodes.state(n).is_registered())
        .filter(|&n| cluster.filter(t, requests, n).is_none())
        .collect()
}

/// What a full filter pass over every node reports, as upstream's FitError counts it.
pub fn full_diagnosis(cluster: &ClusterState, template: u32, requests: &ResourceVec) -> Diagnosis {
    let t = &cluster.templates[template as usize];
    let mut diagnosis = Diagnosis {
        nodes_total: cluster.nodes.registered_count() as u32,
        ..Default::default()
    };
    for n in 0..cluster.nodes.len() as NodeId {
        if !cluster.nodes.state(n).is_registered() {
            continue;
        }
        if let Some(reason) = cluster.filter(t, requests, n) {
            record_failure(&mut diagnosis, cluster, requests, n, reason);
        }
    }
    diagnosis
}

/// A per-dimension "insufficient" count array from (dimension, count) pairs.
pub fn insufficient(dims: &[(usize, u32)]) -> [u32; NUM_RESOURCES] {
    let mut out = [0; NUM_RESOURCES];
    for &(d, c) in dims {
        out[d] = c;
    }
    out
}

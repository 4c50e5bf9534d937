//! Node selection: which node a pending pod goes to.
//!
//! Two algorithms share the filters of [`ClusterState::filter`]:
//! - [`kube::KubePlacement`]: kube-scheduler's filter-then-score over a
//!   round-robin sample of nodes (percentageOfNodesToScore);
//! - [`fast::FastIndex`]: an index over free capacity that finds a feasible
//!   node without scanning, for studies where kube's sampling is not the question.
//!
//! The queueing side (active, backoff, unschedulable) lives in [`queue`].

#[cfg(test)]
mod controller_taint_tests;
#[cfg(test)]
mod empty_pool_tests;
pub mod fast;
pub mod kube;
pub mod queue;
mod score;
#[cfg(test)]
pub(crate) mod testutil;

use crate::cluster::{ClusterState, FilterReason};
use crate::config::{SchedulerConfig, SchedulerMode};
use crate::ids::{NodeId, WorkloadId};
use crate::resources::{ResourceNames, ResourceVec, NUM_RESOURCES, PODS};
use crate::rng::SimRng;

/// Why no node was found, counted per reason over the nodes evaluated
/// (upstream's `Diagnosis.NodeToStatusMap`, aggregated).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnosis {
    pub nodes_total: u32,
    pub unschedulable: u32,
    pub not_ready: u32,
    /// The pools' taints and the controllers' on nodes. Upstream prints each
    /// taint; we count them together.
    pub untolerated_taint: u32,
    pub node_affinity: u32,
    /// Each node counts once per resource it lacks, as upstream's NodeResourcesFit reports.
    pub insufficient: [u32; NUM_RESOURCES],
    pub anti_affinity: u32,
}

impl Diagnosis {
    pub fn record(&mut self, reason: FilterReason) {
        self.record_many(reason, 1);
    }

    pub fn record_many(&mut self, reason: FilterReason, nodes: u32) {
        match reason {
            FilterReason::Unschedulable => self.unschedulable += nodes,
            FilterReason::NodeNotReady => self.not_ready += nodes,
            FilterReason::UntoleratedTaint(_) | FilterReason::ControllerTaint(_) => {
                self.untolerated_taint += nodes
            }
            FilterReason::NodeAffinity => self.node_affinity += nodes,
            FilterReason::Insufficient(dim) => self.insufficient[dim as usize] += nodes,
            FilterReason::AntiAffinity => self.anti_affinity += nodes,
        }
    }

    /// Upstream's FitError text: "0/N nodes are available: <count> <reason>, ...",
    /// the "<count> <reason>" strings sorted as strings.
    pub fn message(&self, names: &ResourceNames) -> String {
        let mut parts: Vec<(String, u32)> = Vec::new();
        let mut push = |text: String, count: u32| {
            if count > 0 {
                parts.push((text, count));
            }
        };
        push("node(s) were unschedulable".into(), self.unschedulable);
        push(
            "node(s) had untolerated taint(s)".into(),
            self.untolerated_taint,
        );
        // Upstream reports a not-ready node through its not-ready NoSchedule taint.
        push(
            "node(s) had untolerated taint {node.kubernetes.io/not-ready: }".into(),
            self.not_ready,
        );
        push(
            "node(s) didn't match Pod's node affinity/selector".into(),
            self.node_affinity,
        );
        push(
            "node(s) didn't match pod anti-affinity rules".into(),
            self.anti_affinity,
        );
        for (dim, &count) in self.insufficient.iter().enumerate() {
            // Upstream's NodeResourcesFit says "Too many pods" for the pod count.
            let text = if dim == PODS {
                "Too many pods".to_string()
            } else {
                format!("Insufficient {}", names.name(dim))
            };
            push(text, count);
        }
        // Upstream sorts the "<count> <reason>" strings themselves, count prefix included.
        let mut reasons: Vec<String> = parts
            .iter()
            .map(|(text, count)| format!("{count} {text}"))
            .collect();
        reasons.sort();
        format!(
            "0/{} nodes are available: {}.",
            self.nodes_total,
            reasons.join(", ")
        )
    }
}

/// The result of one scheduling cycle's node selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementResult {
    pub node: Option<NodeId>,
    /// Nodes the algorithm filtered or scored; drives the cycle's simulated cost.
    pub nodes_evaluated: u32,
    /// Filled when `node` is `None`.
    pub diagnosis: Option<Box<Diagnosis>>,
}

/// The node-selection algorithm picked by the scenario's `scheduler.mode`.
pub enum Placement {
    Kube(kube::KubePlacement),
    Fast(fast::FastIndex),
}

impl Placement {
    pub fn new(config: &SchedulerConfig, cluster: &ClusterState) -> Self {
        match config.mode {
            SchedulerMode::Kube => Placement::Kube(kube::KubePlacement::new(config)),
            SchedulerMode::Fast => Placement::Fast(fast::FastIndex::new(config, cluster)),
        }
    }

    /// Chooses a node for a pod of workload `template` requesting `requests`.
    /// Does not modify the cluster: the caller assigns the pod and reports
    /// the change through [`Placement::node_changed`].
    pub fn place(
        &mut self,
        cluster: &ClusterState,
        template: WorkloadId,
        requests: &ResourceVec,
        rng: &mut SimRng,
    ) -> PlacementResult {
        match self {
            Placement::Kube(k) => k.place(cluster, template, requests, rng),
            Placement::Fast(f) => f.place(cluster, template, requests, rng),
        }
    }

    /// Whether some registered node would take the pod now, for a node
    /// autoscaler's filter-out-schedulable: the index's descent in fast
    /// mode; in kube mode a pass over the registered nodes until one fits.
    pub fn fits_some_node(
        &self,
        cluster: &ClusterState,
        template: WorkloadId,
        requests: &ResourceVec,
    ) -> bool {
        match self {
            Placement::Fast(f) => f.fits_some_node(cluster, template, requests),
            Placement::Kube(_) => {
                let compiled = &cluster.templates[template as usize];
                cluster
                    .nodes
                    .registration_order()
                    .iter()
                    .any(|&n| cluster.filter(compiled, requests, n).is_none())
            }
        }
    }

    /// Must be called after any change to a node's usage or readiness, and
    /// after a node is added.
    pub fn node_changed(&mut self, cluster: &ClusterState, node: NodeId) {
        match self {
            Placement::Kube(_) => {}
            Placement::Fast(f) => f.node_changed(cluster, node),
        }
    }
}

#[cfg(test)]
mod diagnosis_tests {
    use super::*;
    use crate::resources::{CPU, MEMORY};

    // Message shape after upstream's FitError.Error (pkg/scheduler/framework/types.go):
    // reasons sorted, each with its node count.
    #[test]
    fn message_lists_sorted_reasons_with_counts() {
        let mut d = Diagnosis {
            nodes_total: 6,
            ..Default::default()
        };
        d.record_many(FilterReason::Insufficient(MEMORY as u8), 2);
        d.record_many(FilterReason::Insufficient(CPU as u8), 3);
        d.record(FilterReason::Insufficient(PODS as u8));
        d.record(FilterReason::NodeAffinity);
        let names = ResourceNames::new(vec![]).unwrap();
        assert_eq!(
            d.message(&names),
            "0/6 nodes are available: 1 Too many pods, 1 node(s) didn't match Pod's node affinity/selector, \
             2 Insufficient memory, 3 Insufficient cpu."
        );
    }
}

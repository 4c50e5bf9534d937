//! The seam for controllers: autoscalers, scripted changes, later
//! user-written ones.
//!
//! A controller is woken at the times it asks for and by the cluster events
//! it subscribes to, reads the cluster through a [`ClusterView`] that borrows
//! the simulation's arrays, and answers with [`Action`]s. It never changes
//! the cluster itself: the simulation validates each action, applies it (or
//! sends it through the control plane when the scenario models one) and
//! counts the ones it refuses. Each controller draws only from its own
//! random stream, `controller/<name>`.

pub mod cluster_autoscaler;
pub mod hpa;
pub mod karpenter;
pub mod keda;
pub mod kubelet_eviction;
pub mod reschedule;
pub mod scripted;

use crate::cluster::{ClusterState, FilterReason, NodeState, Pods, WorkloadCounts};
use crate::config::{NodePoolSpec, SimConfig, WorkloadKind, WorkloadSpec};
use crate::disruption_budget::BudgetStatus;
use crate::ids::{NodeId, PodId, PoolId, WorkloadId};
use crate::lifecycle::PodLists;
pub use crate::metrics::{Decision, DecisionTarget};
use crate::resources::ResourceVec;
use crate::rng::SimRng;
use crate::scheduler::Placement;
use crate::taints::{ControllerTaint, ControllerTaints};
use crate::time::SimTime;
use crate::usage::serving::{Serving, WorkloadUsage};
use std::collections::BTreeSet;

/// Cluster events a controller can be woken by, as a set.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscriptions(u8);

impl Subscriptions {
    pub const NONE: Subscriptions = Subscriptions(0);
    /// A scheduling attempt found no node for a pod.
    pub const POD_UNSCHEDULABLE: Subscriptions = Subscriptions(1);
    /// A node registered (its provisioning ended) or became ready again.
    pub const NODE_READY: Subscriptions = Subscriptions(1 << 1);
    /// A pod ended (succeeded, failed, evicted or deleted).
    pub const POD_ENDED: Subscriptions = Subscriptions(1 << 2);
    /// The node-lifecycle controller marked a node NotReady.
    pub const NODE_NOT_READY: Subscriptions = Subscriptions(1 << 3);

    pub const fn union(self, other: Subscriptions) -> Subscriptions {
        Subscriptions(self.0 | other.0)
    }

    pub const fn intersects(self, other: Subscriptions) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// What a controller asks of the cluster. Applied in the order of
/// [`Action::order`]; within one class, in the order controllers (then each
/// controller's own list) produced them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Set a deployment's desired replica count (the scale subresource).
    SetReplicas { workload: WorkloadId, replicas: u32 },
    /// Request `count` new nodes of a pool; each is Provisioning until its
    /// pool's provisioning delay has passed. Refused past the pool's `max`.
    AddNodes { pool: PoolId, count: u32 },
    /// Mark a node unschedulable; its pods keep running.
    Cordon { node: NodeId },
    /// Make a cordoned node schedulable again.
    Uncordon { node: NodeId },
    /// Delete a node at once; its pods are lost and replaced elsewhere.
    Delete { node: NodeId },
    /// Drain a node as `kubectl drain` does, then delete it: cordon it, evict
    /// its pods through the Eviction API (honouring their deployments'
    /// disruption budgets, retrying refused evictions every 5 s), and
    /// delete the node once its last pod has terminated. Allowed on a
    /// registered node not already draining.
    Drain { node: NodeId },
    /// Put a controller taint on a registered node not carrying it (an
    /// autoscaler marking a node it is about to remove).
    Taint {
        node: NodeId,
        taint: ControllerTaint,
    },
    /// Take a controller taint off a node carrying it.
    Untaint {
        node: NodeId,
        taint: ControllerTaint,
    },
    /// A kubelet evicts a running pod for node pressure: it kills it at once
    /// and reports it Failed (no disruption budget, no grace period); its
    /// controller replaces it.
    KubeletEvict { pod: PodId },
}

impl Action {
    /// The fixed order of action classes at one instant: replicas, new
    /// nodes, changes to existing nodes' schedulability or existence, then
    /// their taints.
    pub fn order(&self) -> u8 {
        match self {
            Action::SetReplicas { .. } => 0,
            Action::AddNodes { .. } => 1,
            Action::Cordon { .. }
            | Action::Uncordon { .. }
            | Action::Delete { .. }
            | Action::Drain { .. }
            | Action::KubeletEvict { .. } => 2,
            Action::Taint { .. } | Action::Untaint { .. } => 3,
        }
    }
}

/// Read-only access to the cluster for a controller. Borrows the
/// simulation's state: nothing is copied per wake-up.
#[derive(Copy, Clone)]
pub struct ClusterView<'a> {
    pub(crate) config: &'a SimConfig,
    pub(crate) cluster: &'a ClusterState,
    /// Per pool: nodes in the cluster (every state but Deleted).
    pub(crate) pool_live: &'a [u32],
    /// Pods that failed their last scheduling attempt and are still pending.
    pub(crate) unschedulable: &'a BTreeSet<PodId>,
    pub(crate) pods: &'a Pods,
    pub(crate) workload_pods: &'a PodLists,
    pub(crate) workload_counts: &'a [WorkloadCounts],
    pub(crate) serving: &'a Serving,
    /// Per node: the pods bound or assumed there.
    pub(crate) node_pods: &'a PodLists,
    pub(crate) placement: &'a Placement,
}

impl<'a> ClusterView<'a> {
    pub fn pools(&self) -> &'a [NodePoolSpec] {
        &self.config.node_pools
    }

    pub fn pool_by_name(&self, name: &str) -> Option<PoolId> {
        self.config
            .node_pools
            .iter()
            .position(|p| p.name == name)
            .map(|p| p as PoolId)
    }

    /// Nodes of the pool in the cluster now, Provisioning ones included.
    pub fn pool_size(&self, pool: PoolId) -> u32 {
        self.pool_live[pool as usize]
    }

    /// Nodes of the pool asked for and not registered yet (Provisioning).
    pub fn upcoming_nodes(&self, pool: PoolId) -> u32 {
        let members = self.pool_members(pool).len() as u32;
        self.pool_size(pool)
            .checked_sub(members)
            .expect("a pool's registered nodes are among its live ones")
    }

    /// The pool's registered nodes (every state but Provisioning and Deleted).
    pub fn pool_members(&self, pool: PoolId) -> &'a [NodeId] {
        self.cluster.nodes.pool_members(pool)
    }

    pub fn node_state(&self, node: NodeId) -> NodeState {
        self.cluster.nodes.state(node)
    }

    pub fn node_pool(&self, node: NodeId) -> PoolId {
        self.cluster.nodes.pool[node as usize]
    }

    pub fn node_requested(&self, node: NodeId) -> &'a ResourceVec {
        &self.cluster.nodes.requested[node as usize]
    }

    /// The taints controllers put on the node (its pool's own are in
    /// [`ClusterView::pools`]).
    pub fn node_taints(&self, node: NodeId) -> ControllerTaints {
        self.cluster.nodes.controller_taints(node)
    }

    pub fn node_allocatable(&self, node: NodeId) -> &'a ResourceVec {
        self.cluster.allocatable(node)
    }

    pub fn pods_unschedulable(&self) -> u64 {
        self.unschedulable.len() as u64
    }

    /// The pods that failed their last scheduling attempt and are still
    /// pending, in pod order (a node autoscaler's input; kept as an index,
    /// not found by a scan).
    pub fn unschedulable_pods(&self) -> impl Iterator<Item = PodId> + 'a {
        self.unschedulable.iter().copied()
    }

    /// A workload's pod counts (desired replicas: the scale subresource).
    pub fn workload_counts(&self, workload: WorkloadId) -> WorkloadCounts {
        self.workload_counts[workload as usize]
    }

    /// A deployment's live pods (terminating ones included); a job's are not listed.
    pub fn workload_pods(&self, workload: WorkloadId) -> impl Iterator<Item = PodId> + 'a {
        self.workload_pods.iter(workload)
    }

    /// A pod's phase, requests, start and readiness, as its status says.
    pub fn pods(&self) -> &'a Pods {
        self.pods
    }

    /// A workload's load and usage (None without a usage model): custom
    /// metrics as they are now, resource metrics as last scraped.
    pub fn usage(&self, workload: WorkloadId) -> Option<&'a WorkloadUsage> {
        self.serving.get(workload)
    }

    /// Whether a new, empty node of `pool` would take a pod of `workload`
    /// with `requests`: the pool's taints and labels as the scheduler
    /// decides them (TaintToleration, NodeAffinity), then its allocatable.
    /// A node autoscaler's check of a group's template node. Anti-affinity
    /// is the caller's: an empty node holds no pod to repel, but pods packed
    /// together onto one new node may repel each other.
    pub fn template_fits(
        &self,
        workload: WorkloadId,
        requests: &ResourceVec,
        pool: PoolId,
    ) -> Result<(), FilterReason> {
        let template = &self.cluster.templates[workload as usize];
        if let Some(reason) = template.pool_filter[pool as usize] {
            return Err(reason);
        }
        let allocatable = &self.config.node_pools[pool as usize].allocatable;
        match ResourceVec::ZERO.first_shortfall(requests, allocatable) {
            Some(dim) => Err(FilterReason::Insufficient(dim as u8)),
            None => Ok(()),
        }
    }

    /// Whether some registered node would take a pod of `workload` with
    /// `requests` now (the scheduler's filters; through its index in fast
    /// mode, a pass over the nodes in kube mode): a node autoscaler's
    /// filter-out-schedulable.
    pub fn fits_some_node(&self, workload: WorkloadId, requests: &ResourceVec) -> bool {
        self.placement
            .fits_some_node(self.cluster, workload, requests)
    }

    /// The pods bound (or assumed by the scheduler) on a node, not ended.
    pub fn node_pods(&self, node: NodeId) -> impl Iterator<Item = PodId> + 'a {
        self.node_pods.iter(node)
    }

    /// The node's pods not already being deleted: those a drain would move.
    pub fn live_pods(&self, node: NodeId) -> Vec<PodId> {
        let deleting = &self.pods.deleting;
        self.node_pods(node)
            .filter(|&p| !deleting[p as usize])
            .collect()
    }

    /// Registered nodes (every state but Provisioning and Deleted), in the
    /// order they registered.
    pub fn registered_nodes(&self) -> &'a [NodeId] {
        self.cluster.nodes.registration_order()
    }

    /// Node ids handed out so far, deleted ones included (ids are never reused).
    pub fn node_id_count(&self) -> usize {
        self.cluster.nodes.len()
    }

    pub fn workload(&self, workload: WorkloadId) -> &'a WorkloadSpec {
        &self.config.workloads[workload as usize]
    }

    /// Whether a pod of `workload` with `requests` would pass the
    /// scheduler's filters on `node` if `extra` were requested there on top
    /// of what is: a node autoscaler's simulated rescheduling, in which
    /// pods moved by the simulation are `extra` and never touch the cluster.
    /// Anti-affinity is checked against the pods really there; pods the
    /// simulation moved in are the caller's ([`ClusterView::repels`]).
    pub fn fits_with(
        &self,
        workload: WorkloadId,
        requests: &ResourceVec,
        node: NodeId,
        extra: &ResourceVec,
    ) -> bool {
        let template = &self.cluster.templates[workload as usize];
        if extra == &ResourceVec::ZERO {
            return self.cluster.filter(template, requests, node).is_none();
        }
        let mut with_extra = *requests;
        with_extra.add_assign(extra);
        self.cluster.filter(template, &with_extra, node).is_none()
    }

    /// Whether pods of the workload carry or match any required
    /// anti-affinity term (only such pods can repel one another).
    pub fn has_anti_affinity(&self, workload: WorkloadId) -> bool {
        let t = &self.cluster.templates[workload as usize];
        !t.carried_terms.is_empty() || !t.matched_terms.is_empty()
    }

    /// Whether pods of the two workloads may not share a node (required
    /// anti-affinity, either way round).
    pub fn repels(&self, a: WorkloadId, b: WorkloadId) -> bool {
        let (a, b) = (
            &self.cluster.templates[a as usize],
            &self.cluster.templates[b as usize],
        );
        let meets = |x: &[u32], y: &[u32]| x.iter().any(|t| y.contains(t));
        meets(&a.carried_terms, &b.matched_terms) || meets(&a.matched_terms, &b.carried_terms)
    }

    /// The disruptions a deployment's PodDisruptionBudget allows now (its
    /// status's `disruptionsAllowed`); None without a budget. Evictions in
    /// flight are not subtracted: the caller asks before it evicts.
    pub fn disruptions_allowed(&self, workload: WorkloadId) -> Option<u32> {
        let WorkloadKind::Deployment(d) = &self.config.workloads[workload as usize].kind else {
            return None;
        };
        let budget = d.disruption_budget?;
        let counts = &self.workload_counts[workload as usize];
        Some(
            BudgetStatus::of(budget, counts.desired, counts.live, counts.ready).disruptions_allowed,
        )
    }

    pub fn workload_by_name(&self, name: &str) -> Option<WorkloadId> {
        self.config
            .workloads
            .iter()
            .position(|w| w.name == name)
            .map(|w| w as WorkloadId)
    }
}

/// Everything a controller gets when woken.
pub struct Wake<'a, 'b> {
    pub now: SimTime,
    /// The subscribed events seen since its last wake-up (empty for a timer).
    pub events: Subscriptions,
    pub view: ClusterView<'a>,
    /// The controller's own stream, `controller/<name>`.
    pub rng: &'b mut SimRng,
    /// Where it puts its actions.
    pub actions: &'b mut Vec<Action>,
    /// Where it explains its decisions (`decisions.csv`).
    pub decisions: &'b mut Vec<Decision>,
}

/// A controller. See the module docs and "Adding a controller" in
/// `docs/ARCHITECTURE.md`.
pub trait Controller {
    /// A stable name, unique in the scenario: it labels the random stream.
    fn name(&self) -> &str;

    /// The cluster events that wake it.
    fn subscriptions(&self) -> Subscriptions;

    /// Its first timer, if any.
    fn first_wake(&self) -> Option<SimTime>;

    /// Reacts to a wake-up; returns its next timer (None: only events wake it).
    fn wake(&mut self, wake: Wake) -> Option<SimTime>;

    /// A node autoscaler's account of the run, for `summary.json`.
    fn node_autoscaler_summary(&self) -> Option<crate::metrics::NodeAutoscalerSummary> {
        None
    }

    /// A node autoscaler's pods that no node group would take (each pod
    /// once, ended ones included), for the timeline.
    fn pods_no_group(&self) -> Option<&BTreeSet<PodId>> {
        None
    }

    /// The kubelets' node-pressure evictions over the run, for `summary.json`.
    fn node_pressure_summary(&self) -> Option<crate::metrics::NodePressureSummary> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Actions are copied into per-instant lists and parked while their
    /// writes are in flight: a node action with a taint stays as small as
    /// the others.
    #[test]
    fn actions_stay_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Action>(), 12);
    }

    #[test]
    fn taints_come_after_every_other_class() {
        let taint = Action::Taint {
            node: 0,
            taint: ControllerTaint::KarpenterDisrupted,
        };
        let untaint = Action::Untaint {
            node: 0,
            taint: ControllerTaint::KarpenterDisrupted,
        };
        assert_eq!(taint.order(), untaint.order());
        for other in [
            Action::SetReplicas {
                workload: 0,
                replicas: 1,
            },
            Action::AddNodes { pool: 0, count: 1 },
            Action::Cordon { node: 0 },
            Action::Uncordon { node: 0 },
            Action::Delete { node: 0 },
            Action::Drain { node: 0 },
            Action::KubeletEvict { pod: 0 },
        ] {
            assert!(other.order() < taint.order(), "{other:?}");
        }
    }
}

//! Draining a node, as `kubectl drain` (k8s.io/kubectl/pkg/drain) and the
//! autoscalers do it, then deleting it.
//!
//! The node is cordoned (Draining: the scheduler stops placing pods there),
//! then each of its bound pods is evicted through the Eviction API, which
//! checks the pod's PodDisruptionBudget (`disruption`): an allowed eviction
//! deletes the pod gracefully (its ReplicaSet replaces it elsewhere at
//! once); a refused one (429) is retried every 5 s, kubectl drain's
//! interval, in one pass per node. Once the last pod on the node has
//! terminated the node is deleted.
//!
//! With a control plane each eviction is a `create pods/eviction` write
//! that takes effect when stored; while it is in flight the pod counts as
//! disrupted (upstream's DisruptedPods), so two evictions at one instant
//! cannot both take the budget's last allowed disruption.

use super::disruption::{self, Verdict};
use super::*;
use crate::config::DisruptionBudget;
use crate::control_plane::Write;
use crate::controller::Action;
use crate::disruption_budget::BudgetStatus;
use std::collections::BTreeMap;

/// kubectl drain waits this long before retrying an eviction a disruption
/// budget refused.
pub(super) const DRAIN_RETRY: SimDuration = SimDuration::from_secs(5);

/// How long a client waits before retrying a write the store refused.
const REFUSED_RETRY: SimDuration = SimDuration::from_secs(10);

/// Nodes being drained and evictions under way. Drains are few next to
/// pods, so ordered maps keep them without a per-node or per-pod cost.
#[derive(Default)]
pub(super) struct Drains {
    /// Per draining node, its next retry pass (`NEVER` when none is due).
    nodes: BTreeMap<NodeId, SimTime>,
    /// Evictions sent to the apiserver and not answered yet.
    evictions: BTreeMap<PodId, Eviction>,
    /// Evictions a disruption budget refused (429), retries included.
    pub(super) refused: u64,
    /// Evictions that took effect (the pod's deletion started).
    pub(super) evicted: u64,
}

/// An eviction on its way through the control plane.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Eviction {
    /// Admitted and awaiting its store's acknowledgement; it holds one of
    /// the budget's disruptions when `disrupts`.
    InFlight { disrupts: bool },
    /// Throttled (429 from the in-flight limit) or refused by the store:
    /// sent again later, and judged against the budget again then.
    Waiting,
}

impl Simulation {
    /// Applies `Action::Drain`: cordons the node and evicts what it can.
    pub(super) fn start_drain(&mut self, now: SimTime, node: NodeId) {
        self.cluster.set_admin_state(node, NodeState::Draining);
        self.placement.node_changed(&self.cluster, node);
        self.drains.nodes.insert(node, NEVER);
        self.drain_pass(now, node);
    }

    /// Evicts every pod on the node that is not already going; schedules a
    /// retry when some could not go yet; deletes the node once it is empty.
    fn drain_pass(&mut self, now: SimTime, node: NodeId) {
        let mut retry = false;
        for pod in self.nodes.pods.pods_of(node) {
            let p = pod as usize;
            if self.pods.finished[p] != NEVER
                || self.is_terminating(pod)
                || self.drains.evictions.contains_key(&pod)
            {
                continue;
            }
            // Assumed by the scheduler before the cordon, its binding under
            // way: no eviction can name it yet; the next pass will.
            if self.pods.bound[p] == NEVER {
                retry = true;
                continue;
            }
            if !self.evict(now, pod) {
                retry = true;
            }
        }
        if retry {
            self.schedule_drain_retry(now, node);
        }
        self.finish_drain_if_empty(now, node);
    }

    fn schedule_drain_retry(&mut self, now: SimTime, node: NodeId) {
        let Some(next) = self.drains.nodes.get_mut(&node) else {
            return;
        };
        if *next == NEVER {
            *next = now + DRAIN_RETRY;
            self.schedule(now + DRAIN_RETRY, Event::DrainRetry { node });
        }
    }

    pub(super) fn drain_retry(&mut self, now: SimTime, node: NodeId) {
        match self.drains.nodes.get_mut(&node) {
            Some(next) if *next == now => *next = NEVER,
            _ => return, // the node was deleted meanwhile
        }
        self.drain_pass(now, node);
    }

    /// Asks the Eviction API to evict the pod; false when its budget
    /// refuses (429), to be retried with the node's next pass.
    fn evict(&mut self, now: SimTime, pod: PodId) -> bool {
        let Verdict::Allow { disrupts } = self.eviction_verdict(pod) else {
            self.drains.refused += 1;
            return false;
        };
        let Some(control_plane) = self.control_plane.as_mut() else {
            self.evicted(now, pod);
            return true;
        };
        let step = PodStep::Evict;
        match control_plane.write(now, ApiRequest::PodEviction, 0) {
            Write::Acked(at) => {
                self.drains
                    .evictions
                    .insert(pod, Eviction::InFlight { disrupts });
                self.schedule(at, Event::PodWriteAcked { pod, step });
            }
            Write::Throttled(at) => {
                self.drains.evictions.insert(pod, Eviction::Waiting);
                self.schedule(at, Event::PodWriteRetry { pod, step });
            }
            Write::Refused(_) => {
                self.drains.evictions.insert(pod, Eviction::Waiting);
                self.schedule(now + REFUSED_RETRY, Event::PodWriteRetry { pod, step });
            }
        }
        true
    }

    /// The eviction is stored: the pod's graceful deletion starts (the
    /// eviction was the write that set its deletion timestamp).
    pub(super) fn eviction_acked(&mut self, now: SimTime, pod: PodId) {
        self.drains.evictions.remove(&pod);
        if self.pods.finished[pod as usize] == NEVER {
            self.evicted(now, pod);
        }
    }

    /// A throttled eviction is sent again, judged against its budget anew;
    /// refused now, it waits for its node's next pass.
    pub(super) fn eviction_retry(&mut self, now: SimTime, pod: PodId) {
        self.drains.evictions.remove(&pod);
        let p = pod as usize;
        if self.pods.finished[p] != NEVER || self.is_terminating(pod) {
            return;
        }
        if !self.evict(now, pod) {
            self.schedule_drain_retry(now, self.pods.node[p]);
        }
    }

    fn evicted(&mut self, now: SimTime, pod: PodId) {
        self.drains.evicted += 1;
        self.delete_evicted_pod(now, pod);
    }

    /// The Eviction API's answer for the pod now: no budget (a job, or a
    /// deployment without one) lets every eviction through.
    fn eviction_verdict(&self, pod: PodId) -> Verdict {
        let p = pod as usize;
        let workload = self.pods.workload[p];
        let WorkloadKind::Deployment(d) = &self.config.workloads[workload as usize].kind else {
            return Verdict::Allow { disrupts: false };
        };
        let Some(budget) = d.disruption_budget else {
            return Verdict::Allow { disrupts: false };
        };
        let candidate = disruption::Candidate {
            running: self.pods.phase[p] == PodPhase::Running && !self.is_terminating(pod),
            ready: self.pods.ready_since[p] != NEVER,
        };
        disruption::verdict(candidate, &self.budget_status(workload, budget))
    }

    /// The budget's status now. Healthy pods are the Ready ones (a
    /// terminating pod is not Ready) less those an eviction in flight has
    /// already disrupted.
    fn budget_status(&self, workload: WorkloadId, budget: DisruptionBudget) -> BudgetStatus {
        let counts = &self.workload_counts[workload as usize];
        let disrupted = self.disrupted_ready_pods(workload);
        let healthy = counts
            .ready
            .checked_sub(disrupted)
            .expect("disrupted pods counted here are Ready");
        BudgetStatus::of(budget, counts.desired, counts.live, healthy)
    }

    /// Ready pods of the workload whose eviction holds a disruption.
    fn disrupted_ready_pods(&self, workload: WorkloadId) -> u32 {
        let held = self.drains.evictions.iter().filter(|(&pod, e)| {
            let p = pod as usize;
            **e == (Eviction::InFlight { disrupts: true })
                && self.pods.workload[p] == workload
                && self.pods.ready_since[p] != NEVER
        });
        u32::try_from(held.count()).expect("fewer evictions than u32 pods")
    }

    /// A pod left a node: a draining node left empty is deleted.
    pub(super) fn finish_drain_if_empty(&mut self, now: SimTime, node: NodeId) {
        if !self.drains.nodes.contains_key(&node) || self.nodes.pods.iter(node).next().is_some() {
            return;
        }
        self.drains.nodes.remove(&node);
        if self.control_plane.is_some() {
            self.send_node_delete(now, Action::Delete { node });
        } else {
            self.delete_node(now, node);
        }
    }

    /// The node is gone (its drain finished, or something deleted it
    /// first): its drain ends.
    pub(super) fn forget_drain(&mut self, node: NodeId) {
        self.drains.nodes.remove(&node);
    }

    /// The invariant check: a node being drained is registered and marked
    /// Draining, and a pending retry pass is in the future.
    pub(super) fn check_drains(&self) -> Result<(), (String, String)> {
        let now = self.now();
        for (&node, &next) in &self.drains.nodes {
            let (state, admin) = (
                self.cluster.nodes.state(node),
                self.cluster.nodes.admin_state(node),
            );
            if !state.is_registered() || admin != NodeState::Draining {
                let problem = format!("being drained but {state:?} (set {admin:?})");
                return Err((format!("node {node}"), problem));
            }
            if next != NEVER && next < now {
                let problem = format!("its drain's retry at {next} was lost");
                return Err((format!("node {node}"), problem));
            }
        }
        Ok(())
    }
}

//! Scale-down (upstream's `core/scaledown/planner` and `actuation`): a node
//! of a group is unneeded while its utilization is under the threshold and
//! every pod on it may go and has somewhere to go; once unneeded for
//! `scale_down_unneeded_time` (and outside the delays after an add, a
//! delete or a failure) it is removed: empty nodes in bulk, up to
//! `max_scale_down_parallelism`, non-empty ones drained one at a time, never
//! below the group's min.
//!
//! Utilization is read from the node's requested total, kept by the cluster
//! as pods come and go, so a scan costs one division per node of the
//! groups; only nodes under the threshold are simulated, and of those not
//! already unneeded at most `scale_down_non_empty_candidates` non-empty ones
//! per scan (upstream's candidate bound); a node found unremovable is not
//! simulated again for `unremovable_node_recheck_timeout`. The simulated
//! rescheduling never
//! touches the cluster: pods moved are an overlay of extra requests.

use super::ClusterAutoscalerController;
use crate::autoscale::cluster_autoscaler::utilization::{
    node_utilization, NodePod, PodOrigin, UtilizationOptions,
};
use crate::autoscale::cluster_autoscaler::DRAIN_HEADROOM;
use crate::cluster::NodeState;
use crate::controller::reschedule::{find_destination, undo_moves, Overlay};
use crate::controller::{Action, ClusterView, DecisionTarget, Wake};
use crate::ids::{NodeId, PodId, PoolId, WorkloadId};
use crate::time::SimTime;
use std::collections::BTreeMap;

#[derive(Default)]
pub(super) struct ScaleDownState {
    unneeded_since: BTreeMap<NodeId, SimTime>,
    /// Per node: the reason it was last reported unremovable, so a reason
    /// is a row of `decisions.csv` when it appears or changes, not per scan.
    reported: BTreeMap<NodeId, &'static str>,
    /// Nodes found unremovable, and when they may be simulated again.
    recheck_at: BTreeMap<NodeId, SimTime>,
    /// The node being drained, and since when.
    draining: Option<(NodeId, SimTime)>,
    /// Where the last simulated pod found room: the next search starts
    /// there (upstream's hinting keeps pods of one node together).
    pub(super) destination_cursor: usize,
}

/// Why a node under the threshold stays (upstream's `UnremovableReason`
/// and `BlockingPodReason` names).
struct Unremovable {
    reason: &'static str,
    pod: Option<PodId>,
}

impl ClusterAutoscalerController {
    pub(super) fn scale_down(&mut self, wake: &mut Wake) {
        self.follow_drain(wake);
        let view = wake.view;
        let mut overlay = Overlay::default();
        let mut unneeded = BTreeMap::new();
        let mut new_non_empty = self.settings.scale_down_non_empty_candidates;
        let now = wake.now;
        self.scale_down.recheck_at.retain(|_, at| *at > now);
        let mut candidates: Vec<(NodeId, f64, Vec<PodId>)> = self
            .underutilized(&view)
            .into_iter()
            .map(|(node, utilization)| (node, utilization, view.live_pods(node)))
            .collect();
        // Empty nodes first, as upstream's planner takes them: nothing
        // moves onto a node already counted as going.
        candidates.sort_by_key(|(_, _, pods)| !pods.is_empty());
        for (node, utilization, pods) in candidates {
            if self.scale_down.recheck_at.contains_key(&node) {
                continue;
            }
            let known = self.scale_down.unneeded_since.get(&node).copied();
            if !pods.is_empty() && known.is_none() {
                if new_non_empty == 0 {
                    continue;
                }
                new_non_empty -= 1;
            }
            match self.simulate_removal(&view, node, &pods, &mut overlay) {
                Ok(()) => {
                    unneeded.insert(node, known.unwrap_or(wake.now));
                    self.scale_down.reported.remove(&node);
                }
                Err(Some(why)) => {
                    let recheck = now + self.settings.unremovable_node_recheck_timeout;
                    self.scale_down.recheck_at.insert(node, recheck);
                    self.report_unremovable(wake, node, utilization, why);
                }
                Err(None) => {}
            }
        }
        self.scale_down.unneeded_since = unneeded;
        if !self.in_scale_down_cooldown(wake.now) {
            self.remove_unneeded(wake);
        }
    }

    /// A drain in progress: done once its node is gone; a node still there
    /// past `max_graceful_termination` plus upstream's headroom is deleted
    /// (upstream would give up and untaint it; a ksim drain cannot be
    /// undone) and counts as a failed scale-down.
    fn follow_drain(&mut self, wake: &mut Wake) {
        let Some((node, since)) = self.scale_down.draining else {
            return;
        };
        let now = wake.now;
        if wake.view.node_state(node) == NodeState::Deleted {
            self.scale_down.draining = None;
            self.last_delete = Some(now);
            return;
        }
        if now < since + self.settings.max_graceful_termination + DRAIN_HEADROOM {
            return;
        }
        self.scale_down.draining = None;
        self.last_failure = Some(now);
        self.summary.drain_timeouts += 1;
        wake.actions.push(Action::Delete { node });
        let pool = wake.view.node_pool(node);
        let size = wake.view.pool_size(pool);
        wake.decisions.push(Self::decision(
            now,
            "scale_down",
            DecisionTarget::Node { pool, node },
            [size, size - 1, size - 1],
            String::new(),
            "drain outlasted max_graceful_termination: node deleted".to_string(),
        ));
    }

    /// The groups' Ready nodes under their threshold, with their utilization.
    fn underutilized(&self, view: &ClusterView) -> Vec<(NodeId, f64)> {
        let options = UtilizationOptions {
            skip_daemonset_pods: self.settings.ignore_daemonsets_utilization,
            skip_mirror_pods: false,
        };
        let draining = self.scale_down.draining.map(|(n, _)| n);
        let mut under = Vec::new();
        for &pool in &self.settings.node_groups {
            let spec = &view.pools()[pool as usize];
            let mut capacity = spec.allocatable;
            capacity.add_assign(&spec.daemonset_requests);
            let gpu = self.gpu.filter(|&g| capacity.0[g] > 0);
            let threshold = if gpu.is_some() {
                self.settings.scale_down_gpu_utilization_threshold
            } else {
                self.settings.scale_down_utilization_threshold
            };
            for &node in view.pool_members(pool) {
                if view.node_state(node) != NodeState::Ready || Some(node) == draining {
                    continue;
                }
                let pods = [
                    NodePod {
                        requests: *view.node_requested(node),
                        origin: PodOrigin::Regular,
                        deletion: None,
                    },
                    NodePod {
                        requests: spec.daemonset_requests,
                        origin: PodOrigin::DaemonSet,
                        deletion: None,
                    },
                ];
                let now = SimTime::ZERO; // no pod is long-terminating here
                let Ok(info) = node_utilization(&capacity, &pods, gpu, options, now) else {
                    continue;
                };
                if info.utilization < threshold {
                    under.push((node, info.utilization));
                }
            }
        }
        under
    }

    /// Whether every pod of the node may go (upstream's drainability rules,
    /// then its PodDisruptionBudget) and finds a place on a node kept; on
    /// success the moves stay in the overlay for the next candidates.
    fn simulate_removal(
        &mut self,
        view: &ClusterView,
        node: NodeId,
        pods: &[PodId],
        overlay: &mut Overlay,
    ) -> Result<(), Option<Unremovable>> {
        if overlay.extra.contains_key(&node) {
            // Pods of an earlier candidate went here in this scan's
            // simulation: the node is judged again at the next scan.
            return Err(None);
        }
        let budgets = self.check_pods_may_go(view, pods, overlay).map_err(Some)?;
        let mark = overlay.moved.len();
        for &pod in pods {
            let p = pod as usize;
            let (workload, requests) = (view.pods().workload[p], view.pods().requests[p]);
            let cursor = &mut self.scale_down.destination_cursor;
            match find_destination(cursor, view, node, workload, &requests, overlay) {
                Some(to) => overlay.place(to, workload, requests),
                None => {
                    undo_moves(overlay, mark);
                    return Err(Some(Unremovable {
                        reason: "NoPlaceToMovePods",
                        pod: Some(pod),
                    }));
                }
            }
        }
        overlay.removed.insert(node);
        overlay.disruptions_left.extend(budgets);
        Ok(())
    }

    /// The drainability rules, in upstream's order, then the budgets: the
    /// disruptions each budgeted workload has left once these pods go.
    fn check_pods_may_go(
        &self,
        view: &ClusterView,
        pods: &[PodId],
        overlay: &Overlay,
    ) -> Result<BTreeMap<WorkloadId, u32>, Unremovable> {
        let mut left: BTreeMap<WorkloadId, u32> = BTreeMap::new();
        for &pod in pods {
            let workload = view.pods().workload[pod as usize];
            let hints = view.workload(workload).template.eviction;
            let blocked = |reason| {
                Err(Unremovable {
                    reason,
                    pod: Some(pod),
                })
            };
            if hints.safe_to_evict != Some(true) {
                if hints.bare {
                    return blocked("NotReplicated");
                }
                if hints.safe_to_evict == Some(false) {
                    return blocked("NotSafeToEvictAnnotation");
                }
                if hints.local_storage && self.settings.skip_nodes_with_local_storage {
                    return blocked("LocalStorageRequested");
                }
            }
            let Some(allowed) = view.disruptions_allowed(workload) else {
                continue;
            };
            let budget = left.entry(workload).or_insert_with(|| {
                overlay
                    .disruptions_left
                    .get(&workload)
                    .copied()
                    .unwrap_or(allowed)
            });
            match budget.checked_sub(1) {
                Some(rest) => *budget = rest,
                None => return blocked("NotEnoughPdb"),
            }
        }
        Ok(left)
    }

    fn report_unremovable(
        &mut self,
        wake: &mut Wake,
        node: NodeId,
        utilization: f64,
        why: Unremovable,
    ) {
        if self.scale_down.reported.insert(node, why.reason) == Some(why.reason) {
            return;
        }
        self.summary.unremovable_reports += 1;
        let pool = wake.view.node_pool(node);
        let size = wake.view.pool_size(pool);
        let pod = why.pod.map_or(String::new(), |p| {
            format!(
                "; blocking_pod={}",
                wake.view
                    .workload(wake.view.pods().workload[p as usize])
                    .name
            )
        });
        wake.decisions.push(Self::decision(
            wake.now,
            "unremovable",
            DecisionTarget::Node { pool, node },
            [size, size, size],
            format!("utilization={utilization:.3}{pod}"),
            why.reason.to_string(),
        ));
    }

    /// Removes the nodes unneeded long enough: the empty ones at once (up
    /// to the parallelism), else one non-empty node by a drain.
    fn remove_unneeded(&mut self, wake: &mut Wake) {
        let view = wake.view;
        let now = wake.now;
        let ripe: Vec<NodeId> = self
            .scale_down
            .unneeded_since
            .iter()
            .filter(|(_, &since)| since + self.settings.scale_down_unneeded_time <= now)
            .map(|(&node, _)| node)
            .collect();
        let mut removing: BTreeMap<PoolId, u32> = BTreeMap::new();
        let mut deleted = 0;
        let mut drain: Option<NodeId> = None;
        for node in ripe {
            let pool = view.node_pool(node);
            let empty = view.live_pods(node).is_empty();
            if empty && deleted >= self.settings.max_scale_down_parallelism {
                continue;
            }
            if !empty && (drain.is_some() || self.scale_down.draining.is_some()) {
                continue;
            }
            let size = view.pool_size(pool);
            let taken = removing.get(&pool).copied().unwrap_or(0);
            if size - taken <= view.pools()[pool as usize].min {
                self.report_unremovable(
                    wake,
                    node,
                    f64::NAN,
                    Unremovable {
                        reason: "NodeGroupMinSizeReached",
                        pod: None,
                    },
                );
                continue;
            }
            *removing.entry(pool).or_default() += 1;
            self.scale_down.unneeded_since.remove(&node);
            let (action, reason) = if empty {
                deleted += 1;
                self.summary.nodes_removed_empty += 1;
                (Action::Delete { node }, "empty")
            } else {
                drain = Some(node);
                self.summary.nodes_drained += 1;
                (
                    Action::Drain { node },
                    "underutilized: its pods fit elsewhere",
                )
            };
            wake.actions.push(action);
            wake.decisions.push(Self::decision(
                now,
                "scale_down",
                DecisionTarget::Node { pool, node },
                [size - taken, size - taken - 1, size - taken - 1],
                String::new(),
                reason.to_string(),
            ));
        }
        if deleted > 0 {
            self.last_delete = Some(now);
        }
        if let Some(node) = drain {
            self.scale_down.draining = Some((node, now));
        }
    }
}

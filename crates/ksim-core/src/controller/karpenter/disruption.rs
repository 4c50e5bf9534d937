//! Disruption (upstream's `pkg/controllers/disruption` and the NodeClaim
//! expiration controller), once per poll: expired nodes are drained at once,
//! outside any budget; then empty nodes are deleted, as many as the budgets
//! allow; if none was, one node is consolidated (deleted when its pods fit
//! elsewhere, replaced when one strictly cheaper node would hold them).
//!
//! A node's clocks start when a poll first sees it registered, and "its
//! last pod event" is the last poll at which its pod count changed (an
//! approximation of the NodeClaim's Consolidatable condition, which
//! upstream tracks from pod binding and removal events).

use super::{priced_options, usd, KarpenterController};
use crate::autoscale::karpenter::budget::{disruptions_left, DisruptionReason};
use crate::autoscale::karpenter::catalog::CapacityType;
use crate::autoscale::karpenter::consolidation::{
    decide, is_expired, CandidateNode, ConsolidationPolicy, Decision, ReplacementOption,
    Rescheduling,
};
use crate::autoscale::karpenter::packing::{pack, PackingInput, PendingPod};
use crate::autoscale::karpenter::settings::PoolOffering;
use crate::cluster::NodeState;
use crate::controller::reschedule::{find_destination, Overlay};
use crate::controller::{Action, ClusterView, DecisionTarget, Wake};
use crate::ids::{NodeId, PoolId, WorkloadId};
use crate::resources::ResourceVec;
use crate::taints::ControllerTaint;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// A node launched for pending pods is not disrupted for this long after it
/// registers: upstream keeps a node "nominated" for pods it was launched for
/// during twice the batch max duration (20 s), and consolidation skips
/// nominated nodes.
const NOMINATION_WINDOW: SimDuration = SimDuration::from_secs(20);

/// Single-node consolidation simulates at most this many candidates per
/// poll (upstream bounds the pass by a 3-minute timeout instead).
const MAX_CANDIDATES_SIMULATED: usize = 50;

/// What the polls have seen of one managed node.
#[derive(Copy, Clone, Debug)]
struct NodeRecord {
    seen_at: SimTime,
    pods: u32,
    pods_changed_at: Option<SimTime>,
}

/// A replacement launched for a candidate, which is drained once a node of
/// the replacement's pool has come up.
#[derive(Copy, Clone, Debug)]
struct Replacement {
    candidate: NodeId,
    pool: PoolId,
    /// The pool's launching nodes before the replacement was asked for.
    upcoming_before: u32,
}

#[derive(Default)]
pub(super) struct DisruptionState {
    records: BTreeMap<NodeId, NodeRecord>,
    /// Nodes this controller is disrupting that still exist.
    disrupting: BTreeSet<NodeId>,
    replacements: Vec<Replacement>,
}

/// A node that may be consolidated.
struct Candidate {
    node: NodeId,
    node_pool: usize,
    offering: usize,
    pods: Vec<crate::ids::PodId>,
    record: NodeRecord,
}

impl KarpenterController {
    pub(super) fn disrupt(&mut self, wake: &mut Wake) {
        self.refresh(wake);
        self.expire(wake);
        if !self.delete_empty(wake) {
            self.consolidate_one(wake);
        }
    }

    /// Updates the records of the managed nodes, forgets deleted ones, and
    /// drains the candidates whose replacement has come up.
    fn refresh(&mut self, wake: &mut Wake) {
        let view = wake.view;
        let now = wake.now;
        let state = &mut self.disruption;
        state
            .disrupting
            .retain(|&n| view.node_state(n) != NodeState::Deleted);
        state
            .records
            .retain(|&n, _| view.node_state(n) != NodeState::Deleted);
        for np in &self.settings.node_pools {
            for o in &np.offerings {
                for &node in view.pool_members(o.pool) {
                    let pods = view.live_pods(node).len() as u32;
                    let record = state.records.entry(node).or_insert(NodeRecord {
                        seen_at: now,
                        pods,
                        pods_changed_at: None,
                    });
                    if record.pods != pods {
                        record.pods = pods;
                        record.pods_changed_at = Some(now);
                    }
                }
            }
        }
        let mut waiting = Vec::new();
        for r in std::mem::take(&mut state.replacements) {
            if view.node_state(r.candidate) == NodeState::Deleted {
                continue;
            }
            if view.upcoming_nodes(r.pool) <= r.upcoming_before {
                wake.actions.push(Action::Drain { node: r.candidate });
            } else {
                waiting.push(r);
            }
        }
        state.replacements = waiting;
    }

    /// Drains every managed node past its NodePool's `expire_after`.
    fn expire(&mut self, wake: &mut Wake) {
        let view = wake.view;
        let now = wake.now;
        let expired: Vec<(NodeId, SimTime)> = self
            .disruption
            .records
            .iter()
            .filter(|(n, _)| !self.disruption.disrupting.contains(n))
            .filter_map(|(&n, r)| {
                let np = self.node_pool_of(view.node_pool(n))?;
                let after = self.settings.node_pools[np].expire_after;
                is_expired(r.seen_at, after, now).then_some((n, r.seen_at))
            })
            .collect();
        for (node, seen_at) in expired {
            if view.node_state(node) == NodeState::Draining {
                continue;
            }
            let pool = view.node_pool(node);
            let size = view.pool_size(pool);
            wake.actions.push(Action::Drain { node });
            self.disruption.disrupting.insert(node);
            self.summary.nodes_expired += 1;
            wake.decisions.push(Self::decision(
                now,
                "expire",
                DecisionTarget::Node { pool, node },
                [size, size - 1],
                format!("registered_at_s={}", seen_at.as_secs_f64()),
                "expire_after has passed since the node registered".to_string(),
            ));
        }
    }

    /// Nodes this controller is disrupting, per NodePool.
    fn disrupting_per_node_pool(&self, view: &ClusterView) -> Vec<u32> {
        let mut out = vec![0u32; self.settings.node_pools.len()];
        for &node in &self.disruption.disrupting {
            if let Some(np) = self.node_pool_of(view.node_pool(node)) {
                out[np] += 1;
            }
        }
        out
    }

    /// Budget left per NodePool for `reason`.
    fn budget_left(&self, view: &ClusterView, reason: DisruptionReason) -> Vec<u32> {
        let disrupting = self.disrupting_per_node_pool(view);
        (0..self.settings.node_pools.len())
            .map(|n| {
                let np = &self.settings.node_pools[n];
                let size = self.node_pool_size(view, n);
                disruptions_left(&np.budgets, size, disrupting[n], reason)
            })
            .collect()
    }

    /// Ready managed nodes, not being disrupted, past the nomination window.
    fn candidates(&self, view: &ClusterView, now: SimTime) -> Vec<Candidate> {
        let mut out = Vec::new();
        for (&node, record) in &self.disruption.records {
            if self.disruption.disrupting.contains(&node)
                || view.node_state(node) != NodeState::Ready
                || view
                    .node_taints(node)
                    .contains(ControllerTaint::KarpenterDisrupted)
                || now < record.seen_at + NOMINATION_WINDOW
            {
                continue;
            }
            let Some((node_pool, offering)) = self.offering_of[view.node_pool(node) as usize]
            else {
                continue;
            };
            out.push(Candidate {
                node,
                node_pool,
                offering,
                pods: view.live_pods(node),
                record: *record,
            });
        }
        out
    }

    fn candidate_node(&self, c: &Candidate) -> CandidateNode {
        let offering = &self.settings.node_pools[c.node_pool].offerings[c.offering];
        CandidateNode {
            name: c.node.to_string(),
            reschedulable_pods: c.pods.len() as u32,
            capacity_type: offering.capacity_type,
            price_micro_usd_per_hour: offering.price_micro_usd_per_hour,
            initialized_at: c.record.seen_at,
            last_pod_event: c.record.pods_changed_at,
        }
    }

    /// Emptiness: deletes the empty candidates that are consolidatable, as
    /// many as each NodePool's budget allows. True if any was deleted.
    fn delete_empty(&mut self, wake: &mut Wake) -> bool {
        let view = wake.view;
        let now = wake.now;
        let mut left = self.budget_left(&view, DisruptionReason::Empty);
        let mut deleted = false;
        for c in self.candidates(&view, now) {
            if !c.pods.is_empty() || left[c.node_pool] == 0 {
                continue;
            }
            let settings = &self.settings.node_pools[c.node_pool].consolidation;
            let decision = decide(
                &self.candidate_node(&c),
                settings,
                &Rescheduling::FitsElsewhere,
                now,
            );
            if decision != Decision::Delete {
                continue;
            }
            left[c.node_pool] -= 1;
            deleted = true;
            let pool = view.node_pool(c.node);
            let size = view.pool_size(pool);
            wake.actions.push(Action::Delete { node: c.node });
            self.disruption.disrupting.insert(c.node);
            self.summary.nodes_removed_empty += 1;
            wake.decisions.push(Self::decision(
                now,
                "consolidate_delete",
                DecisionTarget::Node { pool, node: c.node },
                [size, size - 1],
                "pods=0".to_string(),
                "empty".to_string(),
            ));
        }
        deleted
    }

    /// Single-node consolidation: the first candidate, fewest pods first,
    /// whose pods fit elsewhere (delete) or on one strictly cheaper node
    /// (replace).
    fn consolidate_one(&mut self, wake: &mut Wake) {
        let view = wake.view;
        let now = wake.now;
        let left = self.budget_left(&view, DisruptionReason::Underutilized);
        let mut candidates: Vec<Candidate> = self
            .candidates(&view, now)
            .into_iter()
            .filter(|c| {
                let np = &self.settings.node_pools[c.node_pool];
                !c.pods.is_empty()
                    && left[c.node_pool] > 0
                    && np.consolidation.policy == ConsolidationPolicy::WhenEmptyOrUnderutilized
                    && crate::autoscale::karpenter::consolidation::is_consolidatable(
                        &self.candidate_node(c),
                        &np.consolidation,
                        now,
                    )
                    && evictable(&view, &c.pods)
            })
            .collect();
        candidates.sort_by_key(|c| (c.pods.len(), c.node));
        for c in candidates.iter().take(MAX_CANDIDATES_SIMULATED) {
            let (rescheduling, pools) = self.simulate(&view, c);
            let np = &self.settings.node_pools[c.node_pool];
            match decide(
                &self.candidate_node(c),
                &np.consolidation,
                &rescheduling,
                now,
            ) {
                Decision::Delete => {
                    self.drain_candidate(wake, c);
                    return;
                }
                Decision::Replace(options) => {
                    let pool = pools
                        .iter()
                        .find(|(o, _)| *o == options[0])
                        .map(|(_, p)| *p)
                        .expect("a replacement option has its pool");
                    self.replace(wake, c, pool);
                    return;
                }
                Decision::Keep(_) => {}
            }
        }
    }

    /// Where the candidate's pods would go without it: registered nodes
    /// first (not those being disrupted), then one or more new nodes of its
    /// NodePool. Returns the replacement options with their pools.
    fn simulate(
        &mut self,
        view: &ClusterView,
        c: &Candidate,
    ) -> (Rescheduling, Vec<(ReplacementOption, PoolId)>) {
        let mut overlay = Overlay::default();
        overlay
            .removed
            .extend(self.disruption.disrupting.iter().copied());
        overlay.removed.insert(c.node);
        let pods = view.pods();
        let mut stranded: Vec<(WorkloadId, ResourceVec)> = Vec::new();
        for &pod in &c.pods {
            let (workload, requests) = (pods.workload[pod as usize], pods.requests[pod as usize]);
            match find_destination(
                &mut self.cursor,
                view,
                c.node,
                workload,
                &requests,
                &mut overlay,
            ) {
                Some(to) => overlay.place(to, workload, requests),
                None => stranded.push((workload, requests)),
            }
        }
        if stranded.is_empty() {
            return (Rescheduling::FitsElsewhere, Vec::new());
        }
        self.replacement(view, c, &stranded)
    }

    /// Packs the stranded pods onto new nodes of the candidate's NodePool,
    /// among the offerings whose template node takes every one of them.
    fn replacement(
        &self,
        view: &ClusterView,
        c: &Candidate,
        stranded: &[(WorkloadId, ResourceVec)],
    ) -> (Rescheduling, Vec<(ReplacementOption, PoolId)>) {
        let np = &self.settings.node_pools[c.node_pool];
        let current = &np.offerings[c.offering];
        // An on-demand candidate is only replaced by a strictly cheaper
        // node (`consolidation::decide`), so dearer offerings cannot change
        // the outcome and are not packed; a spot candidate's decision also
        // reads whether any spot offering fits, so it sees them all.
        let may_replace = |o: &PoolOffering| {
            current.capacity_type == CapacityType::Spot
                || o.price_micro_usd_per_hour < current.price_micro_usd_per_hour
        };
        let (options, option_pools) = priced_options(
            view,
            np.offerings.iter().filter(|o| {
                may_replace(o)
                    && stranded
                        .iter()
                        .all(|(w, r)| view.template_fits(*w, r, o.pool).is_ok())
            }),
        );
        let pending: Vec<PendingPod> = stranded
            .iter()
            .enumerate()
            .map(|(i, (_, r))| PendingPod {
                name: format!("{i:010}"),
                requests: *r,
            })
            .collect();
        // The candidate's own capacity is freed by the replacement.
        let mut usage = self.node_pool_usage(view, c.node_pool, &Default::default());
        usage.sub_assign(&np.offerings[c.offering].capacity);
        let outcome = pack(
            &pending,
            &PackingInput {
                existing: &[],
                options: &options,
                daemon_overhead: ResourceVec::ZERO,
                limits: np.limits,
                pool_usage: usage,
            },
        );
        if !outcome.unschedulable.is_empty() {
            return (Rescheduling::DoesNotFit, Vec::new());
        }
        if outcome.new_claims.len() > 1 {
            return (Rescheduling::NeedsSeveralNodes, Vec::new());
        }
        let with_pools: Vec<(ReplacementOption, PoolId)> = outcome.new_claims[0]
            .options
            .iter()
            .map(|&i| {
                let o = &options[i];
                (
                    ReplacementOption {
                        instance_type: o.instance_type.clone(),
                        capacity_type: o.offering.capacity_type,
                        price_micro_usd_per_hour: o.offering.price_micro_usd_per_hour,
                    },
                    option_pools[i],
                )
            })
            .collect();
        let options = with_pools.iter().map(|(o, _)| o.clone()).collect();
        (Rescheduling::NeedsOneNode(options), with_pools)
    }

    fn drain_candidate(&mut self, wake: &mut Wake, c: &Candidate) {
        let pool = wake.view.node_pool(c.node);
        let size = wake.view.pool_size(pool);
        wake.actions.push(Action::Drain { node: c.node });
        self.disruption.disrupting.insert(c.node);
        self.summary.nodes_drained += 1;
        wake.decisions.push(Self::decision(
            wake.now,
            "consolidate_delete",
            DecisionTarget::Node { pool, node: c.node },
            [size, size - 1],
            format!("pods={}", c.pods.len()),
            "underutilized: its pods fit on the other nodes".to_string(),
        ));
    }

    /// Launches the replacement and taints the candidate now; the candidate
    /// is drained once the replacement's pool has one launching node fewer.
    fn replace(&mut self, wake: &mut Wake, c: &Candidate, pool: PoolId) {
        let view = wake.view;
        let (n, o) = self.offering_of[pool as usize].expect("a replacement is a managed pool");
        let replacement = &self.settings.node_pools[n].offerings[o];
        let old = &self.settings.node_pools[c.node_pool].offerings[c.offering];
        wake.actions.push(Action::AddNodes { pool, count: 1 });
        wake.actions.push(Action::Taint {
            node: c.node,
            taint: ControllerTaint::KarpenterDisrupted,
        });
        self.disruption.replacements.push(Replacement {
            candidate: c.node,
            pool,
            upcoming_before: view.upcoming_nodes(pool),
        });
        self.disruption.disrupting.insert(c.node);
        self.summary.nodes_added += 1;
        self.summary.nodes_replaced += 1;
        let node_pool = view.node_pool(c.node);
        let size = view.pool_size(node_pool);
        wake.decisions.push(Self::decision(
            wake.now,
            "consolidate_replace",
            DecisionTarget::Node {
                pool: node_pool,
                node: c.node,
            },
            [size, size - 1],
            format!(
                "pods={}; from={} {} at {}; to={} {} at {}",
                c.pods.len(),
                old.instance_type,
                old.capacity_type.as_str(),
                usd(old.price_micro_usd_per_hour),
                replacement.instance_type,
                replacement.capacity_type.as_str(),
                usd(replacement.price_micro_usd_per_hour)
            ),
            "one strictly cheaper node holds its pods".to_string(),
        ));
    }
}

/// Whether every pod may be evicted now: none marked safe-to-evict false
/// (the analogue of `karpenter.sh/do-not-disrupt`) and no budget exhausted.
fn evictable(view: &ClusterView, pods: &[crate::ids::PodId]) -> bool {
    let mut left: BTreeMap<WorkloadId, u32> = BTreeMap::new();
    for &pod in pods {
        let workload = view.pods().workload[pod as usize];
        if view.workload(workload).template.eviction.safe_to_evict == Some(false) {
            return false;
        }
        let Some(allowed) = view.disruptions_allowed(workload) else {
            continue;
        };
        let budget = left.entry(workload).or_insert(allowed);
        match budget.checked_sub(1) {
            Some(rest) => *budget = rest,
            None => return false,
        }
    }
    true
}

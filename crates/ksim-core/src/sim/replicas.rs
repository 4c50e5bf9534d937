//! A deployment's desired replicas, kept by its ReplicaSet controller:
//! create pods while fewer are active than desired, delete the surplus in
//! upstream's order of preference when more are.
//!
//! Upstream: pkg/controller/replicaset/replica_set.go (`manageReplicas`,
//! `getPodsToDelete`, `getPodsRankedByRelatedPodsOnSameNode`) and
//! pkg/controller/controller_utils.go (`ActivePodsWithRanks.Less`,
//! `IsPodActive`), with LogarithmicScaleDown (GA since v1.31, locked on).

use super::*;
use std::cmp::{Ordering, Reverse};

impl Simulation {
    /// A controller (the HPA, a user's `kubectl scale`) sets a deployment's
    /// replicas; its ReplicaSet acts at once. Before the deployment's start
    /// the count is only recorded. Setting it on a job is a bug in the caller.
    // Called by the controllers being built (issue 8) and by the tests.
    pub(super) fn set_desired_replicas(
        &mut self,
        now: SimTime,
        workload: WorkloadId,
        replicas: u32,
    ) {
        let w = workload as usize;
        if !matches!(self.config.workloads[w].kind, WorkloadKind::Deployment(_)) {
            let subject = self.workload_subject(workload);
            self.violation(subject, "desired replicas set on a job");
            return;
        }
        let before = std::mem::replace(&mut self.workload_counts[w].desired, replicas);
        let state = &mut self.workloads[w];
        match replicas.cmp(&before) {
            Ordering::Greater => state.scale_ups += 1,
            Ordering::Less => state.scale_downs += 1,
            Ordering::Equal => {}
        }
        self.resize_endpoint_slices();
        self.reconcile_replicas(now, workload);
    }

    /// The ReplicaSet controller's sync: create the missing pods or delete
    /// the surplus, counting active pods (not ended, not terminating).
    /// Jobs and deployments not yet started have nothing to do.
    pub(super) fn reconcile_replicas(&mut self, now: SimTime, workload: WorkloadId) {
        if !self.workloads[workload as usize].exists {
            return;
        }
        let counts = &self.workload_counts[workload as usize];
        let (active, desired) = (counts.active(), counts.desired);
        if active < desired {
            for _ in active..desired {
                self.create_pod(now, workload);
                if self.fault.is_some() {
                    return;
                }
            }
        } else if active > desired {
            // Upstream's expectations: the ReplicaSet does not sync while
            // pods it created are not observed yet; the create's storing
            // brings it back here.
            if self
                .workload_pods
                .iter(workload)
                .any(|pod| self.create_unstored(pod))
            {
                return;
            }
            for pod in self.pods_to_delete(now, workload, active - desired) {
                self.start_deletion(now, pod);
            }
        }
    }

    /// A pod whose create write is not stored yet (in flight, or refused and
    /// waiting to be retried): the ReplicaSet has not observed it. Only with
    /// a control plane: without one a pod is stored when created.
    fn create_unstored(&self, pod: PodId) -> bool {
        self.control_plane.is_some()
            && self.pods.node[pod as usize] == NO_NODE
            && self.queue.state(pod) == QueueState::Absent
    }

    /// The `surplus` active pods upstream's ReplicaSet deletes first. Sorts
    /// the workload's active pods, O(n log n) in its pod count: scale-downs
    /// are rare, and no per-node count per workload is kept for them.
    fn pods_to_delete(&self, now: SimTime, workload: WorkloadId, surplus: u32) -> Vec<PodId> {
        let active: Vec<PodId> = self
            .workload_pods
            .iter(workload)
            .filter(|&pod| !self.pods.deleting[pod as usize])
            .collect();
        let ranks = NodeRanks::new(&self.pods, &active);
        let uid_key = self.workloads[workload as usize].uid_key;
        let mut candidates: Vec<Candidate> = active
            .iter()
            .map(|&pod| Candidate::of(&self.pods, pod, &ranks, uid_key))
            .collect();
        candidates.sort_by(|a, b| deletion_order(a, b, now));
        candidates
            .iter()
            .take(surplus as usize)
            .map(|c| c.pod)
            .collect()
    }
}

/// Per node, the active pods of one workload bound there: upstream's rank
/// (`getPodsRankedByRelatedPodsOnSameNode`, a Deployment's one ReplicaSet
/// being all its related pods).
struct NodeRanks {
    sorted_nodes: Vec<NodeId>,
}

impl NodeRanks {
    fn new(pods: &Pods, active: &[PodId]) -> Self {
        let mut sorted_nodes: Vec<NodeId> = active
            .iter()
            .filter(|&&pod| pods.bound[pod as usize] != NEVER)
            .map(|&pod| pods.node[pod as usize])
            .collect();
        sorted_nodes.sort_unstable();
        NodeRanks { sorted_nodes }
    }

    fn on(&self, node: NodeId) -> u32 {
        let first = self.sorted_nodes.partition_point(|&n| n < node);
        let past = self.sorted_nodes.partition_point(|&n| n <= node);
        (past - first) as u32
    }
}

/// What upstream's ordering reads of a pod, in our model: no Unknown phase,
/// no restarts, no pod-deletion-cost annotation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Candidate {
    pod: PodId,
    /// Bound (upstream: `spec.nodeName` set). A pod the scheduler has only
    /// assumed on a node is not assigned yet as far as the API knows.
    assigned: bool,
    phase: PodPhase,
    /// NEVER when not Ready.
    ready_since: SimTime,
    /// Active pods of the workload bound to the same node, this one
    /// included; 0 when unassigned (all unassigned pods share a rank).
    rank: u32,
    created: SimTime,
    /// Stands in for the pod's UID, which upstream compares to break ties.
    uid: u64,
}

impl Candidate {
    fn of(pods: &Pods, pod: PodId, ranks: &NodeRanks, uid_key: u64) -> Self {
        let p = pod as usize;
        let assigned = pods.bound[p] != NEVER;
        Candidate {
            pod,
            assigned,
            phase: pods.phase[p],
            ready_since: pods.ready_since[p],
            rank: if assigned { ranks.on(pods.node[p]) } else { 0 },
            created: pods.created[p],
            uid: pod_uid(uid_key, pod),
        }
    }

    fn ready(&self) -> bool {
        self.ready_since != NEVER
    }
}

/// Upstream's preference for deletion, first to delete first:
/// 1. unassigned before assigned;
/// 2. phase Pending before Unknown before Running;
/// 3. not Ready before Ready;
/// 4. (lower pod-deletion-cost first: not modelled, every pod costs 0);
/// 5. higher rank first (more pods of the workload on the same node);
/// 6. both Ready: Ready for less time first;
/// 7. (more container restarts first: not modelled, pods never restart);
/// 8. created more recently first.
///
/// In 6 and 8 times count by the floor of log2 of their age in ns at `now`
/// (LogarithmicScaleDown), so pods of the same age class are equal there.
/// Upstream then decides by UID at once, which is not transitive (pods
/// Ready at the same time fall through to 8 instead); a sort needs a total
/// order, so ties in 6 go on to 8 and ties in 8 to the UID.
fn deletion_order(a: &Candidate, b: &Candidate, now: SimTime) -> Ordering {
    let phase_ordinal = |c: &Candidate| match c.phase {
        PodPhase::Pending => 0,
        // Unknown would be 1.
        PodPhase::Running | PodPhase::Succeeded | PodPhase::Failed => 2,
    };
    let ready_age = |c: &Candidate| c.ready().then(|| log2_age_class(now, c.ready_since));
    let key = |c: &Candidate| {
        (
            c.assigned,
            phase_ordinal(c),
            c.ready(),
            Reverse(c.rank),
            ready_age(c),
            log2_age_class(now, c.created),
        )
    };
    key(a).cmp(&key(b)).then(a.uid.cmp(&b.uid))
}

/// Upstream's logarithmic age class of time `t` at `now`: the floor of
/// log2 of the age in ns, -1 when not in the past. Upstream takes it in
/// floating point, which rounds up only within a few ns of a power of two
/// past 2^49 ns (6.5 days); this is the exact integer.
fn log2_age_class(now: SimTime, t: SimTime) -> i32 {
    match now.0.checked_sub(t.0) {
        Some(age) if age > 0 => 63 - age.leading_zeros() as i32,
        _ => -1,
    }
}

/// A pod's stand-in UID: upstream's are random, so ties broken by UID fall
/// in no particular order; this one is a fixed mix (SplitMix64's finalizer)
/// of the pod id and a key drawn from the workload's `uids` stream, so the
/// order changes with the seed and not with the run's batches.
fn pod_uid(key: u64, pod: PodId) -> u64 {
    let mut z = key ^ u64::from(pod);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;

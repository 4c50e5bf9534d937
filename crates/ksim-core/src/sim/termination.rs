//! Deleting a pod: graceful termination on its node, or at once when no
//! kubelet has it yet.
//!
//! Upstream: the apiserver deletes an unscheduled pod at once (grace 0);
//! for a scheduled one it sets the deletion timestamp, the pod stops
//! counting for its ReplicaSet (`IsPodActive`) and leaves its Service's
//! ready endpoints, and its kubelet stops the containers within the grace
//! period and removes it; the pod holds its node's resources until then.

use super::*;

impl Simulation {
    /// Deletes a pod (a user, a controller): its termination starts, and
    /// its deployment, counting it no more, replaces it at once. Deleting a
    /// pod that ended or is terminating already does nothing.
    // Called by the tests; drains delete through `delete_evicted_pod`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn delete_pod(&mut self, now: SimTime, pod: PodId) {
        self.start_deletion(now, pod);
        self.reconcile_replicas(now, self.pods.workload[pod as usize]);
    }

    /// `delete_pod` for a pod the Eviction API evicts: the eviction's own
    /// write set the deletion timestamp, so the DELETE is not written again.
    pub(super) fn delete_evicted_pod(&mut self, now: SimTime, pod: PodId) {
        self.begin_termination(now, pod, false);
        self.reconcile_replicas(now, self.pods.workload[pod as usize]);
    }

    /// The deletion itself, without the ReplicaSet's reaction: a scale-down
    /// deletes pods it does not want replaced.
    pub(super) fn start_deletion(&mut self, now: SimTime, pod: PodId) {
        self.begin_termination(now, pod, true);
    }

    /// Starts the pod's deletion; `write_delete`: the DELETE setting its
    /// deletion timestamp is still to be written.
    fn begin_termination(&mut self, now: SimTime, pod: PodId, write_delete: bool) {
        let p = pod as usize;
        if self.pods.finished[p] != NEVER || self.pods.deleting[p] {
            return;
        }
        self.pods.deleting[p] = true;
        self.counters.deleted += 1;
        let workload = self.pods.workload[p];
        self.tally(workload, Tally::Terminating, true);
        if self.pods.bound[p] == NEVER {
            // No kubelet has it: queued, in a scheduling cycle, or its
            // binding not stored yet. The scheduler drops it (an assumed
            // pod's capacity is freed now rather than when its binding
            // fails). The removal is the ended pod's delete write.
            self.queue.remove(pod);
            self.finish_pod(now, pod, PodPhase::Succeeded);
            return;
        }
        // The DELETE only sets the deletion timestamp: in the store an
        // update of the pod, which the kubelet watches, costed as a status
        // write is (a PodDelete would remove the object now). The removal
        // is the ended pod's PodDelete.
        if write_delete {
            self.defer_write(ApiRequest::PodStatus, 1, 1);
        }
        if self.clear_readiness(pod) {
            self.update_endpoints(workload);
        }
        let template = &self.config.workloads[workload as usize].template;
        let grace = template.termination_grace_period;
        self.schedule(now + grace, Event::PodTerminated { pod });
    }

    /// The grace period of a deleted pod ends: its containers, sent SIGTERM
    /// at its deletion, have exited, so it ends Succeeded. A pod that ended
    /// meanwhile (evicted, or its node's recovery ended it) is left alone;
    /// so is one whose kubelet is down: it ends when the kubelet comes back
    /// or eviction deletes it.
    pub(super) fn grace_period_over(&mut self, now: SimTime, pod: PodId) {
        let p = pod as usize;
        if self.pods.finished[p] != NEVER || self.nodes.failed[self.pods.node[p] as usize] {
            return;
        }
        if self.control_plane.is_some() {
            self.send_pod_write(now, pod, PodStep::Ended { failed: false });
        } else {
            self.end_pod(now, pod, PodPhase::Succeeded);
        }
    }

    pub(super) fn is_terminating(&self, pod: PodId) -> bool {
        self.pods.deleting[pod as usize]
    }
}

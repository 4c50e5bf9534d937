//! A pod's lifecycle on its node: phase moves, running, ending, and the
//! accounting of its requests on the node.

use super::*;

impl Simulation {
    /// Moves a pod to its next phase, keeping the counters; a move upstream's
    /// lifecycle does not allow (Pending → Running → Succeeded or Failed,
    /// or Pending → Succeeded or Failed) is a broken invariant.
    pub(super) fn set_phase(&mut self, pod: PodId, to: PodPhase) {
        let from = self.pods.phase[pod as usize];
        let allowed = matches!(
            (from, to),
            (PodPhase::Pending, PodPhase::Running)
                | (
                    PodPhase::Pending | PodPhase::Running,
                    PodPhase::Succeeded | PodPhase::Failed
                )
        );
        let counted = &mut self.counters.by_phase[from as usize];
        match counted.checked_sub(1) {
            Some(left) if allowed => *counted = left,
            _ => {
                let problem = format!(
                    "{} -> {} ({} counted {0})",
                    from.as_str(),
                    to.as_str(),
                    *counted
                );
                self.violation(format!("pod {pod}"), problem);
                return;
            }
        }
        self.counters.by_phase[to as usize] += 1;
        self.pods.phase[pod as usize] = to;
    }

    /// The kubelet runs the pod (reported Running); its run time starts.
    pub(super) fn start_running(&mut self, now: SimTime, pod: PodId) {
        let p = pod as usize;
        self.pods.started[p] = now;
        self.set_phase(pod, PodPhase::Running);
        let workload = self.pods.workload[p] as usize;
        let run_for = match &self.config.workloads[workload].kind {
            WorkloadKind::Job(job) => Some(&job.duration),
            WorkloadKind::Deployment(d) => d.pod_lifetime.as_ref(),
        };
        if let Some(distribution) = run_for {
            let run_for =
                SimDuration(distribution.sample(&mut self.workloads[workload].duration_rng));
            self.schedule(now + run_for, Event::PodFinished { pod });
        }
    }

    pub(super) fn assign(&mut self, pod: PodId, node: NodeId) {
        let p = pod as usize;
        self.pods.node[p] = node;
        self.cluster
            .assign(self.pods.workload[p], &self.pods.requests[p], node);
        self.requested_total.add_assign(&self.pods.requests[p]);
        self.placement.node_changed(&self.cluster, node);
        self.nodes.pods.link(node, pod);
    }

    /// The inverse of `assign`: frees the pod's requests on its node. The
    /// pod keeps its node id for the record.
    pub(super) fn unassign(&mut self, pod: PodId) {
        let p = pod as usize;
        let node = self.pods.node[p];
        self.nodes.pods.unlink(node, pod);
        self.cluster
            .unassign(self.pods.workload[p], &self.pods.requests[p], node);
        self.requested_total.sub_assign(&self.pods.requests[p]);
        self.placement.node_changed(&self.cluster, node);
    }

    pub(super) fn pod_finished(&mut self, now: SimTime, pod: PodId) {
        let p = pod as usize;
        // A pod on a failed node died with it; eviction or recovery ends it.
        if self.pods.phase[p] != PodPhase::Running || self.nodes.failed[self.pods.node[p] as usize]
        {
            return;
        }
        let workload = self.pods.workload[p] as usize;
        // A deployment pod only ends when it is lost (evicted), which leaves it Failed.
        let failed = match &self.config.workloads[workload].kind {
            WorkloadKind::Job(job) => {
                job.failure_probability > 0.0
                    && self.workloads[workload].outcome_rng.random::<f64>()
                        < job.failure_probability
            }
            WorkloadKind::Deployment(_) => true,
        };
        if self.control_plane.is_some() {
            self.send_pod_write(now, pod, PodStep::Ended { failed });
        } else {
            self.end_pod(now, pod, ended_phase(failed));
        }
    }

    /// A running pod ends: its resources are freed, waiting pods may wake,
    /// and a deployment replaces it at once (the ReplicaSet controller).
    pub(super) fn end_pod(&mut self, now: SimTime, pod: PodId, phase: PodPhase) {
        let p = pod as usize;
        // Bound pods a dead kubelet never started end from Pending.
        if self.pods.phase[p] == PodPhase::Pending {
            self.clear_failure(pod);
        }
        self.set_phase(pod, phase);
        self.pods.finished[p] = now;
        self.unassign(pod);
        self.queue.on_pod_deleted(now, &mut self.wake_ups);
        self.schedule_wake_ups();
        let workload = self.pods.workload[p];
        self.note_pod_ended(workload);
        self.notify_controllers(now, crate::controller::Subscriptions::POD_ENDED);
        if matches!(
            self.config.workloads[workload as usize].kind,
            WorkloadKind::Deployment(_)
        ) {
            self.create_pod(now, workload);
        }
    }
}

pub(super) fn ended_phase(failed: bool) -> PodPhase {
    if failed {
        PodPhase::Failed
    } else {
        PodPhase::Succeeded
    }
}

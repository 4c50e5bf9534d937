//! A pod's lifecycle on its node: phase moves, running, readiness, ending,
//! and the accounting of its requests on the node.

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
        let workload = self.pods.workload[pod as usize];
        if let Some(tally) = Tally::of_phase(from) {
            self.tally(workload, tally, false);
        }
        if let Some(tally) = Tally::of_phase(to) {
            self.tally(workload, tally, true);
        }
    }

    /// The kubelet runs the pod (reported Running); its run time starts.
    pub(super) fn start_running(&mut self, now: SimTime, pod: PodId) {
        let p = pod as usize;
        self.pods.started[p] = now;
        self.set_phase(pod, PodPhase::Running);
        let workload = self.pods.workload[p] as usize;
        if let Some(run_time) = self.sourced_run_time(pod) {
            // A sourced pod runs for its record's time, or to the end.
            if let Some(run_for) = run_time {
                self.schedule(now + run_for, Event::PodFinished { pod });
            }
            self.start_readiness(now, pod);
            return;
        }
        let run_for = match &self.config.workloads[workload].kind {
            WorkloadKind::Job(job) => Some(&job.duration),
            WorkloadKind::Deployment(d) => d.pod_lifetime.as_ref(),
            // Its session's length, drawn when the session starts.
            WorkloadKind::Session(_) => None,
        };
        if let Some(distribution) = run_for {
            let run_for =
                SimDuration(distribution.sample(&mut self.workloads[workload].duration_rng));
            self.schedule(now + run_for, Event::PodFinished { pod });
        }
        self.session_started(now, pod);
        self.start_readiness(now, pod);
    }

    /// The pod's readiness probe starts with its containers: Ready at once
    /// without a readiness delay (no event), else when the delay ends.
    fn start_readiness(&mut self, now: SimTime, pod: PodId) {
        let workload = self.pods.workload[pod as usize] as usize;
        match &self.config.workloads[workload].readiness_delay {
            None => self.become_ready(now, pod),
            Some(delay) => {
                let delay = SimDuration(delay.sample(&mut self.workloads[workload].readiness_rng));
                self.schedule(now + delay, Event::PodReady { pod });
            }
        }
    }

    /// A readiness delay ended. The pod may have ended, or its deletion
    /// started, since: then it never becomes Ready.
    pub(super) fn readiness_delay_over(&mut self, now: SimTime, pod: PodId) {
        let p = pod as usize;
        let still_running = self.pods.phase[p] == PodPhase::Running
            && self.pods.finished[p] == NEVER
            && !self.pods.deleting[p];
        if still_running && self.pods.ready_since[p] == NEVER {
            self.become_ready(now, pod);
        }
    }

    /// The pod joins its Service's ready endpoints.
    fn become_ready(&mut self, now: SimTime, pod: PodId) {
        let p = pod as usize;
        self.ready_changing(now, pod, true);
        self.pods.ready_since[p] = now;
        let workload = self.pods.workload[p];
        self.tally(workload, Tally::Ready, true);
        self.update_endpoints(workload);
    }

    /// The pod stops being Ready (its deletion started, or it ended); true
    /// if it was. The caller updates the endpoints.
    pub(super) fn clear_readiness(&mut self, pod: PodId) -> bool {
        let p = pod as usize;
        if self.pods.ready_since[p] == NEVER {
            return false;
        }
        self.ready_changing(self.events.now(), pod, false);
        self.pods.ready_since[p] = NEVER;
        self.tally(self.pods.workload[p], Tally::Ready, false);
        true
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
            WorkloadKind::Job(_) if self.sourced_run_time(pod).is_some() => {
                self.sourced_outcome(pod).expect("a sourced pod's plan")
            }
            WorkloadKind::Job(job) => {
                job.failure_probability > 0.0
                    && self.workloads[workload].outcome_rng.random::<f64>()
                        < job.failure_probability
            }
            WorkloadKind::Deployment(_) => true,
            WorkloadKind::Session(_) => {
                self.session_completing(pod);
                false
            }
        };
        if self.control_plane.is_some() {
            self.send_pod_write(now, pod, PodStep::Ended { failed });
        } else {
            self.end_pod(now, pod, ended_phase(failed));
        }
    }

    /// A pod ends: its resources are freed, waiting pods may wake, and a
    /// deployment replaces it at once if it was active (the ReplicaSet
    /// controller; a terminating pod was not, so it is not replaced now).
    pub(super) fn end_pod(&mut self, now: SimTime, pod: PodId, phase: PodPhase) {
        self.finish_pod(now, pod, phase);
        self.reconcile_replicas(now, self.pods.workload[pod as usize]);
    }

    /// Ends the pod without its ReplicaSet's reaction, for a deletion that
    /// has its own (a scale-down must not react to each pod it deletes).
    pub(super) fn finish_pod(&mut self, now: SimTime, pod: PodId, phase: PodPhase) {
        let p = pod as usize;
        // Bound pods a dead kubelet never started end from Pending, and
        // deleted pods before they were bound.
        if self.pods.phase[p] == PodPhase::Pending {
            self.clear_failure(pod);
        }
        self.clear_readiness(pod);
        self.set_phase(pod, phase);
        self.pods.finished[p] = now;
        let workload = self.pods.workload[p];
        self.leave_workload(pod);
        // A pod deleted before the scheduler assumed it held nothing.
        let node = self.pods.node[p];
        if node != NO_NODE {
            self.unassign(pod);
            self.queue.on_pod_deleted(now, &mut self.wake_ups);
            self.schedule_wake_ups();
            self.finish_drain_if_empty(now, node);
        }
        self.note_pod_ended(workload);
        self.release_plan(pod);
        self.notify_controllers(now, crate::controller::Subscriptions::POD_ENDED);
        self.session_pod_ended(now, pod);
    }

    /// The pod is no longer one of its workload's live pods.
    fn leave_workload(&mut self, pod: PodId) {
        let p = pod as usize;
        let workload = self.pods.workload[p];
        if self.pods.deleting[p] {
            self.tally(workload, Tally::Terminating, false);
        }
        self.tally(workload, Tally::Live, false);
        if self.listed(workload) {
            self.workload_pods.unlink(workload, pod);
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

//! The scheduler driver: one scheduling cycle at a time, its outcome
//! (assume, bind, or backoff with a diagnosis) and the queue's wake-ups.

use super::*;
use crate::controller::Subscriptions;

/// The pod the scheduler is working on.
#[derive(Clone, Debug)]
pub(super) struct Cycle {
    pub(super) pod: PodId,
    pub(super) node: Option<NodeId>,
    pub(super) diagnosis: Option<Box<Diagnosis>>,
    pub(super) epoch_at_start: u64,
    /// When the cycle completes.
    pub(super) ends: SimTime,
}

pub(super) const NO_REASON: u32 = u32::MAX;

impl Simulation {
    pub(super) fn maybe_start_cycle(&mut self, now: SimTime) {
        if self.cycle.is_some() {
            return;
        }
        let Some(pod) = self.queue.pop() else { return };
        let p = pod as usize;
        let result = self.placement.place(
            &self.cluster,
            self.pods.workload[p],
            &self.pods.requests[p],
            &mut self.scheduler_rng,
        );
        if let Some(node) = result.node {
            // Assume the pod on its node now, as kube-scheduler's cache does, so
            // events during the cycle see the capacity as taken.
            self.assign(pod, node);
        }
        let s = &self.config.scheduler;
        let cost = s.cycle_base_cost
            + s.cycle_per_node_cost
                .saturating_mul(u64::from(result.nodes_evaluated));
        self.counters.attempts += 1;
        self.counters.interval_attempts += 1;
        self.scheduler_busy = self.scheduler_busy + cost;
        let ends = now + cost;
        self.cycle = Some(Cycle {
            pod,
            node: result.node,
            diagnosis: result.diagnosis,
            epoch_at_start: self.queue.change_epoch(),
            ends,
        });
        self.schedule(ends, Event::CycleDone);
    }

    pub(super) fn finish_cycle(&mut self, now: SimTime) {
        let Some(cycle) = self.cycle.take() else {
            return;
        };
        let p = cycle.pod as usize;
        if self.pods.finished[p] != NEVER && self.is_terminating(cycle.pod) {
            // Deleted during its cycle: its deletion already let go of it.
            return;
        }
        if self.pods.finished[p] != NEVER {
            // Nothing else ends a pod the scheduler has only assumed: the
            // node lifecycle and kubelets see bound pods alone.
            self.violation(
                format!("pod {}", cycle.pod),
                format!(
                    "ended at {} during its own scheduling cycle",
                    self.pods.finished[p]
                ),
            );
            return;
        }
        // Only the backoff reads it, and the backoff is capped after a few
        // attempts: saturating at 65,535 changes nothing.
        self.pods.attempts[p] = self.pods.attempts[p].saturating_add(1);
        match cycle.node {
            Some(node) => {
                self.queue.done(cycle.pod);
                if self.node_gone(node) {
                    let reason = format!("node {node} was deleted before the binding");
                    self.binding_refused(now, cycle.pod, reason);
                } else if self.control_plane.is_some() {
                    self.send_pod_write(now, cycle.pod, PodStep::Bind);
                } else {
                    self.bind(now, cycle.pod);
                    // A dead kubelet never starts what was bound to its node.
                    if !self.nodes.failed[node as usize] {
                        self.start_running(now, cycle.pod);
                    }
                }
            }
            None => {
                self.note_failed_attempt(cycle.pod);
                self.notify_controllers(now, Subscriptions::POD_UNSCHEDULABLE);
                let diagnosis = cycle.diagnosis.unwrap_or_default();
                let wake_on = wake_on(&diagnosis);
                let reason = diagnosis.message(&self.config.resource_names);
                self.mark_failed(cycle.pod, reason);
                let attempts = self.pods.attempts[p];
                if let Some(until) =
                    self.queue
                        .failed(cycle.pod, attempts, now, wake_on, cycle.epoch_at_start)
                {
                    self.schedule(until, Event::BackoffExpired { pod: cycle.pod });
                }
            }
        }
    }

    pub(super) fn mark_failed(&mut self, pod: PodId, reason: String) {
        let next_id = self.reasons.len() as u32;
        let id = *self.reason_ids.entry(reason).or_insert_with_key(|r| {
            self.reasons.push(r.clone());
            next_id
        });
        if self.last_failure[pod as usize] == NO_REASON {
            self.counters.unschedulable.insert(pod);
        }
        self.last_failure[pod as usize] = id;
    }

    /// The pod's binding is stored (at once without a control plane).
    pub(super) fn bind(&mut self, now: SimTime, pod: PodId) {
        let p = pod as usize;
        if self.pods.bound[p] != NEVER {
            let first = self.pods.bound[p];
            self.violation(
                format!("pod {pod}"),
                format!("bound again, first bound at {first}"),
            );
        }
        self.clear_failure(pod);
        self.pods.bound[p] = now;
        self.watch_for_eviction(now, pod);
        self.counters.binds += 1;
        self.counters.interval_binds += 1;
        let latency = now - self.pods.created[p];
        self.latency_total.record(latency);
        self.latency_interval.record(latency);
    }

    pub(super) fn clear_failure(&mut self, pod: PodId) {
        if self.last_failure[pod as usize] != NO_REASON {
            self.last_failure[pod as usize] = NO_REASON;
            if !self.counters.unschedulable.remove(&pod) {
                self.violation(
                    format!("pod {pod}"),
                    "failed but not listed as unschedulable",
                );
            }
        }
    }

    pub(super) fn schedule_wake_ups(&mut self) {
        let mut wake_ups = std::mem::take(&mut self.wake_ups);
        for (at, pod) in wake_ups.drain(..) {
            self.schedule(at, Event::BackoffExpired { pod });
        }
        self.wake_ups = wake_ups;
    }
}

pub(super) fn wake_on(diagnosis: &Diagnosis) -> WakeOn {
    if diagnosis.insufficient.iter().any(|&c| c > 0) || diagnosis.anti_affinity > 0 {
        WakeOn::PodDeleted
    } else {
        WakeOn::NodeChange
    }
}

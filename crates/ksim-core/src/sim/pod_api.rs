//! A pod's writes through the control plane, when the scenario models one:
//! create → the scheduler sees it; bind → the kubelet sees it; Running and
//! the final status → the scheduler frees its resources. Each step waits for
//! its write to be stored; refused writes are retried as their clients do.

use super::{ended_phase, Event, PodStep, Simulation};
use crate::cluster::NEVER;
use crate::config::WorkloadKind;
use crate::control_plane::config::ApiRequest;
use crate::control_plane::Write;
use crate::ids::{PodId, WorkloadId, NO_NODE};
use crate::time::{SimDuration, SimTime};

/// How long a client waits before retrying a write the store refused
/// (NOSPACE): controllers and the kubelet retry on their next sync.
const REFUSED_RETRY: SimDuration = SimDuration::from_secs(10);

impl Simulation {
    pub(super) fn send_pod_write(&mut self, now: SimTime, pod: PodId, step: PodStep) {
        let (request, kubelet_watches) = match step {
            PodStep::Create => (ApiRequest::PodCreate, 0),
            PodStep::Bind => (ApiRequest::PodBind, 1),
            PodStep::Running | PodStep::Ended { .. } => (ApiRequest::PodStatus, 1),
            PodStep::Evict => unreachable!("evictions are sent by the drain, budget first"),
        };
        let control_plane = self.control_plane.as_mut().expect("a control plane");
        match control_plane.write(now, request, kubelet_watches) {
            Write::Acked(at) => self.schedule(at, Event::PodWriteAcked { pod, step }),
            Write::Throttled(at) => self.schedule(at, Event::PodWriteRetry { pod, step }),
            Write::Refused(error) => {
                if step == PodStep::Bind {
                    let reason = format!("binding refused by the store: {error}");
                    self.binding_refused(now, pod, reason);
                } else {
                    self.schedule(now + REFUSED_RETRY, Event::PodWriteRetry { pod, step });
                }
            }
        }
    }

    pub(super) fn pod_write_retry(&mut self, now: SimTime, pod: PodId, step: PodStep) {
        if step == PodStep::Evict {
            return self.eviction_retry(now, pod);
        }
        if self.pods.finished[pod as usize] == NEVER {
            self.send_pod_write(now, pod, step);
        }
    }

    pub(super) fn pod_write_acked(&mut self, now: SimTime, pod: PodId, step: PodStep) {
        let p = pod as usize;
        // The drain's bookkeeping ends with the answer, whatever the pod did.
        if step == PodStep::Evict {
            return self.eviction_acked(now, pod);
        }
        // Evicted while its write was in flight: nothing left to do.
        if self.pods.finished[p] != NEVER {
            return;
        }
        match step {
            PodStep::Create => {
                self.admit_pod(pod);
                // A scale-down waiting for this pod to be observed goes on.
                self.reconcile_replicas(now, self.pods.workload[p]);
            }
            PodStep::Bind if self.node_gone(self.pods.node[p]) => {
                let reason = format!("node {} was deleted before the binding", self.pods.node[p]);
                self.binding_refused(now, pod, reason);
            }
            PodStep::Bind => {
                self.bind(now, pod);
                self.defer_write(ApiRequest::EventCreate, 1, 0); // Scheduled
                                                                 // A dead kubelet never starts what was bound to its node.
                if !self.nodes.failed[self.pods.node[p] as usize] {
                    self.send_pod_write(now, pod, PodStep::Running);
                }
            }
            // The kubelet reported it twice: before it died and once back.
            PodStep::Running if self.pods.started[p] != NEVER => {}
            // Deleted before its kubelet started it: it never will.
            PodStep::Running if self.is_terminating(pod) => {}
            PodStep::Running => {
                // Joins its Service's endpoints when Ready.
                self.start_running(now, pod);
                let events = self
                    .control_plane
                    .as_ref()
                    .map_or(0, |c| c.config().kubelet_events_per_pod_start);
                self.defer_write(ApiRequest::EventCreate, u64::from(events), 0);
                let latency = now - self.pods.created[p];
                if let Some(control_plane) = &mut self.control_plane {
                    control_plane.record_pod_startup(latency);
                }
            }
            PodStep::Ended { failed } => self.end_pod(now, pod, ended_phase(failed)),
            PodStep::Evict => unreachable!("handled above"),
        }
    }

    /// The store refused the binding: the scheduler forgets the assumed pod
    /// and retries it after its backoff.
    pub(super) fn binding_refused(&mut self, now: SimTime, pod: PodId, reason: String) {
        let p = pod as usize;
        let node = self.pods.node[p];
        self.unassign(pod);
        self.pods.node[p] = NO_NODE;
        self.finish_drain_if_empty(now, node);
        self.mark_failed(pod, reason);
        if let Some(until) = self
            .queue
            .binding_failed(pod, self.pods.attempts[p].max(1), now)
        {
            self.schedule(until, Event::BackoffExpired { pod });
        }
    }

    pub(super) fn control_plane_tick(&mut self, now: SimTime) {
        self.flush_endpoint_changes();
        let Some(control_plane) = &mut self.control_plane else {
            return;
        };
        control_plane.tick(now);
        let next = now + control_plane.config().tick;
        if next <= self.config.end {
            self.schedule(next, Event::ControlPlaneTick);
        }
        self.lease_tick(now);
    }

    /// A kubelet stopped or came back: heartbeats follow the live count.
    pub(super) fn note_nodes_alive(&mut self, now: SimTime) {
        let alive = (self.cluster.nodes.len() as u64)
            .checked_sub(self.nodes.failed_now)
            .expect("no more nodes failed than exist");
        if let Some(control_plane) = &mut self.control_plane {
            control_plane.set_nodes_alive(now, alive);
        }
    }

    /// A fire-and-forget write, sent with the next control-plane tick.
    pub(super) fn defer_write(&mut self, request: ApiRequest, writes: u64, extra_watchers: u64) {
        if let Some(control_plane) = &mut self.control_plane {
            control_plane.defer(request, writes, extra_watchers);
        }
    }

    /// A failed attempt: kube-scheduler records a FailedScheduling event and,
    /// the first time, sets the pod's PodScheduled condition to False.
    pub(super) fn note_failed_attempt(&mut self, pod: PodId) {
        self.defer_write(ApiRequest::EventCreate, 1, 0);
        if self.last_failure[pod as usize] == super::NO_REASON {
            self.defer_write(ApiRequest::PodStatus, 1, 0);
        }
    }

    /// An ended pod is deleted (by the controller that owns it, the node
    /// lifecycle controller or garbage collection) and leaves its Service.
    pub(super) fn note_pod_ended(&mut self, workload: WorkloadId) {
        self.defer_write(ApiRequest::PodDelete, 1, 0);
        self.update_endpoints(workload);
    }

    /// A pod of a Service became ready, stopped being ready or went away:
    /// one of its EndpointSlices changes (written at the next tick, coalesced).
    pub(super) fn update_endpoints(&mut self, workload: WorkloadId) {
        if self.endpoint_slices_of(workload) > 0 {
            self.endpoint_changes[workload as usize] += 1;
        }
    }

    /// EndpointSlices of a workload's Service (100 endpoints each), 0 without one.
    /// The Services' EndpointSlices, at the start and whenever a
    /// deployment's desired replicas change.
    pub(super) fn resize_endpoint_slices(&mut self) {
        if self.control_plane.is_none() {
            return;
        }
        let slices = (0..self.config.workloads.len() as WorkloadId)
            .map(|w| self.endpoint_slices_of(w))
            .sum();
        if let Some(control_plane) = &mut self.control_plane {
            control_plane.set_endpoint_slices(slices);
        }
    }

    fn endpoint_slices_of(&self, workload: WorkloadId) -> u64 {
        match &self.config.workloads[workload as usize].kind {
            // Sized for the desired replicas, which controllers change.
            WorkloadKind::Deployment(d) if d.service => {
                let desired = self.workload_counts[workload as usize].desired;
                u64::from(desired.div_ceil(100).max(1))
            }
            _ => 0,
        }
    }

    /// The EndpointSlice controller's work queue holds each Service once, so
    /// the changes of one tick cost at most one write per slice; each write
    /// reaches every node's kube-proxy.
    fn flush_endpoint_changes(&mut self) {
        // One kube-proxy per registered node (deleted nodes run none).
        let kube_proxies = self.cluster.nodes.registered_count();
        for workload in 0..self.endpoint_changes.len() {
            let changes = std::mem::take(&mut self.endpoint_changes[workload]);
            if changes > 0 {
                let writes = changes.min(self.endpoint_slices_of(workload as WorkloadId));
                self.defer_write(ApiRequest::EndpointSliceUpdate, writes, kube_proxies);
            }
        }
    }
}

//! Workloads: deployments' replicas and jobs' arrival processes create pods;
//! per workload, its live pods and their counts.

use super::*;

/// Per-workload state that changes during the run.
pub(super) struct WorkloadState {
    pub(super) arrivals: u64,
    pub(super) next_scheduled: usize,
    pub(super) arrival_rng: SimRng,
    pub(super) request_rng: SimRng,
    pub(super) duration_rng: SimRng,
    pub(super) outcome_rng: SimRng,
    pub(super) readiness_rng: SimRng,
    /// Keys the pods' stand-in UIDs (`replicas::pod_uid`).
    pub(super) uid_key: u64,
    /// A deployment exists once its start has come; before, a desired
    /// count is only recorded.
    pub(super) exists: bool,
    /// An execution-workers workload's streams.
    pub(super) executions: Option<super::serving::ExecutionStreams>,
    /// ∫ live pods dt, pod-nanoseconds, up to `pods_changed`.
    pub(super) pod_ns: u128,
    pub(super) pods_changed: SimTime,
    /// Desired-replica changes up and down (an autoscaler's, a script's).
    pub(super) scale_ups: u64,
    pub(super) scale_downs: u64,
}

impl WorkloadState {
    pub(super) fn new(spec: &WorkloadSpec, streams: &RngStreams) -> Self {
        let stream = |what: &str| streams.stream(&format!("workload/{}/{what}", spec.name));
        WorkloadState {
            arrivals: 0,
            next_scheduled: 0,
            arrival_rng: stream("arrivals"),
            request_rng: stream("requests"),
            duration_rng: stream("durations"),
            outcome_rng: stream("outcomes"),
            readiness_rng: stream("readiness"),
            uid_key: stream("uids").random::<u64>(),
            exists: false,
            executions: matches!(
                spec.model.usage,
                Some(crate::usage::UsageModel::Executions(_))
            )
            .then(|| super::serving::ExecutionStreams {
                arrivals: stream("execution_arrivals"),
                durations: stream("execution_durations"),
            }),
            pod_ns: 0,
            pods_changed: SimTime::ZERO,
            scale_ups: 0,
            scale_downs: 0,
        }
    }
}

/// A workload's counts at the start: its desired replicas, no pod yet.
pub(super) fn initial_counts(spec: &WorkloadSpec) -> WorkloadCounts {
    let desired = match &spec.kind {
        WorkloadKind::Deployment(d) => d.replicas,
        WorkloadKind::Job(_) | WorkloadKind::Session(_) => 0,
    };
    WorkloadCounts {
        desired,
        ..WorkloadCounts::default()
    }
}

impl WorkloadCounts {
    pub(super) fn slot(&mut self, tally: Tally) -> &mut u32 {
        match tally {
            Tally::Live => &mut self.live,
            Tally::Pending => &mut self.pending,
            Tally::Running => &mut self.running,
            Tally::Ready => &mut self.ready,
            Tally::Terminating => &mut self.terminating,
        }
    }
}

/// One of the per-workload counts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Tally {
    Live,
    Pending,
    Running,
    Ready,
    Terminating,
}

impl Tally {
    /// The count a live pod in `phase` is in, if any.
    pub(super) fn of_phase(phase: PodPhase) -> Option<Tally> {
        match phase {
            PodPhase::Pending => Some(Tally::Pending),
            PodPhase::Running => Some(Tally::Running),
            PodPhase::Succeeded | PodPhase::Failed => None,
        }
    }
}

impl Simulation {
    /// Counts one pod more (`up`) or less in a workload's count; leaving
    /// the u32 range is a bug in the bookkeeping and stops the run.
    pub(super) fn tally(&mut self, workload: WorkloadId, tally: Tally, up: bool) {
        if tally == Tally::Live {
            self.integrate_pods(workload);
        }
        let slot = self.workload_counts[workload as usize].slot(tally);
        let moved = if up {
            slot.checked_add(1)
        } else {
            slot.checked_sub(1)
        };
        match moved {
            Some(count) => *slot = count,
            None => {
                let problem = format!(
                    "{tally:?} count {} cannot go {}",
                    *slot,
                    if up { "up" } else { "down" }
                );
                let subject = self.workload_subject(workload);
                self.violation(subject, problem);
            }
        }
    }

    /// Adds the live pods' time since the last change to the workload's pod-seconds.
    pub(super) fn integrate_pods(&mut self, workload: WorkloadId) {
        self.integrate_pods_at(workload, self.events.now());
    }

    pub(super) fn integrate_pods_at(&mut self, workload: WorkloadId, now: SimTime) {
        let live = u128::from(self.workload_counts[workload as usize].live);
        let state = &mut self.workloads[workload as usize];
        let elapsed = u128::from(now.saturating_since(state.pods_changed).0);
        state.pod_ns = state
            .pod_ns
            .checked_add(live * elapsed)
            .expect("pod-nanoseconds fit in u128");
        state.pods_changed = now;
    }

    /// How a broken invariant names a workload.
    pub(super) fn workload_subject(&self, workload: WorkloadId) -> String {
        format!("workload {}", self.config.workloads[workload as usize].name)
    }

    /// The deployment's start: the ReplicaSet controller creates its replicas.
    pub(super) fn create_deployment(&mut self, now: SimTime, workload: WorkloadId) {
        self.workloads[workload as usize].exists = true;
        self.reconcile_replicas(now, workload);
    }

    pub(super) fn job_arrival(&mut self, now: SimTime, workload: WorkloadId) {
        self.create_pod(now, workload);
        self.workloads[workload as usize].arrivals += 1;
        self.schedule_next_arrival(workload, Some(now));
    }

    /// Schedules the job's next arrival after `previous` (None: the first).
    pub(super) fn schedule_next_arrival(
        &mut self,
        workload: WorkloadId,
        previous: Option<SimTime>,
    ) {
        let WorkloadKind::Job(job) = &self.config.workloads[workload as usize].kind else {
            return;
        };
        let state = &mut self.workloads[workload as usize];
        if job.max_pods.is_some_and(|max| state.arrivals >= max) {
            return;
        }
        let at = match &job.arrival {
            ArrivalProcess::Constant { interval } => previous.map_or(job.start, |p| p + *interval),
            ArrivalProcess::Poisson { mean_interval } => {
                let gap = exponential_gap(&mut state.arrival_rng, *mean_interval);
                previous.unwrap_or(job.start) + gap
            }
            ArrivalProcess::Schedule { times } => {
                let Some(&t) = times.get(state.next_scheduled) else {
                    return;
                };
                state.next_scheduled += 1;
                t
            }
            // Its pod source schedules its arrivals (`sim::sources`).
            ArrivalProcess::Source { .. } => return,
        };
        if job.stop.is_some_and(|stop| at >= stop) || at > self.config.end {
            return;
        }
        self.schedule(at, Event::JobArrival { workload });
    }

    /// Whether the workload's live pods are kept in a list: a deployment's
    /// are (its ReplicaSet picks among them to scale down); a job's are not,
    /// as nothing acts on them by workload, and the lists' links cost 8
    /// bytes for every pod id up to the last one listed.
    pub(super) fn listed(&self, workload: WorkloadId) -> bool {
        let spec = &self.config.workloads[workload as usize];
        // The kubelets' eviction managers read a writing job's pods.
        matches!(spec.kind, WorkloadKind::Deployment(_))
            || spec.template.ephemeral_storage_write_bytes_per_s > 0
    }

    pub(super) fn create_pod(&mut self, now: SimTime, workload: WorkloadId) {
        let requests = self.draw_requests(workload);
        self.create_pod_with(now, workload, requests);
    }

    /// Creates a pod with these requests; None past the last pod id (the
    /// run stops).
    pub(super) fn create_pod_with(
        &mut self,
        now: SimTime,
        workload: WorkloadId,
        requests: ResourceVec,
    ) -> Option<PodId> {
        let Some(pod) = self.pods.push(workload, requests, now) else {
            self.fault.get_or_insert(SimError::TooManyPods { at: now });
            return None;
        };
        self.last_failure.push(NO_REASON);
        self.counters.by_phase[PodPhase::Pending as usize] += 1;
        if self.listed(workload) {
            self.workload_pods.link(workload, pod);
        }
        self.tally(workload, Tally::Live, true);
        self.tally(workload, Tally::Pending, true);
        if self.control_plane.is_some() {
            self.send_pod_write(now, pod, PodStep::Create);
        } else {
            self.admit_pod(pod);
        }
        Some(pod)
    }

    /// The scheduler sees a new pod: it is queued, or parked if it can never fit.
    pub(super) fn admit_pod(&mut self, pod: PodId) {
        let p = pod as usize;
        let workload = self.pods.workload[p];
        let requests = self.pods.requests[p];
        let never_fits = &self.never_fits[workload as usize];
        match never_fits.reason(&requests, &self.config.resource_names) {
            Some(reason) => {
                self.queue.park(pod);
                self.mark_failed(pod, reason);
            }
            None => {
                let priority = self.cluster.templates[workload as usize].priority;
                if !self.queue_session_pod(pod, priority) {
                    self.queue.add(pod, priority);
                }
            }
        }
    }

    pub(super) fn draw_requests(&mut self, workload: WorkloadId) -> ResourceVec {
        let template = &self.config.workloads[workload as usize].template;
        let rng = &mut self.workloads[workload as usize].request_rng;
        let mut requests = ResourceVec::ZERO;
        for dim in 0..NUM_RESOURCES {
            requests.0[dim] = match &template.requests[dim] {
                Request::Fixed(v) => *v,
                Request::Drawn(d) => d.sample(rng),
            };
        }
        requests.0[PODS] = 1;
        requests
    }
}

pub(super) fn exponential_gap(rng: &mut SimRng, mean: SimDuration) -> SimDuration {
    // The distributions' pinned sampler, so gaps are the same on every machine.
    let draw = crate::distribution::standard_exponential(rng);
    SimDuration::from_secs_f64(draw * mean.as_secs_f64())
}

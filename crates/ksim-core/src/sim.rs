//! The simulation: one event loop over the cluster, workloads and scheduler.
//!
//! Ordering contract: events run in ascending simulated time; events at the
//! same time run in the order they were scheduled (FIFO). A timeline row at
//! time t reflects every event at times <= t. All randomness comes from
//! streams labelled by component (`scheduler`, `workload/<name>/...`).

use crate::cluster::{ClusterState, CompiledTemplate, Pods, Pool, NEVER};
use crate::config::{
    ArrivalProcess, ConfigError, PodTemplate, Request, SimConfig, Taint, TaintEffect, WorkloadKind,
};
use crate::control_plane::config::ApiRequest;
use crate::control_plane::ControlPlane;
use crate::histogram::LatencyHistogram;
use crate::ids::{NodeId, PodId, WorkloadId, NO_NODE};
use crate::lifecycle::{self, EvictionLimiter, NodePods};
use crate::matching;
use crate::metrics::{PodRecord, RunOutput, RunSummary, TimelineSample, UnschedulableGroup};
use crate::pod_phase::PodPhase;
use crate::queue::EventQueue;
use crate::resources::{
    format_amount, ResourceNames, ResourceVec, CPU, MEMORY, NUM_RESOURCES, PODS,
};
use crate::rng::{RngStreams, SimRng};
use crate::scheduler::queue::{QueueState, SchedulingQueue, WakeOn};
use crate::scheduler::{Diagnosis, Placement};
use crate::time::{SimDuration, SimTime};
use rand::Rng;
use std::collections::{BTreeMap, HashMap};

pub use invariants::{InvariantViolation, RecentEvents};

/// Why a run stopped before its end. Each is a bug in the model caught by
/// its own checks (or, for a pod id past 2^32, a run too large to represent),
/// never bad input: `SimConfig::check` refuses that before the run starts.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Invariant(#[from] Box<InvariantViolation>),
    #[error("more than {} pods created by {at}: pod ids are 32-bit", u64::from(PodId::MAX) + 1)]
    TooManyPods { at: SimTime },
}

/// Everything that can happen. Small and `Copy` so the event list stays compact.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A deployment is created with all its replicas.
    DeploymentCreated { workload: WorkloadId },
    /// The next pod of a job workload arrives.
    JobArrival { workload: WorkloadId },
    /// The scheduler finishes the cycle it started for the in-flight pod.
    CycleDone,
    /// A pod's scheduling backoff ends.
    BackoffExpired { pod: PodId },
    /// A running pod ends: a job pod's containers exit, or a deployment pod is lost.
    PodFinished { pod: PodId },
    /// Periodic move of long-unschedulable pods back to the queue.
    FlushUnschedulable,
    /// The nodes of one `node_failures` entry stop.
    NodesFail { failure: u32 },
    /// The next failure of a `node_failure_rates` entry.
    RandomNodeFailure { rate: u32 },
    /// The controller finds a failed node's lease expired (`epoch`: which failure).
    NodeUnreachable { node: NodeId, epoch: u32 },
    /// The pods on a tainted node reach the end of their toleration.
    EvictPods { node: NodeId, epoch: u32 },
    /// A failed node's kubelet comes back.
    NodeRecovers { node: NodeId, epoch: u32 },
    /// The controller sees the recovered node's fresh lease and lifts the taints.
    NodeReady { node: NodeId, epoch: u32 },
    /// The control plane sends one tick of heartbeats and fire-and-forget writes.
    ControlPlaneTick,
    /// A pod write was stored and its client hears back.
    PodWriteAcked { pod: PodId, step: PodStep },
    /// A pod write refused earlier (429, or NOSPACE) is tried again.
    PodWriteRetry { pod: PodId, step: PodStep },
}

/// The writes on a pod's path through the control plane, in order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PodStep {
    /// A controller creates the pod; the scheduler sees it once stored.
    Create,
    /// The scheduler binds it to the node it chose.
    Bind,
    /// The kubelet reports it Running.
    Running,
    /// The kubelet reports it ended (Succeeded or Failed).
    Ended { failed: bool },
}

/// Per-workload state that changes during the run.
struct WorkloadState {
    arrivals: u64,
    next_scheduled: usize,
    arrival_rng: SimRng,
    request_rng: SimRng,
    duration_rng: SimRng,
    outcome_rng: SimRng,
}

/// The pod the scheduler is working on.
#[derive(Clone, Debug)]
struct Cycle {
    pod: PodId,
    node: Option<NodeId>,
    diagnosis: Option<Box<Diagnosis>>,
    epoch_at_start: u64,
    /// When the cycle completes.
    ends: SimTime,
}

#[derive(Default)]
struct Counters {
    events: u64,
    attempts: u64,
    binds: u64,
    interval_attempts: u64,
    interval_binds: u64,
    /// Pods per phase, indexed by `PodPhase as usize`; changed only by `set_phase`.
    by_phase: [u64; 4],
    unschedulable: u64,
}

impl Counters {
    fn phase(&self, phase: PodPhase) -> u64 {
        self.by_phase[phase as usize]
    }
}

pub struct Simulation {
    config: SimConfig,
    events: EventQueue<Event>,
    cluster: ClusterState,
    placement: Placement,
    queue: SchedulingQueue,
    pods: Pods,
    /// Per pod: the last failed attempt's reason, as an id into `reasons`; u32::MAX when none.
    last_failure: Vec<u32>,
    reasons: Vec<String>,
    reason_ids: HashMap<String, u32>,
    workloads: Vec<WorkloadState>,
    scheduler_rng: SimRng,
    cycle: Option<Cycle>,
    counters: Counters,
    latency_total: LatencyHistogram,
    latency_interval: LatencyHistogram,
    allocatable_total: ResourceVec,
    requested_total: ResourceVec,
    timeline: Vec<TimelineSample>,
    next_sample: SimTime,
    finished: bool,
    wake_ups: Vec<(SimTime, PodId)>,
    nodes: NodeHealth,
    control_plane: Option<ControlPlane>,
    /// Scheduler busy time counted in the current sample interval: each
    /// cycle whole when it starts; a sample moves the part of the cycle in
    /// flight that lies after it to the next interval.
    scheduler_busy: SimDuration,
    /// Per workload: endpoint changes of its Service since the last control-plane tick.
    endpoint_changes: Vec<u64>,
    /// The latest events, for the report of a broken invariant.
    recent: RecentEvents,
    /// A broken invariant found while handling an event; the run stops with it.
    fault: Option<SimError>,
    /// Run the full invariant check at every sample.
    check_invariants: bool,
}

/// Failure state of nodes; only failed nodes ever cost events.
struct NodeHealth {
    /// Bumped at every failure and recovery, so events of an earlier episode are ignored.
    epoch: Vec<u32>,
    failed: Vec<bool>,
    /// When the unreachable NoExecute taint was added to the node in its
    /// current failure; NEVER while it has none.
    no_execute_since: Vec<SimTime>,
    pods: NodePods,
    limiter: EvictionLimiter,
    /// Per workload: pods tolerate the unreachable NoExecute taint forever.
    never_evicted: Vec<bool>,
    /// Lowest node id of each pool.
    pool_first_node: Vec<NodeId>,
    rng: SimRng,
    /// One stream per `node_failure_rates` entry, for its failure times and choices.
    rate_rngs: Vec<SimRng>,
    /// Nodes failed right now.
    failed_now: u64,
    failures: u64,
    evictions: u64,
}

const NO_REASON: u32 = u32::MAX;

/// Upstream's taint for a node whose lease expired.
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

impl NodeHealth {
    /// Zones are the cluster's (upstream's zone key, region and zone), as the
    /// node-lifecycle controller rate-limits evictions per zone.
    fn new(config: &SimConfig, cluster: &ClusterState, streams: &RngStreams) -> Self {
        let nodes = config.nodes_total() as usize;
        let unreachable = Taint {
            key: UNREACHABLE_TAINT.into(),
            value: String::new(),
            effect: TaintEffect::NoExecute,
        };
        let never_evicted = config
            .workloads
            .iter()
            .map(|w| {
                w.template
                    .tolerations
                    .iter()
                    .any(|t| matching::tolerates(t, &unreachable))
            })
            .collect();
        let pool_first_node = config
            .node_pools
            .iter()
            .scan(0, |next, pool| {
                let first = *next;
                *next += pool.count;
                Some(first)
            })
            .collect();
        let rate_rngs = config
            .node_failure_rates
            .iter()
            .enumerate()
            .map(|(i, r)| {
                streams.stream(&format!(
                    "node_failure_rates/{i}/{}",
                    config.node_pools[r.pool as usize].name
                ))
            })
            .collect();
        NodeHealth {
            epoch: vec![0; nodes],
            failed: vec![false; nodes],
            no_execute_since: vec![NEVER; nodes],
            pods: NodePods::new(nodes),
            limiter: EvictionLimiter::new(
                config.node_lifecycle.eviction_rate_per_s,
                cluster.zone_count(),
            ),
            never_evicted,
            pool_first_node,
            rng: streams.stream("node_failures"),
            rate_rngs,
            failed_now: 0,
            failures: 0,
            evictions: 0,
        }
    }
}

impl Simulation {
    pub fn new(config: SimConfig) -> Result<Self, ConfigError> {
        config.check()?;
        let streams = RngStreams::new(config.seed);
        let templates: Vec<PodTemplate> = config
            .workloads
            .iter()
            .map(|w| w.template.clone())
            .collect();
        let cluster = ClusterState::from_specs(&config.node_pools, &templates);
        let nodes = NodeHealth::new(&config, &cluster, &streams);
        let allocatable_total = config
            .allocatable_total()
            .expect("checked by SimConfig::check");
        let mut placement = Placement::new(&config.scheduler, &cluster);
        for node in 0..cluster.nodes.len() as NodeId {
            placement.node_changed(&cluster, node);
        }
        let workloads = config
            .workloads
            .iter()
            .map(|w| WorkloadState {
                arrivals: 0,
                next_scheduled: 0,
                arrival_rng: streams.stream(&format!("workload/{}/arrivals", w.name)),
                request_rng: streams.stream(&format!("workload/{}/requests", w.name)),
                duration_rng: streams.stream(&format!("workload/{}/durations", w.name)),
                outcome_rng: streams.stream(&format!("workload/{}/outcomes", w.name)),
            })
            .collect();
        let s = &config.scheduler;
        let queue = SchedulingQueue::new(s.backoff_initial, s.backoff_max, s.max_in_unschedulable);
        let mut sim = Simulation {
            events: EventQueue::new(),
            cluster,
            placement,
            queue,
            pods: Pods::default(),
            last_failure: Vec::new(),
            reasons: Vec::new(),
            reason_ids: HashMap::new(),
            workloads,
            scheduler_rng: streams.stream("scheduler"),
            cycle: None,
            counters: Counters::default(),
            latency_total: LatencyHistogram::default(),
            latency_interval: LatencyHistogram::default(),
            allocatable_total,
            requested_total: ResourceVec::ZERO,
            timeline: Vec::new(),
            // The first row comes at one interval, or at the end of a shorter run.
            next_sample: (SimTime::ZERO + config.sample_interval).min(config.end),
            finished: false,
            wake_ups: Vec::new(),
            nodes,
            control_plane: config.control_plane.clone().map(|c| {
                ControlPlane::new(
                    c,
                    config.node_lifecycle.lease_renew_interval,
                    config.nodes_total(),
                    &streams,
                )
            }),
            scheduler_busy: SimDuration::ZERO,
            endpoint_changes: vec![0; config.workloads.len()],
            recent: RecentEvents::default(),
            fault: None,
            check_invariants: false,
            config,
        };
        let slices = (0..sim.config.workloads.len() as WorkloadId)
            .map(|w| sim.endpoint_slices_of(w))
            .sum();
        if let Some(control_plane) = &mut sim.control_plane {
            control_plane.set_endpoint_slices(slices);
        }
        sim.schedule_initial_events();
        Ok(sim)
    }

    fn schedule_initial_events(&mut self) {
        let deployment_starts: Vec<Option<SimTime>> = self
            .config
            .workloads
            .iter()
            .map(|w| match &w.kind {
                WorkloadKind::Deployment(d) => Some(d.start),
                WorkloadKind::Job(_) => None,
            })
            .collect();
        for (id, start) in deployment_starts.into_iter().enumerate() {
            let workload = id as WorkloadId;
            match start {
                Some(at) => self.schedule(at, Event::DeploymentCreated { workload }),
                None => self.schedule_next_arrival(workload, None),
            }
        }
        self.schedule(
            SimTime::ZERO + SchedulingQueue::FLUSH_INTERVAL,
            Event::FlushUnschedulable,
        );
        let failures: Vec<SimTime> = self.config.node_failures.iter().map(|f| f.at).collect();
        for (failure, at) in failures.into_iter().enumerate() {
            self.schedule(
                at,
                Event::NodesFail {
                    failure: failure as u32,
                },
            );
        }
        if let Some(control_plane) = &self.control_plane {
            let first = SimTime::ZERO + control_plane.config().tick;
            if first <= self.config.end {
                self.schedule(first, Event::ControlPlaneTick);
            }
        }
        for rate in 0..self.config.node_failure_rates.len() {
            let mean = self.config.node_failure_rates[rate].mean_interval;
            let first = SimTime::ZERO + exponential_gap(&mut self.nodes.rate_rngs[rate], mean);
            self.schedule(first, Event::RandomNodeFailure { rate: rate as u32 });
        }
    }

    /// An event in the past is a bug in the model: it stops the run (in
    /// every build) with the event and what led to it.
    fn schedule(&mut self, at: SimTime, event: Event) {
        if let Err(error) = self.events.push(at, event) {
            self.violation("event list", format!("{event:?}: {error}"));
        }
    }

    pub fn now(&self) -> SimTime {
        self.events.now()
    }

    pub fn end(&self) -> SimTime {
        self.config.end
    }

    pub fn events_processed(&self) -> u64 {
        self.counters.events
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Processes up to `max_events` events; returns true once the run is over.
    /// Splitting a run into batches never changes its results. An error is a
    /// broken invariant (the run cannot go on) or a run past 2^32 pods.
    pub fn run_batch(&mut self, max_events: u64) -> Result<bool, SimError> {
        if self.finished {
            return Ok(true);
        }
        for _ in 0..max_events {
            match self.events.peek_time() {
                Some(t) if t <= self.config.end => {
                    self.take_samples_before(t)?;
                    let (now, event) = self.events.pop().expect("peeked");
                    if self.recent.last_time().is_some_and(|last| now < last) {
                        self.violation(
                            "clock",
                            format!("{event:?} at {now} runs after a later event"),
                        );
                    }
                    self.recent.push(now, event);
                    self.counters.events += 1;
                    self.handle(now, event);
                    if let Some(fault) = self.fault.take() {
                        return Err(fault);
                    }
                }
                _ => {
                    self.take_samples_before(SimTime::MAX)?;
                    self.finished = true;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Runs to the end and returns the results.
    pub fn run(mut self) -> Result<RunOutput, SimError> {
        while !self.run_batch(1 << 20)? {}
        Ok(self.into_output())
    }

    fn handle(&mut self, now: SimTime, event: Event) {
        match event {
            Event::DeploymentCreated { workload } => self.create_deployment(now, workload),
            Event::JobArrival { workload } => self.job_arrival(now, workload),
            Event::CycleDone => self.finish_cycle(now),
            Event::BackoffExpired { pod } => self.queue.backoff_expired(pod),
            Event::PodFinished { pod } => self.pod_finished(now, pod),
            Event::NodesFail { failure } => self.nodes_fail(now, failure),
            Event::RandomNodeFailure { rate } => self.random_node_failure(now, rate),
            Event::NodeUnreachable { node, epoch } => self.node_unreachable(now, node, epoch),
            Event::EvictPods { node, epoch } => self.evict_pods(now, node, epoch),
            Event::NodeRecovers { node, epoch } => self.node_recovers(now, node, epoch),
            Event::NodeReady { node, epoch } => self.node_ready(now, node, epoch),
            Event::ControlPlaneTick => self.control_plane_tick(now),
            Event::PodWriteAcked { pod, step } => self.pod_write_acked(now, pod, step),
            Event::PodWriteRetry { pod, step } => self.pod_write_retry(now, pod, step),
            Event::FlushUnschedulable => {
                self.queue.flush_stale(now, &mut self.wake_ups);
                self.schedule_wake_ups();
                self.schedule(
                    now + SchedulingQueue::FLUSH_INTERVAL,
                    Event::FlushUnschedulable,
                );
            }
        }
        self.maybe_start_cycle(now);
    }

    // --- workloads -------------------------------------------------------

    fn create_deployment(&mut self, now: SimTime, workload: WorkloadId) {
        let WorkloadKind::Deployment(d) = &self.config.workloads[workload as usize].kind else {
            return;
        };
        for _ in 0..d.replicas {
            self.create_pod(now, workload);
        }
    }

    fn job_arrival(&mut self, now: SimTime, workload: WorkloadId) {
        self.create_pod(now, workload);
        self.workloads[workload as usize].arrivals += 1;
        self.schedule_next_arrival(workload, Some(now));
    }

    /// Schedules the job's next arrival after `previous` (None: the first).
    fn schedule_next_arrival(&mut self, workload: WorkloadId, previous: Option<SimTime>) {
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
        };
        if job.stop.is_some_and(|stop| at >= stop) || at > self.config.end {
            return;
        }
        self.schedule(at, Event::JobArrival { workload });
    }

    fn create_pod(&mut self, now: SimTime, workload: WorkloadId) {
        let requests = self.draw_requests(workload);
        let Some(pod) = self.pods.push(workload, requests, now) else {
            self.fault.get_or_insert(SimError::TooManyPods { at: now });
            return;
        };
        self.last_failure.push(NO_REASON);
        self.counters.by_phase[PodPhase::Pending as usize] += 1;
        if self.control_plane.is_some() {
            self.send_pod_write(now, pod, PodStep::Create);
        } else {
            self.admit_pod(pod);
        }
    }

    /// The scheduler sees a new pod: it is queued, or parked if it can never fit.
    fn admit_pod(&mut self, pod: PodId) {
        let p = pod as usize;
        let workload = self.pods.workload[p];
        let requests = self.pods.requests[p];
        let template = &self.cluster.templates[workload as usize];
        match never_fits_reason(
            &self.cluster,
            template,
            &requests,
            &self.config.resource_names,
        ) {
            Some(reason) => {
                self.queue.park(pod);
                self.mark_failed(pod, reason);
            }
            None => self.queue.add(pod, template.priority),
        }
    }

    fn draw_requests(&mut self, workload: WorkloadId) -> ResourceVec {
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

    // --- scheduling ------------------------------------------------------

    fn maybe_start_cycle(&mut self, now: SimTime) {
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

    fn finish_cycle(&mut self, now: SimTime) {
        let Some(cycle) = self.cycle.take() else {
            return;
        };
        let p = cycle.pod as usize;
        if self.pods.finished[p] != NEVER {
            // Nothing ends a pod the scheduler has only assumed: the node
            // lifecycle and kubelets see bound pods alone.
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
                if self.control_plane.is_some() {
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

    fn mark_failed(&mut self, pod: PodId, reason: String) {
        let next_id = self.reasons.len() as u32;
        let id = *self.reason_ids.entry(reason).or_insert_with_key(|r| {
            self.reasons.push(r.clone());
            next_id
        });
        if self.last_failure[pod as usize] == NO_REASON {
            self.counters.unschedulable += 1;
        }
        self.last_failure[pod as usize] = id;
    }

    /// The pod's binding is stored (at once without a control plane).
    fn bind(&mut self, now: SimTime, pod: PodId) {
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

    fn clear_failure(&mut self, pod: PodId) {
        if self.last_failure[pod as usize] != NO_REASON {
            self.last_failure[pod as usize] = NO_REASON;
            match self.counters.unschedulable.checked_sub(1) {
                Some(left) => self.counters.unschedulable = left,
                None => self.violation("counters", "unschedulable pods below zero"),
            }
        }
    }

    /// Moves a pod to its next phase, keeping the counters; a move upstream's
    /// lifecycle does not allow (Pending → Running → Succeeded or Failed,
    /// or Pending → Succeeded or Failed) is a broken invariant.
    fn set_phase(&mut self, pod: PodId, to: PodPhase) {
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
    fn start_running(&mut self, now: SimTime, pod: PodId) {
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

    fn assign(&mut self, pod: PodId, node: NodeId) {
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
    fn unassign(&mut self, pod: PodId) {
        let p = pod as usize;
        let node = self.pods.node[p];
        self.nodes.pods.unlink(node, pod);
        self.cluster
            .unassign(self.pods.workload[p], &self.pods.requests[p], node);
        self.requested_total.sub_assign(&self.pods.requests[p]);
        self.placement.node_changed(&self.cluster, node);
    }

    fn pod_finished(&mut self, now: SimTime, pod: PodId) {
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
    fn end_pod(&mut self, now: SimTime, pod: PodId, phase: PodPhase) {
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
        if matches!(
            self.config.workloads[workload as usize].kind,
            WorkloadKind::Deployment(_)
        ) {
            self.create_pod(now, workload);
        }
    }

    // --- node failures ---------------------------------------------------

    fn nodes_fail(&mut self, now: SimTime, failure: u32) {
        let spec = self.config.node_failures[failure as usize].clone();
        let mut candidates: Vec<NodeId> = self
            .pool_nodes(spec.pool)
            .filter(|&n| !self.nodes.failed[n as usize])
            .collect();
        for i in 0..(spec.count as usize).min(candidates.len()) {
            let pick = self.nodes.rng.random_range(i..candidates.len());
            candidates.swap(i, pick);
            self.fail_node(now, candidates[i], spec.recover_after);
        }
    }

    /// One failure of a `node_failure_rates` entry: a healthy node of the pool, uniformly.
    fn random_node_failure(&mut self, now: SimTime, rate: u32) {
        let spec = self.config.node_failure_rates[rate as usize].clone();
        if let Some(node) = self.pick_healthy(spec.pool, rate as usize) {
            self.fail_node(now, node, spec.recover_after);
        }
        let next =
            now + exponential_gap(&mut self.nodes.rate_rngs[rate as usize], spec.mean_interval);
        self.schedule(next, Event::RandomNodeFailure { rate });
    }

    /// A healthy node of `pool`, uniformly: by rejection while most nodes are
    /// healthy (no scan of a million-node pool), by a scan otherwise.
    fn pick_healthy(&mut self, pool: u32, rate: usize) -> Option<NodeId> {
        const TRIES: usize = 32;
        let nodes = self.pool_nodes(pool);
        let rng = &mut self.nodes.rate_rngs[rate];
        for _ in 0..TRIES {
            let node = rng.random_range(nodes.clone());
            if !self.nodes.failed[node as usize] {
                return Some(node);
            }
        }
        let healthy: Vec<NodeId> = nodes.filter(|&n| !self.nodes.failed[n as usize]).collect();
        (!healthy.is_empty()).then(|| healthy[rng.random_range(0..healthy.len())])
    }

    /// The ids of a pool's nodes: pools' nodes are created pool by pool.
    fn pool_nodes(&self, pool: u32) -> std::ops::Range<NodeId> {
        let first = self.nodes.pool_first_node[pool as usize];
        first..first + self.config.node_pools[pool as usize].count
    }

    fn fail_node(&mut self, now: SimTime, node: NodeId, recover_after: Option<SimDuration>) {
        let n = node as usize;
        self.nodes.failed[n] = true;
        self.nodes.epoch[n] = next_epoch(self.nodes.epoch[n]);
        self.nodes.failures += 1;
        self.nodes.failed_now += 1;
        self.note_nodes_alive(now);
        let epoch = self.nodes.epoch[n];
        let lifecycle = &self.config.node_lifecycle;
        let phase = SimDuration(
            self.nodes
                .rng
                .random_range(0..lifecycle.lease_renew_interval.0),
        );
        let detected =
            lifecycle::detection_time(lifecycle, lifecycle::last_renewal(lifecycle, now, phase));
        self.schedule(detected, Event::NodeUnreachable { node, epoch });
        if let Some(after) = recover_after {
            self.schedule(now + after, Event::NodeRecovers { node, epoch });
        }
    }

    fn current(&self, node: NodeId, epoch: u32) -> bool {
        self.nodes.epoch[node as usize] == epoch
    }

    fn node_unreachable(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        // The NoSchedule taint: no new pods from now on.
        self.cluster.set_ready(node, false);
        self.defer_write(ApiRequest::NodeStatus, 1, 1);
        self.placement.node_changed(&self.cluster, node);
        let pool = self.cluster.nodes.pool[node as usize] as usize;
        let zone = self.cluster.pools[pool].zone as usize;
        let tainted = self.nodes.limiter.admit(zone, now);
        self.nodes.no_execute_since[node as usize] = tainted;
        self.schedule(
            tainted + self.config.node_lifecycle.default_toleration,
            Event::EvictPods { node, epoch },
        );
    }

    /// Deletes the bound pods on the node whose toleration of the NoExecute
    /// taint has run out: counted from the taint, or from the binding for a
    /// pod bound after it. Pods the scheduler has only assumed there are not
    /// on the node yet as far as the controller knows.
    fn evict_pods(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        let toleration = self.config.node_lifecycle.default_toleration;
        for pod in self.nodes.pods.pods_on(node) {
            let p = pod as usize;
            let bound = self.pods.bound[p];
            if bound == NEVER || self.nodes.never_evicted[self.pods.workload[p] as usize] {
                continue;
            }
            if bound.max(self.nodes.no_execute_since[node as usize]) + toleration <= now {
                self.nodes.evictions += 1;
                self.end_pod(now, pod, PodPhase::Failed);
            }
        }
    }

    /// A pod bound while its node's kubelet was down, now back.
    fn start_bound_pod(&mut self, now: SimTime, pod: PodId) {
        if self.control_plane.is_some() {
            self.send_pod_write(now, pod, PodStep::Running);
        } else {
            self.start_running(now, pod);
        }
    }

    /// A pod bound to a node that already carries the NoExecute taint: the
    /// taint eviction controller deletes it a toleration after it sees it.
    fn watch_for_eviction(&mut self, now: SimTime, pod: PodId) {
        let node = self.pods.node[pod as usize];
        // A tainted node is not ready; the ready flags are hot in cache, the
        // taint times are not.
        if !self.cluster.nodes.ready[node as usize]
            && self.nodes.no_execute_since[node as usize] <= now
        {
            let epoch = self.nodes.epoch[node as usize];
            let at = now + self.config.node_lifecycle.default_toleration;
            self.schedule(at, Event::EvictPods { node, epoch });
        }
    }

    fn node_recovers(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        let n = node as usize;
        self.nodes.failed[n] = false;
        self.nodes.epoch[n] = next_epoch(self.nodes.epoch[n]);
        self.nodes.no_execute_since[n] = NEVER;
        self.nodes.failed_now = self
            .nodes
            .failed_now
            .checked_sub(1)
            .expect("a recovering node was counted failed");
        self.note_nodes_alive(now);
        for pod in self.nodes.pods.pods_on(node) {
            let p = pod as usize;
            if self.pods.phase[p] == PodPhase::Running {
                // Its containers died with the node: the kubelet reports it Failed.
                self.defer_write(ApiRequest::PodStatus, 1, 1);
                self.end_pod(now, pod, PodPhase::Failed);
            } else if self.pods.bound[p] != NEVER {
                // Bound while the kubelet was down: it starts the pod now.
                self.start_bound_pod(now, pod);
            }
            // A pod only assumed here is the scheduler's business, not the kubelet's.
        }
        if !self.cluster.nodes.ready[n] {
            let at = lifecycle::next_check(&self.config.node_lifecycle, now);
            self.schedule(
                at,
                Event::NodeReady {
                    node,
                    epoch: self.nodes.epoch[n],
                },
            );
        }
    }

    fn node_ready(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        self.cluster.set_ready(node, true);
        self.defer_write(ApiRequest::NodeStatus, 1, 1);
        self.placement.node_changed(&self.cluster, node);
        self.queue.on_node_change(now, &mut self.wake_ups);
        self.schedule_wake_ups();
    }

    fn schedule_wake_ups(&mut self) {
        let mut wake_ups = std::mem::take(&mut self.wake_ups);
        for (at, pod) in wake_ups.drain(..) {
            self.schedule(at, Event::BackoffExpired { pod });
        }
        self.wake_ups = wake_ups;
    }

    // --- observation -----------------------------------------------------

    fn take_samples_before(&mut self, next_event: SimTime) -> Result<(), SimError> {
        while self.next_sample < next_event && self.next_sample <= self.config.end {
            if self.check_invariants {
                self.check_invariants(self.next_sample)?;
            }
            self.push_sample(self.next_sample);
            let next = self.next_sample + self.config.sample_interval;
            self.next_sample = if self.next_sample < self.config.end && next > self.config.end {
                self.config.end
            } else {
                next
            };
        }
        Ok(())
    }

    fn push_sample(&mut self, time: SimTime) {
        let c = &self.counters;
        self.timeline.push(TimelineSample {
            time,
            nodes_total: self.cluster.nodes.len() as u64,
            nodes_ready: self.cluster.nodes.ready_count(),
            pods_pending: c.phase(PodPhase::Pending),
            pods_running: c.phase(PodPhase::Running),
            pods_succeeded: c.phase(PodPhase::Succeeded),
            pods_failed: c.phase(PodPhase::Failed),
            pods_unschedulable: c.unschedulable,
            cpu_requested_millis: self.requested_total.0[CPU],
            cpu_allocatable_millis: self.allocatable_total.0[CPU],
            memory_requested_bytes: self.requested_total.0[MEMORY],
            memory_allocatable_bytes: self.allocatable_total.0[MEMORY],
            scheduling_attempts: c.interval_attempts,
            binds: c.interval_binds,
            scheduling_latency_p50: self.latency_interval.quantile(0.5),
            scheduling_latency_p99: self.latency_interval.quantile(0.99),
        });
        self.counters.interval_attempts = 0;
        self.counters.interval_binds = 0;
        self.latency_interval.clear();
        // The part of a cycle in flight past this sample belongs to the next
        // interval, so busy time never exceeds the interval.
        let overhang = self
            .cycle
            .as_ref()
            .map_or(SimDuration::ZERO, |c| c.ends.saturating_since(time));
        let busy = self
            .scheduler_busy
            .0
            .checked_sub(overhang.0)
            .expect("a cycle's remaining time was counted when it started");
        if let Some(control_plane) = &mut self.control_plane {
            control_plane.sample(time, SimDuration(busy));
        }
        self.scheduler_busy = overhang;
    }

    /// The results; call after the run finished (or to inspect a partial run).
    pub fn into_output(self) -> RunOutput {
        let unschedulable = self.unschedulable_groups();
        let c = &self.counters;
        let summary = RunSummary {
            scenario: self.config.name.clone(),
            seed: self.config.seed,
            simulated_span: self.config.end - SimTime::ZERO,
            nodes_total: self.cluster.nodes.len() as u64,
            pods_total: self.pods.len() as u64,
            pods_pending: c.phase(PodPhase::Pending),
            pods_running: c.phase(PodPhase::Running),
            pods_succeeded: c.phase(PodPhase::Succeeded),
            pods_failed: c.phase(PodPhase::Failed),
            events_processed: c.events,
            scheduling_attempts: c.attempts,
            binds: c.binds,
            node_failures: self.nodes.failures,
            pods_evicted: self.nodes.evictions,
            scheduling_latency: self.latency_total.clone(),
            unschedulable,
        };
        let pods = self.config.record_pods.then(|| pod_records(&self.pods));
        RunOutput {
            summary,
            timeline: self.timeline,
            workload_names: self
                .config
                .workloads
                .iter()
                .map(|w| w.name.clone())
                .collect(),
            node_pool_names: self
                .config
                .node_pools
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            pods,
            control_plane: self.control_plane.map(ControlPlane::finish),
        }
    }

    fn unschedulable_groups(&self) -> Vec<UnschedulableGroup> {
        let mut groups: BTreeMap<(WorkloadId, u32), u64> = BTreeMap::new();
        for (p, &reason) in self.last_failure.iter().enumerate() {
            if reason != NO_REASON && self.pods.phase[p] == PodPhase::Pending {
                *groups.entry((self.pods.workload[p], reason)).or_default() += 1;
            }
        }
        groups
            .into_iter()
            .map(|((workload, reason), pods)| UnschedulableGroup {
                workload: self.config.workloads[workload as usize].name.clone(),
                pods,
                never_fits: self.reasons[reason as usize].starts_with(NEVER_FITS_PREFIX),
                reason: self.reasons[reason as usize].clone(),
            })
            .collect()
    }

    /// Read access for tests and future controllers.
    pub fn cluster(&self) -> &ClusterState {
        &self.cluster
    }

    pub fn pods(&self) -> &Pods {
        &self.pods
    }

    pub fn queue_state(&self, pod: PodId) -> QueueState {
        self.queue.state(pod)
    }
}

const NEVER_FITS_PREFIX: &str = "never fits: ";

/// Why a pod can never be placed on any node of any pool, if so: no pool
/// passes its taint/affinity filters, or its requests exceed the allocatable
/// of every pool that does.
fn never_fits_reason(
    cluster: &ClusterState,
    template: &CompiledTemplate,
    requests: &ResourceVec,
    names: &ResourceNames,
) -> Option<String> {
    let admitting: Vec<&Pool> = cluster
        .pools
        .iter()
        .zip(&template.pool_filter)
        .filter(|(_, f)| f.is_none())
        .map(|(p, _)| p)
        .collect();
    if admitting.is_empty() {
        // Pool-level filters are only taints and node affinity/selector.
        return Some(format!(
            "{NEVER_FITS_PREFIX}no node pool passes the pod's node selector, affinity and tolerations"
        ));
    }
    if admitting
        .iter()
        .any(|p| ResourceVec::ZERO.fits_with(requests, &p.allocatable))
    {
        return None;
    }
    let mut shortfalls = Vec::new();
    for dim in 0..NUM_RESOURCES {
        let largest = admitting
            .iter()
            .map(|p| p.allocatable.0[dim])
            .max()
            .unwrap_or(0);
        if requests.0[dim] > largest {
            shortfalls.push(format!(
                "{} requested {} > largest allocatable {}",
                names.name(dim),
                format_amount(dim, requests.0[dim]),
                format_amount(dim, largest)
            ));
        }
    }
    if shortfalls.is_empty() {
        shortfalls.push("no single node pool has room for all of its requests".into());
    }
    Some(format!(
        "{NEVER_FITS_PREFIX}requests exceed every node pool that admits the pod: {}",
        shortfalls.join("; ")
    ))
}

fn ended_phase(failed: bool) -> PodPhase {
    if failed {
        PodPhase::Failed
    } else {
        PodPhase::Succeeded
    }
}

fn wake_on(diagnosis: &Diagnosis) -> WakeOn {
    if diagnosis.insufficient.iter().any(|&c| c > 0) || diagnosis.anti_affinity > 0 {
        WakeOn::PodDeleted
    } else {
        WakeOn::NodeChange
    }
}

/// A node's next failure epoch. Four billion failures of one node would
/// take longer than simulated time can span; wrapping would revive stale events.
fn next_epoch(epoch: u32) -> u32 {
    epoch
        .checked_add(1)
        .expect("node failure epochs fit in u32")
}

fn exponential_gap(rng: &mut SimRng, mean: SimDuration) -> SimDuration {
    // The distributions' pinned sampler, so gaps are the same on every machine.
    let draw = crate::distribution::standard_exponential(rng);
    SimDuration::from_secs_f64(draw * mean.as_secs_f64())
}

fn pod_records(pods: &Pods) -> Vec<PodRecord> {
    let when = |t: SimTime| (t != NEVER).then_some(t);
    (0..pods.len())
        .map(|p| PodRecord {
            id: p as u32,
            workload: pods.workload[p],
            created: pods.created[p],
            bound: when(pods.bound[p]),
            started: when(pods.started[p]),
            finished: when(pods.finished[p]),
            node: (pods.node[p] != NO_NODE).then_some(pods.node[p]),
            phase: pods.phase[p],
        })
        .collect()
}

pub(crate) mod footprint;
mod invariants;
mod pod_api;

#[cfg(test)]
mod tests {
    use super::Event;

    /// The event list stores millions of these: keep them small.
    #[test]
    fn events_stay_small() {
        assert_eq!(std::mem::size_of::<Event>(), 12);
    }
}

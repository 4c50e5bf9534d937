//! The simulation: one event loop over the cluster, workloads and scheduler.
//!
//! Ordering contract: events run in ascending simulated time; events at the
//! same time run in the order they were scheduled (FIFO). A timeline row at
//! time t reflects every event at times <= t. All randomness comes from
//! streams labelled by component (`scheduler`, `workload/<name>/...`).

use crate::cluster::{ClusterState, NodeState, Pods, NEVER};
use crate::config::{
    ArrivalProcess, Autoscaler, ConfigError, NodeAutoscaler, PodTemplate, Request, SessionSpec,
    SimConfig, Taint, TaintEffect, WorkloadKind, WorkloadSpec,
};
use crate::control_plane::config::ApiRequest;
use crate::control_plane::ControlPlane;
use crate::controller::cluster_autoscaler::{self, ClusterAutoscalerController};
use crate::controller::hpa::HpaController;
use crate::controller::keda::KedaController;
use crate::controller::scripted::ScriptedChanges;
use crate::controller::Controller;
use crate::histogram::LatencyHistogram;
use crate::ids::{NodeId, PodId, WorkloadId, NO_NODE};
use crate::lifecycle::{self, Disruption, EvictionLimiter, LeaseCohorts, PodLists, ZoneStates};
use crate::load::Load;
use crate::matching;
use crate::metrics::{
    ControlPlaneTimeline, PodRecord, PoolSample, PoolSummary, RunOutput, RunSummary, SeriesName,
    TimelineSample, UnschedulableGroup,
};
use crate::pod_phase::PodPhase;
use crate::queue::EventQueue;
use crate::resources::{ResourceVec, CPU, MEMORY, NUM_RESOURCES, PODS};
use crate::rng::{RngStreams, SimRng};
use crate::scheduler::queue::{QueueState, SchedulingQueue, WakeOn};
use crate::scheduler::{Diagnosis, Placement};
use crate::time::{SimDuration, SimTime};
use crate::usage::serving::Serving;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use crate::cluster::WorkloadCounts;
pub use controllers::ControllerError;
use controllers::Controllers;
use drains::Drains;
pub use invariants::{InvariantViolation, RecentEvents};
use never_fits::{NeverFits, NEVER_FITS_PREFIX};
use node_lifecycle::NodeHealth;
use nodes::NodeBook;
use pods::ended_phase;
use scheduling::{Cycle, NO_REASON};
pub use sessions::SessionCounts;
use sessions::Sessions;
use sources::Sources;
use workloads::{exponential_gap, Tally, WorkloadState};

/// Why a run stopped before its end. Each is a bug in the model caught by
/// its own checks (or, for a pod id past 2^32, a run too large to represent),
/// never bad input: `SimConfig::check` refuses that before the run starts.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Invariant(#[from] Box<InvariantViolation>),
    #[error("more than {} pods created by {at}: pod ids are 32-bit", u64::from(PodId::MAX) + 1)]
    TooManyPods { at: SimTime },
    /// A pod source failed (a malformed or truncated trace): the run
    /// stops rather than pass a partial replay off as complete.
    #[error("pod source: {0}")]
    Source(#[from] crate::source::SourceError),
}

/// Everything that can happen. Small and `Copy` so the event list stays compact.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A deployment is created with all its replicas.
    DeploymentCreated { workload: WorkloadId },
    /// A running pod's readiness delay ends: it becomes Ready, unless it
    /// ended or its deletion started meanwhile.
    PodReady { pod: PodId },
    /// A deleted pod's termination grace period ends: its kubelet has
    /// stopped it and reports it ended.
    PodTerminated { pod: PodId },
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
    /// Controllers due now run (a timer, or a cluster event they subscribe to).
    ControllersWake,
    /// A new node's machine is up; its kubelet registers it.
    NodeProvisioned { node: NodeId },
    /// A new node's registration is stored: it is Ready.
    NodeRegistered { node: NodeId },
    /// A controller action's API write is stored: it takes effect.
    ActionAcked { slot: u32 },
    /// A controller action's API write refused earlier is tried again.
    ActionRetry { slot: u32 },
    /// A draining node's evictions refused by a disruption budget (429) are
    /// tried again, 5 s later as kubectl drain does; one event per node.
    DrainRetry { node: NodeId },
    /// metrics-server scrapes every kubelet (every `metrics_resolution`).
    MetricsScrape,
    /// The next execution of an execution-workers workload arrives.
    ExecutionArrives { workload: WorkloadId },
    /// A running execution ends (stale when it was requeued since).
    ExecutionEnds { execution: u32, generation: u32 },
    /// The next user of a session workload arrives.
    SessionArrival { workload: WorkloadId },
    /// A session user's patience runs out (stale once their pod started
    /// or ended).
    SessionPatienceOver { pod: PodId },
    /// A pod source's next pod arrives (one pending per source).
    SourceArrival { source: u32 },
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
    /// A drain evicts it (`create pods/eviction`); its termination starts
    /// when the eviction is stored.
    Evict,
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
    /// Pods whose last scheduling attempt failed and that are still
    /// pending, in pod order: what a node autoscaler reads (its count is the
    /// timeline's `pods_unschedulable`).
    unschedulable: BTreeSet<PodId>,
    /// Pods whose deletion was requested (`delete_pod`, a scale-down).
    deleted: u64,
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
    /// Per workload: its pods' counts, kept exact (`sim::workloads`).
    workload_counts: Vec<WorkloadCounts>,
    /// Per workload: what deciding that its pods can never fit needs.
    never_fits: Vec<NeverFits>,
    /// Per workload: its live pods (not ended), terminating ones included.
    workload_pods: PodLists,
    scheduler_rng: SimRng,
    cycle: Option<Cycle>,
    counters: Counters,
    latency_total: LatencyHistogram,
    latency_interval: LatencyHistogram,
    allocatable_total: ResourceVec,
    requested_total: ResourceVec,
    timeline: Vec<TimelineSample>,
    pool_timeline: Vec<PoolSample>,
    node_autoscaler_timeline: Vec<crate::metrics::NodeAutoscalerSample>,
    workload_timeline: Vec<crate::metrics::WorkloadSample>,
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
    controllers: Controllers,
    node_book: NodeBook,
    drains: Drains,
    /// Every workload's load, usage and executions (`sim::serving`).
    serving: Serving,
    /// Session workloads' users (`sim::sessions`).
    sessions: Sessions,
    /// Pod sources and their pods' plans (`sim::sources`).
    sources: Sources,
}

/// The scenario's autoscalers: the workload ones in workload order, each
/// created with its deployment, then the node autoscaler.
fn autoscalers(config: &SimConfig) -> Vec<Box<dyn Controller>> {
    let settings = config.autoscaling.hpa;
    let mut list: Vec<Box<dyn Controller>> = Vec::new();
    for (id, w) in config.workloads.iter().enumerate() {
        let WorkloadKind::Deployment(deployment) = &w.kind else {
            continue;
        };
        let (id, start) = (id as WorkloadId, deployment.start);
        match &w.model.autoscaler {
            Some(Autoscaler::Hpa(spec)) => list.push(Box::new(HpaController::new(
                &w.name,
                id,
                spec.clone(),
                settings,
                start,
            ))),
            Some(Autoscaler::Keda(spec)) => list.push(Box::new(KedaController::new(
                &w.name,
                id,
                spec.clone(),
                settings,
                start,
            ))),
            None => {}
        }
    }
    match &config.node_autoscaler {
        Some(NodeAutoscaler::ClusterAutoscaler(settings)) => {
            let gpu = config
                .resource_names
                .extended_index(cluster_autoscaler::GPU_RESOURCE);
            list.push(Box::new(ClusterAutoscalerController::new(
                settings.clone(),
                config.node_pools.len(),
                gpu,
            )));
        }
        Some(NodeAutoscaler::Karpenter(settings)) => list.push(Box::new(
            crate::controller::karpenter::KarpenterController::new(
                settings.clone(),
                config.node_pools.len(),
            ),
        )),
        None => {}
    }
    if let Some(kubelets) = crate::controller::kubelet_eviction::KubeletEviction::for_config(config)
    {
        list.push(Box::new(kubelets));
    }
    list
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
            .allocatable_at_start()
            .expect("checked by SimConfig::check");
        let mut placement = Placement::new(&config.scheduler, &cluster);
        for node in 0..cluster.nodes.len() as NodeId {
            placement.node_changed(&cluster, node);
        }
        let workloads = config
            .workloads
            .iter()
            .map(|w| WorkloadState::new(w, &streams))
            .collect();
        let never_fits = cluster
            .templates
            .iter()
            .map(|t| NeverFits::new(&config.node_pools, t))
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
            workload_counts: config
                .workloads
                .iter()
                .map(workloads::initial_counts)
                .collect(),
            never_fits,
            workload_pods: PodLists::new(config.workloads.len()),
            scheduler_rng: streams.stream("scheduler"),
            cycle: None,
            counters: Counters::default(),
            latency_total: LatencyHistogram::default(),
            latency_interval: LatencyHistogram::default(),
            allocatable_total,
            requested_total: ResourceVec::ZERO,
            timeline: Vec::new(),
            pool_timeline: Vec::new(),
            node_autoscaler_timeline: Vec::new(),
            workload_timeline: Vec::new(),
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
            controllers: Controllers::default(),
            node_book: NodeBook::new(&config, &streams),
            drains: Drains::default(),
            serving: serving::serving_for(&config, &streams)?,
            sessions: Sessions::new(&config, &streams),
            sources: Sources::default(),
            config,
        };
        sim.resize_endpoint_slices();
        let deployments = sim
            .config
            .workloads
            .iter()
            .filter(|w| matches!(w.kind, WorkloadKind::Deployment(_)))
            .count() as u64;
        if let Some(control_plane) = &mut sim.control_plane {
            // Stored from the start, whenever each is created.
            control_plane.set_deployments(deployments);
        }
        sim.schedule_initial_events();
        if !sim.config.changes.is_empty() {
            let scripted = ScriptedChanges::new(sim.config.changes.clone());
            sim.add_controller(Box::new(scripted))
                .expect("the first controller of a new run");
        }
        for controller in autoscalers(&sim.config) {
            sim.add_controller(controller)
                .expect("autoscalers are named after their unique workloads");
        }
        Ok(sim)
    }

    fn schedule_initial_events(&mut self) {
        let deployment_starts: Vec<Option<SimTime>> = self
            .config
            .workloads
            .iter()
            .map(|w| match &w.kind {
                WorkloadKind::Deployment(d) => Some(d.start),
                WorkloadKind::Job(_) | WorkloadKind::Session(_) => None,
            })
            .collect();
        for (id, start) in deployment_starts.into_iter().enumerate() {
            let workload = id as WorkloadId;
            match start {
                Some(at) => self.schedule(at, Event::DeploymentCreated { workload }),
                None => {
                    self.schedule_next_arrival(workload, None);
                    self.schedule_next_user(workload, SimTime::ZERO);
                }
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
        self.start_serving();
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
            Event::PodReady { pod } => self.readiness_delay_over(now, pod),
            Event::PodTerminated { pod } => self.grace_period_over(now, pod),
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
            Event::ControllersWake => self.wake_controllers(now),
            Event::NodeProvisioned { node } => self.node_provisioned(now, node),
            Event::NodeRegistered { node } => self.register_node(now, node),
            Event::ActionAcked { slot } => self.action_acked(now, slot),
            Event::ActionRetry { slot } => self.action_retry(now, slot),
            Event::DrainRetry { node } => self.drain_retry(now, node),
            Event::MetricsScrape => self.scrape_metrics(now),
            Event::ExecutionArrives { workload } => self.execution_arrives(now, workload),
            Event::ExecutionEnds {
                execution,
                generation,
            } => self.execution_ends(now, execution, generation),
            Event::SessionArrival { workload } => self.session_arrival(now, workload),
            Event::SessionPatienceOver { pod } => self.session_patience_over(now, pod),
            Event::SourceArrival { source } => self.source_arrival(now, source),
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

    /// A workload's desired replicas and the counts of its pods.
    pub fn workload_counts(&self, workload: WorkloadId) -> WorkloadCounts {
        self.workload_counts[workload as usize]
    }

    /// A deployment's live pods (not ended; terminating ones included), most
    /// recently created first. Walks that workload's pods only. A job's pods
    /// are not listed: this is empty for a job.
    pub fn workload_pods(&self, workload: WorkloadId) -> impl Iterator<Item = PodId> + '_ {
        self.workload_pods.iter(workload)
    }

    /// An operator defragments store `store` and disarms its NOSPACE alarm
    /// now (between batches): `ControlPlane::defragment_and_disarm`. None
    /// without a control plane or such a store.
    pub fn defragment_and_disarm_store(&mut self, store: usize) -> Option<u64> {
        self.control_plane.as_mut()?.defragment_and_disarm(store)
    }

    /// Pods whose deletion was requested so far. A deleted pod ends
    /// Succeeded (or Failed if its node fails first), so this tells
    /// deletions from completions.
    pub fn pods_deleted(&self) -> u64 {
        self.counters.deleted
    }

    /// Evictions that took effect so far (drains).
    pub fn evictions(&self) -> u64 {
        self.drains.evicted
    }

    /// Evictions a disruption budget refused so far (429), each retry
    /// counted again.
    pub fn evictions_refused(&self) -> u64 {
        self.drains.refused
    }
}

mod controllers;
mod disruption;
mod drains;
pub(crate) mod footprint;
mod invariants;
mod never_fits;
mod node_lifecycle;
mod nodes;
mod pod_api;
mod pods;
mod replicas;
mod sampling;
mod scheduling;
mod serving;
mod sessions;
mod sources;
mod termination;
mod workloads;

#[cfg(test)]
mod tests {
    use super::Event;

    /// The event list stores millions of these: keep them small.
    #[test]
    fn events_stay_small() {
        assert_eq!(std::mem::size_of::<Event>(), 12);
    }
}

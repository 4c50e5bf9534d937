//! The validated description of a run, as the core receives it.
//!
//! Readers (the scenario crate, later trace readers) build these values;
//! the core trusts them to be consistent but still checks the invariants it
//! relies on in [`SimConfig::check`], returning typed errors rather than panicking.

use crate::autoscale::hpa::{CustomMetric, HpaControllerSettings, HpaSpec, MetricSpec};
use crate::autoscale::keda::KedaSpec;
use crate::control_plane::config::{ControlPlaneConfig, ControlPlaneConfigError};
use crate::distribution::Distribution;
use crate::ids::{PoolId, WorkloadId};
use crate::load::{LoadShape, LoadSpec};
use crate::resources::{ResourceNames, ResourceVec, NUM_RESOURCES};
use crate::time::{SimDuration, SimTime};
use crate::usage::UsageModel;

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub name: String,
    pub seed: u64,
    /// The run stops at this simulated time.
    pub end: SimTime,
    /// Timeline rows are taken at every multiple of this interval.
    pub sample_interval: SimDuration,
    pub resource_names: ResourceNames,
    pub node_pools: Vec<NodePoolSpec>,
    pub workloads: Vec<WorkloadSpec>,
    pub scheduler: SchedulerConfig,
    pub node_lifecycle: NodeLifecycleConfig,
    pub node_failures: Vec<NodeFailureSpec>,
    pub node_failure_rates: Vec<NodeFailureRate>,
    /// Keep one record per pod for `pods.csv`.
    pub record_pods: bool,
    /// None: API writes are instantaneous and free (no control plane modelled).
    pub control_plane: Option<ControlPlaneConfig>,
    /// Scripted changes (`[[changes]]`), applied by the simulation's
    /// scripted-changes controller; in the order written.
    pub changes: Vec<ScheduledChange>,
    /// The metrics pipeline and the HPA controller's flags, shared by every
    /// workload autoscaler.
    pub autoscaling: AutoscalingConfig,
    /// The node autoscaler, if any.
    pub node_autoscaler: Option<NodeAutoscaler>,
}

/// What adds and removes nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeAutoscaler {
    ClusterAutoscaler(crate::autoscale::cluster_autoscaler::ClusterAutoscalerSettings),
    Karpenter(crate::autoscale::karpenter::settings::KarpenterSettings),
}

/// What every workload autoscaler shares: how metrics reach it, and the
/// HPA controller's flags.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct AutoscalingConfig {
    /// metrics-server's `--metric-resolution`: how often each kubelet is
    /// scraped, and the window a sample averages usage over (15 s).
    pub metrics_resolution: SimDuration,
    pub hpa: HpaControllerSettings,
}

impl Default for AutoscalingConfig {
    fn default() -> Self {
        AutoscalingConfig {
            metrics_resolution: SimDuration::from_secs(15),
            hpa: HpaControllerSettings::default(),
        }
    }
}

/// One `[[changes]]` entry: `action` at `at`, and again every `repeat.every`
/// up to and including `repeat.until` when it repeats.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ScheduledChange {
    pub at: SimTime,
    pub repeat: Option<Repeat>,
    pub action: ChangeAction,
}

/// A change applied at `at`, `at + every`, `at + 2 every`, … while not after `until`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// Greater than zero: a zero step would repeat the change at one instant forever.
    pub every: SimDuration,
    /// Not before the change's `at`; the scenario reader defaults it to the run's end.
    pub until: SimTime,
}

/// What a scripted change does. Pool and workload ids index
/// `SimConfig::node_pools` and `SimConfig::workloads`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChangeAction {
    /// Sets a deployment's desired replicas (deployments only).
    Scale { workload: WorkloadId, replicas: u32 },
    /// Provisions nodes; each joins after the pool's provisioning delay.
    AddNodes { pool: PoolId, count: u32 },
    /// Deletes nodes (semantics in docs/models/node-lifecycle.md).
    DeleteNodes { pool: PoolId, count: u32 },
    /// Cordons nodes and evicts their pods, honouring disruption budgets.
    DrainNodes { pool: PoolId, count: u32 },
    /// Marks nodes unschedulable; their pods keep running.
    CordonNodes { pool: PoolId, count: u32 },
    /// Makes cordoned nodes schedulable again.
    UncordonNodes { pool: PoolId, count: u32 },
}

impl ScheduledChange {
    /// How many times the change happens within a run ending at `end`.
    pub fn occurrences(&self, end: SimTime) -> u128 {
        if self.at > end {
            return 0;
        }
        match self.repeat {
            None => 1,
            Some(repeat) => {
                let last = repeat.until.min(end);
                u128::from(last.0.saturating_sub(self.at.0) / repeat.every.0.max(1)) + 1
            }
        }
    }
}

impl ChangeAction {
    /// The pool a node action acts on; None for `Scale`.
    pub fn pool(&self) -> Option<PoolId> {
        match *self {
            ChangeAction::Scale { .. } => None,
            ChangeAction::AddNodes { pool, .. }
            | ChangeAction::DeleteNodes { pool, .. }
            | ChangeAction::DrainNodes { pool, .. }
            | ChangeAction::CordonNodes { pool, .. }
            | ChangeAction::UncordonNodes { pool, .. } => Some(pool),
        }
    }
}

/// Nodes of a pool fail at random: exponential gaps with this mean, each
/// failure taking one healthy node of the pool, uniformly.
#[derive(Clone, Debug)]
pub struct NodeFailureRate {
    pub pool: u32,
    pub mean_interval: SimDuration,
    pub recover_after: Option<SimDuration>,
}

/// Kubelet leases and the node-lifecycle controller, with upstream defaults.
#[derive(Clone, Debug)]
pub struct NodeLifecycleConfig {
    /// How often a kubelet renews its node lease (upstream 10 s).
    pub lease_renew_interval: SimDuration,
    /// How often the node-lifecycle controller checks nodes (`--node-monitor-period`, 5 s).
    pub node_monitor_period: SimDuration,
    /// Lease age after which a node is marked not ready (`--node-monitor-grace-period`:
    /// 40 s before v1.32, 50 s since).
    pub node_monitor_grace_period: SimDuration,
    /// `tolerationSeconds` of the default NoExecute tolerations for
    /// not-ready/unreachable that admission adds to every pod (300 s).
    pub default_toleration: SimDuration,
    /// NoExecute taints added per second per zone (`--node-eviction-rate`, 0.1).
    pub eviction_rate_per_s: f64,
    /// NoExecute taints per second per zone in a partially disrupted zone
    /// larger than `large_cluster_size_threshold` (`--secondary-node-eviction-rate`, 0.01).
    pub secondary_eviction_rate_per_s: f64,
    /// Nodes a zone must exceed to keep evicting, at the secondary rate, when
    /// partially disrupted; a smaller zone stops (`--large-cluster-size-threshold`, 50).
    pub large_cluster_size_threshold: u32,
    /// Fraction of not-ready nodes (with more than 2 of them) at which a zone
    /// is partially disrupted (`--unhealthy-zone-threshold`, 0.55).
    pub unhealthy_zone_threshold: f64,
    /// Live kubelets renew their leases in this many cohorts, each a slice of
    /// the renew interval; a cohort whose renewals the control plane refuses
    /// or acknowledges too late goes NotReady as one (model parameter, 100).
    pub lease_cohorts: u32,
}

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        NodeLifecycleConfig {
            lease_renew_interval: SimDuration::from_secs(10),
            node_monitor_period: SimDuration::from_secs(5),
            node_monitor_grace_period: SimDuration::from_secs(50),
            default_toleration: SimDuration::from_secs(300),
            eviction_rate_per_s: 0.1,
            secondary_eviction_rate_per_s: 0.01,
            large_cluster_size_threshold: 50,
            unhealthy_zone_threshold: 0.55,
            lease_cohorts: 100,
        }
    }
}

/// `count` nodes of a pool stop (kubelet and containers) at `at`; with
/// `recover_after`, they come back that long after.
#[derive(Clone, Debug)]
pub struct NodeFailureSpec {
    pub at: SimTime,
    pub pool: u32,
    pub count: u32,
    pub recover_after: Option<SimDuration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: TaintEffect,
}

/// A pool's default `provisioning_delay`: a model estimate of a cloud VM's
/// boot plus kubelet registration, not a published figure. Constant 60 s, in ns.
pub const DEFAULT_PROVISIONING_DELAY: Distribution = Distribution::Constant(60e9);

/// Upstream's default `terminationGracePeriodSeconds` (30).
pub const DEFAULT_TERMINATION_GRACE_PERIOD: SimDuration = SimDuration::from_secs(30);

#[derive(Clone, Debug)]
pub struct NodePoolSpec {
    pub name: String,
    /// Nodes at the start of the run; within `[min, max]`, may be 0.
    pub count: u32,
    /// The fewest nodes the pool may shrink to during the run.
    pub min: u32,
    /// The most nodes the pool may hold at once during the run.
    pub max: u32,
    /// What one node costs per hour, in the scenario's currency; finite, >= 0.
    pub price_per_hour: f64,
    /// From asking for a node to the node being Ready (VM boot plus kubelet
    /// registration), in nanoseconds.
    pub provisioning_delay: Distribution,
    /// Allocatable per node; the pod dimension is `max_pods`.
    pub allocatable: ResourceVec,
    pub labels: Vec<Label>,
    pub taints: Vec<Taint>,
    /// What the DaemonSets running on each of the pool's nodes request;
    /// `allocatable` is what they leave to other pods. Autoscalers add it
    /// back where upstream counts DaemonSet pods (utilization).
    pub daemonset_requests: ResourceVec,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TolerationOperator {
    Equal,
    Exists,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    /// Empty key with `Exists` tolerates every taint.
    pub key: String,
    pub operator: TolerationOperator,
    pub value: String,
    /// `None` tolerates every effect.
    pub effect: Option<TaintEffect>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectorOperator {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorRequirement {
    pub key: String,
    pub operator: SelectorOperator,
}

/// One nodeSelectorTerm: all requirements must hold.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeSelectorTerm {
    pub match_expressions: Vec<SelectorRequirement>,
}

/// Required pod anti-affinity with topology key `kubernetes.io/hostname`:
/// no pod whose labels match `match_labels` may share the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AntiAffinityTerm {
    pub match_labels: Vec<Label>,
}

/// A resource request, fixed or drawn per pod.
#[derive(Clone, Debug)]
pub enum Request {
    Fixed(u64),
    Drawn(Distribution),
}

impl Request {
    pub fn max(&self) -> Option<u64> {
        match self {
            Request::Fixed(v) => Some(*v),
            Request::Drawn(d) => d.max().map(|m| m.round() as u64),
        }
    }
    pub fn min(&self) -> u64 {
        match self {
            Request::Fixed(v) => *v,
            Request::Drawn(d) => d.min().round() as u64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct PodTemplate {
    /// Per dimension; the pod dimension is always `Fixed(1)`.
    pub requests: [Request; NUM_RESOURCES],
    pub priority: i32,
    pub labels: Vec<Label>,
    pub node_selector: Vec<Label>,
    /// Terms are ORed; empty means no required node affinity.
    pub node_affinity: Vec<NodeSelectorTerm>,
    pub tolerations: Vec<Toleration>,
    pub anti_affinity: Vec<AntiAffinityTerm>,
    /// How long a pod asked to stop keeps running before it is killed
    /// (`terminationGracePeriodSeconds`).
    pub termination_grace_period: SimDuration,
    /// What a node autoscaler reads before moving the pod elsewhere.
    pub eviction: EvictionHints,
    /// The pod's limits: its use never exceeds them.
    pub limits: Limits,
    /// Bytes per second the pod writes to its node's filesystem (logs,
    /// emptyDir) from its start: its ephemeral-storage use grows with its
    /// age. Zero: it uses its ephemeral-storage request.
    pub ephemeral_storage_write_bytes_per_s: u64,
}

/// A pod's limits, its containers' summed (None: unlimited). Its use is
/// capped at them; above its ephemeral-storage limit the kubelet evicts it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub cpu_millis: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub ephemeral_storage_bytes: Option<u64>,
}

/// The pod facts that decide whether the Cluster Autoscaler may drain its
/// node (upstream's drainability rules), besides its disruption budget.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct EvictionHints {
    /// The `cluster-autoscaler.kubernetes.io/safe-to-evict` annotation:
    /// `Some(false)` blocks the node's removal; `Some(true)` lets the pod
    /// move despite local storage or having no controller.
    pub safe_to_evict: Option<bool>,
    /// The pod mounts local storage (an emptyDir or hostPath volume).
    pub local_storage: bool,
    /// The pod has no controller (a bare pod): nothing would recreate it.
    pub bare: bool,
}

#[derive(Clone, Debug)]
pub enum ArrivalProcess {
    /// One arrival every `interval`.
    Constant { interval: SimDuration },
    /// Exponential gaps with the given mean.
    Poisson { mean_interval: SimDuration },
    /// Arrivals at these times (sorted, relative to the run start).
    Schedule { times: Vec<SimTime> },
    /// Arrivals, requests, run times and outcomes come from a pod source
    /// (`crate::source::PodSource`, attached with
    /// `Simulation::add_pod_source`); `pods` is how many the source will
    /// produce for this workload, and the job's `duration` their mean run
    /// time, both only for the memory estimate.
    Source { pods: u64 },
}

#[derive(Clone, Debug)]
pub struct JobSpec {
    pub arrival: ArrivalProcess,
    pub start: SimTime,
    /// No arrival at or after this time.
    pub stop: Option<SimTime>,
    /// At most this many arrivals.
    pub max_pods: Option<u64>,
    /// How long a pod runs once started, in nanoseconds.
    pub duration: Distribution,
    /// Probability that a pod ends Failed rather than Succeeded.
    pub failure_probability: f64,
}

#[derive(Clone, Debug)]
pub struct DeploymentSpec {
    pub replicas: u32,
    /// When the deployment is created.
    pub start: SimTime,
    /// When set, each pod is lost (evicted, phase Failed) after a lifetime
    /// drawn from this distribution (ns), and the controller replaces it.
    pub pod_lifetime: Option<Distribution>,
    /// The pods back a Service: each start and end updates its EndpointSlice,
    /// which every node's kube-proxy watches.
    pub service: bool,
    /// A PodDisruptionBudget over the deployment's pods, which drains honour.
    pub disruption_budget: Option<DisruptionBudget>,
}

/// A PodDisruptionBudget: upstream allows exactly one of the two.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DisruptionBudget {
    MaxUnavailable(IntOrPercent),
    MinAvailable(IntOrPercent),
}

impl DisruptionBudget {
    /// The budget's number, whichever of the two it is.
    pub fn value(self) -> IntOrPercent {
        match self {
            DisruptionBudget::MaxUnavailable(v) | DisruptionBudget::MinAvailable(v) => v,
        }
    }
}

/// Upstream's IntOrString as PDBs use it: a count, or a percent of the
/// desired replicas (0..=100).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    Count(u32),
    Percent(u32),
}

/// Interactive sessions (`docs/models/sessions.md`): users arrive as a
/// non-homogeneous Poisson process, each needs a dedicated pod of the
/// workload's template, waits first in first out for it to run, uses it for
/// a session, and leaves early when their patience runs out.
#[derive(Clone, Debug)]
pub struct SessionSpec {
    /// Users per second over time.
    pub arrivals: LoadShape,
    /// No user arrives before this time.
    pub start: SimTime,
    /// No user arrives at or after this time.
    pub stop: Option<SimTime>,
    /// How long a session lasts once its pod runs, in nanoseconds.
    pub length: Distribution,
    /// How long a user waits for their pod to run before leaving, in
    /// nanoseconds; None: users wait as long as it takes.
    pub patience: Option<Distribution>,
}

#[derive(Clone, Debug)]
pub enum WorkloadKind {
    Deployment(DeploymentSpec),
    Job(JobSpec),
    Session(SessionSpec),
}

#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    pub name: String,
    pub kind: WorkloadKind,
    pub template: PodTemplate,
    /// From Running to Ready (readiness probe passing), in nanoseconds;
    /// None: ready as soon as Running.
    pub readiness_delay: Option<Distribution>,
    /// Its load, what its pods do with it, and what scales it.
    pub model: WorkloadModel,
}

/// What drives a workload beyond its pod count: the load it receives, the
/// usage that load causes, and the autoscaler that changes its replicas.
/// All empty by default: pods that use nothing, a fixed replica count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadModel {
    pub load: Option<LoadSpec>,
    pub usage: Option<UsageModel>,
    pub autoscaler: Option<Autoscaler>,
}

/// The autoscaler of a deployment: an HPA, or a KEDA-style ScaledObject
/// (which owns an HPA of its own); never both.
#[derive(Clone, Debug, PartialEq)]
pub enum Autoscaler {
    Hpa(HpaSpec),
    Keda(KedaSpec),
}

/// How the scheduler chooses a node.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SchedulerMode {
    /// kube-scheduler: filter and score a sample of nodes.
    Kube,
    /// An index over free capacity; same filters, no node scan.
    Fast,
}

/// NodeResourcesFit scoring strategy.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ScoringStrategy {
    LeastAllocated,
    MostAllocated,
}

#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    pub mode: SchedulerMode,
    pub scoring: ScoringStrategy,
    /// Weight of NodeResourcesFit (upstream default 1).
    pub resources_fit_weight: i64,
    /// Weight of NodeResourcesBalancedAllocation (upstream default 1).
    pub balanced_allocation_weight: i64,
    /// Weight of TaintToleration scoring (upstream default 3).
    pub taint_toleration_weight: i64,
    /// 0 means adaptive, as upstream.
    pub percentage_of_nodes_to_score: u32,
    /// Simulated time one scheduling cycle costs per pod.
    pub cycle_base_cost: SimDuration,
    /// Additional simulated time per node evaluated in a cycle.
    pub cycle_per_node_cost: SimDuration,
    pub backoff_initial: SimDuration,
    pub backoff_max: SimDuration,
    /// Pods unschedulable this long are retried even without a cluster change.
    pub max_in_unschedulable: SimDuration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            mode: SchedulerMode::Kube,
            scoring: ScoringStrategy::LeastAllocated,
            resources_fit_weight: 1,
            balanced_allocation_weight: 1,
            taint_toleration_weight: 3,
            percentage_of_nodes_to_score: 0,
            cycle_base_cost: SimDuration::from_micros(1_000),
            cycle_per_node_cost: SimDuration::from_nanos(500),
            backoff_initial: SimDuration::from_secs(1),
            backoff_max: SimDuration::from_secs(10),
            max_in_unschedulable: SimDuration::from_secs(300),
        }
    }
}

/// Runs must end before this time: every event is a time within the run
/// plus a delay, summed with saturation, so a sum that saturates still lands
/// after the end instead of inside the run. 2^63 ns (about 292 years) is
/// also the longest duration a scenario can write (Go's `time.Duration`).
pub const END_LIMIT: SimTime = SimTime(1 << 63);

/// An inconsistency the core refuses to run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("end ({0}) must be before 2^63 ns (about 292 years)")]
    EndOutOfRange(SimTime),
    #[error("{0} must be greater than zero")]
    ZeroPeriod(&'static str),
    #[error("node pool `{0}` has zero allocatable cpu, memory or pods")]
    EmptyPool(String),
    #[error("node pool `{pool}`: min ({min}) is above max ({max})")]
    PoolMinAboveMax { pool: String, min: u32, max: u32 },
    #[error("node pool `{pool}`: count ({count}) is outside [min, max] = [{min}, {max}]")]
    PoolCountOutOfBounds {
        pool: String,
        count: u32,
        min: u32,
        max: u32,
    },
    #[error("node pool `{pool}`: price_per_hour must be finite and >= 0, found {price}")]
    BadPrice { pool: String, price: f64 },
    #[error(
        "the node pools may hold {0} nodes at once (the sum of their max), more than the \
         2^32 - 1 node ids"
    )]
    TooManyNodes(u64),
    #[error("workload `{0}`: a disruption budget's percent must be within [0, 100]")]
    BadDisruptionBudget(String),
    #[error("workload `{workload}`: {problem}")]
    BadWorkloadModel { workload: String, problem: String },
    #[error("change #{0}: no such node pool")]
    ChangeUnknownPool(usize),
    #[error("change #{0}: no such workload")]
    ChangeUnknownWorkload(usize),
    #[error("change #{index}: workload `{workload}` is a job; only deployments can be scaled")]
    ScaleOfJob { index: usize, workload: String },
    #[error(
        "change #{index}: workload `{workload}` is a session workload; only deployments can be \
         scaled"
    )]
    ScaleOfSession { index: usize, workload: String },
    #[error(
        "change #{0}: every must be greater than zero, or the change repeats at one instant \
         forever"
    )]
    ZeroRepeatInterval(usize),
    #[error("change #{0}: until is before at, so the change would never repeat")]
    UntilBeforeAt(usize),
    #[error("workload `{0}`: failure_probability must be within [0, 1]")]
    BadFailureProbability(String),
    #[error(
        "workload `{0}`: arrivals must be spaced by more than zero, or they all come at one \
         instant and time never advances"
    )]
    ZeroArrivalInterval(String),
    #[error("workload `{0}`: schedule times must be sorted")]
    UnsortedSchedule(String),
    #[error("scheduler: percentage_of_nodes_to_score must be within [0, 100]")]
    BadPercentage,
    #[error(
        "scheduler: cycle_base_cost must be greater than zero: with free cycles a pod that is \
         replaced as soon as it ends (pod_lifetime 0) is rescheduled at the same instant forever"
    )]
    FreeSchedulingCycle,
    #[error("scheduler: backoff_initial must be > 0 and not above backoff_max")]
    BadBackoff,
    #[error(
        "node_lifecycle: node_monitor_grace_period ({grace}) must be longer than \
         lease_renew_interval ({renew}): upstream requires several renewals per grace period \
         (a shorter one makes healthy nodes flap NotReady, which is not modelled)"
    )]
    GraceNotAboveLeaseRenew {
        grace: SimDuration,
        renew: SimDuration,
    },
    #[error("node_lifecycle: eviction_rate_per_s must be finite and > 0, found {0}")]
    BadEvictionRate(f64),
    #[error("node_lifecycle: secondary_eviction_rate_per_s must be finite and >= 0, found {0}")]
    BadSecondaryEvictionRate(f64),
    #[error("node_lifecycle: unhealthy_zone_threshold must be within [0, 1], found {0}")]
    BadUnhealthyZoneThreshold(f64),
    #[error("node_lifecycle: lease_cohorts must be at least 1")]
    NoLeaseCohorts,
    #[error("node failure #{0}: no such pool, or more nodes than the pool has")]
    BadFailure(usize),
    #[error("node failure rate: no such pool, or a zero mean interval")]
    BadFailureRate,
    #[error(
        "the cluster's total allocatable {0} exceeds 2^64 - 1 in its unit: the core keeps \
         cluster totals exactly"
    )]
    AllocatableOverflow(String),
    #[error(transparent)]
    ControlPlane(#[from] ControlPlaneConfigError),
}

impl SimConfig {
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.end >= END_LIMIT {
            return Err(ConfigError::EndOutOfRange(self.end));
        }
        let l = &self.node_lifecycle;
        let mut periods = vec![
            ("sample_interval", self.sample_interval),
            (
                "node_lifecycle.lease_renew_interval",
                l.lease_renew_interval,
            ),
            ("node_lifecycle.node_monitor_period", l.node_monitor_period),
        ];
        if let Some(control_plane) = &self.control_plane {
            // A request refused with 429 is retried after this; at zero it
            // would be refused again at the same instant, forever.
            periods.push((
                "control_plane.apiserver.retry_after",
                control_plane.apiserver.retry_after,
            ));
        }
        if let Some((name, _)) = periods.iter().find(|(_, d)| *d == SimDuration::ZERO) {
            return Err(ConfigError::ZeroPeriod(name));
        }
        self.node_pools.iter().try_for_each(check_pool)?;
        // Node ids are never reused, but a pool never holds more than its max
        // at once; the core sizes its id space from this sum.
        let nodes_max = self.nodes_max_total();
        if nodes_max > u64::from(u32::MAX) {
            return Err(ConfigError::TooManyNodes(nodes_max));
        }
        self.allocatable_max().map_err(|dim| {
            ConfigError::AllocatableOverflow(self.resource_names.name(dim).into())
        })?;
        for w in &self.workloads {
            match &w.kind {
                WorkloadKind::Job(job) => check_job(&w.name, job)?,
                WorkloadKind::Deployment(d) => check_budget(&w.name, d.disruption_budget)?,
                WorkloadKind::Session(session) => check_session(&w.name, session)?,
            }
        }
        for (index, change) in self.changes.iter().enumerate() {
            self.check_change(index, change)?;
        }
        for w in &self.workloads {
            self.check_model(w)?;
        }
        let a = &self.autoscaling;
        for (name, period) in [
            ("autoscaling.metrics_resolution", a.metrics_resolution),
            ("autoscaling.hpa_controller.sync_period", a.hpa.sync_period),
        ] {
            if period == SimDuration::ZERO {
                return Err(ConfigError::ZeroPeriod(name));
            }
        }
        let s = &self.scheduler;
        if s.percentage_of_nodes_to_score > 100 {
            return Err(ConfigError::BadPercentage);
        }
        // Every pod's life includes at least one cycle, and cycles run one at
        // a time, so a positive cost makes time advance however short pods live.
        if s.cycle_base_cost == SimDuration::ZERO {
            return Err(ConfigError::FreeSchedulingCycle);
        }
        if s.backoff_initial == SimDuration::ZERO || s.backoff_initial > s.backoff_max {
            return Err(ConfigError::BadBackoff);
        }
        // A failed node is detected from its last renewal plus the grace
        // period; only a grace longer than the renew interval puts that after
        // the failure (kube-controller-manager --node-monitor-grace-period:
        // "Must be N times more than kubelet's nodeStatusUpdateFrequency").
        if l.node_monitor_grace_period <= l.lease_renew_interval {
            return Err(ConfigError::GraceNotAboveLeaseRenew {
                grace: l.node_monitor_grace_period,
                renew: l.lease_renew_interval,
            });
        }
        if !(l.eviction_rate_per_s.is_finite() && l.eviction_rate_per_s > 0.0) {
            return Err(ConfigError::BadEvictionRate(l.eviction_rate_per_s));
        }
        let secondary = l.secondary_eviction_rate_per_s;
        if !(secondary.is_finite() && secondary >= 0.0) {
            return Err(ConfigError::BadSecondaryEvictionRate(secondary));
        }
        let threshold = l.unhealthy_zone_threshold;
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ConfigError::BadUnhealthyZoneThreshold(threshold));
        }
        if l.lease_cohorts == 0 {
            return Err(ConfigError::NoLeaseCohorts);
        }
        if self.node_failure_rates.iter().any(|r| {
            r.pool as usize >= self.node_pools.len() || r.mean_interval == SimDuration::ZERO
        }) {
            return Err(ConfigError::BadFailureRate);
        }
        for (i, f) in self.node_failures.iter().enumerate() {
            let pool = self.node_pools.get(f.pool as usize);
            // Nodes added during the run may fail too, up to the pool's max.
            if pool.is_none_or(|p| f.count > p.max) {
                return Err(ConfigError::BadFailure(i));
            }
        }
        if let Some(control_plane) = &self.control_plane {
            control_plane.check()?;
        }
        Ok(())
    }

    /// What the usage models and autoscalers rely on: deployments only,
    /// min within max, metrics read from workloads that produce them,
    /// periods above zero.
    fn check_model(&self, w: &WorkloadSpec) -> Result<(), ConfigError> {
        let bad = |problem: String| ConfigError::BadWorkloadModel {
            workload: w.name.clone(),
            problem,
        };
        let model = &w.model;
        let is_job = matches!(w.kind, WorkloadKind::Job(_));
        if is_job && (model.usage.is_some() || model.autoscaler.is_some()) {
            return Err(bad("a job has no replicas to serve load or to scale".into()));
        }
        let is_session = matches!(w.kind, WorkloadKind::Session(_));
        if is_session && *model != WorkloadModel::default() {
            return Err(bad(
                "a session workload's users arrive by its own arrivals; it has no load, usage \
                 model or autoscaler"
                    .into(),
            ));
        }
        if let Some(UsageModel::Executions(e)) = &model.usage {
            if e.max_concurrent == 0 {
                return Err(bad("max_concurrent must be at least 1".into()));
            }
        }
        let produces = |workload: WorkloadId, metric: CustomMetric| {
            self.workloads
                .get(workload as usize)
                .and_then(|w| w.model.usage.as_ref())
                .is_some_and(|u| u.produces(metric))
        };
        let (min, max, metrics, behavior) = match &model.autoscaler {
            None => return Ok(()),
            Some(Autoscaler::Hpa(h)) => (
                h.min_replicas,
                h.max_replicas,
                h.metrics.clone(),
                &h.behavior,
            ),
            Some(Autoscaler::Keda(k)) => {
                if k.polling_interval == SimDuration::ZERO {
                    return Err(bad("polling_interval must be greater than zero".into()));
                }
                if k.idle_replicas
                    .is_some_and(|idle| idle >= k.min_replicas.max(1))
                {
                    return Err(bad("idle_replicas must be below min_replicas".into()));
                }
                let hpa = crate::autoscale::keda::hpa_for(k);
                (k.min_replicas, k.max_replicas, hpa.metrics, &k.behavior)
            }
        };
        if min > max || max == 0 {
            return Err(bad(format!(
                "min_replicas {min} and max_replicas {max}: need 0 < max and min <= max"
            )));
        }
        if metrics.is_empty() {
            return Err(bad("an autoscaler needs at least one metric".into()));
        }
        let own = self
            .workloads
            .iter()
            .position(|x| std::ptr::eq(x, w))
            .expect("w is one of the workloads") as WorkloadId;
        for metric in &metrics {
            let ok = match *metric {
                MetricSpec::Resource { .. } => model.usage.is_some(),
                MetricSpec::Pods { metric, .. } => produces(own, metric),
                MetricSpec::Object {
                    metric, workload, ..
                }
                | MetricSpec::External {
                    metric, workload, ..
                } => produces(workload, metric),
            };
            if !ok {
                return Err(bad(format!("{metric:?}: no workload produces this metric")));
            }
        }
        if let Some(b) = behavior {
            for rules in [&b.scale_up, &b.scale_down] {
                if rules
                    .policies
                    .iter()
                    .any(|p| p.period == SimDuration::ZERO || p.value <= 0)
                {
                    return Err(bad(
                        "a scaling policy needs a period and a value above zero".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_change(&self, index: usize, change: &ScheduledChange) -> Result<(), ConfigError> {
        if let Some(repeat) = &change.repeat {
            if repeat.every == SimDuration::ZERO {
                return Err(ConfigError::ZeroRepeatInterval(index));
            }
            if repeat.until < change.at {
                return Err(ConfigError::UntilBeforeAt(index));
            }
        }
        if let ChangeAction::Scale { workload, .. } = change.action {
            let w = self
                .workloads
                .get(workload as usize)
                .ok_or(ConfigError::ChangeUnknownWorkload(index))?;
            match w.kind {
                WorkloadKind::Job(_) => {
                    return Err(ConfigError::ScaleOfJob {
                        index,
                        workload: w.name.clone(),
                    })
                }
                WorkloadKind::Session(_) => {
                    return Err(ConfigError::ScaleOfSession {
                        index,
                        workload: w.name.clone(),
                    })
                }
                WorkloadKind::Deployment(_) => {}
            }
        }
        match change.action.pool() {
            Some(pool) if pool as usize >= self.node_pools.len() => {
                Err(ConfigError::ChangeUnknownPool(index))
            }
            _ => Ok(()),
        }
    }

    /// The cluster's allocatable at the start of the run (every pool at its
    /// `count`), summed over every node; Err(dimension) when a sum does not
    /// fit a u64 (the bookkeeping of requests relies on it).
    pub fn allocatable_at_start(&self) -> Result<ResourceVec, usize> {
        allocatable_sum(self.node_pools.iter().map(|p| (p, p.count)))
    }

    /// The most allocatable the cluster can hold at once (every pool at its
    /// `max`); `check` refuses a configuration where this overflows, so no
    /// size the pools can reach does.
    pub fn allocatable_max(&self) -> Result<ResourceVec, usize> {
        allocatable_sum(self.node_pools.iter().map(|p| (p, p.max)))
    }

    /// Nodes at the start of the run.
    pub fn nodes_total(&self) -> u64 {
        self.node_pools.iter().map(|p| u64::from(p.count)).sum()
    }

    /// The most nodes the pools can hold at once: the sum of their `max`.
    /// The most node ids a run can create: the starting nodes plus every
    /// node the scripted changes ask for (ids are never reused, so a node
    /// deleted and replaced takes two).
    pub fn node_ids_upper_bound(&self) -> u128 {
        let added: u128 = self
            .changes
            .iter()
            .map(|c| match c.action {
                ChangeAction::AddNodes { count, .. } => u128::from(count) * c.occurrences(self.end),
                _ => 0,
            })
            .sum();
        u128::from(self.nodes_total()) + added
    }

    pub fn nodes_max_total(&self) -> u64 {
        self.node_pools.iter().map(|p| u64::from(p.max)).sum()
    }
}

/// The allocatable of `nodes` nodes of each pool; Err(dimension) on overflow.
fn allocatable_sum<'p>(
    pools: impl Iterator<Item = (&'p NodePoolSpec, u32)>,
) -> Result<ResourceVec, usize> {
    let mut total = ResourceVec::ZERO;
    for (pool, nodes) in pools {
        for dim in 0..NUM_RESOURCES {
            total.0[dim] = pool.allocatable.0[dim]
                .checked_mul(u64::from(nodes))
                .and_then(|sum| sum.checked_add(total.0[dim]))
                .ok_or(dim)?;
        }
    }
    Ok(total)
}

fn check_pool(pool: &NodePoolSpec) -> Result<(), ConfigError> {
    use crate::resources::{CPU, MEMORY, PODS};
    if [CPU, MEMORY, PODS]
        .iter()
        .any(|&i| pool.allocatable.0[i] == 0)
    {
        return Err(ConfigError::EmptyPool(pool.name.clone()));
    }
    let (min, count, max) = (pool.min, pool.count, pool.max);
    if min > max {
        return Err(ConfigError::PoolMinAboveMax {
            pool: pool.name.clone(),
            min,
            max,
        });
    }
    if !(min..=max).contains(&count) {
        return Err(ConfigError::PoolCountOutOfBounds {
            pool: pool.name.clone(),
            count,
            min,
            max,
        });
    }
    if !(pool.price_per_hour.is_finite() && pool.price_per_hour >= 0.0) {
        return Err(ConfigError::BadPrice {
            pool: pool.name.clone(),
            price: pool.price_per_hour,
        });
    }
    Ok(())
}

/// Upstream's PDB validation refuses percents above 100%.
fn check_budget(name: &str, budget: Option<DisruptionBudget>) -> Result<(), ConfigError> {
    match budget.map(DisruptionBudget::value) {
        Some(IntOrPercent::Percent(p)) if p > 100 => {
            Err(ConfigError::BadDisruptionBudget(name.to_string()))
        }
        _ => Ok(()),
    }
}

fn check_job(name: &str, job: &JobSpec) -> Result<(), ConfigError> {
    if !(0.0..=1.0).contains(&job.failure_probability) {
        return Err(ConfigError::BadFailureProbability(name.to_string()));
    }
    match &job.arrival {
        ArrivalProcess::Constant { interval: gap }
        | ArrivalProcess::Poisson { mean_interval: gap }
            if *gap == SimDuration::ZERO =>
        {
            Err(ConfigError::ZeroArrivalInterval(name.to_string()))
        }
        // A later arrival before an earlier one would be an event in the past.
        ArrivalProcess::Schedule { times } if !times.is_sorted() => {
            Err(ConfigError::UnsortedSchedule(name.to_string()))
        }
        _ => Ok(()),
    }
}

/// Arrivals stop after they start. The shape and the distributions were
/// checked by their constructors.
fn check_session(name: &str, session: &SessionSpec) -> Result<(), ConfigError> {
    if session.stop.is_some_and(|stop| stop <= session.start) {
        return Err(ConfigError::BadWorkloadModel {
            workload: name.to_string(),
            problem: "a session workload's stop must be after its start".into(),
        });
    }
    Ok(())
}

/// A run for the core's unit tests: these pools and workloads from 0 to
/// `end_s`, sampled every 10 s, seed 1, upstream defaults elsewhere; tests
/// change the fields they are about.
#[cfg(test)]
impl SimConfig {
    pub(crate) fn for_tests(
        node_pools: Vec<NodePoolSpec>,
        workloads: Vec<WorkloadSpec>,
        end_s: u64,
    ) -> SimConfig {
        SimConfig {
            name: "test".into(),
            seed: 1,
            end: SimTime::ZERO + SimDuration::from_secs(end_s),
            sample_interval: SimDuration::from_secs(10),
            resource_names: ResourceNames::new(Vec::new()).expect("no extended resources"),
            node_pools,
            workloads,
            scheduler: SchedulerConfig::default(),
            node_lifecycle: NodeLifecycleConfig::default(),
            node_failures: Vec::new(),
            node_failure_rates: Vec::new(),
            record_pods: false,
            control_plane: None,
            changes: Vec::new(),
            autoscaling: AutoscalingConfig::default(),
            node_autoscaler: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::config::ControlPlaneConfig;
    use crate::resources::{CPU, MEMORY, PODS};

    fn secs(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    fn template() -> PodTemplate {
        let mut requests: [Request; NUM_RESOURCES] = std::array::from_fn(|_| Request::Fixed(0));
        requests[CPU] = Request::Fixed(1000);
        requests[PODS] = Request::Fixed(1);
        PodTemplate {
            requests,
            priority: 0,
            labels: vec![],
            node_selector: vec![],
            node_affinity: vec![],
            tolerations: vec![],
            anti_affinity: vec![],
            termination_grace_period: DEFAULT_TERMINATION_GRACE_PERIOD,
            eviction: EvictionHints::default(),
            limits: Default::default(),
            ephemeral_storage_write_bytes_per_s: 0,
        }
    }

    fn job(arrival: ArrivalProcess) -> WorkloadSpec {
        WorkloadSpec {
            name: "j".into(),
            kind: WorkloadKind::Job(JobSpec {
                arrival,
                start: SimTime::ZERO,
                stop: None,
                max_pods: None,
                duration: Distribution::constant(1e9).unwrap(),
                failure_probability: 0.0,
            }),
            template: template(),
            readiness_delay: None,
            model: Default::default(),
        }
    }

    /// One pool of two nodes and a deployment of one pod that lives 0 s.
    fn config() -> SimConfig {
        let mut allocatable = ResourceVec::ZERO;
        allocatable.0[CPU] = 4000;
        allocatable.0[MEMORY] = 1 << 34;
        allocatable.0[PODS] = 110;
        let pool = NodePoolSpec {
            name: "p".into(),
            count: 2,
            min: 0,
            max: 2,
            price_per_hour: 0.0,
            provisioning_delay: DEFAULT_PROVISIONING_DELAY,
            allocatable,
            labels: vec![],
            taints: vec![],
            daemonset_requests: ResourceVec::ZERO,
        };
        let deployment = WorkloadSpec {
            name: "w".into(),
            kind: WorkloadKind::Deployment(DeploymentSpec {
                replicas: 1,
                start: SimTime::ZERO,
                pod_lifetime: Some(Distribution::constant(0.0).unwrap()),
                service: false,
                disruption_budget: None,
            }),
            template: template(),
            readiness_delay: None,
            model: Default::default(),
        };
        SimConfig::for_tests(vec![pool], vec![deployment], 60)
    }

    #[test]
    fn the_base_config_passes() {
        assert_eq!(config().check(), Ok(()));
    }

    #[test]
    fn a_cluster_allocatable_total_past_u64_is_refused() {
        let mut c = config();
        c.node_pools[0].allocatable.0[MEMORY] = u64::MAX / 2 + 1;
        assert_eq!(
            c.check(),
            Err(ConfigError::AllocatableOverflow("memory".into()))
        );
        c.node_pools[0].count = 1;
        assert_eq!(
            c.check(),
            Err(ConfigError::AllocatableOverflow("memory".into())),
            "two nodes at max overflow even when one starts"
        );
        c.node_pools[0].max = 1;
        assert_eq!(c.check(), Ok(()));
        assert_eq!(
            c.allocatable_at_start().unwrap().0[MEMORY],
            u64::MAX / 2 + 1
        );
    }

    #[test]
    fn pool_bounds_must_hold_the_starting_count() {
        let mut c = config();
        c.node_pools[0].min = 3;
        assert_eq!(
            c.check(),
            Err(ConfigError::PoolMinAboveMax {
                pool: "p".into(),
                min: 3,
                max: 2
            })
        );
        c.node_pools[0].max = 5;
        assert_eq!(
            c.check(),
            Err(ConfigError::PoolCountOutOfBounds {
                pool: "p".into(),
                count: 2,
                min: 3,
                max: 5
            })
        );
        c.node_pools[0].min = 0;
        c.node_pools[0].max = 1;
        assert!(matches!(
            c.check(),
            Err(ConfigError::PoolCountOutOfBounds { count: 2, .. })
        ));
        // A pool may start empty; zero allocatable is still refused.
        c.node_pools[0].count = 0;
        assert_eq!(c.check(), Ok(()));
        assert_eq!((c.nodes_total(), c.nodes_max_total()), (0, 1));
        c.node_pools[0].allocatable.0[CPU] = 0;
        assert_eq!(c.check(), Err(ConfigError::EmptyPool("p".into())));
    }

    #[test]
    fn a_price_must_be_finite_and_not_negative() {
        for price in [-0.01, f64::NAN, f64::INFINITY] {
            let mut c = config();
            c.node_pools[0].price_per_hour = price;
            assert!(
                matches!(c.check(), Err(ConfigError::BadPrice { .. })),
                "{price}"
            );
        }
        let mut c = config();
        c.node_pools[0].price_per_hour = 0.0;
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn the_pools_at_max_must_fit_the_node_ids() {
        let mut c = config();
        // Small enough nodes that 2^32 of them stay within the u64 totals.
        c.node_pools[0].allocatable.0[MEMORY] = 1 << 20;
        c.node_pools[0].max = u32::MAX;
        assert_eq!(c.check(), Ok(()));
        let mut second = c.node_pools[0].clone();
        second.name = "q".into();
        (second.count, second.max) = (1, 1);
        c.node_pools.push(second);
        assert_eq!(
            c.check(),
            Err(ConfigError::TooManyNodes(u64::from(u32::MAX) + 1))
        );
    }

    fn with_budget(budget: DisruptionBudget) -> SimConfig {
        let mut c = config();
        if let WorkloadKind::Deployment(d) = &mut c.workloads[0].kind {
            d.disruption_budget = Some(budget);
        }
        c
    }

    #[test]
    fn a_disruption_budget_percent_above_100_is_refused() {
        for budget in [
            DisruptionBudget::MaxUnavailable(IntOrPercent::Percent(101)),
            DisruptionBudget::MinAvailable(IntOrPercent::Percent(101)),
        ] {
            assert_eq!(
                with_budget(budget).check(),
                Err(ConfigError::BadDisruptionBudget("w".into()))
            );
        }
        for budget in [
            DisruptionBudget::MinAvailable(IntOrPercent::Percent(100)),
            DisruptionBudget::MaxUnavailable(IntOrPercent::Count(1000)),
        ] {
            assert_eq!(with_budget(budget).check(), Ok(()));
        }
    }

    fn with_change(at_s: u64, repeat: Option<Repeat>, action: ChangeAction) -> SimConfig {
        let mut c = config();
        c.changes.push(ScheduledChange {
            at: SimTime::ZERO + secs(at_s),
            repeat,
            action,
        });
        c
    }

    #[test]
    fn changes_must_name_existing_targets() {
        let add = |pool| ChangeAction::AddNodes { pool, count: 1 };
        assert_eq!(with_change(5, None, add(0)).check(), Ok(()));
        assert_eq!(
            with_change(5, None, add(1)).check(),
            Err(ConfigError::ChangeUnknownPool(0))
        );
        let scale = |workload| ChangeAction::Scale {
            workload,
            replicas: 4,
        };
        assert_eq!(with_change(5, None, scale(0)).check(), Ok(()));
        assert_eq!(
            with_change(5, None, scale(1)).check(),
            Err(ConfigError::ChangeUnknownWorkload(0))
        );
        let mut c = with_change(5, None, scale(0));
        c.workloads = vec![job(ArrivalProcess::Constant { interval: secs(1) })];
        assert_eq!(
            c.check(),
            Err(ConfigError::ScaleOfJob {
                index: 0,
                workload: "j".into()
            })
        );
    }

    #[test]
    fn endless_loop_at_time_0_a_change_repeating_every_0s_is_refused() {
        let drain = ChangeAction::DrainNodes { pool: 0, count: 1 };
        let repeat = |every_s, until_s| {
            Some(Repeat {
                every: secs(every_s),
                until: SimTime::ZERO + secs(until_s),
            })
        };
        assert_eq!(with_change(5, repeat(1, 30), drain).check(), Ok(()));
        assert_eq!(
            with_change(5, repeat(0, 30), drain).check(),
            Err(ConfigError::ZeroRepeatInterval(0))
        );
        assert_eq!(
            with_change(5, repeat(1, 4), drain).check(),
            Err(ConfigError::UntilBeforeAt(0))
        );
        assert_eq!(with_change(5, repeat(1, 5), drain).check(), Ok(()));
    }

    #[test]
    fn endless_loop_at_time_0_free_scheduling_cycles_are_refused() {
        let mut c = config();
        c.scheduler.cycle_base_cost = SimDuration::ZERO;
        c.scheduler.cycle_per_node_cost = SimDuration::ZERO;
        assert_eq!(c.check(), Err(ConfigError::FreeSchedulingCycle));
        // A per-node cost alone is not enough: a cycle may evaluate no node.
        c.scheduler.cycle_per_node_cost = SimDuration::from_nanos(500);
        assert_eq!(c.check(), Err(ConfigError::FreeSchedulingCycle));
    }

    #[test]
    fn endless_loop_at_time_0_zero_arrival_gaps_are_refused() {
        for arrival in [
            ArrivalProcess::Constant {
                interval: SimDuration::ZERO,
            },
            ArrivalProcess::Poisson {
                mean_interval: SimDuration::ZERO,
            },
        ] {
            let mut c = config();
            c.workloads = vec![job(arrival)];
            assert_eq!(c.check(), Err(ConfigError::ZeroArrivalInterval("j".into())));
        }
        let mut c = config();
        c.workloads = vec![job(ArrivalProcess::Schedule {
            times: vec![SimTime::ZERO + secs(5), SimTime::ZERO + secs(1)],
        })];
        assert_eq!(c.check(), Err(ConfigError::UnsortedSchedule("j".into())));
    }

    #[test]
    fn endless_loop_at_time_0_a_zero_retry_after_is_refused() {
        let mut c = config();
        let mut control_plane = ControlPlaneConfig::default();
        control_plane.apiserver.retry_after = SimDuration::ZERO;
        c.control_plane = Some(control_plane);
        assert_eq!(
            c.check(),
            Err(ConfigError::ZeroPeriod(
                "control_plane.apiserver.retry_after"
            ))
        );
    }

    #[test]
    fn zone_disruption_parameters_are_checked() {
        let mut c = config();
        c.node_lifecycle.secondary_eviction_rate_per_s = 0.0;
        c.node_lifecycle.unhealthy_zone_threshold = 1.0;
        assert_eq!(
            c.check(),
            Ok(()),
            "0 stops a partial zone; 1 needs every node"
        );
        c.node_lifecycle.secondary_eviction_rate_per_s = f64::NAN;
        assert!(matches!(
            c.check(),
            Err(ConfigError::BadSecondaryEvictionRate(_))
        ));
        c.node_lifecycle.secondary_eviction_rate_per_s = 0.01;
        c.node_lifecycle.unhealthy_zone_threshold = -0.1;
        assert_eq!(c.check(), Err(ConfigError::BadUnhealthyZoneThreshold(-0.1)));
        c.node_lifecycle.unhealthy_zone_threshold = 0.55;
        c.node_lifecycle.lease_cohorts = 0;
        assert_eq!(c.check(), Err(ConfigError::NoLeaseCohorts));
    }

    #[test]
    fn failure_never_noticed_grace_not_above_lease_renew_is_refused() {
        let mut c = config();
        c.node_lifecycle.node_monitor_grace_period = secs(1);
        assert_eq!(
            c.check(),
            Err(ConfigError::GraceNotAboveLeaseRenew {
                grace: secs(1),
                renew: secs(10)
            })
        );
        c.node_lifecycle.node_monitor_grace_period = secs(10);
        assert!(c.check().is_err(), "equal is refused too");
        c.node_lifecycle.node_monitor_grace_period = secs(11);
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn periods_that_divide_or_repeat_must_not_be_zero() {
        let mut c = config();
        c.node_lifecycle.node_monitor_period = SimDuration::ZERO;
        assert_eq!(
            c.check(),
            Err(ConfigError::ZeroPeriod(
                "node_lifecycle.node_monitor_period"
            ))
        );
        let mut c = config();
        c.sample_interval = SimDuration::ZERO;
        assert_eq!(c.check(), Err(ConfigError::ZeroPeriod("sample_interval")));
        let mut c = config();
        c.node_lifecycle.eviction_rate_per_s = f64::NAN;
        assert!(matches!(c.check(), Err(ConfigError::BadEvictionRate(_))));
    }

    #[test]
    fn an_end_past_the_time_range_is_refused() {
        let mut c = config();
        c.end = SimTime::MAX;
        assert_eq!(c.check(), Err(ConfigError::EndOutOfRange(SimTime::MAX)));
        c.end = SimTime(END_LIMIT.0 - 1);
        assert_eq!(c.check(), Ok(()));
    }
}

//! Run results the core hands to writers: timeline samples, pod records,
//! the summary and the control plane's results.

use crate::histogram::LatencyHistogram;
use crate::ids::{NodeId, PoolId, WorkloadId};
use crate::pod_phase::PodPhase;
use crate::time::{SimDuration, SimTime};

/// One timeline row: state at `time`, activity over the interval ending at `time`.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineSample {
    pub time: SimTime,
    /// Nodes in the cluster: every state but Deleted.
    pub nodes_total: u64,
    pub nodes_ready: u64,
    pub nodes_provisioning: u64,
    pub nodes_not_ready: u64,
    pub nodes_cordoned: u64,
    pub nodes_draining: u64,
    pub pods_pending: u64,
    pub pods_running: u64,
    pub pods_succeeded: u64,
    pub pods_failed: u64,
    /// Pending pods whose last scheduling attempt failed.
    pub pods_unschedulable: u64,
    pub cpu_requested_millis: u64,
    pub cpu_allocatable_millis: u64,
    pub memory_requested_bytes: u64,
    pub memory_allocatable_bytes: u64,
    pub scheduling_attempts: u64,
    pub binds: u64,
    /// Creation-to-bind latency of the pods bound in the interval.
    pub scheduling_latency_p50: Option<SimDuration>,
    pub scheduling_latency_p99: Option<SimDuration>,
}

/// One pod's history, for `pods.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodRecord {
    pub id: u32,
    pub workload: WorkloadId,
    pub created: SimTime,
    pub bound: Option<SimTime>,
    pub started: Option<SimTime>,
    pub finished: Option<SimTime>,
    pub node: Option<NodeId>,
    pub phase: PodPhase,
}

/// Pods of one workload left pending for one reason at the end of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnschedulableGroup {
    pub workload: String,
    pub pods: u64,
    /// True when no node of any pool could ever hold the pod.
    pub never_fits: bool,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub scenario: String,
    pub seed: u64,
    pub simulated_span: SimDuration,
    pub nodes_total: u64,
    pub pods_total: u64,
    pub pods_pending: u64,
    pub pods_running: u64,
    pub pods_succeeded: u64,
    pub pods_failed: u64,
    pub events_processed: u64,
    pub scheduling_attempts: u64,
    pub binds: u64,
    /// Nodes that failed (each failure of the same node counts).
    pub node_failures: u64,
    /// Pods deleted by taint-based eviction from unreachable nodes.
    pub pods_evicted: u64,
    /// Nodes added and deleted during the run (by controllers).
    pub nodes_added: u64,
    pub nodes_deleted: u64,
    /// Controller actions applied, and refused by the model (a pool at its
    /// max, a node already gone, ...).
    pub controller_actions_applied: u64,
    pub controller_actions_refused: u64,
    /// Per pool, in scenario order.
    pub node_pools: Vec<PoolSummary>,
    /// What the node autoscaler did, when the scenario has one.
    pub node_autoscaler: Option<NodeAutoscalerSummary>,
    /// None when no pod can use more than it requests.
    pub node_pressure: Option<NodePressureSummary>,
    /// Workloads with a usage model or an autoscaler, in scenario order.
    pub workloads: Vec<WorkloadSummary>,
    /// Creation-to-bind latency over the whole run.
    pub scheduling_latency: LatencyHistogram,
    pub unschedulable: Vec<UnschedulableGroup>,
    /// What each pod source (a trace) reports: rows read, censored, skipped.
    pub sources: Vec<crate::source::SourceReport>,
}

/// One node pool over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSummary {
    pub name: String,
    /// Nodes in the pool at the end (every state but Deleted).
    pub nodes_at_end: u64,
    /// Node-hours of the pool's nodes, from their request to their deletion
    /// (a provider bills a machine from its launch).
    pub node_hours: f64,
    /// `node_hours` times the pool's `price_per_hour`.
    pub cost: f64,
}

/// Nodes of one pool at one sample, for `node_pools.csv`; only pools with
/// nodes are listed.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSample {
    pub time: SimTime,
    pub pool: u32,
    /// Every state but Deleted.
    pub nodes: u64,
    pub nodes_ready: u64,
    /// The pool's nodes at its price: what it costs per hour now.
    pub cost_per_hour: f64,
}

/// What a node autoscaler faces at one sample (`node_autoscaler.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeAutoscalerSample {
    pub time: SimTime,
    /// Pending pods whose last scheduling attempt failed.
    pub pods_unschedulable: u64,
    /// Of those, the ones the autoscaler found no node group (or NodePool)
    /// would take: no scale-up helps them.
    pub pods_no_group: u64,
    /// Nodes asked for and not registered yet.
    pub nodes_provisioning: u64,
    /// Every pool's nodes at its price.
    pub cost_per_hour: f64,
}

/// One component's load over the run, for the `bottlenecks` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Bottleneck {
    /// `store/<name>`, `apiserver`, `scheduler`.
    pub component: String,
    /// What saturates: `leader cpu`, `apply`, `quota`, `mutating in-flight`, ...
    pub resource: String,
    /// Highest demand over capacity seen in one sample interval (1.0 = saturated; may exceed 1).
    pub peak_utilization: f64,
    /// End of the interval where the peak was seen.
    pub peak_at: SimTime,
    /// End of the first interval whose demand reached capacity, if any.
    pub first_saturated: Option<SimTime>,
}

/// One time series of `control_plane.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesName {
    /// `store/<name>`, `apiserver`, `scheduler`.
    pub component: String,
    /// Metric with its unit last, e.g. `writes_per_s`, `commit_p99_ms`.
    pub metric: String,
}

/// Control-plane metrics at every sample time: `values[row][series]`
/// (None when undefined, e.g. a latency quantile over no writes).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ControlPlaneTimeline {
    pub series: Vec<SeriesName>,
    pub times: Vec<SimTime>,
    pub values: Vec<Vec<Option<f64>>>,
}

/// Totals of one store over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreSummary {
    pub name: String,
    /// The kinds routed to it.
    pub kinds: Vec<String>,
    pub writes: u64,
    pub bytes_written: u64,
    /// Writes refused (NOSPACE, too large).
    pub rejected: u64,
    pub batches: u64,
    pub db_size_bytes: u64,
    /// When the NOSPACE alarm was first raised.
    pub nospace_alarm_at: Option<SimTime>,
    /// Submission-to-acknowledgement latency of every accepted write.
    pub commit_latency: LatencyHistogram,
}

/// Totals of the apiserver replicas over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiServerSummary {
    pub replicas: u32,
    /// Requests admitted, by `verb kind[/subresource]`, in a fixed order.
    pub requests: Vec<(String, u64)>,
    /// Requests refused with 429 (each retry that is refused again counts).
    pub rejected_429: u64,
    pub watch_events_sent: u64,
    pub watch_bytes_sent: u64,
}

/// What the control plane did, when the scenario models one.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlPlaneOutput {
    pub timeline: ControlPlaneTimeline,
    /// Saturated components first (earliest first), then by peak utilization.
    pub bottlenecks: Vec<Bottleneck>,
    pub stores: Vec<StoreSummary>,
    pub apiserver: ApiServerSummary,
    /// Pod creations or bindings refused because a store raised NOSPACE.
    pub pod_writes_refused_nospace: u64,
    /// Creation to the kubelet's Running status being stored, for started pods.
    pub pod_startup_latency: LatencyHistogram,
}

/// Everything a run produced, ready for the writers.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub summary: RunSummary,
    /// Per sample, each workload with a usage model or an autoscaler.
    pub workload_timeline: Vec<WorkloadSample>,
    /// Every autoscaler decision that changed, or wanted to change, a count.
    pub decisions: Vec<Decision>,
    pub timeline: Vec<TimelineSample>,
    /// Per sample, the nodes of each pool that has any.
    pub pool_timeline: Vec<PoolSample>,
    /// Per sample, when the scenario has a node autoscaler.
    pub node_autoscaler_timeline: Vec<NodeAutoscalerSample>,
    pub workload_names: Vec<String>,
    pub node_pool_names: Vec<String>,
    /// Present when the run was asked to record pods.
    pub pods: Option<Vec<PodRecord>>,
    /// Present when the scenario models the control plane.
    pub control_plane: Option<ControlPlaneOutput>,
    /// The node-lifecycle controller's view at every sample (leases, zone
    /// states, taint rates); present when a lease cohort went stale or a
    /// zone left the normal state during the run.
    pub node_lifecycle: Option<ControlPlaneTimeline>,
}

/// A modelled or autoscaled workload at one sample. Fields that do not
/// apply to its usage model are None.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSample {
    pub time: SimTime,
    pub workload: WorkloadId,
    /// The load's rate now, per second.
    pub load_per_s: Option<f64>,
    pub replicas_desired: u32,
    /// Pods not ended and not terminating.
    pub replicas_current: u32,
    pub replicas_ready: u32,
    /// A ready pod's CPU and memory as metrics-server last scraped them.
    pub cpu_per_replica_millis: Option<f64>,
    pub memory_per_replica_bytes: Option<f64>,
    /// Requests (service) or executions (workers) waiting now.
    pub queue_length: Option<f64>,
    pub running_executions: Option<u64>,
    /// A service: the response time of a request arriving now.
    pub latency_ms: Option<f64>,
    /// Workers: queue waits of the executions started since the last sample.
    pub wait_p50_ms: Option<f64>,
    pub wait_p99_ms: Option<f64>,
    /// A service: requests dropped since the start.
    pub dropped_total: Option<f64>,
}

/// What a modelled or autoscaled workload did over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSummary {
    pub name: String,
    /// "hpa" or "keda"; None for a workload with a usage model only.
    pub autoscaler: Option<&'static str>,
    /// ∫ pods not ended dt (terminating ones included: they hold their node).
    pub replica_seconds: f64,
    pub scale_ups: u64,
    pub scale_downs: u64,
    pub requests: Option<RequestSummary>,
    pub executions: Option<ExecutionSummary>,
    /// A session workload's users.
    pub sessions: Option<SessionSummary>,
}

/// A session workload's users over the run (`docs/models/sessions.md`):
/// `arrived` = `completed` + `abandoned` + `waiting_at_end` +
/// `running_at_end`, a requeued user counted once.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSummary {
    pub arrived: u64,
    /// Users whose first pod started (served).
    pub started: u64,
    pub completed: u64,
    /// Users who left before their pod started.
    pub abandoned: u64,
    /// Sessions lost mid-way (node failure, eviction), their users queued
    /// again at the front.
    pub requeued: u64,
    pub waiting_at_end: u64,
    pub running_at_end: u64,
    /// Served users' waits, from arrival to their first pod's start.
    pub wait: LatencyHistogram,
    /// ∫ `nvidia.com/gpu` requested by the workload's started pods dt, in
    /// hours (0 when the scenario declares no such resource).
    pub gpu_hours_used: f64,
    /// The cluster's GPU-hours: every pool's node-hours × its allocatable
    /// `nvidia.com/gpu` (the same for every session workload).
    pub gpu_hours_paid: f64,
}

/// A service's requests over the run (fluid totals).
#[derive(Clone, Debug, PartialEq)]
pub struct RequestSummary {
    pub arrived: f64,
    pub served: f64,
    pub dropped: f64,
    /// Mean queue wait of the requests served or still queued (Little's law:
    /// ∫ queue dt over the requests that entered it).
    pub wait_mean_ms: f64,
}

/// Execution workers over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionSummary {
    pub arrived: u64,
    pub completed: u64,
    pub requeued: u64,
    pub queued_at_end: u64,
    pub wait: LatencyHistogram,
    /// Waits of executions that arrived while no worker was ready.
    pub cold_start_wait: LatencyHistogram,
    /// The executions ran as a fluid (their peak rate is above
    /// `fluid_above_per_s`): counts are the fluid's, rounded, and the two
    /// histograms are empty (only `wait_mean_ms` is known).
    pub fluid: bool,
    pub wait_mean_ms: f64,
}

/// What the node autoscaler did over the run (`summary.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeAutoscalerSummary {
    pub controller: String,
    /// Scale-ups asked for, and the nodes they asked for.
    pub scale_ups: u64,
    pub nodes_added: u64,
    /// Empty nodes deleted, and non-empty ones drained, by scale-down.
    pub nodes_removed_empty: u64,
    pub nodes_drained: u64,
    /// Drains that outlasted their time and ended in a forced delete.
    pub drain_timeouts: u64,
    /// Nodes given up on for not registering within the provision time.
    pub provision_timeouts: u64,
    /// Distinct pending pods that fit no node group's template node.
    pub pods_no_group: u64,
    /// Times a node under the threshold was found unremovable for a new reason.
    pub unremovable_reports: u64,
    /// Karpenter-like provisioner: nodes replaced by a cheaper one, nodes
    /// expired, and spot interruptions.
    pub nodes_replaced: u64,
    pub nodes_expired: u64,
    pub spot_interruptions: u64,
}

/// The kubelets' node-pressure evictions over the run (`summary.json`).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct NodePressureSummary {
    /// Pods evicted because their node met the memory or the nodefs signal.
    pub evictions_memory: u64,
    pub evictions_disk: u64,
    /// Pods evicted for using more ephemeral storage than their limit.
    pub evictions_over_limit: u64,
    /// Times a node's MemoryPressure or DiskPressure condition came on.
    pub conditions_raised: u64,
    /// The most nodes under a pressure condition at one pass.
    pub nodes_under_pressure_max: u64,
    /// Node-hours under each condition.
    pub memory_pressure_node_hours: f64,
    pub disk_pressure_node_hours: f64,
}

/// One autoscaler decision, with what it saw and why it chose its count:
/// a row of `decisions.csv`. A workload autoscaler's counts are replicas; a
/// node autoscaler's are the nodes of the target's pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub at: SimTime,
    /// The controller's name (`hpa/web`, `keda/workers`, `cluster-autoscaler`).
    pub controller: String,
    /// What was decided: `scale` (a workload's replicas), `scale_up`,
    /// `scale_down`, `unremovable`, `no_scale_up`; Karpenter's `launch`,
    /// `consolidate_delete`, `consolidate_replace`, `expire`,
    /// `spot_interruption`.
    pub action: &'static str,
    pub target: DecisionTarget,
    /// What the decision read: each metric as `name=current/target` in the
    /// spec's order, or a node autoscaler's pods and utilization.
    pub inputs: String,
    pub current: u32,
    /// The proposal before stabilization, rate limits and caps.
    pub proposed: u32,
    /// After the stabilization window (the proposal where there is none).
    pub stabilized: u32,
    /// What is set.
    pub desired: u32,
    pub reason: String,
}

impl Decision {
    /// A node autoscaler's decision: the counts are the target pool's nodes
    /// before, proposed and set; there is no stabilization.
    pub fn of_nodes(
        at: SimTime,
        controller: &str,
        action: &'static str,
        target: DecisionTarget,
        [current, proposed, desired]: [u32; 3],
        inputs: String,
        reason: String,
    ) -> Decision {
        Decision {
            at,
            controller: controller.to_string(),
            action,
            target,
            inputs,
            current,
            proposed,
            stabilized: proposed,
            desired,
            reason,
        }
    }
}

/// What a decision is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecisionTarget {
    Workload(WorkloadId),
    Pool(PoolId),
    /// A node, with its pool (named `<pool>/<node id>` in the output).
    Node {
        pool: PoolId,
        node: NodeId,
    },
}

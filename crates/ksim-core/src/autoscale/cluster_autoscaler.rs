//! The Cluster Autoscaler's pure rules (kubernetes/autoscaler,
//! `cluster-autoscaler/`): node utilization for scale-down, the expanders
//! that choose which node group grows, and the bin-packing estimate of how
//! many template nodes the pending pods need; also the node groups'
//! exponential back-off after failed scale-ups. `controller::cluster_autoscaler`
//! drives them through the simulation.
//!
//! The defaults below are upstream's flag defaults (`config/flags/flags.go`,
//! `config/const.go`, `utils/backoff`); the flag each stands for is named in
//! its doc comment.

use crate::time::SimDuration;

pub mod backoff;
pub mod estimator;
pub mod expander;
pub mod utilization;

/// `--scan-interval`: how often the cluster is re-evaluated.
pub const DEFAULT_SCAN_INTERVAL: SimDuration = SimDuration::from_secs(10);

/// `--scale-down-utilization-threshold`: a node whose utilization
/// (max of cpu and memory requests over allocatable) is below this may be
/// removed.
pub const DEFAULT_SCALE_DOWN_UTILIZATION_THRESHOLD: f64 = 0.5;

/// `--scale-down-gpu-utilization-threshold`: the same for GPU nodes, judged
/// by their GPU requests alone.
pub const DEFAULT_SCALE_DOWN_GPU_UTILIZATION_THRESHOLD: f64 = 0.5;

/// `--scale-down-unneeded-time`: how long a node must stay unneeded before
/// it is removed.
pub const DEFAULT_SCALE_DOWN_UNNEEDED_TIME: SimDuration = SimDuration::from_secs(10 * 60);

/// `--scale-down-delay-after-add`: scale-down pauses this long after a
/// scale-up.
pub const DEFAULT_SCALE_DOWN_DELAY_AFTER_ADD: SimDuration = SimDuration::from_secs(10 * 60);

/// `--scale-down-delay-after-delete`: the flag's literal default is 0; as
/// scale-down runs once per scan, the pause is one scan interval in effect,
/// which is how upstream's FAQ states the default.
pub const DEFAULT_SCALE_DOWN_DELAY_AFTER_DELETE: SimDuration = DEFAULT_SCAN_INTERVAL;

/// `--scale-down-delay-after-failure`: scale-down pauses this long after a
/// failed removal.
pub const DEFAULT_SCALE_DOWN_DELAY_AFTER_FAILURE: SimDuration = SimDuration::from_secs(3 * 60);

/// `--max-node-provision-time`: a requested node not registered by then is
/// given up on and its group backed off.
pub const DEFAULT_MAX_NODE_PROVISION_TIME: SimDuration = SimDuration::from_secs(15 * 60);

/// `--unremovable-node-recheck-timeout`: a node found unremovable is not
/// simulated again before this.
pub const DEFAULT_UNREMOVABLE_NODE_RECHECK_TIMEOUT: SimDuration = SimDuration::from_secs(5 * 60);

/// `--max-scale-down-parallelism`: nodes removed at once.
pub const DEFAULT_MAX_SCALE_DOWN_PARALLELISM: u32 = 10;

/// `--max-graceful-termination-sec`: how long a drained pod may take to
/// terminate.
pub const DEFAULT_MAX_GRACEFUL_TERMINATION: SimDuration = SimDuration::from_secs(600);

/// `--new-pod-scale-up-delay`: pods younger than this do not trigger a
/// scale-up (0: every pending pod counts at once).
pub const DEFAULT_NEW_POD_SCALE_UP_DELAY: SimDuration = SimDuration::ZERO;

/// `--max-nodes-total`: the cluster's node cap; 0 means unbounded.
pub const DEFAULT_MAX_NODES_TOTAL: u32 = 0;

/// `--initial-node-group-backoff-duration`: the first back-off of a node
/// group whose scale-up failed.
pub const DEFAULT_INITIAL_NODE_GROUP_BACKOFF: SimDuration = SimDuration::from_secs(5 * 60);

/// `--max-node-group-backoff-duration`: the back-off doubles per failure up
/// to this.
pub const DEFAULT_MAX_NODE_GROUP_BACKOFF: SimDuration = SimDuration::from_secs(30 * 60);

/// `--node-group-backoff-reset-timeout`: a group's back-off history is
/// forgotten this long after its last failure.
pub const DEFAULT_NODE_GROUP_BACKOFF_RESET_TIMEOUT: SimDuration = SimDuration::from_secs(3 * 3600);

/// `--expander`: upstream's current default is least-waste (random in
/// older releases).
pub const DEFAULT_EXPANDER: ExpanderStep = ExpanderStep::LeastWaste;

/// Upstream's GCE pricing model (`cloudprovider/gce/gce_price_model.go`):
/// what a pod's requested core and GiB cost per hour, which the price
/// expander weighs against the nodes' price.
pub const DEFAULT_POD_PRICE_PER_CORE_HOUR: f64 = 0.033174;
pub const DEFAULT_POD_PRICE_PER_GIB_HOUR: f64 = 0.004446;

/// `--scale-down-non-empty-candidates-count`: non-empty nodes newly
/// checked for removal per scan (those already found unneeded are
/// re-checked on top).
pub const DEFAULT_SCALE_DOWN_NON_EMPTY_CANDIDATES: u32 = 30;

/// How long a drained pod may take past its eviction before the node is
/// deleted anyway: upstream's `PodEvictionHeadroom` (30 s) on top of
/// `--max-graceful-termination-sec`, plus `MaxPodEvictionTime` (2 min) of
/// eviction retries.
pub const DRAIN_HEADROOM: SimDuration = SimDuration::from_secs(30 + 120);

/// One step of the `--expander` chain, by name.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpanderStep {
    Random,
    MostPods,
    LeastWaste,
    /// `price`, with the pricing model's pod prices.
    Price {
        pod_price_per_core_hour: f64,
        pod_price_per_gib_hour: f64,
    },
    /// `priority`, with its ConfigMap's levels.
    Priority(expander::Priority),
}

impl ExpanderStep {
    pub fn name(&self) -> &'static str {
        match self {
            ExpanderStep::Random => "random",
            ExpanderStep::MostPods => "most-pods",
            ExpanderStep::LeastWaste => "least-waste",
            ExpanderStep::Price { .. } => "price",
            ExpanderStep::Priority(_) => "priority",
        }
    }
}

/// The Cluster Autoscaler's flags, as a scenario sets them; every default
/// is upstream's.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterAutoscalerSettings {
    /// The pools it manages (its node groups), by id, in scenario order.
    pub node_groups: Vec<crate::ids::PoolId>,
    pub scan_interval: SimDuration,
    /// `--expander`, in chain order; random breaks the last ties.
    pub expander: Vec<ExpanderStep>,
    /// `--scale-down-enabled`
    pub scale_down_enabled: bool,
    pub scale_down_utilization_threshold: f64,
    pub scale_down_gpu_utilization_threshold: f64,
    pub scale_down_unneeded_time: SimDuration,
    pub scale_down_delay_after_add: SimDuration,
    pub scale_down_delay_after_delete: SimDuration,
    pub scale_down_delay_after_failure: SimDuration,
    pub scale_down_non_empty_candidates: u32,
    pub unremovable_node_recheck_timeout: SimDuration,
    pub max_node_provision_time: SimDuration,
    pub max_scale_down_parallelism: u32,
    pub max_graceful_termination: SimDuration,
    pub new_pod_scale_up_delay: SimDuration,
    /// 0: no cap.
    pub max_nodes_total: u32,
    /// The max of `--cores-total`: the cluster's cores (of node capacity)
    /// a scale-up may not pass. Its min is not modelled.
    pub max_cores_total: u64,
    /// The max of `--memory-total`, in bytes.
    pub max_memory_total_bytes: u64,
    /// `--ignore-daemonsets-utilization`
    pub ignore_daemonsets_utilization: bool,
    /// `--skip-nodes-with-local-storage`
    pub skip_nodes_with_local_storage: bool,
    pub backoff: backoff::BackoffSettings,
}

impl ClusterAutoscalerSettings {
    /// Upstream's defaults over the given node groups.
    pub fn new(node_groups: Vec<crate::ids::PoolId>) -> Self {
        ClusterAutoscalerSettings {
            node_groups,
            scan_interval: DEFAULT_SCAN_INTERVAL,
            expander: vec![DEFAULT_EXPANDER],
            scale_down_enabled: true,
            scale_down_utilization_threshold: DEFAULT_SCALE_DOWN_UTILIZATION_THRESHOLD,
            scale_down_gpu_utilization_threshold: DEFAULT_SCALE_DOWN_GPU_UTILIZATION_THRESHOLD,
            scale_down_unneeded_time: DEFAULT_SCALE_DOWN_UNNEEDED_TIME,
            scale_down_delay_after_add: DEFAULT_SCALE_DOWN_DELAY_AFTER_ADD,
            scale_down_delay_after_delete: DEFAULT_SCALE_DOWN_DELAY_AFTER_DELETE,
            scale_down_delay_after_failure: DEFAULT_SCALE_DOWN_DELAY_AFTER_FAILURE,
            scale_down_non_empty_candidates: DEFAULT_SCALE_DOWN_NON_EMPTY_CANDIDATES,
            unremovable_node_recheck_timeout: DEFAULT_UNREMOVABLE_NODE_RECHECK_TIMEOUT,
            max_node_provision_time: DEFAULT_MAX_NODE_PROVISION_TIME,
            max_scale_down_parallelism: DEFAULT_MAX_SCALE_DOWN_PARALLELISM,
            max_graceful_termination: DEFAULT_MAX_GRACEFUL_TERMINATION,
            new_pod_scale_up_delay: DEFAULT_NEW_POD_SCALE_UP_DELAY,
            max_nodes_total: DEFAULT_MAX_NODES_TOTAL,
            // Upstream's `--cores-total` default is 0:320000 and
            // `--memory-total` 0:6400000 GiB.
            max_cores_total: 320_000,
            max_memory_total_bytes: 6_400_000 * (1 << 30),
            ignore_daemonsets_utilization: false,
            skip_nodes_with_local_storage: true,
            backoff: backoff::BackoffSettings::default(),
        }
    }
}

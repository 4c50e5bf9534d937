//! The Cluster Autoscaler's pure rules (kubernetes/autoscaler,
//! `cluster-autoscaler/`): node utilization for scale-down, the expanders
//! that choose which node group grows, and the bin-packing estimate of how
//! many template nodes the pending pods need. The controller that drives
//! them through the simulation comes later (issue 10). Also the node
//! groups' exponential back-off after failed scale-ups.
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
pub const DEFAULT_EXPANDER: expander::ExpanderKind = expander::ExpanderKind::LeastWaste;

//! Node utilization as the scale-down decides it (upstream's
//! `simulator/utilization/info.go`, `Calculate` and
//! `CalculateUtilizationOfResource`): per resource, the pods' requests over
//! the node's allocatable; a node's utilization is the larger of cpu and
//! memory, or, on a GPU node, its GPU utilization alone.
//!
//! Upstream divides milli-values; ours are the base units (millicores,
//! bytes, count), whose ratio is the same number. Pods are given with their
//! effective requests (init and sidecar containers already folded in, as
//! the scheduler computes them).

use crate::resources::{ResourceVec, CPU, MEMORY};
use crate::time::{SimDuration, SimTime};

/// Extra time past a deleted pod's grace period after which upstream treats
/// it as gone (`drain.PodLongTerminatingExtraThreshold`).
pub const LONG_TERMINATING_EXTRA: SimDuration = SimDuration::from_secs(30);

/// What owns a pod, as far as utilization cares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PodOrigin {
    /// Any controller but a DaemonSet, or none.
    Regular,
    /// A DaemonSet pod (owner kind DaemonSet, or the
    /// `cluster-autoscaler.kubernetes.io/daemonset-pod` annotation).
    DaemonSet,
    /// A static pod mirrored by the kubelet.
    Mirror,
}

/// A pod deleted but not yet gone.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    /// `deletionTimestamp`.
    pub at: SimTime,
    /// `terminationGracePeriodSeconds` (30 s when unset).
    pub grace: SimDuration,
}

/// A pod bound to the node.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NodePod {
    pub requests: ResourceVec,
    pub origin: PodOrigin,
    pub deletion: Option<Deletion>,
}

/// The flags that shape the calculation.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct UtilizationOptions {
    /// `--ignore-daemonsets-utilization`: DaemonSet pods count neither in the
    /// requests nor in the allocatable.
    pub skip_daemonset_pods: bool,
    /// `--ignore-mirror-pods-utilization`: the same for mirror pods.
    pub skip_mirror_pods: bool,
}

/// A node's utilization and the resource that set it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct UtilizationInfo {
    pub cpu: f64,
    pub memory: f64,
    pub gpu: f64,
    /// Index (in `ResourceVec`) of the resource that decided `utilization`.
    pub resource: usize,
    pub utilization: f64,
}

/// Why a resource's utilization cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UtilizationError {
    #[error("resource {resource} has zero allocatable on the node")]
    ZeroAllocatable { resource: usize },
    #[error("skipped DaemonSet and mirror pods request all of resource {resource}")]
    SkippedPodsFillNode { resource: usize },
}

/// True once a deleted pod has outlived its grace period by more than
/// [`LONG_TERMINATING_EXTRA`] (upstream's `IsPodLongTerminating`).
pub fn is_long_terminating(deletion: Option<Deletion>, now: SimTime) -> bool {
    deletion.is_some_and(|d| d.at + d.grace + LONG_TERMINATING_EXTRA < now)
}

/// A node's utilization (upstream's `Calculate`). `gpu` is the index of the
/// GPU resource when the node is a GPU node (labelled or advertising GPUs):
/// such a node is judged by its GPUs alone, and one whose GPUs are not ready
/// (zero allocatable) reads 0, so it can still be scaled down.
pub fn node_utilization(
    allocatable: &ResourceVec,
    pods: &[NodePod],
    gpu: Option<usize>,
    options: UtilizationOptions,
    now: SimTime,
) -> Result<UtilizationInfo, UtilizationError> {
    if let Some(gpu) = gpu {
        let gpu_util = resource_utilization(allocatable, pods, gpu, options, now).unwrap_or(0.0);
        return Ok(UtilizationInfo {
            cpu: 0.0,
            memory: 0.0,
            gpu: gpu_util,
            resource: gpu,
            utilization: gpu_util,
        });
    }
    let cpu = resource_utilization(allocatable, pods, CPU, options, now)?;
    let memory = resource_utilization(allocatable, pods, MEMORY, options, now)?;
    // Memory wins ties, as upstream's strict `cpu > mem` has it.
    let (resource, utilization) = if cpu > memory {
        (CPU, cpu)
    } else {
        (MEMORY, memory)
    };
    Ok(UtilizationInfo {
        cpu,
        memory,
        gpu: 0.0,
        resource,
        utilization,
    })
}

/// One resource's utilization (upstream's `CalculateUtilizationOfResource`):
/// the counted pods' requests over the allocatable left after skipped pods.
/// Long-terminating pods count nowhere. Upstream would divide by zero or a
/// negative number when skipped pods fill the node; that is an error here.
pub fn resource_utilization(
    allocatable: &ResourceVec,
    pods: &[NodePod],
    resource: usize,
    options: UtilizationOptions,
    now: SimTime,
) -> Result<f64, UtilizationError> {
    let capacity = u128::from(allocatable.0[resource]);
    if capacity == 0 {
        return Err(UtilizationError::ZeroAllocatable { resource });
    }
    let mut requested: u128 = 0;
    let mut skipped: u128 = 0;
    for pod in pods {
        let amount = u128::from(pod.requests.0[resource]);
        let skip = match pod.origin {
            PodOrigin::DaemonSet => options.skip_daemonset_pods,
            PodOrigin::Mirror => options.skip_mirror_pods,
            PodOrigin::Regular => false,
        };
        if skip {
            skipped += amount;
        } else if !is_long_terminating(pod.deletion, now) {
            requested += amount;
        }
    }
    match capacity.checked_sub(skipped) {
        Some(left) if left > 0 => Ok(requested as f64 / left as f64),
        _ => Err(UtilizationError::SkippedPodsFillNode { resource }),
    }
}

#[cfg(test)]
mod tests;

//! The Horizontal Pod Autoscaler (autoscaling/v2): its spec, with upstream's
//! defaults.

use crate::ids::WorkloadId;
use crate::time::SimDuration;

pub mod behavior;
pub mod calculator;

/// A metric a workload produces that is not a container resource.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CustomMetric {
    /// Requests (service) or executions (workers) arriving per second.
    RequestRate,
    /// Requests or executions waiting.
    QueueLength,
    /// Executions running.
    RunningExecutions,
}

impl CustomMetric {
    pub const ALL: [CustomMetric; 3] = [
        CustomMetric::RequestRate,
        CustomMetric::QueueLength,
        CustomMetric::RunningExecutions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CustomMetric::RequestRate => "request_rate",
            CustomMetric::QueueLength => "queue_length",
            CustomMetric::RunningExecutions => "running_executions",
        }
    }
}

/// A container resource an HPA can target.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResourceName {
    Cpu,
    Memory,
}

impl ResourceName {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceName::Cpu => "cpu",
            ResourceName::Memory => "memory",
        }
    }
}

/// A Resource metric's target.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResourceTarget {
    /// Percent of the pods' requests (upstream accepts values above 100).
    Utilization(i32),
    /// Per pod, in milli-units (millicores, or bytes × 1000).
    AverageValueMilli(i64),
}

/// An Object or External metric's target, in milli-units.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ValueTarget {
    /// The metric's total against the target.
    ValueMilli(i64),
    /// The metric's total divided by the current replicas, against the target.
    AverageValueMilli(i64),
}

/// One entry of `spec.metrics`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MetricSpec {
    Resource {
        name: ResourceName,
        target: ResourceTarget,
    },
    /// Per-pod values of a custom metric, averaged, against a per-pod target.
    Pods {
        metric: CustomMetric,
        average_value_milli: i64,
    },
    /// A metric describing an object (a workload's Service), read from that workload.
    Object {
        metric: CustomMetric,
        workload: WorkloadId,
        target: ValueTarget,
    },
    /// A metric from outside the cluster (a queue), read from that workload.
    External {
        metric: CustomMetric,
        workload: WorkloadId,
        target: ValueTarget,
    },
}

/// `HPAScalingPolicyType`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Pods,
    Percent,
}

/// One `HPAScalingPolicy`: at most `value` pods (or percent) per `period`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ScalingPolicy {
    pub kind: PolicyKind,
    /// Greater than zero.
    pub value: i32,
    /// Greater than zero, at most 1800 s.
    pub period: SimDuration,
}

/// `ScalingPolicySelect`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    Max,
    Min,
    Disabled,
}

/// `HPAScalingRules`, defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingRules {
    pub stabilization_window: SimDuration,
    pub select_policy: SelectPolicy,
    pub policies: Vec<ScalingPolicy>,
}

/// `HorizontalPodAutoscalerBehavior`, defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behavior {
    pub scale_up: ScalingRules,
    pub scale_down: ScalingRules,
}

/// The controller's flags (kube-controller-manager) that shape every HPA.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct HpaControllerSettings {
    /// `--horizontal-pod-autoscaler-sync-period`: 15 s.
    pub sync_period: SimDuration,
    /// `--horizontal-pod-autoscaler-tolerance`: 0.1.
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`: 5 min.
    pub cpu_initialization_period: SimDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`: 30 s.
    pub initial_readiness_delay: SimDuration,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`: 5 min (used
    /// when the HPA has no `behavior`).
    pub downscale_stabilization: SimDuration,
}

impl Default for HpaControllerSettings {
    fn default() -> Self {
        HpaControllerSettings {
            sync_period: SimDuration::from_secs(15),
            tolerance: 0.1,
            cpu_initialization_period: SimDuration::from_secs(300),
            initial_readiness_delay: SimDuration::from_secs(30),
            downscale_stabilization: SimDuration::from_secs(300),
        }
    }
}

/// A HorizontalPodAutoscaler on one deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSpec {
    /// At least 1 (scale to zero is KEDA's, see `autoscale::keda`).
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Not empty (the reader applies upstream's default, cpu at 80%).
    pub metrics: Vec<MetricSpec>,
    /// None: the controller's legacy rules (downscale stabilization from
    /// the flag, scale-up limited to max(2 × current, 4)).
    pub behavior: Option<Behavior>,
}

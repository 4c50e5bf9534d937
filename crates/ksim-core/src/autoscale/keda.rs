//! A KEDA-style ScaledObject: scale to and from zero on trigger activity,
//! with an HPA on an External AverageValue metric between 1 and max.

use super::hpa::{Behavior, CustomMetric};
use crate::ids::WorkloadId;
use crate::time::SimDuration;

/// One trigger: a metric of a workload against a per-replica target.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Trigger {
    pub metric: KedaMetric,
    /// The workload whose metric it reads (usually the scaled one).
    pub workload: WorkloadId,
    /// The External metric's AverageValue target per replica.
    pub target: f64,
    /// The trigger is active while the metric is above this.
    pub activation_threshold: f64,
}

/// What a trigger reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KedaMetric {
    Custom(CustomMetric),
    /// The workload's CPU use, millicores in total.
    Cpu,
}

/// A ScaledObject on one deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct KedaSpec {
    /// `pollingInterval`: 30 s.
    pub polling_interval: SimDuration,
    /// `cooldownPeriod`: 300 s.
    pub cooldown_period: SimDuration,
    /// `minReplicaCount`: 0.
    pub min_replicas: u32,
    /// `idleReplicaCount`: below `min_replicas`, the count while inactive.
    pub idle_replicas: Option<u32>,
    /// `maxReplicaCount`: 100.
    pub max_replicas: u32,
    pub triggers: Vec<Trigger>,
    /// The behavior of the HPA KEDA creates (upstream's defaults when None).
    pub behavior: Option<Behavior>,
}

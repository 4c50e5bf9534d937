//! A KEDA-style ScaledObject: scale to and from zero on trigger activity,
//! with an HPA on an External AverageValue metric between 1 and max.
//!
//! As upstream (kedacore/keda): every `pollingInterval` the scale handler
//! asks each trigger whether it is active (its metric strictly above its
//! activation threshold) and the scale executor (`RequestScale` in
//! `pkg/scaling/executor/scale_scaledobjects.go`) acts only at the edges of
//! the range: from zero (or the idle count) to max(min, 1) when a trigger is
//! active, down to the idle count or zero once no trigger has been active
//! for `cooldownPeriod`, and up to min when below it with no idle count.
//! Between, the HPA KEDA creates (`controllers/keda/hpa.go`, see
//! [`hpa_for`]) scales on the triggers' metrics; the HPA controller does not
//! act on a target at zero replicas (its `ScalingDisabled` condition).
//!
//! Not modelled: the pause annotations (paused, paused-replicas,
//! paused-scale-in and -out), forced activation, scaler errors and
//! `fallback`, `scalingModifiers`, `initialCooldownPeriod` (upstream's
//! default 0 s applies), and `metricType: Value` triggers.

use super::hpa::{
    Behavior, CustomMetric, HpaSpec, MetricSpec, ResourceName, ResourceTarget, ValueTarget,
};
use crate::ids::WorkloadId;
use crate::time::{SimDuration, SimTime};

/// One trigger: a metric of a workload against a per-replica target.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Trigger {
    pub metric: KedaMetric,
    /// The workload whose metric it reads (usually the scaled one).
    pub workload: WorkloadId,
    /// Per replica: a custom metric's External AverageValue target; a
    /// resource's utilization percent, or its millicores (cpu) or bytes
    /// (memory) per pod.
    pub target: f64,
    /// The trigger is active while the metric is above this.
    pub activation_threshold: f64,
}

/// What a trigger reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KedaMetric {
    Custom(CustomMetric),
    /// KEDA's cpu or memory scaler: a Resource metric of the scaled
    /// workload's pods, with `metricType` Utilization (`target` a percent of
    /// the request) or AverageValue (`target` an amount per pod).
    Resource {
        name: ResourceName,
        utilization: bool,
    },
}

impl KedaMetric {
    pub fn is_resource(self) -> bool {
        matches!(self, KedaMetric::Resource { .. })
    }
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

/// Upstream's `initialCooldownPeriod` default: with no active time yet,
/// scale-in may happen as soon as the ScaledObject exists.
const INITIAL_COOLDOWN: SimDuration = SimDuration::ZERO;

/// Whether one trigger is active at this metric value: strictly above its
/// activation threshold, as every upstream scaler reports it. A cpu trigger
/// never is: KEDA reads activity from External metrics only, and the cpu
/// scaler's is a Resource metric.
pub fn trigger_active(value: f64, trigger: &Trigger) -> bool {
    match trigger.metric {
        KedaMetric::Resource { .. } => false,
        KedaMetric::Custom(_) => value > trigger.activation_threshold,
    }
}

/// Whether the ScaledObject is active: any trigger active, given each
/// trigger's metric value. With cpu triggers only it always is (upstream
/// forces it, since nothing could ever scale it back from zero).
pub fn is_active(spec: &KedaSpec, mut value_of: impl FnMut(&Trigger) -> f64) -> bool {
    let resource_only = spec.triggers.iter().all(|t| t.metric.is_resource());
    resource_only || spec.triggers.iter().any(|t| trigger_active(value_of(t), t))
}

/// What the scale executor keeps between polls (the ScaledObject's status).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ScaledObjectState {
    /// When the ScaledObject was created: before any trigger was active,
    /// scale-in waits `initialCooldownPeriod` from here.
    pub created_at: SimTime,
    /// `status.lastActiveTime`: the last poll that found it active.
    pub last_active: Option<SimTime>,
}

impl ScaledObjectState {
    pub fn new(created_at: SimTime) -> Self {
        ScaledObjectState {
            created_at,
            last_active: None,
        }
    }
}

/// What one poll of the scale executor does to the target's replicas.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KedaDecision {
    /// Active at zero, or below min while an idle count is set: scale to
    /// max(min, 1).
    Activate { replicas: u32 },
    /// Inactive past the cooldown: scale in to the idle count, or to min
    /// (zero).
    Deactivate { replicas: u32 },
    /// Inactive below min with no idle count: raise it to min.
    RaiseToMin { replicas: u32 },
    /// Inactive and due to scale in, but a trigger was active within the
    /// cooldown.
    CoolingDown,
    /// Nothing for the executor to write: active where the HPA scales, or
    /// inactive at rest.
    Unchanged,
}

impl KedaDecision {
    /// The replica count to write, if any.
    pub fn replicas(self) -> Option<u32> {
        match self {
            KedaDecision::Activate { replicas }
            | KedaDecision::Deactivate { replicas }
            | KedaDecision::RaiseToMin { replicas } => Some(replicas),
            KedaDecision::CoolingDown | KedaDecision::Unchanged => None,
        }
    }
}

/// A poll's outcome: the executor's decision, and whether the HPA acts on
/// the target once it is applied.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PollOutcome {
    pub decision: KedaDecision,
    pub hpa_in_charge: bool,
}

/// Whether the HPA KEDA created acts on a target at this replica count: not
/// at zero (upstream's HPA controller skips a target scaled to zero while
/// its minReplicas is not, and KEDA's never is). At a nonzero idle count it
/// does act, and raises the target to min: why upstream supports only an
/// idle count of 0.
pub fn hpa_in_charge(replicas: u32) -> bool {
    replicas > 0
}

/// One poll of the scale executor: what upstream's `RequestScale` does at
/// `now` with the target at `current_replicas` and the ScaledObject
/// `active` or not; records the active time in `state` as it does.
pub fn poll(
    spec: &KedaSpec,
    state: &mut ScaledObjectState,
    current_replicas: u32,
    active: bool,
    now: SimTime,
) -> PollOutcome {
    let decision = if active {
        // Upstream records the active time on either branch (after a
        // successful scale on the first; writes are not refused here).
        state.last_active = Some(now);
        let below_min_with_idle =
            spec.idle_replicas.is_some() && current_replicas < spec.min_replicas;
        if below_min_with_idle || current_replicas == 0 {
            KedaDecision::Activate {
                replicas: spec.min_replicas.max(1),
            }
        } else {
            KedaDecision::Unchanged
        }
    } else {
        let above_idle = spec
            .idle_replicas
            .is_some_and(|idle| current_replicas > idle);
        if above_idle || (current_replicas > 0 && spec.min_replicas == 0) {
            if cooled_down(spec, state, now) {
                KedaDecision::Deactivate {
                    replicas: spec.idle_replicas.unwrap_or(spec.min_replicas),
                }
            } else {
                KedaDecision::CoolingDown
            }
        } else if spec.idle_replicas.is_none() && current_replicas < spec.min_replicas {
            KedaDecision::RaiseToMin {
                replicas: spec.min_replicas,
            }
        } else {
            KedaDecision::Unchanged
        }
    };
    PollOutcome {
        decision,
        hpa_in_charge: hpa_in_charge(decision.replicas().unwrap_or(current_replicas)),
    }
}

/// Upstream compares with Go's `Before`: the cooldown must have passed
/// strictly, so at exactly `last_active + cooldownPeriod` it still holds.
fn cooled_down(spec: &KedaSpec, state: &ScaledObjectState, now: SimTime) -> bool {
    match state.last_active {
        None => state.created_at + INITIAL_COOLDOWN < now,
        Some(last_active) => last_active + spec.cooldown_period < now,
    }
}

/// The HPA KEDA creates for a ScaledObject: minReplicas max(min, 1) (an HPA
/// cannot hold zero), maxReplicas max, one metric per trigger, and the
/// ScaledObject's behavior (None: the HPA's defaults).
///
/// A trigger on a custom metric is an External metric with an AverageValue
/// target, in milli-units truncated toward zero as KEDA's
/// `GetMetricTargetMili` does. A cpu trigger is a Resource cpu metric as
/// KEDA's cpu scaler emits it (on the scaled workload's pods, whatever
/// `workload` says); upstream's cpu trigger takes `metricType: Utilization`
/// or `AverageValue`, and a `Trigger` holds a per-replica target in
/// millicores, so it is AverageValue, rounded up to a whole millicore as a
/// quantity's milli-value is.
pub fn hpa_for(spec: &KedaSpec) -> HpaSpec {
    HpaSpec {
        min_replicas: spec.min_replicas.max(1),
        max_replicas: spec.max_replicas,
        metrics: spec.triggers.iter().map(trigger_metric).collect(),
        behavior: spec.behavior.clone(),
    }
}

fn trigger_metric(trigger: &Trigger) -> MetricSpec {
    match trigger.metric {
        KedaMetric::Custom(metric) => MetricSpec::External {
            metric,
            workload: trigger.workload,
            // `as` saturates: only an absurd target (beyond 9.2e15) is clamped.
            target: ValueTarget::AverageValueMilli((trigger.target * 1000.0) as i64),
        },
        KedaMetric::Resource { name, utilization } => MetricSpec::Resource {
            name,
            target: if utilization {
                ResourceTarget::Utilization(trigger.target as i32)
            } else {
                // A quantity's milli-value, rounded up: millicores are
                // already milli-units, bytes are not.
                let milli = match name {
                    ResourceName::Cpu => trigger.target,
                    ResourceName::Memory => trigger.target * 1000.0,
                };
                ResourceTarget::AverageValueMilli(milli.ceil() as i64)
            },
        },
    }
}

#[cfg(test)]
mod tests;

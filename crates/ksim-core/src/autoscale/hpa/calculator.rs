//! The HPA's replica calculator (upstream's `ReplicaCalculator` in
//! `pkg/controller/podautoscaler/replica_calculator.go`, with the ratio
//! helpers of `metrics/utilization.go`) and the combination of the
//! per-metric proposals (`computeReplicasForMetrics` in `horizontal.go`), as
//! pure functions of what the controller observed: the pods of the target,
//! their latest metrics-server samples, and the Object/External values.
//!
//! Upstream's arithmetic is kept: integer milli-values, the utilization
//! percent truncated to an integer before the ratio, `ceil` on every replica
//! count, the tolerance band `1 - tolerance <= ratio <= 1 + tolerance`.
//! Sums run in `i128`, so no total of `i64` samples can overflow (upstream
//! falls back to big integers for the same reason).

use super::{HpaControllerSettings, MetricSpec, ResourceName, ResourceTarget, ValueTarget};
use crate::pod_phase::PodPhase;
use crate::time::{SimDuration, SimTime};

/// A pod of the scale target as the calculator sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PodSample {
    pub phase: PodPhase,
    /// `deletionTimestamp` is set.
    pub deleting: bool,
    /// The Ready condition's status; None: the pod has no Ready condition.
    pub ready: Option<bool>,
    /// `status.startTime`; None: not set yet.
    pub started: Option<SimTime>,
    /// The Ready condition's `lastTransitionTime`.
    pub ready_transition: SimTime,
    /// The target resource's request summed over the containers; None: a
    /// container has none (read by Resource metrics with a Utilization target only).
    pub request_milli: Option<i64>,
    /// The pod's latest sample; None: the metrics pipeline has none for it.
    pub metric: Option<PodMetric>,
}

/// One metrics sample of a pod.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PodMetric {
    pub value_milli: i64,
    /// When the sample was taken (the end of its window).
    pub timestamp: SimTime,
    /// The span the sample averages over.
    pub window: SimDuration,
}

/// What one metric proposes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub replicas: u32,
    /// Utilization target: percent of the requests. Otherwise milli-units:
    /// the per-pod average (AverageValue targets, Pods metrics) or the total
    /// (Object and External Value targets).
    pub usage: i64,
    /// Utilization target only: the per-pod average behind the percent
    /// (the status' `averageValue`), milli-units.
    pub average_milli: Option<i64>,
    /// Resource and Pods metrics: the time of the first pod's sample, as
    /// upstream reports it. None for Object and External metrics, whose
    /// sample time the caller holds.
    pub timestamp: Option<SimTime>,
}

/// Why a metric proposes nothing (upstream's error returns).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalculatorError {
    #[error("no metrics returned for the target's pods")]
    NoMetrics,
    #[error("no pods to count for the target")]
    NoPods,
    #[error("no metrics for the pods that count (pods might be unready)")]
    NoMetricsForCountedPods,
    #[error("pod {pod} has no {} request", .resource.as_str())]
    MissingRequest { pod: usize, resource: ResourceName },
    #[error("the requests of the pods with metrics sum to zero")]
    ZeroRequests,
    #[error("resource utilization {percent}% is outside the 32-bit range")]
    UtilizationOutOfRange { percent: i128 },
    #[error("no value of metric {metric} yet")]
    MetricUnavailable { metric: &'static str },
}

/// The scale subresource's two counts: `spec.replicas` (what the HPA last
/// set) and `status.replicas` (the pods that exist). Object and External
/// AverageValue targets divide by the latter.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ScaleReplicas {
    pub spec: u32,
    pub status: u32,
}

/// Pods that are Running and Ready (upstream's `getReadyPodsCount`).
pub fn ready_pod_count(pods: &[PodSample]) -> usize {
    pods.iter()
        .filter(|p| p.phase == PodPhase::Running && p.ready == Some(true))
        .count()
}

/// A Resource metric (`GetResourceReplicas` for a Utilization target,
/// `GetRawResourceReplicas` for an AverageValue one). Only cpu applies the
/// readiness rule that skips pods still initializing.
pub fn resource_replicas(
    current: u32,
    target: ResourceTarget,
    resource: ResourceName,
    pods: &[PodSample],
    now: SimTime,
    settings: &HpaControllerSettings,
) -> Result<Proposal, CalculatorError> {
    let rule = match resource {
        ResourceName::Cpu => Readiness::CpuRule { now },
        ResourceName::Memory => Readiness::PhaseOnly,
    };
    match target {
        ResourceTarget::Utilization(percent) => {
            utilization_replicas(current, percent, resource, pods, rule, settings)
        }
        ResourceTarget::AverageValueMilli(average) => {
            plain_replicas(current, average, pods, rule, settings)
        }
    }
}

/// A Pods metric (`GetMetricReplicas`): the pods' average against a per-pod
/// target. Readiness counts only through the phase (upstream applies the cpu
/// initialization rule to the cpu resource alone).
pub fn pods_metric_replicas(
    current: u32,
    target_average_milli: i64,
    pods: &[PodSample],
    settings: &HpaControllerSettings,
) -> Result<Proposal, CalculatorError> {
    plain_replicas(
        current,
        target_average_milli,
        pods,
        Readiness::PhaseOnly,
        settings,
    )
}

/// An Object metric: `GetObjectMetricReplicas` (Value: scales the Ready pods
/// by the ratio) or `GetObjectPerPodMetricReplicas` (AverageValue: the total
/// over the target, against `status.replicas`).
pub fn object_replicas(
    replicas: ScaleReplicas,
    target: ValueTarget,
    usage_milli: i64,
    pods: &[PodSample],
    settings: &HpaControllerSettings,
) -> Result<Proposal, CalculatorError> {
    value_target_replicas(replicas, target, usage_milli, pods, settings.tolerance)
}

/// An External metric (`GetExternalMetricReplicas`,
/// `GetExternalPerPodMetricReplicas`): the usage is the sum of the metric's
/// series, capped at `i64::MAX` as upstream caps it. The per-pod variant
/// also caps a sum that goes negative, as upstream's overflow check does.
pub fn external_replicas(
    replicas: ScaleReplicas,
    target: ValueTarget,
    values_milli: &[i64],
    pods: &[PodSample],
    settings: &HpaControllerSettings,
) -> Result<Proposal, CalculatorError> {
    let per_pod = matches!(target, ValueTarget::AverageValueMilli(_));
    let usage_milli = external_sum(values_milli, per_pod);
    value_target_replicas(replicas, target, usage_milli, pods, settings.tolerance)
}

/// The metrics' combined proposal (upstream's `computeReplicasForMetrics`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Combined {
    pub replicas: u32,
    /// Index, in the results given, of the metric whose proposal won.
    pub metric: usize,
    pub timestamp: Option<SimTime>,
    /// Metrics that failed; the others still scale the target up.
    pub invalid: usize,
    /// The first failure, which upstream reports after scaling.
    pub first_error: Option<CalculatorError>,
}

/// Every metric failed, or some failed and the others would scale down.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{invalid} of {total} metrics invalid{}",
    .first.as_ref().map_or(String::new(), |e| format!(", the first: {e}"))
)]
pub struct CombineError {
    pub invalid: usize,
    pub total: usize,
    pub first: Option<CalculatorError>,
}

/// The largest proposal wins (the first of equals). Failed metrics block
/// scaling when all failed or when the valid ones would go below
/// `spec_replicas`: a missing metric must not shrink the target.
pub fn combine(
    spec_replicas: u32,
    results: &[Result<Proposal, CalculatorError>],
) -> Result<Combined, CombineError> {
    let mut best: Option<(usize, &Proposal)> = None;
    let mut invalid = 0;
    let mut first_error = None;
    for (index, result) in results.iter().enumerate() {
        match result {
            Err(e) => {
                invalid += 1;
                first_error.get_or_insert_with(|| e.clone());
            }
            // A proposal of zero is replaced by the next valid one, as upstream's
            // `replicas == 0` test does.
            Ok(p) if best.is_none_or(|(_, b)| b.replicas == 0 || p.replicas > b.replicas) => {
                best = Some((index, p));
            }
            Ok(_) => {}
        }
    }
    match best {
        Some((metric, p)) if !(invalid > 0 && p.replicas < spec_replicas) => Ok(Combined {
            replicas: p.replicas,
            metric,
            timestamp: p.timestamp,
            invalid,
            first_error,
        }),
        _ => Err(CombineError {
            invalid,
            total: results.len(),
            first: first_error,
        }),
    }
}

/// A target the API server would refuse (upstream's `validateMetricTarget`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("averageUtilization must be greater than 0, got {0}")]
    Utilization(i32),
    #[error("the target value must be positive, got {0}m")]
    Value(i64),
}

/// Upstream's rules for a metric's target: a Utilization target must be at
/// least 1 (percent); there is no upper bound, so a target above 100 is
/// accepted and asks the pods to use more than they request (up to their
/// limits). Values and average values must be positive.
pub fn validate_metric(metric: &MetricSpec) -> Result<(), TargetError> {
    match *metric {
        MetricSpec::Resource {
            target: ResourceTarget::Utilization(percent),
            ..
        } if percent < 1 => Err(TargetError::Utilization(percent)),
        MetricSpec::Resource {
            target: ResourceTarget::Utilization(_),
            ..
        } => Ok(()),
        MetricSpec::Resource {
            target: ResourceTarget::AverageValueMilli(value),
            ..
        }
        | MetricSpec::Pods {
            average_value_milli: value,
            ..
        }
        | MetricSpec::Object {
            target: ValueTarget::ValueMilli(value) | ValueTarget::AverageValueMilli(value),
            ..
        }
        | MetricSpec::External {
            target: ValueTarget::ValueMilli(value) | ValueTarget::AverageValueMilli(value),
            ..
        } if value <= 0 => Err(TargetError::Value(value)),
        _ => Ok(()),
    }
}

/// How `groupPods` decides that a pod with a sample is not ready.
#[derive(Copy, Clone, Debug)]
enum Readiness {
    /// Cpu: skip a pod without a Ready condition or start time, one still in
    /// its initialization period whose sample predates its readiness (or
    /// that is unready), and one that has never been ready since it started.
    CpuRule { now: SimTime },
    /// Every other metric: only Pending pods are unready.
    PhaseOnly,
}

/// The pods sorted as upstream's `groupPods` sorts them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PodGroups {
    ready: usize,
    /// Pending, or not ready by the cpu rule: counted as 0 on a scale-up.
    unready: Vec<usize>,
    /// Without a sample: 0 on a scale-up, the target on a scale-down.
    missing: Vec<usize>,
    /// Being deleted or Failed: left out altogether.
    ignored: Vec<usize>,
}

fn group_pods(pods: &[PodSample], rule: Readiness, settings: &HpaControllerSettings) -> PodGroups {
    let mut groups = PodGroups::default();
    for (i, pod) in pods.iter().enumerate() {
        if pod.deleting || pod.phase == PodPhase::Failed {
            groups.ignored.push(i);
        } else if pod.phase == PodPhase::Pending {
            groups.unready.push(i);
        } else if let Some(metric) = pod.metric {
            match rule {
                Readiness::CpuRule { now } if cpu_unready(pod, &metric, now, settings) => {
                    groups.unready.push(i)
                }
                _ => groups.ready += 1,
            }
        } else {
            groups.missing.push(i);
        }
    }
    groups
}

/// Whether a cpu sample of the pod would mislead: taken while the pod was
/// starting (cpu spikes at start), or of a pod never ready since it started.
fn cpu_unready(
    pod: &PodSample,
    metric: &PodMetric,
    now: SimTime,
    settings: &HpaControllerSettings,
) -> bool {
    let (Some(ready), Some(started)) = (pod.ready, pod.started) else {
        return true;
    };
    if started + settings.cpu_initialization_period > now {
        !ready || metric.timestamp < pod.ready_transition + metric.window
    } else {
        !ready && started + settings.initial_readiness_delay > pod.ready_transition
    }
}

/// The pods' samples, indexed like the pods (upstream's metrics map).
type Samples = Vec<Option<i128>>;

/// The samples of the pods that count: every pod's, less the ignored and
/// unready ones (`removeMetricsForPods`). Errors as upstream does when the
/// pipeline returned nothing at all, and when nothing is left.
fn counted_samples(pods: &[PodSample], groups: &PodGroups) -> Result<Samples, CalculatorError> {
    let mut samples: Samples = pods
        .iter()
        .map(|p| p.metric.map(|m| i128::from(m.value_milli)))
        .collect();
    if samples.iter().all(Option::is_none) {
        return Err(CalculatorError::NoMetrics);
    }
    for &i in groups.ignored.iter().chain(&groups.unready) {
        samples[i] = None;
    }
    if samples.iter().all(Option::is_none) {
        return Err(CalculatorError::NoMetricsForCountedPods);
    }
    Ok(samples)
}

fn first_timestamp(pods: &[PodSample]) -> Option<SimTime> {
    pods.iter().find_map(|p| p.metric.map(|m| m.timestamp))
}

fn sample_count(samples: &Samples) -> usize {
    samples.iter().flatten().count()
}

/// Upstream's tolerance band (`Tolerances.isWithin`), both sides from the
/// controller's one `--horizontal-pod-autoscaler-tolerance`.
fn within_tolerance(ratio: f64, tolerance: f64) -> bool {
    1.0 - tolerance <= ratio && ratio <= 1.0 + tolerance
}

/// `int32(math.Ceil(x))`, capped at `i32::MAX` as upstream caps its
/// overflowing counts; a negative count (from negative metric values) is 0.
fn ceil_replicas(x: f64) -> u32 {
    const MAX_REPLICAS: u32 = i32::MAX as u32;
    let c = x.ceil();
    if c.is_nan() || c <= 0.0 {
        0
    } else if c >= f64::from(MAX_REPLICAS) {
        MAX_REPLICAS
    } else {
        // In (0, i32::MAX) and integral: exact.
        c as u32
    }
}

/// Upstream's rebalancing once unready or missing pods exist: missing pods
/// count as 0 on a scale-up and as `missing_on_scale_down(pod)` on a
/// scale-down, unready pods as 0 on a scale-up only; the ratio is computed
/// again, and the count is kept when the new ratio is within tolerance,
/// reverses the direction, or the new count would.
fn rebalanced_replicas(
    current: u32,
    groups: &PodGroups,
    mut samples: Samples,
    ratio: f64,
    tolerance: f64,
    missing_on_scale_down: impl Fn(usize) -> i128,
    ratio_of: impl Fn(&Samples) -> Result<f64, CalculatorError>,
) -> Result<u32, CalculatorError> {
    let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && groups.missing.is_empty() {
        if within_tolerance(ratio, tolerance) {
            return Ok(current);
        }
        // Ready pods are counted in f64 exactly (far below 2^53).
        return Ok(ceil_replicas(ratio * groups.ready as f64));
    }
    for &i in &groups.missing {
        if ratio < 1.0 {
            samples[i] = Some(missing_on_scale_down(i));
        } else if ratio > 1.0 {
            samples[i] = Some(0);
        }
    }
    if scale_up_with_unready {
        for &i in &groups.unready {
            samples[i] = Some(0);
        }
    }
    let new_ratio = ratio_of(&samples)?;
    let reverses = (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0);
    if within_tolerance(new_ratio, tolerance) || reverses {
        return Ok(current);
    }
    let new_replicas = ceil_replicas(new_ratio * sample_count(&samples) as f64);
    if (new_ratio < 1.0 && new_replicas > current) || (new_ratio > 1.0 && new_replicas < current) {
        return Ok(current);
    }
    Ok(new_replicas)
}

/// A Utilization target (`GetResourceReplicas`).
fn utilization_replicas(
    current: u32,
    target_percent: i32,
    resource: ResourceName,
    pods: &[PodSample],
    rule: Readiness,
    settings: &HpaControllerSettings,
) -> Result<Proposal, CalculatorError> {
    let timestamp = first_timestamp(pods);
    let groups = group_pods(pods, rule, settings);
    let samples = counted_samples(pods, &groups)?;
    let requests = pod_requests(pods, resource)?;
    let first = utilization(&samples, &requests, target_percent)?;
    // On a scale-down a missing pod uses its whole request, or the target
    // when that is above 100%.
    let fallback_percent = i128::from(target_percent.max(100));
    let replicas = rebalanced_replicas(
        current,
        &groups,
        samples,
        first.ratio,
        settings.tolerance,
        |i| requests[i] * fallback_percent / 100,
        |s| utilization(s, &requests, target_percent).map(|u| u.ratio),
    )?;
    Ok(Proposal {
        replicas,
        usage: i64::from(first.percent),
        average_milli: Some(first.average_milli),
        timestamp,
    })
}

/// Every pod's request, or the first pod missing one (upstream checks all
/// pods, the ignored ones too).
fn pod_requests(pods: &[PodSample], resource: ResourceName) -> Result<Vec<i128>, CalculatorError> {
    pods.iter()
        .enumerate()
        .map(|(pod, p)| {
            p.request_milli
                .map(i128::from)
                .ok_or(CalculatorError::MissingRequest { pod, resource })
        })
        .collect()
}

struct Utilization {
    ratio: f64,
    percent: i32,
    average_milli: i64,
}

/// `GetResourceUtilizationRatio`: the samples' total over their pods'
/// requests, as a whole percent (truncated), against the target percent.
fn utilization(
    samples: &Samples,
    requests: &[i128],
    target_percent: i32,
) -> Result<Utilization, CalculatorError> {
    let (mut usage_total, mut request_total, mut entries) = (0i128, 0i128, 0i128);
    for (sample, request) in samples.iter().zip(requests) {
        if let Some(value) = sample {
            usage_total += value;
            request_total += request;
            entries += 1;
        }
    }
    if request_total == 0 {
        return Err(CalculatorError::ZeroRequests);
    }
    let percent = usage_total * 100 / request_total;
    let percent =
        i32::try_from(percent).map_err(|_| CalculatorError::UtilizationOutOfRange { percent })?;
    Ok(Utilization {
        ratio: f64::from(percent) / f64::from(target_percent),
        percent,
        average_milli: clamp_to_i64(usage_total / entries),
    })
}

/// An average-value target over the pods' samples (`calcPlainMetricReplicas`).
fn plain_replicas(
    current: u32,
    target_milli: i64,
    pods: &[PodSample],
    rule: Readiness,
    settings: &HpaControllerSettings,
) -> Result<Proposal, CalculatorError> {
    let timestamp = first_timestamp(pods);
    let groups = group_pods(pods, rule, settings);
    let samples = counted_samples(pods, &groups)?;
    let (ratio, usage_milli) = average_ratio(&samples, target_milli);
    let replicas = rebalanced_replicas(
        current,
        &groups,
        samples,
        ratio,
        settings.tolerance,
        |_| i128::from(target_milli),
        |s| Ok(average_ratio(s, target_milli).0),
    )?;
    Ok(Proposal {
        replicas,
        usage: usage_milli,
        average_milli: None,
        timestamp,
    })
}

/// `GetMetricUsageRatio`: the samples' average (truncated) against the
/// target. At least one sample is present (`counted_samples` checked).
fn average_ratio(samples: &Samples, target_milli: i64) -> (f64, i64) {
    let total: i128 = samples.iter().flatten().sum();
    // usize to i128 is lossless.
    let average_milli = clamp_to_i64(total / sample_count(samples) as i128);
    // Upstream divides the int64 average as float64; rounding to the
    // nearest double is the same here.
    (average_milli as f64 / target_milli as f64, average_milli)
}

fn value_target_replicas(
    replicas: ScaleReplicas,
    target: ValueTarget,
    usage_milli: i64,
    pods: &[PodSample],
    tolerance: f64,
) -> Result<Proposal, CalculatorError> {
    let (count, usage) = match target {
        ValueTarget::ValueMilli(target_milli) => {
            let ratio = usage_milli as f64 / target_milli as f64;
            (
                usage_ratio_replicas(replicas.spec, ratio, pods, tolerance)?,
                usage_milli,
            )
        }
        ValueTarget::AverageValueMilli(target_milli) => {
            per_pod_replicas(replicas.status, target_milli, usage_milli, tolerance)
        }
    };
    Ok(Proposal {
        replicas: count,
        usage,
        average_milli: None,
        timestamp: None,
    })
}

/// `getUsageRatioReplicaCount`: the Ready pods scaled by the ratio; from
/// zero replicas, the ratio alone (scale to and from zero).
fn usage_ratio_replicas(
    current: u32,
    ratio: f64,
    pods: &[PodSample],
    tolerance: f64,
) -> Result<u32, CalculatorError> {
    if current == 0 {
        return Ok(ceil_replicas(ratio));
    }
    if within_tolerance(ratio, tolerance) {
        return Ok(current);
    }
    if pods.is_empty() {
        return Err(CalculatorError::NoPods);
    }
    Ok(ceil_replicas(ratio * ready_pod_count(pods) as f64))
}

/// The per-pod variants: the total over the per-pod target, unless the
/// total over `status` pods is within tolerance of it. Returns the count and
/// the per-pod usage (rounded up). With no pods upstream divides by zero and
/// reports garbage; the total is reported instead.
fn per_pod_replicas(
    status: u32,
    target_milli: i64,
    usage_milli: i64,
    tolerance: f64,
) -> (u32, i64) {
    let usage = usage_milli as f64;
    let ratio = usage / (target_milli as f64 * f64::from(status));
    let replicas = if within_tolerance(ratio, tolerance) {
        status
    } else {
        ceil_replicas(usage / target_milli as f64)
    };
    let per_pod = if status == 0 || usage >= i64::MAX as f64 {
        usage_milli
    } else {
        // |usage / status| <= |usage_milli|: the conversion is in range.
        (usage / f64::from(status)).ceil() as i64
    };
    (replicas, per_pod)
}

/// The sum of an External metric's series, capped at `i64::MAX` as upstream
/// caps it: on positive overflow for a Value target; for an AverageValue
/// target on any partial sum outside `0..=i64::MAX` (upstream's check
/// `usage < 0` also catches negative sums).
fn external_sum(values_milli: &[i64], per_pod: bool) -> i64 {
    let mut sum = 0i128;
    for &v in values_milli {
        sum += i128::from(v);
        if sum > i128::from(i64::MAX) || (per_pod && sum < 0) {
            return i64::MAX;
        }
    }
    // Only a Value target's sum of negative values can fall below i64::MIN,
    // where upstream would wrap.
    clamp_to_i64(sum)
}

/// An average or a sum of `i64` milli-values back in upstream's `int64`. An
/// average of `i64` samples always fits; only averages over scale-down
/// fallbacks (a request times a target percent) could exceed it, and those
/// are read for their ratio alone.
fn clamp_to_i64(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests;

//! Ported from upstream's `pkg/controller/podautoscaler/replica_calculator_test.go`
//! (and the combination rule of `horizontal.go`). Upstream's fixtures become
//! `PodSample` lists: its fake pods are Running and Ready, with a start time
//! and Ready transition at the zero time, two containers each with the
//! listed request and usage (so a pod's request and sample are twice the
//! listed values), and samples stamped at the zero time over one minute.

use super::*;
use crate::autoscale::hpa::CustomMetric;
use crate::time::NANOS_PER_SEC;

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

/// Upstream's test flags: tolerance 0.1, cpu initialization period 2 min,
/// initial readiness delay 10 s.
fn settings() -> HpaControllerSettings {
    HpaControllerSettings {
        tolerance: 0.1,
        cpu_initialization_period: secs(120),
        initial_readiness_delay: secs(10),
        ..HpaControllerSettings::default()
    }
}

/// The tests' "now": an hour in, so upstream's zero times lie far behind.
const NOW: SimTime = SimTime(3600 * NANOS_PER_SEC);

fn ago(s: u64) -> SimTime {
    SimTime(NOW.0 - s * NANOS_PER_SEC)
}

/// Upstream's `hotCPUCreationTime`: started now.
fn hot() -> SimTime {
    NOW
}

/// Upstream's `coolCPUCreationTime`: started 3 min ago.
fn cool() -> SimTime {
    ago(180)
}

fn fake_pod() -> PodSample {
    PodSample {
        phase: PodPhase::Running,
        deleting: false,
        ready: Some(true),
        started: Some(SimTime::ZERO),
        ready_transition: SimTime::ZERO,
        request_milli: None,
        metric: None,
    }
}

fn sample(value_milli: i64) -> PodMetric {
    PodMetric {
        value_milli,
        timestamp: SimTime::ZERO,
        window: secs(60),
    }
}

/// `n` pods of two containers, each requesting `requests[i]` and using
/// `levels[i]` millicores; pods past the lists have no request or no sample.
fn cpu_pods(n: usize, requests: &[i64], levels: &[i64]) -> Vec<PodSample> {
    (0..n)
        .map(|i| PodSample {
            request_milli: requests.get(i).map(|r| 2 * r),
            metric: levels.get(i).map(|l| sample(2 * l)),
            ..fake_pod()
        })
        .collect()
}

/// `n` pods with one custom-metric sample each; pods past `levels` have none.
fn metric_pods(n: usize, levels: &[i64]) -> Vec<PodSample> {
    (0..n)
        .map(|i| PodSample {
            metric: levels.get(i).map(|&l| sample(l)),
            ..fake_pod()
        })
        .collect()
}

fn with_ready(mut pods: Vec<PodSample>, ready: &[bool]) -> Vec<PodSample> {
    for (p, &r) in pods.iter_mut().zip(ready) {
        p.ready = Some(r);
    }
    pods
}

fn with_started(mut pods: Vec<PodSample>, started: &[SimTime]) -> Vec<PodSample> {
    for (p, &s) in pods.iter_mut().zip(started) {
        p.started = Some(s);
    }
    pods
}

fn with_phases(mut pods: Vec<PodSample>, phases: &[PodPhase]) -> Vec<PodSample> {
    for (p, &phase) in pods.iter_mut().zip(phases) {
        p.phase = phase;
    }
    pods
}

fn with_deleting(mut pods: Vec<PodSample>, deleting: &[bool]) -> Vec<PodSample> {
    for (p, &d) in pods.iter_mut().zip(deleting) {
        p.deleting = d;
    }
    pods
}

fn cpu_utilization(
    current: u32,
    target: i32,
    pods: &[PodSample],
) -> Result<Proposal, CalculatorError> {
    resource_replicas(
        current,
        ResourceTarget::Utilization(target),
        ResourceName::Cpu,
        pods,
        NOW,
        &settings(),
    )
}

/// Checks a Utilization proposal: replicas, percent, average sample.
#[track_caller]
fn assert_utilization(
    got: Result<Proposal, CalculatorError>,
    replicas: u32,
    percent: i64,
    average_milli: i64,
) {
    let got = got.expect("a proposal");
    assert_eq!(
        (got.replicas, got.usage, got.average_milli, got.timestamp),
        (replicas, percent, Some(average_milli), Some(SimTime::ZERO))
    );
}

fn pods_metric(current: u32, target: i64, pods: &[PodSample]) -> (u32, i64) {
    let p = pods_metric_replicas(current, target, pods, &settings()).expect("a proposal");
    (p.replicas, p.usage)
}

fn scale(replicas: u32) -> ScaleReplicas {
    ScaleReplicas {
        spec: replicas,
        status: replicas,
    }
}

fn object(current: u32, target: ValueTarget, usage: i64, pods: &[PodSample]) -> (u32, i64) {
    let p = object_replicas(scale(current), target, usage, pods, &settings()).expect("a proposal");
    (p.replicas, p.usage)
}

fn external(current: u32, target: ValueTarget, values: &[i64], pods: &[PodSample]) -> (u32, i64) {
    let p =
        external_replicas(scale(current), target, values, pods, &settings()).expect("a proposal");
    (p.replicas, p.usage)
}

const ONE_CPU: i64 = 1000;

// ---- Resource metrics, Utilization targets ----

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUp ("scale up")
#[test]
fn scale_up() {
    let pods = cpu_pods(3, &[ONE_CPU; 3], &[300, 500, 700]);
    assert_utilization(cpu_utilization(3, 30, &pods), 5, 50, 1000);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpUnreadyLessScale
#[test]
fn an_unready_pod_scales_up_less() {
    let pods = with_ready(
        cpu_pods(3, &[ONE_CPU; 3], &[300, 500, 700]),
        &[false, true, true],
    );
    assert_utilization(cpu_utilization(3, 30, &pods), 4, 60, 1200);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpHotCpuLessScale
#[test]
fn a_hot_cpu_pod_scales_up_less() {
    let pods = with_started(
        cpu_pods(3, &[ONE_CPU; 3], &[300, 500, 700]),
        &[hot(), cool(), cool()],
    );
    assert_utilization(cpu_utilization(3, 30, &pods), 4, 60, 1200);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpUnreadyNoScale
#[test]
fn unready_pods_counted_as_idle_cancel_a_scale_up() {
    let pods = with_ready(
        cpu_pods(3, &[ONE_CPU; 3], &[400, 500, 700]),
        &[true, false, false],
    );
    assert_utilization(cpu_utilization(3, 30, &pods), 3, 40, 800);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleHotCpuNoScale
#[test]
fn hot_cpu_pods_counted_as_idle_cancel_a_scale_up() {
    let pods = cpu_pods(3, &[ONE_CPU; 3], &[400, 500, 700]);
    let pods = with_started(
        with_ready(pods, &[true, false, false]),
        &[cool(), hot(), hot()],
    );
    assert_utilization(cpu_utilization(3, 30, &pods), 3, 40, 800);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpIgnoresFailedPods
#[test]
fn a_scale_up_ignores_failed_pods() {
    let pods = with_ready(
        cpu_pods(4, &[ONE_CPU; 4], &[500, 700]),
        &[true, true, false, false],
    );
    let pods = with_phases(
        pods,
        &[
            PodPhase::Running,
            PodPhase::Running,
            PodPhase::Failed,
            PodPhase::Failed,
        ],
    );
    assert_utilization(cpu_utilization(2, 30, &pods), 4, 60, 1200);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpIgnoresDeletionPods
#[test]
fn a_scale_up_ignores_pods_being_deleted() {
    let pods = with_ready(
        cpu_pods(4, &[ONE_CPU; 4], &[500, 700]),
        &[true, true, false, false],
    );
    let pods = with_deleting(pods, &[false, false, true, true]);
    assert_utilization(cpu_utilization(2, 30, &pods), 4, 60, 1200);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleDown
#[test]
fn scale_down() {
    let pods = cpu_pods(5, &[ONE_CPU; 5], &[100, 300, 500, 250, 250]);
    assert_utilization(cpu_utilization(5, 50, &pods), 3, 28, 560);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleDownIncludeUnreadyPods
// ("scale down: exclude unready pods" in the table version)
#[test]
fn a_scale_down_leaves_unready_pods_out() {
    let pods = cpu_pods(5, &[ONE_CPU; 5], &[100, 300, 500, 250, 250]);
    let pods = with_ready(pods, &[true, true, true, false, false]);
    assert_utilization(cpu_utilization(5, 50, &pods), 2, 30, 600);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleDownExcludeUnscheduledPods
#[test]
fn a_scale_down_leaves_pending_pods_out() {
    let pods = with_ready(
        cpu_pods(5, &[ONE_CPU; 5], &[100]),
        &[true, false, false, false, false],
    );
    let pending = [PodPhase::Pending; 4];
    let pods = with_phases(pods, &[&[PodPhase::Running][..], &pending].concat());
    assert_utilization(cpu_utilization(5, 50, &pods), 1, 10, 200);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleDownIgnoreHotCpuPods
#[test]
fn a_scale_down_ignores_hot_cpu_pods() {
    let pods = cpu_pods(5, &[ONE_CPU; 5], &[100, 300, 500, 250, 250]);
    let pods = with_started(pods, &[cool(), cool(), cool(), hot(), hot()]);
    assert_utilization(cpu_utilization(5, 50, &pods), 2, 30, 600);
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleDownIgnoresFailedPods
#[test]
fn a_scale_down_ignores_failed_pods() {
    let pods = cpu_pods(7, &[ONE_CPU; 7], &[100, 300, 500, 250, 250]);
    let pods = with_ready(pods, &[true, true, true, true, true, false, false]);
    let mut phases = vec![PodPhase::Running; 5];
    phases.extend([PodPhase::Failed; 2]);
    assert_utilization(
        cpu_utilization(5, 50, &with_phases(pods, &phases)),
        3,
        28,
        560,
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleDownIgnoresDeletionPods
// (regression test for kubernetes#83561: still-running pods being deleted)
#[test]
fn a_scale_down_ignores_running_pods_being_deleted() {
    let pods = cpu_pods(7, &[ONE_CPU; 7], &[100, 300, 500, 250, 250]);
    let pods = with_ready(pods, &[true, true, true, true, true, false, false]);
    let pods = with_deleting(pods, &[false, false, false, false, false, true, true]);
    assert_utilization(cpu_utilization(5, 50, &pods), 3, 28, 560);
}

// upstream: replica_calculator_test.go, TestReplicaCalcTolerance
#[test]
fn a_ratio_within_tolerance_keeps_the_count() {
    let pods = cpu_pods(3, &[900, 1000, 1100], &[1010, 1030, 1020]);
    assert_utilization(cpu_utilization(3, 100, &pods), 3, 102, 2040);
}

// upstream: replica_calculator_test.go, TestReplicaCalcSuperfluousMetrics. Upstream's
// two extra samples belong to pods the lister does not know, which the
// ratio skips; a PodSample list cannot hold them, and the result is the same.
#[test]
fn superfluous_metrics() {
    let pods = cpu_pods(4, &[ONE_CPU; 4], &[4000, 9500, 3000, 7000]);
    assert_utilization(cpu_utilization(4, 100, &pods), 24, 587, 11750);
}

// upstream: replica_calculator_test.go, TestReplicaCalcMissingMetrics
#[test]
fn missing_metrics() {
    let pods = cpu_pods(4, &[ONE_CPU; 4], &[400, 95]);
    assert_utilization(cpu_utilization(4, 100, &pods), 3, 24, 495);
}

// upstream: replica_calculator_test.go, TestReplicaCalcEmptyMetrics
#[test]
fn no_metrics_at_all_is_an_error() {
    let pods = cpu_pods(3, &[ONE_CPU; 3], &[]);
    assert_eq!(
        cpu_utilization(4, 100, &pods),
        Err(CalculatorError::NoMetrics)
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcEmptyCPURequest
#[test]
fn a_pod_without_a_request_is_an_error() {
    let pods = cpu_pods(1, &[], &[200]);
    assert_eq!(
        cpu_utilization(1, 100, &pods),
        Err(CalculatorError::MissingRequest {
            pod: 0,
            resource: ResourceName::Cpu
        })
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcMissingMetricsNoChangeEq,
// TestReplicaCalcMissingMetricsNoChangeGt, TestReplicaCalcMissingMetricsNoChangeLt
#[test]
fn missing_metrics_that_would_reverse_the_direction_keep_the_count() {
    for (level, percent) in [(1000, 100), (1900, 190), (600, 60)] {
        let pods = cpu_pods(2, &[ONE_CPU; 2], &[level]);
        assert_utilization(cpu_utilization(2, 100, &pods), 2, percent, 2 * level);
    }
}

// upstream: replica_calculator_test.go, TestReplicaCalcMissingMetricsUnreadyChange
#[test]
fn missing_metrics_with_an_unready_pod_keep_the_count() {
    let pods = with_ready(
        cpu_pods(3, &[ONE_CPU; 3], &[100, 450]),
        &[false, true, true],
    );
    assert_utilization(cpu_utilization(3, 50, &pods), 3, 45, 900);
}

// upstream: replica_calculator_test.go, TestReplicaCalcMissingMetricsHotCpuNoChange
#[test]
fn missing_metrics_with_a_hot_cpu_pod_keep_the_count() {
    let pods = with_started(
        cpu_pods(3, &[ONE_CPU; 3], &[100, 450]),
        &[hot(), cool(), cool()],
    );
    assert_utilization(cpu_utilization(3, 50, &pods), 3, 45, 900);
}

// upstream: replica_calculator_test.go, TestReplicaCalcMissingMetricsUnreadyScaleUp,
// TestReplicaCalcMissingMetricsHotCpuScaleUp
#[test]
fn missing_metrics_and_unready_pods_count_as_idle_on_a_scale_up() {
    let pods = with_ready(
        cpu_pods(3, &[ONE_CPU; 3], &[100, 2000]),
        &[false, true, true],
    );
    assert_utilization(cpu_utilization(3, 50, &pods), 4, 200, 4000);
    let hot_pods = with_started(pods, &[hot(), cool(), cool()]);
    assert_utilization(cpu_utilization(3, 50, &hot_pods), 4, 200, 4000);
}

// upstream: replica_calculator_test.go, TestReplicaCalcMissingMetricsUnreadyScaleDown
#[test]
fn missing_metrics_count_as_the_request_on_a_scale_down() {
    let pods = with_ready(
        cpu_pods(4, &[ONE_CPU; 4], &[100, 100, 100]),
        &[false, true, true, true],
    );
    assert_utilization(cpu_utilization(4, 50, &pods), 3, 10, 200);
}

// upstream: replica_calculator_test.go, TestReplicaCalcMissingMetricsScaleDownTargetOver100
#[test]
fn missing_metrics_count_as_a_target_above_100_percent_on_a_scale_down() {
    let pods = cpu_pods(4, &[1000, 1000, 2000, 2000], &[200, 100, 100]);
    let pods = with_ready(pods, &[false, true, true, true]);
    assert_utilization(cpu_utilization(4, 300, &pods), 2, 6, 200);
}

// upstream: replica_calculator_test.go, TestReplicaCalcDuringRollingUpdateWithMaxSurge
#[test]
fn a_surge_pod_without_metrics_does_not_scale_up() {
    let pods = cpu_pods(3, &[ONE_CPU; 3], &[100, 100]);
    assert_utilization(cpu_utilization(2, 50, &pods), 2, 10, 200);
}

// upstream: replica_calculator_test.go, TestReplicaCalcComputedToleranceAlgImplementation:
// a target just past the tolerance scales down; one just inside it does not.
#[test]
fn computed_tolerance() {
    let start_pods = 10u32;
    let used_total = 150 * i64::from(start_pods);
    let requested_total = 2 * used_total;
    let requested_to_used = (requested_total / used_total) as f64;
    let per_pod_requested = requested_total / i64::from(start_pods);
    let requests: Vec<i64> = [100, -100, 10, -10, 2, -2, 1, -1, 0, 0]
        .iter()
        .map(|d| per_pod_requested + d)
        .collect();
    let pods = cpu_pods(10, &requests, &[used_total / 10; 10]);
    let percent = used_total * 100 / requested_total;

    let target = 1.0 / (requested_to_used * (1.0 - 0.1)) + 0.01;
    let used_ratio = used_total as f64 / (requested_total as f64 * target);
    let final_pods = (used_ratio * f64::from(start_pods)).ceil() as u32;
    let target_percent = (target * 100.0) as i32;
    assert_eq!(
        (target_percent, final_pods),
        (56, 9),
        "upstream's derived numbers"
    );
    assert_utilization(
        cpu_utilization(start_pods, target_percent, &pods),
        final_pods,
        percent,
        300,
    );

    let target_percent = ((1.0 / (requested_to_used * (1.0 - 0.1)) + 0.004) * 100.0) as i32;
    assert_utilization(
        cpu_utilization(start_pods, target_percent, &pods),
        start_pods,
        percent,
        300,
    );
}

// ---- Resource metrics, AverageValue targets ----

#[test]
fn an_average_value_cpu_target_applies_the_readiness_rule_and_no_requests() {
    // Upstream's GetRawResourceReplicas runs the plain calculation with the
    // resource named, so hot cpu pods are left out; requests are not read.
    let pods = with_started(cpu_pods(3, &[], &[300, 500, 700]), &[hot(), cool(), cool()]);
    let target = ResourceTarget::AverageValueMilli(600);
    let p = resource_replicas(3, target, ResourceName::Cpu, &pods, NOW, &settings()).unwrap();
    // Ready: 1000 and 1400 → 1200 a pod, ratio 2; the hot pod counts as 0:
    // 800 a pod over three, ratio 4/3 → 4.
    assert_eq!((p.replicas, p.usage, p.average_milli), (4, 1200, None));
    let memory =
        resource_replicas(3, target, ResourceName::Memory, &pods, NOW, &settings()).unwrap();
    // Memory ignores readiness: 1000 a pod, ratio 5/3 → 5.
    assert_eq!((memory.replicas, memory.usage), (5, 1000));
}

// ---- Pods metrics ----

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpCM
#[test]
fn pods_metric_scale_up() {
    let pods = metric_pods(3, &[20000, 10000, 30000]);
    assert_eq!(pods_metric(3, 15000, &pods), (4, 20000));
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale
#[test]
fn a_pods_metric_ignores_the_cpu_readiness_rule() {
    let pods = metric_pods(3, &[50000, 10000, 30000]);
    let pods = with_started(
        with_ready(pods, &[true, true, false]),
        &[cool(), cool(), hot()],
    );
    assert_eq!(pods_metric(3, 15000, &pods), (6, 30000));
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown
#[test]
fn a_pods_metric_counts_unready_pods_samples() {
    let pods = metric_pods(3, &[50000, 15000, 30000]);
    let pods = with_started(
        with_ready(pods, &[false, true, false]),
        &[hot(), cool(), hot()],
    );
    assert_eq!(pods_metric(3, 15000, &pods), (7, 31666));
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleDownCM
#[test]
fn pods_metric_scale_down() {
    assert_eq!(
        pods_metric(5, 20000, &metric_pods(5, &[12000; 5])),
        (3, 12000)
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcToleranceCM
#[test]
fn pods_metric_tolerance() {
    let pods = metric_pods(3, &[20000, 21000, 21000]);
    assert_eq!(pods_metric(3, 20000, &pods), (3, 20666));
}

// upstream: replica_calculator_test.go, TestPlainMetricReplicaCalcMissingMetricsNoChangeEq
#[test]
fn pods_metric_at_target_with_missing_pods_keeps_the_count() {
    let pods = metric_pods(5, &[20000, 19000, 21000]);
    assert_eq!(pods_metric(5, 20000, &pods), (5, 20000));
}

// upstream: replica_calculator_test.go, TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM
#[test]
fn pods_metric_surge_pod_without_metrics_does_not_scale_up() {
    let pods = metric_pods(3, &[10000, 10000]);
    assert_eq!(pods_metric(2, 17000, &pods), (2, 10000));
}

// ---- Object metrics ----

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpCMObject,
// TestReplicaCalcScaleDownCMObject, TestReplicaCalcToleranceCMObject
#[test]
fn object_value_targets() {
    let value = ValueTarget::ValueMilli;
    assert_eq!(
        object(3, value(15000), 20000, &metric_pods(3, &[])),
        (4, 20000)
    );
    assert_eq!(
        object(5, value(20000), 12000, &metric_pods(5, &[])),
        (3, 12000)
    );
    assert_eq!(
        object(3, value(20000), 20666, &metric_pods(3, &[])),
        (3, 20666)
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods
#[test]
fn an_object_value_target_scales_the_ready_pods() {
    let pods = with_ready(metric_pods(3, &[]), &[false, true, false]);
    assert_eq!(
        object(3, ValueTarget::ValueMilli(10000), 50000, &pods),
        (5, 50000)
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpCMPerPodObject,
// TestReplicaCalcScaleDownPerPodCMObject, TestReplicaCalcTolerancePerPodCMObject
#[test]
fn object_average_value_targets() {
    let average = ValueTarget::AverageValueMilli;
    assert_eq!(
        object(3, average(5000), 20000, &metric_pods(3, &[])),
        (4, 6667)
    );
    assert_eq!(
        object(5, average(2000), 6000, &metric_pods(5, &[])),
        (3, 1200)
    );
    assert_eq!(
        object(4, average(5000), 20166, &metric_pods(4, &[])),
        (4, 5042)
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpOverflow
#[test]
fn an_object_proposal_is_capped_at_the_largest_int32() {
    let pods = metric_pods(3, &[]);
    assert_eq!(
        object(3, ValueTarget::ValueMilli(1), i64::MAX, &pods),
        (i32::MAX as u32, i64::MAX)
    );
}

#[test]
fn an_object_value_target_scales_from_and_to_zero() {
    // From zero replicas the ratio alone decides (upstream's
    // getUsageRatioReplicaCount), without pods or tolerance.
    assert_eq!(
        object(0, ValueTarget::ValueMilli(20000), 30000, &[]),
        (2, 30000)
    );
    assert_eq!(object(0, ValueTarget::ValueMilli(20000), 0, &[]), (0, 0));
    assert_eq!(
        object_replicas(
            scale(2),
            ValueTarget::ValueMilli(1000),
            5000,
            &[],
            &settings()
        ),
        Err(CalculatorError::NoPods)
    );
}

// ---- External metrics ----

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods
#[test]
fn an_external_value_target_scales_the_ready_pods() {
    let pods = with_ready(metric_pods(3, &[]), &[false, true, false]);
    assert_eq!(
        external(3, ValueTarget::ValueMilli(4400), &[8600], &pods),
        (2, 8600)
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleDownCMExternal,
// TestReplicaCalcToleranceCMExternal
#[test]
fn external_value_targets() {
    let value = ValueTarget::ValueMilli;
    assert_eq!(
        external(5, value(14334), &[8600], &metric_pods(5, &[])),
        (3, 8600)
    );
    assert_eq!(
        external(3, value(8888), &[8600], &metric_pods(3, &[])),
        (3, 8600)
    );
    // The series are summed.
    assert_eq!(
        external(3, value(4300), &[4300, 4300], &metric_pods(3, &[])),
        (6, 8600)
    );
}

// upstream: replica_calculator_test.go, TestReplicaCalcScaleUpPerPodCMExternal,
// TestReplicaCalcScaleDownPerPodCMExternal, TestReplicaCalcTolerancePerPodCMExternal
#[test]
fn external_average_value_targets() {
    let average = ValueTarget::AverageValueMilli;
    assert_eq!(external(3, average(2150), &[8600], &[]), (4, 2867));
    assert_eq!(external(5, average(2867), &[8600], &[]), (3, 1720));
    assert_eq!(external(3, average(2900), &[8600], &[]), (3, 2867));
}

// upstream: replica_calculator_test.go, TestExternalPerPodMetricReplicaOverflow,
// TestExternalPerPodMetricUsageOverflow, TestReplicaCalcExternalMetricUsageOverflow
#[test]
fn external_sums_are_capped_at_the_largest_int64() {
    let average = ValueTarget::AverageValueMilli;
    assert_eq!(
        external(1, average(1), &[i64::MAX], &[]),
        (i32::MAX as u32, i64::MAX)
    );
    assert_eq!(
        external(1, average(i64::MAX), &[i64::MAX], &[]),
        (1, i64::MAX)
    );
    let half = i64::MAX / 2 + 1;
    let pods = metric_pods(3, &[]);
    assert_eq!(
        external(3, ValueTarget::ValueMilli(i64::MAX), &[half, half], &pods),
        (3, i64::MAX)
    );
}

// ---- groupPods ----

struct GroupCase {
    name: &'static str,
    pod: PodSample,
    resource: ResourceName,
    /// ready, unready, missing, ignored
    expect: (usize, bool, bool, bool),
}

/// A pod of upstream's TestGroupPods: Succeeded, no Ready condition unless
/// set, started at `started`.
fn group_pod(
    started: Option<SimTime>,
    ready: Option<(bool, SimTime)>,
    metric: Option<PodMetric>,
) -> PodSample {
    PodSample {
        phase: PodPhase::Succeeded,
        started,
        ready: ready.map(|(r, _)| r),
        ready_transition: ready.map_or(SimTime::ZERO, |(_, t)| t),
        metric,
        ..fake_pod()
    }
}

fn fresh(window_s: u64, taken: SimTime) -> Option<PodMetric> {
    Some(PodMetric {
        value_milli: 1,
        timestamp: taken,
        window: secs(window_s),
    })
}

fn bare_sample() -> Option<PodMetric> {
    fresh(0, SimTime::ZERO)
}

// upstream: replica_calculator_test.go, TestGroupPods
#[test]
fn group_pods_table() {
    use ResourceName::{Cpu, Memory};
    let cases = [
        GroupCase {
            name: "count in a ready pod - memory",
            pod: group_pod(None, None, fresh(60, NOW)),
            resource: Memory,
            expect: (1, false, false, false),
        },
        GroupCase {
            name: "unready a pod without ready condition - CPU",
            pod: group_pod(Some(NOW), None, bare_sample()),
            resource: Cpu,
            expect: (0, true, false, false),
        },
        GroupCase {
            name: "count in a ready pod with fresh metrics during initialization period - CPU",
            pod: group_pod(Some(ago(60)), Some((true, ago(30))), fresh(30, NOW)),
            resource: Cpu,
            expect: (1, false, false, false),
        },
        GroupCase {
            name: "unready a ready pod without fresh metrics during initialization period - CPU",
            pod: group_pod(Some(ago(60)), Some((true, ago(30))), fresh(60, NOW)),
            resource: Cpu,
            expect: (0, true, false, false),
        },
        GroupCase {
            name: "unready an unready pod during initialization period - CPU",
            pod: group_pod(Some(ago(600)), Some((false, ago(594))), bare_sample()),
            resource: Cpu,
            expect: (0, true, false, false),
        },
        GroupCase {
            name: "count in a ready pod without fresh metrics after initialization period - CPU",
            pod: group_pod(Some(ago(180)), Some((true, ago(180))), fresh(60, ago(120))),
            resource: Cpu,
            expect: (1, false, false, false),
        },
        GroupCase {
            name: "count in an unready pod that was ready after initialization period - CPU",
            pod: group_pod(Some(ago(600)), Some((false, ago(540))), bare_sample()),
            resource: Cpu,
            expect: (1, false, false, false),
        },
        GroupCase {
            name: "unready pod that has never been ready after initialization period - CPU",
            pod: group_pod(Some(ago(600)), Some((false, ago(590))), bare_sample()),
            resource: Cpu,
            expect: (1, false, false, false),
        },
        GroupCase {
            name: "a missing pod",
            pod: group_pod(Some(ago(180)), None, None),
            resource: Cpu,
            expect: (0, false, true, false),
        },
        GroupCase {
            name: "pending pods are unreadied",
            pod: PodSample {
                phase: PodPhase::Pending,
                ..group_pod(None, None, None)
            },
            resource: Cpu,
            expect: (0, true, false, false),
        },
        GroupCase {
            name: "ignore pods with deletion timestamps",
            pod: PodSample {
                phase: PodPhase::Pending,
                deleting: true,
                ..group_pod(None, None, bare_sample())
            },
            resource: Cpu,
            expect: (0, false, false, true),
        },
        GroupCase {
            name: "ignore pods in a failed state",
            pod: PodSample {
                phase: PodPhase::Failed,
                ..group_pod(None, None, bare_sample())
            },
            resource: Cpu,
            expect: (0, false, false, true),
        },
    ];
    for case in cases {
        let rule = match case.resource {
            Cpu => Readiness::CpuRule { now: NOW },
            Memory => Readiness::PhaseOnly,
        };
        let g = group_pods(&[case.pod], rule, &settings());
        let got = (
            g.ready,
            !g.unready.is_empty(),
            !g.missing.is_empty(),
            !g.ignored.is_empty(),
        );
        assert_eq!(got, case.expect, "{}", case.name);
    }
    assert_eq!(
        group_pods(&[], Readiness::CpuRule { now: NOW }, &settings()),
        PodGroups::default(),
        "void"
    );
}

// upstream: replica_calculator_test.go, TestGroupPods ("several pods")
#[test]
fn group_pods_sorts_several_pods() {
    let pods = [
        group_pod(Some(NOW), None, bare_sample()),
        group_pod(Some(ago(180)), Some((true, ago(180))), bare_sample()),
        group_pod(Some(ago(180)), None, None),
    ];
    let g = group_pods(&pods, Readiness::CpuRule { now: NOW }, &settings());
    let expected = PodGroups {
        ready: 1,
        unready: vec![0],
        missing: vec![2],
        ignored: vec![],
    };
    assert_eq!(g, expected);
}

#[test]
fn ready_pods_are_running_and_ready() {
    let pods = with_phases(
        with_ready(metric_pods(4, &[]), &[true, false, true, true]),
        &[
            PodPhase::Running,
            PodPhase::Running,
            PodPhase::Pending,
            PodPhase::Running,
        ],
    );
    let mut pods = pods;
    pods[3].ready = None;
    assert_eq!(ready_pod_count(&pods), 1);
}

// ---- Combining the metrics (horizontal.go, computeReplicasForMetrics) ----

fn proposal(replicas: u32) -> Result<Proposal, CalculatorError> {
    Ok(Proposal {
        replicas,
        usage: 0,
        average_milli: None,
        timestamp: Some(SimTime(u64::from(replicas))),
    })
}

fn failed() -> Result<Proposal, CalculatorError> {
    Err(CalculatorError::MetricUnavailable { metric: "qps" })
}

#[test]
fn the_largest_proposal_wins() {
    let c = combine(3, &[proposal(2), proposal(5), proposal(5), proposal(4)]).unwrap();
    assert_eq!(
        (c.replicas, c.metric, c.timestamp, c.invalid),
        (5, 1, Some(SimTime(5)), 0)
    );
    // A zero proposal gives way to the next one, as upstream's `replicas == 0`
    // test makes it.
    assert_eq!(combine(3, &[proposal(0), proposal(0)]).unwrap().metric, 1);
}

// upstream: horizontal_test.go, TestScaleUpOneMetricInvalid, TestScaleUpOneMetricEmpty
#[test]
fn a_failed_metric_does_not_block_a_scale_up() {
    let c = combine(3, &[proposal(4), failed()]).unwrap();
    assert_eq!(
        (c.replicas, c.invalid, c.first_error),
        (4, 1, failed().err())
    );
}

// upstream: horizontal_test.go, TestNoScaleDownOneMetricInvalid, TestNoScaleDownOneMetricEmpty,
// TestScaleUpBothMetricsEmpty
#[test]
fn a_failed_metric_blocks_a_scale_down_and_all_failed_block_everything() {
    let blocked = CombineError {
        invalid: 1,
        total: 2,
        first: failed().err(),
    };
    assert_eq!(combine(5, &[proposal(3), failed()]), Err(blocked));
    assert_eq!(combine(5, &[proposal(5), failed()]).unwrap().replicas, 5);
    let all = combine(3, &[failed()]).unwrap_err();
    assert_eq!((all.invalid, all.total), (1, 1));
    assert!(all
        .to_string()
        .starts_with("1 of 1 metrics invalid, the first: no value of metric qps"));
    assert_eq!(combine(3, &[]).unwrap_err().first, None);
}

#[test]
fn targets_are_validated_as_upstream() {
    let cpu = |target| MetricSpec::Resource {
        name: ResourceName::Cpu,
        target,
    };
    assert_eq!(
        validate_metric(&cpu(ResourceTarget::Utilization(0))),
        Err(TargetError::Utilization(0))
    );
    assert_eq!(
        validate_metric(&cpu(ResourceTarget::Utilization(1))),
        Ok(())
    );
    // No upper bound: a target above 100% is accepted.
    assert_eq!(
        validate_metric(&cpu(ResourceTarget::Utilization(250))),
        Ok(())
    );
    assert_eq!(
        validate_metric(&cpu(ResourceTarget::AverageValueMilli(0))),
        Err(TargetError::Value(0))
    );
    let pods = MetricSpec::Pods {
        metric: CustomMetric::RequestRate,
        average_value_milli: -5,
    };
    assert_eq!(validate_metric(&pods), Err(TargetError::Value(-5)));
    let external = MetricSpec::External {
        metric: CustomMetric::QueueLength,
        workload: 0,
        target: ValueTarget::AverageValueMilli(1),
    };
    assert_eq!(validate_metric(&external), Ok(()));
}

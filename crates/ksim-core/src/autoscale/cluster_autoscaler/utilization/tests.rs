//! Ported from upstream's `simulator/utilization/info_test.go`
//! (`TestCalculate`). Its fixtures: a node of 2000 millicores and 2,000,000
//! bytes; a pod of 100 millicores and 200,000 bytes; a pod with no requests.

use super::*;
use crate::resources::{FIRST_EXTENDED, PODS};

const GPU: usize = FIRST_EXTENDED;

/// Upstream's test clock (its fixed date, as a time well into the run).
const NOW: SimTime = SimTime(3600 * crate::time::NANOS_PER_SEC);

fn node(cpu_millis: u64, memory_bytes: u64) -> ResourceVec {
    let mut v = ResourceVec::ZERO;
    v.0[CPU] = cpu_millis;
    v.0[MEMORY] = memory_bytes;
    v.0[PODS] = 110;
    v
}

fn pod_of(cpu_millis: u64, memory_bytes: u64, origin: PodOrigin) -> NodePod {
    let mut requests = ResourceVec::ZERO;
    requests.0[CPU] = cpu_millis;
    requests.0[MEMORY] = memory_bytes;
    requests.0[PODS] = 1;
    NodePod {
        requests,
        origin,
        deletion: None,
    }
}

fn pod() -> NodePod {
    pod_of(100, 200_000, PodOrigin::Regular)
}

fn empty_pod() -> NodePod {
    pod_of(0, 0, PodOrigin::Regular)
}

fn calc(pods: &[NodePod], skip_ds: bool, skip_mirror: bool) -> UtilizationInfo {
    let options = UtilizationOptions {
        skip_daemonset_pods: skip_ds,
        skip_mirror_pods: skip_mirror,
    };
    node_utilization(&node(2000, 2_000_000), pods, None, options, NOW).unwrap()
}

fn assert_close(actual: f64, expected: f64) {
    // upstream: assert.InEpsilon(expected, actual, 0.01)
    assert!(
        ((actual - expected) / expected).abs() < 0.01,
        "{actual} is not within 1% of {expected}"
    );
}

// upstream: info_test.go TestCalculate, first case (pod, pod, empty pod)
#[test]
fn memory_sets_utilization_of_plain_pods() {
    let info = calc(&[pod(), pod(), empty_pod()], false, false);
    assert_close(info.utilization, 2.0 / 10.0);
    assert_eq!(info.cpu, 0.1);
    assert_eq!(info.resource, MEMORY);
}

// upstream: info_test.go TestCalculate, node2 (no memory allocatable) errs
#[test]
fn missing_memory_allocatable_is_an_error() {
    let pods = [pod(), pod(), empty_pod()];
    let err = node_utilization(
        &node(2000, 0),
        &pods,
        None,
        UtilizationOptions::default(),
        NOW,
    );
    assert_eq!(
        err,
        Err(UtilizationError::ZeroAllocatable { resource: MEMORY })
    );
}

// upstream: info_test.go TestCalculate, node3 with init containers. The
// effective requests are folded in by the caller: a restartable init
// container adds to the pod (100 + 50 millicores, 200,000 + 100,000 bytes),
// and a large non-restartable one dominates it (50,000 millicores,
// 100,000,000 bytes).
#[test]
fn effective_requests_of_init_containers() {
    let with_sidecar = pod_of(150, 300_000, PodOrigin::Regular);
    let large_init = pod_of(50_000, 100_000_000, PodOrigin::Regular);
    let info = calc(&[pod(), with_sidecar, large_init], false, false);
    assert_close(info.utilization, 50.25);
    assert_eq!(info.cpu, 25.125);
}

// upstream: info_test.go TestCalculate, DaemonSet pods skipped (one owned
// by a DaemonSet, one annotated as a DaemonSet pod)
#[test]
fn skipped_daemonset_pods_leave_requests_and_allocatable() {
    let ds = || pod_of(100, 200_000, PodOrigin::DaemonSet);
    let info = calc(&[pod(), pod(), empty_pod(), ds(), ds()], true, false);
    assert_close(info.utilization, 2.5 / 10.0);
}

// upstream: info_test.go TestCalculate, DaemonSet pod counted when not skipped
#[test]
fn daemonset_pods_count_unless_skipped() {
    let ds = pod_of(100, 200_000, PodOrigin::DaemonSet);
    let info = calc(&[pod(), empty_pod(), ds], false, false);
    assert_close(info.utilization, 2.0 / 10.0);
}

// upstream: info_test.go TestCalculate, terminated pod (deleted 10 min ago)
#[test]
fn long_terminating_pods_do_not_count() {
    let mut terminated = pod();
    terminated.deletion = Some(Deletion {
        at: SimTime(NOW.0 - SimDuration::from_secs(600).0),
        grace: SimDuration::from_secs(30),
    });
    let info = calc(&[pod(), pod(), empty_pod(), terminated], false, false);
    assert_close(info.utilization, 2.0 / 10.0);
}

// The boundary of upstream's IsPodLongTerminating: strictly after
// deletion + grace + 30 s.
#[test]
fn terminating_pods_count_until_grace_and_extra_pass() {
    let deletion = Deletion {
        at: SimTime(NOW.0 - SimDuration::from_secs(60).0),
        grace: SimDuration::from_secs(30),
    };
    assert!(!is_long_terminating(Some(deletion), NOW));
    assert!(is_long_terminating(Some(deletion), SimTime(NOW.0 + 1)));
    assert!(!is_long_terminating(None, NOW));
}

// upstream: info_test.go TestCalculate, mirror pod skipped
#[test]
fn skipped_mirror_pods_leave_requests_and_allocatable() {
    let mirror = pod_of(100, 200_000, PodOrigin::Mirror);
    let info = calc(&[pod(), pod(), empty_pod(), mirror], false, true);
    assert_close(info.utilization, 2.0 / 9.0);
}

// upstream: info_test.go TestCalculate, mirror pod counted when not skipped
#[test]
fn mirror_pods_count_unless_skipped() {
    let mirror = pod_of(100, 200_000, PodOrigin::Mirror);
    let info = calc(&[pod(), empty_pod(), mirror], false, false);
    assert_close(info.utilization, 2.0 / 10.0);
}

// upstream: info_test.go TestCalculate, both skipped
#[test]
fn daemonset_and_mirror_pods_skipped_together() {
    let mirror = pod_of(100, 200_000, PodOrigin::Mirror);
    let ds = pod_of(100, 200_000, PodOrigin::DaemonSet);
    let info = calc(&[pod(), mirror, ds], true, true);
    assert_close(info.utilization, 1.0 / 8.0);
}

// upstream: info_test.go TestCalculate, GPU node judged by its GPU alone
#[test]
fn gpu_node_is_judged_by_gpu() {
    let mut allocatable = node(2000, 2_000_000);
    allocatable.0[GPU] = 1;
    let mut gpu_pod = pod();
    gpu_pod.requests.0[GPU] = 1;
    let pods = [pod(), pod(), gpu_pod];
    let info = node_utilization(
        &allocatable,
        &pods,
        Some(GPU),
        UtilizationOptions::default(),
        NOW,
    )
    .unwrap();
    assert_close(info.utilization, 1.0);
    assert_eq!(info.resource, GPU);
}

// upstream: info_test.go TestCalculate, node with unready GPU reads zero
#[test]
fn unready_gpu_node_reads_zero() {
    let pods = [pod(), pod()];
    let info = node_utilization(
        &node(2000, 2_000_000),
        &pods,
        Some(GPU),
        UtilizationOptions::default(),
        NOW,
    )
    .unwrap();
    assert_eq!(info.utilization, 0.0);
}

#[test]
fn cpu_wins_when_strictly_higher() {
    let info = calc(&[pod_of(1500, 200_000, PodOrigin::Regular)], false, false);
    assert_eq!(info.resource, CPU);
    assert_eq!(info.utilization, 0.75);
}

#[test]
fn skipped_pods_filling_the_node_is_an_error() {
    let ds = pod_of(2000, 200_000, PodOrigin::DaemonSet);
    let options = UtilizationOptions {
        skip_daemonset_pods: true,
        skip_mirror_pods: false,
    };
    let err = node_utilization(&node(2000, 2_000_000), &[ds], None, options, NOW);
    assert_eq!(
        err,
        Err(UtilizationError::SkippedPodsFillNode { resource: CPU })
    );
}

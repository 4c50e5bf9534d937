//! Node failures and recoveries that land while a pod is being scheduled or
//! bound: what upstream does (a pod the scheduler has only assumed is not on
//! the node as far as the node-lifecycle controller and the kubelet know; a
//! pod bound to a dead kubelet stays Pending) and the same with and without a
//! control plane. Every run here checks the invariants at every sample.

mod common;
use common::*;

use ksim_core::config::{NodeFailureSpec, SchedulerMode, ScoringStrategy, SimConfig};
use ksim_core::control_plane::config::ControlPlaneConfig;
use ksim_core::metrics::RunOutput;
use ksim_core::pod_phase::PodPhase;
use ksim_core::time::{SimDuration, SimTime};

fn at(s: u64) -> SimTime {
    SimTime::ZERO + secs(s)
}

fn failure(at_s: u64, recover_after: Option<SimDuration>) -> NodeFailureSpec {
    NodeFailureSpec {
        at: at(at_s),
        pool: 0,
        count: 1,
        recover_after,
    }
}

fn first_fit(mut c: SimConfig) -> SimConfig {
    c.scheduler.mode = SchedulerMode::Fast;
    c.scheduler.scoring = ScoringStrategy::MostAllocated;
    c
}

fn with_control_plane(mut c: SimConfig) -> SimConfig {
    c.control_plane = Some(ControlPlaneConfig::default());
    c
}

/// A node no pod here fits: with it the zone is not fully disrupted when
/// pool "a"'s node fails, so evictions go on. Upstream's
/// TestMonitorNodeHealthEvictPodsWithDisruption adds a healthy node for the
/// same reason: with every node NotReady the controller evicts nothing.
fn spare() -> ksim_core::config::NodePoolSpec {
    pool("spare", 1, 500, GI)
}

fn row(out: &RunOutput, s: u64) -> &ksim_core::metrics::TimelineSample {
    out.timeline
        .iter()
        .find(|r| r.time == at(s))
        .expect("a sample at that time")
}

/// The fuzzing finding in its shortest form: the node fails and recovers
/// (1 ns later) while the first pod's 1 ms cycle runs. The recovered kubelet
/// must not end a pod that was never bound to it, and the cycle must not
/// bind a pod that already ended: before the fix both pods ran at once on the
/// one-cpu node and `pending` wrapped to 2^64 - 1.
#[test]
fn a_pod_ending_during_its_own_scheduling_cycle_is_not_bound_and_started_anyway() {
    let mut c = config(
        vec![pool("a", 1, 1000, 8 * GI)],
        vec![job("j", template(1000, GI), &[10, 20], 100)],
        300,
    );
    c.node_failures = vec![failure(10, Some(SimDuration(1)))];
    let out = run(c);
    let pods = out.pods.unwrap();
    assert_eq!(out.summary.pods_succeeded, 2);
    assert_eq!(out.summary.pods_pending, 0);
    assert_eq!(pods[0].started, Some(at(10) + SimDuration::from_millis(1)));
    assert!(
        pods[1].started.unwrap() >= pods[0].finished.unwrap(),
        "the second pod waits for the first: {pods:?}"
    );
}

/// A pod bound to a node whose kubelet died, before the controller notices:
/// upstream binds it (the node still looks Ready) and it stays Pending, as no
/// kubelet starts it, until its eviction after the taint plus the default
/// toleration. The same with and without a control plane.
#[test]
fn a_pod_bound_to_a_failed_undetected_node_stays_pending_with_and_without_a_control_plane() {
    let base = first_fit(config(
        vec![pool("a", 1, 4000, 8 * GI), spare()],
        vec![job("j", template(1000, GI), &[110], 1000)],
        600,
    ));
    let mut c = base.clone();
    c.node_failures = vec![failure(100, None)];
    for c in [c.clone(), with_control_plane(c)] {
        let control_plane = c.control_plane.is_some();
        let out = run(c);
        let pod = &out.pods.as_ref().unwrap()[0];
        assert!(
            pod.bound.is_some(),
            "bound (control plane: {control_plane})"
        );
        assert_eq!(
            pod.started, None,
            "never started (control plane: {control_plane})"
        );
        assert_eq!(
            (row(&out, 120).pods_pending, row(&out, 120).pods_running),
            (1, 0)
        );
        assert_eq!(pod.phase, PodPhase::Failed, "evicted");
        let evicted = pod.finished.unwrap();
        assert!(
            at(445) < evicted && evicted <= at(455),
            "evicted at {evicted}"
        );
    }
}

/// The kubelet comes back before the node is detected: it starts the pod that
/// was bound to it meanwhile (it never ran, so it did not die with the node).
#[test]
fn a_pod_bound_to_a_failed_node_starts_when_its_kubelet_comes_back() {
    let mut c = first_fit(config(
        vec![pool("a", 1, 4000, 8 * GI)],
        vec![job("j", template(1000, GI), &[110], 1000)],
        600,
    ));
    c.node_failures = vec![failure(100, Some(secs(20)))];
    for c in [c.clone(), with_control_plane(c)] {
        let control_plane = c.control_plane.is_some();
        let out = run(c);
        let pod = &out.pods.as_ref().unwrap()[0];
        let started = pod.started.expect("started");
        assert!(
            started >= at(120) && started < at(121),
            "started at {started} (control plane: {control_plane})"
        );
        assert_eq!(pod.phase, PodPhase::Running);
        assert_eq!(out.summary.pods_evicted, 0);
    }
}

/// A pod bound to a node already tainted NoExecute is evicted its toleration
/// after it appears there (upstream's taint eviction starts the clock when it
/// sees the pod), not with the pods that were there at the taint. A 60 s
/// scheduling cycle starts before the detection (about 150 s) and binds after it.
#[test]
fn a_pod_bound_after_the_no_execute_taint_is_evicted_a_toleration_later() {
    let mut c = first_fit(config(
        vec![pool("a", 1, 4000, 8 * GI), spare()],
        vec![job("j", template(1000, GI), &[140], 1000)],
        900,
    ));
    c.scheduler.cycle_base_cost = secs(60);
    c.node_failures = vec![failure(100, None)];
    let out = run(c);
    let pod = &out.pods.unwrap()[0];
    assert_eq!(pod.bound, Some(at(200)));
    assert_eq!(pod.finished, Some(at(500)), "300 s after its binding");
    assert_eq!(pod.phase, PodPhase::Failed);
}

//! Behaviour of the whole simulation on small hand-built clusters.

use ksim_core::config::*;
use ksim_core::distribution::Distribution;
use ksim_core::pod_phase::PodPhase;
use ksim_core::resources::{ResourceNames, CPU};
use ksim_core::sim::Simulation;
use ksim_core::time::{SimDuration, SimTime};

mod common;
use common::*;

#[test]
fn a_job_pod_binds_after_one_cycle_and_succeeds_after_its_duration() {
    let out = run(config(
        vec![pool("p", 1, 4000, 8 * GI)],
        vec![job("j", template(1000, GI), &[5], 30)],
        60,
    ));
    let pod = &out.pods.as_ref().unwrap()[0];
    assert_eq!(pod.created, SimTime::ZERO + secs(5));
    assert_eq!(
        pod.bound,
        Some(SimTime::ZERO + secs(5) + SimDuration::from_millis(1))
    );
    assert_eq!(pod.finished, Some(pod.bound.unwrap() + secs(30)));
    assert_eq!(pod.phase, PodPhase::Succeeded);
    assert_eq!(out.summary.pods_succeeded, 1);
    assert_eq!(out.summary.binds, 1);
    let last = out.timeline.last().unwrap();
    assert_eq!(
        last.cpu_requested_millis, 0,
        "resources are released when the pod finishes"
    );
}

#[test]
fn a_pod_larger_than_every_node_is_reported_and_never_attempted() {
    let out = run(config(
        vec![pool("p", 3, 4000, 256 * GI)],
        vec![job("huge", template(1000, 1 << 40), &[0], 10)],
        60,
    ));
    assert_eq!(out.summary.scheduling_attempts, 0);
    assert_eq!(out.summary.pods_pending, 1);
    let group = &out.summary.unschedulable[0];
    assert_eq!(
        (group.workload.as_str(), group.pods, group.never_fits),
        ("huge", 1, true)
    );
    assert!(
        group
            .reason
            .contains("memory requested 1Ti > largest allocatable 256Gi"),
        "{}",
        group.reason
    );
    assert_eq!(out.timeline.last().unwrap().pods_unschedulable, 1);
}

#[test]
fn pods_waiting_for_capacity_bind_when_capacity_frees() {
    // Two 1-cpu nodes, four 1-cpu pods of 10 s: two wait for the first two to finish.
    let out = run(config(
        vec![pool("p", 2, 1000, 8 * GI)],
        vec![job("j", template(1000, GI), &[0, 0, 0, 0], 10)],
        60,
    ));
    let pods = out.pods.unwrap();
    assert!(
        pods.iter().all(|p| p.phase == PodPhase::Succeeded),
        "{pods:?}"
    );
    let late: Vec<_> = pods
        .iter()
        .filter(|p| p.bound.unwrap() >= SimTime::ZERO + secs(10))
        .collect();
    assert_eq!(late.len(), 2);
    for p in late {
        // Freed at 10.002 s (first binds at 1 ms and 2 ms); the failed pods' backoff (1 s) is over by then.
        assert!(p.bound.unwrap() < SimTime::ZERO + secs(11), "{p:?}");
    }
    assert!(out.summary.scheduling_attempts >= 6);
    assert!(out.summary.unschedulable.is_empty());
}

#[test]
fn unschedulable_reasons_follow_upstream_messages() {
    let mut t = template(1000, GI);
    t.labels = vec![Label {
        key: "app".into(),
        value: "web".into(),
    }];
    t.anti_affinity = vec![AntiAffinityTerm {
        match_labels: t.labels.clone(),
    }];
    let out = run(config(
        vec![pool("p", 3, 8000, 8 * GI)],
        vec![deployment("web", t, 5)],
        60,
    ));
    assert_eq!(out.summary.pods_running, 3);
    assert_eq!(out.summary.pods_pending, 2);
    let group = &out.summary.unschedulable[0];
    assert_eq!(group.pods, 2);
    assert!(!group.never_fits);
    assert_eq!(
        group.reason,
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
    );
}

#[test]
fn scheduling_cost_limits_throughput() {
    let mut c = config(
        vec![pool("p", 100, 64_000, 256 * GI)],
        vec![deployment("d", template(10, 1 << 20), 1000)],
        60,
    );
    c.scheduler.cycle_base_cost = SimDuration::from_millis(10);
    let out = run(c);
    let last_bind = out
        .pods
        .unwrap()
        .iter()
        .filter_map(|p| p.bound)
        .max()
        .unwrap();
    assert_eq!(
        last_bind,
        SimTime::ZERO + secs(10),
        "1000 pods at 10 ms each"
    );
    assert_eq!(out.summary.binds, 1000);
}

#[test]
fn higher_priority_pods_are_scheduled_first() {
    let mut high = template(100, GI);
    high.priority = 100;
    let out = run(config(
        vec![pool("p", 1, 64_000, 256 * GI)],
        vec![
            deployment("low", template(100, GI), 5),
            deployment("high", high, 5),
        ],
        60,
    ));
    let pods = out.pods.unwrap();
    let high_last = pods
        .iter()
        .filter(|p| p.workload == 1)
        .filter_map(|p| p.bound)
        .max()
        .unwrap();
    // The first low pod is already in flight when the high deployment appears; no other may pass.
    let low_before = pods
        .iter()
        .filter(|p| p.workload == 0)
        .filter(|p| p.bound.unwrap() < high_last)
        .count();
    assert_eq!(low_before, 1);
}

#[test]
fn timeline_rows_cover_the_run_and_conserve_pods() {
    let times: Vec<u64> = (0..50).collect();
    let out = run(config(
        vec![pool("p", 2, 2000, 8 * GI)],
        vec![job("j", template(500, GI), &times, 7)],
        95,
    ));
    let rows: Vec<u64> = out
        .timeline
        .iter()
        .map(|s| s.time.0 / 1_000_000_000)
        .collect();
    assert_eq!(rows, vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 95]);
    for s in &out.timeline {
        let created = (s.time.0 / 1_000_000_000 + 1).min(50);
        assert_eq!(
            s.pods_pending + s.pods_running + s.pods_succeeded + s.pods_failed,
            created,
            "{s:?}"
        );
        assert!(s.cpu_requested_millis <= s.cpu_allocatable_millis);
    }
    let binds: u64 = out.timeline.iter().map(|s| s.binds).sum();
    assert_eq!(binds, out.summary.binds);
}

fn poisson_config(seed: u64) -> SimConfig {
    let mut t = template(0, GI);
    t.requests[CPU] = Request::Drawn(Distribution::uniform(100.0, 2000.0).unwrap());
    let w = WorkloadSpec {
        name: "stream".into(),
        kind: WorkloadKind::Job(JobSpec {
            arrival: ArrivalProcess::Poisson {
                mean_interval: SimDuration::from_millis(100),
            },
            start: SimTime::ZERO,
            stop: None,
            max_pods: Some(2000),
            duration: Distribution::log_normal(secs(20).0 as f64, 1.0).unwrap(),
            failure_probability: 0.1,
        }),
        template: t,
        readiness_delay: None,
        model: Default::default(),
    };
    let mut c = config(vec![pool("p", 20, 8000, 32 * GI)], vec![w], 300);
    c.seed = seed;
    c
}

#[test]
fn same_seed_same_results_other_seed_other_results() {
    let a = run(poisson_config(7));
    let b = run(poisson_config(7));
    let c = run(poisson_config(8));
    assert_eq!(a.pods, b.pods);
    assert_eq!(a.timeline, b.timeline);
    assert_eq!(a.summary, b.summary);
    assert_ne!(a.pods, c.pods);
    assert!(a.summary.pods_failed > 0 && a.summary.pods_succeeded > 0);
}

#[test]
fn batching_a_run_does_not_change_it() {
    let whole = run(poisson_config(3));
    let mut sim = Simulation::new(poisson_config(3)).unwrap();
    sim.enable_invariant_checks();
    while !sim.run_batch(7).unwrap() {}
    let batched = sim.into_output();
    assert_eq!(whole.pods, batched.pods);
    assert_eq!(whole.timeline, batched.timeline);
}

#[test]
fn job_arrivals_respect_count_and_stop() {
    let mut c = poisson_config(1);
    if let WorkloadKind::Job(j) = &mut c.workloads[0].kind {
        j.max_pods = None;
        j.stop = Some(SimTime::ZERO + secs(10));
    }
    let out = run(c);
    let pods = out.pods.unwrap();
    assert!(pods.iter().all(|p| p.created < SimTime::ZERO + secs(10)));
    // About 100 arrivals expected in 10 s at 10/s.
    assert!((60..=140).contains(&pods.len()), "{}", pods.len());
}

#[test]
fn memory_estimate_grows_with_nodes_and_expected_pods() {
    use ksim_core::estimate::estimate_memory;
    let small = estimate_memory(&poisson_config(1));
    assert_eq!(small.expected_pods, 2000, "capped by max_pods");
    assert_eq!(small.nodes, 20);
    let mut big = poisson_config(1);
    big.node_pools[0].count = 1_000_000;
    if let WorkloadKind::Job(j) = &mut big.workloads[0].kind {
        j.max_pods = None;
    }
    big.end = SimTime::ZERO + secs(3600);
    let estimate = estimate_memory(&big);
    assert_eq!(
        estimate.expected_pods, 36_001,
        "one arrival per 100 ms over an hour, plus the first"
    );
    // Both include the process's fixed base; a million nodes add over 100 MB.
    assert!(estimate.bytes - small.bytes > 100_000_000);
    big.node_pools[0].count = u32::MAX;
    assert!(
        estimate_memory(&big).bytes > 256 << 30,
        "4 billion nodes cannot fit a laptop"
    );
}

#[test]
fn lost_deployment_pods_are_replaced() {
    let mut d = deployment("web", template(500, GI), 10);
    if let WorkloadKind::Deployment(spec) = &mut d.kind {
        spec.pod_lifetime = Some(Distribution::constant(secs(60).0 as f64).unwrap());
    }
    let out = run(config(vec![pool("p", 4, 8000, 32 * GI)], vec![d], 150));
    // Each replica is lost at about 60 s and 120 s: 10 originals + 20 replacements.
    assert_eq!(out.summary.pods_total, 30);
    assert_eq!(out.summary.pods_failed, 20);
    assert_eq!(
        out.summary.pods_running, 10,
        "the deployment keeps its replica count"
    );
    let pods = out.pods.unwrap();
    let lost_at: Vec<SimTime> = pods.iter().filter_map(|p| p.finished).collect();
    let replaced_at: Vec<SimTime> = pods[10..].iter().map(|p| p.created).collect();
    assert_eq!(
        lost_at,
        replaced_at[..20].to_vec(),
        "each replacement is created when its predecessor is lost"
    );
}

/// Fast mode with MostAllocated is first fit in pool order: placement is predictable.
fn first_fit(mut c: SimConfig) -> SimConfig {
    c.scheduler.mode = SchedulerMode::Fast;
    c.scheduler.scoring = ScoringStrategy::MostAllocated;
    c
}

fn failure(pool: u32, count: u32, at_s: u64, recover_after_s: Option<u64>) -> NodeFailureSpec {
    NodeFailureSpec {
        at: SimTime::ZERO + secs(at_s),
        pool,
        count,
        recover_after: recover_after_s.map(secs),
    }
}

// Upstream chain: lease renewals every 10 s, grace 50 s checked every 5 s,
// NoExecute taint, default toleration 300 s, then the ReplicaSet replaces the pod.
#[test]
fn a_failed_nodes_pods_are_evicted_after_grace_plus_toleration_and_come_back_elsewhere() {
    let mut c = first_fit(config(
        vec![pool("a", 1, 4000, 8 * GI), pool("b", 1, 4000, 8 * GI)],
        vec![deployment("web", template(1000, GI), 1)],
        900,
    ));
    c.node_failures = vec![failure(0, 1, 100, None)];
    let out = run(c);
    let pods = out.pods.unwrap();
    assert_eq!(pods[0].node, Some(0), "first fit puts the pod in pool a");
    let evicted = pods[0].finished.expect("evicted");
    // Last renewal in (90, 100] s, detection at the first 5 s check after it + 50 s, + 300 s.
    let (earliest, latest) = (SimTime::ZERO + secs(445), SimTime::ZERO + secs(455));
    assert!(
        earliest < evicted && evicted <= latest,
        "evicted at {evicted}"
    );
    assert_eq!(pods[0].phase, PodPhase::Failed);
    assert_eq!(pods[1].created, evicted, "replaced at once");
    assert_eq!(
        pods[1].node,
        Some(1),
        "the replacement lands on the healthy node"
    );
    assert_eq!(
        (out.summary.node_failures, out.summary.pods_evicted),
        (1, 1)
    );
    let at = |s: u64| {
        out.timeline
            .iter()
            .find(|r| r.time == SimTime::ZERO + secs(s))
            .unwrap()
    };
    assert_eq!(at(140).nodes_ready, 2, "not yet detected");
    assert_eq!(at(160).nodes_ready, 1);
    assert_eq!(at(900).pods_running, 1);
}

#[test]
fn job_pods_on_a_failed_node_do_not_complete_and_end_failed() {
    // A second node the pod does not fit keeps the zone from full
    // disruption, in which upstream evicts nothing.
    let mut c = first_fit(config(
        vec![pool("a", 1, 4000, 8 * GI), pool("spare", 1, 500, GI)],
        vec![job("j", template(1000, GI), &[0], 200)],
        900,
    ));
    c.node_failures = vec![failure(0, 1, 100, None)];
    let out = run(c);
    let pod = &out.pods.unwrap()[0];
    assert_eq!(pod.phase, PodPhase::Failed);
    assert!(
        pod.finished.unwrap() > SimTime::ZERO + secs(445),
        "its completion at 200 s never happened"
    );
}

#[test]
fn a_node_back_before_detection_is_never_tainted_and_its_pods_are_replaced() {
    let mut c = first_fit(config(
        vec![pool("a", 1, 4000, 8 * GI)],
        vec![deployment("web", template(1000, GI), 1)],
        600,
    ));
    c.node_failures = vec![failure(0, 1, 100, Some(20))];
    let out = run(c);
    assert_eq!(out.summary.pods_evicted, 0);
    assert!(out.timeline.iter().all(|r| r.nodes_ready == 1));
    let pods = out.pods.unwrap();
    assert_eq!(
        pods[0].finished,
        Some(SimTime::ZERO + secs(120)),
        "the kubelet reports its dead pod at recovery"
    );
    assert_eq!(
        pods[1].node,
        Some(0),
        "the replacement goes back to the recovered node"
    );
}

#[test]
fn no_execute_taints_are_rate_limited_per_zone() {
    let mut c = first_fit(config(
        vec![pool("a", 3, 4000, 8 * GI), pool("b", 3, 4000, 8 * GI)],
        vec![deployment("web", template(3000, GI), 3)],
        1200,
    ));
    c.node_failures = vec![failure(0, 3, 100, None)];
    let out = run(c);
    let mut evictions: Vec<SimTime> = out.pods.unwrap()[..3]
        .iter()
        .map(|p| p.finished.unwrap())
        .collect();
    evictions.sort();
    // All three are detected within 10 s of each other; the zone's limiter adds one taint per 10 s.
    assert!(
        evictions[1] - evictions[0] >= secs(10) && evictions[2] - evictions[1] >= secs(10),
        "{evictions:?}"
    );
    assert_eq!(out.summary.pods_evicted, 3);
}

#[test]
fn pods_tolerating_unreachable_forever_are_not_evicted() {
    let mut t = template(1000, GI);
    t.tolerations = vec![Toleration {
        key: "node.kubernetes.io/unreachable".into(),
        operator: TolerationOperator::Exists,
        value: String::new(),
        effect: Some(TaintEffect::NoExecute),
    }];
    let mut c = first_fit(config(
        vec![pool("a", 1, 4000, 8 * GI)],
        vec![deployment("web", t, 1)],
        900,
    ));
    c.node_failures = vec![failure(0, 1, 100, None)];
    let out = run(c);
    assert_eq!(out.summary.pods_evicted, 0);
    assert_eq!(out.summary.pods_running, 1);
}

#[test]
fn random_node_failures_follow_their_rate() {
    let mut c = first_fit(config(vec![pool("a", 1000, 4000, 8 * GI)], vec![], 36_000));
    // One failure every 6 minutes on average over 10 hours: about 100, each node back after 1 h.
    c.node_failure_rates = vec![NodeFailureRate {
        pool: 0,
        mean_interval: secs(360),
        recover_after: Some(secs(3600)),
    }];
    let out = run(c);
    assert!(
        (70..=130).contains(&out.summary.node_failures),
        "{}",
        out.summary.node_failures
    );
    let not_ready = out
        .timeline
        .iter()
        .map(|r| r.nodes_total - r.nodes_ready)
        .max()
        .unwrap();
    assert!(
        (3..=20).contains(&not_ready),
        "about 10 nodes are down at a time: {not_ready}"
    );
}

#[test]
fn never_fits_reasons_name_extended_resources() {
    use ksim_core::resources::FIRST_EXTENDED;
    let mut p = pool("gpu", 2, 8000, 32 * GI);
    p.allocatable.0[FIRST_EXTENDED] = 2;
    let mut t = template(1000, GI);
    t.requests[FIRST_EXTENDED] = Request::Fixed(4);
    let mut c = config(vec![p], vec![job("train", t, &[0], 10)], 60);
    c.resource_names = ResourceNames::new(vec!["nvidia.com/gpu".into()]).unwrap();
    let out = run(c);
    let reason = &out.summary.unschedulable[0].reason;
    assert!(
        reason.contains("nvidia.com/gpu requested 4 > largest allocatable 2"),
        "{reason}"
    );
}

/// A fuzzing finding: with `sample_interval` longer than the run, the
/// timeline had no row at all. A run always records its end state.
#[test]
fn a_run_shorter_than_its_sample_interval_records_its_end_state() {
    let mut c = config(
        vec![pool("a", 1, 4000, 8 * GI)],
        vec![job("j", template(1000, GI), &[1], 1000)],
        30,
    );
    c.sample_interval = secs(60);
    let out = run(c);
    assert_eq!(out.timeline.len(), 1);
    assert_eq!(out.timeline[0].time, SimTime::ZERO + secs(30));
    assert_eq!(out.timeline[0].pods_running, 1);
}

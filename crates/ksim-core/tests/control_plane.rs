//! The simulation with a control plane: heartbeats, pod writes through the
//! stores, in-flight limits, the NOSPACE alarm, watch fan-out.

mod common;
use common::*;

use ksim_core::config::SimConfig;
use ksim_core::control_plane::config::{ApiKind, ControlPlaneConfig, NamedStore};
use ksim_core::distribution::Distribution;
use ksim_core::metrics::{ControlPlaneOutput, RunOutput};
use ksim_core::pod_phase::PodPhase;
use ksim_core::store::StoreConfig;
use ksim_core::time::{SimDuration, SimTime};

fn with_control_plane(mut config: SimConfig, control_plane: ControlPlaneConfig) -> SimConfig {
    config.control_plane = Some(control_plane);
    config
}

fn control_plane(out: &RunOutput) -> &ControlPlaneOutput {
    out.control_plane
        .as_ref()
        .expect("a control plane was modelled")
}

fn requests(out: &RunOutput, label: &str) -> u64 {
    control_plane(out)
        .apiserver
        .requests
        .iter()
        .find(|(l, _)| l == label)
        .map(|(_, n)| *n)
        .expect("a known request label")
}

/// Leases in their own store, so its write rate is the lease rate alone.
fn leases_apart() -> ControlPlaneConfig {
    let mut c = ControlPlaneConfig::default();
    c.stores.push(NamedStore {
        name: "leases".into(),
        config: StoreConfig::default(),
    });
    c.routing[ApiKind::Leases.index()] = 1;
    c
}

fn series(out: &RunOutput, component: &str, metric: &str) -> Vec<Option<f64>> {
    let timeline = &control_plane(out).timeline;
    let index = timeline
        .series
        .iter()
        .position(|s| s.component == component && s.metric == metric)
        .unwrap_or_else(|| panic!("no series {component} {metric}"));
    timeline.values.iter().map(|row| row[index]).collect()
}

#[test]
fn lease_writes_are_exactly_nodes_over_renew_interval_per_second() {
    // 1,234 nodes renewing every 10 s: 123.4 writes/s, so whole-second ticks
    // alternate and only the carry keeps the rate exact.
    let out = run(with_control_plane(
        config(vec![pool("p", 1_234, 4000, 8 * GI)], vec![], 60),
        leases_apart(),
    ));
    assert_eq!(requests(&out, "update leases"), 1_234 * 6);
    let leases = &control_plane(&out).stores[1];
    assert_eq!(leases.kinds, vec!["leases".to_string()]);
    assert_eq!(leases.writes, 1_234 * 6);
    // The apiservers count each tick's renewals when it ends: every 10-s row
    // holds 10 ticks. Rates are per replica.
    for rate in series(&out, "apiserver", "update_leases_per_s") {
        assert_eq!(rate.map(|r| (r * 3.0 * 1e6).round() / 1e6), Some(123.4));
    }
    // The store receives them spread over the following tick, so its first
    // row holds 9 ticks and every later row exactly 10.
    let store_rates = series(&out, "store/leases", "writes_per_s");
    assert_eq!(store_rates[0], Some(111.0));
    for rate in &store_rates[1..] {
        assert_eq!(
            *rate,
            Some(123.4),
            "every later 10-s row holds 1,234 lease writes"
        );
    }
    // Node status: 1,234 nodes every 5 min, 60 s of run: 246.8 → 246 whole writes.
    assert_eq!(requests(&out, "patch nodes/status"), 246);
    assert_eq!(requests(&out, "get nodes"), 1_234 * 6);
}

#[test]
fn failed_nodes_stop_renewing_their_leases() {
    let mut c = config(vec![pool("p", 100, 4000, 8 * GI)], vec![], 60);
    c.node_failures = vec![ksim_core::config::NodeFailureSpec {
        at: SimTime::ZERO + secs(30),
        pool: 0,
        count: 50,
        recover_after: None,
    }];
    let out = run(with_control_plane(c, leases_apart()));
    // 30 s at 100 nodes, then 30 s at 50: 300 + 150 lease writes.
    assert_eq!(requests(&out, "update leases"), 450);
}

#[test]
fn pod_startup_waits_for_three_stored_writes() {
    let mut store = StoreConfig::default();
    let fsync_ms = 50;
    store.wal_fsync_ns = Distribution::constant((fsync_ms * 1_000_000) as f64).unwrap();
    let mut c = ControlPlaneConfig::default();
    c.stores[0].config = store;
    let out = run(with_control_plane(
        config(
            vec![pool("p", 4, 4000, 8 * GI)],
            vec![job("j", template(100, GI), &[5, 6, 7], 30)],
            60,
        ),
        c,
    ));
    for pod in out.pods.as_ref().unwrap() {
        let bound = pod.bound.expect("bound");
        let started = pod.started.expect("started");
        // Create, bind and Running status each wait for at least one fsync.
        assert!(bound - pod.created >= SimDuration::from_millis(2 * fsync_ms));
        assert!(started - bound >= SimDuration::from_millis(fsync_ms));
        assert!(started - pod.created < SimDuration::from_secs(1));
        // The pod ends when its terminal status is stored, one more write later.
        let finished = pod.finished.expect("finished");
        assert!(finished >= started + secs(30) + SimDuration::from_millis(fsync_ms));
        assert!(finished < started + secs(31));
        assert_eq!(pod.phase, PodPhase::Succeeded);
    }
    let cp = control_plane(&out);
    assert_eq!(cp.pod_startup_latency.count(), 3);
    assert_eq!(requests(&out, "create pods"), 3);
    assert_eq!(requests(&out, "create pods/binding"), 3);
    // Running and Succeeded for each pod.
    assert_eq!(requests(&out, "patch pods/status"), 6);
}

#[test]
fn the_mutating_inflight_limit_throttles_a_burst_which_still_completes() {
    let mut c = ControlPlaneConfig::default();
    c.apiserver.replicas = 1;
    c.apiserver.max_mutating_inflight = 5;
    let out = run(with_control_plane(
        config(
            vec![pool("p", 50, 64_000, 256 * GI)],
            vec![deployment("d", template(100, GI / 8), 500)],
            600,
        ),
        c,
    ));
    let cp = control_plane(&out);
    // Every refused client retries exactly Retry-After later, all together,
    // so each wave lets only a few through: slow, but it gets there.
    assert!(
        cp.apiserver.rejected_429 > 1000,
        "a burst of 500 creates meets a limit of 5"
    );
    assert_eq!(
        out.summary.pods_running, 500,
        "retries get every pod through"
    );
    let saturated = cp
        .bottlenecks
        .iter()
        .find(|b| b.component == "apiserver" && b.resource == "mutating inflight")
        .expect("a bottleneck entry");
    assert!(saturated.first_saturated.is_some());
}

#[test]
fn a_full_store_raises_nospace_and_pods_can_no_longer_be_created() {
    let mut c = ControlPlaneConfig::default();
    c.stores[0].config.quota_bytes = 1 << 20; // 1 MiB: about 230 pod writes
    let out = run(with_control_plane(
        config(
            vec![pool("p", 10, 64_000, 256 * GI)],
            vec![deployment("d", template(100, GI / 8), 500)],
            // Over before the refused lease renewals make the nodes NotReady
            // (grace period 50 s): `a_full_store_makes_every_node_not_ready`.
            45,
        ),
        c,
    ));
    let cp = control_plane(&out);
    let store = &cp.stores[0];
    assert!(store.nospace_alarm_at.is_some(), "the alarm is reported");
    assert!(store.rejected > 0);
    assert!(cp.pod_writes_refused_nospace > 0);
    assert!(store.db_size_bytes <= 1 << 20);
    assert!(
        out.summary.pods_running < 500,
        "not every pod could be created"
    );
    // Pods created before the alarm whose binding came after it are
    // forgotten by the scheduler and reported with the store's refusal.
    assert!(out.summary.unschedulable.iter().any(|g| g
        .reason
        .starts_with("binding refused by the store: etcdserver: mvcc: database space exceeded")));
    let quota = cp
        .bottlenecks
        .iter()
        .find(|b| b.resource == "quota")
        .expect("quota entry");
    assert!(quota.peak_utilization > 0.9);
}

#[test]
fn endpoint_slice_writes_are_coalesced_and_fan_out_to_every_kube_proxy() {
    let nodes = 40;
    // 250 endpoints: 3 slices of at most 100.
    let replicas = 250;
    let mut d = deployment("web", template(100, GI / 8), replicas);
    if let ksim_core::config::WorkloadKind::Deployment(spec) = &mut d.kind {
        spec.service = true;
    }
    let mut c = ControlPlaneConfig::default();
    c.watchers.lease_controllers = 0;
    c.watchers.node_controllers = 0;
    c.watchers.pod_controllers = 0;
    c.watchers.endpoint_slice_controllers = 1;
    let out = run(with_control_plane(
        config(vec![pool("p", nodes, 64_000, 256 * GI)], vec![d], 30),
        c,
    ));
    assert_eq!(out.summary.pods_running, u64::from(replicas));
    // The pods start within the first tick; their 250 endpoint changes
    // coalesce into one write per slice.
    assert_eq!(requests(&out, "update endpointslices"), 3);
    // Each slice write reaches every kube-proxy and the controller; each bound
    // pod's writes (bind, Running) reach its kubelet; node status reaches the kubelet.
    let cp = control_plane(&out);
    let slice_events = 3 * (u64::from(nodes) + 1);
    let kubelet_events = u64::from(replicas) * 2 + requests(&out, "patch nodes/status");
    assert_eq!(
        cp.apiserver.watch_events_sent,
        slice_events + kubelet_events
    );
}

#[test]
fn runs_with_a_control_plane_are_deterministic() {
    let build = || {
        with_control_plane(
            config(
                vec![pool("p", 30, 8000, 32 * GI)],
                vec![
                    deployment("d", template(500, GI), 40),
                    job("j", template(250, GI), &[1, 2, 3, 4, 5, 6, 7, 8], 10),
                ],
                120,
            ),
            ControlPlaneConfig::default(),
        )
    };
    let a = run(build());
    let b = run(build());
    assert_eq!(a.pods, b.pods);
    assert_eq!(a.control_plane, b.control_plane);
}

/// A noticed bug: the scheduler's busy time counted a whole cycle in the
/// interval where it started, so one long cycle showed busy above 100%. A
/// 25 s cycle starting just after 5 s (once the pod's create is stored) now
/// fills the 10-s rows as about 50%, 100%, 100% and the last moments.
#[test]
fn a_scheduling_cycle_spanning_samples_is_spread_over_them() {
    let mut c = config(
        vec![pool("p", 1, 4000, 8 * GI)],
        vec![job("j", template(1000, GI), &[5], 1000)],
        60,
    );
    c.scheduler.cycle_base_cost = SimDuration::from_secs(25);
    c.scheduler.cycle_per_node_cost = SimDuration::ZERO;
    let out = run(with_control_plane(c, ControlPlaneConfig::default()));
    let busy: Vec<f64> = series(&out, "scheduler", "busy_utilization")
        .into_iter()
        .map(|b| b.expect("defined every row"))
        .collect();
    assert_eq!(busy.len(), 6);
    assert!(busy.iter().all(|&b| b <= 1.0), "{busy:?}");
    assert!(busy[0] > 0.49 && busy[0] < 0.5, "{busy:?}");
    assert_eq!((busy[1], busy[2]), (1.0, 1.0), "{busy:?}");
    let total_s: f64 = busy.iter().map(|b| b * 10.0).sum();
    assert!((total_s - 25.0).abs() < 1e-9, "{busy:?}");
}

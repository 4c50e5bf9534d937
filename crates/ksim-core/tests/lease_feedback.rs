//! When the control plane breaks, the nodes feel it: lease renewals the
//! stores refuse or acknowledge too late make healthy nodes NotReady, by
//! cohort, and the node-lifecycle controller's zone disruption modes decide
//! how fast their pods are evicted (upstream's `handleDisruption`). Every run
//! checks the invariants at every sample.

mod common;
use common::*;

use ksim_core::config::{Label, NodeFailureSpec, NodePoolSpec, SimConfig};
use ksim_core::control_plane::config::{ApiKind, ControlPlaneConfig, NamedStore};
use ksim_core::distribution::Distribution;
use ksim_core::metrics::{ControlPlaneTimeline, RunOutput};
use ksim_core::sim::Simulation;
use ksim_core::store::StoreConfig;
use ksim_core::time::SimTime;

fn at(s: u64) -> SimTime {
    SimTime::ZERO + secs(s)
}

fn zoned(name: &str, count: u32, zone: &str) -> NodePoolSpec {
    let mut p = pool(name, count, 4000, 16 * GI);
    p.labels = vec![Label {
        key: "topology.kubernetes.io/zone".into(),
        value: zone.into(),
    }];
    p
}

/// Leases in a store of their own, with `store` as its parameters.
fn lease_store(store: StoreConfig) -> ControlPlaneConfig {
    let mut c = ControlPlaneConfig::default();
    c.stores.push(NamedStore {
        name: "leases".into(),
        config: store,
    });
    c.routing[ApiKind::Leases.index()] = 1;
    c
}

/// A lease store that fills up in about a minute with 20 nodes.
fn small_quota() -> ControlPlaneConfig {
    lease_store(StoreConfig {
        quota_bytes: 64 * 1024,
        ..StoreConfig::default()
    })
}

/// 20 nodes in one zone, one pod on each, and `control_plane`.
fn cluster(control_plane: ControlPlaneConfig, end_s: u64) -> SimConfig {
    let mut c = config(
        vec![zoned("a", 20, "z1")],
        vec![deployment("web", template(3000, GI), 20)],
        end_s,
    );
    c.sample_interval = secs(5);
    c.control_plane = Some(control_plane);
    c
}

fn series(t: &ControlPlaneTimeline, component: &str, metric: &str) -> Vec<(SimTime, f64)> {
    let i = t
        .series
        .iter()
        .position(|s| s.component == component && s.metric == metric)
        .unwrap_or_else(|| panic!("no series {component}/{metric}"));
    t.times
        .iter()
        .zip(&t.values)
        .filter_map(|(&time, row)| row[i].map(|v| (time, v)))
        .collect()
}

fn value_at(t: &ControlPlaneTimeline, component: &str, metric: &str, s: u64) -> f64 {
    series(t, component, metric)
        .into_iter()
        .find(|(time, _)| *time == at(s))
        .unwrap_or_else(|| panic!("no sample at {s} s"))
        .1
}

fn not_ready_at(out: &RunOutput, s: u64) -> u64 {
    out.timeline
        .iter()
        .find(|r| r.time == at(s))
        .expect("a sample")
        .nodes_not_ready
}

fn lifecycle(out: &RunOutput) -> &ControlPlaneTimeline {
    out.node_lifecycle
        .as_ref()
        .expect("a disruption is reported")
}

/// The lease store raises NOSPACE; after the grace period every cohort is
/// stale and every node NotReady, though no kubelet failed. The only zone is
/// then fully disrupted: the controller assumes the control plane is at
/// fault and evicts nothing (upstream's "Network Disruption: Only zone is
/// down - eviction shouldn't take place").
#[test]
fn a_full_store_makes_every_node_not_ready_and_the_controller_stops_evicting() {
    let out = run(cluster(small_quota(), 900));
    let cp = out.control_plane.as_ref().unwrap();
    let nospace = cp.stores[1]
        .nospace_alarm_at
        .expect("the lease store fills");
    assert_eq!(out.summary.node_failures, 0);
    let t = lifecycle(&out);
    // Not before the grace period has passed since the last stored renewal.
    let first_not_ready = out
        .timeline
        .iter()
        .find(|r| r.nodes_not_ready > 0)
        .expect("nodes go NotReady")
        .time;
    assert!(
        first_not_ready > nospace + secs(40),
        "{first_not_ready} vs {nospace}"
    );
    assert!(
        first_not_ready <= nospace + secs(65),
        "{first_not_ready} vs {nospace}"
    );
    assert_eq!(not_ready_at(&out, 900), 20);
    assert_eq!(
        value_at(t, "node_lifecycle", "lease_cohorts_stale", 900),
        100.0,
        "all 100 cohorts, the 80 without nodes too"
    );
    assert_eq!(value_at(t, "zone/0", "state", 900), 2.0, "fully disrupted");
    assert_eq!(value_at(t, "zone/0", "taint_rate_per_s", 900), 0.0);
    assert_eq!(value_at(t, "zone/0", "nodes_awaiting_taint", 900), 20.0);
    assert_eq!(
        out.summary.pods_evicted, 0,
        "full disruption evicts nothing"
    );
    assert_eq!(out.summary.pods_running, 20, "the kubelets keep their pods");
}

/// Same store, but an operator defragments it and disarms the alarm after
/// the kube-apiserver compaction at 600 s freed the lease history: renewals
/// are stored again and the nodes are Ready at the next monitor checks.
#[test]
fn nodes_come_back_when_their_renewals_are_stored_again() {
    let mut sim = Simulation::new(cluster(small_quota(), 800)).unwrap();
    sim.enable_invariant_checks();
    while sim.now() < at(605) {
        sim.run_batch(1).unwrap();
    }
    let size = sim.defragment_and_disarm_store(1).unwrap();
    assert!(
        size < 64 * 1024,
        "compaction freed the history: {size} bytes"
    );
    assert_eq!(
        sim.cluster()
            .nodes
            .count(ksim_core::cluster::NodeState::NotReady),
        20
    );
    while !sim.run_batch(1 << 16).unwrap() {}
    let out = sim.into_output();
    assert_eq!(not_ready_at(&out, 600), 20);
    assert_eq!(
        not_ready_at(&out, 630),
        0,
        "back within a renew interval and a check"
    );
    let t = lifecycle(&out);
    assert_eq!(
        value_at(t, "node_lifecycle", "lease_cohorts_stale", 630),
        0.0
    );
    assert_eq!(value_at(t, "zone/0", "state", 630), 0.0, "normal again");
    assert_eq!(value_at(t, "zone/0", "taint_rate_per_s", 630), 0.1);
    assert_eq!(out.summary.pods_evicted, 0);
}

/// A store whose every commit takes 60 s (a fsync that slow) acknowledges
/// renewals after the 50 s grace period: the cohorts go NotReady between
/// acknowledgements, though every renewal is stored.
#[test]
fn a_slow_store_whose_acks_lag_past_the_grace_period_makes_nodes_not_ready() {
    let slow = lease_store(StoreConfig {
        wal_fsync_ns: Distribution::constant(60e9).unwrap(),
        ..StoreConfig::default()
    });
    let out = run(cluster(slow, 400));
    let cp = out.control_plane.as_ref().unwrap();
    assert!(cp.stores[1].nospace_alarm_at.is_none());
    assert_eq!(cp.stores[1].rejected, 0, "every renewal is stored");
    let t = lifecycle(&out);
    let lag = series(t, "node_lifecycle", "lease_ack_lag_ms");
    assert!(
        lag.iter().all(|&(time, ms)| time < at(5) || ms > 50_000.0),
        "{lag:?}"
    );
    assert!(out.timeline.iter().any(|r| r.nodes_not_ready > 0));
    // And with commits of 10 s (a write waits for the batch ahead of it,
    // about 15 s in all) nothing happens.
    let fine = lease_store(StoreConfig {
        wal_fsync_ns: Distribution::constant(10e9).unwrap(),
        ..StoreConfig::default()
    });
    let out = run(cluster(fine, 400));
    assert!(out.timeline.iter().all(|r| r.nodes_not_ready == 0));
    assert!(
        out.node_lifecycle.is_none(),
        "no disruption, no node_lifecycle timeline"
    );
}

fn failing(pool: u32, count: u32, at_s: u64) -> NodeFailureSpec {
    NodeFailureSpec {
        at: at(at_s),
        pool,
        count,
        recover_after: None,
    }
}

/// Zone z1 (60 nodes) loses 40 (two thirds, over the 0.55 threshold) while
/// z2 is healthy: z1 is partially disrupted and, larger than the
/// large-cluster threshold (50), taints at the secondary rate, 0.01/s: one
/// node per 100 s instead of per 10 s.
#[test]
fn partial_disruption_slows_tainting_to_the_secondary_rate() {
    let run_with = |failed: u32| {
        let mut c = config(
            vec![zoned("a", 60, "z1"), zoned("b", 10, "z2")],
            vec![],
            1000,
        );
        c.sample_interval = secs(10);
        c.node_failures = vec![failing(0, failed, 100)];
        run(c)
    };
    let out = run_with(40);
    let t = lifecycle(&out);
    assert_eq!(
        value_at(t, "zone/0", "state", 300),
        1.0,
        "partially disrupted"
    );
    assert_eq!(value_at(t, "zone/0", "taint_rate_per_s", 300), 0.01);
    assert_eq!(value_at(t, "zone/1", "state", 300), 0.0);
    // Detected by 160 s; at most one taint per 100 s from then.
    let waiting = value_at(t, "zone/0", "nodes_awaiting_taint", 1000);
    assert!(
        (30.0..=33.0).contains(&waiting),
        "{waiting} of 40 still waiting at 1000 s"
    );
    // 20 of 60 (a third) is normal: every node tainted within 200 s.
    let out = run_with(20);
    assert!(
        out.node_lifecycle.is_none(),
        "a normal zone is no disruption"
    );
    // A zone of 50 or fewer nodes stops tainting instead.
    let mut c = config(
        vec![zoned("a", 50, "z1"), zoned("b", 10, "z2")],
        vec![],
        600,
    );
    c.node_failures = vec![failing(0, 40, 100)];
    let out = run(c);
    let t = lifecycle(&out);
    assert_eq!(value_at(t, "zone/0", "taint_rate_per_s", 600), 0.0);
    // The nodes detected at the first check (under the threshold, a normal
    // zone) may take one taint before the next check stops the zone.
    let waiting = value_at(t, "zone/0", "nodes_awaiting_taint", 600);
    assert!((38.0..=40.0).contains(&waiting), "{waiting}");
    assert_eq!(
        value_at(t, "zone/0", "nodes_awaiting_taint", 600),
        value_at(t, "zone/0", "nodes_awaiting_taint", 300),
        "stopped"
    );
}

/// Every node of the only zone fails: full disruption everywhere, no
/// evictions ("Only zone is down"). With a second, healthy zone the dead
/// zone keeps the normal rate and its pods are evicted ("One zone is down -
/// eviction should take place").
#[test]
fn full_disruption_stops_evictions_unless_another_zone_is_healthy() {
    let web = || deployment("web", template(3000, GI), 10);
    let mut c = config(vec![zoned("a", 10, "z1")], vec![web()], 900);
    c.node_failures = vec![failing(0, 10, 100)];
    let out = run(c);
    assert_eq!(not_ready_at(&out, 900), 10);
    assert_eq!(out.summary.pods_evicted, 0);
    let t = lifecycle(&out);
    assert_eq!(value_at(t, "zone/0", "state", 900), 2.0);
    assert_eq!(value_at(t, "zone/0", "taint_rate_per_s", 900), 0.0);

    let mut c = config(
        vec![zoned("a", 10, "z1"), zoned("b", 10, "z2")],
        vec![web()],
        900,
    );
    c.scheduler.mode = ksim_core::config::SchedulerMode::Fast;
    c.node_failures = vec![failing(0, 10, 100)];
    let out = run(c);
    let t = lifecycle(&out);
    assert_eq!(value_at(t, "zone/0", "state", 900), 2.0);
    assert_eq!(value_at(t, "zone/0", "taint_rate_per_s", 900), 0.1);
    assert_eq!(value_at(t, "zone/1", "state", 900), 0.0);
    assert!(
        out.summary.pods_evicted > 0,
        "the dead zone's pods are evicted"
    );
}

/// Same scenario, same seed: the same cascade, to the byte.
#[test]
fn the_cascade_is_deterministic() {
    let mut c = cluster(small_quota(), 400);
    c.control_plane
        .as_mut()
        .unwrap()
        .apiserver
        .max_mutating_inflight = 20;
    let a = run(c.clone());
    let b = run(c);
    assert_eq!(a.node_lifecycle, b.node_lifecycle);
    assert_eq!(a.timeline, b.timeline);
    assert_eq!(a.pods, b.pods);
    assert_eq!(a.summary.pods_evicted, b.summary.pods_evicted);
    assert!(a.node_lifecycle.is_some());
}

//! The Cluster Autoscaler end to end: scale-up for unschedulable pods with
//! the bin-packing estimate, scale-down of unneeded nodes, and the pods that
//! block it (upstream's FAQ, "What types of pods can prevent CA from
//! removing a node?"). The invariant checker runs at every sample.

mod common;

use common::*;
use ksim_core::autoscale::cluster_autoscaler::ClusterAutoscalerSettings;
use ksim_core::config::{
    AntiAffinityTerm, DisruptionBudget, EvictionHints, IntOrPercent, Label, NodeAutoscaler,
    SimConfig, WorkloadKind,
};
use ksim_core::metrics::{Decision, DecisionTarget, RunOutput};

const GIB: u64 = 1 << 30;

/// A managed pool of 4-core, 16 GiB nodes between `min` and `max`.
fn workers(count: u32, min: u32, max: u32) -> ksim_core::config::NodePoolSpec {
    let mut p = pool("workers", count, 4000, 16 * GIB);
    p.min = min;
    p.max = max;
    p.price_per_hour = 0.2;
    p
}

fn with_autoscaler(mut config: SimConfig) -> SimConfig {
    let groups = (0..config.node_pools.len() as u32).collect();
    config.node_autoscaler = Some(NodeAutoscaler::ClusterAutoscaler(
        ClusterAutoscalerSettings::new(groups),
    ));
    config
}

fn decisions<'a>(out: &'a RunOutput, action: &str) -> Vec<&'a Decision> {
    out.decisions
        .iter()
        .filter(|d| d.action == action)
        .collect()
}

fn nodes_at_end(out: &RunOutput) -> u64 {
    out.summary.node_pools[0].nodes_at_end
}

#[test]
fn a_pod_too_big_for_every_group_never_grows_the_cluster() {
    let huge = deployment("huge", template(1000, 1024 * GIB), 1);
    let out = run(with_autoscaler(config(
        vec![workers(1, 1, 5)],
        vec![huge],
        600,
    )));
    assert!(decisions(&out, "scale_up").is_empty());
    let no_group = decisions(&out, "no_scale_up");
    assert_eq!(no_group.len(), 1, "reported once: {no_group:?}");
    assert_eq!(no_group[0].target, DecisionTarget::Workload(0));
    assert_eq!(
        out.summary.node_autoscaler.as_ref().unwrap().pods_no_group,
        1
    );
    assert_eq!(nodes_at_end(&out), 1);
    assert_eq!(out.summary.pods_pending, 1);
}

#[test]
fn scale_up_adds_the_nodes_the_estimate_packs_the_pods_onto() {
    // Ten 1-core pods on 4-core nodes: the one node takes 4; the six left
    // need two more nodes, asked for in one scale-up.
    let pods = deployment("web", template(1000, GIB), 10);
    let out = run(with_autoscaler(config(
        vec![workers(1, 1, 10)],
        vec![pods],
        900,
    )));
    let ups = decisions(&out, "scale_up");
    assert_eq!(ups.len(), 1, "{ups:?}");
    assert_eq!((ups[0].current, ups[0].desired), (1, 3));
    assert_eq!(out.summary.pods_running, 10);
    assert_eq!(nodes_at_end(&out), 3);
}

#[test]
fn scale_up_stops_at_the_group_max() {
    let pods = deployment("web", template(1000, GIB), 10);
    let out = run(with_autoscaler(config(
        vec![workers(1, 1, 2)],
        vec![pods],
        900,
    )));
    let ups = decisions(&out, "scale_up");
    assert_eq!(ups.len(), 1, "{ups:?}");
    assert_eq!(ups[0].desired, 2);
    let held: Vec<_> = decisions(&out, "no_scale_up");
    assert_eq!(held.len(), 1, "reported once: {held:?}");
    assert_eq!(
        (held[0].target, held[0].reason.as_str()),
        (DecisionTarget::Pool(0), "group at its max")
    );
    assert_eq!(nodes_at_end(&out), 2);
    assert_eq!(out.summary.pods_running, 8);
    assert_eq!(out.summary.controller_actions_refused, 0);
}

// upstream's default --cores-total max is 320,000 cores: a cluster past it
// never grows, and the decision says why.
#[test]
fn the_cores_total_holds_a_scale_up_back_and_says_so() {
    let pods = deployment("web", template(1000, GIB), 10);
    let mut c = with_autoscaler(config(vec![workers(1, 1, 10)], vec![pods], 600));
    if let Some(NodeAutoscaler::ClusterAutoscaler(s)) = &mut c.node_autoscaler {
        s.max_cores_total = 4;
    }
    let out = run(c);
    assert!(decisions(&out, "scale_up").is_empty());
    let held = decisions(&out, "no_scale_up");
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].reason, "max_cores_total reached");
    assert_eq!(nodes_at_end(&out), 1);
}

#[test]
fn empty_nodes_go_after_the_unneeded_time_but_not_below_min() {
    let out = run(with_autoscaler(config(
        vec![workers(5, 2, 5)],
        vec![],
        1800,
    )));
    let downs = decisions(&out, "scale_down");
    assert_eq!(downs.len(), 3, "{downs:?}");
    for d in &downs {
        assert!(d.at.0 >= secs(600).0, "not before the unneeded time: {d:?}");
        assert_eq!(d.reason, "empty");
    }
    assert_eq!(nodes_at_end(&out), 2);
}

#[test]
fn required_anti_affinity_keeps_a_node_under_the_threshold() {
    let mut t = template(500, GIB);
    t.labels = vec![Label {
        key: "app".into(),
        value: "spread".into(),
    }];
    t.anti_affinity = vec![AntiAffinityTerm {
        match_labels: t.labels.clone(),
    }];
    let spread = deployment("spread", t, 4);
    let out = run(with_autoscaler(config(
        vec![workers(6, 0, 6)],
        vec![spread],
        3600,
    )));
    // Two empty nodes go; each of the four left holds a pod with nowhere else to go.
    assert_eq!(nodes_at_end(&out), 4);
    assert!(decisions(&out, "unremovable")
        .iter()
        .any(|d| d.reason == "NoPlaceToMovePods"));
}

/// Two 1-core pods of one workload, one per node (LeastAllocated spreads
/// them), on two 4-core nodes: 25% each, so both are candidates. Without a
/// blocker one node is drained onto the other.
fn two_pods_on_two_nodes(hints: EvictionHints, budget: Option<DisruptionBudget>) -> RunOutput {
    let mut t = template(1000, GIB);
    t.eviction = hints;
    let mut w = if hints.bare {
        job("pods", t, &[0, 0], 100_000)
    } else {
        deployment("pods", t, 2)
    };
    if let WorkloadKind::Deployment(d) = &mut w.kind {
        d.disruption_budget = budget;
    }
    run(with_autoscaler(config(
        vec![workers(2, 0, 2)],
        vec![w],
        2400,
    )))
}

fn blocked_by(out: &RunOutput, reason: &str) -> bool {
    decisions(out, "unremovable")
        .iter()
        .any(|d| d.reason == reason)
}

#[test]
fn movable_pods_let_one_of_two_nodes_go() {
    let out = two_pods_on_two_nodes(EvictionHints::default(), None);
    assert_eq!(nodes_at_end(&out), 1);
    assert_eq!(
        out.summary.node_autoscaler.as_ref().unwrap().nodes_drained,
        1
    );
    assert_eq!(out.summary.pods_running, 2);
}

// upstream FAQ: "Pods that are not backed by a controller object (so not
// created by deployment, replica set, job, stateful set etc.)".
#[test]
fn a_bare_pod_blocks_its_node() {
    let bare = EvictionHints {
        bare: true,
        ..Default::default()
    };
    let out = two_pods_on_two_nodes(bare, None);
    assert_eq!(nodes_at_end(&out), 2);
    assert!(blocked_by(&out, "NotReplicated"));
}

// upstream FAQ: "Pods with local storage" (while
// --skip-nodes-with-local-storage is true, its default).
#[test]
fn local_storage_blocks_its_node_unless_marked_safe_to_evict() {
    let local = EvictionHints {
        local_storage: true,
        ..Default::default()
    };
    let out = two_pods_on_two_nodes(local, None);
    assert_eq!(nodes_at_end(&out), 2);
    assert!(blocked_by(&out, "LocalStorageRequested"));
    // upstream FAQ: the safe-to-evict "true" annotation lets such a pod go.
    let safe = EvictionHints {
        safe_to_evict: Some(true),
        ..local
    };
    assert_eq!(nodes_at_end(&two_pods_on_two_nodes(safe, None)), 1);
}

// upstream FAQ: pods with the annotation
// "cluster-autoscaler.kubernetes.io/safe-to-evict": "false".
#[test]
fn safe_to_evict_false_blocks_its_node() {
    let pinned = EvictionHints {
        safe_to_evict: Some(false),
        ..Default::default()
    };
    let out = two_pods_on_two_nodes(pinned, None);
    assert_eq!(nodes_at_end(&out), 2);
    assert!(blocked_by(&out, "NotSafeToEvictAnnotation"));
}

// upstream FAQ: "Pods with restrictive PodDisruptionBudget".
#[test]
fn a_budget_with_no_disruption_left_blocks_its_node() {
    let none = Some(DisruptionBudget::MaxUnavailable(IntOrPercent::Count(0)));
    let out = two_pods_on_two_nodes(EvictionHints::default(), none);
    assert_eq!(nodes_at_end(&out), 2);
    assert!(blocked_by(&out, "NotEnoughPdb"));
    let one = Some(DisruptionBudget::MaxUnavailable(IntOrPercent::Count(1)));
    assert_eq!(
        nodes_at_end(&two_pods_on_two_nodes(EvictionHints::default(), one)),
        1
    );
}

#[test]
fn same_seed_same_decisions() {
    let build = || {
        let pods = deployment("web", template(1500, 2 * GIB), 9);
        let mut c = with_autoscaler(config(vec![workers(2, 1, 6)], vec![pods], 3600));
        c.changes = vec![];
        c
    };
    assert_eq!(run(build()).decisions, run(build()).decisions);
}

//! Controller taints in the filters: per node, after the pool's taints and
//! before NodeAffinity, decided from each template's compiled verdicts.

use super::testutil::{label, pool, req, template, with_taints};
use crate::cluster::{AntiAffinityTerms, ClusterState, CompiledTemplate, FilterReason};
use crate::config::{PodTemplate, Taint, TaintEffect, Toleration, TolerationOperator};
use crate::ids::NodeId;
use crate::taints::{ControllerTaint, ControllerTaints};

fn tolerating(key: &str) -> PodTemplate {
    let mut t = template(&[]);
    t.tolerations = vec![Toleration {
        key: key.into(),
        operator: TolerationOperator::Exists,
        value: String::new(),
        effect: None,
    }];
    t
}

/// A controller's NoSchedule taint filters a pod that does not tolerate
/// it, after the node-state filters and the pool's own taints, before
/// NodeAffinity (upstream's TaintToleration precedes NodeAffinity); its
/// PreferNoSchedule taint never filters.
#[test]
fn controller_taints_filter_in_taint_tolerations_place() {
    use ControllerTaint::*;
    let dedicated = Taint {
        key: "dedicated".into(),
        value: String::new(),
        effect: TaintEffect::NoSchedule,
    };
    let pools = [
        pool("plain", 2, 4000, 4000, 110),
        with_taints(pool("dedicated", 1, 4000, 4000, 110), vec![dedicated]),
    ];
    let mut pinned = template(&[]);
    pinned.node_selector = vec![label("pool", "elsewhere")];
    let templates = [
        template(&[]),
        tolerating(ToBeDeletedByClusterAutoscaler.key()),
        tolerating(""),
        pinned,
    ];
    let mut cluster = ClusterState::from_specs(&pools, &templates);
    let filter =
        |c: &ClusterState, t: usize, node: NodeId| c.filter(&c.templates[t], &req(1, 1), node);
    cluster.set_controller_taint(0, DeletionCandidateOfClusterAutoscaler, true);
    assert_eq!(filter(&cluster, 0, 0), None, "PreferNoSchedule only scores");
    cluster.set_controller_taint(0, ToBeDeletedByClusterAutoscaler, true);
    let untolerated = Some(FilterReason::ControllerTaint(
        ToBeDeletedByClusterAutoscaler,
    ));
    assert_eq!(filter(&cluster, 0, 0), untolerated);
    assert_eq!(filter(&cluster, 1, 0), None, "tolerated by key");
    assert_eq!(filter(&cluster, 3, 0), untolerated, "before NodeAffinity");
    assert_eq!(filter(&cluster, 3, 1), Some(FilterReason::NodeAffinity));
    cluster.set_controller_taint(0, KarpenterDisrupted, true);
    assert_eq!(
        filter(&cluster, 1, 0),
        Some(FilterReason::ControllerTaint(KarpenterDisrupted))
    );
    assert_eq!(filter(&cluster, 2, 0), None, "an empty key tolerates all");
    cluster.set_controller_taint(2, ToBeDeletedByClusterAutoscaler, true);
    assert_eq!(
        filter(&cluster, 0, 2),
        Some(FilterReason::UntoleratedTaint(0)),
        "the pool's taints first"
    );
    cluster.set_ready(0, false);
    assert_eq!(filter(&cluster, 0, 0), Some(FilterReason::NodeNotReady));
    cluster.set_ready(0, true);
    cluster.set_controller_taint(0, ToBeDeletedByClusterAutoscaler, false);
    cluster.set_controller_taint(0, KarpenterDisrupted, false);
    assert_eq!(filter(&cluster, 0, 0), None, "untainted");
    assert_eq!(cluster.nodes.tainted_count(), 2);
    cluster.delete_node(0);
    assert_eq!(cluster.nodes.controller_taints(0), ControllerTaints::NONE);
    assert_eq!(cluster.nodes.tainted_count(), 1);
}

/// The Cluster Autoscaler's value is a time: only `Exists` tolerates it,
/// as upstream; an `Equal` toleration without a value does not.
#[test]
fn an_equal_toleration_does_not_match_the_autoscalers_time_value() {
    let mut equal = template(&[]);
    equal.tolerations = vec![Toleration {
        key: ControllerTaint::ToBeDeletedByClusterAutoscaler.key().into(),
        operator: TolerationOperator::Equal,
        value: String::new(),
        effect: None,
    }];
    let pools = [pool("p", 0, 1, 1, 1)];
    let mut terms = AntiAffinityTerms::default();
    let compiled = CompiledTemplate::compile(&equal, &pools, &mut terms);
    assert!(compiled
        .untolerated_controller_taints
        .contains(ControllerTaint::ToBeDeletedByClusterAutoscaler));
    let exists = tolerating(ControllerTaint::DeletionCandidateOfClusterAutoscaler.key());
    let compiled = CompiledTemplate::compile(&exists, &pools, &mut terms);
    assert_eq!(
        compiled.intolerable_controller_taints,
        ControllerTaints::NONE
    );
    let plain = CompiledTemplate::compile(&template(&[]), &pools, &mut terms);
    assert_eq!(
        plain
            .intolerable_controller_taints
            .iter()
            .collect::<Vec<_>>(),
        vec![ControllerTaint::DeletionCandidateOfClusterAutoscaler]
    );
}

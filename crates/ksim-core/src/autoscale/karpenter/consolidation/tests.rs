//! Ported from upstream's disruption suites (`pkg/controllers/disruption`:
//! Describe "Replace Nodes", "Delete Node", the spot-to-spot consolidation
//! cases); tests marked "upstream behaviour" pin rules read from the source
//! rather than a named upstream test. The
//! cluster and its scheduling simulation become the `Rescheduling` answer;
//! upstream's dollar prices become micro-dollars.

use super::*;

fn at_minutes(m: u64) -> SimTime {
    SimTime(m * 60 * crate::time::NANOS_PER_SEC)
}

fn settings() -> ConsolidationSettings {
    ConsolidationSettings {
        policy: ConsolidationPolicy::WhenEmptyOrUnderutilized,
        consolidate_after: Some(SimDuration::ZERO),
        spot_to_spot: false,
    }
}

fn node(capacity_type: CapacityType, price: u64, pods: u32) -> CandidateNode {
    CandidateNode {
        name: "candidate".into(),
        reschedulable_pods: pods,
        capacity_type,
        price_micro_usd_per_hour: price,
        initialized_at: SimTime::ZERO,
        last_pod_event: None,
    }
}

fn opt(name: &str, capacity_type: CapacityType, price: u64) -> ReplacementOption {
    ReplacementOption {
        instance_type: name.into(),
        capacity_type,
        price_micro_usd_per_hour: price,
    }
}

fn spot_options(n: usize, base_price: u64) -> Vec<ReplacementOption> {
    (0..n)
        .map(|i| {
            opt(
                &format!("spot-{i:02}"),
                CapacityType::Spot,
                base_price + i as u64,
            )
        })
        .collect()
}

use CapacityType::{OnDemand, Spot};

// upstream: Describe "Delete Node", "can delete nodes" (the node's single
// pod fits on the other node)
#[test]
fn deletes_when_the_pods_fit_elsewhere() {
    let d = decide(
        &node(OnDemand, 500_000, 1),
        &settings(),
        &Rescheduling::FitsElsewhere,
        at_minutes(10),
    );
    assert_eq!(d, Decision::Delete);
}

// upstream: Describe "Replace Nodes", "can replace node" (the most expensive
// type is replaced by a cheaper one that holds its pod)
#[test]
fn replaces_with_the_cheaper_options_cheapest_first() {
    let options = vec![
        opt("b", OnDemand, 300_000),
        opt("dear", OnDemand, 900_000),
        opt("a", OnDemand, 300_000),
        opt("c", OnDemand, 100_000),
    ];
    let d = decide(
        &node(OnDemand, 500_000, 1),
        &settings(),
        &Rescheduling::NeedsOneNode(options),
        at_minutes(10),
    );
    let Decision::Replace(r) = d else {
        panic!("expected a replacement, got {d:?}")
    };
    let names: Vec<&str> = r.iter().map(|o| o.instance_type.as_str()).collect();
    assert_eq!(names, ["c", "a", "b"]);
}

// upstream: Describe "Replace Nodes", "won't replace node if any spot
// replacement is more expensive" (on-demand at $0.5; the spot replacement's
// worst zone costs $1.0)
#[test]
fn keeps_when_the_worst_case_spot_price_is_dearer() {
    let options = vec![opt("potential-spot-replacement", Spot, 1_000_000)];
    let d = decide(
        &node(OnDemand, 500_000, 1),
        &settings(),
        &Rescheduling::NeedsOneNode(options),
        at_minutes(10),
    );
    assert_eq!(d, Decision::Keep(KeepReason::NoCheaperReplacement));
}

// upstream: Describe "Replace Nodes", "won't replace on-demand node if
// on-demand replacement is more expensive" (the pool requires on-demand)
#[test]
fn keeps_when_the_on_demand_replacement_is_dearer() {
    let options = vec![opt("on-demand-replacement", OnDemand, 600_000)];
    let d = decide(
        &node(OnDemand, 500_000, 1),
        &settings(),
        &Rescheduling::NeedsOneNode(options),
        at_minutes(10),
    );
    assert_eq!(d, Decision::Keep(KeepReason::NoCheaperReplacement));
}

#[test]
fn an_equal_price_is_not_cheaper() {
    let options = vec![opt("same", OnDemand, 500_000)];
    let d = decide(
        &node(OnDemand, 500_000, 1),
        &settings(),
        &Rescheduling::NeedsOneNode(options),
        at_minutes(10),
    );
    assert_eq!(d, Decision::Keep(KeepReason::NoCheaperReplacement));
}

// upstream behaviour (not a named test): computeSpotToSpotConsolidation
// refuses to replace a spot node with spot while the SpotToSpotConsolidation
// feature gate is off.
#[test]
fn spot_to_spot_needs_the_feature_gate() {
    let d = decide(
        &node(Spot, 500_000, 1),
        &settings(),
        &Rescheduling::NeedsOneNode(spot_options(20, 1000)),
        at_minutes(10),
    );
    assert_eq!(d, Decision::Keep(KeepReason::SpotToSpotDisabled));
}

// upstream: "cannot replace spot with spot if less than minimum
// InstanceTypes flexibility"
#[test]
fn spot_to_spot_needs_fifteen_cheaper_types() {
    let s = ConsolidationSettings {
        spot_to_spot: true,
        ..settings()
    };
    let mut options = spot_options(14, 1000);
    options.push(opt("dearer-spot", Spot, 600_000));
    let d = decide(
        &node(Spot, 500_000, 1),
        &s,
        &Rescheduling::NeedsOneNode(options),
        at_minutes(10),
    );
    assert_eq!(
        d,
        Decision::Keep(KeepReason::TooFewCheaperSpotTypes { found: 14 })
    );
}

// upstream: "spot to spot consolidation should order the instance types by
// price before enforcing minimum flexibility" (and launch with only 15)
#[test]
fn spot_to_spot_launches_with_the_fifteen_cheapest() {
    let s = ConsolidationSettings {
        spot_to_spot: true,
        ..settings()
    };
    let mut options = spot_options(20, 1000);
    options.reverse();
    options.push(opt("on-demand-cheap", OnDemand, 10));
    let d = decide(
        &node(Spot, 500_000, 1),
        &s,
        &Rescheduling::NeedsOneNode(options),
        at_minutes(10),
    );
    let Decision::Replace(r) = d else {
        panic!("expected a replacement, got {d:?}")
    };
    assert_eq!(r.len(), MIN_INSTANCE_TYPES_FOR_SPOT_TO_SPOT);
    assert!(
        r.iter().all(|o| o.capacity_type == Spot),
        "spot is replaced by spot only"
    );
    assert_eq!(r[0].instance_type, "spot-00");
    assert_eq!(r[14].instance_type, "spot-14");
}

#[test]
fn on_demand_may_be_replaced_by_spot() {
    let options = vec![opt("spot-small", Spot, 100_000)];
    let d = decide(
        &node(OnDemand, 500_000, 1),
        &settings(),
        &Rescheduling::NeedsOneNode(options.clone()),
        at_minutes(10),
    );
    assert_eq!(d, Decision::Replace(options));
}

// upstream behaviour (not a named test): emptiness applies under both
// policies; WhenEmpty never moves pods.
#[test]
fn when_empty_deletes_only_empty_nodes() {
    let s = ConsolidationSettings {
        policy: ConsolidationPolicy::WhenEmpty,
        ..settings()
    };
    let empty = decide(
        &node(OnDemand, 500_000, 0),
        &s,
        &Rescheduling::FitsElsewhere,
        at_minutes(10),
    );
    assert_eq!(empty, Decision::Delete);
    let busy = decide(
        &node(OnDemand, 500_000, 2),
        &s,
        &Rescheduling::FitsElsewhere,
        at_minutes(10),
    );
    assert_eq!(busy, Decision::Keep(KeepReason::NotEmpty));
    let empty_underutilized = decide(
        &node(OnDemand, 500_000, 0),
        &settings(),
        &Rescheduling::DoesNotFit,
        at_minutes(10),
    );
    assert_eq!(empty_underutilized, Decision::Delete);
}

#[test]
fn several_nodes_or_no_fit_keep_the_candidate() {
    let n = node(OnDemand, 500_000, 3);
    assert_eq!(
        decide(
            &n,
            &settings(),
            &Rescheduling::NeedsSeveralNodes,
            at_minutes(10)
        ),
        Decision::Keep(KeepReason::NeedsSeveralNodes)
    );
    assert_eq!(
        decide(&n, &settings(), &Rescheduling::DoesNotFit, at_minutes(10)),
        Decision::Keep(KeepReason::PodsDoNotFit)
    );
}

// upstream behaviour (nodeclaim/disruption's Consolidatable condition, not a
// named test): quiet for consolidateAfter since the last pod event, or since
// initialization when there was none; `Never` disables it.
#[test]
fn consolidate_after_counts_from_the_last_pod_event() {
    let s = ConsolidationSettings {
        consolidate_after: Some(SimDuration::from_secs(300)),
        ..settings()
    };
    let mut n = node(OnDemand, 500_000, 0);
    n.initialized_at = at_minutes(1);
    assert!(!is_consolidatable(&n, &s, at_minutes(5)));
    assert!(is_consolidatable(&n, &s, at_minutes(6)));
    n.last_pod_event = Some(at_minutes(4));
    assert!(!is_consolidatable(&n, &s, at_minutes(8)));
    assert_eq!(
        decide(&n, &s, &Rescheduling::FitsElsewhere, at_minutes(8)),
        Decision::Keep(KeepReason::NotConsolidatableYet)
    );
    assert!(is_consolidatable(&n, &s, at_minutes(9)));
    assert_eq!(
        decide(&n, &s, &Rescheduling::FitsElsewhere, at_minutes(9)),
        Decision::Delete
    );
    let never = ConsolidationSettings {
        consolidate_after: None,
        ..settings()
    };
    assert!(!is_consolidatable(&n, &never, at_minutes(1000)));
    assert_eq!(
        decide(&n, &never, &Rescheduling::FitsElsewhere, at_minutes(1000)),
        Decision::Keep(KeepReason::ConsolidationDisabled)
    );
}

// upstream behaviour (nodeclaim/expiration, not a named test): a NodeClaim
// expires expireAfter after its creation; `Never` disables it.
#[test]
fn expiration_counts_from_creation() {
    let after = Some(SimDuration::from_secs(3600));
    assert!(!is_expired(at_minutes(10), after, at_minutes(69)));
    assert!(is_expired(at_minutes(10), after, at_minutes(70)));
    assert!(!is_expired(at_minutes(10), None, at_minutes(100_000)));
}

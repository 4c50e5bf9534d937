//! Ported from upstream's `pkg/controller/podautoscaler/horizontal_test.go`;
//! `time.Now()` there is `NOW` here, and upstream's fake controller's
//! recommendations and scale events become a `ScalingHistory`.

use super::*;
use crate::autoscale::hpa::calculator::{
    combine, resource_replicas, CalculatorError, PodMetric, PodSample, Proposal,
};
use crate::autoscale::hpa::{MetricSpec, ResourceName, ResourceTarget};
use crate::pod_phase::PodPhase;
use crate::time::NANOS_PER_SEC;

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

/// Three hours in, so that every age upstream's tests use lies after zero.
const NOW: SimTime = SimTime(3 * 3600 * NANOS_PER_SEC);

fn ago(s: u64) -> SimTime {
    SimTime(NOW.0 - s * NANOS_PER_SEC)
}

fn later(s: u64) -> SimTime {
    NOW + secs(s)
}

fn settings() -> HpaControllerSettings {
    HpaControllerSettings::default()
}

fn rec(replicas: u32, at: SimTime) -> Recommendation {
    Recommendation { at, replicas }
}

fn history_with(recommendations: Vec<Recommendation>) -> ScalingHistory {
    ScalingHistory {
        recommendations: Some(recommendations),
        ..ScalingHistory::default()
    }
}

fn recommended(history: &ScalingHistory) -> Vec<u32> {
    history
        .recommendations
        .iter()
        .flatten()
        .map(|r| r.replicas)
        .collect()
}

fn spec(min: u32, max: u32, behavior: Option<Behavior>) -> HpaSpec {
    HpaSpec {
        min_replicas: min,
        max_replicas: max,
        metrics: vec![MetricSpec::Resource {
            name: ResourceName::Cpu,
            target: ResourceTarget::Utilization(80),
        }],
        behavior,
    }
}

/// Upstream's `generateScalingRules`: a Pods and a Percent policy (each left
/// out when its value is 0), select Max.
fn rules(
    pods: i32,
    pods_period_s: u64,
    percent: i32,
    percent_period_s: u64,
    window_s: u64,
) -> ScalingRules {
    let mut policies = Vec::new();
    if pods != 0 {
        policies.push(policy(PolicyKind::Pods, pods, pods_period_s));
    }
    if percent != 0 {
        policies.push(policy(PolicyKind::Percent, percent, percent_period_s));
    }
    ScalingRules {
        stabilization_window: secs(window_s),
        select_policy: SelectPolicy::Max,
        policies,
    }
}

/// Upstream's `generateEventsUniformDistribution`: the events spread over the
/// last `period_s` seconds, each in the middle of its equal segment (whole
/// seconds, as upstream truncates).
fn uniform_events(changes: &[u32], period_s: u64) -> Vec<ScaleEvent> {
    let segment = period_s as f64 / changes.len() as f64;
    changes
        .iter()
        .enumerate()
        .map(|(i, &change)| {
            let age = period_s as f64 - segment * (i + 1) as f64 + segment / 2.0;
            ScaleEvent {
                at: ago(age as u64),
                change,
                outdated: false,
            }
        })
        .collect()
}

// ---- Stabilization ----

// upstream: horizontal_test.go, TestNormalizeDesiredReplicas
#[test]
fn legacy_stabilization_takes_the_largest_recent_recommendation() {
    let cases = [
        ("empty log", vec![], 5, 5, 1),
        (
            "stabilize",
            vec![rec(4, ago(120)), rec(5, ago(60))],
            3,
            5,
            3,
        ),
        (
            "no stabilize",
            vec![rec(1, ago(120)), rec(2, ago(60))],
            3,
            3,
            3,
        ),
        (
            "no stabilize - old recommendations",
            vec![rec(10, ago(600)), rec(9, ago(540))],
            3,
            3,
            2,
        ),
        (
            "stabilize - old recommendations",
            vec![
                rec(10, ago(600)),
                rec(4, ago(60)),
                rec(5, ago(120)),
                rec(9, ago(540)),
            ],
            3,
            5,
            4,
        ),
    ];
    for (name, recommendations, proposed, stabilized, log_length) in cases {
        let mut history = history_with(recommendations);
        assert_eq!(
            history.stabilize_legacy(NOW, proposed, secs(300)),
            stabilized,
            "{name}"
        );
        assert_eq!(recommended(&history).len(), log_length, "{name}");
    }
}

// upstream: horizontal_test.go, TestNormalizeDesiredReplicasWithBehavior
#[test]
fn stabilization_with_behavior_bounds_each_direction_by_its_window() {
    struct Case {
        name: &'static str,
        recommendations: Vec<Recommendation>,
        current: u32,
        proposed: u32,
        stabilized: u32,
        stored: Option<Vec<u32>>,
        up_window_s: u64,
        down_window_s: u64,
    }
    let cases = [
        Case {
            name: "empty recommendations for scaling down",
            recommendations: vec![],
            current: 100,
            proposed: 5,
            stabilized: 5,
            stored: Some(vec![5]),
            up_window_s: 0,
            down_window_s: 0,
        },
        Case {
            name: "simple scale down stabilization",
            recommendations: vec![rec(4, ago(120)), rec(5, ago(60))],
            current: 100,
            proposed: 3,
            stabilized: 5,
            stored: Some(vec![4, 5, 3]),
            up_window_s: 0,
            down_window_s: 180,
        },
        Case {
            name: "simple scale up stabilization",
            recommendations: vec![rec(4, ago(120)), rec(5, ago(60))],
            current: 1,
            proposed: 7,
            stabilized: 4,
            stored: Some(vec![4, 5, 7]),
            up_window_s: 300,
            down_window_s: 0,
        },
        Case {
            name: "no scale down stabilization",
            recommendations: vec![rec(1, ago(120)), rec(2, ago(60))],
            current: 100,
            proposed: 3,
            stabilized: 3,
            stored: Some(vec![1, 2, 3]),
            up_window_s: 300,
            down_window_s: 0,
        },
        Case {
            name: "no scale up stabilization",
            recommendations: vec![rec(4, ago(120)), rec(5, ago(60))],
            current: 1,
            proposed: 3,
            stabilized: 3,
            stored: Some(vec![4, 5, 3]),
            up_window_s: 0,
            down_window_s: 300,
        },
        Case {
            name: "no scale down stabilization, reuse recommendation element",
            recommendations: vec![rec(10, ago(600)), rec(9, ago(540))],
            current: 100,
            proposed: 3,
            stabilized: 3,
            stored: Some(vec![10, 3]),
            up_window_s: 0,
            down_window_s: 0,
        },
        Case {
            name: "no scale up stabilization, reuse recommendation element",
            recommendations: vec![rec(10, ago(600)), rec(9, ago(540))],
            current: 1,
            proposed: 100,
            stabilized: 100,
            stored: Some(vec![10, 100]),
            up_window_s: 0,
            down_window_s: 0,
        },
        Case {
            name: "scale down stabilization, reuse one of obsolete recommendation element",
            recommendations: vec![
                rec(10, ago(600)),
                rec(4, ago(60)),
                rec(5, ago(120)),
                rec(9, ago(540)),
            ],
            current: 100,
            proposed: 3,
            stabilized: 5,
            stored: Some(vec![10, 4, 5, 3]),
            up_window_s: 0,
            down_window_s: 180,
        },
        Case {
            name: "scale up stabilization, reuse one of obsolete recommendation element",
            recommendations: vec![
                rec(10, ago(6000)),
                rec(6, ago(60)),
                rec(5, ago(120)),
                rec(9, ago(180)),
            ],
            current: 1,
            proposed: 100,
            stabilized: 5,
            stored: Some(vec![100, 6, 5, 9]),
            up_window_s: 300,
            down_window_s: 0,
        },
        Case {
            name:
                "scale up and down stabilization, do not scale up when prenormalized rec goes down",
            recommendations: vec![rec(2, ago(6000)), rec(3, ago(180))],
            current: 2,
            proposed: 1,
            stabilized: 2,
            stored: None,
            up_window_s: 300,
            down_window_s: 300,
        },
        Case {
            name:
                "scale up and down stabilization, do not scale down when prenormalized rec goes up",
            recommendations: vec![rec(2, ago(6000)), rec(1, ago(180))],
            current: 2,
            proposed: 3,
            stabilized: 2,
            stored: None,
            up_window_s: 300,
            down_window_s: 300,
        },
    ];
    for c in cases {
        let mut history = history_with(c.recommendations);
        let got = history.stabilize_with_windows(
            NOW,
            c.current,
            c.proposed,
            secs(c.up_window_s),
            secs(c.down_window_s),
        );
        assert_eq!(got, c.stabilized, "{}", c.name);
        if let Some(stored) = c.stored {
            assert_eq!(recommended(&history), stored, "{}", c.name);
        }
    }
}

// ---- Rate limits ----

struct RuleCase {
    name: &'static str,
    up_events: &'static [u32],
    down_events: &'static [u32],
    min: u32,
    max: u32,
    up: Option<ScalingRules>,
    down: Option<ScalingRules>,
    current: u32,
    proposed: u32,
    expected: u32,
    limit: ScalingLimit,
}

fn rule_case(
    name: &'static str,
    (min, max): (u32, u32),
    (current, proposed): (u32, u32),
    (expected, limit): (u32, ScalingLimit),
) -> RuleCase {
    RuleCase {
        name,
        up_events: &[],
        down_events: &[],
        min,
        max,
        up: None,
        down: None,
        current,
        proposed,
        expected,
        limit,
    }
}

fn up(rules: ScalingRules, case: RuleCase) -> RuleCase {
    RuleCase {
        up: Some(rules),
        ..case
    }
}

fn down(rules: ScalingRules, case: RuleCase) -> RuleCase {
    RuleCase {
        down: Some(rules),
        ..case
    }
}

fn with_events(up_events: &'static [u32], down_events: &'static [u32], case: RuleCase) -> RuleCase {
    RuleCase {
        up_events,
        down_events,
        ..case
    }
}

// upstream: horizontal_test.go, TestScalingWithRules (every case; upstream
// skips "scaleDownLimit is the limit because scaleDownLimit > minReplicas
// with user defined policies" through its testThis flag, its expectation is
// checked here)
#[test]
fn rate_limits_with_rules() {
    use ScalingLimit::*;
    let cases = [
        rule_case("prenormalized desired replicas within range", (3, 8), (5, 7), (7, DesiredWithinRange)),
        rule_case("prenormalized desired replicas < minReplicas", (2, 8), (3, 1), (2, TooFewReplicas)),
        rule_case("within range when minReplicas is 0", (0, 10), (1, 0), (0, DesiredWithinRange)),
        rule_case("maxReplicas is the limit because maxReplicas < scaleUpLimit", (1, 10), (20, 1000), (10, TooManyReplicas)),
        rule_case("desired replica count is more than the maximum replica count", (100, 150), (100, 1000), (150, TooManyReplicas)),
        up(rules(0, 0, 1, 60, 0), rule_case("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", (1, 2000), (3, 1000), (4, ScaleUpLimit))),
        down(rules(20, 60, 0, 0, 0), rule_case("scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies", (3, 2000), (1000, 3), (980, ScaleDownLimit))),
        rule_case("scaleUp with default behavior", (1, 1000), (10, 50), (20, ScaleUpLimit)),
        up(rules(100, 60, 100, 60, 0), rule_case("scaleUp with pods policy larger than percent policy", (1, 1000), (10, 500), (110, ScaleUpLimit))),
        up(rules(2, 60, 100, 60, 0), rule_case("scaleUp with percent policy larger than pods policy", (1, 1000), (10, 500), (20, ScaleUpLimit))),
        up(rules(100, 60, 0, 0, 0), rule_case("scaleUp with spec MaxReplicas limitation with large pod policy", (1, 1000), (10, 50), (50, DesiredWithinRange))),
        up(rules(10000, 60, 0, 0, 0), rule_case("scaleUp with spec MaxReplicas limitation with large percent policy", (1, 1000), (10, 50), (50, DesiredWithinRange))),
        up(rules(30, 60, 0, 0, 0), rule_case("scaleUp with pod policy limitation", (1, 1000), (10, 50), (40, ScaleUpLimit))),
        up(rules(0, 0, 200, 60, 0), rule_case("scaleUp with percent policy limitation", (1, 1000), (10, 50), (30, ScaleUpLimit))),
        down(rules(20, 60, 1, 60, 300), rule_case("scaleDown with percent policy larger than pod policy", (1, 1000), (100, 2), (80, ScaleDownLimit))),
        down(rules(2, 60, 1, 60, 300), rule_case("scaleDown with pod policy larger than percent policy", (1, 1000), (100, 2), (98, ScaleDownLimit))),
        down(rules(100, 60, 0, 0, 300), rule_case("scaleDown with spec MinReplicas=nil limitation with large pod policy", (1, 1000), (10, 0), (1, TooFewReplicas))),
        down(rules(100, 60, 0, 0, 300), rule_case("scaleDown with spec MinReplicas limitation with large pod policy", (1, 1000), (10, 0), (1, TooFewReplicas))),
        down(rules(0, 0, 100, 60, 300), rule_case("scaleDown with spec MinReplicas limitation with large percent policy", (5, 1000), (10, 2), (5, TooFewReplicas))),
        down(rules(5, 60, 0, 0, 300), rule_case("scaleDown with pod policy limitation", (1, 1000), (10, 2), (5, ScaleDownLimit))),
        down(rules(0, 0, 50, 60, 300), rule_case("scaleDown with percent policy limitation", (1, 1000), (10, 5), (5, DesiredWithinRange))),
        with_events(&[1, 5, 9], &[], up(rules(300, 60, 0, 0, 0), rule_case("scaleUp with spec MaxReplicas limitation with large pod policy and events", (1, 200), (100, 500), (200, TooManyReplicas)))),
        with_events(&[1, 5, 9], &[], up(rules(0, 0, 10000, 60, 0), rule_case("scaleUp with spec MaxReplicas limitation with large percent policy and events", (1, 200), (100, 500), (200, TooManyReplicas)))),
        with_events(&[1, 5, 9], &[], up(rules(5, 120, 0, 0, 0), rule_case("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", (1, 1000), (100, 500), (100, ScaleUpLimit)))),
        with_events(&[1, 5, 9], &[], up(rules(150, 120, 0, 0, 0), rule_case("scaleUp with pod policy and previous scale up events", (1, 1000), (100, 500), (235, ScaleUpLimit)))),
        with_events(&[1, 5, 9], &[], up(rules(0, 0, 200, 120, 0), rule_case("scaleUp with percent policy and previous scale up events", (1, 1000), (100, 500), (255, ScaleUpLimit)))),
        with_events(&[4], &[2], up(rules(0, 0, 300, 300, 0), rule_case("scaleUp with percent policy and previous scale up and down events", (1, 1000), (6, 24), (16, ScaleUpLimit)))),
        with_events(&[], &[1, 5, 9], rule_case("scaleDown with default policy and previous events", (1, 1000), (10, 5), (5, DesiredWithinRange))),
        with_events(&[], &[1, 5, 9], down(rules(115, 120, 0, 0, 300), rule_case("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", (1, 1000), (100, 0), (1, TooFewReplicas)))),
        with_events(&[], &[1, 5, 9], down(rules(130, 120, 0, 0, 300), rule_case("scaleDown with spec MinReplicas limitation with large pod policy and previous events", (5, 1000), (100, 0), (5, TooFewReplicas)))),
        with_events(&[], &[1, 5, 9], down(rules(0, 0, 100, 120, 300), rule_case("scaleDown with spec MinReplicas limitation with large percent policy and previous events", (5, 1000), (100, 2), (5, TooFewReplicas)))),
        with_events(&[], &[1, 5, 9], down(rules(5, 120, 0, 0, 300), rule_case("scaleDown with pod policy limitation and previous events", (1, 1000), (100, 2), (100, ScaleDownLimit)))),
        with_events(&[], &[2, 4, 6], down(rules(0, 0, 50, 120, 300), rule_case("scaleDown with percent policy limitation and previous events", (1, 1000), (100, 0), (56, ScaleDownLimit)))),
        with_events(&[2], &[4], down(rules(0, 0, 50, 180, 0), rule_case("scaleDown with percent policy and previous scale up and down events", (1, 1000), (10, 1), (6, ScaleDownLimit)))),
        with_events(&[], &[10, 10, 10], down(rules(0, 0, 10, 120, 300), rule_case("scaleDown with previous events preventing further scale down", (1, 1000), (100, 0), (100, ScaleDownLimit)))),
        with_events(&[], &[10, 10, 10], down(rules(0, 0, 1000, 120, 300), rule_case("scaleDown with with previous events still allowing more scale down", (1, 1000), (10, 5), (5, DesiredWithinRange)))),
        with_events(&[8, 12, 9, 11], &[], up(rules(1000, 60, 0, 0, 0), rule_case("check 'outdated' flag for events for one behavior for up", (1, 1000), (100, 200), (200, DesiredWithinRange)))),
        with_events(&[8, 12, 9, 11], &[], up(rules(1000, 120, 100, 60, 0), rule_case("check that events were not marked 'outdated' for two different policies in the behavior for up", (1, 1000), (100, 200), (200, DesiredWithinRange)))),
        with_events(&[8, 12, 9, 11], &[], up(rules(1000, 30, 100, 60, 0), rule_case("check that events were marked 'outdated' for two different policies in the behavior for up", (1, 1000), (100, 200), (200, DesiredWithinRange)))),
        with_events(&[], &[8, 12, 9, 11], down(rules(1000, 60, 0, 0, 300), rule_case("check 'outdated' flag for events for one behavior for down", (1, 1000), (100, 5), (5, DesiredWithinRange)))),
        with_events(&[], &[8, 12, 9, 11], down(rules(1000, 120, 100, 60, 300), rule_case("check that events were not marked 'outdated' for two different policies in the behavior for down", (1, 1000), (100, 5), (5, DesiredWithinRange)))),
        with_events(&[], &[8, 12, 9, 11], down(rules(1000, 30, 100, 60, 300), rule_case("check that events were marked 'outdated' for two different policies in the behavior for down", (1, 1000), (100, 5), (5, DesiredWithinRange)))),
    ];
    for c in cases {
        let behavior = Behavior {
            scale_up: c.up.unwrap_or_else(default_scale_up_rules),
            scale_down: c
                .down
                .unwrap_or_else(|| default_scale_down_rules(&settings())),
        };
        let history = ScalingHistory {
            scale_up_events: uniform_events(c.up_events, 120),
            scale_down_events: uniform_events(c.down_events, 120),
            ..ScalingHistory::default()
        };
        let got = rate_limits(
            c.current, c.proposed, c.min, c.max, &behavior, &history, NOW,
        );
        assert_eq!(got, (c.expected, c.limit), "{}", c.name);
    }
}

// upstream: horizontal_test.go, TestCalculateScaleUpLimitWithScalingRules,
// TestCalculateScaleDownLimitWithBehaviors
#[test]
fn select_policy_min_takes_the_smallest_change() {
    let mut min_rules = rules(2, 60, 50, 60, 300);
    min_rules.select_policy = SelectPolicy::Min;
    let history = ScalingHistory::new();
    assert_eq!(scale_up_limit(1, &history, &min_rules, NOW), 2);
    assert_eq!(scale_down_limit(5, &history, &min_rules, NOW), 3);
}

// upstream: horizontal_test.go, TestConvertDesiredReplicasWithRules (the
// scale-up limit at upstream's factor of 2; its tests raise it to 8)
#[test]
fn legacy_limits_clamp_and_limit_scale_up() {
    use ScalingLimit::*;
    assert_eq!(legacy_limits(5, 7, 3, 8), (7, DesiredWithinRange));
    assert_eq!(legacy_limits(3, 1, 2, 8), (2, TooFewReplicas));
    assert_eq!(legacy_limits(1, 0, 0, 10), (0, DesiredWithinRange));
    assert_eq!(legacy_limits(20, 1000, 1, 10), (10, TooManyReplicas));
    assert_eq!(legacy_limits(3, 1000, 1, 2000), (6, ScaleUpLimit));
    assert_eq!(
        legacy_limits(1, 1000, 1, 2000),
        (4, ScaleUpLimit),
        "at least 4"
    );
}

// ---- Scale events ----

// upstream: horizontal_test.go, TestStoreScaleEvents
#[test]
fn scale_events_reuse_outdated_slots() {
    struct Case {
        name: &'static str,
        previous: Vec<(u32, u64)>,
        rules: Option<ScalingRules>,
        changed_within_60s: i64,
        stored: Vec<(u32, bool)>,
    }
    let two_policies = || Some(rules(10, 60, 100, 60, 0));
    let cases = [
        Case {
            name: "empty entries with default behavior",
            previous: vec![],
            rules: None,
            changed_within_60s: 0,
            stored: vec![],
        },
        Case {
            name: "empty entries with two-policy-behavior",
            previous: vec![],
            rules: two_policies(),
            changed_within_60s: 0,
            stored: vec![(5, false)],
        },
        Case {
            name: "one outdated entry to be kept untouched without behavior",
            previous: vec![(7, 61)],
            rules: None,
            changed_within_60s: 0,
            stored: vec![(7, false)],
        },
        Case {
            name: "one outdated entry to be replaced with behavior",
            previous: vec![(7, 61)],
            rules: two_policies(),
            changed_within_60s: 0,
            stored: vec![(5, false)],
        },
        Case {
            name: "one actual entry to be not touched with behavior",
            previous: vec![(7, 58)],
            rules: two_policies(),
            changed_within_60s: 7,
            stored: vec![(7, false), (5, false)],
        },
        Case {
            name: "two entries, one of them to be replaced",
            previous: vec![(7, 61), (6, 59)],
            rules: Some(rules(10, 60, 0, 0, 0)),
            changed_within_60s: 6,
            stored: vec![(5, false), (6, false)],
        },
        Case {
            name: "replace one entry, use policies with different periods",
            previous: vec![(8, 29), (6, 59), (7, 61), (9, 61)],
            rules: Some(rules(10, 60, 100, 30, 0)),
            changed_within_60s: 14,
            stored: vec![(8, false), (6, false), (7, true), (5, false)],
        },
        Case {
            name: "two entries, both actual",
            previous: vec![(7, 58), (6, 59)],
            rules: Some(rules(10, 120, 100, 30, 0)),
            changed_within_60s: 13,
            stored: vec![(7, false), (6, false), (5, false)],
        },
    ];
    for c in cases {
        let previous: Vec<ScaleEvent> = c
            .previous
            .iter()
            .map(|&(change, age)| ScaleEvent {
                at: ago(age),
                change,
                outdated: false,
            })
            .collect();
        for scale_up in [true, false] {
            let behavior = c.rules.clone().map(|r| Behavior {
                scale_up: r.clone(),
                scale_down: r,
            });
            let mut history = ScalingHistory::new();
            let events = if scale_up {
                &mut history.scale_up_events
            } else {
                &mut history.scale_down_events
            };
            *events = previous.clone();
            let changed = ScalingHistory::changed_within(&previous, NOW, secs(60));
            assert_eq!(changed, c.changed_within_60s, "{}", c.name);
            let to = if scale_up { 15 } else { 5 };
            history.record_scale_event(behavior.as_ref(), NOW, 10, to);
            let events = if scale_up {
                &history.scale_up_events
            } else {
                &history.scale_down_events
            };
            let got: Vec<(u32, bool)> = events.iter().map(|e| (e.change, e.outdated)).collect();
            assert_eq!(got, c.stored, "{} (scale up: {scale_up})", c.name);
        }
    }
}

#[test]
fn scale_event_lists_stay_bounded() {
    // A rescale every sync for a day: the slots older than the longest
    // period are reused, so the list holds about one period's worth.
    let behavior = Behavior {
        scale_up: rules(4, 60, 0, 0, 0),
        scale_down: rules(0, 0, 10, 120, 0),
    };
    let mut history = ScalingHistory::new();
    for sync in 0..5760u64 {
        let now = NOW + secs(15 * sync);
        let (from, to) = if sync % 2 == 0 { (10, 12) } else { (12, 10) };
        history.record_scale_event(Some(&behavior), now, from, to);
    }
    assert!(
        history.scale_up_events.len() <= 3,
        "{}",
        history.scale_up_events.len()
    );
    assert!(
        history.scale_down_events.len() <= 5,
        "{}",
        history.scale_down_events.len()
    );
}

// ---- Defaults and validation ----

// upstream: pkg/apis/autoscaling/v2/defaults.go, GenerateHPAScaleUpRules and
// GenerateHPAScaleDownRules: unset fields take the defaults, a given policy
// list replaces the default one.
#[test]
fn a_partial_behavior_is_filled_with_upstream_defaults() {
    let s = HpaControllerSettings {
        downscale_stabilization: secs(120),
        ..settings()
    };
    let filled = fill_behavior(&PartialBehavior::default(), &s);
    assert_eq!(filled, default_behavior(&s));
    assert_eq!(filled.scale_up.stabilization_window, SimDuration::ZERO);
    assert_eq!(
        filled.scale_up.policies,
        vec![
            policy(PolicyKind::Pods, 4, 15),
            policy(PolicyKind::Percent, 100, 15)
        ]
    );
    assert_eq!(
        filled.scale_down.stabilization_window,
        secs(120),
        "the controller's flag"
    );
    let fractional = HpaControllerSettings {
        downscale_stabilization: SimDuration::from_millis(90_500),
        ..settings()
    };
    let window = default_scale_down_rules(&fractional).stabilization_window;
    assert_eq!(window, secs(90), "the flag in whole seconds");
    assert_eq!(
        filled.scale_down.policies,
        vec![policy(PolicyKind::Percent, 100, 15)]
    );

    let partial = PartialBehavior {
        scale_up: Some(PartialScalingRules {
            select_policy: Some(SelectPolicy::Disabled),
            ..PartialScalingRules::default()
        }),
        scale_down: Some(PartialScalingRules {
            stabilization_window: Some(secs(60)),
            policies: Some(vec![policy(PolicyKind::Pods, 1, 30)]),
            ..PartialScalingRules::default()
        }),
    };
    let filled = fill_behavior(&partial, &s);
    assert_eq!(filled.scale_up.select_policy, SelectPolicy::Disabled);
    assert_eq!(filled.scale_up.policies, default_scale_up_rules().policies);
    assert_eq!(
        filled.scale_down,
        ScalingRules {
            stabilization_window: secs(60),
            select_policy: SelectPolicy::Max,
            policies: vec![policy(PolicyKind::Pods, 1, 30)],
        }
    );
}

// upstream: pkg/apis/autoscaling/validation/validation.go, validateScalingRules and
// validateScalingPolicy
#[test]
fn behavior_is_validated_as_upstream() {
    assert_eq!(validate_behavior(&PartialBehavior::default()), Ok(()));
    let good = PartialScalingRules {
        stabilization_window: Some(MAX_STABILIZATION_WINDOW),
        select_policy: Some(SelectPolicy::Min),
        policies: Some(vec![policy(PolicyKind::Percent, 1, 1800)]),
    };
    let unset_policies = PartialScalingRules {
        policies: None,
        ..good.clone()
    };
    let valid = PartialBehavior {
        scale_up: Some(good),
        scale_down: Some(unset_policies),
    };
    assert_eq!(validate_behavior(&valid), Ok(()));

    let bad = PartialBehavior {
        scale_up: Some(PartialScalingRules {
            stabilization_window: Some(secs(3601)),
            select_policy: Some(SelectPolicy::Disabled),
            policies: Some(vec![]),
        }),
        scale_down: Some(PartialScalingRules {
            policies: Some(vec![
                policy(PolicyKind::Pods, 0, 0),
                policy(PolicyKind::Percent, 10, 1801),
            ]),
            ..PartialScalingRules::default()
        }),
    };
    let (up, down) = (Direction::ScaleUp, Direction::ScaleDown);
    assert_eq!(
        validate_behavior(&bad),
        Err(vec![
            BehaviorError::WindowTooLong {
                direction: up,
                window: secs(3601)
            },
            BehaviorError::NoPolicies { direction: up },
            BehaviorError::NonPositiveValue {
                direction: down,
                index: 0,
                value: 0
            },
            BehaviorError::ZeroPeriod {
                direction: down,
                index: 0
            },
            BehaviorError::PeriodTooLong {
                direction: down,
                index: 1,
                period: secs(1801)
            },
        ])
    );
    let message = BehaviorError::NoPolicies { direction: up }.to_string();
    assert_eq!(message, "scaleUp.policies: at least one policy is required");
}

// ---- Reconcile: horizontal_test.go's controller cases, through the calculator ----

/// A pod of upstream's horizontal_test.go fixture: Running, Ready since
/// the zero time, requesting `request_milli` and using `usage_milli`, sampled now.
fn cpu_pod(request_milli: i64, usage_milli: i64) -> PodSample {
    PodSample {
        phase: PodPhase::Running,
        deleting: false,
        ready: Some(true),
        started: Some(SimTime::ZERO),
        ready_transition: SimTime::ZERO,
        request_milli: Some(request_milli),
        metric: Some(PodMetric {
            value_milli: usage_milli,
            timestamp: NOW,
            window: secs(60),
        }),
    }
}

fn cpu_proposal(
    current: u32,
    target: i32,
    pods: &[PodSample],
) -> Result<Proposal, CalculatorError> {
    let target = ResourceTarget::Utilization(target);
    resource_replicas(current, target, ResourceName::Cpu, pods, NOW, &settings())
}

fn failed() -> Result<Proposal, CalculatorError> {
    Err(CalculatorError::MetricUnavailable { metric: "qps" })
}

fn run(
    spec: &HpaSpec,
    history: &mut ScalingHistory,
    current: u32,
    results: &[Result<Proposal, CalculatorError>],
) -> Decision {
    let combined = combine(current, results);
    reconcile(spec, &settings(), history, NOW, current, combined)
}

fn busy_pods() -> Vec<PodSample> {
    [300, 400, 500].map(|u| cpu_pod(1000, u)).to_vec()
}

fn idle_pods() -> Vec<PodSample> {
    [100, 300, 500, 250, 250].map(|u| cpu_pod(1000, u)).to_vec()
}

// upstream: horizontal_test.go, TestScaleUpOneMetricInvalid, TestScaleUpOneMetricEmpty
#[test]
fn a_failed_metric_does_not_stop_a_scale_up() {
    let results = [cpu_proposal(3, 30, &busy_pods()), failed()];
    let decision = run(&spec(2, 6, None), &mut ScalingHistory::new(), 3, &results);
    assert_eq!(decision.desired(3), 4);
}

// upstream: horizontal_test.go, TestScaleUpFromZeroOneMetricInvalid
#[test]
fn a_failed_metric_does_not_stop_a_scale_up_from_zero() {
    let results = [cpu_proposal(0, 30, &busy_pods()), failed()];
    let decision = run(&spec(0, 6, None), &mut history_with(vec![]), 0, &results);
    assert_eq!(decision.desired(0), 4);
}

// upstream: horizontal_test.go, TestNoScaleDownOneMetricInvalid,
// TestNoScaleDownOneMetricEmpty, TestScaleUpBothMetricsEmpty
#[test]
fn failed_metrics_stop_a_scale_down() {
    let results = [cpu_proposal(5, 50, &idle_pods()), failed()];
    let decision = run(&spec(2, 6, None), &mut history_with(vec![]), 5, &results);
    assert!(matches!(
        decision,
        Decision::MetricsInvalid(CombineError {
            invalid: 1,
            total: 2,
            ..
        })
    ));
    assert_eq!(decision.desired(5), 5);
    let all_failed = run(
        &spec(2, 6, None),
        &mut ScalingHistory::new(),
        3,
        &[failed()],
    );
    assert_eq!(all_failed.desired(3), 3);
}

// upstream: horizontal_test.go, TestScaleDown
#[test]
fn scale_down_without_history() {
    let results = [cpu_proposal(5, 50, &idle_pods())];
    let decision = run(&spec(2, 6, None), &mut history_with(vec![]), 5, &results);
    assert_eq!(decision.desired(5), 3);
}

// upstream: horizontal_test.go, TestScaleDownStabilizeInitialSize
#[test]
fn the_first_sync_records_the_initial_size_which_holds_off_a_scale_down() {
    let results = [cpu_proposal(5, 50, &idle_pods())];
    let mut history = ScalingHistory::new();
    let decision = run(&spec(2, 6, None), &mut history, 5, &results);
    let Decision::Normalized {
        normalized,
        proposal,
    } = decision
    else {
        panic!("normalized expected, got {decision:?}");
    };
    assert_eq!(proposal.replicas, 3);
    assert_eq!((normalized.stabilized, normalized.desired), (5, 5));
    assert_eq!(normalized.stabilization.as_str(), "ScaleDownStabilized");
    assert_eq!(recommended(&history), vec![5, 3]);
}

// upstream: horizontal_test.go, TestStabilizeDownscale
#[test]
fn a_recent_larger_recommendation_holds_off_a_scale_down() {
    let pods = [50, 50, 50].map(|u| cpu_pod(100, u));
    let results = [cpu_proposal(4, 100, &pods)];
    let mut history = history_with(vec![rec(10, ago(600)), rec(4, ago(60))]);
    let decision = run(&spec(1, 5, None), &mut history, 4, &results);
    let Decision::Normalized {
        normalized,
        proposal,
    } = decision
    else {
        panic!("normalized expected, got {decision:?}");
    };
    assert_eq!((proposal.replicas, normalized.desired), (2, 4));
    assert_eq!(normalized.stabilization, Stabilization::ScaleDownStabilized);
}

// upstream: horizontal_test.go, TestScaleDownWithScalingRules
#[test]
fn scale_down_with_scaling_rules() {
    let partial = PartialBehavior {
        scale_up: Some(PartialScalingRules {
            stabilization_window: Some(secs(30)),
            select_policy: Some(SelectPolicy::Max),
            policies: Some(vec![policy(PolicyKind::Percent, 100, 15)]),
        }),
        scale_down: None,
    };
    let behavior = fill_behavior(&partial, &settings());
    let results = [cpu_proposal(5, 50, &idle_pods())];
    let decision = run(
        &spec(2, 6, Some(behavior)),
        &mut history_with(vec![]),
        5,
        &results,
    );
    assert_eq!(decision.desired(5), 3);
}

// upstream: horizontal_test.go, TestScaleUpRCImmediately, TestScaleDownRCImmediately
#[test]
fn a_target_out_of_range_is_brought_back_without_metrics() {
    let mut history = ScalingHistory::new();
    let decision = run(&spec(2, 6, None), &mut history, 1, &[failed()]);
    assert_eq!(decision, Decision::OutOfRange { desired: 2 });
    let decision = run(
        &spec(2, 5, None),
        &mut ScalingHistory::new(),
        6,
        &[failed()],
    );
    assert_eq!(decision, Decision::OutOfRange { desired: 5 });
}

#[test]
fn zero_replicas_with_a_positive_minimum_disable_scaling() {
    let results = [cpu_proposal(0, 30, &busy_pods())];
    let decision = run(&spec(1, 6, None), &mut ScalingHistory::new(), 0, &results);
    assert_eq!(decision, Decision::ScalingDisabled);
    assert_eq!(decision.desired(0), 0);
}

// ---- Our own cases ----

fn proposing(replicas: u32) -> [Result<Proposal, CalculatorError>; 1] {
    [Ok(Proposal {
        replicas,
        usage: 0,
        average_milli: None,
        timestamp: None,
    })]
}

/// Syncs every 15 s from `NOW`, each with the proposal given; returns the
/// count after each.
fn sync_series(spec: &HpaSpec, start: u32, proposals: &[u32]) -> Vec<u32> {
    let mut history = ScalingHistory::new();
    let mut current = start;
    let mut counts = Vec::new();
    for (i, &p) in proposals.iter().enumerate() {
        let now = later(15 * i as u64);
        let combined = combine(current, &proposing(p));
        current =
            reconcile(spec, &settings(), &mut history, now, current, combined).desired(current);
        counts.push(current);
    }
    counts
}

#[test]
fn legacy_stabilization_keeps_the_largest_recommendation_of_the_window() {
    // The 5 min window from 10 replicas: proposals 10, 6, then 3 every 15 s.
    let mut proposals = vec![10, 6];
    proposals.extend([3; 30]);
    let counts = sync_series(&spec(1, 20, None), 10, &proposals);
    // The 10s recorded at 0 s count up to and including 300 s (sync 20).
    assert_eq!(counts[..21], [10; 21]);
    // Then the 6 of 15 s is the largest in the window, for one sync.
    assert_eq!(counts[21], 6);
    assert_eq!(counts[22..], [3; 10]);
}

#[test]
fn behavior_stabilization_keeps_the_largest_recommendation_of_the_down_window() {
    let behavior = Behavior {
        scale_up: default_scale_up_rules(),
        scale_down: ScalingRules {
            stabilization_window: secs(60),
            select_policy: SelectPolicy::Max,
            policies: vec![policy(PolicyKind::Percent, 100, 15)],
        },
    };
    let counts = sync_series(
        &spec(1, 20, Some(behavior)),
        10,
        &[7, 4, 6, 2, 2, 2, 2, 2, 2],
    );
    // Each sync goes down no further than the largest recommendation of the
    // last 60 s, this one included: the initial 10 and the 7 (both at 0 s)
    // leave the window at 60 s, the 4 at 75 s, the 6 at 90 s.
    assert_eq!(counts, [10, 10, 10, 10, 6, 6, 2, 2, 2]);
}

#[test]
fn select_policy_max_and_min_choose_between_policies() {
    let history = ScalingHistory::new();
    let behavior = |select_policy| Behavior {
        scale_up: ScalingRules {
            select_policy,
            ..rules(4, 60, 100, 60, 0)
        },
        scale_down: ScalingRules {
            select_policy,
            ..rules(3, 60, 50, 60, 0)
        },
    };
    let max = behavior(SelectPolicy::Max);
    let min = behavior(SelectPolicy::Min);
    // Up from 10: +4 or +100%; down from 10: -3 or -50%.
    assert_eq!(rate_limits(10, 100, 1, 100, &max, &history, NOW).0, 20);
    assert_eq!(rate_limits(10, 100, 1, 100, &min, &history, NOW).0, 14);
    assert_eq!(rate_limits(10, 1, 1, 100, &max, &history, NOW).0, 5);
    assert_eq!(rate_limits(10, 1, 1, 100, &min, &history, NOW).0, 7);
}

#[test]
fn a_disabled_direction_is_blocked_and_the_other_is_not() {
    let behavior = Behavior {
        scale_up: ScalingRules {
            select_policy: SelectPolicy::Disabled,
            ..default_scale_up_rules()
        },
        scale_down: ScalingRules {
            stabilization_window: SimDuration::ZERO,
            ..default_scale_down_rules(&settings())
        },
    };
    let hpa = spec(1, 100, Some(behavior));
    assert_eq!(sync_series(&hpa, 10, &[50, 50]), [10, 10]);
    assert_eq!(sync_series(&hpa, 10, &[4]), [4]);
    let history = ScalingHistory::new();
    let limited = rate_limits(
        10,
        50,
        1,
        100,
        hpa.behavior.as_ref().unwrap(),
        &history,
        NOW,
    );
    assert_eq!(limited, (10, ScalingLimit::ScaleUpLimit));
}

#[test]
fn earlier_rescales_count_against_a_pods_policy_period() {
    // At most 2 pods a minute up: the rescale at 0 s uses the period's
    // allowance until it leaves the period, at 60 s.
    let behavior = Behavior {
        scale_up: rules(2, 60, 0, 0, 0),
        scale_down: default_scale_down_rules(&settings()),
    };
    let counts = sync_series(&spec(1, 100, Some(behavior)), 2, &[10; 10]);
    assert_eq!(counts, [4, 4, 4, 4, 6, 6, 6, 6, 8, 8]);
}

#[test]
fn earlier_rescales_count_against_a_percent_policy_period() {
    // At most 50% a minute down, from the count at the period's start.
    let behavior = Behavior {
        scale_up: default_scale_up_rules(),
        scale_down: ScalingRules {
            stabilization_window: SimDuration::ZERO,
            ..rules(0, 0, 50, 60, 0)
        },
    };
    let counts = sync_series(&spec(1, 100, Some(behavior)), 40, &[1; 10]);
    assert_eq!(counts, [20, 20, 20, 20, 10, 10, 10, 10, 5, 5]);
}

use super::*;

fn at(secs: u64) -> SimTime {
    SimTime(SimDuration::from_secs(secs).0)
}

fn queue_trigger(activation_threshold: f64) -> Trigger {
    Trigger {
        metric: KedaMetric::Custom(CustomMetric::QueueLength),
        workload: 0,
        target: 5.0,
        activation_threshold,
    }
}

fn cpu_trigger(target_millis: f64) -> Trigger {
    Trigger {
        metric: KedaMetric::Resource {
            name: ResourceName::Cpu,
            utilization: false,
        },
        workload: 0,
        target: target_millis,
        activation_threshold: 0.0,
    }
}

/// Upstream's defaults (30 s polls, 300 s cooldown, max 100) with the given
/// min and idle counts and one queue trigger.
fn spec(min_replicas: u32, idle_replicas: Option<u32>) -> KedaSpec {
    KedaSpec {
        polling_interval: SimDuration::from_secs(30),
        cooldown_period: SimDuration::from_secs(300),
        min_replicas,
        idle_replicas,
        max_replicas: 100,
        triggers: vec![queue_trigger(0.0)],
        behavior: None,
    }
}

/// A ScaledObject created long before `now` that was never active, as in
/// upstream's executor tests (status without lastActiveTime).
fn never_active() -> ScaledObjectState {
    ScaledObjectState::new(SimTime::ZERO)
}

// ---- The executor, upstream's cases ----

// upstream: pkg/scaling/executor/scale_scaledobjects_test.go, TestScaleToMinReplicasWhenNotActive
#[test]
fn scale_to_min_replicas_when_not_active() {
    let mut state = never_active();
    let outcome = poll(&spec(0, None), &mut state, 10, false, at(60));
    assert_eq!(outcome.decision, KedaDecision::Deactivate { replicas: 0 });
    assert!(!outcome.hpa_in_charge);
    assert_eq!(state.last_active, None);
}

// upstream: pkg/scaling/executor/scale_scaledobjects_test.go, TestScaleToMinReplicasFromLowerInitialReplicaCount
#[test]
fn scale_to_min_replicas_from_lower_initial_replica_count() {
    let mut state = never_active();
    let outcome = poll(&spec(5, None), &mut state, 1, false, at(60));
    assert_eq!(outcome.decision, KedaDecision::RaiseToMin { replicas: 5 });
    assert!(outcome.hpa_in_charge);
}

// upstream: pkg/scaling/executor/scale_scaledobjects_test.go, TestScaleFromMinReplicasWhenActive
#[test]
fn scale_from_min_replicas_when_active() {
    let mut state = never_active();
    let outcome = poll(&spec(0, None), &mut state, 0, true, at(60));
    assert_eq!(outcome.decision, KedaDecision::Activate { replicas: 1 });
    assert!(outcome.hpa_in_charge);
    assert_eq!(state.last_active, Some(at(60)));
}

// upstream: pkg/scaling/executor/scale_scaledobjects_test.go, TestScaleToIdleReplicasWhenNotActive
#[test]
fn scale_to_idle_replicas_when_not_active() {
    let mut state = never_active();
    let outcome = poll(&spec(5, Some(0)), &mut state, 10, false, at(60));
    assert_eq!(outcome.decision, KedaDecision::Deactivate { replicas: 0 });
    assert!(!outcome.hpa_in_charge);
}

// upstream: pkg/scaling/executor/scale_scaledobjects_test.go, TestScaleFromIdleToMinReplicasWhenActive
#[test]
fn scale_from_idle_to_min_replicas_when_active() {
    let mut state = never_active();
    let outcome = poll(&spec(5, Some(0)), &mut state, 0, true, at(60));
    assert_eq!(outcome.decision, KedaDecision::Activate { replicas: 5 });
    assert_eq!(state.last_active, Some(at(60)));
}

// upstream: pkg/scaling/executor/scale_scaledobjects_test.go, TestEventWitTriggerInfo
// (its scale: from 2 to 5, an idle count set and the target below min).
#[test]
fn an_active_target_below_min_with_an_idle_count_is_raised_to_min() {
    let mut state = never_active();
    let outcome = poll(&spec(5, Some(0)), &mut state, 2, true, at(60));
    assert_eq!(outcome.decision, KedaDecision::Activate { replicas: 5 });
}

// ---- The executor: the other branches and the cooldown ----

#[test]
fn an_active_target_the_hpa_scales_is_left_to_it_and_marked_active() {
    let mut state = never_active();
    let outcome = poll(&spec(0, None), &mut state, 7, true, at(90));
    assert_eq!(outcome.decision, KedaDecision::Unchanged);
    assert!(outcome.hpa_in_charge);
    assert_eq!(state.last_active, Some(at(90)));
}

#[test]
fn an_inactive_target_at_or_above_a_nonzero_min_is_left_to_the_hpa() {
    let mut state = never_active();
    for current in [5, 9] {
        let outcome = poll(&spec(5, None), &mut state, current, false, at(600));
        assert_eq!(outcome.decision, KedaDecision::Unchanged);
        assert!(outcome.hpa_in_charge);
    }
}

#[test]
fn an_inactive_target_at_zero_stays_there_without_the_hpa() {
    let mut state = never_active();
    let outcome = poll(&spec(0, None), &mut state, 0, false, at(600));
    assert_eq!(outcome.decision, KedaDecision::Unchanged);
    assert!(!outcome.hpa_in_charge);
}

#[test]
fn the_cooldown_runs_from_the_last_active_poll_and_must_pass_strictly() {
    let spec = spec(0, None);
    let mut state = never_active();
    assert_eq!(
        poll(&spec, &mut state, 3, true, at(100)).decision,
        KedaDecision::Unchanged
    );
    let cooling = poll(&spec, &mut state, 3, false, at(250));
    assert_eq!(cooling.decision, KedaDecision::CoolingDown);
    assert!(cooling.hpa_in_charge);
    // At exactly last active + 300 s upstream still cools down (Go's Before).
    assert_eq!(
        poll(&spec, &mut state, 3, false, at(400)).decision,
        KedaDecision::CoolingDown
    );
    let just_after = SimTime(at(400).0 + 1);
    assert_eq!(
        poll(&spec, &mut state, 3, false, just_after).decision,
        KedaDecision::Deactivate { replicas: 0 }
    );
    // Inactive polls leave the active time alone.
    assert_eq!(state.last_active, Some(at(100)));
}

#[test]
fn an_active_poll_restarts_the_cooldown() {
    let spec = spec(0, None);
    let mut state = never_active();
    poll(&spec, &mut state, 3, true, at(100));
    poll(&spec, &mut state, 3, true, at(350));
    assert_eq!(
        poll(&spec, &mut state, 3, false, at(500)).decision,
        KedaDecision::CoolingDown
    );
    assert_eq!(
        poll(&spec, &mut state, 3, false, at(651)).decision,
        KedaDecision::Deactivate { replicas: 0 }
    );
}

#[test]
fn scaling_to_the_idle_count_waits_for_the_cooldown_too() {
    let spec = spec(5, Some(0));
    let mut state = never_active();
    poll(&spec, &mut state, 8, true, at(0));
    assert_eq!(
        poll(&spec, &mut state, 8, false, at(300)).decision,
        KedaDecision::CoolingDown
    );
    assert_eq!(
        poll(&spec, &mut state, 8, false, at(330)).decision,
        KedaDecision::Deactivate { replicas: 0 }
    );
}

#[test]
fn before_any_activity_scale_in_waits_for_the_creation_instant_to_pass() {
    // initialCooldownPeriod is 0 s upstream, compared strictly as well.
    let spec = spec(0, None);
    let mut state = ScaledObjectState::new(at(50));
    assert_eq!(
        poll(&spec, &mut state, 4, false, at(50)).decision,
        KedaDecision::CoolingDown
    );
    assert_eq!(
        poll(&spec, &mut state, 4, false, SimTime(at(50).0 + 1)).decision,
        KedaDecision::Deactivate { replicas: 0 }
    );
}

#[test]
fn a_nonzero_idle_count_leaves_the_hpa_in_charge() {
    // Upstream supports only 0: at a nonzero idle count the HPA still acts
    // (and raises the target to its min), which the outcome says.
    let mut state = never_active();
    let outcome = poll(&spec(3, Some(1)), &mut state, 6, false, at(600));
    assert_eq!(outcome.decision, KedaDecision::Deactivate { replicas: 1 });
    assert!(outcome.hpa_in_charge);
    let at_idle = poll(&spec(3, Some(1)), &mut state, 1, false, at(630));
    assert_eq!(at_idle.decision, KedaDecision::Unchanged);
}

#[test]
fn decisions_name_the_replicas_they_write() {
    assert_eq!(KedaDecision::Activate { replicas: 4 }.replicas(), Some(4));
    assert_eq!(KedaDecision::Deactivate { replicas: 0 }.replicas(), Some(0));
    assert_eq!(KedaDecision::RaiseToMin { replicas: 2 }.replicas(), Some(2));
    assert_eq!(KedaDecision::CoolingDown.replicas(), None);
    assert_eq!(KedaDecision::Unchanged.replicas(), None);
}

// ---- Activity ----

#[test]
fn a_trigger_is_active_strictly_above_its_activation_threshold() {
    let trigger = queue_trigger(2.0);
    assert!(!trigger_active(1.0, &trigger));
    assert!(!trigger_active(2.0, &trigger));
    assert!(trigger_active(2.001, &trigger));
    // The default threshold 0: any queued item activates.
    assert!(!trigger_active(0.0, &queue_trigger(0.0)));
    assert!(trigger_active(1.0, &queue_trigger(0.0)));
}

#[test]
fn a_cpu_trigger_never_reports_activity() {
    assert!(!trigger_active(1e9, &cpu_trigger(500.0)));
}

#[test]
fn a_scaled_object_is_active_when_any_trigger_is() {
    let mut spec = spec(0, None);
    spec.triggers = vec![queue_trigger(10.0), cpu_trigger(500.0), queue_trigger(0.0)];
    assert!(!is_active(&spec, |_| 0.0));
    assert!(is_active(&spec, |t| {
        if t.activation_threshold == 10.0 {
            11.0
        } else {
            0.0
        }
    }));
    // The cpu trigger's value does not count, however high.
    assert!(!is_active(&spec, |t| if t.metric.is_resource() {
        1e9
    } else {
        0.0
    }));
}

#[test]
fn a_scaled_object_on_cpu_alone_is_always_active() {
    let mut spec = spec(0, None);
    spec.triggers = vec![cpu_trigger(500.0)];
    assert!(is_active(&spec, |_| 0.0));
}

// ---- The HPA KEDA creates ----

#[test]
fn the_hpa_runs_from_max_of_min_and_one_to_max() {
    let mut spec = spec(0, None);
    spec.max_replicas = 12;
    let hpa = hpa_for(&spec);
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (1, 12));
    spec.min_replicas = 4;
    assert_eq!(hpa_for(&spec).min_replicas, 4);
}

#[test]
fn each_trigger_becomes_one_metric_of_the_hpa() {
    let mut spec = spec(0, None);
    spec.triggers = vec![
        Trigger {
            metric: KedaMetric::Custom(CustomMetric::RequestRate),
            workload: 3,
            target: 2.5,
            activation_threshold: 0.0,
        },
        Trigger {
            target: 0.0015,
            ..queue_trigger(0.0)
        },
        cpu_trigger(499.2),
    ];
    let hpa = hpa_for(&spec);
    assert_eq!(
        hpa.metrics,
        vec![
            MetricSpec::External {
                metric: CustomMetric::RequestRate,
                workload: 3,
                target: ValueTarget::AverageValueMilli(2500),
            },
            // Truncated to a whole milli-unit.
            MetricSpec::External {
                metric: CustomMetric::QueueLength,
                workload: 0,
                target: ValueTarget::AverageValueMilli(1),
            },
            // Rounded up to a whole millicore.
            MetricSpec::Resource {
                name: ResourceName::Cpu,
                target: ResourceTarget::AverageValueMilli(500),
            },
        ]
    );
}

#[test]
fn the_hpa_takes_the_scaled_objects_behavior() {
    use crate::autoscale::hpa::{PolicyKind, ScalingPolicy, ScalingRules, SelectPolicy};
    let rules = |seconds| ScalingRules {
        stabilization_window: SimDuration::from_secs(seconds),
        select_policy: SelectPolicy::Max,
        policies: vec![ScalingPolicy {
            kind: PolicyKind::Pods,
            value: 4,
            period: SimDuration::from_secs(15),
        }],
    };
    let mut spec = spec(0, None);
    assert_eq!(hpa_for(&spec).behavior, None);
    let behavior = Behavior {
        scale_up: rules(0),
        scale_down: rules(120),
    };
    spec.behavior = Some(behavior.clone());
    assert_eq!(hpa_for(&spec).behavior, Some(behavior));
}

/// KEDA's cpu and memory scalers take `metricType: Utilization` (a percent
/// of the request) or `AverageValue` (a quantity per pod); its HPA gets the
/// matching Resource metric.
#[test]
fn cpu_and_memory_triggers_become_resource_metrics_of_their_metric_type() {
    let resource = |name, utilization, target| Trigger {
        metric: KedaMetric::Resource { name, utilization },
        workload: 0,
        target,
        activation_threshold: 0.0,
    };
    let mut spec = spec(1, None);
    spec.triggers = vec![
        resource(ResourceName::Cpu, true, 75.0),
        resource(ResourceName::Memory, true, 90.0),
        resource(ResourceName::Memory, false, 1024.0 * 1024.0 * 1024.0),
    ];
    assert_eq!(
        hpa_for(&spec).metrics,
        vec![
            MetricSpec::Resource {
                name: ResourceName::Cpu,
                target: ResourceTarget::Utilization(75),
            },
            MetricSpec::Resource {
                name: ResourceName::Memory,
                target: ResourceTarget::Utilization(90),
            },
            MetricSpec::Resource {
                name: ResourceName::Memory,
                target: ResourceTarget::AverageValueMilli(1_073_741_824_000),
            },
        ]
    );
    assert!(
        is_active(&spec, |_| 0.0),
        "resource scalers are always active"
    );
}

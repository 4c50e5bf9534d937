//! `[autoscaling]`, `[workloads.hpa]` and `[workloads.keda]`: every key lands
//! in the config, every mistake is named at its file, line and key.

mod common;
use common::*;

use ksim_core::autoscale::hpa::{
    Behavior, CustomMetric, HpaControllerSettings, HpaSpec, MetricSpec, PolicyKind, ResourceName,
    ResourceTarget, ScalingPolicy, ScalingRules, SelectPolicy, ValueTarget,
};
use ksim_core::autoscale::keda::{KedaMetric, KedaSpec, Trigger};
use ksim_core::config::{Autoscaler, AutoscalingConfig, SimConfig, WorkloadKind};
use ksim_core::time::SimDuration;

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn hpa_of(config: &SimConfig, workload: usize) -> &HpaSpec {
    match &config.workloads[workload].model.autoscaler {
        Some(Autoscaler::Hpa(hpa)) => hpa,
        other => panic!("not an HPA: {other:?}"),
    }
}

fn keda_of(config: &SimConfig, workload: usize) -> &KedaSpec {
    match &config.workloads[workload].model.autoscaler {
        Some(Autoscaler::Keda(keda)) => keda,
        other => panic!("not a ScaledObject: {other:?}"),
    }
}

fn policy(kind: PolicyKind, value: i32, period_s: u64) -> ScalingPolicy {
    ScalingPolicy {
        kind,
        value,
        period: secs(period_s),
    }
}

/// A service deployment `web` with `[workloads.hpa]` holding `hpa`.
fn web_hpa(hpa: &str) -> String {
    format!(
        "{HEAD}{}",
        deployment("web", &format!("{SERVICE}[workloads.hpa]\n{hpa}"))
    )
}

/// An execution-worker deployment `worker` with `[workloads.keda]` holding `keda`.
fn worker_keda(keda: &str) -> String {
    format!(
        "{HEAD}{}",
        deployment("worker", &format!("{EXECUTIONS}[workloads.keda]\n{keda}"))
    )
}

#[test]
fn every_hpa_key_and_the_controller_flags_land_in_the_config() {
    let text = format!(
        "{HEAD}\n[autoscaling]\nmetrics_resolution = \"30s\"\n\
         [autoscaling.hpa_controller]\nsync_period = \"10s\"\ntolerance = 0.05\n\
         cpu_initialization_period = \"3m\"\ninitial_readiness_delay = \"20s\"\n\
         downscale_stabilization = \"2m\"\n{}{}",
        deployment(
            "web",
            &format!(
                "{SERVICE}[workloads.hpa]\nmin_replicas = 2\nmax_replicas = 10\nmetrics = [\n\
                 {{ type = \"resource\", resource = \"cpu\", utilization = 75 }},\n\
                 {{ type = \"resource\", resource = \"cpu\", average_value = \"500m\" }},\n\
                 {{ type = \"resource\", resource = \"memory\", average_value = \"1Gi\" }},\n\
                 {{ type = \"resource\", resource = \"memory\", utilization = 90 }},\n\
                 {{ type = \"pods\", metric = \"request_rate\", average_value = 8 }},\n\
                 {{ type = \"object\", metric = \"request_rate\", value = 1000 }},\n\
                 {{ type = \"object\", metric = \"queue_length\", average_value = 2.5, workload = \"worker\" }},\n\
                 {{ type = \"external\", metric = \"running_executions\", value = 0.001, workload = \"worker\" }},\n\
                 {{ type = \"external\", metric = \"queue_length\", average_value = 5 }},\n]\n\
                 [workloads.hpa.behavior.scale_up]\nstabilization_window = \"30s\"\n\
                 select_policy = \"min\"\npolicies = [{{ type = \"pods\", value = 2, period = \"60s\" }}]\n\
                 [workloads.hpa.behavior.scale_down]\nselect_policy = \"disabled\"\n"
            )
        ),
        deployment("worker", EXECUTIONS)
    );
    let config = config(&text);
    assert_eq!(
        config.autoscaling,
        AutoscalingConfig {
            metrics_resolution: secs(30),
            hpa: HpaControllerSettings {
                sync_period: secs(10),
                tolerance: 0.05,
                cpu_initialization_period: secs(180),
                initial_readiness_delay: secs(20),
                downscale_stabilization: secs(120),
            },
        }
    );
    let (web, worker): (u32, u32) = (0, 1);
    let resource = |name, target| MetricSpec::Resource { name, target };
    assert_eq!(
        hpa_of(&config, 0),
        &HpaSpec {
            min_replicas: 2,
            max_replicas: 10,
            metrics: vec![
                resource(ResourceName::Cpu, ResourceTarget::Utilization(75)),
                resource(ResourceName::Cpu, ResourceTarget::AverageValueMilli(500)),
                // Memory in upstream's milli-units: bytes × 1000.
                resource(
                    ResourceName::Memory,
                    ResourceTarget::AverageValueMilli(1_073_741_824_000)
                ),
                resource(ResourceName::Memory, ResourceTarget::Utilization(90)),
                MetricSpec::Pods {
                    metric: CustomMetric::RequestRate,
                    average_value_milli: 8_000,
                },
                MetricSpec::Object {
                    metric: CustomMetric::RequestRate,
                    workload: web,
                    target: ValueTarget::ValueMilli(1_000_000),
                },
                MetricSpec::Object {
                    metric: CustomMetric::QueueLength,
                    workload: worker,
                    target: ValueTarget::AverageValueMilli(2_500),
                },
                MetricSpec::External {
                    metric: CustomMetric::RunningExecutions,
                    workload: worker,
                    target: ValueTarget::ValueMilli(1),
                },
                MetricSpec::External {
                    metric: CustomMetric::QueueLength,
                    workload: web,
                    target: ValueTarget::AverageValueMilli(5_000),
                },
            ],
            behavior: Some(Behavior {
                scale_up: ScalingRules {
                    stabilization_window: secs(30),
                    select_policy: SelectPolicy::Min,
                    policies: vec![policy(PolicyKind::Pods, 2, 60)],
                },
                // The window from the controller's flag, the policies upstream's.
                scale_down: ScalingRules {
                    stabilization_window: secs(120),
                    select_policy: SelectPolicy::Disabled,
                    policies: vec![policy(PolicyKind::Percent, 100, 15)],
                },
            }),
        }
    );
    assert!(config.workloads[1].model.autoscaler.is_none());
    // A request-driven service backs a Service.
    assert!(matches!(&config.workloads[0].kind, WorkloadKind::Deployment(d) if d.service));
}

#[test]
fn without_the_section_or_the_keys_upstream_defaults_apply() {
    let config = config(&web_hpa("max_replicas = 4\n"));
    assert_eq!(config.autoscaling, AutoscalingConfig::default());
    assert_eq!(config.autoscaling.metrics_resolution, secs(15));
    assert_eq!(
        hpa_of(&config, 0),
        &HpaSpec {
            min_replicas: 1,
            max_replicas: 4,
            // upstream: SetDefaults_HorizontalPodAutoscaler, cpu at 80%.
            metrics: vec![MetricSpec::Resource {
                name: ResourceName::Cpu,
                target: ResourceTarget::Utilization(80),
            }],
            behavior: None,
        }
    );
    // An empty list is defaulted as a missing one (upstream: len(metrics) == 0).
    let config = self::config(&web_hpa("max_replicas = 4\nmetrics = []\n"));
    assert_eq!(hpa_of(&config, 0).metrics.len(), 1);
}

// upstream: pkg/apis/autoscaling/v2/defaults_test.go, TestGenerateScaleUpRules
#[test]
fn scale_up_rules_are_filled_as_upstream_fills_them() {
    let cases: [(&str, ScalingRules); 6] = [
        (
            "",
            ScalingRules {
                stabilization_window: SimDuration::ZERO,
                select_policy: SelectPolicy::Max,
                policies: vec![policy(PolicyKind::Pods, 4, 15), policy(PolicyKind::Percent, 100, 15)],
            },
        ),
        (
            "stabilization_window = \"25s\"\nselect_policy = \"max\"\npolicies = [\
             { type = \"pods\", value = 1, period = \"2s\" }, { type = \"percent\", value = 3, period = \"4s\" }]",
            ScalingRules {
                stabilization_window: secs(25),
                select_policy: SelectPolicy::Max,
                policies: vec![policy(PolicyKind::Pods, 1, 2), policy(PolicyKind::Percent, 3, 4)],
            },
        ),
        (
            "select_policy = \"min\"\npolicies = [{ type = \"pods\", value = 1, period = \"2s\" }]",
            ScalingRules {
                stabilization_window: SimDuration::ZERO,
                select_policy: SelectPolicy::Min,
                policies: vec![policy(PolicyKind::Pods, 1, 2)],
            },
        ),
        (
            "policies = [{ type = \"percent\", value = 7, period = \"10s\" }]",
            ScalingRules {
                stabilization_window: SimDuration::ZERO,
                select_policy: SelectPolicy::Max,
                policies: vec![policy(PolicyKind::Percent, 7, 10)],
            },
        ),
        (
            "stabilization_window = \"25s\"\npolicies = [{ type = \"pods\", value = 4, period = \"2s\" }]",
            ScalingRules {
                stabilization_window: secs(25),
                select_policy: SelectPolicy::Max,
                policies: vec![policy(PolicyKind::Pods, 4, 2)],
            },
        ),
        (
            "stabilization_window = \"25s\"\npolicies = [{ type = \"percent\", value = 7, period = \"1m\" }]",
            ScalingRules {
                stabilization_window: secs(25),
                select_policy: SelectPolicy::Max,
                policies: vec![policy(PolicyKind::Percent, 7, 60)],
            },
        ),
    ];
    for (rules, expected) in cases {
        let text = web_hpa(&format!(
            "max_replicas = 4\n[workloads.hpa.behavior.scale_up]\n{rules}\n"
        ));
        let behavior = hpa_of(&config(&text), 0).behavior.clone().unwrap();
        assert_eq!(behavior.scale_up, expected, "{rules}");
    }
}

// upstream: pkg/apis/autoscaling/v2/defaults_test.go, TestGenerateScaleDownRules;
// the window upstream leaves unset is the controller's flag
// (horizontal.go, maybeInitScaleDownStabilizationWindow).
#[test]
fn scale_down_rules_are_filled_as_upstream_fills_them() {
    let cases: [(&str, ScalingRules); 4] = [
        (
            "",
            ScalingRules {
                stabilization_window: secs(300),
                select_policy: SelectPolicy::Max,
                policies: vec![policy(PolicyKind::Percent, 100, 15)],
            },
        ),
        (
            "stabilization_window = \"25s\"\nselect_policy = \"max\"\npolicies = [\
             { type = \"pods\", value = 1, period = \"2s\" }, { type = \"percent\", value = 3, period = \"4s\" }]",
            ScalingRules {
                stabilization_window: secs(25),
                select_policy: SelectPolicy::Max,
                policies: vec![policy(PolicyKind::Pods, 1, 2), policy(PolicyKind::Percent, 3, 4)],
            },
        ),
        (
            "select_policy = \"min\"\npolicies = [{ type = \"percent\", value = 1, period = \"2s\" }]",
            ScalingRules {
                stabilization_window: secs(300),
                select_policy: SelectPolicy::Min,
                policies: vec![policy(PolicyKind::Percent, 1, 2)],
            },
        ),
        (
            "policies = [{ type = \"pods\", value = 3, period = \"4s\" }]",
            ScalingRules {
                stabilization_window: secs(300),
                select_policy: SelectPolicy::Max,
                policies: vec![policy(PolicyKind::Pods, 3, 4)],
            },
        ),
    ];
    for (rules, expected) in cases {
        let text = web_hpa(&format!(
            "max_replicas = 4\n[workloads.hpa.behavior.scale_down]\n{rules}\n"
        ));
        let behavior = hpa_of(&config(&text), 0).behavior.clone().unwrap();
        assert_eq!(behavior.scale_down, expected, "{rules}");
    }
}

#[test]
fn an_empty_behavior_is_upstream_defaults_with_the_flag_in_whole_seconds() {
    let text = format!(
        "{HEAD}[autoscaling.hpa_controller]\ndownscale_stabilization = \"90.5s\"\n{}",
        deployment(
            "web",
            &format!("{SERVICE}[workloads.hpa]\nmax_replicas = 4\n[workloads.hpa.behavior]\n")
        )
    );
    let config = config(&text);
    let behavior = hpa_of(&config, 0).behavior.clone().unwrap();
    assert_eq!(behavior.scale_up.policies.len(), 2);
    // upstream truncates the flag to whole seconds for the window.
    assert_eq!(behavior.scale_down.stabilization_window, secs(90));
    assert_eq!(
        config.autoscaling.hpa.downscale_stabilization,
        SimDuration::from_millis(90_500)
    );
}

// upstream: pkg/apis/autoscaling/validation/validation_test.go, TestValidateBehavior
// (success cases)
#[test]
fn behaviors_upstream_accepts_are_accepted() {
    let simple = "policies = [{ type = \"percent\", value = 10, period = \"1s\" }, \
                  { type = \"pods\", value = 1, period = \"1800s\" }]";
    let four = "policies = [{ type = \"pods\", value = 1, period = \"2s\" }, \
                { type = \"percent\", value = 3, period = \"4s\" }, \
                { type = \"pods\", value = 5, period = \"6s\" }, \
                { type = \"percent\", value = 7, period = \"8s\" }]";
    for behavior in [
        format!(
            "[workloads.hpa.behavior.scale_up]\nstabilization_window = \"3600s\"\n\
             select_policy = \"min\"\n{simple}\n[workloads.hpa.behavior.scale_down]\n\
             stabilization_window = \"0s\"\nselect_policy = \"disabled\"\n{simple}\n"
        ),
        format!(
            "[workloads.hpa.behavior.scale_up]\nstabilization_window = \"120s\"\n\
             select_policy = \"max\"\n{four}\n[workloads.hpa.behavior.scale_down]\n\
             stabilization_window = \"120s\"\nselect_policy = \"max\"\n{four}\n"
        ),
    ] {
        let config = config(&web_hpa(&format!("max_replicas = 5\n{behavior}")));
        assert!(hpa_of(&config, 0).behavior.is_some());
    }
}

// upstream: pkg/apis/autoscaling/validation/validation_test.go, TestValidateBehavior
// (error cases; `policies = []` stands for rules without policies, which
// upstream's defaulting would otherwise fill)
#[test]
fn behaviors_upstream_refuses_are_refused_at_their_key() {
    for direction in ["scale_up", "scale_down"] {
        let at = |key: &str| format!("workloads[0].hpa.behavior.{direction}.{key}");
        let rules = |body: &str| {
            web_hpa(&format!(
                "max_replicas = 5\n[workloads.hpa.behavior.{direction}]\n{body}\n"
            ))
        };
        let text = rules("select_policy = \"min\"\npolicies = []");
        refused_at(
            &text,
            &at("policies"),
            "policies = []",
            &["at least one policy"],
        );
        let text = rules(
            "stabilization_window = \"3601s\"\npolicies = [{ type = \"pods\", value = 1, period = \"1s\" }]",
        );
        refused_at(
            &text,
            &at("stabilization_window"),
            "3601s",
            &["must be at most 3600"],
        );
        let text = rules("policies = [{ type = \"pods\", value = 7, period = \"1801s\" }]");
        refused_at(
            &text,
            &at("policies[0].period"),
            "1801s",
            &["must be at most 1800"],
        );
        let text = rules(
            "select_policy = \"incorrect\"\npolicies = [{ type = \"pods\", value = 7, period = \"8s\" }]",
        );
        refused_at(
            &text,
            &at("select_policy"),
            "incorrect",
            &["`max`, `min` or `disabled`"],
        );
        let text = rules("policies = [{ type = \"hm\", value = 7, period = \"8s\" }]");
        refused_at(
            &text,
            &at("policies[0].type"),
            "\"hm\"",
            &["`pods` or `percent`"],
        );
        let text = rules("policies = [{ type = \"pods\", value = 8 }]");
        refused_at(
            &text,
            &at("policies[0]"),
            "value = 8",
            &["missing required key `period`"],
        );
        let text = rules("policies = [{ type = \"pods\", value = 8, period = \"0s\" }]");
        refused_at(
            &text,
            &at("policies[0].period"),
            "\"0s\"",
            &["greater than zero"],
        );
        let text = rules("policies = [{ type = \"pods\", value = 0, period = \"8s\" }]");
        refused_at(
            &text,
            &at("policies[0].value"),
            "value = 0",
            &["at least 1"],
        );
        let text = rules("policies = [{ type = \"pods\", value = -1, period = \"1s\" }]");
        refused_at(
            &text,
            &at("policies[0].value"),
            "value = -1",
            &["at least 1"],
        );
        let text = rules("policies = [{ type = \"pods\", value = 1, period = \"-1s\" }]");
        refused_at(&text, &at("policies[0].period"), "\"-1s\"", &["negative"]);
    }
}

#[test]
fn behavior_durations_are_whole_seconds_as_upstreams_fields() {
    let text = web_hpa(
        "max_replicas = 5\n[workloads.hpa.behavior.scale_up]\nstabilization_window = \"1.5s\"\n",
    );
    refused_at(
        &text,
        "workloads[0].hpa.behavior.scale_up.stabilization_window",
        "1.5s",
        &["whole number of seconds"],
    );
    let text = web_hpa(
        "max_replicas = 5\n[workloads.hpa.behavior.scale_down]\n\
         policies = [{ type = \"percent\", value = 10, period = \"500ms\" }]\n",
    );
    refused_at(
        &text,
        "workloads[0].hpa.behavior.scale_down.policies[0].period",
        "500ms",
        &["whole number of seconds"],
    );
}

// upstream: pkg/apis/autoscaling/validation/validation_test.go,
// TestValidateHorizontalPodAutoscaler (minReplicas, maxReplicas)
#[test]
fn hpa_replica_bounds_are_checked() {
    let text = web_hpa("min_replicas = 5\nmax_replicas = 2\n");
    refused_at(
        &text,
        "workloads[0].hpa.max_replicas",
        "max_replicas = 2",
        &["max_replicas (2) must not be below min_replicas (5)"],
    );
    let text = web_hpa("max_replicas = 0\n");
    refused_at(
        &text,
        "workloads[0].hpa.max_replicas",
        "max_replicas = 0",
        &["greater than 0"],
    );
    let text = web_hpa("min_replicas = 0\nmax_replicas = 3\n");
    refused_at(
        &text,
        "workloads[0].hpa.min_replicas",
        "min_replicas = 0",
        &["at least 1", "[workloads.keda]"],
    );
    let text = web_hpa("min_replicas = 3\n");
    refused_at(
        &text,
        "workloads[0].hpa",
        "[workloads.hpa]",
        &["missing required key `max_replicas`"],
    );
    let config = config(&web_hpa("min_replicas = 3\nmax_replicas = 3\n"));
    assert_eq!(hpa_of(&config, 0).max_replicas, 3);
}

// upstream: pkg/apis/autoscaling/validation/validation_test.go,
// TestValidateHorizontalPodAutoscaler (metric targets); validateMetricTarget
// bounds a utilization below only, so 150% is valid.
#[test]
fn metric_targets_are_checked_as_upstream_checks_them() {
    let metric = |m: &str| web_hpa(&format!("max_replicas = 3\nmetrics = [\n{m},\n]\n"));
    let path = "workloads[0].hpa.metrics[0]";
    for bad in ["0", "-10"] {
        let text = metric(&format!(
            "{{ type = \"resource\", resource = \"cpu\", utilization = {bad} }}"
        ));
        refused_at(
            &text,
            &format!("{path}.utilization"),
            "utilization =",
            &["greater than 0"],
        );
    }
    let config = config(&metric(
        "{ type = \"resource\", resource = \"cpu\", utilization = 150 }",
    ));
    assert_eq!(
        hpa_of(&config, 0).metrics[0],
        MetricSpec::Resource {
            name: ResourceName::Cpu,
            target: ResourceTarget::Utilization(150)
        }
    );
    let text = metric(
        "{ type = \"resource\", resource = \"cpu\", utilization = 50, average_value = \"100m\" }",
    );
    refused_at(
        &text,
        &format!("{path}.average_value"),
        "100m",
        &["not both"],
    );
    let text = metric("{ type = \"resource\", resource = \"memory\" }");
    refused_at(
        &text,
        path,
        "\"memory\"",
        &["`utilization`", "`average_value`"],
    );
    let text = metric("{ type = \"resource\", resource = \"cpu\", average_value = \"0\" }");
    refused_at(
        &text,
        &format!("{path}.average_value"),
        "average_value",
        &["greater than zero"],
    );
    let text = metric("{ type = \"pods\", metric = \"request_rate\", average_value = 0 }");
    refused_at(
        &text,
        &format!("{path}.average_value"),
        "average_value",
        &["greater than zero"],
    );
    let text = metric("{ type = \"object\", metric = \"request_rate\", value = -5 }");
    refused_at(
        &text,
        &format!("{path}.value"),
        "value = -5",
        &["greater than zero"],
    );
    let text = metric("{ type = \"external\", metric = \"queue_length\", value = 0.0004 }");
    refused_at(
        &text,
        &format!("{path}.value"),
        "0.0004",
        &["rounds to 0 milli-units"],
    );
    let text =
        metric("{ type = \"external\", metric = \"queue_length\", value = 1, average_value = 1 }");
    refused_at(
        &text,
        &format!("{path}.average_value"),
        "queue_length",
        &["not both"],
    );
    let text = metric("{ type = \"object\", metric = \"queue_length\" }");
    refused_at(&text, path, "queue_length", &["needs `value`"]);
    let text = metric("{ type = \"pods\", metric = \"request_rate\", value = 3 }");
    refused_at(
        &text,
        &format!("{path}.value"),
        "value = 3",
        &["does not apply to type = \"pods\""],
    );
    let text = metric("{ type = \"pods\", metric = \"cpu\", average_value = 3 }");
    refused_at(
        &text,
        &format!("{path}.metric"),
        "\"cpu\"",
        &["type = \"resource\""],
    );
    let text = metric("{ type = \"containerresource\", resource = \"cpu\", utilization = 3 }");
    refused_at(
        &text,
        &format!("{path}.type"),
        "containerresource",
        &["`resource`, `pods`, `object` or `external`"],
    );
}

#[test]
fn a_metric_no_workload_produces_is_refused_with_the_reason() {
    // No usage model: the default metric (cpu at 80%) has nothing to read.
    let text = format!(
        "{HEAD}{}",
        deployment("web", "[workloads.hpa]\nmax_replicas = 3\n")
    );
    refused_at(
        &text,
        "workloads[0].hpa",
        "[workloads.hpa]",
        &[
            "`cpu` needs a usage model",
            "neither [workloads.service] nor [workloads.executions]",
        ],
    );
    let text = web_hpa(
        "max_replicas = 3\nmetrics = [{ type = \"pods\", metric = \"running_executions\", average_value = 2 }]\n",
    );
    refused_at(
        &text,
        "workloads[0].hpa.metrics[0]",
        "running_executions",
        &["produced by execution workers", "request-driven service"],
    );
    // Object and External metrics read the workload they name.
    let named = |metric: &str, other: &str| {
        format!(
            "{}{other}",
            web_hpa(&format!(
                "max_replicas = 3\nmetrics = [{{ type = \"external\", metric = \"{metric}\", \
                 value = 5, workload = \"other\" }}]\n"
            ))
        )
    };
    let text = named("queue_length", &deployment("other", ""));
    refused_at(
        &text,
        "workloads[0].hpa.metrics[0]",
        "workload = \"other\"",
        &["workload `other` has neither"],
    );
    let text = named("queue_length", &job("other", ""));
    refused_at(
        &text,
        "workloads[0].hpa.metrics[0]",
        "workload = \"other\"",
        &["workload `other` is a job"],
    );
    let text = named("running_executions", &deployment("other", SERVICE));
    refused_at(
        &text,
        "workloads[0].hpa.metrics[0]",
        "workload = \"other\"",
        &["workload `other` is a request-driven service"],
    );
    let text = named("queue_length", &deployment("othre", EXECUTIONS));
    refused_at(
        &text,
        "workloads[0].hpa.metrics[0].workload",
        "workload = \"other\"",
        &["no workload named `other`: did you mean `othre`?"],
    );
    let config = config(&named(
        "running_executions",
        &deployment("other", EXECUTIONS),
    ));
    assert!(matches!(
        hpa_of(&config, 0).metrics[0],
        MetricSpec::External { workload: 1, .. }
    ));
}

#[test]
fn a_utilization_needs_the_pods_request() {
    let hpa = format!("{SERVICE}[workloads.hpa]\nmax_replicas = 3\n");
    let text = format!("{HEAD}{}", deployment_with_cpu("web", "0", &hpa));
    refused_at(
        &text,
        "workloads[0].hpa",
        "[workloads.hpa]",
        &["requests no cpu", "missing request for cpu"],
    );
    // An average value needs no request.
    let hpa = format!(
        "{hpa}metrics = [{{ type = \"resource\", resource = \"cpu\", average_value = \"200m\" }}]\n"
    );
    config(&format!("{HEAD}{}", deployment_with_cpu("web", "0", &hpa)));
}

#[test]
fn autoscalers_apply_to_deployments_only() {
    for (key, section) in [
        ("hpa", "[workloads.hpa]\nmax_replicas = 3\n"),
        (
            "keda",
            "[workloads.keda]\ntriggers = [{ metric = \"queue_length\", target = 5 }]\n",
        ),
        ("service", SERVICE),
        ("executions", EXECUTIONS),
        (
            "load",
            "[workloads.load]\nshape = \"constant\"\nrate_per_s = 1\n",
        ),
    ] {
        let text = format!("{HEAD}{}", job("batch", section));
        refused_at(
            &text,
            &format!("workloads[0].{key}"),
            &format!("[workloads.{key}]"),
            &[
                "only applies to kind = \"deployment\"",
                "workload `batch` is a job",
            ],
        );
    }
}

// upstream: kedacore/keda apis/keda/v1alpha1/scaledobject_webhook_test.go,
// "shouldn't validate the so creation when there is another unmanaged hpa"
#[test]
fn an_hpa_and_a_scaled_object_on_one_workload_are_refused() {
    let text = web_hpa(
        "max_replicas = 3\n[workloads.keda]\ntriggers = [{ metric = \"queue_length\", target = 5 }]\n",
    );
    refused_at(
        &text,
        "workloads[0].keda",
        "[workloads.keda]",
        &["either [workloads.hpa] or [workloads.keda], not both"],
    );
}

#[test]
fn every_keda_key_lands_in_the_config() {
    let text = format!(
        "{}{}",
        worker_keda(
            "polling_interval = \"10s\"\ncooldown_period = \"0s\"\nmin_replicas = 2\n\
             idle_replicas = 0\nmax_replicas = 40\ntriggers = [\n\
             { metric = \"queue_length\", target = 5, activation_threshold = 1.5 },\n\
             { metric = \"running_executions\", target = 3 },\n\
             { metric = \"cpu\", target = \"800m\" },\n\
             { metric = \"request_rate\", target = 100, workload = \"web\" },\n]\n\
             [workloads.keda.behavior.scale_down]\nstabilization_window = \"60s\"\n"
        ),
        deployment("web", SERVICE)
    );
    let config = config(&text);
    let trigger = |metric, workload, target, activation_threshold| Trigger {
        metric,
        workload,
        target,
        activation_threshold,
    };
    assert_eq!(
        keda_of(&config, 0),
        &KedaSpec {
            polling_interval: secs(10),
            cooldown_period: SimDuration::ZERO,
            min_replicas: 2,
            idle_replicas: Some(0),
            max_replicas: 40,
            triggers: vec![
                trigger(KedaMetric::Custom(CustomMetric::QueueLength), 0, 5.0, 1.5),
                trigger(
                    KedaMetric::Custom(CustomMetric::RunningExecutions),
                    0,
                    3.0,
                    0.0
                ),
                trigger(
                    KedaMetric::Resource {
                        name: ResourceName::Cpu,
                        utilization: false,
                    },
                    0,
                    800.0,
                    0.0,
                ),
                trigger(KedaMetric::Custom(CustomMetric::RequestRate), 1, 100.0, 0.0),
            ],
            behavior: Some(Behavior {
                scale_up: ScalingRules {
                    stabilization_window: SimDuration::ZERO,
                    select_policy: SelectPolicy::Max,
                    policies: vec![
                        policy(PolicyKind::Pods, 4, 15),
                        policy(PolicyKind::Percent, 100, 15)
                    ],
                },
                scale_down: ScalingRules {
                    stabilization_window: secs(60),
                    select_policy: SelectPolicy::Max,
                    policies: vec![policy(PolicyKind::Percent, 100, 15)],
                },
            }),
        }
    );
}

#[test]
fn keda_defaults_are_kedas() {
    let config = config(&worker_keda(
        "triggers = [{ metric = \"queue_length\", target = 5 }]\n",
    ));
    let keda = keda_of(&config, 0);
    assert_eq!(
        (
            keda.polling_interval,
            keda.cooldown_period,
            keda.min_replicas,
            keda.idle_replicas,
            keda.max_replicas,
            &keda.behavior
        ),
        (secs(30), secs(300), 0, None, 100, &None)
    );
}

// upstream: kedacore/keda apis/keda/v1alpha1/scaledobject_types_test.go,
// TestCheckReplicaCountBoundsAreValid, and scaledobject_webhook_test.go,
// "shouldn't validate the so creation when the replica counts are wrong"
#[test]
fn keda_replica_bounds_follow_kedas_check() {
    let triggers = "triggers = [{ metric = \"queue_length\", target = 5 }]\n";
    let with = |bounds: &str| worker_keda(&format!("{bounds}{triggers}"));
    for valid in [
        "min_replicas = 1\nmax_replicas = 5\n",
        "min_replicas = 1\nmax_replicas = 5\nidle_replicas = 0\n",
        // KEDA compares a written min of 0 as 1 (its HPA's minimum).
        "min_replicas = 0\nidle_replicas = 0\n",
    ] {
        config(&with(valid));
    }
    let text = with("min_replicas = 2\nmax_replicas = 1\n");
    refused_at(
        &text,
        "workloads[0].keda.min_replicas",
        "min_replicas = 2",
        &["min_replicas (2) must not be above max_replicas (1)"],
    );
    let text = with("min_replicas = 10\nmax_replicas = 5\n");
    refused_at(
        &text,
        "workloads[0].keda.min_replicas",
        "min_replicas = 10",
        &["above"],
    );
    for (bounds, message) in [
        (
            "min_replicas = 1\nmax_replicas = 5\nidle_replicas = 1\n",
            "idle_replicas (1) must be below min_replicas (1)",
        ),
        (
            "min_replicas = 1\nmax_replicas = 5\nidle_replicas = 2\n",
            "idle_replicas (2) must be below min_replicas (1)",
        ),
        ("idle_replicas = 0\n", "compares with 0"),
    ] {
        let text = with(bounds);
        refused_at(
            &text,
            "workloads[0].keda.idle_replicas",
            "idle_replicas",
            &[message],
        );
    }
    let text = with("max_replicas = 0\n");
    refused_at(
        &text,
        "workloads[0].keda.max_replicas",
        "max_replicas = 0",
        &["greater than 0"],
    );
    let warnings = warnings(&with("min_replicas = 3\nidle_replicas = 1\n"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("workloads[0].keda.idle_replicas"),
        "{warnings:?}"
    );
    assert!(warnings[0].contains("kedacore/keda#2314"), "{warnings:?}");
}

// upstream: kedacore/keda apis/keda/v1alpha1/scaledobject_webhook_test.go,
// "shouldn't validate so creation with cpu scaler requirements not being met
// for scaling to 0", "should validate so creation when min replicas is > 0
// with only cpu scaler given", "should validate so creation when all
// requirements are met for scaling to zero with cpu scaler", "shouldn't
// validate the so creation with cpu and memory when deployment hasn't got
// cpu request", "should validate empty triggers in ScaledObject"
#[test]
fn keda_cpu_triggers_follow_kedas_webhook() {
    let cpu = "{ metric = \"cpu\", target = \"500m\" }";
    let text = worker_keda(&format!("triggers = [{cpu}]\n"));
    refused_at(
        &text,
        "workloads[0].keda",
        "[workloads.keda]",
        &["only cpu or memory triggers", "never scale to zero"],
    );
    let text = worker_keda(&format!("min_replicas = 0\ntriggers = [{cpu}]\n"));
    refused_at(
        &text,
        "workloads[0].keda.min_replicas",
        "min_replicas = 0",
        &["only cpu or memory triggers"],
    );
    config(&worker_keda(&format!(
        "min_replicas = 1\ntriggers = [{cpu}]\n"
    )));
    config(&worker_keda(&format!(
        "triggers = [{cpu}, {{ metric = \"queue_length\", target = 5 }}]\n"
    )));
    let keda = format!("{EXECUTIONS}[workloads.keda]\nmin_replicas = 1\ntriggers = [{cpu}]\n");
    let text = format!("{HEAD}{}", deployment_with_cpu("worker", "0", &keda));
    refused_at(
        &text,
        "workloads[0].keda.triggers[0]",
        "metric = \"cpu\"",
        &["requests no cpu"],
    );
    let text = worker_keda("triggers = []\n");
    refused_at(
        &text,
        "workloads[0].keda.triggers",
        "triggers = []",
        &["at least one trigger"],
    );
    let text = worker_keda(
        "min_replicas = 1\ntriggers = [{ metric = \"cpu\", target = \"500m\", workload = \"x\" }]\n",
    );
    refused_at(
        &text,
        "workloads[0].keda.triggers[0].workload",
        "workload = \"x\"",
        &["reads the scaled workload's pods"],
    );
    let text = worker_keda(
        "min_replicas = 1\ntriggers = [{ metric = \"cpu\", target = \"500m\", activation_threshold = 1 }]\n",
    );
    refused_at(
        &text,
        "workloads[0].keda.triggers[0].activation_threshold",
        "activation_threshold",
        &["no activation"],
    );
}

// upstream: kedacore/keda apis/keda/v1alpha1/scaledobject_webhook_test.go,
// "shouldn't create so when stabilizationWindowSeconds exceeds 3600"
#[test]
fn keda_settings_and_triggers_are_checked() {
    let triggers = "triggers = [{ metric = \"queue_length\", target = 5 }]\n";
    let text = worker_keda(&format!(
        "{triggers}[workloads.keda.behavior.scale_down]\nstabilization_window = \"3700s\"\n"
    ));
    refused_at(
        &text,
        "workloads[0].keda.behavior.scale_down.stabilization_window",
        "3700s",
        &["at most 3600"],
    );
    let text = worker_keda(&format!("polling_interval = \"0s\"\n{triggers}"));
    refused_at(
        &text,
        "workloads[0].keda.polling_interval",
        "polling_interval",
        &["greater than zero"],
    );
    let text = worker_keda(&format!("cooldown_period = \"2.5s\"\n{triggers}"));
    refused_at(
        &text,
        "workloads[0].keda.cooldown_period",
        "cooldown_period",
        &["whole number of seconds"],
    );
    let text = worker_keda("triggers = [{ metric = \"queue_length\", target = 0 }]\n");
    refused_at(
        &text,
        "workloads[0].keda.triggers[0].target",
        "target = 0",
        &["greater than zero"],
    );
    let text = worker_keda("triggers = [{ metric = \"gpu\", target = 5 }]\n");
    refused_at(
        &text,
        "workloads[0].keda.triggers[0].metric",
        "\"gpu\"",
        &["`queue_length`, `running_executions`, `request_rate`, `cpu` or `memory`"],
    );
    // KEDA's cpu and memory scalers take metricType Utilization or AverageValue.
    let text = worker_keda(
        "min_replicas = 1\ntriggers = [{ metric = \"memory\", utilization = 90, target = \"1Gi\" }]\n",
    );
    refused_at(
        &text,
        "workloads[0].keda.triggers[0].utilization",
        "utilization = 90",
        &["not both"],
    );
    let text = worker_keda("triggers = [{ metric = \"queue_length\", utilization = 90 }]\n");
    refused_at(
        &text,
        "workloads[0].keda.triggers[0].utilization",
        "utilization = 90",
        &["cpu and memory triggers"],
    );
    // Without a usage model, a trigger has nothing to read.
    let text = format!(
        "{HEAD}{}",
        deployment("worker", &format!("[workloads.keda]\n{triggers}"))
    );
    refused_at(
        &text,
        "workloads[0].keda.triggers[0]",
        "queue_length",
        &["`queue_length` needs a usage model"],
    );
}

#[test]
fn misspelled_keys_get_the_nearest_one() {
    let cases = [
        (web_hpa("max_replica = 3\n"), "workloads[0].hpa.max_replica", "max_replicas"),
        (
            worker_keda("pollingInterval = \"5s\"\ntriggers = [{ metric = \"queue_length\", target = 5 }]\n"),
            "workloads[0].keda.pollingInterval",
            "polling_interval",
        ),
        (
            web_hpa("max_replicas = 3\n[workloads.hpa.behavior.scaleUp]\n"),
            "workloads[0].hpa.behavior.scaleUp",
            "scale_up",
        ),
        (
            worker_keda("triggers = [{ metric = \"queue_length\", target = 5, activation = 1 }]\n"),
            "workloads[0].keda.triggers[0].activation",
            "activation_threshold",
        ),
        (
            web_hpa("max_replicas = 3\nmetrics = [{ type = \"resource\", resource = \"cpu\", utilisation = 50 }]\n"),
            "workloads[0].hpa.metrics[0].utilisation",
            "utilization",
        ),
        (
            format!("{HEAD}[autoscaling]\nmetric_resolution = \"30s\"\n"),
            "autoscaling.metric_resolution",
            "metrics_resolution",
        ),
        (
            format!("{HEAD}[autoscaling.hpa_controller]\nsync_perod = \"30s\"\n"),
            "autoscaling.hpa_controller.sync_perod",
            "sync_period",
        ),
    ];
    for (text, path, best) in cases {
        let typo = path.rsplit('.').next().unwrap();
        refused_at(
            &text,
            path,
            typo,
            &[&format!("unknown key `{typo}`: did you mean `{best}`?")],
        );
    }
}

#[test]
fn the_autoscaling_section_is_checked() {
    let with = |body: &str| {
        format!(
            "{HEAD}[autoscaling]\n{body}\n{}",
            deployment(
                "web",
                &format!("{SERVICE}[workloads.hpa]\nmax_replicas = 3\n")
            )
        )
    };
    let text = with("metrics_resolution = \"9s\"");
    refused_at(
        &text,
        "autoscaling.metrics_resolution",
        "9s",
        &["at least 10s", "--metric-resolution"],
    );
    assert_eq!(
        config(&with("metrics_resolution = \"10s\""))
            .autoscaling
            .metrics_resolution,
        secs(10)
    );
    let text = with("[autoscaling.hpa_controller]\nsync_period = \"0s\"");
    refused_at(
        &text,
        "autoscaling.hpa_controller.sync_period",
        "sync_period",
        &["greater than zero"],
    );
    let text = with("[autoscaling.hpa_controller]\ntolerance = -0.1");
    refused_at(
        &text,
        "autoscaling.hpa_controller.tolerance",
        "tolerance",
        &["negative"],
    );
    let text = with("[autoscaling.hpa_controller]\ninitial_readiness_delay = 30");
    refused_at(
        &text,
        "autoscaling.hpa_controller.initial_readiness_delay",
        "initial_readiness_delay",
        &["duration string"],
    );
    // Settings no autoscaler uses are a warning.
    let text = format!(
        "{HEAD}[autoscaling]\nmetrics_resolution = \"30s\"\n{}",
        deployment("web", SERVICE)
    );
    let warnings = warnings(&text);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!(
            "scenario.toml:{}:",
            line_of(&text, "[autoscaling]")
        )),
        "{warnings:?}"
    );
    assert!(warnings[0].contains("unused"), "{warnings:?}");
}

#[test]
fn every_autoscaling_problem_is_reported_at_once() {
    let text = format!(
        "{HEAD}[autoscaling]\nmetrics_resolution = \"1s\"\n{}{}",
        deployment(
            "web",
            &format!(
                "{SERVICE}[workloads.hpa]\nmin_replicas = 4\nmax_replicas = 2\n\
                 metrics = [{{ type = \"resource\", resource = \"cpu\", utilization = 0 }}]\n\
                 [workloads.hpa.behavior.scale_up]\npolicies = []\n"
            )
        ),
        deployment(
            "worker",
            &format!("{EXECUTIONS}[workloads.keda]\nmax_replicas = 0\ntriggers = []\n")
        )
    );
    let paths: Vec<String> = problems(&text).into_iter().map(|p| p.key_path).collect();
    assert_eq!(
        paths,
        [
            "autoscaling.metrics_resolution",
            "workloads[0].hpa.max_replicas",
            "workloads[0].hpa.metrics[0].utilization",
            "workloads[0].hpa.behavior.scale_up.policies",
            "workloads[1].keda.max_replicas",
            "workloads[1].keda.triggers",
        ]
    );
}

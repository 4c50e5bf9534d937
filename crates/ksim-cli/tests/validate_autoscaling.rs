//! `ksim validate` lists each workload's load, usage model and autoscaler,
//! the metrics pipeline, and lists them as modelled.

mod common;
use common::*;

const BASE: &str = r#"[simulation]
name = "t"
duration = "1h"

[[node_pools]]
name = "p"
count = 4
cpu = "8"
memory = "32Gi"

[[workloads]]
name = "web"
kind = "deployment"
replicas = 2
[workloads.pod]
cpu = "500m"
memory = "1Gi"
"#;

const MODELS: &str = r#"[workloads.load]
shape = "constant"
rate_per_s = 300
noise = "poisson"
[workloads.service]
capacity_per_s = 100
service_time = "20ms"
[workloads.hpa]
min_replicas = 2
max_replicas = 12
metrics = [
  { type = "resource", resource = "cpu", utilization = 60 },
  { type = "external", metric = "queue_length", average_value = 30, workload = "worker" },
]

[[workloads]]
name = "worker"
kind = "deployment"
replicas = 0
[workloads.pod]
cpu = "1"
memory = "1Gi"
[workloads.executions]
max_concurrent = 2
duration = "45s"
[workloads.keda]
max_replicas = 8
triggers = [{ metric = "queue_length", target = 10 }]

[autoscaling.hpa_controller]
sync_period = "30s"
"#;

fn validated(name: &str, text: &str) -> String {
    let path = temp_dir(name).join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    let out = ksim(&["validate", &path.display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn validate_lists_the_autoscalers_per_workload_and_the_metrics_pipeline() {
    let stdout = validated("autoscaled", &format!("{BASE}{MODELS}"));
    for expected in [
        "metrics pipeline: metrics-server scrapes every 15s; HPA controller syncs every 30s, \
         tolerance 0.1, cpu initialization period 5m, initial readiness delay 30s, downscale \
         stabilization 5m",
        "  workload `web`: load constant 300/s, Poisson noise per 1s; service of 100 requests/s \
         per replica, 20ms per request; HPA 2..12 replicas on cpu at 60% of requests, external \
         queue_length of `worker` 30 per replica",
        "  workload `worker`: execution workers running 2 at once, 45s each, as events (peak \
         0/s, fluid above 1000/s); KEDA 0..8 replicas, polling every 30s, cooldown 5m, on \
         queue_length of `worker` 10 per replica (active above 0)",
    ] {
        assert!(stdout.contains(expected), "`{expected}` not in:\n{stdout}");
    }
    let modelled = stdout
        .split("modelled:")
        .nth(1)
        .and_then(|rest| rest.split("not modelled").next())
        .unwrap();
    for item in [
        "workload load and usage:",
        "workload autoscalers: the HPA",
        "KEDA-style ScaledObjects",
    ] {
        assert!(modelled.contains(item), "{item} in:\n{modelled}");
    }
    assert!(!stdout.contains("not simulated yet"), "{stdout}");
    let not_modelled = stdout
        .split("not modelled (no keys exist for these):")
        .nth(1)
        .unwrap();
    assert!(!not_modelled.contains("HPA,"), "{not_modelled}");
}

#[test]
fn validate_says_when_no_workload_has_load_or_autoscaling() {
    let stdout = validated("plain", BASE);
    assert!(
        stdout.contains(
            "load and autoscaling: none (no workload has a load, usage model or autoscaler)"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("metrics pipeline: "), "{stdout}");
}

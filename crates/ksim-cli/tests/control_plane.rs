//! The control plane through `ksim run`: what summary.json reports.

mod common;
use common::*;
use serde_json::Value;

/// 20 nodes whose pods fill a 1 MiB `main` store within seconds (each pod
/// write stores a 4 KiB object); leases in a store of their own, with the
/// default 2 GiB quota, never fill.
const TINY_QUOTA: &str = r#"[simulation]
name = "tiny-quota"
seed = 1
duration = "2m"
sample_interval = "10s"

[[node_pools]]
name = "p"
count = 20
cpu = "8"
memory = "32Gi"

[[workloads]]
name = "batch"
kind = "job"
arrival = { process = "poisson", rate_per_s = 10.0 }
duration = "30s"
[workloads.pod]
cpu = "100m"
memory = "128Mi"

[[control_plane.stores]]
name = "main"
quota = "1Mi"

[[control_plane.stores]]
name = "leases"

[control_plane.routing]
leases = "leases"
"#;

fn summary(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn store<'a>(control_plane: &'a Value, name: &str) -> &'a Value {
    control_plane["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("store {name} in {control_plane}"))
}

/// etcd raises NOSPACE when a write would grow the backend past
/// --quota-backend-bytes; the run reports when, and ranks the quota as a
/// saturated bottleneck from the sample that contains the alarm.
#[test]
fn a_full_store_quota_is_reported_as_alarm_and_saturated_bottleneck() {
    let path = temp_dir("tiny-quota").join("scenario.toml");
    std::fs::write(&path, TINY_QUOTA).unwrap();
    let out = run_ok(path.to_str().unwrap(), "tiny-quota-run", &["--no-plots"]);
    let summary = summary(&out);
    let control_plane = &summary["control_plane"];

    let main = store(control_plane, "main");
    let alarm_at_s = main["nospace_alarm_at_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("no NOSPACE alarm: {main}"));
    assert!(alarm_at_s > 0.0 && alarm_at_s < 120.0, "{alarm_at_s}");
    assert!(main["rejected"].as_u64().unwrap() > 0, "{main}");
    assert!(
        control_plane["pod_writes_refused_nospace"]
            .as_u64()
            .unwrap()
            > 0,
        "{control_plane}"
    );
    assert!(
        store(control_plane, "leases")["nospace_alarm_at_s"].is_null(),
        "only the full store raises the alarm"
    );

    let quota = control_plane["bottlenecks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["component"] == "store/main" && b["resource"] == "quota")
        .unwrap_or_else(|| panic!("no quota bottleneck: {control_plane}"));
    let saturated_s = quota["first_saturated_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("quota never saturated: {quota}"));
    // Saturation is seen at the end of the 10 s sample holding the alarm.
    assert!(
        (alarm_at_s..=alarm_at_s + 10.0).contains(&saturated_s),
        "alarm at {alarm_at_s} s, saturated at {saturated_s} s"
    );
}

//! `kind = "session"` workloads: what they read into, and what they refuse.

use ksim_core::config::WorkloadKind;
use ksim_core::distribution::Distribution;
use ksim_core::load::LoadShape;
use ksim_core::time::{SimDuration, SimTime};
use ksim_scenario::{parse, Problem};

const BASE: &str = r#"[simulation]
name = "t"
duration = "2h"

[[node_pools]]
name = "gpu"
count = 2
cpu = "16"
memory = "64Gi"
extended = { "nvidia.com/gpu" = 1 }

[[workloads]]
name = "streams"
kind = "session"
start = "10m"
stop = "1h"
[workloads.load]
shape = "ramp"
from_per_s = 0.0
to_per_s = 0.01
start = "10m"
end = "40m"
[workloads.session]
length = { dist = "lognormal", median = "20m", sigma = 0.5 }
patience = "5m"
[workloads.pod]
cpu = "4"
memory = "16Gi"
extended = { "nvidia.com/gpu" = 1 }
"#;

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text, "scenario.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.problems,
    }
}

/// The one problem at `path`, and its message.
fn message_at(text: &str, path: &str) -> String {
    let all = problems(text);
    let found: Vec<&Problem> = all.iter().filter(|p| p.key_path == path).collect();
    assert_eq!(found.len(), 1, "{path} in {all:#?}");
    found[0].message.clone()
}

#[test]
fn a_session_workload_reads_its_arrivals_window_length_and_patience() {
    let scenario = parse(BASE, "scenario.toml").unwrap();
    assert!(scenario.warnings.is_empty(), "{:?}", scenario.warnings);
    let WorkloadKind::Session(s) = &scenario.config.workloads[0].kind else {
        panic!("not a session workload");
    };
    let minutes = |m: u64| SimTime::ZERO + SimDuration::from_secs(60 * m);
    assert_eq!(s.start, minutes(10));
    assert_eq!(s.stop, Some(minutes(60)));
    assert_eq!(
        s.arrivals,
        LoadShape::ramp(0.0, 0.01, minutes(10), minutes(40)).unwrap()
    );
    let median_ns = SimDuration::from_secs(20 * 60).0 as f64;
    assert_eq!(
        s.length,
        Distribution::log_normal(median_ns, 0.5).unwrap(),
        "a duration distribution"
    );
    let five_minutes = SimDuration::from_secs(300).0 as f64;
    assert_eq!(
        s.patience,
        Some(Distribution::constant(five_minutes).unwrap())
    );
    assert!(scenario.config.workloads[0].model == Default::default());
}

#[test]
fn patience_is_optional() {
    let scenario = parse(&edit("patience = \"5m\"\n", ""), "scenario.toml").unwrap();
    let WorkloadKind::Session(s) = &scenario.config.workloads[0].kind else {
        panic!("not a session workload");
    };
    assert_eq!(s.patience, None);
}

#[test]
fn a_session_workload_needs_a_load() {
    let text = edit(
        "[workloads.load]\nshape = \"ramp\"\nfrom_per_s = 0.0\nto_per_s = 0.01\n\
         start = \"10m\"\nend = \"40m\"\n",
        "",
    );
    assert!(message_at(&text, "workloads[0]")
        .contains("missing required key `load` ([workloads.load]: the users' arrival rate"));
}

#[test]
fn noise_on_session_arrivals_is_refused() {
    let text = edit("end = \"40m\"", "end = \"40m\"\nnoise = \"poisson\"");
    assert!(message_at(&text, "workloads[0].load.noise")
        .contains("already arrive as a Poisson process"));
}

#[test]
fn a_stop_before_the_start_is_refused() {
    let text = edit("stop = \"1h\"", "stop = \"5m\"");
    assert!(message_at(&text, "workloads[0].stop").contains("must be after start"));
}

#[test]
fn job_keys_on_a_session_and_session_keys_elsewhere_are_refused() {
    let text = edit("stop = \"1h\"", "stop = \"1h\"\nduration = \"5m\"");
    assert_eq!(
        message_at(&text, "workloads[0].duration"),
        "`duration` only applies to kind = \"job\", and workload `streams` is a session"
    );
    let text = edit(
        "kind = \"session\"\nstart = \"10m\"\nstop = \"1h\"",
        "kind = \"deployment\"\nreplicas = 1",
    );
    assert_eq!(
        message_at(&text, "workloads[0].session"),
        "`session` only applies to kind = \"session\", and workload `streams` is a deployment"
    );
}

#[test]
fn a_session_workload_cannot_be_scaled_by_a_change() {
    let text = format!(
        "{BASE}\n[[changes]]\nat = \"20m\"\nscale = {{ workload = \"streams\", replicas = 3 }}\n"
    );
    assert!(message_at(&text, "changes[0].scale.workload")
        .contains("is a session workload: only deployments have replicas to scale"));
}

#[test]
fn an_unknown_kind_names_the_three() {
    let text = edit("kind = \"session\"", "kind = \"sessions\"");
    let message = message_at(&text, "workloads[0].kind");
    assert!(message.contains("session"), "{message}");
}

//! Scenario text builders and problem lookups shared by the autoscaling and
//! load tests.
#![allow(dead_code)]

use ksim_core::config::SimConfig;
use ksim_scenario::{parse, Problem, Scenario};

/// A cluster and nothing running on it; workloads are appended.
pub const HEAD: &str = r#"[simulation]
name = "t"
duration = "1h"

[[node_pools]]
name = "general"
count = 10
cpu = "16"
memory = "64Gi"
"#;

/// A `[workloads.service]` section, the smallest valid one.
pub const SERVICE: &str = "[workloads.service]\ncapacity_per_s = 100\n";

/// A `[workloads.executions]` section, the smallest valid one.
pub const EXECUTIONS: &str = "[workloads.executions]\nmax_concurrent = 4\nduration = \"30s\"\n";

/// A deployment `name` with pods of `cpu`, followed by `sections`.
pub fn deployment_with_cpu(name: &str, cpu: &str, sections: &str) -> String {
    format!(
        "\n[[workloads]]\nname = \"{name}\"\nkind = \"deployment\"\nreplicas = 2\n\
         [workloads.pod]\ncpu = \"{cpu}\"\nmemory = \"1Gi\"\n{sections}"
    )
}

/// A deployment `name` (pods of 500m and 1Gi) followed by `sections`.
pub fn deployment(name: &str, sections: &str) -> String {
    deployment_with_cpu(name, "500m", sections)
}

/// A job `name` followed by `sections`.
pub fn job(name: &str, sections: &str) -> String {
    format!(
        "\n[[workloads]]\nname = \"{name}\"\nkind = \"job\"\n\
         arrival = {{ process = \"poisson\", rate_per_s = 1.0 }}\nduration = \"1m\"\n\
         [workloads.pod]\ncpu = \"1\"\nmemory = \"1Gi\"\n{sections}"
    )
}

pub fn scenario(text: &str) -> Scenario {
    match parse(text, "scenario.toml") {
        Ok(scenario) => scenario,
        Err(e) => panic!("refused:\n{e}\n---\n{text}"),
    }
}

pub fn config(text: &str) -> SimConfig {
    let scenario = scenario(text);
    assert!(scenario.warnings.is_empty(), "{:?}", scenario.warnings);
    scenario.config
}

pub fn problems(text: &str) -> Vec<Problem> {
    match parse(text, "scenario.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.problems,
    }
}

/// The 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in\n{text}"))
        + 1
}

/// Asserts that `text` is refused with exactly one problem at `path`, on the
/// line holding `needle`, whose message contains every one of `parts`.
pub fn refused_at(text: &str, path: &str, needle: &str, parts: &[&str]) -> Problem {
    let all = problems(text);
    let found: Vec<&Problem> = all.iter().filter(|p| p.key_path == path).collect();
    assert_eq!(
        found.len(),
        1,
        "one problem at {path} in {all:#?}\n---\n{text}"
    );
    let problem = found[0].clone();
    assert_eq!(problem.file, "scenario.toml");
    assert_eq!(problem.line, Some(line_of(text, needle)), "{problem}");
    for part in parts {
        assert!(problem.message.contains(part), "`{part}` not in: {problem}");
    }
    problem
}

/// The warnings of a valid scenario.
pub fn warnings(text: &str) -> Vec<String> {
    scenario(text).warnings
}

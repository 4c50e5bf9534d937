//! Pools that change size, disruption budgets, readiness and termination
//! delays, and `[[changes]]`: each key read into the config, each mistake
//! reported at its file, line and key.

use ksim_core::config::{
    ChangeAction, DisruptionBudget, IntOrPercent, Repeat, ScheduledChange, WorkloadKind,
    DEFAULT_PROVISIONING_DELAY,
};
use ksim_core::distribution::Distribution;
use ksim_core::time::{SimDuration, SimTime};
use ksim_scenario::{parse, Problem, Scenario};

/// Two pools and a deployment needing 24 of the 40 cpus; a job.
const BASE: &str = r#"[simulation]
name = "t"
duration = "1h"

[[node_pools]]
name = "general"
count = 2
cpu = "16"
memory = "64Gi"

[[node_pools]]
name = "spare"
count = 1
cpu = "8"
memory = "32Gi"

[[workloads]]
name = "web"
kind = "deployment"
replicas = 12
[workloads.pod]
cpu = "2"
memory = "1Gi"

[[workloads]]
name = "batch"
kind = "job"
arrival = { process = "poisson", rate_per_s = 0.1 }
duration = "5m"
[workloads.pod]
cpu = "100m"
memory = "100Mi"
"#;

fn valid(text: &str) -> Scenario {
    parse(text, "scenario.toml").unwrap_or_else(|e| panic!("rejected:\n{e}\n{text}"))
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text, "scenario.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.problems,
    }
}

/// BASE with one exact substring replaced (which must exist).
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

/// 1-based line of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix}"))
        + 1
}

/// The single problem at `path`, which must be on `line` and mention `words`.
fn assert_problem(text: &str, path: &str, line_prefix: &str, words: &[&str]) {
    let all = problems(text);
    let found: Vec<&Problem> = all.iter().filter(|p| p.key_path == path).collect();
    assert_eq!(found.len(), 1, "{path} in {all:#?}");
    let p = found[0];
    assert_eq!(p.line, Some(line_of(text, line_prefix)), "{p}");
    assert_eq!(p.file, "scenario.toml");
    for word in words {
        assert!(p.message.contains(word), "`{word}` not in: {p}");
    }
}

fn with_changes(changes: &str) -> String {
    format!("{BASE}\n{changes}")
}

#[test]
fn pool_bounds_price_and_provisioning_default_sensibly() {
    let config = valid(BASE).config;
    let pool = &config.node_pools[0];
    assert_eq!((pool.count, pool.min, pool.max), (2, 0, 2));
    assert_eq!(pool.price_per_hour, 0.0);
    assert_eq!(pool.provisioning_delay, DEFAULT_PROVISIONING_DELAY);
    assert_eq!(DEFAULT_PROVISIONING_DELAY, Distribution::Constant(60e9));
    let text = edit(
        "count = 2\n",
        "count = 0\nmin = 0\nmax = 50\nprice_per_hour = 0.77\n\
         provisioning_delay = { dist = \"uniform\", min = \"45s\", max = \"2m\" }\n",
    );
    let config = valid(&text).config;
    let pool = &config.node_pools[0];
    assert_eq!((pool.count, pool.min, pool.max), (0, 0, 50));
    assert_eq!(pool.price_per_hour, 0.77);
    assert_eq!(
        pool.provisioning_delay,
        Distribution::uniform(45e9, 120e9).unwrap()
    );
    assert_eq!((config.nodes_total(), config.nodes_max_total()), (1, 51));
}

#[test]
fn pool_bounds_that_do_not_hold_the_count_are_errors_on_their_key() {
    let text = edit("count = 2\n", "count = 2\nmin = 3\n");
    assert_problem(
        &text,
        "node_pools[0].min",
        "min = 3",
        &["min (3) is above max (2, which defaults to count)"],
    );
    let text = edit("count = 2\n", "count = 2\nmin = 3\nmax = 1\n");
    assert_problem(&text, "node_pools[0].min", "min = 3", &["above max (1)"]);
    let text = edit("count = 2\n", "count = 2\nmin = 3\nmax = 10\n");
    assert_problem(
        &text,
        "node_pools[0].count",
        "count = 2",
        &["count (2) must be within [min, max] = [3, 10]"],
    );
    let text = edit("count = 2\n", "count = 2\nmax = -1\n");
    assert_problem(&text, "node_pools[0].max", "max = -1", &["negative"]);
    let text = edit("count = 2\n", "count = 2\nmaxx = 4\n");
    assert_problem(
        &text,
        "node_pools[0].maxx",
        "maxx",
        &["did you mean `max`?"],
    );
}

#[test]
fn a_negative_or_odd_price_is_an_error() {
    let text = edit("count = 2\n", "count = 2\nprice_per_hour = -0.5\n");
    assert_problem(
        &text,
        "node_pools[0].price_per_hour",
        "price_per_hour",
        &["must not be negative, found -0.5"],
    );
    let text = edit("count = 2\n", "count = 2\nprice_per_hour = nan\n");
    assert_problem(
        &text,
        "node_pools[0].price_per_hour",
        "price_per_hour",
        &["finite"],
    );
    let text = edit("count = 2\n", "count = 2\nprice_per_hour = \"$1\"\n");
    assert_problem(
        &text,
        "node_pools[0].price_per_hour",
        "price_per_hour",
        &["number"],
    );
}

#[test]
fn provisioning_delay_is_a_duration_distribution() {
    let text = edit("count = 2\n", "count = 2\nprovisioning_delay = \"90s\"\n");
    assert_eq!(
        valid(&text).config.node_pools[0].provisioning_delay,
        Distribution::Constant(90e9)
    );
    let text = edit(
        "count = 2\n",
        "count = 2\nprovisioning_delay = \"2 minutes\"\n",
    );
    assert_problem(
        &text,
        "node_pools[0].provisioning_delay",
        "provisioning_delay",
        &["2m"],
    );
}

#[test]
fn readiness_delay_and_termination_grace_period_are_read() {
    let config = valid(BASE).config;
    assert!(config.workloads.iter().all(|w| w.readiness_delay.is_none()));
    assert_eq!(
        config.workloads[0].template.termination_grace_period,
        SimDuration::from_secs(30)
    );
    let text = edit(
        "replicas = 12\n",
        "replicas = 12\nreadiness_delay = \"10s\"\n",
    )
    .replace(
        "duration = \"5m\"\n",
        "duration = \"5m\"\nreadiness_delay = { dist = \"exponential\", mean = \"2s\" }\n",
    )
    .replacen(
        "memory = \"1Gi\"\n",
        "memory = \"1Gi\"\ntermination_grace_period = \"0s\"\n",
        1,
    );
    let config = valid(&text).config;
    assert_eq!(
        config.workloads[0].readiness_delay,
        Some(Distribution::Constant(10e9))
    );
    assert_eq!(
        config.workloads[1].readiness_delay,
        Some(Distribution::exponential(2e9).unwrap())
    );
    assert_eq!(
        config.workloads[0].template.termination_grace_period,
        SimDuration::ZERO
    );
    let text = edit("replicas = 12\n", "replicas = 12\nreadiness_delay = 10\n");
    assert_problem(
        &text,
        "workloads[0].readiness_delay",
        "readiness_delay",
        &["write \"10s\""],
    );
    let text = edit(
        "memory = \"1Gi\"\n",
        "memory = \"1Gi\"\ntermination_grace_period = \"-1s\"\n",
    );
    assert_problem(
        &text,
        "workloads[0].pod.termination_grace_period",
        "termination_grace_period",
        &["negative"],
    );
}

fn budget_of(text: &str) -> Option<DisruptionBudget> {
    match &valid(text).config.workloads[0].kind {
        WorkloadKind::Deployment(d) => d.disruption_budget,
        WorkloadKind::Job(_) | WorkloadKind::Session(_) => panic!("web is a deployment"),
    }
}

#[test]
fn disruption_budgets_take_a_count_or_a_percent() {
    assert_eq!(budget_of(BASE), None);
    let with = |budget: &str| edit("replicas = 12\n", &format!("replicas = 12\n{budget}\n"));
    assert_eq!(
        budget_of(&with("disruption_budget = { max_unavailable = 1 }")),
        Some(DisruptionBudget::MaxUnavailable(IntOrPercent::Count(1)))
    );
    assert_eq!(
        budget_of(&with("disruption_budget = { min_available = \"50%\" }")),
        Some(DisruptionBudget::MinAvailable(IntOrPercent::Percent(50)))
    );
    assert_eq!(
        budget_of(&with("disruption_budget = { max_unavailable = \"100%\" }")),
        Some(DisruptionBudget::MaxUnavailable(IntOrPercent::Percent(100)))
    );
}

#[test]
fn disruption_budget_mistakes_are_errors_on_their_key() {
    let with = |budget: &str| edit("replicas = 12\n", &format!("replicas = 12\n{budget}\n"));
    let path = "workloads[0].disruption_budget";
    let text = with("disruption_budget = { max_unavailable = 1, min_available = 2 }");
    assert_problem(
        &text,
        &format!("{path}.min_available"),
        "disruption_budget",
        &["either max_unavailable or min_available, not both"],
    );
    let text = with("disruption_budget = { min_available = \"150%\" }");
    assert_problem(
        &text,
        &format!("{path}.min_available"),
        "disruption_budget",
        &["150% is more than 100%"],
    );
    let text = with("disruption_budget = { min_available = \"5\" }");
    assert_problem(
        &text,
        &format!("{path}.min_available"),
        "disruption_budget",
        &["write 5 without quotes", "\"5%\""],
    );
    let text = with("disruption_budget = { min_available = \"half\" }");
    assert_problem(
        &text,
        &format!("{path}.min_available"),
        "disruption_budget",
        &["a percent like \"50%\""],
    );
    let text = with("disruption_budget = { max_unavailable = -1 }");
    assert_problem(
        &text,
        &format!("{path}.max_unavailable"),
        "disruption_budget",
        &["negative"],
    );
    let text = with("disruption_budget = {}");
    assert_problem(
        &text,
        path,
        "disruption_budget",
        &["needs max_unavailable or min_available"],
    );
    let text = with("disruption_budget = { max_unavailble = 1 }");
    assert_problem(
        &text,
        &format!("{path}.max_unavailble"),
        "disruption_budget",
        &["did you mean `max_unavailable`?"],
    );
}

#[test]
fn a_disruption_budget_on_a_job_is_an_error_naming_the_key() {
    let text = edit(
        "duration = \"5m\"\n",
        "duration = \"5m\"\ndisruption_budget = { max_unavailable = 1 }\n",
    );
    assert_problem(
        &text,
        "workloads[1].disruption_budget",
        "disruption_budget",
        &[
            "`disruption_budget` only applies to kind = \"deployment\"",
            "`batch` is a job",
        ],
    );
}

#[test]
fn every_action_is_read_into_the_config() {
    let text = with_changes(
        r#"[[changes]]
at = "10m"
scale = { workload = "web", replicas = 20 }

[[changes]]
at = "1m"
every = "10s"
until = "30m"
add_nodes = { pool = "spare", count = 2 }

[[changes]]
at = "20m"
every = "5m"
delete_nodes = { pool = "spare", count = 1 }

[[changes]]
at = "30m"
drain_nodes = { pool = "general", count = 1 }

[[changes]]
at = "31m"
cordon_nodes = { pool = "spare", count = 1 }

[[changes]]
at = "32m"
uncordon_nodes = { pool = "spare", count = 1 }
"#,
    )
    .replace(
        "count = 1\ncpu = \"8\"",
        "count = 1\nmax = 400\ncpu = \"8\"",
    );
    let config = valid(&text).config;
    let min = |m: u64| SimTime::ZERO + SimDuration::from_secs(60 * m);
    assert_eq!(
        config.changes,
        [
            ScheduledChange {
                at: min(10),
                repeat: None,
                action: ChangeAction::Scale {
                    workload: 0,
                    replicas: 20
                },
            },
            ScheduledChange {
                at: min(1),
                repeat: Some(Repeat {
                    every: SimDuration::from_secs(10),
                    until: min(30)
                }),
                action: ChangeAction::AddNodes { pool: 1, count: 2 },
            },
            ScheduledChange {
                at: min(20),
                repeat: Some(Repeat {
                    every: SimDuration::from_secs(300),
                    until: config.end
                }),
                action: ChangeAction::DeleteNodes { pool: 1, count: 1 },
            },
            ScheduledChange {
                at: min(30),
                repeat: None,
                action: ChangeAction::DrainNodes { pool: 0, count: 1 },
            },
            ScheduledChange {
                at: min(31),
                repeat: None,
                action: ChangeAction::CordonNodes { pool: 1, count: 1 },
            },
            ScheduledChange {
                at: min(32),
                repeat: None,
                action: ChangeAction::UncordonNodes { pool: 1, count: 1 },
            },
        ]
    );
}

#[test]
fn a_change_needs_exactly_one_action() {
    let text = with_changes("[[changes]]\nat = \"1m\"\n");
    assert_problem(
        &text,
        "changes[0]",
        "[[changes]]",
        &["needs one action", "add_nodes", "uncordon_nodes"],
    );
    let text = with_changes(
        "[[changes]]\nat = \"1m\"\ncordon_nodes = { pool = \"spare\", count = 1 }\n\
         drain_nodes = { pool = \"spare\", count = 1 }\n",
    );
    assert_problem(
        &text,
        "changes[0].drain_nodes",
        "drain_nodes",
        &["one action per change", "already has `cordon_nodes`"],
    );
    let text =
        with_changes("[[changes]]\nat = \"1m\"\ndrain_node = { pool = \"spare\", count = 1 }\n");
    assert_problem(
        &text,
        "changes[0].drain_node",
        "drain_node",
        &["did you mean `drain_nodes`?"],
    );
    let text = with_changes("[[changes]]\ndrain_nodes = { pool = \"spare\", count = 1 }\n");
    assert_problem(
        &text,
        "changes[0]",
        "[[changes]]",
        &["missing required key `at`"],
    );
}

#[test]
fn changes_must_name_a_pool_or_deployment_that_exists() {
    let text =
        with_changes("[[changes]]\nat = \"1m\"\nadd_nodes = { pool = \"spar\", count = 1 }\n");
    assert_problem(
        &text,
        "changes[0].add_nodes.pool",
        "add_nodes",
        &["no node pool named `spar`", "did you mean `spare`?"],
    );
    let text =
        with_changes("[[changes]]\nat = \"1m\"\nscale = { workload = \"wbe\", replicas = 1 }\n");
    assert_problem(
        &text,
        "changes[0].scale.workload",
        "scale",
        &["no workload named `wbe`", "did you mean `web`?"],
    );
    let text =
        with_changes("[[changes]]\nat = \"1m\"\nscale = { workload = \"batch\", replicas = 1 }\n");
    assert_problem(
        &text,
        "changes[0].scale.workload",
        "scale",
        &["`batch` is a job", "only deployments"],
    );
    let text =
        with_changes("[[changes]]\nat = \"1m\"\nadd_nodes = { pool = \"spare\", count = 0 }\n");
    assert_problem(
        &text,
        "changes[0].add_nodes.count",
        "add_nodes",
        &["at least 1"],
    );
    let text =
        with_changes("[[changes]]\nat = \"1m\"\nadd_nodes = { pool = \"spare\", cuont = 1 }\n");
    assert!(problems(&text)
        .iter()
        .any(|p| p.key_path == "changes[0].add_nodes.cuont" && p.message.contains("`count`")));
}

#[test]
fn repeats_need_a_positive_step_and_an_end_after_their_start() {
    let action = "drain_nodes = { pool = \"spare\", count = 1 }\n";
    let text = with_changes(&format!(
        "[[changes]]\nat = \"1m\"\nevery = \"0s\"\n{action}"
    ));
    assert_problem(&text, "changes[0].every", "every", &["greater than zero"]);
    let text = with_changes(&format!(
        "[[changes]]\nat = \"10m\"\nevery = \"1m\"\nuntil = \"5m\"\n{action}"
    ));
    assert_problem(
        &text,
        "changes[0].until",
        "until",
        &["until (300.000s) is before at (600.000s)"],
    );
    let text = with_changes(&format!(
        "[[changes]]\nat = \"10m\"\nuntil = \"20m\"\n{action}"
    ));
    assert_problem(
        &text,
        "changes[0].until",
        "until",
        &["only applies with `every`"],
    );
}

#[test]
fn a_change_after_the_end_of_the_run_is_a_warning() {
    let text =
        with_changes("[[changes]]\nat = \"2h\"\ncordon_nodes = { pool = \"spare\", count = 1 }\n");
    let warnings = valid(&text).warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let line = line_of(&text, "at = \"2h\"");
    assert!(
        warnings[0].starts_with(&format!("scenario.toml:{line}:"))
            && warnings[0].contains("changes[0].at")
            && warnings[0].contains("never happens"),
        "{warnings:?}"
    );
}

#[test]
fn a_drain_the_rest_of_the_cluster_cannot_absorb_is_a_warning_at_its_line() {
    // web requests 24 cpus of 40; draining both general nodes leaves 8.
    let text =
        with_changes("[[changes]]\nat = \"5m\"\ndrain_nodes = { pool = \"general\", count = 2 }\n");
    let warnings = valid(&text).warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let line = line_of(&text, "[[changes]]");
    assert!(
        warnings[0].starts_with(&format!("scenario.toml:{line}:"))
            && warnings[0].contains("changes[0]")
            && warnings[0].contains("about 8 allocatable cpu")
            && warnings[0].contains("request 24"),
        "{warnings:?}"
    );
    // One general node is enough to keep 24 cpus.
    let one = text.replace("count = 2 }", "count = 1 }");
    assert!(
        valid(&one).warnings.is_empty(),
        "{:?}",
        valid(&one).warnings
    );
    // Scaling web down first makes room; adding nodes first does too.
    let scaled = text.replace(
        "[[changes]]\nat = \"5m\"",
        "[[changes]]\nat = \"1m\"\nscale = { workload = \"web\", replicas = 4 }\n\n[[changes]]\nat = \"5m\"",
    );
    assert!(
        valid(&scaled).warnings.is_empty(),
        "{:?}",
        valid(&scaled).warnings
    );
    let grown = text
        .replace(
            "[[changes]]\nat = \"5m\"",
            "[[changes]]\nat = \"1m\"\nadd_nodes = { pool = \"spare\", count = 2 }\n\n[[changes]]\nat = \"5m\"",
        )
        .replace("count = 1\ncpu = \"8\"", "count = 1\nmax = 3\ncpu = \"8\"");
    assert!(
        valid(&grown).warnings.is_empty(),
        "{:?}",
        valid(&grown).warnings
    );
    // A deletion counts like a drain.
    let deleted = text.replace("drain_nodes", "delete_nodes");
    assert_eq!(valid(&deleted).warnings.len(), 1);
}

#[test]
fn add_nodes_past_the_pool_max_is_a_warning_with_a_hint() {
    let text =
        with_changes("[[changes]]\nat = \"5m\"\nadd_nodes = { pool = \"spare\", count = 2 }\n");
    let warnings = valid(&text).warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("changes[0]")
            && warnings[0].contains("to 3 nodes, past its max (1)")
            && warnings[0].contains("set `max`"),
        "{warnings:?}"
    );
    let room = text.replace("count = 1\ncpu = \"8\"", "count = 1\nmax = 3\ncpu = \"8\"");
    assert!(
        valid(&room).warnings.is_empty(),
        "{:?}",
        valid(&room).warnings
    );
}

#[test]
fn repeating_add_nodes_that_use_up_the_node_ids_is_a_warning() {
    let text = with_changes(
        "[[changes]]\nat = \"0s\"\nevery = \"1ns\"\nadd_nodes = { pool = \"spare\", count = 2 }\n",
    )
    .replace(
        "count = 1\ncpu = \"8\"",
        "count = 1\nmax = 1000\ncpu = \"8\"",
    );
    let warnings = valid(&text).warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("changes[0]") && w.contains("node ids are never reused")),
        "{warnings:?}"
    );
    let slow = text.replace("every = \"1ns\"", "every = \"1s\"");
    assert!(
        !valid(&slow).warnings.iter().any(|w| w.contains("node ids")),
        "{:?}",
        valid(&slow).warnings
    );
}

#[test]
fn the_node_count_limit_is_on_the_sum_of_max() {
    let text = edit("count = 2\n", "count = 2\nmax = 4294967295\n");
    let all = problems(&text);
    assert!(
        all.iter().any(|p| p.key_path == "node_pools"
            && p.message.contains("the sum of each pool's max")),
        "{all:#?}"
    );
}

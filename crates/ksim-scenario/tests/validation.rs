//! Validation of scenario text: every problem reported, with file, line,
//! column and key path.

use ksim_core::config::{
    ArrivalProcess, Request, SchedulerConfig, SchedulerMode, SelectorOperator, TaintEffect,
    TolerationOperator, WorkloadKind,
};
use ksim_core::distribution::Distribution;
use ksim_core::resources::{CPU, EPHEMERAL_STORAGE, FIRST_EXTENDED, MEMORY, PODS};
use ksim_core::time::{SimDuration, SimTime};
use ksim_scenario::{parse, Problem};

/// Line numbers in the tests below refer to this text.
const BASE: &str = r#"[simulation]
name = "t"
duration = "1h"

[[node_pools]]
name = "general"
count = 10
cpu = "16"
memory = "64Gi"
labels = { zone = "a" }

[[workloads]]
name = "web"
kind = "deployment"
replicas = 3
[workloads.pod]
cpu = "500m"
memory = "1Gi"
labels = { app = "web" }

[[workloads]]
name = "batch"
kind = "job"
arrival = { process = "poisson", rate_per_s = 2.0 }
duration = "5m"
[workloads.pod]
cpu = "1"
memory = "2Gi"
"#;

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

/// The single problem at `path`.
fn at<'p>(problems: &'p [Problem], path: &str) -> &'p Problem {
    let found: Vec<&Problem> = problems.iter().filter(|p| p.key_path == path).collect();
    assert_eq!(found.len(), 1, "{path} in {problems:#?}");
    found[0]
}

#[test]
fn the_base_scenario_is_valid() {
    let scenario = parse(BASE, "scenario.toml").unwrap();
    assert!(scenario.warnings.is_empty(), "{:?}", scenario.warnings);
}

#[test]
fn typo_suggests_the_nearest_key_at_its_line_and_column() {
    let all = problems(&edit("count = 10", "cout = 3"));
    let typo = at(&all, "node_pools[0].cout");
    assert_eq!(typo.message, "unknown key `cout`: did you mean `count`?");
    assert_eq!((typo.line, typo.column), (Some(7), Some(1)));
    // The real key is then missing, reported at the pool's header.
    let missing = at(&all, "node_pools[0]");
    assert_eq!(missing.message, "missing required key `count`");
    assert_eq!(missing.line, Some(5));
}

#[test]
fn display_is_file_line_column_path_message() {
    let all = problems(&edit("memory = \"1Gi\"", "memory = \"16GB\""));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        all[0].to_string(),
        "scenario.toml:18:10: workloads[0].pod.memory: invalid quantity `16GB`: use binary \
         suffixes like 16Gi or decimal like 16G"
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = BASE
        .replace("duration = \"1h\"", "duration = \"5 minutes\"")
        .replace("cpu = \"16\"", "cpu = \"16 cores\"")
        .replace("replicas = 3", "replicas = -3")
        .replace("rate_per_s = 2.0", "rate_per_s = 0")
        .replace("cpu = \"1\"\n", "cpu = \"1\"\nmemroy = \"1Gi\"\n");
    let all = problems(&text);
    let lines: Vec<(Option<usize>, &str)> =
        all.iter().map(|p| (p.line, p.key_path.as_str())).collect();
    assert_eq!(
        lines,
        [
            (Some(3), "simulation.duration"),
            (Some(8), "node_pools[0].cpu"),
            (Some(15), "workloads[0].replicas"),
            (Some(24), "workloads[1].arrival.rate_per_s"),
            (Some(28), "workloads[1].pod.memroy"),
        ],
        "{all:#?}"
    );
    assert!(all[0].message.contains("did you mean `5m`?"), "{}", all[0]);
    assert!(
        all[1].message.contains("write 16 for 16 cores"),
        "{}",
        all[1]
    );
    assert!(
        all[2].message.contains("must not be negative"),
        "{}",
        all[2]
    );
    assert!(all[3].message.contains("greater than zero"), "{}", all[3]);
    assert!(
        all[4].message.contains("did you mean `memory`?"),
        "{}",
        all[4]
    );
}

#[test]
fn wrong_units_and_types_are_explained() {
    let cases = [
        (
            edit("memory = \"64Gi\"", "memory = \"64gb\""),
            "node_pools[0].memory",
            "use binary suffixes like 64Gi or decimal like 64G",
        ),
        (
            edit("memory = \"64Gi\"", "memory = \"512m\""),
            "node_pools[0].memory",
            "fraction of a byte",
        ),
        (
            edit("cpu = \"500m\"", "cpu = \"0.0001\""),
            "workloads[0].pod.cpu",
            "finer than one millicore",
        ),
        (
            edit("cpu = \"500m\"", "cpu = \"-1\""),
            "workloads[0].pod.cpu",
            "must not be negative",
        ),
        (
            edit("duration = \"5m\"", "duration = 300"),
            "workloads[1].duration",
            "write \"300s\"",
        ),
        (
            edit("count = 10", "count = \"10\""),
            "node_pools[0].count",
            "write 10 without quotes",
        ),
        (
            edit("count = 10", "count = 10.0"),
            "node_pools[0].count",
            "expected an integer, found a float",
        ),
        (
            edit("labels = { zone = \"a\" }", "labels = { zone = 5 }"),
            "node_pools[0].labels.zone",
            "label values are strings: write \"5\"",
        ),
    ];
    for (text, path, message) in cases {
        let all = problems(&text);
        let problem = at(&all, path);
        assert!(problem.message.contains(message), "{problem}");
    }
}

#[test]
fn zero_counts_and_zero_allocatable_are_errors() {
    let all = problems(&edit("count = 10", "count = -1"));
    assert_eq!(
        at(&all, "node_pools[0].count").message,
        "must not be negative, found -1"
    );
    // A pool may start empty (nodes are added during the run).
    let empty = parse(&edit("count = 10", "count = 0\nmax = 4"), "s").expect("valid");
    assert_eq!(empty.config.nodes_total(), 0);
    let all = problems(&edit("cpu = \"16\"", "cpu = \"0\""));
    let problem = at(&all, "node_pools[0].cpu");
    assert!(
        problem.message.contains("zero allocatable cpu"),
        "{problem}"
    );
    assert_eq!(problem.line, Some(8));
    let all = problems(&edit("memory = \"64Gi\"", "memory = 0"));
    assert!(at(&all, "node_pools[0].memory")
        .message
        .contains("zero allocatable memory"));
    let all = problems(&edit("count = 10", "count = 10\nmax_pods = 0"));
    assert!(at(&all, "node_pools[0].max_pods")
        .message
        .contains("zero allocatable pods"));
    let all = problems(&edit("duration = \"5m\"", "duration = \"5m\"\ncount = 0"));
    assert!(at(&all, "workloads[1].count")
        .message
        .contains("at least 1"));
    // Zero replicas is allowed: a deployment scaled to zero.
    assert!(parse(&edit("replicas = 3", "replicas = 0"), "s").is_ok());
}

#[test]
fn duplicate_names_are_errors() {
    let text = format!(
        "{BASE}\n[[node_pools]]\nname = \"general\"\ncount = 1\ncpu = \"1\"\nmemory = \"1Gi\"\n"
    );
    let all = problems(&text);
    let problem = at(&all, "node_pools[1].name");
    assert!(
        problem
            .message
            .contains("duplicate node pool name `general` (already used by node_pools[0])"),
        "{problem}"
    );
    let all = problems(&edit("name = \"batch\"", "name = \"web\""));
    assert_eq!(
        at(&all, "workloads[1].name").line,
        Some(22),
        "points at the second one"
    );
}

#[test]
fn undefined_label_references_are_errors() {
    let all = problems(&edit(
        "labels = { app = \"web\" }",
        "labels = { app = \"web\" }\nnode_selector = { zome = \"a\" }",
    ));
    let problem = at(&all, "workloads[0].pod.node_selector.zome");
    assert!(
        problem.message.contains("no node pool has label `zome`")
            && problem.message.contains("did you mean `zone`?"),
        "{problem}"
    );
    let all = problems(&edit(
        "cpu = \"1\"\n",
        "cpu = \"1\"\nnode_affinity = [[{ key = \"gen\", operator = \"In\", values = [\"5\"] }]]\n",
    ));
    assert!(at(&all, "workloads[1].pod.node_affinity[0][0].key")
        .message
        .contains("no node pool has label `gen`"));
    let all = problems(&edit(
        "labels = { app = \"web\" }",
        "labels = { app = \"web\" }\nanti_affinity = [{ match_labels = { ap = \"web\" }, topology_key = \"kubernetes.io/hostname\" }]",
    ));
    let problem = at(&all, "workloads[0].pod.anti_affinity[0].match_labels.ap");
    assert!(
        problem
            .message
            .contains("no workload's pods have label `ap`"),
        "{problem}"
    );
}

#[test]
fn only_hostname_topology_is_modelled() {
    let all = problems(&edit(
        "labels = { app = \"web\" }",
        "labels = { app = \"web\" }\nanti_affinity = [{ match_labels = { app = \"web\" }, topology_key = \"topology.kubernetes.io/zone\" }]",
    ));
    let problem = at(&all, "workloads[0].pod.anti_affinity[0].topology_key");
    assert!(
        problem
            .message
            .contains("only topology_key = \"kubernetes.io/hostname\" is modelled"),
        "{problem}"
    );
    assert_eq!(problem.line, Some(20));
    let all = problems(&edit(
        "labels = { app = \"web\" }",
        "node_selector = { \"kubernetes.io/hostname\" = \"node-1\" }",
    ));
    assert!(at(
        &all,
        "workloads[0].pod.node_selector.\"kubernetes.io/hostname\""
    )
    .message
    .contains("is not supported"));
}

#[test]
fn keys_of_the_other_kind_name_the_key_and_the_kind() {
    let all = problems(&edit("replicas = 3", "replicas = 3\nstop = \"10m\""));
    assert_eq!(
        at(&all, "workloads[0].stop").message,
        "`stop` only applies to kind = \"job\" or kind = \"session\", and workload `web` is a \
         deployment"
    );
    let all = problems(&edit(
        "duration = \"5m\"",
        "duration = \"5m\"\nreplicas = 2",
    ));
    assert_eq!(
        at(&all, "workloads[1].replicas").message,
        "`replicas` only applies to kind = \"deployment\", and workload `batch` is a job"
    );
    let all = problems(&edit(
        "duration = \"5m\"",
        "duration = \"5m\"\npod_lifetime = \"1h\"",
    ));
    assert_eq!(
        at(&all, "workloads[1].pod_lifetime").message,
        "`pod_lifetime` only applies to kind = \"deployment\", and workload `batch` is a job"
    );
}

#[test]
fn deployment_pod_lifetime_is_a_duration_distribution() {
    let scenario = parse(
        &edit(
            "replicas = 3",
            "replicas = 3\npod_lifetime = { dist = \"exponential\", mean = \"2h\" }",
        ),
        "scenario.toml",
    )
    .expect("valid");
    let WorkloadKind::Deployment(d) = &scenario.config.workloads[0].kind else {
        panic!("deployment expected")
    };
    assert_eq!(d.pod_lifetime.as_ref().map(|l| l.mean()), Some(7200e9));
    let all = problems(&edit(
        "replicas = 3",
        "replicas = 3\npod_lifetime = \"2 hours\"",
    ));
    assert!(
        at(&all, "workloads[0].pod_lifetime").message.contains("2h"),
        "{all:?}"
    );
}

#[test]
fn impossible_combinations_are_rejected() {
    let scheduler = |body: &str| format!("{BASE}\n[scheduler]\n{body}\n");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            scheduler("backoff_initial = \"20s\""),
            "scheduler.backoff_initial",
            "must not exceed backoff_max",
        ),
        (
            scheduler("percentage_of_nodes_to_score = 101"),
            "scheduler.percentage_of_nodes_to_score",
            "at most 100",
        ),
        (
            scheduler("mode = \"Kube\""),
            "scheduler.mode",
            "did you mean `kube`?",
        ),
        (
            edit("duration = \"1h\"", "duration = \"1h\"\nsample_interval = \"0s\""),
            "simulation.sample_interval",
            "greater than zero",
        ),
        (
            edit("duration = \"1h\"", "duration = \"0s\""),
            "simulation.duration",
            "greater than zero",
        ),
        (
            edit("duration = \"5m\"", "duration = \"5m\"\nfailure_probability = 1.5"),
            "workloads[1].failure_probability",
            "within [0, 1]",
        ),
        (
            edit("rate_per_s = 2.0", "rate_per_s = -1.0"),
            "workloads[1].arrival.rate_per_s",
            "greater than zero",
        ),
        (
            edit("process = \"poisson\", rate_per_s = 2.0", "process = \"poisson\", interval = \"1s\""),
            "workloads[1].arrival.interval",
            "does not apply to process = \"poisson\"",
        ),
        (
            edit("process = \"poisson\", rate_per_s = 2.0", "process = \"schedule\", times = [\"1m\", \"30s\"]"),
            "workloads[1].arrival.times[1]",
            "must be sorted",
        ),
        (
            edit("process = \"poisson\", rate_per_s = 2.0 }", "process = \"schedule\", times = [\"1m\"] }\nstart = \"1m\""),
            "workloads[1].start",
            "cannot be combined with process = \"schedule\"",
        ),
        (
            edit("duration = \"5m\"", "duration = \"5m\"\nstart = \"10m\"\nstop = \"5m\""),
            "workloads[1].stop",
            "must be after start",
        ),
        (
            edit("duration = \"5m\"", "duration = { dist = \"uniform\", min = \"10m\", max = \"1m\" }"),
            "workloads[1].duration",
            "min must not exceed max",
        ),
        (
            edit("duration = \"5m\"", "duration = { dist = \"uniform\", mean = \"10m\", max = \"1m\" }"),
            "workloads[1].duration.mean",
            "not a parameter of dist = \"uniform\"",
        ),
        (
            edit("cpu = \"1\"\n", "cpu = \"1\"\ntolerations = [{ operator = \"Equal\", value = \"x\" }]\n"),
            "workloads[1].pod.tolerations[0].operator",
            "operator must be Exists when key is empty",
        ),
        (
            edit("cpu = \"1\"\n", "cpu = \"1\"\nnode_affinity = [[{ key = \"zone\", operator = \"Gt\", values = [\"1\", \"2\"] }]]\n"),
            "workloads[1].pod.node_affinity[0][0].values",
            "exactly one value",
        ),
    ];
    for (text, path, message) in cases {
        let all = problems(&text);
        let problem = at(&all, path);
        assert!(problem.message.contains(message), "{problem}");
        assert!(problem.line.is_some(), "{problem}");
    }
}

#[test]
fn at_most_four_extended_resources() {
    let pool = |i: usize| {
        format!(
            "\n[[node_pools]]\nname = \"p{i}\"\ncount = 1\ncpu = \"1\"\nmemory = \"1Gi\"\n\
             extended = {{ \"example.com/r{i}\" = 1 }}\n"
        )
    };
    let text = format!("{BASE}{}", (0..5).map(pool).collect::<String>());
    let all = problems(&text);
    let problem = at(&all, "node_pools[5].extended.\"example.com/r4\"");
    assert!(problem.message.contains("at most 4"), "{problem}");
    let ok = format!("{BASE}{}", (0..4).map(pool).collect::<String>());
    let config = parse(&ok, "s").unwrap().config;
    assert_eq!(config.resource_names.extended().len(), 4);
}

#[test]
fn requesting_an_unoffered_extended_resource_is_a_warning() {
    let text = edit(
        "cpu = \"1\"\n",
        "cpu = \"1\"\nextended = { \"nvidia.com/gpu\" = 1 }\n",
    );
    let scenario = parse(&text, "scenario.toml").unwrap();
    assert_eq!(scenario.warnings.len(), 1, "{:?}", scenario.warnings);
    assert!(
        scenario.warnings[0].contains("no node pool offers `nvidia.com/gpu`"),
        "{}",
        scenario.warnings[0]
    );
    assert!(scenario.warnings[0].starts_with("scenario.toml:21:"));
}

/// A toleration for a key no pool's taint has tolerates nothing, unless a
/// controller may put a taint with that key on nodes at run time.
#[test]
fn tolerations_of_controller_taints_are_not_warned_about() {
    let tolerating = |key: &str| {
        edit(
            "memory = \"1Gi\"\nlabels = { app = \"web\" }",
            &format!(
                "memory = \"1Gi\"\nlabels = {{ app = \"web\" }}\n\
                 tolerations = [{{ key = \"{key}\", operator = \"Exists\" }}]"
            ),
        )
    };
    for key in ["ToBeDeletedByClusterAutoscaler", "karpenter.sh/disrupted"] {
        let warnings = parse(&tolerating(key), "s").unwrap().warnings;
        assert!(warnings.is_empty(), "{key}: {warnings:?}");
    }
    let warnings = parse(&tolerating("karpenter.sh/disrupting"), "s")
        .unwrap()
        .warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("so this tolerates nothing: did you mean `karpenter.sh/disrupted`?"),
        "{}",
        warnings[0]
    );
}

#[test]
fn unschedulable_and_oversized_workloads_are_warnings() {
    let text = edit("memory = \"2Gi\"", "memory = \"1Ti\"");
    let warnings = parse(&text, "s").unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("fit no node pool")
            && warnings[0].contains("requests 1Ti memory but a node has 64Gi"),
        "{}",
        warnings[0]
    );
    let text = edit("replicas = 3", "replicas = 12").replace(
        "labels = { app = \"web\" }",
        "labels = { app = \"web\" }\nanti_affinity = [{ match_labels = { app = \"web\" }, topology_key = \"kubernetes.io/hostname\" }]",
    );
    let warnings = parse(&text, "s").unwrap().warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("2 replicas will stay pending")),
        "{warnings:?}"
    );
}

#[test]
fn missing_file_names_the_path() {
    let err =
        ksim_scenario::load(std::path::Path::new("/nonexistent/ksim/scenario.toml")).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    let text = err.to_string();
    assert!(
        text.contains("/nonexistent/ksim/scenario.toml") && text.contains("No such file"),
        "{text}"
    );
}

#[test]
fn syntax_error_is_one_problem_with_line_and_column() {
    let all = problems(&edit("count = 10", "count = = 10"));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!((all[0].line, all[0].column), (Some(7), Some(9)));
    assert!(
        all[0].message.starts_with("TOML syntax error"),
        "{}",
        all[0]
    );
    assert!(!all[0].to_string().contains('\n'));
}

#[test]
fn errors_display_one_line_each() {
    let err = parse(
        &edit("count = 10", "count = -1").replace("replicas = 3", "x = 1"),
        "f",
    )
    .unwrap_err();
    let text = err.to_string();
    assert_eq!(text.lines().count(), err.problems.len());
    assert!(err.problems.len() >= 3, "{text}");
}

#[test]
fn a_full_scenario_converts_to_core_units() {
    let text = r#"
[simulation]
name = "full"
seed = 9
duration = "1h30m"
sample_interval = "250ms"
record_pods = true

[scheduler]
mode = "kube"
scoring = "MostAllocated"
percentage_of_nodes_to_score = 50
cycle_base_cost = "100us"
cycle_per_node_cost = "0ns"

[[node_pools]]
name = "gpu"
count = 3
cpu = 1.5
memory = "1.5Gi"
ephemeral_storage = 1000
extended = { "nvidia.com/gpu" = 8 }
labels = { gen = "5" }
taints = [{ key = "dedicated", value = "gpu", effect = "NoSchedule" }]

[[workloads]]
name = "train"
kind = "job"
start = "1m"
stop = "50m"
count = 100
arrival = { process = "constant", rate_per_s = 4 }
duration = { dist = "lognormal", median = "5m", sigma = 1.0 }
failure_probability = 0.25
[workloads.pod]
cpu = { dist = "empirical", values = ["100m", "1"], weights = [3, 1] }
memory = "1G"
extended = { "nvidia.com/gpu" = 1 }
priority = -5
node_affinity = [[{ key = "gen", operator = "Gt", values = ["4"] }], [{ key = "gen", operator = "Exists" }]]
tolerations = [{ key = "dedicated", value = "gpu" }]

[[workloads]]
name = "replay"
kind = "job"
arrival = { process = "schedule", times = ["0s", "30s", "1m"] }
duration = "10s"
[workloads.pod]
cpu = "0"
memory = "0"
"#;
    let config = parse(text, "full.toml").unwrap().config;
    assert_eq!((config.name.as_str(), config.seed), ("full", 9));
    assert_eq!(config.end, SimTime(5_400_000_000_000));
    assert_eq!(config.sample_interval, SimDuration::from_millis(250));
    assert!(config.record_pods);
    let s = &config.scheduler;
    assert_eq!(s.mode, SchedulerMode::Kube);
    assert_eq!(s.percentage_of_nodes_to_score, 50);
    assert_eq!(s.cycle_base_cost, SimDuration::from_micros(100));
    assert_eq!(s.cycle_per_node_cost, SimDuration::ZERO);
    assert_eq!(s.backoff_max, SchedulerConfig::default().backoff_max);

    let pool = &config.node_pools[0];
    assert_eq!(pool.count, 3);
    assert_eq!(pool.allocatable.0[CPU], 1500);
    assert_eq!(pool.allocatable.0[MEMORY], 1536 << 20);
    assert_eq!(pool.allocatable.0[EPHEMERAL_STORAGE], 1000);
    assert_eq!(pool.allocatable.0[PODS], 110);
    assert_eq!(pool.allocatable.0[FIRST_EXTENDED], 8);
    assert_eq!(pool.taints[0].effect, TaintEffect::NoSchedule);
    assert_eq!(config.resource_names.extended(), ["nvidia.com/gpu"]);

    let train = &config.workloads[0];
    let WorkloadKind::Job(job) = &train.kind else {
        panic!("job")
    };
    assert!(
        matches!(job.arrival, ArrivalProcess::Constant { interval } if interval == SimDuration::from_millis(250))
    );
    assert_eq!(job.start, SimTime(60_000_000_000));
    assert_eq!(job.stop, Some(SimTime(3_000_000_000_000)));
    assert_eq!(job.max_pods, Some(100));
    assert_eq!(
        job.duration,
        Distribution::LogNormal {
            median: 300e9,
            sigma: 1.0
        }
    );
    assert_eq!(job.failure_probability, 0.25);
    let t = &train.template;
    assert!(
        matches!(&t.requests[CPU], Request::Drawn(Distribution::Empirical { values, .. }) if values == &[100.0, 1000.0])
    );
    assert!(matches!(t.requests[MEMORY], Request::Fixed(1_000_000_000)));
    assert!(matches!(t.requests[PODS], Request::Fixed(1)));
    assert!(matches!(t.requests[FIRST_EXTENDED], Request::Fixed(1)));
    assert_eq!(t.priority, -5);
    assert_eq!(t.node_affinity.len(), 2);
    assert_eq!(
        t.node_affinity[0].match_expressions[0].operator,
        SelectorOperator::Gt(4)
    );
    assert_eq!(t.tolerations[0].operator, TolerationOperator::Equal);
    assert_eq!(t.tolerations[0].effect, None);

    let WorkloadKind::Job(replay) = &config.workloads[1].kind else {
        panic!("job")
    };
    assert!(matches!(&replay.arrival, ArrivalProcess::Schedule { times }
        if times == &[SimTime(0), SimTime(30_000_000_000), SimTime(60_000_000_000)]));
    assert!(config.check().is_ok());
}

#[test]
fn arrays_of_inline_tables_work_like_table_arrays() {
    let text = r#"
simulation = { name = "inline", duration = "1m" }
node_pools = [{ name = "p", count = 1, cpu = "1", memory = "1Gi" }]
workloads = [{ name = "w", kind = "deployment", replicas = 1, pod = { cpu = "1", memory = "1Gi" } }]
"#;
    let config = parse(text, "s").unwrap().config;
    assert_eq!(config.node_pools[0].name, "p");
    let all = problems(&text.replace("count = 1,", "cont = 1,"));
    let problem = at(&all, "node_pools[0].cont");
    assert_eq!((problem.line, problem.column), (Some(3), Some(29)));
}

#[test]
fn node_failures_and_lifecycle_are_read_and_checked() {
    let text = format!(
        "{BASE}\n[node_lifecycle]\nnode_monitor_grace_period = \"40s\"\n\n[[node_failures]]\nat = \"10m\"\npool = \"general\"\ncount = 2\nrecover_after = \"5m\"\n"
    );
    let config = parse(&text, "scenario.toml").expect("valid").config;
    assert_eq!(
        config.node_lifecycle.node_monitor_grace_period,
        SimDuration::from_secs(40)
    );
    assert_eq!(
        config.node_lifecycle.default_toleration,
        SimDuration::from_secs(300)
    );
    let f = &config.node_failures[0];
    assert_eq!((f.at, f.pool, f.count), (SimTime(600_000_000_000), 0, 2));
    assert_eq!(f.recover_after, Some(SimDuration::from_secs(300)));

    let bad = format!("{BASE}\n[[node_failures]]\nat = \"10m\"\npool = \"genral\"\ncount = 2\n");
    let all = problems(&bad);
    assert!(
        at(&all, "node_failures[0].pool")
            .message
            .contains("did you mean `general`"),
        "{all:?}"
    );
    let too_many =
        format!("{BASE}\n[[node_failures]]\nat = \"10m\"\npool = \"general\"\ncount = 11\n");
    assert!(at(&problems(&too_many), "node_failures[0].count")
        .message
        .contains("larger than the pool's max (10 nodes)"));
    // Nodes added during the run may fail too: up to the pool's max.
    let grown = format!(
        "{}\n[[node_failures]]\nat = \"10m\"\npool = \"general\"\ncount = 11\n",
        BASE.replace("count = 10", "count = 10\nmax = 20")
    );
    let config = parse(&grown, "scenario.toml").expect("valid").config;
    assert_eq!(config.node_failures[0].count, 11);
    let zero_period = format!("{BASE}\n[node_lifecycle]\nnode_monitor_period = \"0s\"\n");
    assert!(at(
        &problems(&zero_period),
        "node_lifecycle.node_monitor_period"
    )
    .message
    .contains("greater than zero"));
    let zero_rate = format!("{BASE}\n[node_lifecycle]\neviction_rate_per_s = 0\n");
    assert!(
        at(&problems(&zero_rate), "node_lifecycle.eviction_rate_per_s")
            .message
            .contains("greater than zero")
    );
}

#[test]
fn zone_disruption_keys_are_read_and_checked() {
    let text = format!(
        "{BASE}\n[node_lifecycle]\nsecondary_eviction_rate_per_s = 0.02\n\
         large_cluster_size_threshold = 20\nunhealthy_zone_threshold = 0.6\nlease_cohorts = 10\n"
    );
    let l = parse(&text, "scenario.toml")
        .expect("valid")
        .config
        .node_lifecycle;
    assert_eq!(l.secondary_eviction_rate_per_s, 0.02);
    assert_eq!(l.large_cluster_size_threshold, 20);
    assert_eq!(l.unhealthy_zone_threshold, 0.6);
    assert_eq!(l.lease_cohorts, 10);
    let defaults = parse(BASE, "scenario.toml")
        .expect("valid")
        .config
        .node_lifecycle;
    assert_eq!(
        (
            defaults.secondary_eviction_rate_per_s,
            defaults.large_cluster_size_threshold,
            defaults.unhealthy_zone_threshold,
            defaults.lease_cohorts
        ),
        (0.01, 50, 0.55, 100),
        "upstream's defaults (and 100 cohorts)"
    );
    let bad = format!(
        "{BASE}\n[node_lifecycle]\nsecondary_eviction_rate_per_s = -1\n\
         unhealthy_zone_threshold = 1.5\nlease_cohorts = 0\n"
    );
    let all = problems(&bad);
    assert!(at(&all, "node_lifecycle.secondary_eviction_rate_per_s")
        .message
        .contains("at least 0"));
    assert!(at(&all, "node_lifecycle.unhealthy_zone_threshold")
        .message
        .contains("within [0, 1]"));
    at(&all, "node_lifecycle.lease_cohorts");
}

#[test]
fn node_failure_rates_are_read_and_checked() {
    let text = format!("{BASE}\n[[node_failure_rates]]\npool = \"general\"\nper_hour = 12\nrecover_after = \"30m\"\n");
    let config = parse(&text, "scenario.toml").expect("valid").config;
    let r = &config.node_failure_rates[0];
    assert_eq!((r.pool, r.mean_interval), (0, SimDuration::from_secs(300)));
    assert_eq!(r.recover_after, Some(SimDuration::from_secs(1800)));
    let zero = format!("{BASE}\n[[node_failure_rates]]\npool = \"general\"\nper_hour = 0\n");
    assert!(at(&problems(&zero), "node_failure_rates[0].per_hour")
        .message
        .contains("greater than zero"));
    let typo = format!("{BASE}\n[[node_failure_rates]]\npool = \"general\"\nper_hours = 1\n");
    assert!(
        problems(&typo)
            .iter()
            .any(|p| p.message.contains("per_hour")),
        "suggests the key"
    );
}

#[test]
fn kube_only_scheduler_keys_are_refused_in_fast_mode() {
    let text = format!("{BASE}\n[scheduler]\nmode = \"fast\"\npercentage_of_nodes_to_score = 10\ntaint_toleration_weight = 3\n");
    let all = problems(&text);
    assert!(at(&all, "scheduler.percentage_of_nodes_to_score")
        .message
        .contains("only applies to mode = \"kube\""));
    assert!(at(&all, "scheduler.taint_toleration_weight")
        .message
        .contains("only applies to mode = \"kube\""));
    let kube = format!("{BASE}\n[scheduler]\nmode = \"kube\"\npercentage_of_nodes_to_score = 10\n");
    assert!(parse(&kube, "scenario.toml").is_ok());
}

/// Each problem used to be located by scanning the file from its start, so
/// 100,000 bad elements (500 KB) took about 30 s. The line index makes it
/// linear; this checks the big file completes with every problem at its line.
#[test]
fn quadratic_validation_100000_bad_elements_are_all_reported_at_their_lines() {
    const BAD: usize = 100_000;
    let times = "\"x\",\n".repeat(BAD);
    let text = edit(
        "arrival = { process = \"poisson\", rate_per_s = 2.0 }",
        &format!("arrival = {{ process = \"schedule\", times = [\n{times}] }}"),
    );
    let all = problems(&text);
    assert_eq!(all.len(), BAD);
    // The array opens on line 24; element i is on line 25 + i.
    let last = &all[BAD - 1];
    assert_eq!(
        last.key_path,
        format!("workloads[1].arrival.times[{}]", BAD - 1)
    );
    assert_eq!((last.line, last.column), (Some(24 + BAD), Some(1)));
    assert!(last.message.contains("invalid duration `x`"), "{last:?}");
}

/// 1-based line of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    1 + text
        .lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("{prefix}"))
}

/// `per_hour = 1e13` used to be dropped without a word, leaving only an
/// unlocated "scenario could not be built".
#[test]
fn no_line_or_key_per_hour_whose_gap_rounds_to_zero_is_located_and_explained() {
    let text = format!("{BASE}\n[[node_failure_rates]]\npool = \"general\"\nper_hour = 1e13\n");
    let all = problems(&text);
    assert_eq!(all.len(), 1, "{all:#?}");
    let problem = at(&all, "node_failure_rates[0].per_hour");
    assert_eq!(problem.line, Some(line_of(&text, "per_hour")));
    assert!(
        problem
            .message
            .contains("per_hour = 10000000000000 puts 0.360 ns between failures")
            && problem.message.contains("rounds to 0 ns"),
        "{problem}"
    );
    let rare = text.replace("1e13", "1e-300");
    assert!(at(&problems(&rare), "node_failure_rates[0].per_hour")
        .message
        .contains("longer than simulated time spans"));
    // The same rule for job arrivals, whose gap would be zero too.
    let arrivals = problems(&edit("rate_per_s = 2.0", "rate_per_s = 1e10"));
    assert!(at(&arrivals, "workloads[1].arrival.rate_per_s")
        .message
        .contains("puts 0.100 ns between arrivals"));
}

#[test]
fn failure_never_noticed_grace_not_above_lease_renew_is_refused_on_the_key() {
    let text = format!("{BASE}\n[node_lifecycle]\nnode_monitor_grace_period = \"1s\"\n");
    let all = problems(&text);
    let problem = at(&all, "node_lifecycle.node_monitor_grace_period");
    assert_eq!(
        problem.line,
        Some(line_of(&text, "node_monitor_grace_period"))
    );
    assert!(
        problem.message.starts_with(
            "node_monitor_grace_period (1.000s) must be longer than lease_renew_interval \
             (10.000s)"
        ) && problem.message.contains("Must be N times more"),
        "{problem}"
    );
    // Raising the renew interval past the default grace is blamed on that key.
    let text = format!("{BASE}\n[node_lifecycle]\nlease_renew_interval = \"50s\"\n");
    assert_eq!(
        at(&problems(&text), "node_lifecycle.lease_renew_interval").line,
        Some(line_of(&text, "lease_renew_interval"))
    );
    let just_above = format!("{BASE}\n[node_lifecycle]\nnode_monitor_grace_period = \"10001ms\"\n");
    assert!(parse(&just_above, "scenario.toml").is_ok());
}

/// The fuzzer's reproducer: free cycles and pods that end as they start
/// kept the run at time 0 forever.
#[test]
fn endless_loop_at_time_0_free_scheduling_cycles_are_refused() {
    let text = format!(
        "{}\n[scheduler]\ncycle_base_cost = \"0s\"\ncycle_per_node_cost = \"0s\"\n",
        edit("replicas = 3", "replicas = 1\npod_lifetime = \"0s\"")
    );
    let all = problems(&text);
    assert_eq!(all.len(), 1, "{all:#?}");
    let problem = at(&all, "scheduler.cycle_base_cost");
    assert_eq!(problem.line, Some(line_of(&text, "cycle_base_cost")));
    assert!(
        problem.message.contains("must be greater than zero")
            && problem.message.contains("time advance"),
        "{problem}"
    );
    // Zero-length pod lives are fine once cycles cost time.
    let fixed = text.replace("cycle_base_cost = \"0s\"", "cycle_base_cost = \"1ns\"");
    assert!(parse(&fixed, "scenario.toml").is_ok());
}

#[test]
fn starts_and_failures_after_the_end_are_warnings() {
    let late_failure =
        format!("{BASE}\n[[node_failures]]\nat = \"2h\"\npool = \"general\"\ncount = 1\n");
    let warnings = parse(&late_failure, "s").unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("node_failures[0].at")
            && warnings[0].contains("after the end of the run")
            && warnings[0].contains("never fail"),
        "{warnings:?}"
    );
    let late_job = edit("duration = \"5m\"", "duration = \"5m\"\nstart = \"1h\"");
    let warnings = parse(&late_job, "s").unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("workloads[1].start"), "{warnings:?}");
    let late_schedule = edit(
        "{ process = \"poisson\", rate_per_s = 2.0 }",
        "{ process = \"schedule\", times = [\"2h\", \"3h\"] }",
    );
    let warnings = parse(&late_schedule, "s").unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("workloads[1].arrival") && warnings[0].contains("no pod ever arrives"),
        "{warnings:?}"
    );
}

/// Selectors are matched through an index of workloads by label (10^4
/// workloads with anti-affinity took seconds): it must still need every label.
#[test]
fn quadratic_validation_anti_affinity_selectors_need_all_their_labels() {
    let text = |batch_tier: &str| {
        edit(
            "labels = { app = \"web\" }",
            "labels = { app = \"web\" }\nanti_affinity = [{ match_labels = { app = \"web\", tier = \"batch\" }, topology_key = \"kubernetes.io/hostname\" }]",
        )
        .replace(
            "memory = \"2Gi\"\n",
            &format!("memory = \"2Gi\"\nlabels = {{ app = \"web\", tier = \"{batch_tier}\" }}\n"),
        )
    };
    let matched = parse(&text("batch"), "s").unwrap();
    assert!(matched.warnings.is_empty(), "{:?}", matched.warnings);
    let unmatched = parse(&text("other"), "s").unwrap();
    assert_eq!(unmatched.warnings.len(), 1, "{:?}", unmatched.warnings);
    assert!(
        unmatched.warnings[0].contains("workloads[0].pod.anti_affinity[0].match_labels")
            && unmatched.warnings[0].contains("matches no workload's pods"),
        "{:?}",
        unmatched.warnings
    );
}

/// The core keeps the cluster's allocatable and requested totals exactly, so
/// a cluster whose total memory passes 2^64 - 1 bytes is refused at its pool.
#[test]
fn a_cluster_total_past_u64_is_located_at_its_pool() {
    let text = edit(
        "count = 10\ncpu = \"16\"\nmemory = \"64Gi\"",
        "count = 1000000\ncpu = \"16\"\nmemory = \"15Ei\"",
    );
    let problems = problems(&text);
    let p = at(&problems, "node_pools[0]");
    assert_eq!(
        p.line,
        Some(BASE.lines().position(|l| l == "[[node_pools]]").unwrap() + 1)
    );
    assert!(
        p.message.contains("total allocatable memory past 2^64 - 1"),
        "{}",
        p.message
    );
}

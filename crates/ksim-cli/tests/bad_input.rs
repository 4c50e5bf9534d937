//! Bad input: a clear one-line error naming file, line and key, a non-zero
//! exit, never a panic.

mod common;
use common::*;

const VALID: &str = r#"[simulation]
name = "t"
duration = "1m"

[[node_pools]]
name = "p"
count = 2
cpu = "4"
memory = "16Gi"

[[workloads]]
name = "w"
kind = "deployment"
replicas = 3
[workloads.pod]
cpu = "1"
memory = "1Gi"
"#;

/// Runs `ksim validate` on the text and returns stderr, asserting failure without panic.
fn rejected(name: &str, text: &str) -> String {
    let path = write_scenario(name, text);
    let out = ksim(&["validate", &path]);
    let err = stderr(&out);
    assert!(!out.status.success(), "accepted:\n{text}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("scenario.toml"), "error names the file: {err}");
    err
}

#[test]
fn the_valid_base_scenario_is_accepted() {
    let out = ksim(&["validate", &write_scenario("valid", VALID)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not modelled"), "{text}");
}

#[test]
fn missing_file() {
    let out = ksim(&["run", "/nonexistent/dir/scenario.toml"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/dir/scenario.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn toml_syntax_error_names_the_line() {
    let err = rejected("syntax", &VALID.replace("count = 2", "count = = 2"));
    assert!(err.contains("scenario.toml:7"), "{err}");
}

#[test]
fn misspelled_key_suggests_the_nearest() {
    let err = rejected("typo", &VALID.replace("count = 2", "cout = 2"));
    assert!(
        err.contains(":7") && err.contains("cout") && err.contains("count"),
        "{err}"
    );
}

#[test]
fn wrong_units_are_explained() {
    let err = rejected(
        "unit-mem",
        &VALID.replace("memory = \"16Gi\"", "memory = \"16GB\""),
    );
    assert!(
        err.contains("node_pools[0].memory") && err.contains("16Gi"),
        "{err}"
    );
    let err = rejected(
        "unit-dur",
        &VALID.replace("duration = \"1m\"", "duration = \"5 minutes\""),
    );
    assert!(err.contains("simulation.duration"), "{err}");
}

#[test]
fn negative_counts_are_refused() {
    let err = rejected("negative-count", &VALID.replace("count = 2", "count = -2"));
    assert!(err.contains("node_pools[0].count"), "{err}");
    let err = rejected("negative", &VALID.replace("replicas = 3", "replicas = -3"));
    assert!(err.contains("workloads[0].replicas"), "{err}");
}

#[test]
fn zero_allocatable_is_refused() {
    let err = rejected("zero-alloc", &VALID.replace("cpu = \"4\"", "cpu = \"0\""));
    assert!(err.contains("node_pools[0]"), "{err}");
}

#[test]
fn several_problems_are_reported_together() {
    let text = VALID
        .replace("count = 2", "cout = 2")
        .replace("memory = \"1Gi\"", "memory = \"1GB\"");
    let err = rejected("several", &text);
    assert!(err.contains("cout") && err.contains("1GB"), "{err}");
}

#[test]
fn a_scenario_too_large_for_memory_is_refused_up_front() {
    let path = write_scenario("huge", &VALID.replace("count = 2", "count = 400000000"));
    let err = refused_for_memory(&path, "huge");
    assert!(err.contains("GiB"), "{err}");
}

#[test]
fn a_non_empty_output_directory_needs_force() {
    let scenario = write_scenario("force", VALID);
    let dir = temp_dir("force-out");
    std::fs::write(dir.join("keep.txt"), "earlier results").unwrap();
    let out = ksim(&[
        "run",
        &scenario,
        "--out",
        dir.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("keep.txt")).unwrap(),
        "earlier results"
    );
    let out = ksim(&[
        "run",
        &scenario,
        "--out",
        dir.to_str().unwrap(),
        "--no-plots",
        "--force",
        "--check-invariants",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("summary.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

/// The base scenario with a control plane: two stores, leases routed to the second.
fn control_plane_scenario() -> String {
    format!(
        r#"{VALID}
[control_plane]

[[control_plane.stores]]
name = "main"
members = 3
quorum = 2

[[control_plane.stores]]
name = "leases"
members = 3

[control_plane.routing]
leases = "leases"
"#
    )
}

/// 1-based line of the first line of `text` that is exactly `line`.
fn line_of(text: &str, line: &str) -> usize {
    text.lines().position(|l| l == line).expect("line present") + 1
}

/// Both `ksim validate` and `ksim run` refuse the text without panicking, and
/// the run creates no output directory; returns both stderrs.
fn refused_by_validate_and_run(name: &str, text: &str) -> Vec<String> {
    let path = write_scenario(name, text);
    let out_dir = temp_dir(&format!("{name}-out")).join("out");
    let mut errors = Vec::new();
    for args in [
        vec!["validate", &path],
        vec!["run", &path, "--out", out_dir.to_str().unwrap()],
    ] {
        let out = ksim(&args);
        let err = stderr(&out);
        assert!(!out.status.success(), "ksim {args:?} accepted:\n{text}");
        assert!(!err.contains("panicked"), "{err}");
        errors.push(err);
    }
    assert!(!out_dir.exists(), "nothing written for a refused scenario");
    errors
}

#[test]
fn the_control_plane_base_scenario_is_accepted() {
    let out = ksim(&[
        "validate",
        &write_scenario("cp-valid", &control_plane_scenario()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_kind_routed_to_an_undefined_store_is_refused() {
    let text = control_plane_scenario().replace("leases = \"leases\"", "leases = \"lease\"");
    let line = line_of(&text, "leases = \"lease\"");
    for err in refused_by_validate_and_run("cp-undefined-store", &text) {
        assert!(
            err.contains(&format!("scenario.toml:{line}:"))
                && err.contains("control_plane.routing.leases")
                && err.contains("`lease`")
                && err.contains("did you mean `leases`"),
            "{err}"
        );
    }
}

#[test]
fn a_quorum_above_the_members_is_refused() {
    let text = control_plane_scenario().replace("quorum = 2", "quorum = 4");
    let line = line_of(&text, "quorum = 4");
    for err in refused_by_validate_and_run("cp-quorum", &text) {
        assert!(
            err.contains(&format!("scenario.toml:{line}:"))
                && err.contains("control_plane.stores[0].quorum")
                && err.contains("members (3)"),
            "{err}"
        );
    }
}

/// `per_hour = 1e13` used to print only "scenario could not be built".
#[test]
fn no_line_or_key_per_hour_whose_gap_rounds_to_zero_names_its_line() {
    let text = format!("{VALID}\n[[node_failure_rates]]\npool = \"p\"\nper_hour = 1e13\n");
    let line = line_of(&text, "per_hour = 1e13");
    for err in refused_by_validate_and_run("per-hour-1e13", &text) {
        assert!(
            err.contains(&format!("scenario.toml:{line}:"))
                && err.contains("node_failure_rates[0].per_hour")
                && err.contains("rounds to 0 ns")
                && !err.contains("could not be built"),
            "{err}"
        );
    }
}

#[test]
fn failure_never_noticed_grace_below_lease_renew_is_refused() {
    let text = format!("{VALID}\n[node_lifecycle]\nnode_monitor_grace_period = \"1s\"\n");
    let line = line_of(&text, "node_monitor_grace_period = \"1s\"");
    for err in refused_by_validate_and_run("grace-1s", &text) {
        assert!(
            err.contains(&format!("scenario.toml:{line}:"))
                && err.contains("node_lifecycle.node_monitor_grace_period")
                && err.contains("must be longer than lease_renew_interval"),
            "{err}"
        );
    }
}

/// The fuzzer's reproducer, which kept `ksim run` at time 0 eating memory.
#[test]
fn endless_loop_at_time_0_free_scheduling_cycles_are_refused() {
    let text = format!(
        "{}\n[scheduler]\ncycle_base_cost = \"0s\"\ncycle_per_node_cost = \"0s\"\n",
        VALID.replace("replicas = 3", "replicas = 1\npod_lifetime = \"0s\"")
    );
    let line = line_of(&text, "cycle_base_cost = \"0s\"");
    for err in refused_by_validate_and_run("free-cycles", &text) {
        assert!(
            err.contains(&format!("scenario.toml:{line}:"))
                && err.contains("scheduler.cycle_base_cost")
                && err.contains("must be greater than zero"),
            "{err}"
        );
    }
}

/// Refused by `ksim validate` and `ksim run` at `line` of the text, naming
/// the key path and the words.
fn refused_at(name: &str, text: &str, line: &str, path: &str, words: &[&str]) {
    let line = line_of(text, line);
    for err in refused_by_validate_and_run(name, text) {
        assert!(
            err.contains(&format!("scenario.toml:{line}:")) && err.contains(path),
            "{err}"
        );
        for word in words {
            assert!(err.contains(word), "`{word}` not in: {err}");
        }
    }
}

#[test]
fn a_pool_min_above_its_max_is_refused() {
    let text = VALID.replace("count = 2", "count = 2\nmin = 3");
    refused_at(
        "pool-min-above-max",
        &text,
        "min = 3",
        "node_pools[0].min",
        &["min (3) is above max (2, which defaults to count)"],
    );
}

#[test]
fn a_pool_count_outside_min_and_max_is_refused() {
    let text = VALID.replace("count = 2", "count = 20\nmax = 10");
    refused_at(
        "pool-count-outside",
        &text,
        "count = 20",
        "node_pools[0].count",
        &["count (20) must be within [min, max] = [0, 10]"],
    );
}

#[test]
fn a_negative_price_is_refused() {
    let text = VALID.replace("count = 2", "count = 2\nprice_per_hour = -1.5");
    refused_at(
        "negative-price",
        &text,
        "price_per_hour = -1.5",
        "node_pools[0].price_per_hour",
        &["must not be negative"],
    );
}

#[test]
fn a_disruption_budget_on_a_job_is_refused() {
    let text = format!(
        "{VALID}\n[[workloads]]\nname = \"j\"\nkind = \"job\"\n\
         arrival = {{ process = \"constant\", interval = \"10s\" }}\nduration = \"5s\"\n\
         disruption_budget = {{ max_unavailable = 1 }}\n[workloads.pod]\ncpu = \"1\"\nmemory = \"1Gi\"\n"
    );
    refused_at(
        "budget-on-job",
        &text,
        "disruption_budget = { max_unavailable = 1 }",
        "workloads[1].disruption_budget",
        &["only applies to kind = \"deployment\""],
    );
}

#[test]
fn validate_lists_pools_bounds_and_the_changes() {
    let text = format!(
        "{}\n[[changes]]\nat = \"30s\"\nevery = \"10s\"\nadd_nodes = {{ pool = \"p\", count = 1 }}\n",
        VALID.replace("count = 2", "count = 2\nmin = 2\nmax = 6\nprice_per_hour = 0.5")
    );
    let out = ksim(&["validate", &write_scenario("living-valid", &text)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "node pools: 1 (2 nodes at start, at most 6)",
        "pool `p`: 2 nodes at start, min 2, max 6, price 0.5 per node-hour, provisioning delay 1m; \
         can change (changes #0)",
        "changes: 1",
        "#0 at 30s, every 10s until 1m: add 1 node to pool `p`",
    ] {
        assert!(stdout.contains(expected), "`{expected}` not in:\n{stdout}");
    }
    let fixed = VALID.replace("count = 2", "count = 2\nmin = 2");
    let out = ksim(&["validate", &write_scenario("fixed-valid", &fixed)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("min 2, max 2, price 0 per node-hour, provisioning delay 1m; fixed (no controller resizes it)")
            && stdout.contains("changes: none"),
        "{stdout}"
    );
}

#[test]
fn an_unknown_expander_is_refused_with_the_nearest_name() {
    let text = format!("{VALID}\n[cluster_autoscaler]\nexpander = \"least-wast\"\n");
    refused_at(
        "unknown-expander",
        &text,
        "expander = \"least-wast\"",
        "cluster_autoscaler.expander",
        &[
            "unknown expander `least-wast`",
            "did you mean `least-waste`?",
        ],
    );
}

#[test]
fn a_daemonset_no_node_of_a_group_can_hold_is_refused() {
    let text = format!("{VALID}\n[[daemonsets]]\nname = \"agent\"\ncpu = \"5\"\n");
    refused_at(
        "daemonset-too-big",
        &text,
        "[[daemonsets]]",
        "daemonsets[0]",
        &[
            "DaemonSet `agent` does not fit on a node of pool `p`",
            "cpu",
        ],
    );
}

#[test]
fn a_node_group_that_is_not_a_pool_is_refused() {
    let text = format!("{VALID}\n[cluster_autoscaler]\nnode_groups = [\"q\"]\n");
    refused_at(
        "unknown-node-group",
        &text,
        "node_groups = [\"q\"]",
        "cluster_autoscaler.node_groups[0]",
        &["no node pool named `q`", "did you mean `p`?"],
    );
}

#[test]
fn a_bare_deployment_is_refused() {
    let text = VALID.replace("memory = \"1Gi\"", "memory = \"1Gi\"\nbare = true");
    refused_at(
        "bare-deployment",
        &text,
        "[workloads.pod]",
        "workloads[0].pod.bare",
        &["a deployment's pods always have a controller"],
    );
}

#[test]
fn validate_describes_the_cluster_autoscaler() {
    let text = format!(
        "{}\n[cluster_autoscaler]\nscale_down_unneeded_time = \"30m\"\n",
        VALID.replace("count = 2", "count = 2\nmax = 5")
    );
    let out = ksim(&["validate", &write_scenario("ca-validate", &text)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("a Cluster Autoscaler node group"), "{text}");
    assert!(
        text.contains("node autoscaler: Cluster Autoscaler over 1 node group (p)"),
        "{text}"
    );
    assert!(text.contains("for 30m"), "{text}");
}

/// VALID with a one-GPU pool `g` and a session workload `streams` whose
/// users need a GPU each.
fn session_scenario() -> String {
    let with_gpu_pool = VALID.replace(
        "[[workloads]]",
        "[[node_pools]]\nname = \"g\"\ncount = 1\ncpu = \"16\"\nmemory = \"64Gi\"\n\
         extended = { \"nvidia.com/gpu\" = 1 }\n\n[[workloads]]",
    );
    format!(
        "{with_gpu_pool}\n[[workloads]]\nname = \"streams\"\nkind = \"session\"\n\
         [workloads.load]\nshape = \"constant\"\nrate_per_s = 0.01\n\
         [workloads.session]\nlength = \"20m\"\npatience = \"5m\"\n\
         [workloads.pod]\ncpu = \"4\"\nmemory = \"16Gi\"\nextended = {{ \"nvidia.com/gpu\" = 1 }}\n"
    )
}

#[test]
fn the_session_base_scenario_is_accepted_and_described() {
    let out = ksim(&[
        "validate",
        &write_scenario("session-valid", &session_scenario()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 session workloads"), "{text}");
    assert!(
        text.contains("session workload `streams`: users arrive by load constant 0.01/s"),
        "{text}"
    );
    assert!(text.contains("interactive sessions:"), "{text}");
    assert!(!text.contains("warning"), "{text}");
}

#[test]
fn a_session_workload_without_a_length_is_refused() {
    let text = session_scenario().replace("length = \"20m\"\n", "");
    refused_at(
        "session-no-length",
        &text,
        "[workloads.session]",
        "workloads[1].session",
        &["missing required key `length`"],
    );
}

#[test]
fn a_misspelled_session_key_suggests_the_nearest() {
    let text = session_scenario().replace("length = \"20m\"", "lenght = \"20m\"");
    refused_at(
        "session-typo",
        &text,
        "lenght = \"20m\"",
        "workloads[1].session.lenght",
        &["length"],
    );
}

#[test]
fn replicas_on_a_session_workload_are_refused() {
    let text = session_scenario().replace("kind = \"session\"", "kind = \"session\"\nreplicas = 2");
    refused_at(
        "session-replicas",
        &text,
        "replicas = 2",
        "workloads[1].replicas",
        &["only applies to kind = \"deployment\"", "is a session"],
    );
}

#[test]
fn a_negative_patience_is_refused() {
    let text = session_scenario().replace(
        "patience = \"5m\"",
        "patience = { dist = \"uniform\", min = \"-1m\", max = \"5m\" }",
    );
    refused_at(
        "session-negative-patience",
        &text,
        "patience = { dist = \"uniform\", min = \"-1m\", max = \"5m\" }",
        "workloads[1].session.patience.min",
        &["`-1m` must not be negative"],
    );
}

#[test]
fn a_session_workload_no_pool_can_run_gets_a_warning_from_validate_and_run() {
    // Without pool `g`, no node offers a GPU.
    let text = session_scenario().replace("extended = { \"nvidia.com/gpu\" = 1 }\n\n", "\n");
    let path = write_scenario("session-no-gpu", &text);
    let expected = [
        "warning:",
        "no node pool offers `nvidia.com/gpu`",
        "every user of this session workload waits until their patience runs out",
    ];
    let out = ksim(&["validate", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    for words in expected {
        assert!(printed.contains(words), "`{words}` not in: {printed}");
    }
    let out_dir = temp_dir("session-no-gpu-out").join("out");
    let out = ksim(&["run", &path, "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stderr(&out);
    for words in expected {
        assert!(printed.contains(words), "`{words}` not in: {printed}");
    }
}

#[test]
fn expander_settings_without_their_expander_are_reported_unused() {
    let text = format!(
        "{VALID}\n[cluster_autoscaler]\nexpander = \"least-waste\"\npriorities = {{ \"10\" = [\".*\"] }}\n"
    );
    let out = ksim(&["validate", &write_scenario("unused-priorities", &text)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = line_of(&text, "priorities = { \"10\" = [\".*\"] }");
    assert!(
        stdout.contains(&format!("scenario.toml:{line}:"))
            && stdout.contains("cluster_autoscaler.priorities")
            && stdout.contains("unused: the `priority` expander is not in `expander`"),
        "{stdout}"
    );
}

#[test]
fn a_limit_below_its_request_is_refused() {
    let text = VALID.replace(
        "memory = \"1Gi\"\n",
        "memory = \"1Gi\"\nlimits = { memory = \"512Mi\" }\n",
    );
    refused_at(
        "limit-below-request",
        &text,
        "limits = { memory = \"512Mi\" }",
        "workloads[0].pod.limits.memory",
        &["limit 536870912 is below the pod's memory request"],
    );
}

/// Regression (limits_unknown_key_reported_twice): the limits table was
/// opened twice, once to read it and once to check it against the
/// requests, so an unknown key in it was reported twice.
#[test]
fn limits_unknown_key_reported_twice() {
    let text = VALID.replace(
        "memory = \"1Gi\"\n",
        "memory = \"1Gi\"\nlimits = { memroy = \"2Gi\" }\n",
    );
    for err in refused_by_validate_and_run("limits-unknown-key", &text) {
        assert_eq!(err.matches("unknown key `memroy`").count(), 1, "{err}");
        assert!(err.contains("did you mean `memory`?"), "{err}");
    }
}

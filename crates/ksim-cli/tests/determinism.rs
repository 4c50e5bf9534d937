//! Same scenario and seed: byte-identical outputs (summary apart from its `run`
//! object), with or without the invariant checker; another seed: different
//! outputs.

mod common;
use common::*;
use std::path::Path;

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

/// Runs `scenario` twice with its own seed, with and without the invariant
/// checker, and once with seed 12 (plots included); asserts every file of the
/// first two runs is identical, that `expected` are among them, and that the
/// other seed changes `seed_sensitive` and the summary.
fn check_determinism(scenario: &str, expected: &[&str], seed_sensitive: &[&str]) {
    let path = scenario_path(&format!("{scenario}.toml"));
    let a = run_ok(&path, &format!("det-{scenario}-a"), &["--pods-csv"]);
    let b = run_ok_unchecked(&path, &format!("det-{scenario}-b"), &["--pods-csv"]);
    let c = run_ok(
        &path,
        &format!("det-{scenario}-c"),
        &["--pods-csv", "--seed", "12"],
    );
    assert_eq!(files(&a), files(&b));
    for name in expected {
        assert!(files(&a).iter().any(|f| f == name), "{name} not written");
    }
    assert!(
        files(&a).iter().any(|f| f.ends_with(".png"))
            && files(&a).iter().any(|f| f.ends_with(".svg"))
    );
    for name in files(&a) {
        if name == "summary.json" {
            assert_eq!(summary_without_run(&a), summary_without_run(&b));
        } else {
            assert!(read(&a, &name) == read(&b, &name), "{name} differs");
        }
    }
    for name in seed_sensitive {
        assert!(
            read(&a, name) != read(&c, name),
            "{name} is the same with another seed"
        );
    }
    assert_ne!(summary_without_run(&a), summary_without_run(&c));
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_does_not() {
    check_determinism("small", &["pods.csv", "timeline.csv"], &["pods.csv"]);
}

/// Stores draw fsync and round-trip times from the seed, and background writes
/// are aggregated per tick: `control_plane.csv` and its plots must be
/// reproducible too.
#[test]
fn control_plane_outputs_are_identical_for_a_seed_and_differ_for_another() {
    check_determinism(
        "control-plane",
        &[
            "pods.csv",
            "timeline.csv",
            "control_plane.csv",
            "control_plane_stores.png",
            "control_plane_utilization.svg",
        ],
        &["pods.csv", "control_plane.csv"],
    );
}

/// Controllers draw from their own streams (which nodes a change deletes),
/// pools from theirs (provisioning delays): a living cluster's outputs are
/// reproducible too, and the seed moves them.
#[test]
fn a_living_clusters_outputs_are_identical_for_a_seed_and_differ_for_another() {
    check_determinism(
        "living",
        &["pods.csv", "timeline.csv", "node_pools.csv"],
        &["pods.csv", "timeline.csv"],
    );
}

/// Loads with Poisson noise, execution arrivals and durations, and the
/// autoscalers' decisions come from labelled streams: reproducible, and the
/// seed moves them.
#[test]
fn workload_autoscaling_outputs_are_identical_for_a_seed_and_differ_for_another() {
    check_determinism(
        "autoscaling",
        &[
            "workloads.csv",
            "decisions.csv",
            "pods.csv",
            "workload_replicas.png",
            "workload_queues.svg",
        ],
        &["workloads.csv", "decisions.csv"],
    );
}

/// The Cluster Autoscaler's choices (provisioning delays, arrivals, the
/// expander's random tie-break) come from labelled streams.
#[test]
fn node_autoscaling_outputs_are_identical_for_a_seed_and_differ_for_another() {
    check_determinism(
        "node-autoscaling",
        &[
            "decisions.csv",
            "node_pools.csv",
            "pods.csv",
            "allocation.png",
        ],
        &["decisions.csv", "node_pools.csv"],
    );
}

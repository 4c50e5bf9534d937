//! Golden tests: small scenarios whose outputs are kept verbatim under
//! `tests/golden/<scenario>/`: every CSV file and `summary.json` without its
//! `run` object. After an intended change of results, re-bless with
//! `KSIM_BLESS=1 cargo test --release -p ksim-cli --test golden` (or
//! `just bless`) and review the diff, which shows the rows that changed.

mod common;
use common::*;
use std::path::Path;

/// Runs the scenario and compares its summary and `csv_files`, which must be
/// exactly the CSV files the run writes, with the golden copies.
fn check_golden(scenario: &str, csv_files: &[&str]) {
    let out = run_ok(
        &scenario_path(&format!("{scenario}.toml")),
        &format!("golden-{scenario}"),
        &["--pods-csv", "--no-plots"],
    );
    let mut expected_files = csv_files.to_vec();
    expected_files.sort_unstable();
    assert_eq!(
        files_in(&out, |name| name.ends_with(".csv")),
        expected_files,
        "CSV files written for `{scenario}`"
    );
    let mut actual = vec![("summary.json".to_string(), summary_without_run(&out))];
    for file in csv_files {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        actual.push((file.to_string(), text));
    }
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(scenario);
    if std::env::var_os("KSIM_BLESS").is_some() {
        bless(&golden_dir, &actual);
        return;
    }
    let mut golden_files: Vec<String> = actual.iter().map(|(name, _)| name.clone()).collect();
    golden_files.sort_unstable();
    assert_eq!(
        files_in(&golden_dir, |_| true),
        golden_files,
        "golden files of `{scenario}`; re-bless (just bless) if the outputs changed on purpose"
    );
    for (name, text) in &actual {
        let golden = std::fs::read_to_string(golden_dir.join(name)).unwrap();
        if let Some(difference) = first_difference(&golden, text) {
            panic!(
                "tests/golden/{scenario}/{name}:{difference}\n\
                 re-bless (just bless) if this change is intended, and review the diff"
            );
        }
    }
}

/// Writes the golden files and removes any other file from the directory.
fn bless(golden_dir: &Path, files: &[(String, String)]) {
    std::fs::create_dir_all(golden_dir).unwrap();
    for stale in files_in(golden_dir, |name| files.iter().all(|(f, _)| f != name)) {
        std::fs::remove_file(golden_dir.join(stale)).unwrap();
    }
    for (name, text) in files {
        std::fs::write(golden_dir.join(name), text).unwrap();
    }
}

/// `line: expected ..., got ...` for the first line that differs, with
/// 1-based line numbers; None when the texts are equal.
fn first_difference(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut expected_lines = expected.split_inclusive('\n');
    let mut actual_lines = actual.split_inclusive('\n');
    let mut line = 1;
    loop {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(e), Some(a)) if e == a => line += 1,
            (e, a) => {
                let show =
                    |l: Option<&str>| l.map_or("end of file".to_string(), |l| format!("{l:?}"));
                return Some(format!(
                    "{line}: first difference\n  expected: {}\n  actual:   {}",
                    show(e),
                    show(a)
                ));
            }
        }
    }
}

/// Sorted names of the files in `dir` that `keep` selects.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with KSIM_BLESS=1 to create the golden files",
                dir.display()
            )
        })
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| keep(name))
        .collect();
    names.sort();
    names
}

#[test]
fn first_difference_names_the_line_and_both_versions() {
    assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
    let changed = first_difference("a\nb\nc\n", "a\nB\nc\n").unwrap();
    assert!(
        changed.starts_with("2: ") && changed.contains("\"b\\n\"") && changed.contains("\"B\\n\""),
        "{changed}"
    );
    let shorter = first_difference("a\nb\n", "a\n").unwrap();
    assert!(
        shorter.starts_with("2: ") && shorter.contains("end of file"),
        "{shorter}"
    );
    let no_newline = first_difference("a\n", "a").unwrap();
    assert!(no_newline.starts_with("1: "), "{no_newline}");
}

#[test]
fn golden_small_kube_mode() {
    check_golden("small", &["timeline.csv", "node_pools.csv", "pods.csv"]);
}

#[test]
fn golden_fast_mode() {
    check_golden("fast", &["timeline.csv", "node_pools.csv", "pods.csv"]);
}

/// Scripted changes through the controller seam: a pool that starts empty
/// and grows, cordons, deletions, a deployment scaled up and down, readiness
/// delays and graceful termination; `node_pools.csv` and the cost.
#[test]
fn golden_living_cluster() {
    check_golden("living", &["timeline.csv", "node_pools.csv", "pods.csv"]);
}

/// Workload autoscaling: an HPA with a behavior on a service under noisy
/// diurnal load, workers scaled from and to zero by a KEDA-style
/// ScaledObject: `workloads.csv`, `decisions.csv` and the summary's
/// `workloads`.
#[test]
fn golden_workload_autoscaling() {
    check_golden(
        "autoscaling",
        &[
            "timeline.csv",
            "node_pools.csv",
            "pods.csv",
            "workloads.csv",
            "decisions.csv",
        ],
    );
}

/// Leases and events in stores of their own, a Service with churn, a node
/// failure with evictions: the control-plane summary and `control_plane.csv`.
#[test]
fn golden_control_plane() {
    check_golden(
        "control-plane",
        &[
            "timeline.csv",
            "node_pools.csv",
            "pods.csv",
            "control_plane.csv",
        ],
    );
}

/// The Cluster Autoscaler: two groups chosen by least-waste, a DaemonSet, a
/// burst that grows the cluster and leaves it, pods that block scale-down,
/// a pod no group fits: `decisions.csv` and the summary's `node_autoscaler`.
#[test]
fn golden_node_autoscaling() {
    check_golden(
        "node-autoscaling",
        &[
            "timeline.csv",
            "node_pools.csv",
            "node_autoscaler.csv",
            "pods.csv",
            "decisions.csv",
        ],
    );
}

//! Golden tests: small scenarios whose summary (verbatim, without its `run`
//! object) and CSV checksums are kept under `tests/golden/`. After an intended
//! change of results, re-bless with `KSIM_BLESS=1 cargo test --release -p ksim-cli --test golden`
//! (or `just bless`) and review the diff.

mod common;
use common::*;
use std::path::Path;

/// Runs the scenario and compares its summary and the checksums of `csv_files`
/// (in this order), which must be exactly the CSV files the run writes.
fn check_golden(scenario: &str, csv_files: &[&str]) {
    let out = run_ok(
        &scenario_path(&format!("{scenario}.toml")),
        &format!("golden-{scenario}"),
        &["--pods-csv", "--no-plots"],
    );
    let mut expected_files = csv_files.to_vec();
    expected_files.sort_unstable();
    assert_eq!(
        csv_files_in(&out),
        expected_files,
        "CSV files written for `{scenario}`"
    );
    let summary = summary_without_run(&out);
    let mut checksums = String::new();
    for file in csv_files {
        let bytes = std::fs::read(out.join(file)).unwrap();
        let rows = bytes.iter().filter(|&&b| b == b'\n').count();
        checksums.push_str(&format!("{file} {} {rows} lines\n", checksum(&bytes)));
    }
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(scenario);
    if std::env::var_os("KSIM_BLESS").is_some() {
        std::fs::create_dir_all(&golden_dir).unwrap();
        std::fs::write(golden_dir.join("summary.json"), &summary).unwrap();
        std::fs::write(golden_dir.join("checksums.txt"), &checksums).unwrap();
        return;
    }
    let read = |f: &str| {
        std::fs::read_to_string(golden_dir.join(f)).unwrap_or_else(|_| {
            panic!("missing golden {scenario}/{f}; run with KSIM_BLESS=1 to create it")
        })
    };
    assert_eq!(
        summary,
        read("summary.json"),
        "summary of `{scenario}` changed; re-bless if intended"
    );
    assert_eq!(
        checksums,
        read("checksums.txt"),
        "CSV outputs of `{scenario}` changed; re-bless if intended"
    );
}

/// Sorted names of the CSV files in `dir`.
fn csv_files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".csv"))
        .collect();
    names.sort();
    names
}

#[test]
fn golden_small_kube_mode() {
    check_golden("small", &["timeline.csv", "pods.csv"]);
}

#[test]
fn golden_fast_mode() {
    check_golden("fast", &["timeline.csv", "pods.csv"]);
}

/// Leases and events in stores of their own, a Service with churn, a node
/// failure with evictions: the control-plane summary and `control_plane.csv`.
#[test]
fn golden_control_plane() {
    check_golden(
        "control-plane",
        &["timeline.csv", "pods.csv", "control_plane.csv"],
    );
}

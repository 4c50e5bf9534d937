//! `ksim` under adverse conditions: stdout closed early or full, output
//! directories left by interrupted runs or not creatable, runs that would
//! outgrow memory; and `--check-invariants`.

mod common;
use common::*;

#[test]
fn check_invariants_is_accepted_and_the_run_succeeds() {
    let out_dir = temp_dir("check-invariants").join("out");
    let out = ksim(&[
        "run",
        &repo_path("scenarios/quickstart.toml"),
        "--out",
        out_dir.to_str().unwrap(),
        "--no-plots",
        "--check-invariants",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out_dir.join("summary.json").exists());
}

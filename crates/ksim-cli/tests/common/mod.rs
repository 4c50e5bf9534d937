//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn ksim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksim"))
        .args(args)
        .output()
        .expect("ksim binary runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh, empty directory under the system temp dir, unique per test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ksim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn scenario_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
        .display()
        .to_string()
}

pub fn repo_path(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
        .display()
        .to_string()
}

/// summary.json without its `run` object (wall time, events/s, version), which measures the machine.
pub fn summary_without_run(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    ksim_output::summary_without_run(&text).unwrap()
}

/// Runs a scenario into a fresh directory with the invariant checker on
/// (`--check-invariants`: the run stops at the first broken invariant) and
/// asserts success.
pub fn run_ok(scenario: &str, name: &str, extra: &[&str]) -> PathBuf {
    run_ok_with(scenario, name, &[&["--check-invariants"], extra].concat())
}

/// Like [`run_ok`] without the invariant checker, to show it changes no output.
pub fn run_ok_unchecked(scenario: &str, name: &str, extra: &[&str]) -> PathBuf {
    run_ok_with(scenario, name, extra)
}

fn run_ok_with(scenario: &str, name: &str, extra: &[&str]) -> PathBuf {
    let dir = temp_dir(name);
    let out = dir.join("out");
    let mut args = vec!["run", scenario, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let result = ksim(&args);
    assert!(
        result.status.success(),
        "ksim {args:?} failed:\n{}",
        stderr(&result)
    );
    out
}

/// Writes a scenario into a fresh directory; returns its path.
pub fn write_scenario(name: &str, text: &str) -> String {
    let path = temp_dir(name).join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Runs a scenario with a 1 GiB memory limit and asserts it is refused
/// cleanly (non-zero exit, no panic) with nothing written; returns stderr.
pub fn refused_for_memory(scenario: &str, name: &str) -> String {
    let out_dir = temp_dir(&format!("{name}-out")).join("out");
    let out = ksim(&[
        "run",
        scenario,
        "--out",
        out_dir.to_str().unwrap(),
        "--max-memory-gib",
        "1",
    ]);
    let err = stderr(&out);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    assert!(!out_dir.exists(), "nothing written for a refused run");
    err
}

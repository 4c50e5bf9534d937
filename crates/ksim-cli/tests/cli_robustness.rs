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

fn run_quickstart(out_dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let scenario = repo_path("scenarios/quickstart.toml");
    let mut args = vec!["run", &scenario, "--out", out_dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    ksim(&args)
}

/// An interrupt (Ctrl-C) during the write phase leaves some final files, maybe
/// a partial one, and no summary.json, which is written last: a rerun names
/// the state it found instead of mixing two runs, and --force replaces it.
#[test]
fn an_interrupted_output_directory_is_named_and_replaced_only_with_force() {
    let out_dir = temp_dir("interrupted").join("out");
    let complete = run_quickstart(&out_dir, &["--no-plots", "--check-invariants"]);
    assert!(complete.status.success(), "{}", stderr(&complete));
    std::fs::remove_file(out_dir.join("summary.json")).unwrap();
    std::fs::write(out_dir.join(".allocation.partial.png"), "half").unwrap();
    let timeline = std::fs::read(out_dir.join("timeline.csv")).unwrap();

    let refused = run_quickstart(&out_dir, &["--no-plots"]);
    let err = stderr(&refused);
    assert!(
        !refused.status.success() && !err.contains("panicked"),
        "{err}"
    );
    for needed in ["no summary.json", "interrupted", "--force"] {
        assert!(err.contains(needed), "{err}");
    }
    assert_eq!(
        std::fs::read(out_dir.join("timeline.csv")).unwrap(),
        timeline
    );
    assert!(!out_dir.join("summary.json").exists());

    let replaced = run_quickstart(&out_dir, &["--no-plots", "--check-invariants", "--force"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    assert!(out_dir.join("summary.json").exists());
    assert!(!out_dir.join(".allocation.partial.png").exists());
}

/// An error whose message also shows its source printed the OS error twice
/// ("(os error 20): Not a directory (os error 20)"). A path under a regular
/// file fails even for root, unlike a permission.
#[test]
fn an_uncreatable_output_directory_shows_the_os_error_once() {
    let file = temp_dir("under-a-file").join("file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = run_quickstart(&file.join("out"), &["--no-plots"]);
    let err = stderr(&out);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert_eq!(err.matches("(os error").count(), 1, "{err}");
}

/// Runs ksim with stdout a pipe whose reader reads `lines` lines and then
/// closes, as `ksim ... | head -n LINES` does; with 0 lines the reader is
/// closed before ksim starts, so its first write finds no reader. Returns the
/// lines read and ksim's output.
fn with_stdout_closed_after(args: &[&str], lines: usize) -> (Vec<String>, std::process::Output) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let (reader, writer) = std::io::pipe().unwrap();
    let mut reader = (lines > 0).then(|| std::io::BufReader::new(reader));
    let child = Command::new(env!("CARGO_BIN_EXE_ksim"))
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut read = Vec::new();
    if let Some(reader) = reader.as_mut() {
        for _ in 0..lines {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            read.push(line);
        }
    }
    drop(reader);
    (read, child.wait_with_output().unwrap())
}

fn assert_quiet_success(out: &std::process::Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(err.is_empty(), "{err}");
}

/// `ksim validate x | head -1` panicked on the broken pipe.
#[test]
fn validate_with_stdout_closed_early_exits_quietly() {
    let scenario = repo_path("scenarios/quickstart.toml");
    let (lines, out) = with_stdout_closed_after(&["validate", &scenario], 1);
    assert_eq!(lines, [format!("{scenario}: ok\n")]);
    assert_quiet_success(&out);
    let (_, out) = with_stdout_closed_after(&["validate", &scenario], 0);
    assert_quiet_success(&out);
}

/// `ksim run ... | head -1`: the results are written and the run ends
/// quietly, although nobody reads what it prints.
#[test]
fn run_with_stdout_closed_exits_quietly_after_writing_its_results() {
    let out_dir = temp_dir("closed-stdout").join("out");
    let scenario = repo_path("scenarios/quickstart.toml");
    let args = [
        "run",
        &scenario,
        "--out",
        out_dir.to_str().unwrap(),
        "--no-plots",
    ];
    let (_, out) = with_stdout_closed_after(&args, 0);
    assert_quiet_success(&out);
    assert!(out_dir.join("summary.json").exists());
}

/// `ksim validate > /dev/full` panicked; it is an error like any other.
#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        println!("skipped: no /dev/full on this system");
        return;
    }
    let scenario = repo_path("scenarios/quickstart.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ksim"))
        .args(["validate", &scenario])
        .stdout(std::fs::File::create(full).unwrap())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    assert!(
        err.contains("error: writing to stdout: No space left on device"),
        "{err}"
    );
}

const TWO_NODES: &str = r#"
[[node_pools]]
name = "p"
count = 2
cpu = "4"
memory = "16Gi"
"#;

/// The estimated memory `ksim validate` prints, in MiB.
fn validated_estimate_mib(scenario: &str) -> f64 {
    let out = ksim(&["validate", scenario]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("estimated memory: "))
        .unwrap_or_else(|| panic!("no estimate in:\n{stdout}"));
    line.split(' ').next().unwrap().parse().unwrap()
}

/// Fuzzing found three scenarios that `ksim validate` estimated at about
/// 0 MiB and that then aborted on allocation. Each is now estimated by what
/// it grows, and refused up front when that exceeds the limit.
fn check_refused_up_front(name: &str, text: &str, grows: &str) {
    let scenario = write_scenario(name, text);
    let mib = validated_estimate_mib(&scenario);
    assert!(mib > 2048.0, "{name}: estimated {mib} MiB");
    let err = refused_for_memory(&scenario, name);
    for needed in [
        "would need about",
        grows,
        "1.0 GiB is available",
        "--max-memory-gib",
    ] {
        assert!(err.contains(needed), "{name}: no {needed:?} in {err}");
    }
}

#[test]
fn a_timeline_row_every_nanosecond_is_refused_up_front() {
    let text = format!(
        "[simulation]\nname = \"every-nanosecond\"\nduration = \"10m\"\nsample_interval = \"1ns\"\n{TWO_NODES}"
    );
    check_refused_up_front("every-nanosecond", &text, "600000000000 timeline rows");
}

#[test]
fn pods_replaced_every_nanosecond_are_refused_up_front() {
    let text = format!(
        r#"[simulation]
name = "short-lives"
duration = "24h"
{TWO_NODES}
[[workloads]]
name = "w"
kind = "deployment"
replicas = 3
pod_lifetime = "1ns"
[workloads.pod]
cpu = "1"
memory = "1Gi"
"#
    );
    check_refused_up_front("short-lives", &text, "about 86400004 pods");
}

#[test]
fn a_storm_of_node_failures_is_refused_up_front() {
    let text = format!(
        r#"[simulation]
name = "failure-storm"
duration = "10m"
{TWO_NODES}
[[node_failure_rates]]
pool = "p"
per_hour = 1e12
recover_after = "1ns"
"#
    );
    check_refused_up_front("failure-storm", &text, "pending events");
}

/// Pods lost to node failures are replaced, which the estimate does not
/// foresee: nodes failing for a second, many times a second, make a
/// deployment of 200 pods grow by hundreds of replacements a second. The
/// run is stopped when it outgrows the limit, with what it holds.
#[test]
fn a_run_outgrowing_its_limit_is_stopped_with_what_it_holds() {
    let scenario = write_scenario(
        "evictions",
        r#"[simulation]
name = "evictions"
duration = "24h"
sample_interval = "1m"

[[node_pools]]
name = "p"
count = 20
cpu = "16"
memory = "64Gi"

[[workloads]]
name = "w"
kind = "deployment"
replicas = 200
[workloads.pod]
cpu = "100m"
memory = "100Mi"

[[node_failure_rates]]
pool = "p"
per_hour = 360000
recover_after = "1s"
"#,
    );
    let limit_mib = 20.0;
    let estimate_mib = validated_estimate_mib(&scenario);
    assert!(estimate_mib < limit_mib, "estimated {estimate_mib} MiB");
    let out_dir = temp_dir("evictions-out").join("out");
    let out = ksim(&[
        "run",
        &scenario,
        "--out",
        out_dir.to_str().unwrap(),
        "--no-plots",
        "--max-memory-gib",
        &(limit_mib / 1024.0).to_string(),
    ]);
    let err = stderr(&out);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    for needed in [
        "the run grew past",
        "at simulated time",
        "pods",
        "pending events",
        "timeline rows",
        "--max-memory-gib",
    ] {
        assert!(err.contains(needed), "no {needed:?} in {err}");
    }
    assert!(!out_dir.join("summary.json").exists());
}

#[test]
fn max_memory_gib_must_be_a_positive_number() {
    for bad in ["0", "-1", "NaN", "inf", "lots"] {
        let out = ksim(&["run", "x.toml", &format!("--max-memory-gib={bad}")]);
        let err = stderr(&out);
        assert!(!out.status.success() && !err.contains("panicked"), "{err}");
        assert!(err.contains("above zero"), "{bad}: {err}");
    }
}

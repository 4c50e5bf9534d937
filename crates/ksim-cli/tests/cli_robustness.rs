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

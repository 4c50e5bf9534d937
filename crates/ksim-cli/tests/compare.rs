//! `ksim compare`, `sweep`, `merge` and `report`: identical variants agree,
//! seeds matter, common random numbers, thread count and sharding change no
//! output, and bad input is refused with a clear message.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn compare_scenario() -> String {
    scenario_path("compare-small.toml")
}

/// Runs ksim with `args` and asserts success.
fn ok<S: AsRef<str>>(args: &[S]) -> String {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let out = ksim(&args);
    assert!(
        out.status.success(),
        "ksim {args:?} failed:\n{}",
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs ksim with `args`, asserts failure and returns stderr.
fn fails<S: AsRef<str>>(args: &[S]) -> String {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let out = ksim(&args);
    assert!(!out.status.success(), "ksim {args:?} succeeded");
    stderr(&out)
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// The bytes of a file, a summary without its `run` object (wall time).
fn content(dir: &Path, file: &Path) -> Vec<u8> {
    if file.file_name().unwrap() == "summary.json" {
        summary_without_run(&dir.join(file.parent().unwrap())).into_bytes()
    } else {
        std::fs::read(dir.join(file)).unwrap()
    }
}

fn assert_same_outputs(a: &Path, b: &Path) {
    let files = tree(a);
    assert_eq!(
        files,
        tree(b),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for file in &files {
        assert!(
            content(a, file) == content(b, file),
            "{} differs",
            file.display()
        );
    }
}

fn run_files(dir: &Path, run: &str) -> Vec<u8> {
    let run = dir.join("runs").join(run);
    [
        summary_without_run(&run).into_bytes(),
        std::fs::read(run.join("timeline.csv")).unwrap(),
    ]
    .concat()
}

#[test]
fn identical_variants_agree_a_seed_changes_results_and_threads_change_nothing() {
    let one = temp_dir("cmp-threads-1");
    let two = temp_dir("cmp-threads-2");
    let scenario = compare_scenario();
    for (dir, threads) in [(&one, "1"), (&two, "2")] {
        ok(&[
            "compare",
            &scenario,
            "--out",
            dir.to_str().unwrap(),
            "--seeds",
            "2",
            "--threads",
            threads,
            "--force",
        ]);
    }
    assert_same_outputs(&one, &two);
    // `same` is the baseline unchanged; `other-seed` differs in its seed only.
    assert_eq!(
        run_files(&one, "v000-seed11"),
        run_files(&one, "v001-seed11")
    );
    assert_ne!(
        run_files(&one, "v000-seed11"),
        run_files(&one, "v002-seed99")
    );
    let csv = std::fs::read_to_string(one.join("comparison.csv")).unwrap();
    let same: Vec<&str> = csv.lines().filter(|l| l.starts_with("same,")).collect();
    assert!(!same.is_empty());
    for line in same {
        let diff = line.split(',').nth(7).unwrap();
        assert!(diff.is_empty() || diff == "0.000000", "{line}");
    }
    assert!(
        csv.contains("scheduling_latency_ms.p99,pooled,2,"),
        "pooled latency rows"
    );
    // `ksim report` rebuilds the same files from the runs.
    let before = std::fs::read(one.join("report.html")).unwrap();
    std::fs::remove_file(one.join("report.html")).unwrap();
    ok(&["report", one.to_str().unwrap()]);
    assert!(std::fs::read(one.join("report.html")).unwrap() == before);
}

/// Random streams are labelled by component: a variant with fewer nodes
/// gets the same job arrivals as the baseline for the same seed (common
/// random numbers), up to the first node failure, after which lost pods are
/// replaced differently.
#[test]
fn variants_share_arrivals_for_a_seed() {
    let variants = ksim_scenario::load_variants(Path::new(&compare_scenario())).unwrap();
    assert_eq!(variants[3].name, "fewer-nodes");
    let first_failure = ksim_core::time::SimTime(120 * 1_000_000_000);
    let batch_arrivals = |i: usize| {
        let mut config = variants[i].scenario.config.clone();
        config.record_pods = true;
        let output = ksim_core::sim::Simulation::new(config)
            .unwrap()
            .run()
            .unwrap();
        let batch = output
            .workload_names
            .iter()
            .position(|n| n == "batch")
            .unwrap();
        let mut created: Vec<_> = output
            .pods
            .unwrap()
            .iter()
            .filter(|p| p.workload as usize == batch && p.created < first_failure)
            .map(|p| p.created)
            .collect();
        created.sort();
        (created, output.summary)
    };
    let (base, base_summary) = batch_arrivals(0);
    let (fewer, fewer_summary) = batch_arrivals(3);
    assert!(base.len() > 100, "{} arrivals", base.len());
    assert_eq!(base, fewer);
    assert_ne!(base_summary.pods_running, fewer_summary.pods_running);
}

#[test]
fn merging_shards_gives_the_unsharded_outputs() {
    let scenario = compare_scenario();
    let whole = temp_dir("sweep-whole");
    let sets = [
        "--set",
        "node_pools[1].count=3,4",
        "--set",
        "scheduler.mode=kube,fast",
    ];
    let grid = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            scenario.as_str(),
            "--out",
            out.to_str().unwrap(),
            "--seeds",
            "2",
            "--force",
        ];
        args.extend_from_slice(&sets);
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    ok(&grid(&whole, &[]));
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| temp_dir(&format!("sweep-shard-{i}")))
        .collect();
    ok(&grid(&shards[0], &["--shard", "0/3"]));
    ok(&grid(&shards[1], &["--shard", "1/3"]));
    // The index from a Kubernetes Indexed Job.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ksim"))
        .args(grid(&shards[2], &["--shard", "3"]))
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !shards[0].join("comparison.csv").exists(),
        "a shard compares nothing"
    );
    let merged = temp_dir("sweep-merged");
    let mut args = vec!["merge".to_string()];
    args.extend(shards.iter().map(|s| s.display().to_string()));
    args.extend([
        "--out".to_string(),
        merged.display().to_string(),
        "--force".to_string(),
    ]);
    ok(&args);
    assert_same_outputs(&whole, &merged);
    let csv = std::fs::read_to_string(whole.join("comparison.csv")).unwrap();
    assert!(
        csv.contains("base node_pools[1].count=4 scheduler.mode=fast,"),
        "{csv}"
    );

    // A missing shard, a shard twice, another scenario's shard.
    let err = fails(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--force",
    ]);
    assert!(err.contains("shard 2/3 is missing"), "{err}");
    let err = fails(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--force",
    ]);
    assert!(err.contains("are both shard 0/3"), "{err}");
    let other = temp_dir("sweep-other");
    let other_sets: Vec<String> = grid(&other, &["--shard", "2/3"])
        .into_iter()
        .map(|a| a.replace("=3,4", "=3,5"))
        .collect();
    ok(&other_sets);
    let err = fails(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        other.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--force",
    ]);
    assert!(
        err.contains("the scenarios (their inputs' fingerprints) differ"),
        "{err}"
    );
    // Another ksim version.
    let manifest = shards[2].join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("\"ksim_version\": \"", "\"ksim_version\": \"9"),
    )
    .unwrap();
    let err = fails(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        shards[2].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--force",
    ]);
    assert!(err.contains("ksim versions"), "{err}");
}

#[test]
fn bad_grid_input_is_refused_with_a_clear_message() {
    let scenario = compare_scenario();
    let out = temp_dir("cmp-bad");
    let out = out.to_str().unwrap();
    let err = fails(&[
        "sweep",
        &scenario,
        "--out",
        out,
        "--set",
        "node_pools[0].count=3",
        "--shard",
        "3/3",
    ]);
    assert!(err.contains("index 3 is out of range"), "{err}");
    let err = fails(&[
        "sweep",
        &scenario,
        "--out",
        out,
        "--set",
        "node_pools[0].count=3,many",
    ]);
    assert!(
        err.contains("node_pools[0].count: expected an integer, found a string"),
        "{err}"
    );
    let err = fails(&[
        "sweep",
        &scenario,
        "--out",
        out,
        "--set",
        "simulation.sed=3",
    ]);
    assert!(err.contains("did you mean `seed`?"), "{err}");
    let err = fails(&[
        "compare",
        &scenario,
        "--out",
        out,
        "--max-memory-gib",
        "0.000001",
    ]);
    assert!(err.contains("per run but only"), "{err}");
    // 400 million nodes need about 60 GiB per run: more than the machine has.
    let err = fails(&[
        "sweep",
        &scenario,
        "--out",
        out,
        "--set",
        "node_pools[0].count=400000000",
    ]);
    assert!(err.contains("per run but only"), "{err}");
    // The same scenario twice: two variants of one name.
    let small = scenario_path("small.toml");
    let err = fails(&["compare", &small, &small, "--out", out]);
    assert!(err.contains("two variants are named `small`"), "{err}");
    let dir = temp_dir("cmp-bad-variants");
    let file = dir.join("bad.toml");
    let base = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&file, format!("{base}\n[[variants]]\nname = \"base\"\n")).unwrap();
    let err = fails(&["compare", file.to_str().unwrap(), "--out", out]);
    assert!(err.contains("duplicate variant name `base`"), "{err}");
    let typo = "[[variants]]\nname = \"typo\"\noverrides = { schedular.mode = \"fast\" }\n";
    std::fs::write(&file, format!("{base}\n{typo}")).unwrap();
    let err = fails(&["compare", file.to_str().unwrap(), "--out", out]);
    let line = base.lines().count() + 4;
    assert!(err.contains(&format!("bad.toml:{line}:")), "{err}");
    assert!(
        err.contains("unknown key `schedular`: did you mean `scheduler`?"),
        "{err}"
    );
    assert!(err.contains("(in variant `typo`)"), "{err}");
}

#[test]
fn two_scenario_files_compare_whole() {
    let out = temp_dir("cmp-two-files");
    ok(&[
        "compare",
        &scenario_path("small.toml"),
        &scenario_path("fast.toml"),
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"small\"") && manifest.contains("\"fast\""),
        "{manifest}"
    );
    assert!(out.join("report.html").exists());
}

//! End-to-end tests of `prepare_out_dir` and `write_run` on a small,
//! hand-built run.

mod common;

use std::fs;

use common::*;
use ksim_core::histogram::LatencyHistogram;
use ksim_core::metrics::{RunOutput, TimelineSample};
use ksim_output::{prepare_out_dir, summary_without_run, write_run, OutputError, WriteOptions};

#[test]
fn timeline_csv_has_the_header_and_fixed_precision_values() {
    let dir = TempDir::new("timeline");
    write_run(dir.path(), &small_run(), &info(1.0), &DATA_ONLY).unwrap();
    let (header, rows) = read_csv(&dir.path().join("timeline.csv"));
    assert_eq!(
        header.join(","),
        "time_s,nodes_total,nodes_ready,nodes_provisioning,nodes_not_ready,nodes_cordoned,\
         nodes_draining,pods_pending,pods_running,pods_succeeded,pods_failed,\
         pods_unschedulable,cpu_requested_millis,cpu_allocatable_millis,memory_requested_bytes,\
         memory_allocatable_bytes,scheduling_attempts,binds,scheduling_latency_p50_ms,\
         scheduling_latency_p99_ms"
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1].join(","),
        "30.000,3,2,0,1,0,0,1,2,1,0,0,1000,6000,2147483648,25769803776,7,4,1.235,"
    );
    assert_eq!(rows[2][0], "60.500");
}

#[test]
fn pods_csv_has_names_empty_cells_and_quoting() {
    let dir = TempDir::new("pods");
    write_run(dir.path(), &small_run(), &info(1.0), &DATA_ONLY).unwrap();
    let (header, rows) = read_csv(&dir.path().join("pods.csv"));
    assert_eq!(
        header.join(","),
        "pod_id,workload,created_s,bound_s,started_s,finished_s,node,phase"
    );
    assert_eq!(
        rows[0],
        [
            "0",
            "web",
            "1.000000",
            "1.000250",
            "3.000000",
            "10.000000",
            "2",
            "Succeeded"
        ]
    );
    assert_eq!(
        rows[1],
        ["1", "big, batch", "2.000000", "", "", "", "", "Pending"]
    );
    let raw = fs::read_to_string(dir.path().join("pods.csv")).unwrap();
    assert!(raw.contains("\"big, batch\""), "{raw}");
}

#[test]
fn pods_csv_is_written_only_when_asked_for_and_recorded() {
    let not_asked = TempDir::new("pods-not-asked");
    let options = WriteOptions {
        pods_csv: false,
        plots: false,
    };
    write_run(not_asked.path(), &small_run(), &info(1.0), &options).unwrap();
    assert_eq!(
        not_asked.names(),
        ["node_pools.csv", "summary.json", "timeline.csv"]
    );

    let not_recorded = TempDir::new("pods-not-recorded");
    let mut run = small_run();
    run.pods = None;
    write_run(not_recorded.path(), &run, &info(1.0), &DATA_ONLY).unwrap();
    assert_eq!(
        not_recorded.names(),
        ["node_pools.csv", "summary.json", "timeline.csv"]
    );
}

#[test]
fn summary_json_has_every_field_in_order_with_run_last() {
    let dir = TempDir::new("summary");
    write_run(dir.path(), &small_run(), &info(2.5), &DATA_ONLY).unwrap();
    let text = fs::read_to_string(dir.path().join("summary.json")).unwrap();
    let keys = [
        "\"scenario\"",
        "\"seed\"",
        "\"simulated_span_s\"",
        "\"nodes_total\"",
        "\"pods_total\"",
        "\"pods_by_phase\"",
        "\"events_processed\"",
        "\"scheduling_attempts\"",
        "\"binds\"",
        "\"node_failures\"",
        "\"pods_evicted\"",
        "\"scheduling_latency_ms\"",
        "\"unschedulable\"",
        "\"run\"",
    ];
    let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");

    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["scenario"], "small");
    assert_eq!(json["seed"], 42);
    assert_eq!(json["simulated_span_s"], 60.5);
    assert_eq!(json["pods_by_phase"]["pending"], 1);
    assert_eq!(json["pods_by_phase"]["succeeded"], 1);
    assert_eq!(json["events_processed"], 99);
    assert_eq!(json["node_failures"], 1);
    assert_eq!(json["pods_evicted"], 2);
    let latency = &json["scheduling_latency_ms"];
    assert_eq!(latency["count"], 4);
    assert_eq!(latency["max"], 15_000.0);
    let p50 = latency["p50"].as_f64().unwrap();
    assert!((p50 - 40.0).abs() / 40.0 < 0.03, "p50 {p50}");
    assert_eq!(json["unschedulable"][0]["workload"], "big, batch");
    assert_eq!(json["unschedulable"][0]["never_fits"], true);
    assert_eq!(json["unschedulable"][0]["reason"], "Insufficient cpu");
    assert_eq!(json["run"]["wall_time_s"], 2.5);
    assert_eq!(json["run"]["ksim_version"], "0.1.0-test");
}

#[test]
fn summary_latency_is_null_when_nothing_was_bound() {
    let dir = TempDir::new("summary-null");
    let mut run = small_run();
    run.summary.scheduling_latency = LatencyHistogram::default();
    write_run(dir.path(), &run, &info(1.0), &DATA_ONLY).unwrap();
    let text = fs::read_to_string(dir.path().join("summary.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(json["scheduling_latency_ms"].is_null(), "{text}");
}

#[test]
fn summaries_differ_only_in_the_run_object() {
    let (a, b) = (TempDir::new("same-a"), TempDir::new("same-b"));
    write_run(a.path(), &small_run(), &info(1.0), &DATA_ONLY).unwrap();
    write_run(b.path(), &small_run(), &info(9.0), &DATA_ONLY).unwrap();
    let read = |d: &TempDir| fs::read_to_string(d.path().join("summary.json")).unwrap();
    let (a, b) = (read(&a), read(&b));
    assert_ne!(a, b);
    assert_eq!(
        summary_without_run(&a).unwrap(),
        summary_without_run(&b).unwrap()
    );
    // The helper must still see everything else.
    let mut other = small_run();
    other.summary.seed = 43;
    let c = TempDir::new("same-c");
    write_run(c.path(), &other, &info(1.0), &DATA_ONLY).unwrap();
    assert_ne!(
        summary_without_run(&a).unwrap(),
        summary_without_run(&read(&c)).unwrap()
    );
    assert!(matches!(
        summary_without_run("[1]"),
        Err(OutputError::InvalidSummary(_))
    ));
}

#[test]
fn prepare_refuses_a_non_empty_directory_without_force() {
    let dir = TempDir::new("non-empty");
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = prepare_out_dir(dir.path(), false).unwrap_err();
    assert!(matches!(err, OutputError::NotEmpty { .. }));
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("--force"), "{message}");
}

#[test]
fn prepare_with_force_removes_stale_outputs_and_keeps_other_files() {
    let dir = TempDir::new("force");
    write_run(dir.path(), &small_run(), &info(1.0), &ALL).unwrap();
    fs::write(dir.path().join(".pods.partial.csv"), "half").unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    prepare_out_dir(dir.path(), true).unwrap();
    assert_eq!(dir.names(), ["notes.txt"]);

    let options = WriteOptions {
        pods_csv: false,
        plots: false,
    };
    write_run(dir.path(), &small_run(), &info(1.0), &options).unwrap();
    assert_eq!(
        dir.names(),
        [
            "node_pools.csv",
            "notes.txt",
            "summary.json",
            "timeline.csv"
        ]
    );
}

#[test]
fn prepare_accepts_empty_and_creates_missing_directories() {
    let dir = TempDir::new("missing");
    prepare_out_dir(dir.path(), false).unwrap();
    let nested = dir.path().join("a/b");
    prepare_out_dir(&nested, false).unwrap();
    assert!(nested.is_dir());
    assert!(fs::read_dir(&nested).unwrap().next().is_none());
}

#[test]
fn prepare_refuses_a_file_even_with_force() {
    let dir = TempDir::new("file");
    let file = dir.path().join("out");
    fs::write(&file, "x").unwrap();
    for force in [false, true] {
        let err = prepare_out_dir(&file, force).unwrap_err();
        assert!(matches!(err, OutputError::NotADirectory { .. }));
        assert!(err.to_string().contains(&file.display().to_string()));
    }
}

#[test]
fn write_run_returns_every_path_in_order_and_leaves_no_partial_files() {
    let dir = TempDir::new("paths");
    prepare_out_dir(dir.path(), false).unwrap();
    let written = write_run(dir.path(), &small_run(), &info(1.0), &ALL).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "timeline.csv",
            "node_pools.csv",
            "pods.csv",
            "pods_by_phase.png",
            "pods_by_phase.svg",
            "allocation.png",
            "allocation.svg",
            "scheduling_latency.png",
            "scheduling_latency.svg",
            "summary.json",
        ]
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(dir.names(), sorted);
}

#[test]
fn a_failed_file_leaves_neither_a_partial_nor_a_final_file() {
    let dir = TempDir::new("failed");
    let mut run = small_run();
    run.pods.as_mut().unwrap()[1].workload = 7;
    let err = write_run(dir.path(), &run, &info(1.0), &DATA_ONLY).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, OutputError::Data { .. }), "{message}");
    assert!(message.contains("pods.csv"), "{message}");
    assert_eq!(dir.names(), ["node_pools.csv", "timeline.csv"]);
}

#[test]
fn writing_into_a_missing_directory_is_an_error_naming_the_file() {
    let dir = TempDir::new("gone");
    let missing = dir.path().join("gone");
    let err = write_run(&missing, &small_run(), &info(1.0), &DATA_ONLY).unwrap_err();
    assert!(err.to_string().contains("timeline.csv"), "{err}");
}

fn plot_bytes(run: &RunOutput) -> Vec<(String, Vec<u8>)> {
    let dir = TempDir::new("plot-bytes");
    write_run(dir.path(), run, &info(1.0), &ALL)
        .unwrap()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "svg"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn plots_are_byte_for_byte_deterministic() {
    let first = plot_bytes(&small_run());
    let second = plot_bytes(&small_run());
    assert_eq!(first.len(), 6);
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        assert!(a == b, "{name} differs between identical runs");
    }
}

fn assert_plots_render(run: &RunOutput, expected_text: &[&str]) {
    let plots = plot_bytes(run);
    assert_eq!(plots.len(), 6);
    let mut svg_text = String::new();
    for (name, bytes) in &plots {
        if name.ends_with(".png") {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        } else {
            svg_text.push_str(std::str::from_utf8(bytes).unwrap());
        }
    }
    for text in expected_text {
        assert!(svg_text.contains(text), "no {text:?} in the SVGs");
    }
}

#[test]
fn degenerate_data_still_plots() {
    let mut single = small_run();
    single.timeline.truncate(1);
    assert_plots_render(&single, &["small: pods by phase"]);

    let mut zero_span = small_run();
    zero_span.timeline = vec![sample(secs(0), 0, 0), sample(secs(0), 0, 0)];
    assert_plots_render(&zero_span, &[]);

    let mut all_zero = small_run();
    for s in &mut all_zero.timeline {
        *s = TimelineSample {
            time: s.time,
            ..sample(secs(0), 0, 0)
        };
        s.nodes_total = 0;
        s.cpu_allocatable_millis = 0;
        s.memory_allocatable_bytes = 0;
    }
    assert_plots_render(&all_zero, &[]);

    let mut empty = small_run();
    empty.timeline.clear();
    empty.summary.scheduling_latency = LatencyHistogram::default();
    assert_plots_render(&empty, &["no pods bound", "no timeline samples"]);

    let mut instant = small_run();
    instant.summary.scheduling_latency = latency(&[0, 0]);
    assert_plots_render(&instant, &["under 1 µs drawn at 1 µs"]);
}

/// The summary vouches for the set: a write that fails partway (here a
/// directory squats on a plot's name) leaves the earlier files but no
/// summary.json, and the directory is then refused as an incomplete run.
#[test]
fn a_write_failing_partway_leaves_no_summary_and_reads_as_incomplete() {
    let dir = TempDir::new("partway");
    fs::create_dir(dir.path().join("allocation.png")).unwrap();
    let err = write_run(dir.path(), &small_run(), &info(1.0), &ALL).unwrap_err();
    assert!(err.to_string().contains("allocation.png"), "{err}");
    assert!(dir.path().join("timeline.csv").exists());
    assert!(!dir.path().join("summary.json").exists());
    let err = prepare_out_dir(dir.path(), false).unwrap_err();
    assert!(matches!(err, OutputError::Incomplete { .. }), "{err}");
}

/// What an interrupt (Ctrl-C) during the write phase leaves: some final
/// files, maybe a partial one, no summary.json.
#[test]
fn prepare_names_an_interrupted_run_and_force_clears_it() {
    let dir = TempDir::new("interrupted");
    fs::write(dir.path().join("timeline.csv"), "time_s\n").unwrap();
    fs::write(dir.path().join(".pods.partial.csv"), "half").unwrap();
    let err = prepare_out_dir(dir.path(), false).unwrap_err();
    assert!(matches!(err, OutputError::Incomplete { .. }), "{err}");
    let message = err.to_string();
    for needed in [
        dir.path().display().to_string().as_str(),
        "no summary.json",
        "interrupted",
        "--force",
    ] {
        assert!(message.contains(needed), "{message}");
    }
    assert_eq!(dir.names(), [".pods.partial.csv", "timeline.csv"]);
    prepare_out_dir(dir.path(), true).unwrap();
    assert!(dir.names().is_empty());
}

/// A complete earlier run and foreign files alone are not called interrupted.
#[test]
fn only_a_directory_with_outputs_and_no_summary_is_called_incomplete() {
    let complete = TempDir::new("complete");
    write_run(complete.path(), &small_run(), &info(1.0), &DATA_ONLY).unwrap();
    let err = prepare_out_dir(complete.path(), false).unwrap_err();
    assert!(matches!(err, OutputError::NotEmpty { .. }), "{err}");

    let foreign = TempDir::new("foreign");
    fs::write(foreign.path().join("notes.txt"), "mine").unwrap();
    let err = prepare_out_dir(foreign.path(), false).unwrap_err();
    assert!(matches!(err, OutputError::NotEmpty { .. }), "{err}");
}

#[test]
fn node_pools_csv_lists_each_pool_with_nodes_by_name() {
    let dir = TempDir::new("node-pools");
    write_run(dir.path(), &small_run(), &info(1.0), &DATA_ONLY).unwrap();
    let (header, rows) = read_csv(&dir.path().join("node_pools.csv"));
    assert_eq!(
        header.join(","),
        "time_s,pool,nodes,nodes_ready,cost_per_hour"
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].join(","), "0.000,default,3,2,1.5");
}

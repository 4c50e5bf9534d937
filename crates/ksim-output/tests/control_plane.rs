//! Control-plane outputs (`control_plane.csv`, the `control_plane` object of
//! `summary.json`, the two control-plane plots) on a hand-built run.

mod common;

use std::fs;

use common::*;
use ksim_core::histogram::LatencyHistogram;
use ksim_core::metrics::{
    ApiServerSummary, Bottleneck, ControlPlaneOutput, ControlPlaneTimeline, RunOutput, SeriesName,
    StoreSummary,
};
use ksim_core::time::SimTime;
use ksim_output::{prepare_out_dir, write_run, OutputError, WriteOptions};

fn series(component: &str, metric: &str) -> SeriesName {
    SeriesName {
        component: component.to_string(),
        metric: metric.to_string(),
    }
}

/// Two stores, the apiserver and the scheduler over three samples; the
/// events store has no commit latency in the first sample (no writes).
fn cp_timeline() -> ControlPlaneTimeline {
    ControlPlaneTimeline {
        series: vec![
            series("store/main", "writes_per_s"),
            series("store/main", "commit_p99_ms"),
            series("store/main", "leader_cpu_utilization"),
            series("store/events", "writes_per_s"),
            series("store/events", "commit_p99_ms"),
            series("apiserver", "mutating_inflight_utilization"),
            series("apiserver", "rejected_429_per_s"),
            series("scheduler", "busy_utilization"),
        ],
        times: vec![secs(1), secs(2), SimTime(2_500_000_000)],
        values: vec![
            vec![
                Some(1200.0),
                Some(2.5),
                Some(0.1 + 0.2),
                Some(0.0),
                None,
                Some(0.25),
                Some(0.0),
                Some(0.05),
            ],
            vec![
                Some(44_320.0),
                Some(22.807),
                Some(1.0),
                Some(310.5),
                Some(1.75),
                Some(0.63),
                Some(0.0),
                Some(0.2),
            ],
            vec![
                Some(44_000.0),
                Some(95.125),
                Some(2.25),
                Some(300.0),
                Some(1.5),
                Some(1.5),
                Some(17.0),
                Some(0.3),
            ],
        ],
    }
}

fn bottleneck(
    component: &str,
    resource: &str,
    peak: f64,
    peak_at_s: u64,
    first_saturated_s: Option<u64>,
) -> Bottleneck {
    Bottleneck {
        component: component.to_string(),
        resource: resource.to_string(),
        peak_utilization: peak,
        peak_at: secs(peak_at_s),
        first_saturated: first_saturated_s.map(secs),
    }
}

fn saturated_bottlenecks() -> Vec<Bottleneck> {
    vec![
        bottleneck("store/main", "leader cpu", 2.25, 200, Some(130)),
        bottleneck("apiserver", "mutating in-flight", 1.5, 250, Some(140)),
        bottleneck("scheduler", "busy", 0.3, 250, None),
    ]
}

fn unsaturated_bottlenecks() -> Vec<Bottleneck> {
    vec![
        bottleneck("apiserver", "mutating inflight", 0.63, 300, None),
        bottleneck("store/main", "leader cpu", 0.41, 120, None),
        bottleneck("scheduler", "busy", 0.2, 60, None),
    ]
}

fn store(name: &str, kinds: &[&str], commit_ms: &[u64], nospace_at_s: Option<u64>) -> StoreSummary {
    StoreSummary {
        name: name.to_string(),
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
        writes: commit_ms.len() as u64,
        bytes_written: 1_000 * commit_ms.len() as u64,
        rejected: 3,
        batches: 2,
        db_size_bytes: 123_456,
        nospace_alarm_at: nospace_at_s.map(secs),
        commit_latency: latency(commit_ms),
    }
}

fn control_plane(bottlenecks: Vec<Bottleneck>) -> ControlPlaneOutput {
    ControlPlaneOutput {
        timeline: cp_timeline(),
        bottlenecks,
        stores: vec![
            store("main", &["pods", "nodes", "leases"], &[2, 3, 40], Some(90)),
            store("events", &["events"], &[], None),
        ],
        apiserver: ApiServerSummary {
            replicas: 3,
            // Deliberately not alphabetical: the order must survive.
            requests: vec![
                ("update leases".to_string(), 5_000),
                ("create pods".to_string(), 3),
                ("create pods/binding".to_string(), 2),
                ("patch nodes/status".to_string(), 60),
            ],
            rejected_429: 7,
            watch_events_sent: 900,
            watch_bytes_sent: 1_800_000,
        },
        pod_writes_refused_nospace: 4,
        pod_startup_latency: latency(&[1_000, 2_000]),
    }
}

fn cp_run(bottlenecks: Vec<Bottleneck>) -> RunOutput {
    RunOutput {
        control_plane: Some(control_plane(bottlenecks)),
        node_lifecycle: None,
        ..small_run()
    }
}

fn summary(run: &RunOutput) -> (String, serde_json::Value) {
    let dir = TempDir::new("cp-summary");
    write_run(dir.path(), run, &info(1.0), &DATA_ONLY).unwrap();
    let text = fs::read_to_string(dir.path().join("summary.json")).unwrap();
    let json = serde_json::from_str(&text).unwrap();
    (text, json)
}

fn assert_in_order(text: &str, needles: &[&str]) {
    let positions: Vec<usize> = needles
        .iter()
        .map(|n| text.find(n).unwrap_or_else(|| panic!("no {n} in {text}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn control_plane_csv_is_long_format_in_time_then_series_order() {
    let dir = TempDir::new("cp-csv");
    write_run(
        dir.path(),
        &cp_run(saturated_bottlenecks()),
        &info(1.0),
        &DATA_ONLY,
    )
    .unwrap();
    let (header, rows) = read_csv(&dir.path().join("control_plane.csv"));
    assert_eq!(header.join(","), "time_s,component,metric,value");
    assert_eq!(rows.len(), 3 * 8);
    let line = |i: usize| rows[i].join(",");
    assert_eq!(line(0), "1.000,store/main,writes_per_s,1200");
    assert_eq!(line(1), "1.000,store/main,commit_p99_ms,2.5");
    // 0.1 + 0.2 without its float noise.
    assert_eq!(line(2), "1.000,store/main,leader_cpu_utilization,0.3");
    // Undefined: an empty cell, not a zero.
    assert_eq!(line(4), "1.000,store/events,commit_p99_ms,");
    assert_eq!(line(7), "1.000,scheduler,busy_utilization,0.05");
    assert_eq!(line(8), "2.000,store/main,writes_per_s,44320");
    assert_eq!(line(9), "2.000,store/main,commit_p99_ms,22.807");
    assert_eq!(line(16), "2.500,store/main,writes_per_s,44000");
    assert_eq!(line(23), "2.500,scheduler,busy_utilization,0.3");
    let times: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn malformed_timelines_are_refused_and_leave_no_csv() {
    let mut ragged = cp_run(saturated_bottlenecks());
    ragged.control_plane.as_mut().unwrap().timeline.values[1].pop();
    let mut missing_row = cp_run(saturated_bottlenecks());
    missing_row
        .control_plane
        .as_mut()
        .unwrap()
        .timeline
        .values
        .pop();
    let mut unordered = cp_run(saturated_bottlenecks());
    unordered.control_plane.as_mut().unwrap().timeline.times[2] = secs(1);
    let mut not_finite = cp_run(saturated_bottlenecks());
    not_finite.control_plane.as_mut().unwrap().timeline.values[2][5] = Some(f64::NAN);
    let cases = [
        (ragged, "has 7 values for 8 series"),
        (missing_row, "3 sample times but 2 rows"),
        (unordered, "comes after a later one"),
        (
            not_finite,
            "apiserver mutating_inflight_utilization is NaN at 2.500 s",
        ),
    ];
    for (run, expected) in cases {
        let dir = TempDir::new("cp-bad");
        let err = write_run(dir.path(), &run, &info(1.0), &DATA_ONLY).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, OutputError::Data { .. }), "{message}");
        assert!(message.contains("control_plane.csv"), "{message}");
        assert!(message.contains(expected), "{message}");
        assert_eq!(dir.names(), ["node_pools.csv", "pods.csv", "timeline.csv"]);
    }
}

#[test]
fn summary_has_the_control_plane_object_before_run() {
    let (text, json) = summary(&cp_run(saturated_bottlenecks()));
    assert_in_order(
        &text,
        &[
            "\"unschedulable\":",
            "\"control_plane\":",
            "\"bottlenecks\":",
            "\"verdict\":",
            "\"stores\":",
            "\"apiserver\":",
            "\"pod_writes_refused_nospace\":",
            "\"pod_startup_latency_ms\":",
            "\"run\":",
        ],
    );
    let cp = &json["control_plane"];
    let keys: Vec<&str> = cp.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = [
        "apiserver",
        "bottlenecks",
        "pod_startup_latency_ms",
        "pod_writes_refused_nospace",
        "stores",
        "verdict",
    ];
    expected.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, expected);
    assert_eq!(cp["pod_writes_refused_nospace"], 4);
    let startup = &cp["pod_startup_latency_ms"];
    assert_eq!(startup["count"], 2);
    assert_eq!(startup["max"], 2_000.0);
    for key in ["mean", "p50", "p90", "p99"] {
        assert!(startup[key].is_f64(), "{key}: {startup}");
    }
}

#[test]
fn bottlenecks_keep_their_order_and_null_when_never_saturated() {
    let (_, json) = summary(&cp_run(saturated_bottlenecks()));
    let bottlenecks = json["control_plane"]["bottlenecks"].as_array().unwrap();
    let components: Vec<&str> = bottlenecks
        .iter()
        .map(|b| b["component"].as_str().unwrap())
        .collect();
    assert_eq!(components, ["store/main", "apiserver", "scheduler"]);
    assert_eq!(
        bottlenecks[0],
        serde_json::json!({
            "component": "store/main",
            "resource": "leader cpu",
            "peak_utilization": 2.25,
            "peak_at_s": 200.0,
            "first_saturated_s": 130.0,
        })
    );
    assert!(bottlenecks[2]["first_saturated_s"].is_null());
    assert!(bottlenecks[2]
        .as_object()
        .unwrap()
        .contains_key("first_saturated_s"));
}

#[test]
fn verdict_names_the_first_saturated_component() {
    let (_, json) = summary(&cp_run(saturated_bottlenecks()));
    assert_eq!(
        json["control_plane"]["verdict"],
        "store/main leader cpu saturated first, at 130 s (peak 2.25× capacity)"
    );

    // The earliest saturation wins even when listed second.
    let mut bottlenecks = saturated_bottlenecks();
    bottlenecks[1].first_saturated = Some(SimTime(60_500_000_000));
    let (_, json) = summary(&cp_run(bottlenecks));
    assert_eq!(
        json["control_plane"]["verdict"],
        "apiserver mutating in-flight saturated first, at 60.5 s (peak 1.50× capacity)"
    );
}

#[test]
fn verdict_names_the_closest_component_when_nothing_saturated() {
    let (_, json) = summary(&cp_run(unsaturated_bottlenecks()));
    assert_eq!(
        json["control_plane"]["verdict"],
        "nothing saturated; closest: apiserver mutating inflight at 63% of capacity (at 300 s)"
    );
    let (_, json) = summary(&cp_run(Vec::new()));
    assert_eq!(
        json["control_plane"]["verdict"],
        "no control-plane component measured"
    );
    assert_eq!(json["control_plane"]["bottlenecks"], serde_json::json!([]));
}

#[test]
fn stores_render_commit_latency_like_scheduling_latency() {
    let (text, json) = summary(&cp_run(saturated_bottlenecks()));
    let stores = json["control_plane"]["stores"].as_array().unwrap();
    assert_eq!(stores.len(), 2);
    let main = &stores[0];
    assert_in_order(
        &text,
        &[
            "\"name\"",
            "\"kinds\"",
            "\"writes\"",
            "\"bytes_written\"",
            "\"rejected\"",
            "\"batches\"",
            "\"db_size_bytes\"",
            "\"nospace_alarm_at_s\"",
            "\"commit_latency_ms\"",
        ],
    );
    assert_eq!(main["name"], "main");
    assert_eq!(
        main["kinds"],
        serde_json::json!(["pods", "nodes", "leases"])
    );
    assert_eq!(main["writes"], 3);
    assert_eq!(main["bytes_written"], 3_000);
    assert_eq!(main["rejected"], 3);
    assert_eq!(main["batches"], 2);
    assert_eq!(main["db_size_bytes"], 123_456);
    assert_eq!(main["nospace_alarm_at_s"], 90.0);
    let commit = &main["commit_latency_ms"];
    let keys: Vec<&str> = commit
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = ["count", "max", "mean", "p50", "p90", "p99"];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(commit["count"], 3);
    assert_eq!(commit["max"], 40.0);
    assert_eq!(commit["mean"], 15.0);
    let events = &stores[1];
    assert!(events["nospace_alarm_at_s"].is_null());
    assert!(events["commit_latency_ms"].is_null());
}

#[test]
fn apiserver_requests_keep_the_given_order() {
    let (text, json) = summary(&cp_run(saturated_bottlenecks()));
    assert_in_order(
        &text,
        &[
            "\"replicas\"",
            "\"requests\"",
            "\"update leases\"",
            "\"create pods\"",
            "\"create pods/binding\"",
            "\"patch nodes/status\"",
            "\"rejected_429\"",
            "\"watch_events_sent\"",
            "\"watch_bytes_sent\"",
        ],
    );
    let apiserver = &json["control_plane"]["apiserver"];
    assert_eq!(apiserver["replicas"], 3);
    assert_eq!(apiserver["requests"]["update leases"], 5_000);
    assert_eq!(apiserver["requests"]["create pods/binding"], 2);
    assert_eq!(apiserver["requests"].as_object().unwrap().len(), 4);
    assert_eq!(apiserver["rejected_429"], 7);
    assert_eq!(apiserver["watch_events_sent"], 900);
    assert_eq!(apiserver["watch_bytes_sent"], 1_800_000);
}

#[test]
fn summary_refuses_duplicate_labels_and_non_finite_peaks() {
    let mut duplicate = cp_run(saturated_bottlenecks());
    let requests = &mut duplicate.control_plane.as_mut().unwrap().apiserver.requests;
    requests.push(("create pods".to_string(), 1));
    let mut infinite = cp_run(saturated_bottlenecks());
    infinite.control_plane.as_mut().unwrap().bottlenecks[2].peak_utilization = f64::INFINITY;
    let cases = [
        (duplicate, "\"create pods\" appears twice"),
        (infinite, "scheduler busy has a peak utilization of inf"),
    ];
    for (run, expected) in cases {
        let dir = TempDir::new("cp-bad-summary");
        let err = write_run(dir.path(), &run, &info(1.0), &DATA_ONLY).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, OutputError::Data { .. }), "{message}");
        assert!(message.contains("summary.json"), "{message}");
        assert!(message.contains(expected), "{message}");
        assert!(dir.names().is_empty(), "refused before any file is written");
    }
}

#[test]
fn without_a_control_plane_nothing_of_it_is_written() {
    let dir = TempDir::new("cp-none");
    let written = write_run(dir.path(), &small_run(), &info(1.0), &ALL).unwrap();
    assert_eq!(written.len(), 10);
    assert!(dir.names().iter().all(|n| !n.contains("control_plane")));
    let text = fs::read_to_string(dir.path().join("summary.json")).unwrap();
    assert!(!text.contains("control_plane"), "{text}");
}

#[test]
fn write_run_returns_the_control_plane_files_in_order() {
    let dir = TempDir::new("cp-paths");
    prepare_out_dir(dir.path(), false).unwrap();
    let run = cp_run(saturated_bottlenecks());
    let written = write_run(dir.path(), &run, &info(1.0), &ALL).unwrap();
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
            "control_plane.csv",
            "pods_by_phase.png",
            "pods_by_phase.svg",
            "allocation.png",
            "allocation.svg",
            "scheduling_latency.png",
            "scheduling_latency.svg",
            "control_plane_stores.png",
            "control_plane_stores.svg",
            "control_plane_utilization.png",
            "control_plane_utilization.svg",
            "summary.json",
        ]
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(dir.names(), sorted, "no partial file is left behind");
}

#[test]
fn force_removes_control_plane_outputs_and_their_partials() {
    let dir = TempDir::new("cp-force");
    write_run(
        dir.path(),
        &cp_run(saturated_bottlenecks()),
        &info(1.0),
        &ALL,
    )
    .unwrap();
    fs::write(dir.path().join(".control_plane.partial.csv"), "half").unwrap();
    fs::write(
        dir.path().join(".control_plane_utilization.partial.svg"),
        "half",
    )
    .unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    assert!(matches!(
        prepare_out_dir(dir.path(), false),
        Err(OutputError::NotEmpty { .. })
    ));
    prepare_out_dir(dir.path(), true).unwrap();
    assert_eq!(dir.names(), ["notes.txt"]);
}

fn cp_svgs(run: &RunOutput) -> String {
    let dir = TempDir::new("cp-plots");
    let options = WriteOptions {
        pods_csv: false,
        plots: true,
    };
    let mut svg = String::new();
    for path in write_run(dir.path(), run, &info(1.0), &options).unwrap() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("control_plane_") {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        if name.ends_with(".png") {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        } else {
            svg.push_str(std::str::from_utf8(&bytes).unwrap());
        }
    }
    svg
}

#[test]
fn control_plane_plots_show_stores_and_every_utilization_series() {
    let svg = cp_svgs(&cp_run(saturated_bottlenecks()));
    for text in [
        "small: control-plane stores",
        "writes/s",
        "commit p99 (ms)",
        "small: control-plane utilization",
        "demand / capacity",
        "capacity (1.0)",
        "store/main leader_cpu_utilization",
        "apiserver mutating_inflight_utilization",
        "scheduler busy_utilization",
    ] {
        assert!(svg.contains(text), "no {text:?} in the SVGs");
    }
    // Only utilization series are in the utilization legend.
    assert!(!svg.contains("apiserver rejected_429_per_s"));
    assert_eq!(
        svg,
        cp_svgs(&cp_run(saturated_bottlenecks())),
        "not deterministic"
    );
}

#[test]
fn control_plane_plots_survive_degenerate_timelines() {
    let mut empty = cp_run(unsaturated_bottlenecks());
    let timeline = &mut empty.control_plane.as_mut().unwrap().timeline;
    timeline.times.clear();
    timeline.values.clear();
    let svg = cp_svgs(&empty);
    assert!(svg.contains("no store samples"), "stores");
    assert!(svg.contains("no utilization samples"), "utilization");

    let mut undefined = cp_run(unsaturated_bottlenecks());
    for row in &mut undefined.control_plane.as_mut().unwrap().timeline.values {
        row.iter_mut().for_each(|v| *v = None);
    }
    assert!(cp_svgs(&undefined).contains("capacity (1.0)"));

    // More utilization series than the legend has rows for.
    let mut crowded = cp_run(unsaturated_bottlenecks());
    let timeline = &mut crowded.control_plane.as_mut().unwrap().timeline;
    for i in 0..60 {
        timeline
            .series
            .push(series("apiserver", &format!("cache_{i}_utilization")));
        for row in &mut timeline.values {
            row.push(Some(i as f64 / 60.0));
        }
    }
    let svg = cp_svgs(&crowded);
    assert!(svg.contains("more in control_plane.csv"), "legend overflow");
}

#[test]
fn an_empty_latency_histogram_is_null() {
    let mut run = cp_run(saturated_bottlenecks());
    run.control_plane.as_mut().unwrap().pod_startup_latency = LatencyHistogram::default();
    let (_, json) = summary(&run);
    assert!(json["control_plane"]["pod_startup_latency_ms"].is_null());
}

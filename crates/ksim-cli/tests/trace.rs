//! Trace replay through the binary: the shared samples' scenarios, a
//! round trip through the native format, and bad trace input. Tests that
//! need `../shared/traces` (beside the repository) print a SKIP line when
//! it is absent.

mod common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The shared samples, or None (after a SKIP line) when they are absent.
fn shared_traces(test: &str) -> Option<PathBuf> {
    let path = PathBuf::from(repo_path("../shared/traces"));
    if path.is_dir() {
        Some(path)
    } else {
        // Straight to stderr: the test harness captures eprintln!, and a
        // skip must be seen.
        let line = format!("SKIP: ../shared/traces absent ({test})\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        None
    }
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn source_count(summary: &serde_json::Value, name: &str) -> u64 {
    summary["sources"][0]["counts"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no count {name} in {}", summary["sources"]))
}

#[test]
fn the_google_sample_replays_with_its_machines_and_censored_rows() {
    if shared_traces("google").is_none() {
        return;
    }
    let out = run_ok_unchecked(
        &repo_path("scenarios/trace-google-cluster-2011.toml"),
        "trace-google",
        &["--no-plots"],
    );
    let s = summary(&out);
    // 12,477 machines at the window's start (none come or go before it);
    // machine_events removes two in the window (at 779 s and 1,460 s; an
    // UPDATE at 974 s is not replayed). The window's pods: 144k of them
    // already running when it opened.
    assert_eq!(s["nodes_deleted"], 2);
    assert_eq!(s["nodes_added"], 0);
    assert_eq!(s["nodes_total"], 12_475);
    assert_eq!(s["pods_total"], 160_510);
    assert_eq!(source_count(&s, "pods"), 160_510);
    // 3 more than a read of the whole shard: tasks pending at 600 s
    // whose kill comes after the window have no end in it.
    assert_eq!(source_count(&s, "censored_running_at_start"), 144_308);
    assert!(source_count(&s, "censored_no_end") > 100_000);
    assert_eq!(source_count(&s, "events_read_until_window_end"), 1);
    assert!(s["binds"].as_u64().unwrap() > 100_000, "{}", s["binds"]);
}

#[test]
fn the_alibaba_samples_replay() {
    if shared_traces("alibaba").is_none() {
        return;
    }
    let out = run_ok(
        &repo_path("scenarios/trace-alibaba-gpu-v2023.toml"),
        "trace-alibaba-gpu",
        &["--no-plots"],
    );
    let s = summary(&out);
    assert_eq!(s["nodes_total"], 1_523);
    assert_eq!(s["pods_total"], 8_152);
    assert_eq!(source_count(&s, "gpu_share_rounded_up"), 3_078);
    let phases = &s["pods_by_phase"];
    assert_eq!(
        phases["succeeded"].as_u64().unwrap() + phases["failed"].as_u64().unwrap(),
        8_152,
        "{phases}"
    );
    let out = run_ok_unchecked(
        &repo_path("scenarios/trace-alibaba-v2017.toml"),
        "trace-alibaba-2017",
        &["--no-plots"],
    );
    let s = summary(&out);
    assert_eq!(s["pods_total"], 159_308);
    assert_eq!(source_count(&s, "censored_running_at_start"), 10_869);
    assert!(source_count(&s, "tasks_missing_requests") > 0);
}

const SIMULATION: &str = r#"
[simulation]
name = "round-trip"
duration = "5m"
sample_interval = "10s"
seed = 3
"#;

const POOLS: &str = r#"
[simulation]
name = "t"
duration = "5m"

[[node_pools]]
name = "small"
count = 300
cpu = "16"
memory = "32Gi"

[[node_pools]]
name = "large"
count = 100
cpu = "32"
memory = "128Gi"
extended = { "nvidia.com/gpu" = 8 }
"#;

/// Converting a sample to the native format and replaying both gives the
/// same timeline and the same pods.
#[test]
fn a_trace_and_its_native_conversion_replay_the_same() {
    let Some(traces) = shared_traces("round trip") else {
        return;
    };
    let dir = temp_dir("trace-round-trip");
    let pools = POOLS.split_once("\n[[node_pools]]").unwrap().1;
    let cases = [
        (
            "google-cluster-2011",
            traces.join("google-cluster-2011/task_events/part-00000-of-00500.head20000.csv"),
            "window_end = \"15m\"\n",
        ),
        (
            "alibaba-gpu-v2023",
            traces.join("alibaba-gpu-v2023/openb_pod_list_default.csv"),
            "pod_limit = 300\n",
        ),
        (
            "alibaba-v2017",
            traces.join("alibaba-v2017/batch_task.csv"),
            "window_end = \"2m\"\n",
        ),
    ];
    for (format, path, settings) in cases {
        let native = dir.join(format!("{format}.native.csv"));
        let mut args = vec![
            "trace",
            "convert",
            path.to_str().unwrap(),
            "--format",
            format,
        ];
        let end;
        if let Some(seconds) = settings.strip_prefix("window_end = \"") {
            end = if seconds.starts_with("15m") {
                "1500"
            } else {
                "120"
            }
            .to_string();
            args.extend(["--window-end-s", &end]);
        }
        if settings.starts_with("pod_limit") {
            args.extend(["--pod-limit", "300"]);
        }
        // The GPU trace spans months: its first 300 pods, sampled hourly.
        let simulation = match format {
            "alibaba-gpu-v2023" => SIMULATION
                .replace("\"5m\"", "\"1000h\"")
                .replace("\"10s\"", "\"1h\""),
            _ => SIMULATION.to_string(),
        };
        let pools = format!("{simulation}\n[[node_pools]]{pools}");
        args.extend(["--out", native.to_str().unwrap()]);
        let converted = ksim(&args);
        assert!(converted.status.success(), "{}", stderr(&converted));
        let original = write_scenario(
            &format!("rt-{format}"),
            &format!(
                "{pools}\n[trace]\nformat = \"{format}\"\npath = \"{}\"\n{settings}",
                path.display()
            ),
        );
        let copy = write_scenario(
            &format!("rt-{format}-native"),
            &format!(
                "{pools}\n[trace]\nformat = \"native\"\npath = \"{}\"\n",
                native.display()
            ),
        );
        let a = run_ok(
            &original,
            &format!("rt-a-{format}"),
            &["--pods-csv", "--no-plots"],
        );
        let b = run_ok(
            &copy,
            &format!("rt-b-{format}"),
            &["--pods-csv", "--no-plots"],
        );
        for file in ["timeline.csv", "pods.csv"] {
            let (x, y) = (
                std::fs::read(a.join(file)).unwrap(),
                std::fs::read(b.join(file)).unwrap(),
            );
            assert!(x.len() > 200, "{format} {file} is nearly empty");
            assert!(
                x == y,
                "{format}: {file} differs between the trace and its native copy"
            );
        }
    }
}

#[test]
fn a_missing_trace_file_names_the_resolved_path() {
    let path = write_scenario(
        "trace-missing",
        &format!("{POOLS}\n[trace]\nformat = \"native\"\npath = \"no/such.csv\"\n"),
    );
    let out = ksim(&["validate", &path]);
    assert!(!out.status.success());
    let resolved = Path::new(&path).parent().unwrap().join("no/such.csv");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "trace.path: trace file `{}` does not exist",
            resolved.display()
        )),
        "{err}"
    );
}

#[test]
fn bad_trace_settings_name_their_keys() {
    for (settings, expected) in [
        (
            "format = \"google\"\npath = \"x.csv\"\n",
            "trace.format: unknown value `google`",
        ),
        ("path = \"x.csv\"\n", "trace: missing required key `format`"),
        (
            "format = \"azure-functions-2019\"\npath = \"x.csv\"\n",
            "trace.format: azure-functions-2019 is a rate trace",
        ),
        (
            "format = \"native\"\npath = \"x.csv\"\ntime_scale = -1\n",
            "trace.time_scale",
        ),
        (
            "format = \"native\"\npath = \"x.csv\"\nwindow_start = \"10m\"\nwindow_end = \"5m\"\n",
            "trace.window_end: window_end must be after window_start",
        ),
        (
            "format = \"native\"\npath = \"x.csv\"\nspeed = 2\n",
            "trace.speed",
        ),
    ] {
        let dir = temp_dir("trace-settings");
        std::fs::write(dir.join("x.csv"), "arrival_s\n").unwrap();
        let path = dir.join("scenario.toml");
        std::fs::write(&path, format!("{POOLS}\n[trace]\n{settings}")).unwrap();
        let out = ksim(&["validate", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert!(!out.status.success(), "accepted: {settings}");
        assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
        assert!(err.contains("scenario.toml:"), "{err}");
    }
}

fn native_scenario(name: &str, rows: &str, gzip: bool) -> String {
    let dir = temp_dir(name);
    let text = format!(
        "arrival_s,run_s,template,priority,cpu_millis,memory_bytes,gpu,outcome,labels\n{rows}"
    );
    let file = if gzip {
        let path = dir.join("pods.csv.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        encoder.write_all(text.as_bytes()).unwrap();
        let bytes = encoder.finish().unwrap();
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
        path
    } else {
        let path = dir.join("pods.csv");
        std::fs::write(&path, text).unwrap();
        path
    };
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        format!(
            "{POOLS}\n[trace]\nformat = \"native\"\npath = \"{}\"\n",
            file.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    scenario.display().to_string()
}

#[test]
fn a_malformed_row_stops_the_run_unless_skipped() {
    let rows = "0,10,a,0,100,1000,0,succeeded,\n1,ten,a,0,100,1000,0,succeeded,\n2,10,a,0,100,1000,0,succeeded,\n3,10,a,0,x,1000,0,succeeded,\n";
    let scenario = native_scenario("trace-malformed", rows, false);
    let out_dir = temp_dir("trace-malformed-out");
    let out = ksim(&[
        "run",
        &scenario,
        "--out",
        out_dir.join("o").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("pods.csv:3:2: run_s `ten` is not seconds"),
        "{err}"
    );
    assert!(!out_dir.join("o/summary.json").exists());

    let out = run_ok(
        &scenario,
        "trace-skipped",
        &["--skip-bad-rows", "--no-plots"],
    );
    let s = summary(&out);
    assert_eq!(s["pods_total"], 2);
    assert_eq!(source_count(&s, "rows_skipped"), 2);
    assert_eq!(source_count(&s, "skipped_line_1"), 3);
    assert_eq!(source_count(&s, "skipped_line_2"), 5);
}

#[test]
fn a_truncated_gzip_trace_fails_the_run() {
    let rows: String = (0..3_000)
        .map(|i| format!("{i},10,a,0,100,1000,0,succeeded,\n"))
        .collect();
    let scenario = native_scenario("trace-truncated", &rows, true);
    let out_dir = temp_dir("trace-truncated-out");
    let out = ksim(&[
        "run",
        &scenario,
        "--out",
        out_dir.join("o").to_str().unwrap(),
        "--skip-bad-rows",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("ends in the middle of its gzip stream"),
        "{err}"
    );
    assert!(!out_dir.join("o/summary.json").exists());
}

#[test]
fn a_trace_of_another_format_is_refused() {
    let Some(traces) = shared_traces("wrong format") else {
        return;
    };
    let path = write_scenario(
        "trace-wrong-format",
        &format!(
            "{POOLS}\n[trace]\nformat = \"alibaba-v2017\"\npath = \"{}\"\n",
            traces
                .join("google-cluster-2011/task_events/part-00000-of-00500.head20000.csv")
                .display()
        ),
    );
    let out = ksim(&[
        "run",
        &path,
        "--out",
        temp_dir("trace-wrong-out").join("o").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("looks like google-cluster-2011 (task_events), not alibaba-v2017"),
        "{err}"
    );
}

#[test]
fn inspect_prints_what_a_user_checks_first() {
    let Some(traces) = shared_traces("inspect") else {
        return;
    };
    let path = traces.join("alibaba-gpu-v2023/openb_pod_list_default.csv");
    let out = ksim(&[
        "trace",
        "inspect",
        path.to_str().unwrap(),
        "--format",
        "alibaba-gpu-v2023",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "rows: 8152 tasks read, 8152 pods, 8 templates",
        "time span: arrivals from 0.000 s to 12901761.000 s",
        "arrivals per minute: min 0",
        "cpu request: p50",
        "censored: 0 running",
        "skipped rows: 0",
        "fractional GPUs (gpu_milli < 1000) are rounded up",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
}

#[test]
fn azure_invocations_drive_services_as_load_series() {
    if shared_traces("azure").is_none() {
        return;
    }
    let out = run_ok(
        &repo_path("scenarios/trace-azure-functions-2019.toml"),
        "trace-azure",
        &["--no-plots"],
    );
    let s = summary(&out);
    // The invocations of each function over the day, summed from the file.
    let arrived: Vec<f64> = s["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["requests"]["arrived"].as_f64().unwrap())
        .collect();
    assert_eq!(arrived, vec![575_863.0, 900_998.0, 27_056.0]);

    let text = std::fs::read_to_string(repo_path("scenarios/trace-azure-functions-2019.toml"))
        .unwrap()
        .replace("../../shared", &repo_path("../shared"))
        .replace("name = \"fn-8203ff88\"", "name = \"fn-8203ff89\"");
    let path = write_scenario("trace-azure-unknown", &text);
    let out = ksim(&["validate", &path]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("has no rows for workload `fn-8203ff89`: did you mean `fn-8203ff88`?"),
        "{err}"
    );
}

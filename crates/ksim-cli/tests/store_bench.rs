//! `ksim store-bench`: JSON output with the documented keys, clear errors on bad arguments.

mod common;
use common::*;

#[test]
fn json_output_parses_and_has_the_figures() {
    let out = ksim(&["store-bench", "--clients", "10", "--seconds", "1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let object = value.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "clients",
            "latency_mean_ms",
            "latency_p50_ms",
            "latency_p99_ms",
            "value_bytes",
            "writes_per_s"
        ]
    );
    assert_eq!(object["clients"], 10);
    assert_eq!(object["value_bytes"], 256);
    assert!(object["writes_per_s"].as_f64().unwrap() > 0.0);
    assert!(object["latency_mean_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn plain_output_has_one_line_per_figure() {
    let out = ksim(&["store-bench", "--clients", "1", "--seconds", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for label in ["writes/s:", "latency mean:", "latency p50:", "latency p99:"] {
        assert!(
            text.lines().any(|l| l.starts_with(label)),
            "{label} in {text}"
        );
    }
}

#[test]
fn same_seed_same_output() {
    let args = [
        "store-bench",
        "--clients",
        "5",
        "--seconds",
        "1",
        "--seed",
        "3",
        "--json",
    ];
    assert_eq!(ksim(&args).stdout, ksim(&args).stdout);
}

#[test]
fn zero_clients_is_a_clear_error() {
    let out = ksim(&["store-bench", "--clients", "0"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("at least one client"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn too_many_clients_is_a_clear_error() {
    let out = ksim(&["store-bench", "--clients", "4000000000"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at most"), "{}", stderr(&out));
}

#[test]
fn bad_seconds_is_a_clear_error() {
    for seconds in ["--seconds=0", "--seconds=-1", "--seconds=NaN"] {
        let out = ksim(&["store-bench", "--clients", "1", seconds]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("--seconds"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

//! `[workloads.load]`, its rate-series CSV files, and the usage models
//! `[workloads.service]` and `[workloads.executions]`.

mod common;
use common::*;

use std::path::PathBuf;

use ksim_core::config::WorkloadKind;
use ksim_core::distribution::Distribution;
use ksim_core::load::{LoadShape, LoadSpec};
use ksim_core::time::{SimDuration, SimTime};
use ksim_core::usage::{ExecutionModel, ServiceModel, UsageModel};
use ksim_scenario::{load, Problem};

fn at_secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

/// `web`, a service whose `[workloads.load]` holds `load`.
fn web_load(load: &str) -> String {
    format!(
        "{HEAD}{}",
        deployment("web", &format!("{SERVICE}[workloads.load]\n{load}\n"))
    )
}

fn load_of(text: &str) -> LoadSpec {
    config(text).workloads[0]
        .model
        .load
        .clone()
        .expect("a load")
}

#[test]
fn every_shape_lands_in_the_config() {
    let cases = [
        (
            "shape = \"constant\"\nrate_per_s = 100",
            LoadShape::Constant { rate_per_s: 100.0 },
        ),
        (
            "shape = \"steps\"\ninitial_per_s = 10\n\
             steps = [{ at = \"10m\", rate_per_s = 50 }, { at = \"20m\", rate_per_s = 0.5 }]",
            LoadShape::steps(10.0, vec![(at_secs(600), 50.0), (at_secs(1200), 0.5)]).unwrap(),
        ),
        (
            "shape = \"steps\"\nsteps = [{ at = \"0s\", rate_per_s = 5 }]",
            LoadShape::steps(0.0, vec![(SimTime::ZERO, 5.0)]).unwrap(),
        ),
        (
            "shape = \"ramp\"\nfrom_per_s = 10\nto_per_s = 100\nstart = \"5m\"\nend = \"1h\"",
            LoadShape::Ramp {
                from_per_s: 10.0,
                to_per_s: 100.0,
                start: at_secs(300),
                end: at_secs(3600),
            },
        ),
        (
            "shape = \"ramp\"\nfrom_per_s = 100\nto_per_s = 0\nend = \"30m\"",
            LoadShape::Ramp {
                from_per_s: 100.0,
                to_per_s: 0.0,
                start: SimTime::ZERO,
                end: at_secs(1800),
            },
        ),
        (
            "shape = \"diurnal\"\nmin_per_s = 10\nmax_per_s = 100\nperiod = \"12h\"\npeak_at = \"2h\"",
            LoadShape::Diurnal {
                min_per_s: 10.0,
                max_per_s: 100.0,
                period: SimDuration::from_secs(12 * 3600),
                peak_at: SimDuration::from_secs(7200),
            },
        ),
        (
            "shape = \"diurnal\"\nmin_per_s = 5\nmax_per_s = 5\npeak_at = \"14h\"",
            LoadShape::Diurnal {
                min_per_s: 5.0,
                max_per_s: 5.0,
                period: SimDuration::from_secs(24 * 3600),
                peak_at: SimDuration::from_secs(14 * 3600),
            },
        ),
    ];
    for (load, shape) in cases {
        assert_eq!(
            load_of(&web_load(load)),
            LoadSpec {
                shape,
                noise_interval: None
            },
            "{load}"
        );
    }
}

#[test]
fn poisson_noise_takes_an_interval() {
    let constant = "shape = \"constant\"\nrate_per_s = 1\n";
    let noise = |extra: &str| load_of(&web_load(&format!("{constant}{extra}"))).noise_interval;
    assert_eq!(noise("noise = \"none\""), None);
    assert_eq!(
        noise("noise = \"poisson\""),
        Some(SimDuration::from_secs(1))
    );
    assert_eq!(
        noise("noise = \"poisson\"\nnoise_interval = \"250ms\""),
        Some(SimDuration::from_millis(250))
    );
    let text = web_load(&format!("{constant}noise_interval = \"5s\""));
    refused_at(
        &text,
        "workloads[0].load.noise_interval",
        "noise_interval",
        &["only applies with noise = \"poisson\""],
    );
    let text = web_load(&format!(
        "{constant}noise = \"poisson\"\nnoise_interval = \"0s\""
    ));
    refused_at(
        &text,
        "workloads[0].load.noise_interval",
        "noise_interval",
        &["greater than zero"],
    );
    let text = web_load(&format!("{constant}noise = \"gaussian\""));
    refused_at(
        &text,
        "workloads[0].load.noise",
        "gaussian",
        &["`none` or `poisson`"],
    );
}

#[test]
fn bad_shapes_are_refused_at_their_key() {
    let text =
        web_load("shape = \"ramp\"\nfrom_per_s = 1\nto_per_s = 2\nstart = \"1h\"\nend = \"10m\"");
    refused_at(
        &text,
        "workloads[0].load.end",
        "end =",
        &["must be after start"],
    );
    let text =
        web_load("shape = \"ramp\"\nfrom_per_s = 1\nto_per_s = 2\nstart = \"10m\"\nend = \"10m\"");
    refused_at(
        &text,
        "workloads[0].load.end",
        "end =",
        &["must be after start"],
    );
    let text = web_load("shape = \"diurnal\"\nmin_per_s = 100\nmax_per_s = 10\npeak_at = \"1h\"");
    refused_at(
        &text,
        "workloads[0].load.max_per_s",
        "max_per_s",
        &["must not be below min_per_s"],
    );
    let text = web_load(
        "shape = \"diurnal\"\nmin_per_s = 1\nmax_per_s = 10\nperiod = \"1h\"\npeak_at = \"1h\"",
    );
    refused_at(
        &text,
        "workloads[0].load.peak_at",
        "peak_at",
        &["within the period"],
    );
    let text = web_load(
        "shape = \"diurnal\"\nmin_per_s = 1\nmax_per_s = 10\nperiod = \"0s\"\npeak_at = \"0s\"",
    );
    refused_at(
        &text,
        "workloads[0].load.period",
        "period",
        &["greater than zero"],
    );
    let text = web_load(
        "shape = \"steps\"\nsteps = [{ at = \"10m\", rate_per_s = 1 },\n{ at = \"5m\", rate_per_s = 2 }]",
    );
    refused_at(
        &text,
        "workloads[0].load.steps[1].at",
        "\"5m\"",
        &["strictly increasing `at`"],
    );
    let text = web_load(
        "shape = \"steps\"\nsteps = [{ at = \"10m\", rate_per_s = 1 },\n{ at = \"10m\", rate_per_s = 2 }]",
    );
    refused_at(
        &text,
        "workloads[0].load.steps[1].at",
        "rate_per_s = 2",
        &["strictly increasing `at`"],
    );
    let text = web_load("shape = \"steps\"\nsteps = []");
    refused_at(
        &text,
        "workloads[0].load.steps",
        "steps = []",
        &["at least one step"],
    );
    let text = web_load("shape = \"constant\"\nrate_per_s = -1");
    refused_at(
        &text,
        "workloads[0].load.rate_per_s",
        "rate_per_s",
        &["must not be negative"],
    );
    let text = web_load("shape = \"constant\"\nrate_per_s = nan");
    refused_at(
        &text,
        "workloads[0].load.rate_per_s",
        "rate_per_s",
        &["finite"],
    );
    let text = web_load("shape = \"constant\"\nrate_per_s = 1\npeak_at = \"1h\"");
    refused_at(
        &text,
        "workloads[0].load.peak_at",
        "peak_at",
        &["does not apply to shape = \"constant\" (it takes `rate_per_s`)"],
    );
    let text = web_load("shape = \"sine\"\nrate_per_s = 1");
    refused_at(
        &text,
        "workloads[0].load.shape",
        "sine",
        &["`constant`, `steps`, `ramp`, `diurnal` or `series`"],
    );
    let text = web_load("rate_per_s = 1");
    refused_at(
        &text,
        "workloads[0].load",
        "[workloads.load]",
        &["missing required key `shape`"],
    );
    let text = web_load("shape = \"constant\"\nrate = 1");
    let all = problems(&text);
    let typo = all
        .iter()
        .find(|p| p.key_path == "workloads[0].load.rate")
        .unwrap();
    assert!(
        typo.message.contains("did you mean `rate_per_s`?"),
        "{typo}"
    );
}

#[test]
fn every_usage_key_lands_in_the_config() {
    let text = format!(
        "{HEAD}{}{}",
        deployment(
            "web",
            "[workloads.service]\ncapacity_per_s = 250.5\ncpu_idle = \"50m\"\n\
             cpu_per_request = \"500u\"\nmemory_base = \"128Mi\"\nmemory_per_request = \"64Ki\"\n\
             service_time = \"50ms\"\nqueue_limit = 0\n"
        ),
        deployment(
            "worker",
            "[workloads.executions]\nmax_concurrent = 10\n\
             duration = { dist = \"exponential\", mean = \"30s\" }\ncpu_idle = \"10m\"\n\
             cpu_per_execution = \"0.1\"\nmemory_base = \"64Mi\"\nmemory_per_execution = \"32Mi\"\n"
        )
    );
    let config = config(&text);
    assert_eq!(
        config.workloads[0].model.usage,
        Some(UsageModel::Service(ServiceModel {
            capacity_per_replica_per_s: 250.5,
            cpu_idle_millis: 50.0,
            cpu_per_request_millis: 0.5,
            memory_base_bytes: 128.0 * 1024.0 * 1024.0,
            memory_per_request_bytes: 65536.0,
            service_time_s: 0.05,
            queue_limit_per_replica: 0.0,
        }))
    );
    assert_eq!(
        config.workloads[1].model.usage,
        Some(UsageModel::Executions(ExecutionModel {
            max_concurrent: 10,
            duration: Distribution::exponential(30e9).unwrap(),
            cpu_idle_millis: 10.0,
            cpu_per_execution_millis: 100.0,
            memory_base_bytes: 64.0 * 1024.0 * 1024.0,
            memory_per_execution_bytes: 32.0 * 1024.0 * 1024.0,
            fluid_above_per_s: ksim_core::usage::DEFAULT_FLUID_ABOVE_PER_S,
        }))
    );
    // Only the table form of `service` is a usage model; both back a Service.
    for w in &config.workloads[..1] {
        assert!(matches!(&w.kind, WorkloadKind::Deployment(d) if d.service));
    }
    assert!(matches!(&config.workloads[1].kind, WorkloadKind::Deployment(d) if !d.service));
}

#[test]
fn usage_defaults_are_documented_ones() {
    let config = config(&format!("{HEAD}{}", deployment("web", SERVICE)));
    assert_eq!(
        config.workloads[0].model.usage,
        Some(UsageModel::Service(ServiceModel {
            capacity_per_replica_per_s: 100.0,
            cpu_idle_millis: 0.0,
            cpu_per_request_millis: 0.0,
            memory_base_bytes: 0.0,
            memory_per_request_bytes: 0.0,
            service_time_s: 0.1,
            queue_limit_per_replica: 100.0,
        }))
    );
    let config = self::config(&format!("{HEAD}{}", deployment("w", EXECUTIONS)));
    assert!(matches!(
        &config.workloads[0].model.usage,
        Some(UsageModel::Executions(e)) if e.cpu_idle_millis == 0.0 && e.memory_per_execution_bytes == 0.0
    ));
    // `service = true` alone backs a Service without a usage model.
    let text = format!(
        "{HEAD}{}",
        deployment("web", "").replace("replicas = 2", "replicas = 2\nservice = true")
    );
    let scenario = scenario(&text);
    assert!(scenario.config.workloads[0].model.usage.is_none());
}

#[test]
fn bad_usage_models_are_refused_at_their_key() {
    let service = |body: &str| {
        format!(
            "{HEAD}{}",
            deployment("web", &format!("[workloads.service]\n{body}\n"))
        )
    };
    let text = service("capacity_per_s = 0");
    refused_at(
        &text,
        "workloads[0].service.capacity_per_s",
        "capacity_per_s",
        &["greater than zero"],
    );
    let text = service("cpu_idle = \"1m\"");
    refused_at(
        &text,
        "workloads[0].service",
        "[workloads.service]",
        &["missing required key `capacity_per_s`"],
    );
    let text = service("capacity_per_s = 1\nservice_time = \"0s\"");
    refused_at(
        &text,
        "workloads[0].service.service_time",
        "service_time",
        &["greater than zero"],
    );
    let text = service("capacity_per_s = 1\nqueue_limit = -1");
    refused_at(
        &text,
        "workloads[0].service.queue_limit",
        "queue_limit",
        &["negative"],
    );
    let text = service("capacity_per_s = 1\ncpu_per_request = \"0.5n\"");
    refused_at(
        &text,
        "workloads[0].service.cpu_per_request",
        "cpu_per_request",
        &["finer than one nanocore"],
    );
    let text = service("capacity_per_s = 1\nmemory_base = \"1GB\"");
    refused_at(
        &text,
        "workloads[0].service.memory_base",
        "memory_base",
        &["1Gi or decimal like 1G"],
    );
    let text = service("capacity_rps = 1");
    let all = problems(&text);
    let typo = all
        .iter()
        .find(|p| p.key_path == "workloads[0].service.capacity_rps")
        .unwrap();
    assert!(
        typo.message.contains("did you mean `capacity_per_s`?"),
        "{typo}"
    );
    let executions = |body: &str| {
        format!(
            "{HEAD}{}",
            deployment("w", &format!("[workloads.executions]\n{body}\n"))
        )
    };
    let text = executions("max_concurrent = 0\nduration = \"1s\"");
    refused_at(
        &text,
        "workloads[0].executions.max_concurrent",
        "max_concurrent",
        &["at least 1"],
    );
    let text = executions(
        "max_concurrent = 1\nduration = { dist = \"uniform\", min = \"5s\", max = \"1s\" }",
    );
    refused_at(
        &text,
        "workloads[0].executions.duration",
        "dist",
        &["invalid distribution"],
    );
    let text = format!(
        "{HEAD}{}",
        deployment("w", &format!("{SERVICE}{EXECUTIONS}"))
    );
    refused_at(
        &text,
        "workloads[0].executions",
        "[workloads.executions]",
        &["either [workloads.service] or [workloads.executions], not both"],
    );
}

#[test]
fn load_without_a_usage_model_is_a_warning() {
    let text = format!(
        "{HEAD}{}",
        deployment(
            "web",
            "[workloads.load]\nshape = \"constant\"\nrate_per_s = 5\n"
        )
    );
    let warnings = warnings(&text);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!(
            "scenario.toml:{}",
            line_of(&text, "[workloads.load]")
        )),
        "{warnings:?}"
    );
    assert!(
        warnings[0].contains("workloads[0].load: has no effect"),
        "{warnings:?}"
    );
}

/// The directory of one test's files.
fn dir_of(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ksim-load-{}-{test}", std::process::id()))
}

/// A fresh directory for one test's files.
fn temp_dir(test: &str) -> PathBuf {
    let dir = dir_of(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `csv` as `load.csv` next to a scenario whose `web` reads it with
/// `series` keys, and loads the scenario.
fn with_series(test: &str, csv: &str, series: &str) -> (PathBuf, Result<LoadSpec, Vec<Problem>>) {
    let dir = temp_dir(test);
    std::fs::write(dir.join("load.csv"), csv).unwrap();
    let path = dir.join("scenario.toml");
    let text = web_load(&format!("shape = \"series\"\n{series}"));
    std::fs::write(&path, &text).unwrap();
    let result = load(&path)
        .map(|s| s.config.workloads[0].model.load.clone().unwrap())
        .map_err(|e| e.problems);
    (dir, result)
}

fn series_points(test: &str, csv: &str, series: &str) -> Vec<(SimTime, f64)> {
    match with_series(test, csv, series).1 {
        Ok(LoadSpec {
            shape: LoadShape::Series(points),
            ..
        }) => points.points().to_vec(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_two_column_series_is_read_relative_to_the_scenario() {
    let points = series_points(
        "two-columns-ok",
        "time_s,rate\n0,10\n60.5, 20\n\n120,0\n",
        "path = \"load.csv\"",
    );
    assert_eq!(
        points,
        [
            (SimTime::ZERO, 10.0),
            (SimTime(60_500_000_000), 20.0),
            (at_secs(120), 0.0)
        ]
    );
}

#[test]
fn a_native_series_selects_the_workloads_rows() {
    let csv = "time_s,workload,rate\n0,web,10\n0,api,99\n30,web,20\n60,api,98\n90,web,5\n";
    let web = [
        (SimTime::ZERO, 10.0),
        (at_secs(30), 20.0),
        (at_secs(90), 5.0),
    ];
    assert_eq!(series_points("native-web", csv, "path = \"load.csv\""), web);
    assert_eq!(
        series_points("native-api", csv, "path = \"load.csv\"\nworkload = \"api\""),
        [(SimTime::ZERO, 99.0), (at_secs(60), 98.0)]
    );
}

/// The single problem of a refused series, at `path`, with its line in the
/// scenario.
fn series_problem(test: &str, csv: &str, series: &str, path: &str) -> Problem {
    let (dir, result) = with_series(test, csv, series);
    let problems = result.expect_err("refused");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let problem = problems[0].clone();
    let scenario = dir.join("scenario.toml");
    assert_eq!(problem.file, scenario.display().to_string());
    let text = std::fs::read_to_string(&scenario).unwrap();
    let key = path.rsplit('.').next().unwrap();
    assert_eq!(
        problem.line,
        Some(line_of(&text, &format!("{key} ="))),
        "{problem}"
    );
    assert_eq!(problem.key_path, path);
    problem
}

#[test]
fn series_problems_name_the_csv_file_line_and_column() {
    let csv_of = |test: &str| dir_of(test).join("load.csv").display().to_string();
    let path = "workloads[0].load.path";
    let cases = [
        (
            "header",
            "t,rate\n0,1\n",
            "1: expected the header `time_s,rate` or `time_s,workload,rate`",
        ),
        (
            "number",
            "time_s,rate\n0,1\nsoon,2\n",
            "3: column 1 (time_s): `soon` is not a number of seconds",
        ),
        (
            "rate",
            "time_s,rate\n0,1\n5,fast\n",
            "3: column 2 (rate): `fast` is not a rate",
        ),
        (
            "negative-rate",
            "time_s,rate\n0,1\n5,-2\n",
            "3: column 2 (rate): rate must be a finite number >= 0",
        ),
        (
            "negative-time",
            "time_s,rate\n-1,1\n",
            "2: column 1 (time_s): time must be a finite number of seconds >= 0",
        ),
        (
            "order",
            "time_s,rate\n0,1\n10,2\n10,3\n",
            "4: column 1 (time_s): time 10.000s is not after the previous row's 10.000s (line 3)",
        ),
        (
            "backwards",
            "time_s,workload,rate\n10,web,1\n5,other,1\n5,web,2\n",
            "4: column 1 (time_s): time 5.000s is not after",
        ),
        (
            "columns",
            "time_s,rate\n0,1\n5,2,3\n",
            "3: 3 columns, where the header has 2",
        ),
        ("empty", "time_s,rate\n", "has no rows"),
    ];
    for (test, csv, message) in cases {
        let problem = series_problem(test, csv, "path = \"load.csv\"", path);
        let expected = if message.starts_with("has no rows") {
            format!("load series `{}` {message}", csv_of(test))
        } else {
            format!("{}:{message}", csv_of(test))
        };
        assert!(
            problem.message.starts_with(&expected),
            "{problem}\nexpected: {expected}"
        );
    }
}

#[test]
fn a_missing_series_or_an_empty_selection_is_an_error() {
    let dir = temp_dir("missing");
    let path = dir.join("scenario.toml");
    std::fs::write(
        &path,
        web_load("shape = \"series\"\npath = \"nowhere/load.csv\""),
    )
    .unwrap();
    let problems = load(&path).unwrap_err().problems;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].key_path, "workloads[0].load.path");
    let missing = dir.join("nowhere/load.csv").display().to_string();
    assert!(
        problems[0]
            .message
            .starts_with(&format!("cannot read load series `{missing}`")),
        "{}",
        problems[0]
    );
    let csv = "time_s,workload,rate\n0,wbe,1\n0,api,2\n";
    let problem = series_problem("typo", csv, "path = \"load.csv\"", "workloads[0].load.path");
    assert!(
        problem
            .message
            .contains("has no rows for workload `web`: did you mean `wbe`?"),
        "{problem}"
    );
    let problem = series_problem(
        "selection",
        csv,
        "path = \"load.csv\"\nworkload = \"batch\"",
        "workloads[0].load.workload",
    );
    assert!(
        problem
            .message
            .contains("no rows for workload `batch` (it has rows for `api` or `wbe`)"),
        "{problem}"
    );
    let problem = series_problem(
        "two-columns",
        "time_s,rate\n0,1\n",
        "path = \"load.csv\"\nworkload = \"web\"",
        "workloads[0].load.workload",
    );
    assert!(
        problem.message.contains("has only time_s,rate"),
        "{problem}"
    );
}

#[test]
fn every_series_problem_is_reported_at_once() {
    let (_, result) = with_series(
        "many",
        "time_s,rate\nx,1\n1,y\n2,-3\n",
        "path = \"load.csv\"",
    );
    let lines: Vec<String> = result
        .unwrap_err()
        .iter()
        .map(|p| {
            p.message
                .split(": ")
                .next()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(lines, ["2", "3", "4"]);
}

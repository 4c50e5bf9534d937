//! `summary.json`: serde structs fix the key order; everything but the final
//! `run` object is a pure function of the [`RunOutput`].

use std::io::Write;
use std::path::{Path, PathBuf};

use ksim_core::metrics::{LatencyHistogram, RunOutput, RunSummary};
use serde::Serialize;

use crate::atomic;
use crate::fixed::Fixed;
use crate::{OutputError, RunInfo, SUMMARY_JSON};

#[derive(Serialize)]
struct SummaryJson<'a> {
    scenario: &'a str,
    seed: u64,
    simulated_span_s: f64,
    nodes_total: u64,
    pods_total: u64,
    pods_by_phase: PodsByPhase,
    events_processed: u64,
    scheduling_attempts: u64,
    binds: u64,
    node_failures: u64,
    pods_evicted: u64,
    /// Null when no pod was bound.
    scheduling_latency_ms: Option<LatencyMs>,
    unschedulable: Vec<UnschedulableJson<'a>>,
    /// Last, so that it is the only part that differs between identical runs.
    run: RunJson<'a>,
}

#[derive(Serialize)]
struct PodsByPhase {
    pending: u64,
    running: u64,
    succeeded: u64,
    failed: u64,
}

#[derive(Serialize)]
struct LatencyMs {
    count: u64,
    mean: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

#[derive(Serialize)]
struct UnschedulableJson<'a> {
    workload: &'a str,
    pods: u64,
    never_fits: bool,
    reason: &'a str,
}

#[derive(Serialize)]
struct RunJson<'a> {
    wall_time_s: f64,
    events_per_s: f64,
    ksim_version: &'a str,
}

impl LatencyMs {
    fn of(histogram: &LatencyHistogram) -> Option<Self> {
        // Rounded to whole microseconds: the histogram is only ~3% exact anyway.
        let ms = |d| Fixed::ms3(d).to_f64();
        Some(LatencyMs {
            count: histogram.count(),
            mean: ms(histogram.mean()?),
            p50: ms(histogram.quantile(0.50)?),
            p90: ms(histogram.quantile(0.90)?),
            p99: ms(histogram.quantile(0.99)?),
            max: ms(histogram.max()?),
        })
    }
}

fn summary_json<'a>(summary: &'a RunSummary, info: &'a RunInfo) -> SummaryJson<'a> {
    SummaryJson {
        scenario: &summary.scenario,
        seed: summary.seed,
        simulated_span_s: summary.simulated_span.as_secs_f64(),
        nodes_total: summary.nodes_total,
        pods_total: summary.pods_total,
        pods_by_phase: PodsByPhase {
            pending: summary.pods_pending,
            running: summary.pods_running,
            succeeded: summary.pods_succeeded,
            failed: summary.pods_failed,
        },
        events_processed: summary.events_processed,
        scheduling_attempts: summary.scheduling_attempts,
        binds: summary.binds,
        node_failures: summary.node_failures,
        pods_evicted: summary.pods_evicted,
        scheduling_latency_ms: LatencyMs::of(&summary.scheduling_latency),
        unschedulable: summary
            .unschedulable
            .iter()
            .map(|g| UnschedulableJson {
                workload: &g.workload,
                pods: g.pods,
                never_fits: g.never_fits,
                reason: &g.reason,
            })
            .collect(),
        run: RunJson {
            wall_time_s: info.wall_time_s,
            events_per_s: info.events_per_s,
            ksim_version: &info.ksim_version,
        },
    }
}

pub(crate) fn write_summary(
    dir: &Path,
    output: &RunOutput,
    info: &RunInfo,
) -> Result<PathBuf, OutputError> {
    let json = summary_json(&output.summary, info);
    atomic::write_file(dir, SUMMARY_JSON, |out, target| {
        serde_json::to_writer_pretty(&mut *out, &json).map_err(|source| OutputError::Json {
            path: target.to_path_buf(),
            source,
        })?;
        out.write_all(b"\n")
            .map_err(|e| OutputError::io("write", target, e))
    })
}

/// The summary without its `run` object, re-serialized (keys may be
/// reordered), for comparing the deterministic part of two summaries.
pub fn summary_without_run(json: &str) -> Result<String, OutputError> {
    let mut value: serde_json::Value =
        serde_json::from_str(json).map_err(OutputError::InvalidSummary)?;
    let object = value.as_object_mut().ok_or_else(|| {
        OutputError::InvalidSummary(serde::de::Error::custom("the top level is not an object"))
    })?;
    object.remove("run");
    serde_json::to_string_pretty(&value).map_err(OutputError::InvalidSummary)
}

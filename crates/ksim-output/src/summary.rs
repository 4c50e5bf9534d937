//! `summary.json`: serde structs fix the key order; everything but the final
//! `run` object is a pure function of the [`RunOutput`].

use std::io::Write;
use std::path::{Path, PathBuf};

use ksim_core::histogram::LatencyHistogram;
use ksim_core::metrics::{
    ApiServerSummary, Bottleneck, ControlPlaneOutput, NodeAutoscalerSummary, NodePressureSummary,
    RunOutput, RunSummary, StoreSummary, WorkloadSummary,
};
use ksim_core::time::SimTime;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::atomic;
use crate::fixed::{round_6dp, Fixed};
use crate::{OutputError, RunInfo, SUMMARY_JSON};

#[derive(Serialize)]
pub(crate) struct SummaryJson<'a> {
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
    nodes_added: u64,
    nodes_deleted: u64,
    controller_actions: ControllerActions,
    /// Per pool: nodes at the end, node-hours (from each node's request to
    /// its deletion) and their cost at the pool's price_per_hour.
    node_pools: Vec<PoolJson<'a>>,
    /// The pools' costs together.
    cost_total: f64,
    /// Only when the scenario has a node autoscaler.
    #[serde(skip_serializing_if = "Option::is_none")]
    node_autoscaler: Option<NodeAutoscalerJson<'a>>,
    /// Only when some pod can use more than it requests (a usage model or
    /// an ephemeral-storage write rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    node_pressure: Option<NodePressureJson>,
    /// Null when no pod was bound.
    scheduling_latency_ms: Option<LatencyMs>,
    unschedulable: Vec<UnschedulableJson<'a>>,
    /// Workloads with a usage model or an autoscaler; only when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    workloads: Vec<WorkloadJson<'a>>,
    /// Only when the scenario models a control plane.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane: Option<ControlPlaneJson<'a>>,
    /// Per pod source (a replayed trace): its counts (rows read, censored,
    /// skipped); only when the run has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<SourceJson<'a>>,
    /// Last, so that it is the only part that differs between identical runs.
    run: RunJson<'a>,
}

#[derive(Serialize)]
struct SourceJson<'a> {
    name: &'a str,
    /// By name.
    counts: serde_json::Map<String, serde_json::Value>,
}

fn source_json(report: &ksim_core::source::SourceReport) -> SourceJson<'_> {
    SourceJson {
        name: &report.name,
        counts: report
            .counts
            .iter()
            .map(|c| (c.name.to_string(), c.value.into()))
            .collect(),
    }
}

#[derive(Serialize)]
struct ControllerActions {
    applied: u64,
    /// Refused by the model: a pool at its max, a node already gone.
    refused: u64,
}

#[derive(Serialize)]
struct NodeAutoscalerJson<'a> {
    controller: &'a str,
    scale_ups: u64,
    nodes_added: u64,
    nodes_removed_empty: u64,
    nodes_drained: u64,
    drain_timeouts: u64,
    provision_timeouts: u64,
    /// Distinct pending pods no node group's template node would take.
    pods_no_group: u64,
    unremovable_reports: u64,
    nodes_replaced: u64,
    nodes_expired: u64,
    spot_interruptions: u64,
}

fn node_autoscaler_json(s: &NodeAutoscalerSummary) -> NodeAutoscalerJson<'_> {
    NodeAutoscalerJson {
        controller: &s.controller,
        scale_ups: s.scale_ups,
        nodes_added: s.nodes_added,
        nodes_removed_empty: s.nodes_removed_empty,
        nodes_drained: s.nodes_drained,
        drain_timeouts: s.drain_timeouts,
        provision_timeouts: s.provision_timeouts,
        pods_no_group: s.pods_no_group,
        unremovable_reports: s.unremovable_reports,
        nodes_replaced: s.nodes_replaced,
        nodes_expired: s.nodes_expired,
        spot_interruptions: s.spot_interruptions,
    }
}

#[derive(Serialize)]
struct NodePressureJson {
    evictions_memory: u64,
    evictions_disk: u64,
    evictions_over_limit: u64,
    conditions_raised: u64,
    nodes_under_pressure_max: u64,
    memory_pressure_node_hours: f64,
    disk_pressure_node_hours: f64,
}

fn node_pressure_json(s: &NodePressureSummary) -> NodePressureJson {
    NodePressureJson {
        evictions_memory: s.evictions_memory,
        evictions_disk: s.evictions_disk,
        evictions_over_limit: s.evictions_over_limit,
        conditions_raised: s.conditions_raised,
        nodes_under_pressure_max: s.nodes_under_pressure_max,
        memory_pressure_node_hours: round_6dp(s.memory_pressure_node_hours),
        disk_pressure_node_hours: round_6dp(s.disk_pressure_node_hours),
    }
}

#[derive(Serialize)]
struct PoolJson<'a> {
    name: &'a str,
    nodes_at_end: u64,
    node_hours: f64,
    cost: f64,
}

#[derive(Serialize)]
struct WorkloadJson<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    autoscaler: Option<&'a str>,
    /// ∫ pods not ended dt.
    replica_seconds: f64,
    scale_ups: u64,
    scale_downs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    requests: Option<RequestsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    executions: Option<ExecutionsJson>,
    /// Only for a session workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<SessionsJson>,
}

/// A session workload's users (`docs/models/sessions.md`): arrived =
/// completed + abandoned + waiting_at_end + running_at_end.
#[derive(Serialize)]
struct SessionsJson {
    arrived: u64,
    /// Users whose first pod started.
    started: u64,
    completed: u64,
    abandoned: u64,
    /// Sessions lost to a node failure or eviction, their users queued again.
    requeued: u64,
    waiting_at_end: u64,
    running_at_end: u64,
    /// Served users' waits from arrival to their first start; null when none started.
    queue_wait_ms: Option<LatencyMs>,
    /// `nvidia.com/gpu` × hours held by the workload's pods.
    gpu_hours_used: f64,
    /// Every pool's node-hours × its `nvidia.com/gpu` per node.
    gpu_hours_paid: f64,
}

#[derive(Serialize)]
struct RequestsJson {
    arrived: f64,
    served: f64,
    dropped: f64,
    wait_mean_ms: f64,
}

#[derive(Serialize)]
struct ExecutionsJson {
    /// "events", or "fluid" above `fluid_above_per_s` (counts rounded, no
    /// wait percentiles).
    mode: &'static str,
    arrived: u64,
    completed: u64,
    requeued: u64,
    queued_at_end: u64,
    /// Little's law over the run (fluid), or the waits' mean (events).
    queue_wait_mean_ms: f64,
    /// Null when none started, and in the fluid mode.
    queue_wait_ms: Option<LatencyMs>,
    /// Waits of the executions that arrived while no worker was ready.
    cold_start_wait_ms: Option<LatencyMs>,
}

fn workload_json(w: &WorkloadSummary) -> WorkloadJson<'_> {
    WorkloadJson {
        name: &w.name,
        autoscaler: w.autoscaler,
        replica_seconds: round_6dp(w.replica_seconds),
        scale_ups: w.scale_ups,
        scale_downs: w.scale_downs,
        requests: w.requests.as_ref().map(|r| RequestsJson {
            arrived: round_6dp(r.arrived),
            served: round_6dp(r.served),
            dropped: round_6dp(r.dropped),
            wait_mean_ms: round_6dp(r.wait_mean_ms),
        }),
        executions: w.executions.as_ref().map(|e| ExecutionsJson {
            mode: if e.fluid { "fluid" } else { "events" },
            arrived: e.arrived,
            completed: e.completed,
            requeued: e.requeued,
            queued_at_end: e.queued_at_end,
            queue_wait_mean_ms: round_6dp(e.wait_mean_ms),
            queue_wait_ms: LatencyMs::of(&e.wait),
            cold_start_wait_ms: LatencyMs::of(&e.cold_start_wait),
        }),
        sessions: w.sessions.as_ref().map(|s| SessionsJson {
            arrived: s.arrived,
            started: s.started,
            completed: s.completed,
            abandoned: s.abandoned,
            requeued: s.requeued,
            waiting_at_end: s.waiting_at_end,
            running_at_end: s.running_at_end,
            queue_wait_ms: LatencyMs::of(&s.wait),
            gpu_hours_used: round_6dp(s.gpu_hours_used),
            gpu_hours_paid: round_6dp(s.gpu_hours_paid),
        }),
    }
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
struct ControlPlaneJson<'a> {
    /// As the core ordered them: saturated first (earliest first), then by peak.
    bottlenecks: Vec<BottleneckJson<'a>>,
    /// One line: what breaks first.
    verdict: String,
    stores: Vec<StoreJson<'a>>,
    apiserver: ApiServerJson<'a>,
    pod_writes_refused_nospace: u64,
    /// Null when no pod started.
    pod_startup_latency_ms: Option<LatencyMs>,
}

#[derive(Serialize)]
struct BottleneckJson<'a> {
    component: &'a str,
    resource: &'a str,
    peak_utilization: f64,
    peak_at_s: f64,
    first_saturated_s: Option<f64>,
}

#[derive(Serialize)]
struct StoreJson<'a> {
    name: &'a str,
    kinds: &'a [String],
    writes: u64,
    bytes_written: u64,
    rejected: u64,
    batches: u64,
    db_size_bytes: u64,
    nospace_alarm_at_s: Option<f64>,
    /// Null when no write was accepted.
    commit_latency_ms: Option<LatencyMs>,
}

#[derive(Serialize)]
struct ApiServerJson<'a> {
    replicas: u32,
    requests: RequestCounts<'a>,
    rejected_429: u64,
    watch_events_sent: u64,
    watch_bytes_sent: u64,
}

/// Admitted requests as a JSON object in the core's order (a map type would
/// sort the labels).
struct RequestCounts<'a>(&'a [(String, u64)]);

impl Serialize for RequestCounts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (label, count) in self.0 {
            map.serialize_entry(label, count)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct RunJson<'a> {
    wall_time_s: f64,
    events_per_s: f64,
    ksim_version: &'a str,
}

impl LatencyMs {
    fn of(histogram: &LatencyHistogram) -> Option<Self> {
        // Rounded to whole microseconds: percentiles are only within 1/64 anyway.
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

fn summary_json<'a>(
    summary: &'a RunSummary,
    control_plane: Option<&'a ControlPlaneOutput>,
    info: &'a RunInfo,
) -> Result<SummaryJson<'a>, String> {
    Ok(SummaryJson {
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
        nodes_added: summary.nodes_added,
        nodes_deleted: summary.nodes_deleted,
        controller_actions: ControllerActions {
            applied: summary.controller_actions_applied,
            refused: summary.controller_actions_refused,
        },
        node_pools: summary
            .node_pools
            .iter()
            .map(|p| PoolJson {
                name: &p.name,
                nodes_at_end: p.nodes_at_end,
                node_hours: round_6dp(p.node_hours),
                cost: round_6dp(p.cost),
            })
            .collect(),
        cost_total: round_6dp(summary.node_pools.iter().map(|p| p.cost).sum()),
        node_autoscaler: summary.node_autoscaler.as_ref().map(node_autoscaler_json),
        node_pressure: summary.node_pressure.as_ref().map(node_pressure_json),
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
        workloads: summary.workloads.iter().map(workload_json).collect(),
        control_plane: control_plane.map(control_plane_json).transpose()?,
        sources: summary.sources.iter().map(source_json).collect(),
        run: RunJson {
            wall_time_s: info.wall_time_s,
            events_per_s: info.events_per_s,
            ksim_version: &info.ksim_version,
        },
    })
}

fn seconds(time: SimTime) -> f64 {
    Fixed::secs3(time.0).to_f64()
}

fn control_plane_json(output: &ControlPlaneOutput) -> Result<ControlPlaneJson<'_>, String> {
    if let Some(b) = output
        .bottlenecks
        .iter()
        .find(|b| !b.peak_utilization.is_finite())
    {
        return Err(format!(
            "bottleneck {} {} has a peak utilization of {}",
            b.component, b.resource, b.peak_utilization
        ));
    }
    Ok(ControlPlaneJson {
        bottlenecks: output.bottlenecks.iter().map(bottleneck_json).collect(),
        verdict: verdict(&output.bottlenecks),
        stores: output.stores.iter().map(store_json).collect(),
        apiserver: apiserver_json(&output.apiserver)?,
        pod_writes_refused_nospace: output.pod_writes_refused_nospace,
        pod_startup_latency_ms: LatencyMs::of(&output.pod_startup_latency),
    })
}

fn bottleneck_json(b: &Bottleneck) -> BottleneckJson<'_> {
    BottleneckJson {
        component: &b.component,
        resource: &b.resource,
        peak_utilization: round_6dp(b.peak_utilization),
        peak_at_s: seconds(b.peak_at),
        first_saturated_s: b.first_saturated.map(seconds),
    }
}

fn store_json(store: &StoreSummary) -> StoreJson<'_> {
    StoreJson {
        name: &store.name,
        kinds: &store.kinds,
        writes: store.writes,
        bytes_written: store.bytes_written,
        rejected: store.rejected,
        batches: store.batches,
        db_size_bytes: store.db_size_bytes,
        nospace_alarm_at_s: store.nospace_alarm_at.map(seconds),
        commit_latency_ms: LatencyMs::of(&store.commit_latency),
    }
}

/// Refuses repeated request labels: a JSON object with a key twice is read
/// differently by different parsers.
fn apiserver_json(apiserver: &ApiServerSummary) -> Result<ApiServerJson<'_>, String> {
    let requests = &apiserver.requests;
    if let Some((label, _)) = requests
        .iter()
        .enumerate()
        .find_map(|(i, (label, _))| requests[..i].iter().find(|(seen, _)| seen == label))
    {
        return Err(format!(
            "the apiserver request label {label:?} appears twice"
        ));
    }
    Ok(ApiServerJson {
        replicas: apiserver.replicas,
        requests: RequestCounts(requests),
        rejected_429: apiserver.rejected_429,
        watch_events_sent: apiserver.watch_events_sent,
        watch_bytes_sent: apiserver.watch_bytes_sent,
    })
}

/// What breaks first: the earliest saturated component (the first listed
/// among equals), else the one that came closest to its capacity.
/// One line answering "what breaks first", as `summary.json` carries it.
pub fn verdict(bottlenecks: &[Bottleneck]) -> String {
    let first_saturated = bottlenecks
        .iter()
        .filter_map(|b| Some((b.first_saturated?, b)))
        .min_by_key(|(at, _)| *at);
    if let Some((at, b)) = first_saturated {
        return format!(
            "{} {} saturated first, at {} s (peak {:.2}× capacity)",
            b.component,
            b.resource,
            Fixed::secs3(at.0).trimmed(),
            b.peak_utilization
        );
    }
    let closest = bottlenecks.iter().reduce(|best, b| {
        if b.peak_utilization > best.peak_utilization {
            b
        } else {
            best
        }
    });
    match closest {
        Some(b) => format!(
            "nothing saturated; closest: {} {} at {}% of capacity (at {} s)",
            b.component,
            b.resource,
            percent_below_capacity(b.peak_utilization),
            Fixed::secs3(b.peak_at.0).trimmed()
        ),
        None => "no control-plane component measured".to_string(),
    }
}

/// Whole percent, never shown as 100% while still below capacity.
fn percent_below_capacity(utilization: f64) -> String {
    let percent = format!("{:.0}", utilization * 100.0);
    if utilization < 1.0 && percent == "100" {
        "99".to_string()
    } else {
        percent
    }
}

/// The summary, built before any file is written so that data it refuses
/// fails the run before anything else is written.
pub(crate) fn build_summary<'a>(
    dir: &Path,
    output: &'a RunOutput,
    info: &'a RunInfo,
) -> Result<SummaryJson<'a>, OutputError> {
    summary_json(&output.summary, output.control_plane.as_ref(), info).map_err(|message| {
        OutputError::Data {
            path: dir.join(SUMMARY_JSON),
            message,
        }
    })
}

pub(crate) fn write_summary(dir: &Path, json: &SummaryJson) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, SUMMARY_JSON, |out, target| {
        serde_json::to_writer_pretty(&mut *out, json).map_err(|source| OutputError::Json {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bottleneck(name: &str, peak: f64, first_saturated_s: Option<u64>) -> Bottleneck {
        let secs = |s: u64| SimTime(s * 1_000_000_000);
        Bottleneck {
            component: name.to_string(),
            resource: "cpu".to_string(),
            peak_utilization: peak,
            peak_at: secs(10),
            first_saturated: first_saturated_s.map(secs),
        }
    }

    #[test]
    fn ties_go_to_the_first_listed() {
        let saturated = [bottleneck("a", 1.2, Some(5)), bottleneck("b", 3.0, Some(5))];
        assert!(verdict(&saturated).starts_with("a cpu saturated first, at 5 s"));
        let closest = [bottleneck("a", 0.5, None), bottleneck("b", 0.5, None)];
        assert!(verdict(&closest).starts_with("nothing saturated; closest: a cpu at 50%"));
    }

    #[test]
    fn nearly_saturated_is_not_shown_as_one_hundred_percent() {
        assert_eq!(percent_below_capacity(0.996), "99");
        assert_eq!(percent_below_capacity(0.994), "99");
        assert_eq!(percent_below_capacity(0.63), "63");
        assert_eq!(percent_below_capacity(0.0), "0");
        assert_eq!(percent_below_capacity(1.0), "100");
    }
}

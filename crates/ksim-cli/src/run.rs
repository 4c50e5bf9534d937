//! `ksim run`.

use crate::progress::Progress;
use anyhow::{bail, Context, Result};
use ksim_core::config::SimConfig;
use ksim_core::estimate::{estimate_memory, MemoryEstimate};
use ksim_core::sim::Simulation;
use ksim_output::{prepare_out_dir, write_run, RunInfo, WriteOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Output directory [default: results/<scenario name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overrides the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Overwrite a non-empty output directory.
    #[arg(long)]
    force: bool,
    /// Also write pods.csv, one row per pod (can be millions of rows).
    #[arg(long)]
    pods_csv: bool,
    /// Skip the PNG and SVG plots.
    #[arg(long)]
    no_plots: bool,
    /// Refuse scenarios estimated to need more memory than this many GiB, and
    /// stop a run that grows past it [default: the memory available on this
    /// machine].
    #[arg(long, value_parser = positive_gib)]
    max_memory_gib: Option<f64>,
    /// Check the simulation's bookkeeping (per-node requests, pod phase
    /// counts, bindings, the clock) at every timeline sample and stop at the
    /// first broken invariant, naming the time, the node or pod and the last
    /// events. Slower: each check walks every node and pod.
    #[arg(long)]
    check_invariants: bool,
    /// With a `[trace]`: continue past malformed trace rows, reporting how
    /// many were skipped and the first lines.
    #[arg(long)]
    skip_bad_rows: bool,
}

pub(crate) fn positive_gib(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(gib) if gib.is_finite() && gib > 0.0 => Ok(gib),
        _ => Err(format!("expected a number of GiB above zero, got `{text}`")),
    }
}

/// Simulated events processed between progress updates and memory checks.
const EVENTS_PER_BATCH: u64 = 200_000;

pub fn run(args: &RunArgs) -> Result<()> {
    let scenario = crate::validate::load(&args.scenario)?;
    for warning in &scenario.warnings {
        eprintln!("warning: {warning}");
    }
    let mut config = scenario.config;
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    config.record_pods |= args.pods_csv;
    let source = match &scenario.trace {
        Some(spec) => Some(crate::trace::prepare_run(
            spec,
            &mut config,
            args.skip_bad_rows,
        )?),
        None => None,
    };
    let memory_limit = match args.max_memory_gib {
        Some(gib) => Some((gib * GIB) as u64),
        None => available_memory_bytes(),
    };
    let estimate = estimate_memory(&config);
    if let Some(limit) = memory_limit {
        check_estimate(&config, &estimate, limit)?;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&config.name));
    prepare_out_dir(&out, args.force)?;

    let started = Instant::now();
    let mut sim = Simulation::new(config)
        .with_context(|| format!("{}: invalid scenario", args.scenario.display()))?;
    if args.check_invariants {
        sim.enable_invariant_checks();
    }
    if let Some(source) = source {
        sim.add_pod_source(source)
            .with_context(|| format!("{}: the trace", args.scenario.display()))?;
    }
    let mut progress = Progress::new(sim.end());
    while !sim
        .run_batch(EVENTS_PER_BATCH)
        .with_context(|| format!("{}: the run stopped", args.scenario.display()))?
    {
        if let Some(limit) = memory_limit {
            check_growth(&sim, &estimate, limit)?;
        }
        progress.update(sim.now(), sim.events_processed(), started.elapsed());
    }
    progress.finish(sim.events_processed(), started.elapsed());
    let output = sim.into_output();
    let wall_time_s = started.elapsed().as_secs_f64();
    let info = RunInfo {
        wall_time_s,
        events_per_s: output.summary.events_processed as f64 / wall_time_s.max(1e-9),
        ksim_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let options = WriteOptions {
        pods_csv: args.pods_csv || output.pods.is_some(),
        plots: !args.no_plots,
    };
    let mut written = write_run(&out, &output, &info, &options)?;
    if options.plots {
        written.push(ksim_output::write_run_report(&out)?);
    }
    print_result(&output.summary, &info, &written);
    if let Some(control_plane) = &output.control_plane {
        println!(
            "control plane: {}",
            ksim_output::verdict(&control_plane.bottlenecks)
        );
        for store in &control_plane.stores {
            if let Some(at) = store.nospace_alarm_at {
                println!(
                    "control plane: store `{}` raised NOSPACE at {:.0} s and refused {} writes",
                    store.name,
                    at.as_secs_f64(),
                    store.rejected
                );
            }
        }
    }
    Ok(())
}

pub(crate) const GIB: f64 = (1u64 << 30) as f64;

/// `1.5 GiB`, or `20.5 MiB` below a GiB.
pub(crate) fn size(bytes: u64) -> String {
    let gib = bytes as f64 / GIB;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.1} MiB", gib * 1024.0)
    }
}

/// What the estimate counts, for messages.
fn describe(estimate: &MemoryEstimate) -> String {
    format!(
        "{} nodes, about {} pods, {} pending events, {} timeline rows",
        estimate.nodes, estimate.expected_pods, estimate.pending_events, estimate.timeline_rows
    )
}

/// Refuses, before it starts, a run estimated to need more than `limit` bytes.
fn check_estimate(config: &SimConfig, estimate: &MemoryEstimate, limit: u64) -> Result<()> {
    if estimate.bytes > limit {
        bail!(
            "scenario `{}` would need about {} ({}) but only {} is available; \
             reduce node or pod counts, lengthen sample_interval, or pass --max-memory-gib if \
             the estimate is too cautious",
            config.name,
            size(estimate.bytes),
            describe(estimate),
            size(limit)
        );
    }
    Ok(())
}

/// Stops a run that grew past `limit` bytes (what the estimate cannot
/// foresee, such as pods replacing those lost to node failures) before the
/// OS kills it.
fn check_growth(sim: &Simulation, estimate: &MemoryEstimate, limit: u64) -> Result<()> {
    let in_use = sim.memory_in_use_bytes();
    if in_use > limit {
        bail!(
            "the run grew past {} at simulated time {}: {} pods, {} pending events and {} \
             timeline rows hold about {} (estimated up front: {} for {}); \
             shorten or shrink the scenario, or see --max-memory-gib",
            size(limit),
            sim.now(),
            sim.pods().len(),
            sim.pending_events(),
            sim.timeline_rows(),
            size(in_use),
            size(estimate.bytes),
            describe(estimate)
        );
    }
    Ok(())
}

/// MemAvailable from /proc/meminfo; None where that file does not exist.
pub(crate) fn available_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn print_result(summary: &ksim_core::metrics::RunSummary, info: &RunInfo, written: &[PathBuf]) {
    println!(
        "{}: {} nodes, {} pods ({} running, {} succeeded, {} failed, {} pending) in {:.1} s simulated",
        summary.scenario,
        summary.nodes_total,
        summary.pods_total,
        summary.pods_running,
        summary.pods_succeeded,
        summary.pods_failed,
        summary.pods_pending,
        summary.simulated_span.as_secs_f64()
    );
    println!(
        "{} events in {:.2} s wall ({:.0} events/s)",
        summary.events_processed, info.wall_time_s, info.events_per_s
    );
    for line in unschedulable_lines(&summary.unschedulable) {
        println!("{line}");
    }
    for path in written {
        println!("wrote {}", path.display());
    }
}

/// At most this many `unschedulable:` lines: a trace replay can leave
/// hundreds of distinct reasons; `summary.json` keeps them all.
const UNSCHEDULABLE_LINES: usize = 10;

/// One line per group of pods left pending for one reason, the first
/// `UNSCHEDULABLE_LINES` of them, then a count of the rest.
fn unschedulable_lines(groups: &[ksim_core::metrics::UnschedulableGroup]) -> Vec<String> {
    let mut lines: Vec<String> = groups
        .iter()
        .take(UNSCHEDULABLE_LINES)
        .map(|g| {
            format!(
                "unschedulable: {} pod(s) of `{}`: {}",
                g.pods, g.workload, g.reason
            )
        })
        .collect();
    let rest = &groups[groups.len().min(UNSCHEDULABLE_LINES)..];
    if !rest.is_empty() {
        let pods: u64 = rest.iter().map(|g| g.pods).sum();
        lines.push(format!(
            "unschedulable: {pods} more pod(s) in {} more groups (all in summary.json)",
            rest.len()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksim_core::metrics::UnschedulableGroup;

    fn group(i: u64) -> UnschedulableGroup {
        UnschedulableGroup {
            workload: format!("w{i}"),
            pods: i,
            never_fits: false,
            reason: format!("reason {i}"),
        }
    }

    #[test]
    fn unschedulable_lines_stop_at_ten_and_count_the_rest() {
        let few: Vec<_> = (1..=3).map(group).collect();
        assert_eq!(unschedulable_lines(&few).len(), 3);
        let many: Vec<_> = (1..=13).map(group).collect();
        let lines = unschedulable_lines(&many);
        assert_eq!(lines.len(), 11);
        assert_eq!(lines[0], "unschedulable: 1 pod(s) of `w1`: reason 1");
        assert_eq!(
            lines[10],
            "unschedulable: 36 more pod(s) in 3 more groups (all in summary.json)"
        );
    }
}

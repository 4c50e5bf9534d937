//! The outputs of `ksim compare` and `ksim sweep`: a manifest of the grid of
//! runs (variants × seeds), each run's directory under `runs/`, and the
//! files computed from those directories alone (`comparison.csv`,
//! `report.html`), so that a single machine's run, the merge of its shards
//! and `ksim report` write the same bytes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ksim_core::histogram::LatencyHistogram;
use ksim_core::metrics::RunOutput;
use ksim_core::time::SimDuration;
use serde::{Deserialize, Serialize};

use crate::stats::{mean_ci95, Estimate};
use crate::{atomic, OutputError, SUMMARY_JSON};

pub const MANIFEST_JSON: &str = "manifest.json";
pub const COMPARISON_CSV: &str = "comparison.csv";
pub const HISTOGRAMS_JSON: &str = "histograms.json";
pub const RUNS_DIR: &str = "runs";

/// What a comparison ran; identical in every shard of one sweep but for `shard`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub ksim_version: String,
    /// Fingerprint of the inputs (scenario texts, `--set` values, seeds),
    /// see [`fingerprint`].
    pub scenario_hash: String,
    /// Variant names; the first is the baseline.
    pub variants: Vec<String>,
    /// Seeds per variant.
    pub seeds: u32,
    /// Every run of the grid, variant-major.
    pub runs: Vec<RunEntry>,
    /// The slice of `runs` this directory holds, when sharded.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shard: Option<Shard>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEntry {
    pub variant: usize,
    /// 0-based; runs with the same index share their seed's random numbers.
    pub seed_index: u32,
    pub seed: u64,
    /// Under `runs/`.
    pub dir: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Runs are dealt round-robin, so every shard gets a share of each variant.
    pub fn holds(&self, run: usize) -> bool {
        run % self.count as usize == self.index as usize
    }
}

impl Manifest {
    /// The runs this directory holds.
    pub fn own_runs(&self) -> impl Iterator<Item = &RunEntry> {
        self.runs
            .iter()
            .enumerate()
            .filter(|(i, _)| self.shard.is_none_or(|s| s.holds(*i)))
            .map(|(_, r)| r)
    }
}

/// The directory of variant `variant`'s run with seed `seed`.
pub fn run_dir_name(variant: usize, seed: u64) -> String {
    format!("v{variant:03}-seed{seed}")
}

/// FNV-1a, 64 bits, over each part and its length: a fingerprint that tells
/// outputs of different inputs apart (not a defence against forgery).
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for part in parts {
        eat(&(part.len() as u64).to_le_bytes());
        eat(part);
    }
    format!("{hash:016x}")
}

pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<PathBuf, OutputError> {
    let path = dir.join(MANIFEST_JSON);
    let text = serde_json::to_string_pretty(manifest).map_err(|source| OutputError::Json {
        path: path.clone(),
        source,
    })?;
    atomic::write_file(dir, MANIFEST_JSON, |out, target| {
        use std::io::Write;
        writeln!(out, "{text}").map_err(|e| OutputError::io("write", target, e))
    })
}

pub fn read_manifest(dir: &Path) -> Result<Manifest, OutputError> {
    let path = dir.join(MANIFEST_JSON);
    let text = fs::read_to_string(&path).map_err(|e| OutputError::io("read", &path, e))?;
    serde_json::from_str(&text).map_err(|source| OutputError::Json { path, source })
}

/// A histogram as `histograms.json` keeps it.
#[derive(Serialize, Deserialize)]
struct HistogramJson {
    name: String,
    min_ns: u64,
    max_ns: u64,
    sum_ns: u128,
    /// (bucket lower bound in ns, count), non-empty buckets only.
    buckets: Vec<(u64, u64)>,
}

/// The run's latency histograms, named like the `summary.json` keys whose
/// percentiles they hold; empty ones are left out.
pub fn histograms(output: &RunOutput) -> Vec<(String, &LatencyHistogram)> {
    let mut out = vec![(
        "scheduling_latency_ms".to_string(),
        &output.summary.scheduling_latency,
    )];
    for w in &output.summary.workloads {
        if let Some(e) = &w.executions {
            out.push((format!("workloads[{}].executions.wait_ms", w.name), &e.wait));
        }
        if let Some(s) = &w.sessions {
            out.push((
                format!("workloads[{}].sessions.queue_wait_ms", w.name),
                &s.wait,
            ));
        }
    }
    if let Some(cp) = &output.control_plane {
        for store in &cp.stores {
            out.push((
                format!("control_plane.stores[{}].commit_latency_ms", store.name),
                &store.commit_latency,
            ));
        }
        out.push((
            "control_plane.pod_startup_latency_ms".to_string(),
            &cp.pod_startup_latency,
        ));
    }
    out.retain(|(_, h)| h.count() > 0);
    out
}

/// Writes `histograms.json` beside a run's other outputs.
pub fn write_histograms(dir: &Path, output: &RunOutput) -> Result<PathBuf, OutputError> {
    let list: Vec<HistogramJson> = histograms(output)
        .into_iter()
        .map(|(name, h)| HistogramJson {
            name,
            min_ns: h.min().map_or(0, |d| d.0),
            max_ns: h.max().map_or(0, |d| d.0),
            sum_ns: h.sum_nanos(),
            buckets: h.buckets().into_iter().map(|(d, c)| (d.0, c)).collect(),
        })
        .collect();
    let path = dir.join(HISTOGRAMS_JSON);
    let text = serde_json::to_string(&list).map_err(|source| OutputError::Json {
        path: path.clone(),
        source,
    })?;
    atomic::write_file(dir, HISTOGRAMS_JSON, |out, target| {
        use std::io::Write;
        writeln!(out, "{text}").map_err(|e| OutputError::io("write", target, e))
    })
}

fn read_histograms(dir: &Path) -> Result<Vec<(String, LatencyHistogram)>, OutputError> {
    let path = dir.join(HISTOGRAMS_JSON);
    let text = fs::read_to_string(&path).map_err(|e| OutputError::io("read", &path, e))?;
    let list: Vec<HistogramJson> =
        serde_json::from_str(&text).map_err(|source| OutputError::Json {
            path: path.clone(),
            source,
        })?;
    list.into_iter()
        .map(|h| {
            let buckets: Vec<_> = h
                .buckets
                .iter()
                .map(|&(low, c)| (SimDuration(low), c))
                .collect();
            LatencyHistogram::from_parts(
                &buckets,
                SimDuration(h.min_ns),
                SimDuration(h.max_ns),
                h.sum_ns,
            )
            .map(|hist| (h.name.clone(), hist))
            .ok_or_else(|| OutputError::Data {
                path: path.clone(),
                message: format!("histogram `{}` is not one ksim wrote", h.name),
            })
        })
        .collect()
}

/// One run's numbers, read back from its directory.
pub(crate) struct RunResult {
    /// `summary.json`'s numbers by flattened key path, without `run`,
    /// `seed` and the latency percentiles (pooled from histograms instead).
    pub metrics: BTreeMap<String, f64>,
    pub histograms: Vec<(String, LatencyHistogram)>,
}

pub(crate) fn read_run(dir: &Path) -> Result<RunResult, OutputError> {
    let path = dir.join(SUMMARY_JSON);
    let text = fs::read_to_string(&path).map_err(|e| OutputError::io("read", &path, e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(OutputError::InvalidSummary)?;
    let pooled = dir.join(HISTOGRAMS_JSON).exists();
    let mut metrics = BTreeMap::new();
    flatten("", &value, pooled, &mut metrics);
    peaks(dir, &mut metrics)?;
    let histograms = if pooled {
        read_histograms(dir)?
    } else {
        Vec::new()
    };
    Ok(RunResult {
        metrics,
        histograms,
    })
}

/// `pooled`: leave out latency percentiles, pooled from histograms instead.
/// Timeline columns whose highest value over the run is a metric.
const PEAKS: [&str; 3] = ["nodes_total", "pods_pending", "pods_unschedulable"];

/// `peak.<column>` from `timeline.csv`, when the run has one.
fn peaks(dir: &Path, metrics: &mut BTreeMap<String, f64>) -> Result<(), OutputError> {
    let path = dir.join(crate::TIMELINE_CSV);
    if !path.exists() {
        return Ok(());
    }
    let mut reader = csv::Reader::from_path(&path).map_err(|e| OutputError::csv(&path, e))?;
    let headers = reader
        .headers()
        .map_err(|e| OutputError::csv(&path, e))?
        .clone();
    let columns: Vec<(usize, &str)> = PEAKS
        .iter()
        .filter_map(|name| Some((headers.iter().position(|h| h == *name)?, *name)))
        .collect();
    for record in reader.records() {
        let record = record.map_err(|e| OutputError::csv(&path, e))?;
        for &(i, name) in &columns {
            if let Some(v) = record.get(i).and_then(|v| v.parse::<f64>().ok()) {
                let peak = metrics.entry(format!("peak.{name}")).or_insert(v);
                *peak = peak.max(v);
            }
        }
    }
    Ok(())
}

fn flatten(path: &str, value: &serde_json::Value, pooled: bool, out: &mut BTreeMap<String, f64>) {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.insert(path.to_string(), x);
            }
        }
        Value::Object(map) if pooled && map.contains_key("p50") => {}
        Value::Object(map) => {
            for (key, v) in map {
                if path.is_empty() && (key == "run" || key == "seed") {
                    continue;
                }
                flatten(&join(key), v, pooled, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                // Named elements (pools, workloads) by name; unschedulable
                // groups by workload, their reasons added up.
                let label = ["name", "workload"]
                    .iter()
                    .find_map(|key| item.get(key).and_then(Value::as_str))
                    .map_or_else(|| i.to_string(), str::to_string);
                let mut element = BTreeMap::new();
                flatten(&format!("{path}[{label}]"), item, pooled, &mut element);
                for (key, x) in element {
                    *out.entry(key).or_insert(0.0) += x;
                }
            }
        }
        _ => {}
    }
}

/// One line of `comparison.csv`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub variant: usize,
    pub metric: String,
    /// `mean` over seeds, or `pooled` from the merged histograms.
    pub method: &'static str,
    pub seeds: usize,
    pub value: Estimate,
    /// Against the baseline (variant 0), paired by seed; None for the baseline.
    pub diff: Option<Estimate>,
}

/// The quantiles reported of each pooled histogram.
const POOLED: [(&str, f64); 3] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)];

/// Per variant, per seed index: the run's result (None when not run).
pub(crate) type Results = Vec<Vec<Option<RunResult>>>;

pub(crate) fn read_results(dir: &Path, manifest: &Manifest) -> Result<Results, OutputError> {
    let mut results: Results = manifest
        .variants
        .iter()
        .map(|_| (0..manifest.seeds).map(|_| None).collect())
        .collect();
    for run in &manifest.runs {
        let run_dir = dir.join(RUNS_DIR).join(&run.dir);
        let slot = results
            .get_mut(run.variant)
            .and_then(|v| v.get_mut(run.seed_index as usize))
            .ok_or_else(|| OutputError::Compare(format!("{}: run out of the grid", run.dir)))?;
        *slot = Some(read_run(&run_dir)?);
    }
    Ok(results)
}

pub(crate) fn rows(results: &Results) -> Vec<Row> {
    // Metrics in sorted order of their key paths.
    let mut names: Vec<&String> = results
        .iter()
        .flatten()
        .flatten()
        .flat_map(|r| r.metrics.keys())
        .collect();
    names.sort();
    names.dedup();
    let mut rows = Vec::new();
    for (variant, runs) in results.iter().enumerate() {
        for name in &names {
            let values: Vec<Option<f64>> = runs
                .iter()
                .map(|r| r.as_ref().and_then(|r| r.metrics.get(*name).copied()))
                .collect();
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            if present.is_empty() {
                continue;
            }
            let diff = (variant > 0).then(|| {
                let pairs: Vec<f64> = values
                    .iter()
                    .zip(&results[0])
                    .filter_map(|(v, b)| {
                        Some(v.as_ref()? - b.as_ref()?.metrics.get(*name).copied()?)
                    })
                    .collect();
                mean_ci95(&pairs)
            });
            rows.push(Row {
                variant,
                metric: (*name).clone(),
                method: "mean",
                seeds: present.len(),
                value: mean_ci95(&present),
                diff,
            });
        }
    }
    rows.extend(pooled_rows(results));
    rows.sort_by(|a, b| a.variant.cmp(&b.variant).then(a.metric.cmp(&b.metric)));
    rows
}

/// Each variant's histograms merged over its seeds.
fn merged(runs: &[Option<RunResult>]) -> BTreeMap<String, (usize, LatencyHistogram)> {
    let mut merged: BTreeMap<String, (usize, LatencyHistogram)> = BTreeMap::new();
    for run in runs.iter().flatten() {
        for (name, h) in &run.histograms {
            let entry = merged.entry(name.clone()).or_default();
            entry.0 += 1;
            // An overflow of u64 samples cannot come from one machine's runs.
            let _ = entry.1.merge(h);
        }
    }
    merged
}

fn pooled_rows(results: &Results) -> Vec<Row> {
    let merged: Vec<_> = results.iter().map(|runs| merged(runs)).collect();
    let ms = |d: SimDuration| d.0 as f64 / 1e6;
    let mut rows = Vec::new();
    for (variant, histograms) in merged.iter().enumerate() {
        for (name, (seeds, h)) in histograms {
            let mut quantiles: Vec<(String, Option<f64>)> = POOLED
                .iter()
                .map(|(label, q)| (format!("{name}.{label}"), h.quantile(*q).map(ms)))
                .collect();
            quantiles.push((format!("{name}.mean"), h.mean().map(ms)));
            for (metric, value) in quantiles {
                let Some(value) = value else { continue };
                let baseline = merged[0].get(name).and_then(|(_, b)| {
                    let label = metric.rsplit('.').next()?;
                    let q = POOLED.iter().find(|(l, _)| *l == label).map(|(_, q)| *q);
                    match q {
                        Some(q) => b.quantile(q).map(ms),
                        None => b.mean().map(ms),
                    }
                });
                rows.push(Row {
                    variant,
                    metric,
                    method: "pooled",
                    seeds: *seeds,
                    value: Estimate::point(value),
                    diff: (variant > 0)
                        .then(|| baseline.map_or(Estimate::none(), |b| Estimate::point(value - b))),
                });
            }
        }
    }
    rows
}

pub(crate) const COMPARISON_HEADER: [&str; 10] = [
    "variant",
    "metric",
    "method",
    "seeds",
    "mean",
    "ci95_low",
    "ci95_high",
    "diff_vs_baseline",
    "diff_ci95_low",
    "diff_ci95_high",
];

/// Six decimals, no `-0`: the same text on every machine for the same value.
pub(crate) fn number(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => {
            let text = format!("{x:.6}");
            if text.trim_start_matches(['-', '0', '.']).is_empty() {
                "0.000000".to_string()
            } else {
                text
            }
        }
        _ => String::new(),
    }
}

fn write_comparison_csv(
    dir: &Path,
    manifest: &Manifest,
    rows: &[Row],
) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, COMPARISON_CSV, |out, target| {
        let mut writer = csv::Writer::from_writer(out);
        let csv_error = |e| OutputError::csv(target, e);
        writer.write_record(COMPARISON_HEADER).map_err(csv_error)?;
        for row in rows {
            let diff = row.diff.unwrap_or(Estimate::none());
            writer
                .write_record([
                    manifest.variants[row.variant].as_str(),
                    &row.metric,
                    row.method,
                    &row.seeds.to_string(),
                    &number(row.value.mean),
                    &number(row.value.low),
                    &number(row.value.high),
                    &number(row.diff.and(diff.mean)),
                    &number(row.diff.and(diff.low)),
                    &number(row.diff.and(diff.high)),
                ])
                .map_err(csv_error)?;
        }
        writer
            .flush()
            .map_err(|e| OutputError::io("write", target, e))
    })
}

/// Writes `comparison.csv` and `report.html` from the manifest and the run
/// directories under `dir`, which must hold every run of the grid.
pub fn write_comparison(dir: &Path, manifest: &Manifest) -> Result<Vec<PathBuf>, OutputError> {
    if let Some(shard) = manifest.shard {
        return Err(OutputError::Compare(format!(
            "{} holds shard {}/{} only: merge the shards with `ksim merge`",
            dir.display(),
            shard.index,
            shard.count
        )));
    }
    let results = read_results(dir, manifest)?;
    let rows = rows(&results);
    let csv = write_comparison_csv(dir, manifest, &rows)?;
    let report = crate::report::write_comparison_report(dir, manifest, &rows)?;
    Ok(vec![csv, report])
}

/// Combines shard directories into `out`: checks that they come from one
/// sweep (same inputs, ksim version and grid) and together hold every
/// shard once, copies their runs, and writes the manifest and comparison
/// files a single-machine run writes.
pub fn merge_shards(out: &Path, shards: &[PathBuf]) -> Result<Vec<PathBuf>, OutputError> {
    let manifests = shards
        .iter()
        .map(|dir| read_manifest(dir))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = manifests.first() else {
        return Err(OutputError::Compare("no directories to merge".into()));
    };
    let whole = Manifest {
        shard: None,
        ..first.clone()
    };
    let count = first.shard.map_or(1, |s| s.count);
    let mut seen = vec![None; count as usize];
    for (dir, manifest) in shards.iter().zip(&manifests) {
        let mismatch = |what: &str| {
            OutputError::Compare(format!(
                "cannot merge {} with {}: {what} differ",
                dir.display(),
                shards[0].display()
            ))
        };
        if manifest.ksim_version != whole.ksim_version {
            return Err(mismatch(&format!(
                "ksim versions ({} and {})",
                manifest.ksim_version, whole.ksim_version
            )));
        }
        if manifest.scenario_hash != whole.scenario_hash {
            return Err(mismatch("the scenarios (their inputs' fingerprints)"));
        }
        if manifest.variants != whole.variants
            || manifest.seeds != whole.seeds
            || manifest.runs != whole.runs
        {
            return Err(mismatch("the grids of variants and seeds"));
        }
        let index = match manifest.shard {
            Some(s) if s.count == count => s.index,
            None if count == 1 => 0,
            _ => return Err(mismatch("the shard counts")),
        };
        if let Some(other) = seen[index as usize].replace(dir) {
            return Err(OutputError::Compare(format!(
                "{} and {} are both shard {index}/{count}",
                other.display(),
                dir.display()
            )));
        }
    }
    if let Some(missing) = seen.iter().position(Option::is_none) {
        return Err(OutputError::Compare(format!(
            "shard {missing}/{count} is missing: merge needs all {count} shards"
        )));
    }
    let runs_out = out.join(RUNS_DIR);
    for (dir, manifest) in shards.iter().zip(&manifests) {
        for run in manifest.own_runs() {
            copy_dir(&dir.join(RUNS_DIR).join(&run.dir), &runs_out.join(&run.dir))?;
        }
    }
    let mut written = vec![write_manifest(out, &whole)?];
    written.extend(write_comparison(out, &whole)?);
    Ok(written)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), OutputError> {
    fs::create_dir_all(to).map_err(|e| OutputError::io("create directory", to, e))?;
    let entries = fs::read_dir(from).map_err(|e| OutputError::io("read directory", from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| OutputError::io("read directory", from, e))?;
        let target = to.join(entry.file_name());
        fs::copy(entry.path(), &target).map_err(|e| OutputError::io("copy to", &target, e))?;
    }
    Ok(())
}

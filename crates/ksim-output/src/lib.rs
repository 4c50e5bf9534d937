//! ksim-output: writes one run's results into an output directory.
//!
//! Every file is first written under a hidden `.NAME.partial.EXT` name and
//! renamed into place only once it is complete and synced, so a file with a
//! final name is never half-written. Data comes before plots: `timeline.csv`,
//! `pods.csv`, `control_plane.csv`, then the plots, so a failing plot cannot
//! cost the numbers. `summary.json` comes last, once every other file is in
//! place and synced: it marks a complete set, and a directory holding ksim
//! outputs without it is an interrupted or failed run, which
//! [`prepare_out_dir`] refuses to reuse without `force`. Control-plane outputs
//! exist only when the scenario models a control plane.

mod atomic;
mod compare;
mod csv_files;
mod fixed;
mod plots;
mod report;
mod stats;
mod summary;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ksim_core::metrics::RunOutput;

pub use compare::{
    fingerprint, histograms, merge_shards, read_manifest, run_dir_name, write_comparison,
    write_histograms, write_manifest, Manifest, RunEntry, Shard, COMPARISON_CSV, HISTOGRAMS_JSON,
    MANIFEST_JSON, RUNS_DIR,
};
pub use report::{write_run_report, REPORT_HTML};
pub use summary::{summary_without_run, verdict};

pub const TIMELINE_CSV: &str = "timeline.csv";
pub const PODS_CSV: &str = "pods.csv";
pub const SUMMARY_JSON: &str = "summary.json";
pub const CONTROL_PLANE_CSV: &str = "control_plane.csv";
pub const NODE_POOLS_CSV: &str = "node_pools.csv";
/// Written when the scenario has a node autoscaler.
pub const NODE_AUTOSCALER_CSV: &str = "node_autoscaler.csv";
pub const NODE_LIFECYCLE_CSV: &str = "node_lifecycle.csv";
pub const WORKLOADS_CSV: &str = "workloads.csv";
pub const DECISIONS_CSV: &str = "decisions.csv";

/// Facts about the process that ran the simulation; the only part of the
/// output allowed to differ between runs with the same seed.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    pub wall_time_s: f64,
    pub events_per_s: f64,
    pub ksim_version: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    pub pods_csv: bool,
    pub plots: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output path {} exists and is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error(
        "output directory {} is not empty; use --force to replace the ksim outputs in it",
        path.display()
    )]
    NotEmpty { path: PathBuf },
    #[error(
        "output directory {} holds ksim outputs but no {SUMMARY_JSON}: an interrupted run? \
         use --force to replace them",
        path.display()
    )]
    Incomplete { path: PathBuf },
    // The causes below are sources, not part of the message: an error chain
    // (`{:#}`) prints each cause once.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot write CSV {}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("cannot write JSON {}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {}: {message}", path.display())]
    Data { path: PathBuf, message: String },
    #[error("cannot draw plot {}: {message}", path.display())]
    Plot { path: PathBuf, message: String },
    #[error("not a ksim summary JSON object: {0}")]
    InvalidSummary(serde_json::Error),
    /// Comparison outputs that do not fit together (shards of different sweeps).
    #[error("{0}")]
    Compare(String),
}

impl OutputError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        OutputError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn csv(path: &Path, source: csv::Error) -> Self {
        match source.kind() {
            // A csv I/O error shows its cause and also returns it as its
            // source, so a chain would print the cause twice: keep the cause only.
            csv::ErrorKind::Io(cause) => OutputError::io(
                "write",
                path,
                io::Error::new(cause.kind(), cause.to_string()),
            ),
            _ => OutputError::Csv {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// Every file name ksim may write into an output directory, final and partial.
fn known_output_names() -> Vec<String> {
    let mut finals = vec![
        TIMELINE_CSV.to_string(),
        NODE_POOLS_CSV.to_string(),
        PODS_CSV.to_string(),
        CONTROL_PLANE_CSV.to_string(),
        NODE_LIFECYCLE_CSV.to_string(),
        WORKLOADS_CSV.to_string(),
        DECISIONS_CSV.to_string(),
        HISTOGRAMS_JSON.to_string(),
        REPORT_HTML.to_string(),
        MANIFEST_JSON.to_string(),
        COMPARISON_CSV.to_string(),
        SUMMARY_JSON.to_string(),
    ];
    for plot in plots::PLOTS {
        finals.push(plot.png_name());
        finals.push(plot.svg_name());
    }
    let partials: Vec<String> = finals.iter().map(|n| atomic::partial_name(n)).collect();
    finals.extend(partials);
    finals.push(atomic::PROBE_NAME.to_string());
    finals
}

/// Checks `--out` before the simulation starts: creates it if missing;
/// refuses a non-empty directory unless `force` (saying so when it holds ksim
/// outputs without `summary.json`, the remains of an interrupted run);
/// refuses a path that is a file. With `force`, removes every file a previous
/// ksim run may have left (so none of them can pass for this run's output)
/// and leaves other files alone. Finally proves the directory is writable, so
/// a long run cannot fail only at the end.
pub fn prepare_out_dir(dir: &Path, force: bool) -> Result<(), OutputError> {
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(OutputError::NotADirectory {
                path: dir.to_path_buf(),
            })
        }
        Ok(_) => {
            let mut entries =
                fs::read_dir(dir).map_err(|e| OutputError::io("read directory", dir, e))?;
            if entries.next().is_some() {
                if force {
                    remove_known_outputs(dir)?;
                } else if holds_incomplete_run(dir)? {
                    return Err(OutputError::Incomplete {
                        path: dir.to_path_buf(),
                    });
                } else {
                    return Err(OutputError::NotEmpty {
                        path: dir.to_path_buf(),
                    });
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| OutputError::io("create directory", dir, e))?;
        }
        Err(e) => return Err(OutputError::io("inspect", dir, e)),
    }
    atomic::probe_writable(dir)
}

/// Some file a ksim run writes is there, but not the summary it writes last.
fn holds_incomplete_run(dir: &Path) -> Result<bool, OutputError> {
    let exists = |name: &str| {
        let path = dir.join(name);
        path.try_exists()
            .map_err(|e| OutputError::io("inspect", &path, e))
    };
    if exists(SUMMARY_JSON)? {
        return Ok(false);
    }
    for name in known_output_names() {
        if exists(&name)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn remove_known_outputs(dir: &Path) -> Result<(), OutputError> {
    for name in known_output_names() {
        let path = dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(OutputError::io("remove stale output", &path, e)),
        }
    }
    Ok(())
}

/// Writes all outputs into `dir` (which [`prepare_out_dir`] has checked) and
/// returns the paths written, in this order: `timeline.csv`, `pods.csv` (when
/// asked for and recorded), `control_plane.csv` (when modelled), each plot
/// that applies as PNG and SVG, then `summary.json`. On an error the files
/// already written stay, without `summary.json`.
pub fn write_run(
    dir: &Path,
    output: &RunOutput,
    info: &RunInfo,
    options: &WriteOptions,
) -> Result<Vec<PathBuf>, OutputError> {
    let summary = summary::build_summary(dir, output, info)?;
    let mut written = vec![
        csv_files::write_timeline(dir, output)?,
        csv_files::write_node_pools(dir, output)?,
    ];
    if !output.workload_timeline.is_empty() {
        written.push(csv_files::write_workloads(dir, output)?);
    }
    if !output.node_autoscaler_timeline.is_empty() {
        written.push(csv_files::write_node_autoscaler(dir, output)?);
    }
    let workload_autoscaler = output
        .summary
        .workloads
        .iter()
        .any(|w| w.autoscaler.is_some());
    let summary_has = &output.summary;
    if workload_autoscaler
        || summary_has.node_autoscaler.is_some()
        || summary_has.node_pressure.is_some()
    {
        written.push(csv_files::write_decisions(dir, output)?);
    }
    if let (true, Some(pods)) = (options.pods_csv, &output.pods) {
        written.push(csv_files::write_pods(dir, output, pods)?);
    }
    if let Some(control_plane) = &output.control_plane {
        written.push(csv_files::write_control_plane(
            dir,
            &control_plane.timeline,
        )?);
    }
    if let Some(node_lifecycle) = &output.node_lifecycle {
        written.push(csv_files::write_series(
            dir,
            NODE_LIFECYCLE_CSV,
            node_lifecycle,
        )?);
    }
    if options.plots {
        for plot in plots::PLOTS.into_iter().filter(|p| p.applies_to(output)) {
            written.extend(plots::write_plot(dir, plot, output)?);
        }
    }
    // The other files' renames are durable before the summary vouches for them.
    atomic::sync_dir(dir)?;
    written.push(summary::write_summary(dir, &summary)?);
    atomic::sync_dir(dir)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// `{:#}` prints a message and then each source: a message that also
    /// shows its source prints that cause twice ("(os error 13): ... (os error 13)").
    #[test]
    fn no_error_in_a_chain_repeats_its_source() {
        let path = PathBuf::from("out/timeline.csv");
        let denied = || io::Error::from_raw_os_error(13);
        let json_error = serde_json::from_str::<u32>("x").unwrap_err();
        let mut csv_writer = csv::Writer::from_writer(Vec::new());
        csv_writer.write_record(["a", "b"]).unwrap();
        let unequal = csv_writer.write_record(["a"]).unwrap_err();
        let errors = [
            OutputError::io("create", &path, denied()),
            OutputError::csv(&path, csv::Error::from(denied())),
            OutputError::csv(&path, unequal),
            OutputError::Json {
                path: path.clone(),
                source: json_error,
            },
        ];
        for error in errors {
            let mut level: &dyn Error = &error;
            while let Some(source) = level.source() {
                let (message, cause) = (level.to_string(), source.to_string());
                assert!(!message.contains(&cause), "{message} repeats {cause}");
                level = source;
            }
            assert!(error.source().is_some(), "{error} has a cause");
        }
    }
}

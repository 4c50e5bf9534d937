//! ksim-output: writes one run's results into an output directory.
//!
//! Every file is first written under a hidden `.NAME.partial.EXT` name and
//! renamed into place only once it is complete and synced, so a file with a
//! final name is never half-written. Data comes before plots: `timeline.csv`,
//! `pods.csv`, `control_plane.csv`, `summary.json`, then the plots, so a
//! failing plot cannot cost the numbers. Control-plane outputs exist only
//! when the scenario models a control plane.

mod atomic;
mod csv_files;
mod fixed;
mod plots;
mod summary;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ksim_core::metrics::RunOutput;

pub use summary::{summary_without_run, verdict};

pub const TIMELINE_CSV: &str = "timeline.csv";
pub const PODS_CSV: &str = "pods.csv";
pub const SUMMARY_JSON: &str = "summary.json";
pub const CONTROL_PLANE_CSV: &str = "control_plane.csv";

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
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot write CSV {}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("cannot write JSON {}: {source}", path.display())]
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
}

impl OutputError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        OutputError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Every file name ksim may write into an output directory, final and partial.
fn known_output_names() -> Vec<String> {
    let mut finals = vec![
        TIMELINE_CSV.to_string(),
        PODS_CSV.to_string(),
        CONTROL_PLANE_CSV.to_string(),
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
/// refuses a non-empty directory unless `force`; refuses a path that is a
/// file. With `force`, removes every file a previous ksim run may have left
/// (so none of them can pass for this run's output) and leaves other files
/// alone. Finally proves the directory is writable, so a long run cannot fail
/// only at the end.
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
                if !force {
                    return Err(OutputError::NotEmpty {
                        path: dir.to_path_buf(),
                    });
                }
                remove_known_outputs(dir)?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| OutputError::io("create directory", dir, e))?;
        }
        Err(e) => return Err(OutputError::io("inspect", dir, e)),
    }
    atomic::probe_writable(dir)
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
/// asked for and recorded), `control_plane.csv` (when modelled),
/// `summary.json`, then each plot that applies as PNG and SVG.
pub fn write_run(
    dir: &Path,
    output: &RunOutput,
    info: &RunInfo,
    options: &WriteOptions,
) -> Result<Vec<PathBuf>, OutputError> {
    let mut written = vec![csv_files::write_timeline(dir, output)?];
    if let (true, Some(pods)) = (options.pods_csv, &output.pods) {
        written.push(csv_files::write_pods(dir, output, pods)?);
    }
    if let Some(control_plane) = &output.control_plane {
        written.push(csv_files::write_control_plane(
            dir,
            &control_plane.timeline,
        )?);
    }
    written.push(summary::write_summary(dir, output, info)?);
    if options.plots {
        for plot in plots::PLOTS.into_iter().filter(|p| p.applies_to(output)) {
            written.extend(plots::write_plot(dir, plot, output)?);
        }
    }
    atomic::sync_dir(dir)?;
    Ok(written)
}

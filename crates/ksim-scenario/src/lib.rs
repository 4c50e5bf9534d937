//! Reads a TOML scenario file into a validated [`SimConfig`].
//!
//! Validation collects every problem it can find (unknown keys, wrong types,
//! bad units, impossible combinations) instead of stopping at the first, and
//! each problem names the file, line, column and dotted key path. Nothing in
//! here panics on user input.
//!
//! The schema is documented in `docs/scenario.md`.

mod autoscaling;
mod behavior;
mod changes;
mod checks;
mod control_plane;
mod distributions;
pub mod duration;
mod failures;
mod hpa;
mod karpenter;
mod keda;
mod load;
mod names;
mod node_autoscaling;
mod pools;
pub mod quantity;
mod reader;
mod series;
mod sessions;
mod simulation;
mod trace;
mod usage;
mod variants;
mod workloads;

pub use variants::{load_sweep, load_variants, parse_setting, parse_sweep, Setting, Variant};

use std::fmt;
use std::path::Path;

use ksim_core::config::SimConfig;

/// A scenario that passed validation.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub config: SimConfig,
    /// Things that are valid but probably not what the author meant
    /// (e.g. a workload no node can ever fit).
    pub warnings: Vec<String>,
    /// The `[trace]` section: a trace replayed as pods (`ksim-trace`
    /// prepares it into the configuration before the run).
    pub trace: Option<ksim_trace::TraceSpec>,
}

/// One thing wrong with a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    /// Dotted path such as `node_pools[0].cpu`; empty for the whole file.
    pub key_path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.key_path.is_empty() {
            write!(f, ": {}", self.key_path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything wrong with a scenario file, in document order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Reads and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_in(&text, &file, path.parent().unwrap_or(Path::new(""))),
        Err(e) => Err(ScenarioError {
            problems: vec![Problem {
                file: file.clone(),
                line: None,
                column: None,
                key_path: String::new(),
                message: format!("cannot read scenario file `{file}`: {e}"),
            }],
        }),
    }
}

/// Validates scenario `text`; `file` names it in messages, and the files it
/// names (a load series' `path`) resolve against `file`'s directory.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    parse_in(
        text,
        file,
        Path::new(file).parent().unwrap_or(Path::new("")),
    )
}

fn parse_in(text: &str, file: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
    let document = parse_document(text, file)?;
    let mut root = document.as_table().clone();
    // `ksim run` runs the base; the variants are checked, not run.
    let variants = root.remove("variants");
    if variants.is_some() {
        parse_sweep(text, file, &[])?;
    }
    let mut ctx = reader::Ctx::new(text, file, base_dir);
    let config = simulation::read_document(&mut ctx, &root);
    let mut scenario = ctx.finish(config)?;
    if variants.is_some() {
        scenario.warnings.push(format!(
            "{file}: [[variants]] are run by `ksim compare`; this is the base scenario"
        ));
    }
    Ok(scenario)
}

/// The TOML document of `text`, or its syntax error located in `file`.
pub(crate) fn parse_document(
    text: &str,
    file: &str,
) -> Result<toml_edit::ImDocument<String>, ScenarioError> {
    toml_edit::ImDocument::parse(text.to_string()).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (line, column) = reader::LineIndex::new(text).locate(span.start);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        let message = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ScenarioError {
            problems: vec![Problem {
                file: file.to_string(),
                line,
                column,
                key_path: String::new(),
                message: format!("TOML syntax error: {message}"),
            }],
        }
    })
}

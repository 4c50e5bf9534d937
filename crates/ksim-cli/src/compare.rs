//! `ksim compare`, `ksim sweep`, `ksim merge` and `ksim report`: a grid of
//! runs (variants × seeds) in parallel, bounded by memory, and the files
//! computed from it (`ksim_output::write_comparison`).

use crate::run::{available_memory_bytes, positive_gib, size, GIB};
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ksim_core::estimate::estimate_memory;
use ksim_core::sim::Simulation;
use ksim_output::{Manifest, RunEntry, RunInfo, Shard, WriteOptions};
use ksim_scenario::{Setting, Variant};
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(clap::Args)]
pub struct GridArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Runs per variant; seeds are the scenario's seed, +1, +2, ... and the
    /// same for every variant (common random numbers).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    seeds: u32,
    /// Overwrite a non-empty output directory.
    #[arg(long)]
    force: bool,
    /// Runs at once [default: the cores, or RAYON_NUM_THREADS], fewer when
    /// memory is short. The outputs do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Memory the runs may use together, in GiB [default: the memory
    /// available on this machine].
    #[arg(long, value_parser = positive_gib)]
    max_memory_gib: Option<f64>,
    /// Also draw each run's own PNG and SVG plots.
    #[arg(long)]
    run_plots: bool,
}

#[derive(clap::Args)]
pub struct CompareArgs {
    /// One scenario with [[variants]], or several scenarios compared whole
    /// (the first is the baseline).
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    #[command(flatten)]
    grid: GridArgs,
}

#[derive(clap::Args)]
pub struct SweepArgs {
    /// The scenario file (TOML); its [[variants]], if any, are swept too.
    scenario: PathBuf,
    /// KEY=V1,V2,...: a dotted key path of the scenario and the values to
    /// try; several --set make a cartesian grid.
    #[arg(long = "set", required = true, value_parser = ksim_scenario::parse_setting)]
    sets: Vec<Setting>,
    /// Run only slice I (0-based) of N of the grid: I/N. With N alone, I
    /// comes from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or
    /// SLURM_ARRAY_TASK_ID (a Slurm job array).
    #[arg(long)]
    shard: Option<String>,
    #[command(flatten)]
    grid: GridArgs,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The shard directories of one sweep.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where the merged outputs go.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite a non-empty output directory.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// A finished run's or comparison's output directory.
    dir: PathBuf,
}

pub fn compare(args: &CompareArgs) -> Result<()> {
    let mut variants = Vec::new();
    let mut inputs = Vec::new();
    for path in &args.scenarios {
        inputs.push(read_input(path)?);
        let mut loaded = load(path, &[])?;
        // A whole scenario among several is named by its file.
        if let ([only], true) = (loaded.as_mut_slice(), args.scenarios.len() > 1) {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                only.name = stem.to_string();
            }
        }
        variants.extend(loaded);
    }
    let mut names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "two variants are named `{}`: rename a file or a variant",
            twice[0]
        );
    }
    run_grid(&variants, &inputs, &args.grid, None)
}

pub fn sweep(args: &SweepArgs) -> Result<()> {
    let variants = load(&args.scenario, &args.sets)?;
    let mut inputs = vec![read_input(&args.scenario)?];
    for set in &args.sets {
        inputs.push(format!("--set {}={}", set.key, set.values.join(",")).into_bytes());
    }
    let shard = match &args.shard {
        Some(text) => Some(parse_shard(text, shard_index_from_env)?),
        None => None,
    };
    run_grid(&variants, &inputs, &args.grid, shard)
}

/// Checks the output directory like `ksim run`; with `force`, also removes
/// the `runs/` an earlier comparison left, so none of its runs remains.
fn prepare(out: &Path, force: bool) -> Result<()> {
    ksim_output::prepare_out_dir(out, force)?;
    let runs_dir = out.join(ksim_output::RUNS_DIR);
    if force && runs_dir.exists() {
        std::fs::remove_dir_all(&runs_dir)
            .with_context(|| format!("cannot remove {}", runs_dir.display()))?;
    }
    Ok(())
}

pub fn merge(args: &MergeArgs) -> Result<()> {
    prepare(&args.out, args.force)?;
    let written = ksim_output::merge_shards(&args.out, &args.dirs)?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

pub fn report(args: &ReportArgs) -> Result<()> {
    let written = if args.dir.join(ksim_output::MANIFEST_JSON).exists() {
        let manifest = ksim_output::read_manifest(&args.dir)?;
        ksim_output::write_comparison(&args.dir, &manifest)?
    } else if args.dir.join(ksim_output::SUMMARY_JSON).exists() {
        vec![ksim_output::write_run_report(&args.dir)?]
    } else {
        bail!(
            "{} holds no finished run or comparison (no {} or {})",
            args.dir.display(),
            ksim_output::SUMMARY_JSON,
            ksim_output::MANIFEST_JSON
        );
    };
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn read_input(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn load(path: &Path, sets: &[Setting]) -> Result<Vec<Variant>> {
    ksim_scenario::load_sweep(path, sets).map_err(|err| {
        crate::console::eprint_lines(&err.problems);
        let count = err.problems.len();
        anyhow!(
            "{}: {count} problem{} in the scenario or its variants",
            path.display(),
            if count == 1 { "" } else { "s" }
        )
    })
}

/// `I/N`, or `N` with I from the environment (`env("JOB_COMPLETION_INDEX")`...).
pub(crate) fn parse_shard(text: &str, env: impl Fn() -> Option<String>) -> Result<Shard> {
    let number = |s: &str, what: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| anyhow!("--shard {text}: {what} `{s}` is not a whole number"))
    };
    let (index, count) = match text.split_once('/') {
        Some((i, n)) => (number(i, "the index")?, number(n, "the count")?),
        None => {
            let count = number(text, "the count")?;
            let index = env().ok_or_else(|| {
                anyhow!(
                    "--shard {text}: give I/N, or set JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID"
                )
            })?;
            (number(&index, "the index from the environment")?, count)
        }
    };
    if count == 0 {
        bail!("--shard {text}: the count must be at least 1");
    }
    if index >= count {
        bail!(
            "--shard {text}: index {index} is out of range: shards are numbered 0 to {}",
            count - 1
        );
    }
    Ok(Shard { index, count })
}

fn shard_index_from_env() -> Option<String> {
    ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
}

fn run_grid(
    variants: &[Variant],
    inputs: &[Vec<u8>],
    args: &GridArgs,
    shard: Option<Shard>,
) -> Result<()> {
    let mut runs = Vec::new();
    for (v, variant) in variants.iter().enumerate() {
        for seed_index in 0..args.seeds {
            let seed = variant
                .scenario
                .config
                .seed
                .checked_add(u64::from(seed_index))
                .ok_or_else(|| {
                    anyhow!("variant `{}`: seed + {seed_index} overflows", variant.name)
                })?;
            runs.push(RunEntry {
                variant: v,
                seed_index,
                seed,
                dir: ksim_output::run_dir_name(v, seed),
            });
        }
    }
    let mut hashed: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    let seeds = args.seeds.to_le_bytes();
    hashed.push(&seeds);
    let manifest = Manifest {
        ksim_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario_hash: ksim_output::fingerprint(&hashed),
        variants: variants.iter().map(|v| v.name.clone()).collect(),
        seeds: args.seeds,
        runs,
        shard,
    };
    let own: Vec<&RunEntry> = manifest.own_runs().collect();
    let workers = workers(variants, args, own.len())?;
    prepare(&args.out, args.force)?;
    let runs_dir = args.out.join(ksim_output::RUNS_DIR);
    eprintln!(
        "{} run(s) of {} variant(s) × {} seed(s){}, {workers} at a time",
        own.len(),
        variants.len(),
        args.seeds,
        shard.map_or(String::new(), |s| format!(
            ", shard {}/{}",
            s.index, s.count
        ))
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .context("cannot start the worker threads")?;
    let progress = GridProgress::new(own.len());
    let results: Vec<Result<()>> = pool.install(|| {
        own.par_iter()
            .map(|run| {
                let result = run_one(&variants[run.variant], run, &runs_dir, args.run_plots);
                progress.done();
                result
            })
            .collect()
    });
    progress.finish();
    for result in results {
        result?;
    }
    let mut written = vec![ksim_output::write_manifest(&args.out, &manifest)?];
    if shard.is_none() {
        written.extend(ksim_output::write_comparison(&args.out, &manifest)?);
    } else {
        println!(
            "shard done: merge all {} shards with `ksim merge DIR... --out DIR`",
            shard.map_or(1, |s| s.count)
        );
    }
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Runs at once: the threads asked for (or the cores), no more than the
/// memory holds by the estimate of the largest variant.
fn workers(variants: &[Variant], args: &GridArgs, runs: usize) -> Result<usize> {
    let largest = variants
        .iter()
        .map(|v| (v, estimate_memory(&v.scenario.config).bytes))
        .max_by_key(|(_, bytes)| *bytes);
    let limit = match args.max_memory_gib {
        Some(gib) => Some((gib * GIB) as u64),
        None => available_memory_bytes(),
    };
    let wanted = match args.threads {
        Some(t) => t as usize,
        // The cores, or RAYON_NUM_THREADS when set.
        None => rayon::current_num_threads(),
    };
    let mut workers = wanted.min(runs.max(1));
    if let (Some((variant, bytes)), Some(limit)) = (largest, limit) {
        if bytes > limit {
            bail!(
                "variant `{}` would need about {} per run but only {} is available; \
                 shrink it, or pass --max-memory-gib if the estimate is too cautious",
                variant.name,
                size(bytes),
                size(limit)
            );
        }
        let fit = (limit / bytes.max(1)).max(1) as usize;
        if fit < workers {
            eprintln!(
                "memory: {} runs of about {} each fit in {}: running {fit} at a time",
                workers,
                size(bytes),
                size(limit)
            );
            workers = fit;
        }
    }
    Ok(workers)
}

fn run_one(variant: &Variant, run: &RunEntry, runs_dir: &Path, plots: bool) -> Result<()> {
    let context = || format!("variant `{}`, seed {}", variant.name, run.seed);
    let mut config = variant.scenario.config.clone();
    config.seed = run.seed;
    let started = Instant::now();
    let output = Simulation::new(config)
        .with_context(context)?
        .run()
        .with_context(context)?;
    let wall_time_s = started.elapsed().as_secs_f64();
    let info = RunInfo {
        wall_time_s,
        events_per_s: output.summary.events_processed as f64 / wall_time_s.max(1e-9),
        ksim_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let dir = runs_dir.join(&run.dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let options = WriteOptions {
        pods_csv: false,
        plots,
    };
    ksim_output::write_histograms(&dir, &output)?;
    ksim_output::write_run(&dir, &output, &info, &options).with_context(context)?;
    Ok(())
}

/// Runs done of the total with an ETA: a bar on a terminal, a line per run otherwise.
struct GridProgress {
    bar: Option<ProgressBar>,
    total: usize,
    done: AtomicUsize,
}

impl GridProgress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "[{elapsed_precise}] {wide_bar} {pos}/{len} runs, ETA {eta}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar
        });
        GridProgress {
            bar,
            total,
            done: AtomicUsize::new(0),
        }
    }

    fn done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => eprintln!("progress: {done}/{} runs done", self.total),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_i_of_n_or_n_with_the_index_from_the_environment() {
        let none = || None;
        let slurm = || Some("3".to_string());
        assert_eq!(
            parse_shard("2/5", none).unwrap(),
            Shard { index: 2, count: 5 }
        );
        assert_eq!(
            parse_shard("4", slurm).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let error = |text: &str, env: &dyn Fn() -> Option<String>| {
            parse_shard(text, env).unwrap_err().to_string()
        };
        assert!(error("5/5", &none).contains("index 5 is out of range"));
        assert!(error("3", &slurm).contains("index 3 is out of range"));
        assert!(error("1/0", &none).contains("at least 1"));
        assert!(error("4", &none).contains("JOB_COMPLETION_INDEX"));
        assert!(error("x/2", &none).contains("not a whole number"));
    }
}

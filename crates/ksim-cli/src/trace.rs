//! `ksim trace inspect` and `ksim trace convert`, and preparing a
//! scenario's `[trace]` for `ksim run`. The reading is `ksim-trace`'s.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ksim_core::config::SimConfig;
use ksim_trace::native;
use ksim_trace::stats::{census, Census, PERCENTILES};
use ksim_trace::{azure, Format, TraceSpec};

#[derive(clap::Subcommand)]
pub enum TraceCommand {
    /// Rows, time span, arrivals per minute, request sizes, censored and
    /// skipped rows, and the mapping assumptions in force.
    Inspect(TraceArgs),
    /// Write a trace as ksim's native pod CSV (or, for Azure Functions, rate
    /// series), after the window, scales and censoring a replay applies.
    Convert {
        #[command(flatten)]
        trace: TraceArgs,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct TraceArgs {
    /// The trace file (plain or gzip'ed CSV).
    path: PathBuf,
    /// google-cluster-2011, alibaba-v2017, alibaba-gpu-v2023,
    /// azure-functions-2019 or native.
    #[arg(long)]
    format: String,
    /// Continue past malformed rows; report how many and the first lines.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Stop after this many pods.
    #[arg(long)]
    pod_limit: Option<u64>,
    /// Window start and end, in trace seconds.
    #[arg(long)]
    window_start_s: Option<u64>,
    #[arg(long)]
    window_end_s: Option<u64>,
}

impl TraceArgs {
    fn spec(&self) -> Result<TraceSpec> {
        let Some(format) = Format::from_name(&self.format) else {
            bail!(
                "unknown trace format `{}`: expected one of {}",
                self.format,
                Format::names()
            );
        };
        let mut spec = TraceSpec::new(format, self.path.clone());
        spec.skip_bad_rows = self.skip_bad_rows;
        spec.pod_limit = self.pod_limit;
        spec.window_start_s = self.window_start_s;
        spec.window_end_s = self.window_end_s;
        Ok(spec)
    }
}

pub fn trace(command: &TraceCommand) -> Result<()> {
    match command {
        TraceCommand::Inspect(args) => inspect(&args.spec()?),
        TraceCommand::Convert { trace, out } => convert(&trace.spec()?, out),
    }
}

/// A bar of bytes read over the file's size, on a terminal.
fn byte_bar(path: &Path) -> impl FnMut(u64, u64) {
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} reading {msg} {wide_bar} {bytes}/{total_bytes}",
            )
            .expect("static template"),
        );
        bar.set_message(path.display().to_string());
        bar
    });
    move |read, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(read);
            if read >= total {
                bar.finish_and_clear();
            }
        }
    }
}

fn inspect(spec: &TraceSpec) -> Result<()> {
    if spec.format == Format::AzureFunctions2019 {
        return inspect_rates(spec);
    }
    let c = census(spec, byte_bar(&spec.path))?;
    print_census(spec, &c);
    Ok(())
}

fn print_census(spec: &TraceSpec, c: &Census) {
    println!("{} ({})", c.file, spec.format.name());
    println!(
        "rows: {} tasks read, {} pods, {} templates",
        c.counts.tasks_read,
        c.counts.pods,
        c.templates.len()
    );
    let s = |ns: Option<u64>| ns.map_or(0.0, |ns| ns as f64 / 1e9);
    println!(
        "time span: arrivals from {:.3} s to {:.3} s (simulated time)",
        s(c.first_arrival_ns),
        s(c.last_arrival_ns)
    );
    println!(
        "arrivals per minute: min {}, mean {:.1}, max {}",
        c.per_minute.min, c.per_minute.mean, c.per_minute.max
    );
    let labels = PERCENTILES.map(|p| format!("p{}", (p * 100.0) as u32));
    let row = |values: [u64; 4], unit: &str, div: f64| {
        labels
            .iter()
            .zip(values)
            .map(|(l, v)| format!("{l} {:.3}{unit}", v as f64 / div))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("cpu request: {}", row(c.cpu_millis, " cores", 1000.0));
    println!(
        "memory request: {}",
        row(c.memory_bytes, " GiB", (1u64 << 30) as f64)
    );
    println!(
        "censored: {} running at the window's start (initial state), {} with no end (run to the end)",
        c.counts.censored_at_start, c.counts.censored_no_end
    );
    println!(
        "dropped: {} ended before the window, {} ended without starting",
        c.counts.ended_before_window, c.counts.ended_unstarted
    );
    println!(
        "skipped rows: {}{}",
        c.skipped.rows,
        if c.skipped.first_lines.is_empty() {
            String::new()
        } else {
            format!(" (first at lines {:?})", c.skipped.first_lines)
        }
    );
    for (name, value) in &c.format_counts {
        println!("{}: {value}", name.replace('_', " "));
    }
    for (name, t) in &c.templates {
        println!(
            "template `{name}`: {} pods, priority {}, mean run {:.1} s{}",
            t.pods,
            t.priority,
            t.mean_run_ns() / 1e9,
            if t.gpus { ", GPUs" } else { "" }
        );
    }
    println!("assumptions:");
    for line in ksim_trace::prepare::assumptions(spec) {
        println!("  {line}");
    }
}

fn inspect_rates(spec: &TraceSpec) -> Result<()> {
    let mut total: Vec<u64> = Vec::new();
    let (functions, minutes) = azure::read_invocations(&spec.path, spec.skip_bad_rows, |f| {
        total.resize(total.len().max(f.per_minute.len()), 0);
        for (t, n) in total.iter_mut().zip(&f.per_minute) {
            *t += n;
        }
        Ok(())
    })?;
    let sum: u64 = total.iter().sum();
    println!("{} (azure-functions-2019)", spec.path.display());
    println!(
        "rows: {functions} functions, {} minutes (columns {} to {})",
        minutes.len(),
        minutes.first().map_or("", String::as_str),
        minutes.last().map_or("", String::as_str)
    );
    println!(
        "invocations per minute (all functions): min {}, mean {:.1}, max {}",
        total.iter().min().unwrap_or(&0),
        sum as f64 / total.len().max(1) as f64,
        total.iter().max().unwrap_or(&0)
    );
    println!("assumptions:");
    println!("  one workload per function, named fn-<first 8 characters of its hash>");
    println!("  a minute's count / 60 is the rate (per second) from the minute's start");
    Ok(())
}

fn convert(spec: &TraceSpec, out: &Path) -> Result<()> {
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = BufWriter::new(file);
    let written = if spec.format == Format::AzureFunctions2019 {
        writeln!(w, "{}", azure::RATE_HEADER)?;
        let (functions, _) = azure::read_invocations(&spec.path, spec.skip_bad_rows, |f| {
            azure::write_series(&mut w, &f).map_err(|e| ksim_trace::TraceError::Io {
                path: out.to_path_buf(),
                source: e,
            })
        })?;
        format!("{functions} functions' rate series")
    } else {
        let (counts, skipped) = native::convert(spec, &mut w, byte_bar(&spec.path))?;
        if skipped.rows > 0 {
            eprintln!(
                "skipped {} bad rows (first at lines {:?})",
                skipped.rows, skipped.first_lines
            );
        }
        format!("{} pods", counts.pods)
    };
    w.flush()
        .with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {} ({written})", out.display());
    Ok(())
}

/// Adds the scenario's trace to `config` and returns its source, after a
/// first pass that reports what it found.
pub fn prepare_run(
    spec: &TraceSpec,
    config: &mut SimConfig,
    skip_bad_rows: bool,
) -> Result<Box<dyn ksim_core::source::PodSource>> {
    let mut spec = spec.clone();
    spec.skip_bad_rows |= skip_bad_rows;
    let prepared = ksim_trace::prepare(&spec, config, byte_bar(&spec.path))?;
    let c = &prepared.census;
    println!(
        "trace: {} pods in {} templates from {} ({} censored at the start, {} with no end)",
        c.counts.pods,
        c.templates.len(),
        c.file,
        c.counts.censored_at_start,
        c.counts.censored_no_end
    );
    if c.skipped.rows > 0 {
        eprintln!(
            "warning: trace: skipped {} bad rows (first at lines {:?})",
            c.skipped.rows, c.skipped.first_lines
        );
    }
    Ok(Box::new(prepared.source))
}

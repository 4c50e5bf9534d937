//! `ksim`: run and validate scenarios. A thin shell over the library crates:
//! parse arguments, read the scenario, drive the simulation, write results.

/// The crate's own `println!` and `eprintln!`, defined before the modules so
/// that they replace std's everywhere in the crate: they never panic when a
/// stream fails (see `console`).
macro_rules! println {
    () => { $crate::console::print_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}

macro_rules! eprintln {
    () => { $crate::console::eprint_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::console::eprint_line(format_args!($($arg)*)) };
}

mod compare;
mod console;
mod progress;
mod run;
mod store_bench;
mod trace;
mod validate;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ksim",
    version,
    about = "Discrete-event simulator of Kubernetes clusters at million-node scale"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its results.
    Run(run::RunArgs),
    /// Check a scenario without running it; list what it models and what it does not.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
    /// Run every variant of a scenario (or several scenarios) over seeds and compare them.
    Compare(compare::CompareArgs),
    /// Run a scenario over a grid of values (--set KEY=V1,V2), whole or one shard of it.
    Sweep(compare::SweepArgs),
    /// Combine the shard directories of a sweep into one comparison.
    Merge(compare::MergeArgs),
    /// Rebuild report.html (and comparison.csv) from a finished run's or comparison's files.
    Report(compare::ReportArgs),
    /// Closed-loop write benchmark of the etcd store model (like etcd's `benchmark put`).
    StoreBench(store_bench::StoreBenchArgs),
    /// Inspect or convert a workload trace.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
}

fn main() -> ExitCode {
    let result = match Cli::try_parse() {
        Ok(cli) => match cli.command {
            Command::Run(args) => run::run(&args),
            Command::Validate { scenario } => validate::validate(&scenario),
            Command::StoreBench(args) => store_bench::store_bench(&args),
            Command::Trace(command) => trace::trace(&command),
            Command::Compare(args) => compare::compare(&args),
            Command::Sweep(args) => compare::sweep(&args),
            Command::Merge(args) => compare::merge(&args),
            Command::Report(args) => compare::report(&args),
        },
        // Help and version (exit code 0) go to stdout, usage errors to stderr.
        Err(usage) if usage.use_stderr() => {
            let _ = usage.print();
            return ExitCode::from(usage.exit_code().clamp(1, 255) as u8);
        }
        Err(help) => {
            console::keep_stdout_result(help.print());
            Ok(())
        }
    };
    let result = result.and_then(|()| console::stdout_result().context("writing to stdout"));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

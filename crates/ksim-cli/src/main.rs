//! `ksim`: run and validate scenarios. A thin shell over the library crates:
//! parse arguments, read the scenario, drive the simulation, write results.

mod progress;
mod run;
mod store_bench;
mod validate;

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
    /// Closed-loop write benchmark of the etcd store model (like etcd's `benchmark put`).
    StoreBench(store_bench::StoreBenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Validate { scenario } => validate::validate(&scenario),
        Command::StoreBench(args) => store_bench::store_bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

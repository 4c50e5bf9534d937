//! `ksim store-bench`: the closed-loop etcd write benchmark against the store model.

use anyhow::{Context, Result};
use ksim_core::store::bench::{closed_loop, BenchResult, WARM_UP};
use ksim_core::store::StoreConfig;
use ksim_core::time::SimDuration;

#[derive(clap::Args)]
pub struct StoreBenchArgs {
    /// Concurrent clients, each with one write outstanding.
    #[arg(long)]
    clients: u32,
    /// Value size of each write, in bytes.
    #[arg(long, default_value_t = 256)]
    value_bytes: u32,
    /// Simulated seconds measured (after a 1 s warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

pub fn store_bench(args: &StoreBenchArgs) -> Result<()> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        anyhow::bail!("--seconds must be above zero, got {}", args.seconds);
    }
    let duration = SimDuration::from_secs_f64(args.seconds);
    let result = closed_loop(
        &StoreConfig::default(),
        args.clients,
        args.value_bytes,
        args.seed,
        duration,
    )
    .context("store benchmark")?;
    if args.json {
        println!("{}", to_json(args, &result));
    } else {
        print_lines(args, &result, duration);
    }
    Ok(())
}

fn to_json(args: &StoreBenchArgs, r: &BenchResult) -> serde_json::Value {
    serde_json::json!({
        "clients": args.clients,
        "value_bytes": args.value_bytes,
        "writes_per_s": r.writes_per_s,
        "latency_mean_ms": r.latency_mean_ms,
        "latency_p50_ms": r.latency_p50_ms,
        "latency_p99_ms": r.latency_p99_ms,
    })
}

fn print_lines(args: &StoreBenchArgs, r: &BenchResult, duration: SimDuration) {
    println!("clients: {}", args.clients);
    println!("value bytes: {}", args.value_bytes);
    println!(
        "simulated: {:.1} s measured after {:.1} s warm-up",
        duration.as_secs_f64(),
        WARM_UP.as_secs_f64()
    );
    println!("writes: {}", r.writes);
    println!("writes/s: {:.0}", r.writes_per_s);
    println!("latency mean: {:.3} ms", r.latency_mean_ms);
    println!("latency p50: {:.3} ms", r.latency_p50_ms);
    println!("latency p99: {:.3} ms", r.latency_p99_ms);
    if r.rejected > 0 {
        println!("rejected (NOSPACE): {}", r.rejected);
    }
}

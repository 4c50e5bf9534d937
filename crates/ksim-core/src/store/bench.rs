//! Closed-loop write benchmark, after etcd's `benchmark put`: each client
//! keeps one write outstanding and issues the next when the previous one is
//! acknowledged.

use super::{Store, StoreConfig, StoreConfigError};
use crate::histogram::LatencyHistogram;
use crate::queue::EventQueue;
use crate::rng::RngStreams;
use crate::time::{SimDuration, SimTime};

/// Simulated time before measuring, so the figures start from a full pipeline
/// rather than all clients starting together.
pub const WARM_UP: SimDuration = SimDuration::from_secs(1);

/// Most clients one benchmark simulates; each costs a pending event and a timestamp.
pub const MAX_CLIENTS: u32 = 10_000_000;

/// Figures over the measured window (after [`WARM_UP`]).
#[derive(Clone, Debug, PartialEq)]
pub struct BenchResult {
    pub writes_per_s: f64,
    pub latency_mean_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// Writes acknowledged in the measured window.
    pub writes: u64,
    /// Writes refused (NOSPACE); a refused client stops.
    pub rejected: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BenchError {
    #[error("the benchmark needs at least one client")]
    NoClients,
    #[error("the benchmark simulates at most {MAX_CLIENTS} clients")]
    TooManyClients,
    #[error("the measured duration must be above zero")]
    ZeroDuration,
    // Not `#[from]`, which would make it a `source` too and print it twice in a chain.
    #[error("invalid store configuration: {0}")]
    Config(StoreConfigError),
}

/// Runs `clients` closed-loop clients writing `value_bytes` values for
/// [`WARM_UP`] plus `duration` of simulated time, and measures the writes
/// acknowledged during `duration`.
pub fn closed_loop(
    config: &StoreConfig,
    clients: u32,
    value_bytes: u32,
    seed: u64,
    duration: SimDuration,
) -> Result<BenchResult, BenchError> {
    if clients == 0 {
        return Err(BenchError::NoClients);
    }
    if clients > MAX_CLIENTS {
        return Err(BenchError::TooManyClients);
    }
    if duration == SimDuration::ZERO {
        return Err(BenchError::ZeroDuration);
    }
    let mut store = Store::new(config.clone(), RngStreams::new(seed).stream("store"))
        .map_err(BenchError::Config)?;
    let measure_from = SimTime::ZERO + WARM_UP;
    let end = measure_from + duration;
    let mut submitted_at = vec![SimTime::ZERO; clients as usize];
    let mut events: EventQueue<u32> = EventQueue::new();
    let mut latency = LatencyHistogram::default();

    // One pending event per client: the acknowledgement of its current write.
    for client in 0..clients {
        issue(
            &mut store,
            &mut events,
            &mut submitted_at,
            client,
            SimTime::ZERO,
            value_bytes,
        );
    }
    while let Some((now, client)) = events.pop() {
        if now > end {
            break;
        }
        if now >= measure_from {
            latency.record(now - submitted_at[client as usize]);
        }
        issue(
            &mut store,
            &mut events,
            &mut submitted_at,
            client,
            now,
            value_bytes,
        );
    }

    let ms = |d: Option<SimDuration>| d.map_or(0.0, SimDuration::as_millis_f64);
    Ok(BenchResult {
        writes_per_s: latency.count() as f64 / duration.as_secs_f64(),
        latency_mean_ms: ms(latency.mean()),
        latency_p50_ms: ms(latency.quantile(0.5)),
        latency_p99_ms: ms(latency.quantile(0.99)),
        writes: latency.count(),
        rejected: store.rejected(),
    })
}

/// Submits the client's next write; a refused client issues no more.
fn issue(
    store: &mut Store,
    events: &mut EventQueue<u32>,
    submitted_at: &mut [SimTime],
    client: u32,
    now: SimTime,
    value_bytes: u32,
) {
    if let Ok(ack) = store.submit(now, value_bytes) {
        submitted_at[client as usize] = now;
        events
            .push(ack.at, client)
            .expect("acknowledgements are never before their submission");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(clients: u32) -> BenchResult {
        let duration = SimDuration::from_secs(5);
        closed_loop(&StoreConfig::default(), clients, 256, 1, duration).unwrap()
    }

    fn assert_within(what: &str, got: f64, published: f64, tolerance: f64) {
        let error = (got - published).abs() / published;
        assert!(
            error <= tolerance,
            "{what}: {got:.3} vs published {published} ({:.1}% off)",
            error * 100.0
        );
    }

    /// etcd Documentation/op-guide/performance.md: 3 members, 256-byte values,
    /// 1 client: 583 writes/s at a mean of 1.6 ms.
    #[test]
    fn one_client_matches_etcd_published_figures() {
        let r = run(1);
        assert_within("writes/s", r.writes_per_s, 583.0, 0.15);
        assert_within("mean latency ms", r.latency_mean_ms, 1.6, 0.15);
    }

    /// Same benchmark, 1,000 clients all writing to the leader: 44,341 writes/s
    /// at a mean of 22 ms.
    #[test]
    fn thousand_clients_match_etcd_published_figures() {
        let r = run(1_000);
        assert_within("writes/s", r.writes_per_s, 44_341.0, 0.15);
        assert_within("mean latency ms", r.latency_mean_ms, 22.0, 0.15);
    }

    /// A closed loop holds exactly `clients` writes in the system, so
    /// throughput × mean latency = clients (Little's law).
    #[test]
    fn closed_loop_obeys_littles_law() {
        for clients in [1, 7, 50, 300, 2_000] {
            let r = run(clients);
            let predicted = f64::from(clients) / (r.latency_mean_ms / 1_000.0);
            assert_within(
                &format!("{clients} clients: writes/s"),
                r.writes_per_s,
                predicted,
                0.03,
            );
        }
    }

    #[test]
    fn throughput_saturates_and_latency_rises_with_clients() {
        let results: Vec<BenchResult> = [1, 10, 100, 1_000, 4_000].map(run).into();
        for pair in results[..4].windows(2) {
            assert!(pair[1].writes_per_s > pair[0].writes_per_s, "{pair:?}");
        }
        for pair in results.windows(2) {
            assert!(
                pair[1].latency_mean_ms > pair[0].latency_mean_ms,
                "{pair:?}"
            );
        }
        // Saturated: four times the clients buy no more than 5% more throughput...
        let gain = results[4].writes_per_s / results[3].writes_per_s;
        assert!((0.99..1.05).contains(&gain), "{gain}");
        // ...and cost about four times the latency.
        assert!(results[4].latency_mean_ms > 3.5 * results[3].latency_mean_ms);
        assert!(results[3].latency_mean_ms > 10.0 * results[0].latency_mean_ms);
        assert!(results[0].latency_p99_ms >= results[0].latency_p50_ms);
    }

    #[test]
    fn larger_values_cost_throughput_mildly() {
        let duration = SimDuration::from_secs(3);
        let config = StoreConfig::default();
        let small = closed_loop(&config, 1_000, 256, 1, duration).unwrap();
        let large = closed_loop(&config, 1_000, 4_096, 1, duration).unwrap();
        assert!(large.writes_per_s < small.writes_per_s);
        assert!(large.writes_per_s > 0.3 * small.writes_per_s);
    }

    #[test]
    fn same_seed_same_result_other_seed_differs() {
        let config = StoreConfig::default();
        let duration = SimDuration::from_secs(2);
        let a = closed_loop(&config, 20, 256, 9, duration).unwrap();
        let b = closed_loop(&config, 20, 256, 9, duration).unwrap();
        let c = closed_loop(&config, 20, 256, 10, duration).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let config = StoreConfig::default();
        let second = SimDuration::from_secs(1);
        assert_eq!(
            closed_loop(&config, 0, 256, 1, second),
            Err(BenchError::NoClients)
        );
        assert_eq!(
            closed_loop(&config, MAX_CLIENTS + 1, 256, 1, second),
            Err(BenchError::TooManyClients)
        );
        assert_eq!(
            closed_loop(&config, 1, 256, 1, SimDuration::ZERO),
            Err(BenchError::ZeroDuration)
        );
        let bad = StoreConfig {
            members: 0,
            ..StoreConfig::default()
        };
        assert_eq!(
            closed_loop(&bad, 1, 256, 1, second),
            Err(BenchError::Config(StoreConfigError::NoMembers))
        );
    }

    #[test]
    fn clients_stop_at_the_quota() {
        let config = StoreConfig {
            quota_bytes: 100 * 320,
            ..StoreConfig::default()
        };
        let r = closed_loop(&config, 10, 256, 1, SimDuration::from_secs(2)).unwrap();
        // The quota holds 100 writes of 320 bytes, all made during the warm-up.
        assert_eq!(r.writes, 0);
        assert_eq!(r.rejected, 10);
    }
}

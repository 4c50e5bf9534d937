//! Hold-model benchmark of the future event list.
//!
//! The queue is pre-filled with 10^6 pending events (one completion per running
//! pod in a large run); each iteration pops the earliest event and pushes one
//! replacement at `popped time + delay`, so the size stays constant. Delays mix
//! long pod lifetimes (exponential, mean 60 s) with short control-loop hops
//! (1 µs to 1 ms). `std::collections::BinaryHeap` keyed by (time, sequence) is
//! benched on the same workload as the baseline.

use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput,
};
use ksim_core::queue::EventQueue;
use ksim_core::time::SimTime;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

const PENDING: usize = 1_000_000;
const LONG_MEAN_NS: f64 = 60e9;
const SHORT_MAX_NS: u64 = 1_000_000;
/// Share of replacement events that are short control-loop hops.
const SHORT_SHARE: f64 = 0.2;
/// Delays are drawn up front so the measurement is the queue, not the sampler;
/// the table is small enough to stay in cache next to the queue.
const DELAY_TABLE_LEN: usize = 1 << 16;
const SEED: u64 = 0x6b73_696d_5f71_7565;

/// Same size as the simulation's events: a 16-byte Copy enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum BenchEvent {
    PodFinished { pod: u32, node: u32 },
    Tick(u64),
}

fn delay_ns(rng: &mut Pcg64Mcg) -> u64 {
    if rng.random_bool(SHORT_SHARE) {
        rng.random_range(1_000..=SHORT_MAX_NS)
    } else {
        // Inverse-CDF exponential; 1 - u avoids ln(0).
        let u: f64 = rng.random();
        (-(1.0 - u).ln() * LONG_MEAN_NS) as u64
    }
}

fn delay_table(rng: &mut Pcg64Mcg) -> Vec<u64> {
    (0..DELAY_TABLE_LEN).map(|_| delay_ns(rng)).collect()
}

/// Mostly pod completions, with an occasional timer among them.
fn event(i: usize) -> BenchEvent {
    match i % 8 {
        0 => BenchEvent::Tick(i as u64),
        _ => BenchEvent::PodFinished {
            pod: i as u32,
            node: (i / 100) as u32,
        },
    }
}

fn bench_ksim_queue(group: &mut BenchmarkGroup<WallTime>, rng: &mut Pcg64Mcg, delays: &[u64]) {
    let mut queue = EventQueue::new();
    for i in 0..PENDING {
        queue
            .push(SimTime(delay_ns(rng)), event(i))
            .expect("prefill is never in the past");
    }
    let mut cursor = 0usize;
    group.bench_function("ksim_event_queue", |b| {
        b.iter(|| {
            let (time, ev) = queue.pop().expect("queue stays full");
            let delay = delays[cursor & (DELAY_TABLE_LEN - 1)];
            cursor = cursor.wrapping_add(1);
            queue
                .push(SimTime(time.0 + delay), black_box(ev))
                .expect("replacement is never in the past");
        })
    });
}

fn bench_binary_heap(group: &mut BenchmarkGroup<WallTime>, rng: &mut Pcg64Mcg, delays: &[u64]) {
    let mut heap = BinaryHeap::with_capacity(PENDING);
    let mut seq = 0u64;
    for i in 0..PENDING {
        heap.push(Reverse((delay_ns(rng), seq, event(i))));
        seq += 1;
    }
    let mut cursor = 0usize;
    group.bench_function("std_binary_heap", |b| {
        b.iter(|| {
            let Reverse((time, _, ev)) = heap.pop().expect("heap stays full");
            let delay = delays[cursor & (DELAY_TABLE_LEN - 1)];
            cursor = cursor.wrapping_add(1);
            heap.push(Reverse((time + delay, seq, black_box(ev))));
            seq += 1;
        })
    });
}

fn event_queue(c: &mut Criterion) {
    let mut rng = Pcg64Mcg::seed_from_u64(SEED);
    let delays = delay_table(&mut rng);
    let mut group = c.benchmark_group("hold_1m");
    // One element = one pop plus one push.
    group.throughput(Throughput::Elements(1));
    // Both structures see the same prefill times and the same delays.
    bench_ksim_queue(&mut group, &mut rng.clone(), &delays);
    bench_binary_heap(&mut group, &mut rng, &delays);
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = event_queue
}
criterion_main!(benches);

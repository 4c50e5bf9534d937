//! Run results the core hands to writers: timeline samples, pod records,
//! the summary, and a compact latency histogram.

use crate::cluster::{NodeId, PodPhase, WorkloadId};
use crate::time::{SimDuration, SimTime};

/// Log-linear histogram of durations: 32 sub-buckets per power of two (exact
/// below 64 ns). A quantile is the midpoint of its bucket clamped to the
/// recorded minimum and maximum, so it is within 1/64 (1.6%) of the exact
/// nearest-rank quantile, and exact when all samples are equal. Fixed memory,
/// deterministic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    sum_nanos: u128,
    /// `u64::MAX` while empty.
    min_nanos: u64,
    max_nanos: u64,
}

const SUB_BUCKET_BITS: u32 = 5;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
const BUCKETS: usize = ((64 - SUB_BUCKET_BITS as usize) + 1) * SUB_BUCKETS as usize;

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
            sum_nanos: 0,
            min_nanos: u64::MAX,
            max_nanos: 0,
        }
    }
}

fn bucket_of(value: u64) -> usize {
    if value < SUB_BUCKETS {
        return value as usize;
    }
    let magnitude = 63 - value.leading_zeros(); // >= SUB_BUCKET_BITS
    let shift = magnitude - SUB_BUCKET_BITS;
    let sub = (value >> shift) - SUB_BUCKETS; // in [0, SUB_BUCKETS)
    ((shift as u64 + 1) * SUB_BUCKETS + sub) as usize
}

/// Smallest value that falls into `bucket`.
fn bucket_low(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < SUB_BUCKETS {
        return bucket;
    }
    let shift = bucket / SUB_BUCKETS - 1;
    let sub = bucket % SUB_BUCKETS;
    (SUB_BUCKETS + sub) << shift
}

/// The 1-based rank of quantile `q` among `total` sorted samples:
/// ceil(q × total), at least 1.
fn nearest_rank(q: f64, total: u64) -> u64 {
    ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1)
}

impl LatencyHistogram {
    pub fn record(&mut self, value: SimDuration) {
        self.record_n(value, 1);
    }

    /// Records `count` samples of the same value.
    pub fn record_n(&mut self, value: SimDuration, count: u64) {
        if count == 0 {
            return;
        }
        self.counts[bucket_of(value.0)] += count;
        self.total += count;
        self.sum_nanos += u128::from(value.0) * u128::from(count);
        self.min_nanos = self.min_nanos.min(value.0);
        self.max_nanos = self.max_nanos.max(value.0);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn clear(&mut self) {
        if self.total > 0 {
            self.counts.iter_mut().for_each(|c| *c = 0);
            self.total = 0;
            self.sum_nanos = 0;
            self.min_nanos = u64::MAX;
            self.max_nanos = 0;
        }
    }

    pub fn mean(&self) -> Option<SimDuration> {
        (self.total > 0).then(|| SimDuration((self.sum_nanos / u128::from(self.total)) as u64))
    }

    pub fn max(&self) -> Option<SimDuration> {
        (self.total > 0).then_some(SimDuration(self.max_nanos))
    }

    /// The value at quantile `q` in [0, 1]: the midpoint of the bucket holding
    /// the [`nearest_rank`]-th smallest sample, clamped to the recorded
    /// [min, max]. The exact sample lies in that bucket and in [min, max], so
    /// clamping only brings the answer closer to it.
    pub fn quantile(&self, q: f64) -> Option<SimDuration> {
        if self.total == 0 {
            return None;
        }
        let rank = nearest_rank(q, self.total);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let low = bucket_low(bucket);
                let high = bucket_low(bucket + 1).saturating_sub(1).max(low);
                let mid = low + (high - low) / 2;
                return Some(SimDuration(mid.clamp(self.min_nanos, self.max_nanos)));
            }
        }
        Some(SimDuration(self.max_nanos))
    }

    /// Non-empty buckets as (lower bound, count), for plotting the distribution.
    pub fn buckets(&self) -> Vec<(SimDuration, u64)> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(b, &c)| (SimDuration(bucket_low(b)), c))
            .collect()
    }
}

/// One timeline row: state at `time`, activity over the interval ending at `time`.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineSample {
    pub time: SimTime,
    pub nodes_total: u64,
    pub nodes_ready: u64,
    pub pods_pending: u64,
    pub pods_running: u64,
    pub pods_succeeded: u64,
    pub pods_failed: u64,
    /// Pending pods whose last scheduling attempt failed.
    pub pods_unschedulable: u64,
    pub cpu_requested_millis: u64,
    pub cpu_allocatable_millis: u64,
    pub memory_requested_bytes: u64,
    pub memory_allocatable_bytes: u64,
    pub scheduling_attempts: u64,
    pub binds: u64,
    /// Creation-to-bind latency of the pods bound in the interval.
    pub scheduling_latency_p50: Option<SimDuration>,
    pub scheduling_latency_p99: Option<SimDuration>,
}

/// One pod's history, for `pods.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodRecord {
    pub id: u32,
    pub workload: WorkloadId,
    pub created: SimTime,
    pub bound: Option<SimTime>,
    pub started: Option<SimTime>,
    pub finished: Option<SimTime>,
    pub node: Option<NodeId>,
    pub phase: PodPhase,
}

/// Pods of one workload left pending for one reason at the end of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnschedulableGroup {
    pub workload: String,
    pub pods: u64,
    /// True when no node of any pool could ever hold the pod.
    pub never_fits: bool,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub scenario: String,
    pub seed: u64,
    pub simulated_span: SimDuration,
    pub nodes_total: u64,
    pub pods_total: u64,
    pub pods_pending: u64,
    pub pods_running: u64,
    pub pods_succeeded: u64,
    pub pods_failed: u64,
    pub events_processed: u64,
    pub scheduling_attempts: u64,
    pub binds: u64,
    /// Nodes that failed (each failure of the same node counts).
    pub node_failures: u64,
    /// Pods deleted by taint-based eviction from unreachable nodes.
    pub pods_evicted: u64,
    /// Creation-to-bind latency over the whole run.
    pub scheduling_latency: LatencyHistogram,
    pub unschedulable: Vec<UnschedulableGroup>,
}

/// One component's load over the run, for the `bottlenecks` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Bottleneck {
    /// `store/<name>`, `apiserver`, `scheduler`.
    pub component: String,
    /// What saturates: `leader cpu`, `apply`, `quota`, `mutating in-flight`, ...
    pub resource: String,
    /// Highest demand over capacity seen in one sample interval (1.0 = saturated; may exceed 1).
    pub peak_utilization: f64,
    /// End of the interval where the peak was seen.
    pub peak_at: SimTime,
    /// End of the first interval whose demand reached capacity, if any.
    pub first_saturated: Option<SimTime>,
}

/// One time series of `control_plane.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesName {
    /// `store/<name>`, `apiserver`, `scheduler`.
    pub component: String,
    /// Metric with its unit last, e.g. `writes_per_s`, `commit_p99_ms`.
    pub metric: String,
}

/// Control-plane metrics at every sample time: `values[row][series]`
/// (None when undefined, e.g. a latency quantile over no writes).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ControlPlaneTimeline {
    pub series: Vec<SeriesName>,
    pub times: Vec<SimTime>,
    pub values: Vec<Vec<Option<f64>>>,
}

/// Totals of one store over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreSummary {
    pub name: String,
    /// The kinds routed to it.
    pub kinds: Vec<String>,
    pub writes: u64,
    pub bytes_written: u64,
    /// Writes refused (NOSPACE, too large).
    pub rejected: u64,
    pub batches: u64,
    pub db_size_bytes: u64,
    /// When the NOSPACE alarm was first raised.
    pub nospace_alarm_at: Option<SimTime>,
    /// Submission-to-acknowledgement latency of every accepted write.
    pub commit_latency: LatencyHistogram,
}

/// Totals of the apiserver replicas over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiServerSummary {
    pub replicas: u32,
    /// Requests admitted, by `verb kind[/subresource]`, in a fixed order.
    pub requests: Vec<(String, u64)>,
    /// Requests refused with 429 (each retry that is refused again counts).
    pub rejected_429: u64,
    pub watch_events_sent: u64,
    pub watch_bytes_sent: u64,
}

/// What the control plane did, when the scenario models one.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlPlaneOutput {
    pub timeline: ControlPlaneTimeline,
    /// Saturated components first (earliest first), then by peak utilization.
    pub bottlenecks: Vec<Bottleneck>,
    pub stores: Vec<StoreSummary>,
    pub apiserver: ApiServerSummary,
    /// Pod creations or bindings refused because a store raised NOSPACE.
    pub pod_writes_refused_nospace: u64,
    /// Creation to the kubelet's Running status being stored, for started pods.
    pub pod_startup_latency: LatencyHistogram,
}

/// Everything a run produced, ready for the writers.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub summary: RunSummary,
    pub timeline: Vec<TimelineSample>,
    pub workload_names: Vec<String>,
    pub node_pool_names: Vec<String>,
    /// Present when the run was asked to record pods.
    pub pods: Option<Vec<PodRecord>>,
    /// Present when the scenario models the control plane.
    pub control_plane: Option<ControlPlaneOutput>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        let mut previous = 0;
        for b in 1..BUCKETS - 1 {
            let low = bucket_low(b);
            assert!(low > previous, "bucket {b}");
            assert_eq!(bucket_of(low), b);
            assert_eq!(bucket_of(low - 1), b - 1);
            previous = low;
        }
    }

    /// Fuzzing found p50 = p90 = p99 = 1.196 ms with every latency exactly
    /// 1.21 ms (mean and max 1.21): the bucket's midpoint lay below the
    /// minimum.
    #[test]
    fn percentiles_of_a_constant_latency_are_that_latency() {
        for nanos in [1_210_000, 100_000, 63, 64, 1, 0, u64::MAX] {
            let mut h = LatencyHistogram::default();
            h.record_n(SimDuration(nanos), 1_000);
            for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
                assert_eq!(h.quantile(q), Some(SimDuration(nanos)), "{nanos} ns, q{q}");
            }
        }
    }

    #[test]
    fn clear_forgets_the_minimum() {
        let mut h = LatencyHistogram::default();
        h.record(SimDuration(1_000));
        h.clear();
        h.record(SimDuration(1_210_000));
        assert_eq!(h.quantile(0.5), Some(SimDuration(1_210_000)));
    }

    /// Latencies spread over many magnitudes, or clustered within a bucket or
    /// two, where clamping to [min, max] matters.
    fn latencies_nanos() -> impl Strategy<Value = Vec<u64>> {
        prop_oneof![
            prop::collection::vec(
                prop_oneof![0..200u64, 0..2_000_000u64, any::<u64>()],
                1..200
            ),
            (0..1u64 << 40, prop::collection::vec(0..64u64, 1..20))
                .prop_map(|(base, offsets)| offsets.iter().map(|o| base + o).collect()),
        ]
    }

    proptest! {
        /// Every quantile lies in [min, max] and within 1/64 of the exact
        /// nearest-rank quantile of the recorded values.
        #[test]
        fn quantiles_are_within_range_and_relative_error(
            values in latencies_nanos(),
            q in 0.0..=1.0f64,
        ) {
            let mut h = LatencyHistogram::default();
            values.iter().for_each(|&v| h.record(SimDuration(v)));
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let exact = sorted[nearest_rank(q, sorted.len() as u64) as usize - 1];
            let got = h.quantile(q).unwrap().0;
            prop_assert!(sorted[0] <= got && got <= sorted[sorted.len() - 1]);
            prop_assert!(
                u128::from(got.abs_diff(exact)) * 64 <= u128::from(exact),
                "q{} = {} against exact {}", q, got, exact
            );
        }
    }

    #[test]
    fn empty_histogram_has_no_quantiles() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        h.record(SimDuration(7));
        h.clear();
        assert_eq!(h.mean(), None);
    }
}

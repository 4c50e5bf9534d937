//! A compact latency histogram, kept by the stores and the control plane and
//! reported in the results.

use crate::time::SimDuration;

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

    pub fn min(&self) -> Option<SimDuration> {
        (self.total > 0).then_some(SimDuration(self.min_nanos))
    }

    /// The sum of every recorded value.
    pub fn sum_nanos(&self) -> u128 {
        self.sum_nanos
    }

    /// Adds every sample of `other`, as if each had been recorded here: the
    /// quantiles of runs pooled, not an average of their quantiles. None
    /// (and `self` unchanged) if a count would overflow.
    pub fn merge(&mut self, other: &LatencyHistogram) -> Option<()> {
        let total = self.total.checked_add(other.total)?;
        let sum_nanos = self.sum_nanos.checked_add(other.sum_nanos)?;
        let mut counts = self.counts.clone();
        for (count, &add) in counts.iter_mut().zip(&other.counts) {
            *count = count.checked_add(add)?;
        }
        self.counts = counts;
        self.total = total;
        self.sum_nanos = sum_nanos;
        self.min_nanos = self.min_nanos.min(other.min_nanos);
        self.max_nanos = self.max_nanos.max(other.max_nanos);
        Some(())
    }

    /// Rebuilds a histogram from what [`LatencyHistogram::buckets`],
    /// `min`, `max` and `sum_nanos` gave (read back from a file). None when
    /// a bound is not a bucket's lower bound, a count is zero or the
    /// counts overflow, or min and max do not bracket the buckets.
    pub fn from_parts(
        buckets: &[(SimDuration, u64)],
        min: SimDuration,
        max: SimDuration,
        sum_nanos: u128,
    ) -> Option<LatencyHistogram> {
        let mut h = LatencyHistogram::default();
        if buckets.is_empty() {
            return Some(h);
        }
        for &(low, count) in buckets {
            let bucket = bucket_of(low.0);
            if bucket_low(bucket) != low.0 || count == 0 {
                return None;
            }
            h.counts[bucket] = h.counts[bucket].checked_add(count)?;
            h.total = h.total.checked_add(count)?;
        }
        let (first, last) = (buckets.first()?.0 .0, buckets.last()?.0 .0);
        if bucket_of(min.0) != bucket_of(first) || bucket_of(max.0) != bucket_of(last) {
            return None;
        }
        h.min_nanos = min.0;
        h.max_nanos = max.0;
        h.sum_nanos = sum_nanos;
        Some(h)
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

    /// Merging the histograms of two halves of the samples gives the
    /// histogram of all of them; rebuilding from parts gives it back.
    #[test]
    fn merge_pools_samples_and_parts_round_trip() {
        let mut a = LatencyHistogram::default();
        let mut b = LatencyHistogram::default();
        let mut all = LatencyHistogram::default();
        let samples = [5u64, 70, 1_000, 1_000_000, 3, 64, 999_999_999];
        for (i, &nanos) in samples.iter().enumerate() {
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.record(SimDuration(nanos));
            all.record(SimDuration(nanos));
        }
        let (b, all) = (&b, &all);
        let mut merged = a.clone();
        merged.merge(b).unwrap();
        assert_eq!(&merged, all);
        assert_eq!(merged.quantile(0.5), all.quantile(0.5));
        let mut into_empty = LatencyHistogram::default();
        into_empty.merge(all).unwrap();
        assert_eq!(&into_empty, all);
        let rebuilt = LatencyHistogram::from_parts(
            &all.buckets(),
            all.min().unwrap(),
            all.max().unwrap(),
            all.sum_nanos(),
        );
        assert_eq!(rebuilt.as_ref(), Some(all));
        // Not a bucket's lower bound.
        assert_eq!(
            LatencyHistogram::from_parts(
                &[(SimDuration(65), 1)],
                SimDuration(65),
                SimDuration(65),
                65
            ),
            None
        );
    }

    #[test]
    fn a_merge_that_would_overflow_changes_nothing() {
        let mut a = LatencyHistogram::default();
        a.record_n(SimDuration(1), u64::MAX);
        let before = a.clone();
        let mut b = LatencyHistogram::default();
        b.record(SimDuration(1));
        assert_eq!(a.merge(&b), None);
        assert_eq!(a, before);
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

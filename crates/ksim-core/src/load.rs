//! Load models: the request or execution rate a workload receives over
//! time, as a pure function of simulated time (and, with noise, of the
//! workload's load stream).
//!
//! A shape gives the mean rate at each instant; optional Poisson noise
//! replaces the mean over each `noise_interval` bucket by a Poisson count
//! over the bucket divided by its length. Each bucket's draw comes from a
//! generator seeded by the workload's load stream and the bucket's index,
//! so the rate at an instant does not depend on who read it before, or how
//! often: a timeline sample and an autoscaler's poll see the same value.
//!
//! Means are exact, in closed form: piecewise-constant and linear pieces by
//! their areas, the diurnal cosine by its sine antiderivative. Steps and
//! series keep prefix sums of their integral, built once by their
//! constructor ([`PiecewiseRate`]), so a mean over any interval costs two
//! binary searches whatever the number of points; a fluid queue model
//! integrates with it.
//!
//! Noise: bucket `k` of a workload draws from a PCG-64 MCG seeded by
//! SplitMix64's mix of (the load's key + k × the golden gamma), the key being
//! two words drawn once from the workload's load stream. The Poisson sampler
//! is pinned here: inversion by sequential search below a mean of 10, and
//! above it Hörmann's transformed rejection with squeeze (PTRS; W. Hörmann,
//! "The transformed rejection method for generating Poisson random
//! variables", Insurance: Mathematics and Economics 12 (1993) 39–45), which
//! is exact at every mean and costs O(1) draws, unlike a normal
//! approximation whose error shows in the tails. A noisy mean over more than
//! [`EXACT_NOISE_BUCKETS`] buckets sums the exact noisy values of the
//! `EXACT_NOISE_BUCKETS / 2` buckets nearest each end and takes the
//! noiseless integral over the buckets in between: their noise is a sum of
//! independent zero-mean deviations, about sqrt(expected events) against
//! the expected events, and reading every bucket would make one read cost
//! millions of draws. Such a mean is therefore not additive over a split
//! of its interval; over at most that many buckets it is.
//!
//! Arrivals (event-driven executions) are a non-homogeneous Poisson process
//! with the shape's rate, drawn by thinning (Lewis and Shedler) against a
//! bound that holds over a segment of time only: a piece's own rate for
//! constants, steps and series (no rejection at all; zero stretches are
//! jumped over in one step), the larger end of a ramp, and the larger end
//! of each sixteenth of a diurnal period (none of which holds a peak inside).
//! The noise above does not apply to them: a Poisson process's count over a
//! bucket already is the Poisson draw the noise models.

use std::f64::consts::PI;

use rand::{RngCore, SeedableRng};

use crate::rng::{unit_f64, SimRng};
use crate::time::{SimDuration, SimTime};

/// A noisy mean reads at most this many buckets exactly (half at each end).
pub const EXACT_NOISE_BUCKETS: u64 = 1024;

/// Below this mean the Poisson sampler inverts the distribution function;
/// from it on it uses PTRS (the range Hörmann gives for it).
const PTRS_MIN_MEAN: f64 = 10.0;

/// Why a load's parameters were rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("rates must be finite and not negative")]
    BadRate,
    #[error("point times must be strictly increasing")]
    TimesNotIncreasing,
    #[error("a ramp must not end before it starts")]
    RampEndsBeforeStart,
    #[error("a diurnal period must be longer than zero")]
    ZeroPeriod,
    #[error("the minimum rate must not exceed the maximum")]
    MinAboveMax,
    #[error("the noise interval must be longer than zero")]
    ZeroNoiseInterval,
}

/// The mean rate over time, in events (requests or executions) per second.
///
/// Build it with the constructors ([`LoadShape::constant`], ...), which
/// check the parameters; the functions below assume them valid.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadShape {
    Constant {
        rate_per_s: f64,
    },
    /// Piecewise constant: the initial rate before the first step, then
    /// each step's rate from its time on.
    Steps(PiecewiseRate),
    /// `from_per_s` until `start`, linear to `to_per_s` at `end`, then
    /// `to_per_s`.
    Ramp {
        from_per_s: f64,
        to_per_s: f64,
        start: SimTime,
        end: SimTime,
    },
    /// A cosine between `min_per_s` and `max_per_s` with the given period,
    /// at its maximum at `peak_at` (and every period after or before it).
    Diurnal {
        min_per_s: f64,
        max_per_s: f64,
        period: SimDuration,
        peak_at: SimDuration,
    },
    /// A rate series (`docs/traces.md`'s rate-series CSV): each point's rate
    /// holds from its time to the next point's; 0 before the first point.
    Series(PiecewiseRate),
}

/// A workload's load: a shape, with or without Poisson noise.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    pub shape: LoadShape,
    /// Some(bucket): Poisson noise over buckets of this length.
    pub noise_interval: Option<SimDuration>,
}

/// A piecewise-constant rate with the prefix sums of its integral: the rate
/// before the first point, then each point's rate until the next point.
///
/// Pieces are numbered from 0, the one before the first point; piece i + 1
/// starts at point i and ends at point i + 1 (the last never ends).
#[derive(Clone, Debug, PartialEq)]
pub struct PiecewiseRate {
    before_per_s: f64,
    points: Vec<(SimTime, f64)>,
    /// Per piece, the events from the first point to the piece's start
    /// (0 for pieces 0 and 1).
    events_to: Vec<f64>,
    /// Per piece, the first piece at or after it with a rate above zero, or
    /// `no_piece()`: arrivals cross a zero stretch in one step.
    next_busy: Vec<usize>,
    max_per_s: f64,
}

/// Where a rate bound holds: thinning draws against `bound_per_s` until
/// `end` (`SimTime::MAX`: for ever). `flat`: the rate equals the bound
/// there, so every candidate is accepted without a draw.
struct Segment {
    end: SimTime,
    bound_per_s: f64,
    flat: bool,
}

fn valid_rate(rate_per_s: f64) -> Result<f64, LoadError> {
    if rate_per_s.is_finite() && rate_per_s >= 0.0 {
        Ok(rate_per_s)
    } else {
        Err(LoadError::BadRate)
    }
}

impl PiecewiseRate {
    fn new(before_per_s: f64, points: Vec<(SimTime, f64)>) -> Result<Self, LoadError> {
        valid_rate(before_per_s)?;
        for &(_, rate) in &points {
            valid_rate(rate)?;
        }
        if points.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Err(LoadError::TimesNotIncreasing);
        }
        let mut shape = PiecewiseRate {
            before_per_s,
            max_per_s: points.iter().fold(before_per_s, |max, p| max.max(p.1)),
            points,
            events_to: Vec::new(),
            next_busy: Vec::new(),
        };
        let pieces = shape.points.len() + 1;
        let mut events = 0.0;
        shape.events_to = (0..pieces)
            .map(|piece| {
                if piece >= 2 {
                    let previous = piece - 1;
                    let length = shape.end(previous) - shape.start(previous);
                    events += shape.rate(previous) * length.as_secs_f64();
                }
                events
            })
            .collect();
        let mut next = shape.no_piece();
        shape.next_busy = vec![next; pieces];
        for piece in (0..pieces).rev() {
            if shape.rate(piece) > 0.0 {
                next = piece;
            }
            shape.next_busy[piece] = next;
        }
        Ok(shape)
    }

    /// The rate before the first point.
    pub fn before_per_s(&self) -> f64 {
        self.before_per_s
    }

    /// The points, by increasing time.
    pub fn points(&self) -> &[(SimTime, f64)] {
        &self.points
    }

    fn no_piece(&self) -> usize {
        self.points.len() + 1
    }

    fn piece_of(&self, t: SimTime) -> usize {
        self.points.partition_point(|&(at, _)| at <= t)
    }

    fn rate(&self, piece: usize) -> f64 {
        match piece.checked_sub(1) {
            None => self.before_per_s,
            Some(point) => self.points[point].1,
        }
    }

    fn start(&self, piece: usize) -> SimTime {
        match piece.checked_sub(1) {
            None => SimTime::ZERO,
            Some(point) => self.points[point].0,
        }
    }

    fn end(&self, piece: usize) -> SimTime {
        self.points.get(piece).map_or(SimTime::MAX, |p| p.0)
    }

    fn rate_at(&self, t: SimTime) -> f64 {
        self.rate(self.piece_of(t))
    }

    /// Events over [from, to): the partial pieces at both ends plus the
    /// prefix-sum difference over the whole ones between.
    fn events_between(&self, from: SimTime, to: SimTime) -> f64 {
        let (first, last) = (self.piece_of(from), self.piece_of(to));
        if first == last {
            return self.rate(first) * (to - from).as_secs_f64();
        }
        let head = self.rate(first) * (self.end(first) - from).as_secs_f64();
        let whole = self.events_to[last] - self.events_to[first + 1];
        let tail = self.rate(last) * (to - self.start(last)).as_secs_f64();
        head + whole + tail
    }

    fn segment(&self, t: SimTime) -> Segment {
        let piece = self.piece_of(t);
        let busy = self.next_busy[piece];
        if busy == piece {
            Segment {
                end: self.end(piece),
                bound_per_s: self.rate(piece),
                flat: true,
            }
        } else {
            let end = if busy == self.no_piece() {
                SimTime::MAX
            } else {
                self.start(busy)
            };
            Segment {
                end,
                bound_per_s: 0.0,
                flat: true,
            }
        }
    }
}

impl LoadShape {
    pub fn constant(rate_per_s: f64) -> Result<Self, LoadError> {
        Ok(LoadShape::Constant {
            rate_per_s: valid_rate(rate_per_s)?,
        })
    }

    /// `steps` by strictly increasing time.
    pub fn steps(initial_per_s: f64, steps: Vec<(SimTime, f64)>) -> Result<Self, LoadError> {
        Ok(LoadShape::Steps(PiecewiseRate::new(initial_per_s, steps)?))
    }

    pub fn ramp(
        from_per_s: f64,
        to_per_s: f64,
        start: SimTime,
        end: SimTime,
    ) -> Result<Self, LoadError> {
        valid_rate(from_per_s)?;
        valid_rate(to_per_s)?;
        if end < start {
            return Err(LoadError::RampEndsBeforeStart);
        }
        Ok(LoadShape::Ramp {
            from_per_s,
            to_per_s,
            start,
            end,
        })
    }

    pub fn diurnal(
        min_per_s: f64,
        max_per_s: f64,
        period: SimDuration,
        peak_at: SimDuration,
    ) -> Result<Self, LoadError> {
        valid_rate(min_per_s)?;
        valid_rate(max_per_s)?;
        if min_per_s > max_per_s {
            return Err(LoadError::MinAboveMax);
        }
        if period == SimDuration::ZERO {
            return Err(LoadError::ZeroPeriod);
        }
        Ok(LoadShape::Diurnal {
            min_per_s,
            max_per_s,
            period,
            peak_at,
        })
    }

    /// `points` by strictly increasing time.
    pub fn series(points: Vec<(SimTime, f64)>) -> Result<Self, LoadError> {
        Ok(LoadShape::Series(PiecewiseRate::new(0.0, points)?))
    }

    /// The mean rate at `t`, per second.
    pub fn rate_at(&self, t: SimTime) -> f64 {
        match self {
            LoadShape::Constant { rate_per_s } => *rate_per_s,
            LoadShape::Steps(pieces) | LoadShape::Series(pieces) => pieces.rate_at(t),
            LoadShape::Ramp {
                from_per_s,
                to_per_s,
                start,
                end,
            } => {
                if t < *start {
                    *from_per_s
                } else if t >= *end {
                    *to_per_s
                } else {
                    ramp_rate(*from_per_s, *to_per_s, *start, *end, t)
                }
            }
            LoadShape::Diurnal {
                min_per_s,
                max_per_s,
                period,
                peak_at,
            } => {
                let angle = 2.0 * PI * phase(t, *period, *peak_at) as f64 / period.0 as f64;
                min_per_s + (max_per_s - min_per_s) * (1.0 + libm::cos(angle)) / 2.0
            }
        }
    }

    /// The exact mean rate over [from, to), per second: its integral over
    /// the interval divided by the interval's length; the rate at `from`
    /// when the interval is empty. `from` must not be after `to`.
    pub fn mean_over(&self, from: SimTime, to: SimTime) -> f64 {
        let length = to - from;
        if length == SimDuration::ZERO {
            return self.rate_at(from);
        }
        match self {
            LoadShape::Constant { rate_per_s } => *rate_per_s,
            LoadShape::Steps(pieces) | LoadShape::Series(pieces) => {
                pieces.events_between(from, to) / length.as_secs_f64()
            }
            LoadShape::Ramp {
                from_per_s,
                to_per_s,
                start,
                end,
            } => ramp_events(*from_per_s, *to_per_s, *start, *end, from, to) / length.as_secs_f64(),
            LoadShape::Diurnal {
                min_per_s,
                max_per_s,
                period,
                peak_at,
            } => {
                let cosine = diurnal_mean_cosine(*period, phase(from, *period, *peak_at), length);
                min_per_s + (max_per_s - min_per_s) * (1.0 + cosine) / 2.0
            }
        }
    }

    /// The largest rate the shape ever takes, per second (thinning's bound).
    pub fn max_rate(&self) -> f64 {
        match self {
            LoadShape::Constant { rate_per_s } => *rate_per_s,
            LoadShape::Steps(pieces) | LoadShape::Series(pieces) => pieces.max_per_s,
            LoadShape::Ramp {
                from_per_s,
                to_per_s,
                ..
            } => from_per_s.max(*to_per_s),
            LoadShape::Diurnal {
                min_per_s,
                max_per_s,
                ..
            } => min_per_s.max(*max_per_s),
        }
    }

    /// The first arrival not before `after` of a Poisson process with this
    /// rate (two arrivals within half a nanosecond coincide), or None if
    /// the rate is zero from `after` on (or the next arrival lies beyond
    /// `SimTime::MAX`). Draws exponential gaps and acceptances from `rng`.
    pub fn next_arrival(&self, after: SimTime, rng: &mut SimRng) -> Option<SimTime> {
        // A zero bound everywhere would never reach a segment ending at MAX
        // for a diurnal shape; every other shape would end, but this is cheap.
        let max_per_s = self.max_rate();
        if max_per_s.is_nan() || max_per_s <= 0.0 {
            return None;
        }
        let mut at = after;
        loop {
            let segment = self.segment(at);
            if segment.bound_per_s > 0.0 {
                let gap = standard_exponential(rng) / segment.bound_per_s;
                let candidate = at + SimDuration::from_secs_f64(gap);
                if candidate < segment.end {
                    if segment.flat || unit_f64(rng) * segment.bound_per_s < self.rate_at(candidate)
                    {
                        return Some(candidate);
                    }
                    // Rejected: the process restarts here (memoryless), with
                    // the bound of wherever it now is.
                    at = candidate;
                    continue;
                }
            }
            if segment.end == SimTime::MAX {
                return None;
            }
            at = segment.end;
        }
    }

    fn segment(&self, t: SimTime) -> Segment {
        match self {
            LoadShape::Constant { rate_per_s } => Segment {
                end: SimTime::MAX,
                bound_per_s: *rate_per_s,
                flat: true,
            },
            LoadShape::Steps(pieces) | LoadShape::Series(pieces) => pieces.segment(t),
            LoadShape::Ramp {
                from_per_s,
                to_per_s,
                start,
                end,
            } => {
                if t < *start {
                    Segment {
                        end: *start,
                        bound_per_s: *from_per_s,
                        flat: true,
                    }
                } else if t >= *end {
                    Segment {
                        end: SimTime::MAX,
                        bound_per_s: *to_per_s,
                        flat: true,
                    }
                } else {
                    // Linear: the larger end bounds the rest of the ramp.
                    Segment {
                        end: *end,
                        bound_per_s: self.rate_at(t).max(*to_per_s),
                        flat: from_per_s == to_per_s,
                    }
                }
            }
            LoadShape::Diurnal {
                min_per_s,
                max_per_s,
                period,
                peak_at,
            } => {
                let end = t + diurnal_to_next_sixteenth(*period, phase(t, *period, *peak_at));
                Segment {
                    end,
                    bound_per_s: self.rate_at(t).max(self.rate_at(end)),
                    flat: min_per_s == max_per_s,
                }
            }
        }
    }
}

/// The rate on a ramp at `t`, `start <= t <= end`, `start < end`.
fn ramp_rate(from_per_s: f64, to_per_s: f64, start: SimTime, end: SimTime, t: SimTime) -> f64 {
    let fraction = (t - start).0 as f64 / (end - start).0 as f64;
    from_per_s + (to_per_s - from_per_s) * fraction
}

/// A ramp's events over [from, to): the constant parts by their areas, the
/// linear part by its trapezoid (exact for a line).
fn ramp_events(
    from_per_s: f64,
    to_per_s: f64,
    start: SimTime,
    end: SimTime,
    from: SimTime,
    to: SimTime,
) -> f64 {
    let mut events = 0.0;
    if from < start {
        events += from_per_s * (to.min(start) - from).as_secs_f64();
    }
    if to > end {
        events += to_per_s * (to - from.max(end)).as_secs_f64();
    }
    let (on_from, on_to) = (from.max(start), to.min(end));
    if on_from < on_to {
        let ends = ramp_rate(from_per_s, to_per_s, start, end, on_from)
            + ramp_rate(from_per_s, to_per_s, start, end, on_to);
        events += (on_to - on_from).as_secs_f64() * ends / 2.0;
    }
    events
}

/// Nanoseconds since the last peak at or before `t`, in [0, period).
fn phase(t: SimTime, period: SimDuration, peak_at: SimDuration) -> u64 {
    let since_peak = i128::from(t.0) - i128::from(peak_at.0);
    // In [0, period), so it fits the period's u64.
    since_peak.rem_euclid(i128::from(period.0)) as u64
}

/// The mean of cos(2π·x/period) for x over [phase, phase + length):
/// cos(mid-angle)·sin(half-span)/half-span, the sine antiderivative's
/// difference written so a short interval loses no precision. Both angles
/// are reduced in integers first.
fn diurnal_mean_cosine(period: SimDuration, phase: u64, length: SimDuration) -> f64 {
    let two_periods = 2 * u128::from(period.0);
    let length_ns = u128::from(length.0);
    let period_f = period.0 as f64;
    // Twice the midpoint's phase, modulo twice the period: angle π·m/period.
    let mid = (2 * u128::from(phase) + length_ns) % two_periods;
    let half_span = PI * length.0 as f64 / period_f;
    let half_span_reduced = PI * (length_ns % two_periods) as f64 / period_f;
    libm::cos(PI * mid as f64 / period_f) * libm::sin(half_span_reduced) / half_span
}

/// From `phase` to the next sixteenth of the period (a boundary strictly
/// after it): each sixteenth is monotone or holds a trough, never a peak,
/// so the larger of its ends bounds the rate over it.
fn diurnal_to_next_sixteenth(period: SimDuration, phase: u64) -> SimDuration {
    let boundary = |j: u128| (j * u128::from(period.0) / 16) as u64;
    let mut j = u128::from(phase) * 16 / u128::from(period.0) + 1;
    // The sixteenth boundary is at most `period`, above any phase.
    while boundary(j) <= phase {
        j += 1;
    }
    SimDuration(boundary(j) - phase)
}

fn standard_exponential(rng: &mut SimRng) -> f64 {
    -libm::log(1.0 - unit_f64(rng))
}

/// A workload's load as read by the simulation: the shape, with its Poisson
/// noise drawn per bucket from a key taken once from the load's stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    spec: LoadSpec,
    noise_key: [u64; 2],
}

impl Load {
    /// `stream`: the workload's load stream (`workload/<name>/load`); two
    /// draws from it key every bucket's noise.
    pub fn new(spec: LoadSpec, stream: &mut SimRng) -> Result<Self, LoadError> {
        if spec.noise_interval == Some(SimDuration::ZERO) {
            return Err(LoadError::ZeroNoiseInterval);
        }
        let noise_key = [stream.next_u64(), stream.next_u64()];
        Ok(Load { spec, noise_key })
    }

    pub fn spec(&self) -> &LoadSpec {
        &self.spec
    }

    /// The rate at `t`, per second: with noise, the observed rate of the
    /// bucket holding `t`.
    pub fn rate_at(&self, t: SimTime) -> f64 {
        match self.spec.noise_interval {
            None => self.spec.shape.rate_at(t),
            Some(bucket) => self.bucket_rate(t.0 / bucket.0, bucket),
        }
    }

    /// The mean rate over [from, to), per second; with noise, the buckets'
    /// observed rates weighted by their overlap with the interval (exact for
    /// up to [`EXACT_NOISE_BUCKETS`] buckets, see the module docs beyond).
    /// `from` must not be after `to`.
    pub fn mean_over(&self, from: SimTime, to: SimTime) -> f64 {
        let Some(bucket) = self.spec.noise_interval else {
            return self.spec.shape.mean_over(from, to);
        };
        let length = to - from;
        if length == SimDuration::ZERO {
            return self.rate_at(from);
        }
        let first = from.0 / bucket.0;
        let last = (to.0 - 1) / bucket.0;
        let noisy = |buckets: std::ops::Range<u64>| -> f64 {
            buckets
                .map(|k| {
                    let start = bucket_start(k, bucket);
                    let overlap = to.min(start + bucket) - from.max(start);
                    overlap.as_secs_f64() * self.bucket_rate(k, bucket)
                })
                .sum()
        };
        let events = if last - first < EXACT_NOISE_BUCKETS {
            noisy(first..last + 1)
        } else {
            let half = EXACT_NOISE_BUCKETS / 2;
            let (head_end, tail_start) = (first + half, last + 1 - half);
            let (middle_from, middle_to) = (
                bucket_start(head_end, bucket),
                bucket_start(tail_start, bucket),
            );
            let middle = self.spec.shape.mean_over(middle_from, middle_to)
                * (middle_to - middle_from).as_secs_f64();
            noisy(first..head_end) + middle + noisy(tail_start..last + 1)
        };
        events / length.as_secs_f64()
    }

    /// Bucket `k`'s observed rate: a Poisson count of the shape's expected
    /// events over it, per second of the bucket.
    fn bucket_rate(&self, k: u64, bucket: SimDuration) -> f64 {
        let start = bucket_start(k, bucket);
        let end = start + bucket;
        let length_s = (end - start).as_secs_f64();
        let expected = self.spec.shape.mean_over(start, end) * length_s;
        poisson(expected, &mut bucket_rng(self.noise_key, k)) as f64 / length_s
    }
}

/// Callers pass a bucket holding a time in range, so its start is in range.
fn bucket_start(k: u64, bucket: SimDuration) -> SimTime {
    SimTime(
        k.checked_mul(bucket.0)
            .expect("a bucket holding a time in range starts in range"),
    )
}

/// Bucket `k`'s own generator: SplitMix64 at position k of each key word.
fn bucket_rng(key: [u64; 2], k: u64) -> SimRng {
    const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut seed = [0u8; 16];
    for (half, word) in seed.chunks_exact_mut(8).zip(key) {
        let mixed = splitmix64_mix(word.wrapping_add(k.wrapping_mul(GOLDEN_GAMMA)));
        half.copy_from_slice(&mixed.to_le_bytes());
    }
    SimRng::from_seed(seed)
}

/// SplitMix64's output function (Steele, Lea and Flood, 2014; Stafford's
/// "mix13" constants).
fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A Poisson draw with the given mean (0 for a mean that is not above 0).
fn poisson(mean: f64, rng: &mut SimRng) -> u64 {
    if mean.is_nan() || mean <= 0.0 {
        0
    } else if mean < PTRS_MIN_MEAN {
        poisson_by_inversion(mean, rng)
    } else {
        poisson_ptrs(mean, rng)
    }
}

/// Sequential search of the distribution function, about mean + 1 steps.
fn poisson_by_inversion(mean: f64, rng: &mut SimRng) -> u64 {
    let u = unit_f64(rng);
    let mut k = 0;
    let mut probability = libm::exp(-mean);
    let mut cumulative = probability;
    // A u above the rounded total (odds near 2^-53) stops where the terms
    // vanish rather than looping for ever.
    while u > cumulative && probability > 0.0 {
        k += 1;
        probability *= mean / k as f64;
        cumulative += probability;
    }
    k
}

/// Hörmann's PTRS (1993), steps 1 to 3 with his constants; mean >= 10.
fn poisson_ptrs(mean: f64, rng: &mut SimRng) -> u64 {
    let log_mean = libm::log(mean);
    let b = 0.931 + 2.53 * libm::sqrt(mean);
    let a = -0.059 + 0.02483 * b;
    let alpha = 1.1239 + 1.1328 / (b - 3.4);
    let v_r = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = unit_f64(rng) - 0.5;
        let v = unit_f64(rng);
        let u_s = 0.5 - u.abs();
        let k = libm::floor((2.0 * a / u_s + b) * u + mean + 0.43);
        // The squeeze: most draws end here without a logarithm.
        if u_s >= 0.07 && v <= v_r {
            return k as u64;
        }
        if k < 0.0 || (u_s < 0.013 && v > u_s) {
            continue;
        }
        let log_hat = libm::log(v * alpha / (a / (u_s * u_s) + b));
        if log_hat <= -mean + k * log_mean - libm::lgamma(k + 1.0) {
            return k as u64;
        }
    }
}

#[cfg(test)]
mod tests;

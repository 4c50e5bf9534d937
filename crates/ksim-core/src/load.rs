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

use crate::time::{SimDuration, SimTime};

/// The mean rate over time, in events (requests or executions) per second.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadShape {
    Constant {
        rate_per_s: f64,
    },
    /// Piecewise constant: `initial_per_s` before the first step, then
    /// each step's rate from its time on. Steps are sorted by time.
    Steps {
        initial_per_s: f64,
        steps: Vec<(SimTime, f64)>,
    },
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
    Series {
        points: Vec<(SimTime, f64)>,
    },
}

/// A workload's load: a shape, with or without Poisson noise.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    pub shape: LoadShape,
    /// Some(bucket): Poisson noise over buckets of this length.
    pub noise_interval: Option<SimDuration>,
}

//! The pod-source seam: something outside the core (a trace reader) hands
//! the simulation pods one at a time, in arrival order.
//!
//! The simulation keeps exactly one arrival pending per source: it pulls the
//! next record only when the previous one arrives, so a source may stream a
//! trace of any length. A source's pods belong to job workloads whose arrival
//! process is [`crate::config::ArrivalProcess::Source`]; those workloads (the
//! trace's templates) are in the configuration from the start, so everything
//! computed per template at start (anti-affinity terms, never-fits
//! summaries) covers every pod the source can produce.

use crate::ids::WorkloadId;
use crate::resources::ResourceVec;
use crate::time::{SimDuration, SimTime};

/// One pod a source produces.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SourcedPod {
    /// When the pod is created; never before the previous record's.
    pub arrival: SimTime,
    /// The workload (template) the pod belongs to: a job workload whose
    /// arrivals are `ArrivalProcess::Source`.
    pub workload: WorkloadId,
    /// Its requests; the pod dimension is set to 1 by the simulation.
    pub requests: ResourceVec,
    /// How long it runs once started; None: until the end of the run (a
    /// trace row with no end in the window).
    pub run_time: Option<SimDuration>,
    /// Whether it ends Failed rather than Succeeded.
    pub failed: bool,
}

/// A failure of the source itself (a malformed row, a truncated file). The
/// message names where; the run stops with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// A named count a source reports for the summary (rows read, rows
/// censored, rows skipped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceCount {
    pub name: &'static str,
    pub value: u64,
}

/// What a source reports at the end of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceReport {
    /// The source's name (a trace format and file).
    pub name: String,
    pub counts: Vec<SourceCount>,
}

/// Yields pods in arrival order. Implementations may do I/O; the core only
/// calls `next_pod` when the previous pod arrives.
pub trait PodSource {
    /// The next pod, or None when the source is exhausted.
    fn next_pod(&mut self) -> Result<Option<SourcedPod>, SourceError>;

    /// Its counts so far, for `summary.json`.
    fn report(&self) -> SourceReport;
}

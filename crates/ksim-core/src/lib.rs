//! ksim-core: the pure simulation core of ksim.
//!
//! Invariants: no I/O, no wall clock, no threads of its own, no global state.
//! Randomness only through [`rng::RngStreams`]. Everything observable is a
//! function of the [`config::SimConfig`] (including its seed).

pub mod autoscale;
pub mod cluster;
pub mod config;
pub mod control_plane;
pub mod controller;
pub mod disruption_budget;
pub mod distribution;
pub mod estimate;
pub mod histogram;
pub mod ids;
pub mod lifecycle;
pub mod load;
pub mod matching;
pub mod metrics;
pub mod pod_phase;
pub mod queue;
pub mod resources;
pub mod rng;
pub mod scheduler;
pub mod sim;
pub mod source;
pub mod store;
pub mod taints;
pub mod time;
pub mod usage;

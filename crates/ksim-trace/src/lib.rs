//! ksim-trace: public workload traces, streamed into the core's pod source.
//!
//! Each format's reader ([`google`], [`alibaba`], [`native`]) turns rows
//! into [`task::TraceTask`]s in arrival order; [`replay::Replay`] applies a
//! replay's window, time scale, unit scales and pod limit, and handles the
//! censored rows (running at the window's start: initial state; no end:
//! runs to the end of the run); [`prepare`] adds the trace's templates (and
//! node pools, from a node list) to a configuration and hands back the
//! [`source::TraceSource`] the simulation pulls pods from. [`azure`] reads
//! per-minute invocation counts into rate series for the load models.

pub mod alibaba;
pub mod azure;
pub mod error;
pub mod google;
pub mod input;
pub mod native;
pub mod prepare;
pub mod replay;
pub mod source;
pub mod stats;
pub mod task;

use std::path::PathBuf;

pub use error::TraceError;
pub use prepare::prepare;

/// The formats ksim reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    GoogleCluster2011,
    AlibabaV2017,
    AlibabaGpuV2023,
    AzureFunctions2019,
    Native,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::GoogleCluster2011,
        Format::AlibabaV2017,
        Format::AlibabaGpuV2023,
        Format::AzureFunctions2019,
        Format::Native,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::GoogleCluster2011 => "google-cluster-2011",
            Format::AlibabaV2017 => "alibaba-v2017",
            Format::AlibabaGpuV2023 => "alibaba-gpu-v2023",
            Format::AzureFunctions2019 => "azure-functions-2019",
            Format::Native => "native",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The names, for messages.
    pub fn names() -> String {
        Format::ALL.map(Format::name).join(", ")
    }

    /// Where the trace's own window starts, in trace seconds: Google
    /// 2011's begins at 600 s (events at 0 happened before tracing began);
    /// the others at 0 (Alibaba 2017's negative times are before it).
    pub fn default_window_start_s(self) -> u64 {
        match self {
            Format::GoogleCluster2011 => 600,
            _ => 0,
        }
    }
}

/// The size the normalised formats are relative to, and factors on every
/// request and capacity.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Scale {
    /// Google 2011's CPU 1.0: the largest machine's cores (undisclosed).
    pub machine_cpu_millis: u64,
    /// Memory 1.0 (Google 2011, Alibaba 2017): the largest machine's memory.
    pub machine_memory_bytes: u64,
    pub cpu_factor: f64,
    pub memory_factor: f64,
}

/// The documented defaults: an arbitrary reference machine of 32 cores
/// and 128 GiB (the traces do not disclose the real one).
pub const DEFAULT_MACHINE_CPU_MILLIS: u64 = 32_000;
pub const DEFAULT_MACHINE_MEMORY_BYTES: u64 = 128 << 30;

impl Default for Scale {
    fn default() -> Self {
        Scale {
            machine_cpu_millis: DEFAULT_MACHINE_CPU_MILLIS,
            machine_memory_bytes: DEFAULT_MACHINE_MEMORY_BYTES,
            cpu_factor: 1.0,
            memory_factor: 1.0,
        }
    }
}

impl Scale {
    pub fn cpu_millis(&self, normalised: f64) -> u64 {
        (normalised * self.machine_cpu_millis as f64 * self.cpu_factor).round() as u64
    }

    pub fn memory_bytes(&self, normalised: f64) -> u64 {
        (normalised * self.machine_memory_bytes as f64 * self.memory_factor).round() as u64
    }

    pub fn cpu_abs(&self, millis: u64) -> u64 {
        if self.cpu_factor == 1.0 {
            return millis;
        }
        (millis as f64 * self.cpu_factor).round() as u64
    }

    pub fn memory_abs(&self, bytes: u64) -> u64 {
        if self.memory_factor == 1.0 {
            return bytes;
        }
        (bytes as f64 * self.memory_factor).round() as u64
    }
}

/// A trace replay, as a scenario's `[trace]` section describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSpec {
    pub format: Format,
    /// The pods (or task events); resolved against the scenario's folder.
    pub path: PathBuf,
    /// The node list (Alibaba GPU 2023) or machine_events (Google 2011):
    /// the cluster's node pools at the start.
    pub nodes: Option<PathBuf>,
    /// Trace seconds; None: the format's own start.
    pub window_start_s: Option<u64>,
    /// Trace seconds; None: the trace's end.
    pub window_end_s: Option<u64>,
    /// Simulated seconds per trace second (0.5 replays twice as fast).
    pub time_scale: f64,
    pub pod_limit: Option<u64>,
    pub scale: Scale,
    pub skip_bad_rows: bool,
}

impl TraceSpec {
    pub fn new(format: Format, path: PathBuf) -> Self {
        TraceSpec {
            format,
            path,
            nodes: None,
            window_start_s: None,
            window_end_s: None,
            time_scale: 1.0,
            pod_limit: None,
            scale: Scale::default(),
            skip_bad_rows: false,
        }
    }
}

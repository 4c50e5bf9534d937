//! What a workload's pods do with their load, and so what they use: a
//! request-driven service or a pool of execution workers.

use crate::distribution::Distribution;

/// A request-driven service: requests spread evenly over the ready replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceModel {
    /// Requests per second one replica serves at most.
    pub capacity_per_replica_per_s: f64,
    /// CPU a replica uses with no load, millicores.
    pub cpu_idle_millis: f64,
    /// CPU per request per second served, millicores.
    pub cpu_per_request_millis: f64,
    /// Memory a replica uses with no request in flight, bytes.
    pub memory_base_bytes: f64,
    /// Memory per request in flight (being served or queued), bytes.
    pub memory_per_request_bytes: f64,
    /// How long a request is served when not queued, seconds.
    pub service_time_s: f64,
    /// Requests one replica queues beyond its capacity before dropping.
    pub queue_limit_per_replica: f64,
}

/// Execution workers (job-runner style): executions wait in one shared FIFO
/// queue for a worker with a free slot.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionModel {
    /// Executions one worker runs at once.
    pub max_concurrent: u32,
    /// How long an execution runs, nanoseconds.
    pub duration: Distribution,
    pub cpu_idle_millis: f64,
    /// CPU per running execution, millicores.
    pub cpu_per_execution_millis: f64,
    pub memory_base_bytes: f64,
    pub memory_per_execution_bytes: f64,
}

/// What drives a workload's usage.
#[derive(Clone, Debug, PartialEq)]
pub enum UsageModel {
    Service(ServiceModel),
    Executions(ExecutionModel),
}

//! What a workload's pods do with their load, and so what they use: a
//! request-driven service or a pool of execution workers.

pub mod serving;
pub mod workers;

use std::collections::BTreeMap;

use crate::autoscale::hpa::CustomMetric;
use crate::distribution::Distribution;
use crate::ids::PodId;
use crate::time::{SimDuration, SimTime};

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
    /// Above this peak arrival rate (per second) the executions are a
    /// fluid rather than events (`ExecutionModel::is_fluid`).
    pub fluid_above_per_s: f64,
}

/// The default of `fluid_above_per_s`: 1,000 executions/s is two million
/// events per simulated hour per workload as events; beyond it a run's
/// cost would grow with its load, which the fluid's does not.
pub const DEFAULT_FLUID_ABOVE_PER_S: f64 = 1000.0;

impl ExecutionModel {
    /// Whether a load peaking at `peak_per_s` runs as a fluid: decided once
    /// for the whole run, from the load's highest rate.
    pub fn is_fluid(&self, peak_per_s: f64) -> bool {
        peak_per_s > self.fluid_above_per_s
    }

    /// The fluid's service: each worker completes `max_concurrent` executions
    /// per mean duration; an execution's cpu and memory last its duration;
    /// the queue is unbounded (executions wait, they are never dropped).
    pub fn as_fluid_service(&self) -> ServiceModel {
        let mean_s = self.mean_duration_s();
        ServiceModel {
            capacity_per_replica_per_s: f64::from(self.max_concurrent) / mean_s,
            cpu_idle_millis: self.cpu_idle_millis,
            cpu_per_request_millis: self.cpu_per_execution_millis * mean_s,
            memory_base_bytes: self.memory_base_bytes,
            memory_per_request_bytes: self.memory_per_execution_bytes,
            service_time_s: mean_s,
            queue_limit_per_replica: f64::INFINITY,
        }
    }

    /// The mean duration in seconds, at least a nanosecond.
    pub fn mean_duration_s(&self) -> f64 {
        (self.duration.mean() / 1e9).max(1e-9)
    }
}

/// What drives a workload's usage.
#[derive(Clone, Debug, PartialEq)]
pub enum UsageModel {
    Service(ServiceModel),
    Executions(ExecutionModel),
}

impl UsageModel {
    /// Whether the workload produces a custom metric: both models their
    /// arrival rate and queue; only workers running executions.
    pub fn produces(&self, metric: CustomMetric) -> bool {
        match (self, metric) {
            (_, CustomMetric::RequestRate | CustomMetric::QueueLength) => true,
            (UsageModel::Executions(_), CustomMetric::RunningExecutions) => true,
            (UsageModel::Service(_), CustomMetric::RunningExecutions) => false,
        }
    }
}

/// A service's requests as a fluid: arrivals at the load's mean rate,
/// served at up to `capacity × ready replicas`, the excess queued up to
/// `queue_limit × ready replicas` and dropped beyond. Exact for a rate and
/// a replica count constant over each advance; the simulation advances it
/// whenever the ready count changes and whenever it is read, with the
/// load's exact mean over the interval. Cumulative totals, so any window's
/// averages are differences of two readings.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct ServiceFluid {
    pub last: SimTime,
    /// Requests waiting, all replicas together.
    pub queued: f64,
    pub arrived: f64,
    pub served: f64,
    pub dropped: f64,
    /// ∫ ready replicas dt, replica-seconds.
    pub replica_s: f64,
    /// ∫ queued dt, request-seconds.
    pub queued_s: f64,
}

impl ServiceFluid {
    /// Advances to `to` with `mean_rate_per_s` arriving and `ready` replicas
    /// serving throughout. With no replica, arrivals and the queue are
    /// dropped (no endpoint to take them).
    pub fn advance(&mut self, model: &ServiceModel, to: SimTime, mean_rate_per_s: f64, ready: u32) {
        let dt = to.saturating_since(self.last).as_secs_f64();
        self.last = self.last.max(to);
        let replicas = f64::from(ready);
        let unbounded = model.queue_limit_per_replica.is_infinite();
        let limit = if unbounded {
            f64::INFINITY
        } else {
            model.queue_limit_per_replica * replicas
        };
        if self.queued > limit {
            // Replicas left: what their queues held beyond the rest's is lost.
            self.dropped += self.queued - limit;
            self.queued = limit;
        }
        let arrivals = mean_rate_per_s * dt;
        self.arrived += arrivals;
        self.replica_s += replicas * dt;
        let capacity = model.capacity_per_replica_per_s * replicas;
        if capacity == 0.0 {
            if unbounded {
                // Executions wait for a worker; nothing is dropped.
                self.queued_s += (self.queued + arrivals / 2.0) * dt;
                self.queued += arrivals;
            } else {
                self.dropped += arrivals;
            }
            return;
        }
        let net = mean_rate_per_s - capacity;
        let q = self.queued;
        if net >= 0.0 {
            let to_full = if net > 0.0 {
                (limit - q) / net
            } else {
                f64::INFINITY
            };
            self.served += capacity * dt;
            if dt <= to_full {
                let end = q + net * dt;
                self.queued_s += (q + end) / 2.0 * dt;
                self.queued = end;
            } else {
                self.queued_s += (q + limit) / 2.0 * to_full + limit * (dt - to_full);
                self.dropped += net * (dt - to_full);
                self.queued = limit;
            }
        } else {
            let to_empty = q / -net;
            if dt <= to_empty {
                let end = (q + net * dt).max(0.0);
                self.served += capacity * dt;
                self.queued_s += (q + end) / 2.0 * dt;
                self.queued = end;
            } else {
                self.served += q + arrivals;
                self.queued_s += q / 2.0 * to_empty;
                self.queued = 0.0;
            }
        }
    }

    /// The rate being served now: the full capacity while a queue waits,
    /// else the arrivals up to it.
    pub fn serving_per_s(&self, model: &ServiceModel, ready: u32, rate_per_s: f64) -> f64 {
        let capacity = model.capacity_per_replica_per_s * f64::from(ready);
        if self.queued > 0.0 {
            capacity
        } else {
            rate_per_s.min(capacity)
        }
    }

    /// Moves `count` started requests back to the queue (their worker went
    /// away): the books stay balanced.
    pub fn requeue(&mut self, count: f64) {
        self.served -= count;
        self.queued += count;
    }

    /// Arrived requests not served, dropped or queued: zero up to rounding.
    pub fn imbalance(&self) -> f64 {
        self.arrived - self.served - self.dropped - self.queued
    }

    /// The response time of a request arriving now: its wait behind the
    /// queue at the full service rate, plus its own service.
    pub fn latency_s(&self, model: &ServiceModel, ready: u32) -> f64 {
        let capacity = model.capacity_per_replica_per_s * f64::from(ready);
        let wait = if capacity > 0.0 {
            self.queued / capacity
        } else {
            0.0
        };
        model.service_time_s + wait
    }
}

/// A ready replica's average use over a window, from two readings of a
/// service's fluid: CPU from the requests it served, memory from the
/// requests in flight (being served, by Little's law, or queued).
pub fn service_usage_per_replica(
    model: &ServiceModel,
    earlier: &ServiceFluid,
    later: &ServiceFluid,
) -> Option<(f64, f64)> {
    let replica_s = later.replica_s - earlier.replica_s;
    if replica_s <= 0.0 {
        return None;
    }
    let served_per_s = (later.served - earlier.served) / replica_s;
    let queued = (later.queued_s - earlier.queued_s) / replica_s;
    let in_flight = served_per_s * model.service_time_s + queued;
    let cpu_millis = model.cpu_idle_millis + model.cpu_per_request_millis * served_per_s;
    let memory_bytes = model.memory_base_bytes + model.memory_per_request_bytes * in_flight;
    Some((cpu_millis, memory_bytes))
}

/// What metrics-server last scraped for one workload: every pod's CPU and
/// memory averaged over the window before the scrape. A pod that started
/// after the scrape has no sample yet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScrapedUsage {
    pub at: Option<SimTime>,
    pub window: SimDuration,
    /// A ready service replica's averages (services: every ready replica
    /// served the same share).
    pub ready: PodUsage,
    /// A pod that is running but not ready: its idle use.
    pub idle: PodUsage,
    /// Execution workers: each ready worker's own averages.
    pub workers: BTreeMap<PodId, PodUsage>,
    /// The workload runs execution workers (`workers` holds its samples).
    pub is_workers: bool,
}

/// One pod's resource use, averaged over a scrape window.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PodUsage {
    pub cpu_millis: f64,
    pub memory_bytes: f64,
}

impl ScrapedUsage {
    /// A ready pod's use at the last scrape: a service replica's, or the
    /// mean over the ready workers (None before the first scrape, or with
    /// no worker ready then).
    pub fn mean_ready(&self) -> Option<PodUsage> {
        self.at?;
        if self.workers.is_empty() {
            return (!self.is_workers).then_some(self.ready);
        }
        let n = self.workers.len() as f64;
        let (cpu, memory) = self.workers.values().fold((0.0, 0.0), |(c, m), u| {
            (c + u.cpu_millis, m + u.memory_bytes)
        });
        Some(PodUsage {
            cpu_millis: cpu / n,
            memory_bytes: memory / n,
        })
    }

    /// The sample metrics-server holds for a pod that started at `started`
    /// and was Ready since `ready_since` (`NEVER`: not ready), if any.
    pub fn pod(&self, pod: PodId, started: SimTime, ready_since: SimTime) -> Option<PodUsage> {
        let at = self.at?;
        if started >= at {
            return None;
        }
        if let Some(usage) = self.workers.get(&pod) {
            return Some(*usage);
        }
        Some(if ready_since <= at {
            self.ready
        } else {
            self.idle
        })
    }
}

/// A worker's average use over a window in the executions' fluid mode:
/// running executions by Little's law (executions started per second per
/// worker × mean duration); queued executions use no worker.
pub fn fluid_execution_usage_per_worker(
    model: &ExecutionModel,
    earlier: &ServiceFluid,
    later: &ServiceFluid,
) -> Option<(f64, f64)> {
    let replica_s = later.replica_s - earlier.replica_s;
    if replica_s <= 0.0 {
        return None;
    }
    let running = (later.served - earlier.served) / replica_s * model.mean_duration_s();
    let running = running.min(f64::from(model.max_concurrent));
    Some((
        model.cpu_idle_millis + model.cpu_per_execution_millis * running,
        model.memory_base_bytes + model.memory_per_execution_bytes * running,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ServiceModel {
        ServiceModel {
            capacity_per_replica_per_s: 100.0,
            cpu_idle_millis: 10.0,
            cpu_per_request_millis: 2.0,
            memory_base_bytes: 1000.0,
            memory_per_request_bytes: 10.0,
            service_time_s: 0.1,
            queue_limit_per_replica: 50.0,
        }
    }

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn under_capacity_everything_is_served_and_nothing_queues() {
        let mut f = ServiceFluid::default();
        f.advance(&model(), at(10), 150.0, 2);
        assert_eq!(
            (f.arrived, f.served, f.dropped, f.queued),
            (1500.0, 1500.0, 0.0, 0.0)
        );
        assert_eq!(f.replica_s, 20.0);
        let (cpu, memory) =
            service_usage_per_replica(&model(), &ServiceFluid::default(), &f).unwrap();
        // 75 requests/s per replica: 10 + 2 × 75 millicores; 7.5 in flight.
        assert_eq!(cpu, 160.0);
        assert_eq!(memory, 1075.0);
    }

    #[test]
    fn overload_fills_the_queue_then_drops() {
        let mut f = ServiceFluid::default();
        // 2 replicas: capacity 200/s, queue limit 100; 250/s fills it in 2 s.
        f.advance(&model(), at(1), 250.0, 2);
        assert_eq!(f.queued, 50.0);
        assert_eq!(f.dropped, 0.0);
        f.advance(&model(), at(10), 250.0, 2);
        assert_eq!(f.queued, 100.0);
        assert_eq!(f.served, 2000.0);
        assert_eq!(f.dropped, 2500.0 - 2000.0 - 100.0);
        // Queue area: 0→100 over 2 s, then 100 for 8 s.
        assert_eq!(f.queued_s, 100.0 + 800.0);
        assert!(f.imbalance().abs() < 1e-9);
        // Wait behind 100 requests at 200/s, plus the service time.
        assert!((f.latency_s(&model(), 2) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn a_queue_drains_at_the_spare_capacity() {
        let mut f = ServiceFluid {
            queued: 100.0,
            arrived: 100.0,
            ..Default::default()
        };
        // Spare capacity 100/s: empty after 1 s, then arrivals served as they come.
        f.advance(&model(), at(3), 100.0, 2);
        assert_eq!(f.queued, 0.0);
        assert_eq!(f.served, 400.0);
        assert_eq!(f.queued_s, 50.0);
        assert!(f.imbalance().abs() < 1e-9);
    }

    #[test]
    fn without_replicas_requests_and_the_queue_are_dropped() {
        let mut f = ServiceFluid {
            queued: 30.0,
            arrived: 30.0,
            ..Default::default()
        };
        f.advance(&model(), at(2), 10.0, 0);
        assert_eq!((f.served, f.dropped, f.queued), (0.0, 50.0, 0.0));
        assert!(service_usage_per_replica(&model(), &ServiceFluid::default(), &f).is_none());
    }

    #[test]
    fn an_unbounded_queue_keeps_what_arrives_without_workers_and_drains_at_capacity() {
        let mut unbounded = model();
        unbounded.queue_limit_per_replica = f64::INFINITY;
        let mut f = ServiceFluid::default();
        f.advance(&unbounded, at(10), 30.0, 0);
        assert_eq!((f.queued, f.dropped, f.served), (300.0, 0.0, 0.0));
        assert_eq!(f.queued_s, 1500.0);
        // One replica: 100/s against 30/s arriving drains 70/s.
        f.advance(&unbounded, at(20), 30.0, 1);
        assert_eq!((f.queued, f.dropped), (0.0, 0.0));
        assert!(f.imbalance().abs() < 1e-9);
        f.requeue(5.0);
        assert!(f.imbalance().abs() < 1e-9);
        assert_eq!(f.serving_per_s(&unbounded, 1, 30.0), 100.0);
    }

    #[test]
    fn losing_replicas_drops_what_their_queues_held_beyond_the_new_limit() {
        let mut f = ServiceFluid {
            queued: 100.0,
            arrived: 100.0,
            ..Default::default()
        };
        f.advance(&model(), at(0), 0.0, 1);
        assert_eq!((f.queued, f.dropped), (50.0, 50.0));
    }
}

//! Up-front estimate of the memory a run needs, so an impossible scenario is
//! refused before it starts rather than killed by the OS halfway through.
//!
//! Besides the nodes, three things grow with a run and are estimated here:
//! pods (never removed: replicas, job arrivals, and the replacements of
//! deployment pods whose `pod_lifetime` ends), pending events (every running
//! pod's end; every node failure's detection, queued up to a minute ahead)
//! and timeline rows (one per sample). Not estimated: pods replacing those
//! lost to node failures, which depend on where pods landed;
//! [`Simulation::memory_in_use_bytes`](crate::sim::Simulation::memory_in_use_bytes)
//! counts the same structures as the run goes, for a guard between batches,
//! at the same per-item costs (`sim::footprint`'s). Calibrated against
//! measured peak RSS (`docs/performance.md`).

use crate::config::{ArrivalProcess, JobSpec, SimConfig, WorkloadKind};
use crate::ids::PodId;
use crate::metrics::PodRecord;
use crate::sim::footprint::{
    bytes_per_node, bytes_per_pod, bytes_per_timeline_row, BYTES_PER_EVENT, BYTES_PER_QUEUED_POD,
    BYTES_PER_SOURCED_PLAN,
};
use crate::time::{SimDuration, SimTime};
use std::mem::size_of;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub nodes: u64,
    /// Pods the run is expected to create: replicas, job arrivals and
    /// replacements of deployment pods whose lifetime ends.
    pub expected_pods: u64,
    /// Events expected to be pending at once.
    pub pending_events: u64,
    /// One per sample.
    pub timeline_rows: u64,
    pub bytes: u64,
}

/// The process itself: code, the embedded font, plot bitmaps (7 MiB measured
/// for a one-node run with plots); also the event list's partly filled
/// blocks, one at most per time bucket in use.
const BASE_BYTES: u64 = 8 << 20;
/// On the structures counted: allocator rounding and what is not counted
/// (partly filled event blocks, the scheduling queue's waiting lists, the
/// control plane's stores).
const SLACK_NUMERATOR: u64 = 11;
const SLACK_DENOMINATOR: u64 = 10;

pub fn estimate_memory(config: &SimConfig) -> MemoryEstimate {
    // Every node id the run can create: added nodes keep their state after deletion.
    let nodes = u64::try_from(config.node_ids_upper_bound()).unwrap_or(u64::MAX);
    let expected_pods = expected_pods(config);
    let pending_events = pending_events(config);
    let timeline_rows = timeline_rows(config);
    let mut per_pod = bytes_per_pod();
    if config.record_pods {
        // Built at the end while the pods' state is still held.
        per_pod += size_of::<PodRecord>() as u64;
    }
    let structures = [
        nodes.saturating_mul(bytes_per_node(config)),
        expected_pods.saturating_mul(per_pod),
        pending_events.saturating_mul(BYTES_PER_EVENT),
        created_at_once(config).saturating_mul(BYTES_PER_QUEUED_POD),
        timeline_rows.saturating_mul(bytes_per_timeline_row(config)),
        sourced_live(config).saturating_mul(BYTES_PER_SOURCED_PLAN),
    ]
    .into_iter()
    .fold(0u64, u64::saturating_add);
    MemoryEstimate {
        nodes,
        expected_pods,
        pending_events,
        timeline_rows,
        bytes: (structures / SLACK_DENOMINATOR)
            .saturating_mul(SLACK_NUMERATOR)
            .saturating_add(BASE_BYTES),
    }
}

/// Samples at every multiple of the interval up to the end, and at the end.
pub fn timeline_rows(config: &SimConfig) -> u64 {
    config
        .end
        .0
        .div_ceil(config.sample_interval.0.max(1))
        .max(1)
}

fn expected_pods(config: &SimConfig) -> u64 {
    let mut created = 0u64;
    let mut replacements = 0u64;
    for workload in &config.workloads {
        match &workload.kind {
            WorkloadKind::Deployment(d) => {
                // An autoscaler may hold up to its max at once (the pods it
                // replaces as it scales down and up again are not counted).
                let most = d.replicas.max(autoscaler_max(workload));
                created = created.saturating_add(u64::from(most));
                if let Some(lifetime) = &d.pod_lifetime {
                    // A replica's pod lives at least its lifetime and one
                    // scheduling cycle before its replacement is created.
                    let span = config.end.saturating_since(d.start).0 as f64;
                    let life = lifetime.mean() + config.scheduler.cycle_base_cost.0 as f64;
                    let lives = f64::from(d.replicas) * span / life;
                    replacements = replacements.saturating_add(lives as u64);
                }
            }
            WorkloadKind::Job(job) => created = created.saturating_add(job_pods(config, job)),
            WorkloadKind::Session(s) => {
                created = created.saturating_add(session_users(config, s) as u64)
            }
        }
    }
    // Each replacement follows the end of a bound pod, and the one scheduler
    // binds at most one pod per cycle of at least cycle_base_cost.
    let cycles = config
        .end
        .0
        .checked_div(config.scheduler.cycle_base_cost.0)
        .map_or(u64::MAX, |n| n.saturating_add(1));
    // Pod ids are 32-bit: the run stops with an error at the last one.
    created
        .saturating_add(replacements.min(cycles))
        .min(u64::from(PodId::MAX))
}

/// The most replicas a deployment's autoscaler may set (0 without one).
fn autoscaler_max(workload: &crate::config::WorkloadSpec) -> u32 {
    match &workload.model.autoscaler {
        Some(crate::config::Autoscaler::Hpa(h)) => h.max_replicas,
        Some(crate::config::Autoscaler::Keda(k)) => k.max_replicas,
        None => 0,
    }
}

/// Executions running at once at the load's peak, each with its end event
/// pending (event mode only; a fluid holds none).
fn running_executions(workload: &crate::config::WorkloadSpec) -> f64 {
    let (Some(crate::usage::UsageModel::Executions(e)), Some(load)) =
        (&workload.model.usage, &workload.model.load)
    else {
        return 0.0;
    };
    let peak = load.shape.max_rate();
    if e.is_fluid(peak) {
        return 0.0;
    }
    peak * e.mean_duration_s()
}

/// The users a session workload expects: its arrivals' mean rate over its
/// window (requeued users' new pods, a few, are not counted).
fn session_users(config: &SimConfig, session: &crate::config::SessionSpec) -> f64 {
    let stop = session.stop.unwrap_or(SimTime::MAX).min(config.end);
    if stop <= session.start {
        return 0.0;
    }
    let window_s = (stop - session.start).as_secs_f64();
    session.arrivals.mean_over(session.start, stop) * window_s
}

/// From the job's start to its stop or the end of the run.
fn job_window(config: &SimConfig, job: &JobSpec) -> SimDuration {
    let stop = job.stop.unwrap_or(SimTime::MAX).min(config.end);
    stop.saturating_since(job.start)
}

fn job_pods(config: &SimConfig, job: &JobSpec) -> u64 {
    let window = job_window(config, job);
    let by_rate = match &job.arrival {
        ArrivalProcess::Constant { interval }
        | ArrivalProcess::Poisson {
            mean_interval: interval,
        } => window
            .0
            .checked_div(interval.0)
            .map_or(u64::MAX, |n| n.saturating_add(1)),
        ArrivalProcess::Schedule { times } => times.len() as u64,
        // A trace's pods, counted by its reader's first pass.
        ArrivalProcess::Source { pods } => *pods,
    };
    job.max_pods.map_or(by_rate, |max| by_rate.min(max))
}

/// Little's law: a job's arrivals per unit of time times the mean run
/// time, and never more than all of them.
fn job_running(config: &SimConfig, job: &JobSpec) -> f64 {
    let pods = job_pods(config, job) as f64;
    let window = job_window(config, job).0 as f64;
    let arrival_rate = if window > 0.0 { pods / window } else { pods };
    (arrival_rate * job.duration.mean()).min(pods)
}

/// A trace's pods running at once, each holding its plan (run time and
/// outcome) until it ends; the trace's rows themselves are streamed.
fn sourced_live(config: &SimConfig) -> u64 {
    let live: f64 = config
        .workloads
        .iter()
        .filter_map(|w| match &w.kind {
            WorkloadKind::Job(job) if matches!(job.arrival, ArrivalProcess::Source { .. }) => {
                Some(job_running(config, job))
            }
            _ => None,
        })
        .sum();
    live as u64
}

/// Deployment replicas are all created, and queued, at their start.
fn created_at_once(config: &SimConfig) -> u64 {
    config
        .workloads
        .iter()
        .map(|w| match &w.kind {
            WorkloadKind::Deployment(d) => u64::from(d.replicas),
            WorkloadKind::Job(_) | WorkloadKind::Session(_) => 0,
        })
        .sum()
}

fn pending_events(config: &SimConfig) -> u64 {
    // The flush of unschedulable pods and the scheduling cycle.
    let mut pending = 2.0;
    // Pods running at once, each with its end pending.
    let mut running = 0.0;
    for workload in &config.workloads {
        pending += 1.0; // its next arrival, or its creation
        running += running_executions(workload);
        match &workload.kind {
            WorkloadKind::Deployment(d) => {
                if d.pod_lifetime.is_some() {
                    running += f64::from(d.replicas);
                }
            }
            WorkloadKind::Job(job) => running += job_running(config, job),
            WorkloadKind::Session(s) => {
                // Sessions at the arrivals' peak, each with its end pending;
                // and each waiting user's patience.
                let users = session_users(config, s);
                let peak_per_ns = s.arrivals.max_rate() / 1e9;
                running += (peak_per_ns * s.length.mean()).min(users);
                if let Some(patience) = &s.patience {
                    running += (peak_per_ns * patience.mean()).min(users);
                }
            }
        }
    }
    pending += running;
    if config.control_plane.is_some() {
        // The tick, and at most one write outstanding per pod on its way.
        pending += 1.0 + running;
    }
    for failure in &config.node_failures {
        // The failure; per node its detection, recovery and eviction.
        pending += 1.0 + 3.0 * f64::from(failure.count);
    }
    let lifecycle = &config.node_lifecycle;
    let end = config.end.0 as f64;
    for rate in &config.node_failure_rates {
        let per_ns = 1.0 / rate.mean_interval.0.max(1) as f64;
        let failures = per_ns * end;
        // A failure's detection is queued up to grace + one monitor period
        // ahead, a recovered node's readiness up to another period ahead;
        // those of earlier failures of the same node still wait their turn.
        let ahead = lifecycle.node_monitor_grace_period.0 as f64
            + 2.0 * lifecycle.node_monitor_period.0 as f64;
        pending += 1.0 + (per_ns * ahead).min(failures);
        // A recovery and an eviction at most per node failed at once.
        let pool_nodes = config.node_pools[rate.pool as usize].count;
        pending += 2.0 * failures.min(f64::from(pool_nodes));
    }
    // Saturates: a float beyond u64 converts to u64::MAX.
    pending as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        DeploymentSpec, NodeFailureRate, PodTemplate, Request, SchedulerMode, WorkloadSpec,
    };
    use crate::control_plane::config::ControlPlaneConfig;
    use crate::distribution::Distribution;
    use crate::resources::{CPU, MEMORY};
    use crate::scheduler::testutil::{self, pool};
    use crate::sim::Simulation;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn secs(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    fn template() -> PodTemplate {
        let mut template = testutil::template(&[]);
        template.requests[CPU] = Request::Fixed(100);
        template.requests[MEMORY] = Request::Fixed(MIB);
        template
    }

    fn deployment(replicas: u32, pod_lifetime: Option<Distribution>) -> WorkloadSpec {
        WorkloadSpec {
            name: "web".into(),
            kind: WorkloadKind::Deployment(DeploymentSpec {
                replicas,
                start: SimTime::ZERO,
                pod_lifetime,
                service: false,
                disruption_budget: None,
            }),
            template: template(),
            readiness_delay: None,
            model: Default::default(),
        }
    }

    fn job(mean_interval: SimDuration, duration: SimDuration) -> WorkloadSpec {
        WorkloadSpec {
            name: "batch".into(),
            kind: WorkloadKind::Job(JobSpec {
                arrival: ArrivalProcess::Poisson { mean_interval },
                start: SimTime::ZERO,
                stop: None,
                max_pods: None,
                duration: Distribution::constant(duration.0 as f64).unwrap(),
                failure_probability: 0.0,
            }),
            template: template(),
            readiness_delay: None,
            model: Default::default(),
        }
    }

    /// `nodes` nodes of 16 cpu and 64 GiB, ten minutes sampled every 10 s.
    fn config(nodes: u32, workloads: Vec<WorkloadSpec>) -> SimConfig {
        SimConfig::for_tests(
            vec![pool("p", nodes, 16_000, 64 * GIB, 110)],
            workloads,
            600,
        )
    }

    /// A trace's templates: their pods are the source's count, and the
    /// plans of those running at once (Little's law on the mean run time)
    /// are counted on top of the pods.
    #[test]
    fn a_sourced_job_is_estimated_by_its_trace_counts() {
        let mut traced = job(secs(1), secs(60));
        let WorkloadKind::Job(j) = &mut traced.kind else {
            unreachable!()
        };
        j.arrival = ArrivalProcess::Source { pods: 6_000 };
        let c = config(10, vec![traced]);
        let estimate = estimate_memory(&c);
        assert_eq!(estimate.expected_pods, 6_000);
        // 10 pods a second over 600 s, each running 60 s: 600 at once.
        assert_eq!(sourced_live(&c), 600);
        let mut unsourced = c.clone();
        let WorkloadKind::Job(j) = &mut unsourced.workloads[0].kind else {
            unreachable!()
        };
        j.arrival = ArrivalProcess::Schedule {
            times: vec![SimTime::ZERO; 6_000],
        };
        assert_eq!(sourced_live(&unsourced), 0);
        let without_plans = estimate_memory(&unsourced).bytes;
        assert!(
            estimate.bytes > without_plans,
            "{} {without_plans}",
            estimate.bytes
        );
    }

    /// Fuzzing found a run of 0.0 MiB estimated: a timeline row every
    /// nanosecond for ten minutes.
    #[test]
    fn a_nanosecond_sample_interval_is_estimated_by_its_rows() {
        let mut c = config(10, vec![]);
        c.sample_interval = SimDuration::from_nanos(1);
        let estimate = estimate_memory(&c);
        assert_eq!(estimate.timeline_rows, 600_000_000_000);
        assert!(estimate.bytes > 50_000 * GIB, "{estimate:?}");
    }

    /// Fuzzing found a run of 0.0 MiB estimated: a deployment whose pods live
    /// 1 ns for 24 h is replaced once per scheduling cycle (1 ms by default).
    #[test]
    fn replacement_pods_are_estimated_up_to_one_per_scheduling_cycle() {
        let lifetime = Distribution::constant(1.0).unwrap();
        let mut c = config(10, vec![deployment(10, Some(lifetime))]);
        c.end = SimTime::ZERO + secs(24 * 3600);
        let estimate = estimate_memory(&c);
        assert_eq!(estimate.expected_pods, 10 + 86_400_000 + 1);
        assert!(estimate.bytes > 8 * GIB, "{estimate:?}");

        // Lifetimes well above the cycle: replicas times lives per replica.
        let hour = Distribution::constant(secs(3600).0 as f64).unwrap();
        let mut c = config(10, vec![deployment(10, Some(hour))]);
        c.end = SimTime::ZERO + secs(24 * 3600);
        let pods = estimate_memory(&c).expected_pods;
        assert!((10 + 239..=10 + 240).contains(&pods), "{pods}");
    }

    /// An autoscaled deployment may hold its autoscaler's max at once, and
    /// execution workers keep an end event per running execution.
    #[test]
    fn autoscalers_and_executions_are_estimated_at_their_peak() {
        use crate::autoscale::hpa::{HpaSpec, MetricSpec, ResourceName, ResourceTarget};
        use crate::config::Autoscaler;
        use crate::load::{LoadShape, LoadSpec};
        use crate::usage::{ExecutionModel, UsageModel, DEFAULT_FLUID_ABOVE_PER_S};
        let mut web = deployment(2, None);
        web.model.autoscaler = Some(Autoscaler::Hpa(HpaSpec {
            min_replicas: 1,
            max_replicas: 40,
            metrics: vec![MetricSpec::Resource {
                name: ResourceName::Cpu,
                target: ResourceTarget::Utilization(70),
            }],
            behavior: None,
        }));
        web.model.load = Some(LoadSpec {
            shape: LoadShape::constant(100.0).unwrap(),
            noise_interval: None,
        });
        let mut execution = ExecutionModel {
            max_concurrent: 10,
            duration: Distribution::constant(secs(30).0 as f64).unwrap(),
            cpu_idle_millis: 0.0,
            cpu_per_execution_millis: 0.0,
            memory_base_bytes: 0.0,
            memory_per_execution_bytes: 0.0,
            fluid_above_per_s: DEFAULT_FLUID_ABOVE_PER_S,
        };
        web.model.usage = Some(UsageModel::Executions(execution.clone()));
        let estimate = estimate_memory(&config(10, vec![web.clone()]));
        assert_eq!(estimate.expected_pods, 40);
        // 100/s for 30 s: 3,000 running, each with its end pending.
        assert!(estimate.pending_events >= 3_000, "{estimate:?}");
        // As a fluid they hold no event.
        execution.fluid_above_per_s = 50.0;
        web.model.usage = Some(UsageModel::Executions(execution));
        let fluid = estimate_memory(&config(10, vec![web]));
        assert!(fluid.pending_events < 100, "{fluid:?}");
    }

    /// Fuzzing found a run of 0.0 MiB estimated: 10^12 node failures an hour,
    /// each queueing its detection about a minute ahead.
    #[test]
    fn node_failures_are_estimated_by_the_detections_they_queue() {
        let mut c = config(10, vec![]);
        c.node_failure_rates.push(NodeFailureRate {
            pool: 0,
            mean_interval: SimDuration::from_nanos(4),
            recover_after: Some(SimDuration::from_nanos(1)),
        });
        let estimate = estimate_memory(&c);
        // A failure every 4 ns, each detection up to 60 s ahead.
        assert!(estimate.pending_events >= 15_000_000_000, "{estimate:?}");
        assert!(estimate.bytes > 300 * GIB, "{estimate:?}");
    }

    #[test]
    fn running_jobs_are_estimated_by_littles_law() {
        // One arrival a second, each running 100 s: about 100 at once.
        let c = config(10, vec![job(secs(1), secs(100))]);
        let estimate = estimate_memory(&c);
        assert_eq!(estimate.expected_pods, 601);
        assert!(
            (100..110).contains(&estimate.pending_events),
            "{estimate:?}"
        );
    }

    #[test]
    fn absurd_sizes_saturate_instead_of_overflowing() {
        let mut c = config(u32::MAX, vec![job(SimDuration::from_nanos(1), secs(1))]);
        c.end = SimTime::MAX;
        c.sample_interval = SimDuration::from_nanos(1);
        let estimate = estimate_memory(&c);
        assert_eq!(estimate.expected_pods, u64::from(PodId::MAX));
        assert_eq!(estimate.bytes, u64::MAX);
    }

    /// The estimate must hold what a run holds: for runs of each kind, at
    /// least the bytes the finished simulation counts, and not far above.
    #[test]
    fn the_estimate_covers_what_a_finished_run_holds() {
        let lifetime = Distribution::constant(secs(5).0 as f64).unwrap();
        let mut with_failures = config(50, vec![job(SimDuration::from_millis(20), secs(60))]);
        with_failures.node_failure_rates.push(NodeFailureRate {
            pool: 0,
            mean_interval: secs(20),
            recover_after: Some(secs(30)),
        });
        let mut fast = config(1000, vec![job(SimDuration::from_millis(10), secs(30))]);
        fast.scheduler.mode = SchedulerMode::Fast;
        let mut control_plane = config(20, vec![deployment(100, Some(lifetime.clone()))]);
        control_plane.control_plane = Some(ControlPlaneConfig::default());
        for c in [
            config(20, vec![deployment(200, Some(lifetime))]),
            with_failures,
            fast,
            control_plane,
        ] {
            let estimate = estimate_memory(&c);
            let mut sim = Simulation::new(c).unwrap();
            while !sim.run_batch(100_000).unwrap() {}
            let held = sim.memory_in_use_bytes();
            let estimated = estimate.bytes - BASE_BYTES;
            assert!(
                held <= estimated && 2 * estimated <= 3 * held,
                "held {held} bytes, estimated {estimated} ({estimate:?})"
            );
        }
    }
}

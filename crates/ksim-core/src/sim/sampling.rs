//! Observation: timeline samples, and the run's results at its end.

use super::*;
use crate::metrics::{
    ExecutionSummary, NodeAutoscalerSample, RequestSummary, SessionSummary, WorkloadSample,
    WorkloadSummary,
};
use crate::usage::serving::Activity;

impl Simulation {
    pub(super) fn take_samples_before(&mut self, next_event: SimTime) -> Result<(), SimError> {
        while self.next_sample < next_event && self.next_sample <= self.config.end {
            if self.check_invariants {
                self.check_invariants(self.next_sample)?;
            }
            self.push_sample(self.next_sample);
            let next = self.next_sample + self.config.sample_interval;
            self.next_sample = if self.next_sample < self.config.end && next > self.config.end {
                self.config.end
            } else {
                next
            };
        }
        Ok(())
    }

    pub(super) fn push_sample(&mut self, time: SimTime) {
        let c = &self.counters;
        self.timeline.push(TimelineSample {
            time,
            nodes_total: self.cluster.nodes.live_count(),
            nodes_ready: self.cluster.nodes.ready_count(),
            nodes_provisioning: self.cluster.nodes.count(NodeState::Provisioning),
            nodes_not_ready: self.cluster.nodes.count(NodeState::NotReady),
            nodes_cordoned: self.cluster.nodes.count(NodeState::Cordoned),
            nodes_draining: self.cluster.nodes.count(NodeState::Draining),
            pods_pending: c.phase(PodPhase::Pending),
            pods_running: c.phase(PodPhase::Running),
            pods_succeeded: c.phase(PodPhase::Succeeded),
            pods_failed: c.phase(PodPhase::Failed),
            pods_unschedulable: c.unschedulable.len() as u64,
            cpu_requested_millis: self.requested_total.0[CPU],
            cpu_allocatable_millis: self.allocatable_total.0[CPU],
            memory_requested_bytes: self.requested_total.0[MEMORY],
            memory_allocatable_bytes: self.allocatable_total.0[MEMORY],
            scheduling_attempts: c.interval_attempts,
            binds: c.interval_binds,
            scheduling_latency_p50: self.latency_interval.quantile(0.5),
            scheduling_latency_p99: self.latency_interval.quantile(0.99),
        });
        let cost_per_hour = self.sample_pools(time);
        self.sample_node_autoscaler(time, cost_per_hour);
        self.sample_workloads(time);
        self.sample_lifecycle(time);
        self.counters.interval_attempts = 0;
        self.counters.interval_binds = 0;
        self.latency_interval.clear();
        // The part of a cycle in flight past this sample belongs to the next
        // interval, so busy time never exceeds the interval.
        let overhang = self
            .cycle
            .as_ref()
            .map_or(SimDuration::ZERO, |c| c.ends.saturating_since(time));
        let busy = self
            .scheduler_busy
            .0
            .checked_sub(overhang.0)
            .expect("a cycle's remaining time was counted when it started");
        if let Some(control_plane) = &mut self.control_plane {
            control_plane.sample(time, SimDuration(busy));
        }
        self.scheduler_busy = overhang;
    }

    /// One row per pool with nodes, from counters: no node is visited.
    /// Returns the pools' cost per hour together.
    fn sample_pools(&mut self, time: SimTime) -> f64 {
        let mut total = 0.0;
        for (pool, &live) in self.node_book.pool_live.iter().enumerate() {
            if live == 0 {
                continue;
            }
            let cost_per_hour = f64::from(live) * self.config.node_pools[pool].price_per_hour;
            total += cost_per_hour;
            self.pool_timeline.push(PoolSample {
                time,
                pool: pool as u32,
                nodes: u64::from(live),
                nodes_ready: u64::from(self.cluster.nodes.pool_ready_count(pool as u32)),
                cost_per_hour,
            });
        }
        total
    }

    /// A node autoscaler's row: its pods no group takes are counted while
    /// pending (a set of pods, each pod visited once per sample).
    fn sample_node_autoscaler(&mut self, time: SimTime, cost_per_hour: f64) {
        let Some(no_group) = self.controllers.pods_no_group() else {
            return;
        };
        let pods_no_group = no_group
            .iter()
            .filter(|&&p| self.pods.phase[p as usize] == PodPhase::Pending)
            .count() as u64;
        self.node_autoscaler_timeline.push(NodeAutoscalerSample {
            time,
            pods_unschedulable: self.counters.unschedulable.len() as u64,
            pods_no_group,
            nodes_provisioning: self.cluster.nodes.count(NodeState::Provisioning),
            cost_per_hour,
        });
    }

    /// The results; call after the run finished (or to inspect a partial run).
    pub fn into_output(mut self) -> RunOutput {
        let end = if self.finished {
            self.config.end
        } else {
            self.now()
        };
        for workload in 0..self.workloads.len() as WorkloadId {
            self.integrate_pods_at(workload, end);
        }
        let unschedulable = self.unschedulable_groups();
        let node_pools = self.pool_summaries();
        let sessions = self.session_summaries(end, self.gpu_hours_paid(&node_pools));
        let c = &self.counters;
        let summary = RunSummary {
            scenario: self.config.name.clone(),
            seed: self.config.seed,
            simulated_span: self.config.end - SimTime::ZERO,
            nodes_total: self.cluster.nodes.live_count(),
            nodes_added: self.node_book.nodes_added,
            nodes_deleted: self.node_book.nodes_deleted,
            controller_actions_applied: self.controllers.applied,
            controller_actions_refused: self.controllers.refused,
            node_autoscaler: self.controllers.node_autoscaler_summary(),
            node_pressure: self.controllers.node_pressure_summary(),
            workloads: self.workload_summaries(sessions),
            node_pools,
            pods_total: self.pods.len() as u64,
            pods_pending: c.phase(PodPhase::Pending),
            pods_running: c.phase(PodPhase::Running),
            pods_succeeded: c.phase(PodPhase::Succeeded),
            pods_failed: c.phase(PodPhase::Failed),
            events_processed: c.events,
            scheduling_attempts: c.attempts,
            binds: c.binds,
            node_failures: self.nodes.failures,
            pods_evicted: self.nodes.evictions,
            scheduling_latency: self.latency_total.clone(),
            unschedulable,
            sources: self.source_reports(),
        };
        let pods = self.config.record_pods.then(|| pod_records(&self.pods));
        RunOutput {
            summary,
            workload_timeline: self.workload_timeline,
            decisions: self.controllers.decisions,
            timeline: self.timeline,
            pool_timeline: self.pool_timeline,
            node_autoscaler_timeline: self.node_autoscaler_timeline,
            workload_names: self
                .config
                .workloads
                .iter()
                .map(|w| w.name.clone())
                .collect(),
            node_pool_names: self
                .config
                .node_pools
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            pods,
            control_plane: self.control_plane.map(ControlPlane::finish),
            node_lifecycle: self.nodes.disrupted.then_some(self.nodes.timeline),
        }
    }

    /// Whether a workload gets timeline rows and a summary: it has a usage
    /// model or an autoscaler, or it is a session workload.
    fn observed(&self, workload: usize) -> bool {
        let w = &self.config.workloads[workload];
        w.model.usage.is_some()
            || w.model.autoscaler.is_some()
            || matches!(w.kind, WorkloadKind::Session(_))
    }

    /// One row per observed workload, after bringing services to `time`.
    fn sample_workloads(&mut self, time: SimTime) {
        self.advance_services(time);
        for w in 0..self.workloads.len() {
            if !self.observed(w) {
                continue;
            }
            let counts = self.workload_counts[w];
            let mut row = WorkloadSample {
                time,
                workload: w as WorkloadId,
                load_per_s: None,
                replicas_desired: counts.desired,
                replicas_current: counts.active(),
                replicas_ready: counts.ready,
                cpu_per_replica_millis: None,
                memory_per_replica_bytes: None,
                queue_length: None,
                running_executions: None,
                latency_ms: None,
                wait_p50_ms: None,
                wait_p99_ms: None,
                dropped_total: None,
            };
            if let WorkloadKind::Session(spec) = &self.config.workloads[w].kind {
                // Users per second arriving, and users waiting for their pod.
                row.load_per_s = Some(spec.arrivals.rate_at(time));
                row.queue_length = self
                    .sessions
                    .counts(w as WorkloadId)
                    .map(|c| c.waiting as f64);
            }
            if let Some(Some(usage)) = self.serving.workloads.get_mut(w) {
                row.load_per_s = usage.load.as_ref().map(|l| l.rate_at(time));
                let running_fluid = usage.fluid_running(time, counts.ready);
                if let Some(ready) = usage.scraped.mean_ready() {
                    row.cpu_per_replica_millis = Some(ready.cpu_millis);
                    row.memory_per_replica_bytes = Some(ready.memory_bytes);
                }
                match &mut usage.activity {
                    Activity::Service { model, fluid, .. } => {
                        row.queue_length = Some(fluid.queued);
                        row.latency_ms = Some(fluid.latency_s(model, counts.ready) * 1e3);
                        row.dropped_total = Some(fluid.dropped);
                    }
                    Activity::ExecutionsFluid { service, fluid, .. } => {
                        row.queue_length = Some(fluid.queued);
                        row.running_executions = running_fluid.map(|r| r.round() as u64);
                        row.latency_ms = Some(fluid.latency_s(service, counts.ready) * 1e3);
                    }
                    Activity::Executions { workers, .. } => {
                        row.queue_length = Some(workers.queued() as f64);
                        row.running_executions = Some(workers.running());
                        let waits = &mut workers.stats.wait_interval;
                        row.wait_p50_ms = waits.quantile(0.5).map(|d| d.as_millis_f64());
                        row.wait_p99_ms = waits.quantile(0.99).map(|d| d.as_millis_f64());
                        waits.clear();
                    }
                }
            }
            self.workload_timeline.push(row);
        }
    }

    /// `sessions`: per workload, its sessions' summary if it has any.
    fn workload_summaries(&self, sessions: Vec<Option<SessionSummary>>) -> Vec<WorkloadSummary> {
        /// The mean queue wait by Little's law: ∫ queue dt over the requests
        /// (executions) that entered the queue or were served at once.
        fn wait_mean_ms(fluid: &crate::usage::ServiceFluid) -> f64 {
            let entered = fluid.served + fluid.queued;
            if entered > 0.0 {
                fluid.queued_s / entered * 1e3
            } else {
                0.0
            }
        }
        (0..self.workloads.len())
            .zip(sessions)
            .filter(|&(w, _)| self.observed(w))
            .map(|(w, sessions)| {
                let state = &self.workloads[w];
                let usage = self.serving.workloads[w].as_ref();
                let (requests, executions) = match usage.map(|u| &u.activity) {
                    Some(Activity::Service { fluid, .. }) => {
                        let requests = RequestSummary {
                            arrived: fluid.arrived,
                            served: fluid.served,
                            dropped: fluid.dropped,
                            wait_mean_ms: wait_mean_ms(fluid),
                        };
                        (Some(requests), None)
                    }
                    Some(Activity::Executions { workers, .. }) => {
                        let stats = &workers.stats;
                        let executions = ExecutionSummary {
                            arrived: stats.arrived,
                            completed: stats.completed,
                            requeued: stats.requeued,
                            queued_at_end: workers.queued(),
                            wait: stats.wait.clone(),
                            cold_start_wait: stats.cold_start_wait.clone(),
                            fluid: false,
                            wait_mean_ms: stats.wait.mean().map_or(0.0, |d| d.as_millis_f64()),
                        };
                        (None, Some(executions))
                    }
                    Some(Activity::ExecutionsFluid {
                        fluid, requeued, ..
                    }) => {
                        let ready = self.workload_counts[w].ready;
                        let running = usage
                            .and_then(|u| u.fluid_running(fluid.last, ready))
                            .unwrap_or(0.0);
                        let count = |v: f64| v.max(0.0).round() as u64;
                        let executions = ExecutionSummary {
                            arrived: count(fluid.arrived),
                            completed: count(fluid.served - running),
                            requeued: count(*requeued),
                            queued_at_end: count(fluid.queued),
                            wait: LatencyHistogram::default(),
                            cold_start_wait: LatencyHistogram::default(),
                            fluid: true,
                            wait_mean_ms: wait_mean_ms(fluid),
                        };
                        (None, Some(executions))
                    }
                    None => (None, None),
                };
                let autoscaler = match &self.config.workloads[w].model.autoscaler {
                    Some(Autoscaler::Hpa(_)) => Some("hpa"),
                    Some(Autoscaler::Keda(_)) => Some("keda"),
                    None => None,
                };
                WorkloadSummary {
                    name: self.config.workloads[w].name.clone(),
                    autoscaler,
                    replica_seconds: state.pod_ns as f64 / 1e9,
                    scale_ups: state.scale_ups,
                    scale_downs: state.scale_downs,
                    requests,
                    executions,
                    sessions,
                }
            })
            .collect()
    }

    fn pool_summaries(&self) -> Vec<PoolSummary> {
        let hours = self.node_book.node_hours(self.config.end);
        self.config
            .node_pools
            .iter()
            .zip(hours)
            .enumerate()
            .map(|(pool, (spec, node_hours))| PoolSummary {
                name: spec.name.clone(),
                nodes_at_end: u64::from(self.node_book.pool_live[pool]),
                node_hours,
                cost: node_hours * spec.price_per_hour,
            })
            .collect()
    }

    pub(super) fn unschedulable_groups(&self) -> Vec<UnschedulableGroup> {
        let mut groups: BTreeMap<(WorkloadId, u32), u64> = BTreeMap::new();
        for (p, &reason) in self.last_failure.iter().enumerate() {
            if reason != NO_REASON && self.pods.phase[p] == PodPhase::Pending {
                *groups.entry((self.pods.workload[p], reason)).or_default() += 1;
            }
        }
        groups
            .into_iter()
            .map(|((workload, reason), pods)| UnschedulableGroup {
                workload: self.config.workloads[workload as usize].name.clone(),
                pods,
                never_fits: self.reasons[reason as usize].starts_with(NEVER_FITS_PREFIX),
                reason: self.reasons[reason as usize].clone(),
            })
            .collect()
    }
}

pub(super) fn pod_records(pods: &Pods) -> Vec<PodRecord> {
    let when = |t: SimTime| (t != NEVER).then_some(t);
    (0..pods.len())
        .map(|p| PodRecord {
            id: p as u32,
            workload: pods.workload[p],
            created: pods.created[p],
            bound: when(pods.bound[p]),
            started: when(pods.started[p]),
            finished: when(pods.finished[p]),
            node: (pods.node[p] != NO_NODE).then_some(pods.node[p]),
            phase: pods.phase[p],
        })
        .collect()
}

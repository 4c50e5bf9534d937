//! The simulation checks its own bookkeeping. Cheap checks (a pod bound
//! twice, an event in the past, time going backwards) run on every event;
//! the full check below walks every node and pod, so it runs at every
//! timeline sample only when asked (`Simulation::enable_invariant_checks`:
//! every test, and `ksim run --check-invariants`).

use super::{Event, SimError, Simulation, WorkloadCounts, NO_REASON};
use crate::cluster::{NodeState, NEVER};
use crate::ids::{NodeId, PodId, PoolId, WorkloadId, NO_NODE};
use crate::pod_phase::PodPhase;
use crate::resources::{ResourceVec, NUM_RESOURCES};
use crate::time::SimTime;
use crate::usage::serving::Activity;
use std::fmt;

/// How many of the latest events a violation reports.
const RECENT_EVENTS: usize = 8;

/// The latest events handled, oldest first, for the report of a violation.
#[derive(Clone, Debug, Default)]
pub struct RecentEvents {
    ring: [Option<(SimTime, Event)>; RECENT_EVENTS],
    next: usize,
}

impl RecentEvents {
    #[inline]
    pub fn push(&mut self, at: SimTime, event: Event) {
        self.ring[self.next] = Some((at, event));
        self.next = (self.next + 1) % RECENT_EVENTS;
    }

    /// The time of the latest event, if any.
    pub fn last_time(&self) -> Option<SimTime> {
        self.ring[(self.next + RECENT_EVENTS - 1) % RECENT_EVENTS].map(|(t, _)| t)
    }

    pub fn to_vec(&self) -> Vec<(SimTime, Event)> {
        (0..RECENT_EVENTS)
            .filter_map(|i| self.ring[(self.next + i) % RECENT_EVENTS])
            .collect()
    }
}

/// A broken invariant: when, about what, what is wrong, and the events
/// that led there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation {
    pub at: SimTime,
    /// What the problem is about: `node 12`, `pod 3`, `counters`, `clock`.
    pub subject: String,
    pub problem: String,
    pub recent_events: Vec<(SimTime, Event)>,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant violated at simulated time {}: {}: {}",
            self.at, self.subject, self.problem
        )?;
        if !self.recent_events.is_empty() {
            write!(f, "; last events (oldest first):")?;
            for (t, event) in &self.recent_events {
                write!(f, "\n  {t} {event:?}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for InvariantViolation {}

impl Simulation {
    /// Runs the full invariant check at every timeline sample from now on.
    pub fn enable_invariant_checks(&mut self) {
        self.check_invariants = true;
    }

    /// Records a broken invariant found while handling an event; the run
    /// stops with it after that event. The first one found wins.
    pub(super) fn violation(&mut self, subject: impl Into<String>, problem: impl Into<String>) {
        if self.fault.is_none() {
            self.fault = Some(SimError::Invariant(Box::new(InvariantViolation {
                at: self.now(),
                subject: subject.into(),
                problem: problem.into(),
                recent_events: self.recent.to_vec(),
            })));
        }
    }

    /// The full check, a function of the simulation's state at `at`.
    pub fn check_invariants(&self, at: SimTime) -> Result<(), Box<InvariantViolation>> {
        let fail = |subject: String, problem: String| {
            Err(Box::new(InvariantViolation {
                at,
                subject,
                problem,
                recent_events: self.recent.to_vec(),
            }))
        };
        if let Some(last) = self.recent.last_time() {
            if at < last {
                return fail(
                    "clock".into(),
                    format!("a sample at {at} after an event at {last}"),
                );
            }
        }
        if let Err((subject, problem)) = self.check_pods_and_nodes() {
            return fail(subject, problem);
        }
        if let Err((subject, problem)) = self.check_controller_taints() {
            return fail(subject, problem);
        }
        if let Err(problem) = self.check_counters() {
            return fail("counters".into(), problem);
        }
        if let Err((subject, problem)) = self.check_workloads() {
            return fail(subject, problem);
        }
        if let Err((subject, problem)) = self.check_drains() {
            return fail(subject, problem);
        }
        if let Err((subject, problem)) = self.check_usage() {
            return fail(subject, problem);
        }
        if let Err((subject, problem)) = self.check_sessions() {
            return fail(subject, problem);
        }
        Ok(())
    }

    /// Per session workload: every user arrived is waiting, running,
    /// completed or abandoned, once (a requeued user once, waiting or
    /// running again); waiting and running match the live session pods.
    fn check_sessions(&self) -> Result<(), (String, String)> {
        let recounted = self.sessions.recount(
            |pod| self.pods.workload[pod as usize],
            |pod| self.pods.started[pod as usize] != NEVER,
        );
        for (w, &(waiting, running)) in recounted.iter().enumerate() {
            let Some(c) = self.sessions.counts(w as WorkloadId) else {
                continue;
            };
            let subject = || self.workload_subject(w as WorkloadId);
            let accounted = [c.waiting, c.running, c.completed, c.abandoned]
                .into_iter()
                .try_fold(0u64, u64::checked_add);
            if accounted != Some(c.arrived) {
                return Err((
                    subject(),
                    format!(
                        "{} users arrived, but {} waiting + {} running + {} completed + {} \
                         abandoned",
                        c.arrived, c.waiting, c.running, c.completed, c.abandoned
                    ),
                ));
            }
            if (c.waiting, c.running) != (waiting, running) {
                return Err((
                    subject(),
                    format!(
                        "counts {} waiting and {} running users, but its live pods hold \
                         {waiting} waiting and {running} running",
                        c.waiting, c.running
                    ),
                ));
            }
            if c.started > c.arrived || c.completed > c.started {
                return Err((
                    subject(),
                    format!(
                        "{} users started and {} completed of {} arrived",
                        c.started, c.completed, c.arrived
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Per modelled workload: a service's requests are all served, dropped
    /// or queued (up to rounding); executions are all queued, running or
    /// completed, on workers that are exactly the workload's ready pods.
    fn check_usage(&self) -> Result<(), (String, String)> {
        for (w, usage) in self.serving.workloads.iter().enumerate() {
            let Some(usage) = usage else { continue };
            let subject = || self.workload_subject(w as WorkloadId);
            match &usage.activity {
                Activity::Service { fluid, .. } | Activity::ExecutionsFluid { fluid, .. } => {
                    let tolerance = 1e-9 * fluid.arrived.max(1.0);
                    if fluid.imbalance().abs() > tolerance {
                        let problem = format!(
                            "requests: {} arrived, {} served, {} dropped, {} queued",
                            fluid.arrived, fluid.served, fluid.dropped, fluid.queued
                        );
                        return Err((subject(), problem));
                    }
                }
                Activity::Executions { workers, .. } => {
                    workers.check().map_err(|problem| (subject(), problem))?;
                    let ready = u64::from(self.workload_counts[w].ready);
                    if workers.ready_workers() != ready {
                        let problem = format!(
                            "{} workers take executions, {ready} pods are ready",
                            workers.ready_workers()
                        );
                        return Err((subject(), problem));
                    }
                }
            }
        }
        Ok(())
    }

    /// Per workload: its pod list holds exactly its live pods, and its
    /// counts are theirs, recounted; a Ready pod runs and is not being
    /// deleted.
    fn check_workloads(&self) -> Result<(), (String, String)> {
        let mut recounted = vec![WorkloadCounts::default(); self.workloads.len()];
        for p in 0..self.pods.len() {
            if self.pods.finished[p] != NEVER {
                continue;
            }
            let ready = self.pods.ready_since[p] != NEVER;
            let deleted = self.pods.deleting[p];
            let phase = self.pods.phase[p];
            if ready && (phase != PodPhase::Running || deleted) {
                let state = if deleted {
                    "being deleted"
                } else {
                    phase.as_str()
                };
                return Err((format!("pod {p}"), format!("Ready but {state}")));
            }
            let counts = &mut recounted[self.pods.workload[p] as usize];
            counts.live += 1;
            counts.pending += u32::from(phase == PodPhase::Pending);
            counts.running += u32::from(phase == PodPhase::Running);
            counts.ready += u32::from(ready);
            counts.terminating += u32::from(deleted);
        }
        for (w, actual) in recounted.iter().enumerate() {
            let subject = || self.workload_subject(w as u32);
            let counted = self.workload_counts[w];
            let pairs = [
                ("live", counted.live, actual.live),
                ("pending", counted.pending, actual.pending),
                ("running", counted.running, actual.running),
                ("ready", counted.ready, actual.ready),
                ("terminating", counted.terminating, actual.terminating),
            ];
            for (what, counted, actual) in pairs {
                if counted != actual {
                    let problem = format!("{counted} pods counted {what}, {actual} are");
                    return Err((subject(), problem));
                }
            }
            let listed = self.workload_pods.pods_of(w as u32);
            let strangers = listed.iter().any(|&pod| {
                self.pods.workload[pod as usize] != w as u32
                    || self.pods.finished[pod as usize] != NEVER
            });
            let expected = if self.listed(w as u32) {
                actual.live
            } else {
                0
            };
            if strangers || listed.len() != expected as usize {
                let problem =
                    format!("its pod list {listed:?} is not its {expected} listed live pods");
                return Err((subject(), problem));
            }
        }
        Ok(())
    }

    /// Per node: requested is the sum of the requests of the pods holding
    /// it (and exactly those pods are on its list), within allocatable; no
    /// pod on a node that does not exist.
    fn check_pods_and_nodes(&self) -> Result<(), (String, String)> {
        let nodes = &self.cluster.nodes;
        let mut sums = vec![ResourceVec::ZERO; nodes.len()];
        let mut holding = vec![0u64; nodes.len()];
        for p in 0..self.pods.len() {
            let node = self.pods.node[p];
            if node == NO_NODE || self.pods.finished[p] != NEVER {
                continue;
            }
            let Some(sum) = sums.get_mut(node as usize) else {
                return Err((
                    format!("pod {p}"),
                    format!("on node {node}, which does not exist"),
                ));
            };
            for dim in 0..NUM_RESOURCES {
                sum.0[dim] = sum.0[dim]
                    .checked_add(self.pods.requests[p].0[dim])
                    .ok_or_else(|| (format!("node {node}"), "requests overflow u64".into()))?;
            }
            holding[node as usize] += 1;
        }
        let mut total = ResourceVec::ZERO;
        for n in 0..nodes.len() {
            let subject = || format!("node {n}");
            if nodes.requested[n] != sums[n] {
                return Err((
                    subject(),
                    format!(
                        "requested {:?} but its pods request {:?}",
                        nodes.requested[n].0, sums[n].0
                    ),
                ));
            }
            let allocatable = &self.cluster.pools[nodes.pool[n] as usize].allocatable;
            if let Some(dim) = ResourceVec::ZERO.first_shortfall(&nodes.requested[n], allocatable) {
                return Err((
                    subject(),
                    format!(
                        "requested {} of {} exceeds allocatable {}",
                        nodes.requested[n].0[dim],
                        self.config.resource_names.name(dim),
                        allocatable.0[dim]
                    ),
                ));
            }
            let listed = self.nodes.pods.pods_of(n as u32);
            if listed.len() as u64 != holding[n]
                || listed.iter().any(|&pod| {
                    self.pods.node[pod as usize] != n as u32
                        || self.pods.finished[pod as usize] != NEVER
                })
            {
                return Err((
                    subject(),
                    format!(
                        "its pod list {listed:?} is not the {} live pods bound or assumed there",
                        holding[n]
                    ),
                ));
            }
            total.add_assign(&nodes.requested[n]);
        }
        if total != self.requested_total {
            return Err((
                "cluster".into(),
                format!(
                    "requested total {:?} but nodes sum to {:?}",
                    self.requested_total.0, total.0
                ),
            ));
        }
        let mut by_state = [0u64; NodeState::COUNT];
        let mut registered = vec![0usize; self.cluster.pools.len()];
        let mut ready = vec![0u32; self.cluster.pools.len()];
        let mut zones = vec![(0u64, 0u64); self.cluster.zone_count()];
        for n in 0..nodes.len() as NodeId {
            by_state[nodes.state(n) as usize] += 1;
            if nodes.state(n).is_registered() {
                let pool = nodes.pool[n as usize] as usize;
                registered[pool] += 1;
                ready[pool] += u32::from(nodes.state(n) == NodeState::Ready);
                let zone = &mut zones[self.cluster.pools[pool].zone as usize];
                zone.0 += 1;
                zone.1 += u64::from(nodes.state(n) == NodeState::NotReady);
            }
        }
        for (zone, &actual) in zones.iter().enumerate() {
            let counted = nodes.zone_counts(zone as u32);
            if counted != actual {
                let problem = format!(
                    "zone {zone}: (registered, not ready) counted {counted:?}, actual {actual:?}"
                );
                return Err(("cluster".into(), problem));
            }
        }
        for state in NodeState::ALL {
            if by_state[state as usize] != nodes.count(state) {
                let counted = nodes.count(state);
                let actual = by_state[state as usize];
                let problem = format!("{counted} nodes counted {}, {actual} are", state.as_str());
                return Err(("cluster".into(), problem));
            }
        }
        for (pool, &registered) in registered.iter().enumerate() {
            let members = nodes.pool_members(pool as u32);
            if members.len() != registered
                || members.iter().any(|&n| !nodes.state(n).is_registered())
            {
                let problem = format!(
                    "{} members listed, {registered} registered nodes",
                    members.len()
                );
                return Err((format!("pool {}", self.cluster.pools[pool].name), problem));
            }
        }
        for (pool, &actual) in ready.iter().enumerate() {
            let counted = nodes.pool_ready_count(pool as PoolId);
            if counted != actual {
                let problem = format!("{counted} nodes counted Ready, {actual} are");
                return Err((format!("pool {}", self.cluster.pools[pool].name), problem));
            }
        }
        let nonempty: Vec<PoolId> = (0..registered.len() as PoolId)
            .filter(|&p| registered[p as usize] > 0)
            .collect();
        if nodes.nonempty_pools() != nonempty {
            let problem = format!(
                "pools {:?} listed with nodes, {nonempty:?} have registered nodes",
                nodes.nonempty_pools()
            );
            return Err(("cluster".into(), problem));
        }
        Ok(())
    }

    /// Only registered nodes carry controller taints, and the count of
    /// tainted nodes (which lets the scheduler skip reading them) is exact.
    fn check_controller_taints(&self) -> Result<(), (String, String)> {
        let nodes = &self.cluster.nodes;
        let mut tainted = 0u64;
        for n in 0..nodes.len() as NodeId {
            let taints = nodes.controller_taints(n);
            if taints.is_empty() {
                continue;
            }
            if !nodes.state(n).is_registered() {
                let problem = format!("{} carries taints {taints:?}", nodes.state(n).as_str());
                return Err((format!("node {n}"), problem));
            }
            tainted += 1;
        }
        if tainted != nodes.tainted_count() {
            let counted = nodes.tainted_count();
            let problem = format!("{counted} nodes counted with controller taints, {tainted} are");
            return Err(("cluster".into(), problem));
        }
        Ok(())
    }

    /// The phase counters add up to the number of pods and match the phases.
    fn check_counters(&self) -> Result<(), String> {
        let mut by_phase = [0u64; 4];
        let mut unschedulable = Vec::new();
        for p in 0..self.pods.len() {
            by_phase[self.pods.phase[p] as usize] += 1;
            if self.last_failure[p] != NO_REASON {
                unschedulable.push(p as PodId);
            }
        }
        let c = &self.counters;
        let counted = c.by_phase;
        let phases = [
            PodPhase::Pending,
            PodPhase::Running,
            PodPhase::Succeeded,
            PodPhase::Failed,
        ];
        for phase in phases {
            let (counted, actual) = (counted[phase as usize], by_phase[phase as usize]);
            if counted != actual {
                return Err(format!(
                    "{counted} pods counted {}, {actual} are",
                    phase.as_str()
                ));
            }
        }
        if !unschedulable.iter().eq(c.unschedulable.iter()) {
            return Err(format!(
                "{} pods listed unschedulable, {} are",
                c.unschedulable.len(),
                unschedulable.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DeploymentSpec, SimConfig, WorkloadKind, WorkloadSpec};
    use crate::resources::CPU;
    use crate::scheduler::testutil::{pool, template};
    use crate::taints::ControllerTaint;

    /// Two nodes, a deployment of three small pods, run for a minute.
    fn settled() -> Simulation {
        let mut pod = template(&[("app", "web")]);
        pod.requests[CPU] = crate::config::Request::Fixed(100);
        let web = WorkloadSpec {
            name: "web".into(),
            kind: WorkloadKind::Deployment(DeploymentSpec {
                replicas: 3,
                start: SimTime::ZERO,
                pod_lifetime: None,
                service: false,
                disruption_budget: None,
            }),
            template: pod,
            readiness_delay: None,
            model: Default::default(),
        };
        let config = SimConfig::for_tests(vec![pool("a", 2, 1000, 1 << 30, 110)], vec![web], 60);
        let mut sim = Simulation::new(config).unwrap();
        sim.enable_invariant_checks();
        while !sim.run_batch(1000).unwrap() {}
        sim
    }

    fn violation(sim: &Simulation) -> InvariantViolation {
        *sim.check_invariants(sim.now()).expect_err("a violation")
    }

    #[test]
    fn a_consistent_run_passes() {
        let sim = settled();
        assert_eq!(sim.check_invariants(sim.now()), Ok(()));
    }

    #[test]
    fn a_node_whose_requests_drift_from_its_pods_is_named() {
        let mut sim = settled();
        let node = sim.pods.node[0] as usize;
        sim.cluster.nodes.requested[node].0[CPU] += 1;
        let v = violation(&sim);
        assert_eq!(v.subject, format!("node {node}"));
        assert!(v.problem.contains("its pods request"), "{}", v.problem);
        assert!(!v.recent_events.is_empty());
        assert!(v.to_string().contains("last events"), "{v}");
    }

    #[test]
    fn a_node_over_its_allocatable_is_named() {
        let mut sim = settled();
        // Grow one pod's request past its 1-cpu node, consistently everywhere else.
        let node = sim.pods.node[0];
        sim.pods.requests[0].0[CPU] += 4900;
        sim.cluster.nodes.requested[node as usize].0[CPU] += 4900;
        sim.requested_total.0[CPU] += 4900;
        let v = violation(&sim);
        assert_eq!(v.subject, format!("node {node}"));
        assert!(v.problem.contains("exceeds allocatable"), "{}", v.problem);
    }

    #[test]
    fn phase_counters_that_do_not_add_up_are_reported() {
        let mut sim = settled();
        sim.counters.by_phase[PodPhase::Running as usize] += 1;
        let v = violation(&sim);
        assert_eq!(v.subject, "counters");
        assert_eq!(v.problem, "4 pods counted Running, 3 are");
    }

    #[test]
    fn a_workload_count_that_drifts_from_its_pods_is_named() {
        let mut sim = settled();
        assert_eq!(sim.workload_counts(0).ready, 3);
        sim.workload_counts[0].ready -= 1;
        let v = violation(&sim);
        assert_eq!(v.subject, "workload web");
        assert_eq!(v.problem, "2 pods counted ready, 3 are");
        sim.workload_counts[0].ready += 1;
        sim.workload_counts[0].terminating += 1;
        assert_eq!(violation(&sim).problem, "1 pods counted terminating, 0 are");
    }

    #[test]
    fn a_workload_list_missing_a_live_pod_is_named() {
        let mut sim = settled();
        sim.workload_pods.unlink(0, 1);
        let v = violation(&sim);
        assert_eq!(v.subject, "workload web");
        assert!(
            v.problem.contains("not its 3 listed live pods"),
            "{}",
            v.problem
        );
    }

    #[test]
    fn a_ready_pod_being_deleted_is_named() {
        let mut sim = settled();
        sim.pods.deleting[2] = true;
        sim.workload_counts[0].terminating += 1;
        let v = violation(&sim);
        assert_eq!(v.subject, "pod 2");
        assert_eq!(v.problem, "Ready but being deleted");
    }

    #[test]
    fn a_pod_on_a_node_that_does_not_exist_is_named() {
        let mut sim = settled();
        sim.pods.node[1] = 7;
        let v = violation(&sim);
        assert_eq!(v.subject, "pod 1");
        assert!(v.problem.contains("node 7, which does not exist"));
    }

    #[test]
    fn a_pools_ready_count_that_drifts_is_named() {
        let mut sim = settled();
        sim.cluster.nodes.pool_ready_mut()[0] += 1;
        let v = violation(&sim);
        assert!(v.subject.starts_with("pool "), "{}", v.subject);
        assert!(v.problem.contains("nodes counted Ready"), "{}", v.problem);
    }

    #[test]
    fn a_pool_list_missing_a_pool_with_nodes_is_reported() {
        let mut sim = settled();
        assert_eq!(sim.cluster.nodes.nonempty_pools(), &[0]);
        sim.cluster.nodes.nonempty_pools_mut().clear();
        let v = violation(&sim);
        assert_eq!(v.subject, "cluster");
        assert_eq!(
            v.problem,
            "pools [] listed with nodes, [0] have registered nodes"
        );
    }

    #[test]
    fn a_miscounted_tainted_node_is_reported() {
        let mut sim = settled();
        sim.cluster
            .set_controller_taint(0, ControllerTaint::KarpenterDisrupted, true);
        assert_eq!(sim.check_invariants(sim.now()), Ok(()));
        *sim.cluster.nodes.tainted_count_mut() = 0;
        let v = violation(&sim);
        assert_eq!(v.subject, "cluster");
        assert_eq!(v.problem, "0 nodes counted with controller taints, 1 are");
    }

    #[test]
    fn a_sample_before_the_last_event_is_reported() {
        let sim = settled();
        assert!(sim.recent.last_time().unwrap() > SimTime::ZERO);
        let v = *sim.check_invariants(SimTime::ZERO).unwrap_err();
        assert_eq!(v.subject, "clock");
    }

    #[test]
    fn binding_a_pod_twice_stops_the_run() {
        let mut sim = settled();
        sim.bind(sim.now(), 0);
        match sim.fault.take() {
            Some(SimError::Invariant(v)) => {
                assert_eq!(v.subject, "pod 0");
                assert!(v.problem.starts_with("bound again"), "{}", v.problem);
            }
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn an_event_in_the_past_stops_the_run() {
        let mut sim = settled();
        let now = sim.now();
        assert!(now > SimTime::ZERO);
        sim.schedule(SimTime::ZERO, Event::FlushUnschedulable);
        let Some(SimError::Invariant(v)) = sim.fault.take() else {
            panic!("expected a violation");
        };
        assert_eq!(v.subject, "event list");
        assert!(v.problem.contains("FlushUnschedulable"), "{}", v.problem);
    }

    #[test]
    fn an_impossible_phase_move_is_refused() {
        let mut sim = settled();
        let running = (0..sim.pods.len() as u32)
            .find(|&p| sim.pods.phase[p as usize] == PodPhase::Running)
            .unwrap();
        sim.set_phase(running, PodPhase::Running);
        let Some(SimError::Invariant(v)) = sim.fault.take() else {
            panic!("expected a violation");
        };
        assert_eq!(v.problem, "Running -> Running (3 counted Running)");
        assert_eq!(sim.check_invariants(sim.now()), Ok(()), "nothing moved");
    }
}

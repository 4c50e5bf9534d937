//! Drains: a node is cordoned, its pods evicted through the Eviction API
//! under their deployments' disruption budgets, and the node deleted once
//! empty.

use ksim_core::config::{DisruptionBudget, IntOrPercent, SimConfig, WorkloadKind, WorkloadSpec};
use ksim_core::control_plane::config::ControlPlaneConfig;
use ksim_core::controller::{Action, Controller, Subscriptions, Wake};
use ksim_core::distribution::Distribution;
use ksim_core::ids::NodeId;
use ksim_core::metrics::{PodRecord, RunOutput};
use ksim_core::pod_phase::PodPhase;
use ksim_core::sim::Simulation;
use ksim_core::time::SimTime;

mod common;
use common::*;

/// Fixed actions at fixed times (s).
struct Steps(Vec<(u64, Vec<Action>)>);

impl Controller for Steps {
    fn name(&self) -> &str {
        "steps"
    }
    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }
    fn first_wake(&self) -> Option<SimTime> {
        self.0.first().map(|(t, _)| s(*t))
    }
    fn wake(&mut self, wake: Wake) -> Option<SimTime> {
        let (_, actions) = self.0.remove(0);
        wake.actions.extend(actions);
        self.first_wake()
    }
}

/// The run's output and its eviction counts (done, refused).
fn run_steps(config: SimConfig, steps: Vec<(u64, Vec<Action>)>) -> (RunOutput, u64, u64) {
    let mut sim = Simulation::new(config).expect("valid config");
    sim.enable_invariant_checks();
    sim.add_controller(Box::new(Steps(steps))).unwrap();
    while !sim.run_batch(1 << 20).unwrap_or_else(|e| panic!("{e}")) {}
    let (evicted, refused) = (sim.evictions(), sim.evictions_refused());
    (sim.run().unwrap(), evicted, refused)
}

fn drain(node: NodeId) -> Action {
    Action::Drain { node }
}

fn budget(mut w: WorkloadSpec, b: DisruptionBudget) -> WorkloadSpec {
    if let WorkloadKind::Deployment(d) = &mut w.kind {
        d.disruption_budget = Some(b);
    }
    w
}

fn ready_after(mut w: WorkloadSpec, s: u64) -> WorkloadSpec {
    w.readiness_delay = Some(Distribution::constant(secs(s).0 as f64).unwrap());
    w
}

fn s(t: u64) -> SimTime {
    SimTime::ZERO + secs(t)
}

fn on_node(pods: &[PodRecord], node: NodeId) -> Vec<&PodRecord> {
    pods.iter().filter(|p| p.node == Some(node)).collect()
}

fn row(out: &RunOutput, at_s: u64) -> &ksim_core::metrics::TimelineSample {
    out.timeline.iter().find(|r| r.time == s(at_s)).unwrap()
}

/// A pool whose nodes all exist at the start, and one the drained node's
/// pods move to once it registers (1 s in): the scheduler puts the first
/// pods on node 0 alone.
fn one_busy_node_and_a_spare() -> Vec<ksim_core::config::NodePoolSpec> {
    let mut spare = pool("spare", 0, 4000, 8 * GI);
    spare.max = 1;
    spare.provisioning_delay = Distribution::constant(0.0).unwrap();
    vec![pool("old", 1, 4000, 8 * GI), spare]
}

fn add_spare() -> Action {
    Action::AddNodes { pool: 1, count: 1 }
}

/// The spare joins at 5 s (no provisioning delay), node 0 drains then.
#[test]
fn a_drained_nodes_pods_terminate_and_come_back_elsewhere_then_the_node_is_deleted() {
    let config = config(
        one_busy_node_and_a_spare(),
        vec![deployment("web", template(1000, GI), 3)],
        120,
    );
    let (out, evicted, refused) = run_steps(config, vec![(5, vec![add_spare(), drain(0)])]);
    assert_eq!((evicted, refused), (3, 0), "no budget: all evicted at once");
    let pods = out.pods.as_ref().unwrap();
    let old = on_node(pods, 0);
    assert_eq!(old.len(), 3);
    for p in &old {
        assert_eq!(p.phase, PodPhase::Succeeded, "a graceful deletion");
        assert_eq!(p.finished, Some(s(35)), "after the 30 s grace period");
    }
    let new = on_node(pods, 1);
    assert_eq!(new.len(), 3, "replaced on the spare node");
    assert!(new
        .iter()
        .all(|p| p.created == s(5) && p.finished.is_none()));
    assert_eq!(row(&out, 30).nodes_draining, 1);
    assert_eq!(row(&out, 30).pods_running, 6, "the old ones terminate");
    assert_eq!(row(&out, 40).nodes_total, 1, "deleted once empty");
    assert_eq!(row(&out, 40).nodes_draining, 0);
    assert_eq!(out.summary.nodes_deleted, 1);
    assert_eq!(out.summary.controller_actions_applied, 2);
}

#[test]
fn an_empty_node_is_deleted_as_its_drain_starts() {
    let config = config(vec![pool("p", 2, 4000, 8 * GI)], vec![], 30);
    let (out, evicted, _) = run_steps(config, vec![(10, vec![drain(0)])]);
    assert_eq!(evicted, 0);
    assert_eq!(row(&out, 10).nodes_total, 1);
    assert_eq!(out.summary.nodes_deleted, 1);
}

#[test]
fn a_node_already_draining_or_not_registered_cannot_be_drained() {
    let config = config(vec![pool("p", 1, 4000, 8 * GI)], vec![], 30);
    let (out, _, _) = run_steps(config, vec![(10, vec![drain(0), drain(0), drain(7)])]);
    assert_eq!(out.summary.controller_actions_applied, 1);
    assert_eq!(out.summary.controller_actions_refused, 2);
}

/// max_unavailable = 1 over 3 replicas: one pod at a time, the next only
/// once the previous one's replacement is Ready (10 s after it runs),
/// found at the next 5 s retry.
#[test]
fn max_unavailable_1_evicts_one_pod_at_a_time() {
    let web = budget(
        ready_after(deployment("web", template(1000, GI), 3), 10),
        DisruptionBudget::MaxUnavailable(IntOrPercent::Count(1)),
    );
    let config = config(one_busy_node_and_a_spare(), vec![web], 120);
    let (out, evicted, refused) =
        run_steps(config, vec![(1, vec![add_spare()]), (20, vec![drain(0)])]);
    let pods = out.pods.as_ref().unwrap();
    let mut ends: Vec<SimTime> = on_node(pods, 0)
        .iter()
        .map(|p| p.finished.unwrap())
        .collect();
    ends.sort();
    // Evicted at 20 s, then 35 s (the replacement is Ready just after 30 s,
    // after that retry), then 50 s; each terminates 30 s later.
    assert_eq!(ends, vec![s(50), s(65), s(80)]);
    assert_eq!(evicted, 3);
    // Refused: two pods at 20, 25 and 30 s; one at 35, 40 and 45 s.
    assert_eq!(refused, 2 * 3 + 3);
    assert_eq!(row(&out, 70).nodes_total, 2, "one pod still terminating");
    assert_eq!(row(&out, 80).nodes_total, 1, "deleted with its last pod");
}

/// min_available = 100%: no eviction is ever allowed; the node stays
/// Draining and its pods keep running, retried every 5 s.
#[test]
fn min_available_100_percent_blocks_the_drain_forever() {
    let web = budget(
        deployment("web", template(1000, GI), 2),
        DisruptionBudget::MinAvailable(IntOrPercent::Percent(100)),
    );
    let config = config(one_busy_node_and_a_spare(), vec![web], 300);
    let (out, evicted, refused) =
        run_steps(config, vec![(1, vec![add_spare()]), (10, vec![drain(0)])]);
    assert_eq!(evicted, 0);
    // Passes at 10 s and every 5 s to 300 s: 59, two pods each.
    assert_eq!(refused, 2 * 59);
    let last = out.timeline.last().unwrap();
    assert_eq!((last.nodes_draining, last.nodes_total), (1, 2));
    let pods = out.pods.as_ref().unwrap();
    assert!(pods
        .iter()
        .all(|p| p.finished.is_none() && p.node == Some(0)));
}

/// Job pods have no budget: evicted at once, gracefully, and not replaced
/// (the Job controller is not modelled); a blocking budget on another
/// workload holds only its own pods.
#[test]
fn job_pods_are_evicted_without_a_budget() {
    let web = budget(
        deployment("web", template(1000, GI), 1),
        DisruptionBudget::MaxUnavailable(IntOrPercent::Count(0)),
    );
    let batch = job("batch", template(1000, GI), &[0, 0], 1000);
    let config = config(one_busy_node_and_a_spare(), vec![web, batch], 100);
    let (out, evicted, refused) =
        run_steps(config, vec![(1, vec![add_spare()]), (10, vec![drain(0)])]);
    assert_eq!(evicted, 2);
    assert!(refused > 0);
    let pods = out.pods.as_ref().unwrap();
    let jobs: Vec<_> = pods.iter().filter(|p| p.workload == 1).collect();
    assert_eq!(jobs.len(), 2, "not replaced");
    assert!(jobs
        .iter()
        .all(|p| p.finished == Some(s(40)) && p.phase == PodPhase::Succeeded));
    assert_eq!(out.timeline.last().unwrap().nodes_draining, 1);
}

fn budgeted_with_control_plane() -> SimConfig {
    let web = budget(
        deployment("web", template(1000, GI), 3),
        DisruptionBudget::MaxUnavailable(IntOrPercent::Count(1)),
    );
    let mut c = config(vec![pool("p", 4, 4000, 8 * GI)], vec![web], 200);
    c.control_plane = Some(ControlPlaneConfig::default());
    c
}

fn nodes_with_pods(w: &Wake) -> Vec<Action> {
    (0..4)
        .filter(|&n| w.view.node_requested(n).0[0] > 0)
        .map(drain)
        .collect()
}

/// With a control plane each eviction is a `create pods/eviction` write
/// taking effect when stored; one in flight holds the budget's disruption,
/// so drains of three nodes at one instant still evict one pod at a time.
#[test]
fn evictions_in_flight_hold_the_budget_so_simultaneous_drains_go_one_at_a_time() {
    let mut sim = Simulation::new(budgeted_with_control_plane()).unwrap();
    sim.enable_invariant_checks();
    struct DrainBusy;
    impl Controller for DrainBusy {
        fn name(&self) -> &str {
            "busy"
        }
        fn subscriptions(&self) -> Subscriptions {
            Subscriptions::NONE
        }
        fn first_wake(&self) -> Option<SimTime> {
            Some(s(20))
        }
        fn wake(&mut self, wake: Wake) -> Option<SimTime> {
            let actions = nodes_with_pods(&wake);
            assert_eq!(actions.len(), 3, "one pod per node (least allocated)");
            wake.actions.extend(actions);
            None
        }
    }
    sim.add_controller(Box::new(DrainBusy)).unwrap();
    while !sim.run_batch(1 << 20).unwrap() {}
    assert_eq!(sim.evictions(), 3);
    let out = sim.run().unwrap();
    let cp = out.control_plane.as_ref().unwrap();
    let evictions = cp
        .apiserver
        .requests
        .iter()
        .find(|(l, _)| l == "create pods/eviction")
        .unwrap()
        .1;
    assert_eq!(evictions, 3, "one write per allowed eviction");
    let pods = out.pods.as_ref().unwrap();
    let mut ends: Vec<SimTime> = pods[..3].iter().map(|p| p.finished.unwrap()).collect();
    ends.sort();
    ends.dedup();
    assert_eq!(ends.len(), 3, "one disruption at a time: {ends:?}");
    // Each at a later 5 s retry; store latencies move the ends by ms.
    assert!(
        ends[1] - ends[0] >= secs(4) && ends[2] - ends[1] >= secs(4),
        "each after a retry: {ends:?}"
    );
    assert_eq!(out.summary.nodes_deleted, 3);
    assert!(pods[3..].iter().all(|p| p.node == pods[3].node));
}

#[test]
fn drains_are_deterministic() {
    let once = || {
        let (out, evicted, refused) = run_steps(
            budgeted_with_control_plane(),
            vec![(20, vec![drain(0), drain(1), drain(2)])],
        );
        (
            format!("{:?} {:?}", out.timeline, out.pods),
            evicted,
            refused,
        )
    };
    assert_eq!(once(), once());
}

/// A scenario's `drain_nodes` change runs through the scripted controller.
#[test]
fn scripted_drain_nodes_drain_then_delete() {
    use ksim_core::config::{ChangeAction, ScheduledChange};
    let mut c = config(
        vec![pool("p", 3, 4000, 8 * GI)],
        vec![deployment("web", template(1000, GI), 3)],
        120,
    );
    c.changes = vec![ScheduledChange {
        at: s(10),
        repeat: None,
        action: ChangeAction::DrainNodes { pool: 0, count: 2 },
    }];
    let mut sim = Simulation::new(c).unwrap();
    sim.enable_invariant_checks();
    while !sim.run_batch(1 << 20).unwrap() {}
    assert_eq!(sim.evictions(), 2, "one pod on each drained node");
    let out = sim.run().unwrap();
    assert_eq!(row(&out, 20).nodes_draining, 2);
    assert_eq!(out.summary.nodes_deleted, 2);
    let last = out.timeline.last().unwrap();
    assert_eq!((last.nodes_total, last.pods_running), (1, 3));
}

//! Controller taints: an autoscaler taints a node it is about to remove, and
//! the scheduler keeps new pods off it unless they tolerate the taint.

use std::cell::RefCell;
use std::rc::Rc;

use ksim_core::config::{SchedulerMode, SimConfig, Toleration, TolerationOperator};
use ksim_core::control_plane::config::ControlPlaneConfig;
use ksim_core::controller::{Action, Controller, Subscriptions, Wake};
use ksim_core::ids::NodeId;
use ksim_core::metrics::{PodRecord, RunOutput};
use ksim_core::sim::Simulation;
use ksim_core::taints::{ControllerTaint, ControllerTaints};
use ksim_core::time::{SimDuration, SimTime};

mod common;
use common::*;

const TO_BE_DELETED: ControllerTaint = ControllerTaint::ToBeDeletedByClusterAutoscaler;

/// Fixed actions at fixed times (ms); records the taints of node 0 it sees
/// at each wake-up.
struct Steps {
    steps: Vec<(u64, Vec<Action>)>,
    seen: Rc<RefCell<Vec<ControllerTaints>>>,
}

impl Controller for Steps {
    fn name(&self) -> &str {
        "steps"
    }
    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }
    fn first_wake(&self) -> Option<SimTime> {
        self.steps.first().map(|(t, _)| ms(*t))
    }
    fn wake(&mut self, wake: Wake) -> Option<SimTime> {
        self.seen.borrow_mut().push(wake.view.node_taints(0));
        let (_, actions) = self.steps.remove(0);
        wake.actions.extend(actions);
        self.first_wake()
    }
}

fn ms(t: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(t)
}

/// The run, the taints of node 0 the controller saw at each step, and the
/// counts of actions (applied, refused).
fn run_steps(
    config: SimConfig,
    steps: Vec<(u64, Vec<Action>)>,
) -> (RunOutput, Vec<ControllerTaints>) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut sim = Simulation::new(config).expect("valid config");
    sim.enable_invariant_checks();
    let controller = Steps {
        steps,
        seen: Rc::clone(&seen),
    };
    sim.add_controller(Box::new(controller)).unwrap();
    let out = sim.run().unwrap_or_else(|e| panic!("{e}"));
    let seen = seen.borrow().clone();
    (out, seen)
}

fn taint(node: NodeId, taint: ControllerTaint) -> Action {
    Action::Taint { node, taint }
}

fn untaint(node: NodeId, taint: ControllerTaint) -> Action {
    Action::Untaint { node, taint }
}

fn tolerating(mut t: ksim_core::config::PodTemplate, key: &str) -> ksim_core::config::PodTemplate {
    t.tolerations = vec![Toleration {
        key: key.into(),
        operator: TolerationOperator::Exists,
        value: String::new(),
        effect: None,
    }];
    t
}

fn with_mode(mut c: SimConfig, mode: SchedulerMode) -> SimConfig {
    c.scheduler.mode = mode;
    c
}

fn of_workload(pods: &[PodRecord], workload: u32) -> Vec<&PodRecord> {
    pods.iter().filter(|p| p.workload == workload).collect()
}

/// One node, tainted at 10 s and untainted at 60 s; a pod arriving at 5 s
/// keeps running, a tolerating pod arriving at 30 s takes the node, a plain
/// one arriving then waits for the untaint, which wakes it.
fn tainted_then_untainted(mode: SchedulerMode) -> (RunOutput, Vec<ControllerTaints>) {
    let config = with_mode(
        config(
            vec![pool("p", 1, 4000, 8 * GI)],
            vec![
                job("early", template(1000, GI), &[5], 1000),
                job("plain", template(1000, GI), &[30], 1000),
                job(
                    "tolerant",
                    tolerating(template(1000, GI), TO_BE_DELETED.key()),
                    &[30],
                    1000,
                ),
            ],
            120,
        ),
        mode,
    );
    run_steps(
        config,
        vec![
            (10_000, vec![taint(0, TO_BE_DELETED)]),
            (60_000, vec![untaint(0, TO_BE_DELETED)]),
            (61_000, vec![]),
        ],
    )
}

#[test]
fn a_tainted_node_takes_only_tolerating_pods_until_untainted() {
    for mode in [SchedulerMode::Kube, SchedulerMode::Fast] {
        let (out, seen) = tainted_then_untainted(mode);
        let none = ControllerTaints::NONE;
        assert_eq!(seen, vec![none, none.with(TO_BE_DELETED), none], "{mode:?}");
        let pods = out.pods.as_ref().unwrap();
        let early = of_workload(pods, 0);
        assert!(
            early[0].finished.is_none(),
            "{mode:?}: a NoSchedule taint evicts nothing"
        );
        let tolerant = of_workload(pods, 2);
        assert_eq!(tolerant[0].node, Some(0), "{mode:?}");
        assert!(tolerant[0].bound.unwrap() < ms(31_000), "{mode:?}");
        let plain = of_workload(pods, 1);
        let bound = plain[0].bound.expect("bound once untainted");
        // Woken by the untaint (with a second of backoff), not by the
        // unschedulable pods' 5-minute flush.
        assert!(
            bound >= ms(60_000) && bound < ms(63_000),
            "{mode:?}: {bound}"
        );
        assert_eq!(out.summary.controller_actions_applied, 2, "{mode:?}");
    }
}

/// A pod left pending by a taint reports it as upstream's FitError does.
#[test]
fn a_pod_kept_off_a_tainted_node_says_why() {
    for mode in [SchedulerMode::Kube, SchedulerMode::Fast] {
        let config = with_mode(
            config(
                vec![pool("p", 2, 4000, 8 * GI)],
                vec![job("plain", template(1000, GI), &[30], 1000)],
                60,
            ),
            mode,
        );
        let karpenter = ControllerTaint::KarpenterDisrupted;
        let steps = vec![(10_000, vec![taint(0, TO_BE_DELETED), taint(1, karpenter)])];
        let (out, _) = run_steps(config, steps);
        let groups = &out.summary.unschedulable;
        assert_eq!(groups.len(), 1, "{mode:?}");
        assert_eq!(
            groups[0].reason, "0/2 nodes are available: 2 node(s) had untolerated taint(s).",
            "{mode:?}"
        );
        assert!(!groups[0].never_fits, "{mode:?}: an untaint may come");
    }
}

/// The Cluster Autoscaler's PreferNoSchedule taint steers kube mode's
/// scoring away from a node without keeping pods off it.
#[test]
fn a_deletion_candidate_is_avoided_while_another_node_fits() {
    let candidate = ControllerTaint::DeletionCandidateOfClusterAutoscaler;
    let config = config(
        vec![pool("p", 2, 4000, 8 * GI)],
        vec![job("pods", template(1000, GI), &[20, 21, 22, 23, 24], 1000)],
        60,
    );
    let (out, _) = run_steps(config, vec![(10_000, vec![taint(0, candidate)])]);
    let nodes: Vec<Option<NodeId>> = out.pods.as_ref().unwrap().iter().map(|p| p.node).collect();
    // Four fit on node 1; the fifth goes to the candidate rather than wait.
    assert_eq!(nodes, vec![Some(1), Some(1), Some(1), Some(1), Some(0)]);
}

#[test]
fn taint_actions_need_a_registered_node_in_the_right_state() {
    let mut c = config(vec![pool("p", 1, 4000, 8 * GI)], vec![], 30);
    c.node_pools[0].max = 2;
    let (out, seen) = run_steps(
        c,
        vec![
            (
                1_000,
                vec![
                    untaint(0, TO_BE_DELETED), // not carried: refused
                    taint(0, TO_BE_DELETED),   // applied
                    taint(0, TO_BE_DELETED),   // carried now: refused
                    taint(7, TO_BE_DELETED),   // no such node: refused
                    Action::AddNodes { pool: 0, count: 1 },
                    taint(1, TO_BE_DELETED), // provisioning (added above): refused
                ],
            ),
            (2_000, vec![Action::Delete { node: 0 }]),
            (3_000, vec![untaint(0, TO_BE_DELETED)]), // deleted: refused
            (4_000, vec![]),
        ],
    );
    assert_eq!(
        out.summary.controller_actions_applied, 3,
        "taint, add, delete"
    );
    assert_eq!(out.summary.controller_actions_refused, 5);
    let none = ControllerTaints::NONE;
    assert_eq!(seen, vec![none, none.with(TO_BE_DELETED), none, none]);
}

/// With a control plane a taint is a `patch nodes` write: the node carries
/// it once the write is stored, not when the controller asks.
#[test]
fn with_a_control_plane_the_taint_applies_when_its_write_is_stored() {
    let build = |control_plane: bool| {
        let mut c = config(vec![pool("p", 1, 4000, 8 * GI)], vec![], 30);
        if control_plane {
            c.control_plane = Some(ControlPlaneConfig::default());
        }
        c
    };
    let steps = || {
        vec![
            (10_000, vec![taint(0, TO_BE_DELETED)]),
            (10_001, vec![]),
            (20_000, vec![]),
        ]
    };
    let tainted = ControllerTaints::NONE.with(TO_BE_DELETED);
    let (_, at_once) = run_steps(build(false), steps());
    assert_eq!(at_once[1..], [tainted, tainted]);
    let (out, stored) = run_steps(build(true), steps());
    assert_eq!(stored[1..], [ControllerTaints::NONE, tainted]);
    assert_eq!(out.summary.controller_actions_applied, 1);
}

#[test]
fn runs_with_taints_are_deterministic() {
    let build = || {
        let mut c = config(
            vec![pool("p", 4, 4000, 8 * GI)],
            vec![
                deployment("d", template(500, GI), 12),
                job("j", template(250, GI), &[15, 16, 17, 18, 40, 41, 42], 10),
            ],
            90,
        );
        c.control_plane = Some(ControlPlaneConfig::default());
        c
    };
    let steps = || {
        let candidate = ControllerTaint::DeletionCandidateOfClusterAutoscaler;
        vec![
            (10_000, vec![taint(0, TO_BE_DELETED), taint(1, candidate)]),
            (30_000, vec![untaint(0, TO_BE_DELETED)]),
        ]
    };
    let (a, _) = run_steps(build(), steps());
    let (b, _) = run_steps(build(), steps());
    assert_eq!(a.pods, b.pods);
    assert_eq!(a.timeline, b.timeline);
    assert_eq!(a.control_plane, b.control_plane);
}

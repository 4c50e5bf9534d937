//! Controllers change the cluster during a run: nodes are added, cordoned
//! and deleted through the controller seam, and the model keeps its books.

use ksim_core::cluster::NodeState;
use ksim_core::controller::{Action, Controller, Subscriptions, Wake};
use ksim_core::distribution::Distribution;
use ksim_core::metrics::RunOutput;
use ksim_core::sim::{ControllerError, Simulation};
use ksim_core::time::SimTime;

mod common;
use common::*;

/// One step of a script: at a time (s), actions computed from the view.
type Step = (u64, fn(&Wake) -> Vec<Action>);

/// Acts once at each of its times.
struct Script {
    name: &'static str,
    steps: Vec<Step>,
    next: usize,
}

impl Controller for Script {
    fn name(&self) -> &str {
        self.name
    }
    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }
    fn first_wake(&self) -> Option<SimTime> {
        self.steps.first().map(|s| SimTime::ZERO + secs(s.0))
    }
    fn wake(&mut self, wake: Wake) -> Option<SimTime> {
        let actions = (self.steps[self.next].1)(&wake);
        wake.actions.extend(actions);
        self.next += 1;
        self.steps.get(self.next).map(|s| SimTime::ZERO + secs(s.0))
    }
}

fn run_with(config: ksim_core::config::SimConfig, controller: Script) -> RunOutput {
    let mut sim = Simulation::new(config).expect("valid config");
    sim.enable_invariant_checks();
    sim.add_controller(Box::new(controller)).unwrap();
    sim.run().unwrap_or_else(|error| panic!("{error}"))
}

fn elastic_pool(count: u32, max: u32, delay_s: u64) -> ksim_core::config::NodePoolSpec {
    let mut p = pool("elastic", count, 4000, 8 * GI);
    p.max = max;
    p.price_per_hour = 2.0;
    p.provisioning_delay = Distribution::constant(secs(delay_s).0 as f64).unwrap();
    p
}

#[test]
fn added_nodes_provision_then_take_the_pods_that_waited() {
    let config = config(
        vec![elastic_pool(0, 4, 60)],
        vec![deployment("web", template(3000, GI), 2)],
        300,
    );
    let out = run_with(
        config,
        Script {
            name: "adder",
            steps: vec![(10, |_| vec![Action::AddNodes { pool: 0, count: 2 }])],
            next: 0,
        },
    );
    let at = |s: u64| {
        out.timeline
            .iter()
            .find(|r| r.time == SimTime::ZERO + secs(s))
            .unwrap()
    };
    assert_eq!(at(10).nodes_total, 2);
    assert_eq!(at(60).nodes_provisioning, 2, "provisioning for 60 s");
    assert_eq!(at(60).pods_pending, 2, "nothing to run on yet");
    assert_eq!(at(80).nodes_ready, 2);
    assert_eq!(at(80).pods_running, 2);
    let pods = out.pods.as_ref().unwrap();
    assert!(pods
        .iter()
        .all(|p| p.bound.unwrap() >= SimTime::ZERO + secs(70)));
    assert_eq!(out.summary.nodes_added, 2);
    // Two nodes from 10 s to 300 s at 2 per hour.
    let pool = &out.summary.node_pools[0];
    let hours = 2.0 * 290.0 / 3600.0;
    assert!(
        (pool.node_hours - hours).abs() < 1e-9,
        "{}",
        pool.node_hours
    );
    assert!((pool.cost - 2.0 * hours).abs() < 1e-9);
}

#[test]
fn adding_past_the_pools_max_is_refused_whole() {
    let out = run_with(
        config(vec![elastic_pool(1, 2, 0)], vec![], 60),
        Script {
            name: "greedy",
            steps: vec![(5, |_| {
                vec![
                    Action::AddNodes { pool: 0, count: 2 },
                    Action::AddNodes { pool: 0, count: 1 },
                ]
            })],
            next: 0,
        },
    );
    assert_eq!(out.summary.controller_actions_refused, 1);
    assert_eq!(out.summary.controller_actions_applied, 1);
    assert_eq!(out.summary.node_pools[0].nodes_at_end, 2);
}

#[test]
fn a_cordoned_node_keeps_its_pods_and_takes_no_new_ones() {
    let config = config(
        vec![pool("p", 2, 4000, 8 * GI)],
        vec![
            deployment("first", template(1000, GI), 1),
            job("later", template(1000, GI), &[30], 100),
        ],
        60,
    );
    let out = run_with(
        config,
        Script {
            name: "cordon",
            steps: vec![(20, |w| {
                // The node running `first` (LeastAllocated put it on one of two).
                let busy = (0..2).find(|&n| w.view.node_requested(n).0[0] > 0).unwrap();
                vec![Action::Cordon { node: busy }]
            })],
            next: 0,
        },
    );
    let pods = out.pods.as_ref().unwrap();
    assert_ne!(
        pods[0].node, pods[1].node,
        "the new pod avoids the cordoned node"
    );
    assert!(pods[0].finished.is_none(), "its pods keep running");
    assert_eq!(out.timeline.last().unwrap().nodes_cordoned, 1);
}

#[test]
fn a_deleted_nodes_pods_are_replaced_elsewhere_and_its_id_is_not_reused() {
    let config = config(
        vec![elastic_pool(1, 3, 5)],
        vec![deployment("web", template(1000, GI), 2)],
        120,
    );
    let out = run_with(
        config,
        Script {
            name: "replace",
            steps: vec![
                (10, |_| vec![Action::AddNodes { pool: 0, count: 1 }]),
                (30, |w| {
                    assert_eq!(w.view.node_state(1), NodeState::Ready);
                    vec![Action::Delete { node: 0 }]
                }),
            ],
            next: 0,
        },
    );
    let pods = out.pods.as_ref().unwrap();
    assert_eq!(pods.len(), 4, "two lost with node 0, two replacements");
    assert!(pods[2..].iter().all(|p| p.node == Some(1)));
    let last = out.timeline.last().unwrap();
    assert_eq!((last.nodes_total, last.pods_running), (1, 2));
    assert_eq!(out.summary.nodes_deleted, 1);
    assert_eq!(last.cpu_allocatable_millis, 4000, "only node 1 counts");
}

#[test]
fn controller_names_are_unique() {
    let mut sim = Simulation::new(config(vec![pool("p", 1, 1000, GI)], vec![], 10)).unwrap();
    let script = || {
        Box::new(Script {
            name: "twin",
            steps: vec![],
            next: 0,
        })
    };
    sim.add_controller(script()).unwrap();
    assert_eq!(
        sim.add_controller(script()),
        Err(ControllerError::DuplicateName("twin".into()))
    );
}

/// With a control plane a scale is an `update deployments/scale` write: the
/// ReplicaSet creates the new pods once it is stored, not at the decision.
#[test]
fn a_scale_takes_effect_when_its_write_is_stored() {
    let mut c = config(
        vec![pool("p", 4, 8000, 32 * GI)],
        vec![deployment("web", template(100, GI / 4), 1)],
        60,
    );
    c.control_plane = Some(ksim_core::control_plane::config::ControlPlaneConfig::default());
    let out = run_with(
        c,
        Script {
            name: "scaler",
            steps: vec![(10, |_| {
                vec![Action::SetReplicas {
                    workload: 0,
                    replicas: 3,
                }]
            })],
            next: 0,
        },
    );
    let pods = out.pods.as_ref().unwrap();
    assert_eq!(pods.len(), 3);
    let decided = SimTime::ZERO + secs(10);
    assert!(
        pods[1..].iter().all(|p| p.created > decided),
        "created at {:?}, after the write's acknowledgement",
        pods[1..].iter().map(|p| p.created).collect::<Vec<_>>()
    );
    let requests = &out.control_plane.as_ref().unwrap().apiserver.requests;
    let scale = requests
        .iter()
        .find(|(label, _)| label == "update deployments/scale")
        .map(|(_, n)| *n);
    assert_eq!(scale, Some(1));
}

/// Found by the living-cluster fuzzer: a controller reading a pool that never
/// had a node hit an unsized member list.
#[test]
fn a_pool_that_never_had_a_node_has_an_empty_member_list() {
    let out = run_with(
        config(vec![elastic_pool(0, 2, 5)], vec![], 30),
        Script {
            name: "reader",
            steps: vec![(1, |w| {
                assert!(w.view.pool_members(0).is_empty());
                vec![]
            })],
            next: 0,
        },
    );
    assert_eq!(out.summary.node_pools[0].nodes_at_end, 0);
}

fn with_control_plane(mut c: ksim_core::config::SimConfig) -> ksim_core::config::SimConfig {
    c.control_plane = Some(ksim_core::control_plane::config::ControlPlaneConfig::default());
    c
}

/// Found by the living-cluster fuzzer: two deletions of one node in flight
/// at once each took a node and a lease out of the store's live counts
/// ("a deleted node was created first"). The second finds nothing.
#[test]
fn deleting_a_node_twice_at_once_removes_its_object_once() {
    let out = run_with(
        with_control_plane(config(vec![pool("p", 1, 4000, 8 * GI)], vec![], 60)),
        Script {
            name: "twice",
            steps: vec![(5, |_| {
                vec![Action::Delete { node: 0 }, Action::Delete { node: 0 }]
            })],
            next: 0,
        },
    );
    assert_eq!(out.summary.nodes_deleted, 1);
    assert_eq!(
        out.summary.controller_actions_refused, 1,
        "the second finds it gone"
    );
    assert_eq!(out.timeline.last().unwrap().nodes_total, 0);
}

/// Found by the living-cluster fuzzer: a node deleted while Provisioning has
/// no object yet, so no `delete nodes` write may take one from the store.
#[test]
fn deleting_a_provisioning_node_removes_no_node_object() {
    let out = run_with(
        with_control_plane(config(vec![elastic_pool(0, 3, 30)], vec![], 120)),
        Script {
            name: "hasty",
            steps: vec![
                (5, |_| vec![Action::AddNodes { pool: 0, count: 1 }]),
                (10, |w| {
                    assert_eq!(w.view.node_state(0), NodeState::Provisioning);
                    vec![Action::Delete { node: 0 }]
                }),
            ],
            next: 0,
        },
    );
    let last = out.timeline.last().unwrap();
    assert_eq!((last.nodes_total, last.nodes_provisioning), (0, 0));
    assert_eq!(out.summary.nodes_deleted, 1);
}

/// What a watcher saw: at each wake-up (s), the unschedulable pods.
type Seen = std::rc::Rc<std::cell::RefCell<Vec<(u64, Vec<u32>)>>>;

/// Records the unschedulable pods it sees at each wake-up.
struct Watcher {
    seen: Seen,
    times_s: Vec<u64>,
}

impl Controller for Watcher {
    fn name(&self) -> &str {
        "watcher"
    }
    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }
    fn first_wake(&self) -> Option<SimTime> {
        self.times_s.first().map(|&s| SimTime::ZERO + secs(s))
    }
    fn wake(&mut self, wake: Wake) -> Option<SimTime> {
        let pods: Vec<u32> = wake.view.unschedulable_pods().collect();
        assert_eq!(pods.len() as u64, wake.view.pods_unschedulable());
        let now_s = (wake.now - SimTime::ZERO).as_secs_f64() as u64;
        self.seen.borrow_mut().push((now_s, pods));
        if now_s == 30 {
            wake.actions.push(Action::AddNodes { pool: 0, count: 2 });
        }
        self.times_s
            .iter()
            .find(|&&s| s > now_s)
            .map(|&s| SimTime::ZERO + secs(s))
    }
}

/// A node autoscaler reads the pods that failed to schedule as a list kept
/// with the scheduler's verdicts: listed while pending after a failure,
/// gone once bound.
#[test]
fn controllers_read_the_unschedulable_pods_as_a_list() {
    let seen: Seen = Default::default();
    let config = config(
        vec![elastic_pool(1, 3, 10)],
        vec![deployment("web", template(3000, GI), 3)],
        120,
    );
    let mut sim = Simulation::new(config).unwrap();
    sim.enable_invariant_checks();
    sim.add_controller(Box::new(Watcher {
        seen: seen.clone(),
        times_s: vec![20, 30, 60],
    }))
    .unwrap();
    sim.run().unwrap();
    let seen = seen.borrow();
    // One 4-cpu node takes one 3-cpu pod; the other two failed.
    assert_eq!(seen[0], (20, vec![1, 2]));
    assert_eq!(seen[1], (30, vec![1, 2]));
    // Two nodes added at 30 s, ready at 40 s: the list empties.
    assert_eq!(seen[2], (60, vec![]));
}

/// What a template checker saw: per pool, the verdict for a pod of each size.
type Verdicts = std::rc::Rc<std::cell::RefCell<Vec<Result<(), ksim_core::cluster::FilterReason>>>>;

/// Asks, once, whether each pool's template node would take a web pod of
/// 1 cpu and one of 64 cpus.
struct TemplateChecker {
    verdicts: Verdicts,
}

impl Controller for TemplateChecker {
    fn name(&self) -> &str {
        "template-checker"
    }
    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }
    fn first_wake(&self) -> Option<SimTime> {
        Some(SimTime::ZERO + secs(1))
    }
    fn wake(&mut self, wake: Wake) -> Option<SimTime> {
        use ksim_core::resources::{ResourceVec, CPU, MEMORY, PODS};
        for cpu_millis in [1000, 64_000] {
            let mut requests = ResourceVec::ZERO;
            requests.0[CPU] = cpu_millis;
            requests.0[MEMORY] = GI;
            requests.0[PODS] = 1;
            for pool in 0..wake.view.pools().len() as u32 {
                let verdict = wake.view.template_fits(0, &requests, pool);
                self.verdicts.borrow_mut().push(verdict);
            }
        }
        None
    }
}

/// A node autoscaler asks whether a group's template node would take a
/// pod: the scheduler's pool verdicts (an untolerated taint, a selector
/// that does not match), then the allocatable, even for pools with no node.
#[test]
fn a_pools_template_node_is_judged_by_the_schedulers_filters() {
    use ksim_core::cluster::FilterReason;
    use ksim_core::config::{Label, Taint, TaintEffect};
    use ksim_core::resources::CPU;
    let mut tainted = pool("gpu", 0, 16_000, 64 * GI);
    tainted.taints = vec![Taint {
        key: "nvidia.com/gpu".into(),
        value: "present".into(),
        effect: TaintEffect::NoSchedule,
    }];
    let mut other_zone = pool("b", 0, 16_000, 64 * GI);
    other_zone.labels = vec![Label {
        key: "topology.kubernetes.io/zone".into(),
        value: "b".into(),
    }];
    let mut fitting = pool("a", 1, 16_000, 64 * GI);
    fitting.labels = vec![Label {
        key: "topology.kubernetes.io/zone".into(),
        value: "a".into(),
    }];
    let mut web = deployment("web", template(1000, GI), 1);
    web.template.node_selector = vec![Label {
        key: "topology.kubernetes.io/zone".into(),
        value: "a".into(),
    }];
    let verdicts: Verdicts = Default::default();
    let mut sim =
        Simulation::new(config(vec![tainted, other_zone, fitting], vec![web], 10)).unwrap();
    sim.enable_invariant_checks();
    sim.add_controller(Box::new(TemplateChecker {
        verdicts: verdicts.clone(),
    }))
    .unwrap();
    sim.run().unwrap();
    assert_eq!(
        *verdicts.borrow(),
        vec![
            Err(FilterReason::UntoleratedTaint(0)),
            Err(FilterReason::NodeAffinity),
            Ok(()),
            Err(FilterReason::UntoleratedTaint(0)),
            Err(FilterReason::NodeAffinity),
            Err(FilterReason::Insufficient(CPU as u8)),
        ]
    );
}

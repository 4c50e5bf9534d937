use super::*;
use crate::config::{DeploymentSpec, NodePoolSpec};
use crate::distribution::Distribution;
use crate::scheduler::testutil::{pool, template};
use rand::seq::SliceRandom;

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn at(s: u64) -> SimTime {
    SimTime::ZERO + secs(s)
}

// ---- The ordering, ported from upstream's controller_utils_test.go ----

const HOUR_S: u64 = 3600;
const MONTH_S: u64 = 30 * 24 * HOUR_S;

/// Upstream's reference `now`; a month of history fits before it.
fn now() -> SimTime {
    at(100 * 24 * HOUR_S)
}

fn before(t: SimTime, ns: u64) -> SimTime {
    SimTime(t.0 - ns)
}

fn ago(s: u64) -> SimTime {
    before(now(), secs(s).0)
}

/// A pod as upstream's tests build one: bound or not, phase, Ready since
/// (None: not Ready), created; rank 1 and UID 0 unless changed.
fn pod(
    assigned: bool,
    phase: PodPhase,
    ready_since: Option<SimTime>,
    created: SimTime,
) -> Candidate {
    Candidate {
        pod: 0,
        assigned,
        phase,
        ready_since: ready_since.unwrap_or(NEVER),
        rank: 1,
        created,
        uid: 0,
    }
}

fn ranked(c: Candidate, rank: u32) -> Candidate {
    Candidate { rank, ..c }
}

struct Upstream {
    unscheduled: Candidate,
    scheduled_pending: Candidate,
    running_not_ready: Candidate,
    ready_now: Candidate,
    ready_then: Candidate,
    ready_now_created_then: Candidate,
    unscheduled_5_hours: Candidate,
    unscheduled_8_hours: Candidate,
    ready_2_hours: Candidate,
    ready_5_hours: Candidate,
    ready_8_hours: Candidate,
}

/// The pods of upstream's TestSortingActivePodsWithRanks that our model can
/// hold. Upstream's zero creation times (unset) become `now`: those pods
/// are only compared with themselves or decided before creation counts.
fn upstream_pods() -> Upstream {
    use PodPhase::{Pending, Running};
    let n = now();
    Upstream {
        unscheduled: pod(false, Pending, None, n),
        scheduled_pending: pod(true, Pending, None, n),
        running_not_ready: pod(true, Running, None, n),
        ready_now: pod(true, Running, Some(n), n),
        ready_then: pod(true, Running, Some(ago(MONTH_S)), ago(MONTH_S)),
        ready_now_created_then: pod(true, Running, Some(n), ago(MONTH_S)),
        unscheduled_5_hours: pod(false, Pending, None, ago(5 * HOUR_S)),
        unscheduled_8_hours: pod(false, Pending, None, ago(8 * HOUR_S)),
        // Upstream gives these no node, yet Running.
        ready_2_hours: pod(false, Running, Some(ago(2 * HOUR_S)), ago(MONTH_S)),
        ready_5_hours: pod(false, Running, Some(ago(5 * HOUR_S)), ago(MONTH_S)),
        ready_8_hours: pod(false, Running, Some(ago(8 * HOUR_S)), ago(MONTH_S)),
    }
}

// Upstream TestSortingActivePodsWithRanks, "Equality tests" (those without
// an Unknown phase or restarts): a pod is equivalent to itself, and pods
// whose times fall in one logarithmic class are equivalent (same UID).
#[test]
fn equivalent_pods_compare_equal_as_upstream() {
    let u = upstream_pods();
    let pairs = [
        (u.unscheduled, u.unscheduled),
        (u.scheduled_pending, u.scheduled_pending),
        (u.running_not_ready, u.running_not_ready),
        (u.ready_now_created_then, u.ready_now_created_then),
        (u.ready_now, u.ready_now),
        (u.ready_then, u.ready_then),
        (u.unscheduled_5_hours, u.unscheduled_8_hours),
        (u.ready_5_hours, u.ready_8_hours),
    ];
    for (i, (a, b)) in pairs.iter().enumerate() {
        assert_eq!(deletion_order(a, b, now()), Ordering::Equal, "pair {i}");
        assert_eq!(deletion_order(b, a, now()), Ordering::Equal, "pair {i}");
    }
}

// Upstream TestSortingActivePodsWithRanks, "Inequality tests": the first
// of each pair is deleted first, whichever way it is compared. Upstream's
// cases through the Unknown phase (Pending < Unknown < Running) become
// Pending < Running; "ready without a transition time" becomes ready now;
// the restart and deletion-cost cases have no counterpart here.
#[test]
fn deletion_preferences_follow_upstream() {
    let u = upstream_pods();
    let cases = [
        (ranked(u.unscheduled, 1), ranked(u.scheduled_pending, 2)),
        (ranked(u.unscheduled, 2), ranked(u.scheduled_pending, 1)),
        (
            ranked(u.scheduled_pending, 1),
            ranked(u.running_not_ready, 2),
        ),
        (ranked(u.running_not_ready, 1), ranked(u.ready_now, 1)),
        (ranked(u.ready_now, 1), ranked(u.ready_then, 1)),
        (ranked(u.ready_now, 2), ranked(u.ready_then, 1)),
        (ranked(u.ready_then, 2), ranked(u.ready_now, 1)),
        (ranked(u.ready_now, 1), ranked(u.ready_now_created_then, 1)),
        (ranked(u.ready_now_created_then, 2), ranked(u.ready_now, 1)),
        (ranked(u.ready_2_hours, 1), ranked(u.ready_5_hours, 1)),
    ];
    for (i, (first, second)) in cases.iter().enumerate() {
        assert_eq!(
            deletion_order(first, second, now()),
            Ordering::Less,
            "case {i}"
        );
        assert_eq!(
            deletion_order(second, first, now()),
            Ordering::Greater,
            "case {i}"
        );
    }
}

// Upstream TestSortingActivePods, "Sorts by active pod", without its
// Unknown-phase, unset-ready-time and restart-count pods: any input order
// sorts to the same list, whatever the UIDs.
#[test]
fn any_order_sorts_to_upstreams_order() {
    use PodPhase::{Pending, Running};
    let then = ago(MONTH_S);
    let want = [
        pod(false, Pending, None, now()),      // unscheduled
        pod(true, Pending, None, now()),       // scheduledButPending
        pod(true, Running, None, now()),       // runningButNotReady
        pod(true, Running, Some(now()), then), // runningWithLastTransitionTime
        pod(true, Running, Some(then), now()), // readyLongerCreatedNow
        pod(true, Running, Some(then), then),  // oldest
    ];
    let want: Vec<Candidate> = want
        .iter()
        .enumerate()
        .map(|(i, c)| Candidate {
            pod: i as PodId,
            uid: pod_uid(7, i as PodId),
            ..*c
        })
        .collect();
    let mut rng = RngStreams::new(1).stream("test/shuffle");
    for _ in 0..20 {
        let mut got = want.clone();
        got.shuffle(&mut rng);
        got.sort_by(|a, b| deletion_order(a, b, now()));
        let order: Vec<PodId> = got.iter().map(|c| c.pod).collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
    }
}

#[test]
fn age_classes_are_floor_log2_of_the_age() {
    let t = at(1000);
    assert_eq!(log2_age_class(t, t), -1, "no age");
    assert_eq!(log2_age_class(t, t + secs(1)), -1, "in the future");
    assert_eq!(log2_age_class(t, before(t, 1)), 0);
    assert_eq!(log2_age_class(t, before(t, 1023)), 9);
    assert_eq!(log2_age_class(t, before(t, 1024)), 10);
    assert_eq!(log2_age_class(SimTime(u64::MAX), SimTime::ZERO), 63);
}

#[test]
fn ties_fall_to_the_uid_which_changes_with_the_key() {
    let a = pod(true, PodPhase::Running, Some(now()), now());
    let ordered = |key: u64| {
        let (x, y) = (
            Candidate {
                pod: 1,
                uid: pod_uid(key, 1),
                ..a
            },
            Candidate {
                pod: 2,
                uid: pod_uid(key, 2),
                ..a
            },
        );
        deletion_order(&x, &y, now())
    };
    let orders: Vec<Ordering> = (0..16).map(ordered).collect();
    assert!(orders.iter().all(|&o| o != Ordering::Equal));
    assert!(orders.contains(&Ordering::Less) && orders.contains(&Ordering::Greater));
}

// ---- Replicas in a running simulation ----

/// A deployment of `replicas` pods of 250 millicores each.
fn web(replicas: u32) -> WorkloadSpec {
    let mut pod = template(&[("app", "web")]);
    pod.requests[CPU] = Request::Fixed(250);
    WorkloadSpec {
        name: "web".into(),
        kind: WorkloadKind::Deployment(DeploymentSpec {
            replicas,
            start: SimTime::ZERO,
            pod_lifetime: None,
            service: false,
            disruption_budget: None,
        }),
        template: pod,
        readiness_delay: None,
        model: Default::default(),
    }
}

fn simulation(pools: Vec<NodePoolSpec>, workloads: Vec<WorkloadSpec>) -> Simulation {
    let config = SimConfig::for_tests(pools, workloads, 3600);
    let mut sim = Simulation::new(config).unwrap();
    sim.enable_invariant_checks();
    sim
}

/// One node holding four of the pods, one holding one.
fn big_and_small() -> Vec<NodePoolSpec> {
    vec![
        pool("big", 1, 1000, 1 << 30, 110),
        pool("small", 1, 250, 1 << 30, 110),
    ]
}

/// Handles every event up to `t`, then checks every invariant.
fn run_to(sim: &mut Simulation, t: SimTime) {
    while sim.events.peek_time().is_some_and(|next| next <= t) {
        sim.run_batch(1).unwrap();
    }
    sim.check_invariants(t).unwrap();
}

/// A controller sets the replicas at `t`; the scheduler then goes on, as
/// after any event.
fn scale(sim: &mut Simulation, t: SimTime, replicas: u32) {
    run_to(sim, t);
    // As the event loop does before an event at t.
    sim.take_samples_before(t).unwrap();
    sim.set_desired_replicas(t, 0, replicas);
    sim.maybe_start_cycle(t);
    assert!(sim.fault.is_none(), "{:?}", sim.fault);
}

fn pods_where(sim: &Simulation, keep: impl Fn(usize) -> bool) -> Vec<PodId> {
    (0..sim.pods.len())
        .filter(|&p| keep(p))
        .map(|p| p as PodId)
        .collect()
}

fn counts(live: u32, pending: u32, running: u32, ready: u32, terminating: u32) -> [u32; 5] {
    [live, pending, running, ready, terminating]
}

fn counted(sim: &Simulation) -> [u32; 5] {
    let c = sim.workload_counts(0);
    [c.live, c.pending, c.running, c.ready, c.terminating]
}

#[test]
fn scaling_up_creates_the_missing_pods() {
    let mut sim = simulation(big_and_small(), vec![web(2)]);
    run_to(&mut sim, at(10));
    assert_eq!(counted(&sim), counts(2, 0, 2, 2, 0));
    scale(&mut sim, at(10), 5);
    assert_eq!(sim.workload_counts(0).desired, 5);
    assert_eq!(counted(&sim), counts(5, 3, 2, 2, 0));
    run_to(&mut sim, at(20));
    assert_eq!(counted(&sim), counts(5, 0, 5, 5, 0));
    assert_eq!(sim.pods.len(), 5);
}

#[test]
fn scaling_down_deletes_unassigned_pods_then_the_most_crowded_node() {
    // Seven pods: four on big, one on small, two that fit nowhere.
    let mut sim = simulation(big_and_small(), vec![web(7)]);
    run_to(&mut sim, at(10));
    assert_eq!(counted(&sim), counts(7, 2, 5, 5, 0));
    let pending = pods_where(&sim, |p| sim.pods.phase[p] == PodPhase::Pending);
    let on_small = pods_where(&sim, |p| sim.pods.node[p] == 1);
    scale(&mut sim, at(10), 4);
    for &pod in &pending {
        let p = pod as usize;
        assert_eq!(
            sim.pods.finished[p],
            at(10),
            "pending pod {pod} ends at once"
        );
        assert_eq!(sim.pods.phase[p], PodPhase::Succeeded);
        assert_eq!(sim.queue_state(pod), QueueState::Absent);
    }
    // The third goes from big, where four pods rank above small's one.
    let terminating = pods_where(&sim, |p| {
        sim.is_terminating(p as PodId) && sim.pods.finished[p] == NEVER
    });
    assert_eq!(terminating.len(), 1);
    assert_eq!(sim.pods.node[terminating[0] as usize], 0);
    assert_eq!(counted(&sim), counts(5, 0, 5, 4, 1));
    assert_eq!(sim.workload_counts(0).active(), 4);
    assert_eq!(sim.pods_deleted(), 3);
    run_to(&mut sim, at(60));
    assert_eq!(counted(&sim), counts(4, 0, 4, 4, 0));
    assert_eq!(sim.pods.len(), 7, "a scale-down is not replaced");
    assert!(on_small
        .iter()
        .all(|&p| sim.pods.finished[p as usize] == NEVER));
}

#[test]
fn a_terminating_pod_holds_its_node_for_the_grace_period() {
    // One node with room for two pods.
    let mut sim = simulation(vec![pool("p", 1, 500, 1 << 30, 110)], vec![web(2)]);
    run_to(&mut sim, at(10));
    scale(&mut sim, at(10), 1);
    let deleted = pods_where(&sim, |p| sim.is_terminating(p as PodId));
    assert_eq!(deleted.len(), 1);
    // Back to two at once: the new pod waits for the room the deleted one holds.
    scale(&mut sim, at(10), 2);
    let new = 2;
    assert_eq!(sim.pods.len(), 3);
    run_to(&mut sim, at(39));
    assert_eq!(sim.cluster.nodes.requested[0].0[CPU], 500);
    assert_eq!(sim.pods.phase[new], PodPhase::Pending);
    assert_eq!(counted(&sim), counts(3, 1, 2, 1, 1));
    run_to(&mut sim, at(41));
    let d = deleted[0] as usize;
    assert_eq!(sim.pods.finished[d], at(40), "30 s after its deletion");
    assert_eq!(sim.pods.phase[d], PodPhase::Succeeded);
    assert_eq!(sim.pods.phase[new], PodPhase::Running);
    assert_eq!(counted(&sim), counts(2, 0, 2, 2, 0));
}

#[test]
fn a_pod_deleted_from_elsewhere_is_replaced_at_once() {
    let mut sim = simulation(big_and_small(), vec![web(3)]);
    run_to(&mut sim, at(10));
    sim.delete_pod(at(10), 0);
    assert!(sim.is_terminating(0));
    assert_eq!(sim.pods.len(), 4, "the ReplicaSet counts it no more");
    assert_eq!(counted(&sim), counts(4, 1, 3, 2, 1));
    sim.delete_pod(at(10), 0);
    assert_eq!(sim.pods_deleted(), 1, "deleting it again does nothing");
    run_to(&mut sim, at(60));
    assert_eq!(counted(&sim), counts(3, 0, 3, 3, 0));
}

#[test]
fn a_queued_pod_deleted_leaves_the_queue_and_ends_at_once() {
    // Three pods fit; the fourth is unschedulable, waiting in the queue.
    let mut sim = simulation(vec![pool("p", 1, 750, 1 << 30, 110)], vec![web(4)]);
    run_to(&mut sim, at(10));
    let waiting = pods_where(&sim, |p| sim.pods.phase[p] == PodPhase::Pending);
    assert_eq!(waiting.len(), 1);
    let pod = waiting[0];
    assert_eq!(sim.queue_state(pod), QueueState::Unschedulable);
    sim.delete_pod(at(10), pod);
    assert_eq!(sim.queue_state(pod), QueueState::Absent);
    assert_eq!(sim.pods.finished[pod as usize], at(10));
    assert_eq!(sim.pods.phase[pod as usize], PodPhase::Succeeded);
    run_to(&mut sim, at(400));
    assert_eq!(counted(&sim), counts(4, 1, 3, 3, 0));
    assert_eq!(
        sim.counters.unschedulable.len(),
        1,
        "its replacement waits in turn"
    );
}

#[test]
fn a_pod_deleted_during_its_scheduling_cycle_is_dropped() {
    let mut sim = simulation(big_and_small(), vec![web(1)]);
    run_to(&mut sim, at(10));
    scale(&mut sim, at(10), 2);
    let cycle = sim.cycle.as_ref().expect("a cycle under way");
    let (pod, node) = (cycle.pod, cycle.node.expect("a node for it"));
    assert_eq!(sim.queue_state(pod), QueueState::InFlight);
    let before = sim.cluster.nodes.requested[node as usize];
    sim.delete_pod(at(10), pod);
    assert_eq!(sim.pods.finished[pod as usize], at(10));
    assert_ne!(
        sim.cluster.nodes.requested[node as usize], before,
        "assumed room freed"
    );
    assert_eq!(sim.pods.node[pod as usize], node, "kept for the record");
    run_to(&mut sim, at(20));
    assert_eq!(counted(&sim), counts(2, 0, 2, 2, 0));
    assert_eq!(sim.pods.bound[pod as usize], NEVER);
}

#[test]
fn a_job_has_no_desired_replicas() {
    let mut job = web(0);
    job.kind = WorkloadKind::Job(crate::config::JobSpec {
        arrival: crate::config::ArrivalProcess::Schedule { times: vec![] },
        start: SimTime::ZERO,
        stop: None,
        max_pods: None,
        duration: Distribution::constant(1e9).unwrap(),
        failure_probability: 0.0,
    });
    let mut sim = simulation(big_and_small(), vec![job]);
    sim.set_desired_replicas(SimTime::ZERO, 0, 3);
    let Some(SimError::Invariant(v)) = sim.fault.take() else {
        panic!("expected a violation");
    };
    assert_eq!(v.subject, "workload web");
    assert_eq!(sim.pods.len(), 0);
}

#[test]
fn replicas_set_before_the_deployment_starts_are_created_at_its_start() {
    let mut late = web(2);
    if let WorkloadKind::Deployment(d) = &mut late.kind {
        d.start = at(30);
    }
    let mut sim = simulation(big_and_small(), vec![late]);
    scale(&mut sim, at(10), 4);
    assert_eq!(sim.pods.len(), 0);
    run_to(&mut sim, at(40));
    assert_eq!(counted(&sim), counts(4, 0, 4, 4, 0));
}

#[test]
fn a_pod_becomes_ready_after_its_readiness_delay() {
    let mut slow = web(2);
    slow.readiness_delay = Some(Distribution::constant(secs(5).0 as f64).unwrap());
    let mut sim = simulation(big_and_small(), vec![slow]);
    run_to(&mut sim, at(4));
    assert_eq!(counted(&sim), counts(2, 0, 2, 0, 0));
    assert!(sim.pods.ready_since.iter().all(|&t| t == NEVER));
    run_to(&mut sim, at(6));
    assert_eq!(counted(&sim), counts(2, 0, 2, 2, 0));
    for p in 0..2 {
        assert_eq!(sim.pods.ready_since[p], sim.pods.started[p] + secs(5));
    }
}

#[test]
fn a_pod_deleted_before_its_readiness_delay_never_becomes_ready() {
    let mut slow = web(2);
    slow.readiness_delay = Some(Distribution::constant(secs(5).0 as f64).unwrap());
    let mut sim = simulation(big_and_small(), vec![slow]);
    run_to(&mut sim, at(2));
    scale(&mut sim, at(2), 1);
    let deleted = pods_where(&sim, |p| sim.is_terminating(p as PodId))[0] as usize;
    run_to(&mut sim, at(10));
    assert_eq!(sim.pods.ready_since[deleted], NEVER);
    assert_eq!(counted(&sim), counts(2, 0, 2, 1, 1));
}

#[test]
fn a_ready_pod_deleted_stops_being_ready_at_once() {
    let mut sim = simulation(big_and_small(), vec![web(2)]);
    run_to(&mut sim, at(10));
    sim.delete_pod(at(10), 1);
    assert_eq!(sim.pods.ready_since[1], NEVER);
    assert_eq!(sim.workload_counts(0).ready, 1);
}

#[test]
fn a_graceful_deletion_with_a_control_plane_ends_through_the_status_write() {
    let mut config = SimConfig::for_tests(big_and_small(), vec![web(3)], 3600);
    config.control_plane = Some(crate::control_plane::config::ControlPlaneConfig::default());
    let mut sim = Simulation::new(config).unwrap();
    sim.enable_invariant_checks();
    run_to(&mut sim, at(10));
    assert_eq!(counted(&sim), counts(3, 0, 3, 3, 0));
    scale(&mut sim, at(10), 1);
    assert_eq!(counted(&sim), counts(3, 0, 3, 1, 2));
    run_to(&mut sim, at(40));
    assert_eq!(
        counted(&sim),
        counts(3, 0, 3, 1, 2),
        "the status write is in flight"
    );
    run_to(&mut sim, at(41));
    assert_eq!(counted(&sim), counts(1, 0, 1, 1, 0));
    let ended = pods_where(&sim, |p| sim.pods.phase[p] == PodPhase::Succeeded);
    assert_eq!(ended.len(), 2);
    assert!(ended
        .iter()
        .all(|&p| sim.pods.finished[p as usize] > at(40)));
}

#[test]
fn a_pod_deleted_on_a_failed_node_ends_when_the_node_recovers() {
    let mut config = SimConfig::for_tests(big_and_small(), vec![web(5)], 3600);
    config.node_failures.push(crate::config::NodeFailureSpec {
        at: at(5),
        pool: 1,
        count: 1,
        recover_after: Some(secs(40)),
    });
    let mut sim = Simulation::new(config).unwrap();
    sim.enable_invariant_checks();
    run_to(&mut sim, at(10));
    let on_small = pods_where(&sim, |p| sim.pods.node[p] == 1)[0];
    sim.delete_pod(at(10), on_small);
    run_to(&mut sim, at(44));
    assert_eq!(
        sim.pods.finished[on_small as usize], NEVER,
        "its kubelet is down"
    );
    run_to(&mut sim, at(46));
    // Its containers died with the node.
    assert_eq!(sim.pods.phase[on_small as usize], PodPhase::Failed);
    assert_eq!(sim.pods.finished[on_small as usize], at(45));
    assert_eq!(sim.workload_counts(0).terminating, 0);
}

/// Scale-ups and -downs through node failures, twice: the same pods end
/// the same way.
#[test]
fn scaling_is_deterministic() {
    let run = || {
        let mut config =
            SimConfig::for_tests(vec![pool("a", 4, 1000, 1 << 30, 110)], vec![web(6)], 3600);
        config
            .node_failure_rates
            .push(crate::config::NodeFailureRate {
                pool: 0,
                mean_interval: secs(60),
                recover_after: Some(secs(100)),
            });
        config.workloads[0].readiness_delay = Some(Distribution::exponential(3e9).unwrap());
        let mut sim = Simulation::new(config).unwrap();
        sim.enable_invariant_checks();
        for (t, replicas) in [(20, 14), (90, 3), (200, 9), (260, 0), (300, 5)] {
            scale(&mut sim, at(t), replicas);
        }
        run_to(&mut sim, at(600));
        let p = &sim.pods;
        let pods = (
            p.phase.clone(),
            p.node.clone(),
            p.finished.clone(),
            p.ready_since.clone(),
        );
        (pods, p.deleting.clone(), sim.nodes.failures)
    };
    let first = run();
    assert!(
        first.1.iter().filter(|&&deleting| deleting).count() > 10,
        "pods were deleted"
    );
    assert!(first.2 > 0, "nodes failed");
    assert_eq!(first, run());
}

/// Found by the living-cluster fuzzer: a scale-down right after a scale-up
/// deleted pods whose create writes were still in flight, and their removal
/// took pods the store never held ("deleted pods were created first"). As
/// upstream's expectations make it, the ReplicaSet waits until it has
/// observed the pods it created, then deletes in its usual order.
#[test]
fn a_scale_down_spares_pods_whose_create_is_not_stored() {
    let mut config = SimConfig::for_tests(big_and_small(), vec![web(1)], 3600);
    config.control_plane = Some(crate::control_plane::config::ControlPlaneConfig::default());
    let mut sim = Simulation::new(config).unwrap();
    sim.enable_invariant_checks();
    run_to(&mut sim, at(10));
    scale(&mut sim, at(10), 4);
    scale(&mut sim, at(10), 1);
    assert_eq!(
        counted(&sim),
        counts(4, 3, 1, 1, 0),
        "nothing is deleted before the creates are observed"
    );
    run_to(&mut sim, at(60));
    assert_eq!(counted(&sim), counts(1, 0, 1, 1, 0));
    let running = pods_where(&sim, |p| sim.pods.phase[p] == PodPhase::Running);
    assert_eq!(
        running,
        vec![0],
        "the pending pods went first, as upstream ranks them"
    );
}

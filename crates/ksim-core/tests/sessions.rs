//! Interactive sessions: users arrive by a rate, wait first come first
//! served for a dedicated pod, run a session, leave past their patience,
//! and go back ahead of later users when a node failure ends their session.

use ksim_core::config::*;
use ksim_core::distribution::Distribution;
use ksim_core::load::LoadShape;
use ksim_core::metrics::{PodRecord, RunOutput, SessionSummary};
use ksim_core::resources::{ResourceNames, FIRST_EXTENDED};
use ksim_core::time::{SimDuration, SimTime};

mod common;
use common::*;

const GPU: usize = FIRST_EXTENDED;

fn at(s: u64) -> SimTime {
    SimTime::ZERO + secs(s)
}

fn constant(d: SimDuration) -> Distribution {
    Distribution::constant(d.0 as f64).unwrap()
}

/// A pool of nodes with 16 cores, 64Gi and `gpus` GPUs each.
fn gpu_pool(name: &str, count: u32, gpus: u64) -> NodePoolSpec {
    let mut p = pool(name, count, 16_000, 64 * GI);
    p.allocatable.0[GPU] = gpus;
    p
}

/// A streaming user's pod: 4 cores, 16Gi and one GPU.
fn streamer() -> PodTemplate {
    let mut t = template(4000, 16 * GI);
    t.requests[GPU] = Request::Fixed(1);
    t
}

fn session(
    name: &str,
    arrivals: LoadShape,
    length: SimDuration,
    patience: Option<SimDuration>,
) -> WorkloadSpec {
    WorkloadSpec {
        name: name.into(),
        kind: WorkloadKind::Session(SessionSpec {
            arrivals,
            start: SimTime::ZERO,
            stop: None,
            length: constant(length),
            patience: patience.map(constant),
        }),
        template: streamer(),
        readiness_delay: None,
        model: Default::default(),
    }
}

/// A cluster that declares `nvidia.com/gpu`.
fn gpu_config(pools: Vec<NodePoolSpec>, workloads: Vec<WorkloadSpec>, end_s: u64) -> SimConfig {
    let mut c = config(pools, workloads, end_s);
    c.resource_names = ResourceNames::new(vec!["nvidia.com/gpu".into()]).unwrap();
    c
}

fn sessions_of(out: &RunOutput, name: &str) -> SessionSummary {
    out.summary
        .workloads
        .iter()
        .find(|w| w.name == name)
        .and_then(|w| w.sessions.clone())
        .expect("a session workload's summary")
}

fn pods(out: &RunOutput) -> &[PodRecord] {
    out.pods.as_deref().expect("pods recorded")
}

#[test]
fn users_arrive_at_the_rate_of_each_step() {
    // 0.5 users/s for 10,000 s, then 2/s: 5,000 and 20,000 expected, with
    // Poisson standard deviations of about 71 and 141; 5 of them allowed.
    let steps = LoadShape::steps(0.5, vec![(at(10_000), 2.0)]).unwrap();
    let mut w = session("play", steps, secs(1), None);
    w.template = template(100, GI);
    let mut c = gpu_config(vec![pool("cpu", 4, 16_000, 64 * GI)], vec![w], 20_000);
    c.sample_interval = secs(1000);
    let out = run(c);
    let created = |from: u64, to: u64| {
        pods(&out)
            .iter()
            .filter(|p| p.created >= at(from) && p.created < at(to))
            .count() as f64
    };
    let (low, high) = (created(0, 10_000), created(10_000, 20_000));
    assert!((low - 5_000.0).abs() < 5.0 * 5_000f64.sqrt(), "{low}");
    assert!((high - 20_000.0).abs() < 5.0 * 20_000f64.sqrt(), "{high}");
    let s = sessions_of(&out, "play");
    assert_eq!(s.arrived as f64, low + high, "one pod per user, none lost");
    assert_eq!(s.abandoned + s.requeued, 0);
    assert_eq!(s.arrived, s.completed + s.running_at_end + s.waiting_at_end);
}

#[test]
fn users_start_in_the_order_they_came_when_one_gpu_frees_at_a_time() {
    // One GPU, 1000 s sessions, a user every 400 s on average: a queue
    // that grows, served one user at a time, with the periodic flush on
    // (it retries users who waited over 5 min, whose pods would then go
    // behind later users' if they took a new place in the queue).
    let w = session(
        "play",
        LoadShape::constant(0.0025).unwrap(),
        secs(1000),
        None,
    );
    let out = run(gpu_config(vec![gpu_pool("gpu", 1, 1)], vec![w], 40_000));
    let mut started: Vec<&PodRecord> = pods(&out).iter().filter(|p| p.started.is_some()).collect();
    assert!(started.len() >= 30, "{} sessions", started.len());
    started.sort_by_key(|p| p.created);
    assert!(
        started.windows(2).all(|w| w[0].started < w[1].started),
        "users started out of their arrival order"
    );
    let s = sessions_of(&out, "play");
    assert!(s.waiting_at_end > 10, "the queue grew: {s:?}");
    assert_eq!(s.started, started.len() as u64);
    // Waits grow along the queue: the last served waited longest.
    assert!(s.wait.max().unwrap() > secs(1000));
}

#[test]
fn impatient_users_leave_a_full_cluster_and_the_counts_add_up() {
    let w = session(
        "play",
        LoadShape::constant(0.1).unwrap(),
        secs(1000),
        Some(secs(60)),
    );
    let out = run(gpu_config(vec![gpu_pool("gpu", 1, 1)], vec![w], 3000));
    let s = sessions_of(&out, "play");
    assert!(s.abandoned > 100, "{s:?}");
    assert_eq!(
        s.arrived,
        s.started + s.abandoned + s.waiting_at_end,
        "no requeue here: every user started, left or waits"
    );
    assert_eq!(s.started, s.completed + s.running_at_end);
    // An abandoned user's pod never started and was deleted at their patience.
    let never_started: Vec<&PodRecord> = pods(&out)
        .iter()
        .filter(|p| p.started.is_none() && p.finished.is_some())
        .collect();
    assert_eq!(never_started.len() as u64, s.abandoned);
    assert!(never_started
        .iter()
        .all(|p| p.finished.unwrap() - p.created == secs(60)));
    // A waiting user arrived within their patience of the end.
    assert!(s.waiting_at_end <= 1 + (60.0 * 0.1 * 3.0) as u64);
}

/// Two one-GPU nodes; a user a second for 20 s; 600 s sessions; one of the
/// two nodes fails for good at 100 s, its pod evicted about 340 s later.
fn failing_gpu_node() -> SimConfig {
    let mut w = session(
        "play",
        LoadShape::constant(1.0).unwrap(),
        secs(600),
        Some(secs(3000)),
    );
    if let WorkloadKind::Session(s) = &mut w.kind {
        s.stop = Some(at(20));
    }
    let mut c = gpu_config(vec![gpu_pool("gpu", 2, 1)], vec![w], 2000);
    c.node_failures = vec![NodeFailureSpec {
        at: at(100),
        pool: 0,
        count: 1,
        recover_after: None,
    }];
    c
}

#[test]
fn a_user_whose_node_fails_goes_back_ahead_of_later_users() {
    let out = run(failing_gpu_node());
    let s = sessions_of(&out, "play");
    assert_eq!(s.requeued, 1, "{s:?}");
    let records = pods(&out);
    // The replacement is the only pod created after the arrivals stopped.
    let replacement = records
        .iter()
        .find(|p| p.created > at(20))
        .expect("a replacement pod");
    assert!(replacement.created > at(100 + 40), "after the eviction");
    let after_failure: Vec<&PodRecord> = records
        .iter()
        .filter(|p| p.started.is_some_and(|t| t > at(100)))
        .collect();
    let first = after_failure.iter().min_by_key(|p| p.started).unwrap();
    assert_eq!(
        first.id, replacement.id,
        "the requeued user starts before every user who came later"
    );
    // Counted once: the user is running or done, not in two places.
    assert_eq!(
        s.arrived,
        s.completed + s.running_at_end + s.waiting_at_end + s.abandoned
    );
    // The first session on the surviving node ran its 600 s.
    assert!(s.completed >= 1);
}

#[test]
fn gpu_hours_used_stay_within_those_paid_and_runs_repeat() {
    let a = run(failing_gpu_node());
    let b = run(failing_gpu_node());
    assert_eq!(a.summary, b.summary, "same seed, same summary");
    let s = sessions_of(&a, "play");
    // Two GPU nodes billed for the whole run (a failed node is still billed).
    let paid = 2.0 * 2000.0 / 3600.0;
    assert!(
        (s.gpu_hours_paid - paid).abs() < 1e-9,
        "{}",
        s.gpu_hours_paid
    );
    assert!(
        s.gpu_hours_used > 0.5 && s.gpu_hours_used <= s.gpu_hours_paid,
        "{s:?}"
    );
}

#[test]
fn without_a_gpu_resource_no_gpu_hours_are_counted() {
    let mut w = session("play", LoadShape::constant(0.1).unwrap(), secs(30), None);
    w.template = template(1000, GI);
    let out = run(config(vec![pool("cpu", 1, 16_000, 64 * GI)], vec![w], 600));
    let s = sessions_of(&out, "play");
    assert!(s.completed > 20);
    assert_eq!((s.gpu_hours_used, s.gpu_hours_paid), (0.0, 0.0));
}

#[test]
fn a_session_workload_adds_a_timeline_row_of_waiting_users() {
    let w = session("play", LoadShape::constant(0.05).unwrap(), secs(300), None);
    let out = run(gpu_config(vec![gpu_pool("gpu", 1, 1)], vec![w], 1000));
    let last = out.workload_timeline.last().unwrap();
    let s = sessions_of(&out, "play");
    assert_eq!(last.queue_length, Some(s.waiting_at_end as f64));
    assert_eq!(last.load_per_s, Some(0.05));
}

#[test]
fn session_counts_add_up_between_batches() {
    let mut sim = ksim_core::sim::Simulation::new(failing_gpu_node()).unwrap();
    sim.enable_invariant_checks();
    assert_eq!(sim.session_counts(0).unwrap().arrived, 0);
    let mut seen_waiting = false;
    while !sim.run_batch(20).unwrap() {
        let c = sim.session_counts(0).unwrap();
        assert_eq!(c.arrived, c.waiting + c.running + c.completed + c.abandoned);
        seen_waiting |= c.waiting > 0;
    }
    assert!(seen_waiting);
    let out = sim.into_output();
    assert_eq!(sessions_of(&out, "play").requeued, 1);
}

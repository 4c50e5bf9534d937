//! Random small scenarios, run with the invariant checker. Every case must
//! finish without a `SimError`; be deterministic (the same config twice,
//! once without the checker, once without pod records, and once split into
//! random batches, gives identical outputs); and its output must hold
//! together on its own: counts add up, pod timestamps are ordered and agree
//! with phases, no node ever runs more than its allocatable or two pods
//! that anti-affinity keeps apart, placements pass the pods' node filters,
//! jobs arrive as their process says, deployments keep their replicas.
//!
//! CI runs `CI_CASES` cases from a fixed seed (a few seconds). To hunt:
//!
//! ```text
//! KSIM_FUZZ_CASES=5000 KSIM_FUZZ_SEED=7 cargo test -p ksim-core --release \
//!     --test random_scenarios -- --nocapture
//! ```
//!
//! A failure prints the error and the shrunk config, one line per part; no
//! regression file is written. `--nocapture` also shows what the cases
//! covered (control plane, node failures, evictions, NOSPACE, 429s).

use ksim_core::config::*;
use ksim_core::control_plane::config::{ApiKind, ControlPlaneConfig, NamedStore};
use ksim_core::distribution::Distribution;
use ksim_core::matching;
use ksim_core::metrics::{PodRecord, RunOutput};
use ksim_core::pod_phase::PodPhase;
use ksim_core::resources::{
    ResourceNames, ResourceVec, CPU, EPHEMERAL_STORAGE, FIRST_EXTENDED, MEMORY, NUM_RESOURCES, PODS,
};
use ksim_core::sim::Simulation;
use ksim_core::store::StoreConfig;
use ksim_core::time::{SimDuration, SimTime};
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner};
use std::cell::{Cell, RefCell};

/// Cases per CI run, and the seed they come from; override with
/// `KSIM_FUZZ_CASES` and `KSIM_FUZZ_SEED`.
const CI_CASES: u32 = 256;
const CI_SEED: u64 = 0x6b73_696d_6675_7a7a;

const GI: u64 = 1 << 30;
const MI: u64 = 1 << 20;
const ZONE: &str = "topology.kubernetes.io/zone";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Pods one job may create at most (when its rate would make more), so a case stays small.
const MAX_JOB_PODS: u64 = 1500;

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value}: not a number")),
    )
}

/// The runner's configuration, with its case count and seed.
fn runner_config() -> (ProptestConfig, u32, u64) {
    let cases = env_u64("KSIM_FUZZ_CASES").map_or(CI_CASES, |c| c as u32);
    let seed = env_u64("KSIM_FUZZ_SEED").unwrap_or(CI_SEED);
    let config = ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    };
    (config, cases, seed)
}

// --- generators ------------------------------------------------------------

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn label(key: &str, value: &str) -> Label {
    Label {
        key: key.into(),
        value: value.into(),
    }
}

/// Times are mostly whole seconds, so events of different sources coincide.
fn offset_ns() -> impl Strategy<Value = u64> {
    prop_oneof![4 => Just(0u64), 1 => 1u64..1_000_000_000]
}

fn recover_after() -> impl Strategy<Value = Option<SimDuration>> {
    prop_oneof![
        Just(None),
        Just(Some(SimDuration::from_nanos(1))),
        (1u64..=1000).prop_map(|ms| Some(SimDuration::from_millis(ms))),
        (1u64..=600).prop_map(|s| Some(secs(s))),
    ]
}

/// A distribution of non-negative values around `lo..=hi` (base units).
fn distribution(lo: u64, hi: u64) -> impl Strategy<Value = Distribution> {
    let (lo, hi) = (lo as f64, hi as f64);
    prop_oneof![
        (lo..=hi).prop_map(|v| Distribution::constant(v.round()).unwrap()),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| Distribution::uniform(a.min(b), a.max(b)).unwrap()),
        (lo.max(1.0)..=hi.max(1.0)).prop_map(|m| Distribution::exponential(m).unwrap()),
        (lo.max(1.0)..=hi.max(1.0), 0.0..2.0f64)
            .prop_map(|(m, s)| Distribution::log_normal(m, s).unwrap()),
        prop::collection::vec((lo..=hi, 0.0..4.0f64), 1..=4).prop_map(|vw| {
            let (values, mut weights): (Vec<f64>, Vec<f64>) = vw.into_iter().unzip();
            if weights.iter().sum::<f64>() <= 0.0 {
                weights[0] = 1.0;
            }
            Distribution::empirical(values, weights).unwrap()
        }),
    ]
}

fn request(lo: u64, hi: u64) -> impl Strategy<Value = Request> {
    prop_oneof![
        3 => (lo..=hi).prop_map(Request::Fixed),
        1 => distribution(lo, hi).prop_map(Request::Drawn),
    ]
}

fn taint() -> impl Strategy<Value = Taint> {
    (
        prop::sample::select(vec![
            ("dedicated", "web"),
            ("dedicated", "batch"),
            ("gpu", ""),
        ]),
        prop::sample::select(vec![
            TaintEffect::NoSchedule,
            TaintEffect::PreferNoSchedule,
            TaintEffect::NoExecute,
        ]),
    )
        .prop_map(|((key, value), effect)| Taint {
            key: key.into(),
            value: value.into(),
            effect,
        })
}

fn pool(extended: bool) -> impl Strategy<Value = NodePoolSpec> {
    let allocatable = (
        prop_oneof![
            4 => Just(4000u64),
            2 => prop::sample::select(vec![1000, 2000, 8000, 16000]),
            1 => 100u64..=16000,
        ],
        prop_oneof![
            4 => Just(8 * GI),
            2 => (1u64..=64).prop_map(|g| g * GI),
            1 => MI..=GI,
        ],
        prop_oneof![Just(110u64), 1u64..=10],
        prop_oneof![2 => Just(100 * GI), 1 => Just(0u64), 1 => (1u64..=100).prop_map(|g| g * GI)],
        0u64..=8,
    );
    let labels = (
        prop::option::of(prop::sample::select(vec!["a", "b", "c"])),
        prop::option::of(prop::sample::select(vec!["web", "batch"])),
        prop::option::of(1i64..=5),
    );
    (
        // Now and then a pool past kube-scheduler's 100-node sampling threshold.
        prop_oneof![12 => 1u32..=20, 1 => 100u32..=400],
        allocatable,
        labels,
        prop_oneof![
            5 => Just(vec![]),
            1 => prop::collection::vec(taint(), 1..=2),
        ],
    )
        .prop_map(
            move |(count, (cpu, memory, pods, storage, gpus), (zone, tier, generation), taints)| {
                let mut a = ResourceVec::ZERO;
                a.0[CPU] = cpu;
                a.0[MEMORY] = memory;
                a.0[PODS] = pods;
                a.0[EPHEMERAL_STORAGE] = storage;
                if extended {
                    a.0[FIRST_EXTENDED] = gpus;
                }
                let mut labels = Vec::new();
                if let Some(z) = zone {
                    labels.push(label(ZONE, z));
                }
                if let Some(t) = tier {
                    labels.push(label("tier", t));
                }
                if let Some(g) = generation {
                    labels.push(label("gen", &g.to_string()));
                }
                // Upstream: taints are unique by key and effect.
                let mut unique: Vec<Taint> = Vec::new();
                for t in taints {
                    if !unique
                        .iter()
                        .any(|u| u.key == t.key && u.effect == t.effect)
                    {
                        unique.push(t);
                    }
                }
                NodePoolSpec {
                    name: String::new(),
                    count,
                    min: 0,
                    max: count,
                    price_per_hour: 0.0,
                    provisioning_delay: DEFAULT_PROVISIONING_DELAY,
                    allocatable: a,
                    labels,
                    taints: unique,
                    daemonset_requests: ResourceVec::ZERO,
                }
            },
        )
}

fn toleration() -> impl Strategy<Value = Toleration> {
    (
        prop::sample::select(vec!["", "dedicated", "gpu", UNREACHABLE]),
        any::<bool>(),
        prop::sample::select(vec!["", "web", "batch"]),
        prop::option::of(prop::sample::select(vec![
            TaintEffect::NoSchedule,
            TaintEffect::PreferNoSchedule,
            TaintEffect::NoExecute,
        ])),
    )
        .prop_map(|(key, exists, value, effect)| {
            // Upstream: an empty key needs Exists, and Exists takes no value.
            let exists = exists || key.is_empty();
            Toleration {
                key: key.into(),
                operator: if exists {
                    TolerationOperator::Exists
                } else {
                    TolerationOperator::Equal
                },
                value: if exists { String::new() } else { value.into() },
                effect,
            }
        })
}

fn requirement() -> impl Strategy<Value = SelectorRequirement> {
    let values = prop::collection::vec(
        prop::sample::select(vec!["a", "b", "web", "batch", "1", "3"]),
        1..=2,
    )
    .prop_map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
    let operator = prop_oneof![
        values.clone().prop_map(SelectorOperator::In),
        values.prop_map(SelectorOperator::NotIn),
        Just(SelectorOperator::Exists),
        Just(SelectorOperator::DoesNotExist),
        (0i64..=5).prop_map(SelectorOperator::Gt),
        (1i64..=6).prop_map(SelectorOperator::Lt),
    ];
    (
        prop::sample::select(vec![ZONE, "tier", "gen", "missing"]),
        operator,
    )
        .prop_map(|(key, operator)| SelectorRequirement {
            key: key.into(),
            operator,
        })
}

/// A template; `app=<workload name>` is added when the workload is named.
fn template(extended: bool) -> impl Strategy<Value = PodTemplate> {
    let requests = (
        prop_oneof![3 => request(0, 1000), 1 => request(0, 4000)],
        prop_oneof![3 => request(0, 2 * GI), 1 => request(GI, 16 * GI)],
        prop_oneof![6 => Just(Request::Fixed(0)), 1 => request(0, 20 * GI)],
        prop_oneof![4 => Just(Request::Fixed(0)), 1 => request(0, 2)],
    );
    let placement = (
        prop::option::weighted(
            0.1,
            prop::sample::select(vec![
                (ZONE, "a"),
                ("tier", "web"),
                ("tier", "batch"),
                ("gen", "2"),
            ]),
        ),
        prop_oneof![
            8 => Just(vec![]),
            1 => prop::collection::vec(
                prop::collection::vec(requirement(), 0..=2)
                    .prop_map(|match_expressions| NodeSelectorTerm { match_expressions }),
                1..=2,
            ),
        ],
        prop::collection::vec(toleration(), 0..=3),
        prop::collection::vec(
            prop_oneof![
                (0u32..4).prop_map(|w| vec![label("app", &format!("w{w}"))]),
                Just(vec![label("team", "x")]),
            ]
            .prop_map(|match_labels| AntiAffinityTerm { match_labels }),
            0..=1,
        ),
    );
    (
        requests,
        prop_oneof![Just(0i32), -5i32..=5, any::<i32>()],
        prop::option::of(prop::sample::select(vec!["x", "y"])),
        placement,
    )
        .prop_map(
            move |(
                (cpu, memory, storage, gpus),
                priority,
                team,
                (selector, node_affinity, tolerations, anti_affinity),
            )| {
                let mut requests: [Request; NUM_RESOURCES] =
                    std::array::from_fn(|_| Request::Fixed(0));
                requests[CPU] = cpu;
                requests[MEMORY] = memory;
                requests[EPHEMERAL_STORAGE] = storage;
                requests[PODS] = Request::Fixed(1);
                if extended {
                    requests[FIRST_EXTENDED] = gpus;
                }
                PodTemplate {
                    requests,
                    priority,
                    labels: team.map(|t| label("team", t)).into_iter().collect(),
                    node_selector: selector.map(|(k, v)| label(k, v)).into_iter().collect(),
                    node_affinity,
                    tolerations,
                    anti_affinity,
                    termination_grace_period: DEFAULT_TERMINATION_GRACE_PERIOD,
                    eviction: Default::default(),
                    limits: Default::default(),
                    ephemeral_storage_write_bytes_per_s: 0,
                }
            },
        )
}

/// A time in seconds (wrapped into the run later) plus a sub-second offset.
fn time_s() -> impl Strategy<Value = (u64, u64)> {
    (0u64..=1800, offset_ns())
}

fn deployment() -> impl Strategy<Value = WorkloadKind> {
    (
        1u32..=20,
        time_s(),
        prop::option::of(prop_oneof![
            distribution(5 * 1_000_000_000, 600 * 1_000_000_000),
            distribution(1_000_000_000, 30 * 1_000_000_000),
        ]),
        any::<bool>(),
    )
        .prop_map(|(replicas, (s, ns), pod_lifetime, service)| {
            WorkloadKind::Deployment(DeploymentSpec {
                replicas,
                start: SimTime(s * 1_000_000_000 + ns),
                pod_lifetime,
                service,
                disruption_budget: None,
            })
        })
}

fn job() -> impl Strategy<Value = WorkloadKind> {
    let arrival = prop_oneof![
        (1u64..=60).prop_map(|s| ArrivalProcess::Constant { interval: secs(s) }),
        (1u64..=60_000).prop_map(|ms| ArrivalProcess::Constant {
            interval: SimDuration::from_millis(ms)
        }),
        (100u64..=60_000).prop_map(|ms| ArrivalProcess::Poisson {
            mean_interval: SimDuration::from_millis(ms)
        }),
        prop::collection::vec(time_s(), 0..=20).prop_map(|times| {
            let mut times: Vec<SimTime> = times
                .into_iter()
                .map(|(s, ns)| SimTime(s * 1_000_000_000 + ns))
                .collect();
            times.sort();
            ArrivalProcess::Schedule { times }
        }),
    ];
    (
        arrival,
        time_s(),
        prop::option::of(time_s()),
        prop::option::of(1u64..=500),
        prop_oneof![
            Just(Distribution::Constant(0.0)),
            distribution(1_000_000_000, 120 * 1_000_000_000),
            distribution(0, 10_000_000),
            distribution(60 * 1_000_000_000, 1800 * 1_000_000_000),
        ],
        prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64],
    )
        .prop_map(
            |(arrival, (s, ns), stop, max_pods, duration, failure_probability)| {
                WorkloadKind::Job(JobSpec {
                    arrival,
                    start: SimTime(s * 1_000_000_000 + ns),
                    stop: stop.map(|(s, ns)| SimTime(s * 1_000_000_000 + ns)),
                    max_pods,
                    duration,
                    failure_probability,
                })
            },
        )
}

fn workload(extended: bool) -> impl Strategy<Value = WorkloadSpec> {
    (prop_oneof![deployment(), job()], template(extended)).prop_map(|(kind, template)| {
        WorkloadSpec {
            name: String::new(),
            kind,
            template,
            readiness_delay: None,
            model: Default::default(),
        }
    })
}

fn scheduler() -> impl Strategy<Value = SchedulerConfig> {
    (
        prop::sample::select(vec![SchedulerMode::Kube, SchedulerMode::Fast]),
        prop::sample::select(vec![
            ScoringStrategy::LeastAllocated,
            ScoringStrategy::MostAllocated,
        ]),
        prop_oneof![Just((1i64, 1i64, 3i64)), (0i64..=5, 0i64..=5, 0i64..=5)],
        prop_oneof![Just(0u32), 1u32..=100],
        prop_oneof![
            (1u64..=50).prop_map(SimDuration::from_millis),
            (1u64..=1000).prop_map(SimDuration::from_micros),
            (1u64..=1000).prop_map(SimDuration::from_nanos),
            (50u64..=500).prop_map(SimDuration::from_millis),
        ],
        prop_oneof![Just(0u64), 1u64..=20_000].prop_map(SimDuration::from_nanos),
        (1u64..=2000, 1u64..=20).prop_map(|(initial_ms, factor)| {
            let initial = SimDuration::from_millis(initial_ms);
            (initial, initial.saturating_mul(factor))
        }),
        (1u64..=600).prop_map(secs),
    )
        .prop_map(
            |(
                mode,
                scoring,
                (fit, balanced, taint),
                percentage,
                base,
                per_node,
                (backoff_initial, backoff_max),
                max_in_unschedulable,
            )| SchedulerConfig {
                mode,
                scoring,
                resources_fit_weight: fit,
                balanced_allocation_weight: balanced,
                taint_toleration_weight: taint,
                percentage_of_nodes_to_score: percentage,
                cycle_base_cost: base,
                cycle_per_node_cost: per_node,
                backoff_initial,
                backoff_max,
                max_in_unschedulable,
            },
        )
}

fn lifecycle() -> impl Strategy<Value = NodeLifecycleConfig> {
    prop_oneof![
        Just(NodeLifecycleConfig::default()),
        (
            1u64..=20_000,
            1u64..=10_000,
            1u64..=60_000,
            prop_oneof![Just(0u64), 1u64..=600],
            prop_oneof![Just(0.1f64), 0.01f64..=10.0],
        )
            .prop_map(|(lease_ms, monitor_ms, extra_ms, toleration_s, rate)| {
                let lease = SimDuration::from_millis(lease_ms);
                NodeLifecycleConfig {
                    lease_renew_interval: lease,
                    node_monitor_period: SimDuration::from_millis(monitor_ms),
                    // Strictly longer than the lease interval, as upstream requires.
                    node_monitor_grace_period: lease + SimDuration::from_millis(extra_ms),
                    default_toleration: secs(toleration_s),
                    eviction_rate_per_s: rate,
                    ..NodeLifecycleConfig::default()
                }
            }),
    ]
}

fn control_plane() -> impl Strategy<Value = ControlPlaneConfig> {
    (
        prop_oneof![Just(1000u64), prop::sample::select(vec![100u64, 250, 2000])],
        prop_oneof![Just(200u32), 1u32..=4],
        prop_oneof![Just(1u32), 2u32..=3],
        prop_oneof![
            4 => Just(None),
            1 => (1u64..=64).prop_map(|m| Some(m * MI)),
            1 => (64u64..=1024).prop_map(|k| Some(k << 10)),
        ],
        prop_oneof![Just(3u32), Just(1), Just(5)],
        prop::option::of(prop::collection::vec(0usize..2, ApiKind::COUNT)),
    )
        .prop_map(
            |(tick_ms, max_mutating, replicas, quota, members, routing)| {
                let mut store = StoreConfig {
                    members,
                    quorum: members / 2 + 1,
                    ..StoreConfig::default()
                };
                if let Some(q) = quota {
                    store.quota_bytes = q;
                }
                let mut c = ControlPlaneConfig {
                    tick: SimDuration::from_millis(tick_ms),
                    ..ControlPlaneConfig::default()
                };
                c.apiserver.max_mutating_inflight = max_mutating;
                c.apiserver.replicas = replicas;
                c.stores[0].config = store;
                if let Some(routing) = routing {
                    c.stores.push(NamedStore {
                        name: "second".into(),
                        config: StoreConfig::default(),
                    });
                    c.routing.copy_from_slice(&routing);
                }
                c
            },
        )
}

fn node_failure() -> impl Strategy<Value = NodeFailureSpec> {
    (time_s(), 0u32..4, 1u32..=20, recover_after()).prop_map(
        |((s, ns), pool, count, recover_after)| NodeFailureSpec {
            at: SimTime(s * 1_000_000_000 + ns),
            pool,
            count,
            recover_after,
        },
    )
}

fn node_failure_rate() -> impl Strategy<Value = NodeFailureRate> {
    (0u32..4, 10u64..=1200, recover_after()).prop_map(|(pool, mean_s, recover_after)| {
        NodeFailureRate {
            pool,
            mean_interval: secs(mean_s),
            recover_after,
        }
    })
}

/// A small valid `SimConfig`. Quantities that depend on others (times on
/// the run's end, pool indices on the pools) are wrapped into range here,
/// so every generated value is valid and shrinking keeps it so.
fn scenario() -> impl Strategy<Value = SimConfig> {
    any::<bool>()
        .prop_flat_map(|extended| {
            (
                (
                    any::<u64>(),
                    (1u64..=30, offset_ns()),
                    1u64..=60,
                    Just(extended),
                ),
                prop::collection::vec(pool(extended), 1..=4),
                prop::collection::vec(workload(extended), 1..=4),
                scheduler(),
                lifecycle(),
                prop::collection::vec(node_failure(), 0..=3),
                prop::collection::vec(node_failure_rate(), 0..=2),
                prop::option::of(control_plane()),
            )
        })
        .prop_map(
            |(
                (seed, (minutes, end_ns), sample_s, extended),
                mut pools,
                mut workloads,
                scheduler,
                node_lifecycle,
                mut node_failures,
                mut node_failure_rates,
                control_plane,
            )| {
                let end = SimTime(minutes * 60 * 1_000_000_000 + end_ns);
                let wrap = |t: SimTime| SimTime(t.0 % (end.0 + 1));
                for (i, p) in pools.iter_mut().enumerate() {
                    p.name = format!("p{i}");
                }
                for (i, w) in workloads.iter_mut().enumerate() {
                    w.name = format!("w{i}");
                    w.template.labels.insert(0, label("app", &w.name));
                    match &mut w.kind {
                        WorkloadKind::Deployment(d) => d.start = wrap(d.start),
                        WorkloadKind::Job(j) => {
                            j.start = wrap(j.start);
                            j.stop = j.stop.map(wrap);
                            if let ArrivalProcess::Schedule { times } = &mut j.arrival {
                                for t in times.iter_mut() {
                                    *t = wrap(*t);
                                }
                                times.sort();
                            }
                            let gap = match &j.arrival {
                                ArrivalProcess::Constant { interval } => interval.0,
                                ArrivalProcess::Poisson { mean_interval } => mean_interval.0,
                                // Sources are not generated here (tests/pod_source.rs).
                                ArrivalProcess::Schedule { .. } | ArrivalProcess::Source { .. } => {
                                    u64::MAX
                                }
                            };
                            if j.max_pods.is_none() && end.0 / gap > MAX_JOB_PODS {
                                j.max_pods = Some(MAX_JOB_PODS);
                            }
                        }
                        // Not generated here (tests/sessions.rs and the fuzzer cover them).
                        WorkloadKind::Session(_) => {}
                    }
                }
                for f in &mut node_failures {
                    f.at = wrap(f.at);
                    f.pool %= pools.len() as u32;
                    f.count = f.count.min(pools[f.pool as usize].count);
                }
                for r in &mut node_failure_rates {
                    r.pool %= pools.len() as u32;
                }
                SimConfig {
                    name: "random".into(),
                    seed,
                    end,
                    sample_interval: secs(sample_s),
                    resource_names: ResourceNames::new(if extended {
                        vec!["nvidia.com/gpu".into()]
                    } else {
                        vec![]
                    })
                    .unwrap(),
                    node_pools: pools,
                    workloads,
                    scheduler,
                    node_lifecycle,
                    node_failures,
                    node_failure_rates,
                    record_pods: true,
                    control_plane,
                    changes: vec![],
                    autoscaling: Default::default(),
                    node_autoscaler: None,
                }
            },
        )
}

// --- running ------------------------------------------------------------

/// A finished run: its output and each pod's requests (not in the records).
struct Finished {
    output: RunOutput,
    requests: Vec<ResourceVec>,
}

fn fail(message: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(message.into())
}

/// Runs with the invariant checker, in batches of the given sizes (cycled).
fn run_checked(config: &SimConfig, batches: &[u64]) -> Result<Finished, TestCaseError> {
    let mut sim = Simulation::new(config.clone()).map_err(|e| fail(format!("config: {e}")))?;
    sim.enable_invariant_checks();
    for &batch in batches.iter().cycle() {
        match sim.run_batch(batch) {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => return Err(fail(format!("SimError: {error}"))),
        }
    }
    let requests = sim.pods().requests.clone();
    Ok(Finished {
        output: sim.into_output(),
        requests,
    })
}

/// Everything the case checks, given the config and random batch sizes.
fn check_case(config: &SimConfig, batches: &[u64]) -> Result<Stats, TestCaseError> {
    if let Err(e) = config.check() {
        return Err(fail(format!("the generator made an invalid config: {e}")));
    }
    let whole = run_checked(config, &[u64::MAX])?;
    check_output(config, &whole.output, &whole.requests).map_err(fail)?;
    let expected = format!("{:?}", whole.output);
    // The same config again, without the checker, through `run`.
    let plain = Simulation::new(config.clone())
        .map_err(|e| fail(format!("config: {e}")))?
        .run()
        .map_err(|e| fail(format!("SimError without the checker: {e}")))?;
    if format!("{plain:?}") != expected {
        return Err(fail(
            "two runs of one config differ (the second without the invariant checker)",
        ));
    }
    // Recording pods changes nothing else.
    let unrecorded = SimConfig {
        record_pods: false,
        ..config.clone()
    };
    let mut lean = Simulation::new(unrecorded)
        .map_err(|e| fail(format!("config: {e}")))?
        .run()
        .map_err(|e| fail(format!("SimError without pod records: {e}")))?;
    if lean.pods.is_some() {
        return Err(fail("pod records without record_pods"));
    }
    lean.pods = plain.pods;
    if format!("{lean:?}") != expected {
        return Err(fail("a run without pod records differs from one with them"));
    }
    let split = run_checked(config, batches)?;
    if format!("{:?}", split.output) != expected {
        return Err(fail(format!(
            "a run split into batches of {batches:?} events differs from the whole run"
        )));
    }
    Ok(Stats::of(config, &whole.output))
}

// --- the output's own consistency ----------------------------------------

/// The node's pool, from the pools' node counts (nodes are created pool by pool).
fn pool_of(config: &SimConfig, node: u32) -> Option<usize> {
    let mut first = 0u32;
    for (i, p) in config.node_pools.iter().enumerate() {
        if node < first + p.count {
            return Some(i);
        }
        first += p.count;
    }
    None
}

/// Checks an output against its config alone, independently of the core's
/// own checker. `requests` holds each pod's drawn requests.
fn check_output(
    config: &SimConfig,
    out: &RunOutput,
    requests: &[ResourceVec],
) -> Result<(), String> {
    let s = &out.summary;
    let pods = out.pods.as_ref().ok_or("no pod records")?;
    if pods.len() as u64 != s.pods_total || requests.len() != pods.len() {
        return Err(format!(
            "{} pod records, {} requests, pods_total {}",
            pods.len(),
            requests.len(),
            s.pods_total
        ));
    }
    if s.pods_pending + s.pods_running + s.pods_succeeded + s.pods_failed != s.pods_total {
        return Err(format!("summary phase counts do not add up: {s:?}"));
    }
    let mut by_phase = [0u64; 4];
    for p in pods {
        by_phase[p.phase as usize] += 1;
    }
    let counted = [
        s.pods_pending,
        s.pods_running,
        s.pods_succeeded,
        s.pods_failed,
    ];
    if by_phase != counted {
        return Err(format!(
            "pod records by phase {by_phase:?}, summary says {counted:?}"
        ));
    }
    let bound = pods.iter().filter(|p| p.bound.is_some()).count() as u64;
    if bound != s.binds || s.scheduling_latency.count() != s.binds {
        return Err(format!(
            "{bound} pods bound, {} binds, {} latencies",
            s.binds,
            s.scheduling_latency.count()
        ));
    }
    if s.binds > s.scheduling_attempts {
        return Err(format!(
            "{} binds from {} attempts",
            s.binds, s.scheduling_attempts
        ));
    }
    if s.pods_evicted > s.pods_failed {
        return Err(format!(
            "{} pods evicted, {} failed",
            s.pods_evicted, s.pods_failed
        ));
    }
    if s.nodes_total != config.nodes_total() {
        return Err(format!(
            "{} nodes, config has {}",
            s.nodes_total,
            config.nodes_total()
        ));
    }
    check_timeline(config, out)?;
    for (i, p) in pods.iter().enumerate() {
        check_pod(config, p, &requests[i]).map_err(|e| format!("pod {i} {p:?}: {e}"))?;
    }
    check_nodes_over_time(config, out, requests)?;
    check_workloads(config, out)
}

/// Per workload, what its controller must have done: the arrivals a job's
/// process allows, a deployment's replica count kept, outcomes its failure
/// probability allows, durations its distribution allows.
fn check_workloads(config: &SimConfig, out: &RunOutput) -> Result<(), String> {
    let pods = out.pods.as_ref().ok_or("no pod records")?;
    let failures_possible =
        !(config.node_failures.is_empty() && config.node_failure_rates.is_empty());
    let s = &out.summary;
    if config.node_failure_rates.is_empty() {
        let most: u64 = config
            .node_failures
            .iter()
            .filter(|f| f.at <= config.end)
            .map(|f| u64::from(f.count))
            .sum();
        if s.node_failures > most {
            return Err(format!(
                "{} node failures, at most {most} configured",
                s.node_failures
            ));
        }
    }
    if !failures_possible {
        // Without failures, only lease renewals the control plane refused or
        // acknowledged too late make nodes NotReady (stale lease cohorts).
        let cohorts_went_stale = out.node_lifecycle.as_ref().is_some_and(|t| {
            let stale = t
                .series
                .iter()
                .position(|s| s.metric == "lease_cohorts_stale")
                .expect("the stale-cohort series");
            t.values
                .iter()
                .any(|row| row[stale].is_some_and(|v| v > 0.0))
        });
        let disturbed =
            s.pods_evicted > 0 || out.timeline.iter().any(|r| r.nodes_ready != r.nodes_total);
        if disturbed && !cohorts_went_stale {
            return Err(
                "evictions or nodes not ready without node failures or stale leases".into(),
            );
        }
        // Without failures and API latency, a bound pod starts at once.
        if config.control_plane.is_none() {
            if let Some(p) = pods
                .iter()
                .find(|p| p.bound.is_some() && p.started != p.bound)
            {
                return Err(format!("{p:?} bound to a live node and not started then"));
            }
        }
    }
    let cycle = config.scheduler.cycle_base_cost;
    for (w, spec) in config.workloads.iter().enumerate() {
        let mine: Vec<&PodRecord> = pods.iter().filter(|p| p.workload as usize == w).collect();
        let created: Vec<SimTime> = mine.iter().map(|p| p.created).collect();
        let err = |problem: String| Err(format!("workload {}: {problem}", spec.name));
        if let Some(p) = mine
            .iter()
            .find(|p| p.bound.is_some_and(|b| b < p.created + cycle))
        {
            return err(format!("{p:?} bound before a scheduling cycle could end"));
        }
        match &spec.kind {
            WorkloadKind::Deployment(d) => {
                let live = mine.iter().filter(|p| p.finished.is_none()).count() as u64;
                let expected = if d.start <= config.end {
                    u64::from(d.replicas)
                } else {
                    0
                };
                if live != expected || created.iter().any(|&c| c < d.start) {
                    return err(format!(
                        "{live} live pods of {expected} replicas, created at {created:?}"
                    ));
                }
                if d.pod_lifetime.is_none() && !failures_possible && live != mine.len() as u64 {
                    return err("a pod ended with neither a lifetime nor node failures".into());
                }
            }
            WorkloadKind::Job(j) => {
                let stop = j.stop.unwrap_or(SimTime::MAX);
                let in_window = |t: SimTime| t <= config.end && t < stop;
                let cap = |n: u64| n.min(j.max_pods.unwrap_or(u64::MAX));
                let expected: Option<Vec<SimTime>> = match &j.arrival {
                    ArrivalProcess::Constant { interval } => {
                        let mut times = Vec::new();
                        let mut t = j.start;
                        while in_window(t) && (times.len() as u64) < cap(u64::MAX) {
                            times.push(t);
                            t += *interval;
                        }
                        Some(times)
                    }
                    ArrivalProcess::Schedule { times } => {
                        let n = times.iter().take_while(|&&t| in_window(t)).count() as u64;
                        Some(times[..cap(n) as usize].to_vec())
                    }
                    ArrivalProcess::Poisson { .. } | ArrivalProcess::Source { .. } => None,
                };
                match expected {
                    Some(times) if times != created => {
                        return err(format!("pods created at {created:?}, expected {times:?}"));
                    }
                    None if (created.len() as u64) > cap(u64::MAX)
                        || created.iter().any(|&c| c < j.start || !in_window(c)) =>
                    {
                        return err(format!("pods created at {created:?}"));
                    }
                    _ => {}
                }
                let outcome = |phase: PodPhase| mine.iter().any(|p| p.phase == phase);
                if (j.failure_probability == 0.0 && !failures_possible && outcome(PodPhase::Failed))
                    || (j.failure_probability == 1.0 && outcome(PodPhase::Succeeded))
                {
                    return err(format!(
                        "an outcome failure probability {} excludes",
                        j.failure_probability
                    ));
                }
                if let Distribution::Constant(d) = j.duration {
                    let d = SimDuration(d as u64);
                    for p in mine.iter().filter(|p| p.phase == PodPhase::Succeeded) {
                        let ran = p.finished.unwrap().saturating_since(p.started.unwrap());
                        if ran < d || (config.control_plane.is_none() && ran != d) {
                            return err(format!("{p:?} ran {ran:?}, its duration is {d:?}"));
                        }
                    }
                }
            }
            WorkloadKind::Session(_) => {}
        }
    }
    let grouped: u64 = s.unschedulable.iter().map(|g| g.pods).sum();
    let last = out.timeline.last().ok_or("no timeline")?;
    if grouped != last.pods_unschedulable {
        return Err(format!(
            "{grouped} pods in unschedulable groups, {} counted unschedulable",
            last.pods_unschedulable
        ));
    }
    Ok(())
}

fn check_timeline(config: &SimConfig, out: &RunOutput) -> Result<(), String> {
    let s = &out.summary;
    let mut expected_times = Vec::new();
    let mut t = SimTime::ZERO + config.sample_interval;
    while t < config.end {
        expected_times.push(t);
        t += config.sample_interval;
    }
    expected_times.push(config.end);
    let times: Vec<SimTime> = out.timeline.iter().map(|r| r.time).collect();
    if times != expected_times {
        return Err(format!(
            "timeline rows at {times:?}, expected every {:?} and the end",
            config.sample_interval
        ));
    }
    let mut previous_total = 0;
    let mut ended = (0, 0);
    for row in &out.timeline {
        let total = row.pods_pending + row.pods_running + row.pods_succeeded + row.pods_failed;
        if total < previous_total
            || row.pods_succeeded < ended.0
            || row.pods_failed < ended.1
            || row.nodes_ready > row.nodes_total
            || row.nodes_total != config.nodes_total()
            || row.pods_unschedulable > row.pods_pending
            || row.cpu_requested_millis > row.cpu_allocatable_millis
            || row.memory_requested_bytes > row.memory_allocatable_bytes
        {
            return Err(format!("inconsistent timeline row {row:?}"));
        }
        previous_total = total;
        ended = (row.pods_succeeded, row.pods_failed);
    }
    let last = out.timeline.last().ok_or("no timeline")?;
    if (
        last.pods_pending,
        last.pods_running,
        last.pods_succeeded,
        last.pods_failed,
    ) != (
        s.pods_pending,
        s.pods_running,
        s.pods_succeeded,
        s.pods_failed,
    ) {
        return Err(format!(
            "last timeline row {last:?} disagrees with the summary"
        ));
    }
    let binds: u64 = out.timeline.iter().map(|r| r.binds).sum();
    let attempts: u64 = out.timeline.iter().map(|r| r.scheduling_attempts).sum();
    if (binds, attempts) != (s.binds, s.scheduling_attempts) {
        return Err(format!(
            "timeline sums to {binds} binds and {attempts} attempts, summary {} and {}",
            s.binds, s.scheduling_attempts
        ));
    }
    Ok(())
}

fn check_pod(config: &SimConfig, p: &PodRecord, requests: &ResourceVec) -> Result<(), String> {
    let times: Vec<SimTime> = [Some(p.created), p.bound, p.started, p.finished]
        .into_iter()
        .flatten()
        .collect();
    if times.windows(2).any(|w| w[0] > w[1]) || times.iter().any(|&t| t > config.end) {
        return Err("timestamps out of order or past the end".into());
    }
    let workload = config
        .workloads
        .get(p.workload as usize)
        .ok_or("no such workload")?;
    let is_job = matches!(workload.kind, WorkloadKind::Job(_));
    let ok = match p.phase {
        PodPhase::Pending => p.started.is_none() && p.finished.is_none(),
        PodPhase::Running => {
            p.node.is_some() && p.bound.is_some() && p.started.is_some() && p.finished.is_none()
        }
        PodPhase::Succeeded => is_job && p.started.is_some() && p.finished.is_some(),
        PodPhase::Failed => p.finished.is_some(),
    };
    if !ok {
        return Err(format!("phase {:?} with these timestamps", p.phase));
    }
    if (p.bound.is_some() || p.started.is_some()) && p.node.is_none() {
        return Err("bound or started without a node".into());
    }
    if p.started.is_some() && p.bound.is_none() {
        return Err("started without being bound".into());
    }
    if requests.0[PODS] != 1 {
        return Err(format!("requests {:?}", requests.0));
    }
    if let Some(node) = p.node {
        let pool = &config.node_pools[pool_of(config, node).ok_or("on no node")?];
        let t = &workload.template;
        if let Some(taint) = matching::first_untolerated_taint(&pool.taints, &t.tolerations) {
            return Err(format!("on pool {} with untolerated {taint:?}", pool.name));
        }
        if !matching::labels_match(&t.node_selector, &pool.labels)
            || !matching::node_affinity_matches(&t.node_affinity, &pool.labels)
        {
            return Err(format!(
                "on pool {}, which its selector excludes",
                pool.name
            ));
        }
        if !ResourceVec::ZERO.fits_with(requests, &pool.allocatable) {
            return Err(format!("larger than a node of pool {}", pool.name));
        }
    }
    Ok(())
}

/// Per node, over the run: the pods running at once (started, not yet
/// finished) fit its allocatable and respect each other's anti-affinity.
fn check_nodes_over_time(
    config: &SimConfig,
    out: &RunOutput,
    requests: &[ResourceVec],
) -> Result<(), String> {
    let pods = out.pods.as_ref().ok_or("no pod records")?;
    // (time, is a start, pod) per node; at equal times ends come first.
    let mut changes: Vec<Vec<(SimTime, bool, usize)>> =
        vec![Vec::new(); config.nodes_total() as usize];
    for (i, p) in pods.iter().enumerate() {
        let (Some(node), Some(started)) = (p.node, p.started) else {
            continue;
        };
        let finished = p.finished.unwrap_or(SimTime::MAX);
        if finished > started {
            changes[node as usize].push((started, true, i));
            changes[node as usize].push((finished, false, i));
        }
    }
    for (node, mut changes) in changes.into_iter().enumerate() {
        changes.sort();
        let pool = &config.node_pools[pool_of(config, node as u32).ok_or("no pool")?];
        let mut used = ResourceVec::ZERO;
        let mut running: Vec<usize> = Vec::new();
        for (at, start, pod) in changes {
            if !start {
                used.sub_assign(&requests[pod]);
                running.retain(|&r| r != pod);
                continue;
            }
            if !used.fits_with(&requests[pod], &pool.allocatable) {
                return Err(format!(
                    "node {node} at {at}: pod {pod} starts next to {running:?}, over allocatable {:?}",
                    pool.allocatable.0
                ));
            }
            let labels_of = |p: usize| &config.workloads[pods[p].workload as usize].template.labels;
            let terms_of = |p: usize| {
                &config.workloads[pods[p].workload as usize]
                    .template
                    .anti_affinity
            };
            if let Some(&other) = running.iter().find(|&&other| {
                terms_of(pod)
                    .iter()
                    .any(|t| matching::labels_match(&t.match_labels, labels_of(other)))
                    || terms_of(other)
                        .iter()
                        .any(|t| matching::labels_match(&t.match_labels, labels_of(pod)))
            }) {
                return Err(format!(
                    "node {node} at {at}: pod {pod} runs next to pod {other} against anti-affinity"
                ));
            }
            used.add_assign(&requests[pod]);
            running.push(pod);
        }
    }
    Ok(())
}

// --- what the cases covered --------------------------------------------

#[derive(Default, Debug)]
struct Stats {
    cases: u64,
    control_plane: u64,
    with_failures: u64,
    pods: u64,
    max_pods: u64,
    binds: u64,
    cases_with_binds: u64,
    never_fits: u64,
    node_failures: u64,
    evicted: u64,
    failed: u64,
    pending_at_end: u64,
    nospace_refusals: u64,
    rejected_429: u64,
}

impl Stats {
    fn of(config: &SimConfig, out: &RunOutput) -> Stats {
        let s = &out.summary;
        let cp = out.control_plane.as_ref();
        Stats {
            cases: 1,
            control_plane: u64::from(config.control_plane.is_some()),
            with_failures: u64::from(s.node_failures > 0),
            pods: s.pods_total,
            max_pods: s.pods_total,
            binds: s.binds,
            cases_with_binds: u64::from(s.binds > 0),
            never_fits: s
                .unschedulable
                .iter()
                .filter(|g| g.never_fits)
                .map(|g| g.pods)
                .sum(),
            node_failures: s.node_failures,
            evicted: s.pods_evicted,
            failed: s.pods_failed,
            pending_at_end: s.pods_pending,
            nospace_refusals: cp.map_or(0, |c| c.pod_writes_refused_nospace),
            rejected_429: cp.map_or(0, |c| c.apiserver.rejected_429),
        }
    }

    fn add(&mut self, o: &Stats) {
        self.cases += o.cases;
        self.control_plane += o.control_plane;
        self.with_failures += o.with_failures;
        self.pods += o.pods;
        self.max_pods = self.max_pods.max(o.max_pods);
        self.binds += o.binds;
        self.cases_with_binds += o.cases_with_binds;
        self.never_fits += o.never_fits;
        self.node_failures += o.node_failures;
        self.evicted += o.evicted;
        self.failed += o.failed;
        self.pending_at_end += o.pending_at_end;
        self.nospace_refusals += o.nospace_refusals;
        self.rejected_429 += o.rejected_429;
    }
}

/// The config, one line per part: shorter than its `{:#?}` and complete.
fn describe(c: &SimConfig) -> String {
    let mut lines = vec![format!(
        "seed {}, end {:?}, sample_interval {:?}, extended resources {:?}, record_pods {}",
        c.seed,
        c.end,
        c.sample_interval,
        c.resource_names.extended(),
        c.record_pods
    )];
    for p in &c.node_pools {
        lines.push(format!(
            "pool {}: {} nodes, allocatable {:?}, labels {:?}, taints {:?}",
            p.name, p.count, p.allocatable.0, p.labels, p.taints
        ));
    }
    for w in &c.workloads {
        let t = &w.template;
        lines.push(format!("workload {}: {:?}", w.name, w.kind));
        lines.push(format!(
            "  requests {:?}, priority {}, labels {:?}, node_selector {:?}, node_affinity {:?}, \
             tolerations {:?}, anti_affinity {:?}",
            t.requests,
            t.priority,
            t.labels,
            t.node_selector,
            t.node_affinity,
            t.tolerations,
            t.anti_affinity
        ));
    }
    lines.push(format!("scheduler {:?}", c.scheduler));
    lines.push(format!("node_lifecycle {:?}", c.node_lifecycle));
    for f in &c.node_failures {
        lines.push(format!("node_failure {f:?}"));
    }
    for r in &c.node_failure_rates {
        lines.push(format!("node_failure_rate {r:?}"));
    }
    lines.push(format!("control_plane {:?}", c.control_plane));
    lines.join("\n")
}

// --- the tests ------------------------------------------------------------

#[test]
fn random_scenarios_keep_their_invariants_and_are_deterministic() {
    let (config, cases, seed) = runner_config();
    let mut runner = TestRunner::new(config);
    let stats = RefCell::new(Stats::default());
    // Shrinking runs passing cases too; they are not counted.
    let failed = Cell::new(false);
    let batches =
        prop::collection::vec(prop_oneof![1u64..=8, 1u64..=1000, Just(1u64 << 20)], 1..=4);
    let result = runner.run(&(scenario(), batches), |(config, batches)| {
        let case = check_case(&config, &batches).inspect_err(|_| failed.set(true))?;
        if !failed.get() {
            stats.borrow_mut().add(&case);
        }
        Ok(())
    });
    eprintln!(
        "{cases} random scenarios from seed {seed}: {:?}",
        stats.borrow()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (config, batches))) => panic!(
            "{reason}\nminimal failing case (batches {batches:?}):\n{}\n\
             (reproduce: KSIM_FUZZ_SEED={seed} KSIM_FUZZ_CASES={cases})",
            describe(&config)
        ),
        Err(e) => panic!("{e}"),
    }
    let stats = stats.into_inner();
    // The generator reaches the interesting paths (checked on CI's sample or more).
    if cases >= CI_CASES {
        assert!(
            stats.control_plane > 0 && stats.with_failures > 0 && stats.evicted > 0,
            "{stats:?}"
        );
    }
}

/// The output checks above can fail: each tampering with a valid output is caught.
#[test]
fn the_output_checks_catch_tampered_outputs() {
    let config = {
        let mut allocatable = ResourceVec::ZERO;
        allocatable.0[CPU] = 1000;
        allocatable.0[MEMORY] = 8 * GI;
        allocatable.0[PODS] = 110;
        let mut requests: [Request; NUM_RESOURCES] = std::array::from_fn(|_| Request::Fixed(0));
        requests[CPU] = Request::Fixed(1000);
        requests[MEMORY] = Request::Fixed(GI);
        requests[PODS] = Request::Fixed(1);
        SimConfig {
            name: "tamper".into(),
            seed: 1,
            end: SimTime::ZERO + secs(60),
            sample_interval: secs(10),
            resource_names: ResourceNames::new(vec![]).unwrap(),
            node_pools: vec![NodePoolSpec {
                name: "p".into(),
                count: 1,
                min: 0,
                max: 1,
                price_per_hour: 0.0,
                provisioning_delay: DEFAULT_PROVISIONING_DELAY,
                allocatable,
                labels: vec![],
                taints: vec![],
                daemonset_requests: ResourceVec::ZERO,
            }],
            workloads: vec![WorkloadSpec {
                name: "j".into(),
                kind: WorkloadKind::Job(JobSpec {
                    arrival: ArrivalProcess::Schedule {
                        times: vec![SimTime::ZERO + secs(5), SimTime::ZERO + secs(20)],
                    },
                    start: SimTime::ZERO,
                    stop: None,
                    max_pods: None,
                    duration: Distribution::constant(10e9).unwrap(),
                    failure_probability: 0.0,
                }),
                template: PodTemplate {
                    requests,
                    priority: 0,
                    labels: vec![],
                    node_selector: vec![],
                    node_affinity: vec![],
                    tolerations: vec![],
                    anti_affinity: vec![],
                    termination_grace_period: DEFAULT_TERMINATION_GRACE_PERIOD,
                    eviction: Default::default(),
                    limits: Default::default(),
                    ephemeral_storage_write_bytes_per_s: 0,
                },
                readiness_delay: None,
                model: Default::default(),
            }],
            scheduler: SchedulerConfig::default(),
            node_lifecycle: NodeLifecycleConfig::default(),
            node_failures: vec![],
            node_failure_rates: vec![],
            record_pods: true,
            control_plane: None,
            changes: vec![],
            autoscaling: Default::default(),
            node_autoscaler: None,
        }
    };
    let good = run_checked(&config, &[u64::MAX]).unwrap();
    check_output(&config, &good.output, &good.requests).unwrap();
    type Tamper = fn(&mut RunOutput);
    let tampers: [(&str, Tamper); 9] = [
        ("over allocatable", |o| {
            // The first 1-cpu pod runs on into the second's run.
            o.pods.as_mut().unwrap()[0].finished = Some(SimTime::ZERO + secs(25));
        }),
        ("out of order", |o| {
            let p = &mut o.pods.as_mut().unwrap()[0];
            p.started = p.finished.map(|f| f + secs(1));
        }),
        ("without a node", |o| {
            o.pods.as_mut().unwrap()[0].node = None
        }),
        ("do not add up", |o| o.summary.pods_pending += 1),
        ("timeline rows at", |o| {
            o.timeline.remove(2);
        }),
        ("binds", |o| o.summary.binds += 1),
        ("pods created at", |o| {
            o.pods.as_mut().unwrap()[1].created = SimTime::ZERO + secs(19);
        }),
        ("not started then", |o| {
            let p = &mut o.pods.as_mut().unwrap()[0];
            p.started = p.bound.map(|b| b + SimDuration::from_nanos(1));
        }),
        ("its duration is", |o| {
            let p = &mut o.pods.as_mut().unwrap()[1];
            p.finished = p.finished.map(|f| f + secs(1));
        }),
    ];
    for (expected, tamper) in tampers {
        let mut out = good.output.clone();
        tamper(&mut out);
        let error = check_output(&config, &out, &good.requests).unwrap_err();
        assert!(error.contains(expected), "{expected}: {error}");
    }
    // A placement the pod's filters exclude.
    let mut tainted = config.clone();
    tainted.node_pools[0].taints.push(Taint {
        key: "dedicated".into(),
        value: String::new(),
        effect: TaintEffect::NoExecute,
    });
    let error = check_output(&tainted, &good.output, &good.requests).unwrap_err();
    assert!(error.contains("untolerated"), "{error}");
    let mut selective = config.clone();
    selective.workloads[0].template.node_selector = vec![label("tier", "web")];
    let error = check_output(&selective, &good.output, &good.requests).unwrap_err();
    assert!(error.contains("selector excludes"), "{error}");
}

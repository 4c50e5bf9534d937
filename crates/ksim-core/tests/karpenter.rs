//! The Karpenter-like provisioner end to end: batching and packing onto the
//! cheapest instance types, emptiness and consolidation under budgets,
//! expiration and spot interruptions. The invariant checker runs at every
//! sample.

mod common;

use common::*;
use ksim_core::autoscale::karpenter::budget::{Budget, BudgetNodes};
use ksim_core::autoscale::karpenter::catalog::{
    InstanceType, NodePoolLimits, NodePoolRequirements, Operator, OverheadSettings, Requirement,
};
use ksim_core::autoscale::karpenter::consolidation::{ConsolidationPolicy, ConsolidationSettings};
use ksim_core::autoscale::karpenter::settings::{
    KarpenterNodePool, KarpenterSettings, DEFAULT_BATCH_IDLE_DURATION, DEFAULT_BATCH_MAX_DURATION,
};
use ksim_core::config::{NodeAutoscaler, NodePoolSpec, SimConfig, WorkloadSpec};
use ksim_core::controller::karpenter::expand::{expand_node_pool, NodePoolTemplate};
use ksim_core::metrics::{Decision, DecisionTarget, RunOutput};
use ksim_core::resources::ResourceVec;

const MIB: u64 = 1 << 20;

fn instance(
    name: &str,
    vcpus: u64,
    memory_gib: u64,
    max_pods: u64,
    usd_micro: u64,
) -> InstanceType {
    InstanceType {
        name: name.into(),
        family: name.split('.').next().unwrap().into(),
        cpu_millis: vcpus * 1000,
        memory_bytes: memory_gib * 1024 * MIB,
        gpu_count: 0,
        max_pods,
        on_demand_price_micro_usd_per_hour: usd_micro,
        spot_price_micro_usd_per_hour: usd_micro * 35 / 100,
        zones: vec!["zone-a".into()],
    }
}

/// A few types of `scenarios/catalogs/aws-sample.csv`, at its prices.
fn catalog() -> Vec<InstanceType> {
    vec![
        instance("c5.large", 2, 4, 29, 85_000),
        instance("m5.large", 2, 8, 29, 96_000),
        instance("m5.xlarge", 4, 16, 58, 192_000),
        instance("m5.2xlarge", 8, 32, 58, 384_000),
    ]
}

/// One NodePool over the catalog, with the given tweaks.
struct Setup {
    requirements: NodePoolRequirements,
    policy: ConsolidationPolicy,
    consolidate_after_s: Option<u64>,
    expire_after_s: Option<u64>,
    budgets: Vec<Budget>,
    limits: NodePoolLimits,
    spot_interruptions_per_hour: f64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            requirements: NodePoolRequirements::default(),
            policy: ConsolidationPolicy::WhenEmptyOrUnderutilized,
            consolidate_after_s: Some(30),
            expire_after_s: None,
            budgets: vec![Budget::default_budget()],
            limits: NodePoolLimits::default(),
            spot_interruptions_per_hour: 0.0,
        }
    }
}

fn karpenter_config(setup: Setup, workloads: Vec<WorkloadSpec>, end_s: u64) -> SimConfig {
    // A static pool so the scenario is not empty of pools before launches;
    // too small for any test pod.
    let mut system = pool("system", 1, 500, GI);
    system.max = 1;
    let template = NodePoolTemplate {
        name: "default".into(),
        requirements: setup.requirements,
        provisioning_delay: ksim_core::config::DEFAULT_PROVISIONING_DELAY,
        daemonset_requests: ResourceVec::ZERO,
        volume_bytes: ksim_core::autoscale::karpenter::catalog::DEFAULT_VOLUME_BYTES,
    };
    let (specs, offerings) =
        expand_node_pool(&template, &catalog(), &OverheadSettings::default(), None, 1);
    let mut pools: Vec<NodePoolSpec> = vec![system];
    pools.extend(specs);
    let mut config = config(pools, workloads, end_s);
    config.node_autoscaler = Some(NodeAutoscaler::Karpenter(KarpenterSettings {
        node_pools: vec![KarpenterNodePool {
            name: "default".into(),
            offerings,
            limits: setup.limits,
            consolidation: ConsolidationSettings {
                policy: setup.policy,
                consolidate_after: setup.consolidate_after_s.map(secs),
                spot_to_spot: false,
            },
            expire_after: setup.expire_after_s.map(secs),
            budgets: setup.budgets,
        }],
        batch_idle_duration: DEFAULT_BATCH_IDLE_DURATION,
        batch_max_duration: DEFAULT_BATCH_MAX_DURATION,
        spot_interruptions_per_hour: setup.spot_interruptions_per_hour,
    }));
    config
}

fn decisions<'a>(out: &'a RunOutput, action: &str) -> Vec<&'a Decision> {
    out.decisions
        .iter()
        .filter(|d| d.action == action)
        .collect()
}

/// Managed nodes at the end, per instance type (pools named
/// `default/<type>/<capacity>/<zone>`).
fn nodes_at_end(out: &RunOutput, instance_type: &str) -> u64 {
    out.summary
        .node_pools
        .iter()
        .filter(|p| p.name.split('/').nth(1) == Some(instance_type))
        .map(|p| p.nodes_at_end)
        .sum()
}

fn managed_nodes_at_end(out: &RunOutput) -> u64 {
    out.summary.node_pools[1..]
        .iter()
        .map(|p| p.nodes_at_end)
        .sum()
}

fn launched(out: &RunOutput) -> u64 {
    out.summary.node_autoscaler.as_ref().unwrap().nodes_added
}

fn launch_type(d: &Decision) -> &str {
    d.inputs
        .split("; ")
        .find_map(|kv| kv.strip_prefix("instance_type="))
        .unwrap()
}

#[test]
fn a_pending_pod_launches_the_cheapest_type_that_fits() {
    // 1 core and 2 GiB: c5.large (cheapest) holds it.
    let web = deployment("web", template(1000, 2 * GI), 1);
    let out = run(karpenter_config(Setup::default(), vec![web], 300));
    let launches = decisions(&out, "launch");
    assert_eq!(launches.len(), 1, "{launches:?}");
    assert_eq!(launch_type(launches[0]), "c5.large");
    assert!(launches[0].inputs.contains("price=0.085000"));
    assert_eq!(out.summary.pods_running, 1);
    assert_eq!(nodes_at_end(&out, "c5.large"), 1);
}

#[test]
fn memory_rules_out_the_cheapest_type() {
    // 4 GiB does not fit c5.large's allocatable (about 3 GiB): m5.large.
    let web = deployment("web", template(1000, 4 * GI), 1);
    let out = run(karpenter_config(Setup::default(), vec![web], 300));
    let launches = decisions(&out, "launch");
    assert_eq!(launches.len(), 1, "{launches:?}");
    assert_eq!(launch_type(launches[0]), "m5.large");
}

#[test]
fn a_batch_of_small_pods_packs_onto_few_nodes() {
    // Forty 250m pods: the system node takes two, an m5.2xlarge 31 of the
    // rest (7910m allocatable), and the last seven fit the cheaper m5.large
    // (1930m): two nodes.
    let web = deployment("web", template(250, 512 * MIB), 40);
    let out = run(karpenter_config(Setup::default(), vec![web], 600));
    assert_eq!(launched(&out), 2, "{:?}", decisions(&out, "launch"));
    assert_eq!(nodes_at_end(&out, "m5.2xlarge"), 1);
    assert_eq!(nodes_at_end(&out, "m5.large"), 1);
    assert_eq!(out.summary.pods_running, 40);
    assert_eq!(
        out.summary.node_autoscaler.as_ref().unwrap().scale_ups,
        1,
        "one batch"
    );
}

#[test]
fn a_pod_too_big_for_every_type_launches_nothing_and_is_reported() {
    let huge = deployment("huge", template(1000, 1024 * GI), 1);
    let out = run(karpenter_config(Setup::default(), vec![huge], 600));
    assert!(decisions(&out, "launch").is_empty());
    let reports = decisions(&out, "no_scale_up");
    assert_eq!(reports.len(), 1, "reported once: {reports:?}");
    assert_eq!(reports[0].target, DecisionTarget::Workload(0));
    assert_eq!(
        out.summary.node_autoscaler.as_ref().unwrap().pods_no_group,
        1
    );
    assert_eq!(managed_nodes_at_end(&out), 0);
}

#[test]
fn nodepool_limits_cap_the_launches() {
    // Ten 1.5-core pods would take two m5.2xlarge. Under a 10-core limit
    // the first claim reserves its largest option (8 cores), so the second
    // may only be a 2-core type, which holds one pod.
    let web = deployment("web", template(1500, GI), 10);
    let setup = Setup {
        limits: NodePoolLimits {
            cpu_millis: Some(10_000),
            memory_bytes: None,
        },
        ..Setup::default()
    };
    let out = run(karpenter_config(setup, vec![web], 600));
    let launches = decisions(&out, "launch");
    assert_eq!(launched(&out), 2, "{launches:?}");
    assert_eq!(nodes_at_end(&out, "m5.2xlarge"), 1);
    assert_eq!(nodes_at_end(&out, "c5.large"), 1);
    assert_eq!(out.summary.pods_running, 6);
    let reports = decisions(&out, "no_scale_up");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].reason.contains("limits"), "{reports:?}");
}

#[test]
fn an_empty_node_goes_after_consolidate_after() {
    // One 60 s job pod: its node empties at about 120 s.
    let batch = job("batch", template(1000, GI), &[0], 60);
    let out = run(karpenter_config(Setup::default(), vec![batch], 600));
    let deletes = decisions(&out, "consolidate_delete");
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].reason, "empty");
    let launch_at = decisions(&out, "launch")[0].at;
    // Provisioning (60 s), the pod's 60 s, then 30 s quiet.
    assert!(deletes[0].at.0 >= launch_at.0 + secs(150).0, "{deletes:?}");
    assert_eq!(managed_nodes_at_end(&out), 0);
}

/// A 1-core pod on a c5.large, then a 2.5-core pod that needs an
/// m5.xlarge, where the first pod also fits.
fn two_nodes_one_movable(policy: ConsolidationPolicy) -> RunOutput {
    let steady = deployment("steady", template(1000, GI), 1);
    let long = job("long", template(2500, 2 * GI), &[120], 3600);
    let setup = Setup {
        policy,
        consolidate_after_s: Some(60),
        ..Setup::default()
    };
    run(karpenter_config(setup, vec![steady, long], 900))
}

#[test]
fn underutilized_node_whose_pods_fit_elsewhere_is_deleted() {
    let out = two_nodes_one_movable(ConsolidationPolicy::WhenEmptyOrUnderutilized);
    let deletes = decisions(&out, "consolidate_delete");
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(
        deletes[0].reason.starts_with("underutilized"),
        "{deletes:?}"
    );
    assert_eq!(nodes_at_end(&out, "c5.large"), 0);
    assert_eq!(nodes_at_end(&out, "m5.xlarge"), 1);
    assert_eq!(out.summary.pods_running, 2);
}

#[test]
fn when_empty_keeps_a_node_with_pods() {
    let out = two_nodes_one_movable(ConsolidationPolicy::WhenEmpty);
    assert!(decisions(&out, "consolidate_delete").is_empty());
    assert_eq!(nodes_at_end(&out, "c5.large"), 1);
    assert_eq!(nodes_at_end(&out, "m5.xlarge"), 1);
}

/// Two long-lived 1.5-core pods and a 120 s one share an m5.2xlarge; once
/// the short one ends, the two fit an m5.xlarge at half the price.
#[test]
fn a_node_is_replaced_by_a_strictly_cheaper_one() {
    // upstream: pkg/controllers/disruption/consolidation_test.go, Replace,
    // "can replace node".
    let web = deployment("web", template(1500, GI), 2);
    let short = job("short", template(1500, GI), &[0], 120);
    let out = run(karpenter_config(Setup::default(), vec![web, short], 900));
    let launches = decisions(&out, "launch");
    assert_eq!(launch_type(launches[0]), "m5.2xlarge", "{launches:?}");
    let replaces = decisions(&out, "consolidate_replace");
    assert_eq!(replaces.len(), 1, "{replaces:?}");
    assert!(replaces[0].inputs.contains("to=m5.xlarge"), "{replaces:?}");
    assert_eq!(nodes_at_end(&out, "m5.2xlarge"), 0);
    assert_eq!(nodes_at_end(&out, "m5.xlarge"), 1);
    assert_eq!(out.summary.pods_running, 2);
    assert_eq!(
        out.summary.node_autoscaler.as_ref().unwrap().nodes_replaced,
        1
    );
}

#[test]
fn no_replacement_when_the_cheapest_fit_costs_the_same() {
    // upstream: pkg/controllers/disruption/consolidation_test.go, Replace,
    // "won't replace on-demand node if on-demand replacement is more
    // expensive", at its boundary: an equal price does not replace either.
    // Three long-lived 1.5-core pods need the m5.2xlarge they are on.
    let web = deployment("web", template(1500, GI), 3);
    let out = run(karpenter_config(Setup::default(), vec![web], 900));
    assert_eq!(launched(&out), 1);
    assert!(decisions(&out, "consolidate_replace").is_empty());
    assert!(decisions(&out, "consolidate_delete").is_empty());
    assert_eq!(nodes_at_end(&out, "m5.2xlarge"), 1);
}

/// Ten 7-core job pods, one per m5.2xlarge, all ending together; returns
/// the deletions per instant.
fn ten_empty_nodes(budgets: Vec<Budget>) -> Vec<usize> {
    let batch = job("batch", template(7000, GI), &[0; 10], 60);
    let setup = Setup {
        budgets,
        ..Setup::default()
    };
    let out = run(karpenter_config(setup, vec![batch], 900));
    assert_eq!(launched(&out), 10);
    assert_eq!(managed_nodes_at_end(&out), 0);
    let deletes = decisions(&out, "consolidate_delete");
    let mut per_instant: Vec<usize> = Vec::new();
    let mut last = None;
    for d in deletes {
        if last == Some(d.at) {
            *per_instant.last_mut().unwrap() += 1;
        } else {
            per_instant.push(1);
            last = Some(d.at);
        }
    }
    per_instant
}

#[test]
fn should_allow_all_empty_nodes_to_be_disrupted() {
    // upstream: pkg/controllers/disruption/emptiness_test.go, Budgets,
    // "should allow all empty nodes to be disrupted" (nodes: 100%).
    let budget = Budget {
        nodes: BudgetNodes::Percent(100),
        reasons: None,
        active: true,
    };
    assert_eq!(ten_empty_nodes(vec![budget]), vec![10]);
}

#[test]
fn should_only_allow_3_empty_nodes_to_be_disrupted() {
    // upstream: pkg/controllers/disruption/emptiness_test.go, Budgets,
    // "should only allow 3 empty nodes to be disrupted" (nodes: 30%).
    let budget = Budget {
        nodes: BudgetNodes::Percent(30),
        reasons: None,
        active: true,
    };
    let per_instant = ten_empty_nodes(vec![budget]);
    assert_eq!(per_instant[0], 3, "{per_instant:?}");
    assert!(per_instant.iter().all(|&n| n <= 3), "{per_instant:?}");
}

#[test]
fn the_default_budget_disrupts_one_of_ten_nodes_at_a_time() {
    let per_instant = ten_empty_nodes(vec![Budget::default_budget()]);
    assert_eq!(per_instant, vec![1; 10]);
}

#[test]
fn an_expired_node_is_drained_and_its_pod_moves_to_a_new_node() {
    let web = deployment("web", template(1000, GI), 1);
    let setup = Setup {
        expire_after_s: Some(300),
        consolidate_after_s: None,
        ..Setup::default()
    };
    let out = run(karpenter_config(setup, vec![web], 900));
    let expired = decisions(&out, "expire");
    assert!(!expired.is_empty());
    let first_launch = decisions(&out, "launch")[0].at;
    assert!(
        expired[0].at.0 >= first_launch.0 + secs(360).0,
        "{expired:?}"
    );
    assert!(launched(&out) >= 2);
    assert_eq!(out.summary.pods_running, 1);
    assert_eq!(
        out.summary.node_autoscaler.as_ref().unwrap().nodes_expired as usize,
        expired.len()
    );
}

fn spot_setup(rate: f64) -> Setup {
    Setup {
        requirements: NodePoolRequirements {
            capacity_types: Some(Requirement {
                operator: Operator::In,
                values: vec!["spot".into(), "on-demand".into()],
            }),
            ..Default::default()
        },
        spot_interruptions_per_hour: rate,
        ..Setup::default()
    }
}

#[test]
fn spot_is_preferred_and_interruptions_are_replaced() {
    let web = deployment("web", template(1000, GI), 2);
    let out = run(karpenter_config(spot_setup(6.0), vec![web], 3600));
    let first = decisions(&out, "launch")[0];
    assert!(first.inputs.contains("capacity_type=spot"), "{first:?}");
    let interruptions = decisions(&out, "spot_interruption");
    assert!(!interruptions.is_empty());
    let summary = out.summary.node_autoscaler.as_ref().unwrap();
    assert_eq!(summary.spot_interruptions as usize, interruptions.len());
    assert!(launched(&out) > 1, "interrupted capacity is launched again");
    assert_eq!(out.summary.pods_running, 2);
}

#[test]
fn without_a_rate_spot_nodes_are_never_interrupted() {
    let web = deployment("web", template(1000, GI), 2);
    let out = run(karpenter_config(spot_setup(0.0), vec![web], 3600));
    assert!(decisions(&out, "spot_interruption").is_empty());
}

#[test]
fn same_seed_same_decisions() {
    let make = || {
        let web = deployment("web", template(700, GI), 12);
        let batch = job("batch", template(1500, 2 * GI), &[0, 100, 200, 300], 400);
        karpenter_config(spot_setup(3.0), vec![web, batch], 3600)
    };
    let a = run(make());
    let b = run(make());
    assert!(!a.decisions.is_empty());
    assert_eq!(format!("{:?}", a.decisions), format!("{:?}", b.decisions));
}

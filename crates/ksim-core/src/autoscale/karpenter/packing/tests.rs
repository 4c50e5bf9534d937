//! Ported from upstream's `pkg/controllers/provisioning/scheduling/suite_test.go`
//! (Describe "Binpacking", "In-Flight Nodes") and `pkg/controllers/provisioning/suite_test.go`
//! (the NodePool limits cases). Upstream's fake cloud provider becomes a fixture of
//! our own: `small-instance-type` (2 cpu, 2 GiB, 5 pods) and
//! `default-instance-type` (4 cpu, 4 GiB, 5 pods), priced by size, with
//! allocatable equal to capacity.

use super::*;
use crate::autoscale::karpenter::catalog::CapacityType;
use crate::resources::PODS;

const GIB: u64 = 1 << 30;

fn res(cpu_millis: u64, memory_bytes: u64, pods: u64) -> ResourceVec {
    let mut v = ResourceVec::ZERO;
    v.0[CPU] = cpu_millis;
    v.0[MEMORY] = memory_bytes;
    v.0[PODS] = pods;
    v
}

fn option(name: &str, cpu_millis: u64, memory_bytes: u64, pods: u64, price: u64) -> LaunchOption {
    LaunchOption {
        instance_type: name.to_string(),
        capacity: res(cpu_millis, memory_bytes, 0),
        allocatable: res(cpu_millis, memory_bytes, pods),
        offering: Offering {
            capacity_type: CapacityType::OnDemand,
            zone: "test-zone-1".to_string(),
            price_micro_usd_per_hour: price,
        },
    }
}

fn fake_options() -> Vec<LaunchOption> {
    let mut o = vec![
        option("default-instance-type", 4000, 4 * GIB, 5, 400_000),
        option("small-instance-type", 2000, 2 * GIB, 5, 200_000),
    ];
    sort_by_price(&mut o);
    o
}

fn pods(prefix: &str, n: usize, cpu_millis: u64, memory_bytes: u64) -> Vec<PendingPod> {
    (0..n)
        .map(|i| PendingPod {
            name: format!("{prefix}-{i:03}"),
            requests: res(cpu_millis, memory_bytes, 1),
        })
        .collect()
}

fn input(options: &[LaunchOption]) -> PackingInput<'_> {
    PackingInput {
        existing: &[],
        options,
        daemon_overhead: ResourceVec::ZERO,
        limits: NodePoolLimits::default(),
        pool_usage: ResourceVec::ZERO,
    }
}

fn launched<'a>(out: &PackingOutcome, options: &'a [LaunchOption]) -> Vec<&'a str> {
    out.new_claims
        .iter()
        .map(|c| c.cheapest(options).instance_type.as_str())
        .collect()
}

// upstream: scheduling/suite_test.go, "should schedule a small pod on the
// smallest possible instance type"
#[test]
fn small_pod_goes_to_the_smallest_type() {
    let opts = fake_options();
    let out = pack(&pods("p", 1, 0, 2_000_000_000), &input(&opts));
    assert_eq!(launched(&out, &opts), ["small-instance-type"]);
}

// upstream: scheduling/suite_test.go, "should schedule multiple small pods on
// the smallest possible instance type"
#[test]
fn several_small_pods_share_one_smallest_node() {
    let opts = fake_options();
    let out = pack(&pods("p", 5, 0, 10_000_000), &input(&opts));
    assert_eq!(launched(&out, &opts), ["small-instance-type"]);
    assert_eq!(out.new_claims[0].pods.len(), 5);
}

// upstream: scheduling/suite_test.go, "should create new nodes when a node is
// at capacity"
#[test]
fn new_nodes_when_a_node_is_full() {
    let opts = fake_options();
    let out = pack(&pods("p", 40, 0, 1_800_000_000), &input(&opts));
    assert_eq!(out.new_claims.len(), 20);
    assert!(launched(&out, &opts)
        .iter()
        .all(|t| *t == "default-instance-type"));
    assert!(out.unschedulable.is_empty());
}

// upstream: scheduling/suite_test.go, "should pack small and large pods together"
#[test]
fn small_pods_fill_the_gaps_left_by_large_ones() {
    let opts = fake_options();
    let mut all = pods("small", 20, 0, 400_000_000);
    all.extend(pods("large", 40, 0, 1_800_000_000));
    let out = pack(&all, &input(&opts));
    assert_eq!(out.new_claims.len(), 20);
    assert!(out.new_claims.iter().all(|c| c.pods.len() == 3));
    assert!(launched(&out, &opts)
        .iter()
        .all(|t| *t == "default-instance-type"));
}

// upstream: scheduling/suite_test.go, "should pack nodes tightly" (five fake
// types of 1..5 cpus, priced by size)
#[test]
fn nodes_are_packed_tightly() {
    let mut opts: Vec<LaunchOption> = (1..=5u64)
        .map(|c| option(&format!("type-{c}"), c * 1000, c * GIB, 5, c * 100_000))
        .collect();
    sort_by_price(&mut opts);
    let mut batch = pods("big", 1, 4500, 0);
    batch.extend(pods("little", 1, 1000, 0));
    let out = pack(&batch, &input(&opts));
    assert_eq!(launched(&out, &opts), ["type-5", "type-1"]);
}

// upstream: scheduling/suite_test.go, "should not schedule pods that exceed
// every instance type's capacity"
#[test]
fn a_pod_larger_than_every_type_is_unschedulable() {
    let opts = fake_options();
    let out = pack(&pods("p", 1, 0, 2 << 40), &input(&opts));
    assert!(out.new_claims.is_empty());
    assert_eq!(out.unschedulable, ["p-000"]);
}

// upstream: scheduling/suite_test.go, "should create new nodes when a node is
// at capacity due to pod limits per node"
#[test]
fn the_pod_count_limit_opens_new_nodes() {
    let opts = fake_options();
    let out = pack(&pods("p", 25, 1, 1), &input(&opts));
    assert_eq!(out.new_claims.len(), 5);
    assert!(launched(&out, &opts)
        .iter()
        .all(|t| *t == "small-instance-type"));
}

// upstream: scheduling/suite_test.go, "should select for valid instance types,
// regardless of price": sizes and prices do not correlate; every type stays
// an option and the cheapest is launched.
#[test]
fn every_fitting_type_stays_an_option_and_the_cheapest_launches() {
    let mut opts = vec![
        option("medium", 2000, 2 * GIB, 110, 3_000_000),
        option("small", 1000, GIB, 110, 2_000_000),
        option("large", 4000, 4 * GIB, 110, 1_000_000),
    ];
    sort_by_price(&mut opts);
    let out = pack(&pods("p", 1, 1, 1 << 20), &input(&opts));
    assert_eq!(launched(&out, &opts), ["large"]);
    let names: Vec<&str> = out.new_claims[0]
        .options
        .iter()
        .map(|&o| opts[o].instance_type.as_str())
        .collect();
    assert_eq!(names, ["large", "small", "medium"]);
}

// upstream: scheduling/suite_test.go, "should not launch a second node if there
// is an in-flight node that can support the pod"
#[test]
fn in_flight_capacity_is_used_before_launching() {
    let opts = fake_options();
    let existing = [ExistingNode {
        name: "in-flight".to_string(),
        allocatable: res(2000, 2 * GIB, 5),
        requested: res(10, 0, 1),
    }];
    let inp = PackingInput {
        existing: &existing,
        ..input(&opts)
    };
    let out = pack(&pods("p", 1, 10, 0), &inp);
    assert!(out.new_claims.is_empty());
    assert_eq!(
        out.placements,
        [("p-000".to_string(), Placement::Existing(0))]
    );
}

fn cpu_limited(options: &[LaunchOption], cpu_millis: u64) -> PackingInput<'_> {
    PackingInput {
        limits: NodePoolLimits {
            cpu_millis: Some(cpu_millis),
            memory_bytes: None,
        },
        ..input(options)
    }
}

// upstream: provisioning/suite_test.go, "should schedule if limits would be
// met" (a 2-cpu limit still admits a 2-cpu node for a 1.75-cpu pod)
#[test]
fn a_node_that_meets_the_limit_exactly_launches() {
    let opts = fake_options();
    let out = pack(&pods("p", 1, 1750, 0), &cpu_limited(&opts, 2000));
    assert_eq!(launched(&out, &opts), ["small-instance-type"]);
}

// upstream: provisioning/suite_test.go, "should partially schedule if limits
// would be exceeded" (3-cpu limit, two 1.5-cpu pods that cannot share a
// node: here they fit no 2-cpu node together, and the 4-cpu type is over
// the limit)
#[test]
fn limits_schedule_part_of_the_batch() {
    let opts = fake_options();
    let out = pack(&pods("p", 2, 1500, 0), &cpu_limited(&opts, 3000));
    assert_eq!(launched(&out, &opts), ["small-instance-type"]);
    assert_eq!(out.unschedulable, ["p-001"]);
}

// upstream: provisioning/suite_test.go, "should not schedule when limits are
// exceeded" (limit 20 cpu, the pool already holds 100)
#[test]
fn a_pool_over_its_limit_launches_nothing() {
    let opts = fake_options();
    let inp = PackingInput {
        pool_usage: res(100_000, 0, 0),
        ..cpu_limited(&opts, 20_000)
    };
    let out = pack(&pods("p", 1, 100, 0), &inp);
    assert!(out.new_claims.is_empty());
    assert_eq!(out.unschedulable, ["p-000"]);
}

#[test]
fn limits_subtract_the_largest_option_of_each_claim() {
    // One tiny pod could launch as either type, so the 6-cpu limit loses
    // 4 cpus (the larger option) and only a small type fits the next claim.
    let opts = fake_options();
    let inp = PackingInput {
        limits: NodePoolLimits {
            cpu_millis: Some(6000),
            memory_bytes: None,
        },
        ..input(&opts)
    };
    let out = pack(&pods("p", 6, 1, 1), &inp);
    assert_eq!(out.new_claims.len(), 2);
    let second: Vec<&str> = out.new_claims[1]
        .options
        .iter()
        .map(|&o| opts[o].instance_type.as_str())
        .collect();
    assert_eq!(second, ["small-instance-type"]);
}

#[test]
fn daemonset_overhead_is_reserved_on_new_nodes() {
    let opts = fake_options();
    let inp = PackingInput {
        daemon_overhead: res(500, 0, 1),
        ..input(&opts)
    };
    // 1.6 cpu fits a 2-cpu node alone, but not with 0.5 cpu of daemonsets.
    let out = pack(&pods("p", 1, 1600, 0), &inp);
    assert_eq!(launched(&out, &opts), ["default-instance-type"]);
}

#[test]
fn pods_sort_by_cpu_then_memory_descending_then_name() {
    let mut ps = vec![
        PendingPod {
            name: "b".into(),
            requests: res(100, 5, 1),
        },
        PendingPod {
            name: "a".into(),
            requests: res(100, 5, 1),
        },
        PendingPod {
            name: "c".into(),
            requests: res(100, 9, 1),
        },
        PendingPod {
            name: "d".into(),
            requests: res(900, 1, 1),
        },
    ];
    sort_pods(&mut ps);
    let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["d", "c", "a", "b"]);
}

#[test]
fn launch_names_at_most_the_sixty_cheapest_types() {
    let mut opts: Vec<LaunchOption> = (0..100u64)
        .map(|i| option(&format!("t{i:03}"), 4000, 4 * GIB, 110, 1_000_000 - i))
        .collect();
    sort_by_price(&mut opts);
    let out = pack(&pods("p", 1, 1, 1), &input(&opts));
    let claim = &out.new_claims[0];
    assert_eq!(claim.options.len(), 100);
    assert_eq!(claim.launch_candidates().len(), MAX_INSTANCE_TYPES);
    assert_eq!(claim.cheapest(&opts).instance_type, "t099");
    let worst = claim
        .launch_candidates()
        .last()
        .map(|&o| &opts[o].instance_type);
    assert_eq!(worst.map(String::as_str), Some("t040"));
}

#[test]
fn the_sample_catalog_launches_the_cheapest_fitting_type() {
    use crate::autoscale::karpenter::catalog::tests::sample_catalog;
    let catalog = sample_catalog();
    let opts = launch_options(
        &catalog,
        &NodePoolRequirements::default(),
        &OverheadSettings::default(),
        None,
    );
    // 3 cpu and 3 GiB: c5.xlarge (4 cpu, 8 GiB, $0.17) is the cheapest fit;
    // c6i.xlarge has the same price and sorts after it by name.
    let out = pack(&pods("p", 1, 3000, 3 * GIB), &input(&opts));
    let claim = &out.new_claims[0];
    assert_eq!(claim.cheapest(&opts).instance_type, "c5.xlarge");
    assert_eq!(opts[claim.options[1]].instance_type, "c6i.xlarge");
    // No GPU type is on-demand cheaper than the general types, and the
    // default requirements are on-demand only.
    assert_eq!(
        claim.cheapest(&opts).offering.capacity_type,
        CapacityType::OnDemand
    );
}

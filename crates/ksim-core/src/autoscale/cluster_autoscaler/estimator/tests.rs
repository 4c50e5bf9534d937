//! Ported from upstream's `estimator/binpacking_estimator_test.go`
//! (TestBinpackingEstimate, and BenchmarkBinpackingEstimate's expected
//! counts). Its template: the given millicores, memory in MiB, 10 pods; its
//! pods request memory in bytes. Constraints the scheduler would check
//! (host port, topology spreading) are expressed through the predicate.

use super::*;
use crate::resources::PODS;

const MIB: u64 = 1024 * 1024;

fn template(cpu_millis: u64, memory_mib: u64, pods: u64) -> NodeTemplate {
    let mut allocatable = ResourceVec::ZERO;
    allocatable.0[CPU] = cpu_millis;
    allocatable.0[MEMORY] = memory_mib * MIB;
    allocatable.0[PODS] = pods;
    NodeTemplate {
        allocatable,
        daemonset_requests: ResourceVec::ZERO,
    }
}

fn group(cpu_millis: u64, memory_bytes: u64, count: u32) -> PodGroup {
    let mut requests = ResourceVec::ZERO;
    requests.0[CPU] = cpu_millis;
    requests.0[MEMORY] = memory_bytes;
    requests.0[PODS] = 1;
    PodGroup { requests, count }
}

fn any(_: usize, _: usize, _: &[EstimatedNode]) -> bool {
    true
}

// upstream: TestBinpackingEstimate "simple resource-based binpacking"
#[test]
fn simple_resource_based_binpacking() {
    let groups = [group(350, 1000, 10)];
    let e = estimate(&groups, &template(350 * 3 - 50, 2 * 1000, 10), 0, any);
    assert_eq!(e.node_count(), 5);
    assert_eq!(e.scheduled_pods(), 10);
}

// upstream: TestBinpackingEstimate "pods-per-node bound binpacking"
#[test]
fn pods_per_node_bound_binpacking() {
    let groups = [group(10, 100, 20)];
    let e = estimate(&groups, &template(10000, 20000, 10), 0, any);
    assert_eq!(e.node_count(), 2);
    assert_eq!(e.scheduled_pods(), 20);
}

// upstream: TestBinpackingEstimate "hostport conflict forces pod-per-node"
#[test]
fn host_port_conflict_forces_pod_per_node() {
    let groups = [group(200, 1000, 8)];
    let one_per_node = |g: usize, n: usize, nodes: &[EstimatedNode]| nodes[n].group_pods[g] == 0;
    let e = estimate(&groups, &template(1000, 5000, 10), 0, one_per_node);
    assert_eq!(e.node_count(), 8);
    assert_eq!(e.scheduled_pods(), 8);
}

// upstream: TestBinpackingEstimate "limiter cuts binpacking"
#[test]
fn limiter_cuts_binpacking() {
    let groups = [group(500, 1000, 20)];
    let e = estimate(&groups, &template(1000, 5000, 10), 5, any);
    assert_eq!(e.node_count(), 5);
    assert_eq!(e.scheduled_pods(), 10);
    assert_eq!(e.unscheduled(&groups), vec![10]);
}

// upstream: TestBinpackingEstimate "decreasing ordered pods are processed first"
#[test]
fn decreasing_ordered_pods_are_processed_first() {
    let groups = [group(50, 1000, 10), group(500, 1000, 10)];
    let e = estimate(&groups, &template(1000, 5000, 10), 5, any);
    assert_eq!(e.order, vec![1, 0]);
    assert_eq!(e.node_count(), 5);
    // Only the large pods were placed.
    assert_eq!(e.scheduled, vec![0, 10]);
}

// upstream: TestBinpackingEstimate "hostname topology spreading with
// maxSkew=2 forces 2 pods/node" (an old node in another zone holds none, so
// each hostname domain may take two)
#[test]
fn hostname_spreading_forces_two_pods_per_node() {
    let groups = [group(20, 100, 8)];
    let at_most_two = |g: usize, n: usize, nodes: &[EstimatedNode]| nodes[n].group_pods[g] < 2;
    let e = estimate(&groups, &template(1000, 5000, 10), 0, at_most_two);
    assert_eq!(e.node_count(), 4);
    assert_eq!(e.scheduled_pods(), 8);
}

// upstream: TestBinpackingEstimate "zonal topology spreading with maxSkew=2
// only allows 2 pods to schedule" (every new node is in one zone, the old
// node's zone holds none: the new zone may take two in all)
#[test]
fn zonal_spreading_allows_two_pods_in_all() {
    let groups = [group(20, 100, 8)];
    let zone_takes_two = |g: usize, _: usize, nodes: &[EstimatedNode]| {
        nodes.iter().map(|n| n.group_pods[g]).sum::<u32>() < 2
    };
    let e = estimate(&groups, &template(1000, 5000, 10), 0, zone_takes_two);
    assert_eq!(e.node_count(), 1);
    assert_eq!(e.scheduled_pods(), 2);
    // The node added for the third pod stayed empty and is not counted.
    assert_eq!(e.nodes.len(), 2);
}

// upstream: BenchmarkBinpackingEstimate's expected counts
#[test]
fn benchmark_shape_packs_as_upstream() {
    let groups = [group(50, 100, 50_000), group(95, 190, 1000)];
    let e = estimate(&groups, &template(1000, 5000, 100), 3000, any);
    assert_eq!(e.node_count(), 2595);
    assert_eq!(e.scheduled_pods(), 51_000);
}

#[test]
fn pod_larger_than_template_adds_no_useful_node() {
    let groups = [group(2000, 100, 3), group(100, 100, 2)];
    let e = estimate(&groups, &template(1000, 5000, 10), 0, any);
    assert_eq!(e.scheduled, vec![0, 2]);
    assert_eq!(e.unscheduled(&groups), vec![3, 0]);
    // One empty node tried for the big pods; the small pods reuse it.
    assert_eq!(e.nodes.len(), 1);
    assert_eq!(e.node_count(), 1);
}

#[test]
fn daemonset_requests_take_template_room() {
    let mut t = template(1000, 5000, 10);
    t.daemonset_requests.0[CPU] = 500;
    t.daemonset_requests.0[PODS] = 1;
    let groups = [group(250, 100, 4)];
    let e = estimate(&groups, &t, 0, any);
    assert_eq!(e.node_count(), 2);
    assert_eq!(e.nodes[0].requested.0[CPU], 1000);
}

#[test]
fn later_groups_fill_earlier_nodes_first_fit() {
    // Two 600m pods each open a node; the 300m pods go back to the first.
    let groups = [group(600, 100, 2), group(300, 100, 2)];
    let e = estimate(&groups, &template(1000, 5000, 10), 0, any);
    assert_eq!(e.node_count(), 2);
    assert_eq!(e.nodes[0].group_pods, vec![1, 1]);
    assert_eq!(e.nodes[1].group_pods, vec![1, 1]);
}

#[test]
fn order_is_stable_for_equal_scores() {
    let groups = [group(100, 0, 1), group(0, 200 * MIB, 1), group(100, 0, 1)];
    // 100/1000 = 0.1 each; 200 MiB / 2000 MiB = 0.1 as well.
    assert_eq!(
        decreasing_order(&groups, &template(1000, 2000, 10)),
        vec![0, 1, 2]
    );
    let groups = [group(100, 0, 1), group(300, 0, 1)];
    assert_eq!(
        decreasing_order(&groups, &template(1000, 2000, 10)),
        vec![1, 0]
    );
}

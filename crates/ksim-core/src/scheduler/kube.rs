//! kube-scheduler's node selection (pkg/scheduler/schedule_one.go): filter
//! nodes, in the node tree's zone-interleaved order (internal/cache/node_tree.go),
//! round-robin from where the last cycle stopped until
//! numFeasibleNodesToFind pass, score those with the default plugins
//! ([`super::score`]), take the highest total with a random tie-break.
//!
//! Differences from upstream:
//! - Filtering is sequential, so exactly the nodes up to the last feasible one
//!   needed are examined; upstream's parallel filter may examine a few more.
//! - Ties are broken by reservoir sampling over the top scores, as upstream's
//!   `selectHost` did before it moved to a heap with random keys (same law).

use std::ops::Range;

use rand::Rng;

use super::score::{
    balanced_allocation_score, balanced_allocation_skipped, cpu_memory, non_zero_requests,
    resources_fit_score, taint_toleration_score, Allocatable, CpuMemory,
    DEFAULT_MEMORY_REQUEST_BYTES, DEFAULT_MILLI_CPU_REQUEST, MAX_NODE_SCORE,
};
use super::{Diagnosis, PlacementResult};
use crate::cluster::{ClusterState, CompiledTemplate, FilterReason};
use crate::config::{SchedulerConfig, ScoringStrategy};
use crate::ids::{NodeId, WorkloadId};
use crate::resources::{ResourceVec, NUM_RESOURCES};
use crate::rng::SimRng;
use crate::taints::ControllerTaints;

/// Upstream `minFeasibleNodesToFind`.
const MIN_FEASIBLE_NODES_TO_FIND: u32 = 100;
/// Upstream `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;

/// How many feasible nodes a cycle looks for before it stops filtering
/// (upstream `numFeasibleNodesToFind`); `percentage` 0 means adaptive.
pub fn num_feasible_nodes_to_find(percentage: u32, num_all_nodes: u32) -> u32 {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let percentage = if percentage == 0 {
        (50 - i64::from(num_all_nodes / 125)).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    } else {
        i64::from(percentage)
    };
    let num_nodes = (i64::from(num_all_nodes) * percentage / 100) as u32;
    num_nodes.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Counts one node's filter failure the way upstream's FitError does:
/// NodeResourcesFit reports every resource the node lacks, not just the first.
pub(super) fn record_failure(
    diagnosis: &mut Diagnosis,
    cluster: &ClusterState,
    requests: &ResourceVec,
    node: NodeId,
    reason: FilterReason,
) {
    let FilterReason::Insufficient(_) = reason else {
        diagnosis.record(reason);
        return;
    };
    let used = &cluster.nodes.requested[node as usize];
    let allocatable = cluster.allocatable(node);
    for d in 0..NUM_RESOURCES {
        if used.0[d].saturating_add(requests.0[d]) > allocatable.0[d] {
            diagnosis.insufficient[d] += 1;
        }
    }
}

/// A feasible node and what scoring needs of it.
#[derive(Copy, Clone, Debug)]
struct Feasible {
    node: NodeId,
    pool: u32,
    usage: Usage,
}

/// What a node's score depends on besides its pool.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Usage {
    /// Cpu and memory requested on the node.
    used: CpuMemory,
    /// Pods on the node requesting no cpu, and no memory.
    zero_request_pods: [u32; 2],
}

impl Usage {
    /// What NodeResourcesFit counts as in use: upstream's NonZeroRequested,
    /// where a pod without a cpu or memory request counts at the defaults.
    fn non_zero_used(&self) -> CpuMemory {
        let defaults = [DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST_BYTES];
        std::array::from_fn(|i| {
            self.used[i]
                .saturating_add(u64::from(self.zero_request_pods[i]).saturating_mul(defaults[i]))
        })
    }
}

/// What one cycle needs of a pool, computed once per cycle so the per-node
/// work is a readiness bit, an 8-way comparison and the scores.
#[derive(Copy, Clone, Debug)]
struct PoolCycle {
    /// The pool passes the template's taint and affinity filters and its
    /// nodes are large enough for the request.
    open: bool,
    /// `allocatable - request`: a node of the pool fits iff its usage is within.
    limit: ResourceVec,
    allocatable: Allocatable,
    /// The pool's PreferNoSchedule taints the pod does not tolerate.
    intolerable_taints: i64,
    /// Weighted TaintToleration score of the pool's nodes without controller
    /// taints of their own, once the cycle's feasible nodes are known.
    taint_score: i64,
}

impl PoolCycle {
    /// The entry of a pool no cycle has computed: closed, never read.
    const UNUSED: PoolCycle = PoolCycle {
        open: false,
        limit: ResourceVec::ZERO,
        allocatable: Allocatable::ABSENT,
        intolerable_taints: 0,
        taint_score: 0,
    };

    fn new(
        cluster: &ClusterState,
        template: &CompiledTemplate,
        requests: &ResourceVec,
        pool: usize,
    ) -> Self {
        let allocatable = &cluster.pools[pool].allocatable;
        let mut limit = ResourceVec::ZERO;
        let mut large_enough = true;
        for d in 0..NUM_RESOURCES {
            large_enough &= requests.0[d] <= allocatable.0[d];
            limit.0[d] = allocatable.0[d].saturating_sub(requests.0[d]);
        }
        PoolCycle {
            open: large_enough && template.pool_filter[pool].is_none(),
            limit,
            allocatable: Allocatable::new(cpu_memory(allocatable)),
            intolerable_taints: template.pool_intolerable_taints[pool],
            taint_score: 0,
        }
    }
}

/// True when `used` is within `limit` in every dimension.
#[inline]
fn within(used: &ResourceVec, limit: &ResourceVec) -> bool {
    let mut ok = true;
    for d in 0..NUM_RESOURCES {
        ok &= used.0[d] <= limit.0[d];
    }
    ok
}

/// `ClusterState::filter` for a node the fast check rejected: records why it
/// fails and returns false, or returns true if it passes after all.
#[cold]
#[inline(never)]
fn filter_slowly(
    cluster: &ClusterState,
    template: &CompiledTemplate,
    requests: &ResourceVec,
    node: NodeId,
    diagnosis: &mut Diagnosis,
) -> bool {
    match cluster.filter(template, requests, node) {
        None => true,
        Some(reason) => {
            record_failure(diagnosis, cluster, requests, node, reason);
            false
        }
    }
}

/// The per-pod constants of scoring, computed once per cycle.
#[derive(Copy, Clone)]
struct NodeScorer {
    strategy: ScoringStrategy,
    fit_weight: i64,
    balanced_weight: i64,
    pod_non_zero: CpuMemory,
    pod_requests: CpuMemory,
}

impl NodeScorer {
    #[inline]
    fn fit(&self, used: CpuMemory, pool: &PoolCycle) -> i64 {
        if self.fit_weight == 0 {
            return 0;
        }
        self.fit_weight.saturating_mul(resources_fit_score(
            self.strategy,
            used,
            self.pod_non_zero,
            &pool.allocatable,
        ))
    }

    #[inline]
    fn balanced(&self, used: CpuMemory, pool: &PoolCycle) -> i64 {
        if self.balanced_weight == 0 {
            return 0;
        }
        self.balanced_weight
            .saturating_mul(balanced_allocation_score(
                used,
                self.pod_requests,
                &pool.allocatable,
            ))
    }

    /// The most BalancedAllocation can add to a node's total.
    fn balanced_bound(&self) -> i64 {
        self.balanced_weight.saturating_mul(MAX_NODE_SCORE).max(0)
    }
}

pub struct KubePlacement {
    scoring: ScoringStrategy,
    fit_weight: i64,
    balanced_weight: i64,
    taint_weight: i64,
    percentage_of_nodes_to_score: u32,
    /// Where the next cycle starts filtering (upstream `nextStartNodeIndex`),
    /// a position in `node_tree_order`.
    next_start_node_index: u32,
    /// The nodes in upstream's node-tree order: the first node of each zone,
    /// then the second of each, and so on (zones in order of appearance).
    /// Rebuilt when a node registers or is deleted.
    node_tree_order: Vec<NodeId>,
    /// The cluster's membership generation `node_tree_order` was built at.
    node_tree_generation: Option<u64>,
    /// Per pool id, this cycle's constants; only the pools with registered
    /// nodes are refreshed each cycle, the others hold stale entries.
    pools: Vec<PoolCycle>,
    /// Feasible nodes of the current cycle, reused across cycles.
    feasible: Vec<Feasible>,
    /// Totals already computed this cycle, by (pool, usage).
    memo: ScoreMemo,
}

/// A per-cycle, direct-mapped memo of node score totals. Within one cycle a
/// node's total depends only on its pool, its cpu and memory in use and its
/// count of pods without cpu or memory requests (a node carrying a
/// controller taint that counts against it is scored apart), and
/// simulated clusters hold many nodes alike (empty ones, ones running the same
/// pods), so most totals are found rather than recomputed. Which nodes are
/// compared and the random draws on ties are unchanged: same choice, same rng.
struct ScoreMemo {
    /// (cycle stamp, pool, usage, total); a stale stamp marks an empty slot.
    slots: Vec<(u64, u32, Usage, i64)>,
    cycle: u64,
}

impl ScoreMemo {
    const SLOTS: usize = 1024;

    fn new() -> Self {
        ScoreMemo {
            slots: vec![(0, 0, Usage::default(), 0); Self::SLOTS],
            cycle: 0,
        }
    }

    fn start_cycle(&mut self) {
        self.cycle += 1;
    }

    #[inline]
    fn slot(pool: u32, usage: Usage) -> usize {
        let [cpu_zero, memory_zero] = usage.zero_request_pods;
        let zero = u64::from(cpu_zero) | u64::from(memory_zero) << 32;
        let mixed = (usage.used[0]
            ^ usage.used[1].rotate_left(29)
            ^ u64::from(pool).rotate_left(53)
            ^ zero.rotate_left(11))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> 54) as usize % Self::SLOTS
    }

    #[inline]
    fn get(&self, pool: u32, usage: Usage) -> Option<i64> {
        let (cycle, p, u, total) = self.slots[Self::slot(pool, usage)];
        (cycle == self.cycle && p == pool && u == usage).then_some(total)
    }

    #[inline]
    fn put(&mut self, pool: u32, usage: Usage, total: i64) {
        self.slots[Self::slot(pool, usage)] = (self.cycle, pool, usage, total);
    }
}

impl KubePlacement {
    pub fn new(config: &SchedulerConfig) -> Self {
        KubePlacement {
            scoring: config.scoring,
            fit_weight: config.resources_fit_weight,
            balanced_weight: config.balanced_allocation_weight,
            taint_weight: config.taint_toleration_weight,
            percentage_of_nodes_to_score: config.percentage_of_nodes_to_score,
            next_start_node_index: 0,
            node_tree_order: Vec::new(),
            node_tree_generation: None,
            pools: Vec::new(),
            feasible: Vec::new(),
            memo: ScoreMemo::new(),
        }
    }

    pub fn place(
        &mut self,
        cluster: &ClusterState,
        template: WorkloadId,
        requests: &ResourceVec,
        rng: &mut SimRng,
    ) -> PlacementResult {
        let generation = Some(cluster.nodes.membership_generation());
        if self.node_tree_generation != generation {
            self.node_tree_order = node_tree_order(cluster);
            self.node_tree_generation = generation;
        }
        let all_nodes = self.node_tree_order.len() as u32;
        let mut diagnosis = Diagnosis {
            nodes_total: all_nodes,
            ..Default::default()
        };
        if all_nodes == 0 {
            return PlacementResult {
                node: None,
                nodes_evaluated: 0,
                diagnosis: Some(Box::new(diagnosis)),
            };
        }
        let start = self.next_start_node_index % all_nodes;
        let to_find = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score, all_nodes);
        let scorer = NodeScorer {
            strategy: self.scoring,
            fit_weight: self.fit_weight,
            balanced_weight: if balanced_allocation_skipped(requests) {
                0
            } else {
                self.balanced_weight
            },
            pod_non_zero: non_zero_requests(requests),
            pod_requests: cpu_memory(requests),
        };
        let examined = self.filter(
            cluster,
            &cluster.templates[template as usize],
            requests,
            start,
            to_find as usize,
            &mut diagnosis,
        );
        // Upstream: processed nodes = feasible + failed, whether or not any fit.
        self.next_start_node_index =
            ((u64::from(start) + u64::from(examined)) % u64::from(all_nodes)) as u32;
        let node = match self.feasible.len() {
            0 => None,
            // Upstream skips scoring when a single node is feasible.
            1 => Some(self.feasible[0].node),
            _ => {
                Some(self.select_host(cluster, &cluster.templates[template as usize], &scorer, rng))
            }
        };
        PlacementResult {
            node,
            nodes_evaluated: examined,
            diagnosis: node.is_none().then(|| Box::new(diagnosis)),
        }
    }

    /// Filters from `start`, wrapping, until `to_find` nodes pass or every node
    /// was examined, collecting the feasible ones. Returns the number of nodes
    /// examined.
    fn filter(
        &mut self,
        cluster: &ClusterState,
        template: &CompiledTemplate,
        requests: &ResourceVec,
        start: u32,
        to_find: usize,
        diagnosis: &mut Diagnosis,
    ) -> u32 {
        self.refresh_pool_cycles(cluster, template, requests);
        self.feasible.clear();
        let all_nodes = self.node_tree_order.len() as u32;
        let first = self.scan(
            cluster,
            template,
            requests,
            start..all_nodes,
            to_find,
            diagnosis,
        );
        if self.feasible.len() >= to_find {
            return first;
        }
        first + self.scan(cluster, template, requests, 0..start, to_find, diagnosis)
    }

    /// Computes this cycle's constants for the pools with registered nodes
    /// only: the scan and the scores read a pool's entry only through a
    /// node of the node-tree order, which is registered, so the entries of
    /// empty pools (thousands in a scenario of autoscaler node groups) are
    /// never read and are left as they were.
    fn refresh_pool_cycles(
        &mut self,
        cluster: &ClusterState,
        template: &CompiledTemplate,
        requests: &ResourceVec,
    ) {
        if self.pools.len() != cluster.pools.len() {
            self.pools.clear();
            self.pools.resize(cluster.pools.len(), PoolCycle::UNUSED);
        }
        for &pool in cluster.nodes.nonempty_pools() {
            let p = pool as usize;
            self.pools[p] = PoolCycle::new(cluster, template, requests, p);
        }
    }

    /// Filters the nodes at `positions` of the node-tree order until
    /// `feasible` holds `to_find` nodes; returns the number of nodes examined.
    ///
    /// The fast check implies `ClusterState::filter` passes; when it fails,
    /// `filter` decides and names the reason, so results are exactly those
    /// of `filter`.
    fn scan(
        &mut self,
        cluster: &ClusterState,
        template: &CompiledTemplate,
        requests: &ResourceVec,
        positions: Range<u32>,
        to_find: usize,
        diagnosis: &mut Diagnosis,
    ) -> u32 {
        let has_anti_affinity =
            !template.carried_terms.is_empty() || !template.matched_terms.is_empty();
        let state = &cluster.nodes;
        // Empty unless some node carries a controller taint: the common case
        // reads no per-node taint set.
        let filtering_taints = if state.tainted_count() > 0 {
            template.untolerated_controller_taints
        } else {
            ControllerTaints::NONE
        };
        for position in positions.clone() {
            let node = self.node_tree_order[position as usize];
            let n = node as usize;
            let pool = state.pool[n];
            let cycle = &self.pools[pool as usize];
            let used = &state.requested[n];
            // `&` rather than `&&`: all three are cheap, and one combined
            // branch predicts far better than three in a row.
            let fits = (state.is_schedulable(node) & cycle.open & within(used, &cycle.limit))
                && (filtering_taints.is_empty()
                    || state
                        .controller_taints(node)
                        .and(filtering_taints)
                        .is_empty())
                && (!has_anti_affinity || cluster.anti_affinity.allows(template, node));
            if fits || filter_slowly(cluster, template, requests, node, diagnosis) {
                self.feasible.push(Feasible {
                    node,
                    pool,
                    usage: Usage {
                        used: cpu_memory(used),
                        zero_request_pods: state.zero_request_pods[n],
                    },
                });
                if self.feasible.len() >= to_find {
                    return position - positions.start + 1;
                }
            }
        }
        positions.end - positions.start
    }

    /// The highest total score; among equals each is chosen with equal
    /// probability (reservoir sampling, one draw per tie met, in scan order).
    ///
    /// A node whose score without BalancedAllocation, plus the most that
    /// plugin can add, is below the best so far can neither win nor tie, so
    /// its BalancedAllocation score is not computed: same result, same draws.
    fn select_host(
        &mut self,
        cluster: &ClusterState,
        template: &CompiledTemplate,
        scorer: &NodeScorer,
        rng: &mut SimRng,
    ) -> NodeId {
        let node_taints = NodeTaints::new(cluster, template);
        let max_taints = self
            .feasible
            .iter()
            .map(|f| node_taints.total(self.pools[f.pool as usize].intolerable_taints, f.node))
            .max()
            .unwrap_or(0);
        for &p in cluster.nodes.nonempty_pools() {
            let pool = &mut self.pools[p as usize];
            pool.taint_score = self
                .taint_weight
                .saturating_mul(taint_toleration_score(pool.intolerable_taints, max_taints));
        }
        let balanced_bound = scorer.balanced_bound();
        let mut selected = self.feasible[0].node;
        let mut best = i64::MIN;
        let mut ties = 0u32;
        self.memo.start_cycle();
        for f in &self.feasible {
            // The memo is keyed by pool and usage: a node with controller
            // taints of its own scores apart from its pool and bypasses it.
            let own_taints = node_taints.own(f.node);
            let memoized = if own_taints == 0 {
                self.memo.get(f.pool, f.usage)
            } else {
                None
            };
            let total = match memoized {
                Some(total) => total,
                None => {
                    let pool = &self.pools[f.pool as usize];
                    let taint_score = if own_taints == 0 {
                        pool.taint_score
                    } else {
                        let count = node_taints.total(pool.intolerable_taints, f.node);
                        self.taint_weight
                            .saturating_mul(taint_toleration_score(count, max_taints))
                    };
                    // Weights come from the scenario: sums saturate rather than wrap.
                    let fit = scorer.fit(f.usage.non_zero_used(), pool);
                    let partial = taint_score.saturating_add(fit);
                    if partial.saturating_add(balanced_bound) < best {
                        continue;
                    }
                    let total = partial.saturating_add(scorer.balanced(f.usage.used, pool));
                    if own_taints == 0 {
                        self.memo.put(f.pool, f.usage, total);
                    }
                    total
                }
            };
            if total > best {
                best = total;
                selected = f.node;
                ties = 1;
            } else if total == best {
                ties += 1;
                if rng.random_range(0..ties) == 0 {
                    selected = f.node;
                }
            }
        }
        selected
    }
}

/// TaintToleration's per-node count: the pool's intolerable PreferNoSchedule
/// taints plus those controllers put on the node.
struct NodeTaints<'a> {
    cluster: &'a ClusterState,
    /// The template's intolerable PreferNoSchedule controller taints; empty
    /// when no node carries a controller taint, so no per-node set is read.
    scored: ControllerTaints,
}

impl<'a> NodeTaints<'a> {
    fn new(cluster: &'a ClusterState, template: &CompiledTemplate) -> Self {
        let scored = if cluster.nodes.tainted_count() > 0 {
            template.intolerable_controller_taints
        } else {
            ControllerTaints::NONE
        };
        NodeTaints { cluster, scored }
    }

    /// The node's own intolerable PreferNoSchedule taints.
    #[inline]
    fn own(&self, node: NodeId) -> i64 {
        if self.scored.is_empty() {
            return 0;
        }
        i64::from(
            self.cluster
                .nodes
                .controller_taints(node)
                .and(self.scored)
                .len(),
        )
    }

    #[inline]
    fn total(&self, pool_count: i64, node: NodeId) -> i64 {
        pool_count
            .checked_add(self.own(node))
            .expect("a node carries a handful of taints")
    }
}

/// Upstream's node tree (`nodeTree.list`): the registered nodes grouped by
/// zone, each zone in the order its nodes registered, listed by taking the
/// next node of each zone in turn, so that consecutive nodes spread over the
/// zones. Zones come in the order of their earliest registered node.
fn node_tree_order(cluster: &ClusterState) -> Vec<NodeId> {
    let mut zone_slot: Vec<Option<usize>> = vec![None; cluster.zone_count()];
    let mut by_zone: Vec<Vec<NodeId>> = Vec::new();
    for &node in cluster.nodes.registration_order() {
        let pool = cluster.nodes.pool[node as usize];
        let zone = cluster.pools[pool as usize].zone as usize;
        let slot = *zone_slot[zone].get_or_insert_with(|| {
            by_zone.push(Vec::new());
            by_zone.len() - 1
        });
        by_zone[slot].push(node);
    }
    if by_zone.len() <= 1 {
        return by_zone.pop().unwrap_or_default();
    }
    let longest = by_zone.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| by_zone.iter().filter_map(move |zone| zone.get(i).copied()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::score::Allocatable;
    use super::super::testutil::{
        anti, build, feasible, full_diagnosis, insufficient, label, pool, req, template,
        with_taints,
    };
    use super::*;
    use crate::cluster::NodeState;
    use crate::config::{
        NodePoolSpec, PodTemplate, Taint, TaintEffect, Toleration, TolerationOperator,
    };
    use crate::matching;
    use crate::resources::{CPU, FIRST_EXTENDED, MEMORY, PODS};
    use crate::rng::RngStreams;
    use crate::taints::ControllerTaint;
    use proptest::prelude::*;
    use rand::Rng;

    fn config(scoring: ScoringStrategy, percentage: u32) -> SchedulerConfig {
        SchedulerConfig {
            scoring,
            percentage_of_nodes_to_score: percentage,
            ..Default::default()
        }
    }

    fn rng() -> SimRng {
        RngStreams::new(7).stream("scheduler")
    }

    // Ported from upstream schedule_one_test.go TestNumFeasibleNodesToFind.
    #[test]
    fn num_feasible_nodes_to_find_follows_upstream() {
        let cases = [
            // (percentageOfNodesToScore, numAllNodes, wantNumNodes)
            (0, 10, 10),     // not set, nodes number not more than 50
            (40, 10, 10),    // set, nodes number not more than 50
            (0, 1000, 420),  // not set, nodes number more than 50
            (40, 1000, 400), // set, nodes number more than 50
            (0, 6000, 300),  // not set, nodes number more than 50*125
            (40, 6000, 2400),
            // The studies' sizes: the adaptive percentage bottoms out at 5%.
            (0, 100_000, 5_000),
            (0, 1_000_000, 50_000),
            (100, 1_000_000, 1_000_000),
            (1, 1000, 100), // never fewer than minFeasibleNodesToFind
        ];
        for (percentage, all, want) in cases {
            assert_eq!(
                num_feasible_nodes_to_find(percentage, all),
                want,
                "percentage {percentage}, {all} nodes"
            );
        }
    }

    #[test]
    fn round_robin_resumes_where_the_last_cycle_stopped() {
        let mut cluster = build(&[pool("p", 1000, 4000, 1 << 30, 110)], &[template(&[])]);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let mut rng = rng();
        // 1000 nodes, adaptive: 42% = 420 feasible nodes per cycle.
        let windows = [(0..420), (420..840)];
        for window in windows {
            let r = k.place(&cluster, 0, &req(100, 1000), &mut rng);
            assert_eq!(r.nodes_evaluated, 420);
            assert!(window.contains(&r.node.unwrap()));
        }
        // The third cycle wraps: 840..1000 then 0..260; make the wrapped part the
        // only emptiest nodes so the pick shows the wrap happened.
        for n in 260..1000 {
            cluster.assign(0, &req(1000, 0), n);
        }
        let r = k.place(&cluster, 0, &req(100, 1000), &mut rng);
        assert_eq!(r.nodes_evaluated, 420);
        assert!(r.node.unwrap() < 260);
        assert_eq!(k.next_start_node_index, 260);
    }

    #[test]
    fn failed_nodes_count_as_processed() {
        let mut cluster = build(&[pool("p", 300, 4000, 1 << 30, 110)], &[template(&[])]);
        for n in (1..300).step_by(2) {
            cluster.set_ready(n as NodeId, false);
        }
        // 300 nodes, adaptive: max(300 * 48%, 100) = 144 feasible wanted; the
        // 144th ready node is node 286, so 287 nodes are processed.
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let r = k.place(&cluster, 0, &req(100, 1000), &mut rng());
        assert_eq!(r.nodes_evaluated, 287);
        assert_eq!(k.next_start_node_index, 287);
        assert!(r.diagnosis.is_none());
    }

    #[test]
    fn unschedulable_pod_examines_every_node_and_counts_every_reason() {
        let pools = [
            pool("small", 3, 1000, 1000, 110),
            with_taints(
                pool("tainted", 2, 8000, 8000, 110),
                vec![Taint {
                    key: "dedicated".into(),
                    value: "x".into(),
                    effect: TaintEffect::NoSchedule,
                }],
            ),
        ];
        let mut cluster = build(&pools, &[template(&[])]);
        cluster.set_ready(0 as NodeId, false);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let r = k.place(&cluster, 0, &req(2000, 2000), &mut rng());
        assert_eq!(r.node, None);
        assert_eq!(r.nodes_evaluated, 5);
        let d = r.diagnosis.unwrap();
        assert_eq!(d.nodes_total, 5);
        assert_eq!(d.not_ready, 1);
        assert_eq!(d.untolerated_taint, 2);
        assert_eq!(d.insufficient, insufficient(&[(CPU, 2), (MEMORY, 2)]));
        assert_eq!(k.next_start_node_index, 0);
    }

    #[test]
    fn empty_cluster_reports_zero_nodes() {
        let cluster = build(&[pool("p", 0, 1000, 1000, 10)], &[template(&[])]);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let r = k.place(&cluster, 0, &req(1, 1), &mut rng());
        assert_eq!((r.node, r.nodes_evaluated), (None, 0));
        assert_eq!(r.diagnosis.unwrap().nodes_total, 0);
    }

    /// One node with allocatable cpu 10, memory 20, pods 32 and 5 of the first
    /// extended resource (upstream fit_test.go makeAllocatableResources), holding
    /// `used`; returns the diagnosis of placing `pod` there, `None` if it fits.
    fn fit_on_node(used: ResourceVec, pod: ResourceVec) -> Option<Diagnosis> {
        let mut p = pool("n", 1, 10, 20, 32);
        p.allocatable.0[FIRST_EXTENDED] = 5;
        let mut cluster = build(&[p], &[template(&[])]);
        cluster.assign(0, &used, 0);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let r = k.place(&cluster, 0, &pod, &mut rng());
        assert_eq!(r.node.is_none(), r.diagnosis.is_some());
        r.diagnosis.map(|d| *d)
    }

    fn with_extended(mut v: ResourceVec, index: usize, amount: u64) -> ResourceVec {
        v.0[FIRST_EXTENDED + index] = amount;
        v
    }

    // Ported from upstream fit_test.go TestEnoughRequests (the cases without init
    // containers, which the model does not have); each shortfall is counted.
    #[test]
    fn resource_fit_follows_upstream_enough_requests() {
        let short = |used, pod| fit_on_node(used, pod).map(|d| d.insufficient);
        // "no resources requested always fits"
        assert_eq!(short(req(10, 20), req(0, 0)), None);
        // "too many resources fails"
        assert_eq!(
            short(req(10, 20), req(1, 1)),
            Some(insufficient(&[(CPU, 1), (MEMORY, 1)]))
        );
        // "both resources fit"
        assert_eq!(short(req(5, 5), req(1, 1)), None);
        // "one resource memory fits"
        assert_eq!(short(req(9, 5), req(2, 1)), Some(insufficient(&[(CPU, 1)])));
        // "one resource cpu fits"
        assert_eq!(
            short(req(5, 19), req(1, 2)),
            Some(insufficient(&[(MEMORY, 1)]))
        );
        // "equal edge case"
        assert_eq!(short(req(5, 19), req(5, 1)), None);
        // "extended resource fits"
        assert_eq!(short(req(0, 0), with_extended(req(0, 0), 0, 1)), None);
        // "extended resource capacity enforced"
        assert_eq!(
            short(req(0, 0), with_extended(req(1, 1), 0, 10)),
            Some(insufficient(&[(FIRST_EXTENDED, 1)]))
        );
        // "extended resource allocatable enforced"
        assert_eq!(
            short(
                with_extended(req(0, 0), 0, 5),
                with_extended(req(1, 1), 0, 1)
            ),
            Some(insufficient(&[(FIRST_EXTENDED, 1)]))
        );
        // "extended resource allocatable enforced for unknown resource"
        assert_eq!(
            short(req(0, 0), with_extended(req(1, 1), 1, 1)),
            Some(insufficient(&[(FIRST_EXTENDED + 1, 1)]))
        );
    }

    // After upstream fit_test.go TestNotEnoughRequests ("Too many pods").
    #[test]
    fn pod_slots_are_a_resource() {
        let mut used = req(0, 0);
        used.0[PODS] = 32;
        assert_eq!(
            fit_on_node(used, req(1, 1)).map(|d| d.insufficient),
            Some(insufficient(&[(PODS, 1)]))
        );
    }

    fn two_nodes_pick(scoring: ScoringStrategy, used0: ResourceVec) -> NodeId {
        let mut cluster = build(&[pool("p", 2, 4000, 4 << 30, 110)], &[template(&[])]);
        cluster.assign(0, &used0, 0);
        let mut k = KubePlacement::new(&config(scoring, 0));
        k.place(&cluster, 0, &req(500, 1 << 29), &mut rng())
            .node
            .unwrap()
    }

    #[test]
    fn least_allocated_spreads_and_most_allocated_packs() {
        let used = req(2000, 2 << 30);
        assert_eq!(two_nodes_pick(ScoringStrategy::LeastAllocated, used), 1);
        assert_eq!(two_nodes_pick(ScoringStrategy::MostAllocated, used), 0);
    }

    /// Port of upstream's `TestNodeTree_List` ("all nodes"): nine nodes
    /// without zone labels, with a region or a zone only, and with both, over
    /// six zones (region-1/zone-2 holds two nodes, region-2/zone-2 three).
    #[test]
    fn nodes_are_listed_in_upstreams_node_tree_order() {
        const REGION: &str = "failure-domain.beta.kubernetes.io/region";
        const ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
        let labelled = |name: &str, labels: &[(&str, &str)]| {
            let mut p = pool(name, 1, 4000, 4 << 30, 110);
            p.labels = labels.iter().map(|(k, v)| label(k, v)).collect();
            p
        };
        let pools = [
            labelled("node-0", &[]),
            labelled("node-1", &[(REGION, "region-1")]),
            labelled("node-2", &[(ZONE, "zone-2")]),
            labelled("node-3", &[(REGION, "region-1"), (ZONE, "zone-2")]),
            labelled("node-4", &[(REGION, "region-1"), (ZONE, "zone-2")]),
            labelled("node-5", &[(REGION, "region-1"), (ZONE, "zone-3")]),
            labelled("node-6", &[(REGION, "region-2"), (ZONE, "zone-2")]),
            labelled("node-7", &[(REGION, "region-2"), (ZONE, "zone-2")]),
            labelled("node-8", &[(REGION, "region-2"), (ZONE, "zone-2")]),
        ];
        let cluster = build(&pools, &[template(&[])]);
        assert_eq!(node_tree_order(&cluster), vec![0, 1, 2, 3, 5, 6, 4, 7, 8]);
        // One zone (no labels): id order.
        let cluster = build(&[pool("p", 4, 4000, 4 << 30, 110)], &[template(&[])]);
        assert_eq!(node_tree_order(&cluster), vec![0, 1, 2, 3]);
    }

    /// The first cycle filters the first 100 nodes of the node-tree order:
    /// with two zones of 150 nodes, 50 of each, so the tie among equal nodes
    /// falls in both zones (in id order it could only fall in the first).
    #[test]
    fn filtering_walks_the_node_tree_order() {
        let zone = |name: &str, z: &str| {
            let mut p = pool(name, 150, 4000, 4 << 30, 110);
            p.labels.push(label("topology.kubernetes.io/zone", z));
            p
        };
        let cluster = build(&[zone("a", "za"), zone("b", "zb")], &[template(&[])]);
        let mut rng = rng();
        let picks: Vec<NodeId> = (0..20)
            .map(|_| {
                let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 1));
                let result = k.place(&cluster, 0, &req(100, 1 << 20), &mut rng);
                assert_eq!(result.nodes_evaluated, 100);
                result.node.unwrap()
            })
            .collect();
        assert!(
            picks.iter().all(|&n| n < 50 || (150..200).contains(&n)),
            "{picks:?}"
        );
        assert!(picks.iter().any(|&n| n >= 150), "{picks:?}");
    }

    /// Upstream scores NodeResourcesFit on NonZeroRequested: a pod without
    /// cpu or memory requests counts as 100m and 200 MiB, so a node running
    /// one is not tied with an empty node (which it was when such pods counted
    /// as nothing, leaving the choice to a random draw).
    #[test]
    fn pods_without_requests_count_at_upstreams_defaults_in_fit_scores() {
        let picks = |scoring| -> Vec<NodeId> {
            let mut cluster = build(&[pool("p", 2, 4000, 4 << 30, 110)], &[template(&[])]);
            cluster.assign(0, &req(0, 0), 0);
            assert_eq!(cluster.nodes.zero_request_pods[0], [1, 1]);
            let mut k = KubePlacement::new(&config(scoring, 0));
            let mut rng = rng();
            (0..20)
                .map(|_| {
                    k.place(&cluster, 0, &req(500, 1 << 29), &mut rng)
                        .node
                        .unwrap()
                })
                .collect()
        };
        assert_eq!(picks(ScoringStrategy::LeastAllocated), vec![1; 20]);
        assert_eq!(picks(ScoringStrategy::MostAllocated), vec![0; 20]);
    }

    #[test]
    fn zero_request_pod_counts_follow_assign_and_unassign() {
        let mut cluster = build(&[pool("p", 1, 4000, 4 << 30, 110)], &[template(&[])]);
        cluster.assign(0, &req(0, 1 << 20), 0);
        cluster.assign(0, &req(100, 0), 0);
        cluster.assign(0, &req(0, 0), 0);
        assert_eq!(cluster.nodes.zero_request_pods[0], [2, 2]);
        cluster.unassign(0, &req(0, 1 << 20), 0);
        assert_eq!(cluster.nodes.zero_request_pods[0], [1, 2]);
    }

    #[test]
    fn balanced_allocation_prefers_even_usage() {
        // Same LeastAllocated score on both nodes (cpu+memory shares sum the
        // same), but node 0 would end up unbalanced.
        let mut cluster = build(&[pool("p", 2, 4000, 4000, 110)], &[template(&[])]);
        cluster.assign(0, &req(2000, 0), 0);
        cluster.assign(0, &req(1000, 1000), 1);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        for _ in 0..20 {
            let r = k.place(&cluster, 0, &req(500, 500), &mut rng());
            assert_eq!(r.node, Some(1));
        }
    }

    #[test]
    fn prefer_no_schedule_taints_steer_but_do_not_filter() {
        let taint = Taint {
            key: "spot".into(),
            value: "true".into(),
            effect: TaintEffect::PreferNoSchedule,
        };
        let pools = [
            with_taints(pool("spot", 5, 4000, 4000, 110), vec![taint]),
            pool("plain", 1, 4000, 4000, 110),
        ];
        let mut cluster = build(&pools, &[template(&[])]);
        // The untainted node is fuller; TaintToleration (weight 3) still wins.
        cluster.assign(0, &req(1000, 1000), 5);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        assert_eq!(
            k.place(&cluster, 0, &req(100, 100), &mut rng()).node,
            Some(5)
        );
        // When the untainted node is full, a tainted one is still feasible.
        cluster.assign(0, &req(3000, 0), 5);
        let node = k.place(&cluster, 0, &req(100, 100), &mut rng()).node;
        assert!(node.is_some_and(|n| n < 5));
    }

    /// A controller's PreferNoSchedule taint on one node counts as its
    /// pool's would: the node loses TaintToleration's score to its
    /// untainted pool mates, but stays feasible; a pod tolerating it does
    /// not care.
    #[test]
    fn a_controllers_prefer_no_schedule_taint_steers_like_a_pools() {
        let candidate = ControllerTaint::DeletionCandidateOfClusterAutoscaler;
        let mut tolerant = template(&[]);
        tolerant.tolerations = vec![Toleration {
            key: candidate.key().into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: None,
        }];
        let mut cluster = build(&[pool("p", 2, 4000, 4000, 110)], &[template(&[]), tolerant]);
        // Node 0 is emptier: LeastAllocated alone would take it.
        cluster.assign(0, &req(1000, 1000), 1);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let pick = |k: &mut KubePlacement, c: &ClusterState, t| {
            k.place(c, t, &req(100, 100), &mut rng()).node
        };
        assert_eq!(pick(&mut k, &cluster, 0), Some(0));
        cluster.set_controller_taint(0, candidate, true);
        assert_eq!(pick(&mut k, &cluster, 0), Some(1), "TaintToleration wins");
        assert_eq!(pick(&mut k, &cluster, 1), Some(0), "tolerated");
        cluster.assign(0, &req(3000, 0), 1);
        assert_eq!(pick(&mut k, &cluster, 0), Some(0), "still feasible");
    }

    #[test]
    fn ties_are_broken_uniformly_and_reproducibly() {
        let cluster = build(&[pool("p", 10, 4000, 4000, 110)], &[template(&[])]);
        let picks = |seed: u64| -> Vec<NodeId> {
            let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
            let mut rng = RngStreams::new(seed).stream("scheduler");
            (0..500)
                .map(|_| k.place(&cluster, 0, &req(100, 100), &mut rng).node.unwrap())
                .collect()
        };
        let first = picks(1);
        assert_eq!(first, picks(1));
        let mut counts = [0u32; 10];
        for &n in &first {
            counts[n as usize] += 1;
        }
        // Each of 10 equal nodes gets ~50 of 500; 20..90 is far outside chance.
        assert!(counts.iter().all(|&c| (20..90).contains(&c)), "{counts:?}");
    }

    #[test]
    fn single_feasible_node_is_taken_without_a_draw() {
        let mut cluster = build(&[pool("p", 3, 4000, 4000, 110)], &[template(&[])]);
        cluster.set_ready(0 as NodeId, false);
        cluster.set_ready(2 as NodeId, false);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let mut rng = rng();
        let untouched = rng.clone();
        assert_eq!(k.place(&cluster, 0, &req(1, 1), &mut rng).node, Some(1));
        assert_eq!(rng, untouched);
    }

    /// One node holding a pod of `existing`; whether a pod of `incoming` fits.
    fn anti_affinity_case(existing: PodTemplate, incoming: PodTemplate) -> bool {
        let mut cluster = build(&[pool("n", 1, 4000, 4000, 110)], &[existing, incoming]);
        cluster.assign(0, &req(1, 1), 0);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let r = k.place(&cluster, 1, &req(1, 1), &mut rng());
        if let Some(d) = &r.diagnosis {
            assert_eq!(d.anti_affinity, 1);
        }
        r.node.is_some()
    }

    // Ported from upstream interpodaffinity filtering_test.go
    // TestRequiredAffinitySingleNode, its anti-affinity cases. On a single node
    // every topology key is the node itself; Exists/In selectors become the
    // equivalent matchLabels.
    #[test]
    fn required_anti_affinity_follows_upstream_single_node_cases() {
        let securityscan = || template(&[("service", "securityscan")]);
        let s1 = || template(&[("security", "S1")]);
        // "satisfies the PodAffinity and PodAntiAffinity with the existing pod"
        assert!(anti_affinity_case(
            securityscan(),
            anti(s1(), &[("service", "antivirusscan")])
        ));
        // "satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod"
        assert!(!anti_affinity_case(
            securityscan(),
            anti(s1(), &[("service", "securityscan")])
        ));
        // "... doesn't satisfy PodAntiAffinity symmetry with the existing pod"
        assert!(!anti_affinity_case(
            anti(securityscan(), &[("service", "securityscan")]),
            anti(securityscan(), &[("service", "antivirusscan")])
        ));
        // "verify that PodAntiAffinity from existing pod is respected when pod has no
        // AntiAffinity constraints. doesn't satisfy PodAntiAffinity symmetry ..."
        assert!(!anti_affinity_case(
            anti(securityscan(), &[("service", "securityscan")]),
            securityscan()
        ));
        // "... satisfy PodAntiAffinity symmetry with the existing pod"
        assert!(anti_affinity_case(
            anti(securityscan(), &[("service", "other")]),
            securityscan()
        ));
        // "PodAntiAffinity symmetry check a1: incoming pod and existing pod partially
        // match each other on AffinityTerms"
        let both_terms = |t| {
            anti(
                anti(t, &[("service", "securityscan")]),
                &[("security", "S1")],
            )
        };
        assert!(!anti_affinity_case(
            anti(s1(), &[("security", "S1")]),
            both_terms(securityscan())
        ));
        // "... a2": only the existing pod's term matches the incoming pod.
        assert!(!anti_affinity_case(
            both_terms(securityscan()),
            anti(s1(), &[("security", "S1")])
        ));
        // A pod anti-affine to its own kind never shares a node with another.
        let web = || anti(template(&[("app", "web")]), &[("app", "web")]);
        assert!(!anti_affinity_case(web(), web()));
        assert!(anti_affinity_case(template(&[("app", "db")]), web()));
    }

    #[test]
    fn node_selector_mismatch_is_reported() {
        let mut t = template(&[]);
        t.node_selector = vec![label("pool", "gpu")];
        let pools: [NodePoolSpec; 1] = [pool("cpu", 2, 4000, 4000, 110)];
        let cluster = build(&pools, &[t]);
        let mut k = KubePlacement::new(&config(ScoringStrategy::LeastAllocated, 0));
        let d = k
            .place(&cluster, 0, &req(1, 1), &mut rng())
            .diagnosis
            .unwrap();
        assert_eq!(d.node_affinity, 2);
    }

    /// A template tolerating nothing (0), every taint (1), the Cluster
    /// Autoscaler's taints whatever their effect (2), or every
    /// PreferNoSchedule taint (3).
    fn tolerating(which: usize) -> PodTemplate {
        let toleration = |key: &str, effect| Toleration {
            key: key.into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect,
        };
        let mut t = template(&[]);
        t.tolerations = match which {
            0 => vec![],
            1 => vec![toleration("", None)],
            2 => vec![
                toleration(ControllerTaint::ToBeDeletedByClusterAutoscaler.key(), None),
                toleration(
                    ControllerTaint::DeletionCandidateOfClusterAutoscaler.key(),
                    None,
                ),
            ],
            _ => vec![toleration("", Some(TaintEffect::PreferNoSchedule))],
        };
        t
    }

    /// Every taint a node carries, as upstream's node spec lists them: its
    /// pool's, then the controllers'.
    fn node_spec_taints(cluster: &ClusterState, specs: &[NodePoolSpec], n: NodeId) -> Vec<Taint> {
        let pool = &specs[cluster.nodes.pool[n as usize] as usize];
        let own = cluster.nodes.controller_taints(n).iter().map(|t| t.taint());
        pool.taints.iter().cloned().chain(own).collect()
    }

    /// The feasible nodes, from the node spec's taints and the raw
    /// tolerations rather than the compiled verdicts (the template has no
    /// selector or anti-affinity).
    fn reference_feasible(
        cluster: &ClusterState,
        specs: &[NodePoolSpec],
        pod: &PodTemplate,
        requests: &ResourceVec,
    ) -> Vec<NodeId> {
        (0..cluster.nodes.len() as NodeId)
            .filter(|&n| cluster.nodes.state(n) == NodeState::Ready)
            .filter(|&n| {
                let taints = node_spec_taints(cluster, specs, n);
                matching::first_untolerated_taint(&taints, &pod.tolerations).is_none()
            })
            .filter(|&n| {
                let used = &cluster.nodes.requested[n as usize];
                let allocatable = cluster.allocatable(n);
                (0..NUM_RESOURCES).all(|d| used.0[d] + requests.0[d] <= allocatable.0[d])
            })
            .collect()
    }

    /// Upstream's selection spelled out: every feasible node scored in full
    /// (with division), then reservoir sampling in scan order.
    fn reference_pick(
        cluster: &ClusterState,
        (specs, pod): (&[NodePoolSpec], &PodTemplate),
        config: &SchedulerConfig,
        requests: &ResourceVec,
        rng: &mut SimRng,
    ) -> Option<NodeId> {
        let nodes = reference_feasible(cluster, specs, pod, requests);
        assert_eq!(nodes, feasible(cluster, 0, requests), "the filter");
        if nodes.len() <= 1 {
            return nodes.first().copied();
        }
        let taints = |n: NodeId| {
            let taints = node_spec_taints(cluster, specs, n);
            matching::intolerable_prefer_no_schedule(&taints, &pod.tolerations)
        };
        let max_taints = nodes.iter().map(|&n| taints(n)).max().unwrap_or(0);
        let total = |n: NodeId| {
            let used = cpu_memory(&cluster.nodes.requested[n as usize]);
            let allocatable = cpu_memory(cluster.allocatable(n));
            // Fit counts request-less pods at upstream's defaults (NonZeroRequested).
            let zero = cluster.nodes.zero_request_pods[n as usize];
            let non_zero_used = [
                used[0] + u64::from(zero[0]) * 100,
                used[1] + u64::from(zero[1]) * 200 * 1024 * 1024,
            ];
            let fit = resources_fit_score(
                config.scoring,
                non_zero_used,
                non_zero_requests(requests),
                &Allocatable::new(allocatable),
            );
            let fractions = [0, 1].map(|i| {
                (used[i].saturating_add(requests.0[i]) as f64 / allocatable[i] as f64).min(1.0)
            });
            let balanced = if balanced_allocation_skipped(requests) {
                0
            } else {
                ((1.0 - ((fractions[0] - fractions[1]) / 2.0).abs()) * 100.0) as i64
            };
            config.resources_fit_weight * fit
                + config.balanced_allocation_weight * balanced
                + config.taint_toleration_weight * taint_toleration_score(taints(n), max_taints)
        };
        let (mut selected, mut best, mut ties) = (nodes[0], total(nodes[0]), 1u32);
        for &n in &nodes[1..] {
            let score = total(n);
            if score > best {
                (selected, best, ties) = (n, score, 1);
            } else if score == best {
                ties += 1;
                if rng.random_range(0..ties) == 0 {
                    selected = n;
                }
            }
        }
        Some(selected)
    }

    proptest! {
        // Clusters under 100 nodes are examined whole, so a fresh placement
        // sees the same nodes, in the same order, as the reference.
        #[test]
        fn selection_matches_the_reference(
            pools in prop::collection::vec((1..9u64, 1..9u64, 0..3usize), 1..4),
            nodes in prop::collection::vec(
                (0..4usize, 0..9000u64, 0..9000u64, any::<bool>(), prop_oneof![3 => Just(0usize), 1 => 0..8usize]),
                1..60,
            ),
            tolerated in 0..4usize,
            pod in (0..3000u64, 0..3000u64),
            weights in (0..3i64, 0..3i64, 0..4i64),
            most_allocated in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let specs: Vec<NodePoolSpec> = pools
                .iter()
                .enumerate()
                .map(|(i, &(cpu, memory, taints))| {
                    let taints = (0..taints)
                        .map(|k| Taint {
                            key: format!("t{k}"),
                            value: String::new(),
                            effect: TaintEffect::PreferNoSchedule,
                        })
                        .collect();
                    with_taints(pool(&format!("p{i}"), 0, cpu * 1000, memory * 1000, 110), taints)
                })
                .collect();
            let pod_template = tolerating(tolerated);
            let mut cluster = build(&specs, std::slice::from_ref(&pod_template));
            for &(p, cpu, memory, ready, taints) in &nodes {
                let node = cluster.add_node((p % specs.len()) as u32, true);
                let used = req(cpu, memory);
                if cluster.filter(&cluster.templates[0], &used, node).is_none() {
                    cluster.assign(0, &used, node);
                }
                cluster.set_ready(node as usize as NodeId, ready);
                for taint in ControllerTaints::from_index(taints).iter() {
                    cluster.set_controller_taint(node, taint, true);
                }
            }
            let config = SchedulerConfig {
                scoring: if most_allocated {
                    ScoringStrategy::MostAllocated
                } else {
                    ScoringStrategy::LeastAllocated
                },
                resources_fit_weight: weights.0,
                balanced_allocation_weight: weights.1,
                taint_toleration_weight: weights.2,
                ..Default::default()
            };
            let requests = req(pod.0, pod.1);
            let mut ours = RngStreams::new(seed).stream("scheduler");
            let mut theirs = ours.clone();
            let got = KubePlacement::new(&config).place(&cluster, 0, &requests, &mut ours);
            let reference = reference_pick(&cluster, (&specs, &pod_template), &config, &requests, &mut theirs);
            prop_assert_eq!(got.node, reference);
            prop_assert_eq!(ours, theirs);
            if got.node.is_none() {
                prop_assert_eq!(got.diagnosis.as_deref(), Some(&full_diagnosis(&cluster, 0, &requests)));
            }
        }
    }
}

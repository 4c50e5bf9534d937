//! An index over free capacity: finds a node that passes every filter of
//! [`ClusterState::filter`] without scanning the cluster.
//!
//! Per pool, a segment tree over the pool's nodes, in the order they joined
//! the pool (a pool's nodes need not be contiguous in id), stores for every
//! subtree the largest room of each resource dimension in use. A placement
//! descends only into subtrees whose maxima cover the request, checks the
//! filters on the nodes it reaches and backtracks when they fail (another
//! node of the subtree may hold the maximum of a dimension, or anti-affinity
//! may forbid the node). The tree's leaves are blocks of [`BLOCK`] nodes, which
//! keeps it at about 1 MB per 100,000 nodes with four dimensions in use, plus
//! 6 bytes per node for the id-to-position map, readiness and controller
//! taints. Placement and
//! `node_changed` are O(log n) unless many nodes that fit by resources fail
//! anti-affinity (each is checked and skipped).
//!
//! Placement policy, deterministic (no randomness is drawn):
//! - `MostAllocated`: first fit. Pools in pool order, within a pool the first
//!   feasible node in joining order. Packs nodes, like MostAllocated, but
//!   without comparing how full the candidates are.
//! - `LeastAllocated`: spread. Pools by decreasing largest free cpu share;
//!   within a pool the descent follows the subtree with the most free cpu,
//!   so it reaches the node with the most free cpu unless that one fails
//!   another filter (then the next best subtree is tried).
//!
//! Controller taints on single nodes do not change the tree: a node's room
//! stays an upper bound, and the filter check rejects a node whose taint the
//! pod does not tolerate when the descent reaches it. Many tainted nodes
//! with room (an autoscaler marking empty nodes) make spread placements
//! backtrack over them.
//!
//! When nothing fits, the diagnosis is exact, as a full filter pass would
//! report it: pools that fail the template's pool-level filters (taints,
//! affinity) are counted per pool from the tree's counts of members failing
//! the node-state filters and of members carrying each set of controller
//! taints (TaintToleration precedes NodeAffinity), the nodes of the other
//! pools are filtered one by one and counted in `nodes_evaluated`.
//! Unschedulable attempts therefore cost a scan of the eligible pools, in
//! wall time and in simulated time, as kube-scheduler's own failed cycles do.

use super::kube::record_failure;
use super::{Diagnosis, PlacementResult};
use crate::cluster::{ClusterState, CompiledTemplate, FilterReason};
use crate::config::{SchedulerConfig, ScoringStrategy};
use crate::ids::{NodeId, WorkloadId};
use crate::resources::{ResourceVec, CPU, NUM_RESOURCES};
use crate::rng::SimRng;
use crate::taints::ControllerTaints;

/// Nodes per leaf of a pool's tree.
const BLOCK: usize = 8;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Policy {
    FirstFit,
    Spread,
}

/// Room of each dimension in use, for one node or the maximum over a subtree.
/// A ready node's room is `allocatable - used + 1` and a not-ready node's 0,
/// so "room > request" in every dimension is the resource and readiness test,
/// including for requests of 0.
type Room = [u64; NUM_RESOURCES];

/// One pool's segment tree.
struct PoolTree {
    members: Vec<NodeId>,
    /// Leaf blocks, a power of two; the tree is stored in heap order from index 1.
    leaves: usize,
    /// `2 * leaves` rooms of `dims` values each.
    room: Vec<u64>,
    /// Members failing the node-state filters, per reason: cordoned or
    /// draining (unschedulable), not ready.
    unschedulable: u32,
    not_ready: u32,
    /// Members passing the node-state filters that carry controller taints,
    /// per set of taints: a diagnosis names those a template does not
    /// tolerate before the pool's affinity (TaintToleration comes first).
    tainted: [u32; ControllerTaints::COMBINATIONS],
}

/// What one placement looks for, and how many nodes it filtered so far.
struct Query<'a> {
    cluster: &'a ClusterState,
    template: &'a CompiledTemplate,
    requests: &'a ResourceVec,
    /// The request, projected on the dimensions in use.
    need: &'a [u64],
    policy: Policy,
    spread_dim: usize,
    evaluated: u32,
}

impl Query<'_> {
    fn passes(&mut self, node: NodeId) -> bool {
        self.evaluated += 1;
        self.cluster
            .filter(self.template, self.requests, node)
            .is_none()
    }
}

#[inline]
fn covers(room: &[u64], need: &[u64]) -> bool {
    room.iter().zip(need).all(|(r, n)| r > n)
}

fn node_room(cluster: &ClusterState, dims: &[usize], node: NodeId) -> Room {
    let mut room = [0; NUM_RESOURCES];
    let n = node as usize;
    if cluster.nodes.is_schedulable(node) {
        let used = &cluster.nodes.requested[n];
        let allocatable = cluster.allocatable(node);
        for (r, &d) in room.iter_mut().zip(dims) {
            // The +1 encodes "room for 0" apart from a not-ready node; it only
            // saturates for an allocatable of u64::MAX.
            *r = allocatable.0[d]
                .checked_sub(used.0[d])
                .expect("a node's requests fit its allocatable")
                .saturating_add(1);
        }
    }
    room
}

impl PoolTree {
    /// An empty tree; [`PoolTree::rebuild`] or [`PoolTree::push`] sizes it.
    fn new() -> Self {
        PoolTree {
            members: Vec::new(),
            leaves: 0,
            room: Vec::new(),
            unschedulable: 0,
            not_ready: 0,
            tainted: [0; ControllerTaints::COMBINATIONS],
        }
    }

    fn slot(&self, index: usize, k: usize) -> &[u64] {
        &self.room[index * k..(index + 1) * k]
    }

    /// Sizes the tree for the current members and recomputes every room.
    fn rebuild(&mut self, cluster: &ClusterState, dims: &[usize]) {
        let k = dims.len();
        let blocks = self.members.len().div_ceil(BLOCK);
        self.leaves = blocks.next_power_of_two();
        self.room = vec![0; 2 * self.leaves * k];
        for block in 0..blocks {
            self.refresh_leaf(cluster, dims, block);
        }
        for index in (1..self.leaves).rev() {
            self.pull(index, k);
        }
    }

    fn refresh_leaf(&mut self, cluster: &ClusterState, dims: &[usize], block: usize) {
        let k = dims.len();
        let mut max = [0; NUM_RESOURCES];
        let end = self.members.len().min((block + 1) * BLOCK);
        for &node in &self.members[block * BLOCK..end] {
            let room = node_room(cluster, dims, node);
            for (m, r) in max.iter_mut().zip(&room[..k]) {
                *m = (*m).max(*r);
            }
        }
        let at = (self.leaves + block) * k;
        self.room[at..at + k].copy_from_slice(&max[..k]);
    }

    fn pull(&mut self, index: usize, k: usize) {
        for j in 0..k {
            let left = self.room[2 * index * k + j];
            let right = self.room[(2 * index + 1) * k + j];
            self.room[index * k + j] = left.max(right);
        }
    }

    /// Recomputes the leaf holding `position` and its ancestors: O(log n).
    fn update(&mut self, cluster: &ClusterState, dims: &[usize], position: usize) {
        let block = position / BLOCK;
        self.refresh_leaf(cluster, dims, block);
        let mut index = (self.leaves + block) / 2;
        while index >= 1 {
            self.pull(index, dims.len());
            index /= 2;
        }
    }

    /// Adds a node; the tree doubles when full (amortized O(1) per node).
    fn push(&mut self, cluster: &ClusterState, dims: &[usize], node: NodeId) -> u32 {
        self.members.push(node);
        let position = self.members.len() - 1;
        if self.members.len() > self.leaves * BLOCK {
            self.rebuild(cluster, dims);
        } else {
            self.update(cluster, dims, position);
        }
        position as u32
    }

    /// Removes the member at `position`; the last member takes its place.
    /// Returns the node moved there, if any.
    fn swap_remove(
        &mut self,
        cluster: &ClusterState,
        dims: &[usize],
        position: usize,
    ) -> Option<NodeId> {
        self.members.swap_remove(position);
        let len = self.members.len();
        if position < len {
            self.update(cluster, dims, position);
        }
        // The block the last member left: it had a member, so it is in the tree.
        self.update(cluster, dims, len);
        self.members.get(position).copied()
    }

    /// The largest room of dimension `j` in the pool.
    fn root_room(&self, j: usize, k: usize) -> u64 {
        self.room[k + j]
    }

    fn find(&self, q: &mut Query) -> Option<NodeId> {
        self.search(q, 1)
    }

    fn search(&self, q: &mut Query, index: usize) -> Option<NodeId> {
        let k = q.need.len();
        if !covers(self.slot(index, k), q.need) {
            return None;
        }
        if index >= self.leaves {
            return self.scan_block(q, index - self.leaves);
        }
        let (left, right) = (2 * index, 2 * index + 1);
        let spread_right = q.policy == Policy::Spread
            && k > 0
            && self.room[right * k + q.spread_dim] > self.room[left * k + q.spread_dim];
        let (first, second) = if spread_right {
            (right, left)
        } else {
            (left, right)
        };
        if let Some(node) = self.search(q, first) {
            return Some(node);
        }
        self.search(q, second)
    }

    fn scan_block(&self, q: &mut Query, block: usize) -> Option<NodeId> {
        let end = self.members.len().min((block + 1) * BLOCK);
        let nodes = &self.members[block * BLOCK..end];
        if q.policy == Policy::FirstFit {
            return nodes.iter().copied().find(|&n| q.passes(n));
        }
        // Spread: most free cpu first, joining order among equals.
        let mut order = [(0u64, 0 as NodeId); BLOCK];
        for (slot, &node) in order.iter_mut().zip(nodes) {
            let free = q.cluster.allocatable(node).0[CPU]
                .checked_sub(q.cluster.nodes.requested[node as usize].0[CPU])
                .expect("a node's requests fit its allocatable");
            *slot = (free, node);
        }
        let order = &mut order[..nodes.len()];
        order.sort_by_key(|&(free, _)| std::cmp::Reverse(free));
        order.iter().map(|&(_, n)| n).find(|&n| q.passes(n))
    }
}

pub struct FastIndex {
    policy: Policy,
    /// Resource dimensions some pool has; a request for any other cannot fit.
    dims: Vec<usize>,
    /// Position of cpu in `dims`, the dimension the spread policy follows.
    spread_dim: usize,
    pools: Vec<PoolTree>,
    /// Per node id: its position in its pool's tree, `NOT_MEMBER` for a node
    /// not registered or deleted. Ids at or above the length are not seen yet.
    position: Vec<u32>,
    /// Per node id: the node-state filter failing it as last seen, for the
    /// per-pool counts.
    blocked: Vec<Option<FilterReason>>,
    /// Per node id: its controller taints as last seen, likewise.
    taints: Vec<ControllerTaints>,
    /// Scratch: eligible pools in trial order.
    pool_order: Vec<u32>,
    /// Bumped at every `node_changed`: the diagnoses below hold while it stays.
    generation: u64,
    /// Failed placements' diagnoses at `diagnosed_generation`, by template
    /// and requests: a saturated cluster fails the same pending pods again
    /// and again without any node changing in between, and each diagnosis
    /// is a pass over every node.
    diagnoses: Vec<(WorkloadId, ResourceVec, u32, Diagnosis)>,
    diagnosed_generation: u64,
}

impl FastIndex {
    pub fn new(config: &SchedulerConfig, cluster: &ClusterState) -> Self {
        let dims: Vec<usize> = (0..NUM_RESOURCES)
            .filter(|&d| cluster.pools.iter().any(|p| p.allocatable.0[d] > 0))
            .collect();
        let spread_dim = dims.iter().position(|&d| d == CPU).unwrap_or(0);
        let mut index = FastIndex {
            policy: match config.scoring {
                ScoringStrategy::MostAllocated => Policy::FirstFit,
                ScoringStrategy::LeastAllocated => Policy::Spread,
            },
            dims,
            spread_dim,
            pools: cluster.pools.iter().map(|_| PoolTree::new()).collect(),
            position: Vec::with_capacity(cluster.nodes.len()),
            blocked: Vec::with_capacity(cluster.nodes.len()),
            taints: Vec::with_capacity(cluster.nodes.len()),
            pool_order: Vec::new(),
            generation: 0,
            diagnoses: Vec::new(),
            diagnosed_generation: 0,
        };
        // Bulk load: join every registered node, then build each tree once.
        for node in 0..cluster.nodes.len() as NodeId {
            let n = node as usize;
            let seen = Seen::of(cluster, node);
            index.blocked.push(seen.blocked);
            index.taints.push(seen.taints);
            if !cluster.nodes.state(node).is_registered() {
                index.position.push(NOT_MEMBER);
                continue;
            }
            let tree = &mut index.pools[cluster.nodes.pool[n] as usize];
            tree.members.push(node);
            index.position.push((tree.members.len() - 1) as u32);
            tree.count(seen, true);
        }
        for tree in &mut index.pools {
            tree.rebuild(cluster, &index.dims);
        }
        index
    }

    /// Notes node ids created since the last call; registered ones join.
    fn see_new_nodes(&mut self, cluster: &ClusterState) {
        for node in self.position.len() as NodeId..cluster.nodes.len() as NodeId {
            self.position.push(NOT_MEMBER);
            self.blocked.push(None);
            self.taints.push(ControllerTaints::NONE);
            self.node_changed(cluster, node);
        }
    }

    pub fn place(
        &mut self,
        cluster: &ClusterState,
        template_id: WorkloadId,
        requests: &ResourceVec,
        _rng: &mut SimRng,
    ) -> PlacementResult {
        self.see_new_nodes(cluster);
        let template = &cluster.templates[template_id as usize];
        let need = self.need(requests);
        let mut q = Query {
            cluster,
            template,
            requests,
            need: &need[..self.dims.len()],
            policy: self.policy,
            spread_dim: self.spread_dim,
            evaluated: 0,
        };
        if self.requests_only_dims_in_use(requests) {
            self.order_pools(cluster, template);
            for &pool in &self.pool_order {
                if let Some(node) = self.pools[pool as usize].find(&mut q) {
                    return PlacementResult {
                        node: Some(node),
                        nodes_evaluated: q.evaluated,
                        diagnosis: None,
                    };
                }
            }
        }
        let (evaluated, diagnosis) = self.diagnosis_of(&mut q, template_id);
        PlacementResult {
            node: None,
            nodes_evaluated: q.evaluated + evaluated,
            diagnosis: Some(Box::new(diagnosis)),
        }
    }

    /// The diagnosis of a failed placement and the nodes it evaluated:
    /// computed, or the same as an identical pod's since no node changed
    /// (the same nodes count as evaluated, so the scheduling cost is the same).
    fn diagnosis_of(&mut self, q: &mut Query, template: WorkloadId) -> (u32, Diagnosis) {
        if self.diagnosed_generation != self.generation {
            self.diagnoses.clear();
            self.diagnosed_generation = self.generation;
        }
        let known = self
            .diagnoses
            .iter()
            .find(|(t, r, _, _)| *t == template && r == q.requests);
        if let Some((_, _, evaluated, diagnosis)) = known {
            return (*evaluated, diagnosis.clone());
        }
        let before = q.evaluated;
        let diagnosis = self.diagnose(q);
        let evaluated = q.evaluated - before;
        q.evaluated = before;
        self.diagnoses
            .push((template, *q.requests, evaluated, diagnosis.clone()));
        (evaluated, diagnosis)
    }

    /// Whether some registered node passes every filter for the pod now:
    /// the placement's descent without its side effects. The index follows
    /// every node change, so it is current.
    pub fn fits_some_node(
        &self,
        cluster: &ClusterState,
        template: WorkloadId,
        requests: &ResourceVec,
    ) -> bool {
        if !self.requests_only_dims_in_use(requests) {
            return false;
        }
        let template = &cluster.templates[template as usize];
        let need = self.need(requests);
        let mut q = Query {
            cluster,
            template,
            requests,
            need: &need[..self.dims.len()],
            policy: Policy::FirstFit,
            spread_dim: self.spread_dim,
            evaluated: 0,
        };
        cluster
            .nodes
            .nonempty_pools()
            .iter()
            .filter(|&&p| template.pool_filter[p as usize].is_none())
            .any(|&p| self.pools[p as usize].find(&mut q).is_some())
    }

    /// The request on the dimensions in use, in the trees' order (the rest
    /// of the array is unused).
    fn need(&self, requests: &ResourceVec) -> [u64; NUM_RESOURCES] {
        let mut need = [0; NUM_RESOURCES];
        for (n, &d) in need.iter_mut().zip(&self.dims) {
            *n = requests.0[d];
        }
        need
    }

    fn requests_only_dims_in_use(&self, requests: &ResourceVec) -> bool {
        (0..NUM_RESOURCES).all(|d| requests.0[d] == 0 || self.dims.contains(&d))
    }

    /// The pools with nodes whose labels and taints admit the template, in
    /// trial order. An empty pool cannot hold the pod: it is not tried, so
    /// thousands of empty pools cost nothing per placement.
    fn order_pools(&mut self, cluster: &ClusterState, template: &CompiledTemplate) {
        self.pool_order.clear();
        self.pool_order.extend(
            cluster
                .nodes
                .nonempty_pools()
                .iter()
                .copied()
                .filter(|&p| template.pool_filter[p as usize].is_none()),
        );
        if self.policy != Policy::Spread || self.dims.is_empty() {
            return;
        }
        let (k, j) = (self.dims.len(), self.spread_dim);
        let d = self.dims[j];
        let trees = &self.pools;
        let free_share = |p: u32| -> f64 {
            let free = trees[p as usize].root_room(j, k).saturating_sub(1);
            let allocatable = cluster.pools[p as usize].allocatable.0[d];
            if allocatable == 0 {
                0.0
            } else {
                free as f64 / allocatable as f64
            }
        };
        self.pool_order
            .sort_by(|&a, &b| free_share(b).total_cmp(&free_share(a)).then(a.cmp(&b)));
    }

    /// The exact diagnosis of a full filter pass (see the module docs). An
    /// empty pool has no node to count, so only pools with nodes are walked.
    fn diagnose(&self, q: &mut Query) -> Diagnosis {
        let mut diagnosis = Diagnosis {
            nodes_total: q.cluster.nodes.registered_count() as u32,
            ..Default::default()
        };
        for &pool in q.cluster.nodes.nonempty_pools() {
            let (pool, tree) = (pool as usize, &self.pools[pool as usize]);
            if let Some(reason) = q.template.pool_filter[pool] {
                tree.diagnose_filtered_pool(q.template, reason, &mut diagnosis);
                continue;
            }
            for &node in &tree.members {
                q.evaluated += 1;
                if let Some(reason) = q.cluster.filter(q.template, q.requests, node) {
                    record_failure(&mut diagnosis, q.cluster, q.requests, node, reason);
                }
            }
        }
        diagnosis
    }

    /// Must follow every change of a node's usage or state and every node
    /// added; a node id the index has not seen is taken as added. O(log n).
    pub fn node_changed(&mut self, cluster: &ClusterState, node: NodeId) {
        self.generation = self
            .generation
            .checked_add(1)
            .expect("fewer than 2^64 node changes");
        let n = node as usize;
        if n >= self.position.len() {
            self.see_new_nodes(cluster);
            return;
        }
        let pool = cluster.nodes.pool[n] as usize;
        let registered = cluster.nodes.state(node).is_registered();
        let seen = Seen::of(cluster, node);
        let was = Seen {
            blocked: self.blocked[n],
            taints: self.taints[n],
        };
        let tree = &mut self.pools[pool];
        match (self.position[n] != NOT_MEMBER, registered) {
            (false, false) => {}
            (false, true) => {
                tree.count(seen, true);
                self.position[n] = tree.push(cluster, &self.dims, node);
            }
            (true, false) => {
                tree.count(was, false);
                let at = self.position[n] as usize;
                if let Some(moved) = tree.swap_remove(cluster, &self.dims, at) {
                    self.position[moved as usize] = at as u32;
                }
                self.position[n] = NOT_MEMBER;
            }
            (true, true) => {
                tree.count(was, false);
                tree.count(seen, true);
                tree.update(cluster, &self.dims, self.position[n] as usize);
            }
        }
        self.blocked[n] = seen.blocked;
        self.taints[n] = seen.taints;
    }
}

/// `FastIndex::position` of a node outside every tree.
const NOT_MEMBER: u32 = u32::MAX;

/// What a pool's counts hold of one member: the node-state filter failing
/// it, else the controller taints it carries.
#[derive(Copy, Clone)]
struct Seen {
    blocked: Option<FilterReason>,
    taints: ControllerTaints,
}

impl Seen {
    fn of(cluster: &ClusterState, node: NodeId) -> Self {
        Seen {
            blocked: cluster.state_filter(node),
            taints: cluster.nodes.controller_taints(node),
        }
    }
}

impl PoolTree {
    /// Counts a member in (`add`) or out of the pool's per-reason counts.
    fn count(&mut self, seen: Seen, add: bool) {
        let count = match seen.blocked {
            Some(FilterReason::NodeNotReady) => &mut self.not_ready,
            Some(_) => &mut self.unschedulable,
            None if seen.taints.is_empty() => return,
            None => &mut self.tainted[seen.taints.index()],
        };
        *count = if add {
            count.checked_add(1)
        } else {
            count.checked_sub(1)
        }
        .expect("a member is counted once");
    }

    /// Counts the members of a pool failing the template's pool-level
    /// `reason`, in filter order: node state, then TaintToleration (the
    /// pool's taints, then the controllers' on the node), then NodeAffinity.
    fn diagnose_filtered_pool(
        &self,
        template: &CompiledTemplate,
        reason: FilterReason,
        diagnosis: &mut Diagnosis,
    ) {
        diagnosis.not_ready += self.not_ready;
        diagnosis.unschedulable += self.unschedulable;
        let mut rest = self.members.len() as u32 - self.not_ready - self.unschedulable;
        if !matches!(reason, FilterReason::UntoleratedTaint(_)) {
            for (index, &count) in self.tainted.iter().enumerate() {
                let set = ControllerTaints::from_index(index);
                if let Some(taint) = set.and(template.untolerated_controller_taints).first() {
                    diagnosis.record_many(FilterReason::ControllerTaint(taint), count);
                    rest -= count;
                }
            }
        }
        diagnosis.record_many(reason, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{
        anti, build, feasible, full_diagnosis, label, pool, req, template,
    };
    use super::*;
    use crate::cluster::NodeState;
    use crate::config::{
        NodePoolSpec, PodTemplate, Taint, TaintEffect, Toleration, TolerationOperator,
    };
    use crate::resources::{FIRST_EXTENDED, MEMORY};
    use crate::rng::RngStreams;
    use crate::taints::ControllerTaint;
    use proptest::prelude::*;

    fn index(scoring: ScoringStrategy, cluster: &ClusterState) -> FastIndex {
        let config = SchedulerConfig {
            scoring,
            ..Default::default()
        };
        FastIndex::new(&config, cluster)
    }

    fn place(
        index: &mut FastIndex,
        cluster: &ClusterState,
        t: u32,
        r: ResourceVec,
    ) -> PlacementResult {
        index.place(cluster, t, &r, &mut RngStreams::new(1).stream("scheduler"))
    }

    /// Places and assigns, as the simulation does.
    fn bind(
        index: &mut FastIndex,
        cluster: &mut ClusterState,
        t: u32,
        r: ResourceVec,
    ) -> Option<NodeId> {
        let node = place(index, cluster, t, r).node?;
        cluster.assign(t, &r, node);
        index.node_changed(cluster, node);
        Some(node)
    }

    #[test]
    fn first_fit_fills_nodes_in_order() {
        let mut cluster = build(&[pool("p", 20, 4000, 4000, 110)], &[template(&[])]);
        let mut index = index(ScoringStrategy::MostAllocated, &cluster);
        let nodes: Vec<_> = (0..9)
            .map(|_| bind(&mut index, &mut cluster, 0, req(1000, 1000)).unwrap())
            .collect();
        assert_eq!(nodes, vec![0, 0, 0, 0, 1, 1, 1, 1, 2]);
        // Freeing room on node 0 sends the next pod back there.
        cluster.unassign(0, &req(1000, 1000), 0);
        index.node_changed(&cluster, 0);
        assert_eq!(
            place(&mut index, &cluster, 0, req(1000, 1000)).node,
            Some(0)
        );
    }

    #[test]
    fn spread_takes_the_node_with_most_free_cpu() {
        let mut cluster = build(&[pool("p", 20, 4000, 4000, 110)], &[template(&[])]);
        for n in 0..20 {
            if n != 13 {
                cluster.assign(0, &req(100 + 10 * u64::from(n), 0), n);
            }
        }
        let mut index = index(ScoringStrategy::LeastAllocated, &cluster);
        assert_eq!(place(&mut index, &cluster, 0, req(500, 500)).node, Some(13));
        // Spread keeps rotating over the emptiest nodes as they fill up.
        let picks: Vec<_> = (0..3)
            .map(|_| bind(&mut index, &mut cluster, 0, req(1000, 0)).unwrap())
            .collect();
        assert_eq!(picks, vec![13, 0, 1]);
    }

    #[test]
    fn spread_prefers_the_pool_with_the_largest_free_cpu_share() {
        let pools = [
            pool("small", 2, 1000, 4000, 110),
            pool("big", 2, 8000, 4000, 110),
        ];
        let mut cluster = build(&pools, &[template(&[])]);
        cluster.assign(0, &req(7000, 0), 2);
        cluster.assign(0, &req(7000, 0), 3);
        let mut index = index(ScoringStrategy::LeastAllocated, &cluster);
        // "small" is 100% free, "big" 12.5%: spread goes to "small".
        assert_eq!(place(&mut index, &cluster, 0, req(500, 0)).node, Some(0));
    }

    #[test]
    fn nodes_join_over_time_and_pools_interleave() {
        let pools = [pool("a", 0, 1000, 1000, 110), pool("b", 0, 4000, 4000, 110)];
        let mut cluster = build(&pools, &[template(&[])]);
        let mut index = index(ScoringStrategy::MostAllocated, &cluster);
        assert_eq!(place(&mut index, &cluster, 0, req(1, 1)).node, None);
        for p in [0, 1, 0, 1, 1, 0] {
            let node = cluster.add_node(p, true);
            index.node_changed(&cluster, node);
        }
        // Only pool "b" (nodes 1, 3, 4) fits 2000 m; first fit takes its first.
        assert_eq!(place(&mut index, &cluster, 0, req(2000, 1)).node, Some(1));
        // Nodes added without node_changed are picked up by the next placement.
        let late = cluster.add_node(1, true);
        for n in [1, 3, 4] {
            cluster.assign(0, &req(4000, 0), n);
            index.node_changed(&cluster, n);
        }
        assert_eq!(
            place(&mut index, &cluster, 0, req(2000, 1)).node,
            Some(late)
        );
    }

    #[test]
    fn readiness_is_indexed() {
        let mut cluster = build(&[pool("p", 3, 4000, 4000, 110)], &[template(&[])]);
        let mut index = index(ScoringStrategy::MostAllocated, &cluster);
        cluster.set_ready(0 as NodeId, false);
        index.node_changed(&cluster, 0);
        assert_eq!(place(&mut index, &cluster, 0, req(0, 0)).node, Some(1));
        cluster.set_ready(0 as NodeId, true);
        index.node_changed(&cluster, 0);
        assert_eq!(place(&mut index, &cluster, 0, req(0, 0)).node, Some(0));
    }

    #[test]
    fn anti_affinity_is_checked_at_the_leaves() {
        let web = anti(template(&[("app", "web")]), &[("app", "web")]);
        let mut cluster = build(&[pool("p", 4, 4000, 4000, 110)], &[web]);
        let mut index = index(ScoringStrategy::MostAllocated, &cluster);
        let nodes: Vec<_> = (0..5)
            .map(|_| bind(&mut index, &mut cluster, 0, req(10, 10)))
            .collect();
        assert_eq!(nodes, vec![Some(0), Some(1), Some(2), Some(3), None]);
    }

    #[test]
    fn a_placement_checks_few_nodes_in_a_large_cluster() {
        let mut cluster = build(&[pool("p", 50_000, 4000, 4000, 110)], &[template(&[])]);
        for n in 0..50_000 {
            cluster.assign(0, &req(u64::from(n % 40) * 100, 0), n);
        }
        for scoring in [
            ScoringStrategy::MostAllocated,
            ScoringStrategy::LeastAllocated,
        ] {
            let mut index = index(scoring, &cluster);
            let r = place(&mut index, &cluster, 0, req(300, 100));
            assert!(r.node.is_some());
            assert!(
                r.nodes_evaluated <= BLOCK as u32,
                "{scoring:?}: {}",
                r.nodes_evaluated
            );
        }
    }

    #[test]
    fn diagnosis_matches_a_full_filter_pass() {
        let mut t = template(&[]);
        t.node_selector = vec![label("pool", "a")];
        let pools = [pool("a", 3, 1000, 1000, 110), pool("b", 2, 8000, 8000, 110)];
        let mut cluster = build(&pools, &[t]);
        cluster.set_ready(0 as NodeId, false);
        cluster.set_ready(4 as NodeId, false);
        let mut index = index(ScoringStrategy::MostAllocated, &cluster);
        let r = place(&mut index, &cluster, 0, req(2000, 500));
        let d = r.diagnosis.unwrap();
        assert_eq!(*d, full_diagnosis(&cluster, 0, &req(2000, 500)));
        assert_eq!(
            (d.not_ready, d.node_affinity, d.insufficient[CPU]),
            (2, 1, 2)
        );
        assert_eq!(d.insufficient[MEMORY], 0);
        // Only pool "a" was filtered node by node.
        assert_eq!(r.nodes_evaluated, 3);
    }

    #[test]
    fn requests_for_a_resource_no_pool_has_never_fit() {
        let cluster = build(&[pool("p", 2, 4000, 4000, 110)], &[template(&[])]);
        let mut index = index(ScoringStrategy::MostAllocated, &cluster);
        let mut r = req(1, 1);
        r.0[FIRST_EXTENDED] = 1;
        let result = place(&mut index, &cluster, 0, r);
        assert_eq!(result.node, None);
        assert_eq!(result.diagnosis.unwrap().insufficient[FIRST_EXTENDED], 2);
    }

    // --- property tests ---------------------------------------------------

    /// Templates of the random clusters: self anti-affine, plain, anti-affine
    /// to the plain one, and one selecting pool 0 only.
    /// The taint of pool p2, when there is one.
    fn dedicated() -> Taint {
        Taint {
            key: "dedicated".into(),
            value: String::new(),
            effect: TaintEffect::NoSchedule,
        }
    }

    /// The second tolerates p2's taint and the Cluster Autoscaler's
    /// NoSchedule taint; the pinned one fails NodeAffinity outside p0, after
    /// TaintToleration.
    fn templates() -> Vec<PodTemplate> {
        let mut pinned = template(&[("app", "d")]);
        pinned.node_selector = vec![label("pool", "p0")];
        let mut tolerant = template(&[("app", "b")]);
        let exists = |key: &str| Toleration {
            key: key.into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: Some(TaintEffect::NoSchedule),
        };
        tolerant.tolerations = vec![
            exists("dedicated"),
            exists(ControllerTaint::ToBeDeletedByClusterAutoscaler.key()),
        ];
        vec![
            anti(template(&[("app", "a")]), &[("app", "a")]),
            tolerant,
            anti(template(&[("app", "c")]), &[("app", "b")]),
            pinned,
        ]
    }

    #[derive(Clone, Debug)]
    enum Op {
        Assign {
            template: u32,
            node: usize,
            cpu: u64,
            memory: u64,
        },
        Unassign {
            index: usize,
        },
        SetReady {
            node: usize,
            ready: bool,
        },
        AddNode {
            pool: u32,
            registered: bool,
        },
        /// Cordon (1), drain (2) or uncordon (0) a registered node.
        SetAdmin {
            node: usize,
            state: u8,
        },
        Register {
            node: usize,
        },
        Delete {
            node: usize,
        },
        /// Puts a controller taint on a registered node or takes it off.
        Taint {
            node: usize,
            taint: usize,
            on: bool,
        },
        Place {
            template: u32,
            cpu: u64,
            memory: u64,
            gpu: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..4u32, any::<usize>(), 0..4000u64, 0..4000u64)
                .prop_map(|(template, node, cpu, memory)| Op::Assign { template, node, cpu, memory }),
            2 => any::<usize>().prop_map(|index| Op::Unassign { index }),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(node, ready)| Op::SetReady { node, ready }),
            1 => (0..4u32, any::<bool>()).prop_map(|(pool, registered)| Op::AddNode { pool, registered }),
            1 => (any::<usize>(), 0..3u8).prop_map(|(node, state)| Op::SetAdmin { node, state }),
            1 => any::<usize>().prop_map(|node| Op::Register { node }),
            1 => any::<usize>().prop_map(|node| Op::Delete { node }),
            2 => (any::<usize>(), 0..ControllerTaint::COUNT, any::<bool>())
                .prop_map(|(node, taint, on)| Op::Taint { node, taint, on }),
            4 => (0..4u32, 0..9000u64, 0..9000u64, 0..3u64)
                .prop_map(|(template, cpu, memory, gpu)| Op::Place { template, cpu, memory, gpu }),
        ]
    }

    /// Per pool: cpu cores, memory (thousands of bytes), pod slots, gpus.
    type PoolShape = (u64, u64, u64, u64);

    /// The pools, and the pool of each initial node in id order.
    fn cluster_shape() -> impl Strategy<Value = (Vec<PoolShape>, Vec<u32>)> {
        prop::collection::vec((1..9u64, 1..9u64, 1..6u64, 0..3u64), 1..4).prop_flat_map(|pools| {
            let n = pools.len() as u32;
            (Just(pools), prop::collection::vec(0..n, 0..30))
        })
    }

    fn random_cluster(shape: &[PoolShape], nodes: &[u32]) -> ClusterState {
        let pools: Vec<NodePoolSpec> = shape
            .iter()
            .enumerate()
            .map(|(i, &(cpu, memory, pods, gpus))| {
                let mut p = pool(&format!("p{i}"), 0, cpu * 1000, memory * 1000, pods);
                p.allocatable.0[FIRST_EXTENDED] = gpus;
                if i == 2 {
                    p.taints = vec![dedicated()];
                }
                p
            })
            .collect();
        let mut cluster = build(&pools, &templates());
        for &p in nodes {
            cluster.add_node(p, true);
        }
        cluster
    }

    /// (1) what the index returns passes the filters; (2) it finds a node
    /// whenever a linear scan does; when none fits, the diagnosis is a full pass's.
    fn check(
        index: &mut FastIndex,
        cluster: &ClusterState,
        t: u32,
        r: ResourceVec,
    ) -> Result<(), TestCaseError> {
        let result = place(index, cluster, t, r);
        let scan = feasible(cluster, t, &r);
        match result.node {
            Some(node) => {
                prop_assert_eq!(
                    cluster.filter(&cluster.templates[t as usize], &r, node),
                    None
                );
                prop_assert!(result.diagnosis.is_none());
            }
            None => {
                prop_assert!(scan.is_empty(), "index missed {:?}", scan);
                prop_assert_eq!(
                    result.diagnosis.as_deref(),
                    Some(&full_diagnosis(cluster, t, &r))
                );
            }
        }
        Ok(())
    }

    type Assigned = Vec<(u32, ResourceVec, NodeId)>;

    /// Applies a cluster change; returns the node to report to the indexes.
    fn apply(cluster: &mut ClusterState, assigned: &mut Assigned, op: &Op) -> Option<NodeId> {
        let node_count = cluster.nodes.len();
        match *op {
            Op::Assign {
                template,
                node,
                cpu,
                memory,
            } if node_count > 0 => {
                let node = (node % node_count) as NodeId;
                let r = req(cpu, memory);
                let fits = cluster
                    .filter(&cluster.templates[template as usize], &r, node)
                    .is_none();
                fits.then(|| {
                    cluster.assign(template, &r, node);
                    assigned.push((template, r, node));
                    node
                })
            }
            Op::Unassign { index } if !assigned.is_empty() => {
                let (template, r, node) = assigned.swap_remove(index % assigned.len());
                cluster.unassign(template, &r, node);
                Some(node)
            }
            Op::SetReady { node, ready } if node_count > 0 => {
                let node = (node % node_count) as NodeId;
                cluster.nodes.state(node).is_registered().then(|| {
                    cluster.set_ready(node, ready);
                    node
                })
            }
            Op::AddNode { pool, registered } => {
                Some(cluster.add_node(pool % cluster.pools.len() as u32, registered))
            }
            Op::SetAdmin { node, state } if node_count > 0 => {
                let node = (node % node_count) as NodeId;
                let to =
                    [NodeState::Ready, NodeState::Cordoned, NodeState::Draining][state as usize];
                cluster.nodes.state(node).is_registered().then(|| {
                    cluster.set_admin_state(node, to);
                    node
                })
            }
            Op::Register { node } if node_count > 0 => {
                let node = (node % node_count) as NodeId;
                (cluster.nodes.state(node) == NodeState::Provisioning).then(|| {
                    cluster.register_node(node);
                    node
                })
            }
            Op::Delete { node } if node_count > 0 => {
                let node = (node % node_count) as NodeId;
                // Only an empty node is deleted: its pods leave first.
                let empty = assigned.iter().all(|&(_, _, n)| n != node);
                (empty && cluster.nodes.state(node) != NodeState::Deleted).then(|| {
                    cluster.delete_node(node);
                    node
                })
            }
            Op::Taint { node, taint, on } if node_count > 0 => {
                let node = (node % node_count) as NodeId;
                cluster.nodes.state(node).is_registered().then(|| {
                    cluster.set_controller_taint(node, ControllerTaint::ALL[taint], on);
                    node
                })
            }
            _ => None,
        }
    }

    proptest! {
        #[test]
        fn index_agrees_with_a_linear_scan(
            (shape, nodes) in cluster_shape(),
            history in prop::collection::vec(op(), 0..40),
            ops in prop::collection::vec(op(), 1..60),
        ) {
            // The indexes start from a cluster with usage and not-ready nodes,
            // so a missed update (room freed but not indexed) shows as a miss.
            let mut cluster = random_cluster(&shape, &nodes);
            let mut assigned = Assigned::new();
            for op in &history {
                apply(&mut cluster, &mut assigned, op);
            }
            let mut indexes = [
                index(ScoringStrategy::MostAllocated, &cluster),
                index(ScoringStrategy::LeastAllocated, &cluster),
            ];
            for op in &ops {
                if let Op::Place { template, cpu, memory, gpu } = *op {
                    let mut r = req(cpu, memory);
                    r.0[FIRST_EXTENDED] = gpu;
                    for index in &mut indexes {
                        check(index, &cluster, template, r)?;
                    }
                } else if let Some(node) = apply(&mut cluster, &mut assigned, op) {
                    for index in &mut indexes {
                        index.node_changed(&cluster, node);
                    }
                }
            }
            for t in 0..4 {
                for index in &mut indexes {
                    check(index, &cluster, t, req(500, 500))?;
                }
            }
        }
    }
}

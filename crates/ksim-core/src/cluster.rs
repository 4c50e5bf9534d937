//! Cluster state as struct-of-arrays indexed by `u32` ids.
//!
//! Nodes share everything but their usage with their pool, so the filters that
//! depend only on labels and taints are decided once per (template, pool) pair
//! ([`CompiledTemplate::pool_filter`]) and per-node work is reduced to resource
//! arithmetic and the anti-affinity counters.

use crate::config::{NodePoolSpec, PodTemplate, Taint};
use crate::ids::{NodeId, PodId, PoolId, WorkloadId, NO_NODE};
use crate::matching;
use crate::pod_phase::PodPhase;
use crate::resources::{ResourceVec, CPU, MEMORY};
use crate::taints::{ControllerTaint, ControllerTaints};
use crate::time::SimTime;

/// Marks "not yet" in the pod timestamps.
pub const NEVER: SimTime = SimTime::MAX;

/// Why one node cannot take one pod, in upstream filter order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterReason {
    /// Cordoned or draining (upstream's NodeUnschedulable plugin, first in filter order).
    Unschedulable,
    /// The node is not ready (upstream: the not-ready NoSchedule taint).
    NodeNotReady,
    /// A NoSchedule/NoExecute taint of the pool (index into the pool's taints).
    UntoleratedTaint(u16),
    /// A NoSchedule/NoExecute taint a controller put on the node, after the
    /// pool's own in TaintToleration.
    ControllerTaint(ControllerTaint),
    /// nodeSelector or required node affinity does not match.
    NodeAffinity,
    /// Not enough of this resource dimension.
    Insufficient(u8),
    /// Required pod anti-affinity (either direction) would be violated.
    AntiAffinity,
}

#[derive(Clone, Debug)]
pub struct Pool {
    pub name: String,
    pub allocatable: ResourceVec,
    pub taints: Vec<Taint>,
    /// The pool's topology zone (its region and zone labels, as upstream's
    /// `GetZoneKey`), numbered in order of first appearance.
    pub zone: u32,
}

#[derive(Clone, Debug)]
pub struct CompiledTemplate {
    pub priority: i32,
    /// Per pool: `None` when the pool passes taint and affinity filters.
    pub pool_filter: Vec<Option<FilterReason>>,
    /// Per pool: PreferNoSchedule taints the pod does not tolerate.
    pub pool_intolerable_taints: Vec<i64>,
    /// The NoSchedule/NoExecute controller taints no toleration covers: a
    /// node carrying one fails TaintToleration.
    pub untolerated_controller_taints: ControllerTaints,
    /// The PreferNoSchedule controller taints the pod does not tolerate:
    /// TaintToleration's score counts them with the pool's.
    pub intolerable_controller_taints: ControllerTaints,
    /// Anti-affinity terms this pod carries (ids into [`AntiAffinityIndex`]).
    pub carried_terms: Vec<u32>,
    /// Terms whose selector matches this pod's labels.
    pub matched_terms: Vec<u32>,
}

impl CompiledTemplate {
    pub fn compile(
        template: &PodTemplate,
        pools: &[NodePoolSpec],
        terms: &mut AntiAffinityTerms,
    ) -> Self {
        let pool_filter = pools
            .iter()
            .map(|pool| {
                if let Some(t) =
                    matching::first_untolerated_taint(&pool.taints, &template.tolerations)
                {
                    let index = pool.taints.iter().position(|x| x == t).unwrap_or(0);
                    return Some(FilterReason::UntoleratedTaint(index as u16));
                }
                let selects = matching::labels_match(&template.node_selector, &pool.labels)
                    && matching::node_affinity_matches(&template.node_affinity, &pool.labels);
                (!selects).then_some(FilterReason::NodeAffinity)
            })
            .collect();
        let pool_intolerable_taints = pools
            .iter()
            .map(|p| matching::intolerable_prefer_no_schedule(&p.taints, &template.tolerations))
            .collect();
        let carried_terms = template
            .anti_affinity
            .iter()
            .map(|t| terms.intern(&t.match_labels))
            .collect();
        let (untolerated_controller_taints, intolerable_controller_taints) =
            controller_taint_verdicts(template);
        CompiledTemplate {
            priority: template.priority,
            pool_filter,
            pool_intolerable_taints,
            untolerated_controller_taints,
            intolerable_controller_taints,
            carried_terms,
            matched_terms: Vec::new(),
        }
    }
}

/// The controller taints a template's tolerations leave it exposed to:
/// (those that filter, those that count against a node's score), decided by
/// the same matching as the pools' taints.
fn controller_taint_verdicts(template: &PodTemplate) -> (ControllerTaints, ControllerTaints) {
    let tolerations = &template.tolerations;
    let exposed = |scored: bool| {
        ControllerTaint::ALL
            .into_iter()
            .filter(|t| {
                let taint = [t.taint()];
                if scored {
                    matching::intolerable_prefer_no_schedule(&taint, tolerations) > 0
                } else {
                    matching::first_untolerated_taint(&taint, tolerations).is_some()
                }
            })
            .collect()
    };
    (exposed(false), exposed(true))
}

/// The distinct anti-affinity selectors of a scenario.
#[derive(Clone, Debug, Default)]
pub struct AntiAffinityTerms {
    selectors: Vec<Vec<crate::config::Label>>,
}

impl AntiAffinityTerms {
    fn intern(&mut self, selector: &[crate::config::Label]) -> u32 {
        if let Some(i) = self.selectors.iter().position(|s| s == selector) {
            return i as u32;
        }
        self.selectors.push(selector.to_vec());
        (self.selectors.len() - 1) as u32
    }

    pub fn len(&self) -> usize {
        self.selectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.selectors.is_empty()
    }

    /// Ids of the terms whose selector matches `labels`.
    pub fn matching(&self, labels: &[crate::config::Label]) -> Vec<u32> {
        (0..self.selectors.len() as u32)
            .filter(|&i| matching::labels_match(&self.selectors[i as usize], labels))
            .collect()
    }
}

/// Per term, per node: how many pods match the term's selector, and how many
/// pods carry the term. Symmetric anti-affinity needs both.
#[derive(Clone, Debug, Default)]
pub struct AntiAffinityIndex {
    matching: Vec<Vec<u32>>,
    carrying: Vec<Vec<u32>>,
}

impl AntiAffinityIndex {
    pub fn new(term_count: usize, node_count: usize) -> Self {
        AntiAffinityIndex {
            matching: vec![vec![0; node_count]; term_count],
            carrying: vec![vec![0; node_count]; term_count],
        }
    }

    fn add_node(&mut self) {
        for v in self.matching.iter_mut().chain(self.carrying.iter_mut()) {
            v.push(0);
        }
    }

    /// True when placing a pod of `template` on `node` violates no required anti-affinity.
    #[inline]
    pub fn allows(&self, template: &CompiledTemplate, node: NodeId) -> bool {
        let n = node as usize;
        template
            .carried_terms
            .iter()
            .all(|&t| self.matching[t as usize][n] == 0)
            && template
                .matched_terms
                .iter()
                .all(|&t| self.carrying[t as usize][n] == 0)
    }

    fn apply(&mut self, template: &CompiledTemplate, node: NodeId, add: bool) {
        let n = node as usize;
        for &t in &template.matched_terms {
            step_pod_count(&mut self.matching[t as usize][n], add);
        }
        for &t in &template.carried_terms {
            step_pod_count(&mut self.carrying[t as usize][n], add);
        }
    }
}

/// Counts one pod more or less in a per-node count of pods. Such counts are
/// bounded by the pods on the node: going below zero or past u32 is a bug in
/// the bookkeeping.
fn step_pod_count(count: &mut u32, add: bool) {
    *count = if add {
        count.checked_add(1)
    } else {
        count.checked_sub(1)
    }
    .expect("a per-node pod count stays within the pods on the node");
}

/// Where a node is in its life. A node id is never reused: a deleted node
/// keeps its id and its `Deleted` state for the rest of the run.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeState {
    /// Requested from the provider; not yet registered, so no scheduler sees it.
    Provisioning,
    /// Registered, healthy and schedulable.
    Ready,
    /// Its lease expired: the node-lifecycle controller marked it NotReady.
    NotReady,
    /// Marked unschedulable (`kubectl cordon`); its pods keep running.
    Cordoned,
    /// Cordoned and having its pods evicted before deletion.
    Draining,
    /// Gone from the cluster.
    Deleted,
}

impl NodeState {
    pub const COUNT: usize = 6;
    pub const ALL: [NodeState; NodeState::COUNT] = [
        NodeState::Provisioning,
        NodeState::Ready,
        NodeState::NotReady,
        NodeState::Cordoned,
        NodeState::Draining,
        NodeState::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Provisioning => "provisioning",
            NodeState::Ready => "ready",
            NodeState::NotReady => "not_ready",
            NodeState::Cordoned => "cordoned",
            NodeState::Draining => "draining",
            NodeState::Deleted => "deleted",
        }
    }

    /// In the scheduler's node list: registered and not deleted.
    pub fn is_registered(self) -> bool {
        !matches!(self, NodeState::Provisioning | NodeState::Deleted)
    }
}

/// Node state, one entry per node id.
#[derive(Clone, Debug, Default)]
pub struct Nodes {
    pub pool: Vec<PoolId>,
    pub requested: Vec<ResourceVec>,
    /// Per node, the pods there (bound or assumed) requesting no cpu, and no
    /// memory: kube-scheduler's NodeResourcesFit scores a node by "non-zero"
    /// requests, which count each of them at upstream's defaults. Touched only
    /// when such a pod comes or goes.
    pub zero_request_pods: Vec<[u32; 2]>,
    /// The node's state as the scheduler and the outputs see it: NotReady
    /// overrides what an administrator or autoscaler set (`admin`).
    state: Vec<NodeState>,
    /// Ready, Cordoned or Draining: what the node returns to when it is ready again.
    admin: Vec<NodeState>,
    /// The taints controllers put on the node (the pool's own are the pool's).
    controller_taints: Vec<ControllerTaints>,
    /// Nodes carrying a controller taint: while there are none, the
    /// scheduler's per-node paths skip reading the sets.
    tainted: u64,
    /// Nodes per state, indexed by `NodeState as usize`.
    by_state: [u64; NodeState::COUNT],
    /// Per pool, its registered nodes in the order they joined; a removed
    /// node's place is taken by the pool's last node (swap remove).
    pool_members: Vec<Vec<NodeId>>,
    /// Per pool, its Ready nodes, so a timeline sample never scans a pool.
    pool_ready: Vec<u32>,
    /// Per node, its index in its pool's member list (`NO_NODE` when not a member).
    member_index: Vec<u32>,
    /// The pools with at least one registered node, in pool order: a
    /// scenario may declare thousands of pools (autoscaler node groups,
    /// instance types) of which few have nodes, and per-cycle work walks
    /// these only.
    nonempty_pools: Vec<PoolId>,
    /// Registered nodes in the order they registered (deleted ones dropped).
    registration_order: Vec<NodeId>,
    /// Bumped whenever a node registers or is deleted, so views of the node
    /// list (the scheduler's node-tree order) know when to rebuild.
    membership_generation: u64,
    /// Per topology zone: registered nodes, and those of them NotReady, so
    /// the node-lifecycle controller's zone states never scan nodes.
    zone_registered: Vec<u64>,
    zone_not_ready: Vec<u64>,
}

impl Nodes {
    /// Nodes currently ready, kept as a counter so sampling never scans nodes.
    pub fn ready_count(&self) -> u64 {
        self.count(NodeState::Ready)
    }

    /// Nodes in `state` now.
    pub fn count(&self, state: NodeState) -> u64 {
        self.by_state[state as usize]
    }

    /// Nodes in the cluster now: every state but Deleted.
    pub fn live_count(&self) -> u64 {
        self.pool.len() as u64 - self.count(NodeState::Deleted)
    }

    /// Registered nodes (the scheduler's node list).
    pub fn registered_count(&self) -> u64 {
        self.live_count() - self.count(NodeState::Provisioning)
    }

    pub fn state(&self, node: NodeId) -> NodeState {
        self.state[node as usize]
    }

    /// Ready, Cordoned or Draining: what an administrator or autoscaler set,
    /// whatever the node's readiness (a NotReady node keeps it).
    pub fn admin_state(&self, node: NodeId) -> NodeState {
        self.admin[node as usize]
    }

    /// A zone's registered nodes and, of them, the NotReady ones (0 and 0
    /// for a zone no node has joined yet).
    pub fn zone_counts(&self, zone: u32) -> (u64, u64) {
        let z = zone as usize;
        (
            self.zone_registered.get(z).copied().unwrap_or(0),
            self.zone_not_ready.get(z).copied().unwrap_or(0),
        )
    }

    /// The taints controllers put on the node.
    #[inline]
    pub fn controller_taints(&self, node: NodeId) -> ControllerTaints {
        self.controller_taints[node as usize]
    }

    /// Nodes carrying at least one controller taint.
    pub fn tainted_count(&self) -> u64 {
        self.tainted
    }

    /// Ready and not cordoned: the only state that admits new pods.
    #[inline]
    pub fn is_schedulable(&self, node: NodeId) -> bool {
        self.state[node as usize] == NodeState::Ready
    }

    /// The registered nodes of `pool`, in joining order but for removals.
    pub fn pool_members(&self, pool: PoolId) -> &[NodeId] {
        &self.pool_members[pool as usize]
    }

    /// The pool's Ready nodes, kept as a counter.
    pub fn pool_ready_count(&self, pool: PoolId) -> u32 {
        self.pool_ready[pool as usize]
    }

    /// The pools with at least one registered node, in increasing pool id.
    pub fn nonempty_pools(&self) -> &[PoolId] {
        &self.nonempty_pools
    }

    /// Lets invariant tests corrupt the list the checker recounts.
    #[cfg(test)]
    pub(crate) fn nonempty_pools_mut(&mut self) -> &mut Vec<PoolId> {
        &mut self.nonempty_pools
    }

    /// Lets invariant tests corrupt the counts the checker recounts.
    #[cfg(test)]
    pub(crate) fn pool_ready_mut(&mut self) -> &mut Vec<u32> {
        &mut self.pool_ready
    }

    /// Lets invariant tests corrupt the count the checker recounts.
    #[cfg(test)]
    pub(crate) fn tainted_count_mut(&mut self) -> &mut u64 {
        &mut self.tainted
    }

    /// Registered nodes, in the order they registered.
    pub fn registration_order(&self) -> &[NodeId] {
        &self.registration_order
    }

    pub fn membership_generation(&self) -> u64 {
        self.membership_generation
    }

    /// Ids ever created, deleted nodes included.
    pub fn len(&self) -> usize {
        self.pool.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pool.is_empty()
    }
}

/// Pod state, one entry per pod id; pods are never removed so ids stay valid.
#[derive(Clone, Debug, Default)]
pub struct Pods {
    pub workload: Vec<WorkloadId>,
    pub requests: Vec<ResourceVec>,
    pub phase: Vec<PodPhase>,
    pub node: Vec<NodeId>,
    pub created: Vec<SimTime>,
    pub bound: Vec<SimTime>,
    pub started: Vec<SimTime>,
    pub finished: Vec<SimTime>,
    /// Since when the pod is Ready; NEVER while it is not (before its
    /// readiness delay has passed, and once it is being deleted or ended).
    pub ready_since: Vec<SimTime>,
    /// Its deletion was requested (upstream's deletionTimestamp is set).
    /// A flag, not a time: nothing reads when, and a byte per pod matters at
    /// millions of pods.
    pub deleting: Vec<bool>,
    /// Scheduling attempts so far (drives the backoff).
    pub attempts: Vec<u16>,
}

/// Upstream's zone key of a node: its region and zone labels (the GA names,
/// else the beta ones); nodes with neither share the empty zone.
fn zone_key(labels: &[crate::config::Label]) -> (&str, &str) {
    let value = |keys: [&str; 2]| {
        keys.iter()
            .find_map(|k| labels.iter().find(|l| l.key == *k))
            .map_or("", |l| l.value.as_str())
    };
    (
        value([
            "topology.kubernetes.io/region",
            "failure-domain.beta.kubernetes.io/region",
        ]),
        value([
            "topology.kubernetes.io/zone",
            "failure-domain.beta.kubernetes.io/zone",
        ]),
    )
}

/// The id of the pod after `len` pods; None past the last usable id
/// (`PodId::MAX` marks "no pod" in per-node lists).
fn next_pod_id(len: usize) -> Option<PodId> {
    PodId::try_from(len).ok().filter(|&id| id < PodId::MAX)
}

impl Pods {
    pub fn len(&self) -> usize {
        self.workload.len()
    }
    pub fn is_empty(&self) -> bool {
        self.workload.is_empty()
    }

    /// Adds a pod; None once every id below `PodId::MAX` (kept as the
    /// "no pod" mark) is taken.
    pub fn push(
        &mut self,
        workload: WorkloadId,
        requests: ResourceVec,
        created: SimTime,
    ) -> Option<PodId> {
        let id = next_pod_id(self.workload.len())?;
        self.workload.push(workload);
        self.requests.push(requests);
        self.phase.push(PodPhase::Pending);
        self.node.push(NO_NODE);
        self.created.push(created);
        self.bound.push(NEVER);
        self.started.push(NEVER);
        self.finished.push(NEVER);
        self.ready_since.push(NEVER);
        self.deleting.push(false);
        self.attempts.push(0);
        Some(id)
    }

    /// Bytes of state one pod costs, for up-front memory estimates.
    pub const BYTES_PER_POD: u64 =
        (4 + std::mem::size_of::<ResourceVec>() + 1 + 4 + 5 * 8 + 1 + 2) as u64;
}

/// Everything the scheduler reads: pools, templates, nodes, anti-affinity counters.
#[derive(Clone, Debug)]
pub struct ClusterState {
    pub pools: Vec<Pool>,
    pub templates: Vec<CompiledTemplate>,
    pub nodes: Nodes,
    pub anti_affinity: AntiAffinityIndex,
}

impl ClusterState {
    /// Bytes of state one node costs, for up-front memory estimates: pool,
    /// requested, pods without requests, state and admin state, controller
    /// taints, member index, pool member and registration order entries.
    pub const BYTES_PER_NODE: u64 =
        (4 + std::mem::size_of::<ResourceVec>() + 8 + 2 + 1 + 4 + 4 + 4) as u64;

    pub fn new(pools: Vec<Pool>, templates: Vec<CompiledTemplate>, term_count: usize) -> Self {
        let nodes = Nodes {
            // Every pool has a member list from the start, empty or not.
            pool_members: vec![Vec::new(); pools.len()],
            pool_ready: vec![0; pools.len()],
            ..Nodes::default()
        };
        ClusterState {
            pools,
            templates,
            nodes,
            anti_affinity: AntiAffinityIndex::new(term_count, 0),
        }
    }

    /// Compiles the templates against the pools and adds each pool's nodes,
    /// pool by pool, as a run starts.
    pub fn from_specs(pools: &[NodePoolSpec], templates: &[PodTemplate]) -> Self {
        let mut terms = AntiAffinityTerms::default();
        let mut compiled: Vec<CompiledTemplate> = templates
            .iter()
            .map(|t| CompiledTemplate::compile(t, pools, &mut terms))
            .collect();
        for (c, t) in compiled.iter_mut().zip(templates) {
            c.matched_terms = terms.matching(&t.labels);
        }
        let mut zones: Vec<(&str, &str)> = Vec::new();
        let runtime_pools = pools
            .iter()
            .map(|p| {
                let key = zone_key(&p.labels);
                let zone = zones.iter().position(|z| *z == key).unwrap_or_else(|| {
                    zones.push(key);
                    zones.len() - 1
                });
                Pool {
                    name: p.name.clone(),
                    allocatable: p.allocatable,
                    taints: p.taints.clone(),
                    zone: zone as u32,
                }
            })
            .collect();
        let mut cluster = ClusterState::new(runtime_pools, compiled, terms.len());
        for (id, p) in pools.iter().enumerate() {
            for _ in 0..p.count {
                cluster.add_node(id as PoolId, true);
            }
        }
        cluster
    }

    /// Adds a node to `pool`, registered at once (a node present when the run
    /// starts) or Provisioning until [`ClusterState::register_node`].
    pub fn add_node(&mut self, pool: PoolId, registered: bool) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.pool.push(pool);
        self.nodes.requested.push(ResourceVec::ZERO);
        self.nodes.zero_request_pods.push([0, 0]);
        self.nodes.state.push(NodeState::Provisioning);
        self.nodes.admin.push(NodeState::Ready);
        self.nodes.controller_taints.push(ControllerTaints::NONE);
        self.nodes.member_index.push(NO_NODE);
        self.nodes.by_state[NodeState::Provisioning as usize] += 1;
        self.anti_affinity.add_node();
        if registered {
            self.register_node(id);
        }
        id
    }

    /// [`ClusterState::add_node`], or None once every node id below
    /// `NO_NODE` is taken (ids are never reused).
    pub fn try_add_node(&mut self, pool: PoolId, registered: bool) -> Option<NodeId> {
        (self.nodes.len() < NO_NODE as usize).then(|| self.add_node(pool, registered))
    }

    /// A provisioned node's kubelet registers: it joins its pool's members, Ready.
    pub fn register_node(&mut self, node: NodeId) {
        assert_eq!(
            self.nodes.state(node),
            NodeState::Provisioning,
            "only a provisioning node registers"
        );
        let pool = self.nodes.pool[node as usize];
        let members = &mut self.nodes.pool_members[pool as usize];
        self.nodes.member_index[node as usize] = members.len() as u32;
        members.push(node);
        if members.len() == 1 {
            // A pool gaining its first node is rare: an O(pools) insertion
            // keeps the list sorted.
            let list = &mut self.nodes.nonempty_pools;
            let at = list.binary_search(&pool).expect_err("the pool was empty");
            list.insert(at, pool);
        }
        self.nodes.registration_order.push(node);
        self.nodes.membership_generation += 1;
        self.move_to(node, NodeState::Ready);
    }

    /// The node leaves the cluster; its id stays, Deleted.
    pub fn delete_node(&mut self, node: NodeId) {
        let n = node as usize;
        if self.nodes.state[n].is_registered() {
            let pool = self.nodes.pool[n];
            let at = self.nodes.member_index[n] as usize;
            let members = &mut self.nodes.pool_members[pool as usize];
            members.swap_remove(at);
            if let Some(&moved) = members.get(at) {
                self.nodes.member_index[moved as usize] = at as u32;
            }
            if members.is_empty() {
                let list = &mut self.nodes.nonempty_pools;
                let at = list.binary_search(&pool).expect("the pool had a node");
                list.remove(at);
            }
            self.nodes.member_index[n] = NO_NODE;
            // Deletions are rare next to scheduling cycles: an O(n) removal
            // keeps the order exact without tombstones.
            let order = &mut self.nodes.registration_order;
            let at = order.iter().position(|&x| x == node).expect("registered");
            order.remove(at);
            self.nodes.membership_generation += 1;
        }
        for taint in self.nodes.controller_taints[n].iter() {
            self.set_controller_taint(node, taint, false);
        }
        self.move_to(node, NodeState::Deleted);
    }

    /// Puts a controller's taint on the node (`on`) or takes it off; setting
    /// what the node already has changes nothing.
    pub fn set_controller_taint(&mut self, node: NodeId, taint: ControllerTaint, on: bool) {
        let n = node as usize;
        let before = self.nodes.controller_taints[n];
        let after = if on {
            before.with(taint)
        } else {
            before.without(taint)
        };
        self.nodes.controller_taints[n] = after;
        let tainted = &mut self.nodes.tainted;
        *tainted = match (before.is_empty(), after.is_empty()) {
            (true, false) => tainted.checked_add(1),
            (false, true) => tainted.checked_sub(1),
            _ => Some(*tainted),
        }
        .expect("the tainted nodes are counted once each");
    }

    /// Marks a registered node NotReady (its lease expired) or ready again.
    pub fn set_ready(&mut self, node: NodeId, ready: bool) {
        assert!(
            self.nodes.state(node).is_registered(),
            "only a registered node's readiness changes"
        );
        let to = if ready {
            self.nodes.admin[node as usize]
        } else {
            NodeState::NotReady
        };
        self.move_to(node, to);
    }

    /// Cordons, drains or uncordons (`Ready`) a registered node. A NotReady
    /// node stays NotReady and takes the new state when it is ready again.
    pub fn set_admin_state(&mut self, node: NodeId, to: NodeState) {
        assert!(
            matches!(
                to,
                NodeState::Ready | NodeState::Cordoned | NodeState::Draining
            ),
            "{to:?} is not an administrative state"
        );
        self.nodes.admin[node as usize] = to;
        if self.nodes.state(node) != NodeState::NotReady {
            self.move_to(node, to);
        }
    }

    fn move_to(&mut self, node: NodeId, to: NodeState) {
        let from = std::mem::replace(&mut self.nodes.state[node as usize], to);
        let left = &mut self.nodes.by_state[from as usize];
        *left = left
            .checked_sub(1)
            .expect("a node leaving a state was counted in it");
        self.nodes.by_state[to as usize] += 1;
        let pool = self.nodes.pool[node as usize] as usize;
        let ready = &mut self.nodes.pool_ready[pool];
        if from == NodeState::Ready {
            *ready = ready
                .checked_sub(1)
                .expect("a node leaving Ready was counted in its pool");
        }
        if to == NodeState::Ready {
            *ready += 1;
        }
        let zone = self.pools[pool].zone as usize;
        let nodes = &mut self.nodes;
        if nodes.zone_registered.len() <= zone {
            nodes.zone_registered.resize(zone + 1, 0);
            nodes.zone_not_ready.resize(zone + 1, 0);
        }
        for (counter, was, is) in [
            (
                &mut nodes.zone_registered[zone],
                from.is_registered(),
                to.is_registered(),
            ),
            (
                &mut nodes.zone_not_ready[zone],
                from == NodeState::NotReady,
                to == NodeState::NotReady,
            ),
        ] {
            if was && !is {
                *counter = counter
                    .checked_sub(1)
                    .expect("a node leaving a zone's count was counted in it");
            } else if is && !was {
                *counter += 1;
            }
        }
    }

    /// How many topology zones the pools span (at least one).
    pub fn zone_count(&self) -> usize {
        self.pools
            .iter()
            .map(|p| p.zone as usize + 1)
            .max()
            .unwrap_or(1)
    }

    pub fn allocatable(&self, node: NodeId) -> &ResourceVec {
        &self.pools[self.nodes.pool[node as usize] as usize].allocatable
    }

    /// The filters on the node's state alone (cordon, readiness), in
    /// upstream's order; `None` when the node is Ready.
    pub fn state_filter(&self, node: NodeId) -> Option<FilterReason> {
        let n = node as usize;
        match self.nodes.state[n] {
            NodeState::Ready => None,
            // Upstream filters NodeUnschedulable before the not-ready taint.
            NodeState::NotReady if self.nodes.admin[n] == NodeState::Ready => {
                Some(FilterReason::NodeNotReady)
            }
            _ => Some(FilterReason::Unschedulable),
        }
    }

    /// Upstream filter order for one node; `None` when the pod fits.
    #[inline]
    pub fn filter(
        &self,
        template: &CompiledTemplate,
        requests: &ResourceVec,
        node: NodeId,
    ) -> Option<FilterReason> {
        let n = node as usize;
        if let Some(reason) = self.state_filter(node) {
            return Some(reason);
        }
        let pool = self.nodes.pool[n] as usize;
        if let Some(reason) = self.taint_and_affinity_filter(template, pool, node) {
            return Some(reason);
        }
        if let Some(dim) =
            self.nodes.requested[n].first_shortfall(requests, &self.pools[pool].allocatable)
        {
            return Some(FilterReason::Insufficient(dim as u8));
        }
        if !self.anti_affinity.allows(template, node) {
            return Some(FilterReason::AntiAffinity);
        }
        None
    }

    /// TaintToleration then NodeAffinity, in upstream's order: the pool's
    /// taints, then the controllers' on the node, then the pool's labels.
    #[inline]
    fn taint_and_affinity_filter(
        &self,
        template: &CompiledTemplate,
        pool: usize,
        node: NodeId,
    ) -> Option<FilterReason> {
        let pool_reason = template.pool_filter[pool];
        if let Some(FilterReason::UntoleratedTaint(_)) = pool_reason {
            return pool_reason;
        }
        if let Some(taint) = self.untolerated_controller_taint(template, node) {
            return Some(FilterReason::ControllerTaint(taint));
        }
        pool_reason
    }

    /// The first controller taint on the node that the template does not
    /// tolerate (NoSchedule/NoExecute).
    #[inline]
    pub fn untolerated_controller_taint(
        &self,
        template: &CompiledTemplate,
        node: NodeId,
    ) -> Option<ControllerTaint> {
        if self.nodes.tainted == 0 {
            return None;
        }
        self.nodes
            .controller_taints(node)
            .and(template.untolerated_controller_taints)
            .first()
    }

    /// Accounts a pod's requests and anti-affinity on a node.
    pub fn assign(&mut self, template_id: WorkloadId, requests: &ResourceVec, node: NodeId) {
        self.nodes.requested[node as usize].add_assign(requests);
        self.count_zero_requests(requests, node, true);
        let template = &self.templates[template_id as usize];
        self.anti_affinity.apply(template, node, true);
    }

    fn count_zero_requests(&mut self, requests: &ResourceVec, node: NodeId, add: bool) {
        for (i, dim) in [CPU, MEMORY].into_iter().enumerate() {
            if requests.0[dim] == 0 {
                step_pod_count(&mut self.nodes.zero_request_pods[node as usize][i], add);
            }
        }
    }

    /// Reverses [`ClusterState::assign`].
    pub fn unassign(&mut self, template_id: WorkloadId, requests: &ResourceVec, node: NodeId) {
        self.nodes.requested[node as usize].sub_assign(requests);
        self.count_zero_requests(requests, node, false);
        let template = &self.templates[template_id as usize];
        self.anti_affinity.apply(template, node, false);
    }
}

/// A workload's pods as its controller sees them, kept exact as pods
/// change (never recounted by a scan): a controller reads these rather than
/// walking pods.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadCounts {
    /// Replicas wanted (a deployment's; 0 for a job).
    pub desired: u32,
    /// Pods not ended, terminating ones included.
    pub live: u32,
    /// Live pods in phase Pending, terminating or not.
    pub pending: u32,
    /// Live pods in phase Running, terminating or not.
    pub running: u32,
    /// Live pods Ready; a terminating pod is not (it leaves its Service's
    /// ready endpoints when its deletion starts).
    pub ready: u32,
    /// Live pods whose deletion has started (graceful termination).
    pub terminating: u32,
}

impl WorkloadCounts {
    /// Pods the ReplicaSet controller counts against `desired`: live and
    /// not terminating (upstream's `IsPodActive`).
    pub fn active(&self) -> u32 {
        self.live
            .checked_sub(self.terminating)
            .expect("terminating pods are live pods")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pod ids are 32-bit: the 2^32 - 1st pod is refused, never wrapped onto pod 0.
    #[test]
    fn pod_ids_stop_before_the_no_pod_mark_instead_of_wrapping() {
        assert_eq!(next_pod_id(0), Some(0));
        assert_eq!(next_pod_id(PodId::MAX as usize - 1), Some(PodId::MAX - 1));
        assert_eq!(next_pod_id(PodId::MAX as usize), None);
        assert_eq!(next_pod_id(PodId::MAX as usize + 1), None);
    }

    fn pools(count: usize) -> Vec<Pool> {
        (0..count)
            .map(|i| Pool {
                name: format!("p{i}"),
                allocatable: ResourceVec::ZERO,
                taints: Vec::new(),
                zone: 0,
            })
            .collect()
    }

    /// The list follows registration and deletion, stays in pool order
    /// whatever order pools fill in, and ignores provisioning nodes.
    #[test]
    fn nonempty_pools_follow_registration_and_deletion() {
        let mut cluster = ClusterState::new(pools(5), Vec::new(), 0);
        let in_3 = cluster.add_node(3, true);
        let in_1 = cluster.add_node(1, true);
        let provisioning = cluster.add_node(4, false);
        let another_in_3 = cluster.add_node(3, true);
        assert_eq!(cluster.nodes.nonempty_pools(), &[1, 3]);
        cluster.register_node(provisioning);
        assert_eq!(cluster.nodes.nonempty_pools(), &[1, 3, 4]);
        cluster.delete_node(in_3);
        assert_eq!(cluster.nodes.nonempty_pools(), &[1, 3, 4]);
        cluster.delete_node(another_in_3);
        assert_eq!(cluster.nodes.nonempty_pools(), &[1, 4]);
        cluster.delete_node(in_1);
        let never_registered = cluster.add_node(0, false);
        cluster.delete_node(never_registered);
        assert_eq!(cluster.nodes.nonempty_pools(), &[4]);
    }
}

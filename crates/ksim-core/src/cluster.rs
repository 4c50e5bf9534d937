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
use crate::time::SimTime;

/// Marks "not yet" in the pod timestamps.
pub const NEVER: SimTime = SimTime::MAX;

/// Why one node cannot take one pod, in upstream filter order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterReason {
    /// The node is not ready (upstream: the not-ready NoSchedule taint).
    NodeNotReady,
    /// A NoSchedule/NoExecute taint of the pool (index into the pool's taints).
    UntoleratedTaint(u16),
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
        CompiledTemplate {
            priority: template.priority,
            pool_filter,
            pool_intolerable_taints,
            carried_terms,
            matched_terms: Vec::new(),
        }
    }
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
    pub ready: Vec<bool>,
    ready_count: u64,
}

impl Nodes {
    /// Nodes currently ready, kept as a counter so sampling never scans nodes.
    pub fn ready_count(&self) -> u64 {
        self.ready_count
    }

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
        self.attempts.push(0);
        Some(id)
    }

    /// Bytes of state one pod costs, for up-front memory estimates.
    pub const BYTES_PER_POD: u64 =
        (4 + std::mem::size_of::<ResourceVec>() + 1 + 4 + 4 * 8 + 2) as u64;
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
    /// Bytes of state one node costs, for up-front memory estimates.
    pub const BYTES_PER_NODE: u64 = (4 + std::mem::size_of::<ResourceVec>() + 8 + 1) as u64;

    pub fn new(pools: Vec<Pool>, templates: Vec<CompiledTemplate>, term_count: usize) -> Self {
        ClusterState {
            pools,
            templates,
            nodes: Nodes::default(),
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
                cluster.add_node(id as PoolId);
            }
        }
        cluster
    }

    pub fn add_node(&mut self, pool: PoolId) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.pool.push(pool);
        self.nodes.requested.push(ResourceVec::ZERO);
        self.nodes.zero_request_pods.push([0, 0]);
        self.nodes.ready.push(true);
        self.nodes.ready_count += 1;
        self.anti_affinity.add_node();
        id
    }

    /// Marks a node ready or not, keeping the ready count.
    pub fn set_ready(&mut self, node: NodeId, ready: bool) {
        let slot = &mut self.nodes.ready[node as usize];
        if *slot != ready {
            *slot = ready;
            self.nodes.ready_count = if ready {
                self.nodes.ready_count + 1
            } else {
                self.nodes
                    .ready_count
                    .checked_sub(1)
                    .expect("a node turning not ready was counted ready")
            };
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

    /// Upstream filter order for one node; `None` when the pod fits.
    #[inline]
    pub fn filter(
        &self,
        template: &CompiledTemplate,
        requests: &ResourceVec,
        node: NodeId,
    ) -> Option<FilterReason> {
        let n = node as usize;
        if !self.nodes.ready[n] {
            return Some(FilterReason::NodeNotReady);
        }
        let pool = self.nodes.pool[n] as usize;
        if let Some(reason) = template.pool_filter[pool] {
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
}

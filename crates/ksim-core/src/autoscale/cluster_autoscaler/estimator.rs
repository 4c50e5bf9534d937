//! How many template nodes of one group the pending pods need (upstream's
//! `estimator/binpacking_estimator.go`, with `decreasing_pod_orderer.go` and
//! the static node limit of `threshold_based_limiter.go`).
//!
//! First-fit decreasing: groups of identical pods, largest first; each pod
//! goes to the first estimated node it fits, else to the node added last,
//! else to a fresh template node, until the node cap is reached. Fitting is
//! by resources (every `ResourceVec` dimension, the pod count included)
//! plus a caller's predicate for what resources cannot express (host ports,
//! spreading, anti-affinity).
//!
//! Simplified: upstream's search among the estimated nodes starts where its
//! last success was (round-robin); here it always starts at the first node.
//! Upstream's time budget for bin-packing is not modelled.

use crate::resources::{ResourceVec, CPU, MEMORY};

/// Pods that are alike (upstream's `PodEquivalenceGroup`): `count` pods,
/// each requesting `requests` (its pod-count dimension should be 1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PodGroup {
    pub requests: ResourceVec,
    pub count: u32,
}

/// The node group's template node.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NodeTemplate {
    pub allocatable: ResourceVec,
    /// What the template's own pods (its DaemonSets) request.
    pub daemonset_requests: ResourceVec,
}

/// A template node the estimate added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstimatedNode {
    pub requested: ResourceVec,
    /// Pods placed here, per input group.
    pub group_pods: Vec<u32>,
}

impl EstimatedNode {
    fn is_empty(&self) -> bool {
        self.group_pods.iter().all(|&n| n == 0)
    }
}

/// The estimate's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Every node added, in order; one may stay empty when its first pod did
    /// not fit it after all (upstream keeps it too, but does not count it).
    pub nodes: Vec<EstimatedNode>,
    /// Pods placed, per input group.
    pub scheduled: Vec<u32>,
    /// The order the groups were packed in (indices into the input).
    pub order: Vec<usize>,
}

impl Estimate {
    /// Nodes the scale-up needs: those holding at least one pod.
    pub fn node_count(&self) -> usize {
        self.nodes.iter().filter(|n| !n.is_empty()).count()
    }

    /// Pods placed, all groups together.
    pub fn scheduled_pods(&self) -> u64 {
        self.scheduled.iter().map(|&n| u64::from(n)).sum()
    }

    /// Pods of each group that fit no template node within the cap.
    pub fn unscheduled(&self, groups: &[PodGroup]) -> Vec<u32> {
        groups
            .iter()
            .zip(&self.scheduled)
            .map(|(g, &done)| g.count - done)
            .collect()
    }
}

/// Group order for packing (upstream's `DecreasingPodOrderer`): by one pod's
/// cpu and memory as fractions of the template's allocatable, summed,
/// largest first. A stable sort, so equal scores keep the input order
/// (upstream's sort is not stable; ties are in no defined order there).
pub fn decreasing_order(groups: &[PodGroup], template: &NodeTemplate) -> Vec<usize> {
    let fraction = |request: u64, allocatable: u64| {
        if allocatable == 0 {
            0.0
        } else {
            request as f64 / allocatable as f64
        }
    };
    let score = |g: &PodGroup| {
        fraction(g.requests.0[CPU], template.allocatable.0[CPU])
            + fraction(g.requests.0[MEMORY], template.allocatable.0[MEMORY])
    };
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| score(&groups[b]).total_cmp(&score(&groups[a])));
    order
}

/// Packs the groups onto template nodes. `max_nodes` caps the nodes added
/// (0: unbounded, as upstream's static threshold). `fits(group, node, nodes)`
/// is asked after the resources fit whether a pod of `group` may join
/// `nodes[node]`.
pub fn estimate(
    groups: &[PodGroup],
    template: &NodeTemplate,
    max_nodes: u32,
    mut fits: impl FnMut(usize, usize, &[EstimatedNode]) -> bool,
) -> Estimate {
    let order = decreasing_order(groups, template);
    let mut packing = Packing {
        template,
        groups,
        max_nodes,
        nodes: Vec::new(),
        scheduled: vec![0; groups.len()],
    };
    for &group in &order {
        let placed = packing.onto_existing(group, &mut fits);
        packing.onto_new(group, groups[group].count - placed, &mut fits);
    }
    Estimate {
        nodes: packing.nodes,
        scheduled: packing.scheduled,
        order,
    }
}

struct Packing<'a> {
    template: &'a NodeTemplate,
    groups: &'a [PodGroup],
    max_nodes: u32,
    nodes: Vec<EstimatedNode>,
    scheduled: Vec<u32>,
}

type Fits<'f> = dyn FnMut(usize, usize, &[EstimatedNode]) -> bool + 'f;

impl Packing<'_> {
    fn pod_fits(&self, group: usize, node: usize, fits: &mut Fits<'_>) -> bool {
        let n = &self.nodes[node];
        n.requested
            .fits_with(&self.groups[group].requests, &self.template.allocatable)
            && fits(group, node, &self.nodes)
    }

    fn place(&mut self, group: usize, node: usize) {
        let n = &mut self.nodes[node];
        n.requested.add_assign(&self.groups[group].requests);
        n.group_pods[group] = n.group_pods[group]
            .checked_add(1)
            .expect("a group's pods on one node fit u32");
        self.scheduled[group] = self.scheduled[group]
            .checked_add(1)
            .expect("a group's placed pods fit u32");
    }

    /// Pods of `group` onto the first estimated node each fits, until one
    /// fits none (its equals would not either). Returns how many were placed.
    fn onto_existing(&mut self, group: usize, fits: &mut Fits<'_>) -> u32 {
        let mut placed = 0;
        while placed < self.groups[group].count {
            let Some(node) = (0..self.nodes.len()).find(|&n| self.pod_fits(group, n, fits)) else {
                break;
            };
            self.place(group, node);
            placed += 1;
        }
        placed
    }

    /// The rest of `group`: onto the last node, else a new one. Stops when a
    /// pod fits neither an empty last node nor a fresh one (no further node
    /// would help), or when the cap allows no more nodes.
    fn onto_new(&mut self, group: usize, remaining: u32, fits: &mut Fits<'_>) {
        for _ in 0..remaining {
            if let Some(last) = self.nodes.len().checked_sub(1) {
                if self.pod_fits(group, last, fits) {
                    self.place(group, last);
                    continue;
                }
                if self.nodes[last].is_empty() {
                    return;
                }
            }
            if self.max_nodes > 0 && self.nodes.len() >= self.max_nodes as usize {
                return;
            }
            self.nodes.push(EstimatedNode {
                requested: self.template.daemonset_requests,
                group_pods: vec![0; self.groups.len()],
            });
            let last = self.nodes.len() - 1;
            if !self.pod_fits(group, last, fits) {
                return;
            }
            self.place(group, last);
        }
    }
}

#[cfg(test)]
mod tests;

//! A node autoscaler's simulated rescheduling: where the pods of nodes it
//! would remove (or pods still pending) would go, as an overlay of extra
//! requests on the cluster's nodes, never touching the cluster. Fitting is
//! the scheduler's own filter ([`ClusterView::fits_with`]); required
//! anti-affinity between pods the overlay moved is checked here.

use crate::controller::ClusterView;
use crate::ids::{NodeId, WorkloadId};
use crate::resources::ResourceVec;
use std::collections::{BTreeMap, BTreeSet};

/// Pods moved by the simulation of one scan.
#[derive(Default)]
pub(crate) struct Overlay {
    pub(crate) extra: BTreeMap<NodeId, ResourceVec>,
    /// Each pod moved: where to, its workload and its requests.
    pub(crate) moved: Vec<(NodeId, WorkloadId, ResourceVec)>,
    /// Nodes the simulation took away: no pod moves there.
    pub(crate) removed: BTreeSet<NodeId>,
    /// Disruptions left per budgeted workload after the pods moved so far.
    pub(crate) disruptions_left: BTreeMap<WorkloadId, u32>,
    /// Pods (leaving node, workload, requests) that found no place: while
    /// the overlay only adds load, an identical pod leaving the same node
    /// finds none either.
    no_place: Vec<(NodeId, WorkloadId, ResourceVec)>,
}

impl Overlay {
    pub(crate) fn place(&mut self, to: NodeId, workload: WorkloadId, requests: ResourceVec) {
        self.extra.entry(to).or_default().add_assign(&requests);
        self.moved.push((to, workload, requests));
    }
}

/// Takes back the moves after `mark` (a candidate that failed half-way).
pub(crate) fn undo_moves(overlay: &mut Overlay, mark: usize) {
    // Load taken away may make room for a pod that found none.
    overlay.no_place.clear();
    for (to, _, requests) in overlay.moved.drain(mark..) {
        let extra = overlay.extra.get_mut(&to).expect("a move's node has extra");
        extra.sub_assign(&requests);
        if *extra == ResourceVec::ZERO {
            overlay.extra.remove(&to);
        }
    }
}

/// The first node, from where the last search ended, that would take
/// the pod with what the overlay already moved there.
pub(crate) fn find_destination(
    cursor: &mut usize,
    view: &ClusterView,
    from: NodeId,
    workload: WorkloadId,
    requests: &ResourceVec,
    overlay: &mut Overlay,
) -> Option<NodeId> {
    let shape = (from, workload, *requests);
    if overlay.no_place.contains(&shape) {
        return None;
    }
    let nodes = view.registered_nodes();
    let n = nodes.len();
    for k in 0..n {
        let i = (*cursor + k) % n;
        let to = nodes[i];
        // The node as it is first: most nodes fail here, before any look-up
        // of what the overlay moved (extra load only makes a fit harder).
        if to == from || !view.fits_with(workload, requests, to, &ResourceVec::ZERO) {
            continue;
        }
        if overlay.removed.contains(&to) {
            continue;
        }
        if let Some(extra) = overlay.extra.get(&to) {
            if !view.fits_with(workload, requests, to, extra) {
                continue;
            }
            // Only a node pods were moved to can hold one that repels this
            // one, and only pods with anti-affinity terms repel at all.
            let repelled = view.has_anti_affinity(workload)
                && overlay
                    .moved
                    .iter()
                    .any(|&(m, other, _)| m == to && view.repels(workload, other));
            if repelled {
                continue;
            }
        }
        *cursor = i;
        return Some(to);
    }
    overlay.no_place.push(shape);
    None
}

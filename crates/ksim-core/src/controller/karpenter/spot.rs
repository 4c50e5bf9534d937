//! Spot interruptions: each live spot node is interrupted at
//! `spot_interruptions_per_hour`. The fleet's next interruption is one
//! exponential gap at the rate times the number of spot nodes, drawn again
//! whenever a wake-up finds that number changed (exact for a Poisson
//! process whose rate is constant between changes; a change is noticed at
//! the next wake-up, at most one disruption poll later). The node is picked
//! uniformly; it is drained at the notice and deleted 2 minutes later, as
//! EC2 takes the instance back.

use super::{KarpenterController, Wake};
use crate::autoscale::karpenter::catalog::CapacityType;
use crate::autoscale::karpenter::settings::SPOT_INTERRUPTION_NOTICE;
use crate::cluster::NodeState;
use crate::controller::{Action, DecisionTarget};
use crate::ids::NodeId;
use crate::rng::unit_f64;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeSet, VecDeque};

#[derive(Default)]
pub(super) struct SpotState {
    /// The next interruption and the spot node count it was drawn for.
    next: Option<(SimTime, u32)>,
    /// Interrupted nodes and when they are taken, in time order.
    deletes: VecDeque<(SimTime, NodeId)>,
    interrupted: BTreeSet<NodeId>,
}

impl SpotState {
    pub(super) fn next_timer(&self) -> Option<SimTime> {
        let delete = self.deletes.front().map(|d| d.0);
        [self.next.map(|n| n.0), delete].into_iter().flatten().min()
    }

    /// Deletes the interrupted nodes whose notice has run out.
    pub(super) fn delete_due(&mut self, wake: &mut Wake) {
        while let Some(&(at, node)) = self.deletes.front() {
            if at > wake.now {
                break;
            }
            self.deletes.pop_front();
            self.interrupted.remove(&node);
            if wake.view.node_state(node) != NodeState::Deleted {
                wake.actions.push(Action::Delete { node });
            }
        }
    }
}

impl KarpenterController {
    /// Registered spot nodes not already interrupted, in pool then
    /// registration order.
    fn spot_nodes(&self, wake: &Wake) -> Vec<NodeId> {
        let mut out = Vec::new();
        for np in &self.settings.node_pools {
            for o in np
                .offerings
                .iter()
                .filter(|o| o.capacity_type == CapacityType::Spot)
            {
                out.extend(
                    wake.view
                        .pool_members(o.pool)
                        .iter()
                        .filter(|n| !self.spot.interrupted.contains(n)),
                );
            }
        }
        out
    }

    /// Interrupts a spot node if one is due, and keeps the next draw in step
    /// with the number of spot nodes.
    pub(super) fn interrupt_spot(&mut self, wake: &mut Wake) {
        let rate_per_hour = self.settings.spot_interruptions_per_hour;
        if rate_per_hour <= 0.0 {
            return;
        }
        let mut nodes = self.spot_nodes(wake);
        if let Some((at, _)) = self.spot.next {
            if at <= wake.now && !nodes.is_empty() {
                let pick = (unit_f64(wake.rng) * nodes.len() as f64) as usize;
                let node = nodes[pick.min(nodes.len() - 1)];
                self.interrupt(wake, node);
                nodes.remove(pick.min(nodes.len() - 1));
                self.spot.next = None;
            }
        }
        let count = nodes.len() as u32;
        if self
            .spot
            .next
            .is_some_and(|(at, drawn_for)| drawn_for == count && at > wake.now)
        {
            return;
        }
        self.spot.next = (count > 0).then(|| {
            let fleet_rate_per_s = rate_per_hour * f64::from(count) / 3600.0;
            // 1 - u is in (0, 1]: the logarithm is finite.
            let gap_s = -libm::log(1.0 - unit_f64(wake.rng)) / fleet_rate_per_s;
            let gap = SimDuration::from_secs_f64(gap_s).max(SimDuration::from_nanos(1));
            (wake.now + gap, count)
        });
    }

    fn interrupt(&mut self, wake: &mut Wake, node: NodeId) {
        let view = wake.view;
        let at = wake.now + SPOT_INTERRUPTION_NOTICE;
        if view.node_state(node) != NodeState::Draining {
            wake.actions.push(Action::Drain { node });
        }
        self.spot.interrupted.insert(node);
        self.spot.deletes.push_back((at, node));
        self.summary.spot_interruptions += 1;
        let pool = view.node_pool(node);
        let size = view.pool_size(pool);
        wake.decisions.push(Self::decision(
            wake.now,
            "spot_interruption",
            DecisionTarget::Node { pool, node },
            [size, size - 1],
            format!("spot_nodes={}", self.spot.next.map_or(0, |n| n.1)),
            "spot capacity reclaimed: drained now, deleted after the 2-minute notice".to_string(),
        ));
    }
}

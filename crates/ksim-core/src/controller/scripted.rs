//! The scenario's `[[changes]]`: scaling deployments and adding, cordoning,
//! draining and deleting nodes at set times, through the same seam as any
//! controller.
//!
//! Which nodes of a pool a change acts on is drawn uniformly from the
//! controller's stream among the nodes it can act on: Ready ones for a
//! cordon, cordoned ones for an uncordon, any registered node that is not
//! already draining for a drain or a deletion.

use super::{Action, ClusterView, Controller, Subscriptions, Wake};
use crate::cluster::{NodeState, NEVER};
use crate::config::{ChangeAction, ScheduledChange};
use crate::ids::{NodeId, PoolId};
use crate::rng::SimRng;
use crate::time::SimTime;
use rand::Rng;

pub struct ScriptedChanges {
    changes: Vec<ScheduledChange>,
    /// Per change: its next occurrence, `NEVER` once done.
    next: Vec<SimTime>,
    /// Scratch: nodes picked in the current wake-up.
    picked: Vec<NodeId>,
}

impl ScriptedChanges {
    pub const NAME: &'static str = "changes";

    pub fn new(changes: Vec<ScheduledChange>) -> Self {
        let next = changes.iter().map(|c| c.at).collect();
        ScriptedChanges {
            changes,
            next,
            picked: Vec::new(),
        }
    }

    fn next_wake(&self) -> Option<SimTime> {
        self.next.iter().copied().filter(|&t| t != NEVER).min()
    }

    fn advance(&mut self, i: usize) {
        let change = &self.changes[i];
        self.next[i] = match change.repeat {
            Some(repeat) if self.next[i] + repeat.every <= repeat.until => {
                self.next[i] + repeat.every
            }
            _ => NEVER,
        };
    }

    fn act(
        &mut self,
        change: ChangeAction,
        view: &ClusterView,
        rng: &mut SimRng,
        out: &mut Vec<Action>,
    ) {
        let mut pick = |pool: PoolId,
                        count: u32,
                        eligible: fn(NodeState) -> bool,
                        make: fn(NodeId) -> Action| {
            for _ in 0..count {
                match pick_node(view, pool, eligible, &self.picked, rng) {
                    Some(node) => {
                        self.picked.push(node);
                        out.push(make(node));
                    }
                    None => return,
                }
            }
        };
        match change {
            ChangeAction::Scale { workload, replicas } => {
                out.push(Action::SetReplicas { workload, replicas })
            }
            ChangeAction::DrainNodes { pool, count } => {
                pick(pool, count, removable, |node| Action::Drain { node })
            }
            ChangeAction::AddNodes { pool, count } => out.push(Action::AddNodes { pool, count }),
            ChangeAction::CordonNodes { pool, count } => pick(
                pool,
                count,
                |s| s == NodeState::Ready,
                |node| Action::Cordon { node },
            ),
            ChangeAction::UncordonNodes { pool, count } => pick(
                pool,
                count,
                |s| s == NodeState::Cordoned,
                |node| Action::Uncordon { node },
            ),
            ChangeAction::DeleteNodes { pool, count } => {
                pick(pool, count, removable, |node| Action::Delete { node })
            }
        }
    }
}

/// A registered node not already on its way out.
fn removable(state: NodeState) -> bool {
    matches!(
        state,
        NodeState::Ready | NodeState::NotReady | NodeState::Cordoned
    )
}

/// A node of `pool` in an eligible state and not yet picked, uniformly: by
/// rejection while most are eligible (no scan of a large pool), by a scan
/// otherwise.
fn pick_node(
    view: &ClusterView,
    pool: PoolId,
    eligible: fn(NodeState) -> bool,
    picked: &[NodeId],
    rng: &mut SimRng,
) -> Option<NodeId> {
    const TRIES: usize = 32;
    let members = view.pool_members(pool);
    if members.is_empty() {
        return None;
    }
    let ok = |node: NodeId| eligible(view.node_state(node)) && !picked.contains(&node);
    for _ in 0..TRIES {
        let node = members[rng.random_range(0..members.len())];
        if ok(node) {
            return Some(node);
        }
    }
    let candidates: Vec<NodeId> = members.iter().copied().filter(|&n| ok(n)).collect();
    (!candidates.is_empty()).then(|| candidates[rng.random_range(0..candidates.len())])
}

impl Controller for ScriptedChanges {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }

    fn first_wake(&self) -> Option<SimTime> {
        self.next_wake()
    }

    fn wake(&mut self, wake: Wake) -> Option<SimTime> {
        self.picked.clear();
        for i in 0..self.changes.len() {
            if self.next[i] == wake.now {
                let action = self.changes[i].action;
                self.act(action, &wake.view, wake.rng, wake.actions);
                self.advance(i);
            }
        }
        self.next_wake()
    }
}

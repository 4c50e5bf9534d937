//! The Cluster Autoscaler as a controller: every scan interval it grows a
//! node group for the pods the scheduler could not place, and removes nodes
//! that stayed unneeded long enough, with upstream's rules
//! (`core/static_autoscaler.go` `RunOnce`): the pure parts are in
//! `autoscale::cluster_autoscaler`.
//!
//! One scan, in upstream's order: give up on nodes that did not come up in
//! time (the group backs off), try a scale-up, then, unless it scaled up,
//! update the unneeded nodes and remove those past their unneeded time.
//!
//! Simplified, and said so in `docs/models/node-autoscaling.md`: only Ready nodes are scale-down candidates
//! (upstream also removes long-unready ones); the soft
//! `DeletionCandidateOfClusterAutoscaler` taint is not put on unneeded nodes.

mod scale_down;
mod scale_up;

use super::{Action, ClusterView, Controller, Decision, DecisionTarget, Subscriptions, Wake};
use crate::autoscale::cluster_autoscaler::backoff::GroupBackoff;
use crate::autoscale::cluster_autoscaler::ClusterAutoscalerSettings;
use crate::cluster::NodeState;
use crate::ids::{NodeId, PodId, PoolId};
use crate::metrics::NodeAutoscalerSummary;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub const NAME: &str = "cluster-autoscaler";

/// The extended resource upstream judges GPU nodes by.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

pub struct ClusterAutoscalerController {
    settings: ClusterAutoscalerSettings,
    /// Index of the GPU resource, when the scenario declares it.
    gpu: Option<usize>,
    last_scale_up: Option<SimTime>,
    last_delete: Option<SimTime>,
    last_failure: Option<SimTime>,
    backoff: BTreeMap<PoolId, GroupBackoff>,
    /// Per pool: when each node the autoscaler asked for and that has not
    /// registered yet was asked for, oldest first.
    requested_at: Vec<VecDeque<SimTime>>,
    scale_down: scale_down::ScaleDownState,
    /// Pending pods found to fit no node group, for the summary.
    pods_no_group: BTreeSet<PodId>,
    /// (workload, requests) shapes already reported as fitting no group.
    reported_no_group: BTreeSet<(u32, [u64; crate::resources::NUM_RESOURCES])>,
    /// (group, reason) pairs reported as holding a scale-up back since the
    /// last scale-up.
    reported_held_back: BTreeSet<(PoolId, &'static str)>,
    summary: NodeAutoscalerSummary,
}

impl ClusterAutoscalerController {
    pub fn new(settings: ClusterAutoscalerSettings, pools: usize, gpu: Option<usize>) -> Self {
        ClusterAutoscalerController {
            settings,
            gpu,
            last_scale_up: None,
            last_delete: None,
            last_failure: None,
            backoff: BTreeMap::new(),
            requested_at: vec![VecDeque::new(); pools],
            scale_down: scale_down::ScaleDownState::default(),
            pods_no_group: BTreeSet::new(),
            reported_no_group: BTreeSet::new(),
            reported_held_back: BTreeSet::new(),
            summary: NodeAutoscalerSummary {
                controller: NAME.to_string(),
                ..Default::default()
            },
        }
    }

    fn decision(
        now: SimTime,
        action: &'static str,
        target: DecisionTarget,
        counts: [u32; 3],
        inputs: String,
        reason: String,
    ) -> Decision {
        Decision::of_nodes(now, NAME, action, target, counts, inputs, reason)
    }

    /// Nodes asked for and not registered within `max_node_provision_time`
    /// are given up: removed, and their group backed off (upstream's
    /// `deleteCreatedNodesWithErrors` and long-unregistered handling).
    fn give_up_late_nodes(&mut self, wake: &mut Wake) {
        let now = wake.now;
        let view = wake.view;
        for pool in 0..self.requested_at.len() {
            let upcoming = view.upcoming_nodes(pool as PoolId);
            let queue = &mut self.requested_at[pool];
            while queue.len() > upcoming as usize {
                queue.pop_front();
            }
            let late = queue
                .iter()
                .take_while(|&&at| at + self.settings.max_node_provision_time <= now)
                .count();
            if late == 0 {
                continue;
            }
            queue.drain(..late);
            let previous = self.backoff.get(&(pool as PoolId)).copied();
            let backoff = GroupBackoff::after_failure(previous, now, &self.settings.backoff);
            self.backoff.insert(pool as PoolId, backoff);
            self.last_failure = Some(now);
            let late_nodes = provisioning_nodes(&view, pool as PoolId).take(late);
            for node in late_nodes {
                wake.actions.push(Action::Delete { node });
            }
            self.summary.provision_timeouts += late as u64;
            let size = view.pool_size(pool as PoolId);
            wake.decisions.push(Self::decision(
                now,
                "scale_up_timeout",
                DecisionTarget::Pool(pool as PoolId),
                [size, size, size.saturating_sub(late as u32)],
                format!("nodes_not_registered={late}"),
                format!(
                    "not registered within max_node_provision_time; group backed off for {} s",
                    backoff.duration.as_secs_f64()
                ),
            ));
        }
    }

    fn in_scale_down_cooldown(&self, now: SimTime) -> bool {
        let s = &self.settings;
        let within = |at: Option<SimTime>, delay| at.is_some_and(|t| now < t + delay);
        within(self.last_scale_up, s.scale_down_delay_after_add)
            || within(self.last_delete, s.scale_down_delay_after_delete)
            || within(self.last_failure, s.scale_down_delay_after_failure)
    }
}

/// The pool's Provisioning nodes, oldest first (ids grow with time). A scan
/// of node ids: run only when nodes are late, which is rare.
fn provisioning_nodes<'a>(
    view: &ClusterView<'a>,
    pool: PoolId,
) -> impl Iterator<Item = NodeId> + 'a {
    let view = *view;
    (0..view.node_id_count() as NodeId).filter(move |&n| {
        view.node_pool(n) == pool && view.node_state(n) == NodeState::Provisioning
    })
}

impl Controller for ClusterAutoscalerController {
    fn name(&self) -> &str {
        NAME
    }

    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }

    fn first_wake(&self) -> Option<SimTime> {
        Some(SimTime::ZERO + self.settings.scan_interval)
    }

    fn wake(&mut self, mut wake: Wake) -> Option<SimTime> {
        let now = wake.now;
        self.backoff
            .retain(|_, b| !b.is_stale(now, &self.settings.backoff));
        self.give_up_late_nodes(&mut wake);
        let scaled_up = self.scale_up(&mut wake);
        if scaled_up {
            self.last_scale_up = Some(now);
        } else if self.settings.scale_down_enabled {
            self.scale_down(&mut wake);
        }
        Some(now + self.settings.scan_interval)
    }

    fn node_autoscaler_summary(&self) -> Option<NodeAutoscalerSummary> {
        let mut summary = self.summary.clone();
        summary.pods_no_group = self.pods_no_group.len() as u64;
        Some(summary)
    }

    fn pods_no_group(&self) -> Option<&BTreeSet<PodId>> {
        Some(&self.pods_no_group)
    }
}

//! The Karpenter-like provisioner as a controller, driving the pure rules of
//! `autoscale::karpenter` through the simulation.
//!
//! - Provisioning: pods the scheduler could not place open a batch that
//!   closes after `batch_idle_duration` without a new one, or
//!   `batch_max_duration` after it opened (upstream's `Batcher`). At close,
//!   pods that registered nodes or nodes still launching would take are left
//!   to them; the rest are bin-packed onto new NodeClaims, each launched as
//!   one node of its cheapest fitting offering's pool.
//! - Disruption, every 10 s: expiration (forceful, no budget), then
//!   emptiness, then single-node consolidation, under each NodePool's
//!   budgets.
//! - Spot interruptions at a rate per spot node, with a 2-minute notice.
//!
//! Simplifications are listed in `docs/models/node-autoscaling.md`.

mod disruption;
pub mod expand;
mod provisioning;
mod spot;

use super::{ClusterView, Controller, Decision, DecisionTarget, Subscriptions, Wake};
use crate::autoscale::karpenter::catalog::Offering;
use crate::autoscale::karpenter::packing::LaunchOption;
use crate::autoscale::karpenter::settings::{
    KarpenterSettings, PoolOffering, DISRUPTION_POLL_INTERVAL,
};
use crate::ids::{PodId, PoolId};
use crate::metrics::NodeAutoscalerSummary;
use crate::resources::NUM_RESOURCES;
use crate::time::SimTime;
use std::collections::BTreeSet;

pub const NAME: &str = "karpenter";

/// A batch of pending pods being gathered.
#[derive(Copy, Clone, Debug)]
struct Batch {
    opened_at: SimTime,
    last_pod_at: SimTime,
}

pub struct KarpenterController {
    settings: KarpenterSettings,
    /// Per core pool: (NodePool index, offering index); None for pools the
    /// provisioner does not manage.
    offering_of: Vec<Option<(usize, usize)>>,
    batch: Option<Batch>,
    next_poll: SimTime,
    disruption: disruption::DisruptionState,
    spot: spot::SpotState,
    /// Where the search for room on registered nodes starts.
    cursor: usize,
    /// Pending pods that no NodePool's offerings would take, for the summary.
    pods_no_pool: BTreeSet<PodId>,
    /// (workload, requests) shapes already reported as fitting no NodePool.
    reported_no_pool: BTreeSet<(u32, [u64; NUM_RESOURCES])>,
    summary: NodeAutoscalerSummary,
}

impl KarpenterController {
    /// `pools` is the number of core pools in the scenario.
    pub fn new(settings: KarpenterSettings, pools: usize) -> Self {
        let mut offering_of = vec![None; pools];
        for (n, np) in settings.node_pools.iter().enumerate() {
            for (o, offering) in np.offerings.iter().enumerate() {
                offering_of[offering.pool as usize] = Some((n, o));
            }
        }
        KarpenterController {
            settings,
            offering_of,
            batch: None,
            next_poll: SimTime::ZERO + DISRUPTION_POLL_INTERVAL,
            disruption: disruption::DisruptionState::default(),
            spot: spot::SpotState::default(),
            cursor: 0,
            pods_no_pool: BTreeSet::new(),
            reported_no_pool: BTreeSet::new(),
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
        counts: [u32; 2],
        inputs: String,
        reason: String,
    ) -> Decision {
        let [current, desired] = counts;
        Decision::of_nodes(
            now,
            NAME,
            action,
            target,
            [current, desired, desired],
            inputs,
            reason,
        )
    }

    /// When the open batch closes, if one is open.
    fn batch_close(&self) -> Option<SimTime> {
        self.batch.map(|b| {
            (b.last_pod_at + self.settings.batch_idle_duration)
                .min(b.opened_at + self.settings.batch_max_duration)
        })
    }

    /// Nodes of a NodePool in the cluster now, launching ones included.
    fn node_pool_size(&self, view: &ClusterView, node_pool: usize) -> u32 {
        self.settings.node_pools[node_pool]
            .offerings
            .iter()
            .map(|o| view.pool_size(o.pool))
            .sum()
    }

    fn node_pool_of(&self, pool: PoolId) -> Option<usize> {
        self.offering_of
            .get(pool as usize)
            .copied()
            .flatten()
            .map(|(n, _)| n)
    }
}

/// "$0.096" style price for decision inputs.
fn usd(micro_usd: u64) -> String {
    format!(
        "{}.{:06}",
        micro_usd / crate::autoscale::karpenter::catalog::MICRO_USD_PER_USD,
        micro_usd % crate::autoscale::karpenter::catalog::MICRO_USD_PER_USD
    )
}

impl Controller for KarpenterController {
    fn name(&self) -> &str {
        NAME
    }

    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::POD_UNSCHEDULABLE
    }

    fn first_wake(&self) -> Option<SimTime> {
        Some(self.next_poll)
    }

    fn wake(&mut self, mut wake: Wake) -> Option<SimTime> {
        let now = wake.now;
        if wake.events.intersects(Subscriptions::POD_UNSCHEDULABLE) {
            match &mut self.batch {
                Some(b) => b.last_pod_at = now,
                None => {
                    self.batch = Some(Batch {
                        opened_at: now,
                        last_pod_at: now,
                    })
                }
            }
        }
        self.spot.delete_due(&mut wake);
        if self.batch_close().is_some_and(|at| at <= now) {
            self.batch = None;
            self.provision(&mut wake);
        }
        if self.next_poll <= now {
            // Pods the scheduler gave up on without a new attempt (those
            // that fit no pool at all) trigger no event: look again.
            if self.batch.is_none() && wake.view.pods_unschedulable() > 0 {
                self.batch = Some(Batch {
                    opened_at: now,
                    last_pod_at: now,
                });
            }
            self.disrupt(&mut wake);
            self.next_poll = now + DISRUPTION_POLL_INTERVAL;
        }
        self.interrupt_spot(&mut wake);
        [
            Some(self.next_poll),
            self.batch_close(),
            self.spot.next_timer(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn node_autoscaler_summary(&self) -> Option<NodeAutoscalerSummary> {
        let mut summary = self.summary.clone();
        summary.pods_no_group = self.pods_no_pool.len() as u64;
        Some(summary)
    }

    fn pods_no_group(&self) -> Option<&BTreeSet<PodId>> {
        Some(&self.pods_no_pool)
    }
}

/// Launch options for the offerings, cheapest first (as `sort_by_price`
/// orders them; ties by type, then by pool, which is offering order), each
/// with its pool.
fn priced_options<'o>(
    view: &ClusterView,
    offerings: impl Iterator<Item = &'o PoolOffering>,
) -> (Vec<LaunchOption>, Vec<PoolId>) {
    let mut priced: Vec<(LaunchOption, PoolId)> = offerings
        .map(|o| {
            let option = LaunchOption {
                instance_type: o.instance_type.clone(),
                capacity: o.capacity,
                allocatable: view.pools()[o.pool as usize].allocatable,
                offering: Offering {
                    capacity_type: o.capacity_type,
                    zone: o.zone.clone(),
                    price_micro_usd_per_hour: o.price_micro_usd_per_hour,
                },
            };
            (option, o.pool)
        })
        .collect();
    priced.sort_by(|(a, pa), (b, pb)| {
        (a.offering.price_micro_usd_per_hour, &a.instance_type, pa).cmp(&(
            b.offering.price_micro_usd_per_hour,
            &b.instance_type,
            pb,
        ))
    });
    priced.into_iter().unzip()
}

//! What the Karpenter-like provisioner is configured with once a scenario's
//! NodePools have been expanded into the core's pools: one pool of identical
//! nodes per NodePool × instance type × capacity type × zone (an
//! "offering"), each starting empty.

use super::budget::Budget;
use super::catalog::{CapacityType, NodePoolLimits};
use super::consolidation::ConsolidationSettings;
use crate::ids::PoolId;
use crate::resources::ResourceVec;
use crate::time::SimDuration;

/// Upstream's `--batch-idle-duration` (1 s).
pub const DEFAULT_BATCH_IDLE_DURATION: SimDuration = SimDuration::from_secs(1);
/// Upstream's `--batch-max-duration` (10 s).
pub const DEFAULT_BATCH_MAX_DURATION: SimDuration = SimDuration::from_secs(10);
/// How often the disruption controller looks for a command (upstream's
/// `pollingPeriod` in `pkg/controllers/disruption/controller.go`).
pub const DISRUPTION_POLL_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// `spec.template.spec.expireAfter` default in `karpenter.sh/v1` (720h).
pub const DEFAULT_EXPIRE_AFTER: SimDuration = SimDuration::from_secs(720 * 3600);
/// The most nodes one offering's pool may hold: the NodePool's limits are
/// what really cap it.
pub const OFFERING_POOL_MAX: u32 = 100_000;
/// The notice an EC2 spot interruption gives before the instance is taken.
pub const SPOT_INTERRUPTION_NOTICE: SimDuration = SimDuration::from_secs(120);

/// One core pool a NodePool may launch into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolOffering {
    pub pool: PoolId,
    pub instance_type: String,
    pub capacity_type: CapacityType,
    pub zone: String,
    pub price_micro_usd_per_hour: u64,
    /// Cpu and memory as the instance type lists them, counted against the
    /// NodePool's limits (upstream counts capacity, not allocatable).
    pub capacity: ResourceVec,
}

/// A Karpenter NodePool over its expanded pools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KarpenterNodePool {
    pub name: String,
    /// Its offerings, in the order the reader made them (catalog order).
    pub offerings: Vec<PoolOffering>,
    pub limits: NodePoolLimits,
    pub consolidation: ConsolidationSettings,
    /// None: `Never`.
    pub expire_after: Option<SimDuration>,
    pub budgets: Vec<Budget>,
}

/// The provisioner's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct KarpenterSettings {
    /// In the scenario's order: a pod goes to the first NodePool that can
    /// run it (upstream orders NodePools by weight; this model has none).
    pub node_pools: Vec<KarpenterNodePool>,
    pub batch_idle_duration: SimDuration,
    pub batch_max_duration: SimDuration,
    /// Interruptions per hour of each live spot node; 0 disables them.
    pub spot_interruptions_per_hour: f64,
}

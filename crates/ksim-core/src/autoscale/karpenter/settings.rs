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

/// A NodePool as a scenario describes it, before expansion.
#[derive(Clone, Debug)]
pub struct NodePoolTemplate {
    pub name: String,
    pub requirements: super::catalog::NodePoolRequirements,
    pub provisioning_delay: crate::distribution::Distribution,
    /// What the DaemonSets request on each of its nodes.
    pub daemonset_requests: ResourceVec,
}

/// The most nodes one offering's pool may hold: the NodePool's limits are
/// what really caps it.
pub const OFFERING_POOL_MAX: u32 = 1_000_000;

/// Expands a NodePool into one empty core pool per compatible instance type
/// × admitted capacity type × admitted zone, named
/// `<nodepool>/<type>/<capacity type>/<zone>`, labelled as Karpenter labels
/// its nodes, priced in whole dollars per hour. Types whose allocatable
/// cannot hold the DaemonSets are left out (upstream filters them the same
/// way). Pool ids start at `first_pool`.
pub fn expand_node_pool(
    template: &NodePoolTemplate,
    catalog: &[super::catalog::InstanceType],
    overhead: &super::catalog::OverheadSettings,
    gpu_dimension: Option<usize>,
    first_pool: PoolId,
) -> (Vec<crate::config::NodePoolSpec>, Vec<PoolOffering>) {
    use super::catalog::{allocatable, compatible_types, MICRO_USD_PER_USD};
    use crate::config::{Label, NodePoolSpec};
    use crate::resources::{CPU, MEMORY};
    let requirements = &template.requirements;
    let mut specs = Vec::new();
    let mut offerings = Vec::new();
    for t in compatible_types(catalog, requirements) {
        let it = &catalog[t];
        let full = allocatable(it, overhead, gpu_dimension);
        let empty = [CPU, MEMORY, crate::resources::PODS]
            .iter()
            .any(|&d| full.0[d] <= template.daemonset_requests.0[d]);
        if empty
            || ResourceVec::ZERO
                .first_shortfall(&template.daemonset_requests, &full)
                .is_some()
        {
            continue;
        }
        let mut left = full;
        left.sub_assign(&template.daemonset_requests);
        let mut capacity = ResourceVec::ZERO;
        capacity.0[CPU] = it.cpu_millis;
        capacity.0[MEMORY] = it.memory_bytes;
        let mut zones: Vec<&String> = it
            .zones
            .iter()
            .filter(|z| requirements.admits_zone(z))
            .collect();
        zones.sort();
        for capacity_type in [CapacityType::Spot, CapacityType::OnDemand] {
            if !requirements.admits_capacity_type(capacity_type) {
                continue;
            }
            let price = it.price_micro_usd_per_hour(capacity_type);
            for zone in &zones {
                let pool = first_pool
                    .checked_add(specs.len() as PoolId)
                    .expect("pool ids overflowed u32");
                let label = |key: &str, value: &str| Label {
                    key: key.to_string(),
                    value: value.to_string(),
                };
                specs.push(NodePoolSpec {
                    name: format!(
                        "{}/{}/{}/{}",
                        template.name,
                        it.name,
                        capacity_type.as_str(),
                        zone
                    ),
                    count: 0,
                    min: 0,
                    max: OFFERING_POOL_MAX,
                    price_per_hour: price as f64 / MICRO_USD_PER_USD as f64,
                    provisioning_delay: template.provisioning_delay.clone(),
                    allocatable: left,
                    labels: vec![
                        label("karpenter.sh/nodepool", &template.name),
                        label("node.kubernetes.io/instance-type", &it.name),
                        label("karpenter.k8s.aws/instance-family", &it.family),
                        label("karpenter.sh/capacity-type", capacity_type.as_str()),
                        label("topology.kubernetes.io/zone", zone),
                    ],
                    taints: vec![],
                    daemonset_requests: template.daemonset_requests,
                });
                offerings.push(PoolOffering {
                    pool,
                    instance_type: it.name.clone(),
                    capacity_type,
                    zone: (*zone).clone(),
                    price_micro_usd_per_hour: price,
                    capacity,
                });
            }
        }
    }
    (specs, offerings)
}

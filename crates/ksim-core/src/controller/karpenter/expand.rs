//! Expanding a NodePool into the core's pools: one empty pool of identical
//! nodes per compatible instance type × admitted capacity type × admitted
//! zone (an offering).

use crate::autoscale::karpenter::catalog::CapacityType;
use crate::autoscale::karpenter::settings::{PoolOffering, OFFERING_POOL_MAX};
use crate::ids::PoolId;
use crate::resources::ResourceVec;

/// A NodePool as a scenario describes it, before expansion.
#[derive(Clone, Debug)]
pub struct NodePoolTemplate {
    pub name: String,
    pub requirements: crate::autoscale::karpenter::catalog::NodePoolRequirements,
    pub provisioning_delay: crate::distribution::Distribution,
    /// What the DaemonSets request on each of its nodes.
    pub daemonset_requests: ResourceVec,
    /// The root volume of each node (the EC2NodeClass's).
    pub volume_bytes: u64,
}

/// Expands a NodePool into one empty core pool per compatible instance type
/// × admitted capacity type × admitted zone, named
/// `<nodepool>/<type>/<capacity type>/<zone>`, labelled as Karpenter labels
/// its nodes, priced in whole dollars per hour. Types whose allocatable
/// cannot hold the DaemonSets are left out (upstream filters them the same
/// way). Pool ids start at `first_pool`.
pub fn expand_node_pool(
    template: &NodePoolTemplate,
    catalog: &[crate::autoscale::karpenter::catalog::InstanceType],
    overhead: &crate::autoscale::karpenter::catalog::OverheadSettings,
    gpu_dimension: Option<usize>,
    first_pool: PoolId,
) -> (Vec<crate::config::NodePoolSpec>, Vec<PoolOffering>) {
    use crate::autoscale::karpenter::catalog::{
        allocatable, compatible_types, ephemeral_storage_allocatable_bytes, MICRO_USD_PER_USD,
    };
    use crate::config::{Label, NodePoolSpec};
    use crate::resources::{CPU, MEMORY};
    let requirements = &template.requirements;
    let mut specs = Vec::new();
    let mut offerings = Vec::new();
    for t in compatible_types(catalog, requirements) {
        let it = &catalog[t];
        let mut full = allocatable(it, overhead, gpu_dimension);
        full.0[crate::resources::EPHEMERAL_STORAGE] =
            ephemeral_storage_allocatable_bytes(template.volume_bytes);
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

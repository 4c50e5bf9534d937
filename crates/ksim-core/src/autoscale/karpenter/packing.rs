//! Bin-packing of pending pods as Karpenter's provisioning scheduler does it
//! (`pkg/controllers/provisioning/scheduling`): pods are taken largest first
//! (cpu, then memory, descending), each goes to the first existing or
//! in-flight node with room, else to a NodeClaim already planned in this
//! round (fewest pods first), else to a new NodeClaim. A planned NodeClaim
//! keeps every instance type that still fits all its pods; at launch the
//! options are ordered by price and the cheapest is taken.
//!
//! Left out: affinities, topology spread, taints and selectors (the caller
//! passes only the pods and options this NodePool may serve), and the
//! re-queueing of pods that fail for a reason a later pod could lift.

use super::catalog::{
    allocatable, InstanceType, NodePoolLimits, NodePoolRequirements, Offering, OverheadSettings,
};
use crate::resources::{ResourceVec, CPU, MEMORY, NUM_RESOURCES};

/// How many of the cheapest instance types one launch may name
/// (karpenter-provider-aws' `maxInstanceTypes` for a CreateFleet request;
/// the core's own cap, `MaxInstanceTypes`, is 600).
pub const MAX_INSTANCE_TYPES: usize = 60;

/// A pod waiting for capacity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPod {
    pub name: String,
    /// Its requests, including one unit of `PODS`.
    pub requests: ResourceVec,
}

/// A node that exists or is already launching (in-flight), with what its
/// pods (daemonsets included) already request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExistingNode {
    pub name: String,
    pub allocatable: ResourceVec,
    pub requested: ResourceVec,
}

/// An instance type a new NodeClaim may launch as, priced at its cheapest
/// admitted offering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchOption {
    pub instance_type: String,
    /// Cpu and memory capacity, counted against the NodePool's limits.
    pub capacity: ResourceVec,
    pub allocatable: ResourceVec,
    pub offering: Offering,
}

impl LaunchOption {
    fn price_micro_usd_per_hour(&self) -> u64 {
        self.offering.price_micro_usd_per_hour
    }
}

/// The launch options of a NodePool: every compatible type at its cheapest
/// admitted offering, cheapest first (ties by type name).
pub fn launch_options(
    catalog: &[InstanceType],
    requirements: &NodePoolRequirements,
    settings: &OverheadSettings,
    gpu_dimension: Option<usize>,
) -> Vec<LaunchOption> {
    let mut options: Vec<LaunchOption> = catalog
        .iter()
        .filter(|it| requirements.admits_family(&it.family))
        .filter_map(|it| {
            let offering = it.cheapest_offering(requirements)?;
            let mut capacity = ResourceVec::ZERO;
            capacity.0[CPU] = it.cpu_millis;
            capacity.0[MEMORY] = it.memory_bytes;
            Some(LaunchOption {
                instance_type: it.name.clone(),
                capacity,
                allocatable: allocatable(it, settings, gpu_dimension),
                offering,
            })
        })
        .collect();
    sort_by_price(&mut options);
    options
}

/// Cheapest first; equal prices by type name.
pub fn sort_by_price(options: &mut [LaunchOption]) {
    options.sort_by(|a, b| {
        (a.price_micro_usd_per_hour(), &a.instance_type)
            .cmp(&(b.price_micro_usd_per_hour(), &b.instance_type))
    });
}

/// Orders pods as the scheduler's queue does (`byCPUAndMemoryDescending` in
/// `queue.go`, as of v1.1): cpu descending, then memory descending; ties by
/// name (upstream falls back to creation time and UID).
pub fn sort_pods(pods: &mut [PendingPod]) {
    pods.sort_by(|a, b| {
        b.requests
            .cpu_millis()
            .cmp(&a.requests.cpu_millis())
            .then(b.requests.memory_bytes().cmp(&a.requests.memory_bytes()))
            .then(a.name.cmp(&b.name))
    });
}

/// A NodeClaim planned in this round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNodeClaim {
    /// Names of the pods placed on it, in placement order.
    pub pods: Vec<String>,
    /// The daemonset overhead plus its pods' requests.
    pub requested: ResourceVec,
    /// Indices into the launch options that still fit every pod, in the
    /// options' (price) order.
    pub options: Vec<usize>,
}

impl NewNodeClaim {
    /// The types sent to the cloud provider: the cheapest
    /// [`MAX_INSTANCE_TYPES`] that fit.
    pub fn launch_candidates(&self) -> &[usize] {
        &self.options[..self.options.len().min(MAX_INSTANCE_TYPES)]
    }

    /// The option launched: the cheapest that fits.
    pub fn cheapest<'a>(&self, options: &'a [LaunchOption]) -> &'a LaunchOption {
        &options[self.options[0]]
    }
}

/// Where a pod went.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Index into the existing nodes.
    Existing(usize),
    /// Index into [`PackingOutcome::new_claims`].
    New(usize),
}

/// The result of one scheduling round.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackingOutcome {
    /// Each placed pod, in the order it was placed.
    pub placements: Vec<(String, Placement)>,
    pub new_claims: Vec<NewNodeClaim>,
    /// Pods no node and no option could take.
    pub unschedulable: Vec<String>,
}

/// Everything one round packs against.
#[derive(Clone, Debug)]
pub struct PackingInput<'a> {
    pub existing: &'a [ExistingNode],
    /// In price order, as [`launch_options`] returns them.
    pub options: &'a [LaunchOption],
    /// What the daemonsets request on every new node.
    pub daemon_overhead: ResourceVec,
    pub limits: NodePoolLimits,
    /// The summed capacity of the NodePool's current nodes.
    pub pool_usage: ResourceVec,
}

/// Packs `pods` (sorted here with [`sort_pods`]) onto existing capacity,
/// then onto new NodeClaims.
pub fn pack(pods: &[PendingPod], input: &PackingInput<'_>) -> PackingOutcome {
    let mut queue = pods.to_vec();
    sort_pods(&mut queue);
    let mut existing_requested: Vec<ResourceVec> =
        input.existing.iter().map(|n| n.requested).collect();
    let mut remaining = Remaining::new(&input.limits, &input.pool_usage);
    let mut out = PackingOutcome::default();
    for pod in queue {
        let placement = place_on_existing(&pod, input.existing, &mut existing_requested)
            .or_else(|| place_on_planned(&pod, input.options, &mut out.new_claims))
            .or_else(|| place_on_new(&pod, input, &mut remaining, &mut out.new_claims));
        match placement {
            Some(p) => out.placements.push((pod.name, p)),
            None => out.unschedulable.push(pod.name),
        }
    }
    out
}

fn place_on_existing(
    pod: &PendingPod,
    nodes: &[ExistingNode],
    requested: &mut [ResourceVec],
) -> Option<Placement> {
    let i =
        (0..nodes.len()).find(|&i| requested[i].fits_with(&pod.requests, &nodes[i].allocatable))?;
    requested[i].add_assign(&pod.requests);
    Some(Placement::Existing(i))
}

/// Tries the planned NodeClaims, fewest pods first (ties: oldest first),
/// narrowing the chosen claim's options to those that still fit.
fn place_on_planned(
    pod: &PendingPod,
    options: &[LaunchOption],
    claims: &mut [NewNodeClaim],
) -> Option<Placement> {
    let mut order: Vec<usize> = (0..claims.len()).collect();
    order.sort_by_key(|&i| (claims[i].pods.len(), i));
    for i in order {
        let claim = &mut claims[i];
        let fitting: Vec<usize> = claim
            .options
            .iter()
            .copied()
            .filter(|&o| {
                claim
                    .requested
                    .fits_with(&pod.requests, &options[o].allocatable)
            })
            .collect();
        if !fitting.is_empty() {
            claim.options = fitting;
            claim.requested.add_assign(&pod.requests);
            claim.pods.push(pod.name.clone());
            return Some(Placement::New(i));
        }
    }
    None
}

fn place_on_new(
    pod: &PendingPod,
    input: &PackingInput<'_>,
    remaining: &mut Remaining,
    claims: &mut Vec<NewNodeClaim>,
) -> Option<Placement> {
    let options: Vec<usize> = (0..input.options.len())
        .filter(|&o| remaining.admits(&input.options[o].capacity))
        .filter(|&o| {
            input
                .daemon_overhead
                .fits_with(&pod.requests, &input.options[o].allocatable)
        })
        .collect();
    if options.is_empty() {
        return None;
    }
    remaining.subtract_largest(options.iter().map(|&o| &input.options[o].capacity));
    let mut requested = input.daemon_overhead;
    requested.add_assign(&pod.requests);
    claims.push(NewNodeClaim {
        pods: vec![pod.name.clone()],
        requested,
        options,
    });
    Some(Placement::New(claims.len() - 1))
}

/// What the NodePool's limits leave for new nodes. Upstream subtracts, for
/// each new NodeClaim, the largest capacity among its options (it cannot
/// know which one will launch), and drops options that would not fit.
struct Remaining {
    /// Per dimension; None: unlimited.
    left: [Option<u64>; NUM_RESOURCES],
}

impl Remaining {
    fn new(limits: &NodePoolLimits, usage: &ResourceVec) -> Self {
        let mut left = [None; NUM_RESOURCES];
        // A pool already over its limit has nothing left: clamp at zero.
        left[CPU] = limits.cpu_millis.map(|l| l.saturating_sub(usage.0[CPU]));
        left[MEMORY] = limits
            .memory_bytes
            .map(|l| l.saturating_sub(usage.0[MEMORY]));
        Remaining { left }
    }

    fn admits(&self, capacity: &ResourceVec) -> bool {
        (0..NUM_RESOURCES).all(|i| self.left[i].is_none_or(|l| capacity.0[i] <= l))
    }

    /// Every admitted option fits what is left, so no subtraction underflows.
    fn subtract_largest<'a>(&mut self, capacities: impl Iterator<Item = &'a ResourceVec> + Clone) {
        for i in 0..NUM_RESOURCES {
            if let Some(l) = self.left[i] {
                let largest = capacities.clone().map(|c| c.0[i]).max().unwrap_or(0);
                self.left[i] = Some(l.checked_sub(largest).expect("option exceeded the limit"));
            }
        }
    }
}

#[cfg(test)]
mod tests;

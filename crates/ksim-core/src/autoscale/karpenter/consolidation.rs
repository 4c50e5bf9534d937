//! The consolidation decision for one candidate node (single-node
//! consolidation and emptiness in `pkg/controllers/disruption`), and the
//! Consolidatable and expiration clocks of a NodeClaim
//! (`pkg/controllers/nodeclaim/disruption`, `expiration`).
//!
//! Whether the candidate's pods fit elsewhere is the caller's scheduling
//! simulation (e.g. [`super::packing::pack`] without the candidate); this
//! module only turns its answer into delete, replace or keep, with
//! upstream's price rules. Multi-node consolidation is not modelled.

use super::catalog::CapacityType;
use crate::time::{SimDuration, SimTime};

/// A single-node spot-to-spot replacement needs at least this many cheaper
/// spot types, and launches with only this many, so that it does not
/// chase the cheapest type forever.
pub const MIN_INSTANCE_TYPES_FOR_SPOT_TO_SPOT: usize = 15;

/// `spec.disruption.consolidationPolicy`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConsolidationPolicy {
    WhenEmpty,
    WhenEmptyOrUnderutilized,
}

/// A NodePool's consolidation settings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ConsolidationSettings {
    pub policy: ConsolidationPolicy,
    /// `consolidateAfter`; None is `Never` (no consolidation at all).
    pub consolidate_after: Option<SimDuration>,
    /// The `SpotToSpotConsolidation` feature gate (off by default).
    pub spot_to_spot: bool,
}

/// The node considered for consolidation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateNode {
    pub name: String,
    /// Pods that would have to move (daemonset pods do not count).
    pub reschedulable_pods: u32,
    pub capacity_type: CapacityType,
    pub price_micro_usd_per_hour: u64,
    /// When the node became initialized.
    pub initialized_at: SimTime,
    /// The last time a pod was bound to or removed from it; None: never.
    pub last_pod_event: Option<SimTime>,
}

/// A type the candidate's pods could move to, at its worst-case launch
/// price (see `InstanceType::worst_launch_price_micro_usd_per_hour`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplacementOption {
    pub instance_type: String,
    pub capacity_type: CapacityType,
    pub price_micro_usd_per_hour: u64,
}

/// The caller's scheduling simulation with the candidate removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rescheduling {
    /// Every pod fits on the remaining nodes.
    FitsElsewhere,
    /// The pods need one new node, which could be any of these types.
    NeedsOneNode(Vec<ReplacementOption>),
    /// The pods need more than one new node.
    NeedsSeveralNodes,
    /// Some pod would find no place at all.
    DoesNotFit,
}

/// What to do with the candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Delete,
    /// Launch one node of these types (cheapest first), then delete.
    Replace(Vec<ReplacementOption>),
    Keep(KeepReason),
}

/// Why a candidate stays.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeepReason {
    /// `consolidateAfter: Never`.
    ConsolidationDisabled,
    /// `consolidateAfter` has not passed since the last pod event.
    NotConsolidatableYet,
    /// WhenEmpty and the node has pods.
    NotEmpty,
    NeedsSeveralNodes,
    PodsDoNotFit,
    /// No replacement is strictly cheaper than the candidate.
    NoCheaperReplacement,
    /// A spot candidate with the SpotToSpotConsolidation gate off.
    SpotToSpotDisabled,
    /// Fewer than [`MIN_INSTANCE_TYPES_FOR_SPOT_TO_SPOT`] cheaper spot types.
    TooFewCheaperSpotTypes {
        found: usize,
    },
}

/// True once the node has been quiet (no pod bound or removed, counting
/// from initialization) for `consolidate_after`: the NodeClaim's
/// Consolidatable condition.
pub fn is_consolidatable(
    candidate: &CandidateNode,
    settings: &ConsolidationSettings,
    now: SimTime,
) -> bool {
    let Some(after) = settings.consolidate_after else {
        return false;
    };
    let quiet_since = candidate.last_pod_event.unwrap_or(candidate.initialized_at);
    now >= quiet_since + after
}

/// True once `expire_after` (None: `Never`) has passed since creation.
/// Expiration is forceful: budgets and consolidation rules do not apply.
pub fn is_expired(created: SimTime, expire_after: Option<SimDuration>, now: SimTime) -> bool {
    expire_after.is_some_and(|after| now >= created + after)
}

/// Decides delete, replace or keep for one candidate at `now`.
pub fn decide(
    candidate: &CandidateNode,
    settings: &ConsolidationSettings,
    rescheduling: &Rescheduling,
    now: SimTime,
) -> Decision {
    if settings.consolidate_after.is_none() {
        return Decision::Keep(KeepReason::ConsolidationDisabled);
    }
    if !is_consolidatable(candidate, settings, now) {
        return Decision::Keep(KeepReason::NotConsolidatableYet);
    }
    // Emptiness: both policies delete a node with nothing to move.
    if candidate.reschedulable_pods == 0 {
        return Decision::Delete;
    }
    if settings.policy == ConsolidationPolicy::WhenEmpty {
        return Decision::Keep(KeepReason::NotEmpty);
    }
    match rescheduling {
        Rescheduling::FitsElsewhere => Decision::Delete,
        Rescheduling::NeedsSeveralNodes => Decision::Keep(KeepReason::NeedsSeveralNodes),
        Rescheduling::DoesNotFit => Decision::Keep(KeepReason::PodsDoNotFit),
        Rescheduling::NeedsOneNode(options) => replace(candidate, settings, options),
    }
}

fn replace(
    candidate: &CandidateNode,
    settings: &ConsolidationSettings,
    options: &[ReplacementOption],
) -> Decision {
    let spot_to_spot = candidate.capacity_type == CapacityType::Spot
        && options
            .iter()
            .any(|o| o.capacity_type == CapacityType::Spot);
    if spot_to_spot && !settings.spot_to_spot {
        return Decision::Keep(KeepReason::SpotToSpotDisabled);
    }
    let mut cheaper: Vec<ReplacementOption> = options
        .iter()
        .filter(|o| !spot_to_spot || o.capacity_type == CapacityType::Spot)
        .filter(|o| o.price_micro_usd_per_hour < candidate.price_micro_usd_per_hour)
        .cloned()
        .collect();
    cheaper.sort_by(|a, b| {
        (a.price_micro_usd_per_hour, &a.instance_type)
            .cmp(&(b.price_micro_usd_per_hour, &b.instance_type))
    });
    if cheaper.is_empty() {
        return Decision::Keep(KeepReason::NoCheaperReplacement);
    }
    if spot_to_spot {
        if cheaper.len() < MIN_INSTANCE_TYPES_FOR_SPOT_TO_SPOT {
            return Decision::Keep(KeepReason::TooFewCheaperSpotTypes {
                found: cheaper.len(),
            });
        }
        cheaper.truncate(MIN_INSTANCE_TYPES_FOR_SPOT_TO_SPOT);
    }
    Decision::Replace(cheaper)
}

#[cfg(test)]
mod tests;

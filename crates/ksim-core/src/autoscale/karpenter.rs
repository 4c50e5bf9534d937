//! A Karpenter-style node provisioner's rules as pure functions
//! (kubernetes-sigs/karpenter with the AWS provider's numbers): the instance
//! catalog and a NodePool's requirements and limits, bin-packing pending pods
//! onto the cheapest instance types, disruption budgets, and the
//! consolidation decision for one candidate node, and the settings of the
//! controller that drives them (`controller::karpenter`).
//!
//! Prices are integer micro-dollars per hour, so comparisons and sums are
//! exact and every machine orders offerings the same way.

pub mod budget;
pub mod catalog;
pub mod consolidation;
pub mod packing;
pub mod settings;

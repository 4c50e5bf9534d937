//! The `u32` ids that index the struct-of-arrays state. A leaf: every layer
//! names nodes, pods and workloads, so the ids sit below all of them.

pub type NodeId = u32;
pub type PodId = u32;
pub type PoolId = u32;
pub type WorkloadId = u32;

/// Marks "no node" in [`Pods::node`](crate::cluster::Pods::node).
pub const NO_NODE: NodeId = u32::MAX;

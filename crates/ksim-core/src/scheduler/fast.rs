//! PLACEHOLDER: index over free capacity (to be written).
use super::PlacementResult;
use crate::cluster::{ClusterState, NodeId, WorkloadId};
use crate::config::SchedulerConfig;
use crate::resources::ResourceVec;
use crate::rng::SimRng;

pub struct FastIndex {
    inner: super::kube::KubePlacement,
}

impl FastIndex {
    pub fn new(config: &SchedulerConfig, _cluster: &ClusterState) -> Self {
        FastIndex {
            inner: super::kube::KubePlacement::new(config),
        }
    }
    pub fn place(
        &mut self,
        cluster: &ClusterState,
        template: WorkloadId,
        requests: &ResourceVec,
        rng: &mut SimRng,
    ) -> PlacementResult {
        self.inner.place(cluster, template, requests, rng)
    }
    pub fn node_changed(&mut self, _cluster: &ClusterState, _node: NodeId) {}
}

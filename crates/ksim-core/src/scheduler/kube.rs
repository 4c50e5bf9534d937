//! PLACEHOLDER: kube-scheduler filter-and-score (to be written).
use super::PlacementResult;
use crate::cluster::{ClusterState, WorkloadId};
use crate::config::SchedulerConfig;
use crate::resources::ResourceVec;
use crate::rng::SimRng;

pub struct KubePlacement {}

impl KubePlacement {
    pub fn new(_config: &SchedulerConfig) -> Self {
        KubePlacement {}
    }
    pub fn place(
        &mut self,
        cluster: &ClusterState,
        template: WorkloadId,
        requests: &ResourceVec,
        _rng: &mut SimRng,
    ) -> PlacementResult {
        let t = &cluster.templates[template as usize];
        let mut diagnosis = super::Diagnosis {
            nodes_total: cluster.nodes.len() as u32,
            ..Default::default()
        };
        for n in 0..cluster.nodes.len() as u32 {
            match cluster.filter(t, requests, n) {
                None => {
                    return PlacementResult {
                        node: Some(n),
                        nodes_evaluated: n + 1,
                        diagnosis: None,
                    }
                }
                Some(r) => diagnosis.record(r),
            }
        }
        PlacementResult {
            node: None,
            nodes_evaluated: cluster.nodes.len() as u32,
            diagnosis: Some(Box::new(diagnosis)),
        }
    }
}

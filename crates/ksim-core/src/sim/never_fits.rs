//! Pods that can never be placed: the scheduler parks them with the reason
//! instead of retrying them (a ksim addition, see docs/models/scheduler.md).
//!
//! The answer depends only on the template's pool-level filters and on the
//! allocatable of the pools that admit it, which are fixed for the run. A
//! scenario may declare thousands of pools (autoscaler node groups, a
//! catalog of instance types), so what the answer needs is reduced once per
//! workload: the admitting allocatables that no other one covers in every
//! dimension (a request fits some admitting pool iff it fits one of them)
//! and the largest allocatable per dimension. An admission then costs the
//! size of that front, not the number of pools.

use crate::cluster::CompiledTemplate;
use crate::config::NodePoolSpec;
use crate::resources::{format_amount, ResourceNames, ResourceVec, NUM_RESOURCES};

pub(super) const NEVER_FITS_PREFIX: &str = "never fits: ";

/// One workload's admitting pools, reduced to what "can it ever fit" needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NeverFits {
    /// Allocatables of admitting pools that can hold nodes, none covered by
    /// another in every dimension, each once; empty when no such pool.
    front: Vec<ResourceVec>,
    /// Per dimension, the largest allocatable among them.
    largest: ResourceVec,
    /// Some pool admits the template but none of those can hold a node
    /// (`max` is 0).
    admitted_only_by_empty_pools: bool,
}

impl NeverFits {
    /// O(pools × front), once per workload as the run starts.
    pub(super) fn new(pools: &[NodePoolSpec], template: &CompiledTemplate) -> Self {
        let admitting = pools
            .iter()
            .zip(&template.pool_filter)
            .filter(|(_, filter)| filter.is_none())
            .map(|(pool, _)| pool);
        let mut any_admitting = false;
        let mut front = Vec::new();
        let mut largest = ResourceVec::ZERO;
        for pool in admitting {
            any_admitting = true;
            if !can_hold_nodes(pool) {
                continue;
            }
            for d in 0..NUM_RESOURCES {
                largest.0[d] = largest.0[d].max(pool.allocatable.0[d]);
            }
            add_to_front(&mut front, pool.allocatable);
        }
        NeverFits {
            admitted_only_by_empty_pools: any_admitting && front.is_empty(),
            front,
            largest,
        }
    }

    /// Why a pod requesting `requests` can never be placed on any node of
    /// any pool, if so: no pool that can hold nodes passes its
    /// taint/affinity filters, or its requests exceed the allocatable of
    /// every pool that does.
    pub(super) fn reason(&self, requests: &ResourceVec, names: &ResourceNames) -> Option<String> {
        if self.admitted_only_by_empty_pools {
            return Some(format!(
                "{NEVER_FITS_PREFIX}every node pool that passes the pod's node selector, affinity and tolerations has max = 0"
            ));
        }
        if self.front.is_empty() {
            // Pool-level filters are only taints and node affinity/selector.
            return Some(format!(
                "{NEVER_FITS_PREFIX}no node pool passes the pod's node selector, affinity and tolerations"
            ));
        }
        if self
            .front
            .iter()
            .any(|allocatable| ResourceVec::ZERO.fits_with(requests, allocatable))
        {
            return None;
        }
        Some(self.exceeded(requests, names))
    }

    /// The message for requests no admitting pool has room for.
    fn exceeded(&self, requests: &ResourceVec, names: &ResourceNames) -> String {
        let mut shortfalls = Vec::new();
        for dim in 0..NUM_RESOURCES {
            let largest = self.largest.0[dim];
            if requests.0[dim] > largest {
                shortfalls.push(format!(
                    "{} requested {} > largest allocatable {}",
                    names.name(dim),
                    format_amount(dim, requests.0[dim]),
                    format_amount(dim, largest)
                ));
            }
        }
        if shortfalls.is_empty() {
            shortfalls.push("no single node pool has room for all of its requests".into());
        }
        format!(
            "{NEVER_FITS_PREFIX}requests exceed every node pool that admits the pod: {}",
            shortfalls.join("; ")
        )
    }
}

/// A pool whose `max` is 0 never has a node; `count` is within `max` once
/// the configuration is checked, and is looked at too so that an unchecked
/// pool with nodes is never taken for empty.
fn can_hold_nodes(pool: &NodePoolSpec) -> bool {
    pool.max > 0 || pool.count > 0
}

/// True when `a` is at least `b` in every dimension: whatever fits `b` fits `a`.
fn covers(a: &ResourceVec, b: &ResourceVec) -> bool {
    (0..NUM_RESOURCES).all(|d| a.0[d] >= b.0[d])
}

/// Keeps `front` the set of allocatables not covered by another: `candidate`
/// joins unless one covers it (an equal one included), and drops those it covers.
fn add_to_front(front: &mut Vec<ResourceVec>, candidate: ResourceVec) {
    if front.iter().any(|kept| covers(kept, &candidate)) {
        return;
    }
    front.retain(|kept| !covers(&candidate, kept));
    front.push(candidate);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ClusterState;
    use crate::config::PodTemplate;
    use crate::resources::{CPU, FIRST_EXTENDED, MEMORY, PODS};
    use crate::scheduler::testutil::{label, pool, template};
    use proptest::prelude::*;

    fn names() -> ResourceNames {
        ResourceNames::new(vec!["nvidia.com/gpu".into()]).unwrap()
    }

    fn requests(cpu: u64, memory: u64, gpus: u64) -> ResourceVec {
        let mut r = ResourceVec::ZERO;
        (r.0[CPU], r.0[MEMORY], r.0[PODS], r.0[FIRST_EXTENDED]) = (cpu, memory, 1, gpus);
        r
    }

    fn never_fits(pools: &[NodePoolSpec], template: &PodTemplate) -> NeverFits {
        let cluster = ClusterState::from_specs(pools, std::slice::from_ref(template));
        NeverFits::new(pools, &cluster.templates[0])
    }

    /// The answer before the front: every admitting pool that can hold
    /// nodes, walked on each admission.
    fn reference(
        pools: &[NodePoolSpec],
        template: &PodTemplate,
        requests: &ResourceVec,
    ) -> Option<String> {
        let cluster = ClusterState::from_specs(pools, std::slice::from_ref(template));
        let filters = &cluster.templates[0].pool_filter;
        let admitting: Vec<&NodePoolSpec> = pools
            .iter()
            .zip(filters)
            .filter(|(_, f)| f.is_none())
            .map(|(p, _)| p)
            .collect();
        let holding: Vec<&NodePoolSpec> = admitting
            .iter()
            .copied()
            .filter(|p| p.max > 0 || p.count > 0)
            .collect();
        if !admitting.is_empty() && holding.is_empty() {
            return Some(format!("{NEVER_FITS_PREFIX}every node pool that passes the pod's node selector, affinity and tolerations has max = 0"));
        }
        if holding.is_empty() {
            return Some(format!("{NEVER_FITS_PREFIX}no node pool passes the pod's node selector, affinity and tolerations"));
        }
        if holding
            .iter()
            .any(|p| ResourceVec::ZERO.fits_with(requests, &p.allocatable))
        {
            return None;
        }
        let names = names();
        let mut shortfalls = Vec::new();
        for dim in 0..NUM_RESOURCES {
            let largest = holding.iter().map(|p| p.allocatable.0[dim]).max().unwrap();
            if requests.0[dim] > largest {
                shortfalls.push(format!(
                    "{} requested {} > largest allocatable {}",
                    names.name(dim),
                    format_amount(dim, requests.0[dim]),
                    format_amount(dim, largest)
                ));
            }
        }
        if shortfalls.is_empty() {
            shortfalls.push("no single node pool has room for all of its requests".into());
        }
        Some(format!(
            "{NEVER_FITS_PREFIX}requests exceed every node pool that admits the pod: {}",
            shortfalls.join("; ")
        ))
    }

    #[test]
    fn the_front_keeps_one_of_each_uncovered_shape() {
        let shapes = [
            requests(4000, 16, 0),
            requests(2000, 8, 0),
            requests(4000, 16, 0),
            requests(1000, 32, 0),
            requests(8000, 16, 0),
        ];
        let mut front = Vec::new();
        for s in shapes {
            add_to_front(&mut front, s);
        }
        assert_eq!(front, vec![requests(1000, 32, 0), requests(8000, 16, 0)]);
    }

    #[test]
    fn thousands_of_pools_of_few_shapes_leave_a_small_front() {
        let pools: Vec<NodePoolSpec> = (0..3000)
            .map(|i| {
                let mut p = pool(&format!("p{i}"), 0, 1000 * (1 + i % 3), 1 << 30, 110);
                p.max = 10;
                p
            })
            .collect();
        let n = never_fits(&pools, &template(&[]));
        assert_eq!(n.front.len(), 1);
        assert_eq!(n.largest.0[CPU], 3000);
    }

    #[test]
    fn no_admitting_pool_is_named() {
        let mut t = template(&[]);
        t.node_selector = vec![label("pool", "gpu")];
        let n = never_fits(&[pool("cpu", 1, 1000, 1000, 110)], &t);
        assert_eq!(
            n.reason(&requests(1, 1, 0), &names()).unwrap(),
            "never fits: no node pool passes the pod's node selector, affinity and tolerations"
        );
    }

    /// A pool with max = 0 never holds a node: a pod only it admits waits
    /// for nothing, and its size does not count as room.
    #[test]
    fn pools_that_can_never_hold_nodes_do_not_admit() {
        let empty = pool("big", 0, 64_000, 1 << 40, 110);
        let small = pool("small", 1, 1000, 1 << 30, 110);
        let n = never_fits(std::slice::from_ref(&empty), &template(&[]));
        assert_eq!(
            n.reason(&requests(1, 1, 0), &names()).unwrap(),
            "never fits: every node pool that passes the pod's node selector, affinity and tolerations has max = 0"
        );
        let n = never_fits(&[empty.clone(), small], &template(&[]));
        assert_eq!(
            n.reason(&requests(2000, 1, 0), &names()).unwrap(),
            "never fits: requests exceed every node pool that admits the pod: cpu requested 2 > largest allocatable 1"
        );
        let mut autoscaled = empty;
        autoscaled.max = 5;
        let n = never_fits(&[autoscaled], &template(&[]));
        assert_eq!(n.reason(&requests(2000, 1, 0), &names()), None);
    }

    #[test]
    fn requests_no_single_pool_holds_are_named() {
        let pools = [
            pool("wide", 1, 8000, 1 << 30, 110),
            pool("tall", 1, 1000, 8 << 30, 110),
        ];
        let n = never_fits(&pools, &template(&[]));
        assert_eq!(
            n.reason(&requests(2000, 2 << 30, 0), &names()).unwrap(),
            "never fits: requests exceed every node pool that admits the pod: no single node pool has room for all of its requests"
        );
        assert_eq!(n.reason(&requests(8000, 1 << 30, 0), &names()), None);
    }

    proptest! {
        /// The front gives the answer and message of walking every pool.
        #[test]
        fn the_front_answers_as_every_pool_would(
            pools in prop::collection::vec(
                (1..5u64, 1..5u64, 0..3u64, 0..3u32, any::<bool>()), 1..12),
            pod in (0..6000u64, 0..6000u64, 0..4u64),
        ) {
            let specs: Vec<NodePoolSpec> = pools
                .iter()
                .enumerate()
                .map(|(i, &(cpu, memory, gpus, max, selected))| {
                    let name = if selected { "a" } else { "b" };
                    let mut p = pool(name, 0, cpu * 1000, memory * 1000, 110);
                    p.name = format!("p{i}");
                    p.max = max;
                    p.allocatable.0[FIRST_EXTENDED] = gpus;
                    p
                })
                .collect();
            let mut t = template(&[]);
            t.node_selector = vec![label("pool", "a")];
            let r = requests(pod.0, pod.1, pod.2);
            let n = never_fits(&specs, &t);
            prop_assert_eq!(n.reason(&r, &names()), reference(&specs, &t, &r));
        }
    }
}

//! Provisioning at the close of a batch (upstream's
//! `pkg/controllers/provisioning`): pending pods that registered nodes may
//! take are left to the scheduler; the rest are packed, NodePool by
//! NodePool, onto nodes still launching (in-flight NodeClaims) and then onto
//! new NodeClaims with `packing::pack`.
//!
//! `pack` ignores labels and taints, so pods are packed in groups that
//! admit the same offerings (the scheduler's filters on each offering's
//! template node): a NodeClaim of one group only ever holds pods its
//! offering can run.

use super::{priced_options, usd, KarpenterController};
use crate::autoscale::karpenter::packing::{
    pack, ExistingNode, PackingInput, PendingPod, Placement,
};
use crate::controller::{Action, ClusterView, DecisionTarget, Wake};
use crate::ids::{PodId, PoolId, WorkloadId};
use crate::resources::{ResourceVec, CPU, MEMORY, NUM_RESOURCES};
use std::collections::BTreeMap;

/// A pod still looking for capacity.
#[derive(Copy, Clone, Debug)]
struct Pending {
    pod: PodId,
    workload: WorkloadId,
    requests: ResourceVec,
}

/// A node that is launching, with what this round already packed onto it.
struct InFlight {
    pool: PoolId,
    requested: ResourceVec,
}

/// New nodes asked for in this round, per pool: (count, pods).
pub(super) type Launches = BTreeMap<PoolId, (u32, u32)>;

impl KarpenterController {
    pub(super) fn provision(&mut self, wake: &mut Wake) {
        let view = wake.view;
        let pending = self.left_by_registered_nodes(&view);
        if pending.is_empty() {
            return;
        }
        let mut in_flight = self.in_flight_nodes(&view);
        let mut launches = Launches::new();
        let mut left = pending;
        for n in 0..self.settings.node_pools.len() {
            left = self.pack_node_pool(&view, n, left, &mut in_flight, &mut launches);
            if left.is_empty() {
                break;
            }
        }
        self.launch(wake, &launches);
        self.report_unplaced(wake, &left);
    }

    /// The pending pods (not being deleted) that no registered node would
    /// take: a shape some existing node takes now is left to the scheduler,
    /// all its pods at once (the Cluster Autoscaler's filter-out-schedulable,
    /// asked of the scheduler's placement).
    fn left_by_registered_nodes(&self, view: &ClusterView) -> Vec<Pending> {
        let pods = view.pods();
        let mut by_shape: BTreeMap<(WorkloadId, [u64; NUM_RESOURCES]), Vec<PodId>> =
            BTreeMap::new();
        for pod in view.unschedulable_pods() {
            let p = pod as usize;
            if !pods.deleting[p] {
                by_shape
                    .entry((pods.workload[p], pods.requests[p].0))
                    .or_default()
                    .push(pod);
            }
        }
        by_shape
            .into_iter()
            .map(|((workload, requests), group)| (workload, ResourceVec(requests), group))
            .filter(|(workload, requests, _)| !view.fits_some_node(*workload, requests))
            .flat_map(|(workload, requests, group)| {
                group.into_iter().map(move |pod| Pending {
                    pod,
                    workload,
                    requests,
                })
            })
            .collect()
    }

    /// The managed pools' nodes that are still launching, empty.
    fn in_flight_nodes(&self, view: &ClusterView) -> Vec<InFlight> {
        let mut out = Vec::new();
        for np in &self.settings.node_pools {
            for o in &np.offerings {
                let upcoming = view.upcoming_nodes(o.pool);
                out.extend((0..upcoming).map(|_| InFlight {
                    pool: o.pool,
                    requested: ResourceVec::ZERO,
                }));
            }
        }
        out
    }

    /// The cpu and memory capacity of the NodePool's nodes, launching ones
    /// and this round's launches included.
    pub(super) fn node_pool_usage(
        &self,
        view: &ClusterView,
        n: usize,
        launches: &Launches,
    ) -> ResourceVec {
        let mut usage = ResourceVec::ZERO;
        for o in &self.settings.node_pools[n].offerings {
            let launched = launches.get(&o.pool).map_or(0, |l| l.0);
            let nodes = u64::from(view.pool_size(o.pool)) + u64::from(launched);
            for dim in [CPU, MEMORY] {
                let add = o.capacity.0[dim]
                    .checked_mul(nodes)
                    .expect("NodePool capacity overflowed u64");
                usage.0[dim] = usage.0[dim]
                    .checked_add(add)
                    .expect("NodePool capacity overflowed u64");
            }
        }
        usage
    }

    /// Packs what it can of `pods` for NodePool `n`; returns the pods left.
    fn pack_node_pool(
        &self,
        view: &ClusterView,
        n: usize,
        pods: Vec<Pending>,
        in_flight: &mut Vec<InFlight>,
        launches: &mut Launches,
    ) -> Vec<Pending> {
        let offerings = &self.settings.node_pools[n].offerings;
        // Group pods by the offerings whose template node takes them.
        let mut admitted: BTreeMap<(WorkloadId, [u64; NUM_RESOURCES]), Vec<usize>> =
            BTreeMap::new();
        let mut groups: BTreeMap<Vec<usize>, Vec<Pending>> = BTreeMap::new();
        let mut left = Vec::new();
        for p in pods {
            let set = admitted
                .entry((p.workload, p.requests.0))
                .or_insert_with(|| {
                    (0..offerings.len())
                        .filter(|&o| {
                            view.template_fits(p.workload, &p.requests, offerings[o].pool)
                                .is_ok()
                        })
                        .collect()
                });
            if set.is_empty() {
                left.push(p);
            } else {
                groups.entry(set.clone()).or_default().push(p);
            }
        }
        for (set, group) in groups {
            left.extend(self.pack_group(view, n, &set, group, in_flight, launches));
        }
        left
    }

    /// Packs pods that all admit exactly the offerings `set` of NodePool `n`.
    fn pack_group(
        &self,
        view: &ClusterView,
        n: usize,
        set: &[usize],
        group: Vec<Pending>,
        in_flight: &mut Vec<InFlight>,
        launches: &mut Launches,
    ) -> Vec<Pending> {
        let np = &self.settings.node_pools[n];
        let pools: Vec<PoolId> = set.iter().map(|&o| np.offerings[o].pool).collect();
        let existing_index: Vec<usize> = (0..in_flight.len())
            .filter(|&i| pools.contains(&in_flight[i].pool))
            .collect();
        let existing: Vec<ExistingNode> = existing_index
            .iter()
            .map(|&i| ExistingNode {
                name: format!("{i}"),
                allocatable: view.pools()[in_flight[i].pool as usize].allocatable,
                requested: in_flight[i].requested,
            })
            .collect();
        let (options, option_pools) = priced_options(view, set.iter().map(|&o| &np.offerings[o]));
        let pending: Vec<PendingPod> = group
            .iter()
            .enumerate()
            .map(|(i, p)| PendingPod {
                // Zero-padded so that ties sort in pod order.
                name: format!("{:010}:{i}", p.pod),
                requests: p.requests,
            })
            .collect();
        let input = PackingInput {
            existing: &existing,
            options: &options,
            daemon_overhead: ResourceVec::ZERO,
            limits: np.limits,
            pool_usage: self.node_pool_usage(view, n, launches),
        };
        let outcome = pack(&pending, &input);
        let index_of = |name: &str| -> usize {
            name.rsplit(':')
                .next()
                .and_then(|i| i.parse().ok())
                .expect("a packed pod keeps its name")
        };
        for (name, placement) in &outcome.placements {
            if let Placement::Existing(e) = placement {
                let pod = &group[index_of(name)];
                in_flight[existing_index[*e]]
                    .requested
                    .add_assign(&pod.requests);
            }
        }
        for claim in &outcome.new_claims {
            let pool = option_pools[claim.options[0]];
            let entry = launches.entry(pool).or_insert((0, 0));
            entry.0 = entry.0.checked_add(1).expect("launches overflowed u32");
            entry.1 = entry
                .1
                .checked_add(claim.pods.len() as u32)
                .expect("pods overflowed u32");
            in_flight.push(InFlight {
                pool,
                requested: claim.requested,
            });
        }
        outcome
            .unschedulable
            .iter()
            .map(|name| group[index_of(name)])
            .collect()
    }

    /// One `AddNodes` per offering pool, with its decision.
    fn launch(&mut self, wake: &mut Wake, launches: &Launches) {
        if launches.is_empty() {
            return;
        }
        self.summary.scale_ups += 1;
        for (&pool, &(count, pods)) in launches {
            let (n, o) = self.offering_of[pool as usize].expect("launches go to managed pools");
            let offering = &self.settings.node_pools[n].offerings[o];
            let size = wake.view.pool_size(pool);
            wake.actions.push(Action::AddNodes { pool, count });
            self.summary.nodes_added += u64::from(count);
            wake.decisions.push(Self::decision(
                wake.now,
                "launch",
                DecisionTarget::Pool(pool),
                [
                    size,
                    size.checked_add(count).expect("pool size overflowed u32"),
                ],
                format!(
                    "pods={pods}; instance_type={}; capacity_type={}; price={}",
                    offering.instance_type,
                    offering.capacity_type.as_str(),
                    usd(offering.price_micro_usd_per_hour)
                ),
                format!(
                    "cheapest offering of NodePool {} that fits the batch",
                    self.settings.node_pools[n].name
                ),
            ));
        }
    }

    /// Pods left after every NodePool: reported once per shape; those no
    /// offering of any NodePool would take are counted for the summary.
    fn report_unplaced(&mut self, wake: &mut Wake, left: &[Pending]) {
        let view = wake.view;
        for p in left {
            let fits_some = self.settings.node_pools.iter().any(|np| {
                np.offerings
                    .iter()
                    .any(|o| view.template_fits(p.workload, &p.requests, o.pool).is_ok())
            });
            if !fits_some {
                self.pods_no_pool.insert(p.pod);
            }
            if !self.reported_no_pool.insert((p.workload, p.requests.0)) {
                continue;
            }
            let pods = left
                .iter()
                .filter(|q| q.workload == p.workload && q.requests == p.requests)
                .count();
            let reason = if fits_some {
                "the NodePools' limits leave no room for the pod"
            } else {
                "no instance type of any NodePool fits the pod"
            };
            wake.decisions.push(Self::decision(
                wake.now,
                "no_scale_up",
                DecisionTarget::Workload(p.workload),
                [0, 0],
                format!("pods={pods}"),
                reason.to_string(),
            ));
        }
    }
}

//! Node failures and the node-lifecycle controller: lease expiry,
//! rate-limited taints, evictions, recovery. Only failed nodes cost events.

use super::*;

/// Failure state of nodes; only failed nodes ever cost events.
pub(super) struct NodeHealth {
    /// Bumped at every failure and recovery, so events of an earlier episode are ignored.
    pub(super) epoch: Vec<u32>,
    pub(super) failed: Vec<bool>,
    /// When the unreachable NoExecute taint was added to the node in its
    /// current failure; NEVER while it has none.
    pub(super) no_execute_since: Vec<SimTime>,
    /// Per node: the pods bound or assumed there.
    pub(super) pods: PodLists,
    pub(super) limiter: EvictionLimiter,
    /// Per workload: pods tolerate the unreachable NoExecute taint forever.
    pub(super) never_evicted: Vec<bool>,
    pub(super) rng: SimRng,
    /// One stream per `node_failure_rates` entry, for its failure times and choices.
    pub(super) rate_rngs: Vec<SimRng>,
    /// Nodes failed right now.
    pub(super) failed_now: u64,
    pub(super) failures: u64,
    pub(super) evictions: u64,
}

/// Upstream's taint for a node whose lease expired.
pub(super) const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

impl NodeHealth {
    /// Zones are the cluster's (upstream's zone key, region and zone), as the
    /// node-lifecycle controller rate-limits evictions per zone.
    pub(super) fn new(config: &SimConfig, cluster: &ClusterState, streams: &RngStreams) -> Self {
        let nodes = config.nodes_total() as usize;
        let unreachable = Taint {
            key: UNREACHABLE_TAINT.into(),
            value: String::new(),
            effect: TaintEffect::NoExecute,
        };
        let never_evicted = config
            .workloads
            .iter()
            .map(|w| {
                w.template
                    .tolerations
                    .iter()
                    .any(|t| matching::tolerates(t, &unreachable))
            })
            .collect();
        let rate_rngs = config
            .node_failure_rates
            .iter()
            .enumerate()
            .map(|(i, r)| {
                streams.stream(&format!(
                    "node_failure_rates/{i}/{}",
                    config.node_pools[r.pool as usize].name
                ))
            })
            .collect();
        NodeHealth {
            epoch: vec![0; nodes],
            failed: vec![false; nodes],
            no_execute_since: vec![NEVER; nodes],
            pods: PodLists::new(nodes),
            limiter: EvictionLimiter::new(
                config.node_lifecycle.eviction_rate_per_s,
                cluster.zone_count(),
            ),
            never_evicted,
            rng: streams.stream("node_failures"),
            rate_rngs,
            failed_now: 0,
            failures: 0,
            evictions: 0,
        }
    }
}

impl NodeHealth {
    /// A node added during the run: healthy, no pods.
    pub(super) fn add_node(&mut self) {
        self.epoch.push(0);
        self.failed.push(false);
        self.no_execute_since.push(NEVER);
        self.pods.add_owner();
    }

    /// A deleted node: events of its current failure, if any, go stale.
    pub(super) fn forget(&mut self, node: NodeId) {
        let n = node as usize;
        self.epoch[n] = next_epoch(self.epoch[n]);
        if std::mem::take(&mut self.failed[n]) {
            self.failed_now = self
                .failed_now
                .checked_sub(1)
                .expect("a deleted failed node was counted failed");
        }
    }
}

impl Simulation {
    pub(super) fn nodes_fail(&mut self, now: SimTime, failure: u32) {
        let spec = self.config.node_failures[failure as usize].clone();
        let mut candidates: Vec<NodeId> = self
            .cluster
            .nodes
            .pool_members(spec.pool)
            .iter()
            .copied()
            .filter(|&n| !self.nodes.failed[n as usize])
            .collect();
        for i in 0..(spec.count as usize).min(candidates.len()) {
            let pick = self.nodes.rng.random_range(i..candidates.len());
            candidates.swap(i, pick);
            self.fail_node(now, candidates[i], spec.recover_after);
        }
    }

    /// One failure of a `node_failure_rates` entry: a healthy node of the pool, uniformly.
    pub(super) fn random_node_failure(&mut self, now: SimTime, rate: u32) {
        let spec = self.config.node_failure_rates[rate as usize].clone();
        if let Some(node) = self.pick_healthy(spec.pool, rate as usize) {
            self.fail_node(now, node, spec.recover_after);
        }
        let next =
            now + exponential_gap(&mut self.nodes.rate_rngs[rate as usize], spec.mean_interval);
        self.schedule(next, Event::RandomNodeFailure { rate });
    }

    /// A healthy registered node of `pool`, uniformly: by rejection while
    /// most nodes are healthy (no scan of a million-node pool), by a scan
    /// otherwise.
    pub(super) fn pick_healthy(&mut self, pool: u32, rate: usize) -> Option<NodeId> {
        const TRIES: usize = 32;
        let members = self.cluster.nodes.pool_members(pool);
        if members.is_empty() {
            return None;
        }
        let rng = &mut self.nodes.rate_rngs[rate];
        for _ in 0..TRIES {
            // A u32 range, as when pools were id ranges: the same draws.
            let node = members[rng.random_range(0..members.len() as u32) as usize];
            if !self.nodes.failed[node as usize] {
                return Some(node);
            }
        }
        let healthy: Vec<NodeId> = members
            .iter()
            .copied()
            .filter(|&n| !self.nodes.failed[n as usize])
            .collect();
        (!healthy.is_empty()).then(|| healthy[rng.random_range(0..healthy.len())])
    }

    pub(super) fn fail_node(
        &mut self,
        now: SimTime,
        node: NodeId,
        recover_after: Option<SimDuration>,
    ) {
        let n = node as usize;
        self.nodes.failed[n] = true;
        self.nodes.epoch[n] = next_epoch(self.nodes.epoch[n]);
        self.nodes.failures += 1;
        self.nodes.failed_now += 1;
        self.note_nodes_alive(now);
        let epoch = self.nodes.epoch[n];
        let lifecycle = &self.config.node_lifecycle;
        let phase = SimDuration(
            self.nodes
                .rng
                .random_range(0..lifecycle.lease_renew_interval.0),
        );
        let detected =
            lifecycle::detection_time(lifecycle, lifecycle::last_renewal(lifecycle, now, phase));
        self.schedule(detected, Event::NodeUnreachable { node, epoch });
        if let Some(after) = recover_after {
            self.schedule(now + after, Event::NodeRecovers { node, epoch });
        }
    }

    pub(super) fn current(&self, node: NodeId, epoch: u32) -> bool {
        self.nodes.epoch[node as usize] == epoch
    }

    pub(super) fn node_unreachable(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        // The NoSchedule taint: no new pods from now on.
        self.cluster.set_ready(node, false);
        self.notify_controllers(now, crate::controller::Subscriptions::NODE_NOT_READY);
        self.defer_write(ApiRequest::NodeStatus, 1, 1);
        self.placement.node_changed(&self.cluster, node);
        let pool = self.cluster.nodes.pool[node as usize] as usize;
        let zone = self.cluster.pools[pool].zone as usize;
        let tainted = self.nodes.limiter.admit(zone, now);
        self.nodes.no_execute_since[node as usize] = tainted;
        self.schedule(
            tainted + self.config.node_lifecycle.default_toleration,
            Event::EvictPods { node, epoch },
        );
    }

    /// Deletes the bound pods on the node whose toleration of the NoExecute
    /// taint has run out: counted from the taint, or from the binding for a
    /// pod bound after it. Pods the scheduler has only assumed there are not
    /// on the node yet as far as the controller knows.
    pub(super) fn evict_pods(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        let toleration = self.config.node_lifecycle.default_toleration;
        for pod in self.nodes.pods.pods_of(node) {
            let p = pod as usize;
            let bound = self.pods.bound[p];
            if bound == NEVER || self.nodes.never_evicted[self.pods.workload[p] as usize] {
                continue;
            }
            if bound.max(self.nodes.no_execute_since[node as usize]) + toleration <= now {
                self.nodes.evictions += 1;
                self.end_pod(now, pod, PodPhase::Failed);
            }
        }
    }

    /// A pod bound while its node's kubelet was down, now back.
    pub(super) fn start_bound_pod(&mut self, now: SimTime, pod: PodId) {
        if self.control_plane.is_some() {
            self.send_pod_write(now, pod, PodStep::Running);
        } else {
            self.start_running(now, pod);
        }
    }

    /// A pod bound to a node that already carries the NoExecute taint: the
    /// taint eviction controller deletes it a toleration after it sees it.
    pub(super) fn watch_for_eviction(&mut self, now: SimTime, pod: PodId) {
        let node = self.pods.node[pod as usize];
        // A tainted node is not ready; the ready flags are hot in cache, the
        // taint times are not.
        if self.cluster.nodes.state(node) == NodeState::NotReady
            && self.nodes.no_execute_since[node as usize] <= now
        {
            let epoch = self.nodes.epoch[node as usize];
            let at = now + self.config.node_lifecycle.default_toleration;
            self.schedule(at, Event::EvictPods { node, epoch });
        }
    }

    pub(super) fn node_recovers(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        let n = node as usize;
        self.nodes.failed[n] = false;
        self.nodes.epoch[n] = next_epoch(self.nodes.epoch[n]);
        self.nodes.no_execute_since[n] = NEVER;
        self.nodes.failed_now = self
            .nodes
            .failed_now
            .checked_sub(1)
            .expect("a recovering node was counted failed");
        self.note_nodes_alive(now);
        for pod in self.nodes.pods.pods_of(node) {
            let p = pod as usize;
            if self.pods.phase[p] == PodPhase::Running {
                // Its containers died with the node: the kubelet reports it Failed.
                self.defer_write(ApiRequest::PodStatus, 1, 1);
                self.end_pod(now, pod, PodPhase::Failed);
            } else if self.pods.bound[p] != NEVER && self.is_terminating(pod) {
                // Deleted while the kubelet was down, never started: the
                // kubelet only has to report it gone.
                self.defer_write(ApiRequest::PodStatus, 1, 1);
                self.end_pod(now, pod, PodPhase::Succeeded);
            } else if self.pods.bound[p] != NEVER {
                // Bound while the kubelet was down: it starts the pod now.
                self.start_bound_pod(now, pod);
            }
            // A pod only assumed here is the scheduler's business, not the kubelet's.
        }
        if self.cluster.nodes.state(node) == NodeState::NotReady {
            let at = lifecycle::next_check(&self.config.node_lifecycle, now);
            self.schedule(
                at,
                Event::NodeReady {
                    node,
                    epoch: self.nodes.epoch[n],
                },
            );
        }
    }

    pub(super) fn node_ready(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        self.cluster.set_ready(node, true);
        self.notify_controllers(now, crate::controller::Subscriptions::NODE_READY);
        self.defer_write(ApiRequest::NodeStatus, 1, 1);
        self.placement.node_changed(&self.cluster, node);
        self.queue.on_node_change(now, &mut self.wake_ups);
        self.schedule_wake_ups();
    }
}

/// A node's next failure epoch. Four billion failures of one node would
/// take longer than simulated time can span; wrapping would revive stale events.
pub(super) fn next_epoch(epoch: u32) -> u32 {
    epoch
        .checked_add(1)
        .expect("node failure epochs fit in u32")
}

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
    /// The controller's zone states (`handleDisruption`).
    pub(super) zones: ZoneStates,
    /// Live kubelets' leases, by cohort: the control plane's answers to their
    /// renewals decide when healthy nodes go NotReady.
    pub(super) cohorts: LeaseCohorts,
    /// Draws for cohorts whose renewals were only partly stored.
    pub(super) cohort_rng: SimRng,
    /// A cohort went stale or a zone left the normal state during the run:
    /// the run reports its node-lifecycle timeline.
    pub(super) disrupted: bool,
    pub(super) timeline: ControlPlaneTimeline,
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
                nodes,
            ),
            zones: ZoneStates::new(cluster.zone_count()),
            cohorts: LeaseCohorts::new(&config.node_lifecycle),
            cohort_rng: streams.stream("lease_cohorts"),
            disrupted: false,
            timeline: ControlPlaneTimeline {
                series: lifecycle_series(cluster.zone_count()),
                ..Default::default()
            },
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
        self.limiter.add_node();
    }

    /// A deleted node: events of its current failure, if any, go stale.
    pub(super) fn forget(&mut self, node: NodeId) {
        let n = node as usize;
        self.epoch[n] = next_epoch(self.epoch[n]);
        self.limiter.withdraw(node);
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
        if self.cluster.nodes.state(node) == NodeState::NotReady {
            // Already NotReady with its lease cohort: its taint stands (or
            // waits in its zone's queue); this failure's events carry the new epoch.
            self.evict_when_due(now, node);
            return;
        }
        self.mark_not_ready(now, node);
        self.update_zones(now);
        self.request_taint(now, node);
    }

    /// The controller marks the node NotReady: the NoSchedule taint (the
    /// scheduler stops using it at once) and the status write. Its NoExecute
    /// taint is requested separately, after the zones are re-evaluated, as
    /// upstream swaps a zone's limiter before its tainting pass runs.
    pub(super) fn mark_not_ready(&mut self, now: SimTime, node: NodeId) {
        self.cluster.set_ready(node, false);
        self.notify_controllers(now, crate::controller::Subscriptions::NODE_NOT_READY);
        self.defer_write(ApiRequest::NodeStatus, 1, 1);
        self.placement.node_changed(&self.cluster, node);
    }

    /// Queues the node for its NoExecute taint in its zone; its pods are
    /// evicted a toleration after the taint.
    pub(super) fn request_taint(&mut self, now: SimTime, node: NodeId) {
        let zone = self.zone_of(node);
        let at = self.nodes.limiter.request(zone, node, now);
        self.taint_at(node, at);
    }

    /// The node's NoExecute taint comes at `at` (None: not while its zone is stopped).
    fn taint_at(&mut self, node: NodeId, at: Option<SimTime>) {
        let n = node as usize;
        match at {
            Some(at) => {
                self.nodes.no_execute_since[n] = at;
                let epoch = self.nodes.epoch[n];
                self.schedule(
                    at + self.config.node_lifecycle.default_toleration,
                    Event::EvictPods { node, epoch },
                );
            }
            None => self.nodes.no_execute_since[n] = NEVER,
        }
    }

    /// An eviction event of the node's current epoch for a taint it already has (or will have).
    fn evict_when_due(&mut self, now: SimTime, node: NodeId) {
        let since = self.nodes.no_execute_since[node as usize];
        if since != NEVER {
            let at = (since + self.config.node_lifecycle.default_toleration).max(now);
            let epoch = self.nodes.epoch[node as usize];
            self.schedule(at, Event::EvictPods { node, epoch });
        }
    }

    fn zone_of(&self, node: NodeId) -> usize {
        let pool = self.cluster.nodes.pool[node as usize] as usize;
        self.cluster.pools[pool].zone as usize
    }

    /// Upstream's `handleDisruption` after a change of node readiness or of
    /// the zones' nodes: each zone's state from its counts, and the taint
    /// rates that follow. O(zones).
    pub(super) fn update_zones(&mut self, now: SimTime) {
        let counts: Vec<(u64, u64)> = (0..self.cluster.zone_count() as u32)
            .map(|zone| self.cluster.nodes.zone_counts(zone))
            .collect();
        match self
            .nodes
            .zones
            .update(&counts, &self.config.node_lifecycle)
        {
            Disruption::Unchanged => {}
            Disruption::Rates(rates) => {
                for (zone, rate) in rates {
                    self.set_zone_rate(now, zone, rate);
                }
            }
            Disruption::EnterFullDisruption => self.enter_full_disruption(now),
            Disruption::ExitFullDisruption(rates) => {
                self.nodes.cohorts.refresh(now);
                for (zone, rate) in rates {
                    self.set_zone_rate(now, zone, rate);
                }
            }
        }
        let zones = &self.nodes.zones;
        if (0..counts.len()).any(|z| zones.state(z).is_some_and(|s| s.level() > 0)) {
            self.nodes.disrupted = true;
        }
    }

    fn set_zone_rate(&mut self, now: SimTime, zone: usize, rate: f64) {
        for (node, at) in self.nodes.limiter.set_rate(zone, rate, now) {
            self.taint_at(node, at);
        }
    }

    /// Every zone is fully disrupted: upstream assumes the control plane is
    /// at fault, removes the NoExecute taints of every node
    /// (`markNodeAsReachable`, one node update each) and stops every zone's
    /// tainter. The NotReady nodes stay NotReady (NoSchedule) and wait in
    /// their zone's queue, as the next monitor pass queues them again.
    /// O(nodes), once per entry.
    fn enter_full_disruption(&mut self, now: SimTime) {
        for zone in 0..self.cluster.zone_count() {
            self.set_zone_rate(now, zone, 0.0);
        }
        for node in 0..self.cluster.nodes.len() as NodeId {
            if self.cluster.nodes.state(node) != NodeState::NotReady {
                continue;
            }
            if self.nodes.no_execute_since[node as usize] <= now {
                self.defer_write(ApiRequest::NodePatch, 1, 1);
            }
            self.request_taint(now, node);
        }
    }

    /// Closes the control-plane tick at `now` for the leases: the cohorts
    /// whose renewals the control plane refused, or acknowledged too late,
    /// go NotReady together at the monitor check that finds them stale; they
    /// come back when a renewal is seen again. Per-node work only for the
    /// nodes that change.
    pub(super) fn lease_tick(&mut self, now: SimTime) {
        let Some(control_plane) = &self.control_plane else {
            return;
        };
        let round = control_plane.lease_round();
        let rng = &mut self.nodes.cohort_rng;
        let changes = self
            .nodes
            .cohorts
            .tick(now, &round, || crate::rng::unit_f64(rng));
        if changes.is_empty() {
            return;
        }
        self.nodes.disrupted = true;
        let step = self.nodes.cohorts.count() as usize;
        let mut marked = Vec::new();
        for (cohort, stale) in changes {
            for node in (cohort as usize..self.cluster.nodes.len()).step_by(step) {
                let node = node as NodeId;
                let state = self.cluster.nodes.state(node);
                if !state.is_registered() {
                    continue;
                }
                if stale && state != NodeState::NotReady {
                    // A failed kubelet's lease is no fresher than its cohort's.
                    self.mark_not_ready(now, node);
                    marked.push(node);
                } else if !stale
                    && state == NodeState::NotReady
                    && !self.nodes.failed[node as usize]
                {
                    self.mark_ready(now, node);
                }
            }
        }
        self.update_zones(now);
        for node in marked {
            self.request_taint(now, node);
        }
    }

    /// Deletes the bound pods on the node whose toleration of the NoExecute
    /// taint has run out: counted from the taint, or from the binding for a
    /// pod bound after it. Pods the scheduler has only assumed there are not
    /// on the node yet as far as the controller knows.
    pub(super) fn evict_pods(&mut self, now: SimTime, node: NodeId, epoch: u32) {
        if !self.current(node, epoch) {
            return;
        }
        if self.nodes.no_execute_since[node as usize] == NEVER {
            return; // its taint was lifted, or waits in a stopped zone
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
        let cohort_stale = self
            .nodes
            .cohorts
            .is_stale(self.nodes.cohorts.cohort_of(node));
        if !cohort_stale {
            self.nodes.no_execute_since[n] = NEVER;
            self.nodes.limiter.withdraw(node);
        }
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
        if cohort_stale && self.cluster.nodes.state(node) == NodeState::NotReady {
            // Its lease renewals fail with its cohort's: it stays NotReady and
            // tainted until the cohort is seen renewing again.
            self.evict_when_due(now, node);
        } else if self.cluster.nodes.state(node) == NodeState::NotReady {
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
        if !self.current(node, epoch) || self.cluster.nodes.state(node) != NodeState::NotReady {
            return;
        }
        if self
            .nodes
            .cohorts
            .is_stale(self.nodes.cohorts.cohort_of(node))
        {
            // Its cohort's lease went stale meanwhile: NotReady still, and tainted.
            self.request_taint(now, node);
            return;
        }
        self.mark_ready(now, node);
        self.update_zones(now);
    }

    /// The controller sees a fresh lease and the node Ready: taints lifted,
    /// the scheduler may use it again.
    pub(super) fn mark_ready(&mut self, now: SimTime, node: NodeId) {
        self.cluster.set_ready(node, true);
        self.notify_controllers(now, crate::controller::Subscriptions::NODE_READY);
        self.defer_write(ApiRequest::NodeStatus, 1, 1);
        self.nodes.no_execute_since[node as usize] = NEVER;
        self.nodes.limiter.withdraw(node);
        self.placement.node_changed(&self.cluster, node);
        self.queue.on_node_change(now, &mut self.wake_ups);
        self.schedule_wake_ups();
    }

    /// One row of the node-lifecycle timeline (series in `lifecycle_series` order).
    pub(super) fn sample_lifecycle(&mut self, time: SimTime) {
        let mut row = vec![
            Some(self.cluster.nodes.count(NodeState::NotReady) as f64),
            Some(f64::from(self.nodes.cohorts.stale_count())),
            self.nodes
                .cohorts
                .oldest_fresh_age(time)
                .map(|age| age.as_secs_f64()),
        ];
        let round = self.control_plane.as_ref().map(|c| c.lease_round());
        row.push(round.map(|r| r.ack_lag.as_millis_f64()));
        row.push(round.map(|r| r.stored_fraction));
        row.push(Some(self.nodes.evictions as f64));
        for zone in 0..self.cluster.zone_count() {
            let (registered, not_ready) = self.cluster.nodes.zone_counts(zone as u32);
            let state = self.nodes.zones.state(zone);
            row.push(state.map(|s| f64::from(s.level())));
            row.push(Some(registered as f64));
            row.push(Some(not_ready as f64));
            row.push(Some(self.nodes.limiter.rate(zone)));
            row.push(Some(self.nodes.limiter.waiting(zone, time) as f64));
        }
        self.nodes.timeline.times.push(time);
        self.nodes.timeline.values.push(row);
    }
}

/// The node-lifecycle timeline's series, in the order of its rows.
fn lifecycle_series(zones: usize) -> Vec<SeriesName> {
    let name = |component: &str, metric: &str| SeriesName {
        component: component.to_string(),
        metric: metric.to_string(),
    };
    let mut series: Vec<SeriesName> = [
        "nodes_not_ready",
        "lease_cohorts_stale",
        "oldest_fresh_lease_age_s",
        "lease_ack_lag_ms",
        "lease_stored_fraction",
        "pods_evicted",
    ]
    .iter()
    .map(|m| name("node_lifecycle", m))
    .collect();
    for zone in 0..zones {
        let component = format!("zone/{zone}");
        for metric in [
            "state",
            "nodes",
            "nodes_not_ready",
            "taint_rate_per_s",
            "nodes_awaiting_taint",
        ] {
            series.push(name(&component, metric));
        }
    }
    series
}

/// A node's next failure epoch. Four billion failures of one node would
/// take longer than simulated time can span; wrapping would revive stale events.
pub(super) fn next_epoch(epoch: u32) -> u32 {
    epoch
        .checked_add(1)
        .expect("node failure epochs fit in u32")
}

//! The control plane between controllers and the stores: apiserver replicas
//! with in-flight limits, watch caches and fan-out, and the routing of each
//! kind's writes to its store.
//!
//! Two paths reach a store. Writes whose answer changes what happens next
//! (pod create, bind, status) go one by one through [`ControlPlane::write`]
//! and come back with an acknowledgement time. Fire-and-forget writes (node
//! leases and status, events, endpoint slices, deletes) are counted and
//! handed to the stores once per tick as evenly spread background writes, so
//! a million kubelets cost O(ticks), not O(writes).
//!
//! Clients spread evenly over the apiserver replicas, so every replica sees
//! the same share; per-replica figures are totals divided by the replica count.

pub mod config;

use crate::histogram::LatencyHistogram;
use crate::metrics::{
    ApiServerSummary, Bottleneck, ControlPlaneOutput, ControlPlaneTimeline, SeriesName,
    StoreSummary,
};
use crate::rng::RngStreams;
use crate::store::{BackgroundOutcome, Store, StoreError};
use crate::time::{SimDuration, SimTime};
use config::{ApiKind, ApiRequest, ControlPlaneConfig};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// What became of one synchronous write.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Stored; the client hears back at this time.
    Acked(SimTime),
    /// Refused with 429 by the in-flight limit; retry at this time (Retry-After).
    Throttled(SimTime),
    /// Refused by the store (NOSPACE alarm, or too large).
    Refused(StoreError),
}

/// How the control plane treated one tick's lease renewals
/// (`ControlPlane::lease_round`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct LeaseRound {
    /// Fraction of the tick's lease writes that were stored (the rest were
    /// refused with 429 by the in-flight limit or by the store).
    pub stored_fraction: f64,
    /// The lease store refuses every write (NOSPACE alarm).
    pub refused_by_store: bool,
    /// Mean time from a stored renewal's submission to its acknowledgement.
    pub ack_lag: SimDuration,
    /// The apiserver's Retry-After for a 429.
    pub retry_after: SimDuration,
}

impl LeaseRound {
    /// Every renewal stored at once: what a cluster without a control plane sees.
    pub const ALL_STORED: LeaseRound = LeaseRound {
        stored_fraction: 1.0,
        refused_by_store: false,
        ack_lag: SimDuration::ZERO,
        retry_after: SimDuration::ZERO,
    };
}

/// Counts over one sample interval (and, separately, the whole run).
#[derive(Clone, Debug, Default)]
struct Counts {
    requests: [u64; ApiRequest::COUNT],
    rejected_429: u64,
    watch_events: u64,
    watch_bytes: u64,
    /// Writes per kind, which every replica's watch cache of that kind ingests.
    cache_ingest: [u64; ApiKind::COUNT],
}

/// Fire-and-forget writes waiting for the next tick.
#[derive(Clone, Debug, Default)]
struct Deferred {
    writes: [u64; ApiRequest::COUNT],
    /// Watch events they cause (per-write watcher counts differ, e.g. endpoint slices).
    watch_events: [u64; ApiRequest::COUNT],
}

pub struct ControlPlane {
    config: ControlPlaneConfig,
    stores: Vec<Store>,
    lease_renew_interval: SimDuration,
    /// Acknowledgement times of synchronous writes still in flight.
    in_flight: BinaryHeap<Reverse<SimTime>>,
    /// Background writes in the stores at the last tick.
    background_in_flight: f64,
    /// Per request: refused writes carried into the next tick as retries.
    carried: [u64; ApiRequest::COUNT],
    /// Fresh background writes offered (retries excluded), and all admitted, at the last tick.
    background_offered: u64,
    background_admitted: u64,
    /// Per store: seconds of its slower server's time by which the fresh
    /// demand of this interval differs from what it served (fresh writes the
    /// apiservers turned away, minus retries it served), so its utilization
    /// shows the demand, not only what the in-flight limit let through.
    refused_work_s: Vec<f64>,
    deferred: Deferred,
    /// Node-nanoseconds not yet turned into whole heartbeats: exact rates without drift.
    lease_carry: u128,
    status_carry: u128,
    get_carry: u128,
    reads_this_tick: u64,
    /// EndpointSlices of all Services (one per 100 endpoints).
    endpoint_slices: u64,
    /// Kubelets alive now, and node-nanoseconds of heartbeats since the last tick.
    nodes_alive: u64,
    alive_since: SimTime,
    alive_node_nanos: u128,
    /// Live objects per kind (events are counted by `event_times`).
    live: [u64; ApiKind::COUNT],
    /// Events written per tick, to expire them after the event TTL.
    event_times: VecDeque<(SimTime, u64)>,
    next_compaction: SimTime,
    interval: Counts,
    totals: Counts,
    nospace_at: Vec<Option<SimTime>>,
    timeline: ControlPlaneTimeline,
    pod_writes_refused_nospace: u64,
    pod_startup_latency: LatencyHistogram,
    last_sample: SimTime,
    /// How the last tick treated the lease renewals.
    lease_round: LeaseRound,
}

impl ControlPlane {
    /// `nodes` is the cluster's node count; each has a node object and a lease.
    pub fn new(
        config: ControlPlaneConfig,
        lease_renew_interval: SimDuration,
        nodes: u64,
        streams: &RngStreams,
    ) -> Self {
        let stores = config
            .stores
            .iter()
            .map(|s| {
                Store::new(
                    s.config.clone(),
                    streams.stream(&format!("store/{}", s.name)),
                )
                .expect("the configuration was checked")
            })
            .collect();
        let mut live = [0; ApiKind::COUNT];
        live[ApiKind::Nodes.index()] = nodes;
        live[ApiKind::Leases.index()] = nodes;
        let timeline = ControlPlaneTimeline {
            series: series_names(&config),
            ..Default::default()
        };
        ControlPlane {
            nospace_at: vec![None; config.stores.len()],
            next_compaction: SimTime::ZERO + config.compaction_interval,
            stores,
            lease_renew_interval,
            in_flight: BinaryHeap::new(),
            background_in_flight: 0.0,
            carried: [0; ApiRequest::COUNT],
            background_offered: 0,
            background_admitted: 0,
            refused_work_s: vec![0.0; config.stores.len()],
            deferred: Deferred::default(),
            lease_carry: 0,
            status_carry: 0,
            get_carry: 0,
            reads_this_tick: 0,
            endpoint_slices: 0,
            nodes_alive: nodes,
            alive_since: SimTime::ZERO,
            alive_node_nanos: 0,
            live,
            event_times: VecDeque::new(),
            interval: Counts::default(),
            totals: Counts::default(),
            timeline,
            pod_writes_refused_nospace: 0,
            pod_startup_latency: LatencyHistogram::default(),
            last_sample: SimTime::ZERO,
            lease_round: LeaseRound {
                retry_after: config.apiserver.retry_after,
                ..LeaseRound::ALL_STORED
            },
            config,
        }
    }

    /// The Services' EndpointSlices, for coalescing their refused updates.
    /// The deployments stored, for the store's size.
    pub fn set_deployments(&mut self, deployments: u64) {
        self.live[ApiKind::Deployments.index()] = deployments;
    }

    pub fn set_endpoint_slices(&mut self, slices: u64) {
        self.endpoint_slices = slices;
        self.live[ApiKind::EndpointSlices.index()] = slices;
    }

    pub fn config(&self) -> &ControlPlaneConfig {
        &self.config
    }

    /// One synchronous write. `extra_watchers` are watchers beyond the kind's
    /// controllers (the kubelet of a bound pod's node).
    pub fn write(&mut self, now: SimTime, request: ApiRequest, extra_watchers: u64) -> Write {
        let in_flight = self.sync_in_flight(now) as f64 + self.background_in_flight;
        if in_flight >= self.mutating_limit() {
            self.interval.rejected_429 += 1;
            self.totals.rejected_429 += 1;
            return Write::Throttled(now + self.config.apiserver.retry_after);
        }
        let kind = request.kind();
        let store = self.config.store_of(kind);
        match self.stores[store].submit(now, self.config.objects.of(kind)) {
            Ok(ack) => {
                self.in_flight.push(Reverse(ack.at));
                let watchers = u64::from(self.controllers_watching(kind)) + extra_watchers;
                self.count_events(request, 1, watchers);
                self.count_live(request);
                Write::Acked(ack.at)
            }
            Err(error) => {
                if matches!(error, StoreError::NoSpace { .. }) {
                    self.note_nospace(store, now);
                    if kind == ApiKind::Pods {
                        self.pod_writes_refused_nospace += 1;
                    }
                }
                Write::Refused(error)
            }
        }
    }

    /// Fire-and-forget writes, sent with the next tick. Each write notifies
    /// the kind's controllers plus `extra_watchers`.
    pub fn defer(&mut self, request: ApiRequest, writes: u64, extra_watchers: u64) {
        let watchers = u64::from(self.controllers_watching(request.kind())) + extra_watchers;
        self.deferred.writes[request.index()] += writes;
        self.deferred.watch_events[request.index()] += writes * watchers;
        if request == ApiRequest::PodDelete {
            // Only a pod that was created (stored) can end and be deleted.
            let pods = &mut self.live[ApiKind::Pods.index()];
            *pods = pods
                .checked_sub(writes)
                .expect("deleted pods were created first");
        }
    }

    /// Objects a stored write creates: a pod; a node with its lease.
    fn count_live(&mut self, request: ApiRequest) {
        let kinds: &[ApiKind] = match request {
            ApiRequest::PodCreate => &[ApiKind::Pods],
            ApiRequest::NodeCreate => &[ApiKind::Nodes, ApiKind::Leases],
            _ => return,
        };
        for kind in kinds {
            self.live[kind.index()] += 1;
        }
    }

    /// A node object (and its lease) left the store. Counted when the
    /// deletion takes effect, not when its write is stored: two deletions of
    /// one node store one (the second finds nothing, upstream's 404).
    pub fn node_object_deleted(&mut self) {
        for kind in [ApiKind::Nodes, ApiKind::Leases] {
            let live = &mut self.live[kind.index()];
            *live = live
                .checked_sub(1)
                .expect("a deleted node was created first");
        }
    }

    pub fn record_pod_startup(&mut self, latency: SimDuration) {
        self.pod_startup_latency.record(latency);
    }

    /// Ends the tick [now − tick, now): its heartbeats (every live kubelet
    /// renews its lease, reads its node, reports status) and the fire-and-forget
    /// writes deferred during it go to the stores, spread over the next tick.
    /// Shifting them by one tick keeps a stationary load stationary and puts
    /// exactly one tick's writes in every sample row.
    pub fn tick(&mut self, now: SimTime) {
        self.set_nodes_alive(now, self.nodes_alive);
        let node_nanos = std::mem::take(&mut self.alive_node_nanos);
        let leases = take_whole(&mut self.lease_carry, node_nanos, self.lease_renew_interval);
        let statuses = take_whole(
            &mut self.status_carry,
            node_nanos,
            self.config.node_status_report_interval,
        );
        let gets = take_whole(
            &mut self.get_carry,
            node_nanos,
            self.config.node_status_update_interval,
        );
        self.defer(ApiRequest::LeaseUpdate, leases, 0);
        self.defer(ApiRequest::NodeStatus, statuses, 1);
        self.serve_reads(gets);
        let deferred = std::mem::take(&mut self.deferred);
        let admitted = self.admit_background(now, &deferred);
        let lease = ApiRequest::LeaseUpdate.index();
        let mut leases_stored = None;
        for request in ApiRequest::ALL {
            let (writes, watch_events) = admitted[request.index()];
            if writes > 0 {
                let outcome = self.send_background(now, request, writes, watch_events);
                if request == ApiRequest::LeaseUpdate {
                    leases_stored = Some(outcome);
                }
            }
        }
        self.note_lease_round(deferred.writes[lease], leases_stored);
        self.expire_events(now);
        if now >= self.next_compaction {
            self.compact();
            self.next_compaction = now + self.config.compaction_interval;
        }
    }

    /// The number of live kubelets changes at `now` (a node failed or came back).
    pub fn set_nodes_alive(&mut self, now: SimTime, alive: u64) {
        let span = (now - self.alive_since).0;
        self.alive_node_nanos += u128::from(self.nodes_alive) * u128::from(span);
        self.alive_since = now;
        self.nodes_alive = alive;
    }

    /// Reads served by the watch cache: they cost apiserver in-flight slots, not the store.
    fn serve_reads(&mut self, reads: u64) {
        self.reads_this_tick = reads;
        self.interval.requests[ApiRequest::NodeGet.index()] += reads;
        self.totals.requests[ApiRequest::NodeGet.index()] += reads;
    }

    /// Applies the mutating in-flight limit to a tick's background writes.
    /// Every write in a store holds an in-flight slot until it is answered,
    /// so a store can take what it completes in a tick plus its share of the
    /// slots still free; the rest is refused with 429 and retried next tick.
    /// Under overload this holds each store's queue near the limit, as the
    /// real limit protects etcd.
    fn admit_background(
        &mut self,
        now: SimTime,
        deferred: &Deferred,
    ) -> [(u64, u64); ApiRequest::COUNT] {
        let stores = self.stores.len();
        let mut demand = vec![0.0; stores];
        let mut capacity = vec![0.0; stores];
        let tick_s = self.config.tick.as_secs_f64();
        for request in ApiRequest::ALL {
            let writes = deferred.writes[request.index()] as f64;
            if request.is_read() || writes == 0.0 {
                continue;
            }
            let kind = request.kind();
            let store = self.config.store_of(kind);
            demand[store] += writes;
            capacity[store] += writes * self.store_seconds_per_write(request);
        }
        let in_stores: f64 = self
            .stores
            .iter_mut()
            .map(|store| store.writes_in_flight(now) as f64)
            .sum();
        // The stores count the synchronous writes too; keep them apart.
        let sync_in_flight = self.sync_in_flight(now) as f64;
        self.background_in_flight = (in_stores - sync_in_flight).max(0.0);
        let total_demand: f64 = demand.iter().sum();
        let free = (self.mutating_limit() - sync_in_flight - self.background_in_flight).max(0.0);
        let share: Vec<f64> = (0..stores)
            .map(|store| {
                if demand[store] == 0.0 {
                    return 1.0;
                }
                // Writes the store completes in one tick at this mix.
                let completes = demand[store] * tick_s / capacity[store];
                let allowed = completes + free * demand[store] / total_demand;
                (allowed / demand[store]).min(1.0)
            })
            .collect();
        let mut admitted = [(0, 0); ApiRequest::COUNT];
        self.background_offered = 0;
        self.background_admitted = 0;
        for request in ApiRequest::ALL {
            let i = request.index();
            let writes = deferred.writes[i];
            let store_share = if request.is_read() {
                1.0
            } else {
                share[self.config.store_of(request.kind())]
            };
            let accepted = (writes as f64 * store_share).floor() as u64;
            let refused = writes - accepted;
            if !request.is_read() {
                self.background_offered += writes.saturating_sub(self.carried[i]);
                self.background_admitted += accepted;
                let store = self.config.store_of(request.kind());
                // Demand is the fresh writes: add the fresh ones refused and
                // take out the retries the store did serve.
                let carried = self.carried[i].min(writes) as f64;
                let fresh = writes as f64 - carried;
                let refused_fresh = refused as f64 * fresh / writes.max(1) as f64;
                let accepted_retries = accepted as f64 * carried / writes.max(1) as f64;
                self.refused_work_s[store] +=
                    (refused_fresh - accepted_retries) * self.store_seconds_per_write(request);
            }
            let watch_each = deferred.watch_events[i].checked_div(writes).unwrap_or(0);
            admitted[i] = (accepted, deferred.watch_events[i] - refused * watch_each);
            self.carried[i] = 0;
            if refused > 0 {
                self.interval.rejected_429 += refused;
                self.totals.rejected_429 += refused;
                let retried = refused.min(self.retry_cap(request));
                self.carried[i] = retried;
                self.deferred.writes[i] += retried;
                self.deferred.watch_events[i] += retried * watch_each;
            }
        }
        admitted
    }

    /// Time one write of `request` takes on its store's slower server.
    fn store_seconds_per_write(&self, request: ApiRequest) -> f64 {
        let kind = request.kind();
        let store = &self.stores[self.config.store_of(kind)];
        1.0 / store.capacity_writes_per_s(self.config.objects.of(kind))
    }

    /// Synchronous writes still waiting for their acknowledgement at `now`.
    fn sync_in_flight(&mut self, now: SimTime) -> usize {
        while self.in_flight.peek().is_some_and(|t| t.0 <= now) {
            self.in_flight.pop();
        }
        self.in_flight.len()
    }

    /// Refused writes come back next tick, but a client keeps at most one
    /// outstanding write per object it owns: a kubelet retries its lease and
    /// status with the latest state, the EndpointSlice controller re-syncs a
    /// slice. Events, deletes and pod status retry one for one.
    fn retry_cap(&self, request: ApiRequest) -> u64 {
        match request {
            ApiRequest::LeaseUpdate | ApiRequest::NodeStatus => self.nodes_alive,
            ApiRequest::EndpointSliceUpdate => self.endpoint_slices,
            _ => u64::MAX,
        }
    }

    /// An operator's recovery of store `store` (`etcdctl defrag`, then
    /// `etcdctl alarm disarm`): see `Store::defragment_and_disarm`. Returns
    /// the file size after, or None without such a store.
    pub fn defragment_and_disarm(&mut self, store: usize) -> Option<u64> {
        self.stores.get_mut(store).map(Store::defragment_and_disarm)
    }

    /// How the control plane treated the renewals of the tick just closed:
    /// the lease-expiry feedback reads it (`lifecycle::LeaseCohorts`).
    pub fn lease_round(&self) -> LeaseRound {
        self.lease_round
    }

    /// `offered`: the tick's lease writes (retries included); `stored`: what
    /// their store did with those the apiservers admitted (None: none were).
    fn note_lease_round(&mut self, offered: u64, stored: Option<BackgroundOutcome>) {
        let store = self.config.store_of(ApiKind::Leases);
        let alarm = self.stores[store].no_space_alarm();
        let accepted = stored.map_or(0, |o| o.accepted);
        let round = &mut self.lease_round;
        round.retry_after = self.config.apiserver.retry_after;
        if offered == 0 {
            // No renewal this tick (a small cluster): the store's state decides.
            round.stored_fraction = if alarm { 0.0 } else { 1.0 };
            round.refused_by_store = alarm;
            return;
        }
        round.stored_fraction = accepted as f64 / offered as f64;
        round.refused_by_store = alarm && accepted == 0;
        if let Some(lag) = stored.and_then(|o| o.mean_latency) {
            round.ack_lag = lag;
        }
    }

    fn send_background(
        &mut self,
        now: SimTime,
        request: ApiRequest,
        writes: u64,
        watch_events: u64,
    ) -> BackgroundOutcome {
        let kind = request.kind();
        let store = self.config.store_of(kind);
        let until = now + self.config.tick;
        let outcome =
            self.stores[store].submit_background(now, until, writes, self.config.objects.of(kind));
        if outcome.rejected > 0 {
            self.note_nospace(store, now);
        }
        let watch_each = watch_events / writes;
        self.count_events(request, outcome.accepted, outcome.accepted * watch_each);
        if request == ApiRequest::EventCreate {
            self.live[ApiKind::Events.index()] += outcome.accepted;
            self.event_times.push_back((now, outcome.accepted));
        }
        outcome
    }

    fn expire_events(&mut self, now: SimTime) {
        while let Some(&(at, count)) = self.event_times.front() {
            if at + self.config.event_ttl > now {
                break;
            }
            self.event_times.pop_front();
            let events = &mut self.live[ApiKind::Events.index()];
            *events = events
                .checked_sub(count)
                .expect("expired events were counted live");
        }
    }

    /// The apiserver's periodic compaction of every store, sized by the live
    /// objects of the kinds routed to it.
    fn compact(&mut self) {
        for (index, store) in self.stores.iter_mut().enumerate() {
            let live_bytes: u64 = ApiKind::ALL
                .iter()
                .filter(|k| self.config.store_of(**k) == index)
                .map(|k| self.live[k.index()] * u64::from(self.config.objects.of(*k)))
                .sum();
            store.compact_history(live_bytes);
        }
    }

    fn note_nospace(&mut self, store: usize, now: SimTime) {
        self.nospace_at[store].get_or_insert(now);
    }

    fn count_events(&mut self, request: ApiRequest, writes: u64, watch_events: u64) {
        let bytes = watch_events * u64::from(self.config.objects.of(request.kind()));
        for counts in [&mut self.interval, &mut self.totals] {
            counts.requests[request.index()] += writes;
            counts.cache_ingest[request.kind().index()] += writes;
            counts.watch_events += watch_events;
            counts.watch_bytes += bytes;
        }
    }

    fn controllers_watching(&self, kind: ApiKind) -> u32 {
        let w = &self.config.watchers;
        match kind {
            ApiKind::Pods => w.pod_controllers,
            ApiKind::Nodes => w.node_controllers,
            ApiKind::Leases => w.lease_controllers,
            ApiKind::Events => w.event_watchers,
            ApiKind::EndpointSlices => w.endpoint_slice_controllers,
            ApiKind::Deployments => w.deployment_controllers,
        }
    }

    fn mutating_limit(&self) -> f64 {
        f64::from(self.config.apiserver.replicas)
            * f64::from(self.config.apiserver.max_mutating_inflight)
    }

    /// Closes the sample interval ending at `now`; `scheduler_busy` is the
    /// scheduler's busy time in it.
    pub fn sample(&mut self, now: SimTime, scheduler_busy: SimDuration) {
        let span_s = (now - self.last_sample).as_secs_f64();
        self.last_sample = now;
        let mut row = Vec::with_capacity(self.timeline.series.len());
        for (store, refused_work_s) in self.stores.iter_mut().zip(&mut self.refused_work_s) {
            let refused = ratio(std::mem::take(refused_work_s), span_s).unwrap_or(0.0);
            // Guard against a negative total when retries dominate an interval.
            push_store_row(&mut row, &store.take_interval(now), span_s, refused);
        }
        self.push_apiserver_row(&mut row, now, span_s);
        row.push(ratio(scheduler_busy.as_secs_f64(), span_s));
        debug_assert_eq!(row.len(), self.timeline.series.len());
        self.timeline.times.push(now);
        self.timeline.values.push(row);
        self.interval = Counts::default();
    }

    fn push_apiserver_row(&mut self, row: &mut Vec<Option<f64>>, now: SimTime, span_s: f64) {
        let sync_in_flight = self.sync_in_flight(now) as f64;
        let a = &self.config.apiserver;
        let replicas = f64::from(a.replicas);
        let per_replica_rate = |count: u64| ratio(count as f64 / replicas, span_s);
        for request in ApiRequest::ALL {
            row.push(per_replica_rate(self.interval.requests[request.index()]));
        }
        // Little's law: admitting every offered write at the same latency
        // would scale the in-flight count by offered / admitted.
        let offered_ratio = self.background_offered as f64 / self.background_admitted.max(1) as f64;
        let mutating_demand =
            (sync_in_flight + self.background_in_flight * offered_ratio.max(1.0)) / replicas;
        let mutating_limit = f64::from(a.max_mutating_inflight);
        let reads_per_s = self.reads_this_tick as f64 / self.config.tick.as_secs_f64();
        let readonly_demand = reads_per_s * a.cache_read_latency.as_secs_f64() / replicas;
        let readonly_limit = f64::from(a.max_readonly_inflight);
        row.push(Some(mutating_demand.min(mutating_limit)));
        row.push(Some(readonly_demand.min(readonly_limit)));
        row.push(Some(mutating_demand / mutating_limit));
        row.push(Some(readonly_demand / readonly_limit));
        row.push(per_replica_rate(self.interval.rejected_429));
        let events_per_s = per_replica_rate(self.interval.watch_events);
        let bytes_per_s = per_replica_rate(self.interval.watch_bytes);
        row.push(events_per_s);
        row.push(bytes_per_s);
        row.push(events_per_s.map(|e| e / a.watch_send_events_per_s));
        row.push(bytes_per_s.map(|b| b / a.network_bytes_per_s));
        for kind in ApiKind::ALL {
            let ingest_per_s = ratio(self.interval.cache_ingest[kind.index()] as f64, span_s);
            row.push(ingest_per_s.map(|r| r / a.watch_cache_events_per_s));
        }
    }

    /// The results, with bottlenecks ranked from the timeline.
    pub fn finish(self) -> ControlPlaneOutput {
        let bottlenecks = rank_bottlenecks(&self.timeline);
        let stores = self
            .stores
            .iter()
            .enumerate()
            .map(|(index, store)| StoreSummary {
                name: self.config.stores[index].name.clone(),
                kinds: ApiKind::ALL
                    .iter()
                    .filter(|k| self.config.store_of(**k) == index)
                    .map(|k| k.name().to_string())
                    .collect(),
                writes: store.writes(),
                bytes_written: store.bytes_written(),
                rejected: store.rejected(),
                batches: store.batches(),
                db_size_bytes: store.db_size_bytes(),
                nospace_alarm_at: self.nospace_at[index],
                commit_latency: store.latency().clone(),
            })
            .collect();
        let apiserver = ApiServerSummary {
            replicas: self.config.apiserver.replicas,
            requests: ApiRequest::ALL
                .iter()
                .map(|r| (r.label().to_string(), self.totals.requests[r.index()]))
                .collect(),
            rejected_429: self.totals.rejected_429,
            watch_events_sent: self.totals.watch_events,
            watch_bytes_sent: self.totals.watch_bytes,
        };
        ControlPlaneOutput {
            timeline: self.timeline,
            bottlenecks,
            stores,
            apiserver,
            pod_writes_refused_nospace: self.pod_writes_refused_nospace,
            pod_startup_latency: self.pod_startup_latency,
        }
    }
}

/// Adds `nanos` to `carry` and takes out whole periods: the number of
/// heartbeats due, exact over any number of ticks.
fn take_whole(carry: &mut u128, nanos: u128, period: SimDuration) -> u64 {
    *carry += nanos;
    let period = u128::from(period.0.max(1));
    let whole = *carry / period;
    *carry %= period;
    whole as u64
}

fn ratio(value: f64, span_s: f64) -> Option<f64> {
    (span_s > 0.0).then(|| value / span_s)
}

const STORE_METRICS: [&str; 11] = [
    "writes_per_s",
    "write_bytes_per_s",
    "rejected_per_s",
    "commit_p50_ms",
    "commit_p99_ms",
    "queue_depth",
    "db_size_bytes",
    "nospace_alarm",
    "leader_cpu_utilization",
    "apply_utilization",
    "quota_utilization",
];

/// `refused_utilization`: the demand refused upstream, in the store's time.
fn push_store_row(
    row: &mut Vec<Option<f64>>,
    s: &crate::store::StoreInterval,
    span_s: f64,
    refused_utilization: f64,
) {
    row.push(ratio(s.writes as f64, span_s));
    row.push(ratio(s.bytes as f64, span_s));
    row.push(ratio(s.rejected as f64, span_s));
    row.push(s.latency_p50.map(|d| d.as_millis_f64()));
    row.push(s.latency_p99.map(|d| d.as_millis_f64()));
    row.push(Some(s.queue_depth as f64));
    row.push(Some(s.db_size_bytes as f64));
    row.push(Some(f64::from(u8::from(s.nospace_alarm))));
    row.push(Some(
        (s.leader_cpu_utilization + refused_utilization).max(0.0),
    ));
    row.push(Some((s.apply_utilization + refused_utilization).max(0.0)));
    // Once the alarm is raised the store takes no writes at all: saturated.
    let quota = if s.nospace_alarm {
        s.quota_utilization.max(1.0)
    } else {
        s.quota_utilization
    };
    row.push(Some(quota));
}

/// Series in the order `sample` fills a row.
fn series_names(config: &ControlPlaneConfig) -> Vec<SeriesName> {
    let name = |component: &str, metric: &str| SeriesName {
        component: component.to_string(),
        metric: metric.to_string(),
    };
    let mut series = Vec::new();
    for store in &config.stores {
        let component = format!("store/{}", store.name);
        series.extend(STORE_METRICS.iter().map(|m| name(&component, m)));
    }
    for request in ApiRequest::ALL {
        let metric = format!("{}_per_s", request.label().replace([' ', '/'], "_"));
        series.push(name("apiserver", &metric));
    }
    for metric in [
        "mutating_inflight",
        "readonly_inflight",
        "mutating_inflight_utilization",
        "readonly_inflight_utilization",
        "rejected_429_per_s",
        "watch_events_per_s",
        "watch_bytes_per_s",
        "watch_send_utilization",
        "network_utilization",
    ] {
        series.push(name("apiserver", metric));
    }
    for kind in ApiKind::ALL {
        series.push(name(
            "apiserver",
            &format!("watch_cache_{}_utilization", kind.name()),
        ));
    }
    series.push(name("scheduler", "busy_utilization"));
    series
}

/// One entry per `*_utilization` series: saturated ones first (earliest
/// first), then the rest by peak, highest first; ties keep series order.
pub fn rank_bottlenecks(timeline: &ControlPlaneTimeline) -> Vec<Bottleneck> {
    let mut bottlenecks: Vec<Bottleneck> = Vec::new();
    for (index, series) in timeline.series.iter().enumerate() {
        let Some(resource) = series.metric.strip_suffix("_utilization") else {
            continue;
        };
        let mut peak = (0.0, SimTime::ZERO);
        let mut first_saturated = None;
        for (time, row) in timeline.times.iter().zip(&timeline.values) {
            let Some(value) = row[index] else { continue };
            if value > peak.0 {
                peak = (value, *time);
            }
            if value >= 1.0 && first_saturated.is_none() {
                first_saturated = Some(*time);
            }
        }
        bottlenecks.push(Bottleneck {
            component: series.component.clone(),
            resource: resource.replace('_', " "),
            peak_utilization: peak.0,
            peak_at: peak.1,
            first_saturated,
        });
    }
    bottlenecks.sort_by(|a, b| match (a.first_saturated, b.first_saturated) {
        (Some(x), Some(y)) => x
            .cmp(&y)
            .then(b.peak_utilization.total_cmp(&a.peak_utilization)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.peak_utilization.total_cmp(&a.peak_utilization),
    });
    bottlenecks
}

//! Node failures and the node-lifecycle controller, without a per-node
//! periodic event: a failed node's detection time is computed from its lease
//! phase, so 1,000,000 healthy nodes cost nothing.
//!
//! Upstream chain (kubelet, node-lifecycle controller, taint eviction):
//! the kubelet renews its lease every `lease_renew_interval`; the controller,
//! every `node_monitor_period`, marks a node whose lease is older than
//! `node_monitor_grace_period` unreachable and taints it (NoSchedule at once,
//! NoExecute through a per-zone rate limiter of `eviction_rate_per_s`, burst 1);
//! pods are deleted `default_toleration` after the NoExecute taint unless
//! they tolerate it forever.

use crate::config::NodeLifecycleConfig;
pub use crate::control_plane::LeaseRound;
use crate::ids::{NodeId, PodId};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// A time that never comes (the same value as `cluster::NEVER`).
const NEVER: SimTime = SimTime::MAX;

/// The first controller check strictly after `last_renewal + grace`
/// (upstream marks a node when `now - probeTime > grace`), checks running at
/// every multiple of the monitor period.
pub fn detection_time(config: &NodeLifecycleConfig, last_renewal: SimTime) -> SimTime {
    let deadline = (last_renewal + config.node_monitor_grace_period).0;
    let period = config.node_monitor_period.0;
    SimTime((deadline / period + 1).saturating_mul(period))
}

/// The last lease renewal at or before `failure`, for a kubelet whose
/// renewals fall at `phase + k * interval`.
pub fn last_renewal(config: &NodeLifecycleConfig, failure: SimTime, phase: SimDuration) -> SimTime {
    let interval = config.lease_renew_interval.0;
    let first_renewal = phase.0 % interval;
    if failure.0 < first_renewal {
        // Not renewed yet: the node's last sign of life is its registration at 0.
        return SimTime::ZERO;
    }
    SimTime(failure.0 - (failure.0 - first_renewal) % interval)
}

/// The next controller check at or after `t`.
pub fn next_check(config: &NodeLifecycleConfig, t: SimTime) -> SimTime {
    let period = config.node_monitor_period.0;
    SimTime(t.0.div_ceil(period).saturating_mul(period))
}

/// Per-zone token buckets (burst 1) for adding NoExecute taints, each with
/// its queue of nodes waiting for their taint: upstream's
/// `zoneNoExecuteTainter`, one `RateLimitedTimedQueue` per zone
/// (pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go). A zone's
/// rate changes with its disruption state (`set_rate`, upstream's
/// `SwapLimiter`); a rate of 0 stops it.
///
/// While a zone's rate stays put, a node's taint time is known when it is
/// queued (the bucket's next token), so it is given at once and no event
/// polls the queue; only a rate change re-times the nodes still waiting.
#[derive(Clone, Debug)]
pub struct EvictionLimiter {
    zones: Vec<ZoneTainter>,
    /// Per node: bumped whenever its taint is requested or withdrawn, so a
    /// queue entry of an earlier request is known to be stale.
    generation: Vec<u32>,
}

#[derive(Clone, Debug)]
struct ZoneTainter {
    rate_per_s: f64,
    /// Between tokens; None while stopped (rate 0: upstream's never-limiter).
    interval: Option<SimDuration>,
    /// When the bucket holds its next token.
    next_free: SimTime,
    /// Nodes whose taint is still to come (NEVER: while stopped), in queue order.
    waiting: VecDeque<Waiting>,
}

#[derive(Copy, Clone, Debug)]
struct Waiting {
    node: NodeId,
    generation: u32,
    at: SimTime,
}

/// What a rate change did to one waiting node: its new taint time, or None
/// while the zone is stopped.
pub type Retimed = (NodeId, Option<SimTime>);

fn interval_of(rate_per_s: f64) -> Option<SimDuration> {
    (rate_per_s > 0.0).then(|| SimDuration::from_secs_f64(1.0 / rate_per_s))
}

impl EvictionLimiter {
    pub fn new(rate_per_s: f64, zones: usize, nodes: usize) -> Self {
        EvictionLimiter {
            zones: vec![
                ZoneTainter {
                    rate_per_s,
                    interval: interval_of(rate_per_s),
                    next_free: SimTime::ZERO,
                    waiting: VecDeque::new(),
                };
                zones
            ],
            generation: vec![0; nodes],
        }
    }

    /// A node added during the run.
    pub fn add_node(&mut self) {
        self.generation.push(0);
    }

    pub fn rate(&self, zone: usize) -> f64 {
        self.zones[zone].rate_per_s
    }

    /// Nodes queued in `zone` whose taint is still to come at `now`, or
    /// undecided while the zone is stopped. O(queue): for samples.
    pub fn waiting(&self, zone: usize, now: SimTime) -> usize {
        self.zones[zone]
            .waiting
            .iter()
            .filter(|w| w.at > now && self.generation[w.node as usize] == w.generation)
            .count()
    }

    fn bump(&mut self, node: NodeId) -> u32 {
        let generation = &mut self.generation[node as usize];
        *generation = generation
            .checked_add(1)
            .expect("taint requests per node fit in u32");
        *generation
    }

    /// Queues `node` in `zone` for its NoExecute taint at `now` (upstream's
    /// `markNodeForTainting`): the time it is tainted, or None while the
    /// zone is stopped (it waits for a rate change).
    pub fn request(&mut self, zone: usize, node: NodeId, now: SimTime) -> Option<SimTime> {
        let generation = self.bump(node);
        let z = &mut self.zones[zone];
        // Entries already tainted leave the queue's front as it goes.
        while z.waiting.front().is_some_and(|w| w.at <= now) {
            z.waiting.pop_front();
        }
        let at = z.interval.map(|interval| {
            let at = now.max(z.next_free);
            z.next_free = at + interval;
            at
        });
        if at.is_none_or(|at| at > now) {
            z.waiting.push_back(Waiting {
                node,
                generation,
                at: at.unwrap_or(NEVER),
            });
        }
        at
    }

    /// The node is ready again, or its taints were lifted: an entry still
    /// queued for it is dropped (upstream's `markNodeAsReachable` removes
    /// it from the queue).
    pub fn withdraw(&mut self, node: NodeId) {
        self.bump(node);
    }

    /// Upstream's `SwapLimiter`: the same rate changes nothing; otherwise a
    /// new bucket (burst 1) replaces the old one, holding a token only if
    /// the old one did, and the nodes still waiting are re-timed in queue
    /// order. Returns them with their new times.
    pub fn set_rate(&mut self, zone: usize, rate_per_s: f64, now: SimTime) -> Vec<Retimed> {
        let generation = &self.generation;
        let z = &mut self.zones[zone];
        if z.rate_per_s == rate_per_s {
            return Vec::new();
        }
        let had_token = z.interval.is_some() && z.next_free <= now;
        z.rate_per_s = rate_per_s;
        z.interval = interval_of(rate_per_s);
        z.next_free = match z.interval {
            Some(interval) if !had_token => now + interval,
            _ => now,
        };
        let mut retimed = Vec::new();
        let mut kept = VecDeque::new();
        for mut w in std::mem::take(&mut z.waiting) {
            if generation[w.node as usize] != w.generation || w.at <= now {
                continue;
            }
            let at = z.interval.map(|interval| {
                let at = now.max(z.next_free);
                z.next_free = at + interval;
                at
            });
            w.at = at.unwrap_or(NEVER);
            if w.at > now {
                kept.push_back(w);
            }
            retimed.push((w.node, at));
        }
        z.waiting = kept;
        retimed
    }
}

/// A zone's state as the node-lifecycle controller sees it
/// (`ZoneState` in node_lifecycle_controller.go).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ZoneState {
    /// Not evaluated since nodes joined it.
    Initial,
    Normal,
    PartialDisruption,
    FullDisruption,
}

impl ZoneState {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneState::Initial => "initial",
            ZoneState::Normal => "normal",
            ZoneState::PartialDisruption => "partial_disruption",
            ZoneState::FullDisruption => "full_disruption",
        }
    }

    /// A number for timelines: 0 normal (or initial), 1 partial, 2 full.
    pub fn level(self) -> u8 {
        match self {
            ZoneState::Initial | ZoneState::Normal => 0,
            ZoneState::PartialDisruption => 1,
            ZoneState::FullDisruption => 2,
        }
    }
}

/// Upstream's `ComputeZoneState` over a zone's node counts: fully disrupted
/// when no node is ready and at least one is not; partially disrupted when
/// more than 2 are not ready and they are at least `unhealthy_threshold` of
/// the zone; normal otherwise.
pub fn compute_zone_state(ready: u64, not_ready: u64, unhealthy_threshold: f64) -> ZoneState {
    let total = ready + not_ready;
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f64 / total as f64 >= unhealthy_threshold {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// Upstream's `setLimiterInZone`: the taint rate of a zone of `zone_size`
/// nodes in `state`. Normal: the eviction rate. Partial: `ReducedQPSFunc`,
/// the secondary rate in a zone larger than the large-cluster threshold, 0
/// in a smaller one. Full: `HealthyQPSFunc`, the eviction rate (the zone is
/// down but others are not; when all are, `ZoneStates::update` stops them all).
pub fn zone_rate(config: &NodeLifecycleConfig, state: ZoneState, zone_size: u64) -> f64 {
    match state {
        ZoneState::Initial | ZoneState::Normal | ZoneState::FullDisruption => {
            config.eviction_rate_per_s
        }
        ZoneState::PartialDisruption => {
            if zone_size > u64::from(config.large_cluster_size_threshold) {
                config.secondary_eviction_rate_per_s
            } else {
                0.0
            }
        }
    }
}

/// What one evaluation of the zones changes (upstream's `handleDisruption`).
#[derive(Clone, Debug, PartialEq)]
pub enum Disruption {
    /// Nothing: no zone changed state, or every zone was and still is fully disrupted.
    Unchanged,
    /// Some zones changed state: their new taint rates.
    Rates(Vec<(usize, f64)>),
    /// Every zone with nodes is now fully disrupted: the controller assumes
    /// the control plane is the problem, lifts every NoExecute taint and
    /// stops tainting everywhere (rate 0 in every zone).
    EnterFullDisruption,
    /// Every zone was fully disrupted and now at least one is not: the
    /// controller gives every node a fresh grace period and sets every
    /// zone's rate for its new state.
    ExitFullDisruption(Vec<(usize, f64)>),
}

/// The controller's zone states; zones without registered nodes have none.
#[derive(Clone, Debug, Default)]
pub struct ZoneStates {
    states: Vec<Option<ZoneState>>,
}

impl ZoneStates {
    pub fn new(zones: usize) -> Self {
        ZoneStates {
            states: vec![None; zones],
        }
    }

    /// The zone's state (Initial until first evaluated; None without nodes).
    pub fn state(&self, zone: usize) -> Option<ZoneState> {
        self.states.get(zone).copied().flatten()
    }

    /// One `handleDisruption` pass over `counts`, per zone its registered
    /// nodes and the NotReady ones among them.
    pub fn update(&mut self, counts: &[(u64, u64)], config: &NodeLifecycleConfig) -> Disruption {
        if self.states.len() < counts.len() {
            self.states.resize(counts.len(), None);
        }
        let new: Vec<Option<ZoneState>> = counts
            .iter()
            .map(|&(registered, not_ready)| {
                (registered > 0).then(|| {
                    compute_zone_state(
                        registered - not_ready,
                        not_ready,
                        config.unhealthy_zone_threshold,
                    )
                })
            })
            .collect();
        // A zone seen for the first time starts Initial; a zone left without
        // nodes is forgotten.
        for (state, new) in self.states.iter_mut().zip(&new) {
            match (new, &state) {
                (None, _) => *state = None,
                (Some(_), None) => *state = Some(ZoneState::Initial),
                _ => {}
            }
        }
        let present = || {
            new.iter()
                .enumerate()
                .filter_map(|(z, s)| s.map(|s| (z, s)))
        };
        let all_are_full = present().all(|(_, s)| s == ZoneState::FullDisruption);
        let all_were_full = self
            .states
            .iter()
            .flatten()
            .all(|&s| s == ZoneState::FullDisruption);
        if all_are_full && all_were_full {
            return Disruption::Unchanged;
        }
        let size = |z: usize| counts[z].0;
        if all_are_full {
            for state in self.states.iter_mut().flatten() {
                *state = ZoneState::FullDisruption;
            }
            return Disruption::EnterFullDisruption;
        }
        let mut rates = Vec::new();
        for (zone, state) in present() {
            if all_were_full || self.states[zone] != Some(state) {
                rates.push((zone, zone_rate(config, state, size(zone))));
                self.states[zone] = Some(state);
            }
        }
        if all_were_full {
            Disruption::ExitFullDisruption(rates)
        } else if rates.is_empty() {
            Disruption::Unchanged
        } else {
            Disruption::Rates(rates)
        }
    }
}

/// The leases of the live kubelets, renewed in cohorts by phase so that a
/// million kubelets cost O(cohorts) per tick: cohort `c` holds the nodes
/// whose id is `c` modulo the cohort count and first renews at
/// `c × renew interval / cohorts`. Each cohort renews as one kubelet would
/// (upstream's lease controller, component-helpers/apimachinery/lease): the
/// next renewal is one renew interval after the previous one returned
/// (`wait.JitterUntil`, sliding, jitter not modelled); a write refused with
/// 429 is retried after its Retry-After (client-go); a write the store
/// refuses (NOSPACE) fails the whole sync, retried a renew interval later.
/// The node-lifecycle controller, at every monitor check, finds a cohort
/// stale when the last renewal it has seen acknowledged is older than the
/// grace period, and fresh again once a newer one is acknowledged.
#[derive(Clone, Debug)]
pub struct LeaseCohorts {
    renew: SimDuration,
    grace: SimDuration,
    period: SimDuration,
    cohorts: Vec<Cohort>,
    last_check: SimTime,
}

#[derive(Copy, Clone, Debug)]
struct Cohort {
    /// The latest renewal the controller has seen acknowledged.
    observed: SimTime,
    /// A stored renewal not yet acknowledged (NEVER: none).
    acked_at: SimTime,
    /// When the cohort's kubelets next renew.
    next_attempt: SimTime,
    stale: bool,
}

/// A cohort whose staleness changed at a monitor check: true when it went stale.
pub type CohortChange = (u32, bool);

impl LeaseCohorts {
    pub fn new(config: &NodeLifecycleConfig) -> Self {
        let count = config.lease_cohorts.max(1);
        let renew = config.lease_renew_interval;
        let cohorts = (0..count)
            .map(|c| Cohort {
                // Registration at 0 is the first sign of life.
                observed: SimTime::ZERO,
                acked_at: NEVER,
                next_attempt: SimTime::ZERO
                    + SimDuration(mul_div(renew.0, u64::from(c), u64::from(count))),
                stale: false,
            })
            .collect();
        LeaseCohorts {
            renew,
            grace: config.node_monitor_grace_period,
            period: config.node_monitor_period,
            cohorts,
            last_check: SimTime::ZERO,
        }
    }

    pub fn count(&self) -> u32 {
        self.cohorts.len() as u32
    }

    /// The cohort of `node`.
    pub fn cohort_of(&self, node: NodeId) -> u32 {
        node % self.count()
    }

    pub fn is_stale(&self, cohort: u32) -> bool {
        self.cohorts[cohort as usize].stale
    }

    pub fn stale_count(&self) -> u32 {
        self.cohorts.iter().filter(|c| c.stale).count() as u32
    }

    /// The oldest lease the controller holds among the fresh cohorts, as an
    /// age at `now` (how close the next cohort is to its grace period).
    pub fn oldest_fresh_age(&self, now: SimTime) -> Option<SimDuration> {
        self.cohorts
            .iter()
            .filter(|c| !c.stale)
            .map(|c| now.saturating_since(c.observed))
            .max()
    }

    /// Closes the tick ending at `now`: first the controller's monitor check
    /// at or before `now` (if it has not run yet), against the renewals
    /// acknowledged by then; then the renewals acknowledged by `now` are
    /// seen; then the cohorts due to renew in the tick send their renewals,
    /// treated as `round` says. `draw` gives a uniform in [0, 1) for a
    /// cohort whose renewal was only partly stored. Returns the cohorts
    /// whose staleness changed.
    pub fn tick(
        &mut self,
        now: SimTime,
        round: &LeaseRound,
        mut draw: impl FnMut() -> f64,
    ) -> Vec<CohortChange> {
        let mut changes = Vec::new();
        let period = self.period.0.max(1);
        let check = SimTime(now.0 / period * period);
        if check > self.last_check {
            self.last_check = check;
            for (index, c) in self.cohorts.iter_mut().enumerate() {
                let seen = if c.acked_at <= check {
                    c.acked_at
                } else {
                    c.observed
                };
                // Upstream marks a node when now - probeTime > grace.
                let stale = check > seen + self.grace;
                if stale != c.stale {
                    c.stale = stale;
                    changes.push((index as u32, stale));
                }
            }
        }
        for c in &mut self.cohorts {
            if c.acked_at <= now {
                c.observed = c.observed.max(c.acked_at);
                c.acked_at = NEVER;
            }
            if c.next_attempt >= now || c.acked_at != NEVER {
                continue;
            }
            // The renewal is made at its own time, in the tick just closed;
            // the one-tick shift of the background writes is not charged to
            // the kubelet's cadence.
            let made = c.next_attempt;
            let stored = if round.refused_by_store {
                false
            } else if round.stored_fraction >= 1.0 {
                true
            } else if round.stored_fraction <= 0.0 {
                false
            } else {
                draw() < round.stored_fraction
            };
            if stored {
                c.acked_at = made + round.ack_lag;
                c.next_attempt = c.acked_at + self.renew;
                if c.acked_at <= now {
                    c.observed = c.observed.max(c.acked_at);
                    c.acked_at = NEVER;
                }
            } else if round.refused_by_store {
                c.next_attempt = made + self.renew;
            } else {
                c.next_attempt = (made + round.retry_after).max(now);
            }
        }
        changes
    }

    /// Leaving full disruption, upstream gives every node a fresh probe
    /// time: the fresh cohorts count their leases from `now`.
    pub fn refresh(&mut self, now: SimTime) {
        for c in self.cohorts.iter_mut().filter(|c| !c.stale) {
            c.observed = c.observed.max(now);
        }
    }
}

/// `a * b / c` without overflow for u64 operands (c > 0).
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    (u128::from(a) * u128::from(b) / u128::from(c)) as u64
}

/// Pods per owner (a node, a workload), as intrusive doubly linked lists
/// (8 bytes per pod, 4 per owner), so evicting a node's pods or scaling a
/// workload down never scans all pods. A pod is on at most one list of
/// each `PodLists`.
#[derive(Clone, Debug, Default)]
pub struct PodLists {
    head: Vec<PodId>,
    next: Vec<PodId>,
    prev: Vec<PodId>,
}

const NONE: PodId = PodId::MAX;

impl PodLists {
    pub fn new(owners: usize) -> Self {
        PodLists {
            head: vec![NONE; owners],
            next: Vec::new(),
            prev: Vec::new(),
        }
    }

    /// One more owner (a node added to the cluster), with no pods.
    pub fn add_owner(&mut self) {
        self.head.push(NONE);
    }

    fn ensure(&mut self, pod: PodId) {
        let needed = pod as usize + 1;
        if self.next.len() < needed {
            self.next.resize(needed, NONE);
            self.prev.resize(needed, NONE);
        }
    }

    pub fn link(&mut self, owner: u32, pod: PodId) {
        self.ensure(pod);
        let first = self.head[owner as usize];
        self.next[pod as usize] = first;
        self.prev[pod as usize] = NONE;
        if first != NONE {
            self.prev[first as usize] = pod;
        }
        self.head[owner as usize] = pod;
    }

    pub fn unlink(&mut self, owner: u32, pod: PodId) {
        let (prev, next) = (self.prev[pod as usize], self.next[pod as usize]);
        if prev == NONE {
            self.head[owner as usize] = next;
        } else {
            self.next[prev as usize] = next;
        }
        if next != NONE {
            self.prev[next as usize] = prev;
        }
    }

    /// The pods of `owner`, most recently linked first.
    pub fn iter(&self, owner: u32) -> impl Iterator<Item = PodId> + '_ {
        let mut pod = self.head[owner as usize];
        std::iter::from_fn(move || {
            let this = pod;
            (this != NONE).then(|| {
                pod = self.next[this as usize];
                this
            })
        })
    }

    /// The pods of `owner`, most recently linked first, collected so the
    /// caller may change the lists as it goes through them.
    pub fn pods_of(&self, owner: u32) -> Vec<PodId> {
        self.iter(owner).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    #[test]
    fn detection_is_the_first_check_after_the_grace_period() {
        let config = NodeLifecycleConfig::default();
        // Lease renewed at 100 s: 100 + 50 = 150 is a check time, but upstream needs strictly more.
        assert_eq!(
            detection_time(&config, SimTime::ZERO + secs(100)),
            SimTime::ZERO + secs(155)
        );
        assert_eq!(
            detection_time(&config, SimTime::ZERO + secs(101)),
            SimTime::ZERO + secs(155)
        );
    }

    #[test]
    fn last_renewal_follows_the_kubelet_phase() {
        let config = NodeLifecycleConfig::default();
        let at = |s| SimTime::ZERO + secs(s);
        assert_eq!(last_renewal(&config, at(125), secs(3)), at(123));
        assert_eq!(last_renewal(&config, at(123), secs(3)), at(123));
        assert_eq!(
            last_renewal(&config, at(2), secs(3)),
            at(0),
            "before the first renewal: the node registered at 0"
        );
    }

    /// What the config's rule (grace > renew interval, `SimConfig::check`)
    /// buys: every failure is detected after it happens, whatever the
    /// kubelet's phase and the period.
    #[test]
    fn failure_never_noticed_detection_follows_the_failure_when_grace_exceeds_renew() {
        for (renew, grace, period) in [(10, 11, 5), (10, 50, 5), (7, 8, 3), (3, 4, 20)] {
            let l = NodeLifecycleConfig {
                lease_renew_interval: secs(renew),
                node_monitor_grace_period: secs(grace),
                node_monitor_period: secs(period),
                ..NodeLifecycleConfig::default()
            };
            for failure_ms in (0..60_000).step_by(250) {
                let failure = SimTime::ZERO + SimDuration::from_millis(failure_ms);
                for phase_ms in (0..renew * 1000).step_by(500) {
                    let phase = SimDuration::from_millis(phase_ms);
                    let detected = detection_time(&l, last_renewal(&l, failure, phase));
                    assert!(
                        detected > failure,
                        "renew {renew} s, grace {grace} s, period {period} s: failure at \
                         {failure}, phase {phase}, detected at {detected}"
                    );
                }
            }
        }
    }

    #[test]
    fn limiter_spaces_taints_per_zone() {
        let mut limiter = EvictionLimiter::new(0.1, 2, 4);
        let t = SimTime::ZERO + secs(100);
        assert_eq!(limiter.request(0, 0, t), Some(t));
        assert_eq!(limiter.request(0, 1, t), Some(t + secs(10)));
        assert_eq!(limiter.request(1, 2, t), Some(t), "zones are independent");
        assert_eq!(limiter.request(0, 3, t + secs(60)), Some(t + secs(60)));
    }

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + secs(s)
    }

    /// ComputeZoneState's rule, with the cases of upstream's
    /// TestMonitorNodeHealthEvictPodsWithDisruption (every node of a zone
    /// Unknown: full; a zone with a Ready node among Unknown ones) and the
    /// thresholds around it.
    #[test]
    fn zone_states_follow_compute_zone_state() {
        let t = 0.55;
        // "Only zone is down": two nodes, both not ready.
        assert_eq!(compute_zone_state(0, 2, t), ZoneState::FullDisruption);
        assert_eq!(compute_zone_state(0, 1, t), ZoneState::FullDisruption);
        // No nodes at all is not a disruption.
        assert_eq!(compute_zone_state(0, 0, t), ZoneState::Normal);
        // One ready node among unknown ones: not full; partial needs more than 2 not ready.
        assert_eq!(compute_zone_state(1, 1, t), ZoneState::Normal);
        assert_eq!(compute_zone_state(1, 2, t), ZoneState::Normal);
        assert_eq!(compute_zone_state(1, 3, t), ZoneState::PartialDisruption);
        // The threshold is inclusive: 11 of 20 is exactly 0.55.
        assert_eq!(compute_zone_state(9, 11, t), ZoneState::PartialDisruption);
        assert_eq!(compute_zone_state(10, 10, t), ZoneState::Normal);
        assert_eq!(compute_zone_state(1, 999, t), ZoneState::PartialDisruption);
    }

    fn rates(d: Disruption) -> Vec<(usize, f64)> {
        match d {
            Disruption::Rates(r) | Disruption::ExitFullDisruption(r) => r,
            other => panic!("expected rates, got {other:?}"),
        }
    }

    /// handleDisruption over upstream's TestMonitorNodeHealthEvictPodsWithDisruption
    /// cases: "Only zone is down" and "Both zones down" stop evictions; "One
    /// zone is down" keeps the normal rate in the disrupted zone (HealthyQPSFunc);
    /// "Initially both zones down, one comes back" leaves master disruption
    /// and resets every zone's rate; "Zone is partially disrupted" slows it.
    #[test]
    fn zone_disruption_follows_handle_disruption() {
        let c = NodeLifecycleConfig::default();
        // Only zone is down.
        let mut z = ZoneStates::new(1);
        assert_eq!(z.update(&[(2, 2)], &c), Disruption::EnterFullDisruption);
        assert_eq!(z.state(0), Some(ZoneState::FullDisruption));
        assert_eq!(
            z.update(&[(2, 2)], &c),
            Disruption::Unchanged,
            "stays stopped"
        );
        // Both zones down.
        let mut z = ZoneStates::new(2);
        assert_eq!(
            z.update(&[(1, 1), (1, 1)], &c),
            Disruption::EnterFullDisruption
        );
        // One zone is down: it keeps tainting at the normal rate.
        let mut z = ZoneStates::new(2);
        assert_eq!(
            rates(z.update(&[(1, 1), (1, 0)], &c)),
            vec![(0, 0.1), (1, 0.1)]
        );
        assert_eq!(z.state(0), Some(ZoneState::FullDisruption));
        assert_eq!(z.update(&[(1, 1), (1, 0)], &c), Disruption::Unchanged);
        // Initially both zones down, one comes back.
        let mut z = ZoneStates::new(2);
        assert_eq!(
            z.update(&[(1, 1), (1, 1)], &c),
            Disruption::EnterFullDisruption
        );
        match z.update(&[(1, 1), (1, 0)], &c) {
            Disruption::ExitFullDisruption(r) => assert_eq!(r, vec![(0, 0.1), (1, 0.1)]),
            other => panic!("{other:?}"),
        }
        assert_eq!(z.state(1), Some(ZoneState::Normal));
        // Partial disruption: the secondary rate above the large-cluster
        // threshold (50 nodes), none at or below it (ReducedQPSFunc).
        let mut z = ZoneStates::new(2);
        assert_eq!(
            rates(z.update(&[(60, 40), (10, 0)], &c)),
            vec![(0, 0.01), (1, 0.1)]
        );
        assert_eq!(z.state(0), Some(ZoneState::PartialDisruption));
        let mut z = ZoneStates::new(2);
        assert_eq!(
            rates(z.update(&[(50, 40), (10, 0)], &c)),
            vec![(0, 0.0), (1, 0.1)]
        );
        // Back to normal: the normal rate again, only for the zone that changed.
        assert_eq!(rates(z.update(&[(50, 1), (10, 0)], &c)), vec![(0, 0.1)]);
        // A zone without nodes takes no part.
        let mut z = ZoneStates::new(2);
        assert_eq!(
            z.update(&[(0, 0), (3, 3)], &c),
            Disruption::EnterFullDisruption
        );
        assert_eq!(z.state(0), None);
    }

    /// SwapLimiter: a new bucket holds a token only if the old one did;
    /// the waiting nodes are re-timed in queue order; rate 0 stops them.
    #[test]
    fn a_rate_change_retimes_the_waiting_nodes() {
        let mut l = EvictionLimiter::new(0.1, 1, 8);
        let t = at(100);
        assert_eq!(l.request(0, 0, t), Some(t));
        assert_eq!(l.request(0, 1, t), Some(at(110)));
        assert_eq!(l.request(0, 2, t), Some(at(120)));
        assert_eq!(l.waiting(0, t), 2);
        // At 105 s the bucket is empty (next token at 130): the new one starts drained.
        let r = l.set_rate(0, 0.01, at(105));
        assert_eq!(r, vec![(1, Some(at(205))), (2, Some(at(305)))]);
        assert!(
            l.set_rate(0, 0.01, at(106)).is_empty(),
            "same rate: no swap"
        );
        // Stopped: nobody is tainted, everybody waits.
        let r = l.set_rate(0, 0.0, at(110));
        assert_eq!(r, vec![(1, None), (2, None)]);
        assert_eq!(l.request(0, 3, at(111)), None);
        assert_eq!(l.waiting(0, at(111)), 3);
        // A node made ready again leaves the queue.
        l.withdraw(2);
        // Restarted from a stopped bucket (no token): the first taint one interval on.
        let r = l.set_rate(0, 0.1, at(200));
        assert_eq!(r, vec![(1, Some(at(210))), (3, Some(at(220)))]);
        // From a bucket with a token: at once.
        let mut l = EvictionLimiter::new(0.1, 1, 2);
        assert_eq!(l.request(0, 0, at(0)), Some(at(0)));
        l.set_rate(0, 0.0, at(5));
        assert_eq!(l.request(0, 1, at(5)), None);
        // The stopped bucket (upstream's never-limiter) has no token to hand on.
        assert_eq!(l.set_rate(0, 0.01, at(50)), vec![(1, Some(at(150)))]);
        let mut l = EvictionLimiter::new(0.1, 1, 2);
        assert_eq!(l.request(0, 0, at(0)), Some(at(0)));
        assert_eq!(l.request(0, 1, at(5)), Some(at(10)));
        assert_eq!(
            l.set_rate(0, 0.5, at(20)),
            Vec::<Retimed>::new(),
            "already tainted"
        );
    }

    fn round(stored_fraction: f64, refused_by_store: bool, lag_s: u64) -> LeaseRound {
        LeaseRound {
            stored_fraction,
            refused_by_store,
            ack_lag: secs(lag_s),
            retry_after: secs(1),
        }
    }

    /// Runs `cohorts` over one-second ticks from `from` to `to`, treating
    /// every renewal as `r`; returns the changes with their times.
    fn run_ticks(
        cohorts: &mut LeaseCohorts,
        from: u64,
        to: u64,
        r: LeaseRound,
    ) -> Vec<(u64, CohortChange)> {
        let mut changes = Vec::new();
        for t in from..=to {
            for c in cohorts.tick(at(t), &r, || 0.5) {
                changes.push((t, c));
            }
        }
        changes
    }

    #[test]
    fn a_cohort_refused_past_the_grace_period_goes_stale_and_comes_back() {
        let config = NodeLifecycleConfig {
            lease_cohorts: 2,
            ..NodeLifecycleConfig::default()
        };
        let mut cohorts = LeaseCohorts::new(&config);
        assert_eq!(cohorts.cohort_of(7), 1);
        // Renewals every 10 s: cohort 0 at 0, 10, ..., cohort 1 at 5, 15, ...,
        // each sent with the tick that closes its second.
        assert!(run_ticks(&mut cohorts, 1, 100, round(1.0, false, 0)).is_empty());
        // From the tick at 101 s the store refuses every renewal: cohort 0
        // last renewed at 90 s, cohort 1 at 95 s. Stale at the first check
        // strictly after renewal + 50 s: 145 s and 150 s.
        let changes = run_ticks(&mut cohorts, 101, 200, round(0.0, true, 0));
        assert_eq!(changes, vec![(145, (0, true)), (150, (1, true))]);
        assert_eq!(cohorts.stale_count(), 2);
        // Renewals stored again from the tick at 201 s (cohort 0 renews at
        // 200 s, cohort 1 at 205 s): fresh at the next check after each.
        let changes = run_ticks(&mut cohorts, 201, 230, round(1.0, false, 0));
        assert_eq!(changes, vec![(205, (0, false)), (210, (1, false))]);
    }

    #[test]
    fn renewals_acknowledged_past_the_grace_period_make_the_cohort_stale() {
        let config = NodeLifecycleConfig {
            lease_cohorts: 1,
            ..NodeLifecycleConfig::default()
        };
        let mut cohorts = LeaseCohorts::new(&config);
        // Each renewal is acknowledged 60 s after it is made; the next is
        // made 10 s after the acknowledgement (sliding period): seen at 60,
        // 130, 200, stale in between once 50 s have passed.
        let changes = run_ticks(&mut cohorts, 1, 210, round(1.0, false, 60));
        assert_eq!(
            changes,
            vec![
                (55, (0, true)),
                (60, (0, false)),
                (115, (0, true)),
                (130, (0, false)),
                (185, (0, true)),
                (200, (0, false)),
            ]
        );
        // Just inside the grace period: never stale.
        let mut cohorts = LeaseCohorts::new(&config);
        assert!(run_ticks(&mut cohorts, 1, 400, round(1.0, false, 39)).is_empty());
    }

    /// A renewal stored only in part (429s) is retried after Retry-After:
    /// a cohort then needs a run of refusals as long as the grace period.
    #[test]
    fn partly_stored_renewals_are_retried_and_keep_the_cohort_fresh() {
        let config = NodeLifecycleConfig {
            lease_cohorts: 4,
            ..NodeLifecycleConfig::default()
        };
        let mut cohorts = LeaseCohorts::new(&config);
        let mut draws = 0u64;
        for t in 1..=600 {
            // Alternate refused and stored draws at a fraction of 0.5.
            let changes = cohorts.tick(at(t), &round(0.5, false, 0), || {
                draws += 1;
                if draws.is_multiple_of(2) {
                    0.9
                } else {
                    0.1
                }
            });
            assert!(changes.is_empty());
        }
        assert!(draws > 0);
    }

    #[test]
    fn pod_lists_link_and_unlink() {
        let mut lists = PodLists::new(2);
        for pod in 0..4 {
            lists.link(pod % 2, pod);
        }
        assert_eq!(lists.pods_of(0), vec![2, 0]);
        lists.unlink(0, 2);
        lists.unlink(1, 1);
        assert_eq!(lists.pods_of(0), vec![0]);
        assert_eq!(lists.pods_of(1), vec![3]);
        lists.unlink(1, 3);
        assert!(lists.pods_of(1).is_empty());
    }
}

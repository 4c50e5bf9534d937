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
use crate::ids::PodId;
use crate::time::{SimDuration, SimTime};

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

/// Per-zone token bucket (burst 1) for adding NoExecute taints.
#[derive(Clone, Debug)]
pub struct EvictionLimiter {
    interval: SimDuration,
    next_free: Vec<SimTime>,
}

impl EvictionLimiter {
    pub fn new(rate_per_s: f64, zones: usize) -> Self {
        EvictionLimiter {
            interval: SimDuration::from_secs_f64(1.0 / rate_per_s),
            next_free: vec![SimTime::ZERO; zones],
        }
    }

    /// When a NoExecute taint requested at `now` in `zone` is actually added.
    pub fn admit(&mut self, zone: usize, now: SimTime) -> SimTime {
        let at = now.max(self.next_free[zone]);
        self.next_free[zone] = at + self.interval;
        at
    }
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
        let mut limiter = EvictionLimiter::new(0.1, 2);
        let t = SimTime::ZERO + secs(100);
        assert_eq!(limiter.admit(0, t), t);
        assert_eq!(limiter.admit(0, t), t + secs(10));
        assert_eq!(limiter.admit(1, t), t, "zones are independent");
        assert_eq!(limiter.admit(0, t + secs(60)), t + secs(60));
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

//! Node-pressure eviction: every kubelet's eviction manager, run as one
//! controller over the nodes whose pods can use more than they request.
//!
//! Upstream (`pkg/kubelet/eviction`):
//! - the manager runs every `evictionMonitoringPeriod` (10 s) on each node;
//! - the hard thresholds default to `memory.available<100Mi` and
//!   `nodefs.available<10%` (`DefaultEvictionHard`). A node's allocatable is
//!   its capacity less the reserves and the hard threshold (Node
//!   Allocatable), so with the reserves used by the system a signal is met
//!   exactly when the pods together use more than the node's allocatable:
//!   that is the test here, and why the thresholds are not settings;
//! - a met signal raises its node condition (MemoryPressure, DiskPressure),
//!   kept until it has not been observed for
//!   `evictionPressureTransitionPeriod` (5 min); the node lifecycle
//!   controller taints the node while the condition holds, so no new pod
//!   lands there;
//! - while a signal is met the kubelet evicts one pod per pass, memory
//!   before disk, ranked by `rankMemoryPressure` (usage above request first,
//!   then lower priority, then usage above request, largest first; a pod
//!   with no stats yet ranks first) or its disk equivalent; a hard
//!   threshold kills at once, ignoring grace periods and disruption budgets;
//! - a pod above its ephemeral-storage limit is evicted whatever the node's
//!   state (`localStorageEviction`), and those evictions end the pass.
//!
//! A pod's memory is what metrics-server last scraped for it (the kubelet's
//! own stats, which it reads), capped at its limit; a pod with no usage
//! model uses its requests. Its ephemeral storage grows at its write rate
//! from its start. Pools that declare no ephemeral storage have no nodefs
//! signal. Not modelled: PID and inode signals, imagefs, soft thresholds,
//! minimum reclaim, image garbage collection before eviction, and an
//! out-of-memory kill at a container's memory limit (use stays at it).

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, ClusterView, Controller, Decision, DecisionTarget, Subscriptions, Wake};
use crate::cluster::{NodeState, NEVER};
use crate::config::SimConfig;
use crate::ids::{NodeId, PodId, WorkloadId};
use crate::metrics::NodePressureSummary;
use crate::resources::{EPHEMERAL_STORAGE, MEMORY};
use crate::taints::ControllerTaint;
use crate::time::{SimDuration, SimTime};

/// The kubelet's `evictionMonitoringPeriod`.
pub const EVICTION_MONITORING_PERIOD: SimDuration = SimDuration::from_secs(10);
/// The kubelet's default `evictionPressureTransitionPeriod`.
pub const PRESSURE_TRANSITION_PERIOD: SimDuration = SimDuration::from_secs(300);

/// A resource a node can run short of.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// `memory.available`: the MemoryPressure condition.
    Memory,
    /// `nodefs.available`: the DiskPressure condition.
    Nodefs,
}

impl Signal {
    const ALL: [Signal; 2] = [Signal::Memory, Signal::Nodefs];

    fn taint(self) -> ControllerTaint {
        match self {
            Signal::Memory => ControllerTaint::MemoryPressure,
            Signal::Nodefs => ControllerTaint::DiskPressure,
        }
    }

    fn dimension(self) -> usize {
        match self {
            Signal::Memory => MEMORY,
            Signal::Nodefs => EPHEMERAL_STORAGE,
        }
    }

    fn condition(self) -> &'static str {
        match self {
            Signal::Memory => "MemoryPressure",
            Signal::Nodefs => "DiskPressure",
        }
    }
}

/// What ranking reads of one pod under one signal.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Candidate {
    pub pod: PodId,
    /// Its use in bytes; None when the kubelet has no stats for it yet.
    pub usage_bytes: Option<f64>,
    pub request_bytes: u64,
    pub priority: i32,
}

impl Candidate {
    fn above_request(&self) -> Option<f64> {
        self.usage_bytes.map(|u| u - self.request_bytes as f64)
    }
}

/// Orders pods for eviction, first to go first: upstream's
/// `orderedBy(exceedRequests, priority, usage above request)`, pod id last
/// so that equal pods keep one order.
pub fn rank(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| {
        // No stats first, then usage above its request, then the rest.
        let class = |c: &Candidate| match c.above_request() {
            None => 0,
            Some(over) if over > 0.0 => 1,
            Some(_) => 2,
        };
        class(a)
            .cmp(&class(b))
            .then(a.priority.cmp(&b.priority))
            .then_with(|| {
                let over = |c: &Candidate| c.above_request().unwrap_or(f64::INFINITY);
                over(b).total_cmp(&over(a))
            })
            .then(a.pod.cmp(&b.pod))
    });
}

/// A node with a pressure condition, or one recently cleared.
#[derive(Copy, Clone, Debug)]
struct NodePressure {
    /// Per signal: when it was last met (`NEVER`: not yet).
    observed_at: [SimTime; 2],
}

impl NodePressure {
    fn condition(&self, signal: usize, now: SimTime) -> bool {
        let at = self.observed_at[signal];
        at != NEVER && now.saturating_since(at) < PRESSURE_TRANSITION_PERIOD
    }

    /// Whether either condition holds.
    fn any(&self, now: SimTime) -> bool {
        Signal::ALL.iter().any(|&s| self.condition(s as usize, now))
    }
}

pub struct KubeletEviction {
    /// Workloads whose pods may use more than they request.
    workloads: Vec<WorkloadId>,
    pressure: BTreeMap<NodeId, NodePressure>,
    summary: NodePressureSummary,
    /// Node-seconds under each condition, integrated pass by pass.
    pressure_ns: [u128; 2],
    last_wake: SimTime,
}

impl KubeletEviction {
    pub const NAME: &'static str = "kubelet-eviction";

    /// The eviction managers of a run whose pods can outgrow their
    /// requests (a usage model or an ephemeral-storage write rate); None
    /// when none can, since pods using their requests never meet a signal.
    pub fn for_config(config: &SimConfig) -> Option<Self> {
        let workloads: Vec<WorkloadId> = config
            .workloads
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                w.model.usage.is_some() || w.template.ephemeral_storage_write_bytes_per_s > 0
            })
            .map(|(i, _)| i as WorkloadId)
            .collect();
        (!workloads.is_empty()).then(|| KubeletEviction {
            workloads,
            pressure: BTreeMap::new(),
            summary: NodePressureSummary::default(),
            pressure_ns: [0; 2],
            last_wake: SimTime::ZERO,
        })
    }

    /// What the pod uses of a signal's resource now.
    fn usage(view: &ClusterView, now: SimTime, pod: PodId, signal: Signal) -> Option<f64> {
        let p = pod as usize;
        let pods = view.pods();
        let workload = pods.workload[p];
        let template = &view.workload(workload).template;
        let request = pods.requests[p].0[signal.dimension()] as f64;
        match signal {
            Signal::Memory => {
                let Some(usage) = view.usage(workload) else {
                    return Some(request);
                };
                // Scraped use is already capped at the pod's limit.
                let sample = usage
                    .scraped
                    .pod(pod, pods.started[p], pods.ready_since[p])?;
                Some(sample.memory_bytes)
            }
            Signal::Nodefs => {
                let rate = template.ephemeral_storage_write_bytes_per_s;
                if rate == 0 {
                    return Some(request);
                }
                let started = pods.started[p];
                if started == NEVER || started > now {
                    return Some(0.0);
                }
                Some(rate as f64 * (now - started).as_secs_f64())
            }
        }
    }

    fn candidate(view: &ClusterView, now: SimTime, pod: PodId, signal: Signal) -> Candidate {
        let p = pod as usize;
        let pods = view.pods();
        Candidate {
            pod,
            usage_bytes: Self::usage(view, now, pod, signal),
            request_bytes: pods.requests[p].0[signal.dimension()],
            priority: view.workload(pods.workload[p]).template.priority,
        }
    }

    /// Nodes holding a pod that may use more than it requests, and the
    /// pods above their ephemeral-storage limit.
    fn scan_workloads(&self, view: &ClusterView, now: SimTime) -> (BTreeSet<NodeId>, Vec<PodId>) {
        let mut nodes = BTreeSet::new();
        let mut over_limit = Vec::new();
        let pods = view.pods();
        for &w in &self.workloads {
            let template = &view.workload(w).template;
            let writes = template.ephemeral_storage_write_bytes_per_s > 0;
            if !writes && !may_outgrow_memory(view, w) {
                continue;
            }
            for pod in view.workload_pods(w) {
                let p = pod as usize;
                if pods.started[p] == NEVER || pods.finished[p] != NEVER {
                    continue;
                }
                let request = pods.requests[p].memory_bytes() as f64;
                let outgrows =
                    Self::usage(view, now, pod, Signal::Memory).is_some_and(|u| u > request);
                if outgrows || writes {
                    nodes.insert(pods.node[p]);
                }
                if let Some(limit) = template.limits.ephemeral_storage_bytes.filter(|_| writes) {
                    let used = Self::usage(view, now, pod, Signal::Nodefs).unwrap_or(0.0);
                    if used > limit as f64 {
                        over_limit.push(pod);
                    }
                }
            }
        }
        (nodes, over_limit)
    }

    /// The pods on the node the kubelet is running.
    fn running_pods(view: &ClusterView, node: NodeId) -> Vec<PodId> {
        let pods = view.pods();
        view.node_pods(node)
            .filter(|&p| pods.started[p as usize] != NEVER && !pods.deleting[p as usize])
            .collect()
    }

    /// One node's pass: signals observed, its conditions and taints, and
    /// the one pod it evicts if a signal is met.
    fn node_pass(&mut self, wake: &mut Wake, node: NodeId) {
        let view = wake.view;
        let now = wake.now;
        let state = view.node_state(node);
        if !state.is_registered() || state == NodeState::NotReady {
            // A dead kubelet reports nothing; a deleted node has no conditions.
            self.pressure.remove(&node);
            return;
        }
        let running = Self::running_pods(&view, node);
        let allocatable = view.node_allocatable(node);
        let mut met = [false; 2];
        for signal in Signal::ALL {
            let capacity = allocatable.0[signal.dimension()];
            if signal == Signal::Nodefs && capacity == 0 {
                continue; // the pool declares no ephemeral storage
            }
            let used: f64 = running
                .iter()
                .map(|&p| {
                    let request = view.pods().requests[p as usize].0[signal.dimension()] as f64;
                    Self::usage(&view, now, p, signal).unwrap_or(request)
                })
                .sum();
            met[signal as usize] = used > capacity as f64;
        }
        let entry = self.pressure.entry(node).or_insert(NodePressure {
            observed_at: [NEVER; 2],
        });
        for (i, &m) in met.iter().enumerate() {
            if m {
                entry.observed_at[i] = now;
            }
        }
        let pressure = *entry;
        let taints = view.node_taints(node);
        for signal in Signal::ALL {
            let on = pressure.condition(signal as usize, now);
            let tainted = taints.contains(signal.taint());
            let (node_taint, pool) = (signal.taint(), view.node_pool(node));
            if on && !tainted {
                wake.actions.push(Action::Taint {
                    node,
                    taint: node_taint,
                });
                self.summary.conditions_raised = checked_inc(self.summary.conditions_raised);
                wake.decisions.push(Decision::of_nodes(
                    now,
                    Self::NAME,
                    "pressure",
                    DecisionTarget::Node { pool, node },
                    [0; 3],
                    String::new(),
                    format!("{} (taint {})", signal.condition(), node_taint.key()),
                ));
            } else if !on && tainted {
                wake.actions.push(Action::Untaint {
                    node,
                    taint: node_taint,
                });
                wake.decisions.push(Decision::of_nodes(
                    now,
                    Self::NAME,
                    "pressure_cleared",
                    DecisionTarget::Node { pool, node },
                    [0; 3],
                    String::new(),
                    format!(
                        "{} not observed for the transition period",
                        signal.condition()
                    ),
                ));
            }
        }
        // Tracked while a condition holds or its taint is still to come off;
        // other controllers' taints are not this controller's concern.
        let pressure_tainted = Signal::ALL.iter().any(|s| taints.contains(s.taint()));
        if !pressure.any(now) && !pressure_tainted {
            self.pressure.remove(&node);
        }
        // Memory before disk, one pod per pass.
        if let Some(signal) = Signal::ALL.into_iter().find(|s| met[*s as usize]) {
            self.evict_one(wake, node, &running, signal);
        }
    }

    fn evict_one(&mut self, wake: &mut Wake, node: NodeId, running: &[PodId], signal: Signal) {
        let view = wake.view;
        let mut candidates: Vec<Candidate> = running
            .iter()
            .map(|&p| Self::candidate(&view, wake.now, p, signal))
            .collect();
        rank(&mut candidates);
        let Some(victim) = candidates.first() else {
            return;
        };
        let counter = match signal {
            Signal::Memory => &mut self.summary.evictions_memory,
            Signal::Nodefs => &mut self.summary.evictions_disk,
        };
        *counter = checked_inc(*counter);
        let reason = format!("{} threshold met", signal.condition());
        self.push_eviction(wake, node, victim, reason);
    }

    fn push_eviction(&self, wake: &mut Wake, node: NodeId, victim: &Candidate, reason: String) {
        let view = wake.view;
        let workload = view.pods().workload[victim.pod as usize];
        wake.actions.push(Action::KubeletEvict { pod: victim.pod });
        let usage = victim
            .usage_bytes
            .map_or("no stats".to_string(), |u| format!("{u:.0}"));
        wake.decisions.push(Decision::of_nodes(
            wake.now,
            Self::NAME,
            "evict",
            DecisionTarget::Node {
                pool: view.node_pool(node),
                node,
            },
            [0; 3],
            format!(
                "pod={} workload={} usage_bytes={usage} request_bytes={} priority={}",
                victim.pod,
                view.workload(workload).name,
                victim.request_bytes,
                victim.priority
            ),
            reason,
        ));
    }

    fn integrate(&mut self, now: SimTime) {
        let dt = u128::from(now.saturating_since(self.last_wake).0);
        for pressure in self.pressure.values() {
            for (i, total) in self.pressure_ns.iter_mut().enumerate() {
                if pressure.condition(i, self.last_wake) {
                    *total = total.checked_add(dt).expect("pressure time overflowed");
                }
            }
        }
        self.last_wake = now;
    }
}

/// Whether some pod of the workload may use more memory than it requests:
/// the largest sample of its last scrape against its smallest request. A
/// cheap test that spares the pass over its pods at almost every wake-up.
fn may_outgrow_memory(view: &ClusterView, workload: WorkloadId) -> bool {
    let Some(usage) = view.usage(workload) else {
        return false;
    };
    let s = &usage.scraped;
    if s.at.is_none() {
        return false; // no stats at all: every pod uses its request
    }
    let largest = s
        .workers
        .values()
        .map(|u| u.memory_bytes)
        .fold(s.ready.memory_bytes.max(s.idle.memory_bytes), f64::max);
    let smallest_request = view.workload(workload).template.requests[MEMORY].min();
    largest > smallest_request as f64
}

fn checked_inc(n: u64) -> u64 {
    n.checked_add(1).expect("counter overflowed u64")
}

impl Controller for KubeletEviction {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }

    fn first_wake(&self) -> Option<SimTime> {
        Some(SimTime::ZERO + EVICTION_MONITORING_PERIOD)
    }

    fn wake(&mut self, mut wake: Wake) -> Option<SimTime> {
        let now = wake.now;
        self.integrate(now);
        let (mut nodes, over_limit) = self.scan_workloads(&wake.view, now);
        // Pods above their ephemeral-storage limit go first; their nodes'
        // kubelets end the pass there.
        let mut evicted_on = BTreeSet::new();
        for pod in over_limit {
            let node = wake.view.pods().node[pod as usize];
            let victim = Self::candidate(&wake.view, now, pod, Signal::Nodefs);
            self.summary.evictions_over_limit = checked_inc(self.summary.evictions_over_limit);
            self.push_eviction(
                &mut wake,
                node,
                &victim,
                "ephemeral-storage use above its limit".to_string(),
            );
            evicted_on.insert(node);
        }
        nodes.extend(self.pressure.keys().copied());
        for node in nodes.difference(&evicted_on).copied().collect::<Vec<_>>() {
            self.node_pass(&mut wake, node);
        }
        let under = self.pressure.values().filter(|p| p.any(now)).count() as u64;
        self.summary.nodes_under_pressure_max = self.summary.nodes_under_pressure_max.max(under);
        Some(now + EVICTION_MONITORING_PERIOD)
    }

    fn node_pressure_summary(&self) -> Option<NodePressureSummary> {
        let hours = |ns: u128| ns as f64 / 3.6e12;
        Some(NodePressureSummary {
            memory_pressure_node_hours: hours(self.pressure_ns[0]),
            disk_pressure_node_hours: hours(self.pressure_ns[1]),
            ..self.summary
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(pod: PodId, usage_mi: Option<u64>, request_mi: u64, priority: i32) -> Candidate {
        const MI: u64 = 1 << 20;
        Candidate {
            pod,
            usage_bytes: usage_mi.map(|u| (u * MI) as f64),
            request_bytes: request_mi * MI,
            priority,
        }
    }

    fn order(mut c: Vec<Candidate>) -> Vec<PodId> {
        rank(&mut c);
        c.iter().map(|c| c.pod).collect()
    }

    // upstream: pkg/kubelet/eviction/helpers_test.go, TestOrderedByExceedsRequestMemory
    #[test]
    fn pods_above_their_memory_request_go_first() {
        let below = pod(0, Some(50), 100, 0);
        let above = pod(1, Some(150), 100, 0);
        assert_eq!(order(vec![below, above]), vec![1, 0]);
    }

    // upstream: pkg/kubelet/eviction/helpers_test.go, TestOrderedByPriority
    #[test]
    fn among_pods_alike_lower_priority_goes_first() {
        let high = pod(0, Some(150), 100, 1000);
        let low = pod(1, Some(150), 100, -10);
        let mid = pod(2, Some(150), 100, 0);
        assert_eq!(order(vec![high, low, mid]), vec![1, 2, 0]);
    }

    // upstream: pkg/kubelet/eviction/helpers_test.go, TestOrderedbyMemory
    // (usage above request, largest first, breaks the remaining ties)
    #[test]
    fn then_the_largest_use_above_request_goes_first() {
        let a = pod(0, Some(300), 100, 0);
        let b = pod(1, Some(900), 800, 0);
        let c = pod(2, Some(500), 100, 0);
        assert_eq!(order(vec![a, b, c]), vec![2, 0, 1]);
    }

    // upstream: pkg/kubelet/eviction/helpers.go, exceedMemoryRequests ranks
    // a pod without stats first.
    #[test]
    fn a_pod_without_stats_goes_first() {
        let above = pod(0, Some(900), 100, -100);
        let unknown = pod(1, None, 100, 1000);
        assert_eq!(order(vec![above, unknown]), vec![1, 0]);
    }

    // upstream: pkg/kubelet/eviction/helpers_test.go, TestNodeConditionsObservedSince
    #[test]
    fn a_condition_holds_for_the_transition_period_after_its_last_observation() {
        let at = SimTime::ZERO + SimDuration::from_secs(100);
        let p = NodePressure {
            observed_at: [at, NEVER],
        };
        assert!(p.condition(0, at + SimDuration::from_secs(299)));
        assert!(!p.condition(0, at + PRESSURE_TRANSITION_PERIOD));
        assert!(!p.condition(1, at));
    }
}

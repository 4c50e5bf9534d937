//! kube-scheduler's scheduling queue: activeQ, backoffQ and unschedulablePods
//! (pkg/scheduler/backend/queue in upstream), with its defaults:
//! - activeQ pops by priority (higher first), then by the time the pod was
//!   (re)queued, as the PrioritySort plugin does;
//! - a failed pod waits in unschedulablePods until a cluster event could make
//!   it schedulable, then goes to backoffQ if its backoff has not expired,
//!   else straight to activeQ;
//! - backoff is `initial * 2^(attempts-1)`, capped at `max` (1 s and 10 s);
//! - a pod left unschedulable longer than `max_in_unschedulable` (5 min) is
//!   moved anyway by a periodic flush every 30 s.
//!
//! Queueing hints are modelled coarsely: a freed resource (pod deleted) only
//! wakes pods that failed on resources or anti-affinity; a node added or
//! turned ready wakes every unschedulable pod.
//! Differences from upstream: backoff expiry is exact rather than polled
//! every second.
//!
//! Upstream's PrioritySort orders activeQ by priority, then by
//! `QueuedPodInfo.Timestamp`, which is refreshed each time a failed pod is
//! queued again; here the queue order is a sequence number taken at each
//! push, which orders the same. A pod added with `add_pinned` (a session
//! user's pod: `sim::sessions`) keeps the order it first got, or one given
//! (its user's earlier pod's), whenever it is queued again: the users' pods
//! are taken in the order the users came, however often they failed, and a
//! user whose session was lost is taken before those who came after them.
//! kube-scheduler has no such knob (a session broker would reach it with a
//! priority class, which would also preempt).

use crate::ids::PodId;
use crate::time::{SimDuration, SimTime};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

/// A pinned pod's place in the queue order (`SchedulingQueue::add_pinned`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct QueueOrder(u64);

/// Where a pod currently is in the scheduling queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum QueueState {
    /// Not queued: bound, finished, or not created yet.
    Absent,
    Active,
    /// Popped and being scheduled.
    InFlight,
    Backoff,
    Unschedulable,
    /// Can never fit any node pool: reported, not retried.
    Parked,
}

/// What kind of cluster change could help a failed pod.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WakeOn {
    /// Freed resources or removed pods (a pod deletion) can help.
    PodDeleted,
    /// Only a new or newly ready node can help (taints, affinity, readiness).
    NodeChange,
}

#[derive(Debug)]
pub struct SchedulingQueue {
    backoff_initial: SimDuration,
    backoff_max: SimDuration,
    max_in_unschedulable: SimDuration,
    /// (priority, queue order, pod): the order is a push sequence number.
    active: BinaryHeap<(i32, Reverse<u64>, PodId)>,
    next_seq: u64,
    /// Pods that keep their queue order (`add_pinned`), until bound or removed.
    pinned: BTreeMap<PodId, u64>,
    /// Failed on resources or anti-affinity, in the order they failed.
    waiting_for_pods: VecDeque<(SimTime, PodId)>,
    /// Failed on node-level filters only.
    waiting_for_nodes: VecDeque<(SimTime, PodId)>,
    state: Vec<QueueState>,
    priority: Vec<i32>,
    backoff_until: Vec<SimTime>,
    /// Incremented when the cluster changes; a pod whose cycle saw a change goes to backoff, not unschedulable.
    change_epoch: u64,
}

impl SchedulingQueue {
    /// How often the unschedulable pods are checked for staleness (upstream: 30 s).
    pub const FLUSH_INTERVAL: SimDuration = SimDuration::from_secs(30);

    pub fn new(
        backoff_initial: SimDuration,
        backoff_max: SimDuration,
        max_in_unschedulable: SimDuration,
    ) -> Self {
        SchedulingQueue {
            backoff_initial,
            backoff_max,
            max_in_unschedulable,
            active: BinaryHeap::new(),
            next_seq: 0,
            pinned: BTreeMap::new(),
            waiting_for_pods: VecDeque::new(),
            waiting_for_nodes: VecDeque::new(),
            state: Vec::new(),
            priority: Vec::new(),
            backoff_until: Vec::new(),
            change_epoch: 0,
        }
    }

    pub fn state(&self, pod: PodId) -> QueueState {
        self.state
            .get(pod as usize)
            .copied()
            .unwrap_or(QueueState::Absent)
    }

    pub fn active_len(&self) -> usize {
        self.active.len()
    }

    pub fn change_epoch(&self) -> u64 {
        self.change_epoch
    }

    fn ensure(&mut self, pod: PodId) {
        let needed = pod as usize + 1;
        if self.state.len() < needed {
            self.state.resize(needed, QueueState::Absent);
            self.priority.resize(needed, 0);
            self.backoff_until.resize(needed, SimTime::ZERO);
        }
    }

    fn push_active(&mut self, pod: PodId) {
        self.state[pod as usize] = QueueState::Active;
        let priority = self.priority[pod as usize];
        let order = match self.pinned.get(&pod) {
            Some(&order) => order,
            None => self.take_order(),
        };
        self.active.push((priority, Reverse(order), pod));
    }

    fn take_order(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    /// A new pending pod that keeps one queue order whenever it is queued
    /// again: `order` (an earlier pod's), or a fresh one. Returns it.
    pub fn add_pinned(
        &mut self,
        pod: PodId,
        priority: i32,
        order: Option<QueueOrder>,
    ) -> QueueOrder {
        let order = order.map_or_else(|| self.take_order(), |o| o.0);
        self.pinned.insert(pod, order);
        self.add(pod, priority);
        QueueOrder(order)
    }

    /// A new pending pod.
    pub fn add(&mut self, pod: PodId, priority: i32) {
        self.ensure(pod);
        self.priority[pod as usize] = priority;
        self.push_active(pod);
    }

    /// A new pod that can never fit; kept out of the scheduling cycle.
    pub fn park(&mut self, pod: PodId) {
        self.ensure(pod);
        self.state[pod as usize] = QueueState::Parked;
    }

    /// The next pod to schedule, marked in flight.
    pub fn pop(&mut self) -> Option<PodId> {
        while let Some((_, _, pod)) = self.active.pop() {
            if self.state[pod as usize] == QueueState::Active {
                self.state[pod as usize] = QueueState::InFlight;
                return Some(pod);
            }
        }
        None
    }

    /// The in-flight pod was bound.
    pub fn done(&mut self, pod: PodId) {
        self.state[pod as usize] = QueueState::Absent;
        self.pinned.remove(&pod);
    }

    /// The pod was deleted: it leaves the queue, wherever it waits, as
    /// upstream's `Delete` takes it out of activeQ, backoffQ or
    /// unschedulablePods. Its entries in the active heap and the waiting
    /// lists stay until reached and are then skipped, as those of a pod that
    /// moved on are; a deleted pod never comes back, so none is revived.
    pub fn remove(&mut self, pod: PodId) {
        if let Some(state) = self.state.get_mut(pod as usize) {
            *state = QueueState::Absent;
        }
        self.pinned.remove(&pod);
    }

    /// Backoff after `attempts` failed attempts (upstream calculateBackoffDuration).
    pub fn backoff(&self, attempts: u16) -> SimDuration {
        let mut duration = self.backoff_initial;
        for _ in 1..attempts {
            duration = duration.saturating_mul(2);
            if duration >= self.backoff_max {
                return self.backoff_max;
            }
        }
        duration.min(self.backoff_max)
    }

    /// The in-flight pod failed its `attempts`-th attempt at `now`. If the
    /// cluster changed during its cycle (`epoch_at_start` is stale) it goes to
    /// backoff at once, as upstream's moveRequestCycle does. Returns the time a
    /// backoff ends when the caller must schedule a wake-up.
    pub fn failed(
        &mut self,
        pod: PodId,
        attempts: u16,
        now: SimTime,
        wake_on: WakeOn,
        epoch_at_start: u64,
    ) -> Option<SimTime> {
        self.backoff_until[pod as usize] = now + self.backoff(attempts);
        if epoch_at_start != self.change_epoch {
            return self.requeue(pod, now);
        }
        self.state[pod as usize] = QueueState::Unschedulable;
        match wake_on {
            WakeOn::PodDeleted => self.waiting_for_pods.push_back((now, pod)),
            WakeOn::NodeChange => self.waiting_for_nodes.push_back((now, pod)),
        }
        None
    }

    /// The pod's binding failed after its cycle (the store refused the
    /// write): the scheduler forgets it and retries after its backoff, as
    /// upstream's binding-cycle error handling does. Returns the backoff end.
    pub fn binding_failed(&mut self, pod: PodId, attempts: u16, now: SimTime) -> Option<SimTime> {
        self.backoff_until[pod as usize] = now + self.backoff(attempts);
        self.requeue(pod, now)
    }

    /// Moves an unschedulable pod to backoff or active; returns the backoff end if in backoff.
    fn requeue(&mut self, pod: PodId, now: SimTime) -> Option<SimTime> {
        let until = self.backoff_until[pod as usize];
        if until > now {
            self.state[pod as usize] = QueueState::Backoff;
            Some(until)
        } else {
            self.push_active(pod);
            None
        }
    }

    /// A backoff wake-up fired; stale wake-ups (pod no longer in backoff) are ignored.
    pub fn backoff_expired(&mut self, pod: PodId) {
        if self.state(pod) == QueueState::Backoff {
            self.push_active(pod);
        }
    }

    fn drain(
        &mut self,
        which: WakeOn,
        now: SimTime,
        wake_ups: &mut Vec<(SimTime, PodId)>,
        only_older_than: Option<SimTime>,
    ) {
        loop {
            let list = match which {
                WakeOn::PodDeleted => &mut self.waiting_for_pods,
                WakeOn::NodeChange => &mut self.waiting_for_nodes,
            };
            let Some(&(since, pod)) = list.front() else {
                break;
            };
            if only_older_than.is_some_and(|limit| since > limit) {
                break;
            }
            list.pop_front();
            if self.state[pod as usize] != QueueState::Unschedulable {
                continue;
            }
            if let Some(until) = self.requeue(pod, now) {
                wake_ups.push((until, pod));
            }
        }
    }

    /// A pod was deleted (resources freed). Backoff wake-ups to schedule go into `wake_ups`.
    pub fn on_pod_deleted(&mut self, now: SimTime, wake_ups: &mut Vec<(SimTime, PodId)>) {
        self.change_epoch += 1;
        self.drain(WakeOn::PodDeleted, now, wake_ups, None);
    }

    /// A node was added or became ready: every unschedulable pod may now fit.
    pub fn on_node_change(&mut self, now: SimTime, wake_ups: &mut Vec<(SimTime, PodId)>) {
        self.change_epoch += 1;
        self.drain(WakeOn::PodDeleted, now, wake_ups, None);
        self.drain(WakeOn::NodeChange, now, wake_ups, None);
    }

    /// The periodic flush of pods unschedulable for longer than the limit.
    pub fn flush_stale(&mut self, now: SimTime, wake_ups: &mut Vec<(SimTime, PodId)>) {
        let Some(limit) = now.0.checked_sub(self.max_in_unschedulable.0).map(SimTime) else {
            return;
        };
        self.drain(WakeOn::PodDeleted, now, wake_ups, Some(limit));
        self.drain(WakeOn::NodeChange, now, wake_ups, Some(limit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> SchedulingQueue {
        SchedulingQueue::new(
            SimDuration::from_secs(1),
            SimDuration::from_secs(10),
            SimDuration::from_secs(300),
        )
    }

    // After upstream TestBackOffFlow / calculateBackoffDuration: 1s, 2s, 4s, 8s, then capped at 10s.
    #[test]
    fn backoff_doubles_and_caps() {
        let q = queue();
        let secs: Vec<u64> = (1..=6).map(|a| q.backoff(a).0 / 1_000_000_000).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn pops_by_priority_then_fifo() {
        let mut q = queue();
        q.add(0, 0);
        q.add(1, 10);
        q.add(2, 0);
        q.add(3, 10);
        let order: Vec<PodId> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![1, 3, 0, 2]);
    }

    // upstream: pkg/scheduler/framework/plugins/queuesort/priority_sort_test.go,
    // TestLess: priority first (10 against 100), then the earlier queue
    // time; here with pinned orders standing for the timestamps.
    #[test]
    fn pinned_pods_sort_by_priority_then_queue_order() {
        let (low, high) = (10, 100);
        // (p1's priority, p2's priority, p1 queued first): is p1 ahead?
        let cases = [
            (low, high, true, false),
            (high, low, false, true),
            (high, high, true, true),
            (high, high, false, false),
        ];
        for (p1_priority, p2_priority, p1_first, p1_ahead) in cases {
            let mut q = queue();
            let (first, second) = (q.take_order(), q.take_order());
            let (p1_order, p2_order) = if p1_first {
                (first, second)
            } else {
                (second, first)
            };
            q.add_pinned(1, p1_priority, Some(QueueOrder(p1_order)));
            q.add_pinned(2, p2_priority, Some(QueueOrder(p2_order)));
            let expected = if p1_ahead { 1 } else { 2 };
            assert_eq!(
                q.pop(),
                Some(expected),
                "{p1_priority} {p2_priority} {p1_first}"
            );
        }
    }

    #[test]
    fn pinned_pods_keep_their_order_when_queued_again() {
        let mut q = queue();
        let mut wake = Vec::new();
        let first = q.add_pinned(0, 0, None);
        q.add(1, 0);
        q.add_pinned(2, 0, None);
        let epoch = q.change_epoch();
        // All three fail, in order; the pinned ones keep their order, the
        // other takes a new one when it is queued again.
        for _ in 0..3 {
            let pod = q.pop().unwrap();
            q.failed(pod, 1, SimTime(0), WakeOn::PodDeleted, epoch);
        }
        q.on_pod_deleted(SimTime(5_000_000_000), &mut wake);
        let order: Vec<PodId> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![0, 2, 1]);
        // A pod given the first one's order goes before the others.
        q.add(3, 0);
        q.add_pinned(4, 0, None);
        q.add_pinned(5, 0, Some(first));
        let order: Vec<PodId> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![5, 3, 4]);
    }

    #[test]
    fn failed_pod_waits_until_a_relevant_change() {
        let mut q = queue();
        let mut wake = Vec::new();
        q.add(0, 0);
        q.add(1, 0);
        let (a, b) = (q.pop().unwrap(), q.pop().unwrap());
        let epoch = q.change_epoch();
        assert_eq!(q.failed(a, 1, SimTime(0), WakeOn::PodDeleted, epoch), None);
        assert_eq!(q.failed(b, 1, SimTime(0), WakeOn::NodeChange, epoch), None);
        // Two seconds later a pod is deleted: only `a` wakes, its 1 s backoff is over.
        q.on_pod_deleted(SimTime(2_000_000_000), &mut wake);
        assert!(wake.is_empty());
        assert_eq!(q.pop(), Some(a));
        assert_eq!(q.pop(), None);
        assert_eq!(q.state(b), QueueState::Unschedulable);
        q.on_node_change(SimTime(2_000_000_000), &mut wake);
        assert_eq!(q.pop(), Some(b));
    }

    #[test]
    fn wake_within_backoff_goes_to_backoff() {
        let mut q = queue();
        let mut wake = Vec::new();
        q.add(0, 0);
        let pod = q.pop().unwrap();
        let epoch = q.change_epoch();
        q.failed(pod, 3, SimTime(0), WakeOn::PodDeleted, epoch);
        q.on_pod_deleted(SimTime(1), &mut wake);
        assert_eq!(wake, vec![(SimTime(4_000_000_000), pod)]);
        assert_eq!(q.pop(), None);
        q.backoff_expired(pod);
        assert_eq!(q.pop(), Some(pod));
    }

    #[test]
    fn change_during_cycle_sends_pod_to_backoff() {
        let mut q = queue();
        let mut wake = Vec::new();
        q.add(0, 0);
        let pod = q.pop().unwrap();
        let epoch = q.change_epoch();
        q.on_pod_deleted(SimTime(0), &mut wake);
        assert_eq!(
            q.failed(pod, 1, SimTime(0), WakeOn::PodDeleted, epoch),
            Some(SimTime(1_000_000_000))
        );
        assert_eq!(q.state(pod), QueueState::Backoff);
    }

    #[test]
    fn a_removed_pod_is_never_popped_or_woken() {
        let mut q = queue();
        let mut wake = Vec::new();
        q.add(0, 0);
        q.add(1, 0);
        q.add(2, 0);
        let failed = q.pop().unwrap();
        let epoch = q.change_epoch();
        q.failed(failed, 1, SimTime(0), WakeOn::PodDeleted, epoch);
        q.remove(failed);
        q.remove(1);
        assert_eq!(q.state(failed), QueueState::Absent);
        q.on_pod_deleted(SimTime(5_000_000_000), &mut wake);
        assert!(wake.is_empty());
        assert_eq!(q.pop(), Some(2), "pod 1 left the active queue");
        assert_eq!(q.pop(), None, "the failed pod was not woken");
        q.remove(7);
        assert_eq!(q.state(7), QueueState::Absent, "a pod never queued");
    }

    #[test]
    fn stale_unschedulable_pods_are_flushed_after_the_limit() {
        let mut q = queue();
        let mut wake = Vec::new();
        q.add(0, 0);
        let pod = q.pop().unwrap();
        let epoch = q.change_epoch();
        q.failed(pod, 1, SimTime(0), WakeOn::NodeChange, epoch);
        q.flush_stale(SimTime(299_000_000_000), &mut wake);
        assert_eq!(q.state(pod), QueueState::Unschedulable);
        q.flush_stale(SimTime(300_000_000_000), &mut wake);
        assert_eq!(q.state(pod), QueueState::Active);
    }
}

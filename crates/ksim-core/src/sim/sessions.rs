//! Interactive sessions (model: `docs/models/sessions.md`): users of a
//! session workload arrive as a non-homogeneous Poisson process, each gets a
//! dedicated pod of the workload's template and waits for it to run (the
//! scheduling queue's order: priority, then queue time), uses it for a
//! session, and leaves if it has not started within their patience.
//!
//! A user is followed through their current pod: `Sessions::users` maps
//! each live session pod to its user. The user's pods keep the queue order
//! their first pod got (`SchedulingQueue::add_pinned`), so users are taken
//! first come, first served, however often their pods were tried. A pod
//! that ends before its session did (its node failed and it was evicted, a
//! drain, a deleted node) is replaced for the same user, with the same
//! queue order: ahead of every user who came later. If the session had
//! started, the user is counted as requeued. A requeued user
//! waits again without a patience limit: they had a session and lost it,
//! and the model assumes they stay for its restart. The restarted session
//! draws a fresh length (nothing of the lost one is kept).
//!
//! Per user the state is one small `User` while their pod lives; nothing is
//! kept per user once they completed or left.

use super::*;
use crate::metrics::SessionSummary;
use crate::scheduler::queue::QueueOrder;

/// The extended resource whose use `SessionSummary` reports as GPU-hours.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Every session workload's state, and the users whose pods are live.
#[derive(Default)]
pub(super) struct Sessions {
    /// Per workload; Some for a session workload.
    workloads: Vec<Option<SessionState>>,
    /// The user of each live session pod, by pod.
    users: BTreeMap<PodId, User>,
    /// The dimension of `GPU_RESOURCE`, when the scenario declares it.
    gpu: Option<usize>,
}

/// One session workload: its random streams and counts.
struct SessionState {
    arrivals: SimRng,
    lengths: SimRng,
    patience: SimRng,
    counts: SessionCounts,
    /// Queue waits of the users served, from arrival to their first start.
    wait: LatencyHistogram,
    /// ∫ GPUs held by the workload's started pods dt, GPU-nanoseconds, over
    /// the pods that ended.
    gpu_ns: u128,
}

/// A session workload's users by where they are; every user is in exactly
/// one of waiting, running, completed and abandoned (a requeued user is
/// waiting or running again, counted once).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionCounts {
    pub arrived: u64,
    /// Users whose pod has not started (requeued users included).
    pub waiting: u64,
    /// Users whose pod runs their session.
    pub running: u64,
    pub completed: u64,
    pub abandoned: u64,
    /// Users whose first pod started (served), whatever came after.
    pub started: u64,
    /// Times a user's running session was lost and the user queued again.
    pub requeued: u64,
}

/// A user, while their pod lives.
#[derive(Copy, Clone, Debug)]
struct User {
    arrived: SimTime,
    /// When their patience runs out; NEVER: it does not.
    gives_up: SimTime,
    /// Their first pod started.
    served: bool,
    /// Their place in the scheduling queue, once their first pod was queued.
    order: Option<QueueOrder>,
    /// Their current pod's session reached its length.
    completing: bool,
    /// They left before their pod started; it is being deleted.
    abandoned: bool,
}

/// Which count a user moves between.
#[derive(Copy, Clone, Debug)]
enum Slot {
    Arrived,
    Waiting,
    Running,
    Completed,
    Abandoned,
    Started,
    Requeued,
}

impl SessionCounts {
    fn slot(&mut self, slot: Slot) -> &mut u64 {
        match slot {
            Slot::Arrived => &mut self.arrived,
            Slot::Waiting => &mut self.waiting,
            Slot::Running => &mut self.running,
            Slot::Completed => &mut self.completed,
            Slot::Abandoned => &mut self.abandoned,
            Slot::Started => &mut self.started,
            Slot::Requeued => &mut self.requeued,
        }
    }
}

impl Sessions {
    pub(super) fn new(config: &SimConfig, streams: &RngStreams) -> Self {
        let workloads = config
            .workloads
            .iter()
            .map(|w| {
                let WorkloadKind::Session(_) = w.kind else {
                    return None;
                };
                // Labelled by the workload's name, never its position, so
                // adding a workload shifts no other workload's draws.
                let stream = |what: &str| streams.stream(&format!("workload/{}/{what}", w.name));
                Some(SessionState {
                    arrivals: stream("sessions"),
                    lengths: stream("session_lengths"),
                    patience: stream("session_patience"),
                    counts: SessionCounts::default(),
                    wait: LatencyHistogram::default(),
                    gpu_ns: 0,
                })
            })
            .collect();
        Sessions {
            workloads,
            users: BTreeMap::new(),
            gpu: config.resource_names.extended_index(GPU_RESOURCE),
        }
    }

    /// The counts of a session workload; None for any other.
    pub(super) fn counts(&self, workload: WorkloadId) -> Option<SessionCounts> {
        self.workloads
            .get(workload as usize)?
            .as_ref()
            .map(|s| s.counts)
    }

    /// Bytes the live users hold: a B-tree entry each (with the nodes'
    /// share, about 8 bytes), and their pod's pinned queue order (16).
    pub(super) fn bytes_held(&self) -> u64 {
        let per_user = std::mem::size_of::<(PodId, User)>() as u64 + 8 + 16;
        self.users.len() as u64 * per_user
    }

    /// Waiting and running users per session workload, recounted from the
    /// live session pods (`started`: whether each pod started).
    pub(super) fn recount(
        &self,
        workload_of: impl Fn(PodId) -> WorkloadId,
        started: impl Fn(PodId) -> bool,
    ) -> Vec<(u64, u64)> {
        let mut out = vec![(0, 0); self.workloads.len()];
        for (&pod, _) in self.users.iter().filter(|(_, u)| !u.abandoned) {
            let (waiting, running) = &mut out[workload_of(pod) as usize];
            *if started(pod) { running } else { waiting } += 1;
        }
        out
    }
}

fn session_spec(config: &SimConfig, workload: WorkloadId) -> Option<&SessionSpec> {
    match &config.workloads[workload as usize].kind {
        WorkloadKind::Session(spec) => Some(spec),
        _ => None,
    }
}

impl Simulation {
    /// Moves one of a session workload's counts; leaving the u64 range is a
    /// bug in the bookkeeping and stops the run.
    fn count_user(&mut self, workload: WorkloadId, slot: Slot, up: bool) {
        let Some(Some(state)) = self.sessions.workloads.get_mut(workload as usize) else {
            return;
        };
        let count = state.counts.slot(slot);
        match if up {
            count.checked_add(1)
        } else {
            count.checked_sub(1)
        } {
            Some(moved) => *count = moved,
            None => {
                let way = if up { "up" } else { "down" };
                let problem = format!("session {slot:?} count {count} cannot go {way}");
                let subject = self.workload_subject(workload);
                self.violation(subject, problem);
            }
        }
    }

    /// Schedules the workload's next user after `after`, within its
    /// start, stop and the end of the run: one pending arrival per workload.
    pub(super) fn schedule_next_user(&mut self, workload: WorkloadId, after: SimTime) {
        let Some(spec) = session_spec(&self.config, workload) else {
            return;
        };
        let Some(Some(state)) = self.sessions.workloads.get_mut(workload as usize) else {
            return;
        };
        let from = after.max(spec.start);
        let Some(at) = spec.arrivals.next_arrival(from, &mut state.arrivals) else {
            return;
        };
        if spec.stop.is_some_and(|stop| at >= stop) || at > self.config.end {
            return;
        }
        self.schedule(at, Event::SessionArrival { workload });
    }

    /// A user arrives: their pod is created and queued, their patience starts.
    pub(super) fn session_arrival(&mut self, now: SimTime, workload: WorkloadId) {
        let gives_up = match (
            session_spec(&self.config, workload).and_then(|s| s.patience.as_ref()),
            self.sessions.workloads[workload as usize].as_mut(),
        ) {
            (Some(d), Some(state)) => now + SimDuration(d.sample(&mut state.patience)),
            _ => NEVER,
        };
        self.count_user(workload, Slot::Arrived, true);
        self.count_user(workload, Slot::Waiting, true);
        let user = User {
            arrived: now,
            gives_up,
            served: false,
            order: None,
            completing: false,
            abandoned: false,
        };
        self.create_user_pod(now, workload, user);
        self.schedule_next_user(workload, now);
    }

    /// Queues a session pod at its user's place; false for another pod.
    pub(super) fn queue_session_pod(&mut self, pod: PodId, priority: i32) -> bool {
        let Some(user) = self.sessions.users.get_mut(&pod) else {
            return false;
        };
        user.order = Some(self.queue.add_pinned(pod, priority, user.order));
        true
    }

    /// Creates the user's (next) pod, and the end of their patience for it.
    fn create_user_pod(&mut self, now: SimTime, workload: WorkloadId, user: User) {
        // The id `create_pod` gives; the user is known before the pod is
        // admitted, which reads its place in the queue.
        let pod = self.pods.len() as PodId;
        self.sessions.users.insert(pod, user);
        self.create_pod(now, workload);
        if user.gives_up != NEVER && user.gives_up <= self.config.end {
            self.schedule(user.gives_up.max(now), Event::SessionPatienceOver { pod });
        }
    }

    /// A session pod runs: the user's session starts and its end is
    /// scheduled. A pod whose user already left is being deleted: nothing.
    pub(super) fn session_started(&mut self, now: SimTime, pod: PodId) {
        let workload = self.pods.workload[pod as usize];
        let Some(user) = self.sessions.users.get_mut(&pod) else {
            return;
        };
        if user.abandoned {
            return;
        }
        let first = !user.served;
        user.served = true;
        let waited = now - user.arrived;
        self.count_user(workload, Slot::Waiting, false);
        self.count_user(workload, Slot::Running, true);
        if first {
            self.count_user(workload, Slot::Started, true);
        }
        let (Some(spec), Some(Some(state))) = (
            session_spec(&self.config, workload),
            self.sessions.workloads.get_mut(workload as usize),
        ) else {
            return;
        };
        if first {
            state.wait.record(waited);
        }
        let length = SimDuration(spec.length.sample(&mut state.lengths));
        self.schedule(now + length, Event::PodFinished { pod });
    }

    /// The session reached its length: the pod ends Succeeded.
    pub(super) fn session_completing(&mut self, pod: PodId) {
        if let Some(user) = self.sessions.users.get_mut(&pod) {
            user.completing = true;
        }
    }

    /// The user's patience ran out: if their pod has not started, they
    /// leave and the pod is deleted.
    pub(super) fn session_patience_over(&mut self, now: SimTime, pod: PodId) {
        let p = pod as usize;
        let Some(user) = self.sessions.users.get_mut(&pod) else {
            return;
        };
        let started = self.pods.started[p] != NEVER;
        if user.abandoned || started || self.pods.deleting[p] || user.gives_up > now {
            return;
        }
        user.abandoned = true;
        let workload = self.pods.workload[p];
        self.count_user(workload, Slot::Waiting, false);
        self.count_user(workload, Slot::Abandoned, true);
        self.start_deletion(now, pod);
    }

    /// A session pod ended (`finish_pod`): its GPU time is counted, and the
    /// user completed, left, or gets a new pod.
    pub(super) fn session_pod_ended(&mut self, now: SimTime, pod: PodId) {
        let Some(mut user) = self.sessions.users.remove(&pod) else {
            return;
        };
        let p = pod as usize;
        let workload = self.pods.workload[p];
        let started = self.pods.started[p];
        if started != NEVER {
            self.add_gpu_time(pod, now - started);
        }
        if user.abandoned {
            return;
        }
        if user.completing {
            self.count_user(workload, Slot::Running, false);
            self.count_user(workload, Slot::Completed, true);
            return;
        }
        if started != NEVER {
            // Lost mid-session: back at their place in the queue, ahead of
            // later users, with no patience limit.
            self.count_user(workload, Slot::Running, false);
            self.count_user(workload, Slot::Waiting, true);
            self.count_user(workload, Slot::Requeued, true);
            user.gives_up = NEVER;
        }
        // Lost before it started: the same user waits on, as patient as before.
        self.create_user_pod(now, workload, user);
    }

    /// Adds `held` × the pod's GPUs to its workload's GPU time.
    fn add_gpu_time(&mut self, pod: PodId, held: SimDuration) {
        let Some(gpu) = self.sessions.gpu else {
            return;
        };
        let p = pod as usize;
        let gpus = u128::from(self.pods.requests[p].0[gpu]);
        let workload = self.pods.workload[p] as usize;
        if let Some(state) = self.sessions.workloads[workload].as_mut() {
            state.gpu_ns = state
                .gpu_ns
                .checked_add(gpus * u128::from(held.0))
                .expect("GPU-nanoseconds fit in u128");
        }
    }

    /// Each session workload's summary, the pods still running counted up
    /// to `end`; `gpu_hours_paid`: the pools' GPU-hours.
    pub(super) fn session_summaries(
        &self,
        end: SimTime,
        gpu_hours_paid: f64,
    ) -> Vec<Option<SessionSummary>> {
        let mut running_ns = vec![0u128; self.sessions.workloads.len()];
        if let Some(gpu) = self.sessions.gpu {
            for &pod in self.sessions.users.keys() {
                let p = pod as usize;
                let started = self.pods.started[p];
                if started != NEVER {
                    let gpus = u128::from(self.pods.requests[p].0[gpu]);
                    let held = u128::from(end.saturating_since(started).0);
                    let sum = &mut running_ns[self.pods.workload[p] as usize];
                    *sum = sum
                        .checked_add(gpus * held)
                        .expect("GPU-nanoseconds fit in u128");
                }
            }
        }
        self.sessions
            .workloads
            .iter()
            .zip(running_ns)
            .map(|(state, running)| {
                let state = state.as_ref()?;
                let c = state.counts;
                let gpu_ns = state
                    .gpu_ns
                    .checked_add(running)
                    .expect("GPU-nanoseconds fit in u128");
                Some(SessionSummary {
                    arrived: c.arrived,
                    started: c.started,
                    completed: c.completed,
                    abandoned: c.abandoned,
                    requeued: c.requeued,
                    waiting_at_end: c.waiting,
                    running_at_end: c.running,
                    wait: state.wait.clone(),
                    gpu_hours_used: gpu_ns as f64 / 3.6e12,
                    gpu_hours_paid,
                })
            })
            .collect()
    }

    /// The pools' GPU-hours: node-hours × each pool's GPUs per node.
    pub(super) fn gpu_hours_paid(&self, pools: &[PoolSummary]) -> f64 {
        let Some(gpu) = self.sessions.gpu else {
            return 0.0;
        };
        pools
            .iter()
            .zip(&self.config.node_pools)
            .map(|(summary, pool)| summary.node_hours * pool.allocatable.0[gpu] as f64)
            .sum()
    }

    /// A session workload's users by where they are; None for another workload.
    pub fn session_counts(&self, workload: WorkloadId) -> Option<SessionCounts> {
        self.sessions.counts(workload)
    }
}

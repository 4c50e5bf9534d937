//! Execution workers: executions wait in one FIFO queue shared by the
//! workload's ready workers; each worker runs at most `max_concurrent` at
//! once. The simulation turns arrivals and ends into events and calls
//! these methods; they keep the queue, the slots and the statistics.
//!
//! An execution goes to the ready worker running the fewest (the lowest pod
//! id among equals): workers pull from the queue as soon as they have a
//! free slot, and a least-loaded choice is what a pull over idle workers
//! gives on average while staying deterministic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{ExecutionModel, PodUsage};
use crate::histogram::LatencyHistogram;
use crate::ids::{PodId, WorkloadId};
use crate::time::{SimDuration, SimTime};

/// An execution waiting for a slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Waiting {
    /// When it entered the queue: it arrived, or its worker went away.
    queued: SimTime,
    /// It entered the queue when no worker was ready: its wait is a cold start.
    cold: bool,
}

/// An execution running on a worker; `generation` tells a stale end event.
#[derive(Copy, Clone, Debug)]
struct Execution {
    workload: WorkloadId,
    pod: PodId,
    generation: u32,
}

#[derive(Clone, Debug, Default)]
struct Worker {
    /// Its executions, in the order they started.
    running: Vec<u32>,
    /// ∫ running dt, execution-seconds, up to `last_change`.
    running_s: f64,
    last_change: SimTime,
    running_s_at_scrape: f64,
}

impl Worker {
    fn advance(&mut self, now: SimTime) {
        let dt = now.saturating_since(self.last_change).as_secs_f64();
        self.running_s += self.running.len() as f64 * dt;
        self.last_change = self.last_change.max(now);
    }
}

/// What users count about executions.
#[derive(Clone, Debug, Default)]
pub struct ExecutionStats {
    pub arrived: u64,
    pub started: u64,
    pub completed: u64,
    /// Executions put back at the front of the queue because their worker
    /// stopped being ready (deleted, evicted, lost).
    pub requeued: u64,
    /// Queue waits of every start: a requeued execution waits (and counts)
    /// again, from its requeue.
    pub wait: LatencyHistogram,
    /// The same since the last timeline sample.
    pub wait_interval: LatencyHistogram,
    /// Waits of executions that entered the queue while no worker was ready.
    pub cold_start_wait: LatencyHistogram,
}

/// A started execution the simulation must schedule the end of.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub execution: u32,
    pub generation: u32,
    pub pod: PodId,
}

/// One workload's workers, queue and executions.
#[derive(Clone, Debug)]
pub struct Workers {
    max_concurrent: u32,
    queue: VecDeque<Waiting>,
    /// Ready workers with a free slot, by (running, pod).
    free: BTreeSet<(u32, PodId)>,
    workers: BTreeMap<PodId, Worker>,
    running_total: u64,
    pub stats: ExecutionStats,
}

impl Workers {
    pub fn new(model: &ExecutionModel) -> Self {
        Workers {
            max_concurrent: model.max_concurrent,
            queue: VecDeque::new(),
            free: BTreeSet::new(),
            workers: BTreeMap::new(),
            running_total: 0,
            stats: ExecutionStats::default(),
        }
    }

    pub fn queued(&self) -> u64 {
        self.queue.len() as u64
    }

    pub fn running(&self) -> u64 {
        self.running_total
    }

    pub fn ready_workers(&self) -> u64 {
        self.workers.len() as u64
    }

    /// Executions running on one worker (0 for a pod that is not a ready worker).
    pub fn running_on(&self, pod: PodId) -> u64 {
        self.workers.get(&pod).map_or(0, |w| w.running.len() as u64)
    }

    /// Bytes held: the queue (at its capacity) and each ready worker's entry.
    pub fn bytes_held(&self) -> u64 {
        let queue = self.queue.capacity() * std::mem::size_of::<Waiting>();
        // A B-tree entry and the worker's list, about 64 bytes each.
        let workers = self.workers.len() * (std::mem::size_of::<Worker>() + 64);
        (queue + workers) as u64
    }

    /// An execution arrives and waits at the back of the queue.
    pub fn arrive(&mut self, now: SimTime) {
        let cold = self.workers.is_empty();
        self.queue.push_back(Waiting { queued: now, cold });
        self.stats.arrived += 1;
    }

    /// A worker became ready: it takes executions from now on.
    pub fn worker_ready(&mut self, now: SimTime, pod: PodId) {
        let worker = Worker {
            last_change: now,
            ..Worker::default()
        };
        if self.workers.insert(pod, worker).is_none() && self.max_concurrent > 0 {
            self.free.insert((0, pod));
        }
    }

    /// A worker stopped being ready: its executions go back to the front of
    /// the queue, in the order they started, and wait again from now.
    /// Returns how many.
    pub fn worker_gone(&mut self, executions: &mut Executions, pod: PodId, now: SimTime) -> u64 {
        let Some(worker) = self.workers.remove(&pod) else {
            return 0;
        };
        let running = worker.running.len() as u32;
        self.free.remove(&(running, pod));
        let cold = self.workers.is_empty();
        for &id in worker.running.iter().rev() {
            self.queue.push_front(Waiting { queued: now, cold });
            executions.release(id);
        }
        let count = u64::from(running);
        self.running_total = self
            .running_total
            .checked_sub(count)
            .expect("a worker's executions are counted in the total");
        self.stats.requeued += count;
        count
    }

    /// Starts the execution at the head of the queue on the least-loaded
    /// ready worker, if both exist.
    pub fn start_next(
        &mut self,
        executions: &mut Executions,
        workload: WorkloadId,
        now: SimTime,
    ) -> Option<Started> {
        let &(running, pod) = self.free.first()?;
        let waiting = self.queue.pop_front()?;
        self.free.remove(&(running, pod));
        let (id, generation) = executions.insert(Execution {
            workload,
            pod,
            generation: 0,
        });
        let worker = self.workers.get_mut(&pod).expect("a free worker is ready");
        worker.advance(now);
        worker.running.push(id);
        if running + 1 < self.max_concurrent {
            self.free.insert((running + 1, pod));
        }
        self.running_total += 1;
        let wait = now.saturating_since(waiting.queued);
        self.stats.started += 1;
        self.stats.wait.record(wait);
        self.stats.wait_interval.record(wait);
        if waiting.cold {
            self.stats.cold_start_wait.record(wait);
        }
        Some(Started {
            execution: id,
            generation,
            pod,
        })
    }

    /// An execution's end event: false when it is stale (its worker went
    /// away and it was requeued).
    pub fn end(&mut self, executions: &mut Executions, now: SimTime, id: u32) -> bool {
        let pod = executions.list[id as usize].pod;
        if !self.workers.contains_key(&pod) {
            return false;
        }
        let worker = self.workers.get_mut(&pod).expect("checked above");
        let Some(at) = worker.running.iter().position(|&e| e == id) else {
            return false;
        };
        let running = worker.running.len() as u32;
        worker.advance(now);
        worker.running.remove(at);
        self.free.remove(&(running, pod));
        self.free.insert((running - 1, pod));
        self.running_total -= 1;
        self.stats.completed += 1;
        executions.release(id);
        true
    }

    /// Each ready worker's averages over the window since the last scrape.
    pub fn scrape(
        &mut self,
        now: SimTime,
        window: SimDuration,
        model: &ExecutionModel,
    ) -> BTreeMap<PodId, PodUsage> {
        let window_s = window.as_secs_f64();
        let mut usage = BTreeMap::new();
        for (&pod, worker) in self.workers.iter_mut() {
            worker.advance(now);
            let running = (worker.running_s - worker.running_s_at_scrape) / window_s;
            worker.running_s_at_scrape = worker.running_s;
            usage.insert(
                pod,
                PodUsage {
                    cpu_millis: model.cpu_idle_millis + model.cpu_per_execution_millis * running,
                    memory_bytes: model.memory_base_bytes
                        + model.memory_per_execution_bytes * running,
                },
            );
        }
        usage
    }

    /// Executions in the queue and running, with every worker's slots, as
    /// recounted from the executions themselves: for the invariant checker.
    pub fn check(&self) -> Result<(), String> {
        let listed: u64 = self.workers.values().map(|w| w.running.len() as u64).sum();
        if listed != self.running_total {
            return Err(format!(
                "{listed} executions on workers, {} counted",
                self.running_total
            ));
        }
        for (&pod, worker) in &self.workers {
            let running = worker.running.len() as u32;
            if running > self.max_concurrent {
                return Err(format!("worker {pod} runs {running}, above its maximum"));
            }
            let free = self.free.contains(&(running, pod));
            if free != (running < self.max_concurrent) {
                return Err(format!("worker {pod}'s free-slot entry is wrong"));
            }
        }
        let accounted = self.queued() + self.running_total + self.stats.completed;
        let expected = self.stats.arrived;
        if accounted != expected {
            return Err(format!(
                "{expected} arrived, {accounted} queued, running or completed"
            ));
        }
        if !self.queue.is_empty() && !self.free.is_empty() {
            return Err("executions wait while a worker has a free slot".into());
        }
        Ok(())
    }
}

/// Every workload's running executions in one table, so an end event
/// needs only an id and a generation (and `Event` stays 12 bytes). Ids are
/// reused; releasing one moves its generation on, which makes the end
/// event of the execution that held it (requeued when its worker went)
/// stale.
#[derive(Clone, Debug, Default)]
pub struct Executions {
    list: Vec<Execution>,
    free: Vec<u32>,
}

impl Executions {
    fn insert(&mut self, mut execution: Execution) -> (u32, u32) {
        match self.free.pop() {
            Some(id) => {
                execution.generation = self.list[id as usize].generation;
                self.list[id as usize] = execution;
                (id, execution.generation)
            }
            None => {
                self.list.push(execution);
                ((self.list.len() - 1) as u32, 0)
            }
        }
    }

    pub fn bytes_held(&self) -> u64 {
        (self.list.capacity() * std::mem::size_of::<Execution>()
            + self.free.capacity() * std::mem::size_of::<u32>()) as u64
    }

    /// The workload of a running execution, None when the end event is stale.
    pub fn workload_of(&self, id: u32, generation: u32) -> Option<WorkloadId> {
        let execution = self.list.get(id as usize)?;
        (execution.generation == generation).then_some(execution.workload)
    }

    /// The execution ended or was requeued: its id is free, and the
    /// generation moves on so its end event, if still pending, is stale.
    fn release(&mut self, id: u32) {
        let execution = &mut self.list[id as usize];
        execution.generation = execution.generation.wrapping_add(1);
        self.free.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::Distribution;

    fn model(max_concurrent: u32) -> ExecutionModel {
        ExecutionModel {
            max_concurrent,
            duration: Distribution::constant(1e9).unwrap(),
            cpu_idle_millis: 10.0,
            cpu_per_execution_millis: 100.0,
            memory_base_bytes: 0.0,
            memory_per_execution_bytes: 0.0,
            fluid_above_per_s: crate::usage::DEFAULT_FLUID_ABOVE_PER_S,
        }
    }

    fn t(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn executions_go_to_the_least_loaded_worker_and_queue_beyond_the_slots() {
        let mut x = Executions::default();
        let mut w = Workers::new(&model(2));
        w.worker_ready(t(0), 7);
        w.worker_ready(t(0), 3);
        for _ in 0..5 {
            w.arrive(t(0));
        }
        let pods: Vec<PodId> =
            std::iter::from_fn(|| w.start_next(&mut x, 0, t(0)).map(|s| s.pod)).collect();
        assert_eq!(pods, vec![3, 7, 3, 7]);
        assert_eq!((w.queued(), w.running()), (1, 4));
        w.check().unwrap();
    }

    #[test]
    fn a_lost_worker_returns_its_executions_to_the_front_in_order() {
        let mut x = Executions::default();
        let mut w = Workers::new(&model(2));
        w.worker_ready(t(0), 1);
        w.arrive(t(1));
        w.arrive(t(2));
        w.arrive(t(3));
        let first = w.start_next(&mut x, 0, t(3)).unwrap();
        w.start_next(&mut x, 0, t(3)).unwrap();
        assert_eq!(w.worker_gone(&mut x, 1, t(3)), 2);
        assert_eq!(w.stats.requeued, 2);
        assert_eq!(
            x.workload_of(first.execution, first.generation),
            None,
            "stale end"
        );
        w.worker_ready(t(5), 2);
        w.start_next(&mut x, 0, t(5)).unwrap();
        // The requeued executions wait again from their requeue (2 s), and
        // are counted again; the third waited from 3 s.
        w.start_next(&mut x, 0, t(5)).unwrap();
        assert_eq!(w.stats.wait.count(), 4);
        assert_eq!(w.stats.wait.max(), Some(SimDuration::from_secs(2)));
        assert_eq!(
            w.stats.cold_start_wait.count(),
            2,
            "requeued with no worker left"
        );
        assert_eq!(w.queued(), 1);
        w.check().unwrap();
    }

    #[test]
    fn arrivals_with_no_worker_ready_count_as_cold_starts() {
        let mut x = Executions::default();
        let mut w = Workers::new(&model(1));
        w.arrive(t(0));
        w.worker_ready(t(30), 1);
        let s = w.start_next(&mut x, 0, t(30)).unwrap();
        w.arrive(t(31));
        assert_eq!(x.workload_of(s.execution, s.generation), Some(0));
        assert!(w.end(&mut x, t(40), s.execution));
        w.start_next(&mut x, 0, t(40)).unwrap();
        assert_eq!(w.stats.cold_start_wait.count(), 1);
        assert_eq!(
            w.stats.cold_start_wait.max(),
            Some(SimDuration::from_secs(30))
        );
        assert_eq!(w.stats.wait.count(), 2);
        w.check().unwrap();
    }

    #[test]
    fn a_scrape_averages_running_executions_over_the_window() {
        let mut x = Executions::default();
        let mut w = Workers::new(&model(4));
        w.worker_ready(t(0), 1);
        w.arrive(t(0));
        w.arrive(t(0));
        let a = w.start_next(&mut x, 0, t(0)).unwrap();
        w.start_next(&mut x, 0, t(0)).unwrap();
        assert!(w.end(&mut x, t(5), a.execution));
        // 2 running for 5 s, then 1 for 10 s: 20 execution-seconds over 15 s.
        let usage = w.scrape(t(15), SimDuration::from_secs(15), &model(4));
        let cpu = usage[&1].cpu_millis;
        assert!((cpu - (10.0 + 100.0 * 20.0 / 15.0)).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn the_checker_names_an_execution_lost_from_the_books() {
        let mut w = Workers::new(&model(1));
        w.arrive(t(0));
        w.stats.arrived += 1;
        assert!(w.check().unwrap_err().contains("arrived"));
    }
}

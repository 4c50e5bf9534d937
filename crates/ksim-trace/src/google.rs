//! Google cluster-data 2011 (`google-cluster-2011`): task_events (13
//! columns, no header, times in microseconds, requests normalised to the
//! largest machine) assembled into tasks; machine_events into node pools.
//!
//! A task is (job ID, task index). SUBMIT is its arrival, SCHEDULE its
//! start, the first of EVICT, FAIL, FINISH, KILL or LOST its end (only
//! FINISH is a success). A SUBMIT after an end is a new pod (a retry).
//! Events come in time order but a task's end comes long after its
//! arrival, so assembled tasks wait in arrival order until the oldest has
//! ended (or the file, or the window, ends): memory grows with the tasks
//! open at once, not with the file.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;

use crate::error::TraceError;
use crate::input::Rows;
use crate::task::{expect_kind, TaskReader, TraceTask};
use crate::Scale;

const TASK_EVENTS: &str = "google-cluster-2011 (task_events)";
const MACHINE_EVENTS: &str = "google-cluster-2011 (machine_events)";
/// The trace's "after the end" timestamp.
const AFTER_END_US: i64 = i64::MAX;

const SUBMIT: u64 = 0;
const SCHEDULE: u64 = 1;
const EVICT: u64 = 2;
const FAIL: u64 = 3;
const FINISH: u64 = 4;
const KILL: u64 = 5;
const LOST: u64 = 6;
const UPDATE_RUNNING: u64 = 8;

struct Open {
    task: TraceTask,
    ended: bool,
}

pub struct TaskEvents {
    rows: Rows,
    scale: Scale,
    /// Tasks in arrival order, from `base`; an ended task leaves from the front.
    queue: VecDeque<Open>,
    base: u64,
    /// Per task not ended: its place in `queue` (base-relative).
    open: HashMap<(u64, u64), u64>,
    /// Stop reading once an event is past this trace time (the window's end).
    read_until_ns: Option<i64>,
    done: bool,
    /// Reading stopped at an event past the window's end.
    stopped_at_window_end: bool,
    first: bool,
    updates: u64,
    orphans: u64,
    missing_requests: u64,
}

impl TaskEvents {
    pub fn open(
        path: &Path,
        scale: Scale,
        skip_bad_rows: bool,
        read_until_ns: Option<i64>,
    ) -> Result<Self, TraceError> {
        Ok(TaskEvents {
            rows: Rows::open(path, skip_bad_rows)?,
            scale,
            queue: VecDeque::new(),
            base: 0,
            open: HashMap::new(),
            read_until_ns,
            done: false,
            stopped_at_window_end: false,
            first: true,
            updates: 0,
            orphans: 0,
            missing_requests: 0,
        })
    }

    /// Reads one event; false at the end of the file or the window.
    fn read_event(&mut self) -> Result<bool, TraceError> {
        loop {
            if !self.rows.advance()? {
                return Ok(false);
            }
            if self.first {
                self.first = false;
                expect_kind(&self.rows, TASK_EVENTS)?;
            }
            match self.apply_row() {
                Ok(more) => return Ok(more),
                Err(e) => self.rows.skip_or_fail(e)?,
            }
        }
    }

    fn apply_row(&mut self) -> Result<bool, TraceError> {
        let r = &self.rows;
        if r.len() != 13 {
            return Err(r.error(1, format!("expected 13 fields, found {}", r.len())));
        }
        let time_us = r.i64(1, "time")?;
        let job = r.u64(3, "job ID")?;
        let index = r.u64(4, "task index")?;
        let kind = r.u64(6, "event type")?;
        if kind > UPDATE_RUNNING {
            return Err(r.error(6, format!("event type {kind} is not one of 0..8")));
        }
        if time_us == AFTER_END_US {
            return Ok(true);
        }
        let time_ns = time_us
            .checked_mul(1_000)
            .ok_or_else(|| r.error(1, format!("time {time_us} µs is out of range")))?;
        if self.read_until_ns.is_some_and(|until| time_ns > until) {
            self.stopped_at_window_end = true;
            return Ok(false);
        }
        let key = (job, index);
        match kind {
            SUBMIT => self.submit(key, time_ns)?,
            SCHEDULE => match self.open_task(key) {
                Some(open) => {
                    open.task.start_ns.get_or_insert(time_ns);
                }
                None => self.orphans += 1,
            },
            EVICT | FAIL | FINISH | KILL | LOST => match self.open.remove(&key) {
                Some(slot) => {
                    let open = &mut self.queue[(slot - self.base) as usize];
                    open.ended = true;
                    open.task.end_ns = Some(time_ns);
                    open.task.failed = kind != FINISH;
                }
                None => self.orphans += 1,
            },
            _ => self.updates += 1,
        }
        Ok(true)
    }

    fn open_task(&mut self, key: (u64, u64)) -> Option<&mut Open> {
        let slot = *self.open.get(&key)?;
        Some(&mut self.queue[(slot - self.base) as usize])
    }

    fn submit(&mut self, key: (u64, u64), time_ns: i64) -> Result<(), TraceError> {
        if self.open.contains_key(&key) {
            // Submitted again before it ended: the same pending task.
            self.updates += 1;
            return Ok(());
        }
        let r = &self.rows;
        let priority = r.u64(9, "priority")?;
        let cpu = r.opt_f64(10, "CPU request")?;
        let memory = r.opt_f64(11, "memory request")?;
        if cpu.is_none() || memory.is_none() {
            self.missing_requests += 1;
        }
        let task = TraceTask {
            line: r.line,
            arrival_ns: time_ns,
            start_ns: None,
            end_ns: None,
            failed: false,
            template: format!("priority-{priority}"),
            priority: i32::try_from(priority).map_err(|_| r.error(9, "priority out of range"))?,
            labels: String::new(),
            cpu_millis: self.scale.cpu_millis(cpu.unwrap_or(0.0)),
            memory_bytes: self.scale.memory_bytes(memory.unwrap_or(0.0)),
            gpus: 0,
            instances: 1,
        };
        let slot = self.base + self.queue.len() as u64;
        self.queue.push_back(Open { task, ended: false });
        self.open.insert(key, slot);
        Ok(())
    }

    fn pop_front(&mut self) -> Option<TraceTask> {
        // A task not ended leaves only once reading is done: it runs on.
        let front = self.queue.pop_front()?;
        self.base += 1;
        Some(front.task)
    }
}

impl TaskReader for TaskEvents {
    fn next_task(&mut self) -> Result<Option<TraceTask>, TraceError> {
        loop {
            if self.queue.front().is_some_and(|o| o.ended) || self.done {
                return Ok(self.pop_front());
            }
            if !self.read_event()? {
                self.done = true;
                self.open.clear();
            }
        }
    }

    fn rows(&self) -> &Rows {
        &self.rows
    }

    fn counts(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("events_update_or_resubmit", self.updates),
            ("events_of_tasks_not_submitted", self.orphans),
            ("tasks_missing_requests", self.missing_requests),
            (
                "events_read_until_window_end",
                u64::from(self.stopped_at_window_end),
            ),
        ]
    }
}

/// Machines present at the trace's start (ADD at time 0, not removed
/// then), grouped by shape: (normalised CPUs, normalised memory) → count;
/// and the later ADD and REMOVE events, in file (time) order, each with
/// its machine's shape. UPDATE events (a machine's capacity changing) and
/// removals of machines never added are counted, not replayed.
pub struct Machines {
    pub shapes: BTreeMap<(u64, u64), u32>,
    pub events: Vec<MachineEvent>,
    pub later_events: u64,
    pub missing_capacity: u64,
    pub skipped: crate::input::Skipped,
}

/// A machine added (`added`) or removed after the trace's start.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MachineEvent {
    pub time_us: i64,
    pub shape: (u64, u64),
    pub added: bool,
}

pub fn read_machines(
    path: &Path,
    scale: Scale,
    skip_bad_rows: bool,
) -> Result<Machines, TraceError> {
    let mut rows = Rows::open(path, skip_bad_rows)?;
    let mut at_start: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    // Every machine's shape, to name the pool a later REMOVE leaves.
    let mut shape_of: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut out = Machines {
        shapes: BTreeMap::new(),
        events: Vec::new(),
        later_events: 0,
        missing_capacity: 0,
        skipped: Default::default(),
    };
    let mut first = true;
    while rows.advance()? {
        if first {
            first = false;
            expect_kind(&rows, MACHINE_EVENTS)?;
        }
        let row = (|| {
            let time = rows.i64(1, "time")?;
            let machine = rows.u64(2, "machine ID")?;
            let kind = rows.u64(3, "event type")?;
            if kind > 2 {
                return Err(rows.error(3, format!("event type {kind} is not 0, 1 or 2")));
            }
            Ok((
                time,
                machine,
                kind,
                rows.opt_f64(5, "CPUs")?,
                rows.opt_f64(6, "memory")?,
            ))
        })();
        let (time, machine, kind, cpus, memory) = match row {
            Ok(row) => row,
            Err(e) => {
                rows.skip_or_fail(e)?;
                continue;
            }
        };
        let shape = match (kind, cpus, memory) {
            (0, Some(c), Some(m)) => (scale.cpu_millis(c), scale.memory_bytes(m)),
            (0, _, _) => {
                out.missing_capacity += 1;
                continue;
            }
            (1, _, _) => match shape_of.remove(&machine) {
                Some(shape) => shape,
                None => {
                    out.later_events += 1;
                    continue;
                }
            },
            _ => {
                out.later_events += 1;
                continue;
            }
        };
        let added = kind == 0;
        if added {
            shape_of.insert(machine, shape);
        }
        if time != 0 {
            out.events.push(MachineEvent {
                time_us: time,
                shape,
                added,
            });
        } else if added {
            at_start.insert(machine, shape);
        } else {
            at_start.remove(&machine);
        }
    }
    for shape in at_start.into_values() {
        *out.shapes.entry(shape).or_insert(0) += 1;
    }
    out.skipped = rows.skipped.clone();
    Ok(out)
}

//! A replay's view of a trace: its window, time scale, unit scales, pod
//! limit and censoring applied to the tasks a format reader yields.
//!
//! Censoring: a task that arrived before the window's start and had not
//! ended by then is initial state (it arrives at time 0 and runs for what
//! was left of it); one that had ended is dropped; one with no end runs to
//! the end of the run. Times become simulated time: (trace time − window
//! start) × time_scale.

use std::path::Path;

use crate::alibaba::{BatchTask, PodList};
use crate::error::TraceError;
use crate::google::TaskEvents;
use crate::input::{BytesRead, Skipped};
use crate::native::NativePods;
use crate::task::{TaskReader, TraceTask};
use crate::{Format, TraceSpec};

const S: i64 = 1_000_000_000;

/// A pod as the replay has it: simulated times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayPod {
    pub arrival_ns: u64,
    pub run_ns: Option<u64>,
    pub failed: bool,
    pub task: TraceTask,
}

/// What a replay counted, for `summary.json` and `ksim trace inspect`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayCounts {
    pub tasks_read: u64,
    pub pods: u64,
    /// Running (or waiting) at the window's start: initial state.
    pub censored_at_start: u64,
    /// No end in the trace: run to the end of the run.
    pub censored_no_end: u64,
    pub ended_before_window: u64,
    /// Ended without ever starting (killed while pending): no pod.
    pub ended_unstarted: u64,
    pub stopped_at_window_end: bool,
    pub stopped_at_pod_limit: bool,
}

pub struct Replay {
    reader: Box<dyn TaskReader>,
    window_start_ns: i64,
    window_end_ns: Option<i64>,
    time_scale: f64,
    pod_limit: Option<u64>,
    /// The task being expanded into its instances, and how many are left.
    current: Option<(ReplayPod, u64)>,
    pub counts: ReplayCounts,
    done: bool,
}

/// The format's task reader for `path`.
pub fn open_reader(spec: &TraceSpec, path: &Path) -> Result<Box<dyn TaskReader>, TraceError> {
    let (scale, skip) = (spec.scale, spec.skip_bad_rows);
    Ok(match spec.format {
        Format::GoogleCluster2011 => {
            // Events past the window's end are not read at all.
            let until = spec.window_end_s.map(|s| s as i64 * S);
            Box::new(TaskEvents::open(path, scale, skip, until)?)
        }
        Format::AlibabaV2017 => Box::new(Sorted::new(BatchTask::open(path, scale, skip)?)?),
        Format::AlibabaGpuV2023 => Box::new(PodList::open(path, scale, skip)?),
        Format::Native => Box::new(NativePods::open(path, skip)?),
        Format::AzureFunctions2019 => {
            return Err(TraceError::Setting(
                "azure-functions-2019 is a rate trace, not pods: convert it with \
                 `ksim trace convert` and read it as a load series"
                    .into(),
            ))
        }
    })
}

impl Replay {
    pub fn open(spec: &TraceSpec) -> Result<Replay, TraceError> {
        if spec.time_scale.is_nan() || spec.time_scale <= 0.0 {
            return Err(TraceError::Setting("time_scale must be above 0".into()));
        }
        let start_s = spec
            .window_start_s
            .unwrap_or(spec.format.default_window_start_s());
        if spec.window_end_s.is_some_and(|end| end <= start_s) {
            return Err(TraceError::Setting(format!(
                "the window ends at {} s, not after its start at {start_s} s",
                spec.window_end_s.unwrap_or(0)
            )));
        }
        Ok(Replay {
            reader: open_reader(spec, &spec.path)?,
            window_start_ns: start_s as i64 * S,
            window_end_ns: spec.window_end_s.map(|s| s as i64 * S),
            time_scale: spec.time_scale,
            pod_limit: spec.pod_limit,
            current: None,
            counts: ReplayCounts::default(),
            done: false,
        })
    }

    /// The next pod, in arrival order.
    pub fn next_pod(&mut self) -> Result<Option<&ReplayPod>, TraceError> {
        if self.done {
            return Ok(None);
        }
        if self
            .pod_limit
            .is_some_and(|limit| self.counts.pods >= limit)
        {
            self.counts.stopped_at_pod_limit = true;
            self.done = true;
            return Ok(None);
        }
        while self.current.as_ref().is_none_or(|(_, left)| *left == 0) {
            let Some(task) = self.reader.next_task()? else {
                self.done = true;
                return Ok(None);
            };
            self.counts.tasks_read += 1;
            match self.map(task) {
                Mapped::Pod(pod) => {
                    let instances = pod.task.instances;
                    self.current = Some((pod, instances));
                }
                Mapped::Skip => {}
                Mapped::Stop => {
                    self.counts.stopped_at_window_end = true;
                    self.done = true;
                    return Ok(None);
                }
            }
        }
        self.counts.pods += 1;
        let (pod, left) = self.current.as_mut().expect("a task with instances left");
        *left -= 1;
        Ok(Some(pod))
    }

    fn map(&mut self, task: TraceTask) -> Mapped {
        let (ws, c) = (self.window_start_ns, &mut self.counts);
        if self.window_end_ns.is_some_and(|we| task.arrival_ns >= we) {
            return Mapped::Stop;
        }
        if task.start_ns.is_none() && task.end_ns.is_some() {
            c.ended_unstarted += 1;
            return Mapped::Skip;
        }
        let (arrival, run) = if task.arrival_ns < ws {
            if task.end_ns.is_some_and(|end| end <= ws) {
                c.ended_before_window += 1;
                return Mapped::Skip;
            }
            c.censored_at_start += task.instances;
            // What was left of it at the window's start.
            let run = task
                .end_ns
                .map(|end| end - task.start_ns.map_or(ws, |start| start.max(ws)));
            (0, run)
        } else {
            (task.arrival_ns - ws, task.run_ns())
        };
        if task.end_ns.is_none() {
            c.censored_no_end += task.instances;
        }
        let scaled = |ns: i64| (ns.max(0) as f64 * self.time_scale).round() as u64;
        Mapped::Pod(ReplayPod {
            arrival_ns: scaled(arrival),
            run_ns: run.map(scaled),
            failed: task.failed,
            task,
        })
    }

    pub fn skipped(&self) -> &Skipped {
        &self.reader.rows().skipped
    }

    pub fn bytes_read(&self) -> BytesRead {
        self.reader.rows().bytes_read()
    }

    pub fn total_bytes(&self) -> u64 {
        self.reader.rows().total_bytes()
    }

    /// The format reader's own counts.
    pub fn format_counts(&self) -> Vec<(&'static str, u64)> {
        self.reader.counts()
    }

    pub fn file(&self) -> &str {
        &self.reader.rows().file
    }
}

enum Mapped {
    Pod(ReplayPod),
    Skip,
    Stop,
}

/// Alibaba 2017's batch_task is ordered by job, not time: its tasks (one
/// compact record per row, not per instance) are read whole and sorted by
/// arrival, stably. The one format whose replay holds its rows; convert
/// it to the native format once to stream it.
pub struct Sorted<R> {
    reader: R,
    tasks: std::vec::IntoIter<TraceTask>,
}

impl<R: TaskReader> Sorted<R> {
    pub fn new(mut reader: R) -> Result<Self, TraceError> {
        let mut tasks = Vec::new();
        while let Some(task) = reader.next_task()? {
            tasks.push(task);
        }
        tasks.sort_by_key(|t| (t.arrival_ns, t.line));
        Ok(Sorted {
            reader,
            tasks: tasks.into_iter(),
        })
    }
}

impl<R: TaskReader> TaskReader for Sorted<R> {
    fn next_task(&mut self) -> Result<Option<TraceTask>, TraceError> {
        Ok(self.tasks.next())
    }

    fn rows(&self) -> &crate::input::Rows {
        self.reader.rows()
    }

    fn counts(&self) -> Vec<(&'static str, u64)> {
        self.reader.counts()
    }
}

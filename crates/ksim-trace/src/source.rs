//! The core's pod source over a replay: each pod's template is looked up
//! among the workloads `prepare` added.

use std::collections::BTreeMap;

use ksim_core::ids::WorkloadId;
use ksim_core::resources::{ResourceVec, CPU, MEMORY};
use ksim_core::source::{PodSource, SourceCount, SourceError, SourceReport, SourcedPod};
use ksim_core::time::{SimDuration, SimTime};

use crate::replay::Replay;

pub struct TraceSource {
    name: String,
    replay: Replay,
    workloads: BTreeMap<String, WorkloadId>,
    /// The extended dimension GPUs go to, when the trace has any.
    gpu: Option<usize>,
}

impl TraceSource {
    pub fn new(
        name: String,
        replay: Replay,
        workloads: BTreeMap<String, WorkloadId>,
        gpu: Option<usize>,
    ) -> Self {
        TraceSource {
            name,
            replay,
            workloads,
            gpu,
        }
    }
}

impl PodSource for TraceSource {
    fn next_pod(&mut self) -> Result<Option<SourcedPod>, SourceError> {
        let gpu = self.gpu;
        let pod = match self.replay.next_pod() {
            Ok(Some(pod)) => pod,
            Ok(None) => return Ok(None),
            Err(e) => return Err(SourceError(e.to_string())),
        };
        let task = &pod.task;
        let Some(&workload) = self.workloads.get(&task.template) else {
            // The first pass saw every template; a file changed under us.
            return Err(SourceError(format!(
                "line {}: template `{}` was not in the trace when the run started",
                task.line, task.template
            )));
        };
        let mut requests = ResourceVec::ZERO;
        requests.0[CPU] = task.cpu_millis;
        requests.0[MEMORY] = task.memory_bytes;
        if let (Some(dim), gpus) = (gpu, task.gpus) {
            requests.0[dim] = gpus;
        }
        Ok(Some(SourcedPod {
            arrival: SimTime::ZERO + SimDuration(pod.arrival_ns),
            workload,
            requests,
            run_time: pod.run_ns.map(SimDuration),
            failed: pod.failed,
        }))
    }

    fn report(&self) -> SourceReport {
        let c = &self.replay.counts;
        let skipped = self.replay.skipped();
        let mut counts = vec![
            count("tasks_read", c.tasks_read),
            count("pods", c.pods),
            count("censored_running_at_start", c.censored_at_start),
            count("censored_no_end", c.censored_no_end),
            count("ended_before_window", c.ended_before_window),
            count("ended_unstarted", c.ended_unstarted),
            count("rows_skipped", skipped.rows),
            count("stopped_at_window_end", u64::from(c.stopped_at_window_end)),
            count("stopped_at_pod_limit", u64::from(c.stopped_at_pod_limit)),
        ];
        for (i, line) in skipped.first_lines.iter().enumerate() {
            counts.push(count(SKIPPED_LINE_NAMES[i], *line));
        }
        counts.extend(
            self.replay
                .format_counts()
                .into_iter()
                .map(|(name, value)| count(name, value)),
        );
        SourceReport {
            name: self.name.clone(),
            counts,
        }
    }
}

const SKIPPED_LINE_NAMES: [&str; 5] = [
    "skipped_line_1",
    "skipped_line_2",
    "skipped_line_3",
    "skipped_line_4",
    "skipped_line_5",
];

fn count(name: &'static str, value: u64) -> SourceCount {
    SourceCount { name, value }
}

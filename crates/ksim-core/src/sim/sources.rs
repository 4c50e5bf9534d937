//! Pod sources (`crate::source`): one pending `SourceArrival` per source;
//! each pod's run time and outcome are kept from its creation to its end,
//! then released.

use super::*;
use crate::source::{PodSource, SourceReport, SourcedPod};

/// The attached sources, each with its next pod, and the plans of the pods
/// they created that have not ended.
#[derive(Default)]
pub(super) struct Sources {
    list: Vec<Box<dyn PodSource>>,
    next: Vec<Option<SourcedPod>>,
    /// Per live sourced pod: its run time (None: to the end of the run)
    /// and outcome. Looked up by key only, never iterated.
    plans: HashMap<PodId, (Option<SimDuration>, bool)>,
}

impl Sources {
    /// Live sourced pods with a plan held, for the memory footprint.
    pub(super) fn plans_held(&self) -> usize {
        self.plans.len()
    }

    pub(super) fn reports(&self) -> Vec<SourceReport> {
        self.list.iter().map(|s| s.report()).collect()
    }
}

impl Simulation {
    /// Attaches a pod source before the run starts: its first pod is pulled
    /// and its arrival scheduled. Its pods must belong to job workloads
    /// whose arrivals are `ArrivalProcess::Source`.
    pub fn add_pod_source(&mut self, source: Box<dyn PodSource>) -> Result<(), SimError> {
        let id = self.sources.list.len() as u32;
        self.sources.list.push(source);
        self.sources.next.push(None);
        self.pull_next(id, SimTime::ZERO);
        match self.fault.take() {
            Some(fault) => Err(fault),
            None => Ok(()),
        }
    }

    /// Pulls the source's next pod and schedules its arrival (if within the run).
    fn pull_next(&mut self, source: u32, now: SimTime) {
        let s = source as usize;
        let pod = match self.sources.list[s].next_pod() {
            Ok(pod) => pod,
            Err(e) => {
                self.fault.get_or_insert(SimError::Source(e));
                return;
            }
        };
        self.sources.next[s] = None;
        let Some(pod) = pod else {
            return;
        };
        if let Err(problem) = self.check_sourced(&pod, now) {
            self.fault
                .get_or_insert(SimError::Source(crate::source::SourceError(problem)));
            return;
        }
        if pod.arrival > self.config.end {
            return;
        }
        self.sources.next[s] = Some(pod);
        self.schedule(pod.arrival, Event::SourceArrival { source });
    }

    /// A source that goes back in time or names a workload that is not
    /// one of its templates is broken: the run stops.
    fn check_sourced(&self, pod: &SourcedPod, now: SimTime) -> Result<(), String> {
        if pod.arrival < now {
            return Err(format!(
                "a pod arrives at {} after one at {now}: a source must be in arrival order",
                pod.arrival
            ));
        }
        match self
            .config
            .workloads
            .get(pod.workload as usize)
            .map(|w| &w.kind)
        {
            Some(WorkloadKind::Job(job))
                if matches!(job.arrival, ArrivalProcess::Source { .. }) =>
            {
                Ok(())
            }
            _ => Err(format!(
                "a pod names workload {}, which is not a job fed by a source",
                pod.workload
            )),
        }
    }

    pub(super) fn source_arrival(&mut self, now: SimTime, source: u32) {
        let Some(next) = self.sources.next[source as usize].take() else {
            return;
        };
        let mut requests = next.requests;
        requests.0[PODS] = 1;
        if let Some(pod) = self.create_pod_with(now, next.workload, requests) {
            self.sources.plans.insert(pod, (next.run_time, next.failed));
        }
        self.workloads[next.workload as usize].arrivals += 1;
        self.pull_next(source, now);
    }

    /// A sourced pod's run time, when it starts (None: it runs to the end).
    /// Some(None) for a pod that is not sourced.
    pub(super) fn sourced_run_time(&self, pod: PodId) -> Option<Option<SimDuration>> {
        self.sources.plans.get(&pod).map(|plan| plan.0)
    }

    /// Whether a sourced pod ends Failed; its plan is released.
    pub(super) fn sourced_outcome(&mut self, pod: PodId) -> Option<bool> {
        self.sources.plans.remove(&pod).map(|plan| plan.1)
    }

    /// A pod that ended otherwise (deleted, evicted) releases its plan.
    pub(super) fn release_plan(&mut self, pod: PodId) {
        self.sources.plans.remove(&pod);
    }

    pub(super) fn source_reports(&self) -> Vec<SourceReport> {
        self.sources.reports()
    }
}

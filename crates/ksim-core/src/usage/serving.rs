//! Every workload's load and usage state, read by the controllers (custom
//! and external metrics when they poll, resource metrics as last scraped)
//! and driven by the simulation (`sim::serving`).

use super::workers::{Executions, Workers};
use super::{ExecutionModel, ScrapedUsage, ServiceFluid, ServiceModel, UsageModel};
use crate::autoscale::hpa::CustomMetric;
use crate::ids::{PodId, WorkloadId};
use crate::load::Load;
use crate::time::SimTime;

/// What a workload's pods do with their load.
#[derive(Clone, Debug)]
pub enum Activity {
    Service {
        model: ServiceModel,
        fluid: ServiceFluid,
        /// The fluid as the last scrape read it.
        at_scrape: ServiceFluid,
    },
    Executions {
        model: ExecutionModel,
        /// Boxed: a queue and its maps, much larger than a service's fluid.
        workers: Box<Workers>,
    },
}

/// One modelled workload.
#[derive(Clone, Debug)]
pub struct WorkloadUsage {
    pub load: Option<Load>,
    pub activity: Activity,
    pub scraped: ScrapedUsage,
}

impl WorkloadUsage {
    pub fn new(load: Option<Load>, model: &UsageModel) -> Self {
        let activity = match model {
            UsageModel::Service(m) => Activity::Service {
                model: m.clone(),
                fluid: ServiceFluid::default(),
                at_scrape: ServiceFluid::default(),
            },
            UsageModel::Executions(m) => Activity::Executions {
                model: m.clone(),
                workers: Box::new(Workers::new(m)),
            },
        };
        WorkloadUsage {
            load,
            activity,
            scraped: ScrapedUsage::default(),
        }
    }

    /// The load's instantaneous rate (0 without a load).
    pub fn rate_at(&self, now: SimTime) -> f64 {
        self.load.as_ref().map_or(0.0, |l| l.rate_at(now))
    }

    /// The service's fluid brought to `now` without changing the state: a
    /// controller's read must not move the model.
    pub fn service_at(&self, now: SimTime, ready: u32) -> Option<ServiceFluid> {
        let Activity::Service { model, fluid, .. } = &self.activity else {
            return None;
        };
        let mut peek = *fluid;
        let rate = self
            .load
            .as_ref()
            .map_or(0.0, |l| l.mean_over(fluid.last, now));
        peek.advance(model, now, rate, ready);
        Some(peek)
    }

    /// A custom metric's value for the whole workload at `now`: the
    /// arrival rate, the requests or executions waiting, the executions
    /// running. None when the workload does not produce it.
    pub fn custom_total(&self, metric: CustomMetric, now: SimTime, ready: u32) -> Option<f64> {
        match (metric, &self.activity) {
            (CustomMetric::RequestRate, _) => Some(self.rate_at(now)),
            (CustomMetric::QueueLength, Activity::Service { .. }) => {
                self.service_at(now, ready).map(|f| f.queued)
            }
            (CustomMetric::QueueLength, Activity::Executions { workers, .. }) => {
                Some(workers.queued() as f64)
            }
            (CustomMetric::RunningExecutions, Activity::Executions { workers, .. }) => {
                Some(workers.running() as f64)
            }
            (CustomMetric::RunningExecutions, Activity::Service { .. }) => None,
        }
    }

    /// A custom metric's value for one ready pod (a Pods metric): its own
    /// running executions, or its even share of the workload's rate or
    /// queue. None for a pod that is not ready (it serves nothing and a
    /// metrics adapter has no series for it).
    pub fn custom_per_pod(
        &self,
        metric: CustomMetric,
        pod: PodId,
        now: SimTime,
        ready: u32,
    ) -> Option<f64> {
        if let (CustomMetric::RunningExecutions, Activity::Executions { workers, .. }) =
            (metric, &self.activity)
        {
            return Some(workers.running_on(pod) as f64);
        }
        if ready == 0 {
            return None;
        }
        Some(self.custom_total(metric, now, ready)? / f64::from(ready))
    }
}

/// Every workload's usage state (None: no usage model) and the running
/// executions of all of them.
#[derive(Clone, Debug, Default)]
pub struct Serving {
    pub workloads: Vec<Option<WorkloadUsage>>,
    pub executions: Executions,
}

impl Serving {
    pub fn get(&self, workload: WorkloadId) -> Option<&WorkloadUsage> {
        self.workloads.get(workload as usize)?.as_ref()
    }

    /// Bytes held that grow with the run: waiting and running executions
    /// and the workers' entries (`sim::footprint`).
    pub fn bytes_held(&self) -> u64 {
        let workers: u64 = self
            .workloads
            .iter()
            .flatten()
            .map(|u| match &u.activity {
                Activity::Executions { workers, .. } => workers.bytes_held(),
                Activity::Service { .. } => 0,
            })
            .sum();
        workers + self.executions.bytes_held()
    }

    /// Whether any workload has a usage model (else no scrape runs).
    pub fn any(&self) -> bool {
        self.workloads.iter().any(Option::is_some)
    }
}

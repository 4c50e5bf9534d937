//! Every workload's load and usage state, read by the controllers (custom
//! and external metrics when they poll, resource metrics as last scraped)
//! and driven by the simulation (`sim::serving`).

use super::workers::{Executions, Workers};
use super::{ExecutionModel, PodUsage, ScrapedUsage, ServiceFluid, ServiceModel, UsageModel};
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
    /// Execution workers whose load peaks above `fluid_above_per_s`: the
    /// executions as a fluid through `service`, the workers' capacity
    /// (`ExecutionModel::as_fluid_service`), with an unbounded queue.
    ExecutionsFluid {
        model: ExecutionModel,
        service: ServiceModel,
        fluid: ServiceFluid,
        at_scrape: ServiceFluid,
        /// Executions put back in the queue when their worker went away.
        requeued: f64,
        /// Executions still running after workers left at this instant
        /// (several leave at once in a scale-down: each takes its share of
        /// what ran before, not of a queue the others just filled).
        running_after_loss: Option<(SimTime, f64)>,
    },
}

impl Activity {
    /// A running pod's use with nothing to serve (not ready, or idle).
    pub fn idle(&self) -> PodUsage {
        let (cpu_millis, memory_bytes) = match self {
            Activity::Service { model, .. } => (model.cpu_idle_millis, model.memory_base_bytes),
            Activity::Executions { model, .. } | Activity::ExecutionsFluid { model, .. } => {
                (model.cpu_idle_millis, model.memory_base_bytes)
            }
        };
        PodUsage {
            cpu_millis,
            memory_bytes,
        }
    }

    /// The fluid and its service, for a service or fluid executions.
    pub fn fluid(&self) -> Option<(&ServiceModel, &ServiceFluid)> {
        match self {
            Activity::Service { model, fluid, .. } => Some((model, fluid)),
            Activity::ExecutionsFluid { service, fluid, .. } => Some((service, fluid)),
            Activity::Executions { .. } => None,
        }
    }

    pub fn fluid_mut(&mut self) -> Option<(&ServiceModel, &mut ServiceFluid)> {
        match self {
            Activity::Service { model, fluid, .. } => Some((model, fluid)),
            Activity::ExecutionsFluid { service, fluid, .. } => Some((service, fluid)),
            Activity::Executions { .. } => None,
        }
    }
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
            UsageModel::Executions(m) => {
                let peak = load.as_ref().map_or(0.0, |l| l.spec().shape.max_rate());
                if m.is_fluid(peak) {
                    Activity::ExecutionsFluid {
                        model: m.clone(),
                        service: m.as_fluid_service(),
                        fluid: ServiceFluid::default(),
                        at_scrape: ServiceFluid::default(),
                        requeued: 0.0,
                        running_after_loss: None,
                    }
                } else {
                    Activity::Executions {
                        model: m.clone(),
                        workers: Box::new(Workers::new(m)),
                    }
                }
            }
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
        let (model, fluid) = self.activity.fluid()?;
        let mut peek = *fluid;
        let rate = self
            .load
            .as_ref()
            .map_or(0.0, |l| l.mean_over(fluid.last, now));
        peek.advance(model, now, rate, ready);
        Some(peek)
    }

    /// Brings the fluid (a service's, or fluid executions') to `now` with
    /// `ready` replicas serving since its last advance; nothing for
    /// event-driven workers.
    pub fn advance_fluid(&mut self, now: SimTime, ready: u32) {
        if let Some(advanced) = self.service_at(now, ready) {
            if let Some((_, fluid)) = self.activity.fluid_mut() {
                *fluid = advanced;
            }
        }
    }

    /// Executions running now in the fluid mode: those being served, by
    /// Little's law, up to every worker's slots.
    pub fn fluid_running(&self, now: SimTime, ready: u32) -> Option<f64> {
        let Activity::ExecutionsFluid { model, service, .. } = &self.activity else {
            return None;
        };
        let fluid = self.service_at(now, ready)?;
        let serving = fluid.serving_per_s(service, ready, self.rate_at(now));
        let slots = f64::from(model.max_concurrent) * f64::from(ready);
        Some((serving * model.mean_duration_s()).min(slots))
    }

    /// A custom metric's value for the whole workload at `now`: the
    /// arrival rate, the requests or executions waiting, the executions
    /// running. None when the workload does not produce it.
    pub fn custom_total(&self, metric: CustomMetric, now: SimTime, ready: u32) -> Option<f64> {
        match (metric, &self.activity) {
            (CustomMetric::RequestRate, _) => Some(self.rate_at(now)),
            (
                CustomMetric::QueueLength,
                Activity::Service { .. } | Activity::ExecutionsFluid { .. },
            ) => self.service_at(now, ready).map(|f| f.queued),
            (CustomMetric::RunningExecutions, Activity::ExecutionsFluid { .. }) => {
                self.fluid_running(now, ready)
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
                Activity::Service { .. } | Activity::ExecutionsFluid { .. } => 0,
            })
            .sum();
        workers + self.executions.bytes_held()
    }

    /// Whether any workload has a usage model (else no scrape runs).
    pub fn any(&self) -> bool {
        self.workloads.iter().any(Option::is_some)
    }
}

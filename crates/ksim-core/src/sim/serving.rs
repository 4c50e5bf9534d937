//! Load and usage: services' request fluids and execution workers driven
//! through the run, and metrics-server's scrapes.
//!
//! A service's fluid is advanced to the current instant before its ready
//! count changes, at every scrape and at every timeline sample, each time
//! with the load's exact mean over the interval (`usage::ServiceFluid`);
//! controllers read it without moving it. Executions are events: one
//! pending arrival per workload, one end per running execution.

use super::*;
use crate::usage::serving::{Activity, Serving, WorkloadUsage};
use crate::usage::PodUsage;

/// The random streams of a workload's executions.
pub(super) struct ExecutionStreams {
    pub(super) arrivals: SimRng,
    pub(super) durations: SimRng,
}

/// Builds every workload's usage state from the scenario; a load the core
/// cannot read (`SimConfig::check` tells why) is an error.
pub(super) fn serving_for(
    config: &SimConfig,
    streams: &RngStreams,
) -> Result<Serving, ConfigError> {
    let mut workloads = Vec::with_capacity(config.workloads.len());
    for w in &config.workloads {
        let Some(usage) = w.model.usage.as_ref() else {
            workloads.push(None);
            continue;
        };
        let load = match &w.model.load {
            None => None,
            Some(spec) => {
                let mut stream = streams.stream(&format!("workload/{}/load", w.name));
                let load = Load::new(spec.clone(), &mut stream).map_err(|e| {
                    ConfigError::BadWorkloadModel {
                        workload: w.name.clone(),
                        problem: e.to_string(),
                    }
                })?;
                Some(load)
            }
        };
        workloads.push(Some(WorkloadUsage::new(load, usage)));
    }
    Ok(Serving {
        workloads,
        executions: Default::default(),
    })
}

impl Simulation {
    /// The first scrape, and each execution workload's first arrival.
    pub(super) fn start_serving(&mut self) {
        if !self.serving.any() {
            return;
        }
        let first = SimTime::ZERO + self.config.autoscaling.metrics_resolution;
        if first <= self.config.end {
            self.schedule(first, Event::MetricsScrape);
        }
        for workload in 0..self.config.workloads.len() as WorkloadId {
            if self.executions_of(workload).is_some() {
                self.schedule_execution_arrival(workload, SimTime::ZERO);
            }
        }
    }

    fn executions_of(&self, workload: WorkloadId) -> Option<&WorkloadUsage> {
        self.serving
            .get(workload)
            .filter(|u| matches!(u.activity, Activity::Executions { .. }))
    }

    fn schedule_execution_arrival(&mut self, workload: WorkloadId, after: SimTime) {
        let w = workload as usize;
        let Some(usage) = self.serving.workloads[w].as_ref() else {
            return;
        };
        let Some(load) = &usage.load else {
            return;
        };
        let rng = &mut self.workloads[w]
            .executions
            .as_mut()
            .expect("an executions workload")
            .arrivals;
        if let Some(at) = load.spec().shape.next_arrival(after, rng) {
            if at <= self.config.end {
                self.schedule(at, Event::ExecutionArrives { workload });
            }
        }
    }

    pub(super) fn execution_arrives(&mut self, now: SimTime, workload: WorkloadId) {
        if let Some(Activity::Executions { workers, .. }) = self.activity_mut(workload) {
            workers.arrive(now);
        }
        self.start_executions(now, workload);
        self.schedule_execution_arrival(workload, now);
    }

    pub(super) fn execution_ends(&mut self, now: SimTime, execution: u32, generation: u32) {
        let Some(workload) = self.serving.executions.workload_of(execution, generation) else {
            return;
        };
        let Serving {
            workloads,
            executions,
        } = &mut self.serving;
        if let Some(Some(WorkloadUsage {
            activity: Activity::Executions { workers, .. },
            ..
        })) = workloads.get_mut(workload as usize)
        {
            workers.end(executions, now, execution);
        }
        self.start_executions(now, workload);
    }

    /// Starts queued executions on free worker slots, each with its drawn duration.
    fn start_executions(&mut self, now: SimTime, workload: WorkloadId) {
        let w = workload as usize;
        loop {
            let Serving {
                workloads,
                executions,
            } = &mut self.serving;
            let Some(Some(WorkloadUsage {
                activity: Activity::Executions { workers, model },
                ..
            })) = workloads.get_mut(w)
            else {
                return;
            };
            let Some(started) = workers.start_next(executions, workload, now) else {
                return;
            };
            let rng = &mut self.workloads[w]
                .executions
                .as_mut()
                .expect("an executions workload")
                .durations;
            let duration = SimDuration(model.duration.sample(rng));
            self.schedule(
                now + duration,
                Event::ExecutionEnds {
                    execution: started.execution,
                    generation: started.generation,
                },
            );
        }
    }

    fn activity_mut(&mut self, workload: WorkloadId) -> Option<&mut Activity> {
        self.serving
            .workloads
            .get_mut(workload as usize)?
            .as_mut()
            .map(|u| &mut u.activity)
    }

    /// A pod is about to become ready (`up`) or stop being ready: the
    /// service's fluid is brought to now with the count before the change;
    /// a worker joins, or leaves and gives its executions back to the queue.
    pub(super) fn ready_changing(&mut self, now: SimTime, pod: PodId, up: bool) {
        let workload = self.pods.workload[pod as usize];
        let ready = self.workload_counts[workload as usize].ready;
        let Serving {
            workloads,
            executions,
        } = &mut self.serving;
        let Some(Some(usage)) = workloads.get_mut(workload as usize) else {
            return;
        };
        if let Activity::Executions { workers, .. } = &mut usage.activity {
            if up {
                workers.worker_ready(now, pod);
            } else {
                workers.worker_gone(executions, pod, now);
            }
        } else {
            // A worker leaving the fluid takes its share of the running
            // executions back to the queue, as an event-mode worker does.
            let running = match &usage.activity {
                Activity::ExecutionsFluid {
                    running_after_loss: Some((at, running)),
                    ..
                } if *at == now => Some(*running),
                _ => usage.fluid_running(now, ready),
            };
            let lost = match (up, running) {
                (false, Some(running)) if ready > 0 => running / f64::from(ready),
                _ => 0.0,
            };
            usage.advance_fluid(now, ready);
            if let Some((_, fluid)) = usage.activity.fluid_mut() {
                fluid.requeue(lost);
            }
            if let Activity::ExecutionsFluid {
                requeued,
                running_after_loss,
                ..
            } = &mut usage.activity
            {
                *requeued += lost;
                *running_after_loss = running.filter(|_| !up).map(|r| (now, r - lost));
            }
        }
        // A new worker takes from the queue; a worker gone put its
        // executions back at the front, for the others' free slots.
        self.start_executions(now, workload);
    }

    /// Brings every service's fluid to `now` (a scrape or a sample reads it).
    pub(super) fn advance_services(&mut self, now: SimTime) {
        for (w, usage) in self.serving.workloads.iter_mut().enumerate() {
            if let Some(usage) = usage {
                usage.advance_fluid(now, self.workload_counts[w].ready);
            }
        }
    }

    /// metrics-server scrapes every kubelet: each pod's use averaged over
    /// the window since the previous scrape.
    pub(super) fn scrape_metrics(&mut self, now: SimTime) {
        self.advance_services(now);
        let window = self.config.autoscaling.metrics_resolution;
        for (w, usage) in self.serving.workloads.iter_mut().enumerate() {
            let Some(usage) = usage else { continue };
            let limits = self.config.workloads[w].template.limits;
            let idle = usage.activity.idle();
            let scraped = &mut usage.scraped;
            scraped.at = Some(now);
            scraped.window = window;
            scraped.idle = idle;
            // A ready replica's averages over the window, or its idle use
            // when no replica was ready in it.
            let averaged = |pair: Option<(f64, f64)>| {
                pair.map_or(idle, |(cpu_millis, memory_bytes)| PodUsage {
                    cpu_millis,
                    memory_bytes,
                })
            };
            match &mut usage.activity {
                Activity::Service {
                    model,
                    fluid,
                    at_scrape,
                } => {
                    scraped.ready = averaged(crate::usage::service_usage_per_replica(
                        model, at_scrape, fluid,
                    ));
                    *at_scrape = *fluid;
                }
                Activity::ExecutionsFluid {
                    model,
                    fluid,
                    at_scrape,
                    ..
                } => {
                    scraped.ready = averaged(crate::usage::fluid_execution_usage_per_worker(
                        model, at_scrape, fluid,
                    ));
                    *at_scrape = *fluid;
                }
                Activity::Executions { model, workers } => {
                    scraped.workers = workers.scrape(now, window, model);
                    scraped.is_workers = true;
                }
            }
            cap_at_limits(scraped, &limits);
        }
        let next = now + window;
        if next <= self.config.end {
            self.schedule(next, Event::MetricsScrape);
        }
    }
}

/// A pod never uses more than its limits: cpu is throttled there, and
/// memory stays there (the out-of-memory kill a container meets at its
/// limit is not modelled).
fn cap_at_limits(scraped: &mut crate::usage::ScrapedUsage, limits: &crate::config::Limits) {
    let cap = |u: &mut PodUsage| {
        if let Some(cpu) = limits.cpu_millis {
            u.cpu_millis = u.cpu_millis.min(cpu as f64);
        }
        if let Some(memory) = limits.memory_bytes {
            u.memory_bytes = u.memory_bytes.min(memory as f64);
        }
    };
    cap(&mut scraped.ready);
    cap(&mut scraped.idle);
    scraped.workers.values_mut().for_each(cap);
}

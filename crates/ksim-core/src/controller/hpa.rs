//! The Horizontal Pod Autoscaler controller on one deployment, as
//! kube-controller-manager's `reconcileAutoscaler` runs it every sync
//! period: read the scale subresource and the target's pods, compute a
//! proposal per metric (`autoscale::hpa::calculator`), keep the largest,
//! normalize it (stabilization, rate limits, min and max:
//! `autoscale::hpa::behavior`), and set the replicas when they change.
//!
//! Resource metrics are metrics-server's last scrape (a pod has none
//! before its first); Pods, Object and External metrics are read when the
//! controller polls, as a custom-metrics adapter serves them.

use super::{Action, ClusterView, Controller, Decision, DecisionTarget, Subscriptions, Wake};
use crate::autoscale::hpa::behavior::{self, ScalingHistory};
use crate::autoscale::hpa::calculator::{
    self, CalculatorError, PodMetric, PodSample, Proposal, ScaleReplicas,
};
use crate::autoscale::hpa::{
    CustomMetric, HpaControllerSettings, HpaSpec, MetricSpec, ResourceName, ResourceTarget,
    ValueTarget,
};
use crate::cluster::NEVER;
use crate::ids::{PodId, WorkloadId};
use crate::resources::{CPU, MEMORY};
use crate::time::SimTime;

/// One HPA.
pub struct HpaController {
    name: String,
    workload: WorkloadId,
    spec: HpaSpec,
    settings: HpaControllerSettings,
    first: SimTime,
    history: ScalingHistory,
    /// The counts of the last decision row (current, proposed, stabilized,
    /// desired): a sync that would repeat it adds no row.
    last_row: Option<(u32, u32, u32, u32)>,
}

/// What a pod's sample is taken from.
#[derive(Copy, Clone)]
enum Source {
    Resource(ResourceName),
    Custom(CustomMetric),
    /// Object and External metrics read no per-pod value.
    None,
}

impl HpaController {
    /// An HPA created with its deployment at `created`: its first sync is
    /// one period later.
    pub fn new(
        workload_name: &str,
        workload: WorkloadId,
        spec: HpaSpec,
        settings: HpaControllerSettings,
        created: SimTime,
    ) -> Self {
        Self::named(
            format!("hpa/{workload_name}"),
            workload,
            spec,
            settings,
            created,
        )
    }

    /// An HPA with a given name (KEDA's own is `keda-hpa/<workload>`).
    pub fn named(
        name: String,
        workload: WorkloadId,
        spec: HpaSpec,
        settings: HpaControllerSettings,
        created: SimTime,
    ) -> Self {
        HpaController {
            name,
            workload,
            spec,
            settings,
            first: created + settings.sync_period,
            history: ScalingHistory::default(),
            last_row: None,
        }
    }

    /// The target's pods as the calculator sees them, each with its sample
    /// of `source` if it has one.
    fn pods(&self, view: &ClusterView, now: SimTime, source: Source) -> Vec<PodSample> {
        let ready_count = view.workload_counts(self.workload).ready;
        view.workload_pods(self.workload)
            .map(|pod| {
                let mut sample = pod_status(view, pod);
                match source {
                    Source::Resource(resource) => {
                        let dim = match resource {
                            ResourceName::Cpu => CPU,
                            ResourceName::Memory => MEMORY,
                        };
                        let request = view.pods().requests[pod as usize].0[dim];
                        sample.request_milli = Some(to_milli(request as f64, resource));
                        sample.metric = self.resource_sample(view, pod, resource);
                    }
                    Source::Custom(metric) => {
                        sample.metric = self
                            .custom_sample(view, pod, metric, now, ready_count)
                            .map(|value| PodMetric {
                                value_milli: milli(value),
                                timestamp: now,
                                window: crate::time::SimDuration::ZERO,
                            });
                    }
                    Source::None => {}
                }
                sample
            })
            .collect()
    }

    /// A Pods metric's value for one pod as an adapter serves it: a ready
    /// pod's own (or its share), 0 for a running pod that is not ready (it
    /// serves nothing), none for a pod that is not running.
    fn custom_sample(
        &self,
        view: &ClusterView,
        pod: PodId,
        metric: CustomMetric,
        now: SimTime,
        ready_count: u32,
    ) -> Option<f64> {
        let pods = view.pods();
        if pods.phase[pod as usize] != crate::pod_phase::PodPhase::Running {
            return None;
        }
        if pods.ready_since[pod as usize] == NEVER {
            return Some(0.0);
        }
        view.usage(self.workload)?
            .custom_per_pod(metric, pod, now, ready_count)
    }

    /// metrics-server's last sample of the pod, in milli-units.
    fn resource_sample(
        &self,
        view: &ClusterView,
        pod: PodId,
        resource: ResourceName,
    ) -> Option<PodMetric> {
        let usage = view.usage(self.workload)?;
        let pods = view.pods();
        let p = pod as usize;
        let sample = usage
            .scraped
            .pod(pod, pods.started[p], pods.ready_since[p])?;
        let value = match resource {
            ResourceName::Cpu => sample.cpu_millis,
            ResourceName::Memory => sample.memory_bytes,
        };
        Some(PodMetric {
            value_milli: to_milli(value, resource),
            timestamp: usage.scraped.at?,
            window: usage.scraped.window,
        })
    }

    /// One metric's proposal, with the value an Object or External metric
    /// read (for its `decisions.csv` label, formatted only when a row is
    /// written).
    fn propose(
        &self,
        view: &ClusterView,
        now: SimTime,
        scale: ScaleReplicas,
        metric: &MetricSpec,
    ) -> Reading {
        let settings = &self.settings;
        let current = scale.spec;
        match *metric {
            MetricSpec::Resource { name, target } => {
                let pods = self.pods(view, now, Source::Resource(name));
                let result =
                    calculator::resource_replicas(current, target, name, &pods, now, settings);
                (result, None)
            }
            MetricSpec::Pods {
                metric,
                average_value_milli,
            } => {
                let pods = self.pods(view, now, Source::Custom(metric));
                let result =
                    calculator::pods_metric_replicas(current, average_value_milli, &pods, settings);
                (result, None)
            }
            MetricSpec::Object {
                metric: custom,
                workload,
                target,
            }
            | MetricSpec::External {
                metric: custom,
                workload,
                target,
            } => {
                let pods = self.pods(view, now, Source::None);
                let usage = custom_total(view, workload, custom, now);
                let read = usage.as_ref().ok().copied();
                let result = usage.and_then(|usage| match metric {
                    MetricSpec::Object { .. } => {
                        calculator::object_replicas(scale, target, usage, &pods, settings)
                    }
                    _ => calculator::external_replicas(scale, target, &[usage], &pods, settings),
                });
                (result, read)
            }
        }
    }
}

/// A metric's proposal.
type ProposalResult = Result<Proposal, CalculatorError>;

/// A metric's proposal and, for Object and External metrics, the value read.
type Reading = (ProposalResult, Option<i64>);

/// How a metric reads in `decisions.csv`: `name current/target`.
fn metric_label(
    metric: &MetricSpec,
    result: &ProposalResult,
    read: Option<i64>,
    scale: ScaleReplicas,
) -> String {
    let proposal = result.as_ref().ok();
    match *metric {
        MetricSpec::Resource { name, target } => resource_label(name, target, proposal),
        MetricSpec::Pods {
            metric,
            average_value_milli,
        } => format!(
            "{} {}/{}",
            metric.as_str(),
            shown(proposal.map(|p| p.usage)),
            from_milli(average_value_milli)
        ),
        MetricSpec::Object { metric, target, .. } | MetricSpec::External { metric, target, .. } => {
            value_label(metric, target, read, scale)
        }
    }
}

impl Controller for HpaController {
    fn name(&self) -> &str {
        &self.name
    }

    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }

    fn first_wake(&self) -> Option<SimTime> {
        Some(self.first)
    }

    fn wake(&mut self, mut wake: Wake) -> Option<SimTime> {
        self.sync(&mut wake);
        Some(wake.now + self.settings.sync_period)
    }
}

impl HpaController {
    pub fn first_sync(&self) -> SimTime {
        self.first
    }

    pub fn sync_period(&self) -> crate::time::SimDuration {
        self.settings.sync_period
    }

    /// One reconcile (upstream's `reconcileAutoscaler`): a decision row when
    /// the count changes, or when the metrics want a change that is held
    /// back (stabilization, limits) and the counts differ from the last
    /// row's; and the new count.
    pub fn sync(&mut self, wake: &mut Wake) {
        let now = wake.now;
        let current = wake.view.workload_counts(self.workload).desired;
        let (min, max) = (self.spec.min_replicas, self.spec.max_replicas);
        self.history.record_initial_recommendation(now, current);
        // Upstream: a target scaled to zero by hand has autoscaling disabled.
        if current == 0 && min != 0 {
            return;
        }
        let mut read: Option<(Vec<ProposalResult>, Vec<Option<i64>>, ScaleReplicas)> = None;
        let mut decision = if current > max {
            self.bound(
                now,
                current,
                max,
                "Current number of replicas above Spec.MaxReplicas",
            )
        } else if current < min {
            self.bound(
                now,
                current,
                min,
                "Current number of replicas below Spec.MinReplicas",
            )
        } else {
            let scale = ScaleReplicas {
                spec: current,
                status: wake.view.workload_counts(self.workload).active(),
            };
            let (results, reads): (Vec<_>, Vec<_>) = self
                .spec
                .metrics
                .iter()
                .map(|m| self.propose(&wake.view, now, scale, m))
                .unzip();
            let Ok(combined) = calculator::combine(current, &results) else {
                // Upstream records the failure and leaves the count alone.
                return;
            };
            let normalized = behavior::normalize(
                &self.spec,
                &self.settings,
                &mut self.history,
                now,
                current,
                combined.replicas,
            );
            read = Some((results, reads, scale));
            Decision {
                at: now,
                controller: self.name.clone(),
                action: "scale",
                target: DecisionTarget::Workload(self.workload),
                inputs: String::new(),
                current,
                proposed: combined.replicas,
                stabilized: normalized.stabilized,
                desired: normalized.desired,
                reason: format!(
                    "{}, {}",
                    normalized.stabilization.as_str(),
                    normalized.limit.as_str()
                ),
            }
        };
        let desired = decision.desired;
        let row = (current, decision.proposed, decision.stabilized, desired);
        let wanted_a_change = decision.proposed != current || desired != current;
        if wanted_a_change && (desired != current || self.last_row != Some(row)) {
            if let Some((results, reads, scale)) = &read {
                decision.inputs = self
                    .spec
                    .metrics
                    .iter()
                    .zip(results.iter().zip(reads))
                    .map(|(m, (result, read))| metric_label(m, result, *read, *scale))
                    .collect::<Vec<_>>()
                    .join("; ");
            }
            wake.decisions.push(decision);
            self.last_row = Some(row);
        }
        if desired != current {
            let behavior = self.spec.behavior.as_ref();
            self.history
                .record_scale_event(behavior, now, current, desired);
            wake.actions.push(Action::SetReplicas {
                workload: self.workload,
                replicas: desired,
            });
        }
    }

    /// Bringing a count back between min and max, which upstream does
    /// without consulting the metrics.
    fn bound(&self, now: SimTime, current: u32, to: u32, reason: &str) -> Decision {
        Decision {
            at: now,
            controller: self.name.clone(),
            action: "scale",
            target: DecisionTarget::Workload(self.workload),
            inputs: String::new(),
            current,
            proposed: to,
            stabilized: to,
            desired: to,
            reason: reason.to_string(),
        }
    }
}

/// A pod's status fields the calculator reads; its sample is added by the caller.
fn pod_status(view: &ClusterView, pod: PodId) -> PodSample {
    let pods = view.pods();
    let p = pod as usize;
    let started = (pods.started[p] != NEVER).then_some(pods.started[p]);
    let ready_since = pods.ready_since[p];
    // A pod gets its Ready condition (False) once scheduled.
    let ready = (pods.bound[p] != NEVER).then_some(ready_since != NEVER);
    let ready_transition = if ready_since != NEVER {
        ready_since
    } else {
        started.unwrap_or(pods.created[p])
    };
    PodSample {
        phase: pods.phase[p],
        deleting: pods.deleting[p],
        ready,
        started,
        ready_transition,
        request_milli: None,
        metric: None,
    }
}

/// A workload's custom metric as the adapter serves it now, in milli-units.
fn custom_total(
    view: &ClusterView,
    workload: WorkloadId,
    metric: CustomMetric,
    now: SimTime,
) -> Result<i64, CalculatorError> {
    let ready = view.workload_counts(workload).ready;
    view.usage(workload)
        .and_then(|u| u.custom_total(metric, now, ready))
        .map(milli)
        .ok_or(CalculatorError::MetricUnavailable {
            metric: metric.as_str(),
        })
}

/// A plain value in milli-units, as upstream's `MilliValue`.
fn milli(value: f64) -> i64 {
    (value * 1000.0).round() as i64
}

/// A resource amount in upstream's milli-value: millicores are already
/// milli-units; bytes are not.
fn to_milli(amount: f64, resource: ResourceName) -> i64 {
    match resource {
        ResourceName::Cpu => amount.round() as i64,
        ResourceName::Memory => milli(amount),
    }
}

fn from_milli(value: i64) -> String {
    let v = value as f64 / 1000.0;
    format!("{v}")
}

fn shown(usage_milli: Option<i64>) -> String {
    usage_milli.map_or("?".into(), from_milli)
}

fn resource_label(
    name: ResourceName,
    target: ResourceTarget,
    proposal: Option<&Proposal>,
) -> String {
    let shown_as = |milli_value: i64| match name {
        ResourceName::Cpu => format!("{milli_value}m"),
        ResourceName::Memory => format!("{}", milli_value / 1000),
    };
    let label = name.as_str();
    match target {
        ResourceTarget::Utilization(percent) => {
            let current = proposal.map_or("?".into(), |p| p.usage.to_string());
            format!("{label} {current}%/{percent}%")
        }
        ResourceTarget::AverageValueMilli(average) => {
            let current = proposal.map_or("?".into(), |p| shown_as(p.usage));
            format!("{label} {current}/{}", shown_as(average))
        }
    }
}

/// `metric current/target`: the total for a Value target, the total over
/// the current replicas for an AverageValue one (as the HPA's status shows).
fn value_label(
    metric: CustomMetric,
    target: ValueTarget,
    usage_milli: Option<i64>,
    scale: ScaleReplicas,
) -> String {
    let (current, target) = match target {
        ValueTarget::ValueMilli(v) => (usage_milli, v),
        ValueTarget::AverageValueMilli(v) => {
            let average = usage_milli
                .filter(|_| scale.status > 0)
                .map(|u| u / i64::from(scale.status));
            (average, v)
        }
    };
    format!(
        "{} {}/{}",
        metric.as_str(),
        shown(current),
        from_milli(target)
    )
}

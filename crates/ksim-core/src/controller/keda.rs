//! A KEDA-style ScaledObject on one deployment: its scale executor polls
//! the triggers every `polling_interval` and takes the target from zero to
//! max(min, 1) when one is active, and back to zero (or the idle count)
//! once none has been for `cooldown_period`; between 1 and max, the HPA KEDA
//! creates scales it on the triggers as External AverageValue metrics
//! (`autoscale::keda`). Both run in this one controller, so their writes at
//! one instant cannot cross: when the executor writes, the HPA skips that
//! instant.

use super::hpa::HpaController;
use super::{Action, ClusterView, Controller, Decision, DecisionTarget, Subscriptions, Wake};
use crate::autoscale::hpa::{HpaControllerSettings, ResourceName};
use crate::autoscale::keda::{
    self, KedaDecision, KedaMetric, KedaSpec, ScaledObjectState, Trigger,
};
use crate::ids::WorkloadId;
use crate::time::SimTime;

pub struct KedaController {
    name: String,
    workload: WorkloadId,
    spec: KedaSpec,
    state: ScaledObjectState,
    hpa: HpaController,
    next_poll: SimTime,
    next_sync: SimTime,
}

impl KedaController {
    /// A ScaledObject created with its deployment at `created`: it polls
    /// from then on, its HPA syncs from one period later.
    pub fn new(
        workload_name: &str,
        workload: WorkloadId,
        spec: KedaSpec,
        settings: HpaControllerSettings,
        created: SimTime,
    ) -> Self {
        let hpa_spec = keda::hpa_for(&spec);
        let hpa = HpaController::named(
            format!("keda-hpa/{workload_name}"),
            workload,
            hpa_spec,
            settings,
            created,
        );
        KedaController {
            name: format!("keda/{workload_name}"),
            workload,
            next_poll: created + spec.polling_interval,
            next_sync: hpa.first_sync(),
            state: ScaledObjectState::new(created),
            spec,
            hpa,
        }
    }

    /// A trigger's metric now: a custom metric's total, or the workload's
    /// CPU use.
    fn trigger_value(&self, view: &ClusterView, trigger: &Trigger, now: SimTime) -> f64 {
        let ready = view.workload_counts(trigger.workload).ready;
        let Some(usage) = view.usage(trigger.workload) else {
            return 0.0;
        };
        match trigger.metric {
            KedaMetric::Custom(metric) => usage.custom_total(metric, now, ready).unwrap_or(0.0),
            // Never read for activity: KEDA's resource scalers are always
            // active. Shown in decisions.csv as the scraped total.
            KedaMetric::Resource { name, .. } => usage.scraped.mean_ready().map_or(0.0, |u| {
                let per_pod = match name {
                    ResourceName::Cpu => u.cpu_millis,
                    ResourceName::Memory => u.memory_bytes,
                };
                per_pod * f64::from(ready)
            }),
        }
    }

    /// The executor's poll; true when it wrote a count.
    fn poll(&mut self, wake: &mut Wake) -> bool {
        let now = wake.now;
        let current = wake.view.workload_counts(self.workload).desired;
        let view = wake.view;
        let values: Vec<(String, f64)> = self
            .spec
            .triggers
            .iter()
            .map(|t| (trigger_name(t), self.trigger_value(&view, t, now)))
            .collect();
        let mut i = 0;
        let active = keda::is_active(&self.spec, |_| {
            let v = values[i].1;
            i += 1;
            v
        });
        let outcome = keda::poll(&self.spec, &mut self.state, current, active, now);
        let Some(replicas) = outcome.decision.replicas().filter(|&r| r != current) else {
            return false;
        };
        let metrics = values
            .iter()
            .zip(&self.spec.triggers)
            .map(|((name, value), t)| {
                format!("{name} {value}/activation {}", t.activation_threshold)
            })
            .collect::<Vec<_>>()
            .join("; ");
        wake.decisions.push(Decision {
            at: now,
            controller: self.name.clone(),
            action: "scale",
            target: DecisionTarget::Workload(self.workload),
            inputs: metrics,
            current,
            proposed: replicas,
            stabilized: replicas,
            desired: replicas,
            reason: decision_reason(outcome.decision).to_string(),
        });
        wake.actions.push(Action::SetReplicas {
            workload: self.workload,
            replicas,
        });
        true
    }
}

fn trigger_name(trigger: &Trigger) -> String {
    match trigger.metric {
        KedaMetric::Custom(m) => m.as_str().to_string(),
        KedaMetric::Resource { name, .. } => name.as_str().to_string(),
    }
}

fn decision_reason(decision: KedaDecision) -> &'static str {
    match decision {
        KedaDecision::Activate { .. } => {
            "ScaledObject active: scaled from zero (or idle) to max(min, 1)"
        }
        KedaDecision::Deactivate { .. } => {
            "ScaledObject inactive for the cooldown: scaled in to idle or min"
        }
        KedaDecision::RaiseToMin { .. } => "below minReplicaCount: raised to min",
        KedaDecision::CoolingDown | KedaDecision::Unchanged => "unchanged",
    }
}

impl Controller for KedaController {
    fn name(&self) -> &str {
        &self.name
    }

    fn subscriptions(&self) -> Subscriptions {
        Subscriptions::NONE
    }

    fn first_wake(&self) -> Option<SimTime> {
        Some(self.next_poll.min(self.next_sync))
    }

    fn wake(&mut self, mut wake: Wake) -> Option<SimTime> {
        let now = wake.now;
        let mut wrote = false;
        if now == self.next_poll {
            wrote = self.poll(&mut wake);
            self.next_poll = now + self.spec.polling_interval;
        }
        if now == self.next_sync {
            let current = wake.view.workload_counts(self.workload).desired;
            if !wrote && keda::hpa_in_charge(current) {
                self.hpa.sync(&mut wake);
            }
            self.next_sync = now + self.hpa.sync_period();
        }
        Some(self.next_poll.min(self.next_sync))
    }
}

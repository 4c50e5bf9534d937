//! `[workloads.keda]`: a KEDA ScaledObject on a deployment, validated as
//! KEDA's admission webhook validates one (kedacore/keda
//! apis/keda/v1alpha1: CheckReplicaCountBoundsAreValid,
//! verifyCPUMemoryScalers).

use ksim_core::autoscale::hpa::{CustomMetric, ResourceName};
use ksim_core::autoscale::keda::{KedaMetric, KedaSpec, Trigger};
use ksim_core::config::Autoscaler;
use ksim_core::ids::WorkloadId;
use ksim_core::time::SimDuration;

use crate::autoscaling::{self, whole_seconds, Draft, Metric, Read};
use crate::behavior;
use crate::distributions::{scalar, Unit};
use crate::names;
use crate::reader::{self, Ctx, Fields, Node, Place};

const KEDA_KEYS: &[&str] = &[
    "polling_interval",
    "cooldown_period",
    "min_replicas",
    "idle_replicas",
    "max_replicas",
    "triggers",
    "behavior",
];
const TRIGGER_KEYS: &[&str] = &[
    "metric",
    "target",
    "utilization",
    "activation_threshold",
    "workload",
];
const TRIGGER_METRICS: &[&str] = &[
    "queue_length",
    "running_executions",
    "request_rate",
    "cpu",
    "memory",
];
/// KEDA's defaults: `pollingInterval` 30, `cooldownPeriod` 300,
/// `maxReplicaCount` 100 (`minReplicaCount` 0).
const DEFAULT_POLLING_INTERVAL: SimDuration = SimDuration::from_secs(30);
const DEFAULT_COOLDOWN_PERIOD: SimDuration = SimDuration::from_secs(300);
const DEFAULT_MAX_REPLICAS: u32 = 100;

/// `[workloads.keda]` of workload `own`; `downscale_stabilization` is the
/// HPA controller's flag, which fills a behavior's scale-down window.
pub(crate) fn read(
    ctx: &mut Ctx,
    node: &Node,
    own: WorkloadId,
    downscale_stabilization: SimDuration,
) -> Option<Draft> {
    let fields = reader::table(ctx, node, KEDA_KEYS)?;
    let polling_interval =
        fields
            .get("polling_interval")
            .map_or(Some(DEFAULT_POLLING_INTERVAL), |n| {
                let d = whole_seconds(ctx, &n, None)?;
                if d == SimDuration::ZERO {
                    ctx.error(
                        &n.span,
                        &n.path,
                        "polling_interval must be greater than zero",
                    );
                    return None;
                }
                Some(d)
            });
    let cooldown_period = fields
        .get("cooldown_period")
        .map_or(Some(DEFAULT_COOLDOWN_PERIOD), |n| {
            whole_seconds(ctx, &n, None)
        });
    let min_node = fields.get("min_replicas");
    let min_replicas = min_node
        .as_ref()
        .map_or(Some(0), |n| autoscaling::replicas(ctx, n));
    let idle_replicas = match fields.get("idle_replicas") {
        None => Some(None),
        Some(n) => autoscaling::replicas(ctx, &n).map(Some),
    };
    let max_replicas = fields
        .get("max_replicas")
        .map_or(Some(DEFAULT_MAX_REPLICAS), |n| {
            let max = autoscaling::replicas(ctx, &n)?;
            if max == 0 {
                ctx.error(
                    &n.span,
                    &n.path,
                    "max_replicas must be greater than 0 (it is the maxReplicas of the HPA KEDA \
                     creates, which upstream requires to be at least 1)",
                );
                return None;
            }
            Some(max)
        });
    let triggers = read_triggers(ctx, &fields, own);
    let behavior = match fields.get("behavior") {
        None => Some(None),
        Some(n) => behavior::read(ctx, &n, downscale_stabilization).map(Some),
    };
    let (min_replicas, idle_replicas, max_replicas) =
        (min_replicas?, idle_replicas?, max_replicas?);
    let bounds_ok = check_bounds(
        ctx,
        &fields,
        min_node.is_some(),
        min_replicas,
        idle_replicas,
        max_replicas,
    );
    let (triggers, reads) = triggers?;
    let zero_ok = check_scale_to_zero(ctx, &fields, &triggers, min_replicas);
    (bounds_ok && zero_ok).then_some(Draft {
        autoscaler: Autoscaler::Keda(KedaSpec {
            polling_interval: polling_interval?,
            cooldown_period: cooldown_period?,
            min_replicas,
            idle_replicas,
            max_replicas,
            triggers,
            behavior: behavior?,
        }),
        reads,
    })
}

/// KEDA's CheckReplicaCountBoundsAreValid: min not above max, and idle
/// below min, where min is 0 when not written and, when written, at least
/// 1 (the minReplicas of the HPA KEDA creates: GetHPAMinReplicas).
fn check_bounds(
    ctx: &mut Ctx,
    fields: &Fields,
    min_written: bool,
    min: u32,
    idle: Option<u32>,
    max: u32,
) -> bool {
    if min > max {
        let place = Place::of(fields, "min_replicas");
        ctx.error(
            &place.span,
            &place.path,
            format!("min_replicas ({min}) must not be above max_replicas ({max})"),
        );
        return false;
    }
    let Some(idle) = idle else {
        return true;
    };
    let place = Place::of(fields, "idle_replicas");
    let bound = if min_written { min.max(1) } else { 0 };
    if idle >= bound {
        let why = if min_written {
            String::new()
        } else {
            " (min_replicas is not written, so KEDA compares with 0)".to_string()
        };
        ctx.error(
            &place.span,
            &place.path,
            format!("idle_replicas ({idle}) must be below min_replicas ({bound}){why}"),
        );
        return false;
    }
    if idle > 0 {
        ctx.warn(
            &place.span,
            &place.path,
            "KEDA documents 0 as the only idle_replicas that works with its HPA \
             (kedacore/keda#2314)",
        );
    }
    true
}

/// KEDA refuses a ScaledObject whose triggers are all cpu or memory with
/// minReplicaCount 0: resource metrics never go inactive, so it could not
/// scale to zero (verifyCPUMemoryScalers).
fn check_scale_to_zero(ctx: &mut Ctx, fields: &Fields, triggers: &[Trigger], min: u32) -> bool {
    let only_resources = triggers.iter().all(|t| t.metric.is_resource());
    if !(only_resources && min == 0) {
        return true;
    }
    let place = Place::of(fields, "min_replicas");
    ctx.error(
        &place.span,
        &place.path,
        "with only cpu or memory triggers min_replicas must be at least 1: KEDA's cpu and \
         memory scalers are always active, so it would never scale to zero (KEDA refuses it)",
    );
    false
}

fn read_triggers(
    ctx: &mut Ctx,
    fields: &Fields,
    own: WorkloadId,
) -> Option<(Vec<Trigger>, Vec<Read>)> {
    let node = fields.require_with(
        ctx,
        "triggers",
        " (e.g. [{ metric = \"queue_length\", target = 5 }])",
    )?;
    let elements = reader::array(ctx, &node)?;
    if elements.is_empty() {
        ctx.error(
            &node.span,
            &node.path,
            "a ScaledObject needs at least one trigger",
        );
        return None;
    }
    let mut triggers = Vec::with_capacity(elements.len());
    let mut reads = Vec::with_capacity(elements.len());
    let mut ok = true;
    for (slot, element) in elements.iter().enumerate() {
        match read_trigger(ctx, element, own, slot) {
            Some((trigger, read)) => {
                triggers.push(trigger);
                reads.push(read);
            }
            None => ok = false,
        }
    }
    ok.then_some((triggers, reads))
}

/// `{ metric = "queue_length", target = 5, activation_threshold = 0 }`.
fn read_trigger(
    ctx: &mut Ctx,
    node: &Node,
    own: WorkloadId,
    slot: usize,
) -> Option<(Trigger, Read)> {
    let fields = reader::table(ctx, node, TRIGGER_KEYS)?;
    let metric = fields
        .require_with(
            ctx,
            "metric",
            &format!(" (one of {})", names::list(TRIGGER_METRICS)),
        )
        .and_then(|n| reader::choice(ctx, &n, TRIGGER_METRICS))?;
    let resource = match metric {
        "cpu" => Some(ResourceName::Cpu),
        "memory" => Some(ResourceName::Memory),
        _ => None,
    };
    let (metric, target) = match (
        resource,
        CustomMetric::ALL.into_iter().find(|m| m.as_str() == metric),
    ) {
        (Some(name), _) => resource_target(ctx, &fields, node, name)?,
        (None, Some(custom)) => {
            let metric = KedaMetric::Custom(custom);
            if let Some(n) = fields.get("utilization") {
                ctx.error(
                    &n.span,
                    &n.path,
                    "utilization is for cpu and memory triggers; a custom metric takes `target`",
                );
                return None;
            }
            let target = fields
                .require(ctx, "target")
                .and_then(|n| trigger_value(ctx, &n, metric, true));
            (metric, target)
        }
        (None, None) => return None,
    };
    let activation = match (metric, fields.get("activation_threshold")) {
        (_, None) => Some(0.0),
        (KedaMetric::Resource { name, .. }, Some(n)) => {
            ctx.error(
                &n.span,
                &n.path,
                format!(
                    "KEDA's {} scaler has no activation: it is always active",
                    name.as_str()
                ),
            );
            None
        }
        (_, Some(n)) => trigger_value(ctx, &n, metric, false),
    };
    let workload = match (metric, fields.get("workload")) {
        (_, None) => Some(None),
        (KedaMetric::Resource { name, .. }, Some(n)) => {
            let name = name.as_str();
            ctx.error(
                &n.span,
                &n.path,
                format!(
                    "a {name} trigger reads the scaled workload's pods (KEDA's {name} scaler is \
                     a Resource metric of its scale target); `workload` does not apply"
                ),
            );
            None
        }
        (_, Some(n)) => reader::name(ctx, &n).map(|name| {
            let at = Place {
                path: n.path.clone(),
                span: n.span.clone(),
            };
            Some((name.to_string(), at))
        }),
    };
    let read = Read {
        slot,
        workload: workload?,
        metric: match metric {
            KedaMetric::Resource {
                name: ResourceName::Cpu,
                ..
            } => Metric::Cpu,
            KedaMetric::Resource {
                name: ResourceName::Memory,
                ..
            } => Metric::Memory,
            KedaMetric::Custom(custom) => Metric::Custom(custom),
        },
        needs_request: metric.is_resource(),
        place: Place {
            path: node.path.clone(),
            span: node.span.clone(),
        },
    };
    let trigger = Trigger {
        metric,
        workload: own,
        target: target?,
        activation_threshold: activation?,
    };
    Some((trigger, read))
}

/// A cpu or memory trigger's target: exactly one of `utilization` (an
/// integer percent of the request, at least 1: KEDA's `metricType:
/// Utilization`) or `target` (a quantity per pod: `AverageValue`).
fn resource_target(
    ctx: &mut Ctx,
    fields: &Fields,
    node: &Node,
    name: ResourceName,
) -> Option<(KedaMetric, Option<f64>)> {
    match (fields.get("utilization"), fields.get("target")) {
        (Some(u), None) => {
            let percent = reader::integer(ctx, &u)?;
            if percent < 1 || percent > i64::from(i32::MAX) {
                ctx.error(
                    &u.span,
                    &u.path,
                    "utilization must be an integer percent of at least 1",
                );
                return None;
            }
            let metric = KedaMetric::Resource {
                name,
                utilization: true,
            };
            Some((metric, Some(percent as f64)))
        }
        (None, Some(t)) => {
            let metric = KedaMetric::Resource {
                name,
                utilization: false,
            };
            Some((metric, trigger_value(ctx, &t, metric, true)))
        }
        (Some(u), Some(_)) => {
            ctx.error(&u.span, &u.path, "give `utilization` or `target`, not both");
            None
        }
        (None, None) => {
            ctx.error(
                &node.span,
                &node.path,
                format!(
                    "a {} trigger needs `utilization` (percent of the request) or `target` \
                     (a quantity per pod)",
                    name.as_str()
                ),
            );
            None
        }
    }
}

/// A target or activation threshold: a cpu quantity (millicores) for cpu,
/// a memory quantity (bytes) for memory, a plain number otherwise; a target
/// must be greater than zero.
fn trigger_value(ctx: &mut Ctx, node: &Node, metric: KedaMetric, target: bool) -> Option<f64> {
    let value = match metric {
        KedaMetric::Resource {
            name: ResourceName::Cpu,
            ..
        } => scalar(ctx, node, Unit::Cpu)? as f64,
        KedaMetric::Resource {
            name: ResourceName::Memory,
            ..
        } => scalar(ctx, node, Unit::Bytes)? as f64,
        KedaMetric::Custom(_) => reader::number(ctx, node)?,
    };
    if target {
        return reader::positive(ctx, node, value);
    }
    Some(value)
}

//! `[workloads.hpa]`: a HorizontalPodAutoscaler (autoscaling/v2) on a
//! deployment, validated as upstream's API server validates one
//! (pkg/apis/autoscaling/validation).

use ksim_core::autoscale::hpa::{
    CustomMetric, HpaSpec, MetricSpec, ResourceName, ResourceTarget, ValueTarget,
};
use ksim_core::config::Autoscaler;
use ksim_core::ids::WorkloadId;
use ksim_core::time::SimDuration;

use crate::autoscaling::{self, Draft, Metric, Read};
use crate::behavior;
use crate::distributions::{scalar, Unit};
use crate::names;
use crate::reader::{self, Ctx, Fields, Node, Place};

const HPA_KEYS: &[&str] = &["min_replicas", "max_replicas", "metrics", "behavior"];
const METRIC_KEYS: &[&str] = &[
    "type",
    "resource",
    "metric",
    "utilization",
    "average_value",
    "value",
    "workload",
];
const METRIC_TYPES: &[&str] = &["resource", "pods", "object", "external"];
const RESOURCES: &[&str] = &["cpu", "memory"];
/// Upstream's default metric: cpu at 80% of the pods' requests
/// (autoscaling.DefaultCPUUtilization, set by SetDefaults_HorizontalPodAutoscaler).
const DEFAULT_CPU_UTILIZATION: i32 = 80;

/// The keys each metric type takes, besides `type`.
fn takes(kind: &str) -> &'static [&'static str] {
    match kind {
        "resource" => &["resource", "utilization", "average_value"],
        "pods" => &["metric", "average_value"],
        _ => &["metric", "value", "average_value", "workload"],
    }
}

/// The custom metrics' names, in `CustomMetric::ALL` order.
fn custom_metric_names() -> [&'static str; 3] {
    CustomMetric::ALL.map(CustomMetric::as_str)
}

/// `[workloads.hpa]` of workload `own`; `downscale_stabilization` is the
/// controller's flag, which fills a behavior's scale-down window.
pub(crate) fn read(
    ctx: &mut Ctx,
    node: &Node,
    own: WorkloadId,
    downscale_stabilization: SimDuration,
) -> Option<Draft> {
    let fields = reader::table(ctx, node, HPA_KEYS)?;
    let min_replicas = fields.get("min_replicas").map_or(Some(1), |n| {
        let min = autoscaling::replicas(ctx, &n)?;
        if min == 0 {
            ctx.error(
                &n.span,
                &n.path,
                "min_replicas must be at least 1: upstream's HPA scales to zero only behind the \
                 alpha HPAScaleToZero gate; use [workloads.keda] to scale to and from zero",
            );
            return None;
        }
        Some(min)
    });
    let max_node = fields.require_with(ctx, "max_replicas", " (the most replicas it may set)");
    let max_replicas = max_node.as_ref().and_then(|n| {
        let max = autoscaling::replicas(ctx, n)?;
        if max == 0 {
            ctx.error(&n.span, &n.path, "max_replicas must be greater than 0");
            return None;
        }
        Some(max)
    });
    if let (Some(min), Some(max), Some(n)) = (min_replicas, max_replicas, &max_node) {
        if max < min {
            ctx.error(
                &n.span,
                &n.path,
                format!("max_replicas ({max}) must not be below min_replicas ({min})"),
            );
        }
    }
    let metrics = read_metrics(ctx, &fields, own);
    let behavior = match fields.get("behavior") {
        None => Some(None),
        Some(n) => behavior::read(ctx, &n, downscale_stabilization).map(Some),
    };
    let (min_replicas, max_replicas) = (min_replicas?, max_replicas?);
    let (metrics, reads) = metrics?;
    (max_replicas >= min_replicas).then_some(Draft {
        autoscaler: Autoscaler::Hpa(HpaSpec {
            min_replicas,
            max_replicas,
            metrics,
            behavior: behavior?,
        }),
        reads,
    })
}

/// `metrics`, or upstream's default (cpu at 80%) when absent or empty.
fn read_metrics(
    ctx: &mut Ctx,
    fields: &Fields,
    own: WorkloadId,
) -> Option<(Vec<MetricSpec>, Vec<Read>)> {
    let elements = match fields.get("metrics") {
        None => Vec::new(),
        Some(n) => reader::array(ctx, &n)?,
    };
    if elements.is_empty() {
        let default = MetricSpec::Resource {
            name: ResourceName::Cpu,
            target: ResourceTarget::Utilization(DEFAULT_CPU_UTILIZATION),
        };
        let read = Read {
            slot: 0,
            workload: None,
            metric: Metric::Cpu,
            needs_request: true,
            place: Place::of(fields, "metrics"),
        };
        return Some((vec![default], vec![read]));
    }
    let mut metrics = Vec::with_capacity(elements.len());
    let mut reads = Vec::with_capacity(elements.len());
    let mut ok = true;
    for (slot, element) in elements.iter().enumerate() {
        match read_metric(ctx, element, own) {
            Some((metric, mut read)) => {
                read.slot = slot;
                metrics.push(metric);
                reads.push(read);
            }
            None => ok = false,
        }
    }
    ok.then_some((metrics, reads))
}

/// One entry of `metrics`, and what it reads.
fn read_metric(ctx: &mut Ctx, node: &Node, own: WorkloadId) -> Option<(MetricSpec, Read)> {
    let fields = reader::table(ctx, node, METRIC_KEYS)?;
    let kind = fields
        .require_with(
            ctx,
            "type",
            &format!(" (one of {})", names::list(METRIC_TYPES)),
        )
        .and_then(|n| reader::choice(ctx, &n, METRIC_TYPES))?;
    let takes = takes(kind);
    let mut misplaced = false;
    for key in &METRIC_KEYS[1..] {
        if fields.has(key) && !takes.contains(key) {
            misplaced = true;
            ctx.error(
                &fields.key_span(key),
                &reader::join_key(&fields.path, key),
                format!(
                    "`{key}` does not apply to type = \"{kind}\" (it takes {})",
                    names::list(takes)
                ),
            );
        }
    }
    let place = Place {
        path: node.path.clone(),
        span: node.span.clone(),
    };
    let read = match kind {
        "resource" => read_resource(ctx, &fields, place),
        _ => read_custom(ctx, &fields, kind, own, place),
    }?;
    (!misplaced).then_some(read)
}

/// `{ type = "resource", resource = "cpu", utilization = 75 }` or with
/// `average_value` (a quantity of the resource, per pod).
fn read_resource(ctx: &mut Ctx, fields: &Fields, place: Place) -> Option<(MetricSpec, Read)> {
    let resource = fields
        .require_with(ctx, "resource", " (\"cpu\" or \"memory\")")
        .and_then(|n| reader::choice(ctx, &n, RESOURCES))?;
    let (name, metric, unit) = match resource {
        "cpu" => (ResourceName::Cpu, Metric::Cpu, Unit::Cpu),
        _ => (ResourceName::Memory, Metric::Memory, Unit::Bytes),
    };
    let target = match (fields.get("utilization"), fields.get("average_value")) {
        (Some(n), None) => utilization(ctx, &n).map(ResourceTarget::Utilization),
        (None, Some(n)) => resource_milli(ctx, &n, unit).map(ResourceTarget::AverageValueMilli),
        (Some(_), Some(n)) => {
            ctx.error(
                &n.span,
                &n.path,
                "give either `utilization` or `average_value`, not both (upstream: may not set \
                 both a target raw value and a target utilization)",
            );
            None
        }
        (None, None) => {
            ctx.error(
                &fields.span,
                &fields.path,
                "a resource metric needs `utilization` (percent of the pods' request) or \
                 `average_value` (per pod)",
            );
            None
        }
    }?;
    let read = Read {
        slot: 0,
        workload: None,
        metric,
        needs_request: matches!(target, ResourceTarget::Utilization(_)),
        place,
    };
    Some((MetricSpec::Resource { name, target }, read))
}

/// Pods, Object and External metrics: a custom metric against a plain number.
fn read_custom(
    ctx: &mut Ctx,
    fields: &Fields,
    kind: &str,
    own: WorkloadId,
    place: Place,
) -> Option<(MetricSpec, Read)> {
    let metric = fields
        .require(ctx, "metric")
        .and_then(|n| custom_metric(ctx, &n));
    let workload = match fields.get("workload") {
        None => Some(None),
        Some(n) => reader::name(ctx, &n).map(|name| {
            let at = Place {
                path: n.path.clone(),
                span: n.span.clone(),
            };
            Some((name.to_string(), at))
        }),
    };
    let spec = if kind == "pods" {
        fields
            .require(ctx, "average_value")
            .and_then(|n| custom_milli(ctx, &n))
            .zip(metric)
            .map(|(average_value_milli, metric)| MetricSpec::Pods {
                metric,
                average_value_milli,
            })
    } else {
        let target = value_target(ctx, fields);
        target.zip(metric).map(|(target, metric)| match kind {
            "object" => MetricSpec::Object {
                metric,
                workload: own,
                target,
            },
            _ => MetricSpec::External {
                metric,
                workload: own,
                target,
            },
        })
    };
    let read = Read {
        slot: 0,
        workload: workload?,
        metric: Metric::Custom(metric?),
        needs_request: false,
        place,
    };
    Some((spec?, read))
}

/// Exactly one of `value` and `average_value`.
fn value_target(ctx: &mut Ctx, fields: &Fields) -> Option<ValueTarget> {
    match (fields.get("value"), fields.get("average_value")) {
        (Some(n), None) => custom_milli(ctx, &n).map(ValueTarget::ValueMilli),
        (None, Some(n)) => custom_milli(ctx, &n).map(ValueTarget::AverageValueMilli),
        (Some(_), Some(n)) => {
            ctx.error(
                &n.span,
                &n.path,
                "give either `value` (the metric's total) or `average_value` (per replica), not \
                 both",
            );
            None
        }
        (None, None) => {
            ctx.error(
                &fields.span,
                &fields.path,
                "needs `value` (the metric's total) or `average_value` (the total divided by \
                 the replicas)",
            );
            None
        }
    }
}

/// One of the custom metrics, with a pointer to `type = "resource"` for
/// cpu and memory.
fn custom_metric(ctx: &mut Ctx, node: &Node) -> Option<CustomMetric> {
    if let Some(resource) = node.as_str().filter(|s| RESOURCES.contains(s)) {
        ctx.error(
            &node.span,
            &node.path,
            format!("`{resource}` is a resource: write {{ type = \"resource\", resource = \"{resource}\", ... }}"),
        );
        return None;
    }
    let chosen = reader::choice(ctx, node, &custom_metric_names())?;
    CustomMetric::ALL.into_iter().find(|m| m.as_str() == chosen)
}

/// A utilization percent: at least 1; upstream has no upper bound (a target
/// above 100 scales on usage beyond the request).
fn utilization(ctx: &mut Ctx, node: &Node) -> Option<i32> {
    let value = reader::integer(ctx, node)?;
    let message = if value < 1 {
        format!(
            "utilization must be greater than 0 (a percent of the pods' request), found {value}"
        )
    } else if value > i64::from(i32::MAX) {
        format!("utilization {value} is too large (at most {})", i32::MAX)
    } else {
        return i32::try_from(value).ok();
    };
    ctx.error(&node.span, &node.path, message);
    None
}

/// A resource quantity in upstream's milli-units: millicores for cpu, bytes
/// × 1000 for memory; greater than zero.
fn resource_milli(ctx: &mut Ctx, node: &Node, unit: Unit) -> Option<i64> {
    let base = scalar(ctx, node, unit)?;
    let scale = if unit == Unit::Cpu { 1 } else { 1000 };
    let milli = base.checked_mul(scale).and_then(|m| i64::try_from(m).ok());
    let message = match milli {
        Some(0) => "average_value must be greater than zero".to_string(),
        Some(milli) => return Some(milli),
        None => format!(
            "average_value is too large: upstream keeps it in milli-units, at most {} of them",
            i64::MAX
        ),
    };
    ctx.error(&node.span, &node.path, message);
    None
}

/// A custom metric's target, a plain number, in milli-units (× 1000,
/// rounded); greater than zero.
fn custom_milli(ctx: &mut Ctx, node: &Node) -> Option<i64> {
    let value = reader::number(ctx, node)?;
    let milli = (value * 1000.0).round();
    let key = node.key();
    let message = if value <= 0.0 {
        format!("{key} must be greater than zero (upstream's validation), found {value}")
    } else if milli < 1.0 {
        format!("{key} = {value} rounds to 0 milli-units; the smallest target is 0.001")
    } else if milli >= i64::MAX as f64 {
        format!("{key} = {value} is too large (at most about 9.2e15)")
    } else {
        return Some(milli as i64);
    };
    ctx.error(&node.span, &node.path, message);
    None
}

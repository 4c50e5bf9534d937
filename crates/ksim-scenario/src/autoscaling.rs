//! `[autoscaling]` (the metrics pipeline and the HPA controller's flags), and
//! the checks of what each workload autoscaler reads, made once every
//! workload is known.

use std::collections::BTreeMap;

use ksim_core::autoscale::hpa::{CustomMetric, HpaControllerSettings, MetricSpec};
use ksim_core::config::{Autoscaler, AutoscalingConfig, Request, WorkloadKind, WorkloadSpec};
use ksim_core::ids::WorkloadId;
use ksim_core::resources::{CPU, MEMORY};
use ksim_core::time::SimDuration;
use ksim_core::usage::UsageModel;

use crate::names;
use crate::reader::{self, Ctx, Node, Place};

const AUTOSCALING_KEYS: &[&str] = &["metrics_resolution", "hpa_controller"];
const HPA_CONTROLLER_KEYS: &[&str] = &[
    "sync_period",
    "tolerance",
    "cpu_initialization_period",
    "initial_readiness_delay",
    "downscale_stabilization",
];
/// metrics-server refuses a shorter `--metric-resolution`
/// (sigs.k8s.io/metrics-server cmd/metrics-server/app/options, Validate).
const MIN_METRICS_RESOLUTION: SimDuration = SimDuration::from_secs(10);

/// `[autoscaling]`; the defaults without the section.
pub(crate) fn read_settings(ctx: &mut Ctx, node: Option<&Node>) -> Option<AutoscalingConfig> {
    let defaults = AutoscalingConfig::default();
    let Some(node) = node else {
        return Some(defaults);
    };
    let fields = reader::table(ctx, node, AUTOSCALING_KEYS)?;
    let resolution =
        fields
            .get("metrics_resolution")
            .map_or(Some(defaults.metrics_resolution), |n| {
                let d = reader::duration(ctx, &n)?;
                if d < MIN_METRICS_RESOLUTION {
                    ctx.error(
                        &n.span,
                        &n.path,
                        format!(
                        "metrics_resolution ({d}) must be at least 10s: metrics-server refuses a \
                         shorter --metric-resolution"
                    ),
                    );
                    return None;
                }
                Some(d)
            });
    let hpa = fields
        .get("hpa_controller")
        .map_or(Some(defaults.hpa), |n| read_controller(ctx, &n));
    Some(AutoscalingConfig {
        metrics_resolution: resolution?,
        hpa: hpa?,
    })
}

/// `[autoscaling.hpa_controller]`: kube-controller-manager's HPA flags.
fn read_controller(ctx: &mut Ctx, node: &Node) -> Option<HpaControllerSettings> {
    let fields = reader::table(ctx, node, HPA_CONTROLLER_KEYS)?;
    let d = HpaControllerSettings::default();
    let duration = |ctx: &mut Ctx, key: &str, default: SimDuration, positive: bool| {
        reader::duration_or(ctx, &fields, key, default, positive)
    };
    let sync_period = duration(ctx, "sync_period", d.sync_period, true);
    let cpu_initialization_period = duration(
        ctx,
        "cpu_initialization_period",
        d.cpu_initialization_period,
        false,
    );
    let initial_readiness_delay = duration(
        ctx,
        "initial_readiness_delay",
        d.initial_readiness_delay,
        false,
    );
    let downscale_stabilization = duration(
        ctx,
        "downscale_stabilization",
        d.downscale_stabilization,
        false,
    );
    let tolerance = fields.get("tolerance").map_or(Some(d.tolerance), |n| {
        let t = reader::number(ctx, &n)?;
        if t < 0.0 {
            ctx.error(
                &n.span,
                &n.path,
                format!("tolerance must not be negative, found {t}"),
            );
            return None;
        }
        Some(t)
    });
    Some(HpaControllerSettings {
        sync_period: sync_period?,
        tolerance: tolerance?,
        cpu_initialization_period: cpu_initialization_period?,
        initial_readiness_delay: initial_readiness_delay?,
        downscale_stabilization: downscale_stabilization?,
    })
}

/// What an autoscaler reads from a workload's pods.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Metric {
    Cpu,
    Memory,
    Custom(CustomMetric),
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
            Metric::Custom(m) => m.as_str(),
        }
    }

    /// Why a workload with this usage model does not produce the metric.
    fn missing_from(self, workload: &WorkloadSpec) -> Option<String> {
        let name = &workload.name;
        let metric = self.name();
        match (&workload.kind, &workload.model.usage) {
            (WorkloadKind::Job(_), _) => Some(format!(
                "workload `{name}` is a job, whose pods produce no metrics (only deployments \
                 have a usage model)"
            )),
            (_, None) => Some(format!(
                "`{metric}` needs a usage model: workload `{name}` has neither \
                 [workloads.service] nor [workloads.executions], so its pods use nothing and \
                 produce no metrics"
            )),
            (_, Some(UsageModel::Service(_)))
                if self == Metric::Custom(CustomMetric::RunningExecutions) =>
            {
                Some(format!(
                    "`{metric}` is produced by execution workers ([workloads.executions]); \
                     workload `{name}` is a request-driven service ([workloads.service])"
                ))
            }
            _ => None,
        }
    }
}

/// One metric or trigger of an autoscaler, checked once every workload is read.
pub(crate) struct Read {
    /// Its index in the HPA's metrics or the ScaledObject's triggers.
    pub slot: usize,
    /// The workload it names (`workload = "..."`); None: the scaled one.
    pub workload: Option<(String, Place)>,
    pub metric: Metric,
    /// Whether the pods must request the resource (a utilization target,
    /// KEDA's cpu scaler).
    pub needs_request: bool,
    /// Where the metric or trigger was written.
    pub place: Place,
}

/// An autoscaler as read, its named workloads not yet resolved (they point
/// at the scaled workload until then).
pub(crate) struct Draft {
    pub autoscaler: Autoscaler,
    pub reads: Vec<Read>,
}

/// A draft and the index of the workload it scales.
pub(crate) struct Pending {
    pub workload: usize,
    pub draft: Draft,
}

/// Resolves the workloads each autoscaler names, checks that every metric it
/// reads is produced there, and gives each workload its autoscaler.
pub(crate) fn resolve(ctx: &mut Ctx, pending: Vec<Pending>, specs: &mut [WorkloadSpec]) {
    let ids: BTreeMap<String, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, w)| (w.name.clone(), i))
        .collect();
    for Pending { workload, draft } in pending {
        let Draft {
            mut autoscaler,
            reads,
        } = draft;
        let mut ok = true;
        for read in &reads {
            let source = match &read.workload {
                None => Some(workload),
                Some((name, place)) => lookup(ctx, &ids, name, place),
            };
            let Some(source) = source else {
                ok = false;
                continue;
            };
            if let Some(why) = unreadable(read, &specs[source]) {
                ctx.error(&read.place.span, &read.place.path, why);
                ok = false;
            }
            if read.workload.is_some() {
                set_source(&mut autoscaler, read.slot, source as WorkloadId);
            }
        }
        if ok {
            specs[workload].model.autoscaler = Some(autoscaler);
        }
    }
}

/// The index of the workload named `name`, or an error with a suggestion.
fn lookup(
    ctx: &mut Ctx,
    ids: &BTreeMap<String, usize>,
    name: &str,
    place: &Place,
) -> Option<usize> {
    if let Some(&id) = ids.get(name) {
        return Some(id);
    }
    let known: Vec<&str> = ids.keys().map(String::as_str).collect();
    let hint =
        names::suggest(name, &known).map_or(String::new(), |s| format!(": did you mean `{s}`?"));
    ctx.error(
        &place.span,
        &place.path,
        format!("no workload named `{name}`{hint}"),
    );
    None
}

/// Why `read` cannot be read from `source`, if it cannot.
fn unreadable(read: &Read, source: &WorkloadSpec) -> Option<String> {
    if let Some(why) = read.metric.missing_from(source) {
        return Some(why);
    }
    let dim = match read.metric {
        Metric::Cpu => CPU,
        Metric::Memory => MEMORY,
        Metric::Custom(_) => return None,
    };
    let unrequested = matches!(source.template.requests[dim], Request::Fixed(0));
    (read.needs_request && unrequested).then(|| {
        let resource = read.metric.name();
        format!(
            "workload `{}` requests no {resource}: a utilization target, or KEDA's {resource} \
             scaler, is measured against the pods' request (upstream refuses the target: \
             missing request for {resource})",
            source.name
        )
    })
}

/// Points metric or trigger `slot` at workload `id`.
fn set_source(autoscaler: &mut Autoscaler, slot: usize, id: WorkloadId) {
    match autoscaler {
        Autoscaler::Hpa(hpa) => {
            if let Some(
                MetricSpec::Object { workload, .. } | MetricSpec::External { workload, .. },
            ) = hpa.metrics.get_mut(slot)
            {
                *workload = id;
            }
        }
        Autoscaler::Keda(keda) => {
            if let Some(trigger) = keda.triggers.get_mut(slot) {
                trigger.workload = id;
            }
        }
    }
}

/// A count of replicas: upstream's fields are 32-bit signed integers.
pub(crate) fn replicas(ctx: &mut Ctx, node: &Node) -> Option<u32> {
    reader::count(ctx, node, 0, i32::MAX as u64).and_then(|c| u32::try_from(c).ok())
}

/// A duration upstream keeps in whole seconds (`periodSeconds`,
/// `stabilizationWindowSeconds`, KEDA's `pollingInterval`), at most `max`.
pub(crate) fn whole_seconds(
    ctx: &mut Ctx,
    node: &Node,
    max: Option<SimDuration>,
) -> Option<SimDuration> {
    let d = reader::duration(ctx, node)?;
    let key = node.key();
    let message = if d.0 % 1_000_000_000 != 0 {
        format!("{key} ({d}) must be a whole number of seconds: upstream's field counts seconds")
    } else if let Some(max) = max.filter(|max| d > *max) {
        format!("{key} ({d}) must be at most {max} (upstream's validation)")
    } else {
        return Some(d);
    };
    ctx.error(&node.span, &node.path, message);
    None
}

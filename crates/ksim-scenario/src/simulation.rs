//! The document root, `[simulation]` and `[scheduler]`.

use ksim_core::config::{SchedulerConfig, SchedulerMode, ScoringStrategy, SimConfig};
use ksim_core::resources::ResourceNames;
use ksim_core::time::{SimDuration, SimTime};
use toml_edit::Table;

use crate::changes::{self, Targets};
use crate::pools::{self, ExtendedNames};
use crate::reader::{self, Ctx, Fields, Node};
use crate::{autoscaling, checks, control_plane, failures, karpenter, node_autoscaling, workloads};

const ROOT_KEYS: &[&str] = &[
    "simulation",
    "scheduler",
    "node_pools",
    "workloads",
    "node_lifecycle",
    "node_failures",
    "node_failure_rates",
    "control_plane",
    "changes",
    "autoscaling",
    "cluster_autoscaler",
    "karpenter",
    "daemonsets",
    "trace",
];
const SIMULATION_KEYS: &[&str] = &["name", "seed", "duration", "sample_interval", "record_pods"];
const SCHEDULER_KEYS: &[&str] = &[
    "mode",
    "scoring",
    "resources_fit_weight",
    "balanced_allocation_weight",
    "taint_toleration_weight",
    "percentage_of_nodes_to_score",
    "cycle_base_cost",
    "cycle_per_node_cost",
    "backoff_initial",
    "backoff_max",
    "max_in_unschedulable",
];
/// Settings of kube-scheduler's sampling and scoring, which fast mode does not use.
const KUBE_ONLY_KEYS: &[&str] = &[
    "resources_fit_weight",
    "balanced_allocation_weight",
    "taint_toleration_weight",
    "percentage_of_nodes_to_score",
];
const DEFAULT_SAMPLE_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// Scoring weights above this are almost certainly mistakes.
const MAX_WEIGHT: u64 = 100;

struct Simulation {
    name: String,
    seed: u64,
    end: SimTime,
    sample_interval: SimDuration,
    record_pods: bool,
}

pub(crate) fn read_document(ctx: &mut Ctx, root: &Table) -> Option<SimConfig> {
    let root = Node::root(root);
    let fields = reader::table(ctx, &root, ROOT_KEYS)?;
    let simulation = fields
        .require(ctx, "simulation")
        .and_then(|n| read_simulation(ctx, &n));
    let scheduler = fields
        .get("scheduler")
        .map_or(Some(SchedulerConfig::default()), |n| {
            read_scheduler(ctx, &n)
        });
    let mut extended = ExtendedNames::default();
    ctx.trace = fields
        .get("trace")
        .and_then(|n| crate::trace::read(ctx, &n));
    let trace_nodes = ctx.trace.as_ref().is_some_and(|t| t.nodes.is_some());
    let karpenter_node = fields.get("karpenter");
    // The provisioner, or a trace's node list, brings its own pools:
    // `[[node_pools]]` is optional then.
    let pool_node = match karpenter_node {
        _ if trace_nodes => fields.get("node_pools"),
        Some(_) => fields.get("node_pools"),
        None => fields.require_with(
            ctx,
            "node_pools",
            " (add at least one [[node_pools]] table)",
        ),
    };
    let no_static_pools = pool_node.is_none();
    let mut pools = pools::read(ctx, pool_node, &mut extended);
    // No static pools is a complete list of them.
    pools.complete |= no_static_pools;
    let every_node_daemonsets = match fields.get("daemonsets") {
        Some(node) => node_autoscaling::apply_daemonsets(ctx, &node, &mut pools.specs),
        None => Default::default(),
    };
    let mut node_autoscaler = fields
        .get("cluster_autoscaler")
        .map(|n| node_autoscaling::read_cluster_autoscaler(ctx, &n, &pools.specs));
    if let Some(node) = &karpenter_node {
        if node_autoscaler.is_some() {
            ctx.error(
                &node.span,
                &node.path,
                "a scenario has one node autoscaler: keep [cluster_autoscaler] or [karpenter], \
                 not both",
            );
        } else {
            node_autoscaler = Some(karpenter::read(
                ctx,
                node,
                &mut pools,
                every_node_daemonsets,
                &mut extended,
            ));
        }
    }
    let end = simulation.as_ref().map(|s| s.end);
    let control_plane_node = fields.get("control_plane");
    let autoscaling_node = fields.get("autoscaling");
    let autoscaling = autoscaling::read_settings(ctx, autoscaling_node.as_ref());
    let workloads = workloads::read(
        ctx,
        fields.get("workloads"),
        &pools,
        &mut extended,
        end,
        control_plane_node.is_some(),
        &autoscaling.unwrap_or_default(),
    );
    if let (Some(node), Some(workloads)) = (&autoscaling_node, &workloads) {
        warn_unused_settings(ctx, node, workloads);
    }
    let node_lifecycle = failures::read_lifecycle(ctx, fields.get("node_lifecycle"));
    let node_failures =
        failures::read_failures(ctx, fields.get("node_failures"), &pools.specs, end);
    let node_failure_rates =
        failures::read_rates(ctx, fields.get("node_failure_rates"), &pools.specs);
    let control_plane = control_plane::read(ctx, control_plane_node);
    let targets = Targets {
        pools: &pools.specs,
        workloads: workloads.as_ref(),
        end,
    };
    let changes = changes::read(ctx, fields.get("changes"), &targets);
    if ctx.has_errors() {
        return None;
    }
    let (simulation, scheduler, workloads, changes) =
        (simulation?, scheduler?, workloads?, changes?);
    let config = SimConfig {
        name: simulation.name,
        seed: simulation.seed,
        end: simulation.end,
        sample_interval: simulation.sample_interval,
        resource_names: ResourceNames::new(extended.names).ok()?,
        node_pools: pools.specs,
        workloads: workloads.specs,
        scheduler,
        node_lifecycle: node_lifecycle?,
        node_failures: node_failures?,
        node_failure_rates: node_failure_rates?,
        record_pods: simulation.record_pods,
        control_plane: control_plane?,
        changes: changes.specs,
        autoscaling: autoscaling?,
        node_autoscaler: node_autoscaler.flatten(),
    };
    checks::run(ctx, &config, &workloads.places);
    changes::check_capacity(ctx, &config, &changes.places);
    Some(config)
}

/// `[autoscaling]` without any workload autoscaler changes nothing.
fn warn_unused_settings(ctx: &mut Ctx, node: &Node, workloads: &workloads::Workloads) {
    let scaled = workloads.specs.iter().any(|w| w.model.autoscaler.is_some());
    if workloads.complete && !scaled {
        ctx.warn(
            &node.span,
            &node.path,
            "no workload has [workloads.hpa] or [workloads.keda], so these settings are unused",
        );
    }
}

fn read_simulation(ctx: &mut Ctx, node: &Node) -> Option<Simulation> {
    let fields = reader::table(ctx, node, SIMULATION_KEYS)?;
    let name = fields
        .require(ctx, "name")
        .and_then(|n| reader::name(ctx, &n));
    let seed = reader::count_or(ctx, &fields, "seed", 0, 0, i64::MAX as u64);
    let duration = fields
        .require_with(
            ctx,
            "duration",
            " (how much simulated time to run, e.g. \"1h\")",
        )
        .and_then(|n| reader::positive_duration(ctx, &n));
    let sample_interval = reader::duration_or(
        ctx,
        &fields,
        "sample_interval",
        DEFAULT_SAMPLE_INTERVAL,
        true,
    );
    let record_pods = fields
        .get("record_pods")
        .map_or(Some(false), |n| reader::boolean(ctx, &n));
    let (duration, sample_interval) = (duration?, sample_interval?);
    if sample_interval > duration {
        ctx.warn(
            &fields.key_span("sample_interval"),
            &reader::join_key(&fields.path, "sample_interval"),
            format!(
                "sample_interval ({sample_interval}) is longer than duration ({duration}): the \
                 timeline has a single row"
            ),
        );
    }
    Some(Simulation {
        name: name?.to_string(),
        seed: seed?,
        end: SimTime(duration.0),
        sample_interval,
        record_pods: record_pods?,
    })
}

fn weight(ctx: &mut Ctx, fields: &Fields, key: &str, default: i64) -> Option<i64> {
    reader::count_or(ctx, fields, key, default, 0, MAX_WEIGHT)
}

fn read_scheduler(ctx: &mut Ctx, node: &Node) -> Option<SchedulerConfig> {
    let fields = reader::table(ctx, node, SCHEDULER_KEYS)?;
    let d = SchedulerConfig::default();
    let mode = fields.get("mode").map_or(Some(d.mode), |n| {
        reader::choice(ctx, &n, &["kube", "fast"]).map(|m| match m {
            "kube" => SchedulerMode::Kube,
            _ => SchedulerMode::Fast,
        })
    });
    let scoring = fields.get("scoring").map_or(Some(d.scoring), |n| {
        reader::choice(ctx, &n, &["LeastAllocated", "MostAllocated"]).map(|s| match s {
            "LeastAllocated" => ScoringStrategy::LeastAllocated,
            _ => ScoringStrategy::MostAllocated,
        })
    });
    let fit = weight(ctx, &fields, "resources_fit_weight", d.resources_fit_weight);
    let balanced = weight(
        ctx,
        &fields,
        "balanced_allocation_weight",
        d.balanced_allocation_weight,
    );
    let taint = weight(
        ctx,
        &fields,
        "taint_toleration_weight",
        d.taint_toleration_weight,
    );
    let percentage = reader::count_or(
        ctx,
        &fields,
        "percentage_of_nodes_to_score",
        d.percentage_of_nodes_to_score,
        0,
        100,
    );
    let base = reader::duration_or(ctx, &fields, "cycle_base_cost", d.cycle_base_cost, false)
        .filter(|base| {
            if *base > SimDuration::ZERO {
                return true;
            }
            ctx.error(
                &fields.key_span("cycle_base_cost"),
                &reader::join_key(&fields.path, "cycle_base_cost"),
                "cycle_base_cost must be greater than zero: every pod passes through a scheduling \
             cycle, so a cycle that costs time is what makes time advance when pods are \
             replaced as soon as they end (pod_lifetime = \"0s\"); use \"1ns\" for an \
             almost free scheduler",
            );
            false
        });
    let per_node = reader::duration_or(
        ctx,
        &fields,
        "cycle_per_node_cost",
        d.cycle_per_node_cost,
        false,
    );
    let backoff_initial =
        reader::duration_or(ctx, &fields, "backoff_initial", d.backoff_initial, true);
    let backoff_max = reader::duration_or(ctx, &fields, "backoff_max", d.backoff_max, true);
    let max_unschedulable = reader::duration_or(
        ctx,
        &fields,
        "max_in_unschedulable",
        d.max_in_unschedulable,
        false,
    );
    if mode == Some(SchedulerMode::Fast) {
        for key in KUBE_ONLY_KEYS.iter().filter(|k| fields.has(k)) {
            ctx.error(
                &fields.key_span(key),
                &reader::join_key(&fields.path, key),
                format!(
                    "`{key}` only applies to mode = \"kube\": fast mode picks nodes through its \
                     index by `scoring` alone (docs/models/scheduler.md)"
                ),
            );
        }
    }
    let (backoff_initial, backoff_max) = (backoff_initial?, backoff_max?);
    if backoff_initial > backoff_max {
        let key = if fields.has("backoff_initial") {
            "backoff_initial"
        } else {
            "backoff_max"
        };
        ctx.error(
            &fields.key_span(key),
            &reader::join_key(&fields.path, key),
            format!(
                "backoff_initial ({backoff_initial}) must not exceed backoff_max ({backoff_max})"
            ),
        );
        return None;
    }
    Some(SchedulerConfig {
        mode: mode?,
        scoring: scoring?,
        resources_fit_weight: fit?,
        balanced_allocation_weight: balanced?,
        taint_toleration_weight: taint?,
        percentage_of_nodes_to_score: percentage?,
        cycle_base_cost: base?,
        cycle_per_node_cost: per_node?,
        backoff_initial,
        backoff_max,
        max_in_unschedulable: max_unschedulable?,
    })
}

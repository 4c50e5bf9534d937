//! `[cluster_autoscaler]` (upstream's flags, by their names without the
//! dashes) and `[[daemonsets]]` (what runs on every node of a pool, taken
//! from its allocatable before any workload pod).

use ksim_core::autoscale::cluster_autoscaler::backoff::BackoffSettings;
use ksim_core::autoscale::cluster_autoscaler::expander::Priority;
use ksim_core::autoscale::cluster_autoscaler::{
    ClusterAutoscalerSettings, ExpanderStep, DEFAULT_EXPANDER, DEFAULT_POD_PRICE_PER_CORE_HOUR,
    DEFAULT_POD_PRICE_PER_GIB_HOUR,
};
use ksim_core::config::{NodeAutoscaler, NodePoolSpec};
use ksim_core::ids::PoolId;
use ksim_core::resources::{ResourceVec, CPU, EPHEMERAL_STORAGE, MEMORY, PODS};
use ksim_core::time::SimDuration;

use crate::distributions::{scalar, Unit};
use crate::names;
use crate::reader::{self, Ctx, Fields, Node};

const CLUSTER_AUTOSCALER_KEYS: &[&str] = &[
    "node_groups",
    "scan_interval",
    "expander",
    "priorities",
    "pod_price_per_core_hour",
    "pod_price_per_gib_hour",
    "scale_down_enabled",
    "scale_down_utilization_threshold",
    "scale_down_gpu_utilization_threshold",
    "scale_down_unneeded_time",
    "scale_down_delay_after_add",
    "scale_down_delay_after_delete",
    "scale_down_delay_after_failure",
    "scale_down_non_empty_candidates",
    "unremovable_node_recheck_timeout",
    "max_node_provision_time",
    "max_scale_down_parallelism",
    "max_graceful_termination",
    "new_pod_scale_up_delay",
    "max_nodes_total",
    "max_cores_total",
    "max_memory_total",
    "ignore_daemonsets_utilization",
    "skip_nodes_with_local_storage",
    "initial_node_group_backoff",
    "max_node_group_backoff",
    "node_group_backoff_reset_timeout",
];
const EXPANDERS: &[&str] = &["random", "most-pods", "least-waste", "price", "priority"];
const DAEMONSET_KEYS: &[&str] = &["name", "cpu", "memory", "ephemeral_storage", "pools"];

/// `[cluster_autoscaler]`, over the pools already read.
pub(crate) fn read_cluster_autoscaler(
    ctx: &mut Ctx,
    node: &Node,
    pools: &[NodePoolSpec],
) -> Option<NodeAutoscaler> {
    let fields = reader::table(ctx, node, CLUSTER_AUTOSCALER_KEYS)?;
    let node_groups = match fields.get("node_groups") {
        None => Some((0..pools.len() as PoolId).collect()),
        Some(n) => pool_list(ctx, &n, pools),
    };
    let d = ClusterAutoscalerSettings::new(Vec::new());
    let expander = read_expander(ctx, &fields);
    if let Some(steps) = &expander {
        warn_unused_expander_keys(ctx, &fields, steps);
    }
    let duration = |ctx: &mut Ctx, key: &str, default: SimDuration, positive: bool| {
        reader::duration_or(ctx, &fields, key, default, positive)
    };
    let scan_interval = duration(ctx, "scan_interval", d.scan_interval, true);
    let unneeded = duration(
        ctx,
        "scale_down_unneeded_time",
        d.scale_down_unneeded_time,
        false,
    );
    let after_add = duration(
        ctx,
        "scale_down_delay_after_add",
        d.scale_down_delay_after_add,
        false,
    );
    let after_delete = duration(
        ctx,
        "scale_down_delay_after_delete",
        d.scale_down_delay_after_delete,
        false,
    );
    let after_failure = duration(
        ctx,
        "scale_down_delay_after_failure",
        d.scale_down_delay_after_failure,
        false,
    );
    let provision = duration(
        ctx,
        "max_node_provision_time",
        d.max_node_provision_time,
        true,
    );
    let grace = duration(
        ctx,
        "max_graceful_termination",
        d.max_graceful_termination,
        false,
    );
    let new_pod_delay = duration(
        ctx,
        "new_pod_scale_up_delay",
        d.new_pod_scale_up_delay,
        false,
    );
    let recheck = duration(
        ctx,
        "unremovable_node_recheck_timeout",
        d.unremovable_node_recheck_timeout,
        false,
    );
    let backoff = read_backoff(ctx, &fields, d.backoff);
    let threshold = |ctx: &mut Ctx, key: &str, default: f64| {
        fields.get(key).map_or(Some(default), |n| fraction(ctx, &n))
    };
    let utilization = threshold(
        ctx,
        "scale_down_utilization_threshold",
        d.scale_down_utilization_threshold,
    );
    let gpu_utilization = threshold(
        ctx,
        "scale_down_gpu_utilization_threshold",
        d.scale_down_gpu_utilization_threshold,
    );
    let flag = |ctx: &mut Ctx, key: &str, default: bool| {
        fields
            .get(key)
            .map_or(Some(default), |n| reader::boolean(ctx, &n))
    };
    let enabled = flag(ctx, "scale_down_enabled", d.scale_down_enabled);
    let ignore_ds = flag(
        ctx,
        "ignore_daemonsets_utilization",
        d.ignore_daemonsets_utilization,
    );
    let skip_local = flag(
        ctx,
        "skip_nodes_with_local_storage",
        d.skip_nodes_with_local_storage,
    );
    let limit = u64::from(u32::MAX);
    let candidates = reader::count_or(
        ctx,
        &fields,
        "scale_down_non_empty_candidates",
        d.scale_down_non_empty_candidates,
        0,
        limit,
    );
    let parallelism = reader::count_or(
        ctx,
        &fields,
        "max_scale_down_parallelism",
        d.max_scale_down_parallelism,
        1,
        limit,
    );
    let max_nodes = reader::count_or(ctx, &fields, "max_nodes_total", d.max_nodes_total, 0, limit);
    let max_cores = reader::count_or(
        ctx,
        &fields,
        "max_cores_total",
        d.max_cores_total,
        0,
        u64::MAX / 1000,
    );
    let max_memory = fields
        .get("max_memory_total")
        .map_or(Some(d.max_memory_total_bytes), |n| {
            scalar(ctx, &n, Unit::Bytes)
        });
    Some(NodeAutoscaler::ClusterAutoscaler(
        ClusterAutoscalerSettings {
            node_groups: node_groups?,
            scan_interval: scan_interval?,
            expander: expander?,
            scale_down_enabled: enabled?,
            scale_down_utilization_threshold: utilization?,
            scale_down_gpu_utilization_threshold: gpu_utilization?,
            scale_down_unneeded_time: unneeded?,
            scale_down_delay_after_add: after_add?,
            scale_down_delay_after_delete: after_delete?,
            scale_down_delay_after_failure: after_failure?,
            scale_down_non_empty_candidates: candidates?,
            unremovable_node_recheck_timeout: recheck?,
            max_node_provision_time: provision?,
            max_scale_down_parallelism: parallelism?,
            max_graceful_termination: grace?,
            new_pod_scale_up_delay: new_pod_delay?,
            max_nodes_total: max_nodes?,
            max_cores_total: max_cores?,
            max_memory_total_bytes: max_memory?,
            ignore_daemonsets_utilization: ignore_ds?,
            skip_nodes_with_local_storage: skip_local?,
            backoff: backoff?,
        },
    ))
}

/// A utilization threshold: a fraction in [0, 1].
fn fraction(ctx: &mut Ctx, node: &Node) -> Option<f64> {
    let v = reader::number(ctx, node)?;
    if !(0.0..=1.0).contains(&v) {
        ctx.error(
            &node.span,
            &node.path,
            format!("must be a fraction between 0 and 1, found {v}"),
        );
        return None;
    }
    Some(v)
}

fn read_backoff(ctx: &mut Ctx, fields: &Fields, d: BackoffSettings) -> Option<BackoffSettings> {
    let initial = reader::duration_or(ctx, fields, "initial_node_group_backoff", d.initial, true);
    let max = reader::duration_or(ctx, fields, "max_node_group_backoff", d.max, true);
    let reset = reader::duration_or(
        ctx,
        fields,
        "node_group_backoff_reset_timeout",
        d.reset_timeout,
        true,
    );
    Some(BackoffSettings {
        initial: initial?,
        max: max?,
        reset_timeout: reset?,
    })
}

/// Pool names, each an existing pool, each once.
fn pool_list(ctx: &mut Ctx, node: &Node, pools: &[NodePoolSpec]) -> Option<Vec<PoolId>> {
    let known: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    let mut ids = Vec::new();
    let mut ok = true;
    for element in reader::array(ctx, node)? {
        let Some(name) = reader::string(ctx, &element) else {
            ok = false;
            continue;
        };
        match known.iter().position(|k| *k == name) {
            Some(id) if !ids.contains(&(id as PoolId)) => ids.push(id as PoolId),
            Some(_) => {
                ctx.error(
                    &element.span,
                    &element.path,
                    format!("pool `{name}` is listed twice"),
                );
                ok = false;
            }
            None => {
                let hint = names::suggest(name, &known)
                    .map_or(String::new(), |s| format!(": did you mean `{s}`?"));
                ctx.error(
                    &element.span,
                    &element.path,
                    format!("no node pool named `{name}`{hint}"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(ids)
}

/// The price expander's prices and the priority expander's levels change
/// nothing unless their expander is in the chain.
fn warn_unused_expander_keys(ctx: &mut Ctx, fields: &Fields, steps: &[ExpanderStep]) {
    let uses = |name: &str| steps.iter().any(|s| s.name() == name);
    for (key, expander) in [
        ("pod_price_per_core_hour", "price"),
        ("pod_price_per_gib_hour", "price"),
        ("priorities", "priority"),
    ] {
        if fields.has(key) && !uses(expander) {
            ctx.warn(
                &fields.key_span(key),
                &reader::join_key(&fields.path, key),
                format!("unused: the `{expander}` expander is not in `expander`"),
            );
        }
    }
}

/// `expander`: upstream's comma-separated chain, e.g. "priority,least-waste".
fn read_expander(ctx: &mut Ctx, fields: &Fields) -> Option<Vec<ExpanderStep>> {
    let Some(node) = fields.get("expander") else {
        return Some(vec![DEFAULT_EXPANDER]);
    };
    let text = reader::string(ctx, &node)?;
    let price = |ctx: &mut Ctx, key: &str, default: f64| {
        fields.get(key).map_or(Some(default), |n| {
            let v = reader::number(ctx, &n)?;
            reader::positive(ctx, &n, v)
        })
    };
    let core_price = price(
        ctx,
        "pod_price_per_core_hour",
        DEFAULT_POD_PRICE_PER_CORE_HOUR,
    );
    let gib_price = price(
        ctx,
        "pod_price_per_gib_hour",
        DEFAULT_POD_PRICE_PER_GIB_HOUR,
    );
    let mut steps = Vec::new();
    for name in text.split(',').map(str::trim) {
        let Some(known) = EXPANDERS.iter().find(|e| **e == name) else {
            let message = match names::suggest(name, EXPANDERS) {
                Some(best) => format!(
                    "unknown expander `{name}`: did you mean `{best}`? (expected one of {})",
                    names::list(EXPANDERS)
                ),
                None => format!(
                    "unknown expander `{name}`: expected one of {}",
                    names::list(EXPANDERS)
                ),
            };
            ctx.error(&node.span, &node.path, message);
            return None;
        };
        steps.push(match *known {
            "random" => ExpanderStep::Random,
            "most-pods" => ExpanderStep::MostPods,
            "least-waste" => ExpanderStep::LeastWaste,
            "price" => ExpanderStep::Price {
                pod_price_per_core_hour: core_price?,
                pod_price_per_gib_hour: gib_price?,
            },
            _ => ExpanderStep::Priority(read_priorities(ctx, fields, &node)?),
        });
    }
    Some(steps)
}

/// `priorities = { "10" = ["small-.*"], "50" = ["large-.*"] }`: upstream's
/// priority expander ConfigMap (priority → regular expressions over group names).
fn read_priorities(ctx: &mut Ctx, fields: &Fields, expander: &Node) -> Option<Priority> {
    let Some(node) = fields.get("priorities") else {
        ctx.error(
            &expander.span,
            &expander.path,
            "the priority expander needs `priorities` (priority = [group name patterns])",
        );
        return None;
    };
    let table = reader::free_table(ctx, &node)?;
    let mut levels: Vec<(i64, Vec<String>)> = Vec::new();
    for entry in table.entries() {
        let Ok(priority) = entry.key.trim().parse::<i64>() else {
            ctx.error(
                &entry.node.span,
                &entry.node.path,
                format!("priority `{}` is not an integer", entry.key),
            );
            return None;
        };
        let mut patterns = Vec::new();
        for p in reader::array(ctx, &entry.node)? {
            patterns.push(reader::string(ctx, &p)?.to_string());
        }
        levels.push((priority, patterns));
    }
    let borrowed: Vec<Vec<&str>> = levels
        .iter()
        .map(|(_, ps)| ps.iter().map(String::as_str).collect())
        .collect();
    let levels: Vec<(i64, &[&str])> = levels
        .iter()
        .zip(&borrowed)
        .map(|((p, _), ps)| (*p, ps.as_slice()))
        .collect();
    match Priority::new(&levels) {
        Ok(p) => Some(p),
        Err(e) => {
            ctx.error(&node.span, &node.path, e.to_string());
            None
        }
    }
}

/// `[[daemonsets]]`: each takes its requests from every node of its pools
/// (all pools by default). A pool whose nodes cannot hold them is an error.
/// Returns what the DaemonSets without `pools` request: those run on the
/// nodes a node autoscaler creates too.
pub(crate) fn apply_daemonsets(
    ctx: &mut Ctx,
    node: &Node,
    pools: &mut [NodePoolSpec],
) -> ResourceVec {
    let mut every_node = ResourceVec::ZERO;
    let Some(elements) = reader::array(ctx, node) else {
        return every_node;
    };
    for element in elements {
        let Some(fields) = reader::table(ctx, &element, DAEMONSET_KEYS) else {
            continue;
        };
        let name = fields
            .require(ctx, "name")
            .and_then(|n| reader::name(ctx, &n));
        let quantity = |ctx: &mut Ctx, key: &str, unit| {
            fields.get(key).map_or(Some(0), |n| scalar(ctx, &n, unit))
        };
        let cpu = quantity(ctx, "cpu", Unit::Cpu);
        let memory = quantity(ctx, "memory", Unit::Bytes);
        let storage = quantity(ctx, "ephemeral_storage", Unit::Bytes);
        let everywhere = !fields.has("pools");
        let targets = match fields.get("pools") {
            None => Some((0..pools.len() as PoolId).collect()),
            Some(n) => pool_list(ctx, &n, pools),
        };
        let (Some(name), Some(cpu), Some(memory), Some(storage), Some(targets)) =
            (name, cpu, memory, storage, targets)
        else {
            continue;
        };
        let mut requests = ResourceVec::ZERO;
        requests.0[CPU] = cpu;
        requests.0[MEMORY] = memory;
        requests.0[EPHEMERAL_STORAGE] = storage;
        requests.0[PODS] = 1;
        if everywhere {
            every_node.add_assign(&requests);
        }
        for id in targets {
            let pool = &mut pools[id as usize];
            if let Some(dim) = ResourceVec::ZERO.first_shortfall(&requests, &pool.allocatable) {
                let resource = ["cpu", "memory", "ephemeral_storage", "pods"][dim.min(3)];
                ctx.error(
                    &element.span,
                    &element.path,
                    format!(
                        "DaemonSet `{name}` does not fit on a node of pool `{}`: it requests \
                         more {resource} than the node has left after the DaemonSets before it",
                        pool.name
                    ),
                );
                continue;
            }
            pool.allocatable.sub_assign(&requests);
            pool.daemonset_requests.add_assign(&requests);
        }
    }
    every_node
}

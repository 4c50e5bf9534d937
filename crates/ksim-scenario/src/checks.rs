//! Whole-scenario checks run once everything parsed: the core's own
//! invariants, and warnings for workloads that can never (fully) run.

use ksim_core::config::{NodePoolSpec, PodTemplate, SimConfig, WorkloadKind, WorkloadSpec};
use ksim_core::matching;
use ksim_core::resources::{ResourceNames, CPU, EPHEMERAL_STORAGE, FIRST_EXTENDED, MEMORY};

use crate::reader::{self, Ctx, Place};

pub(crate) fn run(ctx: &mut Ctx, config: &SimConfig, places: &[Place]) {
    if let Err(e) = config.check() {
        // The readers reject all of these first; kept so the core's
        // invariants are enforced even if the two drift apart.
        ctx.error(&None, "", format!("rejected by the simulator core: {e}"));
    }
    for (workload, place) in config.workloads.iter().zip(places) {
        check_workload(ctx, config, workload, place);
    }
}

/// Human-readable amount of resource dimension `dim`.
pub(crate) fn amount(dim: usize, value: u64) -> String {
    match dim {
        CPU if value.is_multiple_of(1000) => (value / 1000).to_string(),
        CPU => format!("{value}m"),
        MEMORY | EPHEMERAL_STORAGE => {
            for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
                if value > 0 && value.is_multiple_of(1u64 << shift) {
                    return format!("{}{suffix}", value >> shift);
                }
            }
            value.to_string()
        }
        _ => value.to_string(),
    }
}

/// Why no node of `pool` can ever take a pod of `template`, in filter order.
fn pool_rejection(
    template: &PodTemplate,
    pool: &NodePoolSpec,
    names: &ResourceNames,
) -> Option<String> {
    if let Some(t) = matching::first_untolerated_taint(&pool.taints, &template.tolerations) {
        return Some(format!(
            "untolerated taint {}={}:{:?}",
            t.key, t.value, t.effect
        ));
    }
    if !matching::labels_match(&template.node_selector, &pool.labels)
        || !matching::node_affinity_matches(&template.node_affinity, &pool.labels)
    {
        return Some("its labels do not match node_selector/node_affinity".to_string());
    }
    (0..names.active_len()).find_map(|dim| {
        let need = template.requests[dim].min();
        let have = pool.allocatable.0[dim];
        (need > have).then(|| {
            format!(
                "requests {} {} but a node has {}",
                amount(dim, need),
                names.name(dim),
                amount(dim, have)
            )
        })
    })
}

/// What a session workload's users do when its pods never run (pools are
/// fixed: no autoscaler adds one that fits); empty for other workloads.
fn users_never_served(workload: &WorkloadSpec) -> &'static str {
    match &workload.kind {
        WorkloadKind::Session(s) if s.patience.is_some() => {
            ": every user of this session workload waits until their patience runs out and \
             leaves"
        }
        WorkloadKind::Session(_) => {
            ": every user of this session workload waits to the end of the run"
        }
        _ => "",
    }
}

fn check_workload(ctx: &mut Ctx, config: &SimConfig, workload: &WorkloadSpec, place: &Place) {
    let template = &workload.template;
    let names = &config.resource_names;
    let pod_path = format!("{}.pod", place.path);
    for (i, name) in names.extended().iter().enumerate() {
        let dim = FIRST_EXTENDED + i;
        let offered = config.node_pools.iter().any(|p| p.allocatable.0[dim] > 0);
        if template.requests[dim].min() > 0 && !offered {
            ctx.warn(
                &place.span,
                &reader::join_key(&format!("{pod_path}.extended"), name),
                format!(
                    "no node pool offers `{name}`: pods of workload `{}` can never be \
                     scheduled{}",
                    workload.name,
                    users_never_served(workload)
                ),
            );
            return;
        }
    }
    let rejections: Vec<Option<String>> = config
        .node_pools
        .iter()
        .map(|pool| pool_rejection(template, pool, names))
        .collect();
    if rejections.iter().all(Option::is_some) {
        let reasons: Vec<String> = config
            .node_pools
            .iter()
            .zip(&rejections)
            .map(|(pool, why)| format!("pool `{}`: {}", pool.name, why.as_deref().unwrap_or("")))
            .collect();
        ctx.warn(
            &place.span,
            &pod_path,
            format!(
                "pods of workload `{}` fit no node pool, so they can never be scheduled ({}){}",
                workload.name,
                reasons.join("; "),
                users_never_served(workload)
            ),
        );
        return;
    }
    let accepting: Vec<&NodePoolSpec> = config
        .node_pools
        .iter()
        .zip(&rejections)
        .filter(|(_, why)| why.is_none())
        .map(|(pool, _)| pool)
        .collect();
    warn_oversized_draws(ctx, workload, &accepting, names, place, &pod_path);
    warn_spread_limit(ctx, workload, &accepting, place);
}

/// Drawn requests whose largest value exceeds every node that could take the pod.
fn warn_oversized_draws(
    ctx: &mut Ctx,
    workload: &WorkloadSpec,
    accepting: &[&NodePoolSpec],
    names: &ResourceNames,
    place: &Place,
    pod_path: &str,
) {
    for dim in 0..names.active_len() {
        let request = &workload.template.requests[dim];
        let largest_node = accepting
            .iter()
            .map(|p| p.allocatable.0[dim])
            .max()
            .unwrap_or(0);
        let exceeds = match request {
            ksim_core::config::Request::Drawn(d) => d.max().is_none_or(|m| m > largest_node as f64),
            ksim_core::config::Request::Fixed(_) => false,
        };
        if exceeds {
            ctx.warn(
                &place.span,
                pod_path,
                format!(
                    "some pods of workload `{}` may request more {} than any node that could \
                     take them has ({}); those pods will stay pending",
                    workload.name,
                    names.name(dim),
                    amount(dim, largest_node)
                ),
            );
        }
    }
}

/// A deployment whose pods repel each other can run at most one per node.
fn warn_spread_limit(
    ctx: &mut Ctx,
    workload: &WorkloadSpec,
    accepting: &[&NodePoolSpec],
    place: &Place,
) {
    let WorkloadKind::Deployment(deployment) = &workload.kind else {
        return;
    };
    let template = &workload.template;
    let self_repelling = template
        .anti_affinity
        .iter()
        .any(|term| matching::labels_match(&term.match_labels, &template.labels));
    // At most `max` nodes per pool, even when the pools grow during the run.
    let nodes: u64 = accepting.iter().map(|p| u64::from(p.max)).sum();
    if self_repelling && u64::from(deployment.replicas) > nodes {
        ctx.warn(
            &place.span,
            &place.path,
            format!(
                "workload `{}` wants {} replicas but its anti-affinity allows one per node and \
                 only {nodes} nodes can take it: {} replicas will stay pending",
                workload.name,
                deployment.replicas,
                u64::from(deployment.replicas) - nodes
            ),
        );
    }
}

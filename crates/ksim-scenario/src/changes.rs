//! `[[changes]]`: scripted changes to the cluster at given times (scale a
//! deployment, add, delete, drain, cordon or uncordon nodes), applied during
//! the run by the simulation's scripted-changes controller.

use ksim_core::config::{
    ChangeAction, NodePoolSpec, Repeat, ScheduledChange, SimConfig, WorkloadKind,
};
use ksim_core::time::SimTime;

use crate::failures::pool_index;
use crate::names;
use crate::reader::{self, Ctx, Fields, Node, Place};
use crate::workloads::Workloads;

const CHANGE_KEYS: &[&str] = &[
    "at",
    "every",
    "until",
    "scale",
    "add_nodes",
    "delete_nodes",
    "drain_nodes",
    "cordon_nodes",
    "uncordon_nodes",
];
/// The keys of `CHANGE_KEYS` that are actions; an entry has exactly one.
const ACTIONS: &[&str] = &[
    "scale",
    "add_nodes",
    "delete_nodes",
    "drain_nodes",
    "cordon_nodes",
    "uncordon_nodes",
];
const SCALE_KEYS: &[&str] = &["workload", "replicas"];
const NODES_KEYS: &[&str] = &["pool", "count"];

pub(crate) struct Changes {
    pub specs: Vec<ScheduledChange>,
    /// Parallel to `specs`: where each entry was written.
    pub places: Vec<Place>,
}

/// What a change may refer to.
pub(crate) struct Targets<'a> {
    pub pools: &'a [NodePoolSpec],
    /// None when `[[workloads]]` could not be read at all.
    pub workloads: Option<&'a Workloads>,
    pub end: Option<SimTime>,
}

pub(crate) fn read(ctx: &mut Ctx, node: Option<Node>, targets: &Targets) -> Option<Changes> {
    let mut out = Changes {
        specs: Vec::new(),
        places: Vec::new(),
    };
    let Some(node) = node else {
        return Some(out);
    };
    let elements = reader::array(ctx, &node)?;
    let mut ok = true;
    for element in &elements {
        match read_change(ctx, element, targets) {
            Some(change) => {
                out.specs.push(change);
                out.places.push(Place {
                    path: element.path.clone(),
                    span: element.span.clone(),
                });
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_change(ctx: &mut Ctx, node: &Node, targets: &Targets) -> Option<ScheduledChange> {
    let fields = reader::table(ctx, node, CHANGE_KEYS)?;
    let at = fields.require(ctx, "at").and_then(|n| {
        let at = SimTime(reader::duration(ctx, &n)?.0);
        if let Some(end) = targets.end.filter(|end| at > *end) {
            ctx.warn(
                &n.span,
                &n.path,
                format!("at ({at}) is after the end of the run ({end}): this change never happens"),
            );
        }
        Some(at)
    });
    let repeat = read_repeat(ctx, &fields, at, targets.end);
    let action = read_action(ctx, &fields, targets);
    Some(ScheduledChange {
        at: at?,
        repeat: repeat?,
        action: action?,
    })
}

/// `every` and `until`: None inside when the change happens once.
fn read_repeat(
    ctx: &mut Ctx,
    fields: &Fields,
    at: Option<SimTime>,
    end: Option<SimTime>,
) -> Option<Option<Repeat>> {
    let every = fields
        .get("every")
        .map(|n| reader::positive_duration(ctx, &n));
    let until_node = fields.get("until");
    let until = until_node
        .as_ref()
        .map(|n| reader::duration(ctx, n).map(|d| SimTime(d.0)));
    let Some(every) = every else {
        if let Some(n) = until_node {
            ctx.error(
                &n.span,
                &n.path,
                "`until` only applies with `every` (a change that repeats)",
            );
            return None;
        }
        return Some(None);
    };
    // Without `until` a change repeats to the end; a missing end is an
    // error of its own.
    let until = match until {
        Some(until) => until?,
        None => end?,
    };
    let (every, at) = (every?, at?);
    if until < at {
        let Some(n) = until_node else {
            // `until` defaulted to the end: the warning on `at` says it all.
            return Some(None);
        };
        ctx.error(
            &n.span,
            &n.path,
            format!("until ({until}) is before at ({at}): the change would never happen"),
        );
        return None;
    }
    Some(Some(Repeat { every, until }))
}

/// The one action key of an entry; any further one, in document order, is
/// an error.
fn read_action(ctx: &mut Ctx, fields: &Fields, targets: &Targets) -> Option<ChangeAction> {
    let written: Vec<&str> = fields
        .entries()
        .into_iter()
        .map(|e| e.key)
        .filter(|k| ACTIONS.contains(k))
        .collect();
    let (key, extra) = match written.split_first() {
        Some(split) => split,
        None => {
            ctx.error(
                &fields.span,
                &fields.path,
                format!("a change needs one action: one of {}", names::list(ACTIONS)),
            );
            return None;
        }
    };
    for other in extra {
        ctx.error(
            &fields.key_span(other),
            &reader::join_key(&fields.path, other),
            format!(
                "one action per change, and this one already has `{key}`: write `{other}` in a \
                 [[changes]] entry of its own"
            ),
        );
    }
    let node = fields.get(key)?;
    let action = if *key == "scale" {
        read_scale(ctx, &node, targets)
    } else {
        read_nodes(ctx, &node, key, targets.pools)
    }?;
    extra.is_empty().then_some(action)
}

fn read_scale(ctx: &mut Ctx, node: &Node, targets: &Targets) -> Option<ChangeAction> {
    let fields = reader::table(ctx, node, SCALE_KEYS)?;
    let workload = fields
        .require(ctx, "workload")
        .and_then(|n| deployment_index(ctx, &n, targets.workloads?));
    let replicas = fields
        .require(ctx, "replicas")
        .and_then(|n| reader::count(ctx, &n, 0, u64::from(u32::MAX)));
    Some(ChangeAction::Scale {
        workload: u32::try_from(workload?).ok()?,
        replicas: u32::try_from(replicas?).ok()?,
    })
}

/// The index of the deployment a `workload` key names; an error with a
/// suggestion for an unknown name, and an error for a job.
fn deployment_index(ctx: &mut Ctx, node: &Node, workloads: &Workloads) -> Option<usize> {
    let name = reader::string(ctx, node)?;
    let Some(index) = workloads.specs.iter().position(|w| w.name == name) else {
        // A workload with problems of its own is missing from the list.
        if workloads.complete {
            let known: Vec<&str> = workloads.specs.iter().map(|w| w.name.as_str()).collect();
            let hint = names::suggest(name, &known)
                .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
            ctx.error(
                &node.span,
                &node.path,
                format!("no workload named `{name}`{hint}"),
            );
        }
        return None;
    };
    if let WorkloadKind::Job(_) = workloads.specs[index].kind {
        ctx.error(
            &node.span,
            &node.path,
            format!(
                "workload `{name}` is a job: only deployments have replicas to scale (a job \
                 here is a stream of arrivals)"
            ),
        );
        return None;
    }
    if let WorkloadKind::Session(_) = workloads.specs[index].kind {
        ctx.error(
            &node.span,
            &node.path,
            format!(
                "workload `{name}` is a session workload: only deployments have replicas to \
                 scale (its pods follow its users)"
            ),
        );
        return None;
    }
    Some(index)
}

/// `{ pool = "a", count = 10 }` under one of the node action keys.
fn read_nodes(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    pools: &[NodePoolSpec],
) -> Option<ChangeAction> {
    let fields = reader::table(ctx, node, NODES_KEYS)?;
    let pool = fields
        .require(ctx, "pool")
        .and_then(|n| pool_index(ctx, &n, pools));
    let count = fields
        .require(ctx, "count")
        .and_then(|n| reader::count(ctx, &n, 1, u64::from(u32::MAX)));
    let (pool, count) = (u32::try_from(pool?).ok()?, u32::try_from(count?).ok()?);
    Some(match key {
        "add_nodes" => ChangeAction::AddNodes { pool, count },
        "delete_nodes" => ChangeAction::DeleteNodes { pool, count },
        "drain_nodes" => ChangeAction::DrainNodes { pool, count },
        "cordon_nodes" => ChangeAction::CordonNodes { pool, count },
        _ => ChangeAction::UncordonNodes { pool, count },
    })
}

/// Warnings from a static walk through the changes in time order: an
/// `add_nodes` past the pool's max, a deletion or drain of more nodes than
/// the pool has, a drain or deletion the rest of the cluster cannot absorb,
/// and add_nodes that would use up the node ids. Pool sizes follow `count`
/// and the earlier add_nodes and delete_nodes (each repeating change counted
/// once, provisioning delays and cordons ignored); the deployments' demand
/// follows `replicas`, their `start` and earlier `scale` changes.
pub(crate) fn check_capacity(ctx: &mut Ctx, config: &SimConfig, places: &[Place]) {
    let mut order: Vec<usize> = (0..config.changes.len()).collect();
    order.sort_by_key(|&i| config.changes[i].at);
    let mut sizes: Vec<u32> = config.node_pools.iter().map(|p| p.count).collect();
    let mut replicas: Vec<u32> = config
        .workloads
        .iter()
        .map(|w| match &w.kind {
            WorkloadKind::Deployment(d) => d.replicas,
            WorkloadKind::Job(_) | WorkloadKind::Session(_) => 0,
        })
        .collect();
    for i in order {
        let (change, place) = (&config.changes[i], &places[i]);
        match change.action {
            ChangeAction::Scale {
                workload,
                replicas: r,
            } => replicas[workload as usize] = r,
            ChangeAction::AddNodes { pool, count } => {
                let size = &mut sizes[pool as usize];
                *size = warn_past_max(ctx, &config.node_pools[pool as usize], *size, count, place);
            }
            ChangeAction::DeleteNodes { pool, count }
            | ChangeAction::DrainNodes { pool, count } => {
                let removed = warn_removal(ctx, config, &sizes, pool, count, place);
                warn_unabsorbed(ctx, config, &sizes, &replicas, change, removed, place);
                if let ChangeAction::DeleteNodes { .. } = change.action {
                    sizes[pool as usize] -= removed;
                }
            }
            ChangeAction::CordonNodes { .. } | ChangeAction::UncordonNodes { .. } => {}
        }
    }
    warn_id_exhaustion(ctx, config, places);
}

/// The pool's size after adding `count` nodes to `size`, at most its max.
fn warn_past_max(ctx: &mut Ctx, pool: &NodePoolSpec, size: u32, count: u32, place: &Place) -> u32 {
    let wanted = u64::from(size) + u64::from(count);
    if wanted > u64::from(pool.max) {
        let hint = if pool.max == pool.count {
            " (max defaults to count: set `max` on the pool to let it grow)"
        } else {
            ""
        };
        ctx.warn(
            &place.span,
            &place.path,
            format!(
                "add_nodes would take pool `{}` to {wanted} nodes, past its max ({}){hint}",
                pool.name, pool.max
            ),
        );
    }
    size.saturating_add(count).min(pool.max)
}

/// How many of `count` nodes a deletion or drain finds in the pool.
fn warn_removal(
    ctx: &mut Ctx,
    config: &SimConfig,
    sizes: &[u32],
    pool: u32,
    count: u32,
    place: &Place,
) -> u32 {
    let size = sizes[pool as usize];
    if count > size {
        ctx.warn(
            &place.span,
            &place.path,
            format!(
                "asks for {count} nodes of pool `{}`, which has about {size} at that time",
                config.node_pools[pool as usize].name
            ),
        );
    }
    count.min(size)
}

/// A drain or deletion after which the cluster's allocatable cpu or memory
/// is below what the deployments' pods request: some stay pending.
fn warn_unabsorbed(
    ctx: &mut Ctx,
    config: &SimConfig,
    sizes: &[u32],
    replicas: &[u32],
    change: &ScheduledChange,
    removed: u32,
    place: &Place,
) {
    use ksim_core::resources::{CPU, MEMORY};
    let Some(pool) = change.action.pool() else {
        return;
    };
    for (dim, resource) in [(CPU, "cpu"), (MEMORY, "memory")] {
        let capacity: u128 = config
            .node_pools
            .iter()
            .zip(sizes)
            .map(|(p, &n)| u128::from(p.allocatable.0[dim]) * u128::from(n))
            .sum();
        let removed_capacity =
            u128::from(config.node_pools[pool as usize].allocatable.0[dim]) * u128::from(removed);
        let left = capacity - removed_capacity;
        let demand: u128 = config
            .workloads
            .iter()
            .zip(replicas)
            .filter(|(w, _)| match &w.kind {
                WorkloadKind::Deployment(d) => d.start <= change.at,
                WorkloadKind::Job(_) | WorkloadKind::Session(_) => false,
            })
            .map(|(w, &r)| u128::from(w.template.requests[dim].min()) * u128::from(r))
            .sum();
        if left < demand {
            let show = |v: u128| crate::checks::amount(dim, u64::try_from(v).unwrap_or(u64::MAX));
            ctx.warn(
                &place.span,
                &place.path,
                format!(
                    "after this change the cluster has about {} allocatable {resource} for the \
                     deployments' pods, which request {}: some of them will stay pending \
                     (an estimate from the pools' counts and earlier add_nodes and delete_nodes)",
                    show(left),
                    show(demand)
                ),
            );
            return;
        }
    }
}

/// Node ids are never reused: add_nodes over the whole run, with their
/// repeats, must leave ids for every node.
fn warn_id_exhaustion(ctx: &mut Ctx, config: &SimConfig, places: &[Place]) {
    let ids = config.node_ids_upper_bound();
    let first_add = config
        .changes
        .iter()
        .zip(places)
        .find(|(c, _)| matches!(c.action, ChangeAction::AddNodes { .. }));
    if let (Some((_, place)), true) = (first_add, ids > u128::from(u32::MAX)) {
        ctx.warn(
            &place.span,
            &place.path,
            format!(
                "the add_nodes changes ask for up to {ids} nodes over the run with the \
                 starting ones, but node ids are never reused and there are only {}",
                u32::MAX
            ),
        );
    }
}

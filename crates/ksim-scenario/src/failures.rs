//! `[node_lifecycle]` and `[[node_failures]]`.

use ksim_core::config::{NodeFailureRate, NodeFailureSpec, NodeLifecycleConfig, NodePoolSpec};
use ksim_core::time::SimTime;

use crate::names;
use crate::reader::{self, Ctx, Node};

const LIFECYCLE_KEYS: &[&str] = &[
    "lease_renew_interval",
    "node_monitor_period",
    "node_monitor_grace_period",
    "default_toleration",
    "eviction_rate_per_s",
    "secondary_eviction_rate_per_s",
    "large_cluster_size_threshold",
    "unhealthy_zone_threshold",
    "lease_cohorts",
];
const FAILURE_KEYS: &[&str] = &["at", "pool", "count", "recover_after"];
const RATE_KEYS: &[&str] = &["pool", "per_hour", "recover_after"];

pub(crate) fn read_lifecycle(ctx: &mut Ctx, node: Option<Node>) -> Option<NodeLifecycleConfig> {
    let d = NodeLifecycleConfig::default();
    let Some(node) = node else { return Some(d) };
    let fields = reader::table(ctx, &node, LIFECYCLE_KEYS)?;
    let lease_renew_interval = reader::duration_or(
        ctx,
        &fields,
        "lease_renew_interval",
        d.lease_renew_interval,
        true,
    );
    let node_monitor_period = reader::duration_or(
        ctx,
        &fields,
        "node_monitor_period",
        d.node_monitor_period,
        true,
    );
    let node_monitor_grace_period = reader::duration_or(
        ctx,
        &fields,
        "node_monitor_grace_period",
        d.node_monitor_grace_period,
        true,
    );
    let default_toleration = reader::duration_or(
        ctx,
        &fields,
        "default_toleration",
        d.default_toleration,
        false,
    );
    let eviction_rate_per_s =
        reader::positive_number_or(ctx, &fields, "eviction_rate_per_s", d.eviction_rate_per_s);
    let secondary_eviction_rate_per_s = number_in_or(
        ctx,
        &fields,
        "secondary_eviction_rate_per_s",
        d.secondary_eviction_rate_per_s,
        (0.0, f64::INFINITY),
    );
    let unhealthy_zone_threshold = number_in_or(
        ctx,
        &fields,
        "unhealthy_zone_threshold",
        d.unhealthy_zone_threshold,
        (0.0, 1.0),
    );
    let large_cluster_size_threshold = reader::count_or(
        ctx,
        &fields,
        "large_cluster_size_threshold",
        d.large_cluster_size_threshold,
        0,
        u64::from(u32::MAX),
    );
    let lease_cohorts =
        reader::count_or(ctx, &fields, "lease_cohorts", d.lease_cohorts, 1, 1_000_000);
    let (renew, grace) = (lease_renew_interval?, node_monitor_grace_period?);
    if grace <= renew {
        // Both at their defaults pass, so one of them was written.
        let key = if fields.has("node_monitor_grace_period") {
            "node_monitor_grace_period"
        } else {
            "lease_renew_interval"
        };
        ctx.error(
            &fields.key_span(key),
            &reader::join_key(&fields.path, key),
            format!(
                "node_monitor_grace_period ({grace}) must be longer than lease_renew_interval \
                 ({renew}): upstream wants several renewals per grace period \
                 (kube-controller-manager --node-monitor-grace-period: \"Must be N times more \
                 than kubelet's nodeStatusUpdateFrequency\"); a shorter one would make healthy \
                 nodes flap NotReady, which is not modelled, and a failure could be detected \
                 before it happened"
            ),
        );
        return None;
    }
    Some(NodeLifecycleConfig {
        lease_renew_interval: renew,
        node_monitor_period: node_monitor_period?,
        node_monitor_grace_period: grace,
        default_toleration: default_toleration?,
        eviction_rate_per_s: eviction_rate_per_s?,
        secondary_eviction_rate_per_s: secondary_eviction_rate_per_s?,
        large_cluster_size_threshold: large_cluster_size_threshold?,
        unhealthy_zone_threshold: unhealthy_zone_threshold?,
        lease_cohorts: lease_cohorts?,
    })
}

/// An optional finite number within `[min, max]`, with a default.
fn number_in_or(
    ctx: &mut Ctx,
    fields: &reader::Fields,
    key: &str,
    default: f64,
    (min, max): (f64, f64),
) -> Option<f64> {
    let Some(node) = fields.get(key) else {
        return Some(default);
    };
    let value = reader::number(ctx, &node)?;
    if (min..=max).contains(&value) {
        return Some(value);
    }
    let range = if max.is_infinite() {
        format!("at least {min}")
    } else {
        format!("within [{min}, {max}]")
    };
    ctx.error(
        &node.span,
        &node.path,
        format!("{key} must be {range}, found {value}"),
    );
    None
}

pub(crate) fn read_failures(
    ctx: &mut Ctx,
    node: Option<Node>,
    pools: &[NodePoolSpec],
    end: Option<SimTime>,
) -> Option<Vec<NodeFailureSpec>> {
    let Some(node) = node else {
        return Some(Vec::new());
    };
    let entries = reader::array(ctx, &node)?;
    let failures: Vec<Option<NodeFailureSpec>> = entries
        .iter()
        .map(|e| read_failure(ctx, e, pools, end))
        .collect();
    failures.into_iter().collect()
}

fn read_failure(
    ctx: &mut Ctx,
    node: &Node,
    pools: &[NodePoolSpec],
    end: Option<SimTime>,
) -> Option<NodeFailureSpec> {
    let fields = reader::table(ctx, node, FAILURE_KEYS)?;
    let at = fields.require(ctx, "at").and_then(|n| {
        let at = SimTime(reader::duration(ctx, &n)?.0);
        if let Some(end) = end.filter(|end| at > *end) {
            ctx.warn(
                &n.span,
                &n.path,
                format!("at ({at}) is after the end of the run ({end}): these nodes never fail"),
            );
        }
        Some(at)
    });
    let pool = fields
        .require(ctx, "pool")
        .and_then(|n| pool_index(ctx, &n, pools));
    let count = fields.require(ctx, "count").and_then(|n| {
        let count = reader::count(ctx, &n, 1, u64::from(u32::MAX))? as u32;
        // Nodes added during the run may fail too: up to the pool's max,
        // as many as are healthy then.
        let max = pool.map(|p| pools[p].max)?;
        if count > max {
            ctx.error(
                &n.span,
                &n.path,
                format!("count ({count}) is larger than the pool's max ({max} nodes)"),
            );
            return None;
        }
        Some(count)
    });
    let recover_after = match fields.get("recover_after") {
        None => Some(None),
        Some(n) => reader::positive_duration(ctx, &n).map(Some),
    };
    Some(NodeFailureSpec {
        at: at?,
        pool: pool? as u32,
        count: count?,
        recover_after: recover_after?,
    })
}

/// The index of the pool a `pool` key names; an error with a suggestion otherwise.
pub(crate) fn pool_index(ctx: &mut Ctx, node: &Node, pools: &[NodePoolSpec]) -> Option<usize> {
    let name = reader::string(ctx, node)?;
    let found = pools.iter().position(|p| p.name == name);
    if found.is_none() {
        let known: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        let hint = names::suggest(name, &known)
            .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
        ctx.error(
            &node.span,
            &node.path,
            format!("no node pool named `{name}`{hint}"),
        );
    }
    found
}

pub(crate) fn read_rates(
    ctx: &mut Ctx,
    node: Option<Node>,
    pools: &[NodePoolSpec],
) -> Option<Vec<NodeFailureRate>> {
    let Some(node) = node else {
        return Some(Vec::new());
    };
    let entries = reader::array(ctx, &node)?;
    let rates: Vec<Option<NodeFailureRate>> =
        entries.iter().map(|e| read_rate(ctx, e, pools)).collect();
    rates.into_iter().collect()
}

fn read_rate(ctx: &mut Ctx, node: &Node, pools: &[NodePoolSpec]) -> Option<NodeFailureRate> {
    let fields = reader::table(ctx, node, RATE_KEYS)?;
    let pool = fields
        .require(ctx, "pool")
        .and_then(|n| pool_index(ctx, &n, pools));
    let mean_interval = fields
        .require(ctx, "per_hour")
        .and_then(|n| reader::gap_from_rate(ctx, &n, 3600.0, "failures"));
    let recover_after = match fields.get("recover_after") {
        None => Some(None),
        Some(n) => reader::positive_duration(ctx, &n).map(Some),
    };
    Some(NodeFailureRate {
        pool: pool? as u32,
        mean_interval: mean_interval?,
        recover_after: recover_after?,
    })
}

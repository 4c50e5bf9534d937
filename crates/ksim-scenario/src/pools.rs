//! `[[node_pools]]`: groups of identical nodes; plus the label and extended
//! resource helpers shared with workloads.

use std::collections::BTreeSet;

use ksim_core::config::{Label, NodePoolSpec, Taint, TaintEffect, DEFAULT_PROVISIONING_DELAY};
use ksim_core::resources::{
    ResourceVec, CPU, EPHEMERAL_STORAGE, FIRST_EXTENDED, MAX_EXTENDED, MEMORY, NUM_RESOURCES, PODS,
};

use crate::distributions::{distribution, scalar, Unit};
use crate::names;
use crate::reader::{self, Ctx, Node, Span};

/// The per-node label every node gets from its name; pools cannot share one.
pub(crate) const HOSTNAME: &str = "kubernetes.io/hostname";

/// Kubelet's default `maxPods`.
const DEFAULT_MAX_PODS: u64 = 110;

const POOL_KEYS: &[&str] = &[
    "name",
    "count",
    "min",
    "max",
    "price_per_hour",
    "provisioning_delay",
    "cpu",
    "memory",
    "ephemeral_storage",
    "max_pods",
    "extended",
    "labels",
    "taints",
];
const TAINT_KEYS: &[&str] = &["key", "value", "effect"];
pub(crate) const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

pub(crate) fn effect(name: &str) -> TaintEffect {
    match name {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        _ => TaintEffect::NoExecute,
    }
}

/// Extended resource names in order of first appearance (pools, then pods).
#[derive(Default)]
pub(crate) struct ExtendedNames {
    pub names: Vec<String>,
}

impl ExtendedNames {
    /// The resource vector index of `name`, registering it if new.
    pub(crate) fn index(
        &mut self,
        ctx: &mut Ctx,
        name: &str,
        span: &Span,
        path: &str,
    ) -> Option<usize> {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Some(FIRST_EXTENDED + i);
        }
        if self.names.len() == MAX_EXTENDED {
            ctx.error(
                span,
                path,
                format!(
                    "too many extended resources: a scenario may use at most {MAX_EXTENDED} \
                     ({}), and `{name}` would be one more",
                    names::list(&self.names.iter().map(String::as_str).collect::<Vec<_>>())
                ),
            );
            return None;
        }
        self.names.push(name.to_string());
        Some(FIRST_EXTENDED + self.names.len() - 1)
    }

    /// Reads `{ "nvidia.com/gpu" = 8 }` into `out`, returning false on problems.
    pub(crate) fn read_map(&mut self, ctx: &mut Ctx, node: &Node, out: &mut ResourceVec) -> bool {
        let Some(fields) = reader::free_table(ctx, node) else {
            return false;
        };
        let mut ok = true;
        for entry in fields.entries() {
            if let Err(message) = names::check_extended_resource(entry.key) {
                ctx.error(&entry.key_span, &entry.node.path, message);
                ok = false;
                continue;
            }
            let amount = reader::count(ctx, &entry.node, 0, i64::MAX as u64);
            let index = self.index(ctx, entry.key, &entry.key_span, &entry.node.path);
            match (amount, index) {
                (Some(amount), Some(index)) => out.0[index] = amount,
                _ => ok = false,
            }
        }
        ok
    }
}

/// A string-to-string map of labels (`labels`, `node_selector`, `match_labels`).
pub(crate) fn label_map(ctx: &mut Ctx, node: &Node) -> Option<Vec<Label>> {
    let fields = reader::free_table(ctx, node)?;
    let mut ok = true;
    let mut labels = Vec::new();
    for entry in fields.entries() {
        if let Err(message) = names::check_qualified_name(entry.key) {
            ctx.error(&entry.key_span, &entry.node.path, message);
            ok = false;
            continue;
        }
        let Some(value) = entry.node.as_str() else {
            let written = entry
                .node
                .as_integer()
                .map(|i| i.to_string())
                .or_else(|| entry.node.as_float().map(|f| f.to_string()));
            let hint = match written {
                Some(w) => format!(" (label values are strings: write \"{w}\")"),
                None => String::new(),
            };
            ctx.error(
                &entry.node.span,
                &entry.node.path,
                format!("expected a string, found {}{hint}", entry.node.type_name()),
            );
            ok = false;
            continue;
        };
        if let Err(message) = names::check_label_value(value) {
            ctx.error(&entry.node.span, &entry.node.path, message);
            ok = false;
            continue;
        }
        labels.push(Label {
            key: entry.key.to_string(),
            value: value.to_string(),
        });
    }
    ok.then_some(labels)
}

/// The node pools read so far; `complete` is false when any pool failed,
/// so cross-references against pool labels are not trustworthy.
pub(crate) struct Pools {
    pub specs: Vec<NodePoolSpec>,
    pub complete: bool,
    /// Every label key of every pool, for checking selectors against.
    pub label_keys: BTreeSet<String>,
}

pub(crate) fn read(ctx: &mut Ctx, node: Option<Node>, extended: &mut ExtendedNames) -> Pools {
    let mut pools = Pools {
        specs: Vec::new(),
        complete: false,
        label_keys: BTreeSet::new(),
    };
    let Some(elements) = node.as_ref().and_then(|n| reader::array(ctx, n)) else {
        return pools;
    };
    if let (Some(node), true) = (&node, elements.is_empty()) {
        ctx.error(&node.span, &node.path, "at least one node pool is required");
    }
    let mut seen = reader::SeenNames::new();
    let mut allocatable_total = ResourceVec::ZERO;
    for element in &elements {
        if let Some(pool) = read_pool(ctx, element, extended, &mut seen) {
            add_to_total(ctx, element, &pool, &mut allocatable_total);
            pools.specs.push(pool);
        }
    }
    pools.complete = pools.specs.len() == elements.len();
    pools.label_keys = pools
        .specs
        .iter()
        .flat_map(|p| &p.labels)
        .map(|l| l.key.clone())
        .collect();
    // Node ids are never reused, and a pool holds at most `max` nodes at once.
    let total: u64 = pools.specs.iter().map(|p| u64::from(p.max)).sum();
    if let (Some(node), true) = (&node, total > u64::from(u32::MAX)) {
        ctx.error(
            &node.span,
            &node.path,
            format!(
                "{total} nodes in total (the sum of each pool's max) is more than the {} \
                 supported",
                u32::MAX
            ),
        );
    }
    pools
}

/// Adds a pool's nodes at its `max` to the cluster's allocatable, refusing a
/// total past u64 (the core keeps cluster totals exactly, at any size the
/// pools can reach).
fn add_to_total(ctx: &mut Ctx, node: &Node, pool: &NodePoolSpec, total: &mut ResourceVec) {
    for dim in 0..NUM_RESOURCES {
        let sum = pool.allocatable.0[dim]
            .checked_mul(u64::from(pool.max))
            .and_then(|sum| sum.checked_add(total.0[dim]));
        match sum {
            Some(sum) => total.0[dim] = sum,
            None => {
                let resource = match dim {
                    CPU => "cpu",
                    MEMORY => "memory",
                    EPHEMERAL_STORAGE => "ephemeral_storage",
                    PODS => "max_pods",
                    _ => "an extended resource",
                };
                let message = format!(
                    "{} nodes of this pool (its max) bring the cluster's total allocatable \
                     {resource} past 2^64 - 1 (in millicores, bytes or units), which the \
                     simulator cannot count",
                    pool.max
                );
                ctx.error(&node.span, &node.path, message);
                return;
            }
        }
    }
}

/// A required quantity that must be above zero (allocatable cpu and memory).
fn allocatable(ctx: &mut Ctx, fields: &reader::Fields, key: &str, unit: Unit) -> Option<u64> {
    let node = fields.require(ctx, key)?;
    let value = scalar(ctx, &node, unit)?;
    if value == 0 {
        ctx.error(
            &node.span,
            &node.path,
            format!("zero allocatable {key}: a node pool needs some {key} to run any pod"),
        );
        return None;
    }
    Some(value)
}

fn read_pool(
    ctx: &mut Ctx,
    node: &Node,
    extended: &mut ExtendedNames,
    seen: &mut reader::SeenNames,
) -> Option<NodePoolSpec> {
    let fields = reader::table(ctx, node, POOL_KEYS)?;
    let name = fields.require(ctx, "name").and_then(|n| {
        let name = reader::name(ctx, &n)?;
        reader::unique_name(ctx, seen, name, &n, "node pool").then_some(name)
    });
    let count = fields
        .require(ctx, "count")
        .and_then(|n| reader::count(ctx, &n, 0, u64::from(u32::MAX)))
        .map(|c| c as u32);
    let bounds = read_bounds(ctx, &fields, count);
    let price_per_hour = read_price(ctx, &fields);
    let provisioning_delay = fields
        .get("provisioning_delay")
        .map_or(Some(DEFAULT_PROVISIONING_DELAY), |n| {
            distribution(ctx, &n, Unit::Duration)
        });
    let cpu = allocatable(ctx, &fields, "cpu", Unit::Cpu);
    let memory = allocatable(ctx, &fields, "memory", Unit::Bytes);
    let storage = fields
        .get("ephemeral_storage")
        .map_or(Some(0), |n| scalar(ctx, &n, Unit::Bytes));
    let max_pods = fields.get("max_pods").map_or(Some(DEFAULT_MAX_PODS), |n| {
        let max_pods = reader::count(ctx, &n, 0, i64::MAX as u64)?;
        if max_pods == 0 {
            ctx.error(
                &n.span,
                &n.path,
                "zero allocatable pods: max_pods must be at least 1",
            );
            return None;
        }
        Some(max_pods)
    });
    let mut resources = ResourceVec::ZERO;
    let extended_ok = fields
        .get("extended")
        .is_none_or(|n| extended.read_map(ctx, &n, &mut resources));
    let labels = fields
        .get("labels")
        .map_or(Some(Vec::new()), |n| pool_labels(ctx, &n));
    let taints = fields
        .get("taints")
        .map_or(Some(Vec::new()), |n| read_taints(ctx, &n));
    resources.0[CPU] = cpu?;
    resources.0[MEMORY] = memory?;
    resources.0[EPHEMERAL_STORAGE] = storage?;
    resources.0[PODS] = max_pods?;
    let (min, max) = bounds?;
    Some(NodePoolSpec {
        name: name?.to_string(),
        count: count?,
        min,
        max,
        price_per_hour: price_per_hour?,
        provisioning_delay: provisioning_delay?,
        allocatable: extended_ok.then_some(resources)?,
        labels: labels?,
        taints: taints?,
        daemonset_requests: ResourceVec::ZERO,
    })
}

/// `min` (default 0) and `max` (default `count`) around the starting `count`.
fn read_bounds(ctx: &mut Ctx, fields: &reader::Fields, count: Option<u32>) -> Option<(u32, u32)> {
    let limit = u64::from(u32::MAX);
    let min = reader::count_or(ctx, fields, "min", 0u32, 0, limit);
    let max = match fields.get("max") {
        Some(n) => reader::count(ctx, &n, 0, limit).map(|m| m as u32),
        None => count,
    };
    let (min, max, count) = (min?, max?, count?);
    let at = |key: &str| (fields.key_span(key), reader::join_key(&fields.path, key));
    if min > max {
        // min defaults to 0, so it was written.
        let (span, path) = at("min");
        let max_source = if fields.has("max") {
            ""
        } else {
            ", which defaults to count"
        };
        ctx.error(
            &span,
            &path,
            format!("min ({min}) is above max ({max}{max_source})"),
        );
        return None;
    }
    if !(min..=max).contains(&count) {
        let (span, path) = at("count");
        ctx.error(
            &span,
            &path,
            format!("count ({count}) must be within [min, max] = [{min}, {max}]: the pool starts with count nodes"),
        );
        return None;
    }
    Some((min, max))
}

/// `price_per_hour`: what one node costs per hour; default 0.
fn read_price(ctx: &mut Ctx, fields: &reader::Fields) -> Option<f64> {
    let Some(node) = fields.get("price_per_hour") else {
        return Some(0.0);
    };
    let price = reader::number(ctx, &node)?;
    if price < 0.0 {
        ctx.error(
            &node.span,
            &node.path,
            format!("price_per_hour must not be negative, found {price}"),
        );
        return None;
    }
    Some(price)
}

fn pool_labels(ctx: &mut Ctx, node: &Node) -> Option<Vec<Label>> {
    let labels = label_map(ctx, node)?;
    if labels.iter().any(|l| l.key == HOSTNAME) {
        ctx.error(
            &node.span,
            &node.path,
            format!(
                "`{HOSTNAME}` cannot be a pool label: all nodes of a pool share their labels, \
                 but a hostname is unique per node"
            ),
        );
        return None;
    }
    Some(labels)
}

fn read_taints(ctx: &mut Ctx, node: &Node) -> Option<Vec<Taint>> {
    let mut taints: Vec<Taint> = Vec::new();
    let mut ok = true;
    for element in reader::array(ctx, node)? {
        let Some(taint) = read_taint(ctx, &element) else {
            ok = false;
            continue;
        };
        // Upstream validateNodeTaints: unique by key and effect.
        if taints
            .iter()
            .any(|t| t.key == taint.key && t.effect == taint.effect)
        {
            ctx.error(
                &element.span,
                &element.path,
                format!(
                    "duplicate taint: key `{}` with effect {:?} appears twice (taints must be \
                     unique by key and effect)",
                    taint.key, taint.effect
                ),
            );
            ok = false;
            continue;
        }
        taints.push(taint);
    }
    ok.then_some(taints)
}

fn read_taint(ctx: &mut Ctx, node: &Node) -> Option<Taint> {
    let fields = reader::table(ctx, node, TAINT_KEYS)?;
    let key = fields.require(ctx, "key").and_then(|n| {
        let key = reader::string(ctx, &n)?;
        names::check_qualified_name(key)
            .map_err(|m| ctx.error(&n.span, &n.path, m))
            .ok()
            .map(|_| key)
    });
    let value = fields.get("value").map_or(Some(""), |n| {
        let value = reader::string(ctx, &n)?;
        names::check_label_value(value)
            .map_err(|m| ctx.error(&n.span, &n.path, m))
            .ok()
            .map(|_| value)
    });
    let effect_name = fields
        .require(ctx, "effect")
        .and_then(|n| reader::choice(ctx, &n, EFFECTS));
    Some(Taint {
        key: key?.to_string(),
        value: value?.to_string(),
        effect: effect(effect_name?),
    })
}

//! `[karpenter]`: the Karpenter-like provisioner, its instance catalog and
//! `[[karpenter.node_pools]]`. Each NodePool is expanded here into one empty
//! pool per compatible instance type × capacity type × zone
//! (`ksim_core::controller::karpenter::expand`), appended
//! after the scenario's own `[[node_pools]]`.

use ksim_core::autoscale::karpenter::budget::{Budget, BudgetNodes, DisruptionReason};
use ksim_core::autoscale::karpenter::catalog::{
    parse_catalog_csv, InstanceType, NodePoolLimits, NodePoolRequirements, Operator,
    OverheadSettings, Requirement, DEFAULT_VOLUME_BYTES,
};
use ksim_core::autoscale::karpenter::consolidation::{ConsolidationPolicy, ConsolidationSettings};
use ksim_core::autoscale::karpenter::settings::{
    KarpenterNodePool, KarpenterSettings, DEFAULT_BATCH_IDLE_DURATION, DEFAULT_BATCH_MAX_DURATION,
    DEFAULT_EXPIRE_AFTER, OFFERING_POOL_MAX,
};
use ksim_core::config::{NodeAutoscaler, NodePoolSpec, DEFAULT_PROVISIONING_DELAY};
use ksim_core::controller::karpenter::expand::{expand_node_pool, NodePoolTemplate};
use ksim_core::ids::PoolId;
use ksim_core::resources::{ResourceVec, CPU, MEMORY};
use ksim_core::time::SimDuration;

use crate::distributions::{distribution, scalar, Unit};
use crate::names;
use crate::pools::{ExtendedNames, Pools};
use crate::reader::{self, Ctx, Fields, Node};

const KARPENTER_KEYS: &[&str] = &[
    "catalog",
    "spot_price_percent",
    "batch_idle_duration",
    "batch_max_duration",
    "spot_interruptions_per_hour",
    "node_pools",
];
const NODE_POOL_KEYS: &[&str] = &[
    "name",
    "families",
    "capacity_types",
    "zones",
    "limits",
    "consolidation_policy",
    "consolidate_after",
    "expire_after",
    "budgets",
    "provisioning_delay",
    "volume_size",
];
const LIMIT_KEYS: &[&str] = &["cpu", "memory"];
const BUDGET_KEYS: &[&str] = &["nodes", "reasons"];
const CAPACITY_TYPES: &[&str] = &["spot", "on-demand"];
const POLICIES: &[&str] = &["WhenEmpty", "WhenEmptyOrUnderutilized"];
const REASONS: &[&str] = &["Empty", "Underutilized", "Drifted"];
/// Spot at 35% of on-demand: the figure `scenarios/catalogs/README.md` calls
/// typical for these families.
const DEFAULT_SPOT_PRICE_PERCENT: u64 = 35;
/// The extended resource a catalog's GPUs are counted in.
const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Reads `[karpenter]` and appends its expanded pools to `pools`.
/// `daemonsets` is what the DaemonSets that run on every node request.
pub(crate) fn read(
    ctx: &mut Ctx,
    node: &Node,
    pools: &mut Pools,
    daemonsets: ResourceVec,
    extended: &mut ExtendedNames,
) -> Option<NodeAutoscaler> {
    let fields = reader::table(ctx, node, KARPENTER_KEYS)?;
    let spot_percent = reader::count_or(
        ctx,
        &fields,
        "spot_price_percent",
        DEFAULT_SPOT_PRICE_PERCENT,
        1,
        100,
    );
    let catalog = read_catalog(ctx, &fields, spot_percent?)?;
    let idle = reader::duration_or(
        ctx,
        &fields,
        "batch_idle_duration",
        DEFAULT_BATCH_IDLE_DURATION,
        true,
    );
    let max = reader::duration_or(
        ctx,
        &fields,
        "batch_max_duration",
        DEFAULT_BATCH_MAX_DURATION,
        true,
    );
    let rate = fields
        .get("spot_interruptions_per_hour")
        .map_or(Some(0.0), |n| non_negative(ctx, &n));
    let gpu = if catalog.iter().any(|it| it.gpu_count > 0) {
        extended.index(ctx, GPU_RESOURCE, &node.span, &node.path)
    } else {
        None
    };
    let list = fields.require_with(
        ctx,
        "node_pools",
        " (add at least one [[karpenter.node_pools]] table)",
    )?;
    let mut node_pools = Vec::new();
    let mut seen = reader::SeenNames::new();
    for element in reader::array(ctx, &list)? {
        let expanded = read_node_pool(ctx, &element, &catalog, daemonsets, gpu, pools);
        if let Some(np) = expanded {
            if reader::unique_name(ctx, &mut seen, &np.name, &element, "NodePool") {
                node_pools.push(np);
            }
        }
    }
    if node_pools.is_empty() && !ctx.has_errors() {
        ctx.error(&list.span, &list.path, "at least one NodePool is required");
    }
    cap_offering_pools(&node_pools, &mut pools.specs);
    Some(NodeAutoscaler::Karpenter(KarpenterSettings {
        node_pools,
        batch_idle_duration: idle?,
        batch_max_duration: max?,
        spot_interruptions_per_hour: rate?,
    }))
}

/// The catalog file, resolved against the scenario's directory; its errors
/// name the file and line.
fn read_catalog(ctx: &mut Ctx, fields: &Fields, spot_percent: u64) -> Option<Vec<InstanceType>> {
    let node = fields.require_with(
        ctx,
        "catalog",
        " (a CSV of instance types, e.g. \"catalogs/aws-sample.csv\")",
    )?;
    let path = reader::string(ctx, &node)?;
    let file = ctx.resolve(path);
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) => {
            ctx.error(
                &node.span,
                &node.path,
                format!("cannot read catalog `{shown}`: {e}"),
            );
            return None;
        }
    };
    let catalog = match parse_catalog_csv(&text, spot_percent) {
        Ok(catalog) => catalog,
        Err(e) => {
            ctx.error(&node.span, &node.path, format!("catalog `{shown}`: {e}"));
            return None;
        }
    };
    if catalog.is_empty() {
        ctx.error(
            &node.span,
            &node.path,
            format!("catalog `{shown}` lists no instance type"),
        );
        return None;
    }
    Some(catalog)
}

fn non_negative(ctx: &mut Ctx, node: &Node) -> Option<f64> {
    let v = reader::number(ctx, node)?;
    if !(v.is_finite() && v >= 0.0) {
        ctx.error(
            &node.span,
            &node.path,
            format!("must be zero or more, found {v}"),
        );
        return None;
    }
    Some(v)
}

fn read_node_pool(
    ctx: &mut Ctx,
    node: &Node,
    catalog: &[InstanceType],
    daemonsets: ResourceVec,
    gpu: Option<usize>,
    pools: &mut Pools,
) -> Option<KarpenterNodePool> {
    let fields = reader::table(ctx, node, NODE_POOL_KEYS)?;
    let name = fields
        .require(ctx, "name")
        .and_then(|n| reader::name(ctx, &n));
    let mut families: Vec<&str> = catalog.iter().map(|it| it.family.as_str()).collect();
    families.sort();
    families.dedup();
    let mut zones: Vec<&str> = catalog
        .iter()
        .flat_map(|it| it.zones.iter().map(String::as_str))
        .collect();
    zones.sort();
    zones.dedup();
    let families = requirement(ctx, &fields, "families", &families);
    let capacity_types = requirement(ctx, &fields, "capacity_types", CAPACITY_TYPES);
    let zones = requirement(ctx, &fields, "zones", &zones);
    let limits = read_limits(ctx, &fields);
    let consolidation = read_consolidation(ctx, &fields);
    let expire_after = fields
        .get("expire_after")
        .map_or(Some(Some(DEFAULT_EXPIRE_AFTER)), |n| {
            duration_or_never(ctx, &n)
        });
    let budgets = fields
        .get("budgets")
        .map_or(Some(vec![Budget::default_budget()]), |n| {
            read_budgets(ctx, &n)
        });
    let delay = fields
        .get("provisioning_delay")
        .map_or(Some(DEFAULT_PROVISIONING_DELAY), |n| {
            distribution(ctx, &n, Unit::Duration)
        });
    let volume = fields
        .get("volume_size")
        .map_or(Some(DEFAULT_VOLUME_BYTES), |n| scalar(ctx, &n, Unit::Bytes));
    let template = NodePoolTemplate {
        name: name?.to_string(),
        requirements: NodePoolRequirements {
            families: families?,
            capacity_types: capacity_types?,
            zones: zones?,
        },
        provisioning_delay: delay?,
        daemonset_requests: daemonsets,
        volume_bytes: volume?,
    };
    let first = PoolId::try_from(pools.specs.len()).ok()?;
    let (mut specs, offerings) =
        expand_node_pool(&template, catalog, &OverheadSettings::default(), gpu, first);
    if specs.is_empty() {
        ctx.error(
            &node.span,
            &node.path,
            format!(
                "NodePool `{}`: its requirements admit no instance type of the catalog that \
                 can hold the DaemonSets",
                template.name
            ),
        );
        return None;
    }
    let limits = limits?;
    for (spec, offering) in specs.iter_mut().zip(&offerings) {
        spec.max = max_under_limits(&limits, &offering.capacity);
    }
    for spec in &specs {
        pools
            .label_keys
            .extend(spec.labels.iter().map(|l| l.key.clone()));
    }
    pools.specs.extend(specs);
    Some(KarpenterNodePool {
        name: template.name,
        offerings,
        limits,
        consolidation: consolidation?,
        expire_after: expire_after?,
        budgets: budgets?,
    })
}

/// The core refuses pools whose nodes at their `max` would overflow the
/// cluster's node count or allocatable totals. A large catalog has thousands
/// of offering pools, so each gets an equal share of what the totals can
/// hold (half of it: the static pools keep the rest).
fn cap_offering_pools(node_pools: &[KarpenterNodePool], specs: &mut [NodePoolSpec]) {
    let count = node_pools
        .iter()
        .map(|np| np.offerings.len())
        .sum::<usize>() as u64;
    if count == 0 {
        return;
    }
    let per_pool_nodes = u64::from(u32::MAX) / 2 / count;
    let per_pool_amount = u64::MAX / 2 / count;
    for offering in node_pools.iter().flat_map(|np| &np.offerings) {
        let spec = &mut specs[offering.pool as usize];
        let by_amount = spec
            .allocatable
            .0
            .iter()
            .filter(|&&a| a > 0)
            .map(|&a| per_pool_amount / a)
            .min()
            .unwrap_or(per_pool_amount);
        let cap = per_pool_nodes.min(by_amount).max(1);
        spec.max = spec.max.min(u32::try_from(cap).unwrap_or(u32::MAX));
    }
}

/// An offering's pool never needs more nodes than its NodePool's limits
/// allow (one more than fits, as upstream may overshoot by one launch).
fn max_under_limits(limits: &NodePoolLimits, capacity: &ResourceVec) -> u32 {
    let by = |limit: Option<u64>, per_node: u64| {
        limit.map_or(u64::from(OFFERING_POOL_MAX), |l| {
            (l / per_node.max(1)).saturating_add(1)
        })
    };
    let nodes = by(limits.cpu_millis, capacity.0[CPU])
        .min(by(limits.memory_bytes, capacity.0[MEMORY]))
        .min(u64::from(OFFERING_POOL_MAX));
    u32::try_from(nodes).expect("capped at OFFERING_POOL_MAX")
}

/// `key = ["a", "b"]`: an `In` requirement over known values.
fn requirement(
    ctx: &mut Ctx,
    fields: &Fields,
    key: &str,
    known: &[&str],
) -> Option<Option<Requirement>> {
    let Some(node) = fields.get(key) else {
        return Some(None);
    };
    let mut values = Vec::new();
    let mut ok = true;
    for element in reader::array(ctx, &node)? {
        let Some(value) = reader::string(ctx, &element) else {
            ok = false;
            continue;
        };
        if known.contains(&value) {
            values.push(value.to_string());
            continue;
        }
        ok = false;
        let message = match names::suggest(value, known) {
            Some(best) => format!("unknown value `{value}`: did you mean `{best}`?"),
            None => format!(
                "unknown value `{value}`: expected one of {}",
                names::list(known)
            ),
        };
        ctx.error(&element.span, &element.path, message);
    }
    if ok && values.is_empty() {
        ctx.error(&node.span, &node.path, format!("{key} admits no value"));
        return None;
    }
    ok.then_some(Some(Requirement {
        operator: Operator::In,
        values,
    }))
}

fn read_limits(ctx: &mut Ctx, fields: &Fields) -> Option<NodePoolLimits> {
    let Some(node) = fields.get("limits") else {
        return Some(NodePoolLimits::default());
    };
    let limits = reader::table(ctx, &node, LIMIT_KEYS)?;
    let cpu = limits
        .get("cpu")
        .map(|n| scalar(ctx, &n, Unit::Cpu))
        .map_or(Some(None), |v| v.map(Some));
    let memory = limits
        .get("memory")
        .map(|n| scalar(ctx, &n, Unit::Bytes))
        .map_or(Some(None), |v| v.map(Some));
    Some(NodePoolLimits {
        cpu_millis: cpu?,
        memory_bytes: memory?,
    })
}

fn read_consolidation(ctx: &mut Ctx, fields: &Fields) -> Option<ConsolidationSettings> {
    let policy = fields.get("consolidation_policy").map_or(
        Some(ConsolidationPolicy::WhenEmptyOrUnderutilized),
        |n| {
            reader::choice(ctx, &n, POLICIES).map(|p| match p {
                "WhenEmpty" => ConsolidationPolicy::WhenEmpty,
                _ => ConsolidationPolicy::WhenEmptyOrUnderutilized,
            })
        },
    );
    // karpenter.sh/v1 defaults consolidateAfter to 0s.
    let after = fields
        .get("consolidate_after")
        .map_or(Some(Some(SimDuration::ZERO)), |n| {
            duration_or_never(ctx, &n)
        });
    Some(ConsolidationSettings {
        policy: policy?,
        consolidate_after: after?,
        spot_to_spot: false,
    })
}

/// A duration, or "Never" (None).
fn duration_or_never(ctx: &mut Ctx, node: &Node) -> Option<Option<SimDuration>> {
    if node.as_str() == Some("Never") {
        return Some(None);
    }
    reader::duration(ctx, node).map(Some)
}

/// `budgets = [{ nodes = "10%" }, { nodes = "0", reasons = ["Underutilized"] }]`.
fn read_budgets(ctx: &mut Ctx, node: &Node) -> Option<Vec<Budget>> {
    let mut budgets = Vec::new();
    for element in reader::array(ctx, node)? {
        let fields = reader::table(ctx, &element, BUDGET_KEYS)?;
        let nodes = fields
            .require(ctx, "nodes")
            .and_then(|n| budget_nodes(ctx, &n));
        let reasons = match fields.get("reasons") {
            None => Some(None),
            Some(list) => {
                let mut out = Vec::new();
                for r in reader::array(ctx, &list)? {
                    out.push(match reader::choice(ctx, &r, REASONS)? {
                        "Empty" => DisruptionReason::Empty,
                        "Underutilized" => DisruptionReason::Underutilized,
                        _ => DisruptionReason::Drifted,
                    });
                }
                Some(Some(out))
            }
        };
        budgets.push(Budget {
            nodes: nodes?,
            reasons: reasons?,
            active: true,
        });
    }
    Some(budgets)
}

/// `"10%"`, `"3"` or `3`.
fn budget_nodes(ctx: &mut Ctx, node: &Node) -> Option<BudgetNodes> {
    let parsed = match (node.as_str(), node.as_integer()) {
        (Some(text), _) => match text.strip_suffix('%') {
            Some(p) => p
                .parse::<u32>()
                .ok()
                .filter(|p| *p <= 100)
                .map(BudgetNodes::Percent),
            None => text.parse::<u32>().ok().map(BudgetNodes::Count),
        },
        (None, Some(i)) => u32::try_from(i).ok().map(BudgetNodes::Count),
        _ => None,
    };
    if parsed.is_none() {
        ctx.error(
            &node.span,
            &node.path,
            "expected a node count (3) or a percentage of the NodePool's nodes (\"10%\")",
        );
    }
    parsed
}

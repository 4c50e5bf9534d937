//! `behavior` of an HPA (or of the HPA a ScaledObject creates): scaling
//! rules per direction, what is missing filled with upstream's defaults.

use ksim_core::autoscale::hpa::behavior::{default_scale_down_rules, default_scale_up_rules};
use ksim_core::autoscale::hpa::{
    Behavior, HpaControllerSettings, PolicyKind, ScalingPolicy, ScalingRules, SelectPolicy,
};
use ksim_core::time::SimDuration;

use crate::autoscaling::whole_seconds;
use crate::reader::{self, Ctx, Node};

const BEHAVIOR_KEYS: &[&str] = &["scale_up", "scale_down"];
const RULES_KEYS: &[&str] = &["stabilization_window", "select_policy", "policies"];
const POLICY_KEYS: &[&str] = &["type", "value", "period"];
const SELECT_POLICIES: &[&str] = &["max", "min", "disabled"];
const POLICY_KINDS: &[&str] = &["pods", "percent"];
/// Upstream's bounds (pkg/apis/autoscaling/validation: MaxPeriodSeconds,
/// MaxStabilizationWindowSeconds).
const MAX_PERIOD: SimDuration = SimDuration::from_secs(1800);
const MAX_STABILIZATION_WINDOW: SimDuration = SimDuration::from_secs(3600);

/// Upstream's rules for a direction not written, or the parts of one not
/// written: the core's `default_scale_up_rules` / `default_scale_down_rules`
/// (defaults.go, and the scale-down window from the controller's flag in
/// whole seconds).
fn default_rules(scale_up: bool, downscale_stabilization: SimDuration) -> ScalingRules {
    if scale_up {
        default_scale_up_rules()
    } else {
        let settings = HpaControllerSettings {
            downscale_stabilization,
            ..HpaControllerSettings::default()
        };
        default_scale_down_rules(&settings)
    }
}

/// A `behavior` table; `downscale_stabilization` is the controller's flag.
pub(crate) fn read(
    ctx: &mut Ctx,
    node: &Node,
    downscale_stabilization: SimDuration,
) -> Option<Behavior> {
    let fields = reader::table(ctx, node, BEHAVIOR_KEYS)?;
    let direction = |ctx: &mut Ctx, key: &str, scale_up: bool| {
        let defaults = default_rules(scale_up, downscale_stabilization);
        match fields.get(key) {
            None => Some(defaults),
            Some(n) => read_rules(ctx, &n, defaults),
        }
    };
    let scale_up = direction(ctx, "scale_up", true);
    let scale_down = direction(ctx, "scale_down", false);
    Some(Behavior {
        scale_up: scale_up?,
        scale_down: scale_down?,
    })
}

/// One direction's rules, each missing part taken from `defaults`.
fn read_rules(ctx: &mut Ctx, node: &Node, defaults: ScalingRules) -> Option<ScalingRules> {
    let fields = reader::table(ctx, node, RULES_KEYS)?;
    let window = fields
        .get("stabilization_window")
        .map_or(Some(defaults.stabilization_window), |n| {
            whole_seconds(ctx, &n, Some(MAX_STABILIZATION_WINDOW))
        });
    let select = fields
        .get("select_policy")
        .map_or(Some(defaults.select_policy), |n| {
            reader::choice(ctx, &n, SELECT_POLICIES).map(|s| match s {
                "max" => SelectPolicy::Max,
                "min" => SelectPolicy::Min,
                _ => SelectPolicy::Disabled,
            })
        });
    let policies = fields
        .get("policies")
        .map_or(Some(defaults.policies), |n| read_policies(ctx, &n));
    Some(ScalingRules {
        stabilization_window: window?,
        select_policy: select?,
        policies: policies?,
    })
}

fn read_policies(ctx: &mut Ctx, node: &Node) -> Option<Vec<ScalingPolicy>> {
    let elements = reader::array(ctx, node)?;
    if elements.is_empty() {
        ctx.error(
            &node.span,
            &node.path,
            "policies must not be empty (upstream requires at least one policy, whatever \
             select_policy is); leave `policies` out for upstream's default ones",
        );
        return None;
    }
    let read: Vec<Option<ScalingPolicy>> = elements.iter().map(|e| read_policy(ctx, e)).collect();
    read.into_iter().collect()
}

/// `{ type = "pods", value = 4, period = "15s" }`.
fn read_policy(ctx: &mut Ctx, node: &Node) -> Option<ScalingPolicy> {
    let fields = reader::table(ctx, node, POLICY_KEYS)?;
    let kind = fields
        .require_with(ctx, "type", " (\"pods\" or \"percent\")")
        .and_then(|n| reader::choice(ctx, &n, POLICY_KINDS))
        .map(|k| match k {
            "pods" => PolicyKind::Pods,
            _ => PolicyKind::Percent,
        });
    let value = fields
        .require(ctx, "value")
        .and_then(|n| reader::count(ctx, &n, 1, i32::MAX as u64))
        .and_then(|v| i32::try_from(v).ok());
    let period = fields.require(ctx, "period").and_then(|n| {
        let period = whole_seconds(ctx, &n, Some(MAX_PERIOD))?;
        if period == SimDuration::ZERO {
            ctx.error(
                &n.span,
                &n.path,
                "period must be greater than zero (upstream's validation)",
            );
            return None;
        }
        Some(period)
    });
    Some(ScalingPolicy {
        kind: kind?,
        value: value?,
        period: period?,
    })
}

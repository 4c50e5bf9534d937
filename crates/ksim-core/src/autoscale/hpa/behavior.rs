//! What the HPA controller does with the metrics' proposal: stabilization
//! over recent recommendations, the scaling rate limits and the min/max
//! clamp (upstream's `normalizeDesiredReplicas` and
//! `normalizeDesiredReplicasWithBehaviors` in
//! `pkg/controller/podautoscaler/horizontal.go`), the reconcile step around
//! them, the per-HPA history they read, and the API's defaults
//! (`pkg/apis/autoscaling/v2/defaults.go`) and validation
//! (`pkg/apis/autoscaling/validation/validation.go`) of `behavior`.

use std::fmt;

use super::calculator::{CombineError, Combined};
use super::{
    Behavior, HpaControllerSettings, HpaSpec, PolicyKind, ScalingPolicy, ScalingRules, SelectPolicy,
};
use crate::time::{SimDuration, SimTime, NANOS_PER_SEC};

/// Upstream's scale-up rules when `behavior.scaleUp` is not given: no
/// stabilization, the larger of 4 pods and 100% per 15 s.
pub fn default_scale_up_rules() -> ScalingRules {
    ScalingRules {
        stabilization_window: SimDuration::ZERO,
        select_policy: SelectPolicy::Max,
        policies: vec![
            policy(PolicyKind::Pods, 4, 15),
            policy(PolicyKind::Percent, 100, 15),
        ],
    }
}

/// Upstream's scale-down rules when `behavior.scaleDown` is not given: the
/// controller's `--horizontal-pod-autoscaler-downscale-stabilization` (5 min
/// by default; the API leaves the window unset and the controller fills it
/// in whole seconds, `maybeInitScaleDownStabilizationWindow`), and up to
/// 100% per 15 s.
pub fn default_scale_down_rules(settings: &HpaControllerSettings) -> ScalingRules {
    let whole_seconds = settings.downscale_stabilization.0 / NANOS_PER_SEC;
    ScalingRules {
        stabilization_window: SimDuration::from_secs(whole_seconds),
        select_policy: SelectPolicy::Max,
        policies: vec![policy(PolicyKind::Percent, 100, 15)],
    }
}

/// Both directions' defaults.
pub fn default_behavior(settings: &HpaControllerSettings) -> Behavior {
    Behavior {
        scale_up: default_scale_up_rules(),
        scale_down: default_scale_down_rules(settings),
    }
}

fn policy(kind: PolicyKind, value: i32, period_s: u64) -> ScalingPolicy {
    ScalingPolicy {
        kind,
        value,
        period: SimDuration::from_secs(period_s),
    }
}

/// `HPAScalingRules` as written: every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialScalingRules {
    pub stabilization_window: Option<SimDuration>,
    pub select_policy: Option<SelectPolicy>,
    /// Given policies replace the default list as a whole.
    pub policies: Option<Vec<ScalingPolicy>>,
}

/// `HorizontalPodAutoscalerBehavior` as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialBehavior {
    pub scale_up: Option<PartialScalingRules>,
    pub scale_down: Option<PartialScalingRules>,
}

/// Upstream's defaulting of a given `behavior` (`GenerateHPAScaleUpRules`,
/// `GenerateHPAScaleDownRules`): each field not written takes its default.
pub fn fill_behavior(partial: &PartialBehavior, settings: &HpaControllerSettings) -> Behavior {
    Behavior {
        scale_up: fill_rules(partial.scale_up.as_ref(), default_scale_up_rules()),
        scale_down: fill_rules(
            partial.scale_down.as_ref(),
            default_scale_down_rules(settings),
        ),
    }
}

fn fill_rules(given: Option<&PartialScalingRules>, defaults: ScalingRules) -> ScalingRules {
    let Some(given) = given else {
        return defaults;
    };
    ScalingRules {
        stabilization_window: given
            .stabilization_window
            .unwrap_or(defaults.stabilization_window),
        select_policy: given.select_policy.unwrap_or(defaults.select_policy),
        policies: given.policies.clone().unwrap_or(defaults.policies),
    }
}

/// The longest stabilization window the API accepts.
pub const MAX_STABILIZATION_WINDOW: SimDuration = SimDuration::from_secs(3600);
/// The longest policy period the API accepts.
pub const MAX_POLICY_PERIOD: SimDuration = SimDuration::from_secs(1800);

/// A direction of `behavior`, named as in the API.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    ScaleUp,
    ScaleDown,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ScaleUp => "scaleUp",
            Direction::ScaleDown => "scaleDown",
        })
    }
}

/// A `behavior` the API server would refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BehaviorError {
    #[error("{direction}.stabilizationWindowSeconds: {window} is above the maximum of 3600 s")]
    WindowTooLong {
        direction: Direction,
        window: SimDuration,
    },
    #[error("{direction}.policies: at least one policy is required")]
    NoPolicies { direction: Direction },
    #[error("{direction}.policies[{index}].value: must be greater than 0, got {value}")]
    NonPositiveValue {
        direction: Direction,
        index: usize,
        value: i32,
    },
    #[error("{direction}.policies[{index}].periodSeconds: must be greater than 0")]
    ZeroPeriod { direction: Direction, index: usize },
    #[error(
        "{direction}.policies[{index}].periodSeconds: {period} is above the maximum of 1800 s"
    )]
    PeriodTooLong {
        direction: Direction,
        index: usize,
        period: SimDuration,
    },
}

/// Upstream's `validateBehavior`, on the behavior as written (the API
/// validates after defaulting, and only unset policies are defaulted): a
/// window of at most 3600 s; a written policy list not empty, even with
/// `selectPolicy: Disabled`; each policy's value above 0 and period in
/// (0, 1800 s]. Every problem is returned.
pub fn validate_behavior(partial: &PartialBehavior) -> Result<(), Vec<BehaviorError>> {
    let mut problems = Vec::new();
    let directions = [
        (Direction::ScaleUp, &partial.scale_up),
        (Direction::ScaleDown, &partial.scale_down),
    ];
    for (direction, rules) in directions {
        if let Some(rules) = rules {
            validate_rules(direction, rules, &mut problems);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn validate_rules(
    direction: Direction,
    rules: &PartialScalingRules,
    problems: &mut Vec<BehaviorError>,
) {
    if let Some(window) = rules
        .stabilization_window
        .filter(|w| *w > MAX_STABILIZATION_WINDOW)
    {
        problems.push(BehaviorError::WindowTooLong { direction, window });
    }
    let Some(policies) = &rules.policies else {
        return;
    };
    if policies.is_empty() {
        problems.push(BehaviorError::NoPolicies { direction });
    }
    for (index, p) in policies.iter().enumerate() {
        if p.value <= 0 {
            problems.push(BehaviorError::NonPositiveValue {
                direction,
                index,
                value: p.value,
            });
        }
        if p.period == SimDuration::ZERO {
            problems.push(BehaviorError::ZeroPeriod { direction, index });
        } else if p.period > MAX_POLICY_PERIOD {
            problems.push(BehaviorError::PeriodTooLong {
                direction,
                index,
                period: p.period,
            });
        }
    }
}

/// An unstabilized recommendation of a past sync.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Recommendation {
    at: SimTime,
    replicas: u32,
}

/// A rescale, by how many replicas (in its direction's list).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct ScaleEvent {
    at: SimTime,
    change: u32,
    /// Older than its direction's longest policy period when last looked
    /// at: its slot is reused by the next event.
    outdated: bool,
}

/// What the controller remembers of one HPA between syncs: the
/// recommendations stabilization reads and the rescales the rate limits
/// read. Upstream keeps the lists bounded by reusing a stale entry's slot
/// (older than every window, or outdated) for each new one instead of
/// pruning; so does this.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScalingHistory {
    /// None until the first sync records the target's size.
    recommendations: Option<Vec<Recommendation>>,
    scale_up_events: Vec<ScaleEvent>,
    scale_down_events: Vec<ScaleEvent>,
}

/// `now - span`; None when that is before the run started, so that no
/// record is older than it.
fn cutoff(now: SimTime, span: SimDuration) -> Option<SimTime> {
    now.0.checked_sub(span.0).map(SimTime)
}

fn is_before(t: SimTime, cutoff: Option<SimTime>) -> bool {
    cutoff.is_some_and(|c| t < c)
}

fn is_after(t: SimTime, cutoff: Option<SimTime>) -> bool {
    cutoff.is_none_or(|c| t > c)
}

impl ScalingHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Upstream's `recordInitialRecommendation`: the first sync of an HPA
    /// records the target's size, so a scale-down waits out the window.
    pub fn record_initial_recommendation(&mut self, now: SimTime, current: u32) {
        self.recommendations.get_or_insert_with(|| {
            vec![Recommendation {
                at: now,
                replicas: current,
            }]
        });
    }

    /// Upstream's `storeScaleEvent`, after a rescale from `from` to `to`.
    /// Without a behavior nothing is kept (the legacy rules read no events).
    /// Events older than the direction's longest policy period are marked
    /// outdated; the new event takes the last outdated one's slot.
    pub fn record_scale_event(
        &mut self,
        behavior: Option<&Behavior>,
        now: SimTime,
        from: u32,
        to: u32,
    ) {
        let Some(behavior) = behavior else {
            return;
        };
        let (events, rules, change) = if to > from {
            (&mut self.scale_up_events, &behavior.scale_up, to - from)
        } else {
            (&mut self.scale_down_events, &behavior.scale_down, from - to)
        };
        let longest = rules.policies.iter().map(|p| p.period).max();
        let stale = cutoff(now, longest.unwrap_or(SimDuration::ZERO));
        for event in events.iter_mut().filter(|e| is_before(e.at, stale)) {
            event.outdated = true;
        }
        let event = ScaleEvent {
            at: now,
            change,
            outdated: false,
        };
        match events.iter().rposition(|e| e.outdated) {
            Some(slot) => events[slot] = event,
            None => events.push(event),
        }
    }

    /// Upstream's `stabilizeRecommendation` (no behavior): the largest
    /// recommendation within `window`, this one included; records this one.
    fn stabilize_legacy(&mut self, now: SimTime, proposed: u32, window: SimDuration) -> u32 {
        let stale = cutoff(now, window);
        let recommendations = self.recommendations.get_or_insert_with(Vec::new);
        let mut largest = proposed;
        let mut old_slot = None;
        for (i, r) in recommendations.iter().enumerate() {
            if is_before(r.at, stale) {
                old_slot = Some(i);
            } else {
                largest = largest.max(r.replicas);
            }
        }
        record(recommendations, old_slot, now, proposed);
        largest
    }

    /// Upstream's `stabilizeRecommendationWithBehaviors`: the current count
    /// moves no further up than the smallest recommendation in the scale-up
    /// window, and no further down than the largest in the scale-down one.
    fn stabilize_with_windows(
        &mut self,
        now: SimTime,
        current: u32,
        proposed: u32,
        up_window: SimDuration,
        down_window: SimDuration,
    ) -> u32 {
        let (up_cutoff, down_cutoff) = (cutoff(now, up_window), cutoff(now, down_window));
        let recommendations = self.recommendations.get_or_insert_with(Vec::new);
        let (mut up_bound, mut down_bound) = (proposed, proposed);
        let mut old_slot = None;
        for (i, r) in recommendations.iter().enumerate() {
            if is_after(r.at, up_cutoff) {
                up_bound = up_bound.min(r.replicas);
            }
            if is_after(r.at, down_cutoff) {
                down_bound = down_bound.max(r.replicas);
            }
            if is_before(r.at, up_cutoff) && is_before(r.at, down_cutoff) {
                old_slot = Some(i);
            }
        }
        record(recommendations, old_slot, now, proposed);
        current.max(up_bound).min(down_bound)
    }

    /// Replicas added (or removed) by the direction's rescales within
    /// `period` before `now` (upstream's `getReplicasChangePerPeriod`).
    fn changed_within(events: &[ScaleEvent], now: SimTime, period: SimDuration) -> i64 {
        let start = cutoff(now, period);
        // At most one event per sync is kept per period: the sum is far
        // from i64's range.
        events
            .iter()
            .filter(|e| is_after(e.at, start))
            .map(|e| i64::from(e.change))
            .sum()
    }

    /// The count the target had at the start of `period`, undoing the rescales since.
    fn period_start(&self, current: u32, now: SimTime, period: SimDuration) -> i64 {
        i64::from(current) - Self::changed_within(&self.scale_up_events, now, period)
            + Self::changed_within(&self.scale_down_events, now, period)
    }
}

/// Stores a recommendation in a stale slot, or appends it.
fn record(
    recommendations: &mut Vec<Recommendation>,
    slot: Option<usize>,
    now: SimTime,
    replicas: u32,
) {
    let r = Recommendation { at: now, replicas };
    match slot {
        Some(i) => recommendations[i] = r,
        None => recommendations.push(r),
    }
}

/// The highest count the scale-up policies allow now
/// (`calculateScaleUpLimitWithScalingRules`): each policy's allowance on top
/// of the count at the start of its period; Max takes the largest, Min the
/// smallest; Disabled allows none. Percent rounds up so a small target can
/// grow at all.
fn scale_up_limit(
    current: u32,
    history: &ScalingHistory,
    rules: &ScalingRules,
    now: SimTime,
) -> i64 {
    let proposals = rules.policies.iter().map(|p| {
        let start = history.period_start(current, now, p.period);
        match p.kind {
            PolicyKind::Pods => start + i64::from(p.value),
            // Upstream's float expression, evaluated the same way.
            PolicyKind::Percent => {
                (start as f64 * (1.0 + f64::from(p.value) / 100.0)).ceil() as i64
            }
        }
    });
    match rules.select_policy {
        SelectPolicy::Disabled => i64::from(current),
        SelectPolicy::Min => proposals.fold(i64::from(i32::MAX), i64::min),
        SelectPolicy::Max => proposals.fold(i64::from(i32::MIN), i64::max),
    }
}

/// The lowest count the scale-down policies allow now
/// (`calculateScaleDownLimitWithBehaviors`); Percent truncates toward zero.
/// Max takes the largest change (the lowest count), Min the smallest.
fn scale_down_limit(
    current: u32,
    history: &ScalingHistory,
    rules: &ScalingRules,
    now: SimTime,
) -> i64 {
    let proposals = rules.policies.iter().map(|p| {
        let start = history.period_start(current, now, p.period);
        match p.kind {
            PolicyKind::Pods => start - i64::from(p.value),
            PolicyKind::Percent => {
                (start as f64 * (1.0 - f64::from(p.value) / 100.0)).trunc() as i64
            }
        }
    });
    match rules.select_policy {
        SelectPolicy::Disabled => i64::from(current),
        SelectPolicy::Min => proposals.fold(i64::from(i32::MIN), i64::max),
        SelectPolicy::Max => proposals.fold(i64::from(i32::MAX), i64::min),
    }
}

/// How the stabilized count relates to the proposal (the AbleToScale
/// condition's reason).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stabilization {
    ReadyForNewScale,
    ScaleUpStabilized,
    ScaleDownStabilized,
}

impl Stabilization {
    pub fn as_str(self) -> &'static str {
        match self {
            Stabilization::ReadyForNewScale => "ReadyForNewScale",
            Stabilization::ScaleUpStabilized => "ScaleUpStabilized",
            Stabilization::ScaleDownStabilized => "ScaleDownStabilized",
        }
    }
}

/// What bounded the final count (the ScalingLimited condition's reason).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ScalingLimit {
    DesiredWithinRange,
    ScaleUpLimit,
    ScaleDownLimit,
    TooManyReplicas,
    TooFewReplicas,
}

impl ScalingLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            ScalingLimit::DesiredWithinRange => "DesiredWithinRange",
            ScalingLimit::ScaleUpLimit => "ScaleUpLimit",
            ScalingLimit::ScaleDownLimit => "ScaleDownLimit",
            ScalingLimit::TooManyReplicas => "TooManyReplicas",
            ScalingLimit::TooFewReplicas => "TooFewReplicas",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            ScalingLimit::DesiredWithinRange => "the stabilized count is within every limit",
            ScalingLimit::ScaleUpLimit => "held back by the scale-up rate limit",
            ScalingLimit::ScaleDownLimit => "held back by the scale-down rate limit",
            ScalingLimit::TooManyReplicas => "capped at maxReplicas",
            ScalingLimit::TooFewReplicas => "raised to minReplicas",
        }
    }
}

/// A proposal through stabilization, then the limits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// After the stabilization window(s).
    pub stabilized: u32,
    /// After the rate limits and the min/max clamp: the count to scale to.
    pub desired: u32,
    pub stabilization: Stabilization,
    pub limit: ScalingLimit,
}

/// Upstream's `normalizeDesiredReplicas` (no behavior: stabilization over
/// the controller's downscale window, scale-up at most to max(2 × current,
/// 4)) or `normalizeDesiredReplicasWithBehaviors`. Records the proposal in
/// the history.
pub fn normalize(
    spec: &HpaSpec,
    settings: &HpaControllerSettings,
    history: &mut ScalingHistory,
    now: SimTime,
    current: u32,
    proposed: u32,
) -> Normalized {
    let (min, max) = (spec.min_replicas, spec.max_replicas);
    let (stabilized, stabilization, (desired, limit)) = match &spec.behavior {
        None => {
            let stabilized =
                history.stabilize_legacy(now, proposed, settings.downscale_stabilization);
            let stabilization = if stabilized == proposed {
                Stabilization::ReadyForNewScale
            } else {
                Stabilization::ScaleDownStabilized
            };
            (
                stabilized,
                stabilization,
                legacy_limits(current, stabilized, min, max),
            )
        }
        Some(behavior) => {
            let stabilized = history.stabilize_with_windows(
                now,
                current,
                proposed,
                behavior.scale_up.stabilization_window,
                behavior.scale_down.stabilization_window,
            );
            let stabilization = if stabilized == proposed {
                Stabilization::ReadyForNewScale
            } else if proposed >= current {
                Stabilization::ScaleUpStabilized
            } else {
                Stabilization::ScaleDownStabilized
            };
            let limited = rate_limits(current, stabilized, min, max, behavior, history, now);
            (stabilized, stabilization, limited)
        }
    };
    Normalized {
        stabilized,
        desired,
        stabilization,
        limit,
    }
}

/// Upstream's `convertDesiredReplicasWithRules`: min and max, and a
/// scale-up of at most max(2 × current, 4), which keeps a bogus usage spike
/// from multiplying the target.
fn legacy_limits(current: u32, desired: u32, min: u32, max: u32) -> (u32, ScalingLimit) {
    let up_limit = (2 * u64::from(current)).max(4);
    let (allowed, limit) = if u64::from(max) > up_limit {
        (up_limit, ScalingLimit::ScaleUpLimit)
    } else {
        (u64::from(max), ScalingLimit::TooManyReplicas)
    };
    if desired < min {
        (min, ScalingLimit::TooFewReplicas)
    } else if u64::from(desired) > allowed {
        // Below max, so a u32.
        (u32::try_from(allowed).unwrap_or(max), limit)
    } else {
        (desired, ScalingLimit::DesiredWithinRange)
    }
}

/// Upstream's `convertDesiredReplicasWithBehaviorRate`: the direction's
/// rate limit (never past the current count the wrong way), then max or
/// min.
fn rate_limits(
    current: u32,
    desired: u32,
    min: u32,
    max: u32,
    behavior: &Behavior,
    history: &ScalingHistory,
    now: SimTime,
) -> (u32, ScalingLimit) {
    if desired > current {
        let up_limit =
            scale_up_limit(current, history, &behavior.scale_up, now).max(i64::from(current));
        let (allowed, limit) = if i64::from(max) > up_limit {
            (up_limit, ScalingLimit::ScaleUpLimit)
        } else {
            (i64::from(max), ScalingLimit::TooManyReplicas)
        };
        if i64::from(desired) > allowed {
            // Between current and max.
            return (u32::try_from(allowed).unwrap_or(max), limit);
        }
    } else if desired < current {
        let down_limit =
            scale_down_limit(current, history, &behavior.scale_down, now).min(i64::from(current));
        let (allowed, limit) = if i64::from(min) < down_limit {
            (down_limit, ScalingLimit::ScaleDownLimit)
        } else {
            (i64::from(min), ScalingLimit::TooFewReplicas)
        };
        if i64::from(desired) < allowed {
            // Between min and current.
            return (u32::try_from(allowed).unwrap_or(min), limit);
        }
    }
    (desired, ScalingLimit::DesiredWithinRange)
}

/// One sync's outcome (upstream's `reconcileAutoscaler` after reading the
/// target's scale).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The target has zero replicas and `minReplicas` is above zero:
    /// autoscaling is off for it (upstream's ScalingDisabled).
    ScalingDisabled,
    /// The target is outside [min, max]: brought to the nearest bound
    /// without reading the metrics.
    OutOfRange { desired: u32 },
    /// Every metric failed, or some failed and the others would scale
    /// down: nothing changes.
    MetricsInvalid(CombineError),
    /// The metrics' proposal, normalized.
    Normalized {
        proposal: Combined,
        normalized: Normalized,
    },
}

impl Decision {
    /// The count the target should have (`current` when nothing changes).
    pub fn desired(&self, current: u32) -> u32 {
        match self {
            Decision::ScalingDisabled | Decision::MetricsInvalid(_) => current,
            Decision::OutOfRange { desired } => *desired,
            Decision::Normalized { normalized, .. } => normalized.desired,
        }
    }
}

/// One sync of an HPA whose target has `current` replicas
/// (`spec.replicas`), given the metrics' combined proposal. Records the
/// initial size, normalizes, and records the rescale when the count
/// changes: upstream records it once the scale update succeeded, and the
/// simulation's update does not fail.
pub fn reconcile(
    spec: &HpaSpec,
    settings: &HpaControllerSettings,
    history: &mut ScalingHistory,
    now: SimTime,
    current: u32,
    metrics: Result<Combined, CombineError>,
) -> Decision {
    history.record_initial_recommendation(now, current);
    let decision = if current == 0 && spec.min_replicas != 0 {
        Decision::ScalingDisabled
    } else if current > spec.max_replicas {
        Decision::OutOfRange {
            desired: spec.max_replicas,
        }
    } else if current < spec.min_replicas {
        Decision::OutOfRange {
            desired: spec.min_replicas,
        }
    } else {
        match metrics {
            Err(e) => Decision::MetricsInvalid(e),
            Ok(proposal) => {
                let normalized =
                    normalize(spec, settings, history, now, current, proposal.replicas);
                Decision::Normalized {
                    proposal,
                    normalized,
                }
            }
        }
    };
    let desired = decision.desired(current);
    if desired != current {
        history.record_scale_event(spec.behavior.as_ref(), now, current, desired);
    }
    decision
}

#[cfg(test)]
mod tests;

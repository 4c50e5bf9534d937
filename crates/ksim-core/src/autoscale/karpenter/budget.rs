//! NodePool disruption budgets (`NodePool.GetAllowedDisruptionsByReason` and
//! `Budget.GetAllowedDisruptions` in `pkg/apis/v1`, and the disruption
//! controller's per-pool accounting): how many of a pool's nodes may be
//! disrupted now, for a given reason.
//!
//! A budget's cron schedule is not parsed here: the caller says whether
//! each budget is active now (a budget without a schedule always is).

/// Why a node is disrupted (`karpenter.sh` DisruptionReason).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DisruptionReason {
    Empty,
    Underutilized,
    Drifted,
}

/// A budget's `nodes` value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BudgetNodes {
    Count(u32),
    /// Percent of the pool's nodes, rounded up.
    Percent(u32),
}

/// One entry of `spec.disruption.budgets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    pub nodes: BudgetNodes,
    /// None: the budget applies to every reason.
    pub reasons: Option<Vec<DisruptionReason>>,
    /// Whether its schedule (if any) covers the current time.
    pub active: bool,
}

impl Budget {
    /// Upstream's default budget: `nodes: 10%`, always active.
    pub fn default_budget() -> Budget {
        Budget {
            nodes: BudgetNodes::Percent(10),
            reasons: None,
            active: true,
        }
    }

    /// Nodes this budget allows disrupting out of `num_nodes`; an inactive
    /// budget allows any number. A percentage rounds up, so 5% of 10 nodes
    /// allows one (as PodDisruptionBudgets' maxUnavailable does).
    pub fn allowed_disruptions(&self, num_nodes: u32) -> u32 {
        if !self.active {
            return UNBOUNDED;
        }
        match self.nodes {
            BudgetNodes::Count(n) => n,
            BudgetNodes::Percent(p) => {
                let scaled = u64::from(p) * u64::from(num_nodes);
                u32::try_from(scaled.div_ceil(100))
                    .expect("percent of a u32 count above 100% overflowed")
            }
        }
    }

    fn applies_to(&self, reason: DisruptionReason) -> bool {
        self.reasons.as_ref().is_none_or(|r| r.contains(&reason))
    }
}

/// What "no limit" reads as (upstream returns MaxInt32).
pub const UNBOUNDED: u32 = i32::MAX as u32;

/// The most restrictive budget that applies to `reason`; [`UNBOUNDED`] if
/// none applies.
pub fn allowed_disruptions_by_reason(
    budgets: &[Budget],
    num_nodes: u32,
    reason: DisruptionReason,
) -> u32 {
    budgets
        .iter()
        .filter(|b| b.applies_to(reason))
        .map(|b| b.allowed_disruptions(num_nodes))
        .min()
        .unwrap_or(UNBOUNDED)
}

/// How many more nodes of the pool may start disrupting now: the budget
/// less the nodes already disrupting (marked for deletion or deleting),
/// never below zero. `num_nodes` counts every node of the pool, the
/// disrupting ones included, as upstream does.
pub fn disruptions_left(
    budgets: &[Budget],
    num_nodes: u32,
    disrupting: u32,
    reason: DisruptionReason,
) -> u32 {
    // Upstream clamps at zero: more nodes disrupting than allowed (a budget
    // lowered mid-flight) means none may start.
    allowed_disruptions_by_reason(budgets, num_nodes, reason).saturating_sub(disrupting)
}

#[cfg(test)]
mod tests;

//! A PodDisruptionBudget's status, as upstream's disruption controller
//! computes it (pkg/controller/disruption/disruption.go: `getExpectedPodCount`,
//! `countHealthyPods`, `updatePdbStatus`). Read by the model's drains and by
//! node autoscalers before they drain.

use crate::config::{DisruptionBudget, IntOrPercent};

/// A budget's status: upstream's `PodDisruptionBudgetStatus` numbers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BudgetStatus {
    pub disruptions_allowed: u32,
    pub current_healthy: u32,
    pub desired_healthy: u32,
    pub expected_pods: u32,
}

impl BudgetStatus {
    /// The status of `budget` over a deployment of `replicas` desired
    /// replicas with `pods` live pods, `current_healthy` of them Ready, not
    /// being deleted and not already disrupted by an eviction in flight.
    ///
    /// Upstream counts against the controller's scale (its desired
    /// replicas) for max_unavailable and a percent min_available, and
    /// against the pods the budget selects for an integer min_available.
    /// Percents round up (`GetScaledValueFromIntOrPercent(.., true)`).
    pub fn of(budget: DisruptionBudget, replicas: u32, pods: u32, current_healthy: u32) -> Self {
        let (expected_pods, desired_healthy) = match budget {
            DisruptionBudget::MaxUnavailable(v) => {
                // Upstream clamps a negative desiredHealthy to 0: a clamp of
                // the model, not bookkeeping, so it saturates.
                let desired = replicas.saturating_sub(scaled_up(v, replicas));
                (replicas, desired)
            }
            DisruptionBudget::MinAvailable(IntOrPercent::Count(n)) => (pods, n),
            DisruptionBudget::MinAvailable(v) => (replicas, scaled_up(v, replicas)),
        };
        // Upstream allows nothing with no expected pods, and clamps a
        // negative difference to 0.
        let disruptions_allowed = if expected_pods == 0 {
            0
        } else {
            current_healthy.saturating_sub(desired_healthy)
        };
        BudgetStatus {
            disruptions_allowed,
            current_healthy,
            desired_healthy,
            expected_pods,
        }
    }
}

/// A count, or a percent of `total` rounded up.
fn scaled_up(value: IntOrPercent, total: u32) -> u32 {
    match value {
        IntOrPercent::Count(n) => n,
        IntOrPercent::Percent(p) => {
            let scaled = (u64::from(p) * u64::from(total)).div_ceil(100);
            // `SimConfig::check` keeps percents within 100.
            u32::try_from(scaled).expect("a percent of at most 100 fits its total")
        }
    }
}

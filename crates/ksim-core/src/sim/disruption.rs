//! The Eviction API's verdict on one pod under a PodDisruptionBudget
//! (pkg/registry/core/pod/storage/eviction.go); the budget's status is
//! `crate::disruption_budget`.

use crate::disruption_budget::BudgetStatus;

/// What the Eviction API answers a drain for one pod under a budget.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Evict; `disrupts`: the eviction takes one of the budget's allowed
    /// disruptions (upstream records the pod in DisruptedPods).
    Allow { disrupts: bool },
    /// 429 TooManyRequests: it would violate the budget.
    Refuse,
}

/// The pod as the Eviction API looks at it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct Candidate {
    /// Phase Running and not being deleted: upstream ignores the budget
    /// for a Pending, ended or terminating pod (`canIgnorePDB`).
    pub(super) running: bool,
    pub(super) ready: bool,
}

/// Upstream's order: a pod the budget cannot concern goes at once; an
/// unready one goes without using a disruption while the budget is met
/// (`IfHealthyBudget`, the default unhealthyPodEvictionPolicy); any other
/// takes an allowed disruption, or is refused.
pub(super) fn verdict(pod: Candidate, status: &BudgetStatus) -> Verdict {
    if !pod.running {
        return Verdict::Allow { disrupts: false };
    }
    if !pod.ready && status.current_healthy >= status.desired_healthy && status.desired_healthy > 0
    {
        return Verdict::Allow { disrupts: false };
    }
    if status.disruptions_allowed > 0 {
        Verdict::Allow { disrupts: true }
    } else {
        Verdict::Refuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DisruptionBudget, IntOrPercent};
    use DisruptionBudget::{MaxUnavailable, MinAvailable};
    use IntOrPercent::{Count, Percent};

    /// (allowed, current healthy, desired healthy, expected), the order of
    /// upstream's `VerifyPdbStatus`.
    fn status(budget: DisruptionBudget, replicas: u32, pods: u32, healthy: u32) -> [u32; 4] {
        let s = BudgetStatus::of(budget, replicas, pods, healthy);
        [
            s.disruptions_allowed,
            s.current_healthy,
            s.desired_healthy,
            s.expected_pods,
        ]
    }

    /// Upstream: TestUnavailable (an integer min_available counts the pods).
    #[test]
    fn integer_min_available_expects_the_pods_it_selects() {
        for i in 0..4 {
            assert_eq!(status(MinAvailable(Count(3)), 4, i, i), [0, i, 3, i]);
        }
        assert_eq!(status(MinAvailable(Count(3)), 4, 4, 4), [1, 4, 3, 4]);
        assert_eq!(status(MinAvailable(Count(3)), 4, 4, 3), [0, 3, 3, 4]);
    }

    /// Upstream: TestIntegerMaxUnavailable (no pods, no disruption).
    #[test]
    fn no_expected_pods_allow_no_disruption() {
        assert_eq!(status(MaxUnavailable(Count(1)), 0, 0, 0), [0, 0, 0, 0]);
        assert_eq!(status(MinAvailable(Percent(28)), 0, 0, 0), [0, 0, 0, 0]);
    }

    /// Upstream: TestIntegerMaxUnavailableWithScaling.
    #[test]
    fn integer_max_unavailable_follows_the_scale() {
        assert_eq!(status(MaxUnavailable(Count(2)), 7, 1, 1), [0, 1, 5, 7]);
        assert_eq!(status(MaxUnavailable(Count(2)), 5, 1, 1), [0, 1, 3, 5]);
    }

    /// Upstream: TestPercentageMaxUnavailableWithScaling (30% of 7 rounds
    /// up to 3 unavailable, of 3 up to 1).
    #[test]
    fn percent_max_unavailable_rounds_up() {
        assert_eq!(status(MaxUnavailable(Percent(30)), 7, 1, 1), [0, 1, 4, 7]);
        assert_eq!(status(MaxUnavailable(Percent(30)), 3, 1, 1), [0, 1, 2, 3]);
    }

    /// Upstream: TestReplicaSet (20% of 10), TestReplicationController (34%
    /// of 3 rounds up to 2), TestTwoControllers (28% of 11 up to 4),
    /// TestMultipleControllers (1% of 1 up to 1).
    #[test]
    fn percent_min_available_rounds_up() {
        assert_eq!(status(MinAvailable(Percent(20)), 10, 1, 1), [0, 1, 2, 10]);
        for i in 1..3 {
            assert_eq!(status(MinAvailable(Percent(34)), 3, i, i), [0, i, 2, 3]);
        }
        assert_eq!(status(MinAvailable(Percent(34)), 3, 3, 3), [1, 3, 2, 3]);
        assert_eq!(status(MinAvailable(Percent(28)), 11, 11, 5), [1, 5, 4, 11]);
        assert_eq!(status(MinAvailable(Percent(28)), 11, 11, 4), [0, 4, 4, 11]);
        assert_eq!(status(MinAvailable(Percent(1)), 1, 2, 2), [1, 2, 1, 1]);
    }

    /// Upstream: TestScaleResource (max_unavailable 5 of 10, 4 pods).
    #[test]
    fn max_unavailable_beyond_the_healthy_pods_allows_nothing() {
        assert_eq!(status(MaxUnavailable(Count(5)), 10, 4, 4), [0, 4, 5, 10]);
        // More unavailable allowed than replicas: desired healthy clamps to 0.
        assert_eq!(status(MaxUnavailable(Count(9)), 3, 3, 3), [3, 3, 0, 3]);
        assert_eq!(status(MaxUnavailable(Percent(100)), 3, 3, 2), [2, 2, 0, 3]);
        assert_eq!(status(MinAvailable(Percent(100)), 3, 3, 3), [0, 3, 3, 3]);
    }

    /// Upstream's eviction tests (TestEvictionIgnorePDB, TestEvictionPDBStatus):
    /// pending pods ignore the budget; an unready running pod goes without
    /// a disruption while the budget is met, and needs one otherwise.
    #[test]
    fn the_eviction_api_ignores_the_budget_for_pods_it_cannot_concern() {
        let pending = Candidate {
            running: false,
            ready: false,
        };
        let ready = Candidate {
            running: true,
            ready: true,
        };
        let unready = Candidate {
            running: true,
            ready: false,
        };
        let blocked = BudgetStatus::of(MinAvailable(Percent(100)), 3, 3, 3);
        assert_eq!(
            verdict(pending, &blocked),
            Verdict::Allow { disrupts: false }
        );
        assert_eq!(verdict(ready, &blocked), Verdict::Refuse);
        assert_eq!(
            verdict(unready, &blocked),
            Verdict::Allow { disrupts: false }
        );
        let short = BudgetStatus::of(MinAvailable(Count(3)), 3, 3, 2);
        assert_eq!(verdict(unready, &short), Verdict::Refuse);
        let spare = BudgetStatus::of(MaxUnavailable(Count(1)), 3, 3, 3);
        assert_eq!(verdict(ready, &spare), Verdict::Allow { disrupts: true });
        // Desired healthy 0: an unready pod still needs an allowed disruption.
        let none_needed = BudgetStatus::of(MaxUnavailable(Percent(100)), 2, 2, 0);
        assert_eq!(verdict(unready, &none_needed), Verdict::Refuse);
    }
}

//! Ported from upstream's `pkg/apis/v1` budget tests (Describe "Budgets",
//! contexts "GetAllowedDisruptionsByReason" and "AllowedDisruptions"). The
//! fixture is upstream's six budgets; a schedule that is active at the
//! fake clock's time becomes `active: true`, `@yearly`/`@weekly` ones
//! that are not become `active: false`.

use super::*;
use DisruptionReason::*;

const ALL: [DisruptionReason; 3] = [Empty, Underutilized, Drifted];

fn budget(nodes: BudgetNodes, reasons: Option<Vec<DisruptionReason>>, active: bool) -> Budget {
    Budget {
        nodes,
        reasons,
        active,
    }
}

fn fixture() -> Vec<Budget> {
    vec![
        budget(BudgetNodes::Count(10), None, true),
        budget(BudgetNodes::Count(100), None, true),
        budget(BudgetNodes::Percent(100), None, true),
        budget(
            BudgetNodes::Count(15),
            Some(vec![Drifted, Underutilized]),
            true,
        ),
        budget(BudgetNodes::Count(5), Some(vec![Drifted]), true),
        // "@weekly" for an hour: not active at the fake clock's time.
        budget(
            BudgetNodes::Count(0),
            Some(vec![Underutilized, Drifted, Empty]),
            false,
        ),
    ]
}

// upstream: "should return 0 for all reasons if a budget is active for all reasons"
#[test]
fn an_active_zero_budget_for_all_reasons_blocks_everything() {
    let mut b = fixture();
    b[5].active = true;
    for r in ALL {
        assert_eq!(allowed_disruptions_by_reason(&b, 100, r), 0);
    }
}

// upstream: "should return MaxInt32 for all reasons when there are no active budgets"
#[test]
fn no_active_budget_is_unbounded() {
    let mut b = fixture();
    b.iter_mut().for_each(|b| b.active = false);
    for r in ALL {
        assert_eq!(allowed_disruptions_by_reason(&b, 100, r), UNBOUNDED);
    }
    assert_eq!(UNBOUNDED, 2_147_483_647);
}

// upstream: "should ignore reason-defined budgets when inactive"
#[test]
fn inactive_reason_budgets_are_ignored() {
    let mut b = fixture();
    b[3].active = false;
    b[4].active = false;
    for r in ALL {
        assert_eq!(allowed_disruptions_by_reason(&b, 100, r), 10);
    }
}

// upstream: "should return the budget for all disruption reasons when undefined"
#[test]
fn a_budget_without_reasons_applies_to_all() {
    let b = &fixture()[..1];
    for r in ALL {
        assert_eq!(allowed_disruptions_by_reason(b, 100, r), 10);
    }
}

// upstream: "should get the minimum budget for each reason"
#[test]
fn the_minimum_applicable_budget_wins_per_reason() {
    let mut b = fixture();
    b.push(budget(BudgetNodes::Count(4), Some(vec![Empty]), true));
    assert_eq!(allowed_disruptions_by_reason(&b, 100, Empty), 4);
    assert_eq!(allowed_disruptions_by_reason(&b, 100, Drifted), 5);
    // The reason-less budget of 10 beats the Underutilized budget of 15.
    assert_eq!(allowed_disruptions_by_reason(&b, 100, Underutilized), 10);
}

// upstream: "should return MaxInt32 when a budget is inactive"
#[test]
fn an_inactive_budget_allows_any_number() {
    let mut b = fixture();
    b[0].active = false;
    assert_eq!(b[0].allowed_disruptions(100), UNBOUNDED);
}

// upstream: "should return the int value when a budget is active"
#[test]
fn an_active_count_budget_returns_its_count() {
    assert_eq!(fixture()[0].allowed_disruptions(100), 10);
}

// upstream: "should return the string value when a budget is active" (100%)
#[test]
fn an_active_percent_budget_scales_with_the_pool() {
    assert_eq!(fixture()[2].allowed_disruptions(100), 100);
}

// upstream: the comment on Budget.GetAllowedDisruptions: 5% of 10 nodes
// allows one disruption rather than none.
#[test]
fn percentages_round_up() {
    let five = budget(BudgetNodes::Percent(5), None, true);
    assert_eq!(five.allowed_disruptions(10), 1);
    assert_eq!(five.allowed_disruptions(0), 0);
    let default = Budget::default_budget();
    assert_eq!(default.allowed_disruptions(25), 3);
    assert_eq!(default.allowed_disruptions(30), 3);
    assert_eq!(default.allowed_disruptions(31), 4);
}

#[test]
fn nodes_already_disrupting_use_up_the_budget() {
    let b = [Budget::default_budget()];
    assert_eq!(disruptions_left(&b, 30, 0, Underutilized), 3);
    assert_eq!(disruptions_left(&b, 30, 2, Underutilized), 1);
    assert_eq!(disruptions_left(&b, 30, 5, Underutilized), 0);
}

//! The score plugins of kube-scheduler's default profile that the model covers,
//! with upstream's integer math (pkg/scheduler/framework/plugins):
//! - NodeResourcesFit with the LeastAllocated or MostAllocated strategy over cpu
//!   and memory, weight 1 each, on "non-zero" requests;
//! - NodeResourcesBalancedAllocation over cpu and memory, on real requests;
//! - TaintToleration, counting intolerable PreferNoSchedule taints, normalized
//!   in reverse over the feasible nodes.
//!
//! The other default score plugins (InterPodAffinity, NodeAffinity,
//! PodTopologySpread, ImageLocality, VolumeBinding) have nothing to score in
//! the model: no preferred terms, spread constraints, images or volumes.

use crate::config::ScoringStrategy;
use crate::resources::{ResourceVec, CPU, MEMORY};

/// Upstream `framework.MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;
/// Upstream `DefaultMilliCPURequest`: what a container without a cpu request counts for in scoring.
pub const DEFAULT_MILLI_CPU_REQUEST: u64 = 100;
/// Upstream `DefaultMemoryRequest` (200 MiB), likewise for memory.
pub const DEFAULT_MEMORY_REQUEST_BYTES: u64 = 200 * 1024 * 1024;

/// Cpu and memory amounts, the two resources the default scoring weighs.
pub type CpuMemory = [u64; 2];

pub fn cpu_memory(v: &ResourceVec) -> CpuMemory {
    [v.0[CPU], v.0[MEMORY]]
}

/// The pod's requests as NodeResourcesFit scores them: a zero request counts as
/// upstream's default. The model cannot tell "no request" from "request 0";
/// it treats zero as unset, which is what a template without requests means.
pub fn non_zero_requests(requests: &ResourceVec) -> CpuMemory {
    let or_default = |v: u64, default: u64| if v == 0 { default } else { v };
    [
        or_default(requests.0[CPU], DEFAULT_MILLI_CPU_REQUEST),
        or_default(requests.0[MEMORY], DEFAULT_MEMORY_REQUEST_BYTES),
    ]
}

/// A pool's allocatable cpu and memory with their reciprocals: the nodes of
/// a pool share them, so scoring a node takes multiplications where upstream
/// divides, with the exact same results (see [`Allocatable::percent`] and
/// [`balanced_allocation_score`]).
#[derive(Copy, Clone, Debug)]
pub struct Allocatable {
    amounts: CpuMemory,
    /// `MAX_NODE_SCORE / amount` (0 for an absent resource).
    percent_per_unit: [f64; 2],
    /// `1 / amount` (0 for an absent resource).
    per_unit: [f64; 2],
}

/// Above this (64 PiB) the multiply-and-correct path could overflow i64;
/// such pools use u128 division.
const FAST_PERCENT_LIMIT: u64 = (i64::MAX / 128) as u64;

impl Allocatable {
    /// No cpu or memory at all, as `Allocatable::new([0, 0])`.
    pub const ABSENT: Allocatable = Allocatable {
        amounts: [0, 0],
        percent_per_unit: [0.0, 0.0],
        per_unit: [0.0, 0.0],
    };

    pub fn new(amounts: CpuMemory) -> Self {
        let inverse = |scale: f64| amounts.map(|a| if a == 0 { 0.0 } else { scale / a as f64 });
        Allocatable {
            amounts,
            percent_per_unit: inverse(MAX_NODE_SCORE as f64),
            per_unit: inverse(1.0),
        }
    }

    /// `part * MAX_NODE_SCORE / amount` rounded down, for `part <= amount`,
    /// `amount > 0`: a float estimate is within 1e-13 of the quotient, and
    /// one integer correction step makes it exact.
    #[inline]
    fn percent(&self, i: usize, part: u64) -> i64 {
        const SCALE: u64 = MAX_NODE_SCORE as u64;
        let whole = self.amounts[i];
        if whole > FAST_PERCENT_LIMIT {
            return (u128::from(part) * u128::from(SCALE) / u128::from(whole)) as i64;
        }
        let scaled = part * SCALE;
        // Both casts go through i64, exact below the limit and cheaper than u64's.
        let q = ((part as i64) as f64 * self.percent_per_unit[i]) as i64;
        // The remainder shows whether the estimate is one off either way.
        let remainder = scaled as i64 - q * whole as i64;
        if remainder < 0 {
            return q - 1;
        }
        if remainder >= whole as i64 {
            return q + 1;
        }
        q
    }
}

/// Upstream `leastRequestedScore`: the free share, 0 when over capacity.
#[inline]
fn least_requested_score(requested: u64, allocatable: &Allocatable, i: usize) -> i64 {
    let capacity = allocatable.amounts[i];
    if capacity == 0 || requested > capacity {
        return 0;
    }
    allocatable.percent(i, capacity - requested)
}

/// Upstream `mostRequestedScore`: the used share, capped at capacity.
#[inline]
fn most_requested_score(requested: u64, allocatable: &Allocatable, i: usize) -> i64 {
    let capacity = allocatable.amounts[i];
    if capacity == 0 {
        return 0;
    }
    allocatable.percent(i, requested.min(capacity))
}

/// NodeResourcesFit score of a node already holding `used`, for a pod
/// requesting `pod` (non-zero requests). Resources the node does not have
/// are skipped, as upstream does.
#[inline]
pub fn resources_fit_score(
    strategy: ScoringStrategy,
    used: CpuMemory,
    pod: CpuMemory,
    allocatable: &Allocatable,
) -> i64 {
    let mut score = 0;
    let mut weight_sum = 0;
    for i in 0..2 {
        if allocatable.amounts[i] == 0 {
            continue;
        }
        let requested = used[i].saturating_add(pod[i]);
        score += match strategy {
            ScoringStrategy::LeastAllocated => least_requested_score(requested, allocatable, i),
            ScoringStrategy::MostAllocated => most_requested_score(requested, allocatable, i),
        };
        weight_sum += 1;
    }
    // Weights are 1 each: the weighted mean without a division instruction.
    match weight_sum {
        2 => score / 2,
        _ => score,
    }
}

/// Upstream skips BalancedAllocation (score 0 everywhere) for a pod that
/// requests neither cpu nor memory, so best-effort pods do not pile up.
pub fn balanced_allocation_skipped(requests: &ResourceVec) -> bool {
    requests.0[CPU] == 0 && requests.0[MEMORY] == 0
}

/// `(1 - std) * 100` of the fractions `requested / allocatable` (capped at 1)
/// of the resources the node has; std of two values is half their distance.
#[inline]
fn balance(
    fraction: impl Fn(usize, u64) -> f64,
    used: CpuMemory,
    pod: CpuMemory,
    amounts: CpuMemory,
) -> f64 {
    let mut fractions = [0.0f64; 2];
    let mut count = 0;
    for i in 0..2 {
        if amounts[i] == 0 {
            continue;
        }
        fractions[count] = fraction(i, used[i].saturating_add(pod[i])).min(1.0);
        count += 1;
    }
    let std = if count == 2 {
        ((fractions[0] - fractions[1]) / 2.0).abs()
    } else {
        0.0
    };
    (1.0 - std) * MAX_NODE_SCORE as f64
}

/// NodeResourcesBalancedAllocation on real requests, with upstream's float
/// math. Computed first with reciprocals, which differ from upstream's
/// divisions by a few ulps; unless that lands within 1e-9 of an integer the
/// truncation is the same, otherwise the divisions are redone as upstream.
#[inline]
pub fn balanced_allocation_score(
    used: CpuMemory,
    pod: CpuMemory,
    allocatable: &Allocatable,
) -> i64 {
    let amounts = allocatable.amounts;
    let estimate = balance(
        |i, r| r as f64 * allocatable.per_unit[i],
        used,
        pod,
        amounts,
    );
    // `estimate` is within [0, 100]: its fractional part by truncation, as
    // `f64::round` is a libm call on baseline x86-64.
    let truncated = estimate as i64;
    let fraction = estimate - truncated as f64;
    if fraction > 1e-9 && fraction < 1.0 - 1e-9 {
        return truncated;
    }
    balance(|i, r| r as f64 / amounts[i] as f64, used, pod, amounts) as i64
}

/// TaintToleration after upstream's reverse `DefaultNormalizeScore`: the node
/// with the most intolerable PreferNoSchedule taints among the feasible ones
/// scores 0, a node without any scores 100.
#[inline]
pub fn taint_toleration_score(intolerable: i64, max_intolerable: i64) -> i64 {
    if max_intolerable == 0 {
        return MAX_NODE_SCORE;
    }
    MAX_NODE_SCORE - MAX_NODE_SCORE * intolerable / max_intolerable
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ScoringStrategy::{LeastAllocated, MostAllocated};

    const MIB: u64 = 1024 * 1024;

    // Ported from upstream least_allocated_test.go TestLeastAllocatedScoringStrategy.
    // Upstream capacities are in cores; scores are scale-free, so the same
    // numbers are used as millicores. Cases whose incoming pod has no
    // containers (zero requests without defaults) have no model equivalent.
    #[test]
    fn least_allocated_follows_upstream_cases() {
        let fit = |used, pod, alloc| {
            resources_fit_score(LeastAllocated, used, pod, &Allocatable::new(alloc))
        };
        // "nothing scheduled, resources requested, differently sized nodes"
        assert_eq!(fit([0, 0], [3000, 5000], [4000, 10000]), 37);
        assert_eq!(fit([0, 0], [3000, 5000], [6000, 10000]), 50);
        // "resources requested, pods scheduled with resources"
        assert_eq!(fit([3000, 0], [3000, 5000], [10000, 20000]), 57);
        assert_eq!(fit([3000, 5000], [3000, 5000], [10000, 20000]), 45);
        // "resources requested, pods scheduled with resources, differently sized nodes"
        assert_eq!(fit([3000, 0], [3000, 5000], [10000, 20000]), 57);
        assert_eq!(fit([3000, 5000], [3000, 5000], [10000, 50000]), 60);
        // "requested resources exceed node capacity": upstream's pod sets memory to
        // an explicit 0, passed here as is (non_zero_requests is not applied).
        assert_eq!(fit([3000, 0], [3000, 0], [4000, 10000]), 50);
        assert_eq!(fit([3000, 5000], [3000, 0], [4000, 10000]), 25);
        // "zero node resources": every resource skipped.
        assert_eq!(fit([3000, 0], [100, 200 * MIB], [0, 0]), 0);
    }

    // Ported from upstream most_allocated_test.go TestMostAllocatedScoringStrategy.
    #[test]
    fn most_allocated_follows_upstream_cases() {
        let fit = |used, pod, alloc| {
            resources_fit_score(MostAllocated, used, pod, &Allocatable::new(alloc))
        };
        // "nothing scheduled, resources requested, differently sized nodes"
        assert_eq!(fit([0, 0], [3000, 5000], [4000, 10000]), 62);
        assert_eq!(fit([0, 0], [3000, 5000], [6000, 10000]), 50);
        // "resources requested, pods scheduled with resources"
        assert_eq!(fit([3000, 0], [3000, 5000], [10000, 20000]), 42);
        assert_eq!(fit([3000, 5000], [3000, 5000], [10000, 20000]), 55);
        // "resources requested equal node capacity"
        assert_eq!(fit([0, 0], [5000, 9000], [5000, 10000]), 95);
        assert_eq!(fit([0, 0], [5000, 9000], [10000, 9000]), 75);
        // "no resources requested, pods scheduled, nonzero request for resource":
        // node2 (no pods) gets the incoming pod's defaults only: 100m/250m and
        // 200Mi/1000Mi -> (40 + 20) / 2. Node1's existing request-less pods would
        // also count as defaults upstream; the model keeps real sums (see kube.rs).
        let pod = non_zero_requests(&ResourceVec::ZERO);
        assert_eq!(fit([0, 0], pod, [250, 1000 * MIB]), 30);
        // Over capacity is capped at capacity: cpu 300/250 -> 100, memory 600/1000 -> 60.
        assert_eq!(fit([200, 400 * MIB], pod, [250, 1000 * MIB]), 80);
    }

    // Ported from upstream balanced_allocation_test.go TestNodeResourcesBalancedAllocation.
    #[test]
    fn balanced_allocation_follows_upstream_cases() {
        let cpu_and_memory = [3000, 5000];
        // "nothing scheduled, resources requested, differently sized nodes"
        assert_eq!(
            balanced_allocation_score([0, 0], cpu_and_memory, &Allocatable::new([4000, 10000])),
            87
        );
        assert_eq!(
            balanced_allocation_score([0, 0], cpu_and_memory, &Allocatable::new([6000, 10000])),
            100
        );
        // "resources requested, pods scheduled with resources": node1 holds a
        // cpuOnly pod, node2 a cpuAndMemory pod.
        let (cpu_only, both) = ([3000, 0], [3000, 5000]);
        assert_eq!(
            balanced_allocation_score(cpu_only, cpu_and_memory, &Allocatable::new([10000, 20000])),
            82
        );
        assert_eq!(
            balanced_allocation_score(both, cpu_and_memory, &Allocatable::new([10000, 20000])),
            95
        );
        // "... differently sized nodes"
        assert_eq!(
            balanced_allocation_score(both, cpu_and_memory, &Allocatable::new([10000, 50000])),
            80
        );
        // "requested resources at node capacity": fractions are capped at 1.
        assert_eq!(
            balanced_allocation_score(cpu_only, cpu_only, &Allocatable::new([6000, 10000])),
            50
        );
        assert_eq!(
            balanced_allocation_score(both, cpu_only, &Allocatable::new([6000, 10000])),
            75
        );
        // "nothing scheduled, nothing requested, skip in PreScore"
        assert!(balanced_allocation_skipped(&ResourceVec::ZERO));
        let mut some_cpu = ResourceVec::ZERO;
        some_cpu.0[CPU] = 1;
        assert!(!balanced_allocation_skipped(&some_cpu));
    }

    // Ported from upstream taint_toleration_test.go TestTaintTolerationScore,
    // given the per-node intolerable PreferNoSchedule counts each case produces.
    #[test]
    fn taint_toleration_normalizes_in_reverse() {
        let scores = |counts: &[i64]| -> Vec<i64> {
            let max = counts.iter().copied().max().unwrap_or(0);
            counts
                .iter()
                .map(|&c| taint_toleration_score(c, max))
                .collect()
        };
        // "node with taints tolerated by the pod, gets a higher score than those node with intolerable taints"
        assert_eq!(scores(&[0, 1]), vec![100, 0]);
        // "the nodes that all of their taints are tolerated by the pod, get the same score..."
        assert_eq!(scores(&[0, 0, 0]), vec![100, 100, 100]);
        // "the more intolerable taints a node has, the lower score it gets."
        assert_eq!(scores(&[0, 1, 2]), vec![100, 50, 0]);
        // "only taints and tolerations that have effect PreferNoSchedule are checked..."
        assert_eq!(scores(&[0, 0, 2]), vec![100, 100, 0]);
    }

    #[test]
    fn zero_requests_count_as_upstream_defaults_for_fit_only() {
        let mut requests = ResourceVec::ZERO;
        assert_eq!(
            non_zero_requests(&requests),
            [DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST_BYTES]
        );
        requests.0[CPU] = 250;
        assert_eq!(
            non_zero_requests(&requests),
            [250, DEFAULT_MEMORY_REQUEST_BYTES]
        );
        assert_eq!(cpu_memory(&requests), [250, 0]);
    }

    #[test]
    fn huge_capacities_do_not_overflow() {
        let huge = Allocatable::new([u64::MAX, u64::MAX]);
        assert_eq!(
            resources_fit_score(LeastAllocated, [0, 0], [0, 0], &huge),
            100
        );
        assert_eq!(huge.percent(0, u64::MAX / 2), 49);
        let near_limit = Allocatable::new([FAST_PERCENT_LIMIT, 1]);
        assert_eq!(near_limit.percent(0, FAST_PERCENT_LIMIT), 100);
        assert_eq!(near_limit.percent(0, FAST_PERCENT_LIMIT - 1), 99);
    }

    /// Upstream's arithmetic, division for division.
    fn percent_by_division(part: u64, whole: u64) -> i64 {
        (u128::from(part) * 100 / u128::from(whole)) as i64
    }

    fn balanced_by_division(used: CpuMemory, pod: CpuMemory, amounts: CpuMemory) -> i64 {
        balance(|i, r| r as f64 / amounts[i] as f64, used, pod, amounts) as i64
    }

    /// Pool sizes: round ones, small ones and arbitrary ones.
    fn amount() -> impl Strategy<Value = u64> {
        prop_oneof![
            (1..64u64, 0..4u32).prop_map(|(m, e)| m * 250 * 4u64.pow(e)),
            (1..64u64).prop_map(|m| m * 1024 * 1024 * 1024),
            1..5000u64,
            1..u64::MAX / 256,
            any::<u64>(),
        ]
    }

    /// A usage of `whole`: often a whole percentage of it (where estimates
    /// land next to integers), otherwise anything up to twice it.
    fn usage_of(whole: u64, (percent, raw, exact): (u64, u64, bool)) -> u64 {
        if exact {
            (whole / 100).saturating_mul(percent)
        } else {
            raw % whole.saturating_mul(2).saturating_add(1)
        }
    }

    fn usage() -> impl Strategy<Value = (u64, u64, bool)> {
        (0..=200u64, any::<u64>(), any::<bool>())
    }

    // Found by search: plain reciprocals round these the wrong way.
    #[test]
    fn reciprocal_rounding_edge_cases_are_exact() {
        for whole in [97, 161, 167, 193] {
            assert_eq!(Allocatable::new([whole, whole]).percent(0, whole), 100);
        }
        assert_eq!(Allocatable::new([194, 1]).percent(0, 97), 50);
        let a = Allocatable::new([4000, 10000]);
        assert_eq!(balanced_allocation_score([0, 7000], [0, 0], &a), 65);
        assert_eq!(balanced_allocation_score([0, 7200], [0, 0], &a), 64);
        assert_eq!(balanced_allocation_score([20, 8400], [0, 0], &a), 58);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn reciprocal_percent_is_exact(whole in amount(), part in usage()) {
            let whole = whole.max(1);
            let part = usage_of(whole, part).min(whole);
            let a = Allocatable::new([whole, whole]);
            prop_assert_eq!(a.percent(0, part), percent_by_division(part, whole));
        }

        #[test]
        fn reciprocal_balance_is_exact(
            cpu in amount(), memory in amount(),
            used in (usage(), usage()), pod in (usage(), usage()),
        ) {
            let used = [usage_of(cpu, used.0), usage_of(memory, used.1)];
            let pod = [usage_of(cpu, pod.0) / 2, usage_of(memory, pod.1) / 2];
            let amounts = [cpu, memory];
            prop_assert_eq!(
                balanced_allocation_score(used, pod, &Allocatable::new(amounts)),
                balanced_by_division(used, pod, amounts)
            );
        }
    }
}

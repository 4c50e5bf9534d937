//! Ported from upstream's expander tests: `waste/waste_test.go`
//! (TestLeastWaste), `mostpods/mostpods_test.go` (TestMostPods),
//! `priority/priority_test.go`, `factory/chain_test.go`
//! (TestChainStrategy_BestOption). The price tests are our own: upstream's
//! depend on its cloud pricing model, which we replace by a linear one.

use super::*;
use crate::resources::{FIRST_EXTENDED, PODS};
use crate::rng::RngStreams;

fn rng() -> SimRng {
    RngStreams::new(7).stream("cluster-autoscaler/expander")
}

fn resources(cpu_millis: u64, memory_bytes: u64) -> ResourceVec {
    let mut v = ResourceVec::ZERO;
    v.0[CPU] = cpu_millis;
    v.0[MEMORY] = memory_bytes;
    v
}

fn option(group: &str) -> ExpansionOption {
    ExpansionOption {
        group: group.to_string(),
        node_count: 1,
        pod_count: 0,
        pod_requests: ResourceVec::ZERO,
        node_capacity: resources(1000, 1 << 30),
        node_price_per_hour: 1.0,
        group_exists: true,
    }
}

fn pick(filter: &dyn ExpanderFilter, options: &[ExpansionOption]) -> Option<usize> {
    best_option(&[filter], options, &mut rng())
}

// upstream: waste/waste_test.go TestLeastWaste
#[test]
fn least_waste_prefers_the_tightest_template() {
    let cpu_per_pod = 500;
    let memory_per_pod = 1000 * 1024 * 1024;
    let mut balanced = option("balanced");
    balanced.node_capacity = resources(16 * cpu_per_pod, 16 * memory_per_pod);
    balanced.node_capacity.0[PODS] = 100;
    // Without pods, the one option is chosen.
    assert_eq!(pick(&LeastWaste, std::slice::from_ref(&balanced)), Some(0));

    balanced.pod_count = 1;
    balanced.pod_requests = resources(cpu_per_pod, memory_per_pod);
    assert_eq!(pick(&LeastWaste, std::slice::from_ref(&balanced)), Some(0));

    let mut highmem = balanced.clone();
    highmem.group = "highmem".into();
    highmem.node_capacity = resources(16 * cpu_per_pod, 32 * memory_per_pod);
    assert_eq!(
        pick(&LeastWaste, &[balanced.clone(), highmem.clone()]),
        Some(0)
    );

    let mut lowcpu = balanced.clone();
    lowcpu.group = "lowcpu".into();
    lowcpu.node_capacity = resources(8 * cpu_per_pod, 16 * memory_per_pod);
    assert_eq!(pick(&LeastWaste, &[balanced, highmem, lowcpu]), Some(2));
}

#[test]
fn least_waste_score_adds_both_fractions() {
    let mut o = option("g");
    o.node_count = 2;
    o.node_capacity = resources(1000, 1000);
    o.pod_requests = resources(500, 1500);
    // cpu: (2000 - 500) / 2000, memory: (2000 - 1500) / 2000
    assert_eq!(waste_score(&o), Some(0.75 + 0.25));
    o.node_capacity.0[MEMORY] = 0;
    assert_eq!(waste_score(&o), None);
}

#[test]
fn least_waste_keeps_ties_and_skips_unscorable_options() {
    let mut a = option("a");
    a.pod_requests = resources(500, 1 << 29);
    let b = ExpansionOption {
        group: "b".into(),
        ..a.clone()
    };
    let mut broken = a.clone();
    broken.node_capacity = ResourceVec::ZERO;
    let options = [broken, a, b];
    assert_eq!(LeastWaste.best_options(&options, &[0, 1, 2]), vec![1, 2]);
}

// upstream: mostpods/mostpods_test.go TestMostPods
#[test]
fn most_pods_prefers_the_option_scheduling_most() {
    let eo0 = option("EO0");
    assert_eq!(pick(&MostPods, std::slice::from_ref(&eo0)), Some(0));
    let mut eo1 = option("EO1");
    eo1.pod_count = 1;
    assert_eq!(pick(&MostPods, &[eo0.clone(), eo1.clone()]), Some(1));
    let mut eo1b = option("EO1b");
    eo1b.pod_count = 1;
    let options = [eo0, eo1, eo1b];
    assert_eq!(MostPods.best_options(&options, &[0, 1, 2]), vec![1, 2]);
    for seed in 0..20 {
        let mut r = RngStreams::new(seed).stream("most-pods");
        let chosen = best_option(&[&MostPods], &options, &mut r);
        assert!(matches!(chosen, Some(1) | Some(2)), "{chosen:?}");
    }
}

#[test]
fn random_is_uniform_over_candidates_and_deterministic() {
    assert_eq!(random_option(&[], &mut rng()), None);
    let candidates = [3, 5, 9];
    let mut counts = [0u32; 3];
    let mut r = rng();
    for _ in 0..3000 {
        let chosen = random_option(&candidates, &mut r).unwrap();
        let slot = candidates.iter().position(|&c| c == chosen).unwrap();
        counts[slot] += 1;
    }
    // Each is drawn about a third of the time.
    assert!(
        counts.iter().all(|&c| (900..1100).contains(&c)),
        "{counts:?}"
    );
    let first: Vec<_> = (0..10)
        .map(|_| random_option(&candidates, &mut rng()))
        .collect();
    let again: Vec<_> = (0..10)
        .map(|_| random_option(&candidates, &mut rng()))
        .collect();
    assert_eq!(first, again);
}

/// A filter keeping the options whose group contains a substring, as
/// upstream's chain test uses.
struct Substring(&'static str);

impl ExpanderFilter for Substring {
    fn best_options(&self, options: &[ExpansionOption], candidates: &[usize]) -> Vec<usize> {
        candidates
            .iter()
            .copied()
            .filter(|&i| options[i].group.contains(self.0))
            .collect()
    }
}

/// Upstream's test fallback: the first option containing the substring.
fn first_containing<'a>(
    options: &'a [ExpansionOption],
    substring: &'static str,
) -> impl FnOnce(&[usize]) -> Option<usize> + 'a {
    move |candidates| {
        Substring(substring)
            .best_options(options, candidates)
            .first()
            .copied()
    }
}

// upstream: factory/chain_test.go TestChainStrategy_BestOption
#[test]
fn chain_runs_filters_in_order_then_the_fallback() {
    struct Case {
        name: &'static str,
        filters: Vec<Substring>,
        fallback: &'static str,
        groups: Vec<&'static str>,
        expected: &'static str,
    }
    let cases = vec![
        Case {
            name: "selects with no filters",
            filters: vec![],
            fallback: "a",
            groups: vec!["b", "a"],
            expected: "a",
        },
        Case {
            name: "filters with one filter",
            filters: vec![Substring("a")],
            fallback: "b",
            groups: vec!["ab", "b"],
            expected: "ab",
        },
        Case {
            name: "filters with multiple filters",
            filters: vec![Substring("a"), Substring("b")],
            fallback: "x",
            groups: vec!["xab", "xa", "x"],
            expected: "xab",
        },
        Case {
            name: "selects from multiple after filters",
            filters: vec![Substring("x")],
            fallback: "a",
            groups: vec!["xc", "xaa", "xab"],
            expected: "xaa",
        },
        Case {
            name: "short circuits",
            filters: vec![Substring("a"), Substring("b")],
            fallback: "x",
            groups: vec!["a"],
            expected: "a",
        },
    ];
    for case in cases {
        let options: Vec<_> = case.groups.iter().map(|g| option(g)).collect();
        let filters: Vec<&dyn ExpanderFilter> = case
            .filters
            .iter()
            .map(|f| f as &dyn ExpanderFilter)
            .collect();
        let chosen = chain_best_option(
            &filters,
            &options,
            first_containing(&options, case.fallback),
        );
        assert_eq!(
            chosen.map(|i| options[i].group.as_str()),
            Some(case.expected),
            "{}",
            case.name
        );
    }
}

#[test]
fn chain_of_least_waste_then_most_pods_breaks_ties() {
    // Equal waste; most-pods decides.
    let mut a = option("a");
    a.pod_count = 1;
    a.pod_requests = resources(500, 1 << 29);
    let mut b = a.clone();
    b.group = "b".into();
    b.pod_count = 2;
    let options = [a, b];
    assert_eq!(
        best_option(&[&LeastWaste, &MostPods], &options, &mut rng()),
        Some(1)
    );
    assert_eq!(best_option(&[], &[], &mut rng()), None);
}

const CONFIG: &[(i64, &[&str])] = &[
    (5, &[r".*t2\.micro.*"]),
    (10, &[r".*t2\.large.*", r".*t3\.large.*"]),
    (50, &[r".*m4\.4xlarge.*"]),
];
const T2_MICRO: &str = "my-asg.t2.micro";
const T2_LARGE: &str = "my-asg.t2.large";
const T3_LARGE: &str = "my-asg.t3.large";
const M4_4XLARGE: &str = "my-asg.m4.4xlarge";

fn options_of(groups: &[&str]) -> Vec<ExpansionOption> {
    groups.iter().map(|g| option(g)).collect()
}

fn priority_pick(config: &[(i64, &[&str])], groups: &[&str], seed: u64) -> Option<String> {
    let priority = Priority::new(config).unwrap();
    let options = options_of(groups);
    let mut r = RngStreams::new(seed).stream("priority");
    best_option(&[&priority], &options, &mut r).map(|i| options[i].group.clone())
}

// upstream: priority_test.go TestPriorityExpanderCorrecltySelectsSingleMatchingOptionOutOfOne
#[test]
fn priority_selects_single_matching_option_out_of_one() {
    assert_eq!(
        priority_pick(CONFIG, &[T2_LARGE], 0).as_deref(),
        Some(T2_LARGE)
    );
}

// upstream: priority_test.go TestPriorityExpanderCorrecltySelectsSingleMatchingOptionOutOfMany
#[test]
fn priority_selects_single_matching_option_out_of_many() {
    assert_eq!(
        priority_pick(CONFIG, &[T2_LARGE, M4_4XLARGE], 0).as_deref(),
        Some(M4_4XLARGE)
    );
}

// upstream: priority_test.go TestPriorityExpanderDoesNotFallBackToRandomWhenHigherPriorityMatches
#[test]
fn priority_prefers_higher_level_over_wildcard() {
    let wildcard: &[(i64, &[&str])] = &[(5, &[".*"]), (10, &[r".t2\.large.*"])];
    for seed in 0..10 {
        assert_eq!(
            priority_pick(wildcard, &[T2_LARGE, T2_MICRO], seed).as_deref(),
            Some(T2_LARGE)
        );
    }
}

// upstream: priority_test.go TestPriorityExpanderCorrecltySelectsOneOfTwoMatchingOptionsOutOfMany
#[test]
fn priority_selects_one_of_two_matching_options_out_of_many() {
    let mut seen = Vec::new();
    for seed in 0..10 {
        let chosen = priority_pick(CONFIG, &[T2_LARGE, T3_LARGE, T2_MICRO], seed).unwrap();
        assert!(chosen == T2_LARGE || chosen == T3_LARGE, "{chosen}");
        seen.push(chosen);
    }
    // The tie is broken at random: both come up over ten seeds.
    assert!(seen.iter().any(|g| g == T2_LARGE) && seen.iter().any(|g| g == T3_LARGE));
}

// upstream: priority_test.go TestPriorityExpanderCorrecltyFallsBackToRandomWhenNoMatches
// (with upstream's `notMatchingConfig`, so that nothing matches)
#[test]
fn priority_falls_back_to_random_when_nothing_matches() {
    let not_matching: &[(i64, &[&str])] = &[(5, &[r".*t\.micro.*"]), (10, &[r".*t\.large.*"])];
    let priority = Priority::new(not_matching).unwrap();
    let options = options_of(&[T2_LARGE, T3_LARGE]);
    assert_eq!(priority.best_options(&options, &[0, 1]), vec![0, 1]);
}

// upstream: priority_test.go TestPriorityExpanderCorrecltyHandlesConfigUpdate
// (the groups no level names are never chosen; a new config changes the pick)
#[test]
fn priority_ignores_unmatched_groups_and_follows_new_config() {
    let one_entry: &[(i64, &[&str])] = &[(10, &[r".*t2\.large.*"])];
    let groups = [T2_LARGE, T3_LARGE, M4_4XLARGE];
    assert_eq!(
        priority_pick(one_entry, &groups, 0).as_deref(),
        Some(T2_LARGE)
    );
    assert_eq!(
        priority_pick(CONFIG, &groups, 0).as_deref(),
        Some(M4_4XLARGE)
    );
}

// upstream: priority_test.go TestPriorityExpanderCorrecltySkipsBadChangeConfig
#[test]
fn priority_rejects_empty_config() {
    assert_eq!(Priority::new(&[]), Err(PriorityConfigError::Empty));
}

#[test]
fn priority_takes_the_highest_matching_level() {
    let overlapping: &[(i64, &[&str])] = &[(1, &["large"]), (7, &[r"t2\."]), (3, &["asg"])];
    let priority = Priority::new(overlapping).unwrap();
    assert_eq!(priority.group_priority(T2_LARGE), Some(7));
    assert_eq!(priority.group_priority(M4_4XLARGE), Some(3));
    assert_eq!(priority.group_priority("other"), None);
}

#[test]
fn group_patterns_match_like_go_regexp_search() {
    let p = |s: &str| GroupPattern::new(s).unwrap();
    assert!(p(r"t2\.large").is_match(T2_LARGE));
    assert!(!p(r"t2\.large").is_match("my-asg.t2xlarge"));
    assert!(p("t2.large").is_match("my-asg.t2xlarge"));
    assert!(p("^my-.*large$").is_match(T2_LARGE));
    assert!(!p("^asg").is_match(T2_LARGE));
    assert!(!p("micro$").is_match("t2.micro-b"));
    assert!(p("").is_match("anything"));
    assert!(p("a*b").is_match("xb"));
    for bad in ["[a]", "a+", "(a)", "a|b", "*a", r"\d", "a$b", "\\"] {
        assert!(GroupPattern::new(bad).is_err(), "{bad}");
    }
    assert!(matches!(
        Priority::new(&[(3, &["ok", "a+"])]),
        Err(PriorityConfigError::Pattern { priority: 3, .. })
    ));
}

fn price() -> Price {
    Price {
        preferred_cpu_millis: 4000,
        pod_price_per_core_hour: 0.03,
        pod_price_per_gib_hour: 0.004,
        gpu: Some(FIRST_EXTENDED),
    }
}

#[test]
fn preferred_node_doubles_as_the_cluster_triples() {
    let sizes = [(0, 1000), (2, 1000), (3, 2000), (6, 2000), (20, 4000)];
    for (nodes, cpu) in sizes {
        assert_eq!(preferred_node_cpu_millis(nodes), cpu, "{nodes} nodes");
    }
    assert_eq!(preferred_node_cpu_millis(60), 8000);
    assert_eq!(preferred_node_cpu_millis(200), 16000);
    assert_eq!(preferred_node_cpu_millis(201), 32000);
}

#[test]
fn price_score_follows_upstream_formula() {
    let mut o = option("g");
    o.node_capacity = resources(2000, 8 << 30);
    o.node_price_per_hour = 0.1;
    o.node_count = 1;
    o.pod_requests = resources(1000, 2 << 30);
    let stabilization = 0.5 * 0.03 + (500.0 / 1024.0) * 0.004;
    let pods = 0.03 + 2.0 * 0.004;
    let ratio = (0.1 + stabilization) / (pods + stabilization);
    // One node: unfitness max(4000/2000, 2000/4000) = 2, not faded.
    let expected = 2.0 * ratio;
    assert!((price().score(&o).unwrap() - expected).abs() < 1e-12);

    // Sixteen nodes: the misfit fades by 1 - tanh(15/15).
    o.node_count = 16;
    let ratio16 = (1.6 + stabilization) / (pods + stabilization);
    let suppressed = 1.0 * (1.0 - libm::tanh(1.0)) + 1.0;
    assert!((price().score(&o).unwrap() - suppressed * ratio16).abs() < 1e-12);

    // A group yet to be created costs double.
    let existing = price().score(&o).unwrap();
    o.group_exists = false;
    assert!((price().score(&o).unwrap() - 2.0 * existing).abs() < 1e-12);
}

#[test]
fn price_prefers_cheap_well_shaped_groups_and_shuns_gpus() {
    let mut fit = option("fit");
    fit.node_capacity = resources(4000, 16 << 30);
    fit.node_price_per_hour = 0.2;
    fit.pod_requests = resources(3000, 6 << 30);
    let mut pricey = fit.clone();
    pricey.group = "pricey".into();
    pricey.node_price_per_hour = 0.4;
    let mut gpu = fit.clone();
    gpu.group = "gpu".into();
    gpu.node_capacity.0[FIRST_EXTENDED] = 1;
    gpu.node_price_per_hour = 0.05;
    let options = [pricey, gpu, fit];
    assert_eq!(price().best_options(&options, &[0, 1, 2]), vec![2]);
    let mut no_cpu = option("no-cpu");
    no_cpu.node_capacity = ResourceVec::ZERO;
    assert_eq!(price().score(&no_cpu), None);
}

/// One option of upstream's TestPriceExpander: `node_count` nodes of
/// `node_cpu_millis` at `node_price`, taking pods of `pod_cpu_millis` in all.
fn priced(
    group: &str,
    node_count: u32,
    node_cpu_millis: u64,
    node_price: f64,
    pod_cpu_millis: u64,
) -> ExpansionOption {
    ExpansionOption {
        group: group.into(),
        node_count,
        pod_count: 0,
        pod_requests: resources(pod_cpu_millis, 0),
        node_capacity: resources(node_cpu_millis, 1000),
        node_price_per_hour: node_price,
        group_exists: true,
    }
}

fn price_pick(preferred_cpu_millis: u64, options: &[ExpansionOption]) -> &str {
    let p = Price {
        preferred_cpu_millis,
        pod_price_per_core_hour: 20.0,
        pod_price_per_gib_hour: 0.0,
        gpu: None,
    };
    let all: Vec<usize> = (0..options.len()).collect();
    let best = p.best_options(options, &all);
    assert_eq!(best.len(), 1, "{best:?}");
    &options[best[0]].group
}

// upstream: price/price_test.go TestPriceExpander (every case but the one
// where the pricing model fails, which a given price cannot)
#[test]
fn price_expander_upstream_cases() {
    // p1 + p2: 1500 millicores. ng1: 1000-millicore nodes, ng2: 4000.
    let both = |n1: f64, n2: f64, c1: u32, c2: u32| {
        vec![
            priced("ng1", c1, 1000, n1, 1500),
            priced("ng2", c2, 4000, n2, 1500),
        ]
    };
    // First node group is cheaper.
    assert_eq!(price_pick(2000, &both(20.0, 200.0, 2, 1)), "ng1");
    // First is cheaper, but the second is preferred.
    assert_eq!(price_pick(4000, &both(50.0, 200.0, 2, 1)), "ng2");
    // The same, but with many nodes the misfit fades.
    assert_eq!(price_pick(4000, &both(20.0, 200.0, 80, 40)), "ng1");
    // Second node group is cheaper.
    assert_eq!(price_pick(2000, &both(200.0, 100.0, 2, 1)), "ng2");
    // Equally expensive, but the second takes both pods.
    let mut options2 = both(200.0, 200.0, 2, 1);
    options2[0].pod_requests = resources(1000, 0);
    assert_eq!(price_pick(2000, &options2), "ng2");
    // A group yet to be created loses at the same price...
    let mut options3 = options2.clone();
    let mut mt1 = priced("autoprovisioned-MT1", 1, 4000, 200.0, 1500);
    mt1.group_exists = false;
    options3.push(mt1);
    assert_eq!(price_pick(2000, &options3), "ng2");
    // ...and wins when cheaper enough.
    options3[2].node_price_per_hour = 90.0;
    assert_eq!(price_pick(2000, &options3), "autoprovisioned-MT1");
}

#[test]
fn default_expander_is_least_waste() {
    assert_eq!(
        super::super::DEFAULT_EXPANDER,
        super::super::ExpanderStep::LeastWaste
    );
}

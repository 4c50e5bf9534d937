//! Expanders: which node group a scale-up grows (upstream's `expander/`).
//! Each expander is a filter that keeps the best of the options it is given;
//! a chain (`expander/factory/chain.go`, the comma-separated `--expander`)
//! runs them in order, stops as soon as one option is left, and breaks the
//! remaining ties at random, drawn from a [`SimRng`].

use crate::resources::{ResourceVec, CPU, MEMORY};
use crate::rng::{unit_f64, SimRng};

/// One way to scale up: grow `group` by `node_count` template nodes, which
/// would schedule `pod_count` of the pending pods.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpansionOption {
    /// The node group's id.
    pub group: String,
    pub node_count: u32,
    pub pod_count: u32,
    /// The summed requests of the pods the new nodes would take.
    pub pod_requests: ResourceVec,
    /// Capacity of one template node of the group.
    pub node_capacity: ResourceVec,
    /// What one template node costs per hour (price expander only).
    pub node_price_per_hour: f64,
    /// False for a group that would first have to be created (price
    /// expander only: upstream penalizes those).
    pub group_exists: bool,
}

/// An expander that narrows the candidates (indices into the options) to
/// its best ones, keeping their order.
pub trait ExpanderFilter {
    fn best_options(&self, options: &[ExpansionOption], candidates: &[usize]) -> Vec<usize>;
}

/// The option picked: the filters in order, stopping as soon as one option
/// is left, then `fallback` among what remains (upstream's chain strategy).
pub fn chain_best_option(
    filters: &[&dyn ExpanderFilter],
    options: &[ExpansionOption],
    fallback: impl FnOnce(&[usize]) -> Option<usize>,
) -> Option<usize> {
    let mut candidates: Vec<usize> = (0..options.len()).collect();
    for filter in filters {
        candidates = filter.best_options(options, &candidates);
        if candidates.len() == 1 {
            return Some(candidates[0]);
        }
    }
    fallback(&candidates)
}

/// The chain as upstream's factory builds it: random breaks the last ties.
pub fn best_option(
    filters: &[&dyn ExpanderFilter],
    options: &[ExpansionOption],
    rng: &mut SimRng,
) -> Option<usize> {
    chain_best_option(filters, options, |candidates| {
        random_option(candidates, rng)
    })
}

/// The `random` expander: one candidate, uniformly; None when there is none.
pub fn random_option(candidates: &[usize], rng: &mut SimRng) -> Option<usize> {
    if candidates.is_empty() {
        return None;
    }
    let n = candidates.len();
    // unit_f64 < 1, so the index stays below n; `min` guards the rounding.
    let index = ((unit_f64(rng) * n as f64) as usize).min(n - 1);
    Some(candidates[index])
}

/// Keeps the candidates whose key is smallest, in order. NaN keys never win.
fn keep_min(candidates: &[usize], key: impl Fn(usize) -> Option<f64>) -> Vec<usize> {
    let mut best: Vec<usize> = Vec::new();
    let mut best_key = f64::INFINITY;
    for &i in candidates {
        let Some(k) = key(i) else { continue };
        if best.is_empty() || k < best_key {
            best_key = k;
            best = vec![i];
        } else if k == best_key {
            best.push(i);
        }
    }
    best
}

/// `most-pods`: the options that schedule the most pods.
#[derive(Copy, Clone, Debug, Default)]
pub struct MostPods;

impl ExpanderFilter for MostPods {
    fn best_options(&self, options: &[ExpansionOption], candidates: &[usize]) -> Vec<usize> {
        keep_min(candidates, |i| Some(-f64::from(options[i].pod_count)))
    }
}

/// `least-waste`: the options that leave the smallest fraction of the new
/// nodes' cpu plus memory unrequested. Upstream reads the template's
/// capacity, not its allocatable. An option whose template has no cpu or
/// memory is skipped, as upstream skips one without node info.
#[derive(Copy, Clone, Debug, Default)]
pub struct LeastWaste;

/// The least-waste score: wasted cpu fraction plus wasted memory fraction.
pub fn waste_score(option: &ExpansionOption) -> Option<f64> {
    let wasted = |resource: usize| -> Option<f64> {
        let available =
            u128::from(option.node_capacity.0[resource]) * u128::from(option.node_count);
        if available == 0 {
            return None;
        }
        let requested = u128::from(option.pod_requests.0[resource]);
        Some((available as f64 - requested as f64) / available as f64)
    };
    Some(wasted(CPU)? + wasted(MEMORY)?)
}

impl ExpanderFilter for LeastWaste {
    fn best_options(&self, options: &[ExpansionOption], candidates: &[usize]) -> Vec<usize> {
        keep_min(candidates, |i| waste_score(&options[i]))
    }
}

/// Upstream's price expander, with its constants. Simplified: pods are
/// priced linearly in their cpu and memory requests (upstream asks the cloud
/// provider's pricing model), and the preferred node is given by its cpu.
#[derive(Clone, Debug, PartialEq)]
pub struct Price {
    /// Cpu of the preferred node ([`preferred_node_cpu_millis`]).
    pub preferred_cpu_millis: u64,
    pub pod_price_per_core_hour: f64,
    pub pod_price_per_gib_hour: f64,
    /// Index of the GPU resource: a group whose template has GPUs gets a
    /// fixed, very high unfitness.
    pub gpu: Option<usize>,
}

/// The cpu of the node upstream prefers for a cluster of `cluster_nodes`
/// (`SimplePreferredNodeProvider`: the size doubles each time the cluster
/// triples).
pub fn preferred_node_cpu_millis(cluster_nodes: usize) -> u64 {
    let cores = match cluster_nodes {
        0..=2 => 1,
        3..=6 => 2,
        7..=20 => 4,
        21..=60 => 8,
        61..=200 => 16,
        _ => 32,
    };
    cores * 1000
}

/// Upstream's stabilization pod (0.5 cpu, 500 MiB), priced into both sides
/// of the node/pod price ratio so small pods do not swing it.
const STABILIZATION_POD_CPU_MILLIS: u64 = 500;
const STABILIZATION_POD_MEMORY_BYTES: u64 = 500 * 1024 * 1024;
/// Score factor for a group that does not exist yet.
const NOT_EXIST_COEFFICIENT: f64 = 2.0;
/// Unfitness of any group with GPUs, making it a last resort for pods that
/// do not need them.
const GPU_UNFITNESS_OVERRIDE: f64 = 1000.0;

impl Price {
    fn pod_price(&self, cpu_millis: u64, memory_bytes: u64) -> f64 {
        const GIB: f64 = (1u64 << 30) as f64;
        cpu_millis as f64 / 1000.0 * self.pod_price_per_core_hour
            + memory_bytes as f64 / GIB * self.pod_price_per_gib_hour
    }

    /// Upstream's `SimpleNodeUnfitness`: how far the template's cpu is from
    /// the preferred node's, as a ratio of at least 1.
    fn unfitness(&self, node_cpu_millis: u64) -> Option<f64> {
        if node_cpu_millis == 0 || self.preferred_cpu_millis == 0 {
            return None;
        }
        let preferred = self.preferred_cpu_millis as f64;
        let node = node_cpu_millis as f64;
        Some((preferred / node).max(node / preferred))
    }

    /// An option's score; lower is better. None: the option cannot be
    /// scored (a template without cpu).
    pub fn score(&self, option: &ExpansionOption) -> Option<f64> {
        let stabilization =
            self.pod_price(STABILIZATION_POD_CPU_MILLIS, STABILIZATION_POD_MEMORY_BYTES);
        let nodes_price = option.node_price_per_hour * f64::from(option.node_count);
        let pods_price = self.pod_price(option.pod_requests.0[CPU], option.pod_requests.0[MEMORY]);
        let price_ratio = (nodes_price + stabilization) / (pods_price + stabilization);
        let unfitness = self.unfitness(option.node_capacity.0[CPU])?;
        // Many nodes of a misfit shape matter less than one: the misfit fades
        // with the node count.
        let fade = 1.0 - libm::tanh((f64::from(option.node_count) - 1.0) / 15.0);
        let mut suppressed = (unfitness - 1.0) * fade + 1.0;
        if self.gpu.is_some_and(|g| option.node_capacity.0[g] > 0) {
            suppressed = GPU_UNFITNESS_OVERRIDE;
        }
        let mut score = suppressed * price_ratio;
        if !option.group_exists {
            score *= NOT_EXIST_COEFFICIENT;
        }
        Some(score)
    }
}

impl ExpanderFilter for Price {
    /// Upstream's price strategy returns the first of the lowest scores; as
    /// a filter this keeps every option of the lowest score.
    fn best_options(&self, options: &[ExpansionOption], candidates: &[usize]) -> Vec<usize> {
        keep_min(candidates, |i| self.score(&options[i]))
    }
}

mod pattern;
pub use pattern::{GroupPattern, PatternError};

/// The `priority` expander's configuration (upstream's ConfigMap
/// `cluster-autoscaler-priority-expander`, key `priorities`): patterns of
/// node group ids per priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priority {
    levels: Vec<(i64, Vec<GroupPattern>)>,
}

/// Why a priority configuration is rejected (upstream then picks nothing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriorityConfigError {
    #[error("priority configuration is empty")]
    Empty,
    #[error("priority {priority}: {source}")]
    Pattern {
        priority: i64,
        #[source]
        source: PatternError,
    },
}

impl Priority {
    pub fn new(levels: &[(i64, &[&str])]) -> Result<Self, PriorityConfigError> {
        if levels.is_empty() {
            return Err(PriorityConfigError::Empty);
        }
        let levels = levels
            .iter()
            .map(|&(priority, patterns)| {
                let compiled = patterns
                    .iter()
                    .map(|p| GroupPattern::new(p))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|source| PriorityConfigError::Pattern { priority, source })?;
                Ok((priority, compiled))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Priority { levels })
    }

    /// The highest priority whose patterns match the group id anywhere.
    /// (Upstream walks a Go map, whose order is random, and stops at the
    /// first level it matches that is not below the best so far; taking the
    /// highest is what it intends and what it does for ids matching one level.)
    pub fn group_priority(&self, group: &str) -> Option<i64> {
        self.levels
            .iter()
            .filter(|(_, patterns)| patterns.iter().any(|p| p.is_match(group)))
            .map(|&(priority, _)| priority)
            .max()
    }
}

impl ExpanderFilter for Priority {
    /// The options of the highest matching priority; options matching no
    /// pattern are never chosen, unless none matches, when all stay.
    fn best_options(&self, options: &[ExpansionOption], candidates: &[usize]) -> Vec<usize> {
        let mut best: Vec<usize> = Vec::new();
        let mut best_priority = i64::MIN;
        for &i in candidates {
            let Some(priority) = self.group_priority(&options[i].group) else {
                continue;
            };
            if best.is_empty() || priority > best_priority {
                best_priority = priority;
                best = vec![i];
            } else if priority == best_priority {
                best.push(i);
            }
        }
        if best.is_empty() {
            candidates.to_vec()
        } else {
            best
        }
    }
}

#[cfg(test)]
mod tests;

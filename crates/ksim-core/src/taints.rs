//! The taints controllers put on nodes at run time: a small fixed registry,
//! so that a node carries them as a bit set of one byte and every template's
//! verdict on each of them is decided once, when the run is built, never
//! per node (nodes of a pool share their scenario taints; these are the only
//! per-node ones).
//!
//! Keys, values and effects are upstream's:
//! - Cluster Autoscaler, `cluster-autoscaler/utils/taints/taints.go`:
//!   `ToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler"` with effect
//!   NoSchedule (`MarkToBeDeleted`) and `DeletionCandidateTaint =
//!   "DeletionCandidateOfClusterAutoscaler"` with effect PreferNoSchedule
//!   (`GetDeletionCandidateTaint`), both valued `fmt.Sprint(time.Now().Unix())`;
//! - Karpenter, `pkg/apis/v1/taints.go`: `DisruptedNoScheduleTaint`, key
//!   `karpenter.sh/disrupted` (`apis.Group + "/disrupted"`), no value,
//!   effect NoSchedule;
//! - the node lifecycle controller's taint-by-condition,
//!   `pkg/controller/nodelifecycle` with the keys of
//!   `staging/src/k8s.io/api/core/v1/well_known_taints.go`:
//!   `node.kubernetes.io/memory-pressure` and
//!   `node.kubernetes.io/disk-pressure`, no value, effect NoSchedule, put on
//!   while the kubelet reports the MemoryPressure or DiskPressure condition.

use crate::config::{Taint, TaintEffect};

/// What the Cluster Autoscaler's taints hold as their value: the Unix time
/// they were added, which no toleration can know in advance. Not a valid
/// label value, so no toleration read from a scenario (`Equal` values are
/// label values) can equal it; `Exists` tolerates it, as upstream.
pub const UNIX_TIME_VALUE: &str = "<unix time>";

/// A taint a controller may put on a node or take off it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControllerTaint {
    /// `ToBeDeletedByClusterAutoscaler:NoSchedule`: the Cluster Autoscaler
    /// is about to remove the node.
    ToBeDeletedByClusterAutoscaler,
    /// `DeletionCandidateOfClusterAutoscaler:PreferNoSchedule`: the Cluster
    /// Autoscaler found the node unneeded.
    DeletionCandidateOfClusterAutoscaler,
    /// `karpenter.sh/disrupted:NoSchedule`: Karpenter is disrupting the node.
    KarpenterDisrupted,
    /// `node.kubernetes.io/memory-pressure:NoSchedule`: the node reports
    /// MemoryPressure.
    MemoryPressure,
    /// `node.kubernetes.io/disk-pressure:NoSchedule`: the node reports
    /// DiskPressure.
    DiskPressure,
}

impl ControllerTaint {
    pub const COUNT: usize = 5;
    pub const ALL: [ControllerTaint; ControllerTaint::COUNT] = [
        ControllerTaint::ToBeDeletedByClusterAutoscaler,
        ControllerTaint::DeletionCandidateOfClusterAutoscaler,
        ControllerTaint::KarpenterDisrupted,
        ControllerTaint::MemoryPressure,
        ControllerTaint::DiskPressure,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ControllerTaint::ToBeDeletedByClusterAutoscaler => "ToBeDeletedByClusterAutoscaler",
            ControllerTaint::DeletionCandidateOfClusterAutoscaler => {
                "DeletionCandidateOfClusterAutoscaler"
            }
            ControllerTaint::KarpenterDisrupted => "karpenter.sh/disrupted",
            ControllerTaint::MemoryPressure => "node.kubernetes.io/memory-pressure",
            ControllerTaint::DiskPressure => "node.kubernetes.io/disk-pressure",
        }
    }

    pub fn value(self) -> &'static str {
        match self {
            ControllerTaint::ToBeDeletedByClusterAutoscaler
            | ControllerTaint::DeletionCandidateOfClusterAutoscaler => UNIX_TIME_VALUE,
            ControllerTaint::KarpenterDisrupted
            | ControllerTaint::MemoryPressure
            | ControllerTaint::DiskPressure => "",
        }
    }

    pub fn effect(self) -> TaintEffect {
        match self {
            ControllerTaint::DeletionCandidateOfClusterAutoscaler => TaintEffect::PreferNoSchedule,
            ControllerTaint::ToBeDeletedByClusterAutoscaler
            | ControllerTaint::KarpenterDisrupted
            | ControllerTaint::MemoryPressure
            | ControllerTaint::DiskPressure => TaintEffect::NoSchedule,
        }
    }

    /// The taint as a node's spec would hold it, for the matching functions.
    pub fn taint(self) -> Taint {
        Taint {
            key: self.key().into(),
            value: self.value().into(),
            effect: self.effect(),
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of controller taints, one bit per [`ControllerTaint`]: one byte per
/// node.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ControllerTaints(u8);

impl ControllerTaints {
    pub const NONE: ControllerTaints = ControllerTaints(0);

    pub fn contains(self, taint: ControllerTaint) -> bool {
        self.0 & taint.bit() != 0
    }

    pub fn with(self, taint: ControllerTaint) -> ControllerTaints {
        ControllerTaints(self.0 | taint.bit())
    }

    pub fn without(self, taint: ControllerTaint) -> ControllerTaints {
        ControllerTaints(self.0 & !taint.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The taints in both sets.
    pub fn and(self, other: ControllerTaints) -> ControllerTaints {
        ControllerTaints(self.0 & other.0)
    }

    /// How many taints the set holds.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The set's first taint in registry order (upstream reports the first
    /// untolerated taint it meets).
    pub fn first(self) -> Option<ControllerTaint> {
        self.iter().next()
    }

    pub fn iter(self) -> impl Iterator<Item = ControllerTaint> {
        ControllerTaint::ALL
            .into_iter()
            .filter(move |&t| self.contains(t))
    }

    /// The set as an index below [`ControllerTaints::COMBINATIONS`], for
    /// counts per combination.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// How many distinct sets there are.
    pub const COMBINATIONS: usize = 1 << ControllerTaint::COUNT;

    /// The set of index `index` (below [`ControllerTaints::COMBINATIONS`]).
    pub fn from_index(index: usize) -> ControllerTaints {
        assert!(index < Self::COMBINATIONS, "not a set of controller taints");
        ControllerTaints(index as u8)
    }
}

impl FromIterator<ControllerTaint> for ControllerTaints {
    fn from_iter<I: IntoIterator<Item = ControllerTaint>>(taints: I) -> Self {
        taints
            .into_iter()
            .fold(ControllerTaints::NONE, ControllerTaints::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_taint_has_its_own_bit_and_the_set_fits_a_byte() {
        let all: ControllerTaints = ControllerTaint::ALL.into_iter().collect();
        assert_eq!(all.len() as usize, ControllerTaint::COUNT);
        const { assert!(ControllerTaints::COMBINATIONS <= 256) };
        for (i, t) in ControllerTaint::ALL.into_iter().enumerate() {
            assert_eq!(t as usize, i, "ALL is in declaration order");
            let only = ControllerTaints::NONE.with(t);
            assert_eq!(only.iter().collect::<Vec<_>>(), vec![t]);
            assert!(!all.without(t).contains(t));
        }
        assert_eq!(
            all.first(),
            Some(ControllerTaint::ToBeDeletedByClusterAutoscaler)
        );
    }

    /// Applying a taint never evicts: the model has no NoExecute controller
    /// taint (taint-based eviction exists only for the node-lifecycle
    /// controller's taints, `lifecycle`).
    #[test]
    fn no_controller_taint_evicts() {
        assert!(ControllerTaint::ALL
            .iter()
            .all(|t| t.effect() != TaintEffect::NoExecute));
    }

    /// The value stands for a Unix time: no label value (what an `Equal`
    /// toleration holds in a scenario) equals it.
    #[test]
    fn the_autoscalers_time_value_is_no_label_value() {
        assert!(UNIX_TIME_VALUE
            .chars()
            .any(|c| !c.is_ascii_alphanumeric() && !"-_.".contains(c)));
    }
}

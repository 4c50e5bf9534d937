//! Label, node-selector and toleration matching with upstream semantics
//! (k8s.io/api core/v1 toleration and component-helpers nodeaffinity).
//! These run once per (template, pool) pair when a run is built, never per node.

use crate::config::{
    Label, NodeSelectorTerm, SelectorOperator, SelectorRequirement, Taint, TaintEffect, Toleration,
    TolerationOperator,
};

fn label_value<'a>(labels: &'a [Label], key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|l| l.key == key)
        .map(|l| l.value.as_str())
}

/// Every `selector` label is present with the same value (nodeSelector, matchLabels).
pub fn labels_match(selector: &[Label], labels: &[Label]) -> bool {
    selector
        .iter()
        .all(|s| label_value(labels, &s.key) == Some(s.value.as_str()))
}

pub fn requirement_matches(req: &SelectorRequirement, labels: &[Label]) -> bool {
    let value = label_value(labels, &req.key);
    match &req.operator {
        SelectorOperator::In(values) => value.is_some_and(|v| values.iter().any(|x| x == v)),
        SelectorOperator::NotIn(values) => value.is_none_or(|v| values.iter().all(|x| x != v)),
        SelectorOperator::Exists => value.is_some(),
        SelectorOperator::DoesNotExist => value.is_none(),
        SelectorOperator::Gt(bound) => value
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v > *bound),
        SelectorOperator::Lt(bound) => value
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v < *bound),
    }
}

/// Required node affinity: terms are ORed, expressions within a term ANDed;
/// a term without expressions matches nothing; no terms at all matches every node.
pub fn node_affinity_matches(terms: &[NodeSelectorTerm], labels: &[Label]) -> bool {
    terms.is_empty()
        || terms.iter().any(|t| {
            !t.match_expressions.is_empty()
                && t.match_expressions
                    .iter()
                    .all(|r| requirement_matches(r, labels))
        })
}

pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration.effect.is_some_and(|e| e != taint.effect) {
        return false;
    }
    if !toleration.key.is_empty() && toleration.key != taint.key {
        return false;
    }
    match toleration.operator {
        TolerationOperator::Exists => true,
        TolerationOperator::Equal => toleration.value == taint.value,
    }
}

/// The first NoSchedule/NoExecute taint no toleration covers (the TaintToleration filter).
pub fn first_untolerated_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// PreferNoSchedule taints not tolerated (the TaintToleration score counts these).
pub fn intolerable_prefer_no_schedule(taints: &[Taint], tolerations: &[Toleration]) -> i64 {
    let relevant: Vec<&Toleration> = tolerations
        .iter()
        .filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule))
        .collect();
    taints
        .iter()
        .filter(|t| t.effect == TaintEffect::PreferNoSchedule)
        .filter(|t| !relevant.iter().any(|tol| tolerates(tol, t)))
        .count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(k: &str, v: &str) -> Label {
        Label {
            key: k.into(),
            value: v.into(),
        }
    }
    fn taint(k: &str, v: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: k.into(),
            value: v.into(),
            effect,
        }
    }
    fn toleration(
        k: &str,
        op: TolerationOperator,
        v: &str,
        effect: Option<TaintEffect>,
    ) -> Toleration {
        Toleration {
            key: k.into(),
            operator: op,
            value: v.into(),
            effect,
        }
    }
    fn req(k: &str, operator: SelectorOperator) -> SelectorRequirement {
        SelectorRequirement {
            key: k.into(),
            operator,
        }
    }

    // Cases after k8s.io/api core/v1 TestTolerationToleratesTaint.
    #[test]
    fn toleration_semantics_follow_upstream() {
        use TaintEffect::*;
        use TolerationOperator::*;
        let t = taint("foo", "bar", NoSchedule);
        assert!(
            tolerates(&toleration("", Exists, "", None), &t),
            "empty key + Exists tolerates all"
        );
        assert!(tolerates(
            &toleration("foo", Exists, "", Some(NoSchedule)),
            &t
        ));
        assert!(
            tolerates(&toleration("foo", Equal, "bar", None), &t),
            "empty effect matches all effects"
        );
        assert!(
            !tolerates(&toleration("foo", Equal, "baz", Some(NoSchedule)), &t),
            "value mismatch"
        );
        assert!(
            !tolerates(&toleration("foo", Equal, "bar", Some(NoExecute)), &t),
            "effect mismatch"
        );
        assert!(
            !tolerates(&toleration("other", Exists, "", None), &t),
            "key mismatch"
        );
    }

    #[test]
    fn prefer_no_schedule_taints_do_not_filter() {
        let taints = [taint("a", "1", TaintEffect::PreferNoSchedule)];
        assert!(first_untolerated_taint(&taints, &[]).is_none());
        assert_eq!(intolerable_prefer_no_schedule(&taints, &[]), 1);
    }

    // Cases after component-helpers nodeaffinity TestNodeSelectorMatch / TestMatchNodeSelectorTerms.
    #[test]
    fn node_selector_operators_follow_upstream() {
        let labels = [label("zone", "a"), label("gen", "5")];
        assert!(requirement_matches(
            &req("zone", SelectorOperator::In(vec!["a".into(), "b".into()])),
            &labels
        ));
        assert!(!requirement_matches(
            &req("zone", SelectorOperator::NotIn(vec!["a".into()])),
            &labels
        ));
        assert!(requirement_matches(
            &req("missing", SelectorOperator::NotIn(vec!["a".into()])),
            &labels
        ));
        assert!(requirement_matches(
            &req("gen", SelectorOperator::Gt(4)),
            &labels
        ));
        assert!(!requirement_matches(
            &req("gen", SelectorOperator::Lt(5)),
            &labels
        ));
        assert!(
            !requirement_matches(&req("zone", SelectorOperator::Gt(1)), &labels),
            "non-integer never matches Gt"
        );
        assert!(requirement_matches(
            &req("missing", SelectorOperator::DoesNotExist),
            &labels
        ));
        assert!(!requirement_matches(
            &req("missing", SelectorOperator::Exists),
            &labels
        ));
    }

    #[test]
    fn affinity_terms_are_ored_and_empty_term_matches_nothing() {
        let labels = [label("zone", "a")];
        let yes = NodeSelectorTerm {
            match_expressions: vec![req("zone", SelectorOperator::Exists)],
        };
        let no = NodeSelectorTerm {
            match_expressions: vec![req("zone", SelectorOperator::DoesNotExist)],
        };
        assert!(node_affinity_matches(&[], &labels));
        assert!(node_affinity_matches(&[no.clone(), yes], &labels));
        assert!(!node_affinity_matches(&[no], &labels));
        assert!(!node_affinity_matches(
            &[NodeSelectorTerm::default()],
            &labels
        ));
    }

    #[test]
    fn node_selector_needs_every_label() {
        let labels = [label("zone", "a"), label("disk", "ssd")];
        assert!(labels_match(&[label("zone", "a")], &labels));
        assert!(!labels_match(
            &[label("zone", "a"), label("disk", "hdd")],
            &labels
        ));
    }
}

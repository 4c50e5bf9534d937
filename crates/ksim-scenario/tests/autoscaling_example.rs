//! The autoscaling example of `docs/scenario.md` parses, and corrupting it
//! never panics and leaves no problem without a line.

use ksim_core::config::Autoscaler;
use proptest::prelude::*;

const DOCS: &str = include_str!("../../../docs/scenario.md");

/// The ```toml block following the sentence that names this test.
fn docs_example() -> &'static str {
    let from = DOCS
        .find("`docs_autoscaling_example_parses`")
        .expect("the docs name the test");
    let start = DOCS[from..].find("```toml\n").expect("a toml block") + from + "```toml\n".len();
    let end = DOCS[start..].find("```").expect("the block ends") + start;
    &DOCS[start..end]
}

#[test]
fn docs_autoscaling_example_parses() {
    let scenario =
        ksim_scenario::parse(docs_example(), "example.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(scenario.warnings.is_empty(), "{:?}", scenario.warnings);
    let models: Vec<_> = scenario.config.workloads.iter().map(|w| &w.model).collect();
    assert!(matches!(models[0].autoscaler, Some(Autoscaler::Hpa(_))));
    assert!(matches!(models[1].autoscaler, Some(Autoscaler::Keda(_))));
    assert!(models.iter().all(|m| m.load.is_some() && m.usage.is_some()));
}

/// `valid` with each (offset, text) edit overwriting bytes at that offset.
fn corrupt(valid: &str, edits: Vec<(usize, String)>) -> String {
    let mut text = valid.to_string();
    for (at, insert) in edits {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let end = (at + insert.len()).min(text.len());
        let end = (end..=text.len())
            .find(|&e| text.is_char_boundary(e))
            .unwrap_or(text.len());
        text.replace_range(at..end, &insert);
    }
    text
}

proptest! {
    #[test]
    fn corrupted_autoscaling_scenarios_never_panic(
        edits in proptest::collection::vec((0usize..2000, "[ -~\n]{0,3}"), 1..4)
    ) {
        let text = corrupt(docs_example(), edits);
        if let Err(e) = ksim_scenario::parse(&text, "bad.toml") {
            for problem in &e.problems {
                prop_assert!(problem.line.is_some(), "{} in\n{}", problem, text);
            }
        }
    }
}

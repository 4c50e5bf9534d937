//! The crate's modules depend on each other without cycles, so each layer
//! (the leaves `ids`, `time`, `resources` and the like at the bottom, `sim`
//! and `estimate` at the top) can be read and changed without the ones above
//! it.

// The scanner is ksim-scenario's, shared rather than copied.
#[path = "../../ksim-scenario/tests/module_dag/scan.rs"]
mod scan;

use scan::{find_cycle, module_graph};
use std::path::Path;

#[test]
fn core_modules_form_a_dag() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        graph["sim"].contains("scheduler"),
        "the scan missed `use crate::scheduler` in sim.rs: {graph:#?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "module dependency cycle: {}\nfull graph: {graph:#?}",
            cycle.join(" -> ")
        );
    }
}

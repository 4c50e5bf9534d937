//! The crate's modules depend on each other without cycles, so each layer
//! (`reader` and the leaf parsers at the bottom, `simulation` at the top) can
//! be read and changed without the ones above it.

// Shared with the other crates' module tests, which include it by path.
#[path = "module_dag/scan.rs"]
mod scan;

use scan::{find_cycle, graph_of, module_graph};
use std::path::{Path, PathBuf};

#[test]
fn scenario_modules_form_a_dag() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        graph["simulation"].contains("reader"),
        "the scan missed `use crate::reader` in simulation.rs: {graph:#?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "module dependency cycle: {}\nfull graph: {graph:#?}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_scan_follows_crate_and_super_paths_but_not_comments_or_strings() {
    let files = [
        (
            "a.rs",
            "use crate::{b::{self, X}, c};\nfn f() { crate::d::g(); }",
        ),
        ("b.rs", "use super::a::Y;"),
        (
            "c.rs",
            "// crate::a\nconst S: &str = \"crate::a\";\nfn f<'a>(_: &'a str) -> char { '{' }\n\
             mod tests { use super::a; }",
        ),
        ("d/mod.rs", "mod e;"),
        ("d/e.rs", "use super::super::a::Z;"),
    ];
    let graph = graph_of(
        files
            .iter()
            .map(|(path, text)| (PathBuf::from(path), text.to_string())),
    );
    let edges = |module: &str| graph[module].iter().cloned().collect::<Vec<_>>();
    assert_eq!(edges("a"), ["b", "c", "d"]);
    assert_eq!(edges("b"), ["a"]);
    // `super` inside `mod tests` is c itself, not the crate root.
    assert!(edges("c").is_empty(), "{graph:#?}");
    assert_eq!(edges("d"), ["a"]);
    assert_eq!(
        find_cycle(&graph).expect("a and b name each other"),
        ["a", "b", "a"]
    );
}

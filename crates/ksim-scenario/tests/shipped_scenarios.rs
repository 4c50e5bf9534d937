//! Every file in `scenarios/` must validate without problems.

use std::path::Path;

#[test]
fn every_shipped_scenario_parses_without_problems() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = ksim_scenario::load(&path) {
                panic!("{}:\n{e}", path.display());
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "found only {checked} scenarios in {}",
        dir.display()
    );
}

#[test]
fn shipped_scenarios_have_the_promised_sizes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let load = |name: &str| ksim_scenario::load(&dir.join(name)).unwrap();
    let quickstart = load("quickstart.toml");
    assert!(quickstart.warnings.is_empty(), "{:?}", quickstart.warnings);
    assert_eq!(quickstart.config.nodes_total(), 300);
    let million = load("million-nodes.toml");
    assert!(million.warnings.is_empty(), "{:?}", million.warnings);
    assert_eq!(million.config.nodes_total(), 1_000_000);
    let kube = load("kube-100k.toml");
    assert!(kube.warnings.is_empty(), "{:?}", kube.warnings);
    assert_eq!(kube.config.nodes_total(), 100_000);
}

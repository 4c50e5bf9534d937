//! Every file in `scenarios/` must validate without problems.

use ksim_core::config::WorkloadKind;
use ksim_core::control_plane::config::ApiKind;
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
    let small = load("control-plane-small.toml");
    assert!(small.warnings.is_empty(), "{:?}", small.warnings);
    assert_eq!(small.config.nodes_total(), 400);
    let cp = small
        .config
        .control_plane
        .as_ref()
        .expect("[control_plane]");
    let store_of = |kind| cp.stores[cp.store_of(kind)].name.as_str();
    assert_eq!(store_of(ApiKind::Leases), "leases");
    assert_eq!(store_of(ApiKind::Events), "events");
    assert_eq!(store_of(ApiKind::Pods), "main");
    assert!(small.config.workloads.iter().any(|w| matches!(
        &w.kind,
        WorkloadKind::Deployment(d) if d.service
    )));
    assert!(small
        .config
        .workloads
        .iter()
        .any(|w| matches!(w.kind, WorkloadKind::Job(_))));
}

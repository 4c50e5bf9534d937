//! Same scenario and seed: byte-identical outputs (summary apart from its `run`
//! object); another seed: different outputs.

mod common;
use common::*;

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_does_not() {
    let scenario = scenario_path("small.toml");
    let a = run_ok(&scenario, "det-a", &["--pods-csv"]);
    let b = run_ok(&scenario, "det-b", &["--pods-csv"]);
    let c = run_ok(&scenario, "det-c", &["--pods-csv", "--seed", "12"]);
    assert_eq!(files(&a), files(&b));
    assert!(
        files(&a).iter().any(|f| f.ends_with(".png"))
            && files(&a).iter().any(|f| f.ends_with(".svg"))
    );
    for name in files(&a) {
        if name == "summary.json" {
            assert_eq!(summary_without_run(&a), summary_without_run(&b));
        } else {
            assert!(
                std::fs::read(a.join(&name)).unwrap() == std::fs::read(b.join(&name)).unwrap(),
                "{name} differs"
            );
        }
    }
    assert_ne!(
        std::fs::read(a.join("pods.csv")).unwrap(),
        std::fs::read(c.join("pods.csv")).unwrap()
    );
    assert_ne!(summary_without_run(&a), summary_without_run(&c));
}

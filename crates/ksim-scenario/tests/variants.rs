//! `[[variants]]` and `--set`: patches of the scenario document, validated
//! like the file itself.

use ksim_scenario::{parse_setting, parse_sweep, Setting};

const BASE: &str = r#"
[simulation]
name = "v"
seed = 7
duration = "10m"

[[node_pools]]
name = "a"
count = 3
cpu = "4"
memory = "8Gi"

[[workloads]]
name = "web"
kind = "deployment"
replicas = 2
[workloads.pod]
cpu = "1"
memory = "1Gi"
"#;

fn with(variants: &str) -> String {
    format!("{BASE}\n{variants}")
}

#[test]
fn overrides_patch_the_base_and_tables_merge() {
    let text = with(
        r#"
[[variants]]
name = "base"

[[variants]]
name = "bigger"
overrides = { "node_pools[0]".count = 5, simulation.seed = 9 }

[[variants]]
name = "dotted"
[variants.overrides]
simulation.duration = "20m"
"#,
    );
    let variants = parse_sweep(&text, "s.toml", &[]).unwrap();
    let names: Vec<_> = variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["base", "bigger", "dotted"]);
    let config = |i: usize| &variants[i].scenario.config;
    assert_eq!(config(0).node_pools[0].count, 3);
    assert_eq!(config(1).node_pools[0].count, 5);
    assert_eq!((config(0).seed, config(1).seed), (7, 9));
    // The rest of `[simulation]` is kept: the table merged, not replaced.
    assert_eq!(config(1).name, "v");
    assert_eq!(config(2).end.0, 1_200_000_000_000);
    assert_eq!(config(2).seed, 7);
}

#[test]
fn an_unknown_override_key_is_named_at_its_line_with_a_suggestion() {
    let text = with(
        r#"
[[variants]]
name = "typo"
[variants.overrides]
simulation.sed = 3
"#,
    );
    let err = parse_sweep(&text, "s.toml", &[]).unwrap_err().to_string();
    let line = text.lines().position(|l| l.contains("sed = 3")).unwrap() + 1;
    assert!(err.contains(&format!("s.toml:{line}:")), "{err}");
    assert!(err.contains("simulation.sed"), "{err}");
    assert!(err.contains("did you mean `seed`?"), "{err}");
    assert!(err.contains("variant `typo`"), "{err}");
}

#[test]
fn a_bad_override_value_is_reported_at_the_override() {
    let text = with(
        r#"
[[variants]]
name = "bad"
overrides = { "node_pools[0]".count = "many" }
"#,
    );
    let err = parse_sweep(&text, "s.toml", &[]).unwrap_err().to_string();
    let line = text.lines().position(|l| l.contains("many")).unwrap() + 1;
    assert!(err.contains(&format!("s.toml:{line}:")), "{err}");
    assert!(
        err.contains("node_pools[0].count: expected an integer"),
        "{err}"
    );
}

#[test]
fn duplicate_variant_names_are_an_error() {
    let text = with("[[variants]]\nname = \"x\"\n[[variants]]\nname = \"x\"\n");
    let err = parse_sweep(&text, "s.toml", &[]).unwrap_err().to_string();
    assert!(err.contains("duplicate variant name `x`"), "{err}");
}

#[test]
fn an_index_out_of_range_is_an_error() {
    let text = with("[[variants]]\nname = \"x\"\noverrides = { \"node_pools[4]\".count = 1 }\n");
    let err = parse_sweep(&text, "s.toml", &[]).unwrap_err().to_string();
    assert!(
        err.contains("index 4 is out of range: `node_pools` has 1"),
        "{err}"
    );
}

#[test]
fn a_sweep_is_the_cartesian_grid_last_setting_fastest() {
    let settings = [
        parse_setting("node_pools[0].count=1,2").unwrap(),
        parse_setting("simulation.duration=5m,6m,7m").unwrap(),
    ];
    let variants = parse_sweep(BASE, "s.toml", &settings).unwrap();
    assert_eq!(variants.len(), 6);
    assert_eq!(
        variants[1].name,
        "node_pools[0].count=1 simulation.duration=6m"
    );
    assert_eq!(variants[4].scenario.config.node_pools[0].count, 2);
    assert_eq!(variants[4].scenario.config.end.0, 360_000_000_000);
}

#[test]
fn a_set_value_of_the_wrong_type_names_the_key() {
    let settings = [parse_setting("node_pools[0].count=1,lots").unwrap()];
    let err = parse_sweep(BASE, "s.toml", &settings)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node_pools[0].count: expected an integer, found a string"),
        "{err}"
    );
    assert!(err.contains("--set node_pools[0].count=lots"), "{err}");
    let settings = [parse_setting("simulation.sead=1").unwrap()];
    let err = parse_sweep(BASE, "s.toml", &settings)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `seed`?"), "{err}");
}

#[test]
fn settings_split_on_top_level_commas_only() {
    assert_eq!(
        parse_setting("a.b=[1,2],\"x,y\",3").unwrap(),
        Setting {
            key: "a.b".into(),
            values: vec!["[1,2]".into(), "\"x,y\"".into(), "3".into()]
        }
    );
    assert!(parse_setting("novalue").is_err());
    assert!(parse_setting("a=1,,2").is_err());
}

#[test]
fn run_reads_the_base_of_a_file_with_variants() {
    let text = with("[[variants]]\nname = \"x\"\noverrides = { simulation.seed = 1 }\n");
    let scenario = ksim_scenario::parse(&text, "s.toml").unwrap();
    assert_eq!(scenario.config.seed, 7);
    assert!(scenario.warnings.iter().any(|w| w.contains("ksim compare")));
    let bad = with("[[variants]]\nname = \"x\"\noverrides = { simulation.sed = 1 }\n");
    assert!(ksim_scenario::parse(&bad, "s.toml").is_err());
}

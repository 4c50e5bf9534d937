//! `[karpenter]`: NodePools expand into one pool per offering, every key
//! lands in the settings, and every mistake is named at its file, line and
//! key (the catalog's at its own line).

mod common;
use common::*;

use ksim_core::autoscale::karpenter::budget::{Budget, BudgetNodes, DisruptionReason};
use ksim_core::autoscale::karpenter::catalog::CapacityType;
use ksim_core::autoscale::karpenter::consolidation::ConsolidationPolicy;
use ksim_core::autoscale::karpenter::settings::KarpenterSettings;
use ksim_core::config::{NodeAutoscaler, SimConfig};
use ksim_core::time::SimDuration;

fn catalog_path() -> String {
    format!(
        "{}/../../scenarios/catalogs/aws-sample.csv",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A scenario with only Karpenter's pools and `node_pool` as its one NodePool.
fn with_node_pool(extra: &str, node_pool: &str) -> String {
    format!(
        "[simulation]\nname = \"t\"\nduration = \"1h\"\n{extra}\n[karpenter]\ncatalog = \"{}\"\n\
         \n[[karpenter.node_pools]]\nname = \"default\"\n{node_pool}",
        catalog_path()
    )
}

/// The config of a valid scenario (these have no workloads, which warns).
fn read(text: &str) -> SimConfig {
    scenario(text).config
}

fn settings(config: &SimConfig) -> &KarpenterSettings {
    match &config.node_autoscaler {
        Some(NodeAutoscaler::Karpenter(k)) => k,
        other => panic!("not Karpenter: {other:?}"),
    }
}

#[test]
fn defaults_follow_upstream() {
    let config = read(&with_node_pool("", ""));
    let k = settings(&config);
    assert_eq!(k.batch_idle_duration, SimDuration::from_secs(1));
    assert_eq!(k.batch_max_duration, SimDuration::from_secs(10));
    assert_eq!(k.spot_interruptions_per_hour, 0.0);
    let np = &k.node_pools[0];
    assert_eq!(
        np.consolidation.policy,
        ConsolidationPolicy::WhenEmptyOrUnderutilized
    );
    assert_eq!(np.consolidation.consolidate_after, Some(SimDuration::ZERO));
    assert_eq!(np.expire_after, Some(SimDuration::from_secs(720 * 3600)));
    assert_eq!(np.budgets, vec![Budget::default_budget()]);
    // On-demand only by default: one offering per type and zone.
    let text = std::fs::read_to_string(catalog_path()).unwrap();
    let zones: usize = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().split('|').count())
        .sum();
    assert!(zones > 45, "{zones}");
    assert_eq!(np.offerings.len(), zones);
    assert_eq!(config.node_pools.len(), zones);
    assert!(np
        .offerings
        .iter()
        .all(|o| o.capacity_type == CapacityType::OnDemand));
    let first = &config.node_pools[0];
    assert_eq!(first.name, "default/m5.large/on-demand/us-east-1a");
    assert_eq!(first.count, 0);
    assert!((first.price_per_hour - 0.096).abs() < 1e-12);
}

#[test]
fn every_key_lands_in_the_settings() {
    let text = with_node_pool(
        "[[node_pools]]\nname = \"system\"\ncount = 1\ncpu = \"2\"\nmemory = \"8Gi\"\n\
         [[daemonsets]]\nname = \"agent\"\ncpu = \"100m\"\nmemory = \"128Mi\"\n",
        "families = [\"m5\"]\ncapacity_types = [\"spot\", \"on-demand\"]\n\
         zones = [\"us-east-1a\"]\nlimits = { cpu = \"100\", memory = \"400Gi\" }\n\
         consolidation_policy = \"WhenEmpty\"\nconsolidate_after = \"5m\"\n\
         expire_after = \"Never\"\n\
         budgets = [{ nodes = \"20%\" }, { nodes = 0, reasons = [\"Underutilized\"] }]\n\
         provisioning_delay = \"90s\"\nvolume_size = \"100Gi\"\n",
    )
    .replace(
        "[karpenter]\n",
        "[karpenter]\nspot_price_percent = 30\nbatch_idle_duration = \"2s\"\n\
         batch_max_duration = \"20s\"\nspot_interruptions_per_hour = 0.5\n",
    );
    let config = read(&text);
    let k = settings(&config);
    assert_eq!(k.batch_idle_duration, SimDuration::from_secs(2));
    assert_eq!(k.batch_max_duration, SimDuration::from_secs(20));
    assert_eq!(k.spot_interruptions_per_hour, 0.5);
    let np = &k.node_pools[0];
    assert_eq!(np.consolidation.policy, ConsolidationPolicy::WhenEmpty);
    assert_eq!(
        np.consolidation.consolidate_after,
        Some(SimDuration::from_secs(300))
    );
    assert_eq!(np.expire_after, None);
    assert_eq!(np.limits.cpu_millis, Some(100_000));
    assert_eq!(np.limits.memory_bytes, Some(400 << 30));
    assert_eq!(
        np.budgets,
        vec![
            Budget {
                nodes: BudgetNodes::Percent(20),
                reasons: None,
                active: true
            },
            Budget {
                nodes: BudgetNodes::Count(0),
                reasons: Some(vec![DisruptionReason::Underutilized]),
                active: true
            }
        ]
    );
    // The static pool first, then m5 types × spot and on-demand × one zone.
    assert_eq!(config.node_pools[0].name, "system");
    let m5 = np.offerings.len() / 2;
    assert!(m5 >= 3, "{:?}", np.offerings);
    assert_eq!(config.node_pools.len(), 1 + 2 * m5);
    let spot = &config.node_pools[1];
    assert_eq!(spot.name, "default/m5.large/spot/us-east-1a");
    assert!((spot.price_per_hour - 0.0288).abs() < 1e-12, "30% of 0.096");
    // The DaemonSet is taken from every node, the provisioner's included.
    assert_eq!(spot.daemonset_requests.cpu_millis(), 100);
    // 100 GiB less 1 GiB kube-reserved and the 10% eviction threshold.
    assert_eq!(
        spot.allocatable.0[ksim_core::resources::EPHEMERAL_STORAGE],
        89 << 30
    );
    // 100 cores of 2-core m5.large: at most 51 (one launch may overshoot).
    assert_eq!(spot.max, 51);
    let labels: Vec<(&str, &str)> = spot
        .labels
        .iter()
        .map(|l| (l.key.as_str(), l.value.as_str()))
        .collect();
    assert!(labels.contains(&("karpenter.sh/capacity-type", "spot")));
    assert!(labels.contains(&("node.kubernetes.io/instance-type", "m5.large")));
    assert!(labels.contains(&("topology.kubernetes.io/zone", "us-east-1a")));
    assert!(labels.contains(&("karpenter.sh/nodepool", "default")));
}

#[test]
fn an_unknown_family_is_refused_with_the_nearest() {
    let text = with_node_pool("", "families = [\"m5\", \"m6\"]\n");
    refused_at(
        &text,
        "karpenter.node_pools[0].families[1]",
        "families",
        &["unknown value `m6`", "did you mean `m5`"],
    );
}

#[test]
fn an_unknown_capacity_type_is_refused() {
    let text = with_node_pool("", "capacity_types = [\"spto\"]\n");
    refused_at(
        &text,
        "karpenter.node_pools[0].capacity_types[0]",
        "capacity_types",
        &["unknown value `spto`", "spot"],
    );
}

#[test]
fn an_unknown_zone_is_refused_with_the_nearest() {
    let text = with_node_pool("", "zones = [\"us-east-1d\"]\n");
    refused_at(
        &text,
        "karpenter.node_pools[0].zones[0]",
        "zones",
        &["unknown value `us-east-1d`", "did you mean `us-east-1"],
    );
}

#[test]
fn a_node_pool_that_admits_no_instance_type_is_refused() {
    // No type of the catalog holds a 200-core DaemonSet.
    let text = with_node_pool("[[daemonsets]]\nname = \"huge\"\ncpu = \"200\"\n", "");
    refused_at(
        &text,
        "karpenter.node_pools[0]",
        "[[karpenter.node_pools]]",
        &["admit no instance type"],
    );
}

#[test]
fn a_negative_catalog_price_is_refused_naming_the_catalog_file_and_line() {
    let dir = std::env::temp_dir().join(format!("ksim-karpenter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.csv");
    std::fs::write(
        &file,
        "name,family,vcpus,memory_mib,gpus,max_pods,on_demand_usd_per_hour,zones\n\
         a.large,a,2,4096,0,29,0.1,z\nb.large,b,2,4096,0,29,-0.2,z\n",
    )
    .unwrap();
    let text = with_node_pool("", "").replace(&catalog_path(), &file.display().to_string());
    let p = refused_at(
        &text,
        "karpenter.catalog",
        "catalog =",
        &["bad.csv", "line 3", "negative"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(p.message.contains("-0.2"), "{p}");
}

#[test]
fn a_missing_catalog_is_refused() {
    let text = with_node_pool("", "").replace(&catalog_path(), "/nonexistent/catalog.csv");
    refused_at(
        &text,
        "karpenter.catalog",
        "catalog =",
        &["cannot read catalog"],
    );
}

#[test]
fn both_node_autoscalers_are_refused() {
    let text = with_node_pool(
        "[[node_pools]]\nname = \"system\"\ncount = 1\ncpu = \"2\"\nmemory = \"8Gi\"\n\
         [cluster_autoscaler]\n",
        "",
    );
    refused_at(&text, "karpenter", "[karpenter]", &["one node autoscaler"]);
}

#[test]
fn a_bad_budget_is_refused() {
    let text = with_node_pool("", "budgets = [{ nodes = \"ten\" }]\n");
    refused_at(
        &text,
        "karpenter.node_pools[0].budgets[0].nodes",
        "budgets",
        &["percentage"],
    );
}

#[test]
fn a_scenario_read_here_runs_and_launches_nodes() {
    let text = with_node_pool(
        "[[workloads]]\nname = \"web\"\nkind = \"deployment\"\nreplicas = 3\n\
         [workloads.pod]\ncpu = \"1\"\nmemory = \"2Gi\"\n",
        "",
    )
    .replace("duration = \"1h\"", "duration = \"10m\"");
    let config = config(&text);
    let mut sim = ksim_core::sim::Simulation::new(config).unwrap();
    sim.enable_invariant_checks();
    let out = sim.run().unwrap();
    assert_eq!(out.summary.pods_running, 3);
    assert!(out.decisions.iter().any(|d| d.action == "launch"));
}

#[test]
fn the_catalog_path_is_relative_to_the_scenario_file() {
    let dir = std::env::temp_dir().join(format!("ksim-karpenter-rel-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("catalogs")).unwrap();
    std::fs::copy(catalog_path(), dir.join("catalogs/aws-sample.csv")).unwrap();
    let text = with_node_pool("", "families = [\"c5\"]\n")
        .replace(&catalog_path(), "catalogs/aws-sample.csv");
    let file = dir.join("scenario.toml");
    std::fs::write(&file, text).unwrap();
    let loaded = ksim_scenario::load(&file);
    std::fs::remove_dir_all(&dir).unwrap();
    let config = loaded.unwrap_or_else(|e| panic!("{e}")).config;
    assert!(settings(&config).node_pools[0]
        .offerings
        .iter()
        .all(|o| o.instance_type.starts_with("c5.")));
}

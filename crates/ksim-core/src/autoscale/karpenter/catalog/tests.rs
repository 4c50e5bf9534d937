use super::*;

/// The shipped sample catalog, with spot at 35% of on-demand.
pub(crate) fn sample_catalog() -> Vec<InstanceType> {
    let text = include_str!("../../../../../../scenarios/catalogs/aws-sample.csv");
    parse_catalog_csv(text, 35).expect("the shipped catalog parses")
}

fn named<'a>(catalog: &'a [InstanceType], name: &str) -> &'a InstanceType {
    catalog
        .iter()
        .find(|it| it.name == name)
        .expect("in catalog")
}

fn req(operator: Operator, values: &[&str]) -> Option<Requirement> {
    Some(Requirement {
        operator,
        values: values.iter().map(|v| v.to_string()).collect(),
    })
}

// upstream: karpenter-provider-aws pkg/providers/instancetype/suite_test.go,
// Context "Kube Reserved Resources", "should use defaults when no kubelet is
// specified" (m5.xlarge: 80m cpu, 893Mi memory).
#[test]
fn kube_reserved_defaults_for_m5_xlarge() {
    let catalog = sample_catalog();
    let it = named(&catalog, "m5.xlarge");
    assert_eq!(kube_reserved_cpu_millis(it.cpu_millis), 80);
    assert_eq!(kube_reserved_memory_bytes(it.max_pods), 893 * MIB_BYTES);
}

#[test]
fn kube_reserved_cpu_walks_every_range() {
    assert_eq!(kube_reserved_cpu_millis(500), 30);
    assert_eq!(kube_reserved_cpu_millis(1000), 60);
    assert_eq!(kube_reserved_cpu_millis(2000), 70);
    assert_eq!(kube_reserved_cpu_millis(3000), 75);
    // 60 + 10 + 10 + 0.25% of 92 cores
    assert_eq!(kube_reserved_cpu_millis(96_000), 310);
    // 0.25% of 1000m is 2.5m, truncated
    assert_eq!(kube_reserved_cpu_millis(5000), 82);
}

#[test]
fn vm_overhead_rounds_up_to_whole_mib() {
    let s = OverheadSettings::default();
    // 7.5% of 8192 MiB is 614.4 MiB, rounded up to 615.
    assert_eq!(
        memory_capacity_bytes(8192 * MIB_BYTES, &s),
        7577 * MIB_BYTES
    );
    let none = OverheadSettings {
        vm_memory_overhead_permille: 0,
        ..s
    };
    assert_eq!(
        memory_capacity_bytes(8192 * MIB_BYTES, &none),
        8192 * MIB_BYTES
    );
}

// The EKS-documented allocatable cpu of an m5.large is 1930m.
#[test]
fn allocatable_of_m5_large() {
    let catalog = sample_catalog();
    let a = allocatable(
        named(&catalog, "m5.large"),
        &OverheadSettings::default(),
        None,
    );
    assert_eq!(a.cpu_millis(), 1930);
    // 8192 - 615 (VM) - 574 (kube-reserved, 29 pods) - 100 (eviction)
    assert_eq!(a.memory_bytes(), 6903 * MIB_BYTES);
    assert_eq!(a.0[PODS], 29);
}

#[test]
fn allocatable_carries_gpus_when_the_scenario_names_them() {
    let catalog = sample_catalog();
    let it = named(&catalog, "g5.12xlarge");
    let gpu = crate::resources::FIRST_EXTENDED;
    assert_eq!(
        allocatable(it, &OverheadSettings::default(), Some(gpu)).0[gpu],
        4
    );
    assert_eq!(
        allocatable(it, &OverheadSettings::default(), None).0[gpu],
        0
    );
}

#[test]
fn sample_catalog_is_sane() {
    let catalog = sample_catalog();
    assert!(catalog.len() >= 40, "a few dozen types");
    let m5 = named(&catalog, "m5.large");
    assert_eq!(m5.cpu_millis, 2000);
    assert_eq!(m5.memory_bytes, 8 * 1024 * MIB_BYTES);
    assert_eq!(m5.on_demand_price_micro_usd_per_hour, 96_000);
    assert_eq!(m5.spot_price_micro_usd_per_hour, 33_600);
    for it in &catalog {
        assert!(it.spot_price_micro_usd_per_hour < it.on_demand_price_micro_usd_per_hour);
        let a = allocatable(it, &OverheadSettings::default(), None);
        assert!(a.cpu_millis() > 0 && a.memory_bytes() > 0, "{}", it.name);
    }
    assert!(catalog.iter().any(|it| it.gpu_count > 0));
}

#[test]
fn csv_errors_name_the_line() {
    let head = "name,family,vcpus,memory_mib,gpus,max_pods,on_demand_usd_per_hour,zones\n";
    let bad_price = format!("{head}x.large,x,2,4096,0,29,abc,z1\n");
    assert_eq!(
        parse_catalog_csv(&bad_price, 35),
        Err(CatalogError::BadNumber {
            line: 2,
            field: "on_demand_usd_per_hour",
            value: "abc".into()
        })
    );
    let short = format!("# comment\n{head}x.large,x,2\n");
    assert_eq!(
        parse_catalog_csv(&short, 35),
        Err(CatalogError::FieldCount { line: 3, found: 3 })
    );
    let twice = format!("{head}a,x,2,4096,0,29,0.1,z\na,x,2,4096,0,29,0.1,z\n");
    assert!(matches!(
        parse_catalog_csv(&twice, 35),
        Err(CatalogError::Duplicate { line: 3, .. })
    ));
    let no_zone = format!("{head}a,x,2,4096,0,29,0.1, \n");
    assert_eq!(
        parse_catalog_csv(&no_zone, 35),
        Err(CatalogError::NoZones { line: 2 })
    );
}

// upstream: karpenter-provider-aws instancetype types.go, kube-reserved
// ephemeral storage (1Gi) and the nodefs.available eviction threshold (10%).
#[test]
fn ephemeral_storage_of_the_default_volume() {
    let gib = 1u64 << 30;
    // 20 GiB - 1 GiB - 2 GiB.
    assert_eq!(
        ephemeral_storage_allocatable_bytes(DEFAULT_VOLUME_BYTES),
        17 * gib
    );
    // 10% rounds up to a whole byte.
    // 10 GiB + 5 bytes: 10% is 1 GiB + 0.5 byte, rounded up to 1 GiB + 1.
    assert_eq!(
        ephemeral_storage_allocatable_bytes(10 * gib + 5),
        8 * gib + 4
    );
    assert_eq!(ephemeral_storage_allocatable_bytes(gib), 0);
}

/// Regression: a negative price was reported as "not a valid number",
/// which hid what was wrong with it.
#[test]
fn a_negative_price_is_named_as_such() {
    let head = "name,family,vcpus,memory_mib,gpus,max_pods,on_demand_usd_per_hour,zones\n";
    let negative = format!("{head}a,x,2,4096,0,29,0.1,z\nb,x,2,4096,0,29,-0.2,z\n");
    assert_eq!(
        parse_catalog_csv(&negative, 35),
        Err(CatalogError::NegativePrice {
            line: 3,
            value: "-0.2".into()
        })
    );
}

#[test]
fn prices_parse_to_exact_micro_dollars() {
    assert_eq!(parse_usd_micro("0.096"), Some(96_000));
    assert_eq!(parse_usd_micro("12.24"), Some(12_240_000));
    assert_eq!(parse_usd_micro("3"), Some(3_000_000));
    assert_eq!(parse_usd_micro("0.1234567"), None);
    assert_eq!(parse_usd_micro("-1"), None);
    assert_eq!(parse_usd_micro("."), None);
}

#[test]
fn requirements_filter_families_zones_and_capacity_types() {
    let catalog = sample_catalog();
    let reqs = NodePoolRequirements {
        families: req(Operator::In, &["c5", "g5"]),
        capacity_types: None,
        zones: req(Operator::NotIn, &["us-east-1a", "us-east-1b"]),
    };
    // g5 is only in 1a/1b, so only c5 remains.
    let kept = compatible_types(&catalog, &reqs);
    assert!(!kept.is_empty());
    assert!(kept.iter().all(|&i| catalog[i].family == "c5"));
    let off = catalog[kept[0]].cheapest_offering(&reqs).expect("admitted");
    assert_eq!(off.zone, "us-east-1c");
    // No capacity-type requirement: on-demand only.
    assert_eq!(off.capacity_type, CapacityType::OnDemand);
}

#[test]
fn spot_is_chosen_when_allowed_and_cheaper() {
    let catalog = sample_catalog();
    let it = named(&catalog, "m5.large");
    let both = NodePoolRequirements {
        capacity_types: req(Operator::In, &["spot", "on-demand"]),
        ..Default::default()
    };
    let off = it.cheapest_offering(&both).expect("admitted");
    assert_eq!(off.capacity_type, CapacityType::Spot);
    assert_eq!(off.price_micro_usd_per_hour, 33_600);
    assert_eq!(off.zone, "us-east-1a", "first zone by name");
    let no_spot = NodePoolRequirements {
        capacity_types: req(Operator::NotIn, &["spot"]),
        ..Default::default()
    };
    assert_eq!(
        it.cheapest_offering(&no_spot).map(|o| o.capacity_type),
        Some(CapacityType::OnDemand)
    );
    let nothing = NodePoolRequirements {
        capacity_types: req(Operator::In, &["reserved"]),
        ..Default::default()
    };
    assert_eq!(it.cheapest_offering(&nothing), None);
}

// upstream: disruption's worstLaunchPrice: spot when the requirements allow
// it, else on-demand; nothing when no zone is admitted.
#[test]
fn worst_launch_price_prefers_spot_when_allowed() {
    let catalog = sample_catalog();
    let it = named(&catalog, "r5.large");
    let both = NodePoolRequirements {
        capacity_types: req(Operator::In, &["spot", "on-demand"]),
        ..Default::default()
    };
    assert_eq!(
        it.worst_launch_price_micro_usd_per_hour(&both),
        Some(44_100)
    );
    let od = NodePoolRequirements::default();
    assert_eq!(it.worst_launch_price_micro_usd_per_hour(&od), Some(126_000));
    let nowhere = NodePoolRequirements {
        zones: req(Operator::In, &["eu-west-1a"]),
        ..Default::default()
    };
    assert_eq!(it.worst_launch_price_micro_usd_per_hour(&nowhere), None);
}

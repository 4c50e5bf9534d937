//! `[control_plane]` and the deployment `service` flag: defaults, every key
//! in its unit, and each problem named by its key path.

use ksim_core::config::WorkloadKind;
use ksim_core::control_plane::config::{ApiKind, ControlPlaneConfig};
use ksim_core::distribution::Distribution;
use ksim_core::time::SimDuration;
use ksim_scenario::{parse, Problem, Scenario};

/// Line numbers in the tests below refer to this text.
const BASE: &str = r#"[simulation]
name = "t"
duration = "1h"

[[node_pools]]
name = "general"
count = 10
cpu = "16"
memory = "64Gi"

[[workloads]]
name = "web"
kind = "deployment"
replicas = 3
service = true
[workloads.pod]
cpu = "500m"
memory = "1Gi"

[[workloads]]
name = "batch"
kind = "job"
arrival = { process = "poisson", rate_per_s = 2.0 }
duration = "5m"
[workloads.pod]
cpu = "1"
memory = "2Gi"

[control_plane]
tick = "1s"

[control_plane.apiserver]
replicas = 3

[[control_plane.stores]]
name = "main"
members = 3
quorum = 2

[[control_plane.stores]]
name = "leases"

[control_plane.routing]
leases = "leases"
"#;

fn accepted(text: &str) -> Scenario {
    match parse(text, "scenario.toml") {
        Ok(scenario) => scenario,
        Err(e) => panic!("rejected:\n{e}\n{text}"),
    }
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text, "scenario.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.problems,
    }
}

/// BASE with one exact substring replaced (which must exist).
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

/// BASE with `lines` appended to the table whose header is `header`.
fn with(header: &str, lines: &str) -> String {
    edit(header, &format!("{header}\n{lines}"))
}

/// The single problem at `path`, whose message must contain `needle`.
fn at(problems: &[Problem], path: &str, needle: &str) -> Problem {
    let found: Vec<&Problem> = problems.iter().filter(|p| p.key_path == path).collect();
    assert_eq!(found.len(), 1, "{path} in {problems:#?}");
    assert!(found[0].message.contains(needle), "{}", found[0]);
    found[0].clone()
}

fn control_plane(text: &str) -> ControlPlaneConfig {
    accepted(text).config.control_plane.expect("control plane")
}

fn service_of(scenario: &Scenario, workload: usize) -> bool {
    match &scenario.config.workloads[workload].kind {
        WorkloadKind::Deployment(d) => d.service,
        WorkloadKind::Job(_) | WorkloadKind::Session(_) => panic!("not a deployment"),
    }
}

#[test]
fn the_base_scenario_is_valid() {
    let scenario = accepted(BASE);
    assert!(scenario.warnings.is_empty(), "{:?}", scenario.warnings);
    let cp = scenario.config.control_plane.as_ref().unwrap();
    assert_eq!(cp.stores.len(), 2);
    assert_eq!(cp.store_of(ApiKind::Leases), 1);
    for kind in [
        ApiKind::Pods,
        ApiKind::Nodes,
        ApiKind::Events,
        ApiKind::EndpointSlices,
    ] {
        assert_eq!(cp.store_of(kind), 0, "{kind:?} goes to the first store");
    }
    assert!(service_of(&scenario, 0));
}

#[test]
fn without_the_section_the_control_plane_is_not_modelled() {
    let end = BASE.find("[control_plane]").unwrap();
    let text = BASE[..end].replace("service = true\n", "");
    let scenario = accepted(&text);
    assert!(scenario.config.control_plane.is_none());
    assert!(!service_of(&scenario, 0), "service defaults to false");
    assert!(scenario.warnings.is_empty(), "{:?}", scenario.warnings);
}

#[test]
fn an_empty_section_takes_every_default() {
    let end = BASE.find("[control_plane]").unwrap();
    let text = format!("{}[control_plane]\n", &BASE[..end]);
    assert_eq!(control_plane(&text), ControlPlaneConfig::default());
}

#[test]
fn every_key_is_read_in_its_unit() {
    let end = BASE.find("[control_plane]").unwrap();
    let text = format!(
        "{}{}",
        &BASE[..end],
        r#"[control_plane]
tick = "500ms"
node_status_update_interval = "20s"
node_status_report_interval = "10m"
kubelet_events_per_pod_start = 5
compaction_interval = "10m"
event_ttl = "2h"
[control_plane.apiserver]
replicas = 5
max_mutating_inflight = 300
max_readonly_inflight = 600
retry_after = "2s"
cache_read_latency = "500us"
watch_cache_events_per_s = 60000
watch_send_events_per_s = 4.5e5
network_bytes_per_s = "10G"
[control_plane.objects]
pod = "8Ki"
node = "12Ki"
lease = 300
event = "2k"
endpoint_slice = "16Ki"
[control_plane.watchers]
pod_controllers = 5
node_controllers = 6
lease_controllers = 2
event_watchers = 1
endpoint_slice_controllers = 0
[[control_plane.stores]]
name = "main"
members = 5
quorum = 3
max_batch_writes = 500
leader_cpu_per_write = "25us"
leader_cpu_per_byte_ns = 4.5
wal_fsync = { dist = "lognormal", median = "2ms", sigma = 0.5 }
wal_write_bytes_per_s = "400M"
network_rtt = "1ms"
network_bytes_per_s = 1250000000
apply_per_write = "1500ns"
overhead_bytes_per_write = 128
max_request_bytes = "3Mi"
quota = "8Gi"
[[control_plane.stores]]
name = "events"
members = 1
quorum = 1
[control_plane.routing]
events = "events"
pods = "main"
"#
    );
    let cp = control_plane(&text);
    assert_eq!(cp.tick, SimDuration::from_millis(500));
    assert_eq!(cp.node_status_update_interval, SimDuration::from_secs(20));
    assert_eq!(cp.node_status_report_interval, SimDuration::from_secs(600));
    assert_eq!(cp.kubelet_events_per_pod_start, 5);
    assert_eq!(cp.compaction_interval, SimDuration::from_secs(600));
    assert_eq!(cp.event_ttl, SimDuration::from_secs(7200));
    let a = &cp.apiserver;
    assert_eq!(
        (a.replicas, a.max_mutating_inflight, a.max_readonly_inflight),
        (5, 300, 600)
    );
    assert_eq!(a.retry_after, SimDuration::from_secs(2));
    assert_eq!(a.cache_read_latency, SimDuration::from_micros(500));
    assert_eq!(a.watch_cache_events_per_s, 60_000.0);
    assert_eq!(a.watch_send_events_per_s, 450_000.0);
    assert_eq!(a.network_bytes_per_s, 10e9);
    let o = &cp.objects;
    assert_eq!(
        (o.pod_bytes, o.node_bytes, o.lease_bytes, o.event_bytes),
        (8192, 12_288, 300, 2000)
    );
    assert_eq!(o.endpoint_slice_bytes, 16_384);
    let w = &cp.watchers;
    assert_eq!(
        (
            w.pod_controllers,
            w.node_controllers,
            w.lease_controllers,
            w.event_watchers,
            w.endpoint_slice_controllers
        ),
        (5, 6, 2, 1, 0)
    );
    let main = &cp.stores[0];
    assert_eq!(main.name, "main");
    let s = &main.config;
    assert_eq!((s.members, s.quorum, s.max_batch_writes), (5, 3, 500));
    assert_eq!(s.leader_cpu_per_write_us, 25.0);
    assert_eq!(s.leader_cpu_per_byte_ns, 4.5);
    assert_eq!(
        s.wal_fsync_ns,
        Distribution::LogNormal {
            median: 2e6,
            sigma: 0.5
        }
    );
    assert_eq!(s.wal_write_bytes_per_s, 400e6);
    assert_eq!(s.network_rtt_ns, Distribution::Constant(1e6));
    assert_eq!(s.network_bytes_per_s, 1.25e9);
    assert_eq!(s.apply_per_write_us, 1.5);
    assert_eq!(s.overhead_bytes_per_write, 128);
    assert_eq!(s.max_request_bytes, 3 << 20);
    assert_eq!(s.quota_bytes, 8 << 30);
    let events = &cp.stores[1];
    assert_eq!((events.name.as_str(), events.config.members), ("events", 1));
    // Unset store keys keep the store defaults.
    assert_eq!(
        events.config.wal_fsync_ns,
        ksim_core::store::StoreConfig::default().wal_fsync_ns
    );
    assert_eq!(cp.store_of(ApiKind::Events), 1);
    assert_eq!(cp.store_of(ApiKind::Pods), 0);
    assert_eq!(cp.store_of(ApiKind::Leases), 0);
}

#[test]
fn zero_or_negative_costs_latencies_and_bandwidths_name_their_key() {
    let cases = [
        (
            "[control_plane.apiserver]",
            "cache_read_latency = \"0s\"",
            "control_plane.apiserver.cache_read_latency",
            "greater than zero",
        ),
        (
            "[control_plane.apiserver]",
            "retry_after = \"0\"",
            "control_plane.apiserver.retry_after",
            "greater than zero",
        ),
        (
            "[control_plane.apiserver]",
            "watch_cache_events_per_s = 0",
            "control_plane.apiserver.watch_cache_events_per_s",
            "greater than zero, found 0",
        ),
        (
            "[control_plane.apiserver]",
            "watch_send_events_per_s = -5.0",
            "control_plane.apiserver.watch_send_events_per_s",
            "greater than zero, found -5",
        ),
        (
            "[control_plane.apiserver]",
            "network_bytes_per_s = \"0\"",
            "control_plane.apiserver.network_bytes_per_s",
            "greater than zero",
        ),
        (
            "[control_plane.apiserver]",
            "network_bytes_per_s = -100",
            "control_plane.apiserver.network_bytes_per_s",
            "must not be negative",
        ),
        (
            "[control_plane.apiserver]",
            "network_bytes_per_s = nan",
            "control_plane.apiserver.network_bytes_per_s",
            "greater than zero, found NaN",
        ),
        (
            "name = \"main\"",
            "leader_cpu_per_write = \"0us\"",
            "control_plane.stores[0].leader_cpu_per_write",
            "greater than zero",
        ),
        (
            "name = \"main\"",
            "leader_cpu_per_byte_ns = 0",
            "control_plane.stores[0].leader_cpu_per_byte_ns",
            "greater than zero",
        ),
        (
            "name = \"main\"",
            "apply_per_write = \"-20us\"",
            "control_plane.stores[0].apply_per_write",
            "must not be negative",
        ),
        (
            "name = \"main\"",
            "wal_fsync = { dist = \"constant\", value = \"0ms\" }",
            "control_plane.stores[0].wal_fsync",
            "greater than zero",
        ),
        (
            "name = \"main\"",
            "network_rtt = \"0\"",
            "control_plane.stores[0].network_rtt",
            "greater than zero",
        ),
        (
            "name = \"main\"",
            "network_rtt = { dist = \"lognormal\", median = \"0s\", sigma = 0.3 }",
            "control_plane.stores[0].network_rtt",
            "invalid distribution",
        ),
        (
            "name = \"main\"",
            "wal_write_bytes_per_s = \"0M\"",
            "control_plane.stores[0].wal_write_bytes_per_s",
            "greater than zero",
        ),
        (
            "name = \"leases\"",
            "network_bytes_per_s = 0.0",
            "control_plane.stores[1].network_bytes_per_s",
            "greater than zero",
        ),
        (
            "name = \"leases\"",
            "quota = \"0Gi\"",
            "control_plane.stores[1].quota",
            "greater than zero",
        ),
        (
            "name = \"leases\"",
            "max_batch_writes = 0",
            "control_plane.stores[1].max_batch_writes",
            "at least 1",
        ),
    ];
    for (header, line, path, needle) in cases {
        let all = problems(&with(header, line));
        assert_eq!(all.len(), 1, "{line}: {all:#?}");
        at(&all, path, needle);
    }
}

#[test]
fn quorum_larger_than_members_names_the_quorum() {
    let all = problems(&edit("quorum = 2", "quorum = 4"));
    let p = at(
        &all,
        "control_plane.stores[0].quorum",
        "quorum (4) must not exceed members (3); a majority of 3 is 2",
    );
    assert_eq!((p.line, p.column), (Some(38), Some(1)));
    // With the default quorum (2), a single member is the key to blame.
    let all = problems(&with("name = \"leases\"", "members = 1"));
    at(
        &all,
        "control_plane.stores[1].members",
        "fewer than the default quorum (2): set `quorum` too",
    );
    let all = problems(&edit("quorum = 2", "quorum = 0"));
    at(&all, "control_plane.stores[0].quorum", "at least 1");
}

#[test]
fn routing_to_an_undefined_store_suggests_a_defined_one() {
    let all = problems(&edit("leases = \"leases\"", "leases = \"lease\""));
    assert_eq!(all.len(), 1, "{all:#?}");
    let p = at(
        &all,
        "control_plane.routing.leases",
        "no store named `lease`: did you mean `leases`? (stores: `main` or `leases`)",
    );
    assert_eq!((p.line, p.column), (Some(44), Some(10)));
}

#[test]
fn an_unknown_kind_in_routing_suggests_a_kind() {
    let all = problems(&edit("leases = \"leases\"", "lease = \"leases\""));
    assert_eq!(all.len(), 1, "{all:#?}");
    at(
        &all,
        "control_plane.routing.lease",
        "unknown kind `lease`: did you mean `leases`? (kinds are `pods`, `nodes`, `leases`, \
         `events`, `endpointslices` or `deployments`)",
    );
    let all = problems(&with(
        "[control_plane.routing]",
        "endpointSlices = \"main\"",
    ));
    at(
        &all,
        "control_plane.routing.endpointSlices",
        "did you mean `endpointslices`?",
    );
    let all = problems(&with("[control_plane.routing]", "configmaps = \"main\""));
    at(
        &all,
        "control_plane.routing.configmaps",
        "unknown kind `configmaps` (kinds are",
    );
}

#[test]
fn duplicate_store_names_are_errors() {
    let all = problems(&edit("name = \"leases\"", "name = \"main\""));
    at(
        &all,
        "control_plane.stores[1].name",
        "duplicate store name `main` (already used by control_plane.stores[0])",
    );
}

#[test]
fn store_names_are_required_non_empty_and_column_safe() {
    let all = problems(&edit("name = \"leases\"\n", ""));
    at(
        &all,
        "control_plane.stores[1]",
        "missing required key `name`",
    );
    let all = problems(&edit("name = \"leases\"", "name = \"\""));
    at(
        &all,
        "control_plane.stores[1].name",
        "not a valid store name",
    );
    let all = problems(&edit("name = \"leases\"", "name = \"le,ases\""));
    at(
        &all,
        "control_plane.stores[1].name",
        "not a valid store name",
    );
}

#[test]
fn an_empty_store_list_is_an_error() {
    let end = BASE.find("[control_plane]").unwrap();
    let text = format!("{}[control_plane]\nstores = []\n", &BASE[..end]);
    let all = problems(&text);
    at(&all, "control_plane.stores", "at least one store is needed");
}

#[test]
fn zero_replicas_and_in_flight_limits_are_errors() {
    let all = problems(&edit(
        "replicas = 3\n\n[[control_plane",
        "replicas = 0\n\n[[control_plane",
    ));
    at(
        &all,
        "control_plane.apiserver.replicas",
        "must be at least 1, found 0",
    );
    let all = problems(&with(
        "[control_plane.apiserver]",
        "max_mutating_inflight = 0",
    ));
    at(
        &all,
        "control_plane.apiserver.max_mutating_inflight",
        "0 = unlimited is not modelled",
    );
    let all = problems(&with(
        "[control_plane.apiserver]",
        "max_readonly_inflight = -1",
    ));
    at(
        &all,
        "control_plane.apiserver.max_readonly_inflight",
        "at least 1",
    );
}

#[test]
fn zero_periods_are_errors() {
    for key in [
        "node_status_update_interval",
        "node_status_report_interval",
        "compaction_interval",
        "event_ttl",
    ] {
        let all = problems(&with("[control_plane]", &format!("{key} = \"0s\"")));
        assert_eq!(all.len(), 1, "{key}: {all:#?}");
        at(
            &all,
            &format!("control_plane.{key}"),
            "must be greater than zero",
        );
    }
    let all = problems(&edit("tick = \"1s\"", "tick = \"0\""));
    at(&all, "control_plane.tick", "tick must be greater than zero");
    let all = problems(&edit("tick = \"1s\"", "tick = 1"));
    at(&all, "control_plane.tick", "write \"1s\" for 1 seconds");
}

#[test]
fn unknown_keys_anywhere_suggest_the_nearest() {
    let cases = [
        (
            "[control_plane]",
            "tik = \"1s\"",
            "control_plane.tik",
            "`tick`",
        ),
        (
            "[control_plane]",
            "eventTTL = \"1h\"",
            "control_plane.eventTTL",
            "`event_ttl`",
        ),
        (
            "[control_plane.apiserver]",
            "replica = 2",
            "control_plane.apiserver.replica",
            "`replicas`",
        ),
        (
            "[control_plane.apiserver]",
            "maxMutatingInflight = 2",
            "control_plane.apiserver.maxMutatingInflight",
            "`max_mutating_inflight`",
        ),
        (
            "name = \"main\"",
            "qorum = 2",
            "control_plane.stores[0].qorum",
            "`quorum`",
        ),
        (
            "[control_plane]",
            "objects = { pods = \"4Ki\" }",
            "control_plane.objects.pods",
            "`pod`",
        ),
        (
            "[control_plane]",
            "watchers = { pod_controller = 1 }",
            "control_plane.watchers.pod_controller",
            "`pod_controllers`",
        ),
    ];
    for (header, line, path, needle) in cases {
        let all = problems(&with(header, line));
        assert_eq!(all.len(), 1, "{line}: {all:#?}");
        at(&all, path, &format!("did you mean {needle}"));
    }
    // Distribution parameters are not suggested but explained.
    let all = problems(&with(
        "name = \"main\"",
        "wal_fsync = { dist = \"lognormal\", median = \"1ms\", sigma = 0.3, mean = \"1ms\" }",
    ));
    assert_eq!(all.len(), 1, "{all:#?}");
    at(
        &all,
        "control_plane.stores[0].wal_fsync.mean",
        "`mean` is not a parameter of dist = \"lognormal\"",
    );
    let all = problems(&with("[simulation]", "control_plan = 1"));
    at(&all, "simulation.control_plan", "unknown key");
    let root = format!("control_plan = {{}}\n{BASE}");
    let all = problems(&root);
    at(&all, "control_plan", "did you mean `control_plane`?");
}

#[test]
fn object_sizes_are_byte_quantities() {
    let cp = control_plane(&with(
        "[control_plane]",
        "objects = { pod = \"1.5Ki\", lease = 700 }",
    ));
    assert_eq!((cp.objects.pod_bytes, cp.objects.lease_bytes), (1536, 700));
    assert_eq!(
        cp.objects.node_bytes, 10_240,
        "unset sizes keep their default"
    );
    let all = problems(&with("[control_plane]", "objects = { node = \"0\" }"));
    at(&all, "control_plane.objects.node", "greater than zero");
    let all = problems(&with("[control_plane]", "objects = { event = \"5Gi\" }"));
    at(&all, "control_plane.objects.event", "too large");
    let all = problems(&with("[control_plane]", "objects = { event = \"1KB\" }"));
    at(
        &all,
        "control_plane.objects.event",
        "1Ki or decimal like 1k",
    );
}

#[test]
fn objects_larger_than_their_store_accepts_are_errors() {
    let all = problems(&with("[control_plane]", "objects = { pod = \"2Mi\" }"));
    assert_eq!(all.len(), 1, "{all:#?}");
    at(
        &all,
        "control_plane.objects.pod",
        "pods objects (2097152 bytes) are larger than store `main`'s max_request_bytes \
         (1572864): every write of them would be refused",
    );
    // Blamed on the store's limit when the object size is the default.
    let all = problems(&with("name = \"leases\"", "max_request_bytes = 256"));
    at(
        &all,
        "control_plane.stores[1].max_request_bytes",
        "leases objects (512 bytes)",
    );
}

#[test]
fn bandwidths_take_quantities_and_plain_numbers() {
    for (written, bytes_per_s) in [
        ("\"1250M\"", 1.25e9),
        ("\"1Gi\"", 1073741824.0),
        ("125000000", 125e6),
        ("1.5e8", 150e6),
    ] {
        let cp = control_plane(&with(
            "[control_plane.apiserver]",
            &format!("network_bytes_per_s = {written}"),
        ));
        assert_eq!(cp.apiserver.network_bytes_per_s, bytes_per_s, "{written}");
    }
    let all = problems(&with(
        "[control_plane.apiserver]",
        "network_bytes_per_s = \"10Gbit\"",
    ));
    at(
        &all,
        "control_plane.apiserver.network_bytes_per_s",
        "invalid quantity",
    );
}

#[test]
fn a_store_without_kinds_is_a_warning() {
    let scenario = accepted(&edit("leases = \"leases\"", "leases = \"main\""));
    assert_eq!(scenario.warnings.len(), 1, "{:?}", scenario.warnings);
    assert!(
        scenario.warnings[0].contains("control_plane.stores[1].name: store `leases` holds no kind"),
        "{}",
        scenario.warnings[0]
    );
}

#[test]
fn service_is_a_boolean_for_deployments_only() {
    let all = problems(&edit(
        "duration = \"5m\"\n",
        "duration = \"5m\"\nservice = true\n",
    ));
    at(
        &all,
        "workloads[1].service",
        "`service` only applies to kind = \"deployment\", and workload `batch` is a job",
    );
    let all = problems(&edit("service = true", "service = \"yes\""));
    at(&all, "workloads[0].service", "expected a boolean");
    let scenario = accepted(&edit("service = true", "service = false"));
    assert!(!service_of(&scenario, 0));
}

#[test]
fn a_service_without_the_control_plane_is_a_warning() {
    let end = BASE.find("[control_plane]").unwrap();
    let scenario = accepted(&BASE[..end]);
    assert!(service_of(&scenario, 0));
    assert_eq!(scenario.warnings.len(), 1, "{:?}", scenario.warnings);
    assert!(
        scenario.warnings[0]
            .contains("workloads[0].service: has no effect without a [control_plane]"),
        "{}",
        scenario.warnings[0]
    );
}

#[test]
fn every_control_plane_problem_is_reported_in_document_order() {
    let text = BASE
        .replace("tick = \"1s\"", "tick = \"1 second\"")
        .replace("replicas = 3\n\n[[", "replicas = 0\n\n[[")
        .replace("quorum = 2", "quorum = 9")
        .replace(
            "leases = \"leases\"",
            "leases = \"lease\"\nsecrets = \"main\"",
        );
    let all = problems(&text);
    let paths: Vec<(Option<usize>, &str)> =
        all.iter().map(|p| (p.line, p.key_path.as_str())).collect();
    assert_eq!(
        paths,
        [
            (Some(30), "control_plane.tick"),
            (Some(33), "control_plane.apiserver.replicas"),
            (Some(38), "control_plane.stores[0].quorum"),
            (Some(44), "control_plane.routing.leases"),
            (Some(45), "control_plane.routing.secrets"),
        ],
        "{all:#?}"
    );
    assert!(all[0].message.contains("did you mean `1s`?"), "{}", all[0]);
}

//! `[control_plane]`: the stores and which kinds each one holds, the
//! apiserver replicas, object sizes, watchers and kubelet reporting periods.
//! The section's presence turns the model on; every key has a default.

use ksim_core::control_plane::config::{
    ApiKind, ApiServerConfig, ControlPlaneConfig, NamedStore, ObjectSizes, Watchers,
};
use ksim_core::distribution::Distribution;
use ksim_core::store::StoreConfig;
use ksim_core::time::{SimDuration, NANOS_PER_MICRO};

use crate::distributions::{distribution, scalar, Unit};
use crate::names;
use crate::reader::{self, Ctx, Fields, Node, Place};

const SECTION_KEYS: &[&str] = &[
    "tick",
    "node_status_update_interval",
    "node_status_report_interval",
    "kubelet_events_per_pod_start",
    "compaction_interval",
    "event_ttl",
    "apiserver",
    "objects",
    "watchers",
    "stores",
    "routing",
];
const APISERVER_KEYS: &[&str] = &[
    "replicas",
    "max_mutating_inflight",
    "max_readonly_inflight",
    "retry_after",
    "cache_read_latency",
    "watch_cache_events_per_s",
    "watch_send_events_per_s",
    "network_bytes_per_s",
];
/// Parallel to `ApiKind::ALL`.
const OBJECT_KEYS: [&str; ApiKind::COUNT] = [
    "pod",
    "node",
    "lease",
    "event",
    "endpoint_slice",
    "deployment",
];
const WATCHER_KEYS: &[&str] = &[
    "pod_controllers",
    "node_controllers",
    "lease_controllers",
    "event_watchers",
    "endpoint_slice_controllers",
    "deployment_controllers",
];
const STORE_KEYS: &[&str] = &[
    "name",
    "members",
    "quorum",
    "max_batch_writes",
    "leader_cpu_per_write",
    "leader_cpu_per_byte_ns",
    "wal_fsync",
    "wal_write_bytes_per_s",
    "network_rtt",
    "network_bytes_per_s",
    "apply_per_write",
    "overhead_bytes_per_write",
    "max_request_bytes",
    "quota",
];
/// Far beyond any real raft group (etcd advises at most 7); catches typos
/// before a per-member allocation does.
const MAX_MEMBERS: u64 = 1_000;
/// Far beyond what a kubelet records per start; catches a misplaced rate.
const MAX_EVENTS_PER_POD_START: u64 = 1_000;

/// `Some(None)`: no section, the control plane is not modelled.
/// `None`: a problem was recorded.
pub(crate) fn read(ctx: &mut Ctx, node: Option<Node>) -> Option<Option<ControlPlaneConfig>> {
    let Some(node) = node else {
        return Some(None);
    };
    let fields = reader::table(ctx, &node, SECTION_KEYS)?;
    let d = ControlPlaneConfig::default();
    let period = |ctx: &mut Ctx, key: &str, default: SimDuration| {
        reader::duration_or(ctx, &fields, key, default, true)
    };
    let tick = period(ctx, "tick", d.tick);
    let status_update = period(
        ctx,
        "node_status_update_interval",
        d.node_status_update_interval,
    );
    let status_report = period(
        ctx,
        "node_status_report_interval",
        d.node_status_report_interval,
    );
    let compaction = period(ctx, "compaction_interval", d.compaction_interval);
    let event_ttl = period(ctx, "event_ttl", d.event_ttl);
    let events_per_start = reader::count_or(
        ctx,
        &fields,
        "kubelet_events_per_pod_start",
        d.kubelet_events_per_pod_start,
        0,
        MAX_EVENTS_PER_POD_START,
    );
    let apiserver = fields
        .get("apiserver")
        .map_or(Some(d.apiserver), |n| read_apiserver(ctx, &n));
    let objects = read_objects(ctx, &fields);
    let watchers = fields
        .get("watchers")
        .map_or(Some(d.watchers), |n| read_watchers(ctx, &n));
    let stores = read_stores(ctx, &fields);
    let routing = read_routing(ctx, fields.get("routing"), &stores);
    let (objects, object_places) = objects?;
    let config = ControlPlaneConfig {
        stores: stores.complete.then_some(stores.specs)?,
        routing: routing?,
        apiserver: apiserver?,
        objects,
        watchers: watchers?,
        tick: tick?,
        node_status_update_interval: status_update?,
        node_status_report_interval: status_report?,
        kubelet_events_per_pod_start: events_per_start?,
        compaction_interval: compaction?,
        event_ttl: event_ttl?,
    };
    check_request_sizes(ctx, &config, &object_places, &stores.limit_places)?;
    warn_unused_stores(ctx, &config, &stores.name_places);
    if let Err(e) = config.check() {
        // The per-key checks above catch all of these first; kept so the
        // core's invariants hold even if the two drift apart.
        ctx.error(
            &fields.span,
            &fields.path,
            format!("rejected by the simulator core: {e}"),
        );
        return None;
    }
    Some(Some(config))
}

fn read_apiserver(ctx: &mut Ctx, node: &Node) -> Option<ApiServerConfig> {
    let fields = reader::table(ctx, node, APISERVER_KEYS)?;
    let d = ApiServerConfig::default();
    let replicas = reader::count_or(ctx, &fields, "replicas", d.replicas, 1, u64::from(u32::MAX));
    let mutating = inflight_or(
        ctx,
        &fields,
        "max_mutating_inflight",
        d.max_mutating_inflight,
    );
    let readonly = inflight_or(
        ctx,
        &fields,
        "max_readonly_inflight",
        d.max_readonly_inflight,
    );
    let retry_after = reader::duration_or(ctx, &fields, "retry_after", d.retry_after, true);
    let cache_read = reader::duration_or(
        ctx,
        &fields,
        "cache_read_latency",
        d.cache_read_latency,
        true,
    );
    let cache_events = reader::positive_number_or(
        ctx,
        &fields,
        "watch_cache_events_per_s",
        d.watch_cache_events_per_s,
    );
    let send_events = reader::positive_number_or(
        ctx,
        &fields,
        "watch_send_events_per_s",
        d.watch_send_events_per_s,
    );
    let network = bandwidth_or(ctx, &fields, "network_bytes_per_s", d.network_bytes_per_s);
    Some(ApiServerConfig {
        replicas: replicas?,
        max_mutating_inflight: mutating?,
        max_readonly_inflight: readonly?,
        retry_after: retry_after?,
        cache_read_latency: cache_read?,
        watch_cache_events_per_s: cache_events?,
        watch_send_events_per_s: send_events?,
        network_bytes_per_s: network?,
    })
}

/// An in-flight limit; kube-apiserver's 0 (no limit) has no model.
fn inflight_or(ctx: &mut Ctx, fields: &Fields, key: &str, default: u32) -> Option<u32> {
    let Some(node) = fields.get(key) else {
        return Some(default);
    };
    if node.as_integer() == Some(0) {
        ctx.error(
            &node.span,
            &node.path,
            format!("{key} must be at least 1 (kube-apiserver's 0 = unlimited is not modelled)"),
        );
        return None;
    }
    reader::count(ctx, &node, 1, u64::from(u32::MAX)).map(|c| c as u32)
}

/// Object sizes, with where each was written (None: the default).
fn read_objects(
    ctx: &mut Ctx,
    section: &Fields,
) -> Option<(ObjectSizes, [Option<Place>; ApiKind::COUNT])> {
    let defaults = ObjectSizes::default();
    let mut places: [Option<Place>; ApiKind::COUNT] = Default::default();
    let Some(node) = section.get("objects") else {
        return Some((defaults, places));
    };
    let fields = reader::table(ctx, &node, &OBJECT_KEYS)?;
    let mut sizes = [0u32; ApiKind::COUNT];
    let mut ok = true;
    for kind in ApiKind::ALL {
        let key = OBJECT_KEYS[kind.index()];
        if fields.has(key) {
            places[kind.index()] = Some(Place::of(&fields, key));
        }
        let size = bytes_or(
            ctx,
            &fields,
            key,
            u64::from(defaults.of(kind)),
            1,
            u64::from(u32::MAX),
        );
        match size {
            Some(size) => sizes[kind.index()] = size as u32,
            None => ok = false,
        }
    }
    let [pod_bytes, node_bytes, lease_bytes, event_bytes, endpoint_slice_bytes, deployment_bytes] =
        sizes;
    let objects = ObjectSizes {
        pod_bytes,
        node_bytes,
        lease_bytes,
        event_bytes,
        endpoint_slice_bytes,
        deployment_bytes,
    };
    ok.then_some((objects, places))
}

fn read_watchers(ctx: &mut Ctx, node: &Node) -> Option<Watchers> {
    let fields = reader::table(ctx, node, WATCHER_KEYS)?;
    let d = Watchers::default();
    let mut watchers = |key: &str, default: u32| {
        reader::count_or(ctx, &fields, key, default, 0, u64::from(u32::MAX))
    };
    let pods = watchers("pod_controllers", d.pod_controllers);
    let nodes = watchers("node_controllers", d.node_controllers);
    let leases = watchers("lease_controllers", d.lease_controllers);
    let events = watchers("event_watchers", d.event_watchers);
    let slices = watchers("endpoint_slice_controllers", d.endpoint_slice_controllers);
    let deployments = watchers("deployment_controllers", d.deployment_controllers);
    Some(Watchers {
        pod_controllers: pods?,
        node_controllers: nodes?,
        lease_controllers: leases?,
        event_watchers: events?,
        endpoint_slice_controllers: slices?,
        deployment_controllers: deployments?,
    })
}

/// The stores read; `complete` is false when any store had a problem.
struct Stores {
    specs: Vec<NamedStore>,
    names: Vec<String>,
    /// Every store's name was read, so routing to any other name is an error.
    names_complete: bool,
    /// Parallel to `specs` when complete: where each name was written.
    name_places: Vec<Place>,
    /// Parallel to `specs` when complete: where max_request_bytes was written.
    limit_places: Vec<Place>,
    complete: bool,
}

fn read_stores(ctx: &mut Ctx, section: &Fields) -> Stores {
    let mut stores = Stores {
        specs: Vec::new(),
        names: Vec::new(),
        names_complete: true,
        name_places: Vec::new(),
        limit_places: Vec::new(),
        complete: true,
    };
    let Some(node) = section.get("stores") else {
        let default = ControlPlaneConfig::default().stores;
        stores.names = default.iter().map(|s| s.name.clone()).collect();
        stores.specs = default;
        return stores;
    };
    let Some(elements) = reader::array(ctx, &node) else {
        stores.complete = false;
        stores.names_complete = false;
        return stores;
    };
    if elements.is_empty() {
        ctx.error(
            &node.span,
            &node.path,
            "at least one store is needed (leave `stores` out for one store `main` with \
             default parameters)",
        );
        stores.complete = false;
    }
    let mut seen = reader::SeenNames::new();
    for element in &elements {
        let Some(fields) = reader::table(ctx, element, STORE_KEYS) else {
            stores.complete = false;
            stores.names_complete = false;
            continue;
        };
        let name = fields
            .require(ctx, "name")
            .and_then(|n| store_name(ctx, &n, &mut seen));
        let config = read_store(ctx, &fields);
        match name {
            Some(name) => stores.names.push(name.to_string()),
            None => stores.names_complete = false,
        }
        match (name, config) {
            (Some(name), Some(config)) => {
                stores.specs.push(NamedStore {
                    name: name.to_string(),
                    config,
                });
                stores.name_places.push(Place::of(&fields, "name"));
                stores
                    .limit_places
                    .push(Place::of(&fields, "max_request_bytes"));
            }
            _ => stores.complete = false,
        }
    }
    stores
}

/// A store name: unique, and usable in output columns (`store/<name>`).
fn store_name<'a>(ctx: &mut Ctx, node: &Node<'a>, seen: &mut reader::SeenNames) -> Option<&'a str> {
    let name = reader::string(ctx, node)?;
    if let Err(message) = names::check_component_name(name, "store name") {
        ctx.error(&node.span, &node.path, message);
        return None;
    }
    reader::unique_name(ctx, seen, name, node, "store").then_some(name)
}

fn read_store(ctx: &mut Ctx, fields: &Fields) -> Option<StoreConfig> {
    let d = StoreConfig::default();
    let members = reader::count_or(ctx, fields, "members", d.members, 1, MAX_MEMBERS);
    let quorum = reader::count_or(ctx, fields, "quorum", d.quorum, 1, MAX_MEMBERS);
    let quorum_ok = check_quorum(ctx, fields, members, quorum);
    let batch = reader::count_or(
        ctx,
        fields,
        "max_batch_writes",
        d.max_batch_writes,
        1,
        u64::from(u32::MAX),
    );
    let cpu_per_write = micros_or(
        ctx,
        fields,
        "leader_cpu_per_write",
        d.leader_cpu_per_write_us,
    );
    let cpu_per_byte = reader::positive_number_or(
        ctx,
        fields,
        "leader_cpu_per_byte_ns",
        d.leader_cpu_per_byte_ns,
    );
    let fsync = latency_or(ctx, fields, "wal_fsync", d.wal_fsync_ns);
    let wal_bandwidth = bandwidth_or(
        ctx,
        fields,
        "wal_write_bytes_per_s",
        d.wal_write_bytes_per_s,
    );
    let rtt = latency_or(ctx, fields, "network_rtt", d.network_rtt_ns);
    let network = bandwidth_or(ctx, fields, "network_bytes_per_s", d.network_bytes_per_s);
    let apply = micros_or(ctx, fields, "apply_per_write", d.apply_per_write_us);
    let overhead = bytes_or(
        ctx,
        fields,
        "overhead_bytes_per_write",
        d.overhead_bytes_per_write,
        0,
        u64::MAX,
    );
    let max_request = bytes_or(
        ctx,
        fields,
        "max_request_bytes",
        d.max_request_bytes,
        1,
        u64::MAX,
    );
    let quota = bytes_or(ctx, fields, "quota", d.quota_bytes, 1, u64::MAX);
    quorum_ok.then_some(())?;
    Some(StoreConfig {
        members: members?,
        quorum: quorum?,
        max_batch_writes: batch?,
        leader_cpu_per_write_us: cpu_per_write?,
        leader_cpu_per_byte_ns: cpu_per_byte?,
        wal_fsync_ns: fsync?,
        wal_write_bytes_per_s: wal_bandwidth?,
        network_rtt_ns: rtt?,
        network_bytes_per_s: network?,
        apply_per_write_us: apply?,
        overhead_bytes_per_write: overhead?,
        max_request_bytes: max_request?,
        quota_bytes: quota?,
    })
}

/// Quorum counts the leader, so it cannot exceed the members. The problem is
/// put on whichever of the two keys was written.
fn check_quorum(ctx: &mut Ctx, fields: &Fields, members: Option<u32>, quorum: Option<u32>) -> bool {
    let (Some(members), Some(quorum)) = (members, quorum) else {
        return true;
    };
    if quorum <= members {
        return true;
    }
    let majority = members / 2 + 1;
    let (key, message) = if fields.has("quorum") {
        (
            "quorum",
            format!(
                "quorum ({quorum}) must not exceed members ({members}); a majority of \
                 {members} is {majority}"
            ),
        )
    } else {
        (
            "members",
            format!(
                "members ({members}) is fewer than the default quorum ({quorum}): set \
                 `quorum` too (a majority of {members} is {majority})"
            ),
        )
    };
    ctx.error(
        &fields.key_span(key),
        &reader::join_key(&fields.path, key),
        message,
    );
    false
}

/// `[control_plane.routing]`: kind name -> store name.
fn read_routing(
    ctx: &mut Ctx,
    node: Option<Node>,
    stores: &Stores,
) -> Option<[usize; ApiKind::COUNT]> {
    let mut routing = [0; ApiKind::COUNT];
    let Some(node) = node else {
        return Some(routing);
    };
    let fields = reader::free_table(ctx, &node)?;
    let kinds = ApiKind::ALL.map(ApiKind::name);
    let mut ok = true;
    for entry in fields.entries() {
        let Some(kind) = ApiKind::from_name(entry.key) else {
            let hint = names::suggest(entry.key, &kinds)
                .map_or(String::new(), |k| format!(": did you mean `{k}`?"));
            ctx.error(
                &entry.key_span,
                &entry.node.path,
                format!(
                    "unknown kind `{}`{hint} (kinds are {})",
                    entry.key,
                    names::list(&kinds)
                ),
            );
            ok = false;
            continue;
        };
        match store_index(ctx, &entry.node, stores) {
            Some(index) => routing[kind.index()] = index,
            None => ok = false,
        }
    }
    ok.then_some(routing)
}

/// The index of the store a routing entry names.
fn store_index(ctx: &mut Ctx, node: &Node, stores: &Stores) -> Option<usize> {
    let name = reader::string(ctx, node)?;
    let found = stores.names.iter().position(|n| n == name);
    // Unknown names are only reported when every store's name was read;
    // otherwise that store's own problem is already reported.
    if found.is_none() && stores.names_complete {
        let known: Vec<&str> = stores.names.iter().map(String::as_str).collect();
        let hint = names::suggest(name, &known)
            .map_or(String::new(), |s| format!(": did you mean `{s}`?"));
        ctx.error(
            &node.span,
            &node.path,
            format!(
                "no store named `{name}`{hint} (stores: {})",
                names::list(&known)
            ),
        );
    }
    found
}

/// etcd refuses values above its max request size, so a kind whose objects
/// are larger could never be written.
fn check_request_sizes(
    ctx: &mut Ctx,
    config: &ControlPlaneConfig,
    object_places: &[Option<Place>; ApiKind::COUNT],
    limit_places: &[Place],
) -> Option<()> {
    let mut ok = true;
    for kind in ApiKind::ALL {
        let index = config.store_of(kind);
        let store = &config.stores[index];
        let size = u64::from(config.objects.of(kind));
        let limit = store.config.max_request_bytes;
        if size <= limit {
            continue;
        }
        let place = object_places[kind.index()]
            .as_ref()
            .unwrap_or(&limit_places[index]);
        ctx.error(
            &place.span,
            &place.path,
            format!(
                "{} objects ({size} bytes) are larger than store `{}`'s max_request_bytes \
                 ({limit}): every write of them would be refused",
                kind.name(),
                store.name
            ),
        );
        ok = false;
    }
    ok.then_some(())
}

/// A store no kind is routed to takes no writes.
fn warn_unused_stores(ctx: &mut Ctx, config: &ControlPlaneConfig, name_places: &[Place]) {
    for (index, (store, place)) in config.stores.iter().zip(name_places).enumerate() {
        if !config.routing.contains(&index) {
            ctx.warn(
                &place.span,
                &place.path,
                format!(
                    "store `{}` holds no kind, so it takes no writes: route a kind to it in \
                     [control_plane.routing]",
                    store.name
                ),
            );
        }
    }
}

/// Bytes per second: a byte quantity (`"125M"`, `"1Gi"`) or a plain number.
fn bandwidth_or(ctx: &mut Ctx, fields: &Fields, key: &str, default: f64) -> Option<f64> {
    let Some(node) = fields.get(key) else {
        return Some(default);
    };
    let value = match node.as_float() {
        Some(f) => f,
        None => scalar(ctx, &node, Unit::Bytes)? as f64,
    };
    reader::positive(ctx, &node, value)
}

/// A byte quantity within `[min, max]`.
fn bytes_or(
    ctx: &mut Ctx,
    fields: &Fields,
    key: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Option<u64> {
    let Some(node) = fields.get(key) else {
        return Some(default);
    };
    let bytes = scalar(ctx, &node, Unit::Bytes)?;
    let message = if bytes < min && min == 1 {
        format!("{key} must be greater than zero")
    } else if bytes < min {
        format!("{key} must be at least {min} bytes, found {bytes}")
    } else if bytes > max {
        format!("{key} is too large: {bytes} bytes (at most {max})")
    } else {
        return Some(bytes);
    };
    ctx.error(&node.span, &node.path, message);
    None
}

/// A positive duration, in (fractional) microseconds.
fn micros_or(ctx: &mut Ctx, fields: &Fields, key: &str, default_us: f64) -> Option<f64> {
    let Some(node) = fields.get(key) else {
        return Some(default_us);
    };
    reader::positive_duration(ctx, &node).map(|d| d.0 as f64 / NANOS_PER_MICRO as f64)
}

/// A latency in nanoseconds: a duration or a distribution of durations
/// that is not always zero.
fn latency_or(
    ctx: &mut Ctx,
    fields: &Fields,
    key: &str,
    default: Distribution,
) -> Option<Distribution> {
    let Some(node) = fields.get(key) else {
        return Some(default);
    };
    let latency = distribution(ctx, &node, Unit::Duration)?;
    if latency.max() == Some(0.0) {
        ctx.error(
            &node.span,
            &node.path,
            format!("{key} must be greater than zero"),
        );
        return None;
    }
    Some(latency)
}

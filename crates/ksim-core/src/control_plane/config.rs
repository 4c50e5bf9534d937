//! What a scenario says about the control plane: stores, routing of kinds to
//! stores, apiservers, object sizes and kubelet reporting periods.
//!
//! Defaults follow upstream flags where one exists (see
//! `docs/models/control-plane.md` for every value and its source).

use crate::store::{StoreConfig, StoreConfigError};
use crate::time::SimDuration;

/// The resource kinds the control plane model writes; routing to stores is
/// per kind, as kube-apiserver's `--etcd-servers-overrides` is per resource.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiKind {
    Pods,
    Nodes,
    Leases,
    Events,
    EndpointSlices,
    /// Deployments (their scale subresource).
    Deployments,
}

impl ApiKind {
    pub const COUNT: usize = 6;
    pub const ALL: [ApiKind; ApiKind::COUNT] = [
        ApiKind::Pods,
        ApiKind::Nodes,
        ApiKind::Leases,
        ApiKind::Events,
        ApiKind::EndpointSlices,
        ApiKind::Deployments,
    ];

    /// The resource name as kube-apiserver and scenarios spell it.
    pub fn name(self) -> &'static str {
        match self {
            ApiKind::Pods => "pods",
            ApiKind::Nodes => "nodes",
            ApiKind::Leases => "leases",
            ApiKind::Events => "events",
            ApiKind::EndpointSlices => "endpointslices",
            ApiKind::Deployments => "deployments",
        }
    }

    pub fn from_name(name: &str) -> Option<ApiKind> {
        ApiKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The API requests the model issues (named apart from a pod's resource `Request`). Each is one verb on one kind.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiRequest {
    /// A controller (ReplicaSet, Job) or user creates a pod.
    PodCreate,
    /// The scheduler binds a pod (`create pods/binding`, a write of the pod object).
    PodBind,
    /// The kubelet reports a pod's phase (`patch pods/status`).
    PodStatus,
    /// A pod object is deleted (eviction, garbage collection).
    PodDelete,
    /// The kubelet reports node status (`patch nodes/status`).
    NodeStatus,
    /// The kubelet reads its node before computing status (`get nodes`, served by the watch cache).
    NodeGet,
    /// The kubelet renews its node lease (`update leases`).
    LeaseUpdate,
    /// Any component records an event (`create events`).
    EventCreate,
    /// The EndpointSlice controller updates a service's slice (`update endpointslices`).
    EndpointSliceUpdate,
    /// A new node's kubelet registers it (`create nodes`).
    NodeCreate,
    /// An autoscaler or administrator removes a node (`delete nodes`).
    NodeDelete,
    /// A node is cordoned or uncordoned (`patch nodes`, spec.unschedulable),
    /// or a controller taints or untaints it (spec.taints).
    NodePatch,
    /// A drain evicts a pod (`create pods/eviction`): the apiserver checks
    /// the pod's disruption budget and sets its deletion timestamp. The
    /// object stays until the pod has terminated and is deleted.
    PodEviction,
    /// A controller sets a deployment's replicas (`update deployments/scale`).
    ScaleUpdate,
}

impl ApiRequest {
    pub const COUNT: usize = 14;
    pub const ALL: [ApiRequest; ApiRequest::COUNT] = [
        ApiRequest::PodCreate,
        ApiRequest::PodBind,
        ApiRequest::PodStatus,
        ApiRequest::PodDelete,
        ApiRequest::NodeStatus,
        ApiRequest::NodeGet,
        ApiRequest::LeaseUpdate,
        ApiRequest::EventCreate,
        ApiRequest::EndpointSliceUpdate,
        ApiRequest::NodeCreate,
        ApiRequest::NodeDelete,
        ApiRequest::NodePatch,
        ApiRequest::PodEviction,
        ApiRequest::ScaleUpdate,
    ];

    pub fn kind(self) -> ApiKind {
        match self {
            ApiRequest::PodCreate
            | ApiRequest::PodBind
            | ApiRequest::PodStatus
            | ApiRequest::PodDelete
            | ApiRequest::PodEviction => ApiKind::Pods,
            ApiRequest::NodeStatus
            | ApiRequest::NodeGet
            | ApiRequest::NodeCreate
            | ApiRequest::NodeDelete
            | ApiRequest::NodePatch => ApiKind::Nodes,
            ApiRequest::LeaseUpdate => ApiKind::Leases,
            ApiRequest::EventCreate => ApiKind::Events,
            ApiRequest::EndpointSliceUpdate => ApiKind::EndpointSlices,
            ApiRequest::ScaleUpdate => ApiKind::Deployments,
        }
    }

    /// The verb as an audit log would show it.
    pub fn verb(self) -> &'static str {
        match self {
            ApiRequest::PodCreate
            | ApiRequest::PodBind
            | ApiRequest::EventCreate
            | ApiRequest::NodeCreate
            | ApiRequest::PodEviction => "create",
            ApiRequest::PodStatus | ApiRequest::NodeStatus | ApiRequest::NodePatch => "patch",
            ApiRequest::PodDelete | ApiRequest::NodeDelete => "delete",
            ApiRequest::NodeGet => "get",
            ApiRequest::LeaseUpdate | ApiRequest::EndpointSliceUpdate | ApiRequest::ScaleUpdate => {
                "update"
            }
        }
    }

    /// `verb kind[/subresource]`, e.g. `create pods/binding`.
    pub fn label(self) -> &'static str {
        match self {
            ApiRequest::PodCreate => "create pods",
            ApiRequest::PodBind => "create pods/binding",
            ApiRequest::PodStatus => "patch pods/status",
            ApiRequest::PodDelete => "delete pods",
            ApiRequest::NodeStatus => "patch nodes/status",
            ApiRequest::NodeGet => "get nodes",
            ApiRequest::LeaseUpdate => "update leases",
            ApiRequest::EventCreate => "create events",
            ApiRequest::EndpointSliceUpdate => "update endpointslices",
            ApiRequest::NodeCreate => "create nodes",
            ApiRequest::NodeDelete => "delete nodes",
            ApiRequest::NodePatch => "patch nodes",
            ApiRequest::PodEviction => "create pods/eviction",
            ApiRequest::ScaleUpdate => "update deployments/scale",
        }
    }

    pub fn is_read(self) -> bool {
        matches!(self, ApiRequest::NodeGet)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Bytes one write of each kind puts into the store. etcd stores whole
/// objects, so a status patch or a binding writes the full pod again.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectSizes {
    pub pod_bytes: u32,
    pub node_bytes: u32,
    pub lease_bytes: u32,
    pub event_bytes: u32,
    pub endpoint_slice_bytes: u32,
    pub deployment_bytes: u32,
}

impl Default for ObjectSizes {
    fn default() -> Self {
        ObjectSizes {
            pod_bytes: 4096,
            node_bytes: 10_240,
            lease_bytes: 512,
            event_bytes: 1024,
            endpoint_slice_bytes: 8192,
            // A model estimate: a Deployment with one container's template.
            deployment_bytes: 4096,
        }
    }
}

impl ObjectSizes {
    pub fn of(&self, kind: ApiKind) -> u32 {
        match kind {
            ApiKind::Pods => self.pod_bytes,
            ApiKind::Nodes => self.node_bytes,
            ApiKind::Leases => self.lease_bytes,
            ApiKind::Events => self.event_bytes,
            ApiKind::EndpointSlices => self.endpoint_slice_bytes,
            ApiKind::Deployments => self.deployment_bytes,
        }
    }
}

/// The kube-apiserver replicas, all alike; clients spread evenly over them.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiServerConfig {
    pub replicas: u32,
    /// `--max-mutating-requests-inflight` per replica (200).
    pub max_mutating_inflight: u32,
    /// `--max-requests-inflight` per replica (400), for reads.
    pub max_readonly_inflight: u32,
    /// The Retry-After a rejected (429) request waits before it is retried (1 s).
    pub retry_after: SimDuration,
    /// Time to serve a read from the watch cache.
    pub cache_read_latency: SimDuration,
    /// Events per second one replica's watch cache of one kind can take in
    /// (its single dispatch loop per resource).
    pub watch_cache_events_per_s: f64,
    /// Watch events per second one replica can send to watchers.
    pub watch_send_events_per_s: f64,
    /// Egress bandwidth of one replica, for watch traffic.
    pub network_bytes_per_s: f64,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        ApiServerConfig {
            replicas: 3,
            max_mutating_inflight: 200,
            max_readonly_inflight: 400,
            retry_after: SimDuration::from_secs(1),
            cache_read_latency: SimDuration::from_micros(1_000),
            watch_cache_events_per_s: 50_000.0,
            watch_send_events_per_s: 500_000.0,
            network_bytes_per_s: 1.25e9,
        }
    }
}

/// Watchers notified per write, beyond the per-node ones the model adds
/// (the kubelet of a bound pod's node, every kube-proxy for endpoint slices).
#[derive(Clone, Debug, PartialEq)]
pub struct Watchers {
    /// Controllers watching pods: scheduler, ReplicaSet/Job controller, EndpointSlice controller.
    pub pod_controllers: u32,
    /// Controllers watching nodes: node lifecycle, scheduler, DaemonSet, cluster autoscaler.
    pub node_controllers: u32,
    /// Controllers watching leases: the node lifecycle controller.
    pub lease_controllers: u32,
    /// Watchers of events (none by default).
    pub event_watchers: u32,
    /// Controllers watching endpoint slices (the EndpointSlice controller), besides kube-proxies.
    pub endpoint_slice_controllers: u32,
    /// Controllers watching deployments: the deployment controller and the
    /// disruption controller.
    pub deployment_controllers: u32,
}

impl Default for Watchers {
    fn default() -> Self {
        Watchers {
            pod_controllers: 3,
            node_controllers: 4,
            lease_controllers: 1,
            event_watchers: 0,
            endpoint_slice_controllers: 1,
            deployment_controllers: 2,
        }
    }
}

/// One named store and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedStore {
    pub name: String,
    pub config: StoreConfig,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ControlPlaneConfig {
    /// At least one; kinds not routed elsewhere go to the first.
    pub stores: Vec<NamedStore>,
    /// Index into `stores` per `ApiKind`.
    pub routing: [usize; ApiKind::COUNT],
    pub apiserver: ApiServerConfig,
    pub objects: ObjectSizes,
    pub watchers: Watchers,
    /// Aggregation step for heartbeats and fire-and-forget writes (1 s).
    pub tick: SimDuration,
    /// Kubelet `nodeStatusUpdateFrequency` (10 s): one `get nodes` per node per period.
    pub node_status_update_interval: SimDuration,
    /// Kubelet `nodeStatusReportFrequency` (5 min): an unchanged status is written this often.
    pub node_status_report_interval: SimDuration,
    /// Events the kubelet records per pod start (Pulled, Created, Started: 3).
    pub kubelet_events_per_pod_start: u32,
    /// kube-apiserver `--etcd-compaction-interval` (5 min).
    pub compaction_interval: SimDuration,
    /// kube-apiserver `--event-ttl` (1 h): events older than this are deleted by the store.
    pub event_ttl: SimDuration,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        ControlPlaneConfig {
            stores: vec![NamedStore {
                name: "main".into(),
                config: StoreConfig::default(),
            }],
            routing: [0; ApiKind::COUNT],
            apiserver: ApiServerConfig::default(),
            objects: ObjectSizes::default(),
            watchers: Watchers::default(),
            tick: SimDuration::from_secs(1),
            node_status_update_interval: SimDuration::from_secs(10),
            node_status_report_interval: SimDuration::from_secs(300),
            kubelet_events_per_pod_start: 3,
            compaction_interval: SimDuration::from_secs(300),
            event_ttl: SimDuration::from_secs(3600),
        }
    }
}

/// Why a [`ControlPlaneConfig`] was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlPlaneConfigError {
    #[error("control_plane: at least one store is needed")]
    NoStores,
    // The store's problem is part of this message, not a `source`, so a
    // chain printer ({:#}) does not print it twice.
    #[error("control_plane: store `{store}`: {problem}")]
    Store {
        store: String,
        problem: StoreConfigError,
    },
    #[error("control_plane: two stores are named `{0}`")]
    DuplicateStore(String),
    #[error("control_plane: {kind} is routed to store #{index}, which does not exist")]
    UndefinedStore { kind: &'static str, index: usize },
    #[error("control_plane: apiserver replicas and in-flight limits must be at least 1")]
    BadApiServer,
    #[error("control_plane: apiserver {field} must be finite and above zero, got {value}")]
    BadCapacity { field: &'static str, value: f64 },
    #[error("control_plane: {0} must be greater than zero")]
    ZeroPeriod(&'static str),
}

impl ControlPlaneConfig {
    /// Checks every parameter; the first problem found is returned.
    pub fn check(&self) -> Result<(), ControlPlaneConfigError> {
        if self.stores.is_empty() {
            return Err(ControlPlaneConfigError::NoStores);
        }
        for (i, store) in self.stores.iter().enumerate() {
            store
                .config
                .check()
                .map_err(|problem| ControlPlaneConfigError::Store {
                    store: store.name.clone(),
                    problem,
                })?;
            if self.stores[..i].iter().any(|s| s.name == store.name) {
                return Err(ControlPlaneConfigError::DuplicateStore(store.name.clone()));
            }
        }
        for kind in ApiKind::ALL {
            let index = self.routing[kind.index()];
            if index >= self.stores.len() {
                return Err(ControlPlaneConfigError::UndefinedStore {
                    kind: kind.name(),
                    index,
                });
            }
        }
        let a = &self.apiserver;
        if a.replicas == 0 || a.max_mutating_inflight == 0 || a.max_readonly_inflight == 0 {
            return Err(ControlPlaneConfigError::BadApiServer);
        }
        for (field, value) in [
            ("watch_cache_events_per_s", a.watch_cache_events_per_s),
            ("watch_send_events_per_s", a.watch_send_events_per_s),
            ("network_bytes_per_s", a.network_bytes_per_s),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ControlPlaneConfigError::BadCapacity { field, value });
            }
        }
        for (field, period) in [
            ("tick", self.tick),
            (
                "node_status_update_interval",
                self.node_status_update_interval,
            ),
            (
                "node_status_report_interval",
                self.node_status_report_interval,
            ),
            ("compaction_interval", self.compaction_interval),
            ("event_ttl", self.event_ttl),
        ] {
            if period == SimDuration::ZERO {
                return Err(ControlPlaneConfigError::ZeroPeriod(field));
            }
        }
        Ok(())
    }

    /// The store a kind's writes go to.
    pub fn store_of(&self, kind: ApiKind) -> usize {
        self.routing[kind.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ControlPlaneConfig::default().check(), Ok(()));
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in ApiKind::ALL {
            assert_eq!(ApiKind::from_name(kind.name()), Some(kind));
            assert_eq!(ApiKind::ALL[kind.index()], kind);
        }
        for request in ApiRequest::ALL {
            assert_eq!(ApiRequest::ALL[request.index()], request);
        }
        assert_eq!(ApiKind::from_name("pod"), None);
    }

    #[test]
    fn impossible_parameters_are_refused() {
        let mut c = ControlPlaneConfig::default();
        c.routing[ApiKind::Leases.index()] = 1;
        assert_eq!(
            c.check(),
            Err(ControlPlaneConfigError::UndefinedStore {
                kind: "leases",
                index: 1
            })
        );
        let mut c = ControlPlaneConfig::default();
        c.stores[0].config.quorum = 4;
        assert!(matches!(
            c.check(),
            Err(ControlPlaneConfigError::Store { .. })
        ));
        let mut c = ControlPlaneConfig::default();
        c.stores.push(c.stores[0].clone());
        assert_eq!(
            c.check(),
            Err(ControlPlaneConfigError::DuplicateStore("main".into()))
        );
        let mut c = ControlPlaneConfig::default();
        c.apiserver.max_mutating_inflight = 0;
        assert_eq!(c.check(), Err(ControlPlaneConfigError::BadApiServer));
        let mut c = ControlPlaneConfig::default();
        c.apiserver.watch_cache_events_per_s = -1.0;
        assert!(matches!(
            c.check(),
            Err(ControlPlaneConfigError::BadCapacity { .. })
        ));
        let c = ControlPlaneConfig {
            tick: SimDuration::ZERO,
            ..ControlPlaneConfig::default()
        };
        assert_eq!(c.check(), Err(ControlPlaneConfigError::ZeroPeriod("tick")));
    }

    /// An error chain printed the way the CLI prints it (anyhow's `{:#}`).
    fn chain(error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }

    #[test]
    fn a_store_problem_is_printed_once_in_an_error_chain() {
        let mut c = ControlPlaneConfig::default();
        c.stores[0].config.quorum = 4;
        let error = c.check().unwrap_err();
        let text = chain(&error);
        let inner = match &error {
            ControlPlaneConfigError::Store { problem, .. } => problem.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(text.matches(inner.as_str()).count(), 1, "{text}");
    }
}

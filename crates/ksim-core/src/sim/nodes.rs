//! Nodes that come and go: controllers' actions on nodes and replicas,
//! validated by the model, sent through the control plane when there is
//! one, and applied; provisioning; per-pool node-hours.

use super::{Event, PodStep, Simulation};
use crate::cluster::{NodeState, NEVER};
use crate::config::SimConfig;
use crate::control_plane::config::ApiRequest;
use crate::control_plane::Write;
use crate::controller::{Action, Subscriptions};
use crate::ids::{NodeId, PodId, PoolId, NO_NODE};
use crate::pod_phase::PodPhase;
use crate::rng::{RngStreams, SimRng};
use crate::taints::ControllerTaint;
use crate::time::{SimDuration, SimTime};

/// How long a client waits before retrying a write the store refused.
const REFUSED_RETRY: SimDuration = SimDuration::from_secs(10);

/// Per pool: how many nodes it has and has had, for controllers and cost.
pub(super) struct NodeBook {
    /// Nodes in the cluster (every state but Deleted), per pool.
    pub(super) pool_live: Vec<u32>,
    /// Node-nanoseconds each pool's nodes lived, up to `since`.
    node_nanos: Vec<u128>,
    since: Vec<SimTime>,
    /// Per pool, the stream its provisioning delays come from.
    provisioning_rngs: Vec<SimRng>,
    /// Actions waiting for their API write, by slot; `None` marks a free slot.
    in_flight: Vec<Option<Action>>,
    free_slots: Vec<u32>,
    pub(super) nodes_added: u64,
    pub(super) nodes_deleted: u64,
}

impl NodeBook {
    pub(super) fn new(config: &SimConfig, streams: &RngStreams) -> Self {
        let pools = config.node_pools.len();
        NodeBook {
            pool_live: config.node_pools.iter().map(|p| p.count).collect(),
            node_nanos: vec![0; pools],
            since: vec![SimTime::ZERO; pools],
            provisioning_rngs: config
                .node_pools
                .iter()
                .map(|p| streams.stream(&format!("pool/{}/provisioning", p.name)))
                .collect(),
            in_flight: Vec::new(),
            free_slots: Vec::new(),
            nodes_added: 0,
            nodes_deleted: 0,
        }
    }

    /// Counts the pool's node-time up to `now`, then changes its size.
    fn resize(&mut self, pool: PoolId, now: SimTime, add: bool) {
        let p = pool as usize;
        self.node_nanos[p] += u128::from(self.pool_live[p]) * u128::from((now - self.since[p]).0);
        self.since[p] = now;
        let live = &mut self.pool_live[p];
        *live = if add {
            live.checked_add(1).expect("pools hold at most u32 nodes")
        } else {
            live.checked_sub(1).expect("a deleted node was counted")
        };
    }

    /// Node-hours of each pool up to `now`.
    pub(super) fn node_hours(&self, now: SimTime) -> Vec<f64> {
        (0..self.pool_live.len())
            .map(|p| {
                let span = u128::from((now - self.since[p]).0);
                let nanos = self.node_nanos[p] + u128::from(self.pool_live[p]) * span;
                nanos as f64 / 3.6e12
            })
            .collect()
    }

    fn park(&mut self, action: Action) -> u32 {
        match self.free_slots.pop() {
            Some(slot) => {
                self.in_flight[slot as usize] = Some(action);
                slot
            }
            None => {
                self.in_flight.push(Some(action));
                (self.in_flight.len() - 1) as u32
            }
        }
    }
}

impl Simulation {
    /// A controller's action: refused when the model does not allow it,
    /// otherwise applied, at once or once its API write is stored.
    pub(super) fn request_action(&mut self, now: SimTime, action: Action) {
        if !self.action_allowed(&action) {
            self.controllers.refused += 1;
            return;
        }
        self.controllers.applied += 1;
        match action {
            // Creating nodes is a cloud-provider call; the API write comes
            // when each node's kubelet registers it.
            Action::AddNodes { pool, count } => self.add_nodes(now, pool, count),
            // The kill is the kubelet's own; the API learns of it from the
            // pod's status write.
            Action::KubeletEvict { pod } => self.kubelet_evict(now, pod),
            // A node not registered yet has no object to delete: removing
            // its machine is a cloud-provider call.
            Action::Delete { node }
                if self.cluster.nodes.state(node) == NodeState::Provisioning =>
            {
                self.apply_action(now, action)
            }
            _ if self.control_plane.is_some() => {
                let slot = self.node_book.park(action);
                self.send_action_write(now, slot);
            }
            _ => self.apply_action(now, action),
        }
    }

    fn action_allowed(&self, action: &Action) -> bool {
        let state = |node: NodeId| {
            ((node as usize) < self.cluster.nodes.len()).then(|| self.cluster.nodes.state(node))
        };
        match *action {
            Action::SetReplicas { workload, .. } => self
                .config
                .workloads
                .get(workload as usize)
                .is_some_and(|w| matches!(w.kind, crate::config::WorkloadKind::Deployment(_))),
            Action::AddNodes { pool, count } => {
                self.config.node_pools.get(pool as usize).is_some_and(|p| {
                    count > 0
                        && u64::from(self.node_book.pool_live[pool as usize]) + u64::from(count)
                            <= u64::from(p.max)
                })
            }
            Action::Cordon { node } => state(node) == Some(NodeState::Ready),
            Action::Uncordon { node } => state(node) == Some(NodeState::Cordoned),
            Action::Delete { node } => state(node).is_some_and(|s| s != NodeState::Deleted),
            Action::Drain { node } => {
                state(node).is_some_and(NodeState::is_registered)
                    && self.cluster.nodes.admin_state(node) != NodeState::Draining
            }
            Action::Taint { node, taint } => self.carries(node, taint) == Some(false),
            Action::Untaint { node, taint } => self.carries(node, taint) == Some(true),
            Action::KubeletEvict { pod } => {
                self.pods.phase.get(pod as usize).is_some_and(|&phase| {
                    phase == PodPhase::Running
                        && self.pods.finished[pod as usize] == NEVER
                        && !self.pods.deleting[pod as usize]
                })
            }
        }
    }

    /// Whether a registered node carries a controller taint; None for a node
    /// not registered (or no node at all).
    fn carries(&self, node: NodeId, taint: ControllerTaint) -> Option<bool> {
        let nodes = &self.cluster.nodes;
        ((node as usize) < nodes.len() && nodes.state(node).is_registered())
            .then(|| nodes.controller_taints(node).contains(taint))
    }

    fn send_action_write(&mut self, now: SimTime, slot: u32) {
        let action = self.node_book.in_flight[slot as usize].expect("a parked action");
        let request = match action {
            // A drain starts with its cordon; its evictions are writes of their own.
            Action::Cordon { .. }
            | Action::Uncordon { .. }
            | Action::Drain { .. }
            | Action::Taint { .. }
            | Action::Untaint { .. } => ApiRequest::NodePatch,
            Action::Delete { .. } => ApiRequest::NodeDelete,
            // The scale subresource; the ReplicaSet acts once it is stored.
            Action::SetReplicas { .. } => ApiRequest::ScaleUpdate,
            Action::AddNodes { .. } | Action::KubeletEvict { .. } => {
                unreachable!("sent without a parked write")
            }
        };
        let control_plane = self.control_plane.as_mut().expect("a control plane");
        match control_plane.write(now, request, 0) {
            Write::Acked(at) => self.schedule(at, Event::ActionAcked { slot }),
            Write::Throttled(at) => self.schedule(at, Event::ActionRetry { slot }),
            Write::Refused(_) => self.schedule(now + REFUSED_RETRY, Event::ActionRetry { slot }),
        }
    }

    pub(super) fn action_retry(&mut self, now: SimTime, slot: u32) {
        self.send_action_write(now, slot);
    }

    pub(super) fn action_acked(&mut self, now: SimTime, slot: u32) {
        let action = self.node_book.in_flight[slot as usize]
            .take()
            .expect("an action acknowledged once");
        self.node_book.free_slots.push(slot);
        // The cluster may have moved on while the write was in flight.
        if self.action_allowed(&action) {
            self.apply_action(now, action);
        } else {
            self.controllers.refused += 1;
        }
    }

    fn apply_action(&mut self, now: SimTime, action: Action) {
        match action {
            Action::SetReplicas { workload, replicas } => {
                self.set_desired_replicas(now, workload, replicas)
            }
            Action::AddNodes { pool, count } => self.add_nodes(now, pool, count),
            Action::Cordon { node } => self.set_node_admin(now, node, NodeState::Cordoned),
            Action::Uncordon { node } => self.set_node_admin(now, node, NodeState::Ready),
            Action::Delete { node } => self.delete_node(now, node),
            Action::Drain { node } => self.start_drain(now, node),
            Action::Taint { node, taint } => self.set_node_taint(now, node, taint, true),
            Action::Untaint { node, taint } => self.set_node_taint(now, node, taint, false),
            Action::KubeletEvict { pod } => self.kubelet_evict(now, pod),
        }
    }

    /// A kubelet kills a pod for node pressure and reports it Failed.
    fn kubelet_evict(&mut self, now: SimTime, pod: PodId) {
        if self.control_plane.is_some() {
            self.send_pod_write(now, pod, PodStep::Ended { failed: true });
        } else {
            self.end_pod(now, pod, PodPhase::Failed);
        }
    }

    /// A node write of the model's own (a finished drain's `delete nodes`),
    /// applied when stored like a controller's, but not counted as one.
    pub(super) fn send_node_delete(&mut self, now: SimTime, action: Action) {
        let slot = self.node_book.park(action);
        self.send_action_write(now, slot);
    }

    /// New nodes of `pool`, Provisioning until their delay has passed.
    fn add_nodes(&mut self, now: SimTime, pool: PoolId, count: u32) {
        for _ in 0..count {
            let Some(node) = self.cluster.try_add_node(pool, false) else {
                self.controllers.refused += 1;
                return;
            };
            self.nodes.add_node();
            self.node_book.resize(pool, now, true);
            self.node_book.nodes_added += 1;
            let delay = &self.config.node_pools[pool as usize].provisioning_delay;
            let rng = &mut self.node_book.provisioning_rngs[pool as usize];
            let ready_at = now + SimDuration(delay.sample(rng));
            self.schedule(ready_at, Event::NodeProvisioned { node });
        }
    }

    /// The node's machine is up and its kubelet registers the node object.
    pub(super) fn node_provisioned(&mut self, now: SimTime, node: NodeId) {
        if self.cluster.nodes.state(node) != NodeState::Provisioning {
            return; // deleted while provisioning
        }
        if self.control_plane.is_none() {
            return self.register_node(now, node);
        }
        let control_plane = self.control_plane.as_mut().expect("checked");
        match control_plane.write(now, ApiRequest::NodeCreate, 0) {
            Write::Acked(at) => self.schedule(at, Event::NodeRegistered { node }),
            Write::Throttled(at) => self.schedule(at, Event::NodeProvisioned { node }),
            Write::Refused(_) => {
                self.schedule(now + REFUSED_RETRY, Event::NodeProvisioned { node })
            }
        }
    }

    pub(super) fn register_node(&mut self, now: SimTime, node: NodeId) {
        if self.cluster.nodes.state(node) == NodeState::Deleted {
            if self.control_plane.is_some() {
                // Its registration was stored after its machine was removed:
                // the cloud node-lifecycle controller deletes the orphan object.
                self.defer_write(ApiRequest::NodeDelete, 1, 0);
                self.control_plane
                    .as_mut()
                    .expect("checked")
                    .node_object_deleted();
            }
            return;
        }
        if self.cluster.nodes.state(node) != NodeState::Provisioning {
            return;
        }
        self.cluster.register_node(node);
        let pool = self.cluster.nodes.pool[node as usize] as usize;
        self.allocatable_total
            .add_assign(&self.cluster.pools[pool].allocatable);
        self.placement.node_changed(&self.cluster, node);
        self.note_nodes_alive(now);
        self.queue.on_node_change(now, &mut self.wake_ups);
        self.schedule_wake_ups();
        self.notify_controllers(now, Subscriptions::NODE_READY);
        self.update_zones(now);
    }

    fn set_node_admin(&mut self, now: SimTime, node: NodeId, to: NodeState) {
        self.cluster.set_admin_state(node, to);
        self.placement.node_changed(&self.cluster, node);
        if to == NodeState::Ready {
            self.queue.on_node_change(now, &mut self.wake_ups);
            self.schedule_wake_ups();
        }
    }

    /// Puts a controller taint on the node or takes it off. Pods already
    /// there stay (the registry's taints are NoSchedule or PreferNoSchedule);
    /// taking one off may let waiting pods in, as an uncordon does.
    fn set_node_taint(&mut self, now: SimTime, node: NodeId, taint: ControllerTaint, on: bool) {
        self.cluster.set_controller_taint(node, taint, on);
        self.placement.node_changed(&self.cluster, node);
        if !on {
            self.queue.on_node_change(now, &mut self.wake_ups);
            self.schedule_wake_ups();
        }
    }

    /// Deletes a node now: its bound pods are lost (Failed; a deployment
    /// replaces them), its lease stops. A pod the scheduler only assumed
    /// there fails its binding when its cycle ends.
    pub(super) fn delete_node(&mut self, now: SimTime, node: NodeId) {
        // First, so the pods ended below do not finish the drain again.
        self.forget_drain(node);
        for pod in self.nodes.pods.pods_of(node) {
            let p = pod as usize;
            if self.pods.bound[p] != crate::cluster::NEVER
                && self.pods.finished[p] == crate::cluster::NEVER
            {
                if self.pods.phase[p] == PodPhase::Running {
                    // The pod garbage collector marks the orphan Failed;
                    // ending it deletes the object (`note_pod_ended`).
                    self.defer_write(ApiRequest::PodStatus, 1, 0);
                }
                self.end_pod(now, pod, PodPhase::Failed);
            }
        }
        let pool = self.cluster.nodes.pool[node as usize];
        let was_registered = self.cluster.nodes.state(node).is_registered();
        self.cluster.delete_node(node);
        self.placement.node_changed(&self.cluster, node);
        self.nodes.forget(node);
        self.node_book.resize(pool, now, false);
        self.node_book.nodes_deleted += 1;
        if was_registered {
            if let Some(control_plane) = &mut self.control_plane {
                control_plane.node_object_deleted();
            }
            self.allocatable_total
                .sub_assign(&self.cluster.pools[pool as usize].allocatable);
            self.note_nodes_alive(now);
            self.update_zones(now);
        }
    }

    /// True when a pod assumed on `node` cannot be bound there any more.
    pub(super) fn node_gone(&self, node: NodeId) -> bool {
        node != NO_NODE && self.cluster.nodes.state(node) == NodeState::Deleted
    }
}

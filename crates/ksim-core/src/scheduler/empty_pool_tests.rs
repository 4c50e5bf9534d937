//! Empty pools change nothing: a cluster whose pools are interleaved with
//! many pools without nodes (autoscaler node groups, instance types not in
//! use) places every pod on the same node, draws the same random numbers
//! and diagnoses failures alike, in both modes, as the cluster without them.

use super::testutil::{anti, build, label, pool, req, template, with_taints};
use super::{Placement, PlacementResult};
use crate::cluster::{ClusterState, NodeState};
use crate::config::{
    NodePoolSpec, PodTemplate, SchedulerConfig, SchedulerMode, ScoringStrategy, Taint, TaintEffect,
};
use crate::ids::{NodeId, PoolId};
use crate::resources::{ResourceVec, FIRST_EXTENDED};
use crate::rng::{RngStreams, SimRng};
use crate::taints::ControllerTaint;
use proptest::prelude::*;

/// Plain, pinned to pool p0 (which empty pools may also be labelled as),
/// and anti-affine to its own kind.
fn templates() -> Vec<PodTemplate> {
    let mut pinned = template(&[("app", "pinned")]);
    pinned.node_selector = vec![label("pool", "p0")];
    vec![
        template(&[("app", "plain")]),
        pinned,
        anti(template(&[("app", "solo")]), &[("app", "solo")]),
    ]
}

/// A pool with nodes: cpu cores, memory (thousands of bytes), a zone, and
/// whether it carries a PreferNoSchedule taint.
type Shape = (u64, u64, u8, bool);

/// An empty pool: cpu, memory, gpus, whether it is labelled as p0, and
/// whether it is tainted NoSchedule.
type EmptyShape = (u64, u64, u64, bool, bool);

fn spec(name: &str, labelled: &str, cpu: u64, memory: u64, zone: u8) -> NodePoolSpec {
    let mut p = pool(labelled, 0, cpu * 1000, memory * 1000, 8);
    p.name = name.into();
    p.max = 1000;
    p.labels
        .push(label("topology.kubernetes.io/zone", &format!("z{zone}")));
    p
}

fn taint(effect: TaintEffect) -> Taint {
    Taint {
        key: "t".into(),
        value: String::new(),
        effect,
    }
}

/// The pools with nodes, each preceded by its empty pools when `padding`
/// is given; returns the specs and the id of each pool with nodes.
fn pools(shapes: &[Shape], padding: Option<&[Vec<EmptyShape>]>) -> (Vec<NodePoolSpec>, Vec<u32>) {
    let mut specs = Vec::new();
    let mut ids = Vec::new();
    for (i, &(cpu, memory, zone, tainted)) in shapes.iter().enumerate() {
        for (j, &(cpu, memory, gpus, as_p0, tainted)) in
            padding.map_or(&[][..], |p| &p[i]).iter().enumerate()
        {
            let labelled = if as_p0 { "p0" } else { "empty" };
            let mut p = spec(&format!("e{i}-{j}"), labelled, cpu, memory, 9);
            p.allocatable.0[FIRST_EXTENDED] = gpus;
            if tainted {
                p = with_taints(p, vec![taint(TaintEffect::NoSchedule)]);
            }
            specs.push(p);
        }
        ids.push(specs.len() as u32);
        let mut p = spec(&format!("p{i}"), &format!("p{i}"), cpu, memory, zone);
        if tainted {
            p = with_taints(p, vec![taint(TaintEffect::PreferNoSchedule)]);
        }
        specs.push(p);
    }
    (specs, ids)
}

#[derive(Clone, Debug)]
enum Op {
    Place {
        template: u32,
        cpu: u64,
        memory: u64,
        gpu: u64,
    },
    SetReady {
        node: usize,
        ready: bool,
    },
    AddNode {
        pool: usize,
        registered: bool,
    },
    Register {
        node: usize,
    },
    Delete {
        node: usize,
    },
    Taint {
        node: usize,
        taint: usize,
        on: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3u32, 0..5000u64, 0..5000u64, prop_oneof![4 => Just(0u64), 1 => Just(1u64)])
            .prop_map(|(template, cpu, memory, gpu)| Op::Place { template, cpu, memory, gpu }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(node, ready)| Op::SetReady { node, ready }),
        1 => (any::<usize>(), any::<bool>())
            .prop_map(|(pool, registered)| Op::AddNode { pool, registered }),
        1 => any::<usize>().prop_map(|node| Op::Register { node }),
        1 => any::<usize>().prop_map(|node| Op::Delete { node }),
        1 => (any::<usize>(), 0..ControllerTaint::COUNT, any::<bool>())
            .prop_map(|(node, taint, on)| Op::Taint { node, taint, on }),
    ]
}

/// One cluster and its scheduler; `ids` maps a pool with nodes to its id.
struct World {
    cluster: ClusterState,
    ids: Vec<u32>,
    placement: Placement,
    rng: SimRng,
    /// Pods bound so far per node: a node is deleted only when empty.
    pods: Vec<u32>,
}

impl World {
    fn new(
        specs: &[NodePoolSpec],
        ids: Vec<u32>,
        nodes: &[usize],
        config: &SchedulerConfig,
    ) -> Self {
        let mut cluster = build(specs, &templates());
        for &p in nodes {
            cluster.add_node(ids[p % ids.len()], true);
        }
        World {
            placement: Placement::new(config, &cluster),
            pods: vec![0; cluster.nodes.len()],
            cluster,
            ids,
            rng: RngStreams::new(11).stream("scheduler"),
        }
    }

    fn place(&mut self, template: u32, requests: &ResourceVec) -> PlacementResult {
        let result = self
            .placement
            .place(&self.cluster, template, requests, &mut self.rng);
        if let Some(node) = result.node {
            self.cluster.assign(template, requests, node);
            self.pods[node as usize] += 1;
            self.placement.node_changed(&self.cluster, node);
        }
        result
    }

    /// Applies a cluster change; both worlds see the same node ids.
    fn apply(&mut self, op: &Op) {
        let count = self.cluster.nodes.len();
        let pick = |node: usize| (count > 0).then(|| (node % count) as NodeId);
        let state = |node: NodeId| self.cluster.nodes.state(node);
        let changed = match *op {
            Op::SetReady { node, ready } => pick(node)
                .filter(|&n| state(n).is_registered())
                .inspect(|&n| self.cluster.set_ready(n, ready)),
            Op::AddNode { pool, registered } => {
                let id: PoolId = self.ids[pool % self.ids.len()];
                self.pods.push(0);
                Some(self.cluster.add_node(id, registered))
            }
            Op::Register { node } => pick(node)
                .filter(|&n| state(n) == NodeState::Provisioning)
                .inspect(|&n| self.cluster.register_node(n)),
            Op::Delete { node } => pick(node)
                .filter(|&n| state(n) != NodeState::Deleted && self.pods[n as usize] == 0)
                .inspect(|&n| self.cluster.delete_node(n)),
            Op::Taint { node, taint, on } => pick(node)
                .filter(|&n| state(n).is_registered())
                .inspect(|&n| {
                    self.cluster
                        .set_controller_taint(n, ControllerTaint::ALL[taint], on)
                }),
            Op::Place { .. } => None,
        };
        if let Some(node) = changed {
            self.placement.node_changed(&self.cluster, node);
        }
    }
}

fn config(mode: SchedulerMode, most_allocated: bool) -> SchedulerConfig {
    SchedulerConfig {
        mode,
        scoring: if most_allocated {
            ScoringStrategy::MostAllocated
        } else {
            ScoringStrategy::LeastAllocated
        },
        ..Default::default()
    }
}

fn empty_shape() -> impl Strategy<Value = EmptyShape> {
    (1..20u64, 1..20u64, 0..2u64, any::<bool>(), any::<bool>())
}

proptest! {
    #[test]
    fn empty_pools_change_no_placement_and_no_diagnosis(
        shapes in prop::collection::vec((1..9u64, 1..9u64, 0..3u8, any::<bool>()), 1..4),
        padding in prop::collection::vec(prop::collection::vec(empty_shape(), 0..30), 4),
        nodes in prop::collection::vec(any::<usize>(), 0..40),
        ops in prop::collection::vec(op(), 1..60),
        fast in any::<bool>(),
        most_allocated in any::<bool>(),
    ) {
        let mode = if fast { SchedulerMode::Fast } else { SchedulerMode::Kube };
        let config = config(mode, most_allocated);
        let (bare, bare_ids) = pools(&shapes, None);
        let (padded, padded_ids) = pools(&shapes, Some(&padding));
        let mut without = World::new(&bare, bare_ids, &nodes, &config);
        let mut with = World::new(&padded, padded_ids, &nodes, &config);
        for op in &ops {
            if let Op::Place { template, cpu, memory, gpu } = *op {
                let mut r = req(cpu, memory);
                r.0[FIRST_EXTENDED] = gpu;
                prop_assert_eq!(with.place(template, &r), without.place(template, &r));
                prop_assert_eq!(&with.rng, &without.rng);
            } else {
                with.apply(op);
                without.apply(op);
            }
            prop_assert_eq!(with.cluster.nodes.nonempty_pools().len(),
                without.cluster.nodes.nonempty_pools().len());
        }
    }
}

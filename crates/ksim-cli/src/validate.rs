//! `ksim validate`, and scenario loading shared with `ksim run`.

use anyhow::{anyhow, Result};
use ksim_core::autoscale::hpa::{
    HpaSpec, MetricSpec, ResourceName, ResourceTarget, ScalingRules, SelectPolicy, ValueTarget,
};
use ksim_core::autoscale::keda::{KedaMetric, KedaSpec};
use ksim_core::config::{
    Autoscaler, ChangeAction, NodeAutoscaler, NodePoolSpec, ScheduledChange, SchedulerMode,
    SimConfig, WorkloadKind, WorkloadSpec,
};
use ksim_core::control_plane::config::{ApiKind, ControlPlaneConfig};
use ksim_core::distribution::Distribution;
use ksim_core::estimate::estimate_memory;
use ksim_core::load::{LoadShape, LoadSpec};
use ksim_core::store::StoreConfig;
use ksim_core::time::{SimDuration, SimTime};
use ksim_core::usage::UsageModel;
use ksim_scenario::Scenario;
use std::path::Path;

/// Loads a scenario; on failure prints every problem on its own line.
pub fn load(path: &Path) -> Result<Scenario> {
    ksim_scenario::load(path).map_err(|err| {
        crate::console::eprint_lines(&err.problems);
        let count = err.problems.len();
        anyhow!(
            "{}: {count} problem{} in the scenario",
            path.display(),
            if count == 1 { "" } else { "s" }
        )
    })
}

/// What ksim models today, as printed by `ksim validate`.
const MODELLED: &[&str] = &[
    "node pools: allocatable cpu, memory, ephemeral-storage, max pods, extended resources, labels, taints",
    "pods: requests, priority, nodeSelector, required node affinity, tolerations, required pod anti-affinity (hostname)",
    "workloads: deployments (replicas created at start; with pod_lifetime, lost pods are replaced), jobs (constant, Poisson or scheduled arrivals, duration distributions)",
    "kube-scheduler: filters in upstream order, LeastAllocated/MostAllocated + BalancedAllocation + TaintToleration scoring, \
     adaptive percentageOfNodesToScore with round-robin start, random tie-break, priority queue, backoff 1s..10s, \
     unschedulable pods requeued on cluster changes and flushed after 5 min",
    "fast scheduler mode: same filters through an index over free capacity",
    "scheduling cost: per-pod base plus per-node-evaluated simulated time",
    "node failures at scenario times or at a random rate: lease expiry after the grace period, unreachable taints (NoExecute rate-limited \
     per zone), eviction after the default 300 s toleration, replacement of deployment pods, recovery; zone disruption modes \
     (a partially disrupted zone at the secondary rate, no evictions when every zone is fully disrupted)",
    "a living cluster: pools bounded by min and max with a price and a provisioning delay (node-hours and cost per pool); scripted \
     [[changes]] (scale a deployment; add, delete, drain, cordon, uncordon nodes) applied by the scripted-changes controller; \
     desired replicas with upstream's ReplicaSet deletion order; readiness delays; graceful termination; drains evicting \
     through PodDisruptionBudgets, then deleting the node",
    "workload load and usage: constant, steps, ramp, diurnal and rate-series loads with Poisson noise; request-driven \
     services as a fluid queue (capacity, queue limit, drops, latency; cpu and memory from the requests served and in \
     flight); execution workers as events (max concurrent per worker, a shared FIFO queue, requeue when a worker goes, \
     cold starts), or as a fluid above fluid_above_per_s; metrics-server scrapes every metrics_resolution, custom and external metrics read when polled",
    "workload autoscalers: the HPA (autoscaling/v2: upstream's replica calculator with its tolerance, readiness and \
     missing-metric rules; Resource, Pods, Object and External metrics; behavior policies and stabilization, or the \
     legacy rules without behavior); KEDA-style ScaledObjects (activation, scale to and from zero after the cooldown, \
     idle replicas, and their HPA on External AverageValue metrics); decisions.csv explains each decision",
    "controller taints for autoscalers (ToBeDeletedByClusterAutoscaler, DeletionCandidateOfClusterAutoscaler, \
     karpenter.sh/disrupted): filtered and scored by the scheduler as a pool's taints, tolerated by pods' \
     tolerations; no scenario key sets them (controllers do)",
    "Cluster Autoscaler ([cluster_autoscaler], upstream's flag defaults): scale-up for unschedulable pods \
     (filter-out-schedulable onto existing and upcoming nodes, bin-packing estimate, group max, max_nodes_total, \
     cores and memory caps, expanders random/most-pods/least-waste/price/priority and chains, back-off after \
     nodes that do not register in time); scale-down of nodes under the utilization threshold (DaemonSets \
     counted) whose pods can move (simulated rescheduling; bare pods, local storage, safe-to-evict=false and \
     exhausted PodDisruptionBudgets block), after the unneeded time and outside the delays, empty nodes in \
     bulk, one drain at a time, never below a group's min; pods no group fits are reported, never scaled for",
];

/// What the control plane model covers, printed when a scenario turns it on.
const CONTROL_PLANE_MODELLED: &str =
    "control plane: pod create, binding and status writes through the apiservers' mutating in-flight \
     limit (429, retried after Retry-After) into raft stores routed per kind, each step waiting for \
     its write, so scheduling and startup latency include them; a store's NOSPACE alarm refusing \
     writes; node leases, node status, events, pod deletes and EndpointSlice updates counted \
     exactly per tick and written as background load under the same limit; node reads served by \
     the watch cache; watch-cache ingest and fan-out to controllers, kubelets and kube-proxies; \
     compaction and event TTL; bottlenecks ranked by demand over capacity; lease renewals refused \
     or acknowledged past the grace period make their cohort of nodes NotReady; controller actions \
     (node create, delete and patch, evictions, the scale subresource) as writes that take effect \
     when stored";

/// What the session model covers and leaves out, printed when a scenario
/// has session workloads (`docs/models/sessions.md`).
const SESSIONS_MODELLED: &str =
    "interactive sessions: users arrive as a non-homogeneous Poisson process at the load's rate \
     (users per second); each gets a dedicated pod of the template and waits first come, first \
     served (kube-scheduler's order by priority and queue time, each user's pods keeping their \
     first place); a session of the drawn length once the pod runs; users leave when their \
     patience runs out before their pod starts; a session ended by a node failure, eviction or \
     drain puts its user back ahead of later users (no patience limit then) with a fresh \
     length; GPU-hours (nvidia.com/gpu) used by sessions against those the pools bill";
const SESSIONS_NOT_MODELLED: &str =
    "sessions: migration of a live session, GPU sharing (MIG, time-slicing), warm pools of \
     pre-started pods, a broker noticing a dead node before Kubernetes ends the pod";

/// What ksim does not model yet; scenario keys for these do not exist, so nothing is silently ignored.
const NOT_MODELLED: &[&str] = &[
    "control plane: API Priority and Fairness (only the max-inflight limits); client-side QPS limits \
     and client-go's retry cap; request timeouts (a lease renewal is acknowledged however late); \
     the node-lifecycle controller's taint writes; LIST requests, informer relists and watch \
     bookmarks; reads reaching the store; apiserver CPU and memory, admission webhooks; the effect of saturated \
     watches; store member failures and leader elections; kubelet start delays and image pulls",
    "node pressure: PID and inode signals, imagefs, soft thresholds and minimum reclaim, image \
     garbage collection before eviction, the out-of-memory kill at a memory limit (use stays at the \
     limit); pod deletion by users; PodDisruptionBudgets' \
     unhealthyPodEvictionPolicy (IfHealthyBudget only) and the cost of a refused eviction; \
     the deployment controller's ReplicaSet writes after a scale (the scale \
     subresource write itself is costed)",
    "preemption; PodTopologySpread (including its default constraints); preferred affinity; inter-pod affinity; \
     anti-affinity on topologies other than kubernetes.io/hostname",
    "volumes, host ports, image locality (DaemonSets only as requests taken from each node's \
     allocatable)",
    "Cluster Autoscaler: balancing similar node groups, node group auto-provisioning, the min of \
     --cores-total and --memory-total, scale-down of unready nodes, the soft \
     DeletionCandidate taint, parallel drains; Karpenter: multi-node consolidation, drift, budget \
     schedules, NodePool weights, labels and taints, anti-affinity when packing; KEDA's fallback, scaling modifiers, pause and \
     ScaledJobs; HPA ContainerResource metrics; request-level queueing below a service's capacity (a \
     fluid, not M/M/c)",
];

pub fn validate(path: &Path) -> Result<()> {
    let scenario = load(path)?;
    let config = &scenario.config;
    println!("{}: ok", path.display());
    describe(config);
    if let Some(trace) = &scenario.trace {
        // Its pods, templates and node pools join at `ksim run`, after a
        // first pass over the file (`ksim trace inspect` shows them).
        println!(
            "trace: {} `{}` (pods and templates are read at run time; see ksim trace inspect)",
            trace.format.name(),
            trace.path.display()
        );
    }
    for warning in &scenario.warnings {
        println!("warning: {warning}");
    }
    println!("modelled:");
    MODELLED.iter().for_each(|m| println!("  - {m}"));
    if config.control_plane.is_some() {
        println!("  - {CONTROL_PLANE_MODELLED}");
    }
    let sessions = has_sessions(config);
    if sessions {
        println!("  - {SESSIONS_MODELLED}");
    }
    println!("not modelled (no keys exist for these):");
    NOT_MODELLED.iter().for_each(|m| println!("  - {m}"));
    if sessions {
        println!("  - {SESSIONS_NOT_MODELLED}");
    }
    Ok(())
}

fn describe(config: &SimConfig) {
    let estimate = estimate_memory(config);
    println!(
        "scenario `{}`: seed {}, {:.0} s simulated, samples every {:.0} s",
        config.name,
        config.seed,
        config.end.as_secs_f64(),
        config.sample_interval.as_secs_f64()
    );
    println!(
        "node pools: {} ({} nodes at start, at most {})",
        config.node_pools.len(),
        config.nodes_total(),
        config.nodes_max_total()
    );
    for (index, pool) in config.node_pools.iter().enumerate() {
        println!("  {}", describe_pool(config, index, pool));
    }
    describe_changes(config);
    describe_node_autoscaler(config);
    let count =
        |kind: fn(&WorkloadKind) -> bool| config.workloads.iter().filter(|w| kind(&w.kind)).count();
    let sessions = count(|k| matches!(k, WorkloadKind::Session(_)));
    println!(
        "workloads: {} ({} deployments, {} jobs{}), about {} pods expected",
        config.workloads.len(),
        count(|k| matches!(k, WorkloadKind::Deployment(_))),
        count(|k| matches!(k, WorkloadKind::Job(_))),
        if sessions > 0 {
            format!(", {sessions} session workloads")
        } else {
            String::new()
        },
        estimate.expected_pods
    );
    describe_sessions(config);
    describe_models(config);
    describe_node_pressure(config);
    let mode = match config.scheduler.mode {
        SchedulerMode::Kube => "kube",
        SchedulerMode::Fast => "fast",
    };
    println!("scheduler: {mode} mode, {:?}", config.scheduler.scoring);
    println!(
        "estimated memory: {:.1} MiB (about {} pods, {} events pending at once, {} timeline rows)",
        estimate.bytes as f64 / (1u64 << 20) as f64,
        estimate.expected_pods,
        estimate.pending_events,
        estimate.timeline_rows
    );
    match &config.control_plane {
        Some(control_plane) => describe_control_plane(control_plane, config),
        None => println!(
            "control plane: not modelled (no [control_plane] section): API writes are instantaneous \
             and free, pods start the moment they are bound"
        ),
    }
}

fn describe_node_autoscaler(config: &SimConfig) {
    let ca = match &config.node_autoscaler {
        Some(NodeAutoscaler::ClusterAutoscaler(ca)) => ca,
        Some(NodeAutoscaler::Karpenter(k)) => return describe_karpenter(k),
        None => {
            println!("node autoscaler: none (pools change only by [[changes]])");
            return;
        }
    };
    let groups: Vec<&str> = ca
        .node_groups
        .iter()
        .map(|&p| config.node_pools[p as usize].name.as_str())
        .collect();
    let expander: Vec<&str> = ca.expander.iter().map(|e| e.name()).collect();
    println!(
        "node autoscaler: Cluster Autoscaler over {} ({}): scan every {}, expander {}, \
         scale-down {} (utilization under {} (GPU nodes {}) for {}; delays after add {}, delete \
         {}, failure {}; at most {} empty nodes at once, one drain at a time), max node \
         provision time {}",
        nodes_word(groups.len()),
        groups.join(", "),
        duration(ca.scan_interval),
        expander.join(","),
        if ca.scale_down_enabled { "on" } else { "off" },
        ca.scale_down_utilization_threshold,
        ca.scale_down_gpu_utilization_threshold,
        duration(ca.scale_down_unneeded_time),
        duration(ca.scale_down_delay_after_add),
        duration(ca.scale_down_delay_after_delete),
        duration(ca.scale_down_delay_after_failure),
        ca.max_scale_down_parallelism,
        duration(ca.max_node_provision_time),
    );
}

fn describe_karpenter(k: &ksim_core::autoscale::karpenter::settings::KarpenterSettings) {
    let node_pools: Vec<String> = k
        .node_pools
        .iter()
        .map(|np| format!("{} ({} offerings)", np.name, np.offerings.len()))
        .collect();
    println!(
        "node autoscaler: Karpenter-like provisioner over {} NodePool{} ({}): batches close \
         after {} idle or {} at most; disruption every 10s; spot interruptions {} per spot \
         node-hour",
        k.node_pools.len(),
        if k.node_pools.len() == 1 { "" } else { "s" },
        node_pools.join(", "),
        duration(k.batch_idle_duration),
        duration(k.batch_max_duration),
        k.spot_interruptions_per_hour,
    );
}

fn nodes_word(groups: usize) -> String {
    format!("{groups} node group{}", if groups == 1 { "" } else { "s" })
}

/// The metrics pipeline, and each workload's load, usage model and autoscaler.
fn describe_models(config: &SimConfig) {
    let modelled: Vec<&WorkloadSpec> = config
        .workloads
        .iter()
        .filter(|w| {
            let m = &w.model;
            m.load.is_some() || m.usage.is_some() || m.autoscaler.is_some()
        })
        .collect();
    if modelled.is_empty() {
        println!("load and autoscaling: none (no workload has a load, usage model or autoscaler)");
        return;
    }
    let a = &config.autoscaling;
    let h = &a.hpa;
    println!(
        "metrics pipeline: metrics-server scrapes every {}; HPA controller syncs every {}, \
         tolerance {}, cpu initialization period {}, initial readiness delay {}, downscale \
         stabilization {}",
        duration(a.metrics_resolution),
        duration(h.sync_period),
        h.tolerance,
        duration(h.cpu_initialization_period),
        duration(h.initial_readiness_delay),
        duration(h.downscale_stabilization)
    );
    for w in modelled {
        let m = &w.model;
        let parts: Vec<String> = [
            m.load.as_ref().map(describe_load),
            m.usage.as_ref().map(|u| describe_usage(u, m.load.as_ref())),
            m.autoscaler
                .as_ref()
                .map(|a| describe_autoscaler(config, a)),
        ]
        .into_iter()
        .flatten()
        .collect();
        println!("  workload `{}`: {}", w.name, parts.join("; "));
    }
}

/// The kubelets' eviction managers, or why pressure never comes.
fn describe_node_pressure(config: &SimConfig) {
    let outgrow: Vec<&str> = config
        .workloads
        .iter()
        .filter(|w| w.model.usage.is_some() || w.template.ephemeral_storage_write_bytes_per_s > 0)
        .map(|w| w.name.as_str())
        .collect();
    if outgrow.is_empty() {
        println!(
            "node pressure: never (no workload has a usage model or an ephemeral-storage write \
             rate, so pods use exactly their requests, which fit allocatable)"
        );
        return;
    }
    println!(
        "node pressure: kubelet eviction every 10 s (hard thresholds memory.available<100Mi and \
         nodefs.available<10%, which allocatable excludes: a signal is met when pods use more than \
         allocatable), MemoryPressure/DiskPressure taints held 5 min after the last observation, \
         one pod evicted per node per pass in upstream's order, pods above their ephemeral-storage \
         limit evicted; pods that can outgrow their requests: {}",
        outgrow.join(", ")
    );
}

fn has_sessions(config: &SimConfig) -> bool {
    config
        .workloads
        .iter()
        .any(|w| matches!(w.kind, WorkloadKind::Session(_)))
}

/// Each session workload: its users' arrivals, sessions and patience.
fn describe_sessions(config: &SimConfig) {
    for w in &config.workloads {
        let WorkloadKind::Session(s) = &w.kind else {
            continue;
        };
        let arrivals = describe_load(&LoadSpec {
            shape: s.arrivals.clone(),
            noise_interval: None,
        });
        let at = |t: SimTime| duration(t - SimTime::ZERO);
        let window = match (s.start, s.stop) {
            (_, Some(stop)) => format!(" from {} to {}", at(s.start), at(stop)),
            (SimTime::ZERO, None) => String::new(),
            (start, None) => format!(" from {}", at(start)),
        };
        let patience = s.patience.as_ref().map_or("unlimited".to_string(), latency);
        println!(
            "  session workload `{}`: users arrive by {arrivals} (users/s){window}; \
             session length {}; patience {patience}",
            w.name,
            latency(&s.length)
        );
    }
}

fn describe_load(load: &LoadSpec) -> String {
    let shape = match &load.shape {
        LoadShape::Constant { rate_per_s } => format!("constant {rate_per_s}/s"),
        LoadShape::Steps(steps) => format!(
            "{}/s then {} step(s)",
            steps.before_per_s(),
            steps.points().len()
        ),
        LoadShape::Ramp {
            from_per_s,
            to_per_s,
            start,
            end,
        } => format!(
            "ramp {from_per_s}/s to {to_per_s}/s from {} to {}",
            duration(*start - SimTime::ZERO),
            duration(*end - SimTime::ZERO)
        ),
        LoadShape::Diurnal {
            min_per_s,
            max_per_s,
            period,
            peak_at,
        } => format!(
            "diurnal {min_per_s}/s to {max_per_s}/s, peak at {} every {}",
            duration(*peak_at),
            duration(*period)
        ),
        LoadShape::Series(series) => format!("rate series of {} points", series.points().len()),
    };
    match load.noise_interval {
        Some(bucket) => format!("load {shape}, Poisson noise per {}", duration(bucket)),
        None => format!("load {shape}"),
    }
}

fn describe_usage(usage: &UsageModel, load: Option<&LoadSpec>) -> String {
    match usage {
        UsageModel::Service(s) => format!(
            "service of {} requests/s per replica, {} per request",
            s.capacity_per_replica_per_s,
            nanos(s.service_time_s * 1e9)
        ),
        UsageModel::Executions(e) => {
            let peak = load.map_or(0.0, |l| l.shape.max_rate());
            let mode = if e.is_fluid(peak) {
                format!(
                    "as a fluid (peak {peak}/s above fluid_above_per_s {}/s)",
                    e.fluid_above_per_s
                )
            } else {
                format!(
                    "as events (peak {peak}/s, fluid above {}/s)",
                    e.fluid_above_per_s
                )
            };
            format!(
                "execution workers running {} at once, {} each, {mode}",
                e.max_concurrent,
                latency(&e.duration)
            )
        }
    }
}

fn describe_autoscaler(config: &SimConfig, autoscaler: &Autoscaler) -> String {
    match autoscaler {
        Autoscaler::Hpa(hpa) => describe_hpa(config, hpa),
        Autoscaler::Keda(keda) => describe_keda(config, keda),
    }
}

/// Ids were checked by the reader; a name is only printed.
fn workload_name(config: &SimConfig, id: u32) -> &str {
    config
        .workloads
        .get(id as usize)
        .map_or("?", |w| w.name.as_str())
}

fn describe_hpa(config: &SimConfig, hpa: &HpaSpec) -> String {
    let metrics: Vec<String> = hpa
        .metrics
        .iter()
        .map(|m| describe_metric(config, m))
        .collect();
    format!(
        "HPA {}..{} replicas on {}{}",
        hpa.min_replicas,
        hpa.max_replicas,
        metrics.join(", "),
        hpa.behavior.as_ref().map_or(String::new(), |b| format!(
            ", behavior up {} / down {}",
            describe_rules(&b.scale_up),
            describe_rules(&b.scale_down)
        ))
    )
}

/// A target kept in milli-units, as a plain number.
fn milli(value: i64) -> f64 {
    value as f64 / 1000.0
}

fn describe_metric(config: &SimConfig, metric: &MetricSpec) -> String {
    let name = |id| workload_name(config, id);
    let value = |target: &ValueTarget| match *target {
        ValueTarget::ValueMilli(v) => format!("{} in total", milli(v)),
        ValueTarget::AverageValueMilli(v) => format!("{} per replica", milli(v)),
    };
    match metric {
        MetricSpec::Resource {
            name: resource,
            target,
        } => {
            let resource = match resource {
                ResourceName::Cpu => "cpu",
                ResourceName::Memory => "memory",
            };
            match *target {
                ResourceTarget::Utilization(percent) => {
                    format!("{resource} at {percent}% of requests")
                }
                ResourceTarget::AverageValueMilli(v) if resource == "cpu" => {
                    format!("cpu {v}m per pod")
                }
                ResourceTarget::AverageValueMilli(v) => {
                    format!("memory {} per pod", bytes((v / 1000) as u64))
                }
            }
        }
        MetricSpec::Pods {
            metric,
            average_value_milli,
        } => format!(
            "{} {} per pod",
            metric.as_str(),
            milli(*average_value_milli)
        ),
        MetricSpec::Object {
            metric,
            workload,
            target,
        } => format!(
            "object {} of `{}` {}",
            metric.as_str(),
            name(*workload),
            value(target)
        ),
        MetricSpec::External {
            metric,
            workload,
            target,
        } => format!(
            "external {} of `{}` {}",
            metric.as_str(),
            name(*workload),
            value(target)
        ),
    }
}

fn describe_rules(rules: &ScalingRules) -> String {
    let select = match rules.select_policy {
        SelectPolicy::Max => "max",
        SelectPolicy::Min => "min",
        SelectPolicy::Disabled => "disabled",
    };
    let n = rules.policies.len();
    format!(
        "({select} of {n} {}, window {})",
        if n == 1 { "policy" } else { "policies" },
        duration(rules.stabilization_window)
    )
}

fn describe_keda(config: &SimConfig, keda: &KedaSpec) -> String {
    let name = |id| workload_name(config, id);
    let triggers: Vec<String> = keda
        .triggers
        .iter()
        .map(|t| match t.metric {
            KedaMetric::Resource {
                name,
                utilization: true,
            } => format!("{} at {}% of requests", name.as_str(), t.target),
            KedaMetric::Resource {
                name: ResourceName::Cpu,
                ..
            } => format!("cpu {}m per replica", t.target),
            KedaMetric::Resource { name, .. } => {
                format!("{} {} bytes per replica", name.as_str(), t.target)
            }
            KedaMetric::Custom(metric) => format!(
                "{} of `{}` {} per replica (active above {})",
                metric.as_str(),
                name(t.workload),
                t.target,
                t.activation_threshold
            ),
        })
        .collect();
    let idle = keda
        .idle_replicas
        .map_or(String::new(), |idle| format!(", {idle} while idle"));
    format!(
        "KEDA {}..{} replicas{idle}, polling every {}, cooldown {}, on {}",
        keda.min_replicas,
        keda.max_replicas,
        duration(keda.polling_interval),
        duration(keda.cooldown_period),
        triggers.join(", ")
    )
}

/// A pool's size bounds, price and provisioning delay, and whether its
/// nodes can change during the run (and why).
fn describe_pool(config: &SimConfig, index: usize, pool: &NodePoolSpec) -> String {
    let touching: Vec<String> = config
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.action.pool() == Some(index as u32))
        .map(|(i, _)| format!("#{i}"))
        .collect();
    // Only a controller resizes a pool; min and max bound what it may do.
    let id = index as u32;
    let autoscaled = match &config.node_autoscaler {
        Some(NodeAutoscaler::ClusterAutoscaler(ca)) => ca
            .node_groups
            .contains(&id)
            .then_some("a Cluster Autoscaler node group"),
        Some(NodeAutoscaler::Karpenter(k)) => k
            .node_pools
            .iter()
            .any(|np| np.offerings.iter().any(|o| o.pool == id))
            .then_some("an offering of a Karpenter NodePool"),
        None => None,
    };
    let can_change = if let Some(by) = autoscaled {
        by.to_string()
    } else if touching.is_empty() {
        "fixed (no controller resizes it)".to_string()
    } else {
        format!("can change (changes {})", touching.join(", "))
    };
    format!(
        "pool `{}`: {} at start, min {}, max {}, price {} per node-hour, provisioning delay {}; \
         {can_change}",
        pool.name,
        nodes(pool.count),
        pool.min,
        pool.max,
        pool.price_per_hour,
        latency(&pool.provisioning_delay)
    )
}

/// `1 node`, `2 nodes`.
fn nodes(n: u32) -> String {
    format!("{n} node{}", if n == 1 { "" } else { "s" })
}

/// The scripted changes, numbered as `describe_pool` refers to them.
fn describe_changes(config: &SimConfig) {
    if config.changes.is_empty() {
        println!("changes: none");
        return;
    }
    println!("changes: {}", config.changes.len());
    for (i, change) in config.changes.iter().enumerate() {
        println!("  #{i} {}", describe_change(config, change));
    }
}

fn describe_change(config: &SimConfig, change: &ScheduledChange) -> String {
    let when = match &change.repeat {
        None => format!("at {}", duration(change.at - SimTime::ZERO)),
        Some(r) => format!(
            "at {}, every {} until {}",
            duration(change.at - SimTime::ZERO),
            duration(r.every),
            duration(r.until - SimTime::ZERO)
        ),
    };
    // Ids were checked by SimConfig::check; a name is only printed.
    let pool = |p: u32| {
        config
            .node_pools
            .get(p as usize)
            .map_or("?", |p| p.name.as_str())
    };
    let workload_name = |w: u32| {
        config
            .workloads
            .get(w as usize)
            .map_or("?", |w| w.name.as_str())
    };
    let what = match change.action {
        ChangeAction::Scale { workload, replicas } => format!(
            "scale deployment `{}` to {replicas} replica{}",
            workload_name(workload),
            if replicas == 1 { "" } else { "s" }
        ),
        ChangeAction::AddNodes { pool: p, count } => {
            format!("add {} to pool `{}`", nodes(count), pool(p))
        }
        ChangeAction::DeleteNodes { pool: p, count } => {
            format!("delete {} of pool `{}`", nodes(count), pool(p))
        }
        ChangeAction::DrainNodes { pool: p, count } => {
            format!("drain {} of pool `{}`", nodes(count), pool(p))
        }
        ChangeAction::CordonNodes { pool: p, count } => {
            format!("cordon {} of pool `{}`", nodes(count), pool(p))
        }
        ChangeAction::UncordonNodes { pool: p, count } => {
            format!("uncordon {} of pool `{}`", nodes(count), pool(p))
        }
    };
    format!("{when}: {what}")
}

fn describe_control_plane(cp: &ControlPlaneConfig, config: &SimConfig) {
    let a = &cp.apiserver;
    println!(
        "control plane: {} apiserver replica{}, each at most {} mutating and {} read-only requests \
         in flight (rejected with 429, retried after {}), cache reads {}",
        a.replicas,
        if a.replicas == 1 { "" } else { "s" },
        a.max_mutating_inflight,
        a.max_readonly_inflight,
        duration(a.retry_after),
        duration(a.cache_read_latency)
    );
    println!(
        "  apiserver capacity per replica: watch cache {} events/s per kind, {} watch events/s sent, \
         network {}",
        a.watch_cache_events_per_s,
        a.watch_send_events_per_s,
        bandwidth(a.network_bytes_per_s)
    );
    for store in &cp.stores {
        println!(
            "  store `{}`: {}",
            store.name,
            describe_store(&store.config)
        );
    }
    let routing: Vec<String> = ApiKind::ALL
        .iter()
        .map(|k| format!("{} -> {}", k.name(), cp.stores[cp.store_of(*k)].name))
        .collect();
    println!("  routing: {}", routing.join(", "));
    let o = &cp.objects;
    println!(
        "  object sizes: pod {}, node {}, lease {}, event {}, endpoint slice {}",
        bytes(o.pod_bytes.into()),
        bytes(o.node_bytes.into()),
        bytes(o.lease_bytes.into()),
        bytes(o.event_bytes.into()),
        bytes(o.endpoint_slice_bytes.into())
    );
    println!(
        "  kubelets: lease renewed every {}, node status computed every {} and written at least \
         every {}, {} events per pod start",
        duration(config.node_lifecycle.lease_renew_interval),
        duration(cp.node_status_update_interval),
        duration(cp.node_status_report_interval),
        cp.kubelet_events_per_pod_start
    );
    let w = &cp.watchers;
    println!(
        "  watchers besides kubelets and kube-proxies: pods {}, nodes {}, leases {}, events {}, \
         endpoint slices {}",
        w.pod_controllers,
        w.node_controllers,
        w.lease_controllers,
        w.event_watchers,
        w.endpoint_slice_controllers
    );
    let services = config
        .workloads
        .iter()
        .filter(|w| matches!(&w.kind, WorkloadKind::Deployment(d) if d.service))
        .count();
    println!(
        "  heartbeats aggregated every {}; compaction every {}; events expire after {}; {} \
         deployment{} back{} a Service",
        duration(cp.tick),
        duration(cp.compaction_interval),
        duration(cp.event_ttl),
        services,
        if services == 1 { "" } else { "s" },
        if services == 1 { "s" } else { "" }
    );
}

fn describe_store(s: &StoreConfig) -> String {
    format!(
        "{} member{}, quorum {}, leader CPU {} per write + {} ns per byte, WAL fsync {} and {}, \
         RTT {} and {} per follower, apply {} per write, at most {} writes per batch, quota {}, \
         max request {}",
        s.members,
        if s.members == 1 { "" } else { "s" },
        s.quorum,
        micros(s.leader_cpu_per_write_us),
        s.leader_cpu_per_byte_ns,
        latency(&s.wal_fsync_ns),
        bandwidth(s.wal_write_bytes_per_s),
        latency(&s.network_rtt_ns),
        bandwidth(s.network_bytes_per_s),
        micros(s.apply_per_write_us),
        s.max_batch_writes,
        bytes(s.quota_bytes),
        bytes(s.max_request_bytes)
    )
}

/// Go-style, to the unit that keeps it short: `1.2ms`, `350us`, `5m`.
fn nanos(ns: f64) -> String {
    const UNITS: [(f64, &str); 6] = [
        (3600e9, "h"),
        (60e9, "m"),
        (1e9, "s"),
        (1e6, "ms"),
        (1e3, "us"),
        (1.0, "ns"),
    ];
    let (scale, unit) = UNITS
        .iter()
        .find(|(scale, _)| ns >= *scale)
        .unwrap_or(&UNITS[UNITS.len() - 1]);
    format!("{}{unit}", round3(ns / scale))
}

fn duration(d: SimDuration) -> String {
    nanos(d.0 as f64)
}

fn micros(us: f64) -> String {
    nanos(us * 1e3)
}

/// Three significant digits at most, without trailing zeros.
fn round3(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(2 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// A latency distribution over nanoseconds.
fn latency(d: &Distribution) -> String {
    match d {
        Distribution::Constant(v) => nanos(*v),
        Distribution::Uniform { min, max } => {
            format!("uniform({}..{})", nanos(*min), nanos(*max))
        }
        Distribution::Exponential { mean } => format!("exponential(mean {})", nanos(*mean)),
        Distribution::LogNormal { median, sigma } => {
            format!("log-normal(median {}, sigma {sigma})", nanos(*median))
        }
        Distribution::Empirical { values, .. } => format!(
            "empirical({} values, mean {})",
            values.len(),
            nanos(d.mean())
        ),
    }
}

/// Exact in the largest binary unit that divides it: `4Ki`, `2Gi`, `1536Ki`.
fn bytes(b: u64) -> String {
    for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        if b > 0 && b.is_multiple_of(1u64 << shift) {
            return format!("{}{suffix}", b >> shift);
        }
    }
    format!("{b} bytes")
}

/// Decimal, as network and disk rates are quoted: `125 MB/s`.
fn bandwidth(bytes_per_s: f64) -> String {
    let (scale, unit) = [(1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")]
        .into_iter()
        .find(|(scale, _)| bytes_per_s >= *scale)
        .unwrap_or((1.0, "bytes/s"));
    format!("{} {unit}", round3(bytes_per_s / scale))
}

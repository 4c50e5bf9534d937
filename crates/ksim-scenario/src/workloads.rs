//! `[[workloads]]`: deployments, job streams and session workloads with
//! their pod templates.

use std::collections::{BTreeMap, BTreeSet};

use ksim_core::config::{
    AntiAffinityTerm, ArrivalProcess, AutoscalingConfig, DeploymentSpec, DisruptionBudget,
    EvictionHints, IntOrPercent, JobSpec, Label, Limits, NodeSelectorTerm, PodTemplate, Request,
    SelectorOperator, SelectorRequirement, Toleration, TolerationOperator, WorkloadKind,
    WorkloadModel, WorkloadSpec, DEFAULT_TERMINATION_GRACE_PERIOD,
};
use ksim_core::ids::WorkloadId;
use ksim_core::matching;
use ksim_core::resources::{ResourceVec, CPU, EPHEMERAL_STORAGE, MEMORY, NUM_RESOURCES, PODS};
use ksim_core::taints::ControllerTaint;
use ksim_core::time::{SimDuration, SimTime};
use ksim_core::usage::UsageModel;

use crate::autoscaling::{self, Draft, Pending};
use crate::distributions::{distribution, request, scalar, Unit};
use crate::pools::{self, ExtendedNames, Pools, EFFECTS, HOSTNAME};
use crate::reader::{self, Ctx, Fields, Node, Place, Span};
use crate::{hpa, keda, load, names, usage};

const WORKLOAD_KEYS: &[&str] = &[
    "name",
    "kind",
    "replicas",
    "start",
    "arrival",
    "stop",
    "count",
    "duration",
    "failure_probability",
    "pod_lifetime",
    "service",
    "disruption_budget",
    "readiness_delay",
    "pod",
    "load",
    "executions",
    "hpa",
    "keda",
    "session",
];
const KINDS: &[&str] = &["deployment", "job", "session"];
const DEPLOYMENT_ONLY: &[&str] = &[
    "replicas",
    "pod_lifetime",
    "service",
    "disruption_budget",
    "load",
    "executions",
    "hpa",
    "keda",
];
const BUDGET_KEYS: &[&str] = &["max_unavailable", "min_available"];
const JOB_ONLY: &[&str] = &[
    "arrival",
    "stop",
    "count",
    "duration",
    "failure_probability",
];
/// The keys of a session workload that other kinds also take.
const SESSION_SHARED: &[&str] = &["load", "stop"];
const ARRIVAL_KEYS: &[&str] = &["process", "rate_per_s", "interval", "times"];
const PROCESSES: &[&str] = &["poisson", "constant", "schedule"];
const POD_KEYS: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral_storage",
    "extended",
    "priority",
    "labels",
    "node_selector",
    "node_affinity",
    "tolerations",
    "anti_affinity",
    "termination_grace_period",
    "safe_to_evict",
    "local_storage",
    "bare",
    "limits",
    "ephemeral_storage_write_per_s",
];
const LIMIT_KEYS: &[&str] = &["cpu", "memory", "ephemeral_storage"];
const EXPRESSION_KEYS: &[&str] = &["key", "operator", "values"];
const SELECTOR_OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];
const TOLERATION_KEYS: &[&str] = &["key", "operator", "value", "effect"];
const TOLERATION_OPERATORS: &[&str] = &["Equal", "Exists"];
const ANTI_AFFINITY_KEYS: &[&str] = &["match_labels", "topology_key"];

pub(crate) struct Workloads {
    pub specs: Vec<WorkloadSpec>,
    /// Parallel to `specs`.
    pub places: Vec<Place>,
    /// False when some workload had problems and is missing from `specs`.
    pub complete: bool,
}

/// An anti-affinity selector, checked once every workload's labels are known.
struct SelectorRef {
    labels: Vec<Label>,
    path: String,
    span: Span,
}

/// What reading one workload needs from the rest of the document.
struct Env<'a> {
    pools: &'a Pools,
    extended: &'a mut ExtendedNames,
    end: Option<SimTime>,
    /// Whether the scenario has a `[control_plane]` section.
    control_plane: bool,
    /// `[autoscaling]`, whose flags fill autoscaler defaults.
    autoscaling: &'a AutoscalingConfig,
    seen: reader::SeenNames,
    selectors: Vec<SelectorRef>,
    /// Autoscalers whose named workloads are resolved once all are read.
    pending: Vec<Pending>,
}

pub(crate) fn read(
    ctx: &mut Ctx,
    node: Option<Node>,
    pools: &Pools,
    extended: &mut ExtendedNames,
    end: Option<SimTime>,
    control_plane: bool,
    autoscaling: &AutoscalingConfig,
) -> Option<Workloads> {
    let mut out = Workloads {
        specs: Vec::new(),
        places: Vec::new(),
        complete: true,
    };
    let Some(node) = node else {
        if ctx.trace.is_none() {
            ctx.warn(
                &Some(0..0),
                "workloads",
                "no workloads: the cluster stays empty",
            );
        }
        return Some(out);
    };
    let elements = reader::array(ctx, &node)?;
    let mut env = Env {
        pools,
        extended,
        end,
        control_plane,
        autoscaling,
        seen: reader::SeenNames::new(),
        selectors: Vec::new(),
        pending: Vec::new(),
    };
    for (index, element) in elements.iter().enumerate() {
        if let Some(spec) = read_workload(ctx, element, index, &mut env) {
            out.specs.push(spec);
            out.places.push(Place {
                path: element.path.clone(),
                span: element.span.clone(),
            });
        }
    }
    out.complete = out.specs.len() == elements.len();
    if out.complete {
        check_selectors(ctx, &env.selectors, &out.specs);
        autoscaling::resolve(ctx, env.pending, &mut out.specs);
    }
    Some(out)
}

/// Workload `index` of the file: its id once every workload is read (the
/// autoscaler drafts refer to it until then).
fn read_workload(ctx: &mut Ctx, node: &Node, index: usize, env: &mut Env) -> Option<WorkloadSpec> {
    let fields = reader::table(ctx, node, WORKLOAD_KEYS)?;
    let name = fields.require(ctx, "name").and_then(|n| {
        let name = reader::name(ctx, &n)?;
        reader::unique_name(ctx, &mut env.seen, name, &n, "workload").then_some(name)
    });
    let kind = fields
        .require_with(ctx, "kind", " (\"deployment\", \"job\" or \"session\")")
        .and_then(|n| reader::choice(ctx, &n, KINDS));
    if let Some(kind) = kind {
        reject_foreign_keys(ctx, &fields, kind, name);
    }
    let start = fields.get("start").map_or(Some(SimTime::ZERO), |n| {
        reader::duration(ctx, &n).map(|d| SimTime(d.0))
    });
    let template = fields
        .require(ctx, "pod")
        .and_then(|n| read_pod(ctx, &n, env));
    if let (Some("deployment"), Some(t)) = (kind, &template) {
        if t.eviction.bare {
            ctx.error(
                &fields.key_span("pod"),
                &reader::join_key(&reader::join_key(&fields.path, "pod"), "bare"),
                "a deployment's pods always have a controller (its ReplicaSet); `bare` is for \
                 a job's pods, standing for pods created without one",
            );
        }
    }
    let readiness_delay = match fields.get("readiness_delay") {
        None => Some(None),
        Some(n) => distribution(ctx, &n, Unit::Duration).map(Some),
    };
    let start = start?;
    if let Some(end) = env.end.filter(|end| start >= *end) {
        ctx.warn(
            &fields.key_span("start"),
            &reader::join_key(&fields.path, "start"),
            format!(
                "starts at {start}, when the run has already ended ({end}): its pods never run"
            ),
        );
    }
    let (kind, model, draft) = match kind? {
        "deployment" => {
            let kind = read_deployment(ctx, &fields, start, env);
            // A TOML file cannot hold 2^32 workloads; the id space is the core's.
            let own = WorkloadId::try_from(index).unwrap_or(WorkloadId::MAX);
            let model = read_model(ctx, &fields, name.unwrap_or_default(), own, env);
            let (model, draft) = model?;
            (kind?, model, draft)
        }
        "session" => {
            let stop = match fields.get("stop") {
                None => Some(None),
                Some(n) => read_stop(ctx, &n, start).map(Some),
            };
            let name = name.unwrap_or_default();
            let kind = crate::sessions::read(ctx, &fields, name, (start, stop), env.end);
            (kind?, WorkloadModel::default(), None)
        }
        _ => (
            read_job(ctx, &fields, start, env.end)?,
            WorkloadModel::default(),
            None,
        ),
    };
    let spec = WorkloadSpec {
        name: name?.to_string(),
        kind,
        template: template?,
        readiness_delay: readiness_delay?,
        model,
    };
    if let Some(draft) = draft {
        env.pending.push(Pending {
            workload: index,
            draft,
        });
    }
    Some(spec)
}

/// A deployment's load, usage model and autoscaler; the autoscaler as a
/// draft, checked once every workload is read.
fn read_model(
    ctx: &mut Ctx,
    fields: &Fields,
    name: &str,
    own: WorkloadId,
    env: &Env,
) -> Option<(WorkloadModel, Option<Draft>)> {
    let service = fields.get("service").filter(Node::is_table);
    let usage = match (service, fields.get("executions")) {
        (None, None) => Some(None),
        (Some(n), None) => usage::read_service(ctx, &n).map(|s| Some(UsageModel::Service(s))),
        (None, Some(n)) => usage::read_executions(ctx, &n).map(|e| Some(UsageModel::Executions(e))),
        (Some(_), Some(n)) => {
            ctx.error(
                &n.span,
                &n.path,
                "give either [workloads.service] or [workloads.executions], not both: a \
                 workload's pods serve requests or run executions",
            );
            None
        }
    };
    let load_node = fields.get("load");
    let load = match &load_node {
        None => Some(None),
        Some(n) => load::read(ctx, n, name).map(Some),
    };
    if let (Some(n), Some(None)) = (&load_node, &usage) {
        ctx.warn(
            &fields.key_span("load"),
            &n.path,
            "has no effect: load drives a usage model ([workloads.service] or \
             [workloads.executions]), and this workload has neither",
        );
    }
    let downscale = env.autoscaling.hpa.downscale_stabilization;
    let hpa = fields
        .get("hpa")
        .map(|n| hpa::read(ctx, &n, own, downscale));
    let keda = fields
        .get("keda")
        .map(|n| keda::read(ctx, &n, own, downscale));
    let draft = match (hpa, keda) {
        (None, None) => Some(None),
        (Some(draft), None) | (None, Some(draft)) => draft.map(Some),
        (Some(_), Some(_)) => {
            ctx.error(
                &fields.key_span("keda"),
                &reader::join_key(&fields.path, "keda"),
                "give either [workloads.hpa] or [workloads.keda], not both: KEDA scales the \
                 workload through an HPA of its own, and refuses a workload another HPA scales",
            );
            None
        }
    };
    let model = WorkloadModel {
        load: load?,
        usage: usage?,
        autoscaler: None,
    };
    Some((model, draft?))
}

/// The kinds that take `key` among the kind-specific keys.
fn owners(key: &str) -> Vec<&'static str> {
    let mut owners = Vec::new();
    if DEPLOYMENT_ONLY.contains(&key) {
        owners.push("deployment");
    }
    if JOB_ONLY.contains(&key) {
        owners.push("job");
    }
    if key == "session" || SESSION_SHARED.contains(&key) {
        owners.push("session");
    }
    owners
}

/// Keys of the other kinds: job keys on a deployment, deployment keys on a
/// job, both on a session workload (but its `load` and `stop`), and
/// `[workloads.session]` on either.
fn reject_foreign_keys(ctx: &mut Ctx, fields: &Fields, kind: &str, name: Option<&str>) {
    let who = name.map_or("this workload".to_string(), |n| format!("workload `{n}`"));
    let kind_specific = DEPLOYMENT_ONLY.iter().chain(JOB_ONLY).chain(&["session"]);
    for key in kind_specific {
        let owners = owners(key);
        if !fields.has(key) || owners.contains(&kind) {
            continue;
        }
        let owners: Vec<String> = owners.iter().map(|o| format!("kind = \"{o}\"")).collect();
        ctx.error(
            &fields.key_span(key),
            &reader::join_key(&fields.path, key),
            format!(
                "`{key}` only applies to {}, and {who} is a {kind}",
                owners.join(" or ")
            ),
        );
    }
}

fn read_deployment(
    ctx: &mut Ctx,
    fields: &Fields,
    start: SimTime,
    env: &Env,
) -> Option<WorkloadKind> {
    let replicas = fields
        .require(ctx, "replicas")
        .and_then(|n| reader::count(ctx, &n, 0, u64::from(u32::MAX)))?;
    let pod_lifetime = match fields.get("pod_lifetime") {
        None => Some(None),
        Some(n) => distribution(ctx, &n, Unit::Duration).map(Some),
    };
    let service = read_service(ctx, fields, env.control_plane);
    let disruption_budget = match fields.get("disruption_budget") {
        None => Some(None),
        Some(n) => read_budget(ctx, &n).map(Some),
    };
    Some(WorkloadKind::Deployment(DeploymentSpec {
        replicas: u32::try_from(replicas).ok()?,
        start,
        pod_lifetime: pod_lifetime?,
        service: service?,
        disruption_budget: disruption_budget?,
    }))
}

/// `{ max_unavailable = 1 }` or `{ min_available = "50%" }`: a
/// PodDisruptionBudget, which upstream allows only one of the two.
fn read_budget(ctx: &mut Ctx, node: &Node) -> Option<DisruptionBudget> {
    let fields = reader::table(ctx, node, BUDGET_KEYS)?;
    match (fields.get("max_unavailable"), fields.get("min_available")) {
        (Some(n), None) => int_or_percent(ctx, &n).map(DisruptionBudget::MaxUnavailable),
        (None, Some(n)) => int_or_percent(ctx, &n).map(DisruptionBudget::MinAvailable),
        (Some(_), Some(n)) => {
            ctx.error(
                &n.span,
                &n.path,
                "give either max_unavailable or min_available, not both (a \
                 PodDisruptionBudget takes one)",
            );
            None
        }
        (None, None) => {
            ctx.error(
                &node.span,
                &node.path,
                "a disruption budget needs max_unavailable or min_available",
            );
            None
        }
    }
}

/// Upstream's IntOrString for PDBs: an integer, or a string `"<digits>%"`
/// of at most 100%.
fn int_or_percent(ctx: &mut Ctx, node: &Node) -> Option<IntOrPercent> {
    if node.as_integer().is_some() {
        let count = reader::count(ctx, node, 0, u64::from(u32::MAX))?;
        return u32::try_from(count).ok().map(IntOrPercent::Count);
    }
    let Some(text) = node.as_str() else {
        node.wrong_type(ctx, "an integer or a percent string like \"50%\"");
        return None;
    };
    let digits = text
        .strip_suffix('%')
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    let message = match digits.map(str::parse::<u32>) {
        Some(Ok(percent)) if percent <= 100 => return Some(IntOrPercent::Percent(percent)),
        Some(_) => format!("{text} is more than 100%"),
        None if text.trim().parse::<u32>().is_ok() => format!(
            "`{text}` is a string: write {} without quotes for a count, or \"{}%\" for a \
             percent",
            text.trim(),
            text.trim()
        ),
        None => format!("expected an integer or a percent like \"50%\", found `{text}`"),
    };
    ctx.error(&node.span, &node.path, message);
    None
}

/// `service`: the pods back a Service, whose EndpointSlice every pod start
/// and end updates. Only the control plane model sees those writes.
fn read_service(ctx: &mut Ctx, fields: &Fields, control_plane: bool) -> Option<bool> {
    let Some(node) = fields.get("service") else {
        return Some(false);
    };
    // A request-driven service ([workloads.service]) backs a Service too.
    if node.is_table() {
        return Some(true);
    }
    let service = reader::boolean(ctx, &node)?;
    if service && !control_plane {
        ctx.warn(
            &node.span,
            &node.path,
            "has no effect without a [control_plane] section: EndpointSlice updates are API \
             writes, and API writes are not modelled",
        );
    }
    Some(service)
}

fn read_job(
    ctx: &mut Ctx,
    fields: &Fields,
    start: SimTime,
    end: Option<SimTime>,
) -> Option<WorkloadKind> {
    let arrival = fields
        .require(ctx, "arrival")
        .and_then(|n| read_arrival(ctx, &n));
    if let (Some(ArrivalProcess::Schedule { times }), Some(end)) = (&arrival, end) {
        if times.first().is_some_and(|first| *first > end) {
            ctx.warn(
                &fields.key_span("arrival"),
                &reader::join_key(&fields.path, "arrival"),
                format!(
                    "every scheduled time is after the end of the run ({end}): no pod ever \
                     arrives"
                ),
            );
        }
    }
    if let (Some(ArrivalProcess::Schedule { .. }), true) = (&arrival, fields.has("start")) {
        ctx.error(
            &fields.key_span("start"),
            &reader::join_key(&fields.path, "start"),
            "`start` cannot be combined with process = \"schedule\": schedule times are \
             already measured from the start of the run",
        );
    }
    let stop = match fields.get("stop") {
        None => Some(None),
        Some(n) => read_stop(ctx, &n, start).map(Some),
    };
    let max_pods = match fields.get("count") {
        None => Some(None),
        Some(n) => reader::count(ctx, &n, 1, i64::MAX as u64).map(Some),
    };
    let duration = fields
        .require(ctx, "duration")
        .and_then(|n| distribution(ctx, &n, Unit::Duration));
    let failure_probability = fields.get("failure_probability").map_or(Some(0.0), |n| {
        let p = reader::number(ctx, &n)?;
        if !(0.0..=1.0).contains(&p) {
            ctx.error(
                &n.span,
                &n.path,
                format!("failure_probability must be within [0, 1], found {p}"),
            );
            return None;
        }
        Some(p)
    });
    Some(WorkloadKind::Job(JobSpec {
        arrival: arrival?,
        start,
        stop: stop?,
        max_pods: max_pods?,
        duration: duration?,
        failure_probability: failure_probability?,
    }))
}

fn read_stop(ctx: &mut Ctx, node: &Node, start: SimTime) -> Option<SimTime> {
    let stop = SimTime(reader::duration(ctx, node)?.0);
    if stop <= start {
        ctx.error(
            &node.span,
            &node.path,
            format!("stop ({stop}) must be after start ({start}), or no pod ever arrives"),
        );
        return None;
    }
    Some(stop)
}

fn read_arrival(ctx: &mut Ctx, node: &Node) -> Option<ArrivalProcess> {
    let fields = reader::table(ctx, node, ARRIVAL_KEYS)?;
    let process = fields
        .require(ctx, "process")
        .and_then(|n| reader::choice(ctx, &n, PROCESSES))?;
    let takes: &[&str] = match process {
        "poisson" => &["rate_per_s"],
        "constant" => &["rate_per_s", "interval"],
        _ => &["times"],
    };
    let mut ok = true;
    for key in &ARRIVAL_KEYS[1..] {
        if fields.has(key) && !takes.contains(key) {
            ok = false;
            ctx.error(
                &fields.key_span(key),
                &reader::join_key(&fields.path, key),
                format!(
                    "`{key}` does not apply to process = \"{process}\" (it takes {})",
                    names::list(takes)
                ),
            );
        }
    }
    let arrival = match process {
        "poisson" => fields
            .require(ctx, "rate_per_s")
            .and_then(|n| reader::gap_from_rate(ctx, &n, 1.0, "arrivals"))
            .map(|mean_interval| ArrivalProcess::Poisson { mean_interval }),
        "constant" => constant_interval(ctx, &fields, node)
            .map(|interval| ArrivalProcess::Constant { interval }),
        _ => fields
            .require(ctx, "times")
            .and_then(|n| schedule(ctx, &n))
            .map(|times| ArrivalProcess::Schedule { times }),
    }?;
    ok.then_some(arrival)
}

fn constant_interval(ctx: &mut Ctx, fields: &Fields, node: &Node) -> Option<SimDuration> {
    match (fields.get("rate_per_s"), fields.get("interval")) {
        (Some(rate), None) => reader::gap_from_rate(ctx, &rate, 1.0, "arrivals"),
        (None, Some(interval)) => reader::positive_duration(ctx, &interval),
        (Some(_), Some(interval)) => {
            ctx.error(
                &interval.span,
                &interval.path,
                "give either `rate_per_s` or `interval`, not both",
            );
            None
        }
        (None, None) => {
            ctx.error(
                &node.span,
                &node.path,
                "process = \"constant\" needs `rate_per_s` or `interval`",
            );
            None
        }
    }
}

fn schedule(ctx: &mut Ctx, node: &Node) -> Option<Vec<SimTime>> {
    let elements = reader::array(ctx, node)?;
    if elements.is_empty() {
        ctx.error(&node.span, &node.path, "a schedule needs at least one time");
        return None;
    }
    let mut times = Vec::with_capacity(elements.len());
    let mut ok = true;
    for element in &elements {
        let Some(d) = reader::duration(ctx, element) else {
            ok = false;
            continue;
        };
        let time = SimTime(d.0);
        if let Some(previous) = times.last().filter(|p| **p > time) {
            ctx.error(
                &element.span,
                &element.path,
                format!("schedule times must be sorted: {time} comes after {previous}"),
            );
            ok = false;
        }
        times.push(time);
    }
    ok.then_some(times)
}

fn read_pod(ctx: &mut Ctx, node: &Node, env: &mut Env) -> Option<PodTemplate> {
    let fields = reader::table(ctx, node, POD_KEYS)?;
    let cpu = fields
        .require_with(
            ctx,
            "cpu",
            " (write cpu = \"0\" for a pod without a cpu request)",
        )
        .and_then(|n| request(ctx, &n, Unit::Cpu));
    let memory = fields
        .require_with(
            ctx,
            "memory",
            " (write memory = \"0\" for a pod without a memory request)",
        )
        .and_then(|n| request(ctx, &n, Unit::Bytes));
    // None: no `limits`; Some(None): not a table (reported).
    let limit_fields = fields
        .get("limits")
        .map(|n| reader::table(ctx, &n, LIMIT_KEYS));
    let limits = match &limit_fields {
        None => Some(Limits::default()),
        Some(None) => None,
        Some(Some(f)) => read_limits(ctx, f),
    };
    // Upstream defaults a request that is not written to its limit.
    let unwritten_storage = limits
        .and_then(|l| l.ephemeral_storage_bytes)
        .map_or(Request::Fixed(0), Request::Fixed);
    let storage = fields
        .get("ephemeral_storage")
        .map_or(Some(unwritten_storage), |n| request(ctx, &n, Unit::Bytes));
    let write_rate = fields
        .get("ephemeral_storage_write_per_s")
        .map_or(Some(0), |n| scalar(ctx, &n, Unit::Bytes));
    let mut extended = ResourceVec::ZERO;
    let extended_ok = fields
        .get("extended")
        .is_none_or(|n| env.extended.read_map(ctx, &n, &mut extended));
    let priority = fields.get("priority").map_or(Some(0), |n| {
        let p = reader::integer(ctx, &n)?;
        let p = i32::try_from(p).ok();
        if p.is_none() {
            ctx.error(&n.span, &n.path, "priority must fit in a 32-bit integer");
        }
        p
    });
    let labels = fields
        .get("labels")
        .map_or(Some(Vec::new()), |n| pools::label_map(ctx, &n));
    let node_selector = fields
        .get("node_selector")
        .map_or(Some(Vec::new()), |n| read_node_selector(ctx, &n, env.pools));
    let node_affinity = fields
        .get("node_affinity")
        .map_or(Some(Vec::new()), |n| read_node_affinity(ctx, &n, env.pools));
    let tolerations = fields
        .get("tolerations")
        .map_or(Some(Vec::new()), |n| read_tolerations(ctx, &n, env.pools));
    let anti_affinity = fields
        .get("anti_affinity")
        .map_or(Some(Vec::new()), |n| read_anti_affinity(ctx, &n, env));
    let termination_grace_period = reader::duration_or(
        ctx,
        &fields,
        "termination_grace_period",
        DEFAULT_TERMINATION_GRACE_PERIOD,
        false,
    );
    let eviction = read_eviction_hints(ctx, &fields);
    let mut requests: [Request; NUM_RESOURCES] =
        std::array::from_fn(|i| Request::Fixed(extended.0[i]));
    requests[CPU] = cpu?;
    requests[MEMORY] = memory?;
    requests[EPHEMERAL_STORAGE] = storage?;
    requests[PODS] = Request::Fixed(1);
    let limits = limits?;
    if let Some(Some(f)) = &limit_fields {
        check_limits(ctx, f, &requests, &limits);
    }
    Some(PodTemplate {
        requests: extended_ok.then_some(requests)?,
        priority: priority?,
        labels: labels?,
        node_selector: node_selector?,
        node_affinity: node_affinity?,
        tolerations: tolerations?,
        anti_affinity: anti_affinity?,
        termination_grace_period: termination_grace_period?,
        eviction: eviction?,
        limits,
        ephemeral_storage_write_bytes_per_s: write_rate?,
    })
}

/// `limits = { cpu, memory, ephemeral_storage }`, each optional.
fn read_limits(ctx: &mut Ctx, fields: &Fields) -> Option<Limits> {
    let limit = |ctx: &mut Ctx, key: &str, unit: Unit| {
        fields
            .get(key)
            .map_or(Some(None), |n| scalar(ctx, &n, unit).map(Some))
    };
    let cpu_millis = limit(ctx, "cpu", Unit::Cpu);
    let memory_bytes = limit(ctx, "memory", Unit::Bytes);
    let ephemeral_storage_bytes = limit(ctx, "ephemeral_storage", Unit::Bytes);
    Some(Limits {
        cpu_millis: cpu_millis?,
        memory_bytes: memory_bytes?,
        ephemeral_storage_bytes: ephemeral_storage_bytes?,
    })
}

/// Upstream's validation: a limit is at least its request (here the
/// largest a drawn request can be).
fn check_limits(
    ctx: &mut Ctx,
    fields: &Fields,
    requests: &[Request; NUM_RESOURCES],
    limits: &Limits,
) {
    let checks = [
        ("cpu", CPU, limits.cpu_millis),
        ("memory", MEMORY, limits.memory_bytes),
        (
            "ephemeral_storage",
            EPHEMERAL_STORAGE,
            limits.ephemeral_storage_bytes,
        ),
    ];
    for (key, dimension, limit) in checks {
        let (Some(limit), Some(n)) = (limit, fields.get(key)) else {
            continue;
        };
        let most = requests[dimension].max();
        if most.is_none_or(|most| most > limit) {
            let request = most.map_or("unbounded".to_string(), |m| m.to_string());
            ctx.error(
                &n.span,
                &n.path,
                format!(
                    "limit {limit} is below the pod's {key} request (at most {request}): \
                     a limit must be at least its request"
                ),
            );
        }
    }
}

/// `safe_to_evict` (the `cluster-autoscaler.kubernetes.io/safe-to-evict`
/// annotation; unset by default), `local_storage` and `bare`: what the
/// Cluster Autoscaler reads before it drains the pod's node.
fn read_eviction_hints(ctx: &mut Ctx, fields: &reader::Fields) -> Option<EvictionHints> {
    let flag = |ctx: &mut Ctx, key: &str| {
        fields
            .get(key)
            .map_or(Some(None), |n| reader::boolean(ctx, &n).map(Some))
    };
    let safe_to_evict = flag(ctx, "safe_to_evict");
    let local_storage = flag(ctx, "local_storage");
    let bare = flag(ctx, "bare");
    Some(EvictionHints {
        safe_to_evict: safe_to_evict?,
        local_storage: local_storage?.unwrap_or(false),
        bare: bare?.unwrap_or(false),
    })
}

fn hostname_unsupported(ctx: &mut Ctx, span: &Span, path: &str) {
    ctx.error(
        span,
        path,
        format!(
            "selecting nodes by `{HOSTNAME}` is not supported: all nodes of a pool share \
             their labels, so no single node can be targeted"
        ),
    );
}

/// Errors when no pool defines label `key` (only when every pool was read).
fn check_node_label_key(ctx: &mut Ctx, pools: &Pools, key: &str, span: &Span, path: &str) {
    if !pools.complete || pools.label_keys.contains(key) {
        return;
    }
    let keys: Vec<&str> = pools.label_keys.iter().map(String::as_str).collect();
    let hint = match names::suggest(key, &keys) {
        Some(best) => format!(": did you mean `{best}`?"),
        None => String::new(),
    };
    ctx.error(
        span,
        path,
        format!("no node pool has label `{key}`, so no node can match{hint}"),
    );
}

fn read_node_selector(ctx: &mut Ctx, node: &Node, pools: &Pools) -> Option<Vec<Label>> {
    let labels = pools::label_map(ctx, node)?;
    let mut ok = true;
    for label in &labels {
        let path = reader::join_key(&node.path, &label.key);
        if label.key == HOSTNAME {
            hostname_unsupported(ctx, &node.span, &path);
            ok = false;
        } else {
            check_node_label_key(ctx, pools, &label.key, &node.span, &path);
        }
    }
    ok.then_some(labels)
}

fn read_node_affinity(ctx: &mut Ctx, node: &Node, pools: &Pools) -> Option<Vec<NodeSelectorTerm>> {
    let mut terms = Vec::new();
    let mut ok = true;
    for term in reader::array(ctx, node)? {
        let Some(expressions) = reader::array(ctx, &term) else {
            ok = false;
            continue;
        };
        if expressions.is_empty() {
            ctx.error(
                &term.span,
                &term.path,
                "an empty term matches no node: add expressions or remove it",
            );
            ok = false;
            continue;
        }
        let read: Option<Vec<SelectorRequirement>> = expressions
            .iter()
            .map(|e| read_requirement(ctx, e, pools))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        match read {
            Some(match_expressions) => terms.push(NodeSelectorTerm { match_expressions }),
            None => ok = false,
        }
    }
    ok.then_some(terms)
}

/// One match expression, validated as upstream ValidateNodeSelectorRequirement.
fn read_requirement(ctx: &mut Ctx, node: &Node, pools: &Pools) -> Option<SelectorRequirement> {
    let fields = reader::table(ctx, node, EXPRESSION_KEYS)?;
    let key_node = fields.require(ctx, "key");
    let key = key_node.as_ref().and_then(|n| {
        let key = reader::string(ctx, n)?;
        if key == HOSTNAME {
            hostname_unsupported(ctx, &n.span, &n.path);
            return None;
        }
        names::check_qualified_name(key)
            .map_err(|m| ctx.error(&n.span, &n.path, m))
            .ok()
            .map(|_| key)
    });
    let operator = fields
        .require(ctx, "operator")
        .and_then(|n| reader::choice(ctx, &n, SELECTOR_OPERATORS));
    let values_node = fields.get("values");
    let values = match &values_node {
        None => Some(Vec::new()),
        Some(n) => string_list(ctx, n),
    };
    let (key, operator, values) = (key?, operator?, values?);
    let values_span = values_node
        .as_ref()
        .map_or(fields.span.clone(), |n| n.span.clone());
    let values_path = reader::join_key(&fields.path, "values");
    let mut fail = |message: &str| {
        ctx.error(&values_span, &values_path, message);
        None
    };
    let operator = match operator {
        "In" | "NotIn" if values.is_empty() => {
            return fail("values must be given when operator is In or NotIn")
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            return fail("values must be empty when operator is Exists or DoesNotExist")
        }
        "Gt" | "Lt" => {
            let [value] = values.as_slice() else {
                return fail("operator Gt or Lt takes exactly one value");
            };
            let Ok(bound) = value.parse::<i64>() else {
                return fail("the value of a Gt or Lt expression must be an integer");
            };
            if operator == "Gt" {
                SelectorOperator::Gt(bound)
            } else {
                SelectorOperator::Lt(bound)
            }
        }
        "In" => SelectorOperator::In(values),
        "NotIn" => SelectorOperator::NotIn(values),
        "Exists" => SelectorOperator::Exists,
        _ => SelectorOperator::DoesNotExist,
    };
    // Only operators that need the label can never match without it.
    if !matches!(
        operator,
        SelectorOperator::NotIn(_) | SelectorOperator::DoesNotExist
    ) {
        if let Some(n) = &key_node {
            check_node_label_key(ctx, pools, key, &n.span, &n.path);
        }
    }
    Some(SelectorRequirement {
        key: key.to_string(),
        operator,
    })
}

/// An array of label values.
fn string_list(ctx: &mut Ctx, node: &Node) -> Option<Vec<String>> {
    let mut ok = true;
    let mut out = Vec::new();
    for element in reader::array(ctx, node)? {
        let valid = reader::string(ctx, &element).filter(|s| {
            names::check_label_value(s)
                .map_err(|m| ctx.error(&element.span, &element.path, m))
                .is_ok()
        });
        match valid {
            Some(s) => out.push(s.to_string()),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_tolerations(ctx: &mut Ctx, node: &Node, pools: &Pools) -> Option<Vec<Toleration>> {
    let read: Vec<Option<Toleration>> = reader::array(ctx, node)?
        .iter()
        .map(|e| read_toleration(ctx, e, pools))
        .collect();
    read.into_iter().collect()
}

/// One toleration, validated as upstream ValidateTolerations.
fn read_toleration(ctx: &mut Ctx, node: &Node, pools: &Pools) -> Option<Toleration> {
    let fields = reader::table(ctx, node, TOLERATION_KEYS)?;
    let key_node = fields.get("key");
    let key = key_node.as_ref().map_or(Some(""), |n| {
        let key = reader::string(ctx, n)?;
        if key.is_empty() {
            return Some(key);
        }
        names::check_qualified_name(key)
            .map_err(|m| ctx.error(&n.span, &n.path, m))
            .ok()
            .map(|_| key)
    });
    let operator_node = fields.get("operator");
    let operator = operator_node.as_ref().map_or(Some("Equal"), |n| {
        reader::choice(ctx, n, TOLERATION_OPERATORS)
    });
    let value_node = fields.get("value");
    let value = value_node
        .as_ref()
        .map_or(Some(""), |n| reader::string(ctx, n));
    let effect = match fields.get("effect") {
        None => Some(None),
        Some(n) => reader::choice(ctx, &n, EFFECTS).map(|e| Some(pools::effect(e))),
    };
    let (key, operator, value, effect) = (key?, operator?, value?, effect?);
    let operator_span = operator_node.map_or(fields.span.clone(), |n| n.span);
    let value_span = value_node.map_or(fields.span.clone(), |n| n.span);
    let at = |key: &str| reader::join_key(&fields.path, key);
    let operator = if operator == "Exists" {
        if !value.is_empty() {
            ctx.error(
                &value_span,
                &at("value"),
                "value must be empty when operator is Exists",
            );
            return None;
        }
        TolerationOperator::Exists
    } else {
        if key.is_empty() {
            ctx.error(
                &operator_span,
                &at("operator"),
                "operator must be Exists when key is empty (an empty key with Exists \
                 tolerates every taint)",
            );
            return None;
        }
        if let Err(m) = names::check_label_value(value) {
            ctx.error(&value_span, &at("value"), m);
            return None;
        }
        TolerationOperator::Equal
    };
    if let Some(n) = key_node.filter(|_| !key.is_empty() && pools.complete) {
        // Controllers may put their taints on any node at run time.
        let controller_keys = ControllerTaint::ALL.map(ControllerTaint::key);
        let taint_keys: Vec<&str> = pools
            .specs
            .iter()
            .flat_map(|p| &p.taints)
            .map(|t| t.key.as_str())
            .chain(controller_keys)
            .collect();
        if !taint_keys.contains(&key) {
            let hint = names::suggest(key, &taint_keys)
                .map_or(String::new(), |b| format!(": did you mean `{b}`?"));
            ctx.warn(
                &n.span,
                &n.path,
                format!(
                    "no node pool has a taint with key `{key}`, so this tolerates nothing{hint}"
                ),
            );
        }
    }
    Some(Toleration {
        key: key.to_string(),
        operator,
        value: value.to_string(),
        effect,
    })
}

fn read_anti_affinity(ctx: &mut Ctx, node: &Node, env: &mut Env) -> Option<Vec<AntiAffinityTerm>> {
    let mut terms = Vec::new();
    let mut ok = true;
    for element in reader::array(ctx, node)? {
        match read_anti_affinity_term(ctx, &element, env) {
            Some(term) => terms.push(term),
            None => ok = false,
        }
    }
    ok.then_some(terms)
}

fn read_anti_affinity_term(ctx: &mut Ctx, node: &Node, env: &mut Env) -> Option<AntiAffinityTerm> {
    let fields = reader::table(ctx, node, ANTI_AFFINITY_KEYS)?;
    let labels_node = fields.require(ctx, "match_labels");
    let labels = labels_node.as_ref().and_then(|n| pools::label_map(ctx, n));
    let topology_ok = fields.require(ctx, "topology_key").is_some_and(|n| {
        let Some(key) = reader::string(ctx, &n) else {
            return false;
        };
        if key != HOSTNAME {
            ctx.error(
                &n.span,
                &n.path,
                format!(
                    "only topology_key = \"{HOSTNAME}\" is modelled (anti-affinity between \
                     nodes); `{key}` is not supported"
                ),
            );
        }
        key == HOSTNAME
    });
    let (labels, labels_node) = (labels?, labels_node?);
    env.selectors.push(SelectorRef {
        labels: labels.clone(),
        path: labels_node.path,
        span: labels_node.span,
    });
    topology_ok.then_some(AntiAffinityTerm {
        match_labels: labels,
    })
}

/// An anti-affinity selector on a label no workload has is a typo (error);
/// one that matches no workload's pods has no effect (warning).
fn check_selectors(ctx: &mut Ctx, selectors: &[SelectorRef], specs: &[WorkloadSpec]) {
    // Workloads by label, so each selector only tries the workloads that
    // carry its first label rather than all of them.
    let mut carrying: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, w) in specs.iter().enumerate() {
        for label in &w.template.labels {
            carrying
                .entry((&label.key, &label.value))
                .or_default()
                .push(i);
        }
    }
    let keys: BTreeSet<&str> = carrying.keys().map(|(key, _)| *key).collect();
    for selector in selectors {
        if let Some(missing) = selector
            .labels
            .iter()
            .find(|l| !keys.contains(l.key.as_str()))
        {
            let known: Vec<&str> = keys.iter().copied().collect();
            let hint = names::suggest(&missing.key, &known)
                .map_or(String::new(), |b| format!(": did you mean `{b}`?"));
            ctx.error(
                &selector.span,
                &reader::join_key(&selector.path, &missing.key),
                format!("no workload's pods have label `{}`{hint}", missing.key),
            );
            continue;
        }
        let matches_some = match selector.labels.first() {
            // An empty selector matches every pod.
            None => !specs.is_empty(),
            Some(first) => carrying
                .get(&(first.key.as_str(), first.value.as_str()))
                .is_some_and(|candidates| {
                    candidates.iter().any(|&i| {
                        matching::labels_match(&selector.labels, &specs[i].template.labels)
                    })
                }),
        };
        if !matches_some {
            ctx.warn(
                &selector.span,
                &selector.path,
                "matches no workload's pods, so this anti-affinity term has no effect",
            );
        }
    }
}

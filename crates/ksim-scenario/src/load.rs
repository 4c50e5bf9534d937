//! `[workloads.load]`: the rate of requests or executions a deployment
//! receives over time.

use ksim_core::load::{LoadError, LoadShape, LoadSpec};
use ksim_core::time::{SimDuration, SimTime};

use crate::names;
use crate::reader::{self, Ctx, Fields, Node};
use crate::series;

const LOAD_KEYS: &[&str] = &[
    "shape",
    "rate_per_s",
    "initial_per_s",
    "steps",
    "from_per_s",
    "to_per_s",
    "start",
    "end",
    "min_per_s",
    "max_per_s",
    "period",
    "peak_at",
    "path",
    "workload",
    "noise",
    "noise_interval",
];
/// Keys every shape takes.
const COMMON_KEYS: &[&str] = &["shape", "noise", "noise_interval"];
const SHAPES: &[&str] = &["constant", "steps", "ramp", "diurnal", "series"];
const NOISES: &[&str] = &["none", "poisson"];
const STEP_KEYS: &[&str] = &["at", "rate_per_s"];
/// A diurnal shape repeats daily unless told otherwise.
const DEFAULT_PERIOD: SimDuration = SimDuration::from_secs(24 * 3600);
/// Poisson noise redraws the rate every second unless told otherwise.
const DEFAULT_NOISE_INTERVAL: SimDuration = SimDuration::from_secs(1);

/// The keys each shape takes (besides `shape` and the noise keys).
fn takes(shape: &str) -> &'static [&'static str] {
    match shape {
        "constant" => &["rate_per_s"],
        "steps" => &["initial_per_s", "steps"],
        "ramp" => &["from_per_s", "to_per_s", "start", "end"],
        "diurnal" => &["min_per_s", "max_per_s", "period", "peak_at"],
        _ => &["path", "workload"],
    }
}

/// `[workloads.load]` of the workload named `workload` (a series file's
/// default selection).
pub(crate) fn read(ctx: &mut Ctx, node: &Node, workload: &str) -> Option<LoadSpec> {
    let fields = reader::table(ctx, node, LOAD_KEYS)?;
    let noise_interval = read_noise(ctx, &fields);
    let shape = fields
        .require_with(ctx, "shape", &format!(" (one of {})", names::list(SHAPES)))
        .and_then(|n| reader::choice(ctx, &n, SHAPES))?;
    let takes = takes(shape);
    let mut misplaced = false;
    for key in LOAD_KEYS.iter().filter(|k| !COMMON_KEYS.contains(k)) {
        if fields.has(key) && !takes.contains(key) {
            misplaced = true;
            ctx.error(
                &fields.key_span(key),
                &reader::join_key(&fields.path, key),
                format!(
                    "`{key}` does not apply to shape = \"{shape}\" (it takes {})",
                    names::list(takes)
                ),
            );
        }
    }
    let shape = match shape {
        "constant" => fields
            .require_with(ctx, "rate_per_s", " (requests or executions per second)")
            .and_then(|n| rate(ctx, &n))
            .map(|rate_per_s| LoadShape::Constant { rate_per_s }),
        "steps" => read_steps(ctx, &fields),
        "ramp" => read_ramp(ctx, &fields),
        "diurnal" => read_diurnal(ctx, &fields),
        _ => fields
            .require_with(ctx, "path", " (a rate-series CSV file)")
            .and_then(|path| {
                let points = series::read(ctx, &path, fields.get("workload"), workload)?;
                built(ctx, &path, LoadShape::series(points))
            }),
    };
    let (shape, noise_interval) = (shape?, noise_interval?);
    (!misplaced).then_some(LoadSpec {
        shape,
        noise_interval,
    })
}

/// `noise` and `noise_interval`: Some(bucket) with Poisson noise.
fn read_noise(ctx: &mut Ctx, fields: &Fields) -> Option<Option<SimDuration>> {
    let noise = fields
        .get("noise")
        .map_or(Some("none"), |n| reader::choice(ctx, &n, NOISES))?;
    if noise == "none" {
        if fields.has("noise_interval") {
            ctx.error(
                &fields.key_span("noise_interval"),
                &reader::join_key(&fields.path, "noise_interval"),
                "`noise_interval` only applies with noise = \"poisson\"",
            );
            return None;
        }
        return Some(None);
    }
    reader::duration_or(ctx, fields, "noise_interval", DEFAULT_NOISE_INTERVAL, true).map(Some)
}

/// A rate per second: a finite number, not negative.
fn rate(ctx: &mut Ctx, node: &Node) -> Option<f64> {
    let rate = reader::number(ctx, node)?;
    if rate < 0.0 {
        ctx.error(
            &node.span,
            &node.path,
            format!("{} must not be negative, found {rate}", node.key()),
        );
        return None;
    }
    Some(rate)
}

fn time(ctx: &mut Ctx, node: &Node) -> Option<SimTime> {
    reader::duration(ctx, node).map(|d| SimTime(d.0))
}

fn rate_or_zero(ctx: &mut Ctx, fields: &Fields, key: &str) -> Option<f64> {
    fields.get(key).map_or(Some(0.0), |n| rate(ctx, &n))
}

fn read_steps(ctx: &mut Ctx, fields: &Fields) -> Option<LoadShape> {
    let initial = rate_or_zero(ctx, fields, "initial_per_s");
    let steps_node =
        fields.require_with(ctx, "steps", " (e.g. [{ at = \"10m\", rate_per_s = 50 }])")?;
    let elements = reader::array(ctx, &steps_node)?;
    if elements.is_empty() {
        ctx.error(
            &steps_node.span,
            &steps_node.path,
            "`steps` needs at least one step (shape = \"constant\" takes a single rate)",
        );
        return None;
    }
    let mut steps = Vec::with_capacity(elements.len());
    let mut ok = true;
    let mut previous: Option<SimTime> = None;
    for element in &elements {
        match read_step(ctx, element) {
            Some((at_node, (at, rate))) => {
                if let Some(before) = previous.filter(|before| at <= *before) {
                    ctx.error(
                        &at_node.span,
                        &at_node.path,
                        format!(
                            "steps must be sorted by strictly increasing `at`: {at} is not after \
                             the previous step's {before}"
                        ),
                    );
                    ok = false;
                }
                previous = Some(at);
                steps.push((at, rate));
            }
            None => ok = false,
        }
    }
    let initial_per_s = initial?;
    if !ok {
        return None;
    }
    built(ctx, &steps_node, LoadShape::steps(initial_per_s, steps))
}

/// The core's constructors check what this reader already did; a refusal
/// would still be reported, at the key that gave the points.
fn built(ctx: &mut Ctx, node: &Node, shape: Result<LoadShape, LoadError>) -> Option<LoadShape> {
    shape
        .map_err(|e| ctx.error(&node.span, &node.path, e.to_string()))
        .ok()
}

/// One `{ at, rate_per_s }`, with the `at` node for ordering problems.
fn read_step<'a>(ctx: &mut Ctx, node: &Node<'a>) -> Option<(Node<'a>, (SimTime, f64))> {
    let fields = reader::table(ctx, node, STEP_KEYS)?;
    let at_node = fields.require(ctx, "at");
    let at = at_node.as_ref().and_then(|n| time(ctx, n));
    let rate = fields
        .require(ctx, "rate_per_s")
        .and_then(|n| rate(ctx, &n));
    Some((at_node?, (at?, rate?)))
}

fn read_ramp(ctx: &mut Ctx, fields: &Fields) -> Option<LoadShape> {
    let from = fields
        .require(ctx, "from_per_s")
        .and_then(|n| rate(ctx, &n));
    let to = fields.require(ctx, "to_per_s").and_then(|n| rate(ctx, &n));
    let start = fields
        .get("start")
        .map_or(Some(SimTime::ZERO), |n| time(ctx, &n));
    let end_node = fields.require_with(ctx, "end", " (when the ramp reaches `to_per_s`)");
    let end = end_node.as_ref().and_then(|n| time(ctx, n));
    let (start, end, end_node) = (start?, end?, end_node?);
    if end <= start {
        ctx.error(
            &end_node.span,
            &end_node.path,
            format!("end ({end}) must be after start ({start})"),
        );
        return None;
    }
    Some(LoadShape::Ramp {
        from_per_s: from?,
        to_per_s: to?,
        start,
        end,
    })
}

fn read_diurnal(ctx: &mut Ctx, fields: &Fields) -> Option<LoadShape> {
    let min = fields.require(ctx, "min_per_s").and_then(|n| rate(ctx, &n));
    let max_node = fields.require(ctx, "max_per_s");
    let max = max_node.as_ref().and_then(|n| rate(ctx, n));
    let period = reader::duration_or(ctx, fields, "period", DEFAULT_PERIOD, true);
    let peak_node = fields.require_with(ctx, "peak_at", " (when in each period the rate peaks)");
    let peak_at = peak_node.as_ref().and_then(|n| reader::duration(ctx, n));
    let (min_per_s, max_per_s, period) = (min?, max?, period?);
    let mut ok = true;
    if let Some(n) = max_node.filter(|_| min_per_s > max_per_s) {
        ctx.error(
            &n.span,
            &n.path,
            format!("max_per_s ({max_per_s}) must not be below min_per_s ({min_per_s})"),
        );
        ok = false;
    }
    let (peak_at, peak_node) = (peak_at?, peak_node?);
    if peak_at >= period {
        ctx.error(
            &peak_node.span,
            &peak_node.path,
            format!("peak_at ({peak_at}) must be within the period ({period})"),
        );
        ok = false;
    }
    ok.then_some(LoadShape::Diurnal {
        min_per_s,
        max_per_s,
        period,
        peak_at,
    })
}

//! Quantities in their units, and distribution tables over them:
//! `{ dist = "lognormal", median = "5m", sigma = 1.0 }`.

use ksim_core::config::Request;
use ksim_core::distribution::{Distribution, DistributionError};

use crate::reader::{self, Ctx, Node};
use crate::{names, quantity};

/// What a value measures; decides its syntax and base unit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Millicores: `"500m"`, `"2"`, `2`, `1.5`.
    Cpu,
    /// Bytes: `"16Gi"`, `"500M"`, `1024`.
    Bytes,
    /// Nanoseconds: `"90s"`, `"1h30m"`.
    Duration,
}

/// A single value in base units (millicores, bytes, nanoseconds).
pub(crate) fn scalar(ctx: &mut Ctx, node: &Node, unit: Unit) -> Option<u64> {
    if unit == Unit::Duration {
        return reader::duration(ctx, node).map(|d| d.0);
    }
    let parsed = if let Some(text) = node.as_str() {
        match unit {
            Unit::Cpu => quantity::parse_cpu_millis(text),
            _ => quantity::parse_bytes(text),
        }
    } else if let Some(i) = node.as_integer() {
        if i < 0 {
            ctx.error(&node.span, &node.path, format!("{i} must not be negative"));
            return None;
        }
        match unit {
            Unit::Cpu => quantity::parse_cpu_millis(&i.to_string()),
            _ => Ok(i as u64),
        }
    } else if let (Some(f), Unit::Cpu) = (node.as_float(), unit) {
        // Display gives the shortest exact decimal (0.1 -> "0.1"), which the
        // quantity parser then reads without float rounding.
        quantity::parse_cpu_millis(&f.to_string())
    } else {
        let expected = match unit {
            Unit::Cpu => "a cpu quantity like \"500m\" or \"2\", or a number of cores",
            _ => "a quantity string like \"16Gi\" or an integer number of bytes",
        };
        node.wrong_type(ctx, expected);
        return None;
    };
    match parsed {
        Ok(v) => Some(v),
        Err(e) => {
            ctx.error(&node.span, &node.path, e.to_string());
            None
        }
    }
}

const DIST_KEYS: &[&str] = &[
    "dist", "value", "min", "max", "mean", "median", "sigma", "values", "weights",
];
const DISTS: &[&str] = &[
    "constant",
    "uniform",
    "exponential",
    "lognormal",
    "empirical",
];

/// The parameters each distribution takes.
fn parameters(dist: &str) -> &'static [&'static str] {
    match dist {
        "constant" => &["value"],
        "uniform" => &["min", "max"],
        "exponential" => &["mean"],
        "lognormal" => &["median", "sigma"],
        _ => &["values", "weights"],
    }
}

/// A fixed value or a distribution table, in `unit`.
pub(crate) fn distribution(ctx: &mut Ctx, node: &Node, unit: Unit) -> Option<Distribution> {
    if !node.is_table() {
        return scalar(ctx, node, unit)
            .and_then(|v| accepted(ctx, node, Distribution::constant(v as f64)));
    }
    let fields = reader::table(ctx, node, DIST_KEYS)?;
    let dist_node =
        fields.require_with(ctx, "dist", &format!(" (one of {})", names::list(DISTS)))?;
    let dist = reader::choice(ctx, &dist_node, DISTS)?;
    let takes = parameters(dist);
    let mut misplaced = false;
    for key in DIST_KEYS.iter().skip(1) {
        if fields.has(key) && !takes.contains(key) {
            misplaced = true;
            ctx.error(
                &fields.key_span(key),
                &reader::join_key(&fields.path, key),
                format!(
                    "`{key}` is not a parameter of dist = \"{dist}\" (it takes {})",
                    names::list(takes)
                ),
            );
        }
    }
    let value = |ctx: &mut Ctx, key: &str| -> Option<f64> {
        fields
            .require(ctx, key)
            .and_then(|n| scalar(ctx, &n, unit))
            .map(|v| v as f64)
    };
    let built = match dist {
        "constant" => value(ctx, "value").map(Distribution::constant),
        "uniform" => {
            let (min, max) = (value(ctx, "min"), value(ctx, "max"));
            min.zip(max).map(|(a, b)| Distribution::uniform(a, b))
        }
        "exponential" => value(ctx, "mean").map(Distribution::exponential),
        "lognormal" => {
            let median = value(ctx, "median");
            let sigma = fields
                .require(ctx, "sigma")
                .and_then(|n| reader::number(ctx, &n));
            median
                .zip(sigma)
                .map(|(m, s)| Distribution::log_normal(m, s))
        }
        _ => empirical(ctx, &fields, unit),
    }?;
    if misplaced {
        return None;
    }
    accepted(ctx, node, built)
}

/// The distribution, or its rejection reported at `node`.
fn accepted(
    ctx: &mut Ctx,
    node: &Node,
    built: Result<Distribution, DistributionError>,
) -> Option<Distribution> {
    built
        .map_err(|e| ctx.error(&node.span, &node.path, format!("invalid distribution: {e}")))
        .ok()
}

fn empirical(
    ctx: &mut Ctx,
    fields: &reader::Fields,
    unit: Unit,
) -> Option<Result<Distribution, DistributionError>> {
    let values_node = fields.require(ctx, "values")?;
    let values: Option<Vec<f64>> = reader::array(ctx, &values_node)?
        .iter()
        .map(|n| scalar(ctx, n, unit).map(|v| v as f64))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let weights: Option<Vec<f64>> = match fields.get("weights") {
        None => Some(Vec::new()),
        Some(node) => reader::array(ctx, &node)?
            .iter()
            .map(|n| reader::number(ctx, n))
            .collect::<Vec<_>>()
            .into_iter()
            .collect(),
    };
    Some(Distribution::empirical(values?, weights?))
}

/// A pod resource request: fixed, or drawn per pod from a distribution.
pub(crate) fn request(ctx: &mut Ctx, node: &Node, unit: Unit) -> Option<Request> {
    if !node.is_table() {
        // Straight to an integer: large byte counts would lose precision in f64.
        return scalar(ctx, node, unit).map(Request::Fixed);
    }
    match distribution(ctx, node, unit)? {
        Distribution::Constant(v) => Some(Request::Fixed(v as u64)),
        drawn => Some(Request::Drawn(drawn)),
    }
}

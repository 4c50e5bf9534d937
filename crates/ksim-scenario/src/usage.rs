//! `[workloads.service]` and `[workloads.executions]`: what a deployment's
//! pods do with their load, and so what they use.

use ksim_core::time::SimDuration;
use ksim_core::usage::{ExecutionModel, ServiceModel, DEFAULT_FLUID_ABOVE_PER_S};

use crate::distributions::{distribution, scalar, Unit};
use crate::quantity;
use crate::reader::{self, Ctx, Fields, Node};

const SERVICE_KEYS: &[&str] = &[
    "capacity_per_s",
    "cpu_idle",
    "cpu_per_request",
    "memory_base",
    "memory_per_request",
    "service_time",
    "queue_limit",
];
const EXECUTION_KEYS: &[&str] = &[
    "max_concurrent",
    "duration",
    "cpu_idle",
    "cpu_per_execution",
    "memory_base",
    "memory_per_execution",
    "fluid_above_per_s",
];
/// A request served in 100 ms when not queued: a model default, not a
/// published figure.
const DEFAULT_SERVICE_TIME: SimDuration = SimDuration::from_millis(100);
/// Requests one replica queues before dropping: a model default.
const DEFAULT_QUEUE_LIMIT: u64 = 100;

/// `[workloads.service]`: a request-driven service.
pub(crate) fn read_service(ctx: &mut Ctx, node: &Node) -> Option<ServiceModel> {
    let fields = reader::table(ctx, node, SERVICE_KEYS)?;
    let capacity = fields
        .require_with(
            ctx,
            "capacity_per_s",
            " (requests per second one replica serves)",
        )
        .and_then(|n| {
            let rate = reader::number(ctx, &n)?;
            reader::positive(ctx, &n, rate)
        });
    let cpu_idle = quantity_or(ctx, &fields, "cpu_idle", Unit::Cpu);
    let cpu_per_request = fine_cpu_or(ctx, &fields, "cpu_per_request");
    let memory_base = quantity_or(ctx, &fields, "memory_base", Unit::Bytes);
    let memory_per_request = quantity_or(ctx, &fields, "memory_per_request", Unit::Bytes);
    let service_time =
        reader::duration_or(ctx, &fields, "service_time", DEFAULT_SERVICE_TIME, true);
    let queue_limit = reader::count_or(
        ctx,
        &fields,
        "queue_limit",
        DEFAULT_QUEUE_LIMIT,
        0,
        u64::from(u32::MAX),
    );
    Some(ServiceModel {
        capacity_per_replica_per_s: capacity?,
        cpu_idle_millis: cpu_idle?,
        cpu_per_request_millis: cpu_per_request?,
        memory_base_bytes: memory_base?,
        memory_per_request_bytes: memory_per_request?,
        service_time_s: service_time?.as_secs_f64(),
        queue_limit_per_replica: queue_limit? as f64,
    })
}

/// `[workloads.executions]`: execution workers.
pub(crate) fn read_executions(ctx: &mut Ctx, node: &Node) -> Option<ExecutionModel> {
    let fields = reader::table(ctx, node, EXECUTION_KEYS)?;
    let max_concurrent = fields
        .require_with(
            ctx,
            "max_concurrent",
            " (executions one worker runs at once)",
        )
        .and_then(|n| reader::count(ctx, &n, 1, u64::from(u32::MAX)));
    let duration = fields
        .require_with(ctx, "duration", " (how long an execution runs)")
        .and_then(|n| distribution(ctx, &n, Unit::Duration));
    let cpu_idle = quantity_or(ctx, &fields, "cpu_idle", Unit::Cpu);
    let cpu_per_execution = fine_cpu_or(ctx, &fields, "cpu_per_execution");
    let memory_base = quantity_or(ctx, &fields, "memory_base", Unit::Bytes);
    let memory_per_execution = quantity_or(ctx, &fields, "memory_per_execution", Unit::Bytes);
    let fluid_above = match fields.get("fluid_above_per_s") {
        None => Some(DEFAULT_FLUID_ABOVE_PER_S),
        Some(n) => reader::number(ctx, &n).and_then(|v| reader::positive(ctx, &n, v)),
    };
    Some(ExecutionModel {
        max_concurrent: u32::try_from(max_concurrent?).ok()?,
        duration: duration?,
        cpu_idle_millis: cpu_idle?,
        cpu_per_execution_millis: cpu_per_execution?,
        memory_base_bytes: memory_base?,
        memory_per_execution_bytes: memory_per_execution?,
        fluid_above_per_s: fluid_above?,
    })
}

/// A cpu (millicores) or memory (bytes) quantity, 0 when not written.
fn quantity_or(ctx: &mut Ctx, fields: &Fields, key: &str, unit: Unit) -> Option<f64> {
    match fields.get(key) {
        None => Some(0.0),
        Some(n) => scalar(ctx, &n, unit).map(|v| v as f64),
    }
}

/// A cpu cost per request or execution in millicores, 0 when not written:
/// a quantity down to a nanocore (`"500u"` is half a millicore).
fn fine_cpu_or(ctx: &mut Ctx, fields: &Fields, key: &str) -> Option<f64> {
    let Some(node) = fields.get(key) else {
        return Some(0.0);
    };
    let parsed = if let Some(text) = node.as_str() {
        quantity::parse_cpu_nanos(text)
    } else if let Some(i) = node.as_integer() {
        quantity::parse_cpu_nanos(&i.to_string())
    } else if let Some(f) = node.as_float() {
        // Display gives the shortest exact decimal, read without float rounding.
        quantity::parse_cpu_nanos(&f.to_string())
    } else {
        node.wrong_type(ctx, "a cpu quantity like \"2m\" or \"500u\"");
        return None;
    };
    match parsed {
        Ok(nanos) => Some(nanos as f64 / 1e6),
        Err(e) => {
            ctx.error(&node.span, &node.path, e.to_string());
            None
        }
    }
}

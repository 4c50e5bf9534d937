//! `[trace]`: a workload trace replayed as the scenario's pods (the formats
//! and mappings are `ksim-trace`'s; `docs/traces.md`). Paths resolve
//! against the scenario's folder and must exist.

use ksim_trace::{Format, Scale, TraceSpec};

use crate::quantity;
use crate::reader::{self, Ctx, Node};

const TRACE_KEYS: &[&str] = &[
    "format",
    "path",
    "nodes",
    "window_start",
    "window_end",
    "time_scale",
    "pod_limit",
    "machine_cpu",
    "machine_memory",
    "cpu_scale",
    "memory_scale",
    "skip_bad_rows",
];

pub(crate) fn read(ctx: &mut Ctx, node: &Node) -> Option<TraceSpec> {
    let fields = reader::table(ctx, node, TRACE_KEYS)?;
    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
    let format = fields
        .require(ctx, "format")
        .and_then(|n| reader::choice(ctx, &n, &names))
        .and_then(Format::from_name);
    if let (Some(Format::AzureFunctions2019), Some(n)) = (format, fields.get("format")) {
        ctx.error(
            &n.span,
            &n.path,
            "azure-functions-2019 is a rate trace: convert it with `ksim trace convert` and \
             read it as a workload's load (shape = \"series\")",
        );
    }
    let path = fields.require(ctx, "path").and_then(|n| existing(ctx, &n));
    let nodes = match fields.get("nodes") {
        Some(n) => Some(existing(ctx, &n)?),
        None => None,
    };
    let seconds = |ctx: &mut Ctx, key: &str| match fields.get(key) {
        Some(n) => reader::duration(ctx, &n).map(|d| Some(d.0 / 1_000_000_000)),
        None => Some(None),
    };
    let window_start_s = seconds(ctx, "window_start");
    let window_end_s = seconds(ctx, "window_end");
    if let (Some(Some(start)), Some(Some(end)), Some(n)) =
        (window_start_s, window_end_s, fields.get("window_end"))
    {
        if end <= start {
            ctx.error(&n.span, &n.path, "window_end must be after window_start");
        }
    }
    let positive = |ctx: &mut Ctx, key: &str| match fields.get(key) {
        Some(n) => reader::number(ctx, &n).and_then(|v| reader::positive(ctx, &n, v)),
        None => Some(1.0),
    };
    let time_scale = positive(ctx, "time_scale");
    let cpu_factor = positive(ctx, "cpu_scale");
    let memory_factor = positive(ctx, "memory_scale");
    let pod_limit = match fields.get("pod_limit") {
        Some(n) => reader::count(ctx, &n, 1, u64::MAX).map(Some),
        None => Some(None),
    };
    let mut scale = Scale::default();
    if let Some(n) = fields.get("machine_cpu") {
        let millis = reader::string(ctx, &n).and_then(|s| match quantity::parse_cpu_millis(s) {
            Ok(m) if m > 0 => Some(m),
            Ok(_) => {
                ctx.error(&n.span, &n.path, "machine_cpu must be above 0");
                None
            }
            Err(e) => {
                ctx.error(&n.span, &n.path, e.to_string());
                None
            }
        });
        scale.machine_cpu_millis = millis?;
    }
    if let Some(n) = fields.get("machine_memory") {
        let bytes = reader::string(ctx, &n).and_then(|s| match quantity::parse_bytes(s) {
            Ok(b) if b > 0 => Some(b),
            Ok(_) => {
                ctx.error(&n.span, &n.path, "machine_memory must be above 0");
                None
            }
            Err(e) => {
                ctx.error(&n.span, &n.path, e.to_string());
                None
            }
        });
        scale.machine_memory_bytes = bytes?;
    }
    scale.cpu_factor = cpu_factor?;
    scale.memory_factor = memory_factor?;
    let skip_bad_rows = match fields.get("skip_bad_rows") {
        Some(n) => reader::boolean(ctx, &n)?,
        None => false,
    };
    let format = format?;
    if nodes.is_some() && !matches!(format, Format::GoogleCluster2011 | Format::AlibabaGpuV2023) {
        let n = fields.get("nodes")?;
        ctx.error(
            &n.span,
            &n.path,
            format!(
                "{} has no node list: define [[node_pools]] instead",
                format.name()
            ),
        );
        return None;
    }
    Some(TraceSpec {
        format,
        path: path?,
        nodes,
        window_start_s: window_start_s?,
        window_end_s: window_end_s?,
        time_scale: time_scale?,
        pod_limit: pod_limit?,
        scale,
        skip_bad_rows,
    })
}

/// A file the key names, resolved; a missing one names the resolved path.
fn existing(ctx: &mut Ctx, node: &Node) -> Option<std::path::PathBuf> {
    let path = reader::string(ctx, node)?;
    let resolved = ctx.resolve(path);
    if !resolved.is_file() {
        ctx.error(
            &node.span,
            &node.path,
            format!("trace file `{}` does not exist", resolved.display()),
        );
        return None;
    }
    Some(resolved)
}

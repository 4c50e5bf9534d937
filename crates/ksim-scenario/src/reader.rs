//! A span-keeping view of the parsed TOML and a problem collector.
//!
//! Every value is read through a [`Node`], which knows its dotted key path and
//! byte span, so any problem can name both. Readers return `Option`: `None`
//! means a problem was recorded and the caller should carry on validating the
//! rest of the file.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ksim_core::config::SimConfig;
use ksim_core::time::SimDuration;
use toml_edit::{Array, ArrayOfTables, Item, TableLike, Value};

use crate::{duration, names, Problem, Scenario, ScenarioError};

pub(crate) type Span = Option<Range<usize>>;

/// Line and column lookups for one text. Built once per file so that each
/// problem is located by binary search: scanning from the start per problem
/// made a file with 10^5 errors take tens of seconds.
pub(crate) struct LineIndex {
    len: usize,
    /// Byte offset where each line starts; the first is 0.
    line_starts: Vec<usize>,
    /// Byte offsets of UTF-8 continuation bytes, which start no character.
    continuations: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        let mut continuations = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            } else if b & 0xC0 == 0x80 {
                continuations.push(i);
            }
        }
        LineIndex {
            len: bytes.len(),
            line_starts,
            continuations,
        }
    }

    /// 1-based line and character column of byte `offset` (clamped to the end).
    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.len);
        // The number of line starts at or before `offset` is the line number.
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let line_start = self.line_starts[line - 1];
        let continuations_before = |at: usize| self.continuations.partition_point(|&c| c < at);
        // Count characters, not bytes: continuation bytes add no column.
        let column = 1 + offset
            - line_start
            - (continuations_before(offset) - continuations_before(line_start));
        (line, column)
    }
}

/// Collects problems and warnings while a scenario is read.
pub(crate) struct Ctx<'t> {
    lines: LineIndex,
    file: &'t str,
    /// The scenario's directory, against which the files it names resolve.
    base_dir: PathBuf,
    /// With the byte offset they point at, to sort into document order.
    problems: Vec<(usize, Problem)>,
    warnings: Vec<String>,
    /// The `[trace]` section, once read.
    pub(crate) trace: Option<ksim_trace::TraceSpec>,
    /// Appended to every message: where a patched value came from.
    note: String,
}

impl<'t> Ctx<'t> {
    pub(crate) fn new(text: &'t str, file: &'t str, base_dir: &Path) -> Self {
        Ctx {
            lines: LineIndex::new(text),
            file,
            base_dir: base_dir.to_path_buf(),
            problems: Vec::new(),
            warnings: Vec::new(),
            trace: None,
            note: String::new(),
        }
    }

    /// Says where the values read from now on came from (`variant `fast``).
    pub(crate) fn set_note(&mut self, note: String) {
        self.note = note;
    }

    fn problem(&self, span: &Span, path: &str, mut message: String) -> (usize, Problem) {
        if !self.note.is_empty() {
            message = format!("{message} (in {})", self.note);
        }
        let (offset, line, column) = match span {
            Some(span) => {
                let (line, column) = self.lines.locate(span.start);
                (span.start, Some(line), Some(column))
            }
            None => (usize::MAX, None, None),
        };
        let problem = Problem {
            file: self.file.to_string(),
            line,
            column,
            key_path: path.to_string(),
            message,
        };
        (offset, problem)
    }

    pub(crate) fn error(&mut self, span: &Span, path: &str, message: impl Into<String>) {
        let problem = self.problem(span, path, message.into());
        self.problems.push(problem);
    }

    /// A warning, located like a problem but not fatal.
    pub(crate) fn warn(&mut self, span: &Span, path: &str, message: impl Into<String>) {
        let (_, problem) = self.problem(span, path, message.into());
        self.warnings.push(problem.to_string());
    }

    /// `path` as written in the scenario, resolved against its directory.
    pub(crate) fn resolve(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.problems.is_empty()
    }

    pub(crate) fn finish(mut self, config: Option<SimConfig>) -> Result<Scenario, ScenarioError> {
        match config {
            Some(config) if self.problems.is_empty() => Ok(Scenario {
                config,
                warnings: self.warnings,
                trace: self.trace,
            }),
            _ => {
                if self.problems.is_empty() {
                    // Only reachable through a reader bug; still no panic.
                    self.error(&None, "", "scenario could not be built");
                }
                self.problems.sort_by_key(|(offset, _)| *offset);
                Err(ScenarioError {
                    problems: self.problems.into_iter().map(|(_, p)| p).collect(),
                })
            }
        }
    }
}

/// `parent.key`, quoting keys that are not bare TOML keys.
pub(crate) fn join_key(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

#[derive(Clone)]
pub(crate) enum Kind<'a> {
    Table(&'a dyn TableLike),
    Values(&'a Array),
    Tables(&'a ArrayOfTables),
    Scalar(&'a Value),
}

/// A value in the document with its key path and span.
#[derive(Clone)]
pub(crate) struct Node<'a> {
    pub path: String,
    pub span: Span,
    pub kind: Kind<'a>,
}

impl<'a> Node<'a> {
    pub(crate) fn root(table: &'a dyn TableLike) -> Self {
        Node {
            path: String::new(),
            span: Some(0..0),
            kind: Kind::Table(table),
        }
    }

    /// `fallback` is used when the item has no span of its own (implicit tables).
    fn from_item(item: &'a Item, path: String, fallback: Span) -> Option<Self> {
        let (kind, span) = match item {
            Item::None => return None,
            Item::Value(value) => return Some(Self::from_value(value, path, fallback)),
            Item::Table(table) => (Kind::Table(table as &dyn TableLike), table.span()),
            Item::ArrayOfTables(tables) => (Kind::Tables(tables), tables.span()),
        };
        Some(Node {
            path,
            span: span.or(fallback),
            kind,
        })
    }

    fn from_value(value: &'a Value, path: String, fallback: Span) -> Self {
        let kind = match value {
            Value::Array(array) => Kind::Values(array),
            Value::InlineTable(table) => Kind::Table(table as &dyn TableLike),
            scalar => Kind::Scalar(scalar),
        };
        Node {
            path,
            span: value.span().or(fallback),
            kind,
        }
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Table(_) => "a table",
            Kind::Values(_) | Kind::Tables(_) => "an array",
            Kind::Scalar(Value::String(_)) => "a string",
            Kind::Scalar(Value::Integer(_)) => "an integer",
            Kind::Scalar(Value::Float(_)) => "a float",
            Kind::Scalar(Value::Boolean(_)) => "a boolean",
            Kind::Scalar(Value::Datetime(_)) => "a date-time",
            Kind::Scalar(_) => "a value",
        }
    }

    pub(crate) fn as_str(&self) -> Option<&'a str> {
        match &self.kind {
            Kind::Scalar(Value::String(s)) => Some(s.value().as_str()),
            _ => None,
        }
    }

    pub(crate) fn as_integer(&self) -> Option<i64> {
        match &self.kind {
            Kind::Scalar(Value::Integer(i)) => Some(*i.value()),
            _ => None,
        }
    }

    pub(crate) fn as_float(&self) -> Option<f64> {
        match &self.kind {
            Kind::Scalar(Value::Float(f)) => Some(*f.value()),
            _ => None,
        }
    }

    /// The last key of the path: `cpu` of `node_pools[0].cpu`.
    pub(crate) fn key(&self) -> &str {
        self.path.rsplit('.').next().unwrap_or_default()
    }

    pub(crate) fn is_table(&self) -> bool {
        matches!(self.kind, Kind::Table(_))
    }

    /// Reports a type mismatch: "expected X, found Y".
    pub(crate) fn wrong_type(&self, ctx: &mut Ctx, expected: &str) {
        ctx.error(
            &self.span,
            &self.path,
            format!("expected {expected}, found {}", self.type_name()),
        );
    }
}

/// Where a value was written, for checks made once more of the file is read.
#[derive(Clone)]
pub(crate) struct Place {
    pub path: String,
    pub span: Span,
}

impl Place {
    /// The key if it was written, else the table that would hold it.
    pub(crate) fn of(fields: &Fields, key: &str) -> Place {
        if fields.has(key) {
            Place {
                path: join_key(&fields.path, key),
                span: fields.key_span(key),
            }
        } else {
            Place {
                path: fields.path.clone(),
                span: fields.span.clone(),
            }
        }
    }
}

/// One key of a free-form table (labels, extended resources).
pub(crate) struct Entry<'a> {
    pub key: &'a str,
    pub key_span: Span,
    pub node: Node<'a>,
}

/// A table being read, whose keys were checked against the allowed set.
pub(crate) struct Fields<'a> {
    table: &'a dyn TableLike,
    pub span: Span,
    pub path: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn key_span(&self, key: &str) -> Span {
        self.table
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .or_else(|| self.span.clone())
    }

    pub(crate) fn get(&self, key: &str) -> Option<Node<'a>> {
        let item = self.table.get(key)?;
        Node::from_item(item, join_key(&self.path, key), self.key_span(key))
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The value at `key`, or a "missing required key" problem.
    pub(crate) fn require(&self, ctx: &mut Ctx, key: &str) -> Option<Node<'a>> {
        self.require_with(ctx, key, "")
    }

    /// Like [`Fields::require`], with a hint appended to the message.
    pub(crate) fn require_with(&self, ctx: &mut Ctx, key: &str, hint: &str) -> Option<Node<'a>> {
        let node = self.get(key);
        if node.is_none() {
            ctx.error(
                &self.span,
                &self.path,
                format!("missing required key `{key}`{hint}"),
            );
        }
        node
    }

    /// All keys in document order.
    pub(crate) fn entries(&self) -> Vec<Entry<'a>> {
        self.table
            .iter()
            .filter_map(|(key, item)| {
                let key_span = self.key_span(key);
                let node = Node::from_item(item, join_key(&self.path, key), key_span.clone())?;
                Some(Entry {
                    key,
                    key_span,
                    node,
                })
            })
            .collect()
    }
}

/// Opens `node` as a table whose keys must come from `allowed`; unknown keys
/// are reported (with the nearest allowed key as a suggestion) and ignored.
pub(crate) fn table<'a>(ctx: &mut Ctx, node: &Node<'a>, allowed: &[&str]) -> Option<Fields<'a>> {
    let fields = free_table(ctx, node)?;
    for (key, _) in fields.table.iter() {
        if !allowed.contains(&key) {
            let message = match names::suggest(key, allowed) {
                Some(best) => format!("unknown key `{key}`: did you mean `{best}`?"),
                None => format!(
                    "unknown key `{key}`: expected one of {}",
                    names::list(allowed)
                ),
            };
            ctx.error(&fields.key_span(key), &join_key(&fields.path, key), message);
        }
    }
    Some(fields)
}

/// Opens `node` as a table with arbitrary keys.
pub(crate) fn free_table<'a>(ctx: &mut Ctx, node: &Node<'a>) -> Option<Fields<'a>> {
    match &node.kind {
        Kind::Table(table) => Some(Fields {
            table: *table,
            span: node.span.clone(),
            path: node.path.clone(),
        }),
        _ => {
            node.wrong_type(ctx, "a table");
            None
        }
    }
}

/// The elements of an array (inline or `[[array of tables]]`).
pub(crate) fn array<'a>(ctx: &mut Ctx, node: &Node<'a>) -> Option<Vec<Node<'a>>> {
    let element_path = |i: usize| format!("{}[{i}]", node.path);
    match &node.kind {
        Kind::Values(values) => Some(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Node::from_value(v, element_path(i), node.span.clone()))
                .collect(),
        ),
        Kind::Tables(tables) => Some(
            tables
                .iter()
                .enumerate()
                .map(|(i, t)| Node {
                    path: element_path(i),
                    span: t.span().or(node.span.clone()),
                    kind: Kind::Table(t as &dyn TableLike),
                })
                .collect(),
        ),
        _ => {
            node.wrong_type(ctx, "an array");
            None
        }
    }
}

pub(crate) fn string<'a>(ctx: &mut Ctx, node: &Node<'a>) -> Option<&'a str> {
    let s = node.as_str();
    if s.is_none() {
        node.wrong_type(ctx, "a string");
    }
    s
}

/// A string that must not be empty.
pub(crate) fn name<'a>(ctx: &mut Ctx, node: &Node<'a>) -> Option<&'a str> {
    let s = string(ctx, node)?;
    if s.trim().is_empty() {
        ctx.error(&node.span, &node.path, "must not be empty");
        return None;
    }
    Some(s)
}

pub(crate) fn boolean(ctx: &mut Ctx, node: &Node) -> Option<bool> {
    match &node.kind {
        Kind::Scalar(Value::Boolean(b)) => Some(*b.value()),
        _ => {
            node.wrong_type(ctx, "a boolean (true or false)");
            None
        }
    }
}

pub(crate) fn integer(ctx: &mut Ctx, node: &Node) -> Option<i64> {
    if let Some(i) = node.as_integer() {
        return Some(i);
    }
    let hint = match (node.as_str(), node.as_float()) {
        (Some(s), _) if s.trim().parse::<i64>().is_ok() => {
            format!(" (write {} without quotes)", s.trim())
        }
        (_, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => {
            format!(" (write {})", f as i64)
        }
        _ => String::new(),
    };
    ctx.error(
        &node.span,
        &node.path,
        format!("expected an integer, found {}{hint}", node.type_name()),
    );
    None
}

/// An integer within `[min, max]`, e.g. a node count or `max_pods`.
pub(crate) fn count(ctx: &mut Ctx, node: &Node, min: u64, max: u64) -> Option<u64> {
    let i = integer(ctx, node)?;
    let message = if i < 0 && min == 0 {
        format!("must not be negative, found {i}")
    } else if i < 0 || (i as u64) < min {
        format!("must be at least {min}, found {i}")
    } else if i as u64 > max {
        format!("{i} is too large (at most {max})")
    } else {
        return Some(i as u64);
    };
    ctx.error(&node.span, &node.path, message);
    None
}

/// An optional count with a default; `max` must fit in `T`.
pub(crate) fn count_or<T: TryFrom<u64>>(
    ctx: &mut Ctx,
    fields: &Fields,
    key: &str,
    default: T,
    min: u64,
    max: u64,
) -> Option<T> {
    let Some(node) = fields.get(key) else {
        return Some(default);
    };
    count(ctx, &node, min, max).and_then(|c| T::try_from(c).ok())
}

/// A finite number, integer or float.
pub(crate) fn number(ctx: &mut Ctx, node: &Node) -> Option<f64> {
    let n = node
        .as_float()
        .or_else(|| node.as_integer().map(|i| i as f64));
    match n {
        Some(n) if n.is_finite() => Some(n),
        Some(n) => {
            ctx.error(
                &node.span,
                &node.path,
                format!("expected a finite number, found {n}"),
            );
            None
        }
        None => {
            node.wrong_type(ctx, "a number");
            None
        }
    }
}

/// An optional number above zero with a default.
pub(crate) fn positive_number_or(
    ctx: &mut Ctx,
    fields: &Fields,
    key: &str,
    default: f64,
) -> Option<f64> {
    let Some(node) = fields.get(key) else {
        return Some(default);
    };
    let value = number(ctx, &node)?;
    positive(ctx, &node, value)
}

/// `value`, read from `node`, if it is a finite number above zero.
pub(crate) fn positive(ctx: &mut Ctx, node: &Node, value: f64) -> Option<f64> {
    if value.is_finite() && value > 0.0 {
        return Some(value);
    }
    ctx.error(
        &node.span,
        &node.path,
        format!("{} must be greater than zero, found {value}", node.key()),
    );
    None
}

pub(crate) fn duration(ctx: &mut Ctx, node: &Node) -> Option<SimDuration> {
    let Some(text) = node.as_str() else {
        let hint = match node.as_integer() {
            Some(i) => format!(" (write \"{i}s\" for {i} seconds)"),
            None => String::new(),
        };
        ctx.error(
            &node.span,
            &node.path,
            format!(
                "expected a duration string like \"90s\", found {}{hint}",
                node.type_name()
            ),
        );
        return None;
    };
    match duration::parse_duration(text) {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.error(&node.span, &node.path, e.to_string());
            None
        }
    }
}

/// A duration that must be greater than zero.
pub(crate) fn positive_duration(ctx: &mut Ctx, node: &Node) -> Option<SimDuration> {
    let d = duration(ctx, node)?;
    if d == SimDuration::ZERO {
        ctx.error(
            &node.span,
            &node.path,
            format!("{} must be greater than zero", node.key()),
        );
        return None;
    }
    Some(d)
}

/// An optional duration with a default; `positive` rejects zero.
pub(crate) fn duration_or(
    ctx: &mut Ctx,
    fields: &Fields,
    key: &str,
    default: SimDuration,
    positive: bool,
) -> Option<SimDuration> {
    match fields.get(key) {
        None => Some(default),
        Some(node) if positive => positive_duration(ctx, &node),
        Some(node) => duration(ctx, &node),
    }
}

/// The mean gap between events that come `rate` times per `per_s` seconds
/// (`rate_per_s`: 1 s, `per_hour`: 3600 s), read from `node`. A gap that
/// rounds to 0 ns would put every event at one instant, so time would never
/// advance; one of 2^63 ns or more is beyond what simulated time spans.
pub(crate) fn gap_from_rate(
    ctx: &mut Ctx,
    node: &Node,
    per_s: f64,
    events: &str,
) -> Option<SimDuration> {
    let rate = number(ctx, node)?;
    let key = node.key();
    let gap_s = per_s / rate;
    let gap = SimDuration::from_secs_f64(gap_s);
    let message = if rate <= 0.0 {
        format!("{key} must be greater than zero, found {rate}")
    } else if gap == SimDuration::ZERO {
        format!(
            "{key} = {rate} puts {:.3} ns between {events} on average, which rounds to 0 ns \
             (simulated time counts whole nanoseconds): they would all come at one instant \
             and time would never advance; at most {:e}",
            gap_s * 1e9,
            per_s * 2e9
        )
    } else if gap.0 >= duration::LIMIT {
        format!(
            "{key} = {rate} puts {gap_s:e} s between {events} on average, longer than \
             simulated time spans (2^63 ns, about 292 years)"
        )
    } else {
        return Some(gap);
    };
    ctx.error(&node.span, &node.path, message);
    None
}

/// Names used so far, each with the path of its first owner; a map so that
/// checking 10^5 names stays linear-logarithmic.
pub(crate) type SeenNames = BTreeMap<String, String>;

/// Records `name` as used, reporting a duplicate.
pub(crate) fn unique_name(
    ctx: &mut Ctx,
    seen: &mut SeenNames,
    name: &str,
    node: &Node,
    what: &str,
) -> bool {
    if let Some(first) = seen.get(name) {
        ctx.error(
            &node.span,
            &node.path,
            format!("duplicate {what} name `{name}` (already used by {first})"),
        );
        return false;
    }
    let owner = node.path.rsplit_once('.').map_or("", |(p, _)| p);
    seen.insert(name.to_string(), owner.to_string());
    true
}

/// One of `options`, with a suggestion when the value is close to one.
pub(crate) fn choice<'o>(ctx: &mut Ctx, node: &Node, options: &[&'o str]) -> Option<&'o str> {
    let value = string(ctx, node)?;
    if let Some(found) = options.iter().find(|o| **o == value) {
        return Some(found);
    }
    let message = match names::suggest(value, options) {
        Some(best) => format!(
            "unknown value `{value}`: did you mean `{best}`? (expected one of {})",
            names::list(options)
        ),
        None => format!(
            "unknown value `{value}`: expected one of {}",
            names::list(options)
        ),
    };
    ctx.error(&node.span, &node.path, message);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let lines = LineIndex::new(text);
        assert_eq!(lines.locate(0), (1, 1));
        assert_eq!(lines.locate(4), (1, 5));
        assert_eq!(lines.locate(5), (1, 6), "the newline ends its line");
        assert_eq!(lines.locate(6), (2, 1));
        // "é" is two bytes but one column.
        assert_eq!(lines.locate(text.find('"').unwrap()), (2, 6));
        assert_eq!(lines.locate(text.len()), (3, 1));
        assert_eq!(
            lines.locate(text.len() + 10),
            (3, 1),
            "past the end: clamped"
        );
    }

    #[test]
    fn line_index_agrees_with_a_scan_from_the_start() {
        let text = "x = \"ü\"\n\n[t]\n  k = \"日本\" # ç\r\nend";
        let lines = LineIndex::new(text);
        for (offset, _) in text.char_indices() {
            let before = &text[..offset];
            let line = 1 + before.matches('\n').count();
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = 1 + text[line_start..offset].chars().count();
            assert_eq!(lines.locate(offset), (line, column), "offset {offset}");
        }
    }

    #[test]
    fn keys_are_quoted_only_when_needed() {
        assert_eq!(join_key("", "count"), "count");
        assert_eq!(
            join_key("node_pools[0].extended", "nvidia.com/gpu"),
            "node_pools[0].extended.\"nvidia.com/gpu\""
        );
    }
}

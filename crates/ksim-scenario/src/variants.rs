//! `[[variants]]` and `--set`: named patches of one scenario document.
//!
//! A patch is applied to a copy of the parsed document, which is then read
//! and validated like the file itself. Patched values keep the byte spans of
//! the text they came from, so a bad override is reported at its own line,
//! with the key path it lands on and, for an unknown key, the nearest valid
//! one. A `--set` value comes from the command line and has no line.

use std::path::Path;

use toml_edit::{Item, Key, Table, TableLike, Value};

use crate::reader::{self, Ctx, Node, SeenNames};
use crate::{simulation, Problem, Scenario, ScenarioError};

/// One scenario of a comparison: a name and the validated result of its patches.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: String,
    pub scenario: Scenario,
}

/// A `--set KEY=V1,V2,...` of a sweep: a dotted key path (`node_pools[0].max`)
/// and the values to try, as TOML text (a bare word is read as a string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub values: Vec<String>,
}

/// Reads `KEY=V1,V2,...`. Commas inside brackets, braces or quotes do not
/// split values, so `--set 'x=[1,2],[3]'` gives two arrays.
pub fn parse_setting(text: &str) -> Result<Setting, String> {
    let Some((key, values)) = text.split_once('=') else {
        return Err(format!("`{text}`: expected KEY=VALUE[,VALUE...]"));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("`{text}`: the key is empty"));
    }
    let values = split_values(values);
    if values.iter().any(|v| v.is_empty()) {
        return Err(format!("`{text}`: a value is empty"));
    }
    Ok(Setting {
        key: key.to_string(),
        values,
    })
}

fn split_values(text: &str) -> Vec<String> {
    let (mut values, mut current, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in text.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (c, Some(q)) if c == q => quote = None,
            ('[' | '{', None) => depth += 1,
            (']' | '}', None) => depth -= 1,
            (',', None) if depth == 0 => {
                values.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    values.push(current.trim().to_string());
    values
}

/// The variants of the scenario at `path`: each `[[variants]]` entry applied
/// to the base document, in file order (the first is the baseline). A file
/// without `[[variants]]` is one variant named after its scenario.
pub fn load_variants(path: &Path) -> Result<Vec<Variant>, ScenarioError> {
    load_sweep(path, &[])
}

/// The grid of a sweep: every variant of the file (see [`load_variants`])
/// under every combination of `settings`' values, the last setting varying
/// fastest. A grid point's name is its variant's (when the file has
/// `[[variants]]`) followed by `KEY=VALUE` per setting.
pub fn load_sweep(path: &Path, settings: &[Setting]) -> Result<Vec<Variant>, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        problems: vec![Problem {
            file: file.clone(),
            line: None,
            column: None,
            key_path: String::new(),
            message: format!("cannot read scenario file `{file}`: {e}"),
        }],
    })?;
    sweep_text(
        &text,
        &file,
        path.parent().unwrap_or(Path::new("")),
        settings,
    )
}

/// [`load_sweep`] of scenario `text`; `file` names it in messages.
pub fn parse_sweep(
    text: &str,
    file: &str,
    settings: &[Setting],
) -> Result<Vec<Variant>, ScenarioError> {
    let base_dir = Path::new(file).parent().unwrap_or(Path::new(""));
    sweep_text(text, file, base_dir, settings)
}

fn sweep_text(
    text: &str,
    file: &str,
    base_dir: &Path,
    settings: &[Setting],
) -> Result<Vec<Variant>, ScenarioError> {
    let document = crate::parse_document(text, file)?;
    let mut base = document.as_table().clone();
    let declared = base.remove("variants");
    let mut ctx = Ctx::new(text, file, base_dir);
    let patches = match &declared {
        Some(item) => read_declared(&mut ctx, item),
        None => Some(Vec::new()),
    };
    let patches = match patches {
        Some(p) if !ctx.has_errors() => p,
        _ => return Err(ctx.finish(None).expect_err("errors were recorded")),
    };
    let named = !patches.is_empty();
    let patches = if named {
        patches
    } else {
        vec![Patch::default()]
    };
    let mut variants = Vec::new();
    let mut problems = Vec::new();
    for patch in &patches {
        for point in grid(settings) {
            let mut patch = patch.clone();
            let labels: Vec<String> = point
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            patch.sets = point;
            let mut names: Vec<&str> = Vec::new();
            if named {
                names.push(&patch.name);
            }
            names.extend(labels.iter().map(String::as_str));
            let name = names.join(" ");
            match patch.apply(text, file, base_dir, &base) {
                Ok(scenario) => {
                    let name = if name.is_empty() {
                        scenario.config.name.clone()
                    } else {
                        name
                    };
                    variants.push(Variant { name, scenario });
                }
                Err(e) => problems.extend(e.problems),
            }
        }
    }
    if problems.is_empty() {
        Ok(variants)
    } else {
        Err(ScenarioError { problems })
    }
}

/// Every combination of the settings' values, the last varying fastest.
fn grid(settings: &[Setting]) -> Vec<Vec<(String, String)>> {
    let mut points = vec![Vec::new()];
    for setting in settings {
        points = points
            .into_iter()
            .flat_map(|point: Vec<(String, String)>| {
                setting.values.iter().map(move |value| {
                    let mut next = point.clone();
                    next.push((setting.key.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    points
}

/// One variant's changes to the base document.
#[derive(Clone, Default)]
struct Patch {
    name: String,
    /// The `overrides` table as written (its items keep their spans).
    overrides: Option<Table>,
    /// `--set` key paths and values.
    sets: Vec<(String, String)>,
}

fn read_declared(ctx: &mut Ctx, item: &Item) -> Option<Vec<Patch>> {
    let list = match item {
        Item::ArrayOfTables(tables) => tables,
        _ => {
            ctx.error(
                &item.span(),
                "variants",
                "expected [[variants]] tables, each with a `name` and `overrides`",
            );
            return None;
        }
    };
    let mut seen = SeenNames::new();
    let mut patches = Vec::new();
    for (i, table) in list.iter().enumerate() {
        let node = Node {
            path: format!("variants[{i}]"),
            span: table.span(),
            kind: reader::Kind::Table(table as &dyn TableLike),
        };
        let fields = reader::table(ctx, &node, &["name", "overrides"])?;
        let name_node = fields.require(ctx, "name")?;
        let name = reader::name(ctx, &name_node)?;
        if !reader::unique_name(ctx, &mut seen, name, &name_node, "variant") {
            continue;
        }
        let overrides = match table.get("overrides") {
            None => None,
            Some(item) => match item.as_table_like() {
                Some(t) => Some(to_table(t)),
                None => {
                    ctx.error(
                        &item.span(),
                        &format!("variants[{i}].overrides"),
                        "expected a table of the keys to change",
                    );
                    continue;
                }
            },
        };
        patches.push(Patch {
            name: name.to_string(),
            overrides,
            sets: Vec::new(),
        });
    }
    Some(patches)
}

/// A table-like (an inline `overrides = {...}` or `[variants.overrides]`)
/// as a table, keys and items with their spans.
fn to_table(source: &dyn TableLike) -> Table {
    let mut table = Table::new();
    for (key, item) in source.iter() {
        let key = source
            .get_key_value(key)
            .map_or_else(|| Key::new(key), |(k, _)| k.clone());
        table.insert_formatted(&key, item.clone());
    }
    table
}

impl Patch {
    fn apply(
        &self,
        text: &str,
        file: &str,
        base_dir: &Path,
        base: &Table,
    ) -> Result<Scenario, ScenarioError> {
        let mut ctx = Ctx::new(text, file, base_dir);
        let mut document = base.clone();
        let origin = if self.name.is_empty() {
            String::new()
        } else {
            format!("variant `{}`", self.name)
        };
        if let Some(overrides) = &self.overrides {
            ctx.set_note(origin.clone());
            merge_table(&mut ctx, &mut document, overrides);
        }
        for (key, value) in &self.sets {
            let note = if origin.is_empty() {
                format!("--set {key}={value}")
            } else {
                format!("{origin}, --set {key}={value}")
            };
            ctx.set_note(note);
            set_path(&mut ctx, &mut document, key, value);
        }
        if ctx.has_errors() {
            return ctx.finish(None);
        }
        let mut whole: Vec<String> = self
            .sets
            .iter()
            .map(|(key, value)| format!("--set {key}={value}"))
            .collect();
        if !origin.is_empty() {
            whole.insert(0, origin);
        }
        ctx.set_note(whole.join(", "));
        let config = simulation::read_document(&mut ctx, &document);
        ctx.finish(config)
    }
}

/// One step of a key path: a key, and an element of the array it names.
struct Segment {
    key: Key,
    index: Option<String>,
}

impl Segment {
    /// `name` or `name[index]`, keeping `key`'s span when it is the name.
    fn of(key: &Key) -> Segment {
        let text = key.get();
        match text.strip_suffix(']').and_then(|s| s.split_once('[')) {
            Some((name, index)) => Segment {
                key: Key::new(name),
                index: Some(index.to_string()),
            },
            None => Segment {
                key: key.clone(),
                index: None,
            },
        }
    }
}

/// The leaves of an overrides table with their key paths: a table is walked
/// into (so it merges into the table it names), anything else is a leaf
/// that replaces the value.
fn leaves(table: &Table, prefix: &mut Vec<Key>, out: &mut Vec<(Vec<Key>, Item)>) {
    for (text, item) in table.iter() {
        let key = table.key(text).cloned().unwrap_or_else(|| Key::new(text));
        prefix.push(key);
        match item.as_table_like() {
            Some(nested) if !item.is_array_of_tables() => leaves(&to_table(nested), prefix, out),
            _ => out.push((prefix.clone(), item.clone())),
        }
        prefix.pop();
    }
}

fn merge_table(ctx: &mut Ctx, document: &mut Table, overrides: &Table) {
    let mut found = Vec::new();
    leaves(overrides, &mut Vec::new(), &mut found);
    for (keys, item) in found {
        let segments: Vec<Segment> = keys.iter().map(Segment::of).collect();
        let span = item.span().or_else(|| keys.last().and_then(Key::span));
        set_at(ctx, document, &segments, item, String::new(), &span);
    }
}

/// Writes `value` (TOML text; anything that does not parse as a TOML value
/// is a string) at the dotted `key`, e.g. `node_pools[0].max`.
fn set_path(ctx: &mut Ctx, document: &mut Table, key: &str, value: &str) {
    let segments: Vec<Segment> = key
        .split('.')
        .map(|part| Segment::of(&Key::new(part.trim())))
        .collect();
    let value = value
        .parse::<Value>()
        .map(|v| without_spans(&v))
        .unwrap_or_else(|_| Value::from(value));
    set_at(
        ctx,
        document,
        &segments,
        Item::Value(value),
        String::new(),
        &None,
    );
}

/// A value parsed from other text than the scenario's, rebuilt so that no
/// span points into the scenario.
fn without_spans(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::from(s.value().as_str()),
        Value::Integer(i) => Value::from(*i.value()),
        Value::Float(f) => Value::from(*f.value()),
        Value::Boolean(b) => Value::from(*b.value()),
        Value::Datetime(d) => Value::from(*d.value()),
        Value::Array(a) => Value::Array(a.iter().map(without_spans).collect()),
        Value::InlineTable(t) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in t.iter() {
                table.insert(k, without_spans(v));
            }
            Value::InlineTable(table)
        }
    }
}

/// Walks `segments` from `table`, creating tables for missing keys, and
/// writes `item` at the last one.
fn set_at(
    ctx: &mut Ctx,
    table: &mut dyn TableLike,
    segments: &[Segment],
    item: Item,
    path: String,
    span: &reader::Span,
) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let name = first.key.get().to_string();
    let path = reader::join_key(&path, &name);
    let Some(index) = &first.index else {
        if rest.is_empty() {
            *table.entry_format(&first.key).or_insert(Item::None) = item;
            return;
        }
        let slot = table
            .entry_format(&first.key)
            .or_insert(Item::Table(implicit_table()));
        match slot.as_table_like_mut() {
            Some(inner) => set_at(ctx, inner, rest, item, path, span),
            None => ctx.error(
                span,
                &path,
                format!(
                    "`{name}` is not a table, so it has no key `{}`",
                    rest[0].key.get()
                ),
            ),
        }
        return;
    };
    let element_path = format!("{path}[{index}]");
    let Ok(index) = index.parse::<usize>() else {
        ctx.error(
            span,
            &element_path,
            format!("`[{index}]` is not an array index"),
        );
        return;
    };
    let element: Option<&mut dyn TableLike> = match table.get_mut(&name) {
        Some(Item::ArrayOfTables(tables)) => {
            let len = tables.len();
            match tables.get_mut(index) {
                Some(t) => Some(t),
                None => return out_of_range(ctx, span, &element_path, &name, index, len),
            }
        }
        Some(Item::Value(Value::Array(values))) => {
            let len = values.len();
            match values.get_mut(index) {
                Some(Value::InlineTable(t)) if !rest.is_empty() => Some(t),
                Some(slot) if rest.is_empty() => {
                    match item.into_value() {
                        Ok(value) => *slot = value,
                        Err(_) => ctx.error(span, &element_path, "expected a value"),
                    }
                    return;
                }
                Some(_) => None,
                None => return out_of_range(ctx, span, &element_path, &name, index, len),
            }
        }
        Some(_) => None,
        None => {
            ctx.error(
                span,
                &element_path,
                format!("there is no array `{name}` to index"),
            );
            return;
        }
    };
    match (element, rest.is_empty()) {
        (Some(inner), false) => set_at(ctx, inner, rest, item, element_path, span),
        _ => ctx.error(
            span,
            &element_path,
            format!("cannot replace a whole element of `{name}`: name one of its keys"),
        ),
    }
}

fn implicit_table() -> Table {
    let mut table = Table::new();
    table.set_implicit(true);
    table
}

fn out_of_range(
    ctx: &mut Ctx,
    span: &reader::Span,
    path: &str,
    name: &str,
    index: usize,
    len: usize,
) {
    ctx.error(
        span,
        path,
        format!("index {index} is out of range: `{name}` has {len} element(s)"),
    );
}

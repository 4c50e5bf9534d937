//! A scan of a crate's sources for the dependencies between its top-level
//! modules, and a search for a cycle among them. It takes nothing
//! crate-specific: each crate's `module_dag` test includes this file and
//! passes its own `src` directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module -> the other top-level modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The dependency graph between the top-level modules of the crate whose
/// sources are under `src`. A nested file (`src/sim/pod_api.rs`) counts as
/// its top-level module (`sim`): a parent and its children referring to each
/// other is ordinary. The crate root (`lib.rs`, `main.rs`) declares and wires
/// all modules, so it is left out.
pub fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect_rs_files(src, &mut files);
    graph_of(files.into_iter().map(|path| {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        (path.strip_prefix(src).unwrap().to_path_buf(), text)
    }))
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The graph of source files given by their path relative to `src`.
pub fn graph_of(files: impl Iterator<Item = (PathBuf, String)>) -> Graph {
    let files: Vec<(Vec<String>, String)> = files
        .map(|(path, text)| (module_path(&path), text))
        .filter(|(module, _)| !module.is_empty())
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(module, _)| module[0].clone()).collect();
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (module, text) in &files {
        for target in referenced_modules(module, text, &modules) {
            if target != module[0] {
                graph.get_mut(&module[0]).unwrap().insert(target);
            }
        }
    }
    graph
}

/// `sim/pod_api.rs` -> `[sim, pod_api]`; `sim/mod.rs` -> `[sim]`; the crate
/// root -> `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    if path.len() == 1 && (path[0] == "lib" || path[0] == "main") {
        path.clear();
    }
    path
}

/// The top-level modules that `crate::…` and `super::…` paths in `text` (the
/// file of module `file_module`) lead into.
fn referenced_modules(
    file_module: &[String],
    text: &str,
    modules: &BTreeSet<String>,
) -> Vec<String> {
    let tokens = tokens(&code_only(text));
    let mut found = Vec::new();
    // The module each token is in: the file's, plus inline `mod x { … }`s.
    let mut module = file_module.to_vec();
    let mut depth = 0;
    let mut inline_modules: Vec<usize> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        match token.as_str() {
            "{" => {
                depth += 1;
                if i >= 2 && tokens[i - 2] == "mod" {
                    module.push(tokens[i - 1].clone());
                    inline_modules.push(depth);
                }
            }
            "}" => {
                if inline_modules.last() == Some(&depth) {
                    inline_modules.pop();
                    module.pop();
                }
                depth -= 1;
            }
            "crate" | "super" if tokens.get(i + 1).is_some_and(|t| t == "::") => {
                // Only the start of a path; `super::super::` is read as one.
                if i > 0 && tokens[i - 1] == "::" {
                    continue;
                }
                let mut base = if token == "crate" {
                    Vec::new()
                } else {
                    module[..module.len().saturating_sub(1)].to_vec()
                };
                let mut next = i + 2;
                while tokens.get(next).is_some_and(|t| t == "super") {
                    base.pop();
                    next += 2;
                }
                if let Some(top) = base.first() {
                    found.push(top.clone());
                } else {
                    let named = path_heads(&tokens[next..]);
                    found.extend(named.into_iter().filter(|name| modules.contains(name)));
                }
            }
            _ => {}
        }
    }
    found
}

/// The first segment of a path (`a` of `a::b`), or of each path in a use
/// group (`a` and `c` of `{a::{b, x}, c}`).
fn path_heads(tokens: &[String]) -> Vec<String> {
    if tokens.first().is_none_or(|t| t != "{") {
        return tokens.first().cloned().into_iter().collect();
    }
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_head = true;
    for token in tokens {
        match token.as_str() {
            "{" => depth += 1,
            "}" if depth == 1 => break,
            "}" => depth -= 1,
            "," if depth == 1 => at_head = true,
            _ if at_head && depth == 1 => {
                heads.push(token.clone());
                at_head = false;
            }
            _ => {}
        }
    }
    heads
}

/// Identifiers, `::` and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_string());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// `text` with comments, strings and character literals blanked out, so
/// neither a path in a message nor a brace in a `'{'` is read as code.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    while i < chars.len() {
        let end = if at(i, "//") {
            (i..chars.len())
                .find(|&k| chars[k] == '\n')
                .unwrap_or(chars.len())
        } else if at(i, "/*") {
            block_comment_end(&chars, i)
        } else if chars[i] == '"' {
            string_end(&chars, i + 1, None)
        } else if let Some(hashes) = raw_string_hashes(&chars, i) {
            string_end(&chars, i + 2 + hashes, Some(hashes))
        } else if chars[i] == '\'' {
            char_literal_end(&chars, i)
        } else {
            code.push(chars[i]);
            i += 1;
            continue;
        };
        code.push(' ');
        i = end;
    }
    code
}

fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i + 1 < chars.len() {
        if chars[i] == '/' && chars[i + 1] == '*' {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars[i + 1] == '/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// The number of `#`s when a raw string (`r"…"`, `r#"…"#`) starts at `i`.
fn raw_string_hashes(chars: &[char], i: usize) -> Option<usize> {
    let starts_token = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let byte_prefixed = i > 0 && chars[i - 1] == 'b';
    if chars[i] != 'r' || !(starts_token || byte_prefixed) {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// Past the closing quote of a string whose text starts at `i`; a raw one
/// (`raw_hashes` given) ends with that many `#`s and has no escapes.
fn string_end(chars: &[char], mut i: usize, raw_hashes: Option<usize>) -> usize {
    let hashes = raw_hashes.unwrap_or(0);
    while i < chars.len() {
        if chars[i] == '\\' && raw_hashes.is_none() {
            i += 2;
        } else if chars[i] == '"' && chars[i + 1..].iter().take(hashes).all(|&c| c == '#') {
            return i + 1 + hashes;
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// Past a character literal at `start`, or just past the `'` of a lifetime.
fn char_literal_end(chars: &[char], start: usize) -> usize {
    match (chars.get(start + 1), chars.get(start + 2)) {
        (Some('\\'), _) => (start + 2..chars.len())
            .find(|&k| chars[k] == '\'')
            .map_or(chars.len(), |k| k + 1),
        (Some(_), Some('\'')) => start + 3,
        _ => start + 1,
    }
}

/// A cycle as its modules in order, the first repeated at the end.
pub fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Unvisited,
        OnPath,
        Done,
    }
    fn visit<'g>(
        module: &'g str,
        graph: &'g Graph,
        state: &mut BTreeMap<&'g str, State>,
        path: &mut Vec<&'g str>,
    ) -> Option<Vec<String>> {
        state.insert(module, State::OnPath);
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            match state
                .get(next.as_str())
                .copied()
                .unwrap_or(State::Unvisited)
            {
                State::OnPath => {
                    let from = path.iter().position(|m| *m == next).unwrap();
                    let mut cycle: Vec<String> =
                        path[from..].iter().map(|m| m.to_string()).collect();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                State::Unvisited => {
                    if let Some(cycle) = visit(next, graph, state, path) {
                        return Some(cycle);
                    }
                }
                State::Done => {}
            }
        }
        path.pop();
        state.insert(module, State::Done);
        None
    }
    let mut state = BTreeMap::new();
    graph.keys().find_map(|module| {
        if state.contains_key(module.as_str()) {
            return None;
        }
        visit(module, graph, &mut state, &mut Vec::new())
    })
}

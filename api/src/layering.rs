//! The house rules as a test: no import cycle between the modules of `api/src` (a module is a file or a
//! folder's `mod.rs`), none between its rooms (top-level modules), and the domain rooms never import the
//! transports. `cargo test -p api --lib layering` shows every cycle it finds. It reads `crate::` and
//! `super::` paths as text (unit-test modules excluded), so a path a macro builds is not seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rooms that hold the domain: they take plain values and know nothing of GraphQL or HTTP.
const DOMAIN: &[&str] = &[
    "catalog",
    "providers",
    "auth",
    "deployments",
    "scaffolder",
    "confine",
];

/// Rooms that serve the domain over a transport.
const TRANSPORTS: &[&str] = &["graphql", "http", "server"];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `graphql/guard.rs` → `graphql::guard`; `graphql/mod.rs` → `graphql`; `lib.rs` → `crate`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    if parts.is_empty() {
        "crate".into()
    } else {
        parts.join("::")
    }
}

/// The source without its unit-test module (tests may import anything).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Every path a file names through `crate::` or `super::`, with `{a, b::c}` groups expanded one level,
/// written relative to the crate root.
fn named_paths(module: &str, text: &str) -> Vec<String> {
    let re = regex::Regex::new(
        r"\b((?:super::)+|crate::)((?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*)?(::)?",
    )
    .expect("a valid pattern");
    let parent: Vec<&str> = if module == "crate" {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    let mut out = Vec::new();
    for m in re.captures_iter(text) {
        let head = &m[1];
        let base: Vec<&str> = if head == "crate::" {
            Vec::new()
        } else {
            let ups = head.matches("super::").count();
            parent[..parent.len().saturating_sub(ups)].to_vec()
        };
        let mut prefix = base.join("::");
        if let Some(p) = m.get(2) {
            if !prefix.is_empty() {
                prefix.push_str("::");
            }
            prefix.push_str(p.as_str());
        }
        // `crate::{..}` or `a::b::{..}`: a group follows the match.
        let opens_group = m.get(2).is_none() || m.get(3).is_some();
        let group = opens_group
            .then(|| balanced_group(&text[m.get(0).map_or(0, |w| w.end())..]))
            .flatten();
        match group {
            Some(inner) => {
                for item in top_level_items(inner) {
                    let first = item.split("::{").next().unwrap_or("").trim();
                    let first = first.split_whitespace().next().unwrap_or("");
                    if first.is_empty() || first == "self" {
                        out.push(prefix.clone());
                    } else if prefix.is_empty() {
                        out.push(first.to_string());
                    } else {
                        out.push(format!("{prefix}::{first}"));
                    }
                }
            }
            None => out.push(prefix),
        }
    }
    out
}

/// The inside of the `{...}` group `text` starts with, braces balanced.
fn balanced_group(text: &str) -> Option<&str> {
    if !text.starts_with('{') {
        return None;
    }
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[1..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The comma-separated items of a `{...}` group, nested groups kept whole.
fn top_level_items(inner: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
}

/// The longest prefix of `path` that is a module.
fn resolve<'a>(path: &str, modules: &'a BTreeSet<String>) -> Option<&'a String> {
    let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    while !parts.is_empty() {
        if let Some(m) = modules.get(&parts.join("::")) {
            return Some(m);
        }
        parts.pop();
    }
    None
}

/// Module → the modules it imports (not itself, not its ancestors).
fn module_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = Graph::new();
    for f in &files {
        let me = module_of(&src, f);
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let deps = graph.entry(me.clone()).or_default();
        for p in named_paths(&me, without_tests(&text)) {
            if let Some(m) = resolve(&p, &modules) {
                if *m != me && !me.starts_with(&format!("{m}::")) && m != "crate" {
                    deps.insert(m.clone());
                }
            }
        }
    }
    graph
}

fn room(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// Room → the other rooms its modules import.
fn room_graph(modules: &Graph) -> Graph {
    let mut rooms = Graph::new();
    for (m, deps) in modules {
        let entry = rooms.entry(room(m).to_string()).or_default();
        for d in deps {
            if room(d) != room(m) {
                entry.insert(room(d).to_string());
            }
        }
    }
    rooms
}

/// The strongly connected components with more than one member (Tarjan's algorithm).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.found.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(cycles: &[Vec<String>]) -> String {
        cycles
            .iter()
            .map(|c| c.join(" <-> "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn no_module_imports_another_in_a_cycle() {
        let found = cycles(&module_graph());
        assert!(found.is_empty(), "import cycles:\n{}", show(&found));
    }

    #[test]
    fn no_room_imports_another_in_a_cycle() {
        let found = cycles(&room_graph(&module_graph()));
        assert!(found.is_empty(), "room cycles:\n{}", show(&found));
    }

    #[test]
    fn the_domain_knows_nothing_of_the_transports() {
        let rooms = room_graph(&module_graph());
        let mut wrong = Vec::new();
        for d in DOMAIN {
            for t in rooms.get(*d).into_iter().flatten() {
                if TRANSPORTS.contains(&t.as_str()) {
                    wrong.push(format!("{d} -> {t}"));
                }
            }
        }
        assert!(wrong.is_empty(), "domain imports a transport: {wrong:?}");
    }

    #[test]
    fn the_checker_sees_paths_groups_and_cycles() {
        let paths = named_paths(
            "graphql::guard",
            "use super::errors::{ApiError, X};\nuse crate::{auth::{Caller, Scope}, catalog};\nsuper::super::db::x();",
        );
        assert!(paths.contains(&"graphql::errors::ApiError".to_string()));
        assert!(paths.contains(&"auth".to_string()));
        assert!(paths.contains(&"catalog".to_string()));
        assert!(paths.contains(&"db::x".to_string()));
        let mut g = Graph::new();
        g.entry("a".into()).or_default().insert("b".into());
        g.entry("b".into()).or_default().insert("c".into());
        g.entry("c".into()).or_default().insert("a".into());
        g.entry("d".into()).or_default().insert("a".into());
        assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    }
}

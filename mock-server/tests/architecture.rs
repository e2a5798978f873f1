//! The layering rules of `mock-server/src`, checked by reading the source.
//!
//! Every `.rs` file of the library is a node. An edge goes from a file to the
//! file that defines the module a path names, for every `use crate::…`,
//! `use super::…`, `use self::…` and every `crate::…` / `super::…` path in
//! code (use groups are expanded; a path naming an item resolves to the file
//! of the innermost module it goes through). Declaring a child (`mod x;`) is
//! not an edge. Two rules:
//!
//! 1. No import circle between files.
//! 2. The ground floor — `world/`, `call.rs`, `fixtures.rs`, `strict.rs` — names nothing
//!    outside the ground floor: the world never calls the APIs above it.
//!
//! Hand-written (a small tokenizer over the source text) because the check
//! needs only paths, and a full Rust parser would be a large dependency for
//! one test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles tolerated, each wholly inside one directory. None: keep it empty.
const CYCLES_ALLOWED_INSIDE: &[&str] = &[];

/// Files that make up the ground floor (a trailing `/` means a directory).
const GROUND_FLOOR: &[&str] = &["world/", "call.rs", "fixtures.rs", "strict.rs"];

/// Ground-floor edges that still point up, as (from, to). Each is a known
/// debt with the move that removes it; the list must only shrink.
const GROUND_FLOOR_DEBT: &[(&str, &str)] = &[];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library source file (relative, `/`-separated) and its module path.
fn modules() -> BTreeMap<String, Vec<String>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<String>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src is readable")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "main.rs" {
                continue; // the binary is its own crate
            }
            let mut segments: Vec<String> = rel
                .trim_end_matches(".rs")
                .split('/')
                .map(str::to_string)
                .collect();
            if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
                segments.pop();
            }
            out.insert(rel, segments);
        }
    }
    let mut out = BTreeMap::new();
    let root = src_dir();
    walk(&root, &root, &mut out);
    out
}

/// The source with comments removed and string/char literals emptied.
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\'') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Path, // ::
    Open,
    Close,
    Comma,
    Other(char),
}

fn tokens(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
            continue;
        }
        match c {
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push(Tok::Path);
                i += 2;
                continue;
            }
            '{' => out.push(Tok::Open),
            '}' => out.push(Tok::Close),
            ',' => out.push(Tok::Comma),
            c if c.is_whitespace() => {}
            c => out.push(Tok::Other(c)),
        }
        i += 1;
    }
    out
}

/// Parses a path (tree) starting at `toks[*i]`, appending every full path.
fn parse_tree(toks: &[Tok], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        match toks.get(*i) {
            Some(Tok::Ident(name)) => {
                path.push(name.clone());
                *i += 1;
            }
            Some(Tok::Other('*')) => {
                *i += 1;
                out.push(path);
                return;
            }
            Some(Tok::Open) => {
                *i += 1;
                loop {
                    match toks.get(*i) {
                        Some(Tok::Close) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Comma) => *i += 1,
                        None => return,
                        _ => {
                            let before = *i;
                            parse_tree(toks, i, path.clone(), out);
                            if *i == before {
                                *i += 1; // not a path: skip it
                            }
                        }
                    }
                }
            }
            _ => {
                out.push(path);
                return;
            }
        }
        if toks.get(*i) == Some(&Tok::Path) {
            *i += 1;
        } else {
            // `self` inside a group names the group's prefix itself.
            if path.last().map(String::as_str) == Some("self") {
                path.pop();
            }
            out.push(path);
            return;
        }
    }
}

/// The absolute module paths a file names, resolved against the module
/// (including inline modules such as `mod tests { … }`) each path sits in.
fn named_paths(module: &[String], source: &str) -> Vec<Vec<String>> {
    let toks = tokens(&strip(source));
    let mut found = Vec::new();
    // (module path, brace depth at which it opened)
    let mut scopes: Vec<(Vec<String>, usize)> = vec![(module.to_vec(), 0)];
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Open => {
                depth += 1;
                i += 1;
            }
            Tok::Close => {
                if scopes.len() > 1 && scopes.last().is_some_and(|s| s.1 == depth) {
                    scopes.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Open)) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    let mut inner = scopes.last().expect("a scope").0.clone();
                    inner.push(name.clone());
                    depth += 1;
                    scopes.push((inner, depth));
                    i += 3;
                } else {
                    i += 1;
                }
            }
            Tok::Ident(head)
                if matches!(head.as_str(), "crate" | "super" | "self")
                    && toks.get(i + 1) == Some(&Tok::Path)
                    && (i == 0 || toks[i - 1] != Tok::Path) =>
            {
                let current = scopes.last().expect("a scope").0.clone();
                let mut raw = Vec::new();
                parse_tree(&toks, &mut i, Vec::new(), &mut raw);
                for path in raw {
                    let mut abs: Vec<String> = Vec::new();
                    let mut rest = path.as_slice();
                    match rest.first().map(String::as_str) {
                        Some("crate") => rest = &rest[1..],
                        Some("self") => {
                            abs = current.clone();
                            rest = &rest[1..];
                        }
                        Some("super") => {
                            abs = current.clone();
                            while rest.first().map(String::as_str) == Some("super") {
                                abs.pop();
                                rest = &rest[1..];
                            }
                        }
                        _ => {}
                    }
                    abs.extend(rest.iter().cloned());
                    found.push(abs);
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// File → files it names (self-edges left out).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = modules();
    let by_module: BTreeMap<Vec<String>, String> =
        files.iter().map(|(f, m)| (m.clone(), f.clone())).collect();
    let mut edges = BTreeMap::new();
    for (file, module) in &files {
        let source = std::fs::read_to_string(src_dir().join(file)).expect("readable source");
        let mut targets = BTreeSet::new();
        for path in named_paths(module, &source) {
            // The innermost module file the path goes through.
            let target = (0..=path.len())
                .rev()
                .find_map(|n| by_module.get(&path[..n]))
                .cloned();
            if let Some(target) = target {
                if &target != file {
                    targets.insert(target);
                }
            }
        }
        edges.insert(file.clone(), targets);
    }
    edges
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

/// One concrete circle through a component, for the failure message.
fn one_circle(edges: &BTreeMap<String, BTreeSet<String>>, component: &[String]) -> String {
    let members: BTreeSet<&str> = component.iter().map(String::as_str).collect();
    let start = component[0].as_str();
    // Breadth-first from start's successors back to start, inside the component.
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !members.contains(w) {
                continue;
            }
            if w == start {
                let mut path = vec![start, v];
                let mut at = v;
                while at != start {
                    at = previous[at];
                    path.push(at);
                }
                path.reverse();
                return path.join(" -> ");
            }
            if !previous.contains_key(w) {
                previous.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    component.join(", ")
}

fn in_ground_floor(file: &str) -> bool {
    GROUND_FLOOR.iter().any(|g| {
        if g.ends_with('/') {
            file.starts_with(g)
        } else {
            file == *g
        }
    })
}

#[test]
fn no_import_circle_between_files() {
    let edges = graph();
    let mut failures = Vec::new();
    for component in cycles(&edges) {
        let allowed = CYCLES_ALLOWED_INSIDE
            .iter()
            .any(|dir| component.iter().all(|f| f.starts_with(dir)));
        if !allowed {
            failures.push(one_circle(&edges, &component));
        }
    }
    assert!(
        failures.is_empty(),
        "import circles in mock-server/src (break each by moving the shared item down a layer):\n  {}",
        failures.join("\n  ")
    );
}

#[test]
fn the_ground_floor_names_nothing_above_it() {
    let edges = graph();
    let mut failures = Vec::new();
    for (file, targets) in &edges {
        if !in_ground_floor(file) {
            continue;
        }
        for target in targets {
            let debt = GROUND_FLOOR_DEBT
                .iter()
                .any(|(from, to)| from == file && to == target);
            if !in_ground_floor(target) && !debt {
                failures.push(format!("{file} names {target}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "world/, call.rs and fixtures.rs must not name an API module:\n  {}",
        failures.join("\n  ")
    );
}

#[test]
fn every_listed_debt_still_exists() {
    // A paid debt must leave the list, so the list only shrinks.
    let edges = graph();
    for (from, to) in GROUND_FLOOR_DEBT {
        assert!(
            edges.get(*from).is_some_and(|t| t.contains(*to)),
            "{from} no longer names {to}: remove it from GROUND_FLOOR_DEBT"
        );
    }
}

#[test]
fn the_reader_sees_paths_groups_and_inline_modules() {
    // The checks above are only as good as the path reader; prove it on a sample.
    let source = r#"
        use crate::world::{lock, faults::{FaultApi, self}};
        use super::sibling::Thing; // use crate::commented::Out;
        fn f() { let s = "crate::in_string::X"; crate::deep::module::call(); }
        mod tests { use super::*; use super::super::up::X; }
    "#;
    let module = vec!["a".to_string(), "b".to_string()];
    let paths: BTreeSet<String> = named_paths(&module, source)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    let expected: BTreeSet<String> = [
        "world::lock",
        "world::faults::FaultApi",
        "world::faults",
        "a::sibling::Thing",
        "deep::module::call",
        "a::b",
        "a::up::X",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(paths, expected);
}

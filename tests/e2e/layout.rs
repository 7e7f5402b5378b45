//! The source layout keeps its promise (docs/architecture.md): no two modules of `src/` import
//! each other, directly or round a longer loop. Cycles crept back twice after they were broken,
//! through a single `use` each time; this test names the loop the day one is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/` by path (`resources::ec2::vpc`), with its source outside tests and
/// comments.
fn modules(dir: &Path, path: &[String], out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap().path();
        let stem = entry.file_stem().unwrap().to_str().unwrap().to_owned();
        if entry.is_dir() {
            modules(&entry, &[path, &[stem]].concat(), out);
        } else if entry.extension().is_some_and(|e| e == "rs") {
            let own = match stem.as_str() {
                "mod" | "main" | "lib" => path.to_vec(),
                _ => [path, &[stem]].concat(),
            };
            let text = std::fs::read_to_string(&entry).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            let code: Vec<&str> = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            out.insert(own.join("::"), code.join("\n"));
        }
    }
}

/// The paths a source names from `crate`, `super` or `self`, braces opened one level:
/// `super::{a, b::C}` gives `super::a` and `super::b::C`.
fn paths(code: &str) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut found = Vec::new();
    for root in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(root) {
            if code[..at].ends_with(|c: char| word(c)) {
                continue;
            }
            let rest = &code[at..];
            let head: String = rest.chars().take_while(|&c| word(c)).collect();
            let after = &rest[head.len()..];
            match after.strip_prefix('{') {
                Some(group) if head.ends_with("::") => {
                    let inner = &group[..group.find('}').unwrap_or(group.len())];
                    for item in inner.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                        found.push(format!("{head}{item}"));
                    }
                }
                _ => found.push(head.trim_end_matches(':').to_owned()),
            }
        }
    }
    found
}

/// The module a path from `module` lands in: the longest prefix that is a module.
fn target(module: &str, path: &str, known: &BTreeSet<String>) -> Option<String> {
    let mut base: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    let mut parts = path.split("::").peekable();
    match parts.peek() {
        Some(&"crate") => {
            base.clear();
            parts.next();
        }
        _ => {
            while let Some(&step) = parts.peek() {
                match step {
                    "super" => drop(base.pop()),
                    "self" => {}
                    _ => break,
                }
                parts.next();
            }
        }
    }
    let full: Vec<&str> = base.into_iter().chain(parts).collect();
    (1..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|m| known.contains(m))
}

/// One loop through `edges`, if there is any.
fn a_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            return Some([&stack[at..], &[node.to_owned()]].concat());
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_two_modules_import_each_other() {
    let mut sources = BTreeMap::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &[],
        &mut sources,
    );
    let known: BTreeSet<String> = sources.keys().cloned().collect();
    // A module and the modules inside it are one unit: a parent declares its children.
    let nested = |a: &str, b: &str| {
        a.is_empty()
            || b.is_empty()
            || a.starts_with(&format!("{b}::"))
            || b.starts_with(&format!("{a}::"))
    };
    let mut imports: BTreeSet<(String, String)> = BTreeSet::new();
    for (module, code) in &sources {
        for path in paths(code) {
            if let Some(to) = target(module, &path, &known) {
                imports.insert((module.clone(), to));
            }
        }
    }
    assert!(
        imports.len() > 300,
        "the import graph was not read: {imports:?}"
    );
    // A loop counts at every depth: `config::x -> state::y` and `state::z -> config::w` make
    // `config` and `state` import each other though no two files do.
    let deepest = known.iter().map(|m| m.split("::").count()).max().unwrap();
    for depth in 1..=deepest {
        let at = |m: &str| m.split("::").take(depth).collect::<Vec<_>>().join("::");
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in &imports {
            let (from, to) = (at(from), at(to));
            if from != to && !nested(&from, &to) {
                edges.entry(from).or_default().insert(to);
            }
        }
        if let Some(cycle) = a_cycle(&edges) {
            panic!("modules import each other: {}", cycle.join(" -> "));
        }
    }
}

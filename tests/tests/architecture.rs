//! The invariants of `ARCHITECTURE.md` that the compiler does not enforce: which crates the host
//! side links, and no import cycle between the modules of a crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use bascule_tests::workspace;

/// The crates of the workspace that hold Bascule's own code, and where their sources are.
const CRATES: &[(&str, &str)] = &[
    ("bascule-patch", "runtime/patch/src"),
    ("bascule-bundle", "runtime/bundle/src"),
    ("bascule-db", "runtime/db/src"),
    ("bascule-runlog", "runtime/runlog/src"),
    ("bascule", "runtime/src"),
    ("bascule-sql", "xtask/sql/src"),
    ("bascule-lint", "xtask/lint/src"),
    ("xtask", "xtask/src"),
];

/// What only the developer side may link.
const DEVELOPER_ONLY: &[&str] = &["sqlparser", "bascule-sql", "bascule-lint", "xtask"];

fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            package,
            "-e",
            "normal",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_host_crates_link_neither_sqlparser_nor_the_linter() {
    for package in [
        "bascule",
        "bascule-patch",
        "bascule-bundle",
        "bascule-db",
        "bascule-runlog",
    ] {
        let deps = normal_dependencies(package);
        assert!(deps.contains(package), "cargo tree of {package}: {deps:?}");
        let forbidden: Vec<&&str> = DEVELOPER_ONLY
            .iter()
            .filter(|d| deps.contains(**d))
            .collect();
        assert!(
            forbidden.is_empty(),
            "{package} links {forbidden:?}: the static runtime carries only host code"
        );
    }
    // The developer side does use them, so the check above looks at the right names.
    assert!(normal_dependencies("bascule-lint").contains("sqlparser"));
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let mut modules = 0;
    for (name, src) in CRATES {
        let src = workspace().join(src);
        let root = src.join("lib.rs").is_file() || src.join("main.rs").is_file();
        assert!(root, "{name}: no lib.rs or main.rs in {}", src.display());
        let graph = module_graph(&src);
        modules += graph.len();
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{name}: the modules {} import each other in a cycle",
                cycle.join(" → ")
            );
        }
    }
    assert!(
        modules > 40,
        "only {modules} modules found: the walk looks in the wrong place"
    );
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    let cycle = find_cycle(&graph).expect("a → b → c → a");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    let uses = references(
        "use crate::{b::{X, y}, c};\nlet y = crate::d::f();\n// crate::e\nuse super::g;",
        true,
    );
    assert_eq!(uses, ["b", "c", "d", "g"].map(String::from).into());
    assert!(!references("use super::g;", false).contains("g"));
}

/// The top-level modules of a crate (files and directories under `src`, `lib.rs` and `main.rs`
/// aside) and, for each, the other top-level modules its non-test code names through `crate::`
/// (or `super::` from a top-level file).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, Vec<(PathBuf, bool)>> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.expect("readable source tree");
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel: Vec<String> = path
            .strip_prefix(src)
            .expect("under src")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let top = rel[0].trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let top_file = rel.len() == 1 || (rel.len() == 2 && rel[1] == "mod.rs");
        files
            .entry(top)
            .or_default()
            .push((path.to_path_buf(), top_file));
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(module, paths)| {
            let mut uses = BTreeSet::new();
            for (path, top_file) in paths {
                let text = std::fs::read_to_string(path).expect("readable source");
                uses.extend(references(&text, *top_file));
            }
            uses.retain(|u| u != module && modules.contains(u));
            (module.clone(), uses)
        })
        .collect()
}

/// The names that follow `crate::` (also inside `crate::{…}`) in code, comments and tests
/// aside; with `top_file`, those that follow `super::` too (the crate root's siblings).
fn references(text: &str, top_file: bool) -> BTreeSet<String> {
    // Test modules are the last item of a file here; what they use is not an import of the
    // module's code.
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut names = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut prefixes = vec!["crate::"];
        if top_file {
            prefixes.push("super::");
        }
        for prefix in prefixes {
            for (at, _) in line.match_indices(prefix) {
                let before = line[..at].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &line[at + prefix.len()..];
                match rest.strip_prefix('{') {
                    Some(group) => names.extend(top_level_items(group).filter_map(first_word)),
                    None => names.extend(first_word(rest)),
                }
            }
        }
    }
    names
}

/// The items of a `{…}` use group up to its closing brace, without those of nested groups:
/// `a::{X, y}, b}` gives `a::{X, y}` and ` b`.
fn top_level_items(group: &str) -> impl Iterator<Item = &str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items.into_iter();
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items.into_iter()
}

fn first_word(text: &str) -> Option<String> {
    let word: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some(word)
}

/// A cycle of the graph, first node repeated at the end, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

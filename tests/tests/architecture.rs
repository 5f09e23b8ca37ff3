//! The invariants of `ARCHITECTURE.md` that the compiler does not enforce: which crates the host
//! side links, and no import cycle between the modules of a crate.
//!
//! The module graph is read from the sources, not from the compiler: every `crate::…` path
//! (inside `use` trees spread over lines too), `super::…` paths that climb to the crate root,
//! aliases of the root (`use crate::{self as db}`) and names the root re-exports (`pub use
//! lock::DbLocks` makes `crate::DbLocks` an import of `lock`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use bascule_tests::workspace;

/// What only the developer side may link.
const DEVELOPER_ONLY: &[&str] = &[
    "sqlparser",
    "bascule-sql",
    "bascule-lint",
    "bascule-rehearse",
    "xtask",
];

/// One crate of the workspace that holds Bascule's own code.
struct Crate {
    name: String,
    /// The directory of its `lib.rs` (or `main.rs`).
    src: PathBuf,
    /// Under `runtime/`: the host side.
    host: bool,
}

/// Bascule's crates (`bascule*` and `xtask`), from `cargo metadata`: a new crate is checked
/// without being listed here.
fn crates() -> Vec<Crate> {
    let out = cargo()
        .args([
            "metadata",
            "--offline",
            "--locked",
            "--no-deps",
            "--format-version",
            "1",
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let runtime = workspace().join("runtime");
    let mut crates = Vec::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("name").to_string();
        if !(name.starts_with("bascule") && name != "bascule-tests" || name == "xtask") {
            continue;
        }
        let target = package["targets"]
            .as_array()
            .and_then(|targets| {
                targets.iter().find(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "lib"))
                })
            })
            .expect("a library target");
        let src_path = PathBuf::from(target["src_path"].as_str().expect("src_path"));
        let src = src_path.parent().expect("src dir").to_path_buf();
        let host = src.starts_with(&runtime);
        crates.push(Crate { name, src, host });
    }
    crates
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace());
    command
}

/// Every package `package` links, for any target (the bundle's runtime is built for another
/// target than the machine's). Not `--offline`: `--target all` reads packages of every
/// platform, which a build for this one never downloaded (a fresh machine has none of them).
fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let out = cargo()
        .args(["tree", "--locked", "-p", package, "-e", "normal"])
        .args(["--target", "all", "--prefix", "none", "--format", "{p}"])
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
    let crates = crates();
    let host: Vec<&Crate> = crates.iter().filter(|c| c.host).collect();
    let names: Vec<&str> = host.iter().map(|c| c.name.as_str()).collect();
    for expected in ["bascule", "bascule-patch", "bascule-bundle", "bascule-db"] {
        assert!(names.contains(&expected), "host crates found: {names:?}");
    }
    for krate in host {
        let deps = normal_dependencies(&krate.name);
        assert!(
            deps.contains(&krate.name),
            "cargo tree of {}: {deps:?}",
            krate.name
        );
        let forbidden: Vec<&&str> = DEVELOPER_ONLY
            .iter()
            .filter(|d| deps.contains(**d))
            .collect();
        assert!(
            forbidden.is_empty(),
            "{} links {forbidden:?}: the static runtime carries only host code",
            krate.name
        );
    }
    // The developer side does use them, so the check above looks at the right names.
    assert!(normal_dependencies("bascule-lint").contains("sqlparser"));
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let mut modules = 0;
    for krate in crates() {
        let graph = module_graph(&krate.src);
        modules += graph.len();
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{}: the modules {} import each other in a cycle",
                krate.name,
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
    let code = "use crate::{\n    b::{X, y},\n    c,\n};\nlet y = crate::d::f();\nuse super::g;\nuse crate::{self as db};\ndb::h::i();";
    let uses = references(&code_of(code), 1);
    assert_eq!(uses, ["b", "c", "d", "g", "h"].map(String::from).into());
    assert!(!references(&code_of("use super::g;"), 2).contains("g"));
    assert!(references(&code_of("use super::super::g;"), 2).contains("g"));
    assert!(references(
        &code_of("// crate::e\nlet u = \"http://x\"; // crate::f"),
        1
    )
    .is_empty());
    let modules: BTreeSet<String> = ["lock", "session"].map(String::from).into();
    let reexports = root_reexports(
        "pub use lock::DbLocks;\npub use session::{Session, Other};",
        &modules,
    );
    assert_eq!(reexports.get("DbLocks").map(String::as_str), Some("lock"));
    assert_eq!(reexports.get("Other").map(String::as_str), Some("session"));
}

/// The top-level modules of a crate (files and directories under `src`, `lib.rs` and `main.rs`
/// aside) and, for each, the other top-level modules its non-test code imports.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, Vec<(PathBuf, usize)>> = BTreeMap::new();
    let mut roots = Vec::new();
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
        if rel.len() == 1 && (top == "lib" || top == "main") {
            roots.push(path.to_path_buf());
            continue;
        }
        // How many `super::` climb from this file to the crate root: its module path's length.
        let depth = rel.len() - usize::from(rel.last().is_some_and(|f| f == "mod.rs"));
        files
            .entry(top)
            .or_default()
            .push((path.to_path_buf(), depth));
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut reexports = BTreeMap::new();
    for root in &roots {
        let text = std::fs::read_to_string(root).expect("readable source");
        reexports.extend(root_reexports(&code_of(&text), &modules));
    }
    files
        .iter()
        .map(|(module, paths)| {
            let mut uses = BTreeSet::new();
            for (path, depth) in paths {
                let text = std::fs::read_to_string(path).expect("readable source");
                for name in references(&code_of(&text), *depth) {
                    let target = reexports.get(&name).cloned().unwrap_or(name);
                    if modules.contains(&target) && &target != module {
                        uses.insert(target);
                    }
                }
            }
            (module.clone(), uses)
        })
        .collect()
}

/// The code of a file: its test module (the last item of a file here: what it uses is not an
/// import of the module's code) and its comments left out.
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    code.lines()
        .map(|line| {
            // A `//` inside a string literal (a URL) is not a comment.
            let comment = line
                .match_indices("//")
                .map(|(at, _)| at)
                .find(|at| line[..*at].matches('"').count() % 2 == 0);
            comment.map_or(line, |at| &line[..at])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pub use module::{A, B}` in the crate root: `crate::A` is an import of `module`.
fn root_reexports(code: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (at, _) in code.match_indices("pub use ") {
        let rest = &code[at + "pub use ".len()..];
        let Some(module) = first_word(rest).filter(|m| modules.contains(m)) else {
            continue;
        };
        let tail = &rest[module.len()..];
        let Some(tail) = tail.strip_prefix("::") else {
            continue;
        };
        let names: Vec<String> = match tail.strip_prefix('{') {
            Some(group) => top_level_items(group)
                .filter_map(|item| item.split("::").last().and_then(first_word))
                .collect(),
            None => tail
                .split(';')
                .next()
                .and_then(|p| p.split("::").last())
                .and_then(first_word)
                .into_iter()
                .collect(),
        };
        for name in names {
            map.insert(name, module.clone());
        }
    }
    map
}

/// The names that follow the crate root in `code`: `crate::`, an alias of it (`use crate as x`,
/// `crate::{self as x}`), or as many `super::` as the file is deep.
fn references(code: &str, depth: usize) -> BTreeSet<String> {
    let mut roots = vec![String::from("crate::"), "super::".repeat(depth)];
    for (at, _) in code.match_indices("self as ") {
        if code[..at].rfind("crate::{").is_some() {
            roots.extend(first_word(&code[at + "self as ".len()..]).map(|a| format!("{a}::")));
        }
    }
    for (at, _) in code.match_indices("use crate as ") {
        roots.extend(first_word(&code[at + "use crate as ".len()..]).map(|a| format!("{a}::")));
    }
    let mut names = BTreeSet::new();
    for root in &roots {
        for (at, _) in code.match_indices(root.as_str()) {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at + root.len()..];
            match rest.strip_prefix('{') {
                Some(group) => names.extend(top_level_items(group).filter_map(first_word)),
                None => names.extend(first_word(rest)),
            }
        }
    }
    names.remove("self");
    names.remove("super");
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

//! The corpus test: real-world schema files of every dialect, split and validated statement by
//! statement, with the counts kept in `fixtures/corpus/expected.toml`.
//!
//! For each file the expectation records how many statements it has, how many sqlparser parses,
//! how many Bascule's recognizer reads, and how many fail. The test fails when:
//!
//! - a file accepts fewer statements (parsed + recognized) than recorded — a regression, named
//!   with the file and the count;
//! - a file accepts more, or its statement count changed, or a file is new or gone — an
//!   improvement or an edit: the expectation must be updated so the new number is kept, which is
//!   done by running the test with `BASCULE_UPDATE_CORPUS=1` (the file is rewritten, with the
//!   failing statements listed as comments) and committing the result.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bascule_patch::Dialect;
use bascule_sql::{check_script, Reading};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    statements: usize,
    parsed: usize,
    recognized: usize,
    failing: usize,
}

impl Counts {
    fn accepted(&self) -> usize {
        self.parsed + self.recognized
    }

    fn add(&mut self, other: &Counts) {
        self.statements += other.statements;
        self.parsed += other.parsed;
        self.recognized += other.recognized;
        self.failing += other.failing;
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus")
}

fn dialect_of(dir: &str) -> Dialect {
    match dir {
        "mysql" => Dialect::Mysql,
        "postgres" => Dialect::Postgres,
        "sqlite" => Dialect::Sqlite,
        other => panic!("fixtures/corpus/{other}: not a dialect directory"),
    }
}

/// Every corpus file (`dialect/name.sql`) with its counts and its failing statements
/// (`line N: message`).
fn measure() -> BTreeMap<String, (Counts, Vec<String>)> {
    let mut files = BTreeMap::new();
    for dir in ["mysql", "postgres", "sqlite"] {
        let dialect = dialect_of(dir);
        let mut names: Vec<_> = std::fs::read_dir(corpus_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        names.sort();
        for path in names {
            let sql = std::fs::read_to_string(&path).unwrap();
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let check = check_script(Path::new(&name), &sql, dialect);
            // Statements as written: those read inside others (a DO block's body) are counted
            // by the crate's own tests, not here.
            let written: Vec<_> = check.statements.iter().filter(|s| s.is_written()).collect();
            let mut counts = Counts {
                statements: written.len(),
                ..Counts::default()
            };
            for s in written {
                match s.outcome {
                    Reading::Parsed(_) => counts.parsed += 1,
                    Reading::Recognized(_) => counts.recognized += 1,
                    Reading::Raw => panic!("{name}: the corpus has no raw statement"),
                    Reading::Invalid => counts.failing += 1,
                }
            }
            assert_eq!(
                counts.failing,
                check.issues.len(),
                "{name}: one issue per failing statement"
            );
            let failures = check
                .issues
                .iter()
                .map(|i| format!("line {}: {}", i.line, i.message))
                .collect();
            files.insert(name, (counts, failures));
        }
    }
    files
}

fn expected() -> BTreeMap<String, Counts> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.toml")).unwrap_or_default();
    let table: toml::Table = text.parse().expect("expected.toml is TOML");
    table
        .into_iter()
        .map(|(name, v)| {
            let get = |k: &str| {
                v.get(k)
                    .and_then(toml::Value::as_integer)
                    .unwrap_or_else(|| panic!("expected.toml: [\"{name}\"] has no {k}"))
                    as usize
            };
            let counts = Counts {
                statements: get("statements"),
                parsed: get("parsed"),
                recognized: get("recognized"),
                failing: get("failing"),
            };
            (name, counts)
        })
        .collect()
}

/// Per-dialect totals, as `dialect: statements / parsed / recognized / failing` lines.
fn totals(files: &BTreeMap<String, (Counts, Vec<String>)>) -> String {
    let mut by_dialect: BTreeMap<&str, Counts> = BTreeMap::new();
    for (name, (counts, _)) in files {
        let dialect = name.split('/').next().unwrap_or("");
        by_dialect.entry(dialect).or_default().add(counts);
        by_dialect.entry("all").or_default().add(counts);
    }
    let mut out = String::new();
    for (dialect, c) in by_dialect {
        writeln!(
            out,
            "# {dialect:>8}: {} statements, {} parsed by sqlparser, {} recognized, {} failing",
            c.statements, c.parsed, c.recognized, c.failing
        )
        .unwrap();
    }
    out
}

fn render(files: &BTreeMap<String, (Counts, Vec<String>)>) -> String {
    let mut out = String::from(
        "# Corpus counts, checked by xtask/sql/tests/corpus.rs: parsed + recognized may never go\n\
         # down. Regenerate with `BASCULE_UPDATE_CORPUS=1 cargo test -p bascule-sql --test corpus`.\n",
    );
    out.push_str(&totals(files));
    for (name, (c, failures)) in files {
        write!(
            out,
            "\n[\"{name}\"]\nstatements = {}\nparsed = {}\nrecognized = {}\nfailing = {}\n",
            c.statements, c.parsed, c.recognized, c.failing
        )
        .unwrap();
        for failure in failures {
            writeln!(out, "# {failure}").unwrap();
        }
    }
    out
}

#[test]
fn corpus_counts_never_go_down() {
    let files = measure();
    if std::env::var_os("BASCULE_UPDATE_CORPUS").is_some() {
        std::fs::write(corpus_dir().join("expected.toml"), render(&files)).unwrap();
    }
    eprintln!("{}", totals(&files));
    let expected = expected();
    let mut regressions = Vec::new();
    let mut changes = Vec::new();
    for (name, (actual, failures)) in &files {
        let Some(want) = expected.get(name) else {
            changes.push(format!("{name}: new file, not in expected.toml"));
            continue;
        };
        if actual.accepted() < want.accepted() {
            regressions.push(format!(
                "{name}: {} statements accepted (parsed + recognized), {} expected: {} fewer; \
                 failing now: {failures:?}",
                actual.accepted(),
                want.accepted(),
                want.accepted() - actual.accepted()
            ));
        } else if actual != want {
            changes.push(format!(
                "{name}: now {actual:?}, expected.toml says {want:?}"
            ));
        }
    }
    for name in expected.keys().filter(|n| !files.contains_key(*n)) {
        changes.push(format!(
            "{name}: in expected.toml but no longer in the corpus"
        ));
    }
    assert!(
        regressions.is_empty(),
        "corpus regression:\n{}",
        regressions.join("\n")
    );
    assert!(
        changes.is_empty(),
        "the corpus counts changed; if this is an improvement or an intended edit, rerun with \
         BASCULE_UPDATE_CORPUS=1 and commit fixtures/corpus/expected.toml:\n{}",
        changes.join("\n")
    );
}

#[test]
fn every_dialect_has_a_varied_corpus() {
    let files = measure();
    for dialect in ["mysql", "postgres", "sqlite"] {
        let (count, statements) = files
            .iter()
            .filter(|(name, _)| name.starts_with(&format!("{dialect}/")))
            .fold((0, 0), |(n, s), (_, (c, _))| (n + 1, s + c.statements));
        assert!(count >= 4, "{dialect}: {count} corpus files");
        assert!(statements >= 60, "{dialect}: {statements} statements");
    }
}

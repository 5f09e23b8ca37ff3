//! The project fixture (`fixtures/project/`): a chat platform's history, over a hundred paired
//! migrations per engine written the way projects keeping up/down SQL write them — six-digit
//! numbers, names with dots and dashes, a gap in the numbering, MySQL's `PREPARE … FROM @var`
//! idiom and helper procedures, PostgreSQL `DO` blocks, `CREATE INDEX CONCURRENTLY` under another
//! tool's no-transaction marker, irreversible clean-ups, multi-table backfills — with down
//! defects planted on purpose and listed in `fixtures/project/expected.toml`.
//!
//! Per engine, what a new user expects of such a project:
//!
//! 1. the patch loads as written, no directory renamed;
//! 2. lint reads every statement (parsed by sqlparser or recognized, none invalid, none left raw)
//!    and reports no parse problem;
//! 3. one `check-migrations` run on a real server (MariaDB for MySQL, PostgreSQL) names exactly
//!    the planted defects, each with what the down left behind, and the irreversible migrations
//!    as irreversible: nothing else fails and nothing is left unchecked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use bascule_lint::Severity;
use bascule_patch::{Dialect, Patch};
use bascule_sql::{check_script, Reading};
use serde::Deserialize;

const ENGINES: [&str; 2] = ["mysql", "postgres"];

fn project() -> PathBuf {
    xtask::workspace_root().join("fixtures/project")
}

fn patch_dir(engine: &str) -> PathBuf {
    project().join(engine).join("patches/1.0.0")
}

/// `fixtures/project/expected.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    defect: Vec<Defect>,
    irreversible: Vec<Irreversible>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defect {
    engine: String,
    migration: String,
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Irreversible {
    engine: String,
    migration: String,
}

fn expected() -> Expected {
    let path = project().join("expected.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The migration directories of the engine's patch, as named on disk.
fn directories(engine: &str) -> BTreeSet<String> {
    let class = patch_dir(engine).join("migrations/chat");
    std::fs::read_dir(&class)
        .unwrap_or_else(|e| panic!("{}: {e}", class.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn load(engine: &str) -> Patch {
    let dir = patch_dir(engine);
    Patch::load(&dir).unwrap_or_else(|e| {
        panic!(
            "{} does not load as written:\n{e}",
            dir.strip_prefix(xtask::workspace_root())
                .unwrap_or(&dir)
                .display()
        )
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Loading.

fn loads_as_written(engine: &str) {
    let patch = load(engine);
    let on_disk = directories(engine);
    assert!(
        on_disk.len() >= 100,
        "{engine}: {} migrations",
        on_disk.len()
    );
    let loaded: BTreeSet<String> = patch
        .migrations
        .iter()
        .map(|m| {
            m.dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        loaded, on_disk,
        "{engine}: every directory, under its own name"
    );
    // What logs, the version table and check-migrations name a migration by.
    let labels: BTreeSet<String> = patch.migrations.iter().map(|m| m.label()).collect();
    assert_eq!(labels, on_disk, "{engine}: labels are the directory names");
    // The numbers are the directories' own, gap included (000064 and 000065 never existed).
    let ids: Vec<u32> = patch.migrations.iter().map(|m| m.id).collect();
    assert!(ids.contains(&63) && ids.contains(&66), "{engine}: {ids:?}");
    assert!(
        !ids.contains(&64) && !ids.contains(&65),
        "{engine}: {ids:?}"
    );
}

#[test]
fn mysql_loads_as_written() {
    loads_as_written("mysql");
}

#[test]
fn postgres_loads_as_written() {
    loads_as_written("postgres");
}

// ---------------------------------------------------------------------------------------------
// 2. Lint.

fn dialect(engine: &str) -> Dialect {
    match engine {
        "mysql" => Dialect::Mysql,
        _ => Dialect::Postgres,
    }
}

/// Statements sqlparser rejected and nothing recognized, or left raw, as `path:line: text`.
fn unread_statements(engine: &str) -> Vec<String> {
    let patch = load(engine);
    let mut unread = Vec::new();
    for m in patch.migrations.iter() {
        for (path, sql) in [(m.up_path(), &m.up), (m.down_path(), &m.down)] {
            for s in check_script(&path, sql, dialect(engine)).statements {
                if matches!(s.outcome, Reading::Invalid | Reading::Raw) {
                    let first = s.statement.text.lines().next().unwrap_or_default();
                    unread.push(format!("{}:{}: {first}", path.display(), s.statement.line));
                }
            }
        }
    }
    unread
}

fn lints_every_statement(engine: &str) {
    let report = xtask::lint::lint_dir(&patch_dir(engine)).unwrap_or_else(|e| panic!("{e:#}"));
    let parse_problems: Vec<String> = report
        .findings
        .iter()
        .filter(|f| ["syntax", "split", "empty-script"].contains(&f.rule.as_str()))
        .map(|f| format!("{}:{}: {}: {}", f.path.display(), f.line, f.rule, f.message))
        .collect();
    assert_eq!(
        parse_problems,
        Vec::<String>::new(),
        "{engine}: parse problems"
    );
    assert_eq!(report.unchecked, 0, "{engine}: statements left unchecked");
    assert_eq!(
        unread_statements(engine),
        Vec::<String>::new(),
        "{engine}: statements neither parsed nor recognized"
    );
    assert!(report.statements > 300, "{engine}: {}", report.statements);
    // The figures `lint --format json` gives agree: every written statement read, and the SQL
    // inside the idioms read too.
    let read = report.summary().readings;
    assert_eq!(read.invalid, 0, "{engine}: {read:?}");
    assert_eq!(
        read.parsed + read.recognized,
        report.statements,
        "{engine}: {read:?}"
    );
    assert!(read.embedded > 50 && read.opaque == 0, "{engine}: {read:?}");
    // Another tool's no-transaction comment counts as the runtime counts it.
    let in_transaction: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "ban-concurrent-index-creation-in-transaction")
        .map(|f| format!("{}:{}", f.path.display(), f.line))
        .collect();
    assert_eq!(in_transaction, Vec::<String>::new(), "{engine}");
    // The pair check speaks of planted defects only: helper procedures, a DROP COLUMN taking its
    // index along, a MODIFY changing nullability back and forth are correct pairs.
    let planted: BTreeSet<String> = expected()
        .defect
        .into_iter()
        .filter(|d| d.engine == engine)
        .map(|d| d.migration)
        .collect();
    let unplanted: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == "down-undoes-up")
        .filter(|f| {
            !planted
                .iter()
                .any(|p| f.path.starts_with(format!("migrations/chat/{p}")))
        })
        .map(|f| format!("{}:{}: {}", f.path.display(), f.line, f.message))
        .collect();
    assert_eq!(unplanted, Vec::<String>::new(), "{engine}: pair check");
    // The irreversible migrations are said to be so, not hidden.
    for m in expected()
        .irreversible
        .iter()
        .filter(|i| i.engine == engine)
    {
        assert!(
            report
                .findings
                .iter()
                .chain(report.suppressed.iter().map(|s| &s.finding))
                .any(|f| f
                    .path
                    .starts_with(format!("migrations/chat/{}", m.migration))
                    && f.message.contains("irreversible")
                    && f.severity != Severity::Error),
            "{engine}: lint does not say that {} is irreversible",
            m.migration
        );
    }
}

#[test]
fn mysql_lints_with_every_statement_read() {
    lints_every_statement("mysql");
}

#[test]
fn postgres_lints_with_every_statement_read() {
    lints_every_statement("postgres");
}

// ---------------------------------------------------------------------------------------------
// 3. The round trip, once per engine.

/// One migration's line of the check-migrations report (`  <label> ... <status>`) and the
/// indented lines under it.
#[derive(Debug, Default)]
struct Outcome {
    status: String,
    details: Vec<String>,
}

fn outcomes(out: &str) -> BTreeMap<String, Outcome> {
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in out.lines() {
        if let Some((label, status)) = line.strip_prefix("  ").and_then(|l| l.split_once(" ... ")) {
            if !label.starts_with(' ') {
                outcomes.insert(
                    label.to_string(),
                    Outcome {
                        status: status.to_string(),
                        details: Vec::new(),
                    },
                );
                current = Some(label.to_string());
                continue;
            }
        }
        if line.starts_with("    ") {
            if let Some(outcome) = current.as_ref().and_then(|c| outcomes.get_mut(c)) {
                outcome.details.push(line.trim().to_string());
            }
        } else {
            current = None;
        }
    }
    outcomes
}

fn round_trip(engine: &str, db: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("check-migrations")
        .arg(patch_dir(engine))
        .args(["--db", db])
        .current_dir(xtask::workspace_root())
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run xtask");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    let outcomes = outcomes(&out);
    assert_eq!(
        outcomes.keys().cloned().collect::<BTreeSet<_>>(),
        directories(engine),
        "{engine}: one line per migration\n{out}\n{err}"
    );
    let expected = expected();
    let defects: BTreeMap<&str, &str> = expected
        .defect
        .iter()
        .filter(|d| d.engine == engine)
        .map(|d| (d.migration.as_str(), d.kind.as_str()))
        .collect();
    let irreversible: BTreeSet<&str> = expected
        .irreversible
        .iter()
        .filter(|i| i.engine == engine)
        .map(|i| i.migration.as_str())
        .collect();
    let failed: BTreeSet<&str> = outcomes
        .iter()
        .filter(|(_, o)| o.status == "FAILED")
        .map(|(l, _)| l.as_str())
        .collect();
    assert_eq!(
        failed,
        defects.keys().copied().collect(),
        "{engine}: the failures are the planted defects, all of them\n{out}\n{err}"
    );
    let said_irreversible: BTreeSet<&str> = outcomes
        .iter()
        .filter(|(_, o)| o.status.contains("irreversible"))
        .map(|(l, _)| l.as_str())
        .collect();
    assert_eq!(
        said_irreversible, irreversible,
        "{engine}: the irreversible migrations\n{out}"
    );
    let others: Vec<String> = outcomes
        .iter()
        .filter(|(l, o)| {
            !defects.contains_key(l.as_str())
                && !irreversible.contains(l.as_str())
                && o.status != "ok"
        })
        .map(|(l, o)| format!("{l} ... {}", o.status))
        .collect();
    assert_eq!(others, Vec::<String>::new(), "{engine}: not ok\n{out}");
    // Each defect is explained by what its down left behind.
    for (label, kind) in &defects {
        let details = outcomes[*label].details.join("\n");
        assert!(
            details.contains("is still there after down.sql"),
            "{engine}: {label} ({kind}) says nothing of what its down left:\n{details}"
        );
        if *kind == "wrong-index-column" {
            assert!(
                details.contains("is missing after down.sql"),
                "{engine}: {label}: the index on the right column is missing:\n{details}"
            );
        }
    }
    assert!(!output.status.success(), "{engine}: defects fail the run");
    assert!(
        err.contains(&format!(
            "{} migration(s) failed the round trip",
            defects.len()
        )),
        "{engine}: {err}"
    );
    insta::assert_snapshot!(format!("{engine}_round_trip"), out.to_string());
}

#[test]
fn mysql_round_trip_on_mariadb_names_every_planted_defect_in_one_run() {
    round_trip("mysql", "mariadb");
}

#[test]
fn postgres_round_trip_names_every_planted_defect_in_one_run() {
    round_trip("postgres", "postgres");
}

/// The fixture's own bookkeeping: at least one defect of each kind per engine, on migrations
/// that exist, and the engines named as the fixture's directories.
#[test]
fn expected_toml_names_real_migrations() {
    let expected = expected();
    for engine in ENGINES {
        let dirs = directories(engine);
        let kinds: BTreeSet<&str> = expected
            .defect
            .iter()
            .filter(|d| d.engine == engine)
            .map(|d| {
                assert!(dirs.contains(&d.migration), "{engine}: {}", d.migration);
                d.kind.as_str()
            })
            .collect();
        assert_eq!(
            kinds,
            BTreeSet::from(["statistics-lookup", "typo-table", "wrong-index-column"]),
            "{engine}"
        );
        for i in expected.irreversible.iter().filter(|i| i.engine == engine) {
            assert!(dirs.contains(&i.migration), "{engine}: {}", i.migration);
            let down = std::fs::read_to_string(
                patch_dir(engine)
                    .join("migrations/chat")
                    .join(&i.migration)
                    .join("down.sql"),
            )
            .unwrap();
            assert!(
                down.starts_with("-- bascule:irreversible "),
                "{engine}: {}",
                i.migration
            );
        }
    }
    for d in &expected.defect {
        assert!(ENGINES.contains(&d.engine.as_str()), "{}", d.engine);
    }
}

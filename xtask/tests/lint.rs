//! `cargo xtask lint` on the fixture set: per dialect a patch where every rule of the dialect
//! fires and one where none does, the seed's avatar scenarios (one-shot versions flagged in online
//! mode, multi-phase sequences clean), the CLI (exit code, JSON) and build-patch's refusal.

use std::path::{Path, PathBuf};
use std::process::Command;

use bascule_lint::Severity;
use xtask::lint::lint_dir;

fn fixture(rel: &str) -> PathBuf {
    xtask::workspace_root().join("fixtures/lint").join(rel)
}

/// The report as a person reads it, for a snapshot.
fn human(rel: &str) -> String {
    lint_dir(&fixture(rel)).unwrap().render_human()
}

fn rules_of(rel: &str) -> Vec<String> {
    let report = lint_dir(&fixture(rel)).unwrap();
    let mut rules: Vec<String> = report.findings.iter().map(|f| f.rule.clone()).collect();
    rules.sort();
    rules.dedup();
    rules
}

#[test]
fn every_rule_of_each_dialect_fires() {
    let expect: &[(&str, &[&str])] = &[
        (
            "sqlite/fires",
            &[
                "adding-not-nullable-column",
                "dropping-column",
                "dropping-table",
                "renaming-column",
                "renaming-table",
                "transaction-nesting",
            ],
        ),
        (
            "postgres/fires",
            &[
                "adding-check-constraint",
                "adding-field-with-volatile-default",
                "adding-foreign-key",
                "adding-json-column",
                "adding-not-nullable-column",
                "adding-serial-primary-key-field",
                "adding-unique-constraint",
                "ban-char-field",
                "ban-concurrent-index-creation-in-transaction",
                "ban-drop-database",
                "ban-truncate",
                "blocking-lock",
                "changing-column-type",
                "dropping-column",
                "dropping-table",
                "idempotent-down",
                "prefer-bigint-over-int",
                "prefer-identity",
                "prefer-robust-stmts",
                "prefer-text-field",
                "prefer-timestamptz",
                "renaming-column",
                "renaming-table",
                "require-concurrent-detach-partition",
                "require-concurrent-index",
                "require-concurrent-index-deletion",
                "require-timeout",
                "setting-not-null",
                "transaction-nesting",
            ],
        ),
        (
            "mysql/fires",
            &[
                "adding-check-constraint",
                "adding-foreign-key",
                "adding-not-nullable-column",
                "ban-drop-database",
                "ban-truncate",
                "changing-column-type",
                "dropping-column",
                "dropping-table",
                "idempotent-down",
                "mysql-blocking-lock",
                "mysql-table-copy",
                "prefer-bigint-over-int",
                "prefer-robust-stmts",
                "renaming-column",
                "renaming-table",
                "require-timeout",
                "setting-not-null",
            ],
        ),
    ];
    // Every rule of the registry fires in the fixture of each dialect it applies to, except:
    // SQLite cannot express SET NOT NULL at all.
    let exempt = ["setting-not-null (sqlite)"];
    let mut missing = Vec::new();
    for rule in bascule_lint::rules::all() {
        for dialect in rule.dialects() {
            let rel = format!("{dialect}/fires");
            let listed = expect
                .iter()
                .any(|(r, rules)| *r == rel && rules.contains(&rule.id()));
            if !listed && !exempt.contains(&format!("{} ({dialect})", rule.id()).as_str()) {
                missing.push(format!("{} ({dialect})", rule.id()));
            }
        }
    }
    assert_eq!(missing, Vec::<String>::new());
    for (rel, rules) in expect {
        let found = rules_of(rel);
        for rule in *rules {
            assert!(
                found.iter().any(|r| r == rule),
                "{rel}: {rule} did not fire: {found:?}"
            );
        }
        let report = lint_dir(&fixture(rel)).unwrap();
        // Online mode: errors, except the advice rules' warnings.
        for f in &report.findings {
            let advice = bascule_lint::rules::by_id(&f.rule)
                .is_some_and(|r| r.level() == bascule_lint::Level::Advice);
            let expected = if advice {
                Severity::Warning
            } else {
                Severity::Error
            };
            assert_eq!(f.severity, expected, "{rel}: {f:?}");
        }
        assert_eq!(
            report.suppressed.len(),
            1,
            "{rel}: the allowed drop is suppressed"
        );
        assert_eq!(report.unchecked, 1, "{rel}: the raw statement is unchecked");
    }
}

#[test]
fn quiet_patches_have_no_finding() {
    for rel in ["sqlite/quiet", "postgres/quiet", "mysql/quiet"] {
        let report = lint_dir(&fixture(rel)).unwrap();
        assert!(
            report.findings.is_empty(),
            "{rel}:\n{}",
            report.render_human()
        );
    }
    // The one suppression there: a varchar kept on purpose to show a safe widening.
    let report = lint_dir(&fixture("postgres/quiet")).unwrap();
    let suppressed: Vec<&str> = report
        .suppressed
        .iter()
        .map(|s| s.finding.rule.as_str())
        .collect();
    assert_eq!(suppressed, ["prefer-text-field"]);
}

#[test]
fn fixture_reports() {
    for rel in [
        "sqlite/fires",
        "postgres/fires",
        "mysql/fires",
        "avatar/add-one-shot/patches/1.1.0",
        "avatar/drop-one-shot/patches/1.3.0",
        "avatar/rename-one-shot/patches/1.5.0",
    ] {
        insta::assert_snapshot!(rel.replace('/', "__"), human(rel));
    }
}

#[test]
fn avatar_one_shot_versions_are_errors_with_the_phase_recipe() {
    for (rel, rule) in [
        (
            "avatar/add-one-shot/patches/1.1.0",
            "adding-not-nullable-column",
        ),
        ("avatar/drop-one-shot/patches/1.3.0", "dropping-column"),
        ("avatar/rename-one-shot/patches/1.5.0", "renaming-column"),
    ] {
        let report = lint_dir(&fixture(rel)).unwrap();
        let f = report
            .findings
            .iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("{rel}: no {rule}:\n{}", report.render_human()));
        assert_eq!(f.severity, Severity::Error);
        let help = f.help.as_deref().unwrap_or("");
        assert!(
            help.contains("phase 1") && help.contains("phase 2"),
            "{help}"
        );
    }
}

#[test]
fn avatar_multi_phase_versions_pass() {
    let sequences: &[(&str, &[&str])] = &[
        ("avatar/add-two-phases/patches", &["1.1.0", "1.2.0"]),
        ("avatar/drop-two-phases/patches", &["1.3.0", "1.4.0"]),
        (
            "avatar/rename-four-phases/patches",
            &["1.5.0", "1.6.0", "1.7.0", "1.8.0"],
        ),
    ];
    for (dir, versions) in sequences {
        for version in *versions {
            let rel = format!("{dir}/{version}");
            let report = lint_dir(&fixture(&rel)).unwrap();
            // No error; at most the advice to declare the new varchar column `text` (the seed
            // resizes a varchar, so the fixtures keep one).
            assert_eq!(report.errors(), 0, "{rel}:\n{}", report.render_human());
            let rules = report.rules();
            assert!(
                rules.iter().all(|r| *r == "prefer-text-field"),
                "{rel}:\n{}",
                report.render_human()
            );
        }
    }
    // Phase 2 alone (phase 1 not shipped) is flagged: the history is what makes it pass.
    let scratch = tempfile::tempdir().unwrap();
    let alone = scratch.path().join("1.2.0");
    copy_dir(&fixture("avatar/add-two-phases/patches/1.2.0"), &alone);
    rewrite(&alone.join("patch.toml"), "../../../code", "code");
    let report = lint_dir(&alone).unwrap();
    assert_eq!(report.rules(), ["setting-not-null"]);
}

#[test]
fn malformed_documents_fail_lint_at_their_lines() {
    let dir = xtask::workspace_root().join("fixtures/bad/bad-docs");
    let report = lint_dir(&dir).unwrap();
    assert_eq!(report.errors(), 3, "{}", report.render_human());
    assert!(report
        .findings
        .iter()
        .all(|f| f.rule == bascule_lint::documents::RULE));
    insta::assert_snapshot!(report.render_human());

    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("lint")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("--> docs/bulletin.toml:8:1"), "{stdout}");
}

#[test]
fn explain_prints_the_explanation_and_the_recipe() {
    insta::assert_snapshot!(xtask::lint::explain("require-timeout").unwrap());
    let per_dialect = xtask::lint::explain("adding-check-constraint").unwrap();
    assert!(
        per_dialect.contains("what to do instead (mysql):")
            && per_dialect.contains("what to do instead (postgres):"),
        "{per_dialect}"
    );
    insta::assert_snapshot!(
        "explain_down_undoes_up",
        xtask::lint::explain("down-undoes-up").unwrap()
    );
    let listed: Vec<String> = xtask::lint::rules_table()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(
        listed.iter().any(|id| id == "down-undoes-up")
            && listed.iter().any(|id| id == "blocking-lock"),
        "{listed:?}"
    );
    let err = xtask::lint::explain("no-such-rule").unwrap_err();
    assert!(err.to_string().contains("--rules"), "{err}");

    let xtask = env!("CARGO_BIN_EXE_xtask");
    let out = Command::new(xtask)
        .args(["lint", "--explain", "ban-truncate"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("ban-truncate: "), "{stdout}");
    assert!(stdout.contains("error in every mode"), "{stdout}");
}

#[test]
fn demo_platform_patches_have_no_lint_error() {
    for version in ["1.0.0", "2.0.0"] {
        let dir = xtask::workspace_root()
            .join("fixtures/demo-platform/patches")
            .join(version);
        let report = lint_dir(&dir).unwrap();
        assert!(
            !report.has_errors(),
            "{version}:\n{}",
            report.render_human()
        );
    }
}

#[test]
fn cli_exit_code_and_json() {
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let bad = Command::new(xtask)
        .args(["lint", "--format", "json"])
        .arg(fixture("avatar/drop-one-shot/patches/1.3.0"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let json = String::from_utf8(bad.stdout).unwrap();
    for field in [
        "\"mode\": \"online\"",
        "\"errors\": 1",
        "\"rule\": \"dropping-column\"",
        "\"severity\": \"error\"",
        "\"path\": \"migrations/site/0002_drop_avatar/up.sql\"",
        "\"line\": 2",
    ] {
        assert!(json.contains(field), "no {field} in {json}");
    }

    let good = Command::new(xtask)
        .arg("lint")
        .arg(fixture("avatar/drop-two-phases/patches/1.4.0"))
        .output()
        .unwrap();
    assert!(good.status.success(), "{good:?}");
    let stdout = String::from_utf8(good.stdout).unwrap();
    assert!(
        stdout.contains("lint (online): 0 errors, 0 warnings"),
        "{stdout}"
    );
}

#[test]
fn build_patch_refuses_a_lint_error_and_builds_nothing() {
    let out = tempfile::tempdir().unwrap();
    let err = xtask::build_patch::build(
        &fixture("avatar/drop-one-shot/patches/1.3.0"),
        out.path(),
        Some(Path::new("/nonexistent-runtime")),
    )
    .unwrap_err();
    assert!(err.to_string().contains("1 lint error(s)"), "{err:#}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn build_patch_in_downtime_mode_builds_with_warnings() {
    let scratch = tempfile::tempdir().unwrap();
    let patch = scratch.path().join("patches/1.3.0");
    copy_dir(&fixture("avatar/drop-one-shot/patches/1.3.0"), &patch);
    copy_dir(&fixture("avatar/code"), &scratch.path().join("code"));
    rewrite(&patch.join("patch.toml"), "../../../code", "../../code");
    rewrite(
        &patch.join("patch.toml"),
        "mode = \"online\"",
        "mode = \"downtime\"",
    );
    let report = lint_dir(&patch).unwrap();
    assert_eq!(report.rules(), ["dropping-column"]);
    assert_eq!(report.warnings(), 1);
    let runtime = xtask::static_runtime::build_static_runtime(&xtask::workspace_root()).unwrap();
    let out = scratch.path().join("out");
    let built = xtask::build_patch::build(&patch, &out, Some(&runtime)).unwrap();
    assert!(built.path.is_file());
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn rewrite(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{}: no `{from}`", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// Every command's error is printed as a message, never as a backtrace, even with
/// `RUST_BACKTRACE=1` (which a developer may have set for their own code).
#[test]
fn errors_print_without_a_backtrace_even_with_rust_backtrace() {
    let bad = xtask::workspace_root().join("fixtures/bad/bad-name");
    let scratch = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 3] = [
        &["lint"],
        &["check-migrations", "--db", "sqlite"],
        &["build-patch", "--out"],
    ];
    for command in commands {
        let mut run = Command::new(env!("CARGO_BIN_EXE_xtask"));
        run.args(command);
        if command.contains(&"--out") {
            run.arg(scratch.path());
        }
        let out = run.arg(&bad).env("RUST_BACKTRACE", "1").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command:?}: {stderr}");
        assert!(
            stderr.starts_with("Error: ") && stderr.contains("v2_add_thing"),
            "{command:?}: {stderr}"
        );
        assert!(
            !stderr.contains("stack backtrace") && !stderr.contains("Stack backtrace"),
            "{command:?}: {stderr}"
        );
    }
}

/// A patch with an irreversible migration (its down only the marker) and a pair-check finding
/// allowed in the down: no error, the note and the suppression reported.
#[test]
fn irreversible_migrations_and_allowed_pair_findings() {
    let scratch = tempfile::tempdir().unwrap();
    let patch = scratch.path().join("1.0.0");
    copy_dir(&fixture("sqlite/quiet"), &patch);
    let write = |migration: &str, up: &str, down: &str| {
        let dir = patch.join("migrations/site").join(migration);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("up.sql"), up).unwrap();
        std::fs::write(dir.join("down.sql"), down).unwrap();
    };
    write(
        "0003_purge_legacy_sessions",
        "DELETE FROM sessions WHERE legacy = 1;\n",
        "-- bascule:irreversible the legacy sessions were replaced in 0.9; nothing to restore\n",
    );
    write(
        "0004_index_seen",
        "CREATE INDEX members_seen ON members (seen);\n",
        "-- bascule:allow down-undoes-up 0.9 already had this index on some hosts; keep it\n\
         DROP INDEX IF EXISTS members_seen_at;\nDROP INDEX members_seen;\n",
    );
    let report = lint_dir(&patch).unwrap();
    assert!(!report.has_errors(), "{}", report.render_human());
    assert_eq!(report.notes(), 1);
    let human = report.render_human();
    assert!(
        human.contains("note[irreversible]: migration 0003_purge_legacy_sessions is declared irreversible: the legacy sessions were replaced in 0.9")
            && human.contains("0004_index_seen/down.sql:2:1: down-undoes-up (0.9 already had this index"),
        "{human}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["lint", "--format", "json"])
        .arg(&patch)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["notes"], 1);
    assert_eq!(json["findings"][0]["rule"], "irreversible");
    assert_eq!(json["findings"][0]["severity"], "note");
    assert_eq!(json["suppressed"][0]["rule"], "down-undoes-up");

    // Without a reason the marker is an error, and the lint fails.
    std::fs::write(
        patch.join("migrations/site/0003_purge_legacy_sessions/down.sql"),
        "-- bascule:irreversible\n",
    )
    .unwrap();
    let report = lint_dir(&patch).unwrap();
    assert_eq!(
        report.rules(),
        ["irreversible"],
        "{}",
        report.render_human()
    );
    assert!(report.has_errors());
}

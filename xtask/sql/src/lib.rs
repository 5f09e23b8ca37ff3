//! Checking migration scripts before a bundle exists.
//!
//! `cargo xtask build-patch` (and the lint command) call [`validate_migration`] on every
//! migration, so a typo in `up.sql` is caught on the developer's machine with a rustc-like
//! message, not on a production host half-way through a run.
//!
//! # Why split before parsing
//!
//! `sqlparser`'s `Parser::parse_sql` parses a whole script and stops at the first error: one bad
//! statement hides every later one, and a statement sqlparser does not know (a vendor extension)
//! would make the whole file uncheckable. So `bascule_patch::split_statements` first cuts the script into statements the
//! way the database's own client does — quotes (with doubled-quote escapes, and backslash escapes
//! in MySQL), `--`/`#`/`/* */` comments, PostgreSQL dollar quotes, `BEGIN … END` bodies of
//! `CREATE TRIGGER`/`PROCEDURE`/`FUNCTION`, MySQL's `DELIMITER` command — and [`validate`] parses
//! each statement on its own with the class's dialect. The same split is what the runtime can
//! execute statement by statement.
//!
//! # Positions
//!
//! Each [`bascule_patch::SqlStatement`] knows the line, column and byte offset of its first character in the
//! file. sqlparser reports `Line: L, Column: C` inside the text it was given; [`validate`] maps that
//! back to the file: lines shift by the statement's line, columns by the statement's column on its
//! first line only. Columns count characters, as sqlparser does.
//!
//! # Escapes: `-- bascule:` markers
//!
//! A `-- bascule:<directive>` comment before a statement, inside it, or right after its terminator
//! on the same line belongs to that statement ([`bascule_patch::SqlStatement::markers`]); the lint rules read
//! them. `-- bascule:raw` means "the database accepts this, the checker does not": the statement
//! is not parsed, only flagged ([`bascule_patch::SqlStatement::raw`]) and counted, so the build can say how much
//! went unchecked.
//!
//! # Known gaps of sqlparser: [`recognize`](mod@recognize)
//!
//! A few forms the databases accept and sqlparser rejects (`DROP INDEX CONCURRENTLY`, MySQL
//! procedures, `ALTER TABLE … ENGINE=`, …) are read by Bascule's own [`recognize`](mod@recognize) module when
//! sqlparser fails: such a statement is accepted, its [`Reading`] says [`Reading::Recognized`],
//! and [`MigrationReport::recognized`] counts it. A statement neither knows stays an error, and
//! the rest of the script is checked all the same.
//!
//! # SQL inside statements: [`embedded`](mod@embedded)
//!
//! The DDL of an idempotent migration often sits in a string (`SET @s = IF(…, 'CREATE INDEX …',
//! 'SELECT 1'); PREPARE s FROM @s`), a `DO` block or a procedure the script calls. Where that
//! text is known before run time it is read too, and each statement found is handed on as a
//! [`CheckedStatement`] of its own, right after the one that holds it, marked
//! [`CheckedStatement::embedded`] and placed at its text in the file: the lint rules and the pair
//! check see it like a written one. Text made at run time is an opaque statement, never an
//! error; [`MigrationReport::embedded`] and [`MigrationReport::opaque`] count them apart from the
//! written statements.

pub mod embedded;
mod parser;
pub mod recognize;
pub mod statement;
pub mod validate;

use std::path::Path;

pub use parser::parser_dialect;
pub use recognize::{
    recognize, AlterAction, IndexKind, MaintenanceCommand, PreparedText, Recognized,
    RecognizedKind, RoutineKind,
};
pub use statement::{CheckedStatement, Container, Embedded, Reading};
pub use validate::{
    check_script, render_issues, validate_script, IssueKind, ScriptCheck, SqlIssue,
};

use bascule_patch::Dialect;
use bascule_patch::Migration;

/// What [`validate_migration`] found in a sound migration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Statements in `up.sql`, raw ones included.
    pub statements_up: usize,
    /// Statements in `down.sql`, raw ones included.
    pub statements_down: usize,
    /// Statements of both scripts marked `-- bascule:raw`, so not checked.
    pub raw: usize,
    /// Statements of both scripts sqlparser rejects and Bascule's own recognizer accepted
    /// ([`recognize`](mod@recognize)): checked, less thoroughly.
    pub recognized: usize,
    /// Statements of both scripts read inside others ([`embedded`](mod@embedded): a prepared
    /// statement's string, a `DO` block's body, a called procedure's body). Not counted in
    /// `statements_up`/`statements_down`, which count what is written, nor in `recognized`.
    pub embedded: usize,
    /// Of the embedded statements, those known only at run time or that do not parse: unchecked.
    pub opaque: usize,
}

/// Validates both scripts of a migration; the issues of both are returned together, up's first.
///
/// The scripts are taken from `m`, already read when the patch was loaded from `_patch_root`;
/// messages name them by their path relative to the patch root (`m.up_path()`, `m.down_path()`),
/// as a developer sees them from the patch directory. An empty script, up or down, is an
/// [`IssueKind::Empty`] issue: every up must do something and every down must undo it — except
/// the down of a migration declared `-- bascule:irreversible <reason>`, which may hold nothing
/// but that marker.
pub fn validate_migration(
    _patch_root: &Path,
    m: &Migration,
    dialect: Dialect,
) -> Result<MigrationReport, Vec<SqlIssue>> {
    let up = check_script(&m.up_path(), &m.up, dialect);
    let mut down = check_script(&m.down_path(), &m.down, dialect);
    if m.irreversible().is_some() {
        down.issues.retain(|issue| issue.kind != IssueKind::Empty);
    }
    if !up.issues.is_empty() || !down.issues.is_empty() {
        return Err(up.issues.into_iter().chain(down.issues).collect());
    }
    let both = || up.statements.iter().chain(&down.statements);
    let written = || both().filter(|s| s.is_written());
    Ok(MigrationReport {
        statements_up: up.statements.iter().filter(|s| s.is_written()).count(),
        statements_down: down.statements.iter().filter(|s| s.is_written()).count(),
        raw: written().filter(|s| s.outcome == Reading::Raw).count(),
        recognized: written().filter(|s| s.recognized().is_some()).count(),
        embedded: both().filter(|s| !s.is_written()).count(),
        opaque: both().filter(|s| s.is_opaque()).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(up: &str, down: &str) -> Migration {
        Migration::new("site", 2, "add_avatar", up, down)
    }

    #[test]
    fn counts_statements_and_raw_ones() {
        let m = migration(
            "ALTER TABLE members ADD COLUMN avatar TEXT;\n-- bascule:raw\nPRAGMA foo = bar;\n",
            "ALTER TABLE members DROP COLUMN avatar;\n",
        );
        let report = validate_migration(Path::new("patches/2.4.0"), &m, Dialect::Sqlite)
            .unwrap_or_else(|e| panic!("{}", render_issues(&e)));
        assert_eq!(
            report,
            MigrationReport {
                statements_up: 2,
                statements_down: 1,
                raw: 1,
                recognized: 0,
                embedded: 0,
                opaque: 0,
            }
        );
    }

    #[test]
    fn counts_recognized_statements() {
        let m = migration(
            "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\nDELIMITER ;\n\
             ALTER TABLE members ENGINE=InnoDB;\n",
            "DROP PROCEDURE p;\n",
        );
        let report = validate_migration(Path::new("."), &m, Dialect::Mysql)
            .unwrap_or_else(|e| panic!("{}", render_issues(&e)));
        assert_eq!(
            report.statements_up, 2,
            "DELIMITER lines are not statements"
        );
        assert_eq!(report.recognized, 2);
        assert_eq!(report.raw, 0);
    }

    #[test]
    fn embedded_statements_are_counted_apart() {
        let m = migration(
            "SET @s = (SELECT IF(COUNT(*) > 0, 'SELECT 1', 'CREATE INDEX i ON t (c)') \
             FROM INFORMATION_SCHEMA.STATISTICS WHERE index_name = 'i');\n\
             PREPARE s FROM @s;\nEXECUTE s;\nDEALLOCATE PREPARE s;\n",
            "SET @s = CONCAT('DROP INDEX i ON ', @t);\nPREPARE s FROM @s;\nEXECUTE s;\n",
        );
        let report = validate_migration(Path::new("."), &m, Dialect::Mysql)
            .unwrap_or_else(|e| panic!("{}", render_issues(&e)));
        assert_eq!(
            report,
            MigrationReport {
                statements_up: 4,
                statements_down: 3,
                raw: 0,
                recognized: 2,
                embedded: 3,
                opaque: 1,
            }
        );
    }

    #[test]
    fn issues_of_both_scripts_name_their_files() {
        let m = migration(
            "ALTER TABLE members ADD COLUMN avatar TEXT NOT NUL;\n",
            "-- TODO\n",
        );
        let issues = validate_migration(Path::new("."), &m, Dialect::Sqlite).unwrap_err();
        assert_eq!(issues.len(), 2, "{}", render_issues(&issues));
        assert_eq!(
            issues[0].path,
            Path::new("migrations/site/0002_add_avatar/up.sql")
        );
        assert_eq!(issues[0].kind, IssueKind::Syntax);
        assert_eq!(
            issues[1].path,
            Path::new("migrations/site/0002_add_avatar/down.sql")
        );
        assert_eq!(issues[1].kind, IssueKind::Empty);
    }

    #[test]
    fn an_irreversible_migration_may_have_an_empty_down() {
        let irreversible = migration(
            "DELETE FROM sessions WHERE legacy;\n",
            "-- bascule:irreversible the legacy sessions are gone for good\n",
        );
        let report = validate_migration(Path::new("."), &irreversible, Dialect::Mysql)
            .unwrap_or_else(|e| panic!("{}", render_issues(&e)));
        assert_eq!(report.statements_down, 0);
        let plain = migration("DELETE FROM sessions WHERE legacy;\n", "-- gone\n");
        let issues = validate_migration(Path::new("."), &plain, Dialect::Mysql).unwrap_err();
        assert_eq!(issues[0].kind, IssueKind::Empty);
    }
}

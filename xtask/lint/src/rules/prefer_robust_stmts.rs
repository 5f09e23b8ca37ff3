//! `prefer-robust-stmts`: `CREATE` without `IF NOT EXISTS`, `DROP` without `IF EXISTS`, in a
//! migration that is not all-or-nothing. (squawk: `prefer-robust-stmts`.)
//!
//! # Where it applies
//!
//! MySQL and MariaDB commit every DDL statement: when the third statement of a migration fails,
//! the first two stay, and running the migration again (after fixing the cause) fails on "table
//! already exists" unless the statements tolerate being run twice. The same holds for a
//! PostgreSQL migration marked `-- bascule:no-transaction`. A migration that runs in one
//! transaction (SQLite, PostgreSQL otherwise) is rolled back whole on failure, and a migration
//! of a single statement cannot be half-applied: the rule is quiet there. Advice only: a
//! warning in every mode.
//!
//! Statements: `CREATE TABLE`, `CREATE INDEX`, `DROP TABLE|VIEW|INDEX|SEQUENCE`, and on
//! PostgreSQL `ADD COLUMN` / `DROP COLUMN` (MySQL has no `IF [NOT] EXISTS` for columns; MariaDB
//! has, but sqlparser does not read it in the MySQL dialect).

use sqlparser::ast::{AlterTableOperation, ObjectType, Statement};

use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;
use bascule_sql::Reading;

pub struct PreferRobustStmts;

impl Rule for PreferRobustStmts {
    fn id(&self) -> &'static str {
        "prefer-robust-stmts"
    }
    fn summary(&self) -> &'static str {
        "CREATE/DROP without IF [NOT] EXISTS where a failed migration stays half-applied"
    }
    fn explanation(&self) -> &'static str {
        "MySQL commits each DDL statement (and so does PostgreSQL outside a transaction, in a \
         `-- bascule:no-transaction` migration): a migration that fails half-way keeps its first \
         statements, and running it again fails on what they already created or dropped."
    }
    fn recipe(&self, dialect: Dialect) -> String {
        let columns = if dialect == Dialect::Postgres {
            ", ADD COLUMN IF NOT EXISTS, DROP COLUMN IF EXISTS"
        } else {
            ""
        };
        format!(
            "make each statement safe to run twice: CREATE TABLE IF NOT EXISTS, CREATE INDEX IF \
             NOT EXISTS, DROP … IF EXISTS{columns}; or keep one schema change per migration"
        )
    }
    fn level(&self) -> Level {
        Level::Advice
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql, Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let transactional =
            cx.dialect == Dialect::Postgres && !cx.migration.runs_outside_transaction(cx.dialect);
        // A statement run only when its guard found the work undone is already safe to rerun.
        if transactional || cx.statement.guarded || changes(cx) < 2 {
            return Vec::new();
        }
        let what = match &cx.statement.ast {
            Statement::CreateTable(t) if !t.if_not_exists && !t.or_replace => {
                vec![format!("CREATE TABLE {} without IF NOT EXISTS", t.name)]
            }
            Statement::CreateIndex(i) if !i.if_not_exists => {
                let name = i.name.as_ref().map(ToString::to_string).unwrap_or_default();
                vec![format!("CREATE INDEX {name} without IF NOT EXISTS")]
            }
            Statement::Drop {
                object_type:
                    kind @ (ObjectType::Table
                    | ObjectType::View
                    | ObjectType::Index
                    | ObjectType::Sequence),
                if_exists: false,
                names,
                ..
            } => names
                .iter()
                .map(|n| format!("DROP {kind} {n} without IF EXISTS"))
                .collect(),
            Statement::AlterTable(alter) if cx.dialect == Dialect::Postgres => alter
                .operations
                .iter()
                .filter_map(|op| match op {
                    AlterTableOperation::AddColumn {
                        if_not_exists: false,
                        column_def,
                        ..
                    } => Some(format!(
                        "ADD COLUMN {} without IF NOT EXISTS",
                        column_def.name
                    )),
                    AlterTableOperation::DropColumn {
                        if_exists: false,
                        column_names,
                        ..
                    } => Some(format!(
                        "DROP COLUMN {} without IF EXISTS",
                        column_names
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        what.into_iter()
            .map(|w| {
                Hit::new(format!(
                    "{w}: a re-run after a half-applied migration fails here"
                ))
            })
            .collect()
    }
}

/// The statements of the script that change something (everything but `SET`).
fn changes(cx: &RuleContext<'_>) -> usize {
    cx.script
        .iter()
        .filter(|s| !matches!(&s.outcome, Reading::Parsed(ast) if matches!(ast.as_slice(), [Statement::Set(_)])))
        .count()
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, lint, rendered_report};
    use crate::Severity;
    use bascule_patch::Dialect::*;
    use bascule_patch::Mode;

    const ID: &str = "prefer-robust-stmts";

    const TWO: &str = "CREATE TABLE badges (id BIGINT PRIMARY KEY);\n\
                       CREATE INDEX badges_id ON badges (id);\n";

    #[test]
    fn fires_where_a_migration_can_be_half_applied() {
        assert_fires(2, ID, Mysql, TWO, &[]);
        assert_fires(
            1,
            ID,
            Mysql,
            "DROP TABLE old_stats;\nDROP VIEW IF EXISTS v;",
            &[],
        );
        assert_fires(
            2,
            ID,
            Postgres,
            "-- bascule:no-transaction\nALTER TABLE members ADD COLUMN a int;\nDROP INDEX members_old;",
            &[],
        );
        let report = lint(Mysql, Mode::Online, TWO, &[]);
        assert!(report
            .findings
            .iter()
            .filter(|f| f.rule == ID)
            .all(|f| f.severity == Severity::Warning));
    }

    #[test]
    fn quiet_when_robust_alone_or_transactional() {
        assert_fires(
            0,
            ID,
            Mysql,
            "CREATE TABLE IF NOT EXISTS badges (id BIGINT PRIMARY KEY);\n\
             CREATE INDEX IF NOT EXISTS badges_id ON badges (id);\n\
             DROP TABLE IF EXISTS old_stats;",
            &[],
        );
        assert_fires(0, ID, Mysql, "DROP TABLE old_stats;", &[]);
        // Rolled back whole on failure.
        assert_fires(0, ID, Postgres, TWO, &[]);
        assert_fires(0, ID, Sqlite, TWO, &[]);
        assert_fires(
            0,
            ID,
            Postgres,
            "-- bascule:no-transaction\nSET lock_timeout = '2s';\n\
             ALTER TABLE members ADD COLUMN IF NOT EXISTS a int;\n\
             ALTER TABLE members DROP COLUMN IF EXISTS b;",
            &[],
        );
    }

    #[test]
    fn quiet_on_ddl_the_idempotent_idiom_guards() {
        let guarded = "SET @s = (SELECT IF((SELECT COUNT(*) FROM INFORMATION_SCHEMA.STATISTICS \
                       WHERE table_name = 'posts' AND index_name = 'idx_posts_root') > 0, \
                       'SELECT 1', 'CREATE INDEX idx_posts_root ON posts (root_id)'));\n\
                       PREPARE stmt FROM @s;\nEXECUTE stmt;\nDEALLOCATE PREPARE stmt;\n";
        assert_fires(0, ID, Mysql, guarded, &[]);
        // The same DDL prepared with no guard runs every time: it must tolerate a rerun.
        let unguarded = "SET @s = 'CREATE INDEX idx_posts_root ON posts (root_id)';\n\
                         PREPARE stmt FROM @s;\nEXECUTE stmt;\nDEALLOCATE PREPARE stmt;\n";
        assert_fires(1, ID, Mysql, unguarded, &[]);
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Mysql,
            "DROP TABLE old_stats;\nDROP VIEW IF EXISTS v;",
            &[],
        ));
    }
}

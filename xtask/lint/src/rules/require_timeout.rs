//! `require-timeout`: PostgreSQL DDL that takes an ACCESS EXCLUSIVE lock on an existing table,
//! with no `SET lock_timeout` before it in the migration. (squawk: `require-timeout-settings`;
//! strong_migrations sets `lock_timeout` itself.)
//!
//! A DDL statement waits for its lock behind any long query on the table, and while it waits
//! every new query on the table queues behind *it*: a one-millisecond `ALTER TABLE` becomes a
//! full outage for as long as the slowest running transaction. `SET lock_timeout` makes the
//! statement give up instead (the migration fails and is rolled back, and can be retried).
//! Statements judged: `ALTER TABLE` (plain `DETACH PARTITION`, `ATTACH PARTITION` included),
//! `DROP TABLE`, `DROP INDEX` (without `CONCURRENTLY`) and `TRUNCATE` on tables this `up.sql` did
//! not create. Reported once per migration, at the first such statement.

use sqlparser::ast::{ObjectType, Statement};

use super::{created_here_named, sets_lock_timeout};
use crate::history::table_name;
use crate::{Hit, Parsed, RecognizedStatement, Rule, RuleContext};
use bascule_patch::Dialect;
use bascule_sql::RecognizedKind;

pub struct RequireTimeout;

impl Rule for RequireTimeout {
    fn id(&self) -> &'static str {
        "require-timeout"
    }
    fn summary(&self) -> &'static str {
        "DDL taking an ACCESS EXCLUSIVE lock without SET lock_timeout first (PostgreSQL)"
    }
    fn explanation(&self) -> &'static str {
        "A DDL statement waiting for its lock behind a long query makes every new query on the \
         table queue behind it: the whole table stops for as long as the slowest transaction. \
         With lock_timeout set, the statement gives up, the migration is rolled back, and it can \
         be applied again later."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "start the migration with\n\
         SET lock_timeout = '2s';\n\
         (and `SET statement_timeout` for long statements); a migration that times out is rolled \
         back: apply the patch again at a quieter moment"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Some(table) = locked_table(&cx.statement.ast, cx.before) else {
            return Vec::new();
        };
        if already_judged(cx.before) {
            return Vec::new();
        }
        vec![hit(&table)]
    }
    fn check_recognized(&self, cx: &RuleContext<'_, RecognizedStatement>) -> Vec<Hit> {
        let table = match &cx.statement.recognized.kind {
            RecognizedKind::DetachPartition {
                table,
                concurrently: false,
                ..
            }
            | RecognizedKind::AttachPartition { table, .. } => table,
            _ => return Vec::new(),
        };
        if created_here_named(cx.before, table) || already_judged(cx.before) {
            return Vec::new();
        }
        vec![hit(table)]
    }
}

fn hit(table: &str) -> Hit {
    Hit::new(format!(
        "this statement locks `{table}` ACCESS EXCLUSIVE and no `SET lock_timeout` comes before \
         it: while it waits, every query on `{table}` waits too"
    ))
}

/// A `SET lock_timeout` came first, or an earlier statement was already reported.
fn already_judged(before: &[Parsed]) -> bool {
    before
        .iter()
        .enumerate()
        .any(|(i, p)| sets_lock_timeout(&p.ast) || locked_table(&p.ast, &before[..i]).is_some())
}

/// The existing table `statement` locks ACCESS EXCLUSIVE, if it does.
fn locked_table(statement: &Statement, before: &[Parsed]) -> Option<String> {
    let table = match statement {
        Statement::AlterTable(alter) => table_name(&alter.name),
        Statement::Drop {
            object_type: ObjectType::Table | ObjectType::Index,
            names,
            ..
        } => names.first().map(table_name)?,
        Statement::Truncate(t) => t.table_names.first().map(|t| table_name(&t.name))?,
        _ => return None,
    };
    let created = created_here_named(before, &table)
        || before.iter().any(|p| match &p.ast {
            Statement::CreateIndex(i) => i.name.as_ref().is_some_and(|n| table_name(n) == table),
            _ => false,
        });
    (!created).then_some(table)
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "require-timeout";

    #[test]
    fn fires_once_at_the_first_locking_statement() {
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN a int;\nALTER TABLE members ADD COLUMN b int;",
            &[],
        );
        assert_fires(1, ID, Postgres, "DROP INDEX members_old;", &[]);
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE measurement DETACH PARTITION measurement_2020;",
            &[],
        );
        // Set too late.
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN a int;\nSET lock_timeout = '2s';",
            &[],
        );
    }

    #[test]
    fn quiet_with_a_timeout_or_on_new_tables() {
        assert_fires(
            0,
            ID,
            Postgres,
            "SET lock_timeout = '2s';\nALTER TABLE members ADD COLUMN a int;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "SET LOCAL lock_timeout TO '1s';\nDROP TABLE old_stats;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE TABLE badges (id bigint);\nALTER TABLE badges ADD COLUMN name text;",
            &[],
        );
        assert_fires(0, ID, Sqlite, "ALTER TABLE members ADD COLUMN a int;", &[]);
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN a int;\nALTER TABLE members ADD COLUMN b int;",
            &[],
        ));
    }
}

//! `ban-concurrent-index-creation-in-transaction`: a PostgreSQL `CONCURRENTLY` operation
//! (`CREATE INDEX`, `DROP INDEX`, `REINDEX`, `DETACH PARTITION`) in a migration that runs in a
//! transaction, or that does other things. (squawk:
//! `ban-concurrent-index-creation-in-transaction`.)
//!
//! # The `-- bascule:no-transaction` marker
//!
//! Bascule runs each PostgreSQL migration in one transaction with its version row, and PostgreSQL
//! refuses these statements inside a transaction block: such a migration fails on every host. A
//! migration whose `up.sql` carries `-- bascule:no-transaction` (anywhere, usually on its first
//! line), or another tool's comment for the same thing (`-- morph:nontransactional`, …: the
//! runtime honours them all, [`bascule_patch::Migration::runs_outside_transaction`]), is run
//! without the transaction, statement by statement, between a version row written
//! `applying` before the first one and `applied` after the last (a database left `applying` is
//! undone by the migration's down). Nothing is all-or-nothing there any more, so the concurrent
//! statement must be alone in its migration (`SET` statements, e.g. `lock_timeout`, may go with
//! it): a failure then leaves at worst an INVALID index, which the recipe drops and rebuilds.
//! An error in every mode: the statement cannot succeed otherwise.

use sqlparser::ast::Statement;

use crate::{HasSql, Hit, Level, RecognizedStatement, Rule, RuleContext};
use bascule_patch::Dialect;
use bascule_sql::{Reading, RecognizedKind};

pub struct BanConcurrentIndexCreationInTransaction;

impl Rule for BanConcurrentIndexCreationInTransaction {
    fn id(&self) -> &'static str {
        "ban-concurrent-index-creation-in-transaction"
    }
    fn summary(&self) -> &'static str {
        "CONCURRENTLY in a migration that runs in a transaction, or not alone"
    }
    fn explanation(&self) -> &'static str {
        "PostgreSQL refuses CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH \
         PARTITION CONCURRENTLY inside a transaction block, and Bascule runs each PostgreSQL \
         migration in one. A migration marked `-- bascule:no-transaction` runs outside it, \
         statement by statement: it must then hold the concurrent statement alone, or a failure \
         leaves it half-applied."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "put the statement in a migration of its own whose up.sql starts with\n\
         -- bascule:no-transaction\n\
         (and the same in its down.sql, e.g. DROP INDEX CONCURRENTLY IF EXISTS …); if a concurrent \
         build fails it leaves an INVALID index: DROP INDEX CONCURRENTLY it and apply again"
            .into()
    }
    fn level(&self) -> Level {
        Level::Always
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        match &cx.statement.ast {
            Statement::CreateIndex(i) if i.concurrently => judge(cx, "CREATE INDEX CONCURRENTLY"),
            _ => Vec::new(),
        }
    }
    fn check_recognized(&self, cx: &RuleContext<'_, RecognizedStatement>) -> Vec<Hit> {
        let what = match &cx.statement.recognized.kind {
            RecognizedKind::DropIndex {
                concurrently: true, ..
            } => "DROP INDEX CONCURRENTLY",
            RecognizedKind::Reindex {
                concurrently: true, ..
            } => "REINDEX CONCURRENTLY",
            RecognizedKind::DetachPartition {
                concurrently: true, ..
            } => "DETACH PARTITION CONCURRENTLY",
            _ => return Vec::new(),
        };
        judge(cx, what)
    }
}

fn judge<S: HasSql>(cx: &RuleContext<'_, S>, what: &str) -> Vec<Hit> {
    let this = cx.statement.sql().offset;
    if !cx.migration.runs_outside_transaction(cx.dialect) {
        return vec![Hit::new(format!(
            "{what} cannot run inside the transaction Bascule runs this migration in; mark the \
             migration `-- bascule:no-transaction`"
        ))
        .near(cx.text(), "CONCURRENTLY")];
    }
    let others = cx
        .script
        .iter()
        .filter(|s| s.statement.offset != this)
        .filter(|s| !matches!(&s.outcome, Reading::Parsed(ast) if matches!(ast.as_slice(), [Statement::Set(_)])))
        .count();
    if others > 0 {
        return vec![Hit::new(format!(
            "{what} in a `-- bascule:no-transaction` migration with {others} other statement(s): \
             a failure leaves the migration half-applied"
        ))
        .near(cx.text(), "CONCURRENTLY")];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "ban-concurrent-index-creation-in-transaction";

    #[test]
    fn fires_without_the_marker_or_with_company() {
        assert_fires(
            1,
            ID,
            Postgres,
            "CREATE INDEX CONCURRENTLY members_name ON members (name);",
            &[],
        );
        assert_fires(1, ID, Postgres, "DROP INDEX CONCURRENTLY members_old;", &[]);
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE m DETACH PARTITION m_2020 CONCURRENTLY;",
            &[],
        );
        assert_fires(
            2,
            ID,
            Postgres,
            "-- bascule:no-transaction\n\
             CREATE INDEX CONCURRENTLY members_name ON members (name);\n\
             REINDEX INDEX CONCURRENTLY members_mail;",
            &[],
        );
    }

    #[test]
    fn quiet_alone_with_the_marker() {
        assert_fires(
            0,
            ID,
            Postgres,
            "-- bascule:no-transaction\n\
             SET lock_timeout = '2s';\n\
             CREATE INDEX CONCURRENTLY IF NOT EXISTS members_name ON members (name);",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "-- bascule:no-transaction the build takes minutes\nDROP INDEX CONCURRENTLY members_old;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE INDEX members_name ON members (name);",
            &[],
        );
    }

    #[test]
    fn another_tools_marker_is_the_same_as_bascules() {
        assert_fires(
            0,
            ID,
            Postgres,
            "-- morph:nontransactional\n\
             CREATE INDEX CONCURRENTLY IF NOT EXISTS members_name ON members (name);",
            &[],
        );
        assert_fires(
            1,
            ID,
            Postgres,
            "-- morph:nontransactional\n\
             CREATE INDEX CONCURRENTLY members_name ON members (name);\n\
             UPDATE members SET name = lower(name);",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "CREATE INDEX CONCURRENTLY members_name ON members (name);",
            &[],
        ));
    }
}

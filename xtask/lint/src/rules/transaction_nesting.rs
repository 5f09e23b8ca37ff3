//! `transaction-nesting`: `BEGIN`, `START TRANSACTION`, `COMMIT`, `END` or `ROLLBACK` in a
//! migration. (squawk: `transaction-nesting`.)
//!
//! On SQLite and PostgreSQL, Bascule runs each migration in one transaction together with its
//! version row, so a database is always exactly at some version. A `COMMIT` in the script ends
//! that transaction early: what follows runs outside it, and a failure after it leaves the
//! schema changed with no version row, which the undo cannot see. A `BEGIN` fails (SQLite) or
//! warns and is ignored (PostgreSQL); a `ROLLBACK` throws the earlier statements away, silently.
//! `SAVEPOINT` and `ROLLBACK TO SAVEPOINT` stay inside the transaction and are fine.
//! MySQL commits every DDL statement anyway and Bascule runs its scripts statement by statement,
//! so the rule does not apply there.

use sqlparser::ast::Statement;

use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct TransactionNesting;

impl Rule for TransactionNesting {
    fn id(&self) -> &'static str {
        "transaction-nesting"
    }
    fn summary(&self) -> &'static str {
        "BEGIN/COMMIT/ROLLBACK inside a migration"
    }
    fn explanation(&self) -> &'static str {
        "Bascule runs each SQLite and PostgreSQL migration in one transaction with its version \
         row. A COMMIT ends it early (a later failure leaves the schema changed and no version \
         recorded), a ROLLBACK silently discards the statements before it, a BEGIN fails or is \
         ignored."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "remove the transaction statements: the migration already is one transaction; for a \
         statement that cannot run in a transaction (CREATE INDEX CONCURRENTLY), put it alone in a \
         migration marked `-- bascule:no-transaction`"
            .into()
    }
    fn level(&self) -> Level {
        Level::Always
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Sqlite, Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let what = match &cx.statement.ast {
            Statement::StartTransaction { statements, .. } if statements.is_empty() => {
                "starts a transaction inside the one Bascule runs the migration in"
            }
            Statement::Commit { .. } => {
                "commits the migration's transaction half-way: what follows is not all-or-nothing"
            }
            Statement::Rollback {
                savepoint: None, ..
            } => "rolls back the migration's transaction: the statements before it are discarded",
            _ => return Vec::new(),
        };
        vec![Hit::new(format!("`{}` {what}", cx.statement.ast))]
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "transaction-nesting";

    #[test]
    fn fires_on_transaction_control() {
        assert_fires(
            2,
            ID,
            Postgres,
            "BEGIN;\nALTER TABLE members ADD COLUMN a int;\nCOMMIT;",
            &[],
        );
        assert_fires(1, ID, Postgres, "ROLLBACK;", &[]);
        assert_fires(
            2,
            ID,
            Sqlite,
            "BEGIN TRANSACTION;\nCREATE TABLE t (a INT);\nEND;",
            &[],
        );
    }

    #[test]
    fn quiet_on_savepoints_and_on_mysql() {
        for dialect in [Sqlite, Postgres] {
            assert_fires(
                0,
                ID,
                dialect,
                "SAVEPOINT a;\nCREATE TABLE t (a INT);\nROLLBACK TO SAVEPOINT a;",
                &[],
            );
        }
        assert_fires(0, ID, Mysql, "START TRANSACTION;\nCOMMIT;", &[]);
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "BEGIN;\nALTER TABLE members ADD COLUMN a int;\nCOMMIT;",
            &[],
        ));
    }
}

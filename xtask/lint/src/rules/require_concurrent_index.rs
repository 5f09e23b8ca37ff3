//! `require-concurrent-index`: PostgreSQL `CREATE INDEX` without `CONCURRENTLY` on an existing
//! table blocks every write for the whole build. (squawk: `require-concurrent-index-creation`;
//! strong_migrations: `add_index`.) Note: `CONCURRENTLY` cannot run inside a transaction block.

use sqlparser::ast::Statement;

use super::created_here;
use crate::history::table_name;
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct RequireConcurrentIndex;

impl Rule for RequireConcurrentIndex {
    fn id(&self) -> &'static str {
        "require-concurrent-index"
    }
    fn summary(&self) -> &'static str {
        "CREATE INDEX without CONCURRENTLY"
    }
    fn explanation(&self) -> &'static str {
        "A plain CREATE INDEX holds a SHARE lock on the table for the whole build: inserts, \
         updates and deletes wait."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "CREATE INDEX CONCURRENTLY name ON t (col); alone in a migration marked \
         `-- bascule:no-transaction` (it cannot run inside a transaction); if it fails, DROP INDEX CONCURRENTLY the invalid index and retry"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        match &cx.statement.ast {
            Statement::CreateIndex(index)
                if !index.concurrently && !created_here(cx, &table_name(&index.table_name)) =>
            {
                vec![Hit::new(format!(
                    "creating an index on `{}` without CONCURRENTLY blocks writes during the build",
                    table_name(&index.table_name)
                ))]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "require-concurrent-index";

    #[test]
    fn fires_on_plain_create_index() {
        assert_fires(
            1,
            ID,
            Postgres,
            "CREATE INDEX members_name ON members (name);",
            &[],
        );
    }

    #[test]
    fn quiet_when_concurrent_or_new_table() {
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE INDEX CONCURRENTLY members_name ON members (name);",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE TABLE t (a INT);\nCREATE INDEX t_a ON t (a);",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "CREATE INDEX members_name ON members (name);",
            &[],
        ));
    }
}

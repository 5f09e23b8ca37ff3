//! `require-concurrent-index-deletion`: PostgreSQL `DROP INDEX` without `CONCURRENTLY` takes an
//! ACCESS EXCLUSIVE lock on the index's table. (squawk: `require-concurrent-index-deletion`.)
//! sqlparser 0.63 does not parse `DROP INDEX CONCURRENTLY`: the recognizer reads it, and it goes
//! to [`Rule::check_recognized`], which has nothing to say (it is the safe form). Whether it may
//! run in the migration's transaction is `ban-concurrent-index-creation-in-transaction`'s business.

use sqlparser::ast::{ObjectType, Statement};

use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct RequireConcurrentIndexDeletion;

impl Rule for RequireConcurrentIndexDeletion {
    fn id(&self) -> &'static str {
        "require-concurrent-index-deletion"
    }
    fn summary(&self) -> &'static str {
        "DROP INDEX without CONCURRENTLY"
    }
    fn explanation(&self) -> &'static str {
        "A plain DROP INDEX waits for, then holds, an ACCESS EXCLUSIVE lock on the table: \
         every query on it queues behind."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "DROP INDEX CONCURRENTLY name; alone in a migration marked `-- bascule:no-transaction` \
         (it cannot run inside a transaction)"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        match &cx.statement.ast {
            Statement::Drop {
                object_type: ObjectType::Index,
                names,
                ..
            } => names
                .iter()
                .filter(|n| {
                    let name = n.to_string().to_lowercase();
                    !cx.before.iter().any(|p| match &p.ast {
                        Statement::CreateIndex(i) => i
                            .name
                            .as_ref()
                            .is_some_and(|i| i.to_string().to_lowercase() == name),
                        _ => false,
                    })
                })
                .map(|n| {
                    Hit::new(format!(
                        "dropping index `{n}` without CONCURRENTLY locks its table"
                    ))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "require-concurrent-index-deletion";

    #[test]
    fn fires_on_plain_drop_index() {
        assert_fires(1, ID, Postgres, "DROP INDEX members_name;", &[]);
    }

    #[test]
    fn quiet_on_an_index_built_here_or_a_concurrent_drop() {
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE INDEX CONCURRENTLY tmp_idx ON members (name);\nDROP INDEX tmp_idx;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "-- bascule:no-transaction\nDROP INDEX CONCURRENTLY members_name;",
            &[],
        );
        // Read by the recognizer, not skipped: the same statement without CONCURRENTLY fires.
        let report = crate::rules::test_support::lint(
            Postgres,
            bascule_patch::Mode::Online,
            "DROP INDEX CONCURRENTLY IF EXISTS members_name;",
            &[],
        );
        assert_eq!(report.unchecked, 0);
        assert!(!report.rules().contains(&ID));
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "DROP INDEX members_name;",
            &[],
        ));
    }
}

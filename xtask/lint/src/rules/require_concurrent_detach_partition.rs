//! `require-concurrent-detach-partition`: PostgreSQL `ALTER TABLE … DETACH PARTITION` without
//! `CONCURRENTLY` takes an ACCESS EXCLUSIVE lock on the partitioned table: every query on every
//! partition waits. (Neither squawk nor strong_migrations has this check.)
//!
//! sqlparser 0.63 rejects `DETACH PARTITION`; the recognizer reads it and this rule judges it
//! in [`Rule::check_recognized`]. `DETACH PARTITION … CONCURRENTLY` (PostgreSQL 14+) takes only
//! SHARE UPDATE EXCLUSIVE, but cannot run in a transaction: see
//! `ban-concurrent-index-creation-in-transaction` for the `-- bascule:no-transaction` marker.

use crate::{Hit, RecognizedStatement, Rule, RuleContext};
use bascule_patch::Dialect;
use bascule_sql::RecognizedKind;

pub struct RequireConcurrentDetachPartition;

impl Rule for RequireConcurrentDetachPartition {
    fn id(&self) -> &'static str {
        "require-concurrent-detach-partition"
    }
    fn summary(&self) -> &'static str {
        "DETACH PARTITION without CONCURRENTLY (PostgreSQL)"
    }
    fn explanation(&self) -> &'static str {
        "A plain DETACH PARTITION holds ACCESS EXCLUSIVE on the partitioned table: reads and \
         writes of every partition wait until it is done."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "ALTER TABLE t DETACH PARTITION p CONCURRENTLY; (PostgreSQL 14+) alone in a migration \
         marked `-- bascule:no-transaction`; if it is interrupted, finish it with \
         ALTER TABLE t DETACH PARTITION p FINALIZE"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, _cx: &RuleContext<'_>) -> Vec<Hit> {
        Vec::new()
    }
    fn check_recognized(&self, cx: &RuleContext<'_, RecognizedStatement>) -> Vec<Hit> {
        match &cx.statement.recognized.kind {
            RecognizedKind::DetachPartition {
                table,
                partition,
                concurrently: false,
            } if !cx.text().to_uppercase().contains("FINALIZE") => vec![Hit::new(format!(
                "detaching `{partition}` without CONCURRENTLY locks `{table}` and all its partitions"
            ))
            .near(cx.text(), "DETACH")],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "require-concurrent-detach-partition";

    #[test]
    fn fires_on_a_plain_detach() {
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE measurement DETACH PARTITION measurement_2020;",
            &[],
        );
    }

    #[test]
    fn quiet_on_concurrent_or_finalize() {
        assert_fires(
            0,
            ID,
            Postgres,
            "-- bascule:no-transaction\nALTER TABLE measurement DETACH PARTITION measurement_2020 CONCURRENTLY;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE measurement DETACH PARTITION measurement_2020 FINALIZE;",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE measurement DETACH PARTITION measurement_2020;",
            &[],
        ));
    }
}

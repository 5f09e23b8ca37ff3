//! `dropping-table`: dropping a table the previous release may still read.
//!
//! Allowed when an earlier patch carries `-- bascule:phase unused <table>` (the code shipped
//! then no longer uses the table), or when the table was created by the same migration.
//! (squawk: `ban-drop-table`.)

use sqlparser::ast::{ObjectType, Statement};

use super::created_here;
use crate::history::table_name;
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct DroppingTable;

impl Rule for DroppingTable {
    fn id(&self) -> &'static str {
        "dropping-table"
    }
    fn summary(&self) -> &'static str {
        "dropping a table the previous release may still read"
    }
    fn explanation(&self) -> &'static str {
        "The previous version of the code still runs during the deploy and fails on a table that \
         is gone; the data is gone too, and a down script cannot bring it back."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "drop a table in two releases:\n\
         phase 1: ship code that no longer uses the table, and write `-- bascule:phase unused \
         <table>` in that patch\n\
         phase 2 (next release): drop the table"
            .into()
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Statement::Drop {
            object_type: ObjectType::Table,
            names,
            ..
        } = &cx.statement.ast
        else {
            return Vec::new();
        };
        names
            .iter()
            .map(table_name)
            .filter(|t| !cx.history.table_retired(t) && !created_here(cx, t))
            .map(|t| {
                Hit::new(format!(
                    "dropping table `{t}`, which the previous release may still read (no earlier \
                     patch marked it unused)"
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "dropping-table";

    #[test]
    fn fires_on_a_one_shot_drop() {
        for d in [Sqlite, Mysql, Postgres] {
            assert_fires(1, ID, d, "DROP TABLE IF EXISTS features;", &[]);
        }
    }

    #[test]
    fn quiet_after_phase_one_or_for_a_scratch_table() {
        for d in [Sqlite, Mysql, Postgres] {
            assert_fires(
                0,
                ID,
                d,
                "DROP TABLE features;",
                &["-- bascule:phase unused features\nSELECT 1;"],
            );
            assert_fires(0, ID, d, "CREATE TABLE tmp (a INT);\nDROP TABLE tmp;", &[]);
        }
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Sqlite,
            "DROP TABLE IF EXISTS features;",
            &[],
        ));
    }
}

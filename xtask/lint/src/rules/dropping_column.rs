//! `dropping-column`: dropping a column the previous release may still read.
//!
//! Allowed when an earlier patch made the column nullable (`ALTER COLUMN … DROP NOT NULL`,
//! MySQL `MODIFY`/`CHANGE` without `NOT NULL`) or carries
//! `-- bascule:phase unused <table>.<column>`: that is the seed's phase 1 (the code shipped then no longer uses it).
//! (squawk: `ban-drop-column`; strong_migrations: `remove_column`.)

use sqlparser::ast::AlterTableOperation;

use super::{alter_table, created_here};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct DroppingColumn;

pub const RECIPE: &str = "drop a column in two releases:\n\
phase 1: make it nullable (ALTER COLUMN … DROP NOT NULL / MODIFY … NULL) and ship code that no \
longer reads nor writes it (or write `-- bascule:phase unused <table>.<column>` in that patch)\n\
phase 2 (next release): drop the column";

impl Rule for DroppingColumn {
    fn id(&self) -> &'static str {
        "dropping-column"
    }
    fn summary(&self) -> &'static str {
        "dropping a column the previous release may still read"
    }
    fn explanation(&self) -> &'static str {
        "During a rolling deploy the previous version of the code still runs; its queries name \
         the column and fail as soon as it is gone."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        RECIPE.into()
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Some((table, ops)) = alter_table(cx) else {
            return Vec::new();
        };
        if created_here(cx, &table) {
            return Vec::new();
        }
        ops.iter()
            .filter_map(|op| match op {
                AlterTableOperation::DropColumn { column_names, .. } => Some(column_names),
                _ => None,
            })
            .flatten()
            .filter(|c| !cx.history.column_retired(&table, &c.value))
            .map(|c| {
                Hit::new(format!(
                    "dropping column `{}` of `{table}`, which the previous release may still \
                     read (no earlier patch made it nullable or unused)",
                    c.value
                ))
                .near(cx.text(), "DROP")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "dropping-column";

    #[test]
    fn fires_on_a_one_shot_drop() {
        for d in [Sqlite, Mysql, Postgres] {
            assert_fires(1, ID, d, "ALTER TABLE members DROP COLUMN avatar;", &[]);
        }
    }

    #[test]
    fn quiet_after_phase_one() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members DROP COLUMN avatar;",
            &["ALTER TABLE members ALTER COLUMN avatar DROP NOT NULL;"],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members DROP COLUMN avatar;",
            &["ALTER TABLE members MODIFY avatar VARCHAR(100) NULL;"],
        );
        assert_fires(
            0,
            ID,
            Sqlite,
            "ALTER TABLE members DROP COLUMN avatar;",
            &["-- bascule:phase unused members.avatar\nSELECT 1;"],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Sqlite,
            "ALTER TABLE members DROP COLUMN avatar;",
            &[],
        ));
    }
}

//! `setting-not-null`: making an existing column NOT NULL before the running code writes it.
//!
//! What counts as the backfill phase: an **earlier patch** (a previous release) added the column
//! or ran an `UPDATE … SET <column> = …`. Then the code now running fills the column for new rows,
//! and this patch only has to backfill the stragglers before `SET NOT NULL`. A backfill in the
//! same migration is not enough: the old code keeps inserting NULLs between the backfill and the
//! deploy of the new code. (squawk: `adding-not-nullable-field`; strong_migrations:
//! `change_column_null`.)

use sqlparser::ast::{AlterColumnOperation, AlterTableOperation, ColumnOption};

use super::{alter_table, created_here};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct SettingNotNull;

impl Rule for SettingNotNull {
    fn id(&self) -> &'static str {
        "setting-not-null"
    }
    fn summary(&self) -> &'static str {
        "setting NOT NULL on a column the running code may leave NULL"
    }
    fn explanation(&self) -> &'static str {
        "Unless a previous release already writes the column for every new row, the code still \
         running during the deploy inserts NULLs, which fail once the column is NOT NULL. On \
         PostgreSQL, SET NOT NULL also scans the whole table under an ACCESS EXCLUSIVE lock."
    }
    fn recipe(&self, dialect: Dialect) -> String {
        let mut recipe = super::adding_not_nullable_column::RECIPE.to_string();
        if dialect == Dialect::Postgres {
            recipe.push_str(
                "\non a large table: ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; \
                 VALIDATE CONSTRAINT c; then SET NOT NULL uses it without a scan (PostgreSQL 12+)",
            );
        }
        recipe
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Some((table, ops)) = alter_table(cx) else {
            return Vec::new();
        };
        if created_here(cx, &table) {
            return Vec::new();
        }
        let mut hits = Vec::new();
        for op in ops {
            let column = match op {
                AlterTableOperation::AlterColumn {
                    column_name,
                    op: AlterColumnOperation::SetNotNull,
                } => column_name,
                AlterTableOperation::ModifyColumn {
                    col_name, options, ..
                }
                | AlterTableOperation::ChangeColumn {
                    new_name: col_name,
                    options,
                    ..
                } if options.iter().any(|o| matches!(o, ColumnOption::NotNull))
                    && cx.history.nullable(&table, &col_name.value) == Some(true) =>
                {
                    col_name
                }
                _ => continue,
            };
            if cx.history.written(&table, &column.value) {
                continue;
            }
            hits.push(
                Hit::new(format!(
                    "`{table}.{}` becomes NOT NULL, but no earlier release writes it (phase 1 \
                     has not shipped)",
                    column.value
                ))
                .near(cx.text(), &column.value),
            );
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "setting-not-null";

    #[test]
    fn fires_without_an_earlier_phase() {
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN avatar SET NOT NULL;",
            &[],
        );
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY avatar VARCHAR(100) NOT NULL;",
            &["CREATE TABLE members (id INT, avatar VARCHAR(100));"],
        );
        // Backfilled in the same migration: the old code still inserts NULLs meanwhile.
        assert_fires(
            1,
            ID,
            Postgres,
            "UPDATE members SET avatar = 'x' WHERE avatar IS NULL;\n\
             ALTER TABLE members ALTER COLUMN avatar SET NOT NULL;",
            &[],
        );
    }

    #[test]
    fn quiet_when_an_earlier_release_writes_the_column() {
        let earlier = ["ALTER TABLE members ADD COLUMN avatar VARCHAR(100);"];
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN avatar SET NOT NULL;",
            &earlier,
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY avatar VARCHAR(100) NOT NULL;",
            &earlier,
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN avatar SET NOT NULL;",
            &["UPDATE members SET avatar = 'x' WHERE avatar IS NULL;"],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN avatar SET NOT NULL;",
            &[],
        ));
    }
}

//! `setting-not-null`: making an existing column NOT NULL before the running code writes it.
//!
//! What counts as the backfill phase: an **earlier patch** (a previous release) added the column
//! or ran an `UPDATE … SET <column> = …`. Then the code now running fills the column for new rows,
//! and this patch only has to backfill the stragglers before `SET NOT NULL`. A backfill in the
//! same migration is not enough: the old code keeps inserting NULLs between the backfill and the
//! deploy of the new code. (squawk: `adding-not-nullable-field`; strong_migrations:
//! `change_column_null`.)

use sqlparser::ast::{AlterColumnOperation, AlterTableOperation, ColumnOption};

use super::mysql_online_ddl::known_definitions;
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
        // What earlier patches and the statements before this one declared: a column added
        // nullable earlier in this migration and made NOT NULL here is a tightening too.
        let known = known_definitions(cx.history, cx.before);
        let mut hits = Vec::new();
        for op in ops {
            let column = match op {
                AlterTableOperation::AlterColumn {
                    column_name,
                    op: AlterColumnOperation::SetNotNull,
                } => column_name,
                AlterTableOperation::ModifyColumn {
                    col_name: old_name,
                    options,
                    ..
                }
                | AlterTableOperation::ChangeColumn {
                    old_name, options, ..
                } if options.iter().any(|o| matches!(o, ColumnOption::NotNull)) => {
                    match known.nullable(&table, &old_name.value) {
                        Some(true) => old_name,
                        Some(false) => continue,
                        None => {
                            hits.push(
                                Hit::new(cannot_tell(&table, &old_name.value))
                                    .near(cx.text(), &old_name.value),
                            );
                            continue;
                        }
                    }
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

/// The message for a MySQL `MODIFY`/`CHANGE … NOT NULL` of a column no earlier patch or
/// statement declared: it restates the whole column, so it may tighten nullability or not.
fn cannot_tell(table: &str, column: &str) -> String {
    format!(
        "cannot tell whether this tightens `{table}.{column}` to NOT NULL: the old definition \
         is not in an earlier patch. Check SHOW CREATE TABLE {table}: if the column is already \
         NOT NULL, say so with `-- bascule:allow setting-not-null <reason>`; if it is nullable, \
         the running code must already write it for every row and the NULLs be backfilled first"
    )
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
    fn mysql_modify_not_null_on_an_unknown_or_just_added_column() {
        // No earlier patch declares `avatar`: the restated column may or may not tighten it.
        let found = crate::rules::test_support::hits(
            ID,
            Mysql,
            "ALTER TABLE members MODIFY avatar VARCHAR(100) NOT NULL;",
            &[],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0]
            .message
            .starts_with("cannot tell whether this tightens"));
        // Added nullable by this migration, then made NOT NULL: the old code inserts NULLs.
        let found = crate::rules::test_support::hits(
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN avatar VARCHAR(100);\n\
             ALTER TABLE members MODIFY avatar VARCHAR(100) NOT NULL;",
            &[],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("no earlier release writes it"),
            "{found:?}"
        );
        // Already NOT NULL in an earlier patch: a restatement.
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY avatar VARCHAR(200) NOT NULL;",
            &["CREATE TABLE members (id INT, avatar VARCHAR(100) NOT NULL);"],
        );
        // Not NOT NULL: not this rule's business.
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY avatar VARCHAR(100) NULL;",
            &[],
        );
    }

    #[test]
    fn the_mysql_report_when_the_old_definition_is_unknown() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Mysql,
            "ALTER TABLE members MODIFY avatar VARCHAR(100) NOT NULL;",
            &[],
        ));
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

//! `adding-not-nullable-column`: `ADD COLUMN … NOT NULL` without a default.
//!
//! The code still running during a rolling deploy does not know the column, so its inserts omit
//! it and fail. (squawk: `adding-required-field`; the second seed's avatar, phase 1 and 2.)

use sqlparser::ast::AlterTableOperation;

use super::{alter_table, created_here, default_of, is_not_null};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct AddingNotNullableColumn;

pub const RECIPE: &str = "add the column in two releases:\n\
phase 1: add it nullable (or with a DEFAULT); the new code writes it for every new row\n\
phase 2 (next release): backfill the rows still NULL (UPDATE … SET col = … WHERE col IS NULL), then make it NOT NULL";

impl Rule for AddingNotNullableColumn {
    fn id(&self) -> &'static str {
        "adding-not-nullable-column"
    }
    fn summary(&self) -> &'static str {
        "adding a NOT NULL column without a default"
    }
    fn explanation(&self) -> &'static str {
        "The previous version of the code, still serving during the deploy, inserts rows without \
         the new column: with NOT NULL and no default, every such insert fails."
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
                AlterTableOperation::AddColumn { column_def, .. }
                    if is_not_null(column_def) && default_of(column_def).is_none() =>
                {
                    Some(
                        Hit::new(format!(
                            "adding column `{}` to `{table}` as NOT NULL without a default breaks \
                             the inserts of the code still running",
                            column_def.name.value
                        ))
                        .near(cx.text(), &column_def.name.value),
                    )
                }
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "adding-not-nullable-column";

    #[test]
    fn fires_on_not_null_without_default() {
        for d in [Sqlite, Mysql, Postgres] {
            assert_fires(
                1,
                ID,
                d,
                "ALTER TABLE members ADD COLUMN avatar TEXT NOT NULL;",
                &[],
            );
        }
    }

    #[test]
    fn quiet_with_default_nullable_or_new_table() {
        for d in [Sqlite, Mysql, Postgres] {
            assert_fires(
                0,
                ID,
                d,
                "ALTER TABLE members ADD COLUMN avatar TEXT NOT NULL DEFAULT 'x';",
                &[],
            );
            assert_fires(0, ID, d, "ALTER TABLE members ADD COLUMN avatar TEXT;", &[]);
            assert_fires(
                0,
                ID,
                d,
                "CREATE TABLE t (id INT);\nALTER TABLE t ADD COLUMN avatar TEXT NOT NULL;",
                &[],
            );
        }
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Sqlite,
            "ALTER TABLE members ADD COLUMN avatar TEXT NOT NULL;",
            &[],
        ));
    }
}

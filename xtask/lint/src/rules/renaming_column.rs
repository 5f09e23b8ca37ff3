//! `renaming-column`: renaming a column in place (also MySQL `CHANGE old new …`).
//!
//! There is no safe one-release rename: the previous code names the old column. The recipe is
//! the seed's four phases. (squawk: `renaming-column`; strong_migrations: `rename_column`.)

use sqlparser::ast::AlterTableOperation;

use super::{alter_table, created_here};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct RenamingColumn;

/// The seed's four phases for a rename or a type change.
pub const EXPAND_CONTRACT: &str = "rename or retype a column in four releases:\n\
phase 1: add the new column (nullable); the new code writes both columns\n\
phase 2: backfill the new column from the old one and make it NOT NULL; the code reads the new \
column only, still writes both\n\
phase 3: make the old column nullable; the code stops writing it\n\
phase 4: drop the old column";

impl Rule for RenamingColumn {
    fn id(&self) -> &'static str {
        "renaming-column"
    }
    fn summary(&self) -> &'static str {
        "renaming a column"
    }
    fn explanation(&self) -> &'static str {
        "The previous version of the code, still serving during the deploy, reads and writes the \
         old name and fails until every instance is replaced."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        EXPAND_CONTRACT.into()
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
                AlterTableOperation::RenameColumn {
                    old_column_name: old,
                    new_column_name: new,
                }
                | AlterTableOperation::ChangeColumn {
                    old_name: old,
                    new_name: new,
                    ..
                } if old.value.to_lowercase() != new.value.to_lowercase() => Some(
                    Hit::new(format!(
                        "renaming `{table}.{}` to `{}` breaks the code still using the old name",
                        old.value, new.value
                    ))
                    .near(cx.text(), &old.value),
                ),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "renaming-column";

    #[test]
    fn fires_on_renames() {
        for d in [Sqlite, Mysql, Postgres] {
            assert_fires(
                1,
                ID,
                d,
                "ALTER TABLE members RENAME COLUMN avatar TO avatar_url;",
                &[],
            );
        }
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members CHANGE avatar avatar_url VARCHAR(1000);",
            &[],
        );
    }

    #[test]
    fn quiet_on_change_without_rename_and_new_tables() {
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members CHANGE avatar avatar VARCHAR(100) NULL;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE TABLE t (a INT);\nALTER TABLE t RENAME COLUMN a TO b;",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Sqlite,
            "ALTER TABLE members RENAME COLUMN avatar TO avatar_url;",
            &[],
        ));
    }
}

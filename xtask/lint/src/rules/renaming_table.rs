//! `renaming-table`: `ALTER TABLE … RENAME TO` and MySQL `RENAME TABLE`.
//! (squawk: `renaming-table`; strong_migrations: `rename_table`.)

use sqlparser::ast::{AlterTableOperation, Statement};

use super::created_here;
use crate::history::table_name;
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct RenamingTable;

impl Rule for RenamingTable {
    fn id(&self) -> &'static str {
        "renaming-table"
    }
    fn summary(&self) -> &'static str {
        "renaming a table"
    }
    fn explanation(&self) -> &'static str {
        "The previous version of the code, still serving during the deploy, queries the old name \
         and fails."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "rename a table across releases:\n\
         phase 1: create the new table (or a view under the new name); the new code writes both\n\
         phase 2: backfill it; the code reads the new table only\n\
         phase 3: the code stops writing the old table, marked `-- bascule:phase unused <old>`\n\
         phase 4: drop the old table"
            .into()
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let renames: Vec<String> = match &cx.statement.ast {
            Statement::AlterTable(alter) => alter
                .operations
                .iter()
                .filter(|op| matches!(op, AlterTableOperation::RenameTable { .. }))
                .map(|_| table_name(&alter.name))
                .collect(),
            Statement::RenameTable(renames) => {
                renames.iter().map(|r| table_name(&r.old_name)).collect()
            }
            _ => Vec::new(),
        };
        renames
            .into_iter()
            .filter(|t| !created_here(cx, t))
            .map(|t| {
                Hit::new(format!(
                    "renaming table `{t}` breaks the code still using the old name"
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "renaming-table";

    #[test]
    fn fires_on_renames() {
        for d in [Sqlite, Mysql, Postgres] {
            assert_fires(1, ID, d, "ALTER TABLE members RENAME TO people;", &[]);
        }
        assert_fires(1, ID, Mysql, "RENAME TABLE members TO people;", &[]);
    }

    #[test]
    fn quiet_on_a_table_created_here() {
        for d in [Sqlite, Mysql, Postgres] {
            assert_fires(
                0,
                ID,
                d,
                "CREATE TABLE t (a INT);\nALTER TABLE t RENAME TO u;",
                &[],
            );
        }
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Sqlite,
            "ALTER TABLE members RENAME TO people;",
            &[],
        ));
    }
}

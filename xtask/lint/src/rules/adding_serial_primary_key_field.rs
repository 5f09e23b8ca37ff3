//! `adding-serial-primary-key-field`: adding a primary key to an existing PostgreSQL table
//! (`ADD PRIMARY KEY (…)`, or a new `serial … PRIMARY KEY` column) rewrites or indexes the table
//! under an ACCESS EXCLUSIVE lock. Allowed: `ADD CONSTRAINT … PRIMARY KEY USING INDEX` on an
//! index built `CONCURRENTLY`. (squawk: `adding-serial-primary-key-field`,
//! `adding-primary-key-constraint`.) MySQL's equivalent is `mysql-table-copy`.

use sqlparser::ast::{AlterTableOperation, ColumnOption, TableConstraint};

use super::{alter_table, created_here};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct AddingSerialPrimaryKeyField;

impl Rule for AddingSerialPrimaryKeyField {
    fn id(&self) -> &'static str {
        "adding-serial-primary-key-field"
    }
    fn summary(&self) -> &'static str {
        "adding a primary key to an existing table under lock"
    }
    fn explanation(&self) -> &'static str {
        "The primary key's index is built (and a serial column filled, rewriting the table) \
         while an ACCESS EXCLUSIVE lock blocks every query."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "CREATE UNIQUE INDEX CONCURRENTLY t_pkey_idx ON t (id);\n\
         ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_pkey_idx;"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Some((table, ops)) = alter_table(cx) else {
            return Vec::new();
        };
        if created_here(cx, &table) {
            return Vec::new();
        }
        let adds = ops.iter().any(|op| match op {
            AlterTableOperation::AddConstraint {
                constraint: TableConstraint::PrimaryKey(_),
                ..
            } => true,
            AlterTableOperation::AddColumn { column_def, .. } => column_def
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_))),
            _ => false,
        });
        if adds {
            vec![Hit::new(format!(
                "adding a primary key to `{table}` builds its index under an ACCESS EXCLUSIVE lock"
            ))
            .near(cx.text(), "PRIMARY")]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "adding-serial-primary-key-field";

    #[test]
    fn fires_on_primary_keys_added_in_place() {
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD PRIMARY KEY (id);",
            &[],
        );
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN id serial PRIMARY KEY;",
            &[],
        );
    }

    #[test]
    fn quiet_using_an_index() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ADD CONSTRAINT members_pkey PRIMARY KEY USING INDEX members_id_idx;",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ADD PRIMARY KEY (id);",
            &[],
        ));
    }
}

//! `adding-unique-constraint`: `ADD CONSTRAINT … UNIQUE` (or `ADD UNIQUE`) on an existing
//! PostgreSQL table builds its index under an ACCESS EXCLUSIVE lock, blocking reads and writes.
//! Allowed: `ADD CONSTRAINT … UNIQUE USING INDEX` on an index built `CONCURRENTLY`.
//! (squawk: `disallowed-unique-constraint`; strong_migrations: `add_unique_constraint`.)

use sqlparser::ast::{AlterTableOperation, ColumnOption, TableConstraint};

use super::{alter_table, created_here};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct AddingUniqueConstraint;

impl Rule for AddingUniqueConstraint {
    fn id(&self) -> &'static str {
        "adding-unique-constraint"
    }
    fn summary(&self) -> &'static str {
        "adding a unique constraint that builds its index under lock"
    }
    fn explanation(&self) -> &'static str {
        "PostgreSQL builds the constraint's index while holding ACCESS EXCLUSIVE on the table: \
         every read and write waits for the whole build."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "build the index first, then attach it:\n\
         CREATE UNIQUE INDEX CONCURRENTLY t_col_key ON t (col);\n\
         ALTER TABLE t ADD CONSTRAINT t_col_key UNIQUE USING INDEX t_col_key;"
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
        let unique = ops.iter().any(|op| match op {
            AlterTableOperation::AddConstraint { constraint, .. } => {
                matches!(constraint, TableConstraint::Unique(_))
            }
            AlterTableOperation::AddColumn { column_def, .. } => column_def
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::Unique(_))),
            _ => false,
        });
        if unique {
            vec![Hit::new(format!(
                "adding a unique constraint to `{table}` builds its index under an ACCESS \
                 EXCLUSIVE lock"
            ))
            .near(cx.text(), "UNIQUE")]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "adding-unique-constraint";

    #[test]
    fn fires_on_inline_unique() {
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD CONSTRAINT members_email_key UNIQUE (email);",
            &[],
        );
    }

    #[test]
    fn quiet_using_an_index() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ADD CONSTRAINT members_email_key UNIQUE USING INDEX members_email_idx;",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ADD CONSTRAINT members_email_key UNIQUE (email);",
            &[],
        ));
    }
}

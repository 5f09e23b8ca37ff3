//! `adding-foreign-key`: a foreign key added to an existing table validates every row in place.
//!
//! PostgreSQL: without `NOT VALID` the check scans the table while holding a SHARE ROW
//! EXCLUSIVE lock on both tables (writes blocked); `NOT VALID`, then `VALIDATE CONSTRAINT` in a
//! later statement, takes only a light lock for the scan. MySQL: with `foreign_key_checks` on,
//! `ADD FOREIGN KEY` copies the table. (squawk: `adding-foreign-key-constraint`,
//! `constraint-missing-not-valid`; strong_migrations: `add_foreign_key`.)

use sqlparser::ast::{AlterTableOperation, ColumnOption, TableConstraint};

use super::{alter_table, created_here};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct AddingForeignKey;

impl Rule for AddingForeignKey {
    fn id(&self) -> &'static str {
        "adding-foreign-key"
    }
    fn summary(&self) -> &'static str {
        "adding a foreign key that validates the table in place"
    }
    fn explanation(&self) -> &'static str {
        "Validating a new foreign key reads every row while writes to both tables wait \
         (PostgreSQL), or copies the whole table (MySQL)."
    }
    fn recipe(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Mysql => "add the key without the copy: SET foreign_key_checks = 0 around \
                 ALTER TABLE … ADD FOREIGN KEY …, ALGORITHM=INPLACE, LOCK=NONE (then check the \
                 data with a query), or use an online schema change tool (gh-ost, pt-osc)"
                .into(),
            _ => "add it without validation, then validate without blocking writes:\n\
                 ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (c) REFERENCES p (id) NOT VALID;\n\
                 ALTER TABLE t VALIDATE CONSTRAINT t_fk;  (a separate statement or migration)"
                .into(),
        }
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql, Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Some((table, ops)) = alter_table(cx) else {
            return Vec::new();
        };
        if created_here(cx, &table) {
            return Vec::new();
        }
        let fk = ops.iter().any(|op| match op {
            AlterTableOperation::AddConstraint {
                constraint: TableConstraint::ForeignKey(_),
                not_valid,
            } => !not_valid || cx.dialect == Dialect::Mysql,
            AlterTableOperation::AddColumn { column_def, .. } => column_def
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::ForeignKey(_))),
            _ => false,
        });
        if fk {
            vec![Hit::new(format!(
                "adding a foreign key to `{table}` validates every row in place"
            ))
            .near(cx.text(), "REFERENCES")]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "adding-foreign-key";

    #[test]
    fn fires_on_validating_keys() {
        let sql = "ALTER TABLE members ADD CONSTRAINT members_site_fk FOREIGN KEY (site_id) REFERENCES sites (id);";
        assert_fires(1, ID, Postgres, sql, &[]);
        assert_fires(1, ID, Mysql, sql, &[]);
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN site_id INT REFERENCES sites (id);",
            &[],
        );
    }

    #[test]
    fn quiet_with_not_valid_or_new_table() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ADD CONSTRAINT members_site_fk FOREIGN KEY (site_id) REFERENCES sites (id) NOT VALID;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "CREATE TABLE t (a INT, site_id INT);\nALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (site_id) REFERENCES sites (id);",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN site_id INT REFERENCES sites (id);",
            &[],
        ));
    }
}

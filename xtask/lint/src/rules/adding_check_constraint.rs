//! `adding-check-constraint`: `ADD CONSTRAINT … CHECK` on an existing table that validates every
//! row while holding the table. (squawk: `constraint-missing-not-valid`; strong_migrations:
//! `add_check_constraint`.)
//!
//! PostgreSQL scans the whole table under an ACCESS EXCLUSIVE lock unless the constraint is added
//! `NOT VALID` (then `VALIDATE CONSTRAINT` checks the old rows under a lock that lets reads and
//! writes through). MySQL and MariaDB have no `NOT VALID`: adding a CHECK copies the table
//! (ALGORITHM=COPY) to check each row. SQLite cannot add a constraint to an existing table.

use sqlparser::ast::{AlterTableOperation, TableConstraint};

use super::{alter_table, created_here};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct AddingCheckConstraint;

impl Rule for AddingCheckConstraint {
    fn id(&self) -> &'static str {
        "adding-check-constraint"
    }
    fn summary(&self) -> &'static str {
        "adding a CHECK constraint that validates every row under lock"
    }
    fn explanation(&self) -> &'static str {
        "Adding a CHECK constraint checks every existing row while the table is locked \
         (PostgreSQL: ACCESS EXCLUSIVE for the whole scan; MySQL: a table copy)."
    }
    fn recipe(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Mysql => "MySQL cannot add a CHECK without checking every row in a copy: \
                 check the rule in the application first, then add the constraint with an online \
                 schema change tool (gh-ost, pt-online-schema-change), or in a downtime patch"
                .into(),
            _ => "add it without validation, then validate without blocking writes:\n\
                 ALTER TABLE t ADD CONSTRAINT t_c CHECK (…) NOT VALID;\n\
                 ALTER TABLE t VALIDATE CONSTRAINT t_c;  (a separate statement or migration)"
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
        ops.iter()
            .filter(|op| {
                matches!(op, AlterTableOperation::AddConstraint {
                    constraint: TableConstraint::Check(_),
                    not_valid,
                } if !not_valid || cx.dialect == Dialect::Mysql)
            })
            .map(|_| {
                Hit::new(format!(
                    "adding a CHECK constraint to `{table}` checks every row under lock"
                ))
                .near(cx.text(), "CHECK")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "adding-check-constraint";

    #[test]
    fn fires_on_validating_checks() {
        let sql = "ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0);";
        assert_fires(1, ID, Postgres, sql, &[]);
        assert_fires(1, ID, Mysql, sql, &[]);
    }

    #[test]
    fn quiet_not_valid_or_on_new_tables() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0) NOT VALID;\n\
             ALTER TABLE orders VALIDATE CONSTRAINT orders_total;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "CREATE TABLE orders (total INT);\n\
             ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0);",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0);",
            &[],
        ));
    }
}

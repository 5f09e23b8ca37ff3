//! `mysql-table-copy`: MySQL/MariaDB `ALTER TABLE` operations that rebuild the table by copying
//! it (writes blocked for the whole copy): a column placed with `AFTER`/`FIRST` (before 8.0's
//! INSTANT), `ADD`/`DROP PRIMARY KEY`, `CONVERT TO CHARACTER SET`, a type change (see also
//! `changing-column-type`), `ALGORITHM=COPY`. Asking for `ALGORITHM=INPLACE` or `INSTANT` makes
//! the server refuse instead of copy, so such a statement does not fire.
//! (strong_migrations has no MySQL equivalent; this is what gh-ost and pt-osc exist for.)

use sqlparser::ast::{AlterTableAlgorithm, AlterTableOperation, TableConstraint};

use super::{alter_table, created_here, mysql_algorithm};
use crate::lint::{Context, Hit, Rule};
use crate::patch::Dialect;

pub struct MysqlTableCopy;

impl Rule for MysqlTableCopy {
    fn id(&self) -> &'static str {
        "mysql-table-copy"
    }
    fn summary(&self) -> &'static str {
        "MySQL ALTER TABLE that copies the table"
    }
    fn explanation(&self) -> &'static str {
        "With ALGORITHM=COPY, MySQL builds a new table and copies every row while writes wait; \
         on a large table that is minutes to hours of downtime."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "add `, ALGORITHM=INPLACE, LOCK=NONE` (or `ALGORITHM=INSTANT`): the server then refuses \
         rather than copies; if it refuses, run the change with an online schema change tool \
         (gh-ost, pt-online-schema-change), or add columns at the end without AFTER/FIRST"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql]
    }
    fn check(&self, cx: &Context<'_>) -> Vec<Hit> {
        let Some((table, ops)) = alter_table(cx) else {
            return Vec::new();
        };
        if created_here(cx, &table) {
            return Vec::new();
        }
        match mysql_algorithm(ops) {
            Some(AlterTableAlgorithm::Inplace | AlterTableAlgorithm::Instant) => return Vec::new(),
            Some(AlterTableAlgorithm::Copy) => {
                return vec![Hit::new(format!("ALGORITHM=COPY copies `{table}`"))
                    .near(cx.text(), "ALGORITHM")]
            }
            _ => {}
        }
        ops.iter()
            .filter_map(|op| copying(op).map(|why| (op, why)))
            .map(|(_, why)| Hit::new(format!("{why} copies `{table}` while writes wait")))
            .collect()
    }
}

/// Why an operation copies the table, if it does.
fn copying(op: &AlterTableOperation) -> Option<&'static str> {
    match op {
        AlterTableOperation::AddColumn {
            column_position: Some(_),
            ..
        } => Some("placing a new column with AFTER/FIRST"),
        AlterTableOperation::AddConstraint {
            constraint: TableConstraint::PrimaryKey(_),
            ..
        } => Some("adding a primary key"),
        AlterTableOperation::DropPrimaryKey { .. } => Some("dropping the primary key"),
        AlterTableOperation::ModifyColumn {
            column_position: Some(_),
            ..
        }
        | AlterTableOperation::ChangeColumn {
            column_position: Some(_),
            ..
        } => Some("moving a column with AFTER/FIRST"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::assert_fires;
    use crate::patch::Dialect::*;

    const ID: &str = "mysql-table-copy";

    #[test]
    fn fires_on_copying_alters() {
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN avatar VARCHAR(100) AFTER name;",
            &[],
        );
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members ADD PRIMARY KEY (id);",
            &[],
        );
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN a INT, ALGORITHM=COPY;",
            &[],
        );
    }

    #[test]
    fn quiet_inplace_or_at_the_end() {
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN avatar VARCHAR(100);",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN avatar VARCHAR(100) AFTER name, ALGORITHM=INSTANT;",
            &[],
        );
    }
}

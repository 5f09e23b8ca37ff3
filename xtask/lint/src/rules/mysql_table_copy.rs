//! `mysql-table-copy`: MySQL/MariaDB `ALTER TABLE` operations that rebuild the table by copying
//! it (writes blocked for the whole copy): a column placed with `AFTER`/`FIRST` (before 8.0's
//! INSTANT), `ADD`/`DROP PRIMARY KEY`, `CONVERT TO CHARACTER SET`, a type change (see also
//! `changing-column-type`), `ALGORITHM=COPY`. Asking for `ALGORITHM=INPLACE` or `INSTANT` makes
//! the server refuse instead of copy, so such a statement does not fire.
//! (strong_migrations has no MySQL equivalent; this is what gh-ost and pt-osc exist for.)
//!
//! sqlparser 0.63 rejects `CONVERT TO CHARACTER SET` and `ENGINE=`; the recognizer reads those
//! `ALTER TABLE`s ([`bascule_sql::AlterAction`]) and [`Rule::check_recognized`] judges them, with
//! the clauses sqlparser did parse beside them.

use sqlparser::ast::{AlterTableAlgorithm, AlterTableOperation, TableConstraint};

use super::{alter_table, created_here, created_here_named, mysql_algorithm};
use crate::{Hit, RecognizedStatement, Rule, RuleContext};
use bascule_patch::Dialect;
use bascule_sql::{AlterAction, RecognizedKind};

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
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
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
    fn check_recognized(&self, cx: &RuleContext<'_, RecognizedStatement>) -> Vec<Hit> {
        let RecognizedKind::AlterTable { table, actions } = &cx.statement.recognized.kind else {
            return Vec::new();
        };
        if created_here_named(cx.before, table) {
            return Vec::new();
        }
        let parsed: Vec<AlterTableOperation> = actions
            .iter()
            .filter_map(|a| match a {
                AlterAction::Parsed(op) => Some((**op).clone()),
                _ => None,
            })
            .collect();
        match mysql_algorithm(&parsed) {
            Some(AlterTableAlgorithm::Inplace | AlterTableAlgorithm::Instant) => return Vec::new(),
            Some(AlterTableAlgorithm::Copy) => {
                return vec![Hit::new(format!("ALGORITHM=COPY copies `{table}`"))
                    .near(cx.text(), "ALGORITHM")]
            }
            _ => {}
        }
        let mut hits = Vec::new();
        for action in actions {
            let (why, near) = match action {
                AlterAction::ConvertCharset { charset, .. } => (
                    format!("CONVERT TO CHARACTER SET {charset} rewrites every text column and"),
                    "CONVERT",
                ),
                AlterAction::Engine(engine) => {
                    (format!("ENGINE={engine} rebuilds the table and"), "ENGINE")
                }
                AlterAction::Parsed(op) => match copying(op) {
                    Some(why) => (why.to_string(), ""),
                    None => continue,
                },
                _ => continue,
            };
            hits.push(
                Hit::new(format!("{why} copies `{table}` while writes wait")).near(cx.text(), near),
            );
        }
        hits
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
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

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
    fn fires_on_recognized_charset_and_engine_changes() {
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
            &[],
        );
        assert_fires(1, ID, Mysql, "ALTER TABLE members ENGINE=InnoDB;", &[]);
        // Both clauses of one statement copy: one hit each.
        assert_fires(
            2,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN nick VARCHAR(50) FIRST, ENGINE = InnoDB;",
            &[],
        );
    }

    #[test]
    fn quiet_on_recognized_alters_that_do_not_copy() {
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members RENAME INDEX m_mail TO members_email;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members ENGINE=InnoDB, ALGORITHM=INPLACE;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "CREATE TABLE badges (id BIGINT PRIMARY KEY);
ALTER TABLE badges ENGINE=InnoDB;",
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

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN avatar VARCHAR(100) AFTER name;",
            &[],
        ));
    }
}

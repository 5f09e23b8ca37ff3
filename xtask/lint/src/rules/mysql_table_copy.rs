//! `mysql-table-copy`: a MySQL/MariaDB statement that copies an existing table — builds a new
//! one and copies every row while writes wait (`ALGORITHM=COPY`).
//!
//! The rule has no list of its own: it asks [`mysql_online_ddl`](super::mysql_online_ddl), the
//! online DDL tables of the MySQL 8.0 manual (§15.12.1 "Online DDL Operations") and MariaDB's
//! "InnoDB Online DDL Operations" pages, which algorithm each operation of the statement allows
//! on the class's server (`[classes.<name>] server`; MySQL 8.0 and MariaDB both when it is not
//! named), and reports every operation whose best is `COPY`: dropping a primary key, a
//! primary key on columns not known to be NOT NULL (MySQL), a stored generated column,
//! `CONVERT TO CHARACTER SET`, a `VARCHAR` widened past 255 bytes (InnoDB's length prefix grows
//! from one byte to two: characters × bytes per character of the charset, utf8mb4's 4 when the
//! statement names none), another storage engine, `PARTITION BY`, `REMOVE PARTITIONING`,
//! `OPTIMIZE PARTITION`, `ORDER BY` (never in place), file-per-table encryption (MySQL). A table
//! rebuild the manuals do in place with DML except for a table with a FULLTEXT index
//! (`ENGINE=InnoDB`, `FORCE`, `OPTIMIZE TABLE`, which is InnoDB's `FORCE`) is reported too, since
//! the linter cannot tell whether the table has one; for `OPTIMIZE TABLE` the message gives the
//! `ALTER TABLE … FORCE, ALGORITHM=INPLACE, LOCK=NONE` that does the same rebuild or is refused.
//! An explicit `ALGORITHM=COPY` always fires. Type changes, foreign keys and CHECK constraints copy as
//! well; their own rules (`changing-column-type`, `adding-foreign-key`,
//! `adding-check-constraint`) report them.
//!
//! `ALGORITHM=INPLACE`, `ALGORITHM=INSTANT`, MariaDB's `ALGORITHM=NOCOPY` or `LOCK=NONE` in the
//! statement make the server
//! refuse rather than copy, so such a statement does not fire. A table created earlier in the
//! same script holds no rows: quiet. (strong_migrations has no MySQL equivalent; this is what
//! gh-ost and pt-online-schema-change exist for.)

use super::mysql_online_ddl::{self, row_of, Found, Op, Survey};
use crate::{Hit, RecognizedStatement, Rule, RuleContext};
use bascule_patch::{Dialect, Server};
use sqlparser::ast::AlterTableAlgorithm;

pub struct MysqlTableCopy;

impl Rule for MysqlTableCopy {
    fn id(&self) -> &'static str {
        "mysql-table-copy"
    }
    fn summary(&self) -> &'static str {
        "MySQL/MariaDB ALTER TABLE that copies the table (MySQL 8.0 manual §15.12.1)"
    }
    fn explanation(&self) -> &'static str {
        "The online DDL tables of the MySQL 8.0 manual (§15.12.1 Online DDL Operations) and \
         MariaDB's InnoDB Online DDL pages say, per ALTER TABLE operation, which algorithm the \
         server can use. With ALGORITHM=COPY it builds a new table and copies every row while \
         writes wait (LOCK=SHARED): on a large table, minutes to hours of downtime."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "add `, ALGORITHM=INPLACE, LOCK=NONE` (or `ALGORITHM=INSTANT`): the server then refuses \
         rather than copies; where it refuses, run the change with an online schema change tool \
         (gh-ost, pt-online-schema-change) or expand and contract (a new column or table \
         written by both versions of the code, backfilled, then switched to) — table from the \
         MySQL 8.0 manual §15.12.1 and MariaDB's InnoDB Online DDL pages"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        hits(&mysql_online_ddl::survey(cx), cx.server, cx.text())
    }
    fn check_recognized(&self, cx: &RuleContext<'_, RecognizedStatement>) -> Vec<Hit> {
        hits(
            &mysql_online_ddl::survey_recognized(cx),
            cx.server,
            cx.text(),
        )
    }
}

fn hits(survey: &Survey, server: Option<Server>, text: &str) -> Vec<Hit> {
    let Some((table, _)) = survey.found.first() else {
        return Vec::new();
    };
    if survey.requested.algorithm == Some(AlterTableAlgorithm::Copy) {
        return vec![Hit::new(format!(
            "ALGORITHM=COPY copies `{table}` row by row while writes wait"
        ))
        .near(text, "ALGORITHM")];
    }
    if survey.requested.refuses_copy() {
        return Vec::new();
    }
    survey
        .found
        .iter()
        .filter_map(|(table, found)| {
            message(table, found, server).map(|m| Hit::new(m).near(text, &found.near))
        })
        .collect()
}

/// What to say of one operation, if it copies.
fn message(table: &str, found: &Found, server: Option<Server>) -> Option<String> {
    let row = row_of(found.op);
    if row.covered_by.is_some() {
        return None;
    }
    let source = mysql_online_ddl::source(server);
    let on = mysql_online_ddl::server_name(server);
    if matches!(found.op, Op::Force | Op::NullRebuild | Op::Optimize) {
        let instead = match found.op {
            Op::Optimize => format!(
                "; `ALTER TABLE {table} FORCE, ALGORITHM=INPLACE, LOCK=NONE` does the same \
                 rebuild, or is refused rather than copy"
            ),
            _ => String::new(),
        };
        return Some(format!(
            "{} rebuilds the whole table; {on} does it in place only if it has no FULLTEXT \
             index, and copies it while writes wait otherwise ({source}: {}){instead}",
            found.what, row.note
        ));
    }
    let support = mysql_online_ddl::support(found.op, server);
    if !support.copies() {
        return None;
    }
    let writes = if support.blocks_writes() {
        "while writes wait"
    } else {
        "(writes go on only with LOCK=NONE)"
    };
    Some(format!(
        "{} copies the table on {on} (ALGORITHM=COPY) {writes} ({source}: {})",
        found.what, row.note
    ))
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, lint_on, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "mysql-table-copy";
    const EARLIER: &[&str] = &["CREATE TABLE members (id INT NOT NULL, name VARCHAR(50), \
                                nick VARCHAR(50), code VARBINARY(100), bio TEXT);"];

    #[test]
    fn fires_on_operations_the_manuals_copy() {
        for up in [
            "ALTER TABLE members DROP PRIMARY KEY;",
            "ALTER TABLE members ADD PRIMARY KEY (nick);",
            "ALTER TABLE members ADD COLUMN g INT AS (id + 1) STORED;",
            "ALTER TABLE members ADD COLUMN a INT, ALGORITHM=COPY;",
            "ALTER TABLE members CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
            "ALTER TABLE members ENGINE=InnoDB;",
            "ALTER TABLE members ENGINE=Aria;",
            "ALTER TABLE members PARTITION BY HASH (id) PARTITIONS 4;",
            "ALTER TABLE members REMOVE PARTITIONING;",
            "ALTER TABLE members OPTIMIZE PARTITION p1;",
            // utf8mb4 by default: 50 × 4 = 200 bytes, 64 × 4 = 256.
            "ALTER TABLE members MODIFY nick VARCHAR(64);",
            "ALTER TABLE members MODIFY name VARCHAR(300) CHARACTER SET latin1;",
            "ALTER TABLE members CHANGE nick nickname VARCHAR(100);",
            // Forms sqlparser rejects, read by the recognizer.
            "ALTER TABLE members FORCE;",
            "OPTIMIZE TABLE members;",
            "OPTIMIZE NO_WRITE_TO_BINLOG TABLE `members`;",
            "ALTER TABLE members ORDER BY name;",
            "ALTER TABLE members ORDER BY name DESC, id, LOCK=SHARED;",
        ] {
            assert_fires(1, ID, Mysql, up, EARLIER);
        }
        // One hit per table.
        assert_fires(
            2,
            ID,
            Mysql,
            "OPTIMIZE LOCAL TABLE members, orders;",
            EARLIER,
        );
        // Both clauses of one statement copy: one hit each.
        assert_fires(
            2,
            ID,
            Mysql,
            "ALTER TABLE members DROP PRIMARY KEY, ENGINE = InnoDB;",
            EARLIER,
        );
    }

    #[test]
    fn quiet_on_operations_the_manuals_do_in_place_or_instantly() {
        for up in [
            "ALTER TABLE members ADD COLUMN avatar VARCHAR(100);",
            "ALTER TABLE members ADD COLUMN avatar VARCHAR(100) AFTER name;",
            "ALTER TABLE members ADD PRIMARY KEY (id);",
            "ALTER TABLE members DROP PRIMARY KEY, ADD PRIMARY KEY (id, nick);",
            "ALTER TABLE members ADD INDEX members_nick (nick);",
            "CREATE INDEX members_nick ON members (nick);",
            "ALTER TABLE members DROP INDEX members_nick;",
            "ALTER TABLE members RENAME INDEX m_mail TO members_email;",
            "ALTER TABLE members ALTER COLUMN nick SET DEFAULT 'x';",
            "ALTER TABLE members ADD COLUMN v INT AS (id + 1) VIRTUAL;",
            "ALTER TABLE members ROW_FORMAT=DYNAMIC;",
            "ALTER TABLE members MODIFY nick VARCHAR(63);",
            "ALTER TABLE members MODIFY name VARCHAR(250) CHARACTER SET latin1;",
            "ALTER TABLE members MODIFY code VARBINARY(200);",
            "ALTER TABLE members MODIFY nick VARCHAR(50) NOT NULL;",
            "ALTER TABLE members ADD PARTITION (PARTITION p9 VALUES LESS THAN (2030));",
            "RENAME TABLE members TO people;",
            "ALTER TABLE members ENGINE=InnoDB, ALGORITHM=INPLACE;",
            "ALTER TABLE members DROP PRIMARY KEY, LOCK=NONE;",
            "ALTER TABLE members ADD COLUMN avatar VARCHAR(100) AFTER name, ALGORITHM=INSTANT;",
            "CREATE TABLE badges (id BIGINT PRIMARY KEY);\nALTER TABLE badges ENGINE=InnoDB;",
            "ALTER TABLE members FORCE, ALGORITHM=INPLACE, LOCK=NONE;",
            "ALTER TABLE members DROP PRIMARY KEY, ALGORITHM=NOCOPY;",
            "ALTER TABLE members ENGINE=InnoDB, ALGORITHM NOCOPY;",
            "CREATE TABLE badges (id BIGINT PRIMARY KEY);\nOPTIMIZE TABLE badges;",
            "CHECK TABLE members;",
            "ALTER TABLE members DISCARD TABLESPACE;",
        ] {
            assert_fires(0, ID, Mysql, up, EARLIER);
        }
    }

    #[test]
    fn the_server_decides() {
        // MySQL refuses INPLACE for a primary key on a nullable column; MariaDB rebuilds in place.
        let up = "ALTER TABLE members ADD PRIMARY KEY (nick);";
        let mysql = lint_on("mysql 8.0", up, EARLIER, ID);
        assert_eq!(mysql.len(), 1, "{mysql:?}");
        assert!(
            mysql[0].message.contains("on mysql 8.0"),
            "{}",
            mysql[0].message
        );
        assert!(lint_on("mariadb 10.11", up, EARLIER, ID).is_empty());
        // MariaDB 11.2 copies with concurrent DML: still a copy, said so.
        let online = lint_on(
            "mariadb 11.4",
            "ALTER TABLE members DROP PRIMARY KEY;",
            EARLIER,
            ID,
        );
        assert!(
            online[0]
                .message
                .contains("writes go on only with LOCK=NONE"),
            "{}",
            online[0].message
        );
    }

    #[test]
    fn optimize_says_what_to_write_instead() {
        let hits = lint_on("mysql 8.0", "OPTIMIZE TABLE members;", EARLIER, ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains(
                "`ALTER TABLE members FORCE, ALGORITHM=INPLACE, LOCK=NONE` does the same rebuild"
            ),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Mysql,
            "ALTER TABLE members MODIFY nick VARCHAR(100) NULL;",
            EARLIER,
        ));
    }
}

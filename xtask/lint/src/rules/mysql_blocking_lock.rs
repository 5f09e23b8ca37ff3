//! `mysql-blocking-lock`: a MySQL/MariaDB statement that holds a lock blocking writes (or
//! reads) on an existing table for as long as it works, without copying it: an `ALTER TABLE`
//! whose operation the manuals do in place but without concurrent DML (a FULLTEXT or SPATIAL
//! index, an `AUTO_INCREMENT` column, `ADD PARTITION` to a HASH/KEY table, `COALESCE`,
//! `REORGANIZE` and `REBUILD PARTITION`), an explicit `LOCK=SHARED` or `LOCK=EXCLUSIVE` clause
//! (a block asked for, in `ALTER TABLE` or `CREATE INDEX`), `LOCK TABLES`, the table maintenance
//! statements that hold a lock for their whole work — `ANALYZE TABLE` (a read lock; MariaDB's
//! engine-independent statistics read the whole table), `CHECK TABLE` and `CHECKSUM TABLE` (every
//! row or index read while writes wait), `REPAIR TABLE` (reads and writes wait) — and `ALTER
//! TABLE … DISCARD|IMPORT TABLESPACE` (an exclusive lock; a discarded table cannot be read at
//! all until its import).
//!
//! Like `mysql-table-copy`, the rule asks [`mysql_online_ddl`](super::mysql_online_ddl), the
//! online DDL tables of the MySQL 8.0 manual (§15.12.1 "Online DDL Operations", column "Permits
//! Concurrent DML"; §13.7.3 for the maintenance statements, §13.3.6 for `LOCK TABLES`,
//! §15.6.1.3 for transportable tablespaces) and MariaDB's
//! "InnoDB Online DDL Operations" pages; operations that copy the table are
//! `mysql-table-copy`'s, `TRUNCATE` is `ban-truncate`'s. `LOCK=NONE` in the statement makes the
//! server refuse rather than block: quiet. A table created earlier in the same script: quiet.

use sqlparser::ast::AlterTableLock;

use super::mysql_online_ddl::{self, row_of, Survey};
use crate::{Hit, RecognizedStatement, Rule, RuleContext};
use bascule_patch::{Dialect, Server};

pub struct MysqlBlockingLock;

impl Rule for MysqlBlockingLock {
    fn id(&self) -> &'static str {
        "mysql-blocking-lock"
    }
    fn summary(&self) -> &'static str {
        "MySQL/MariaDB statement holding a lock that blocks writes on a live table (MySQL 8.0 \
         manual §15.12.1)"
    }
    fn explanation(&self) -> &'static str {
        "The online DDL tables of the MySQL 8.0 manual (§15.12.1 Online DDL Operations, column \
         Permits Concurrent DML) and MariaDB's InnoDB Online DDL pages say which ALTER TABLE \
         operations run in place but with LOCK=SHARED at best (writes wait for the whole build), \
         and LOCK=SHARED|EXCLUSIVE asks for such a lock; LOCK TABLES (§13.3.6), the table \
         maintenance statements ANALYZE, CHECK and CHECKSUM TABLE (§13.7.3.1-3, a read lock) and \
         REPAIR TABLE (§13.7.3.5), and DISCARD|IMPORT TABLESPACE (§15.6.1.3, an exclusive lock) \
         hold one too."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "ask for `LOCK=NONE` (the server then refuses rather than blocks) and, where it refuses, \
         run the change with an online schema change tool (gh-ost, pt-online-schema-change) or \
         outside the deploy window; drop explicit LOCK=SHARED/EXCLUSIVE and LOCK TABLES from \
         migrations; leave statistics to InnoDB's automatic recalculation instead of ANALYZE \
         TABLE — table from the MySQL 8.0 manual §15.12.1 and MariaDB's InnoDB Online DDL pages"
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
    match survey.requested.lock {
        Some(AlterTableLock::Shared) => {
            return vec![Hit::new(format!(
                "LOCK=SHARED asks that writes to `{table}` wait for the whole ALTER TABLE"
            ))
            .near(text, "LOCK")]
        }
        Some(AlterTableLock::Exclusive) => {
            return vec![Hit::new(format!(
                "LOCK=EXCLUSIVE asks that reads and writes of `{table}` wait for the whole ALTER \
                 TABLE"
            ))
            .near(text, "LOCK")]
        }
        Some(AlterTableLock::None) => return Vec::new(),
        _ => {}
    }
    let source = mysql_online_ddl::source(server);
    let on = mysql_online_ddl::server_name(server);
    survey
        .found
        .iter()
        .filter_map(|(_, found)| {
            let row = row_of(found.op);
            let support = mysql_online_ddl::support(found.op, server);
            if row.covered_by.is_some() || support.copies() || !support.blocks_writes() {
                return None;
            }
            let who = if support.lock == mysql_online_ddl::Lock::Exclusive {
                "reads and writes"
            } else {
                "writes"
            };
            Some(
                Hit::new(format!(
                    "{} holds LOCK={} on {on}: {who} wait until it is done ({source}: {})",
                    found.what, support.lock, row.note
                ))
                .near(text, &found.near),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "mysql-blocking-lock";

    #[test]
    fn fires_on_blocking_operations_and_requested_locks() {
        for up in [
            "ALTER TABLE members ADD FULLTEXT INDEX members_bio (bio);",
            "ALTER TABLE places ADD SPATIAL INDEX places_pt (pt);",
            "ALTER TABLE members ADD COLUMN seq INT AUTO_INCREMENT, ADD KEY (seq);",
            "ALTER TABLE members ADD COLUMN a INT, LOCK=EXCLUSIVE;",
            "ALTER TABLE members ADD INDEX members_nick (nick), ALGORITHM=INPLACE, LOCK=SHARED;",
            "ALTER TABLE members ROW_FORMAT=DYNAMIC, LOCK=SHARED;",
            "ALTER TABLE events COALESCE PARTITION 2;",
            "ALTER TABLE events REORGANIZE PARTITION p1 INTO (PARTITION p1a VALUES LESS THAN (5), PARTITION p1b VALUES LESS THAN (10));",
            "LOCK TABLES members WRITE;",
            "LOCK TABLES members READ;",
            "ANALYZE TABLE members;",
            // Forms sqlparser rejects, read by the recognizer.
            "ANALYZE NO_WRITE_TO_BINLOG TABLE members;",
            "CHECK TABLE members;",
            "CHECK TABLE members FOR UPGRADE;",
            "CHECKSUM TABLE members EXTENDED;",
            "REPAIR TABLE members QUICK;",
            "ALTER TABLE members DISCARD TABLESPACE;",
            "ALTER TABLE members IMPORT TABLESPACE;",
            "CREATE FULLTEXT INDEX members_bio ON members (bio);",
            "CREATE SPATIAL INDEX places_pt ON places (pt);",
            "ALTER TABLE members ADD FULLTEXT KEY members_bio (bio);",
            "ALTER TABLE members ADD FULLTEXT INDEX members_bio (bio), ALGORITHM=NOCOPY;",
            "CREATE INDEX members_nick ON members (nick) LOCK=SHARED;",
        ] {
            assert_fires(1, ID, Mysql, up, &[]);
        }
        assert_fires(2, ID, Mysql, "CHECK TABLE members, orders QUICK;", &[]);
    }

    #[test]
    fn quiet_on_online_operations() {
        for up in [
            "ALTER TABLE members ADD INDEX members_nick (nick);",
            "ALTER TABLE members ADD FULLTEXT INDEX members_bio (bio), LOCK=NONE;",
            "ALTER TABLE members ADD COLUMN a INT, LOCK=NONE;",
            "ALTER TABLE members ADD COLUMN a INT, LOCK=DEFAULT;",
            "ALTER TABLE members DROP PRIMARY KEY;",
            "ALTER TABLE events ADD PARTITION (PARTITION p9 VALUES LESS THAN (2030));",
            "ALTER TABLE events DROP PARTITION p1;",
            "TRUNCATE TABLE sessions;",
            "UNLOCK TABLES;",
            "CREATE TABLE docs (id INT, bio TEXT);\nALTER TABLE docs ADD FULLTEXT INDEX d (bio);",
            "CREATE TABLE docs (id INT, bio TEXT);\nCREATE FULLTEXT INDEX d ON docs (bio);",
            "CREATE TABLE docs (id INT, bio TEXT);\nCHECK TABLE docs;",
            "CREATE FULLTEXT INDEX members_bio ON members (bio) LOCK=NONE;",
            "CREATE INDEX members_nick ON members (nick) LOCK=NONE;",
            "ALTER TABLE members ADD COLUMN a INT, ALGORITHM=NOCOPY;",
            "OPTIMIZE TABLE members;",
            "ALTER TABLE members FORCE, ALGORITHM=INPLACE, LOCK=NONE;",
        ] {
            assert_fires(0, ID, Mysql, up, &[]);
        }
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Mysql,
            "ALTER TABLE members ADD FULLTEXT INDEX members_bio (bio);\nALTER TABLE members ADD COLUMN a INT, LOCK=EXCLUSIVE;",
            &[],
        ));
    }
}

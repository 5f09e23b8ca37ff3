//! MariaDB and MySQL: one database per tenant, through the pure-Rust `mysql` client (no TLS
//! library, no C client), so the runtime stays one static binary.
//!
//! # Statements run one by one
//!
//! A script is cut into statements by [`crate::sql::split_statements`] (the splitter the lint
//! uses: quotes, comments, `DELIMITER` blocks of triggers and procedures) and each statement is
//! sent on its own, in order, logged before it runs. The version row is written after the last
//! statement of an up (and deleted after the last statement of a down).
//!
//! # DDL is not transactional here
//!
//! MariaDB and MySQL commit every DDL statement implicitly (`CREATE`, `ALTER`, `DROP`, `RENAME`
//! …), and a transaction open before it is committed too. A migration is therefore *not* all or
//! nothing on this backend: when its third statement fails, the first two have committed and
//! stay. The failure is reported as [`DbError::PartlyApplied`], which says how many statements
//! ran, so nothing is hidden from the operator or the undo.
//!
//! // issue-4: design note, not a promise. What non-transactional DDL means for undo:
//! // - The version row cannot be the unit of truth any more: between "statement k committed"
//! //   and "version row written" a crash leaves a database that is neither at version N-1 nor at
//! //   N. Per-statement progress must be durable somewhere the undo reads: in the journal
//! //   (statement k of migration m started/finished on database d) or in a progress column of
//! //   the version table written after each statement.
//! // - Undoing a half-applied migration cannot simply run the whole down script: the down undoes
//! //   statements that never ran (DROP of a column never added fails, or worse, drops a column
//! //   that existed before). Either the downs are idempotent (IF EXISTS everywhere, checked by
//! //   lint), or each up statement is paired with its inverse so exactly the statements that ran
//! //   are undone, in reverse.
//! // - A data statement (UPDATE/INSERT) mixed with DDL cannot be undone by the schema inverse:
//! //   it needs its own down, or a snapshot of what it touched.
//! // - The statement that failed may itself have half-run (a multi-column ALTER on an old
//! //   server); MariaDB's atomic DDL (10.6+) makes one statement all or nothing, older servers
//! //   do not.
//! // - schema_dump() before/after is the check that any of this worked.

use mysql::prelude::Queryable as _;
use mysql::{Opts, OptsBuilder, Value};

use super::{
    backend_error, finish_dump, one_line, AppliedMigration, Connection, DbError, VersionState,
    VERSION_TABLE,
};
use crate::migration::Migration;
use crate::patch::Dialect;
use crate::runlog::RunLog;
use crate::sql::split_statements;

pub struct MysqlConnection {
    name: String,
    conn: mysql::Conn,
}

/// Connection options for `database` on the server of `url` (`mysql://user[:password]@host:port`).
fn opts(url: &str, database: Option<&str>) -> Result<Opts, String> {
    let opts = Opts::from_url(url).map_err(|e| format!("invalid server url: {e}"))?;
    Ok(OptsBuilder::from_opts(opts).db_name(database).into())
}

impl MysqlConnection {
    /// Connects to `database` on the server of `url`; a missing database is an error.
    pub fn open(name: &str, url: &str, database: &str) -> Result<MysqlConnection, DbError> {
        let redacted = super::redact_url(url);
        let opts = opts(url, Some(database)).map_err(|e| backend_error(name, e))?;
        let conn = mysql::Conn::new(opts).map_err(|e| {
            backend_error(
                name,
                format!("cannot connect to database `{database}` of {redacted}: {e}"),
            )
        })?;
        Ok(MysqlConnection {
            name: name.to_string(),
            conn,
        })
    }

    /// The raw connection, for tools and tests.
    pub fn raw(&mut self) -> &mut mysql::Conn {
        &mut self.conn
    }

    fn err(&self, e: impl std::fmt::Display) -> DbError {
        backend_error(&self.name, e)
    }

    /// Rows of a query, every value as text (`None` for NULL).
    fn text_rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let rows: Vec<mysql::Row> = self.conn.query(sql).map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.as_ref(i).cloned().and_then(value_text))
                    .collect()
            })
            .collect())
    }

    /// Runs every statement of `sql` in order; a failure says how many had already committed.
    fn run_statements(&mut self, label: &str, sql: &str, log: &RunLog) -> Result<(), DbError> {
        let statements = split_statements(sql, Dialect::Mysql);
        let total = statements.len();
        for (done, statement) in statements.iter().enumerate() {
            log.line(format_args!(
                "{}: {label}: {}",
                self.name,
                one_line(&statement.text)
            ));
            if let Err(e) = self.conn.query_drop(&statement.text) {
                return Err(DbError::PartlyApplied {
                    db: self.name.clone(),
                    migration: label.to_string(),
                    done,
                    total,
                    statement: statement.text.clone(),
                    error: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// A value as a person reads it (the text protocol sends almost everything as bytes).
fn value_text(value: Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        Value::Date(y, mo, d, h, mi, s, us) => Some(format!(
            "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
        )),
        Value::Time(negative, d, h, mi, s, us) => Some(format!(
            "{}{d} {h:02}:{mi:02}:{s:02}.{us:06}",
            if negative { "-" } else { "" }
        )),
    }
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("NULL")
}

impl Connection for MysqlConnection {
    fn version_state(&mut self) -> Result<VersionState, DbError> {
        let exists: Option<u64> = self
            .conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TABLES
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (VERSION_TABLE,),
            )
            .map_err(|e| self.err(e))?;
        if exists.unwrap_or(0) == 0 {
            return Ok(VersionState::default());
        }
        let rows: Vec<(u32, String, String)> = self
            .conn
            .query(format!(
                "SELECT id, name, checksum FROM `{VERSION_TABLE}` ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        Ok(VersionState {
            table_exists: true,
            applied: rows
                .into_iter()
                .map(|(id, name, checksum)| AppliedMigration { id, name, checksum })
                .collect(),
        })
    }

    fn apply_up(
        &mut self,
        migration: &Migration,
        patch: &str,
        log: &RunLog,
    ) -> Result<(), DbError> {
        self.conn
            .query_drop(format!(
                "CREATE TABLE IF NOT EXISTS `{VERSION_TABLE}` (
                    id INT UNSIGNED NOT NULL PRIMARY KEY,
                    name VARCHAR(255) NOT NULL,
                    checksum CHAR(64) NOT NULL,
                    patch VARCHAR(255) NOT NULL,
                    applied_at VARCHAR(32) NOT NULL
                )"
            ))
            .map_err(|e| self.err(e))?;
        let label = format!("{} up", migration.label());
        self.run_statements(&label, &migration.up, log)?;
        self.conn
            .exec_drop(
                format!(
                    "INSERT INTO `{VERSION_TABLE}` (id, name, checksum, patch, applied_at)
                     VALUES (?, ?, ?, ?, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ'))"
                ),
                (migration.id, &migration.name, &migration.checksum, patch),
            )
            .map_err(|e| self.err(e))
    }

    fn apply_down(&mut self, migration: &Migration, log: &RunLog) -> Result<(), DbError> {
        let label = format!("{} down", migration.label());
        self.run_statements(&label, &migration.down, log)?;
        self.conn
            .exec_drop(
                format!("DELETE FROM `{VERSION_TABLE}` WHERE id = ?"),
                (migration.id,),
            )
            .map_err(|e| self.err(e))
    }

    fn drop_version_table(&mut self, log: &RunLog) -> Result<(), DbError> {
        log.line(format_args!(
            "{}: DROP TABLE IF EXISTS {VERSION_TABLE}",
            self.name
        ));
        self.conn
            .query_drop(format!("DROP TABLE IF EXISTS `{VERSION_TABLE}`"))
            .map_err(|e| self.err(e))
    }

    fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, DbError> {
        Ok(self
            .text_rows(sql)?
            .into_iter()
            .map(|row| row.iter().map(|v| text(v).to_string()).collect())
            .collect())
    }

    fn schema_dump(&mut self) -> Result<Vec<String>, DbError> {
        let database = self
            .text_rows("SELECT DATABASE()")?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten())
            .ok_or_else(|| self.err("schema dump: no database selected"))?;
        let mut lines = Vec::new();
        for query in dump::QUERIES {
            for row in self.text_rows(&query.sql.replace("{VERSION}", VERSION_TABLE))? {
                lines.push((query.line)(&row, &database));
            }
        }
        Ok(finish_dump(lines))
    }

    fn execute_script(&mut self, sql: &str, log: &RunLog) -> Result<(), DbError> {
        self.run_statements("script", sql, log)
    }
}

/// Names of the databases of the server at `url` matching the `LIKE` pattern, sorted.
pub fn list_databases(url: &str, pattern: &str) -> Result<Vec<String>, DbError> {
    let server = super::redact_url(url);
    let opts = opts(url, None).map_err(|e| backend_error(&server, e))?;
    let mut conn = mysql::Conn::new(opts)
        .map_err(|e| backend_error(&server, format!("cannot connect: {e}")))?;
    let mut names: Vec<String> = conn
        .exec(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
            (pattern,),
        )
        .map_err(|e| backend_error(&server, e))?;
    names.sort();
    Ok(names)
}

/// The `information_schema` queries of [`MysqlConnection::schema_dump`], one per kind of object.
mod dump {
    use super::text;

    pub(super) struct DumpQuery {
        pub sql: &'static str,
        pub line: fn(&[Option<String>], &str) -> String,
    }

    fn at(row: &[Option<String>], i: usize) -> &str {
        row.get(i).map_or("NULL", text)
    }

    /// View and trigger bodies name the database; dumps of two databases must still compare.
    fn body(sql: &str, database: &str) -> String {
        super::one_line(&sql.replace(&format!("`{database}`."), ""))
    }

    pub(super) const QUERIES: &[DumpQuery] = &[
        DumpQuery {
            sql: "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
                  AND TABLE_NAME <> '{VERSION}'",
            line: |r, _| format!("table {} engine {}", at(r, 0), at(r, 1)),
        },
        DumpQuery {
            sql: "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA
                  FROM information_schema.COLUMNS
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{VERSION}'",
            line: |r, _| {
                let mut line = format!("column {}.{} {}", at(r, 0), at(r, 1), at(r, 2));
                line.push_str(if at(r, 3) == "YES" { " null" } else { " not null" });
                if let Some(Some(default)) = r.get(4) {
                    line.push_str(&format!(" default {default}"));
                }
                if !at(r, 5).is_empty() {
                    line.push_str(&format!(" {}", at(r, 5).to_lowercase()));
                }
                line
            },
        },
        DumpQuery {
            sql: "SELECT INDEX_NAME, TABLE_NAME,
                    GROUP_CONCAT(CONCAT(COLUMN_NAME, IFNULL(CONCAT('(', SUB_PART, ')'), ''))
                                 ORDER BY SEQ_IN_INDEX SEPARATOR ', '),
                    NON_UNIQUE, INDEX_TYPE
                  FROM information_schema.STATISTICS
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{VERSION}'
                  GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE",
            line: |r, _| {
                let mut line = format!("index {} on {} ({})", at(r, 0), at(r, 1), at(r, 2));
                if at(r, 3) == "0" {
                    line.push_str(" unique");
                }
                if at(r, 4) != "BTREE" {
                    line.push_str(&format!(" using {}", at(r, 4).to_lowercase()));
                }
                line
            },
        },
        DumpQuery {
            sql: "SELECT tc.CONSTRAINT_NAME, tc.TABLE_NAME, tc.CONSTRAINT_TYPE,
                    (SELECT GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', ')
                       FROM information_schema.KEY_COLUMN_USAGE k
                      WHERE k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
                        AND k.TABLE_NAME = tc.TABLE_NAME AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME),
                    (SELECT CONCAT(MAX(k.REFERENCED_TABLE_NAME), ' (',
                            GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION
                                         SEPARATOR ', '), ')')
                       FROM information_schema.KEY_COLUMN_USAGE k
                      WHERE k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
                        AND k.TABLE_NAME = tc.TABLE_NAME AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
                        AND k.REFERENCED_TABLE_NAME IS NOT NULL)
                  FROM information_schema.TABLE_CONSTRAINTS tc
                  WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.TABLE_NAME <> '{VERSION}'",
            line: |r, _| {
                let mut line = format!(
                    "constraint {} on {}: {}",
                    at(r, 0),
                    at(r, 1),
                    at(r, 2).to_lowercase()
                );
                if let Some(Some(columns)) = r.get(3) {
                    line.push_str(&format!(" ({columns})"));
                }
                if let Some(Some(target)) = r.get(4) {
                    line.push_str(&format!(" references {target}"));
                }
                line
            },
        },
        DumpQuery {
            sql: "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS
                  WHERE TABLE_SCHEMA = DATABASE()",
            line: |r, db| format!("view {}: {}", at(r, 0), body(at(r, 1), db)),
        },
        DumpQuery {
            sql: "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE,
                    ACTION_STATEMENT
                  FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
            line: |r, db| {
                format!(
                    "trigger {} {} {} on {}: {}",
                    at(r, 0),
                    at(r, 1).to_lowercase(),
                    at(r, 2).to_lowercase(),
                    at(r, 3),
                    body(at(r, 4), db)
                )
            },
        },
        DumpQuery {
            sql: "SELECT ROUTINE_TYPE, ROUTINE_NAME, ROUTINE_DEFINITION
                  FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
            line: |r, db| {
                format!(
                    "{} {}: {}",
                    at(r, 0).to_lowercase(),
                    at(r, 1),
                    body(at(r, 2), db)
                )
            },
        },
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_text() {
        assert_eq!(value_text(Value::NULL), None);
        assert_eq!(value_text(Value::Bytes(b"abc".to_vec())).unwrap(), "abc");
        assert_eq!(value_text(Value::Int(-3)).unwrap(), "-3");
        assert_eq!(
            value_text(Value::Date(2024, 6, 1, 12, 0, 5, 0)).unwrap(),
            "2024-06-01 12:00:05.000000"
        );
    }

    #[test]
    fn a_bad_url_is_refused_before_connecting() {
        let err = opts("postgres://x@h", None).unwrap_err();
        assert!(err.starts_with("invalid server url"), "{err}");
    }
}

//! SQLite, the embedded default: one file per database, a transaction per migration.
//!
//! SQLite's DDL is transactional, so `BEGIN IMMEDIATE … COMMIT` around a migration's statements
//! and its version row makes each migration all or nothing, even if the process dies mid-way.

use std::path::Path;
use std::time::Duration;

use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::types::ValueRef;
use rusqlite::{Batch, OpenFlags, TransactionBehavior};

use super::{AppliedMigration, Connection, DbError, VersionState, VERSION_TABLE};
use crate::migration::Migration;
use crate::runlog::RunLog;

pub struct SqliteConnection {
    name: String,
    conn: rusqlite::Connection,
}

impl SqliteConnection {
    /// Opens an existing database file; a missing file is an error, never a new empty database.
    pub fn open(name: &str, path: &Path) -> Result<SqliteConnection, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            rusqlite::Connection::open_with_flags(path, flags).map_err(|e| DbError::Backend {
                db: name.to_string(),
                what: format!("cannot open {}: {e}", path.display()),
            })?;
        let this = SqliteConnection {
            name: name.to_string(),
            conn,
        };
        this.conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(|e| this.err(e))?;
        Ok(this)
    }

    /// The raw connection, for tools (demo generator, tests) that build databases.
    pub fn raw(&mut self) -> &mut rusqlite::Connection {
        &mut self.conn
    }

    fn err(&self, e: impl std::fmt::Display) -> DbError {
        backend_error(&self.name, e)
    }
}

fn backend_error(db: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Backend {
        db: db.to_string(),
        what: e.to_string(),
    }
}

/// Runs every statement of `sql` inside the open transaction, logging each one.
fn run_script(
    db: &str,
    tx: &rusqlite::Transaction<'_>,
    label: &str,
    sql: &str,
    log: &RunLog,
) -> Result<(), DbError> {
    let fail = |statement: String, e: rusqlite::Error| DbError::Statement {
        db: db.to_string(),
        migration: label.to_string(),
        statement,
        error: e.to_string(),
    };
    let mut batch = Batch::new(tx, sql);
    loop {
        let next = batch.next().map_err(|e| fail(String::from("(parse)"), e))?;
        let Some(mut statement) = next else { break };
        let text = statement.expanded_sql().unwrap_or_default();
        log.line(format_args!("{db}: {label}: {}", one_line(&text)));
        let mut rows = statement.raw_query();
        loop {
            match rows.next() {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => return Err(fail(text, e)),
            }
        }
    }
    Ok(())
}

fn begin<'c>(
    db: &str,
    conn: &'c mut rusqlite::Connection,
) -> Result<rusqlite::Transaction<'c>, DbError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend_error(db, e))
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Connection for SqliteConnection {
    fn version_state(&mut self) -> Result<VersionState, DbError> {
        let exists: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [VERSION_TABLE],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        if exists == 0 {
            return Ok(VersionState::default());
        }
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT id, name, checksum FROM {VERSION_TABLE} ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let applied = statement
            .query_map([], |row| {
                Ok(AppliedMigration {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    checksum: row.get(2)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(VersionState {
            table_exists: true,
            applied,
        })
    }

    fn apply_up(
        &mut self,
        migration: &Migration,
        patch: &str,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let label = migration.label();
        let db = self.name.as_str();
        let err = |e| backend_error(db, e);
        let tx = begin(db, &mut self.conn)?;
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                patch TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )"
        ))
        .map_err(err)?;
        run_script(db, &tx, &format!("{label} up"), &migration.up, log)?;
        tx.execute(
            &format!(
                "INSERT INTO {VERSION_TABLE} (id, name, checksum, patch, applied_at)
                 VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
            ),
            rusqlite::params![migration.id, migration.name, migration.checksum, patch],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    fn apply_down(&mut self, migration: &Migration, log: &RunLog) -> Result<(), DbError> {
        let label = migration.label();
        let db = self.name.as_str();
        let err = |e| backend_error(db, e);
        let tx = begin(db, &mut self.conn)?;
        run_script(db, &tx, &format!("{label} down"), &migration.down, log)?;
        tx.execute(
            &format!("DELETE FROM {VERSION_TABLE} WHERE id = ?1"),
            [migration.id],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    fn drop_version_table(&mut self, log: &RunLog) -> Result<(), DbError> {
        log.line(format_args!(
            "{}: DROP TABLE IF EXISTS {VERSION_TABLE}",
            self.name
        ));
        self.conn
            .execute_batch(&format!("DROP TABLE IF EXISTS {VERSION_TABLE}"))
            .map_err(|e| self.err(e))
    }

    fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, DbError> {
        let mut statement = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let columns = statement.column_count();
        let mut rows = statement.query([]).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(text_of(row.get_ref(i).map_err(|e| self.err(e))?));
            }
            out.push(values);
        }
        Ok(out)
    }
}

/// A value as a person reads it, for check reports and state comparisons.
pub fn text_of(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("x'{}'", crate::sha256_hex(b)),
    }
}

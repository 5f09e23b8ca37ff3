//! SQLite, the embedded default: one file per database, a transaction per migration.
//!
//! SQLite's DDL is transactional, so `BEGIN IMMEDIATE … COMMIT` around a migration's statements
//! and its version row makes each migration all or nothing, even if the process dies mid-way.

use std::path::Path;
use std::time::Duration;

use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::types::ValueRef;
use rusqlite::{Batch, OpenFlags, TransactionBehavior};

use super::{
    backend_error, finish_dump, one_line, Adopt, Connection, DbError, Stamp, VersionState,
    VERSION_TABLE,
};

/// The version table. `state` is `applied` for every migration (a transaction makes each one
/// all or nothing) or `baseline` for an adopted counter; tables made before it existed lack it.
/// No `run` column (see [`super::Stamp`]): only the runs of this host touch the file.
const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS bascule_migrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    patch TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'applied'
)";
use bascule_patch::Migration;
use bascule_runlog::RunLog;

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

    /// Creates a new, empty database file (scratch databases of `check-migrations`, tests).
    pub fn create(name: &str, path: &Path) -> Result<SqliteConnection, DbError> {
        if path.exists() {
            return Err(backend_error(
                name,
                format!("{} already exists; refusing to reuse it", path.display()),
            ));
        }
        rusqlite::Connection::open(path)
            .map_err(|e| backend_error(name, format!("cannot create {}: {e}", path.display())))?;
        SqliteConnection::open(name, path)
    }

    /// The raw connection, for tools (demo generator, tests) that build databases.
    pub fn raw(&mut self) -> &mut rusqlite::Connection {
        &mut self.conn
    }

    fn err(&self, e: impl std::fmt::Display) -> DbError {
        backend_error(&self.name, e)
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
        let has_state: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info(?1) WHERE name = 'state'",
                [VERSION_TABLE],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        let state = if has_state > 0 { "state" } else { "'applied'" };
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT id, name, checksum, {state} FROM {VERSION_TABLE} ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, u32>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    // Only the runs of this host touch the file, one at a time: no run to record.
                    None,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        VersionState::from_rows(&self.name, rows)
    }

    fn apply_up(
        &mut self,
        migration: &Migration,
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let label = migration.label();
        let db = self.name.as_str();
        let err = |e| backend_error(db, e);
        let tx = begin(db, &mut self.conn)?;
        tx.execute_batch(CREATE_VERSION_TABLE).map_err(err)?;
        run_script(db, &tx, &format!("{label} up"), &migration.up, log)?;
        tx.execute(
            &format!(
                "INSERT INTO {VERSION_TABLE} (id, name, checksum, patch, applied_at)
                 VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
            ),
            rusqlite::params![
                migration.id,
                migration.name,
                migration.checksum,
                stamp.patch
            ],
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

    fn server_facts(&mut self) -> Result<crate::ServerFacts, DbError> {
        let name = self.name.clone();
        crate::facts::read(
            self,
            &name,
            |_| "sqlite",
            "SELECT sqlite_version(), (SELECT encoding FROM pragma_encoding)",
            &["encoding"],
        )
    }

    fn schema_dump(&mut self) -> Result<Vec<String>, DbError> {
        dump::schema(&self.conn).map_err(|e| self.err(format!("schema dump: {e}")))
    }

    fn content_digest(&mut self) -> Result<String, DbError> {
        crate::content::digest(
            self,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            |name| format!("\"{}\"", name.replace('"', "\"\"")),
        )
    }

    fn execute_script(&mut self, sql: &str, log: &RunLog) -> Result<(), DbError> {
        let db = self.name.as_str();
        let tx = begin(db, &mut self.conn)?;
        run_script(db, &tx, "script", sql, log)?;
        tx.commit().map_err(|e| backend_error(db, e))
    }

    fn record_baseline(&mut self, version: u32, origin: &str) -> Result<(), DbError> {
        let db = self.name.as_str();
        let err = |e| backend_error(db, e);
        let tx = begin(db, &mut self.conn)?;
        tx.execute_batch(CREATE_VERSION_TABLE).map_err(err)?;
        tx.execute(
            &format!(
                "INSERT INTO {VERSION_TABLE} (id, name, checksum, patch, applied_at, state)
                 VALUES (?1, ?2, '', '', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'baseline')"
            ),
            rusqlite::params![version, origin],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    fn adopted_version(&mut self, adopt: &Adopt) -> Result<Option<u32>, DbError> {
        let exists: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [&adopt.table],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        if exists == 0 {
            return Ok(None);
        }
        let value: Option<i64> = self
            .conn
            .query_row(
                &format!(
                    "SELECT max(CAST(\"{}\" AS INTEGER)) FROM \"{}\"",
                    adopt.column.replace('"', "\"\""),
                    adopt.table.replace('"', "\"\"")
                ),
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        let value = value
            .map(|v| {
                u64::try_from(v).map_err(|_| {
                    self.err(format!(
                        "{}.{} = {v} is negative",
                        adopt.table, adopt.column
                    ))
                })
            })
            .transpose()?;
        super::counter(&self.name, adopt, value)
    }
}

/// The schema as text lines, from `sqlite_master` and the `pragma_*` table-valued functions.
mod dump {
    use rusqlite::Connection;

    use super::{finish_dump, one_line, VERSION_TABLE};

    pub(super) fn schema(conn: &Connection) -> rusqlite::Result<Vec<String>> {
        let mut lines = Vec::new();
        let mut objects = conn.prepare(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> ?1",
        )?;
        let rows = objects
            .query_map([VERSION_TABLE], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (kind, name, table, sql) in rows {
            match kind.as_str() {
                "table" => table_lines(conn, &name, &mut lines)?,
                "view" => lines.push(format!("view {name}: {}", one_line(&sql))),
                "trigger" => lines.push(format!("trigger {name} on {table}: {}", one_line(&sql))),
                // Indexes are listed per table (with the automatic ones) by `table_lines`.
                _ => {}
            }
        }
        Ok(finish_dump(lines))
    }

    /// One foreign key of a table, gathered from its `pragma_foreign_key_list` rows.
    struct ForeignKey {
        id: i64,
        parent: String,
        from: Vec<String>,
        to: Vec<String>,
        actions: String,
    }

    fn table_lines(
        conn: &Connection,
        table: &str,
        lines: &mut Vec<String>,
    ) -> rusqlite::Result<()> {
        lines.push(format!("table {table}"));
        let mut columns = conn
            .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)")?;
        let mut rows = columns.query([table])?;
        while let Some(r) = rows.next()? {
            let name: String = r.get(0)?;
            let kind: String = r.get(1)?;
            let not_null: bool = r.get(2)?;
            let default: Option<String> = r.get(3)?;
            let pk: i64 = r.get(4)?;
            let mut line = format!("column {table}.{name} {kind}");
            line.push_str(if not_null { " not null" } else { " null" });
            if let Some(default) = default {
                line.push_str(&format!(" default {default}"));
            }
            if pk > 0 {
                line.push_str(&format!(" primary key {pk}"));
            }
            lines.push(line);
        }
        let mut indexes =
            conn.prepare("SELECT name, \"unique\", partial FROM pragma_index_list(?1)")?;
        let list = indexes
            .query_map([table], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (name, unique, partial) in list {
            let mut info = conn.prepare(
                "SELECT coalesce(name, '<expression>') FROM pragma_index_info(?1) ORDER BY seqno",
            )?;
            let columns = info
                .query_map([&name], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut line = format!("index {name} on {table} ({})", columns.join(", "));
            if unique {
                line.push_str(" unique");
            }
            if partial {
                line.push_str(" partial");
            }
            lines.push(line);
        }
        let mut keys = conn.prepare(
            "SELECT id, \"table\", \"from\", coalesce(\"to\", ''), on_update, on_delete
             FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )?;
        let mut rows = keys.query([table])?;
        let mut foreign: Vec<ForeignKey> = Vec::new();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let (from, to): (String, String) = (r.get(2)?, r.get(3)?);
            match foreign.last_mut() {
                Some(last) if last.id == id => {
                    last.from.push(from);
                    last.to.push(to);
                }
                _ => foreign.push(ForeignKey {
                    id,
                    parent: r.get(1)?,
                    from: vec![from],
                    to: vec![to],
                    actions: format!(
                        "on update {} on delete {}",
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?
                    ),
                }),
            }
        }
        for key in foreign {
            lines.push(format!(
                "foreign key on {table} ({}) references {} ({}) {}",
                key.from.join(", "),
                key.parent,
                key.to.join(", "),
                key.actions
            ));
        }
        Ok(())
    }
}

/// A value as a person reads it, for check reports and state comparisons.
pub fn text_of(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("x'{}'", bascule_patch::sha256_hex(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RowState;

    fn migration(id: u32, up: &str, down: &str) -> Migration {
        Migration::new("site", id, &format!("m{id}"), up, down)
    }

    #[test]
    fn the_dump_lists_every_kind_of_object_but_the_version_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = SqliteConnection::create("t", &dir.path().join("t.sqlite")).unwrap();
        let log = RunLog::discard();
        let up = "CREATE TABLE sites (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE members (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
                email TEXT NOT NULL, plan TEXT DEFAULT 'starter');
            CREATE UNIQUE INDEX members_email ON members (site_id, email);
            CREATE INDEX members_plan ON members (plan) WHERE plan IS NOT NULL;
            CREATE VIEW site_members AS SELECT s.name, m.email FROM sites s JOIN members m ON m.site_id = s.id;
            CREATE TRIGGER members_lower AFTER INSERT ON members BEGIN UPDATE members SET email = lower(email) WHERE id = NEW.id; END;";
        conn.apply_up(&migration(1, up, ""), Stamp::new("1.0.0", "test"), &log)
            .unwrap();
        let dump = conn.schema_dump().unwrap();
        assert!(dump.iter().all(|l| !l.contains(VERSION_TABLE)));
        insta::assert_snapshot!(dump.join("\n"));
    }

    #[test]
    fn up_then_down_restores_the_dump_and_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = SqliteConnection::create("t", &dir.path().join("t.sqlite")).unwrap();
        let log = RunLog::discard();
        conn.execute_script(
            "CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT);",
            &log,
        )
        .unwrap();
        let before = conn.schema_dump().unwrap();
        let m = migration(
            2,
            "CREATE INDEX members_email ON members (email);",
            "DROP INDEX members_email;",
        );
        conn.apply_up(&m, Stamp::new("1.1.0", "test"), &log)
            .unwrap();
        assert_eq!(conn.version_state().unwrap().version(), 2);
        assert!(conn
            .schema_dump()
            .unwrap()
            .contains(&"index members_email on members (email)".to_string()));
        conn.apply_down(&m, &log).unwrap();
        assert_eq!(conn.schema_dump().unwrap(), before);
        assert_eq!(conn.version_state().unwrap().version(), 0);
    }

    #[test]
    fn an_adopted_counter_becomes_a_baseline_row_and_old_tables_read_as_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = SqliteConnection::create("t", &dir.path().join("t.sqlite")).unwrap();
        let log = RunLog::discard();
        let adopt = Adopt {
            table: "db_version".into(),
            column: "version".into(),
        };
        assert_eq!(conn.adopted_version(&adopt).unwrap(), None);
        conn.raw()
            .execute_batch("CREATE TABLE db_version (version INTEGER); INSERT INTO db_version VALUES (3), (7);")
            .unwrap();
        let state = super::super::read_state(&mut conn, Some(&adopt)).unwrap();
        assert_eq!(
            (state.table_exists, state.adopted, state.version()),
            (false, Some(7), 7)
        );
        conn.record_baseline(7, &adopt.baseline_name()).unwrap();
        conn.apply_up(
            &migration(8, "CREATE TABLE t (id INTEGER);", "DROP TABLE t;"),
            Stamp::new("2.0.0", "test"),
            &log,
        )
        .unwrap();
        let state = conn.version_state().unwrap();
        assert_eq!(
            state
                .applied
                .iter()
                .map(|m| (m.id, m.state))
                .collect::<Vec<_>>(),
            [(7, RowState::Baseline), (8, RowState::Applied)]
        );
        assert_eq!(state.version(), 8);

        // A version table made before the `state` column existed reads as applied.
        let mut old = SqliteConnection::create("o", &dir.path().join("o.sqlite")).unwrap();
        old.raw()
            .execute_batch(
                "CREATE TABLE bascule_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, patch TEXT NOT NULL, applied_at TEXT NOT NULL);
                 INSERT INTO bascule_migrations VALUES (1, 'm1', 'x', '1.0.0', '');",
            )
            .unwrap();
        let state = old.version_state().unwrap();
        assert_eq!(
            (state.version(), state.applied[0].state),
            (1, RowState::Applied)
        );
    }

    #[test]
    fn create_refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        std::fs::write(&path, "").unwrap();
        let err = SqliteConnection::create("t", &path).err().unwrap();
        assert!(err.to_string().contains("already exists"), "{err}");
    }
}

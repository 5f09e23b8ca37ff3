//! PostgreSQL: tenants are databases of a server, or schemas of one database, through the
//! pure-Rust `postgres` client without TLS (`NoTls`), so the runtime stays one static binary.
//!
//! PostgreSQL's DDL is transactional: each migration runs in one transaction together with its
//! version row, exactly as on SQLite, so a database is always at a well-defined version, even if
//! the server or Bascule is killed mid-way.
//!
//! # Per-tenant schemas
//!
//! With a schema, the connection sets `search_path` to that schema only: the migration's
//! unqualified names, the version table and the schema dump all resolve inside it, so the same
//! scripts serve per-database and per-schema tenants. A schema that does not exist is an error
//! at connection time, not a silent write into another schema.
//!
//! Statements a transaction cannot hold (`CREATE INDEX CONCURRENTLY`, `VACUUM`) fail here; a
//! way to mark them is left to the pre-deploy mode of issue 4.

use postgres::{Client, Config, NoTls, SimpleQueryMessage};

use super::{
    backend_error, finish_dump, one_line, AppliedMigration, Connection, DbError, VersionState,
    VERSION_TABLE,
};
use crate::migration::Migration;
use crate::patch::Dialect;
use crate::runlog::RunLog;
use crate::sql::split_statements;

pub struct PostgresConnection {
    name: String,
    client: Client,
}

/// `name` quoted as a PostgreSQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` quoted as a PostgreSQL string literal.
fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Connects to `database` on the server of `url` (`postgres://user[:password]@host:port`).
fn client(name: &str, url: &str, database: &str) -> Result<Client, DbError> {
    let mut config: Config = url
        .parse()
        .map_err(|e| backend_error(name, format!("invalid server url: {e}")))?;
    config.dbname(database);
    config.connect(NoTls).map_err(|e| {
        backend_error(
            name,
            format!(
                "cannot connect to database `{database}` of {}: {e}",
                super::redact_url(url)
            ),
        )
    })
}

impl PostgresConnection {
    /// Connects to `database` (and, given one, confines the session to `schema`).
    pub fn open(
        name: &str,
        url: &str,
        database: &str,
        schema: Option<&str>,
    ) -> Result<PostgresConnection, DbError> {
        let mut this = PostgresConnection {
            name: name.to_string(),
            client: client(name, url, database)?,
        };
        if let Some(schema) = schema {
            this.execute(&format!("SET search_path TO {}", quote_ident(schema)))?;
            let current = this.text_rows("SELECT current_schema()")?;
            if current
                .first()
                .and_then(|r| r.first())
                .cloned()
                .flatten()
                .is_none()
            {
                return Err(this.err(format!(
                    "schema `{schema}` does not exist in database `{database}`"
                )));
            }
        }
        Ok(this)
    }

    /// The raw client, for tools and tests.
    pub fn raw(&mut self) -> &mut Client {
        &mut self.client
    }

    fn err(&self, e: impl std::fmt::Display) -> DbError {
        backend_error(&self.name, e)
    }

    fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(|e| self.err(e))
    }

    /// Rows of a query, every value as PostgreSQL's own text form (`None` for NULL).
    fn text_rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let messages = self.client.simple_query(sql).map_err(|e| self.err(e))?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Runs `sql` then `record` (the version row change) in one transaction.
    fn migrate(
        &mut self,
        label: &str,
        sql: &str,
        record: &str,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let db = self.name.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| backend_error(&db, e))?;
        for statement in split_statements(sql, Dialect::Postgres) {
            log.line(format_args!("{db}: {label}: {}", one_line(&statement.text)));
            tx.batch_execute(&statement.text)
                .map_err(|e| DbError::Statement {
                    db: db.clone(),
                    migration: label.to_string(),
                    statement: statement.text.clone(),
                    error: error_text(&e),
                })?;
        }
        tx.batch_execute(record)
            .map_err(|e| backend_error(&db, e))?;
        tx.commit().map_err(|e| backend_error(&db, e))
    }
}

/// The server's message (`ERROR: …`) rather than the client's generic "db error".
fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("NULL")
}

impl Connection for PostgresConnection {
    fn version_state(&mut self) -> Result<VersionState, DbError> {
        let exists = self.text_rows(&format!(
            "SELECT 1 FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = {}",
            quote_literal(VERSION_TABLE)
        ))?;
        if exists.is_empty() {
            return Ok(VersionState::default());
        }
        let rows = self.text_rows(&format!(
            "SELECT id, name, checksum FROM {VERSION_TABLE} ORDER BY id"
        ))?;
        let mut applied = Vec::with_capacity(rows.len());
        for row in rows {
            let id = text(&row[0])
                .parse::<u32>()
                .map_err(|e| self.err(format!("{VERSION_TABLE}: id `{}`: {e}", text(&row[0]))))?;
            applied.push(AppliedMigration {
                id,
                name: text(&row[1]).to_string(),
                checksum: text(&row[2]).to_string(),
            });
        }
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
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                patch TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )"
        );
        let record = format!(
            "{create};
             INSERT INTO {VERSION_TABLE} (id, name, checksum, patch, applied_at)
             VALUES ({}, {}, {}, {},
                     to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
            migration.id,
            quote_literal(&migration.name),
            quote_literal(&migration.checksum),
            quote_literal(patch)
        );
        let label = format!("{} up", migration.label());
        self.migrate(&label, &migration.up, &record, log)
    }

    fn apply_down(&mut self, migration: &Migration, log: &RunLog) -> Result<(), DbError> {
        let record = format!("DELETE FROM {VERSION_TABLE} WHERE id = {}", migration.id);
        let label = format!("{} down", migration.label());
        self.migrate(&label, &migration.down, &record, log)
    }

    fn drop_version_table(&mut self, log: &RunLog) -> Result<(), DbError> {
        log.line(format_args!(
            "{}: DROP TABLE IF EXISTS {VERSION_TABLE}",
            self.name
        ));
        self.execute(&format!("DROP TABLE IF EXISTS {VERSION_TABLE}"))
    }

    fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, DbError> {
        Ok(self
            .text_rows(sql)?
            .into_iter()
            .map(|row| row.iter().map(|v| text(v).to_string()).collect())
            .collect())
    }

    fn schema_dump(&mut self) -> Result<Vec<String>, DbError> {
        let mut lines = Vec::new();
        for query in dump::QUERIES {
            let sql = query
                .sql
                .replace("{VERSION}", &quote_literal(VERSION_TABLE));
            for row in self.text_rows(&sql)? {
                lines.push((query.line)(&row));
            }
        }
        Ok(finish_dump(lines))
    }

    fn execute_script(&mut self, sql: &str, log: &RunLog) -> Result<(), DbError> {
        self.migrate("script", sql, "SELECT 1", log)
    }
}

/// Databases of the server at `url` whose name matches the `LIKE` pattern, sorted.
pub fn list_databases(url: &str, pattern: &str) -> Result<Vec<String>, DbError> {
    let server = super::redact_url(url);
    let mut client = client(&server, url, "postgres")?;
    names(
        &server,
        &mut client,
        &format!(
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname LIKE {}",
            quote_literal(pattern)
        ),
    )
}

/// Schemas of `database` whose name matches the `LIKE` pattern, sorted.
pub fn list_schemas(url: &str, database: &str, pattern: &str) -> Result<Vec<String>, DbError> {
    let server = format!("{}/{database}", super::redact_url(url));
    let mut client = client(&server, url, database)?;
    names(
        &server,
        &mut client,
        &format!(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE {}",
            quote_literal(pattern)
        ),
    )
}

fn names(server: &str, client: &mut Client, sql: &str) -> Result<Vec<String>, DbError> {
    let messages = client
        .simple_query(sql)
        .map_err(|e| backend_error(server, e))?;
    let mut names: Vec<String> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    names.sort();
    Ok(names)
}

/// The catalog queries of [`PostgresConnection::schema_dump`], one per kind of object, all
/// confined to `current_schema()`.
mod dump {
    use super::text;

    pub(super) struct DumpQuery {
        pub sql: &'static str,
        pub line: fn(&[Option<String>]) -> String,
    }

    fn at(row: &[Option<String>], i: usize) -> &str {
        row.get(i).map_or("NULL", text)
    }

    pub(super) const QUERIES: &[DumpQuery] = &[
        DumpQuery {
            sql: "SELECT c.relname,
                    CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                      WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' ELSE 'foreign table' END,
                    CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                    AND c.relname <> {VERSION}",
            line: |r| match r.get(2) {
                Some(Some(body)) => format!("{} {}: {}", at(r, 1), at(r, 0), super::one_line(body)),
                _ => format!("{} {}", at(r, 1), at(r, 0)),
            },
        },
        DumpQuery {
            sql: "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                    pg_get_expr(d.adbin, d.adrelid)
                  FROM pg_attribute a
                  JOIN pg_class c ON c.oid = a.attrelid
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                    AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> {VERSION}",
            line: |r| {
                let mut line = format!("column {}.{} {}", at(r, 0), at(r, 1), at(r, 2));
                line.push_str(if at(r, 3) == "t" {
                    " not null"
                } else {
                    " null"
                });
                if let Some(Some(default)) = r.get(4) {
                    line.push_str(&format!(" default {default}"));
                }
                line
            },
        },
        DumpQuery {
            sql: "SELECT i.relname, t.relname,
                    (SELECT string_agg(pg_get_indexdef(ix.indexrelid, k, true), ', ' ORDER BY k)
                       FROM generate_series(1, ix.indnkeyatts) k),
                    ix.indisunique, am.amname, pg_get_expr(ix.indpred, ix.indrelid, true)
                  FROM pg_index ix
                  JOIN pg_class i ON i.oid = ix.indexrelid
                  JOIN pg_class t ON t.oid = ix.indrelid
                  JOIN pg_namespace n ON n.oid = t.relnamespace
                  JOIN pg_am am ON am.oid = i.relam
                  WHERE n.nspname = current_schema() AND t.relname <> {VERSION}",
            line: |r| {
                let mut line = format!("index {} on {} ({})", at(r, 0), at(r, 1), at(r, 2));
                if at(r, 3) == "t" {
                    line.push_str(" unique");
                }
                if at(r, 4) != "btree" {
                    line.push_str(&format!(" using {}", at(r, 4)));
                }
                if let Some(Some(predicate)) = r.get(5) {
                    line.push_str(&format!(" where {predicate}"));
                }
                line
            },
        },
        DumpQuery {
            sql: "SELECT con.conname, t.relname, pg_get_constraintdef(con.oid, true)
                  FROM pg_constraint con
                  JOIN pg_class t ON t.oid = con.conrelid
                  JOIN pg_namespace n ON n.oid = con.connamespace
                  WHERE n.nspname = current_schema() AND t.relname <> {VERSION}",
            line: |r| format!("constraint {} on {}: {}", at(r, 0), at(r, 1), at(r, 2)),
        },
        DumpQuery {
            sql: "SELECT tg.tgname, t.relname, pg_get_triggerdef(tg.oid, true)
                  FROM pg_trigger tg
                  JOIN pg_class t ON t.oid = tg.tgrelid
                  JOIN pg_namespace n ON n.oid = t.relnamespace
                  WHERE NOT tg.tgisinternal AND n.nspname = current_schema()",
            line: |r| format!("trigger {} on {}: {}", at(r, 0), at(r, 1), at(r, 2)),
        },
        DumpQuery {
            sql: "SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc)
                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = current_schema()",
            line: |r| format!("function {}({}) body md5 {}", at(r, 0), at(r, 1), at(r, 2)),
        },
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("site_0001"), "\"site_0001\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}

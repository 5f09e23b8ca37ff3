//! PostgreSQL: tenants are databases of a server, or schemas of one database, through the
//! pure-Rust `postgres` client with TLS by rustls (ring provider, no OpenSSL: [`tls`]), so the
//! runtime stays one static binary.
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
//! # `-- bascule:no-transaction`
//!
//! Statements a transaction cannot hold (`CREATE INDEX CONCURRENTLY`, `DROP INDEX
//! CONCURRENTLY`, `VACUUM`) go in a migration of their own whose `up.sql` or `down.sql` carries
//! the marker ([`bascule_patch::NO_TRANSACTION`]). Such a
//! migration runs statement by statement outside a transaction with the protocol of MariaDB: its
//! version row is written `applying` first and becomes `applied` after the last statement; its
//! down is idempotent (lint `idempotent-down`), so the undo of a half-run one is its down.
//!
//! # Connections
//!
//! A connection is bound to one database. [`PostgresConnection::switch_to`] moves it to another
//! schema of the same database (`SET search_path`); per-database tenants need a connection each.
//! [`read_schema_versions`] reads the version tables of every schema of a database in a few
//! queries. Connections have a connect timeout and TCP keepalives, so a vanished server fails
//! the run rather than hanging it.
//!
//! # TLS
//!
//! The url's `sslmode` (`disable`, `prefer`, `require`, `verify-full`) and `sslrootcert` (a CA
//! file, PEM) decide, as with libpq, except that the certificate and host name are always
//! verified when TLS is used; without either parameter the connection is clear text. Every
//! connection (tenants, survey, discovery, migration locks) is opened by `client`, which explains
//! TLS failures with what to change. Details in [`tls`].

use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, SimpleQueryMessage};

use super::run_statements_one_by_one;
use super::{
    backend_error, finish_dump, one_line, Adopt, Connection, DbError, DbTarget, Location, RowState,
    SessionTimeouts, Stamp, VersionState, VERSION_TABLE,
};
use bascule_patch::Dialect;
use bascule_patch::Migration;
use bascule_runlog::RunLog;

mod chain;
mod discovery;
pub mod tls;
mod versions;

use chain::{by_transaction, Group, Link};
pub use chain::{down_script, up_script};
pub use discovery::{list_databases, list_schemas};
pub use versions::read_schema_versions;
use versions::{parse_counter, row_of};

pub struct PostgresConnection {
    name: String,
    url: String,
    database: String,
    client: Client,
    /// Limits given by [`Connection::set_timeouts`], set on the server before the next
    /// migration or down (see [`crate::timeouts`]).
    pending_timeouts: Option<SessionTimeouts>,
}

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS bascule_migrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    patch TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'applied',
    run TEXT
)";

/// The statement inserting version row `id` in `state`, written by `stamp` (`None`: a baseline).
fn insert_row(
    id: u32,
    name: &str,
    checksum: &str,
    stamp: Option<Stamp<'_>>,
    state: RowState,
) -> String {
    insert_rows(&[row_values(id, name, checksum, stamp, state)])
}

/// One statement inserting every row of `values` (each from [`row_values`]).
fn insert_rows(values: &[String]) -> String {
    format!(
        "INSERT INTO {VERSION_TABLE} (id, name, checksum, patch, applied_at, state, run) VALUES {}",
        values.join(", ")
    )
}

/// Version row `id` in `state`, written by `stamp` (`None`: a baseline), as a `VALUES` tuple.
fn row_values(
    id: u32,
    name: &str,
    checksum: &str,
    stamp: Option<Stamp<'_>>,
    state: RowState,
) -> String {
    format!(
        "({id}, {}, {}, {}, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), {}, {})",
        quote_literal(name),
        quote_literal(checksum),
        quote_literal(stamp.map_or("", |s| s.patch)),
        quote_literal(state.as_str()),
        stamp.map_or("NULL".to_string(), |s| quote_literal(s.run))
    )
}

/// `name` quoted as a PostgreSQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` quoted as a PostgreSQL string literal.
fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Connects to `database` on the server of `url` (`postgres://user[:password]@host:port`, TLS
/// as its `sslmode` and `sslrootcert` say: see [`tls`]). Every connection of this backend and of
/// the migration locks is opened here.
pub(crate) fn client(name: &str, url: &str, database: &str) -> Result<Client, DbError> {
    let redacted = || super::redact_url(url);
    let url_tls = tls::UrlTls::parse(url)
        .map_err(|e| backend_error(name, format!("invalid server url {}: {e}", redacted())))?;
    let mut config: Config = url_tls
        .url
        .parse()
        .map_err(|e| backend_error(name, format!("invalid server url: {e}")))?;
    config.dbname(database);
    if let Some(mode) = url_tls.default_mode {
        config.ssl_mode(mode);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(10));
    let root_cert = url_tls.root_cert.as_deref();
    let connector = tls::MakeRustls::new(root_cert)
        .map_err(|e| backend_error(name, format!("{}: {e}", redacted())))?;
    config.connect(connector).map_err(|e| {
        let why = tls::explain(&e, root_cert).unwrap_or_else(|| e.to_string());
        backend_error(
            name,
            format!(
                "cannot connect to database `{database}` of {}: {why}",
                redacted()
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
            url: url.to_string(),
            database: database.to_string(),
            client: client(name, url, database)?,
            pending_timeouts: None,
        };
        if let Some(schema) = schema {
            this.enter_schema(schema)?;
        }
        Ok(this)
    }

    /// Confines the session to `schema`, which must exist (one round trip).
    fn enter_schema(&mut self, schema: &str) -> Result<(), DbError> {
        let current = self.text_rows(&format!(
            "SET search_path TO {}; SELECT current_schema()",
            quote_ident(schema)
        ))?;
        if current
            .first()
            .and_then(|r| r.first())
            .cloned()
            .flatten()
            .is_none()
        {
            return Err(self.err(format!(
                "schema `{schema}` does not exist in database `{}`",
                self.database
            )));
        }
        Ok(())
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
        Ok(text_rows_of(&messages))
    }

    /// Runs `sql` statement by statement, each committed on its own (no transaction); a failure
    /// says how many committed before it.
    fn run_outside_transaction(
        &mut self,
        label: &str,
        sql: &str,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let name = self.name.clone();
        run_statements_one_by_one(&name, label, sql, Dialect::Postgres, log, |text| {
            self.client.batch_execute(text).map_err(|e| error_text(&e))
        })
    }

    /// Sets the limits [`Connection::set_timeouts`] gave, if not yet set, and logs the statement:
    /// called before the first statement of migrations or downs.
    fn set_pending_timeouts(&mut self, log: &RunLog) -> Result<(), DbError> {
        let Some(timeouts) = self.pending_timeouts.take() else {
            return Ok(());
        };
        let sql = timeouts.postgres_sql();
        log.line(format_args!("{}: session timeouts: {sql}", self.name));
        self.execute(&sql)
    }

    /// Whether `table` exists in the current schema: two catalog index lookups (the
    /// `information_schema` views scan every relation of the database, thousands with
    /// per-tenant schemas).
    fn has_table(&mut self, table: &str) -> Result<bool, DbError> {
        let rows = self.text_rows(&format!(
            "SELECT 1 FROM pg_catalog.pg_class
             WHERE relname = {} AND relnamespace =
                   (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())",
            quote_literal(table)
        ))?;
        Ok(!rows.is_empty())
    }
}

/// The rows of a simple query's answer, every value as text (`None` for NULL).
fn text_rows_of(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
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
    /// One round trip: the table is read, and its absence is the server's "undefined table".
    /// The survey reads every tenant this way, each right after a new connection when tenants
    /// are databases: a catalog lookup first would add a round trip to each.
    fn version_state(&mut self) -> Result<VersionState, DbError> {
        let sql = format!("SELECT id, name, checksum, state, run FROM {VERSION_TABLE} ORDER BY id");
        let rows = match self.client.simple_query(&sql) {
            Ok(messages) => text_rows_of(&messages),
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
                return Ok(VersionState::default())
            }
            Err(e) => return Err(self.err(e)),
        };
        let mut applied = Vec::with_capacity(rows.len());
        for row in rows {
            applied.push(row_of(&self.name, &row)?);
        }
        Ok(VersionState {
            table_exists: true,
            applied,
            adopted: None,
        })
    }

    fn apply_up(
        &mut self,
        migration: &Migration,
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        self.apply_ups(&[migration], stamp, log)
    }

    fn apply_down(&mut self, migration: &Migration, log: &RunLog) -> Result<(), DbError> {
        self.apply_downs(&[migration], log)
    }

    /// Consecutive transactional migrations run as one chain, each in its own transaction
    /// ([`PostgresConnection::up_chain`]); a `-- bascule:no-transaction` one runs alone, between
    /// chains.
    fn apply_ups(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        self.set_pending_timeouts(log)?;
        self.ups_by_group(migrations, stamp, log, Self::up_chain)
    }

    /// Consecutive transactional migrations run as one transaction
    /// ([`PostgresConnection::up_in_one_transaction`]); a `-- bascule:no-transaction` one runs
    /// alone, between them.
    fn apply_ups_in_downtime(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        self.set_pending_timeouts(log)?;
        self.ups_by_group(migrations, stamp, log, Self::up_in_one_transaction)
    }

    fn apply_downs(&mut self, migrations: &[&Migration], log: &RunLog) -> Result<(), DbError> {
        self.set_pending_timeouts(log)?;
        for group in by_transaction(migrations) {
            match group {
                Group::Outside(m) => self.down_outside_transaction(m, log)?,
                Group::Chain(chain) => {
                    let links: Vec<Link<'_>> = chain.iter().map(|m| Link::down(m)).collect();
                    self.run_chain(&links, log)?;
                }
            }
        }
        Ok(())
    }

    fn drop_version_table(&mut self, log: &RunLog) -> Result<(), DbError> {
        self.set_pending_timeouts(log)?;
        log.line(format_args!(
            "{}: DROP TABLE IF EXISTS {VERSION_TABLE}",
            self.name
        ));
        self.execute(&format!("DROP TABLE IF EXISTS {VERSION_TABLE}"))
    }

    /// One transaction for the whole undo of a database, unless a down must run outside one:
    /// it is back at its starting version or, if anything fails, exactly where it was.
    fn undo(
        &mut self,
        migrations: &[&Migration],
        drop_version_table: bool,
        log: &RunLog,
    ) -> Result<(), DbError> {
        self.set_pending_timeouts(log)?;
        if migrations
            .iter()
            .any(|m| m.runs_outside_transaction(Dialect::Postgres))
        {
            return super::undo_down_by_down(self, migrations, drop_version_table, log);
        }
        self.undo_in_one_transaction(migrations, drop_version_table, log)
    }

    fn record_baseline(&mut self, version: u32, origin: &str) -> Result<(), DbError> {
        let sql = format!(
            "{CREATE_VERSION_TABLE}; {}",
            insert_row(version, origin, "", None, RowState::Baseline)
        );
        let name = self.name.as_str();
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| backend_error(name, e))?;
        tx.batch_execute(&sql).map_err(|e| backend_error(name, e))?;
        tx.commit().map_err(|e| backend_error(name, e))
    }

    fn adopted_version(&mut self, adopt: &Adopt) -> Result<Option<u32>, DbError> {
        if !self.has_table(&adopt.table)? {
            return Ok(None);
        }
        let rows = self.text_rows(&format!(
            "SELECT max({})::bigint FROM {}",
            quote_ident(&adopt.column),
            quote_ident(&adopt.table)
        ))?;
        let value = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .flatten();
        parse_counter(&self.name, adopt, value.as_deref())
    }

    fn set_timeouts(&mut self, timeouts: SessionTimeouts) {
        self.pending_timeouts = Some(timeouts);
    }

    fn switch_to(&mut self, target: &DbTarget) -> Result<bool, DbError> {
        let Location::Postgres {
            url,
            database,
            schema: Some(schema),
        } = &target.location
        else {
            return Ok(false);
        };
        if *url != self.url || *database != self.database {
            return Ok(false);
        }
        self.name = target.to_string();
        self.enter_schema(schema)?;
        Ok(true)
    }

    fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, DbError> {
        Ok(self
            .text_rows(sql)?
            .into_iter()
            .map(|row| row.iter().map(|v| text(v).to_string()).collect())
            .collect())
    }

    fn server_facts(&mut self) -> Result<crate::ServerFacts, DbError> {
        let name = self.name.clone();
        crate::facts::read(
            self,
            &name,
            |_| "postgres",
            "SELECT current_setting('server_version'), current_setting('server_encoding'), \
             d.datcollate, d.datctype, \
             coalesce(to_jsonb(d) ->> 'datlocprovider', 'c'), \
             coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale', ''), \
             current_setting('TimeZone'), current_setting('standard_conforming_strings') \
             FROM pg_database d WHERE d.datname = current_database()",
            &[
                "encoding",
                "collation",
                "ctype",
                // ICU (`i`) or builtin collations ignore datcollate; their locale is here. Read
                // through to_jsonb: the column is daticulocale in 15 and 16, datlocale from 17.
                "locale_provider",
                "icu_locale",
                "time_zone",
                "standard_conforming_strings",
            ],
        )
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

    fn content_digest(&mut self) -> Result<String, DbError> {
        crate::content::digest(
            self,
            "SELECT table_name FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            quote_ident,
        )
    }

    fn execute_script(&mut self, sql: &str, log: &RunLog) -> Result<(), DbError> {
        let script = Link {
            label: "script".into(),
            sql,
            record: "SELECT 1".into(),
            committed: None,
        };
        self.run_chain(&[script], log)
    }
}

mod dump;

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

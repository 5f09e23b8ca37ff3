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

use std::collections::BTreeMap;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, SimpleQueryMessage};

use super::run_statements_one_by_one;
use super::{
    backend_error, finish_dump, one_line, Adopt, AppliedMigration, Connection, DbError, DbTarget,
    Location, RowState, Stamp, VersionState, VERSION_TABLE,
};
use bascule_patch::split_statements;
use bascule_patch::Dialect;
use bascule_patch::Migration;
use bascule_runlog::RunLog;

pub mod tls;

pub struct PostgresConnection {
    name: String,
    url: String,
    database: String,
    client: Client,
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

/// Whether `migration` runs outside a transaction (`-- bascule:no-transaction` in its up or down).
pub fn runs_outside_transaction(migration: &Migration) -> bool {
    migration.runs_outside_transaction(Dialect::Postgres)
}

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

/// Migrations in runs: consecutive transactional ones together, each no-transaction one alone.
enum Group<'a, 'm> {
    Chain(&'a [&'m Migration]),
    Outside(&'m Migration),
}

fn by_transaction<'a, 'm>(migrations: &'a [&'m Migration]) -> Vec<Group<'a, 'm>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for (i, migration) in migrations.iter().enumerate() {
        if runs_outside_transaction(migration) {
            if start < i {
                groups.push(Group::Chain(&migrations[start..i]));
            }
            groups.push(Group::Outside(migration));
            start = i + 1;
        }
    }
    if start < migrations.len() {
        groups.push(Group::Chain(&migrations[start..]));
    }
    groups
}

impl PostgresConnection {
    /// A `-- bascule:no-transaction` up: its row `applying`, its statements one by one, its
    /// row `applied`.
    fn up_outside_transaction(
        &mut self,
        migration: &Migration,
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let label = format!("{} up", migration.label());
        let (id, name, sum) = (migration.id, &migration.name, &migration.checksum);
        self.execute(CREATE_VERSION_TABLE)?;
        log.line(format_args!(
            "{}: {label}: version row `applying`",
            self.name
        ));
        self.execute(&insert_row(id, name, sum, Some(stamp), RowState::Applying))?;
        self.run_outside_transaction(&label, &migration.up, log)?;
        self.execute(&format!(
            "UPDATE {VERSION_TABLE} SET state = 'applied' WHERE id = {id}"
        ))?;
        log.line(format_args!(
            "{}: {label}: version row `applied`",
            self.name
        ));
        Ok(())
    }

    /// A `-- bascule:no-transaction` down: its row `applying`, its statements one by one, its
    /// row deleted.
    fn down_outside_transaction(
        &mut self,
        migration: &Migration,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let label = format!("{} down", migration.label());
        if self.has_table(VERSION_TABLE)? {
            self.execute(&format!(
                "UPDATE {VERSION_TABLE} SET state = 'applying' WHERE id = {}",
                migration.id
            ))?;
        }
        self.run_outside_transaction(&label, &migration.down, log)?;
        self.execute(&format!(
            "DELETE FROM {VERSION_TABLE} WHERE id = {}",
            migration.id
        ))?;
        log.line(format_args!("{}: {label}: version row deleted", self.name));
        Ok(())
    }
}

/// One transactional migration (or down) of a chain: its statements, then its version-row change.
struct Link<'m> {
    label: String,
    sql: &'m str,
    record: String,
    /// A query that returns a row once this link has committed: how a failure of the request
    /// carrying this link's `COMMIT` tells which half failed.
    committed: Option<String>,
}

impl<'m> Link<'m> {
    /// The up of `migration`; the first link of a chain also creates the version table if it is
    /// missing (in its transaction: the later links only run once it committed).
    fn up(migration: &'m Migration, stamp: Stamp<'_>, first: bool) -> Link<'m> {
        let create = if first {
            format!("{CREATE_VERSION_TABLE};\n")
        } else {
            String::new()
        };
        Link {
            label: format!("{} up", migration.label()),
            sql: &migration.up,
            record: format!(
                "{create}{}",
                insert_row(
                    migration.id,
                    &migration.name,
                    &migration.checksum,
                    Some(stamp),
                    RowState::Applied
                )
            ),
            committed: Some(format!(
                "SELECT 1 FROM {VERSION_TABLE} WHERE id = {} AND checksum = {} AND run = {}",
                migration.id,
                quote_literal(&migration.checksum),
                quote_literal(stamp.run)
            )),
        }
    }

    fn down(migration: &'m Migration) -> Link<'m> {
        Link {
            label: format!("{} down", migration.label()),
            sql: &migration.down,
            record: format!("DELETE FROM {VERSION_TABLE} WHERE id = {}", migration.id),
            committed: Some(format!(
                "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM {VERSION_TABLE} WHERE id = {})",
                migration.id
            )),
        }
    }
}

/// The ups of `migrations` (transactional ones) with their version rows, as one script of the
/// statements [`PostgresConnection`] runs in `apply` ([`Connection::apply_ups_in_downtime`]):
/// one transaction, the ups, then their rows. What the migration benchmark feeds `psql` to
/// measure the server's share of Bascule's bookkeeping.
pub fn up_script(migrations: &[&Migration], stamp: Stamp<'_>) -> String {
    let statements = statements_script(migrations.iter().map(|m| m.up.as_str()));
    format!(
        "BEGIN;\n{statements}{};\nCOMMIT;\n",
        up_record(migrations, stamp)
    )
}

/// Every statement of `scripts`, each ended by `;` and a new line.
fn statements_script<'s>(scripts: impl Iterator<Item = &'s str>) -> String {
    scripts
        .flat_map(|sql| split_statements(sql, Dialect::Postgres))
        .map(|s| format!("{};\n", s.text))
        .collect()
}

/// The undo of `migrations` (transactional ones), in the order given, as one script of the
/// statements [`PostgresConnection`]'s undo runs when the version table stays: one transaction,
/// the downs, then their rows forgotten (see [`up_script`]).
pub fn down_script(migrations: &[&Migration]) -> String {
    let statements = statements_script(migrations.iter().map(|m| m.down.as_str()));
    let record = undo_record(migrations, false).unwrap_or_default();
    format!("BEGIN;\n{statements}{record};\nCOMMIT;\n")
}

/// The statements ending the ups of `migrations` in one transaction: the version table created
/// if it is missing, and every migration's row, `applied`, in one insert.
fn up_record(migrations: &[&Migration], stamp: Stamp<'_>) -> String {
    let rows: Vec<String> = migrations
        .iter()
        .map(|m| row_values(m.id, &m.name, &m.checksum, Some(stamp), RowState::Applied))
        .collect();
    format!("{CREATE_VERSION_TABLE};\n{}", insert_rows(&rows))
}

/// The statement ending the undo of `migrations` in one transaction: the version table dropped,
/// or their rows forgotten; `None` when there is nothing to record.
fn undo_record(migrations: &[&Migration], drop_version_table: bool) -> Option<String> {
    let ids: Vec<String> = migrations.iter().map(|m| m.id.to_string()).collect();
    match (drop_version_table, ids.is_empty()) {
        (true, _) => Some(format!("DROP TABLE IF EXISTS {VERSION_TABLE}")),
        (false, true) => None,
        (false, false) => Some(format!(
            "DELETE FROM {VERSION_TABLE} WHERE id IN ({})",
            ids.join(", ")
        )),
    }
}

impl PostgresConnection {
    /// Runs transactional migrations one after another, each in its own transaction, in as few
    /// round trips as the failure report allows: every statement goes alone (a failure names
    /// it), `BEGIN` rides with a migration's first statement, and its version row and `COMMIT`
    /// ride with the next migration's first statement. When such a shared request fails, the
    /// version table tells which half failed.
    fn run_chain(&mut self, links: &[Link<'_>], log: &RunLog) -> Result<(), DbError> {
        // The version row and `COMMIT` of the link before, waiting to ride with the next request.
        let mut pending: Option<(&Link<'_>, String)> = None;
        for link in links {
            let statements = split_statements(link.sql, Dialect::Postgres);
            if statements.is_empty() {
                self.send_pending(pending.take())?;
            }
            let mut prefix = pending
                .as_ref()
                .map_or(String::new(), |(_, tail)| tail.clone());
            prefix.push_str("BEGIN;\n");
            for statement in statements {
                log.line(format_args!(
                    "{}: {}: {}",
                    self.name,
                    link.label,
                    one_line(&statement.text)
                ));
                let request = format!("{prefix}{}", statement.text);
                if let Err(e) = self.client.batch_execute(&request) {
                    let previous = pending.take().map(|(previous, _)| previous);
                    return Err(self.after_failure(previous, &e).unwrap_or_else(|| {
                        DbError::Statement {
                            db: self.name.clone(),
                            migration: link.label.clone(),
                            statement: statement.text.clone(),
                            error: error_text(&e),
                        }
                    }));
                }
                prefix.clear();
                pending = None;
            }
            pending = Some((link, format!("{prefix}{};\nCOMMIT;\n", link.record)));
        }
        self.send_pending(pending)
    }

    /// The downs' statements one by one (a failure names its statement), `BEGIN` riding with
    /// the first; then, with `COMMIT`, one statement forgetting every migration undone — or the
    /// version table dropped, when the undo removes it: the rows need no deleting first.
    fn undo_in_one_transaction(
        &mut self,
        migrations: &[&Migration],
        drop_version_table: bool,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let scripts: Vec<(String, &str)> = migrations
            .iter()
            .map(|m| (format!("{} down", m.label()), m.down.as_str()))
            .collect();
        let prefix = self.statements_in_transaction(&scripts, log)?;
        let Some(record) = undo_record(migrations, drop_version_table) else {
            return Ok(());
        };
        log.line(format_args!("{}: {record}", self.name));
        self.commit_with(&prefix, &record, "recording the undo")
    }

    /// The ups' statements one by one (a failure names its statement), `BEGIN` riding with the
    /// first; then, with `COMMIT`, the version table created if missing and every row
    /// `applied`. One commit for the database, which a failure anywhere leaves as it was.
    fn up_in_one_transaction(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let scripts: Vec<(String, &str)> = migrations
            .iter()
            .map(|m| (format!("{} up", m.label()), m.up.as_str()))
            .collect();
        let prefix = self.statements_in_transaction(&scripts, log)?;
        for (label, _) in &scripts {
            log.line(format_args!(
                "{}: {label}: version row `applied`",
                self.name
            ));
        }
        self.commit_with(&prefix, &up_record(migrations, stamp), "recording it")
    }

    /// Runs the statements of `scripts` (label, SQL) one by one in a transaction it opens with
    /// the first; on failure the transaction is rolled back and the statement named. Returns
    /// what the request that ends the transaction must start with: `BEGIN` if nothing was sent.
    fn statements_in_transaction(
        &mut self,
        scripts: &[(String, &str)],
        log: &RunLog,
    ) -> Result<String, DbError> {
        let mut prefix = String::from("BEGIN;\n");
        for (label, sql) in scripts {
            for statement in split_statements(sql, Dialect::Postgres) {
                log.line(format_args!(
                    "{}: {label}: {}",
                    self.name,
                    one_line(&statement.text)
                ));
                if let Err(e) = self
                    .client
                    .batch_execute(&format!("{prefix}{}", statement.text))
                {
                    let _ = self.client.batch_execute("ROLLBACK");
                    return Err(DbError::Statement {
                        db: self.name.clone(),
                        migration: label.clone(),
                        statement: statement.text.clone(),
                        error: error_text(&e),
                    });
                }
                prefix.clear();
            }
        }
        Ok(prefix)
    }

    /// Ends the transaction [`Self::statements_in_transaction`] opened with `record`, in one
    /// request; on failure it is rolled back, and the error says it was `doing` this.
    fn commit_with(&mut self, prefix: &str, record: &str, doing: &str) -> Result<(), DbError> {
        self.client
            .batch_execute(&format!("{prefix}{record};\nCOMMIT"))
            .map_err(|e| {
                let _ = self.client.batch_execute("ROLLBACK");
                self.err(format!("{doing}: {}", error_text(&e)))
            })
    }

    /// The ups of `migrations`: a `-- bascule:no-transaction` one alone, outside a transaction;
    /// each run of consecutive transactional ones through `chain`.
    fn ups_by_group(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
        chain: fn(&mut Self, &[&Migration], Stamp<'_>, &RunLog) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        for group in by_transaction(migrations) {
            match group {
                Group::Outside(m) => self.up_outside_transaction(m, stamp, log)?,
                Group::Chain(migrations) => chain(self, migrations, stamp, log)?,
            }
        }
        Ok(())
    }

    /// Transactional ups, each in its own transaction ([`PostgresConnection::run_chain`]).
    fn up_chain(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let links: Vec<Link<'_>> = migrations
            .iter()
            .enumerate()
            .map(|(i, m)| Link::up(m, stamp, i == 0))
            .collect();
        self.run_chain(&links, log)
    }

    /// Sends a link's version row and `COMMIT` on their own.
    fn send_pending(&mut self, pending: Option<(&Link<'_>, String)>) -> Result<(), DbError> {
        let Some((link, tail)) = pending else {
            return Ok(());
        };
        self.client.batch_execute(&tail).map_err(|e| {
            let _ = self.client.batch_execute("ROLLBACK");
            self.err(format!("{}: recording it: {}", link.label, error_text(&e)))
        })
    }

    /// Ends the aborted transaction, and tells whether the failure was the commit of the
    /// previous link (`Some` error) rather than the statement sent with it (`None`; also when
    /// the server cannot say, gone with the connection).
    fn after_failure(
        &mut self,
        previous: Option<&Link<'_>>,
        e: &postgres::Error,
    ) -> Option<DbError> {
        // Ending the aborted transaction makes the session usable; if the server is gone this
        // fails too and changes nothing.
        let _ = self.client.batch_execute("ROLLBACK");
        let previous = previous?;
        let committed = match self.client.simple_query(previous.committed.as_deref()?) {
            Ok(messages) => !text_rows_of(&messages).is_empty(),
            // The version table the earlier link was creating is not there: it did not commit.
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => false,
            Err(_) => return None,
        };
        (!committed).then(|| {
            self.err(format!(
                "{}: recording it: {}",
                previous.label,
                error_text(e)
            ))
        })
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
        self.ups_by_group(migrations, stamp, log, Self::up_in_one_transaction)
    }

    fn apply_downs(&mut self, migrations: &[&Migration], log: &RunLog) -> Result<(), DbError> {
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
        if migrations.iter().any(|m| runs_outside_transaction(m)) {
            return super::undo_down_by_down(self, migrations, drop_version_table, log);
        }
        self.undo_in_one_transaction(migrations, drop_version_table, log)
    }

    fn record_baseline(&mut self, version: u32, adopt: &Adopt) -> Result<(), DbError> {
        let sql = format!(
            "{CREATE_VERSION_TABLE}; {}",
            insert_row(
                version,
                &adopt.baseline_name(),
                "",
                None,
                RowState::Baseline
            )
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
        let script = Link {
            label: "script".into(),
            sql,
            record: "SELECT 1".into(),
            committed: None,
        };
        self.run_chain(&[script], log)
    }
}

/// One version row read as text: id, name, checksum, state, run.
fn row_of(db: &str, row: &[Option<String>]) -> Result<AppliedMigration, DbError> {
    let at = |i: usize| row.get(i).map_or("NULL", text);
    let id = at(0)
        .parse::<u32>()
        .map_err(|e| backend_error(db, format!("{VERSION_TABLE}: id `{}`: {e}", at(0))))?;
    Ok(AppliedMigration {
        id,
        name: at(1).to_string(),
        checksum: at(2).to_string(),
        state: RowState::parse(db, at(3))?,
        run: row.get(4).cloned().flatten(),
    })
}

fn parse_counter(db: &str, adopt: &Adopt, value: Option<&str>) -> Result<Option<u32>, DbError> {
    let value = value
        .map(|v| {
            v.parse::<u64>().map_err(|e| {
                backend_error(db, format!("{}.{} = `{v}`: {e}", adopt.table, adopt.column))
            })
        })
        .transpose()?;
    super::counter(db, adopt, value)
}

/// The version state of each of `schemas` of `database`, in a few queries on one connection:
/// which schemas have a version table (or the adopted counter), then `UNION ALL`s over them.
/// Schemas missing from the database are missing from the map.
pub fn read_schema_versions(
    url: &str,
    database: &str,
    schemas: &[String],
    adopt: Option<&Adopt>,
    workers: usize,
) -> Result<BTreeMap<String, VersionState>, DbError> {
    let server = format!("{}/{database}", super::redact_url(url));
    let mut client = client(&server, url, database)?;
    let mut query = |sql: &str| -> Result<Vec<Vec<Option<String>>>, DbError> {
        client
            .simple_query(sql)
            .map_err(|e| backend_error(&server, error_text(&e)))
            .map(|messages| text_rows_of(&messages))
    };
    let existing: std::collections::BTreeSet<String> = query("SELECT nspname FROM pg_namespace")?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let mut states: BTreeMap<String, VersionState> = schemas
        .iter()
        .filter(|s| existing.contains(*s))
        .map(|s| (s.clone(), VersionState::default()))
        .collect();
    let mut tables = vec![quote_literal(VERSION_TABLE)];
    tables.extend(adopt.map(|a| quote_literal(&a.table)));
    let found: Vec<(String, String)> = query(&format!(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relname IN ({}) AND c.relkind IN ('r', 'p', 'v')",
        tables.join(", ")
    ))?
    .into_iter()
    .map(|r| (text(&r[0]).to_string(), text(&r[1]).to_string()))
    .filter(|(schema, _)| states.contains_key(schema))
    .collect();
    let versioned: Vec<String> = found
        .iter()
        .filter(|(_, t)| t == VERSION_TABLE)
        .map(|(s, _)| s.clone())
        .collect();
    for schema in &versioned {
        if let Some(state) = states.get_mut(schema) {
            state.table_exists = true;
        }
    }
    let batches = super::union_all(&versioned, |schema| {
        format!(
            "SELECT {}, id, name, checksum, state, run FROM {}.{VERSION_TABLE}",
            quote_literal(schema),
            quote_ident(schema)
        )
    });
    // Opening thousands of tables is server work that several connections share.
    let read = crate::parallel::map_grouped(
        &batches,
        |_| (),
        workers,
        crate::parallel::OnError::Stop,
        || None::<Client>,
        |worker, sql| {
            let conn = match worker {
                Some(conn) => conn,
                None => worker.insert(self::client(&server, url, database)?),
            };
            conn.simple_query(sql)
                .map_err(|e| backend_error(&server, error_text(&e)))
                .map(|messages| text_rows_of(&messages))
        },
    )
    .map_err(|mut errors| errors.remove(0).1)?;
    for row in read.into_iter().flatten() {
        let schema = text(&row[0]).to_string();
        let migration = row_of(&schema, &row[1..])?;
        if let Some(state) = states.get_mut(&schema) {
            state.applied.push(migration);
        }
    }
    if let Some(adopt) = adopt {
        let adopted: Vec<&String> = found
            .iter()
            .filter(|(s, t)| *t == adopt.table && !versioned.contains(s))
            .map(|(s, _)| s)
            .collect();
        let queries = super::union_all(&adopted, |schema| {
            format!(
                "SELECT {}, max({})::bigint FROM {}.{}",
                quote_literal(schema),
                quote_ident(&adopt.column),
                quote_ident(schema),
                quote_ident(&adopt.table)
            )
        });
        for sql in queries {
            for row in query(&sql)? {
                let schema = text(&row[0]).to_string();
                let version = parse_counter(&schema, adopt, row[1].as_deref())?;
                if let Some(state) = states.get_mut(&schema) {
                    state.adopted = version;
                }
            }
        }
    }
    for state in states.values_mut() {
        state.applied.sort_by_key(|m| m.id);
    }
    Ok(states)
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

//! MariaDB and MySQL: one database per tenant, through the pure-Rust `mysql` client (TLS by
//! rustls with the ring provider, no OpenSSL, no C client), so the runtime stays one static
//! binary.
//!
//! # Statements run in order, between an `applying` and an `applied` row
//!
//! A script is cut into statements by [`bascule_patch::split_statements`] (the splitter the lint
//! uses: quotes, comments, `DELIMITER` blocks of triggers and procedures). A database's
//! migrations and their version-row writes then travel as one multi-statement request (see
//! [`batch`]): the server runs them in order and stops at the first failure, so this is the same
//! as sending them one by one, without a round trip each. Each statement is logged
//! (`statement k/n`) as its result arrives, and so is the one that failed.
//!
//! MariaDB and MySQL commit every DDL statement implicitly (`CREATE`, `ALTER`, `DROP`, `RENAME`
//! …), and a transaction open before it is committed too: a migration is *not* all or nothing
//! here. So the version row comes first: before the first statement of an up, the row is
//! inserted with state `applying` (committed on its own); after the last statement it becomes
//! `applied`. A failure in between — a statement error, a killed server, a killed Bascule —
//! leaves `applying`, reported as [`DbError::PartlyApplied`] (how many statements committed).
//! The undo runs the migration's `down.sql` on such a database exactly as on an applied one:
//! lint's `idempotent-down` rule makes every down statement succeed whether or not what it undoes
//! exists (`DROP … IF EXISTS`, `ADD … IF NOT EXISTS`, MariaDB syntax), so the down removes what
//! ran and skips what did not. A down marks the row `applying` again before its first statement
//! and deletes it after its last, so an interrupted down is finished by the next undo.
//!
//! One statement is all or nothing on MariaDB 10.6+ (atomic DDL, even across a crash); older
//! servers may leave a multi-part `ALTER` half done, which the idempotent down absorbs too.
//!
//! # Connections
//!
//! Connections have a connect timeout and TCP keepalive, and reads a timeout (one hour: long
//! `ALTER`s on big tables are legitimate), so a server that vanishes fails the run instead of
//! hanging it. [`MysqlConnection::switch_to`] moves a connection to another database of the same
//! server (`USE`); [`read_versions`] reads the version tables of many databases in a few queries.
//!
//! # TLS
//!
//! The server url asks for it: `require_ssl=true` (built-in web roots), or the `mysql` crate's
//! own parameters, chiefly `root_cert_path=/path/ca.pem` (a private CA, trusted besides the web
//! roots). Then TLS is required — a server without it is refused, never used in clear text — and
//! the certificate is verified against the url's host. Without them, connections are clear text.
//! Every connection (tenants, survey, migration locks) is opened from the options of one
//! function, `opts`, through `connect`, which explains TLS failures (no TLS on the server, a
//! certificate from an untrusted CA or for another host) with what to change.

use mysql::prelude::Queryable as _;
use mysql::Value;

mod batch;
mod connect;
mod discovery;
mod dump;
mod scripts;
mod versions;

pub(crate) use connect::{connect, opts};
pub use discovery::{existing_databases, list_databases};
use scripts::{down_batch, push_script, up_batch, Part};
pub use scripts::{down_script, up_script};
pub use versions::read_versions;

use super::{
    backend_error, finish_dump, one_line, Adopt, Connection, DbError, DbTarget, Location, RowState,
    SessionTimeouts, Stamp, VersionState, VERSION_TABLE,
};
use bascule_patch::Migration;
use bascule_runlog::RunLog;
use batch::{Batch, Failed};

pub struct MysqlConnection {
    name: String,
    url: String,
    /// The database the session is in (`USE`): whose work lock a batch takes.
    database: String,
    conn: mysql::Conn,
    /// Limits given by [`Connection::set_timeouts`], set on the server before the next
    /// migration or down (see [`crate::timeouts`]).
    pending_timeouts: Option<SessionTimeouts>,
    /// Whether the server is MariaDB (asked once, when limits are first set): only MariaDB has
    /// `max_statement_time`.
    mariadb: Option<bool>,
}

/// The version table, created by the first migration of a database.
const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS `bascule_migrations` (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    checksum CHAR(64) NOT NULL,
    patch VARCHAR(255) NOT NULL,
    applied_at VARCHAR(32) NOT NULL,
    state VARCHAR(16) NOT NULL DEFAULT 'applied',
    run VARCHAR(255) NULL
)";

/// The statement inserting a version row. Text protocol only on this backend: a prepared
/// statement resolves its tables in the database current when it was prepared, and the client
/// caches prepared statements across `USE`.
fn insert_row(id: u32, name: &str, checksum: &str, patch: &str, state: RowState) -> String {
    format!(
        "INSERT INTO `{VERSION_TABLE}` (id, name, checksum, patch, applied_at, state)
         VALUES ({id}, {}, {}, {}, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ'), {})",
        quote_literal(name),
        quote_literal(checksum),
        quote_literal(patch),
        quote_literal(state.as_str())
    )
}

/// `name` quoted as a MariaDB/MySQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `value` quoted as a string literal (standard SQL mode: backslashes are escapes too).
fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

impl MysqlConnection {
    /// Connects to `database` on the server of `url`; a missing database is an error.
    pub fn open(name: &str, url: &str, database: &str) -> Result<MysqlConnection, DbError> {
        let redacted = super::redact_url(url);
        let opts = opts(url, Some(database)).map_err(|e| backend_error(name, e))?;
        let conn = connect(opts).map_err(|e| {
            backend_error(
                name,
                format!("cannot connect to database `{database}` of {redacted}: {e}"),
            )
        })?;
        Ok(MysqlConnection {
            name: name.to_string(),
            url: url.to_string(),
            database: database.to_string(),
            conn,
            pending_timeouts: None,
            mariadb: None,
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

    /// Sets the limits [`Connection::set_timeouts`] gave, if not yet set, and logs the statement:
    /// called before the first statement of migrations or downs.
    fn set_pending_timeouts(&mut self, log: &RunLog) -> Result<(), DbError> {
        let Some(timeouts) = self.pending_timeouts.take() else {
            return Ok(());
        };
        let mariadb = match self.mariadb {
            Some(known) => known,
            None => {
                let version: Option<String> = self
                    .conn
                    .query_first("SELECT VERSION()")
                    .map_err(|e| self.err(e))?;
                let mariadb = version.is_some_and(|v| v.contains("MariaDB"));
                self.mariadb = Some(mariadb);
                mariadb
            }
        };
        let sql = timeouts.mysql_sql(mariadb);
        log.line(format_args!("{}: session timeouts: {sql}", self.name));
        self.conn.query_drop(&sql).map_err(|e| self.err(e))
    }

    /// Runs every statement of `sql` in order; a failure says how many had already committed.
    fn run_statements(&mut self, label: &str, sql: &str, log: &RunLog) -> Result<(), DbError> {
        let mut batch = Batch::new();
        push_script(&mut batch, label, sql);
        self.run_batch(&batch, log)
    }

    /// Runs `batch` (see [`batch`]), logging each statement as its result arrives; a failing
    /// script statement is a [`DbError::PartlyApplied`] saying how many of its script's
    /// statements had committed.
    fn run_batch(&mut self, batch: &Batch<Part>, log: &RunLog) -> Result<(), DbError> {
        self.try_batch(batch, log)
            .map_err(|failed| self.explain(batch, failed, log))
    }

    /// Runs `batch` holding the database's work lock (see the `lock` module): a server goes on
    /// executing a request whose client was killed, and the lock, released only when that
    /// session ends, is how the next run knows to wait for it.
    fn try_batch(&mut self, batch: &Batch<Part>, log: &RunLog) -> Result<(), Failed> {
        let work = quote_literal(&super::lock_names::work_lock_name(&self.database));
        let failed = |error| Failed { index: 0, error };
        let granted: Option<Option<i64>> = self
            .conn
            .query_first(format!("SELECT GET_LOCK({work}, 0)"))
            .map_err(failed)?;
        if granted.flatten() != Some(1) {
            return Err(failed(mysql::Error::IoError(std::io::Error::other(
                format!(
                    "another session still works on database `{}` (the statements of a killed run \
                 still executing on the server?); wait for it to end, then run again",
                    self.database
                ),
            ))));
        }
        let name = &self.name;
        let result = batch.run(&mut self.conn, |sql, part, took| {
            part.log(name, sql, Some(took), log)
        });
        let released = self
            .conn
            .query_drop(format!("DO RELEASE_LOCK({work})"))
            .map_err(failed);
        result.and(released)
    }

    /// The error for a batch stopped by `failed`; a script statement is logged as the one that
    /// failed.
    fn explain(&self, batch: &Batch<Part>, failed: Failed, log: &RunLog) -> DbError {
        match batch.item(failed.index) {
            Some((sql, part @ Part::Script { label, done, total })) => {
                part.log(&self.name, sql, None, log);
                DbError::PartlyApplied {
                    db: self.name.clone(),
                    migration: label.clone(),
                    done: *done,
                    total: *total,
                    statement: sql.clone(),
                    error: failed.error.to_string(),
                }
            }
            _ => self.err(failed.error),
        }
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

/// MariaDB/MySQL's "table doesn't exist" (`ER_NO_SUCH_TABLE`).
const NO_SUCH_TABLE: u16 = 1146;

fn is_missing_table(e: &mysql::Error) -> bool {
    matches!(e, mysql::Error::MySqlError(e) if e.code == NO_SUCH_TABLE)
}

impl MysqlConnection {
    fn table_exists(&mut self, table: &str) -> Result<bool, DbError> {
        let exists: Option<u64> = self
            .conn
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.TABLES
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}",
                quote_literal(table)
            ))
            .map_err(|e| self.err(e))?;
        Ok(exists.unwrap_or(0) > 0)
    }
}

impl Connection for MysqlConnection {
    fn version_state(&mut self) -> Result<VersionState, DbError> {
        let rows: Vec<(u32, String, String, String, Option<String>)> = match self.conn.query(
            format!("SELECT id, name, checksum, state, run FROM `{VERSION_TABLE}` ORDER BY id"),
        ) {
            Err(e) if is_missing_table(&e) => return Ok(VersionState::default()),
            other => other.map_err(|e| self.err(e))?,
        };
        VersionState::from_rows(&self.name, rows)
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

    /// Each migration's statements run between its row's `applying` and `applied`; the
    /// `applied` of one and the `applying` of the next are one statement. All of it is one
    /// batch (see [`batch`]): a request, not a round trip per statement.
    fn apply_ups(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        self.set_pending_timeouts(log)?;
        let batch = up_batch(migrations, stamp);
        match self.try_batch(&batch, log) {
            // The first write to a database without a version table: nothing else ran.
            Err(failed) if failed.index == 0 && is_missing_table(&failed.error) => {
                log.line(format_args!("{}: creating {VERSION_TABLE}", self.name));
                self.conn
                    .query_drop(CREATE_VERSION_TABLE)
                    .map_err(|e| self.err(e))?;
                self.run_batch(&batch, log)
            }
            other => other.map_err(|failed| self.explain(&batch, failed, log)),
        }
    }

    /// Every row is marked `applying` first (one statement), then each down runs and its row
    /// is deleted; one batch.
    fn apply_downs(&mut self, migrations: &[&Migration], log: &RunLog) -> Result<(), DbError> {
        if migrations.is_empty() {
            return Ok(());
        }
        self.set_pending_timeouts(log)?;
        let batch = down_batch(migrations, true);
        match self.try_batch(&batch, log) {
            // No version table: no row to mark or delete.
            Err(failed) if failed.index == 0 && is_missing_table(&failed.error) => {
                self.run_batch(&down_batch(migrations, false), log)
            }
            other => other.map_err(|failed| self.explain(&batch, failed, log)),
        }
    }

    fn drop_version_table(&mut self, log: &RunLog) -> Result<(), DbError> {
        self.set_pending_timeouts(log)?;
        log.line(format_args!(
            "{}: DROP TABLE IF EXISTS {VERSION_TABLE}",
            self.name
        ));
        self.conn
            .query_drop(format!("DROP TABLE IF EXISTS `{VERSION_TABLE}`"))
            .map_err(|e| self.err(e))
    }

    fn record_baseline(&mut self, version: u32, origin: &str) -> Result<(), DbError> {
        self.conn
            .query_drop(CREATE_VERSION_TABLE)
            .map_err(|e| self.err(e))?;
        self.conn
            .query_drop(insert_row(version, origin, "", "", RowState::Baseline))
            .map_err(|e| self.err(e))
    }

    fn adopted_version(&mut self, adopt: &Adopt) -> Result<Option<u32>, DbError> {
        if !self.table_exists(&adopt.table)? {
            return Ok(None);
        }
        let sql = format!(
            "SELECT CAST(MAX({}) AS UNSIGNED) FROM {}",
            quote_ident(&adopt.column),
            quote_ident(&adopt.table)
        );
        let value: Option<Option<u64>> = self.conn.query_first(sql).map_err(|e| self.err(e))?;
        super::counter(&self.name, adopt, value.flatten())
    }

    fn set_timeouts(&mut self, timeouts: SessionTimeouts) {
        self.pending_timeouts = Some(timeouts);
    }

    fn switch_to(&mut self, target: &DbTarget) -> Result<bool, DbError> {
        let Location::Mysql { url, database } = &target.location else {
            return Ok(false);
        };
        if *url != self.url {
            return Ok(false);
        }
        self.name = target.to_string();
        self.conn
            .query_drop(format!("USE {}", quote_ident(database)))
            .map_err(|e| self.err(e))?;
        self.database.clone_from(database);
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
            |version| {
                if version.contains("MariaDB") {
                    "mariadb"
                } else {
                    "mysql"
                }
            },
            "SELECT VERSION(), @@sql_mode, @@lower_case_table_names, @@character_set_server, \
             @@collation_server, @@time_zone",
            &[
                "sql_mode",
                "lower_case_table_names",
                "charset",
                "collation",
                // Not @@system_time_zone: it names the zone's abbreviation at the server's
                // start (CET or CEST), which differs between identical servers.
                "time_zone",
            ],
        )
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

    fn content_digest(&mut self) -> Result<String, DbError> {
        crate::content::digest(
            self,
            "SELECT TABLE_NAME FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
            quote_ident,
        )
    }

    fn execute_script(&mut self, sql: &str, log: &RunLog) -> Result<(), DbError> {
        self.run_statements("script", sql, log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql::SslOpts;

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

    #[test]
    fn require_ssl_asks_for_tls_and_stays_on_tcp() {
        let plain = opts("mysql://root@127.0.0.1:3306", None).unwrap();
        assert!(plain.get_ssl_opts().is_none());
        assert!(plain.get_prefer_socket());
        let tls = opts("mysql://root@127.0.0.1:3306?require_ssl=true", None).unwrap();
        assert_eq!(tls.get_ssl_opts(), Some(&SslOpts::default()));
        assert!(!tls.get_prefer_socket());
        let socket = opts(
            "mysql://root@127.0.0.1:3306?require_ssl=true&prefer_socket=true",
            None,
        )
        .unwrap();
        assert!(socket.get_prefer_socket());
        let off = opts("mysql://root@127.0.0.1:3306?require_ssl=false", None).unwrap();
        assert!(off.get_ssl_opts().is_none());
    }

    #[test]
    fn tls_parameters_are_checked_before_connecting() {
        let err = opts("mysql://root@h?require_ssl=yes", None).unwrap_err();
        assert!(
            err.contains("require_ssl=yes: write true or false"),
            "{err}"
        );
        let err = opts(
            "mysql://root@h?require_ssl=false&root_cert_path=/etc/ca.pem",
            None,
        )
        .unwrap_err();
        assert!(err.contains("contradicts"), "{err}");
        let err = opts("mysql://root@h?root_cert_path=/nonexistent/ca.pem", None).unwrap_err();
        assert!(
            err.starts_with("cannot read the CA certificate root_cert_path=/nonexistent/ca.pem"),
            "{err}"
        );
    }
}

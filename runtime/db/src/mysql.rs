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

use std::collections::BTreeMap;
use std::time::Duration;

use mysql::prelude::Queryable as _;
use mysql::{Opts, OptsBuilder, SslOpts, Value};

mod batch;

use super::{
    backend_error, finish_dump, one_line, Adopt, AppliedMigration, Connection, DbError, DbTarget,
    Location, RowState, Stamp, VersionState, VERSION_TABLE,
};
use bascule_patch::split_statements;
use bascule_patch::Dialect;
use bascule_patch::Migration;
use bascule_runlog::RunLog;
use batch::{Batch, Failed};

pub struct MysqlConnection {
    name: String,
    url: String,
    conn: mysql::Conn,
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

/// The url parameter that asks for TLS with the built-in web roots only (`require_ssl=true`, as
/// `mysql_async` spells it); the `mysql` crate's own TLS parameters (`root_cert_path`, ...) ask
/// for TLS too.
const REQUIRE_SSL: &str = "require_ssl";

/// Connection options for `database` on the server of `url` (`mysql://user[:password]@host:port`),
/// with the timeouts that keep a vanished server from hanging a run (unless the url sets them).
/// Every connection of this backend, of [`read_versions`] and of the migration locks is opened
/// with these options.
///
/// TLS: `require_ssl=true`, or any of the `mysql` crate's TLS parameters (`root_cert_path=` a CA
/// file, PEM or DER, trusted besides the built-in web roots; `cert_chain_path` and
/// `priv_key_path`; `danger_skip_domain_validation`, `danger_accept_invalid_certs`), makes TLS
/// required: a server without it is refused, its certificate is verified against the roots
/// and the url's host. A TLS connection to 127.0.0.1 stays on TCP (no switch to the server's
/// unix socket, which would not be encrypted) unless the url sets `prefer_socket`.
pub(crate) fn opts(url: &str, database: Option<&str>) -> Result<Opts, String> {
    let (url, require_ssl, prefer_socket_given) = take_tls_params(url)?;
    let opts = Opts::from_url(&url).map_err(|e| format!("invalid server url: {e}"))?;
    let ssl = match (require_ssl, opts.get_ssl_opts()) {
        (Some(false), Some(_)) => {
            return Err(format!(
                "invalid server url: {REQUIRE_SSL}=false contradicts its TLS parameters \
                 (root_cert_path, ...): remove one or the other"
            ))
        }
        (Some(true), None) => Some(SslOpts::default()),
        (_, ssl) => ssl.cloned(),
    };
    if let Some(path) = ssl.as_ref().and_then(|s| s.root_cert_path()) {
        std::fs::File::open(path).map_err(|e| {
            format!(
                "cannot read the CA certificate root_cert_path={}: {e}",
                path.display()
            )
        })?;
    }
    let connect = opts
        .get_tcp_connect_timeout()
        .unwrap_or(Duration::from_secs(10));
    let keepalive = opts.get_tcp_keepalive_time_ms().unwrap_or(10_000);
    let read = opts
        .get_read_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(3600));
    let prefer_socket = opts.get_prefer_socket() && (ssl.is_none() || prefer_socket_given);
    Ok(OptsBuilder::from_opts(opts)
        .db_name(database)
        .ssl_opts(ssl)
        .prefer_socket(prefer_socket)
        .tcp_connect_timeout(Some(connect))
        .tcp_keepalive_time_ms(Some(keepalive))
        .read_timeout(Some(read))
        .write_timeout(Some(read))
        .into())
}

/// `url` without `require_ssl` (which `Opts::from_url` does not know), its value, and whether
/// the url sets `prefer_socket`.
fn take_tls_params(url: &str) -> Result<(String, Option<bool>, bool), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), None, false));
    };
    let mut kept = Vec::new();
    let mut require_ssl = None;
    let mut prefer_socket = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            REQUIRE_SSL => {
                require_ssl = Some(value.parse::<bool>().map_err(|_| {
                    format!("invalid server url: {REQUIRE_SSL}={value}: write true or false")
                })?)
            }
            "prefer_socket" => {
                prefer_socket = true;
                kept.push(pair);
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, require_ssl, prefer_socket))
}

/// Opens a connection with `opts` (from [`opts`]); a failure says what went wrong, in TLS terms
/// when TLS is what failed.
pub(crate) fn connect(opts: Opts) -> Result<mysql::Conn, String> {
    let root_cert = opts
        .get_ssl_opts()
        .and_then(|s| s.root_cert_path())
        .map(std::path::Path::to_path_buf);
    mysql::Conn::new(opts).map_err(|e| explain_connect_error(&e, root_cert.as_deref()))
}

fn explain_connect_error(e: &mysql::Error, root_cert: Option<&std::path::Path>) -> String {
    use super::tls::{certificate_refused, find_rustls_error};
    // `mysql::Error` does not chain its sources: look inside the variants that carry I/O.
    let io: Option<&(dyn std::error::Error + 'static)> = match e {
        mysql::Error::IoError(io) => Some(io),
        mysql::Error::CodecError(codec) => Some(codec),
        _ => None,
    };
    if let Some(rustls::Error::InvalidCertificate(cert)) = io.and_then(find_rustls_error) {
        return certificate_refused(cert, root_cert, "root_cert_path");
    }
    match e {
        mysql::Error::DriverError(mysql::DriverError::TlsNotSupported) => {
            "the server does not offer TLS but the url asks for it (require_ssl=true or \
             root_cert_path): turn TLS on in the server (ssl_cert, ssl_key) or remove the TLS \
             parameters from the url"
                .to_string()
        }
        mysql::Error::TlsError(tls) => format!("TLS setup failed: {tls}"),
        _ => e.to_string(),
    }
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

    fn try_batch(&mut self, batch: &Batch<Part>, log: &RunLog) -> Result<(), Failed> {
        let name = &self.name;
        batch.run(&mut self.conn, |sql, part| part.log(name, sql, log))
    }

    /// The error for a batch stopped by `failed`; a script statement is logged as the one that
    /// failed.
    fn explain(&self, batch: &Batch<Part>, failed: Failed, log: &RunLog) -> DbError {
        match batch.item(failed.index) {
            Some((sql, part @ Part::Script { label, done, total })) => {
                part.log(&self.name, sql, log);
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

/// What a statement of a [`Batch`] is: its line in the run log, and what a failure means.
enum Part {
    /// A write to the version table, logged as one line per row (`0002_nick up: version row
    /// `applied``).
    Rows(Vec<String>),
    /// Statement `done + 1` of `total` of the script `label`.
    Script {
        label: String,
        done: usize,
        total: usize,
    },
}

impl Part {
    fn rows(lines: &[(&str, &str)]) -> Part {
        Part::Rows(
            lines
                .iter()
                .map(|(label, what)| format!("{label}: {what}"))
                .collect(),
        )
    }

    /// Writes its lines in the run log of database `db`, `sql` being its statement.
    fn log(&self, db: &str, sql: &str, log: &RunLog) {
        match self {
            Part::Rows(lines) => {
                for line in lines {
                    log.line(format_args!("{db}: {line}"));
                }
            }
            Part::Script { label, done, total } => log.line(format_args!(
                "{db}: {label}: statement {}/{total}: {}",
                done + 1,
                one_line(sql)
            )),
        }
    }
}

/// Appends every statement of `sql` to `batch`, as the script `label`.
fn push_script(batch: &mut Batch<Part>, label: &str, sql: &str) {
    let statements = split_statements(sql, Dialect::Mysql);
    let total = statements.len();
    for (done, statement) in statements.into_iter().enumerate() {
        batch.push(
            statement.text,
            Part::Script {
                label: label.to_string(),
                done,
                total,
            },
        );
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

/// The version row of `migration` at `state`, as a `VALUES` tuple.
fn row_values(migration: &Migration, stamp: Stamp<'_>, state: RowState) -> String {
    format!(
        "({}, {}, {}, {}, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ'), {}, {})",
        migration.id,
        quote_literal(&migration.name),
        quote_literal(&migration.checksum),
        quote_literal(stamp.patch),
        quote_literal(state.as_str()),
        quote_literal(stamp.run)
    )
}

/// The statement writing version rows: inserted, or only their state changed where they exist
/// — one statement, so `applied` for one migration and `applying` for the next commit together.
fn write_rows(rows: &[(&Migration, RowState)], stamp: Stamp<'_>) -> String {
    let values: Vec<String> = rows
        .iter()
        .map(|(m, state)| row_values(m, stamp, *state))
        .collect();
    format!(
        "INSERT INTO `{VERSION_TABLE}` (id, name, checksum, patch, applied_at, state, run) VALUES {}
         ON DUPLICATE KEY UPDATE state = VALUES(state), run = VALUES(run)",
        values.join(", ")
    )
}

/// The ups of `migrations` with their version-row writes, as one batch: the first row
/// `applying`, then each migration's statements followed by one write making its row `applied`
/// and the next one's `applying`.
fn up_batch(migrations: &[&Migration], stamp: Stamp<'_>) -> Batch<Part> {
    let mut batch = Batch::new();
    let Some(first) = migrations.first() else {
        return batch;
    };
    let first_label = format!("{} up", first.label());
    batch.push(
        write_rows(&[(first, RowState::Applying)], stamp),
        Part::rows(&[(&first_label, "version row `applying`")]),
    );
    for (i, migration) in migrations.iter().enumerate() {
        let label = format!("{} up", migration.label());
        push_script(&mut batch, &label, &migration.up);
        let next = migrations.get(i + 1);
        let next_label = next.map(|n| format!("{} up", n.label()));
        let mut rows = vec![(*migration, RowState::Applied)];
        let mut lines = vec![(label.as_str(), "version row `applied`")];
        if let (Some(next), Some(next_label)) = (next, &next_label) {
            rows.push((*next, RowState::Applying));
            lines.push((next_label, "version row `applying`"));
        }
        batch.push(write_rows(&rows, stamp), Part::rows(&lines));
    }
    batch
}

/// The downs of `migrations`, in the order given, as one batch: every row marked `applying`
/// first (one statement), then each down's statements, then one deletion of every row. A down
/// that stops halfway leaves its row and those of the downs still to run `applying`, to be
/// undone (again: downs are idempotent) by whoever finishes the undo; the rows of the downs
/// that did run need not be deleted one by one, since running such a down again is harmless.
/// Without `rows` (a database with no version table) only the statements.
fn down_batch(migrations: &[&Migration], rows: bool) -> Batch<Part> {
    let mut batch = Batch::new();
    let ids: Vec<String> = migrations.iter().map(|m| m.id.to_string()).collect();
    let labels: Vec<String> = migrations
        .iter()
        .map(|m| format!("{} down", m.label()))
        .collect();
    let lines = |what: &'static str| -> Vec<(&str, &str)> {
        labels.iter().map(|label| (label.as_str(), what)).collect()
    };
    if rows && !migrations.is_empty() {
        batch.push(
            format!(
                "UPDATE `{VERSION_TABLE}` SET state = {} WHERE id IN ({})",
                quote_literal(RowState::Applying.as_str()),
                ids.join(", ")
            ),
            Part::rows(&lines("version row `applying`")),
        );
    }
    for (migration, label) in migrations.iter().zip(&labels) {
        push_script(&mut batch, label, &migration.down);
    }
    if rows && !migrations.is_empty() {
        batch.push(
            format!(
                "DELETE FROM `{VERSION_TABLE}` WHERE id IN ({})",
                ids.join(", ")
            ),
            Part::rows(&lines("version row deleted")),
        );
    }
    batch
}

/// The ups of `migrations` with their version-row writes, as one script of exactly the statements
/// [`MysqlConnection`] sends (the version table is assumed to exist): what the migration
/// benchmark feeds a plain client to measure the server's share of Bascule's bookkeeping.
pub fn up_script(migrations: &[&Migration], stamp: Stamp<'_>) -> String {
    up_batch(migrations, stamp).script()
}

/// The downs of `migrations`, in the order given, with their version-row writes, as one script
/// (see [`up_script`]).
pub fn down_script(migrations: &[&Migration]) -> String {
    down_batch(migrations, true).script()
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
        log.line(format_args!(
            "{}: DROP TABLE IF EXISTS {VERSION_TABLE}",
            self.name
        ));
        self.conn
            .query_drop(format!("DROP TABLE IF EXISTS `{VERSION_TABLE}`"))
            .map_err(|e| self.err(e))
    }

    fn record_baseline(&mut self, version: u32, adopt: &Adopt) -> Result<(), DbError> {
        self.conn
            .query_drop(CREATE_VERSION_TABLE)
            .map_err(|e| self.err(e))?;
        self.conn
            .query_drop(insert_row(
                version,
                &adopt.baseline_name(),
                "",
                "",
                RowState::Baseline,
            ))
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

/// The version state of each of `databases` on the server at `url`, in a few queries on one
/// connection: one `information_schema` query finds which databases have a version table (or
/// the adopted counter table), then `UNION ALL`s over their tables read the rows,
/// [`super::SURVEY_BATCH`] databases at a time, on up to `workers` connections (opening 5,000 tables is server work
/// that several connections share). Databases missing from the server are missing from the map.
pub fn read_versions(
    url: &str,
    databases: &[String],
    adopt: Option<&Adopt>,
    workers: usize,
) -> Result<BTreeMap<String, VersionState>, DbError> {
    let server = super::redact_url(url);
    let err = |e: mysql::Error| backend_error(&server, e);
    let opts = opts(url, None).map_err(|e| backend_error(&server, e))?;
    let mut conn = connect(opts.clone())
        .map_err(|e| backend_error(&server, format!("cannot connect: {e}")))?;
    let mut tables = vec![quote_literal(VERSION_TABLE)];
    tables.extend(adopt.map(|a| quote_literal(&a.table)));
    let found: Vec<(String, String)> = conn
        .query(format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_NAME IN ({})",
            tables.join(", ")
        ))
        .map_err(err)?;
    let existing: std::collections::BTreeSet<String> = conn
        .query::<String, _>("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        .map_err(err)?
        .into_iter()
        .collect();
    let mut states: BTreeMap<String, VersionState> = databases
        .iter()
        .filter(|d| existing.contains(*d))
        .map(|d| (d.clone(), VersionState::default()))
        .collect();
    let has = |table: &str| -> Vec<String> {
        found
            .iter()
            .filter(|(db, t)| t == table && states.contains_key(db))
            .map(|(db, _)| db.clone())
            .collect()
    };
    let versioned = has(VERSION_TABLE);
    let adopted = match adopt {
        Some(a) => has(&a.table)
            .into_iter()
            .filter(|db| !versioned.contains(db))
            .collect(),
        None => Vec::new(),
    };
    for db in &versioned {
        if let Some(state) = states.get_mut(db) {
            state.table_exists = true;
        }
    }
    let queries = super::union_all(&versioned, |db| {
        format!(
            "SELECT {}, id, name, checksum, state, run FROM {}.`{VERSION_TABLE}`",
            quote_literal(db),
            quote_ident(db)
        )
    });
    let read = crate::parallel::map_grouped(
        &queries,
        |_| (),
        workers,
        crate::parallel::OnError::Stop,
        || None::<mysql::Conn>,
        |worker, sql| {
            let conn = match worker {
                Some(conn) => conn,
                None => worker.insert(
                    connect(opts.clone())
                        .map_err(|e| backend_error(&server, format!("cannot connect: {e}")))?,
                ),
            };
            conn.query::<(String, u32, String, String, String, Option<String>), _>(sql.as_str())
                .map_err(err)
        },
    )
    .map_err(|mut errors| errors.remove(0).1)?;
    for (db, id, name, checksum, state, run) in read.into_iter().flatten() {
        let row = AppliedMigration {
            id,
            name,
            checksum,
            state: RowState::parse(&db, &state)?,
            run,
        };
        if let Some(state) = states.get_mut(&db) {
            state.applied.push(row);
        }
    }
    if let Some(adopt) = adopt {
        let queries = super::union_all(&adopted, |db| {
            format!(
                "SELECT {}, CAST(MAX({}) AS UNSIGNED) FROM {}.{}",
                quote_literal(db),
                quote_ident(&adopt.column),
                quote_ident(db),
                quote_ident(&adopt.table)
            )
        });
        for sql in queries {
            let rows: Vec<(String, Option<u64>)> = conn.query(sql).map_err(err)?;
            for (db, value) in rows {
                let version = super::counter(&db, adopt, value)?;
                if let Some(state) = states.get_mut(&db) {
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

/// Which of `names` exist on the server at `url`.
pub fn existing_databases(url: &str, names: &[String]) -> Result<Vec<String>, DbError> {
    let all = list_databases(url, "%")?;
    Ok(names.iter().filter(|n| all.contains(n)).cloned().collect())
}

/// Names of the databases of the server at `url` matching the `LIKE` pattern, sorted.
pub fn list_databases(url: &str, pattern: &str) -> Result<Vec<String>, DbError> {
    let server = super::redact_url(url);
    let opts = opts(url, None).map_err(|e| backend_error(&server, e))?;
    let mut conn =
        connect(opts).map_err(|e| backend_error(&server, format!("cannot connect: {e}")))?;
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

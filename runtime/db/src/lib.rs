//! Databases: one module per backend, behind the [`Connection`] trait.
//!
//! Every database carries a small version table, `bascule_migrations`: one row per applied
//! migration (number, name, checksum of its `up.sql`, the patch that applied it and, on the
//! servers, the run). A database's version is its highest applied number, 0 when the table is
//! absent.
//!
//! Adding a backend touches this file (the [`Location`] variant and [`connect`]) and its own module.
//!
//! | backend | module | a migration is | tenants are |
//! |---|---|---|---|
//! | SQLite | [`sqlite`] | one transaction with its version row | files |
//! | MariaDB/MySQL | [`mysql`] | statements committed one by one (DDL commits implicitly) | databases |
//! | PostgreSQL | [`postgres`] | one transaction with its version row | databases or schemas |
//!
//! Every backend can also describe its schema as sorted text lines ([`Connection::schema_dump`]),
//! the version table left out: comparing two dumps is how `cargo xtask check-migrations` proves a
//! down script undoes its up, and how tests prove a rollback left a database as it found it.
//!
//! # Never half-migrated: the `applying` row
//!
//! Where a migration cannot be one transaction (MariaDB/MySQL, whose DDL commits implicitly; a
//! PostgreSQL migration marked `-- bascule:no-transaction`), its version row is written *first*,
//! committed, with state `applying`; the statements run one by one; the row becomes `applied`
//! after the last. Whatever stops the migration in between — a failing statement, a killed
//! server, a killed Bascule — leaves the row `applying`. The undo treats the row like an applied
//! migration: it runs the migration's `down.sql`, which lint (`idempotent-down`) requires to succeed whether or not
//! each up statement ran (`DROP … IF EXISTS`, `ADD … IF NOT EXISTS`), then deletes the row. A
//! down marks its row `applying` before its first statement too, so a down cut short is finished
//! by the next undo. That undo is the interrupted run's own (`bascule recover` on its host) or,
//! when that host is gone, that of the next run holding the database's migration lock with a
//! bundle that ships the same migration: `migrate` finishes it before migrating
//! (the runtime's migrate step), so no database is ever left "dirty" for a hand-made fix.
//!
//! # Whose rows: the `run` column
//!
//! Server databases are shared by hosts: a run killed on one host may be followed by a
//! `bascule migrate` from another. So on MariaDB/MySQL and PostgreSQL each row names the run
//! that wrote it ([`Stamp`]), and the undo of a run does not undo what another run has migrated
//! on top of it since ([`VersionState::migrated_by_another_run`]). An `applying` row belongs to
//! nobody: found under the migration locks, the run that left it is gone, and any run holding
//! them finishes its undo. SQLite files are only ever touched by the runs of their own host,
//! one at a time (the host lock), so their rows carry no run.
//!
//! # Sessions
//!
//! Thousands of tenant databases on one server are not thousands of connections: a [`Session`]
//! keeps one connection and moves it from database to database (`USE` on MariaDB/MySQL,
//! `SET search_path` for PostgreSQL schemas). PostgreSQL databases cannot be switched inside a
//! connection, so per-database tenants cost one connection each. See [`Session`].
//!
//! # Lock and statement timeouts
//!
//! A session that migrates ([`Session::migrating`]) gives each database's connection its
//! limits ([`Connection::set_timeouts`]), which the backend sets before the first statement it
//! runs there: a migration waiting too long for a lock fails instead of stalling the table. See
//! [`timeouts`].

pub mod adopt;
mod content;
mod credentials;
mod discovery;
mod facts;
mod lock;
mod lock_names;
pub mod mysql;
pub mod parallel;
pub mod postgres;
mod session;
pub mod sqlite;
pub mod timeouts;
mod tls;
mod versions;

pub use adopt::{AdoptSpec, Adoption, ToolAdopt};
pub use credentials::{redact_url, redact_urls_in, url_without_password, Credentials};
pub use discovery::{discover, DatabaseClass, DiscoveryError};
pub use facts::ServerFacts;
pub use lock::DbLocks;
pub use session::Session;
pub use timeouts::{MigrationTimeouts, SessionTimeouts};
pub use versions::{read_in_bulk, read_versions};

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use bascule_patch::Migration;
use bascule_runlog::RunLog;

/// The version table's name, the same in every backend.
pub const VERSION_TABLE: &str = "bascule_migrations";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{db}: {what}")]
    Backend { db: String, what: String },
    #[error("{db}: {migration}: statement failed: {error}\n  statement: {statement}")]
    Statement {
        db: String,
        migration: String,
        statement: String,
        error: String,
    },
    /// A statement failed on a backend whose DDL is not transactional: the statements before it
    /// stay applied (see [`mysql`]).
    #[error("{db}: {migration}: statement {number} of {total} failed: {error}\n  statement: {statement}\n  {}", committed_before(*.done, *.total), number = .done + 1)]
    PartlyApplied {
        db: String,
        migration: String,
        /// Statements that ran (and committed) before the failing one.
        done: usize,
        total: usize,
        statement: String,
        error: String,
    },
}

/// What [`DbError::PartlyApplied`] says of the statements before the failing one.
fn committed_before(done: usize, total: usize) -> String {
    match done {
        0 => "no statement of it was committed".to_string(),
        1 => format!("statement 1 of {total} was committed and stays applied (DDL is not transactional here)"),
        _ => format!("statements 1 to {done} of {total} were committed and stay applied (DDL is not transactional here)"),
    }
}

/// Where a database lives; the journal records it so an undo can reach it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    SqliteFile(PathBuf),
    /// A database of a MariaDB/MySQL server; `url` names the server (`mysql://user@host:port`).
    /// Written without its password (see [`credentials`]).
    Mysql {
        #[serde(serialize_with = "credentials::serialize_without_password")]
        url: String,
        database: String,
    },
    /// A database of a PostgreSQL server (`postgres://user@host:port`), or one schema of it when
    /// tenants are schemas of one database.
    Postgres {
        #[serde(serialize_with = "credentials::serialize_without_password")]
        url: String,
        database: String,
        schema: Option<String>,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::SqliteFile(path) => write!(f, "{}", path.display()),
            Location::Mysql { url, database } => {
                write!(f, "{}/{database}", redact_url(url).trim_end_matches('/'))
            }
            Location::Postgres {
                url,
                database,
                schema,
            } => {
                write!(f, "{}/{database}", redact_url(url).trim_end_matches('/'))?;
                match schema {
                    Some(schema) => write!(f, " schema {schema}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Location {
    /// The server this database lives on (its url, password included: a key, not for
    /// messages): workers and connections are counted per server.
    pub fn server(&self) -> &str {
        match self {
            Location::SqliteFile(_) => "",
            Location::Mysql { url, .. } | Location::Postgres { url, .. } => url,
        }
    }
}

/// One database of one class on this host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DbTarget {
    pub class: String,
    pub name: String,
    pub location: Location,
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.class, self.name)
    }
}

/// The state of one row of the version table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowState {
    /// The migration ran to its end.
    Applied,
    /// The migration (or its down) started and did not finish: some of its statements may have
    /// run. Only the undo (`bascule recover`) may touch such a database.
    Applying,
    /// Not a Bascule migration: the version the database had in the platform's own counter table
    /// when Bascule adopted it ([`Adopt`]); every migration numbered up to it counts as applied.
    Baseline,
}

impl RowState {
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Applied => "applied",
            RowState::Applying => "applying",
            RowState::Baseline => "baseline",
        }
    }

    /// Reads the `state` column; an unknown value is an error naming it.
    pub fn parse(db: &str, text: &str) -> Result<RowState, DbError> {
        match text {
            "applied" => Ok(RowState::Applied),
            "applying" => Ok(RowState::Applying),
            "baseline" => Ok(RowState::Baseline),
            other => Err(backend_error(
                db,
                format!("{VERSION_TABLE}: unknown state `{other}` (expected applied, applying or baseline)"),
            )),
        }
    }
}

/// A migration recorded in a database's version table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub id: u32,
    pub name: String,
    pub checksum: String,
    pub state: RowState,
    /// The run that wrote the row (MariaDB/MySQL and PostgreSQL; `None` on SQLite, for a
    /// baseline, and for rows written before the column existed).
    pub run: Option<String>,
}

/// What a version row records of the run writing it: the patch's version and the run's id.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub patch: &'a str,
    pub run: &'a str,
}

impl<'a> Stamp<'a> {
    pub fn new(patch: &'a str, run: &'a str) -> Stamp<'a> {
        Stamp { patch, run }
    }
}

/// The platform's own version counter, adopted as the starting point of a database that has no
/// version table yet (host profile `[databases.<class>] adopt = { table, column }`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adopt {
    pub table: String,
    pub column: String,
}

impl Adopt {
    /// The name the baseline row carries: where the version came from.
    pub fn baseline_name(&self) -> String {
        format!("adopted from {}.{}", self.table, self.column)
    }
}

/// What a database says about its own version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionState {
    pub table_exists: bool,
    pub applied: Vec<AppliedMigration>,
    /// Without a version table: the platform's counter, when one is adopted and present.
    pub adopted: Option<u32>,
}

impl VersionState {
    /// The state of a database whose version table holds `rows`: (id, name, checksum, state,
    /// run).
    pub fn from_rows(
        db: &str,
        rows: Vec<(u32, String, String, String, Option<String>)>,
    ) -> Result<VersionState, DbError> {
        let applied = rows
            .into_iter()
            .map(|(id, name, checksum, state, run)| {
                Ok(AppliedMigration {
                    id,
                    name,
                    checksum,
                    state: RowState::parse(db, &state)?,
                    run,
                })
            })
            .collect::<Result<_, DbError>>()?;
        Ok(VersionState {
            table_exists: true,
            applied,
            adopted: None,
        })
    }

    /// The highest migration that is fully applied (a baseline counts; an `applying` row does
    /// not); without a version table, the adopted counter, else 0.
    pub fn version(&self) -> u32 {
        if !self.table_exists {
            return self.adopted.unwrap_or(0);
        }
        self.applied
            .iter()
            .filter(|m| m.state != RowState::Applying)
            .map(|m| m.id)
            .max()
            .unwrap_or(0)
    }

    /// Rows left `applying` by a migration (or a down) that did not finish.
    pub fn applying(&self) -> impl Iterator<Item = &AppliedMigration> {
        self.applied
            .iter()
            .filter(|m| m.state == RowState::Applying)
    }

    /// The run, other than `run`, that completed a migration above `version`: then this
    /// database was migrated by that run after `run` left it, and is not `run`'s to undo.
    /// `applying` rows belong to nobody (see the module docs), nor do rows without a run.
    pub fn migrated_by_another_run(&self, run: &str, version: u32) -> Option<&str> {
        self.applied
            .iter()
            .filter(|m| m.id > version && m.state == RowState::Applied)
            .filter_map(|m| m.run.as_deref())
            .find(|r| *r != run)
    }
}

/// An open connection to one database.
pub trait Connection: Send {
    /// Reads the version table (absent table: version 0, nothing applied).
    fn version_state(&mut self) -> Result<VersionState, DbError>;

    /// Runs `up.sql` and records the migration, all or nothing.
    fn apply_up(
        &mut self,
        migration: &Migration,
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError>;

    /// Runs `down.sql` and forgets the migration, all or nothing.
    fn apply_down(&mut self, migration: &Migration, log: &RunLog) -> Result<(), DbError>;

    /// Runs the up scripts of `migrations` in order, each recorded as it completes: what the
    /// migrate step does to one database. A backend may override it to write fewer version
    /// rows (MariaDB/MySQL chains one migration's `applied` with the next one's `applying`).
    fn apply_ups(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        migrations
            .iter()
            .try_for_each(|m| self.apply_up(m, stamp, log))
    }

    /// [`Connection::apply_ups`] for a run with the application stopped (`apply`: services
    /// down, maintenance page up). A backend with transactional DDL then runs a database's
    /// migrations as one transaction (PostgreSQL): atomic as a whole, one commit. `bascule
    /// migrate` runs beside the serving application, so there each migration commits on its
    /// own and holds its locks no longer than it runs. By default the same as `apply_ups`.
    fn apply_ups_in_downtime(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        self.apply_ups(migrations, stamp, log)
    }

    /// Runs the down scripts of `migrations` in the order given (newest first) and forgets
    /// them: what the undo does to one database. Each is forgotten as it completes, or (MariaDB/
    /// MySQL) all once the last completed, their rows marked `applying` until then.
    fn apply_downs(&mut self, migrations: &[&Migration], log: &RunLog) -> Result<(), DbError> {
        migrations.iter().try_for_each(|m| self.apply_down(m, log))
    }

    /// Removes the version table: the undo of its creation by the first migration.
    fn drop_version_table(&mut self, log: &RunLog) -> Result<(), DbError>;

    /// What the undo does to one database: the downs of `migrations` (newest first), then the
    /// version table removed if `drop_version_table`. A backend may override it to do all of it
    /// in one transaction (PostgreSQL).
    fn undo(
        &mut self,
        migrations: &[&Migration],
        drop_version_table: bool,
        log: &RunLog,
    ) -> Result<(), DbError> {
        undo_down_by_down(self, migrations, drop_version_table, log)
    }

    /// Runs a query and returns its rows as text (consistency checks).
    fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, DbError>;

    /// The server's version and the settings that change how SQL behaves (see [`ServerFacts`]).
    fn server_facts(&mut self) -> Result<ServerFacts, DbError>;

    /// The schema as sorted, normalised text lines — tables, columns (type, nullability,
    /// default), indexes (columns, uniqueness), constraints, views, triggers — without the
    /// version table. Two dumps are equal when the schemas are.
    fn schema_dump(&mut self) -> Result<Vec<String>, DbError>;

    /// SHA-256 over every row of every table, the version table included, independent of the
    /// rows' physical order (see `content.rs`). Two digests are equal when the data are.
    fn content_digest(&mut self) -> Result<String, DbError>;

    /// Runs a script statement by statement, outside the version table (scratch schemas, tests).
    fn execute_script(&mut self, sql: &str, log: &RunLog) -> Result<(), DbError>;

    /// Creates the version table with one `baseline` row at `version`, named `origin`: the first
    /// migration of a database whose version was adopted from the platform's counter or another
    /// tool's history ([`adopt`]). Its undo is [`Connection::drop_version_table`]; the counter
    /// or history table itself is never written.
    fn record_baseline(&mut self, version: u32, origin: &str) -> Result<(), DbError>;

    /// The platform's counter, if its table exists: the highest value of `adopt.column`.
    fn adopted_version(&mut self, adopt: &Adopt) -> Result<Option<u32>, DbError>;

    /// The lock and statement limits of the migrations and downs this connection runs next, set
    /// on the server before the first of their statements and written to the run log (see
    /// [`timeouts`]). SQLite has none: the default ignores them.
    fn set_timeouts(&mut self, _timeouts: SessionTimeouts) {}

    /// Moves this connection to `target` without reconnecting, if the backend can (same server:
    /// `USE`, `SET search_path`). `Ok(false)`: it cannot, open a new connection.
    fn switch_to(&mut self, _target: &DbTarget) -> Result<bool, DbError> {
        Ok(false)
    }
}

/// The default [`Connection::undo`]: one down at a time, each forgotten as it completes, then
/// the version table.
pub(crate) fn undo_down_by_down<C: Connection + ?Sized>(
    conn: &mut C,
    migrations: &[&Migration],
    drop_version_table: bool,
    log: &RunLog,
) -> Result<(), DbError> {
    conn.apply_downs(migrations, log)?;
    if drop_version_table {
        conn.drop_version_table(log)?;
    }
    Ok(())
}

/// The version state of a database, with the platform's counter when it has no version table
/// and `adopt` names one.
pub fn read_state(
    conn: &mut dyn Connection,
    adopt: Option<&Adopt>,
) -> Result<VersionState, DbError> {
    let mut state = conn.version_state()?;
    if let (false, Some(adopt)) = (state.table_exists, adopt) {
        state.adopted = conn.adopted_version(adopt)?;
    }
    Ok(state)
}

/// Opens a connection to `target`.
pub fn connect(target: &DbTarget) -> Result<Box<dyn Connection>, DbError> {
    match &target.location {
        Location::SqliteFile(path) => Ok(Box::new(sqlite::SqliteConnection::open(
            &target.to_string(),
            path,
        )?)),
        Location::Mysql { url, database } => Ok(Box::new(mysql::MysqlConnection::open(
            &target.to_string(),
            url,
            database,
        )?)),
        Location::Postgres {
            url,
            database,
            schema,
        } => Ok(Box::new(postgres::PostgresConnection::open(
            &target.to_string(),
            url,
            database,
            schema.as_deref(),
        )?)),
    }
}

/// The adopted counter read from the platform's table, as a version number.
pub(crate) fn counter(db: &str, adopt: &Adopt, value: Option<u64>) -> Result<Option<u32>, DbError> {
    value
        .map(|v| {
            u32::try_from(v).map_err(|_| {
                backend_error(
                    db,
                    format!(
                        "{}.{} = {v} is not a migration number (0 to {})",
                        adopt.table,
                        adopt.column,
                        u32::MAX
                    ),
                )
            })
        })
        .transpose()
}

/// A statement on one line, for the run log.
/// Runs every statement of `sql` in order with `execute`, each committed on its own (no
/// transaction), logging `statement k/n`; a failure says how many had already committed, which
/// is what the `applying` row and the idempotent down of the undo rely on.
pub(crate) fn run_statements_one_by_one(
    db: &str,
    label: &str,
    sql: &str,
    dialect: bascule_patch::Dialect,
    log: &RunLog,
    mut execute: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), DbError> {
    let statements = bascule_patch::split_statements(sql, dialect);
    let total = statements.len();
    for (done, statement) in statements.iter().enumerate() {
        log.line(format_args!(
            "{db}: {label}: statement {}/{total}: {}",
            done + 1,
            one_line(&statement.text)
        ));
        if let Err(error) = execute(&statement.text) {
            return Err(DbError::PartlyApplied {
                db: db.to_string(),
                migration: label.to_string(),
                done,
                total,
                statement: statement.text.clone(),
                error,
            });
        }
    }
    Ok(())
}

/// Tables per query of the bulk survey ([`read_versions`]): a `UNION ALL` of this many.
pub(crate) const SURVEY_BATCH: usize = 400;

/// `UNION ALL` queries of `select(name)` over `names`, [`SURVEY_BATCH`] names each: how the
/// bulk survey reads thousands of tenants' tables in a few queries.
pub(crate) fn union_all<T>(names: &[T], select: impl Fn(&T) -> String) -> Vec<String> {
    names
        .chunks(SURVEY_BATCH)
        .map(|batch| {
            batch
                .iter()
                .map(&select)
                .collect::<Vec<_>>()
                .join(" UNION ALL ")
        })
        .collect()
}

pub(crate) fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sorts dump lines and removes duplicates: dumps compare as sets of facts.
pub(crate) fn finish_dump(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines.dedup();
    lines
}

/// A `DbError::Backend` for database `db`.
pub(crate) fn backend_error(db: &str, e: impl fmt::Display) -> DbError {
    DbError::Backend {
        db: db.to_string(),
        what: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applying_rows_are_no_version_and_an_adopted_counter_is_one() {
        let row = |id, state| AppliedMigration {
            id,
            name: format!("m{id}"),
            checksum: String::new(),
            state,
            run: None,
        };
        let state = VersionState {
            table_exists: true,
            applied: vec![
                row(4, RowState::Baseline),
                row(5, RowState::Applied),
                row(6, RowState::Applying),
            ],
            adopted: None,
        };
        assert_eq!(state.version(), 5);
        assert_eq!(state.applying().map(|m| m.id).collect::<Vec<_>>(), [6]);
        let adopted = VersionState {
            adopted: Some(9),
            ..VersionState::default()
        };
        assert_eq!(adopted.version(), 9);
        let err = RowState::parse("site/a", "dirty").unwrap_err().to_string();
        assert_eq!(
            err,
            "site/a: bascule_migrations: unknown state `dirty` (expected applied, applying or baseline)"
        );
    }

    #[test]
    fn a_database_is_another_run_s_once_that_run_completed_a_migration_above_the_start() {
        let row = |id, state, run: Option<&str>| AppliedMigration {
            id,
            name: format!("m{id}"),
            checksum: String::new(),
            state,
            run: run.map(str::to_string),
        };
        let state = |rows| VersionState {
            table_exists: true,
            applied: rows,
            adopted: None,
        };
        // Run a started from 1, applied 2, and left 3 half-applied.
        let killed = state(vec![
            row(1, RowState::Applied, Some("old")),
            row(2, RowState::Applied, Some("a")),
            row(3, RowState::Applying, Some("a")),
        ]);
        assert_eq!(killed.migrated_by_another_run("a", 1), None);
        // Run b finished the undo of 3, then applied 3 and 4.
        let taken_over = state(vec![
            row(1, RowState::Applied, Some("old")),
            row(2, RowState::Applied, Some("a")),
            row(3, RowState::Applied, Some("b")),
            row(4, RowState::Applied, Some("b")),
        ]);
        assert_eq!(taken_over.migrated_by_another_run("a", 1), Some("b"));
        assert_eq!(taken_over.migrated_by_another_run("b", 2), None);
        // Rows below the start, baselines, and rows without a run belong to nobody.
        let unowned = state(vec![
            row(5, RowState::Baseline, None),
            row(6, RowState::Applied, None),
            row(7, RowState::Applying, Some("c")),
        ]);
        assert_eq!(unowned.migrated_by_another_run("a", 0), None);
        assert_eq!(taken_over.migrated_by_another_run("a", 4), None);
    }

    #[test]
    fn a_partly_applied_migration_counts_what_was_committed_in_words() {
        let error = |done| DbError::PartlyApplied {
            db: "site/a".into(),
            migration: "0002_x".into(),
            done,
            total: 3,
            statement: "ALTER TABLE t ADD c INT".into(),
            error: "boom".into(),
        };
        assert!(error(0).to_string().contains("statement 1 of 3 failed"));
        assert!(error(0)
            .to_string()
            .ends_with("no statement of it was committed"));
        assert!(error(1)
            .to_string()
            .contains("statement 1 of 3 was committed"));
        assert!(error(2)
            .to_string()
            .contains("statements 1 to 2 of 3 were committed"));
    }
}

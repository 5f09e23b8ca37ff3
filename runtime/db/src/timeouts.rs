//! The lock and statement timeouts of every migration session.
//!
//! A DDL statement waiting for its lock behind a long transaction makes every new query on the
//! table queue behind *it*: a one-millisecond `ALTER TABLE` becomes an outage as long as the
//! slowest transaction. So every session that runs migrations (and every session an undo runs
//! downs with) gets its limits before its first statement, and a statement that waits longer
//! fails: the migration fails and the run is undone like any other failure.
//!
//! | limit | PostgreSQL | MariaDB | MySQL |
//! |---|---|---|---|
//! | `lock_timeout` (default 5 s) | `lock_timeout` | `lock_wait_timeout` (metadata locks, what an `ALTER` waits on) and `innodb_lock_wait_timeout` (row locks), whole seconds, rounded up | the same |
//! | `statement_timeout` (default off) | `statement_timeout` | `max_statement_time` | none: `max_execution_time` limits read-only `SELECT`s only, never DDL, so it is not set |
//! | `idle_in_transaction_timeout` (default 1 min) | `idle_in_transaction_session_timeout` | none | none |
//!
//! # The defaults, and why
//!
//! - `lock_timeout` 5 s: strong_migrations and squawk recommend a few seconds. An `ALTER` that
//!   gets its lock at once runs in milliseconds; one that waits 5 s is behind a long transaction
//!   and is better retried at a quieter moment than allowed to stall the table.
//! - `statement_timeout` off: index builds (`CREATE INDEX CONCURRENTLY` waits for every older
//!   transaction, then scans the table), backfills and table rewrites may legitimately run for
//!   hours, and cutting one short only undoes the work. What must not last is the *wait* for a
//!   lock, which `lock_timeout` bounds; statements that hold a blocking lock for long are lint's
//!   business in online mode. Off is set explicitly (`statement_timeout = 0`,
//!   `max_statement_time = 0`), so a server or role default cannot cut a migration short either.
//! - `idle_in_transaction_timeout` 1 min (PostgreSQL): Bascule never waits inside a transaction;
//!   a session idle in one is a stopped or wedged runtime, whose locks must not outlive it.
//!
//! # Where the values come from
//!
//! The patch's `[timeouts]`, then its `[timeouts.<class>]`, then the host profile's
//! `[databases.<class>]` (`lock_timeout = "10s"`, …): each level replaces what it says
//! ([`MigrationTimeouts::resolve`]). The values are set when a connection starts work on a
//! database (a new connection, or one moved to the next tenant), so each database starts from
//! them; a migration's own `SET lock_timeout` then wins for the rest of its session's work on
//! that database, as the database makes it. The statement that set them is written to
//! `update.log` (it holds no secret: values only).
//!
//! An undo's sessions wait longer ([`MigrationTimeouts::for_undo`]): giving up there would leave
//! a database half-migrated, which is worse than a writer waiting a minute.

use std::collections::BTreeMap;
use std::time::Duration;

use bascule_patch::{Timeout, TimeoutSettings, TimeoutsSpec};

/// The default `lock_timeout`.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// The default `statement_timeout`: none (see the module docs).
pub const DEFAULT_STATEMENT_TIMEOUT: Timeout = Timeout::Off;
/// The default `idle_in_transaction_timeout` (PostgreSQL).
pub const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT: Timeout = Timeout::After(Duration::from_secs(60));

/// The limits one migration session gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub lock: Duration,
    pub statement: Timeout,
    pub idle_in_transaction: Timeout,
}

impl Default for SessionTimeouts {
    fn default() -> SessionTimeouts {
        SessionTimeouts {
            lock: DEFAULT_LOCK_TIMEOUT,
            statement: DEFAULT_STATEMENT_TIMEOUT,
            idle_in_transaction: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
        }
    }
}

impl SessionTimeouts {
    /// The defaults with what `settings` says over them. A `lock_timeout` that is off was
    /// refused when the patch or profile was loaded; it keeps the default here.
    pub fn from_settings(settings: &TimeoutSettings) -> SessionTimeouts {
        let default = SessionTimeouts::default();
        SessionTimeouts {
            lock: settings
                .lock_timeout
                .and_then(Timeout::duration)
                .unwrap_or(default.lock),
            statement: settings.statement_timeout.unwrap_or(default.statement),
            idle_in_transaction: settings
                .idle_in_transaction_timeout
                .unwrap_or(default.idle_in_transaction),
        }
    }

    /// The PostgreSQL statement setting them for the session (not `SET LOCAL`: it runs before
    /// the migrations' transactions and holds for all of them).
    pub fn postgres_sql(&self) -> String {
        format!(
            "SET lock_timeout = {}; SET statement_timeout = {}; \
             SET idle_in_transaction_session_timeout = {}",
            postgres_value(Timeout::After(self.lock)),
            postgres_value(self.statement),
            postgres_value(self.idle_in_transaction)
        )
    }

    /// The MariaDB/MySQL statement setting them for the session. `max_statement_time` is
    /// MariaDB's; MySQL's `max_execution_time` limits read-only `SELECT`s only, so MySQL gets
    /// no statement limit.
    pub fn mysql_sql(&self, mariadb: bool) -> String {
        let lock = whole_seconds(self.lock);
        let mut sql =
            format!("SET SESSION lock_wait_timeout = {lock}, innodb_lock_wait_timeout = {lock}");
        if mariadb {
            let statement = match self.statement {
                Timeout::Off => "0".to_string(),
                Timeout::After(d) => format!("{}.{:03}", d.as_secs(), d.subsec_millis()),
            };
            sql.push_str(&format!(", max_statement_time = {statement}"));
        }
        sql
    }
}

/// A PostgreSQL setting's value: milliseconds, quoted with their unit, or 0 for none.
fn postgres_value(timeout: Timeout) -> String {
    match timeout {
        Timeout::Off => "0".to_string(),
        Timeout::After(d) => format!("'{}ms'", d.as_millis()),
    }
}

/// MariaDB/MySQL's lock waits are whole seconds, at least 1: `d` rounded up.
fn whole_seconds(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// The limits of every class of a run: the patch's, overridden by the host profile's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationTimeouts {
    classes: BTreeMap<String, SessionTimeouts>,
    /// A class neither file names: the patch's `[timeouts]` over the defaults.
    other: SessionTimeouts,
}

impl MigrationTimeouts {
    /// Each class's limits: the defaults, then the patch's `[timeouts]` and
    /// `[timeouts.<class>]`, then what the host profile's `[databases.<class>]` says
    /// ([`crate::DatabaseClass::timeouts`]), by class.
    pub fn resolve(
        patch: &TimeoutsSpec,
        host: &BTreeMap<String, TimeoutSettings>,
    ) -> MigrationTimeouts {
        let mut names: Vec<&String> = host.keys().chain(patch.classes.keys()).collect();
        names.sort();
        names.dedup();
        let classes = names
            .into_iter()
            .map(|class| {
                let mut settings = patch.for_class(class);
                if let Some(host_settings) = host.get(class) {
                    settings = settings.overridden_by(host_settings);
                }
                (class.clone(), SessionTimeouts::from_settings(&settings))
            })
            .collect();
        MigrationTimeouts {
            classes,
            other: SessionTimeouts::from_settings(&patch.all),
        }
    }

    /// The limits of `class`'s sessions.
    pub fn for_class(&self, class: &str) -> SessionTimeouts {
        self.classes.get(class).copied().unwrap_or(self.other)
    }

    /// The limits of the sessions an undo runs downs with: the same, with every lock wait
    /// raised to at least [`UNDO_MIN_LOCK_TIMEOUT`] and no statement timeout. A migration that
    /// gives up waiting is undone; an undo that gives up leaves its database half-migrated until
    /// `bascule recover`, so it waits longer for the lock the failed migration could not get.
    pub fn for_undo(&self) -> MigrationTimeouts {
        let undo = |t: &SessionTimeouts| SessionTimeouts {
            lock: t.lock.max(UNDO_MIN_LOCK_TIMEOUT),
            statement: Timeout::Off,
            idle_in_transaction: t.idle_in_transaction,
        };
        MigrationTimeouts {
            classes: self
                .classes
                .iter()
                .map(|(class, t)| (class.clone(), undo(t)))
                .collect(),
            other: undo(&self.other),
        }
    }
}

/// The shortest lock wait of an undo's sessions ([`MigrationTimeouts::for_undo`]).
pub const UNDO_MIN_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    fn host(toml_text: &str) -> BTreeMap<String, TimeoutSettings> {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn an_undo_waits_at_least_a_minute_for_its_locks_and_is_never_cut_short() {
        let patch: TimeoutsSpec = toml::from_str(
            "lock_timeout = \"3s\"\nstatement_timeout = \"1h\"\n[site]\nlock_timeout = \"5min\"\n",
        )
        .unwrap();
        let undo = MigrationTimeouts::resolve(&patch, &BTreeMap::new()).for_undo();
        assert_eq!(undo.for_class("site").lock, Duration::from_secs(300));
        assert_eq!(undo.for_class("other").lock, UNDO_MIN_LOCK_TIMEOUT);
        assert_eq!(undo.for_class("site").statement, Timeout::Off);
        assert_eq!(undo.for_class("other").statement, Timeout::Off);
    }

    #[test]
    fn the_host_profile_overrides_the_class_which_overrides_the_patch() {
        let patch: TimeoutsSpec = toml::from_str(
            "lock_timeout = \"3s\"\nstatement_timeout = \"1h\"\n\
             [site]\nlock_timeout = \"2s\"\n",
        )
        .unwrap();
        let host = host("[site]\nstatement_timeout = \"off\"\n[shop]\nlock_timeout = \"500ms\"\n");
        let all = MigrationTimeouts::resolve(&patch, &host);
        assert_eq!(
            all.for_class("site"),
            SessionTimeouts {
                lock: Duration::from_secs(2),
                statement: Timeout::Off,
                idle_in_transaction: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
            }
        );
        assert_eq!(
            all.for_class("shop"),
            SessionTimeouts {
                lock: Duration::from_millis(500),
                statement: Timeout::After(Duration::from_secs(3600)),
                idle_in_transaction: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
            }
        );
        assert_eq!(
            all.for_class("unknown").lock,
            Duration::from_secs(3),
            "the patch's [timeouts]"
        );
        assert_eq!(
            MigrationTimeouts::default().for_class("site"),
            SessionTimeouts::default()
        );
    }

    #[test]
    fn each_server_gets_its_own_statement() {
        let limits = SessionTimeouts {
            lock: Duration::from_millis(1_500),
            statement: Timeout::After(Duration::from_millis(90_250)),
            idle_in_transaction: Timeout::Off,
        };
        assert_eq!(
            limits.postgres_sql(),
            "SET lock_timeout = '1500ms'; SET statement_timeout = '90250ms'; \
             SET idle_in_transaction_session_timeout = 0"
        );
        assert_eq!(
            limits.mysql_sql(true),
            "SET SESSION lock_wait_timeout = 2, innodb_lock_wait_timeout = 2, \
             max_statement_time = 90.250"
        );
        assert_eq!(
            limits.mysql_sql(false),
            "SET SESSION lock_wait_timeout = 2, innodb_lock_wait_timeout = 2"
        );
        let defaults = SessionTimeouts::default();
        assert_eq!(
            defaults.postgres_sql(),
            "SET lock_timeout = '5000ms'; SET statement_timeout = 0; \
             SET idle_in_transaction_session_timeout = '60000ms'"
        );
        assert!(defaults.mysql_sql(true).ends_with("max_statement_time = 0"));
    }
}

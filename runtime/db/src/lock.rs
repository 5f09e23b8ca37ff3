//! Database-side locks: what makes `bascule migrate` run each migration exactly once when a
//! deploy system starts it on several hosts at the same time.
//!
//! A host lock (a file in the state directory) only excludes runs on the same host. Hosts that
//! share database servers need a lock *on the servers*, so every run holds, for each database
//! it is about to migrate, a lock named after that database:
//!
//! | backend | lock | held by |
//! |---|---|---|
//! | MariaDB/MySQL | `GET_LOCK('bascule:<database>', timeout)` | one session per server |
//! | PostgreSQL, tenants are databases | `pg_advisory_lock(key)`, key = hash of `bascule:<database>`, taken in database `postgres` | one session per server |
//! | PostgreSQL, tenants are schemas | the same, key = hash of `bascule:<database>.<schema>`, taken in that database | one session per database |
//!
//! # Why these locks cannot be left behind
//!
//! Both are *session* locks: the server releases them when the session ends, whatever ended it
//! — the run finishing, the run killed with `kill -9`, the host losing power or its network.
//! Nothing is written in a table, so there is nothing to clean up by hand (the classic failure
//! of a lock row that outlives its run).
//!
//! # Statements that outlive their run
//!
//! The migration locks live in an idle session of their own, which the server drops the moment
//! a run is killed; but a MariaDB/MySQL server goes on executing the request a killed client
//! had sent — a long `ALTER`, the rest of a multi-statement batch — and only then notices the
//! client is gone. An undo that started as soon as it had the migration locks would run beside
//! those statements, and they would finish after it. So every batch of statements runs holding
//! the database's *work lock*, `GET_LOCK('bascule-work:<database>', 0)`, in the very session
//! that runs them ([`work_lock_name`](super::lock_names::work_lock_name)); it is released when the batch ends, or when that session
//! ends — after its last statement, even if its client died first. Whoever takes migration
//! locks then takes and releases each database's work lock too, which waits until no such
//! statement still runs. On PostgreSQL a backend whose client died also finishes its current
//! request, but Bascule sends a transaction's statements one request each, so what such a
//! backend finishes is rolled back when it reads the closed connection — except the last
//! request of a transaction, which carries its version rows with the `COMMIT`.
//!
//! # No deadlock
//!
//! Every run takes its locks in the same order (sorted lock names, sorted keys), in one statement
//! per batch whose lock calls the server evaluates left to right. Two runs over overlapping
//! databases therefore queue on the first lock they share; neither holds one the other waits
//! for. A lock not granted within the timeout fails the run before anything is migrated, and
//! everything it took is released.
//!
//! SQLite databases are files of one host: they are not locked here (the host lock covers them).

use std::collections::BTreeMap;
use std::time::Duration;

use mysql::prelude::Queryable as _;
use sha2::{Digest as _, Sha256};

use super::lock_names::{lock_name, work_lock_name};
use super::{backend_error, redact_url, DbError, DbTarget, Location};

/// How many lock calls go in one statement.
const BATCH: usize = 500;

/// Locks held on the servers; released by [`DbLocks::release`], or by the servers when this is
/// dropped (the sessions close).
pub struct DbLocks {
    sessions: Vec<Held>,
}

enum Held {
    Mysql {
        server: String,
        conn: mysql::Conn,
    },
    Postgres {
        server: String,
        client: Box<postgres::Client>,
    },
}

/// Where one group of locks is taken: a server (and, for PostgreSQL, the database whose
/// advisory-lock space holds the keys).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Home {
    Mysql { url: String },
    Postgres { url: String, database: String },
}

impl DbLocks {
    /// Locks every server database of `targets`, waiting up to `timeout` for each; `waiting` is
    /// told when another run holds a lock this one needs. Nothing is held on error.
    pub fn acquire(
        targets: &[DbTarget],
        timeout: Duration,
        waiting: &dyn Fn(&str),
    ) -> Result<DbLocks, DbError> {
        let mut locks = DbLocks {
            sessions: Vec::new(),
        };
        for (home, names) in group(targets) {
            let held = match &home {
                Home::Mysql { url } => {
                    let held = lock_mysql(url, &names, timeout, waiting)?;
                    wait_for_work_to_end(held, &work_lock_names(targets, url), timeout, waiting)?
                }
                Home::Postgres { url, database } => {
                    lock_postgres(url, database, &names, timeout, waiting)?
                }
            };
            locks.sessions.push(held);
        }
        Ok(locks)
    }

    /// How many server sessions hold locks.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Releases every lock now (dropping `self` would too, when the sessions close).
    pub fn release(self) -> Result<(), DbError> {
        for held in self.sessions {
            match held {
                Held::Mysql { server, mut conn } => conn
                    .query_drop("SELECT RELEASE_ALL_LOCKS()")
                    .map_err(|e| backend_error(&server, e))?,
                Held::Postgres { server, mut client } => client
                    .batch_execute("SELECT pg_advisory_unlock_all()")
                    .map_err(|e| backend_error(&server, e))?,
            }
        }
        Ok(())
    }
}

/// The lock names of `targets`, grouped by where they are taken, each group sorted.
fn group(targets: &[DbTarget]) -> BTreeMap<Home, Vec<String>> {
    let mut groups: BTreeMap<Home, Vec<String>> = BTreeMap::new();
    for target in targets {
        let (home, name) = match &target.location {
            Location::SqliteFile(_) => continue,
            Location::Mysql { url, database } => {
                (Home::Mysql { url: url.clone() }, lock_name(database))
            }
            Location::Postgres {
                url,
                database,
                schema: None,
            } => (
                Home::Postgres {
                    url: url.clone(),
                    database: "postgres".into(),
                },
                lock_name(database),
            ),
            Location::Postgres {
                url,
                database,
                schema: Some(schema),
            } => (
                Home::Postgres {
                    url: url.clone(),
                    database: database.clone(),
                },
                lock_name(&format!("{database}.{schema}")),
            ),
        };
        groups.entry(home).or_default().push(name);
    }
    for names in groups.values_mut() {
        names.sort();
        names.dedup();
    }
    groups
}

/// The PostgreSQL advisory-lock key of a lock name: its SHA-256's first 8 bytes.
pub fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

fn mysql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

fn lock_mysql(
    url: &str,
    names: &[String],
    timeout: Duration,
    waiting: &dyn Fn(&str),
) -> Result<Held, DbError> {
    let server = redact_url(url);
    let opts = super::mysql::opts(url, None).map_err(|e| backend_error(&server, e))?;
    // `GET_LOCK` blocks for up to the lock timeout: reads must wait longer than that.
    let read = opts
        .get_read_timeout()
        .copied()
        .unwrap_or_default()
        .max(timeout + Duration::from_secs(60));
    let opts = mysql::OptsBuilder::from_opts(opts)
        .read_timeout(Some(read))
        .write_timeout(Some(read));
    let mut conn = super::mysql::connect(opts.into()).map_err(|e| {
        backend_error(
            &server,
            format!("cannot connect to take the migration locks: {e}"),
        )
    })?;
    let err = |e: mysql::Error| backend_error(&server, e);
    if let Some(first) = names.first() {
        let free: Option<Option<i64>> = conn
            .query_first(format!("SELECT IS_FREE_LOCK({})", mysql_literal(first)))
            .map_err(err)?;
        if free.flatten() == Some(0) {
            waiting(&format!(
                "{server}: another run holds the migration lock `{first}`; waiting for it (at most {} s)",
                timeout.as_secs()
            ));
        }
    }
    let seconds = timeout.as_secs();
    for batch in names.chunks(BATCH) {
        let calls: Vec<String> = batch
            .iter()
            .map(|n| format!("GET_LOCK({}, {seconds})", mysql_literal(n)))
            .collect();
        let row: Option<mysql::Row> = conn
            .query_first(format!("SELECT {}", calls.join(", ")))
            .map_err(err)?;
        let granted: Vec<Option<i64>> = row
            .map(|r| (0..r.len()).map(|i| r.get(i).flatten()).collect())
            .unwrap_or_default();
        if let Some(i) = granted.iter().position(|g| *g != Some(1)) {
            let _ = conn.query_drop("SELECT RELEASE_ALL_LOCKS()");
            return Err(backend_error(
                &server,
                format!(
                    "migration lock `{}` not granted within {seconds} s: another `bascule migrate` or apply \
                     is still migrating that database. Wait for it to finish (or raise --lock-timeout), then run again",
                    batch[i]
                ),
            ));
        }
    }
    Ok(Held::Mysql { server, conn })
}

/// The work locks of the MariaDB/MySQL databases of `targets` on server `url`, sorted.
fn work_lock_names(targets: &[DbTarget], url: &str) -> Vec<String> {
    let mut names: Vec<String> = targets
        .iter()
        .filter_map(|t| match &t.location {
            Location::Mysql { url: on, database } if on == url => Some(work_lock_name(database)),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// With the migration locks `held`, waits (at most `timeout`) until no session holds a work
/// lock of these databases: each is taken, which waits for a killed run's statements still
/// executing on the server, then released at once. Under the migration locks no other run's
/// statements start meanwhile. On error the migration locks are released too.
fn wait_for_work_to_end(
    held: Held,
    work: &[String],
    timeout: Duration,
    waiting: &dyn Fn(&str),
) -> Result<Held, DbError> {
    let Held::Mysql { server, mut conn } = held else {
        return Ok(held);
    };
    let seconds = timeout.as_secs();
    let mut result = Ok(());
    for batch in work.chunks(BATCH) {
        result = take_and_release_work_locks(&mut conn, &server, batch, seconds, waiting);
        if result.is_err() {
            break;
        }
    }
    match result {
        Ok(()) => Ok(Held::Mysql { server, conn }),
        Err(error) => {
            let _ = conn.query_drop("SELECT RELEASE_ALL_LOCKS()");
            Err(error)
        }
    }
}

fn take_and_release_work_locks(
    conn: &mut mysql::Conn,
    server: &str,
    names: &[String],
    seconds: u64,
    waiting: &dyn Fn(&str),
) -> Result<(), DbError> {
    let err = |e: mysql::Error| backend_error(server, e);
    let values =
        |conn: &mut mysql::Conn, calls: Vec<String>| -> Result<Vec<Option<i64>>, DbError> {
            let row: Option<mysql::Row> = conn
                .query_first(format!("SELECT {}", calls.join(", ")))
                .map_err(err)?;
            Ok(row
                .map(|r| (0..r.len()).map(|i| r.get(i).flatten()).collect())
                .unwrap_or_default())
        };
    let free = values(
        conn,
        names
            .iter()
            .map(|n| format!("IS_FREE_LOCK({})", mysql_literal(n)))
            .collect(),
    )?;
    if let Some(i) = free.iter().position(|f| *f == Some(0)) {
        waiting(&format!(
            "{server}: a session still runs statements under `{}`, most likely those of a killed \
             run, which the server finishes although its client is gone; waiting for it to end \
             (at most {seconds} s)",
            names[i]
        ));
    }
    let granted = values(
        conn,
        names
            .iter()
            .map(|n| format!("GET_LOCK({}, {seconds})", mysql_literal(n)))
            .collect(),
    )?;
    let released = values(
        conn,
        names
            .iter()
            .map(|n| format!("RELEASE_LOCK({})", mysql_literal(n)))
            .collect(),
    );
    if let Some(i) = granted.iter().position(|g| *g != Some(1)) {
        return Err(backend_error(
            server,
            format!(
                "`{}` still held after {seconds} s: a session still runs statements on that \
                 database (see SHOW PROCESSLIST). Let it finish or KILL it, then run again",
                names[i]
            ),
        ));
    }
    released.map(|_| ())
}

fn lock_postgres(
    url: &str,
    database: &str,
    names: &[String],
    timeout: Duration,
    waiting: &dyn Fn(&str),
) -> Result<Held, DbError> {
    let server = match redact_url(url).split_once('?') {
        Some((base, query)) => format!("{}/{database}?{query}", base.trim_end_matches('/')),
        None => format!("{}/{database}", redact_url(url).trim_end_matches('/')),
    };
    let mut client = super::postgres::client(&server, url, database)?;
    let mut keys: Vec<(i64, &String)> = names.iter().map(|n| (lock_key(n), n)).collect();
    keys.sort();
    keys.dedup_by_key(|(k, _)| *k);
    let err = |e: postgres::Error| backend_error(&server, e);
    if let Some((first, name)) = keys.first() {
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[first])
            .map_err(err)?;
        if !row.get::<_, bool>(0) {
            waiting(&format!(
                "{server}: another run holds the migration lock `{name}`; waiting for it (at most {} s)",
                timeout.as_secs()
            ));
        }
    }
    client
        .batch_execute(&format!("SET lock_timeout = '{}ms'", timeout.as_millis()))
        .map_err(err)?;
    for batch in keys.chunks(BATCH) {
        let calls: Vec<String> = batch
            .iter()
            .map(|(k, _)| format!("pg_advisory_lock({k})"))
            .collect();
        if let Err(e) = client.batch_execute(&format!("SELECT {}", calls.join(", "))) {
            let _ = client.batch_execute("SELECT pg_advisory_unlock_all()");
            return Err(backend_error(
                &server,
                format!(
                    "migration locks not granted within {} s ({}): another `bascule migrate` or apply \
                     is still migrating these databases. Wait for it to finish (or raise --lock-timeout), then run again",
                    timeout.as_secs(),
                    e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string())
                ),
            ));
        }
    }
    client.batch_execute("SET lock_timeout = 0").map_err(err)?;
    Ok(Held::Postgres {
        server,
        client: Box::new(client),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mysql(database: &str) -> DbTarget {
        DbTarget {
            class: "site".into(),
            name: database.into(),
            location: Location::Mysql {
                url: "mysql://root@db1:3306".into(),
                database: database.into(),
            },
        }
    }

    #[test]
    fn locks_are_grouped_per_server_and_sorted() {
        let targets = [mysql("site_2"), mysql("site_1"), mysql("site_2")];
        let groups = group(&targets);
        assert_eq!(groups.len(), 1);
        let names: Vec<&String> = groups.values().flatten().collect();
        assert_eq!(names, ["bascule:site_1", "bascule:site_2"]);
    }

    #[test]
    fn long_names_fit_mysql_lock_names() {
        let name = lock_name(&"x".repeat(100));
        assert!(name.len() <= 64, "{name}");
        assert_ne!(lock_name(&"x".repeat(100)), lock_name(&"y".repeat(100)));
        assert_eq!(lock_name("site_1"), "bascule:site_1");
    }

    #[test]
    fn keys_differ_per_name() {
        assert_ne!(lock_key("bascule:a"), lock_key("bascule:b"));
        assert_eq!(lock_key("bascule:a"), lock_key("bascule:a"));
    }
}

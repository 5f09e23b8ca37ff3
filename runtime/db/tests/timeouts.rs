//! Lock and statement timeouts of migration sessions, on throwaway PostgreSQL and MariaDB
//! servers: a session that migrates sets them before the first statement and logs them, a
//! migration waiting on a lock held by another session fails after the lock timeout, a
//! migration's own `SET` wins for its session, and the next database starts from the
//! configured values again.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bascule_db::{DbTarget, Location, MigrationTimeouts, Session, Stamp};
use bascule_patch::TimeoutsSpec;
use bascule_runlog::RunLog;
use common::migration;
use mysql::prelude::Queryable as _;
use testdb::{MariaDb, PostgresServer};

/// Far above the timeouts set here, far below a session that waits forever.
const BOUND: Duration = Duration::from_secs(30);

/// Every class gets `lock_timeout` from the patch; nothing from a host profile.
fn timeouts(lock_timeout: &str) -> MigrationTimeouts {
    let spec: TimeoutsSpec = toml::from_str(&format!("lock_timeout = \"{lock_timeout}\"")).unwrap();
    MigrationTimeouts::resolve(&spec, &Default::default())
}

fn log_in(dir: &tempfile::TempDir) -> (RunLog, std::path::PathBuf) {
    let path = dir.path().join("update.log");
    (RunLog::open(&path, false).unwrap(), path)
}

const STAMP: Stamp<'static> = Stamp {
    patch: "2.0.0",
    run: "run-1",
};

fn postgres() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(|| PostgresServer::start().unwrap())
}

fn pg_target(database: &str, schema: &str) -> DbTarget {
    DbTarget {
        class: "site".into(),
        name: schema.into(),
        location: Location::Postgres {
            url: postgres().url(),
            database: database.into(),
            schema: Some(schema.into()),
        },
    }
}

fn show(session: &mut Session, target: &DbTarget, sql: &str) -> Vec<String> {
    session
        .with(target, |c| c.query_rows(sql))
        .unwrap()
        .remove(0)
}

#[test]
fn postgres_a_migration_waiting_on_a_lock_fails_at_the_session_s_lock_timeout() {
    let db = "timeouts_pg";
    postgres().create_database(db).unwrap();
    let mut admin = postgres().connect(db).unwrap();
    admin
        .batch_execute(
            "CREATE SCHEMA a; CREATE SCHEMA b; \
             CREATE TABLE a.members (id int); CREATE TABLE b.members (id int)",
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (log, log_path) = log_in(&dir);
    let (a, b) = (pg_target(db, "a"), pg_target(db, "b"));
    let mut session = Session::migrating(timeouts("800ms"));

    // Set before the first statement, and logged.
    let own = migration(
        2,
        "SET lock_timeout = '7s';\nCREATE TABLE badges (id int);",
        "DROP TABLE badges;",
    );
    session
        .with(&a, |c| c.apply_ups(&[&own], STAMP, &log))
        .unwrap();
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logged.contains(
            "site/a: session timeouts: SET lock_timeout = '800ms'; SET statement_timeout = 0; \
             SET idle_in_transaction_session_timeout = '60000ms'"
        ),
        "{logged}"
    );
    // The migration's own SET wins for its session…
    assert_eq!(show(&mut session, &a, "SHOW lock_timeout"), ["7s"]);
    // …and the next database starts from the configured values again.
    let plain = migration(2, "CREATE TABLE badges (id int);", "DROP TABLE badges;");
    session
        .with(&b, |c| c.apply_ups(&[&plain], STAMP, &log))
        .unwrap();
    assert_eq!(show(&mut session, &b, "SHOW lock_timeout"), ["800ms"]);
    assert_eq!(show(&mut session, &b, "SHOW statement_timeout"), ["0"]);
    assert_eq!(session.connections_opened(), 1, "one connection, switched");

    // A reader's open transaction holds ACCESS SHARE: the ALTER waits, then gives up.
    let mut reader = postgres().connect(db).unwrap();
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM b.members")
        .unwrap();
    let alter = migration(3, "ALTER TABLE members ADD COLUMN nick text;", "SELECT 1;");
    let clock = Instant::now();
    let err = session
        .with(&b, |c| c.apply_ups(&[&alter], STAMP, &log))
        .unwrap_err()
        .to_string();
    let took = clock.elapsed();
    eprintln!("the ALTER gave up after {} ms", took.as_millis());
    assert!(err.contains("lock timeout"), "{err}");
    assert!(
        took >= Duration::from_millis(800) && took < BOUND,
        "{took:?}"
    );
    reader.batch_execute("ROLLBACK").unwrap();
    // Nothing of it stayed: the version row and the column were rolled back with it.
    let rows = admin
        .query(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_schema = 'b' AND column_name = 'nick'",
            &[],
        )
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 0);

    // A session that only reads sets nothing.
    let mut reading = Session::new();
    assert_eq!(show(&mut reading, &b, "SHOW lock_timeout"), ["0"]);
}

fn mariadb() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    SERVER.get_or_init(|| MariaDb::start().unwrap())
}

fn my_target(database: &str) -> DbTarget {
    DbTarget {
        class: "site".into(),
        name: database.into(),
        location: Location::Mysql {
            url: mariadb().url(),
            database: database.into(),
        },
    }
}

#[test]
fn mariadb_an_alter_waiting_on_a_metadata_lock_fails_at_the_session_s_lock_wait_timeout() {
    let (first, second) = ("timeouts_my_a", "timeouts_my_b");
    for db in [first, second] {
        mariadb().create_database(db).unwrap();
        mariadb()
            .connect(Some(db))
            .unwrap()
            .query_drop("CREATE TABLE members (id INT)")
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let (log, log_path) = log_in(&dir);
    let (a, b) = (my_target(first), my_target(second));
    let mut session = Session::migrating(timeouts("1500ms"));

    let own = migration(
        2,
        "SET SESSION lock_wait_timeout = 20;\nCREATE TABLE badges (id INT);",
        "DROP TABLE IF EXISTS badges;",
    );
    session
        .with(&a, |c| c.apply_ups(&[&own], STAMP, &log))
        .unwrap();
    let logged = std::fs::read_to_string(&log_path).unwrap();
    // Whole seconds, rounded up; MariaDB's statement limit set off explicitly.
    assert!(
        logged.contains(&format!(
            "site/{first}: session timeouts: SET SESSION lock_wait_timeout = 2, \
             innodb_lock_wait_timeout = 2, max_statement_time = 0"
        )),
        "{logged}"
    );
    let read = "SELECT @@lock_wait_timeout, @@innodb_lock_wait_timeout, @@max_statement_time";
    assert_eq!(show(&mut session, &a, read)[0], "20", "its own SET wins");
    let plain = migration(
        2,
        "CREATE TABLE badges (id INT);",
        "DROP TABLE IF EXISTS badges;",
    );
    session
        .with(&b, |c| c.apply_ups(&[&plain], STAMP, &log))
        .unwrap();
    assert_eq!(
        show(&mut session, &b, read),
        ["2", "2", "0.000000"],
        "the next database starts from the configured values"
    );
    assert_eq!(session.connections_opened(), 1, "one connection, switched");

    // An open transaction that read the table holds a shared metadata lock until it ends.
    let mut reader = mariadb().connect(Some(second)).unwrap();
    reader.query_drop("START TRANSACTION").unwrap();
    reader.query_drop("SELECT COUNT(*) FROM members").unwrap();
    let alter = migration(
        3,
        "ALTER TABLE members ADD COLUMN nick VARCHAR(40) NULL;",
        "ALTER TABLE members DROP COLUMN IF EXISTS nick;",
    );
    let clock = Instant::now();
    let err = session
        .with(&b, |c| c.apply_ups(&[&alter], STAMP, &log))
        .unwrap_err()
        .to_string();
    let took = clock.elapsed();
    eprintln!("the ALTER gave up after {} ms", took.as_millis());
    assert!(err.contains("Lock wait timeout exceeded"), "{err}");
    assert!(took >= Duration::from_secs(2) && took < BOUND, "{took:?}");
    // Its row stayed `applying`; the undo's idempotent down finds no column to drop and needs
    // no exclusive lock: it completes while the reader still holds the table.
    let state = session.with(&b, |c| c.version_state()).unwrap();
    assert_eq!(state.applying().map(|m| m.id).collect::<Vec<_>>(), [3]);
    session
        .with(&b, |c| c.apply_downs(&[&alter], &log))
        .unwrap();
    assert_eq!(
        session.with(&b, |c| c.version_state()).unwrap().version(),
        2
    );
    reader.query_drop("COMMIT").unwrap();
}

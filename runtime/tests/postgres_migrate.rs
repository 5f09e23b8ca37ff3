//! The migrate step on a real PostgreSQL server: per-schema tenants read in bulk and migrated
//! on reused connections, per-database tenants, a failing migration rolled back everywhere,
//! `-- bascule:no-transaction` migrations (`CREATE INDEX CONCURRENTLY`) with their `applying`
//! row and idempotent down, and the server killed mid-run then `recover`.

mod common;

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bascule::engine::Outcome;
use bascule_db::{self as db, DbTarget, Location, RowState, Stamp};
use bascule_runlog::RunLog;
use common::rig::{Rig, Spec};
use common::{kill_when, migration};
use testdb::PostgresServer;

fn server() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(|| PostgresServer::start().unwrap())
}

fn url() -> String {
    server().url()
}

fn schema_target(url: &str, database: &str, schema: &str) -> DbTarget {
    DbTarget {
        class: "site".into(),
        name: schema.into(),
        location: Location::Postgres {
            url: url.into(),
            database: database.into(),
            schema: Some(schema.into()),
        },
    }
}

/// A database `database` with `count` schemas `<database>_NN`, each with `members` and rows.
fn schemas(server: &PostgresServer, database: &str, count: usize) -> Vec<String> {
    server.create_database(database).unwrap();
    let mut client = server.connect(database).unwrap();
    (0..count)
        .map(|i| {
            let name = format!("{database}_{i:02}");
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA {name};
                     CREATE TABLE {name}.members (id INT PRIMARY KEY, email TEXT NOT NULL);
                     INSERT INTO {name}.members VALUES (1, 'a{i}@example.org'), (2, 'b{i}@example.org');"
                ))
                .unwrap();
            name
        })
        .collect()
}

fn state_of(
    url: &str,
    database: &str,
    names: &[String],
) -> Vec<(Vec<String>, bool, Vec<Vec<String>>)> {
    names
        .iter()
        .map(|name| {
            let mut conn = db::connect(&schema_target(url, database, name)).unwrap();
            (
                conn.schema_dump().unwrap(),
                conn.version_state().unwrap().table_exists,
                conn.query_rows("SELECT * FROM members ORDER BY id")
                    .unwrap(),
            )
        })
        .collect()
}

fn section(url: &str, database: &str) -> String {
    format!(
        "engine = \"postgres\"\nurl = \"{url}\"\ndatabase = \"{database}\"\npattern = '{database}\\_%'\nworkers = 2"
    )
}

const NICK: Spec<'static> = (
    1,
    "nick",
    "ALTER TABLE members ADD COLUMN nick TEXT;\nCREATE UNIQUE INDEX members_email ON members (email);",
    "DROP INDEX members_email;\nALTER TABLE members DROP COLUMN nick;",
);

#[test]
fn schemas_are_surveyed_in_bulk_and_a_failure_rolls_every_schema_back() {
    let names = schemas(server(), "tenants", 12);
    let mut client = server().connect("tenants").unwrap();
    client
        .batch_execute("UPDATE tenants_09.members SET email = 'same'")
        .unwrap();
    let before = state_of(&url(), "tenants", &names);
    let rig = Rig::new("postgres", &[NICK], &section(&url(), "tenants"));
    let classes = bascule::survey::survey(&rig.host, &rig.patch).unwrap();
    assert_eq!(classes[0].databases.len(), 12);
    assert_eq!(classes[0].pending_total(), 12);

    let (outcome, _) = rig.migrate();
    let Outcome::RolledBack { error, .. } = outcome else {
        panic!("expected a rollback, got {outcome:?}");
    };
    assert!(error.to_string().contains("tenants_09"), "{error}");
    assert_eq!(state_of(&url(), "tenants", &names), before);

    client
        .batch_execute("UPDATE tenants_09.members SET email = 'fixed' WHERE id = 2")
        .unwrap();
    let (outcome, _) = rig.migrate();
    assert!(matches!(outcome, Outcome::Committed), "{outcome:?}");
    let classes = bascule::survey::survey(&rig.host, &rig.patch).unwrap();
    assert!(classes[0].databases.iter().all(|d| d.state.version() == 1));
    assert_eq!(classes[0].pending_total(), 0);
}

#[test]
fn a_no_transaction_migration_runs_outside_a_transaction_between_applying_and_applied() {
    let names = schemas(server(), "concurrent", 3);
    let before = state_of(&url(), "concurrent", &names);
    let index: Spec<'static> = (
        1,
        "index_email",
        "-- bascule:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS members_email ON members (email);",
        "-- bascule:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS members_email;",
    );
    let rig = Rig::new("postgres", &[index], &section(&url(), "concurrent"));
    let (outcome, run) = rig.migrate();
    assert!(matches!(outcome, Outcome::Committed), "{outcome:?}");
    let log = Rig::log_of(&run);
    assert!(
        log.contains("concurrent_00: 0001_index_email up: version row `applying`"),
        "{log}"
    );
    let mut conn = db::connect(&schema_target(&url(), "concurrent", "concurrent_01")).unwrap();
    let state = conn.version_state().unwrap();
    assert_eq!(state.applied[0].state, RowState::Applied);
    assert!(conn
        .schema_dump()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("index members_email on members")));

    // Cut short at its second statement: the row stays `applying`, the down undoes it.
    let cut = migration(
        2,
        "-- bascule:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS members_id_email ON members (id, email);\nCREATE INDEX CONCURRENTLY broken ON nowhere (x);",
        "-- bascule:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS members_id_email;",
    );
    let err = conn
        .apply_up(&cut, Stamp::new("2.0.0", "test"), &RunLog::discard())
        .unwrap_err();
    assert!(err.to_string().contains("statement 2 of 2 failed"), "{err}");
    let state = conn.version_state().unwrap();
    assert_eq!(state.applying().map(|m| m.id).collect::<Vec<_>>(), [2]);
    assert_eq!(state.version(), 1);
    conn.apply_down(&cut, &RunLog::discard()).unwrap();
    assert_eq!(conn.version_state().unwrap().version(), 1);
    assert!(!conn
        .schema_dump()
        .unwrap()
        .iter()
        .any(|l| l.contains("members_id_email")));

    // The committed run undone from its journal (as `bascule rollback` does).
    let errors = rig.recover(&run);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(state_of(&url(), "concurrent", &names), before);
}

#[test]
fn per_database_tenants_are_migrated_and_rolled_back() {
    let names: Vec<String> = (0..4).map(|i| format!("perdb_{i}")).collect();
    for name in &names {
        server().create_database(name).unwrap();
        server()
            .connect(name)
            .unwrap()
            .batch_execute("CREATE TABLE members (id INT PRIMARY KEY, email TEXT NOT NULL); INSERT INTO members VALUES (1, 'a'), (2, 'a');")
            .unwrap();
    }
    let dump = |name: &str| {
        let mut conn = db::connect(&DbTarget {
            class: "site".into(),
            name: name.into(),
            location: Location::Postgres {
                url: server().url(),
                database: name.into(),
                schema: None,
            },
        })
        .unwrap();
        (
            conn.schema_dump().unwrap(),
            conn.version_state().unwrap().table_exists,
        )
    };
    let before: Vec<_> = names.iter().map(|n| dump(n)).collect();
    let rig = Rig::new(
        "postgres",
        &[NICK],
        &format!(
            "engine = \"postgres\"\nurl = \"{}\"\npattern = 'perdb\\_%'\nworkers = 2",
            server().url()
        ),
    );
    let (outcome, _) = rig.migrate();
    assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
    assert_eq!(names.iter().map(|n| dump(n)).collect::<Vec<_>>(), before);
}

#[test]
fn a_chain_of_migrations_names_the_statement_that_failed_and_keeps_the_ones_before() {
    let names = schemas(server(), "chain", 1);
    let target = schema_target(&url(), "chain", &names[0]);
    let mut conn = db::connect(&target).unwrap();
    let first = migration(
        1,
        "ALTER TABLE members ADD COLUMN nick TEXT;",
        "ALTER TABLE members DROP COLUMN nick;",
    );
    let second = migration(
        2,
        "CREATE INDEX members_nick ON members (nick);\nALTER TABLE nowhere ADD COLUMN x INT;",
        "DROP INDEX members_nick;",
    );
    let third = migration(
        3,
        "ALTER TABLE members ADD COLUMN age INT;",
        "ALTER TABLE members DROP COLUMN age;",
    );
    let err = conn
        .apply_ups(
            &[&first, &second, &third],
            Stamp::new("2.0.0", "test"),
            &RunLog::discard(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("0002_m2 up"), "{err}");
    assert!(err.contains("ALTER TABLE nowhere"), "{err}");
    assert!(err.contains("\"nowhere\" does not exist"), "{err}");
    // The first migration committed; the second left nothing; the session is usable.
    let state = conn.version_state().unwrap();
    assert_eq!(state.applied.iter().map(|m| m.id).collect::<Vec<_>>(), [1]);
    let dump = conn.schema_dump().unwrap();
    assert!(dump.iter().any(|l| l.contains("nick")), "{dump:?}");
    assert!(!dump.iter().any(|l| l.contains("members_nick")), "{dump:?}");

    // A version row that cannot be written (its id is taken) fails that migration, not the
    // statement that travelled with it.
    conn.apply_downs(&[&first], &RunLog::discard()).unwrap();
    let mut client = server().connect("chain").unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO {}.bascule_migrations VALUES (1, 'other', '', '', '', 'applied')",
            names[0]
        ))
        .unwrap();
    let err = conn
        .apply_ups(
            &[&first, &third],
            Stamp::new("2.0.0", "test"),
            &RunLog::discard(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("0001_m1 up: recording it"), "{err}");
    assert!(err.contains("duplicate key"), "{err}");

    // The same when the failed record was the one creating the version table: after the
    // rollback there is no table to ask, and that too means the earlier migration is undone.
    let fresh = schemas(server(), "chain_fresh", 1);
    let mut fresh_conn = db::connect(&schema_target(&url(), "chain_fresh", &fresh[0])).unwrap();
    let squatter = migration(
        1,
        "CREATE VIEW bascule_migrations AS SELECT 1 AS x;",
        "DROP VIEW bascule_migrations;",
    );
    let err = fresh_conn
        .apply_ups(
            &[&squatter, &third],
            Stamp::new("2.0.0", "test"),
            &RunLog::discard(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("0001_m1 up: recording it"), "{err}");
    assert!(!fresh_conn.version_state().unwrap().table_exists);
    assert!(!conn
        .schema_dump()
        .unwrap()
        .iter()
        .any(|l| l.contains("nick") || l.contains("age")));
}

/// The undo of a database is one transaction: a down failing after another one ran leaves the
/// database exactly as the migrations left it, every row included; the undo that succeeds
/// removes the version table it drops with the downs, without deleting the rows first.
#[test]
fn the_undo_of_a_database_is_one_transaction() {
    let names = schemas(server(), "undo_tx", 1);
    let target = schema_target(&url(), "undo_tx", &names[0]);
    let before = state_of(&url(), "undo_tx", &names);
    let mut conn = db::connect(&target).unwrap();
    let first = migration(
        1,
        "ALTER TABLE members ADD COLUMN nick TEXT;",
        "ALTER TABLE members DROP COLUMN nick;\nDROP TABLE nowhere;",
    );
    let second = migration(
        2,
        "CREATE INDEX members_email ON members (email);",
        "DROP INDEX members_email;",
    );
    conn.apply_ups(
        &[&first, &second],
        Stamp::new("2.0.0", "test"),
        &RunLog::discard(),
    )
    .unwrap();
    let migrated = state_of(&url(), "undo_tx", &names);
    let rows = conn.version_state().unwrap();

    let err = conn
        .undo(&[&second, &first], false, &RunLog::discard())
        .unwrap_err()
        .to_string();
    assert!(err.contains("0001_m1 down"), "{err}");
    assert!(err.contains("DROP TABLE nowhere"), "{err}");
    assert_eq!(
        state_of(&url(), "undo_tx", &names),
        migrated,
        "the index is back"
    );
    assert_eq!(conn.version_state().unwrap(), rows);

    let fixed = migration(1, &first.up, "ALTER TABLE members DROP COLUMN nick;");
    let log_path = tempfile::NamedTempFile::new().unwrap();
    let log = RunLog::open(log_path.path(), false).unwrap();
    conn.undo(&[&second, &fixed], true, &log).unwrap();
    assert_eq!(state_of(&url(), "undo_tx", &names), before);
    let logged = std::fs::read_to_string(log_path.path()).unwrap();
    assert!(!logged.contains("DELETE FROM"), "{logged}");
    assert!(
        logged.contains("DROP TABLE IF EXISTS bascule_migrations"),
        "{logged}"
    );
}

/// In a downtime window a database's migrations are one transaction: a failure in the last
/// leaves the database exactly as it was, where one transaction per migration would have kept
/// the first two; a success commits every version row at once.
#[test]
fn in_downtime_the_migrations_of_a_database_are_one_transaction() {
    let names = schemas(server(), "downtime_tx", 1);
    let target = schema_target(&url(), "downtime_tx", &names[0]);
    let before = state_of(&url(), "downtime_tx", &names);
    let mut conn = db::connect(&target).unwrap();
    let first = migration(
        1,
        "ALTER TABLE members ADD COLUMN nick TEXT;",
        "ALTER TABLE members DROP COLUMN nick;",
    );
    let second = migration(
        2,
        "CREATE INDEX members_email ON members (email);",
        "DROP INDEX members_email;",
    );
    let failing = migration(
        3,
        "UPDATE members SET nick = 'x';\nSELECT * FROM nowhere;",
        "UPDATE members SET nick = NULL;",
    );
    let stamp = Stamp::new("2.0.0", "downtime-run");
    let err = conn
        .apply_ups_in_downtime(&[&first, &second, &failing], stamp, &RunLog::discard())
        .unwrap_err()
        .to_string();
    assert!(err.contains("0003_m3 up"), "{err}");
    assert!(err.contains("SELECT * FROM nowhere"), "{err}");
    assert_eq!(
        state_of(&url(), "downtime_tx", &names),
        before,
        "nothing of the first two migrations is left"
    );

    conn.apply_ups_in_downtime(&[&first, &second], stamp, &RunLog::discard())
        .unwrap();
    let rows = conn.version_state().unwrap();
    let applied: Vec<(u32, RowState, Option<&str>)> = rows
        .applied
        .iter()
        .map(|a| (a.id, a.state, a.run.as_deref()))
        .collect();
    assert_eq!(
        applied,
        [
            (1, RowState::Applied, Some("downtime-run")),
            (2, RowState::Applied, Some("downtime-run"))
        ]
    );
    let dump = conn.schema_dump().unwrap().join("\n");
    assert!(dump.contains("members_email"), "{dump}");
}

/// A server of its own: this test kills it. Each schema's migration commits on its own (the
/// `migrate` path), so the kill finds some schemas migrated, one in flight and the rest untouched.
#[test]
fn the_server_killed_mid_run_fails_cleanly_and_recover_restores_every_schema() {
    let server = Mutex::new(PostgresServer::start().unwrap());
    let url = server.lock().unwrap().url();
    let names = schemas(&server.lock().unwrap(), "kill", 40);
    let before = state_of(&url, "kill", &names);
    // The sleep stretches each schema's migration so the kill lands in the middle of the run.
    let slow: Spec<'static> = (
        1,
        "slow",
        "ALTER TABLE members ADD COLUMN nick TEXT;\nSELECT pg_sleep(0.05);\n\
         CREATE INDEX members_email ON members (email);",
        // And each undo, so the server can be killed in the middle of recover's.
        "SELECT pg_sleep(0.1);\nDROP INDEX IF EXISTS members_email;\n\
         ALTER TABLE members DROP COLUMN IF EXISTS nick;",
    );
    let rig = Rig::new("postgres", &[slow], &section(&url, "kill"));
    let versioned = || {
        let mut probe = server.lock().unwrap().connect("kill").unwrap();
        let sql = format!(
            "SELECT count(*) FROM pg_tables WHERE tablename = '{}' AND schemaname LIKE 'kill\\_%'",
            db::VERSION_TABLE
        );
        let count: i64 = probe.query_one(sql.as_str(), &[]).unwrap().get(0);
        count as usize
    };
    let kill = || server.lock().unwrap().kill().unwrap();
    let every = Duration::from_millis(10);
    let clock = Instant::now();
    let (outcome, killed) = kill_when(|| versioned() >= 8, kill, every, || rig.migrate());
    assert!(killed, "the run ended before the kill");
    let (outcome, run) = outcome;
    assert!(clock.elapsed() < Duration::from_secs(60), "no hang");
    let Outcome::UndoIncomplete { error, .. } = &outcome else {
        panic!("the server is down, its undo cannot succeed: {outcome:?}");
    };
    assert!(error.to_string().contains("migration failure"), "{error}");

    server.lock().unwrap().restart().unwrap();
    let migrated = state_of(&url, "kill", &names)
        .iter()
        .filter(|(_, has_versions, _)| *has_versions)
        .count();
    assert!(migrated >= 8, "the kill left {migrated} schemas migrated");
    // Killed again in the middle of that undo, once a few schemas are undone.
    let (errors, killed) = kill_when(
        || versioned() + 3 <= migrated,
        kill,
        every,
        || rig.recover(&run),
    );
    assert!(killed, "killed during the undo");
    assert!(!errors.is_empty(), "the server died under the undo");

    server.lock().unwrap().restart().unwrap();
    let errors = rig.recover(&run);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        state_of(&url, "kill", &names),
        before,
        "every schema as it was"
    );
}

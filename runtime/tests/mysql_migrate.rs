//! The migrate step on a real MariaDB server, through the engine: a migration failing half-way,
//! the server killed mid-run and `recover` afterwards, `applying` rows, an adopted counter
//! table, connection reuse, and the speed of the survey. Every failure path compares each
//! database's schema dump and content with what it was before.

mod common;

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bascule::engine::Outcome;
use bascule_db::{self as db, DbTarget, Location, RowState, Stamp};
use bascule_runlog::RunLog;
use common::rig::{Rig, Spec};
use common::{kill_when, migration};
use mysql::prelude::Queryable as _;
use testdb::MariaDb;

fn server() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    SERVER.get_or_init(|| MariaDb::start().unwrap())
}

/// Creates databases `<prefix>_NN` with a `members` table and rows; returns their names.
fn tenants(server: &MariaDb, prefix: &str, count: usize) -> Vec<String> {
    let mut conn = server.connect(None).unwrap();
    (0..count)
        .map(|i| {
            let name = format!("{prefix}_{i:03}");
            conn.query_drop(format!(
                "CREATE DATABASE `{name}`;
                 CREATE TABLE `{name}`.members (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL);
                 INSERT INTO `{name}`.members VALUES (1, 'a{i}@example.org'), (2, 'b{i}@example.org');"
            ))
            .unwrap();
            name
        })
        .collect()
}

fn target(url: &str, name: &str) -> DbTarget {
    DbTarget {
        class: "site".into(),
        name: name.into(),
        location: Location::Mysql {
            url: url.into(),
            database: name.into(),
        },
    }
}

/// Schema dump, version table (or its absence) and every row of `members`: all a rollback
/// must give back.
fn state_of(url: &str, names: &[String]) -> Vec<(Vec<String>, bool, Vec<Vec<String>>)> {
    names
        .iter()
        .map(|name| {
            let mut conn = db::connect(&target(url, name)).unwrap();
            (
                conn.schema_dump().unwrap(),
                conn.version_state().unwrap().table_exists,
                conn.query_rows("SELECT * FROM members ORDER BY id")
                    .unwrap(),
            )
        })
        .collect()
}

fn section(url: &str, pattern: &str, extra: &str) -> String {
    format!("engine = \"mysql\"\nurl = \"{url}\"\npattern = '{pattern}'\n{extra}")
}

const BADGES: Spec<'static> = (
    1,
    "badges",
    "CREATE TABLE IF NOT EXISTS badges (id INT PRIMARY KEY, label VARCHAR(40));",
    "DROP TABLE IF EXISTS badges;",
);

/// Three statements; the second fails where two members share an email.
const NICK: Spec<'static> = (
    2,
    "nick",
    "ALTER TABLE members ADD COLUMN nick VARCHAR(40) NULL;\n\
     CREATE UNIQUE INDEX members_email ON members (email);\n\
     UPDATE members SET nick = LEFT(email, 5);",
    "DROP INDEX IF EXISTS members_email ON members;\n\
     ALTER TABLE members DROP COLUMN IF EXISTS nick;",
);

#[test]
fn a_failure_at_the_second_of_three_statements_leaves_every_database_as_it_was() {
    let names = tenants(server(), "half", 12);
    let url = server().url();
    let mut conn = server().connect(Some("half_007")).unwrap();
    conn.query_drop("UPDATE members SET email = 'same@example.org'")
        .unwrap();
    let before = state_of(&url, &names);
    let rig = Rig::new(
        "mysql",
        &[BADGES, NICK],
        &section(&url, "half\\_%", "workers = 3"),
    );

    let (outcome, run) = rig.migrate();
    let Outcome::RolledBack { error, .. } = outcome else {
        panic!("expected a clean rollback, got {outcome:?}");
    };
    let error = error.to_string();
    assert!(error.contains("half_007"), "{error}");
    assert!(error.contains("statement 2 of 3 failed"), "{error}");
    assert_eq!(state_of(&url, &names), before, "every database as it was");
    let log = Rig::log_of(&run);
    assert!(
        log.contains("half_007: 0002_nick up: version row `applying`"),
        "{log}"
    );
    assert!(
        log.contains("half_007: 0002_nick up: statement 2/3: CREATE UNIQUE INDEX"),
        "{log}"
    );
    assert!(
        log.contains("half_007: 0002_nick down: statement 1/2: DROP INDEX IF EXISTS"),
        "{log}"
    );
}

/// A row left `applying` by a killed run: a bundle shipping another migration 0001 cannot
/// finish its undo and is refused; the bundle that ships it may, but only holding the migration
/// locks (which prove the run that left it is gone): without them it changes nothing.
#[test]
fn an_applying_row_is_finished_only_by_its_own_migration_under_the_locks() {
    let names = tenants(server(), "stuck", 2);
    let url = server().url();
    let before = state_of(&url, &names);
    // A migration cut short: its first statement committed, the row says `applying`.
    let mut conn = db::connect(&target(&url, "stuck_001")).unwrap();
    let failing = migration(
        1,
        "ALTER TABLE members ADD COLUMN nick VARCHAR(40) NULL;\nALTER TABLE nowhere ADD COLUMN x INT;",
        "ALTER TABLE members DROP COLUMN IF EXISTS nick;",
    );
    conn.apply_up(
        &failing,
        Stamp::new("2.0.0", "killed-run"),
        &RunLog::discard(),
    )
    .unwrap_err();
    let state = conn.version_state().unwrap();
    assert_eq!(state.applying().count(), 1);
    assert_eq!(state.version(), 0, "an applying row is no version");
    assert_eq!(state.applied[0].state, RowState::Applying);
    assert_eq!(state.applied[0].run.as_deref(), Some("killed-run"));
    let stuck = state_of(&url, &names);

    let other = Rig::new(
        "mysql",
        &[(1, "m1", BADGES.2, BADGES.3)],
        &section(&url, "stuck\\_%", ""),
    );
    let classes = bascule::survey::survey(&other.host, &other.patch).unwrap();
    let problems = classes[0].problems();
    assert!(
        problems[0].contains(
            "site/stuck_001: migration 0001_m1 was left half-applied (state `applying` in bascule_migrations) \
             by run killed-run, and this bundle cannot undo it"
        ),
        "{problems:?}"
    );
    assert!(problems[1].contains("different up.sql"), "{problems:?}");

    let same = Rig::new(
        "mysql",
        &[(1, "m1", &failing.up, &failing.down)],
        &section(&url, "stuck\\_%", ""),
    );
    let classes = bascule::survey::survey(&same.host, &same.patch).unwrap();
    assert_eq!(classes[0].problems(), Vec::<String>::new());
    let abandoned = classes[0].abandoned(&classes[0].databases[1]).unwrap();
    assert_eq!(abandoned.iter().map(|m| m.id).collect::<Vec<_>>(), [1]);
    // This rig's runs do not take the migration locks.
    let (outcome, run) = same.migrate();
    assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
    assert!(
        Rig::log_of(&run).contains("only a run holding the migration locks may finish their undo"),
        "{}",
        Rig::log_of(&run)
    );
    assert_eq!(state_of(&url, &names), stuck, "the refusal touched nothing");

    // What the undo does with it: the (idempotent) down, then the row goes.
    conn.apply_down(&failing, &RunLog::discard()).unwrap();
    conn.drop_version_table(&RunLog::discard()).unwrap();
    assert_eq!(state_of(&url, &names), before);
}

#[test]
fn an_adopted_counter_is_the_starting_version_and_the_undo_restores_it() {
    let names = tenants(server(), "adopt", 4);
    let url = server().url();
    let mut conn = server().connect(None).unwrap();
    for name in &names {
        conn.query_drop(format!(
            "CREATE TABLE `{name}`.db_version (version INT NOT NULL); INSERT INTO `{name}`.db_version VALUES (1);"
        ))
        .unwrap();
    }
    let before = state_of(&url, &names);
    let adopt = "adopt = { table = \"db_version\", column = \"version\" }";
    let ok = Rig::new("mysql", &[BADGES, NICK], &section(&url, "adopt\\_%", adopt));
    let classes = bascule::survey::survey(&ok.host, &ok.patch).unwrap();
    assert!(classes[0].databases.iter().all(|d| d.state.version() == 1));
    assert_eq!(
        classes[0].pending_total(),
        4,
        "0001 counts as applied: only 0002 runs"
    );

    let (outcome, _) = ok.migrate();
    assert!(matches!(outcome, Outcome::Committed), "{outcome:?}");
    let mut first = db::connect(&target(&url, "adopt_000")).unwrap();
    let state = first.version_state().unwrap();
    assert_eq!(
        state
            .applied
            .iter()
            .map(|m| (m.id, m.state, m.name.as_str()))
            .collect::<Vec<_>>(),
        [
            (1, RowState::Baseline, "adopted from db_version.version"),
            (2, RowState::Applied, "nick")
        ]
    );
    assert!(
        !first
            .schema_dump()
            .unwrap()
            .iter()
            .any(|l| l.contains("badges")),
        "0001 did not run"
    );

    let run = std::fs::read_dir(ok.dir.path()).unwrap().count();
    assert!(run > 0);
    // The committed run undone from its journal (what `bascule rollback` does).
    let errors = ok.recover(&ok.dir.path().join("run-1"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        state_of(&url, &names),
        before,
        "counter table untouched, version table gone"
    );
}

#[test]
fn a_worker_reuses_its_connection_across_databases() {
    let names = tenants(server(), "reuse", 50);
    // A user of its own, whose connections the server counts (user statistics), so the other
    // tests running against the same server do not blur the count.
    let mut admin = server().connect(None).unwrap();
    admin
        .query_drop(
            "SET GLOBAL userstat = 1;
             CREATE USER reuser@'127.0.0.1';
             GRANT ALL ON *.* TO reuser@'127.0.0.1';",
        )
        .unwrap();
    let url = format!("mysql://reuser@127.0.0.1:{}", server().port());
    let mut connections = || -> u64 {
        admin
            .query_first::<u64, _>(
                "SELECT IFNULL(SUM(TOTAL_CONNECTIONS), 0) FROM information_schema.USER_STATISTICS WHERE USER = 'reuser'",
            )
            .unwrap()
            .unwrap_or(0)
    };
    let workers = 3;
    let rig = Rig::new(
        "mysql",
        &[BADGES],
        &section(&url, "reuse\\_%", &format!("workers = {workers}")),
    );
    let start = connections();
    let (outcome, _) = rig.migrate();
    assert!(matches!(outcome, Outcome::Committed), "{outcome:?}");
    let used = connections() - start;
    println!("50 databases surveyed and migrated with {used} connections ({workers} workers)");
    // Discovery, survey, and each worker's session; the client may add one more per connection
    // when it moves to the server's unix socket.
    assert!(
        used <= 2 * (workers + 2),
        "{used} connections for {} databases",
        names.len()
    );
    let done = names
        .iter()
        .filter(|n| {
            db::connect(&target(&server().url(), n))
                .unwrap()
                .version_state()
                .unwrap()
                .version()
                == 1
        })
        .count();
    assert_eq!(done, 50);
}

#[test]
fn the_survey_reads_a_thousand_databases_in_a_few_queries() {
    // `BASCULE_SURVEY_COUNT=5000` measures the target size (not asserted: a figure).
    let count: usize = std::env::var("BASCULE_SURVEY_COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let mut conn = server().connect(None).unwrap();
    let clock = Instant::now();
    let mut script = String::new();
    for i in 0..count {
        let name = format!("many_{i:04}");
        script.push_str(&format!(
            "CREATE DATABASE `{name}`; CREATE TABLE `{name}`.bascule_migrations (id INT UNSIGNED PRIMARY KEY, name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL, patch VARCHAR(255) NOT NULL, applied_at VARCHAR(32) NOT NULL, state VARCHAR(16) NOT NULL DEFAULT 'applied', run VARCHAR(255) NULL); INSERT INTO `{name}`.bascule_migrations VALUES (1, 'badges', 'x', '1.0.0', '', 'applied', 'r');"
        ));
        if i % 100 == 99 {
            conn.query_drop(std::mem::take(&mut script)).unwrap();
        }
    }
    println!("created {count} databases in {:?}", clock.elapsed());
    let url = server().url();
    let rig = Rig::new("mysql", &[BADGES], &section(&url, "many\\_%", ""));
    let clock = Instant::now();
    let classes = bascule::survey::survey(&rig.host, &rig.patch).unwrap();
    let elapsed = clock.elapsed();
    println!(
        "survey of {count} databases: {elapsed:?} (version tables read in {:?})",
        classes[0].elapsed
    );
    assert_eq!(classes[0].databases.len(), count);
    assert!(classes[0].databases.iter().all(|d| d.state.version() == 1));
    assert_eq!(classes[0].pending_total(), 0);
}

/// A server of its own: this test kills it.
#[test]
fn the_server_killed_mid_run_fails_cleanly_and_recover_restores_every_database() {
    let server = Mutex::new(MariaDb::start().unwrap());
    let url = server.lock().unwrap().url();
    let names = tenants(&server.lock().unwrap(), "kill", 50);
    let before = state_of(&url, &names);
    let heavy: Spec<'static> = (
        2,
        "heavy",
        "ALTER TABLE members ADD COLUMN IF NOT EXISTS bio TEXT NULL;\n\
         CREATE INDEX IF NOT EXISTS members_email ON members (email);\n\
         ALTER TABLE members ADD COLUMN IF NOT EXISTS score INT NOT NULL DEFAULT 0;",
        // The sleep makes the undo long enough for the server to be killed in its middle.
        "DO SLEEP(0.1);\n\
         ALTER TABLE members DROP COLUMN IF EXISTS score;\n\
         DROP INDEX IF EXISTS members_email ON members;\n\
         ALTER TABLE members DROP COLUMN IF EXISTS bio;",
    );
    let rig = Rig::new(
        "mysql",
        &[BADGES, heavy],
        &section(&url, "kill\\_%", "workers = 2"),
    );
    let badges = || -> u64 {
        let mut probe = server.lock().unwrap().connect(None).unwrap();
        probe
            .query_first("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE 'kill\\_%' AND TABLE_NAME = 'badges'")
            .unwrap()
            .unwrap_or(0)
    };
    let kill = || server.lock().unwrap().kill().unwrap();
    let every = Duration::from_millis(20);
    let clock = Instant::now();
    // Killed once a few databases are migrated.
    let (outcome, killed) = kill_when(|| badges() >= 8, kill, every, || rig.migrate());
    assert!(killed);
    let (outcome, run) = outcome;
    println!("the run failed after {:?}", clock.elapsed());
    assert!(clock.elapsed() < Duration::from_secs(60), "no hang");
    let Outcome::UndoIncomplete { error, .. } = &outcome else {
        panic!("the server is down, its undo cannot succeed: {outcome:?}");
    };
    assert!(error.to_string().contains("migration failure"), "{error}");

    server.lock().unwrap().restart().unwrap();
    // Killed again in the middle of that undo, once a few databases are undone.
    let migrated = badges();
    let (errors, killed) = kill_when(
        || badges() + 3 <= migrated,
        kill,
        every,
        || rig.recover(&run),
    );
    assert!(killed, "killed during the undo");
    assert!(!errors.is_empty(), "the server died under the undo");
    println!("server killed during the undo, {migrated} database(s) to undo: {errors:?}");

    server.lock().unwrap().restart().unwrap();
    let errors = rig.recover(&run);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(state_of(&url, &names), before, "every database as it was");
}

#[test]
fn tenants_listed_by_a_query_on_the_main_database_are_found_on_their_shard() {
    let shard = MariaDb::start().unwrap();
    let mut main = server().connect(None).unwrap();
    main.query_drop(
        "CREATE DATABASE platform;
         CREATE TABLE platform.sites (db_name VARCHAR(64) NOT NULL, active INT NOT NULL);
         INSERT INTO platform.sites VALUES ('shop_a', 1), ('shop_b', 1), ('shop_c', 0);
         CREATE DATABASE shop_a; CREATE DATABASE shop_c;",
    )
    .unwrap();
    shard.create_database("shop_b").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = |query: &str| {
        let path = dir.path().join("host.toml");
        std::fs::write(
            &path,
            format!(
                "[platform]\nroot = \"p\"\n\n\
                 [databases.main]\nengine = \"mysql\"\nurl = \"{}\"\ndatabases = [\"platform\"]\n\n\
                 [databases.site]\nengine = \"mysql\"\nurls = [\"{}\", \"{}\"]\nquery = \"{query}\"\n",
                server().url(),
                server().url(),
                shard.url()
            ),
        )
        .unwrap();
        bascule::host::HostProfile::load(&path).unwrap()
    };
    let host = profile("SELECT db_name FROM sites WHERE active = 1");
    let found: Vec<(String, Location)> = host
        .discover("site")
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.location))
        .collect();
    assert_eq!(
        found,
        [
            (
                "shop_a".to_string(),
                target(&server().url(), "shop_a").location
            ),
            (
                "shop_b".to_string(),
                target(&shard.url(), "shop_b").location
            ),
        ]
    );
    shard.create_database("shop_a").unwrap();
    let twice = host.discover("site").unwrap_err().to_string();
    assert!(twice.contains("`shop_a` is on two servers"), "{twice}");
    let lost = profile("SELECT 'shop_z'")
        .discover("site")
        .unwrap_err()
        .to_string();
    assert!(
        lost.contains("shop_z: not found on any of the 2 servers"),
        "{lost}"
    );
}

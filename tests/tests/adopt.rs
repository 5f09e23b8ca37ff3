//! Adopting another migration tool's history, end to end: a database migrated by dbmate (the
//! real `dbmate`), golang-migrate, Flyway, Liquibase (SQLite) or Sqitch (PostgreSQL) — the
//! others brought to their tool's state by running its up scripts and writing its history
//! table the way the tool's documentation describes its columns — is imported with `cargo
//! xtask import`, built into a bundle whose patch adds one more migration, applied with the
//! class's `adopt = { tool = "…" }`, and rolled back: the tenant ends exactly as the tool left
//! it (schema, data, the tool's table, no Bascule table). A dirty or failed history refuses the
//! run, naming the tenant, and changes nothing.

mod server_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use bascule_db::{self as db, DbTarget, Location};
use bascule_patch::{Dialect, Tool};
use bascule_tests::{static_runtime, untar, workspace};
use server_common::{bascule, text};
use testdb::{MariaDb, PostgresServer};

fn fixture(rel: &str) -> PathBuf {
    workspace().join("fixtures/adopt").join(rel)
}

/// An imported patch built into a bundle, and a host whose class `main` adopts the tool.
struct Rig {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bundle: PathBuf,
    profile: PathBuf,
}

/// Imports `from` as `tool` into `patches/1.0.0` (`without_down` of its migrations reported
/// without a down), writes `downs` (migration directory, text: those the tool lacked, or
/// those lint wants otherwise), adds `next` (up, down) as the following migration, builds the
/// bundle, and writes a host profile whose `[databases.main]` is `databases` plus the adopt.
fn rig(
    tool: Tool,
    from: &Path,
    dialect: Dialect,
    without_down: usize,
    downs: &[(&str, &str)],
    next: (&str, &str),
    databases: &str,
) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let patch = root.join("patches/1.0.0");
    let report = xtask::import::import(from, tool, &patch, "main", dialect, "1.0.0")
        .unwrap_or_else(|e| panic!("import {tool}: {e:#}"));
    assert_eq!(
        report.without_down.len(),
        without_down,
        "{tool}: {:?}",
        report.without_down
    );
    for (migration, down) in downs {
        let path = patch
            .join("migrations/main")
            .join(migration)
            .join("down.sql");
        assert!(path.is_file(), "{}", path.display());
        std::fs::write(path, down).unwrap();
    }
    let count = std::fs::read_dir(patch.join("migrations/main"))
        .unwrap()
        .count();
    let next_dir = patch
        .join("migrations/main")
        .join(format!("{:04}_add_note", count + 1));
    std::fs::create_dir_all(&next_dir).unwrap();
    std::fs::write(next_dir.join("up.sql"), next.0).unwrap();
    std::fs::write(next_dir.join("down.sql"), next.1).unwrap();
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("app/index.html"), "adopted\n").unwrap();
    let built = xtask::build_patch::build(&patch, &root.join("out"), Some(static_runtime()))
        .unwrap_or_else(|e| panic!("build {tool}: {e:#}"));
    let bundle = untar(&built.path, &root.join("delivery")).unwrap();
    let databases = databases.replace("{root}", &root.display().to_string());
    let host = root.join("host");
    std::fs::create_dir_all(host.join("platform")).unwrap();
    std::fs::create_dir_all(host.join("state")).unwrap();
    std::fs::create_dir_all(host.join("data")).unwrap();
    std::fs::write(host.join("state/platform.toml"), "version = \"0.9.0\"\n").unwrap();
    let profile = host.join("host.toml");
    std::fs::write(
        &profile,
        format!(
            "[platform]\nroot = \"{}\"\nstate_dir = \"{}\"\n\n[databases.main]\n{databases}\nadopt = {{ tool = \"{tool}\" }}\n",
            host.join("platform").display(),
            host.join("state").display(),
        ),
    )
    .unwrap();
    Rig {
        _dir: dir,
        root,
        bundle,
        profile,
    }
}

impl Rig {
    fn sqlite(&self, name: &str) -> DbTarget {
        DbTarget {
            class: "main".into(),
            name: name.into(),
            location: Location::SqliteFile(
                self.root.join("host/data").join(format!("{name}.sqlite")),
            ),
        }
    }
}

/// What a tenant is: its schema, every row of every table (the tool's table included), and
/// whether it has a Bascule version table.
#[derive(Debug, PartialEq, Eq)]
struct Tenant {
    schema: Vec<String>,
    content: String,
    version_table: bool,
}

fn tenant(target: &DbTarget) -> Tenant {
    let mut conn = db::connect(target).unwrap_or_else(|e| panic!("{e}"));
    Tenant {
        schema: conn.schema_dump().unwrap(),
        content: conn.content_digest().unwrap(),
        version_table: conn.version_state().unwrap().table_exists,
    }
}

fn rows(target: &DbTarget, sql: &str) -> Vec<Vec<String>> {
    db::connect(target)
        .and_then(|mut c| c.query_rows(sql))
        .unwrap_or_else(|e| panic!("{target}: {sql}: {e}"))
}

/// Runs a script on a SQLite tenant, as the tool's own client would.
fn execute(target: &DbTarget, sql: &str) {
    let Location::SqliteFile(path) = &target.location else {
        panic!("{target}: not a SQLite file");
    };
    rusqlite::Connection::open(path)
        .and_then(|c| c.execute_batch(sql))
        .unwrap_or_else(|e| panic!("{target}: {e}"));
}

/// The Bascule version rows of a tenant: (id, state).
fn versions(target: &DbTarget) -> Vec<(u32, String)> {
    let mut conn = db::connect(target).unwrap();
    conn.version_state()
        .unwrap()
        .applied
        .into_iter()
        .map(|a| (a.id, a.state.as_str().to_string()))
        .collect()
}

/// Applies the bundle, checks the tenants are at `target` with the tool's table untouched,
/// rolls back, and checks each tenant is as the tool left it.
fn apply_then_rollback(rig: &Rig, tenants: &[DbTarget], tool_table: &str, adopted: u32) {
    let before: Vec<Tenant> = tenants.iter().map(tenant).collect();
    let tool_rows: Vec<_> = tenants
        .iter()
        .map(|t| rows(t, &format!("SELECT * FROM {tool_table} ORDER BY 1")))
        .collect();
    let plan = bascule(&rig.bundle, &rig.profile, &["plan"], &[]);
    assert!(plan.status.success(), "{}", text(&plan));
    let out = bascule(&rig.bundle, &rig.profile, &["apply"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    for (t, tool_rows) in tenants.iter().zip(&tool_rows) {
        assert_eq!(
            versions(t),
            [
                (adopted, "baseline".to_string()),
                (adopted + 1, "applied".to_string())
            ],
            "{t}: {}",
            text(&out)
        );
        assert_eq!(
            &rows(t, &format!("SELECT * FROM {tool_table} ORDER BY 1")),
            tool_rows,
            "{t}: the tool's history is only read"
        );
    }
    let out = bascule(&rig.bundle, &rig.profile, &["rollback"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    for (t, before) in tenants.iter().zip(&before) {
        assert_eq!(&tenant(t), before, "{t}: after rollback");
        assert!(!before.version_table);
    }
}

/// `plan` shows a refusal naming `refused`, and `apply` stops at `preflight`, before anything
/// changed: nothing has.
fn refused(rig: &Rig, tenants: &[DbTarget], refused: &DbTarget, says: &str) {
    let before: Vec<Tenant> = tenants.iter().map(tenant).collect();
    let plan = bascule(&rig.bundle, &rig.profile, &["plan"], &[]);
    let planned = text(&plan);
    assert!(
        planned.contains(&format!("{refused}: cannot adopt")) && planned.contains(says),
        "plan names {refused} and says {says}: {planned}"
    );
    let out = bascule(&rig.bundle, &rig.profile, &["apply"], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("FAILED at step `preflight`"), "{said}");
    assert!(
        said.contains(&format!("{refused}: cannot adopt")),
        "names {refused}: {said}"
    );
    assert!(said.contains(says), "says {says}: {said}");
    for (t, before) in tenants.iter().zip(&before) {
        assert_eq!(&tenant(t), before, "{t}: after the refusal");
    }
}

/// The tenants: SQLite files, `{root}` the rig's directory.
const SQLITE_TENANTS: &str = "engine = \"sqlite\"\nglob = \"{root}/host/data/*.sqlite\"";

const NOTE_SQLITE: (&str, &str) = (
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n",
    "DROP TABLE notes;\n",
);

/// The migration the bundle adds after the imported ones, on a server: its down idempotent, as
/// lint wants where DDL is not transactional.
const NOTE_SERVER: (&str, &str) = (
    "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT);\n",
    "DROP TABLE IF EXISTS notes;\n",
);

#[test]
fn dbmate_databases_migrated_by_dbmate_itself_are_adopted() {
    let dbmate = Command::new("dbmate").arg("--version").output();
    assert!(
        dbmate.as_ref().is_ok_and(|o| o.status.success()),
        "dbmate is not installed: run scripts/setup.sh"
    );
    let from = fixture("dbmate/db/migrations");
    let rig = rig(
        Tool::Dbmate,
        &from,
        Dialect::Sqlite,
        0,
        &[],
        NOTE_SQLITE,
        SQLITE_TENANTS,
    );
    let tenants = [rig.sqlite("site_a"), rig.sqlite("site_b")];
    for t in &tenants {
        let Location::SqliteFile(path) = &t.location else {
            unreachable!()
        };
        let out = Command::new("dbmate")
            .arg("--url")
            .arg(format!("sqlite:{}", path.display()))
            .arg("--migrations-dir")
            .arg(&from)
            .arg("--no-dump-schema")
            .arg("up")
            .current_dir(&rig.root)
            .output()
            .unwrap();
        assert!(out.status.success(), "dbmate up: {}", text(&out));
    }
    assert_eq!(
        rows(&tenants[0], "SELECT count(*) FROM schema_migrations"),
        [["2"]]
    );
    apply_then_rollback(&rig, &tenants, "schema_migrations", 2);

    // A migration dbmate applied that the import does not know refuses that tenant.
    execute(
        &tenants[1],
        "INSERT INTO schema_migrations (version) VALUES ('20990101000000');",
    );
    refused(&rig, &tenants, &tenants[1], "20990101000000");
}

#[test]
fn golang_migrate_databases_are_adopted_and_a_dirty_one_is_refused() {
    let from = fixture("golang-migrate");
    let rig = rig(
        Tool::GolangMigrate,
        &from,
        Dialect::Sqlite,
        0,
        &[],
        NOTE_SQLITE,
        SQLITE_TENANTS,
    );
    let tenants = [rig.sqlite("site_a"), rig.sqlite("site_b")];
    for t in &tenants {
        for up in [
            "000001_create_users_table.up.sql",
            "000002_add_mood_to_users.up.sql",
        ] {
            execute(t, &std::fs::read_to_string(from.join(up)).unwrap());
        }
        // golang-migrate's sqlite3 driver: one row, the version and whether it is dirty.
        execute(
            t,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool);\n\
             CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);\n\
             INSERT INTO schema_migrations (version, dirty) VALUES (2, false);",
        );
    }
    apply_then_rollback(&rig, &tenants, "schema_migrations", 2);
    execute(&tenants[1], "UPDATE schema_migrations SET dirty = true;");
    refused(&rig, &tenants, &tenants[1], "dirty");
}

/// Flyway's `flyway_schema_history` as Flyway creates it on SQLite.
const FLYWAY_HISTORY: &str = r#"CREATE TABLE "flyway_schema_history" (
    "installed_rank" INT NOT NULL PRIMARY KEY,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INT,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    "execution_time" INT NOT NULL,
    "success" BOOLEAN NOT NULL
);
CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_schema_history" ("success");"#;

/// Each versioned script of the Flyway fixture in `from`, with the `flyway_schema_history` row
/// Flyway writes when `installed_by` runs it. The checksums are those Flyway records: CRC32 of
/// the script's lines (computed independently of the importer, with zlib's CRC32 over the lines
/// without their endings).
fn flyway_migrated(from: &Path, installed_by: &str) -> Vec<(String, String)> {
    let scripts = [
        (
            "1",
            "Create person table",
            "V1__Create_person_table.sql",
            "1715188512",
        ),
        ("2", "Add people", "V2__Add_people.sql", "476766047"),
        (
            "3",
            "Add person email",
            "V3__Add_person_email.sql",
            "1753191910",
        ),
    ];
    scripts
        .iter()
        .enumerate()
        .map(|(rank, (version, description, script, checksum))| {
            let sql = std::fs::read_to_string(from.join(script)).unwrap();
            let row = format!(
                "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) \
                 VALUES ({}, '{version}', '{description}', 'SQL', '{script}', {checksum}, '{installed_by}', 3, 1);",
                rank + 1
            );
            (sql, row)
        })
        .collect()
}

#[test]
fn flyway_databases_are_adopted_and_a_failed_or_edited_one_is_refused() {
    let from = fixture("flyway/db/migration");
    let rig = rig(
        Tool::Flyway,
        &from,
        Dialect::Sqlite,
        1,
        &[(
            "0003_add_person_email",
            "ALTER TABLE PERSON DROP COLUMN EMAIL;\n",
        )],
        NOTE_SQLITE,
        SQLITE_TENANTS,
    );
    let tenants = [rig.sqlite("site_a"), rig.sqlite("site_b")];
    for t in &tenants {
        execute(t, FLYWAY_HISTORY);
        for (script, row) in flyway_migrated(&from, "sa") {
            execute(t, &script);
            execute(t, &row);
        }
        // The repeatable migration: run and recorded without a version, and ignored.
        execute(
            t,
            &std::fs::read_to_string(from.join("R__Person_names.sql")).unwrap(),
        );
        execute(
            t,
            "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) \
             VALUES (4, NULL, 'Person names', 'SQL', 'R__Person_names.sql', -1342325050, 'sa', 2, 1);",
        );
    }
    apply_then_rollback(&rig, &tenants, "flyway_schema_history", 3);

    execute(
        &tenants[0],
        "UPDATE flyway_schema_history SET checksum = 12345 WHERE version = '2';",
    );
    refused(&rig, &tenants, &tenants[0], "checksum 12345");
    execute(
        &tenants[0],
        "UPDATE flyway_schema_history SET checksum = 476766047 WHERE version = '2';",
    );
    execute(
        &tenants[1],
        "UPDATE flyway_schema_history SET success = 0 WHERE version = '3';",
    );
    refused(&rig, &tenants, &tenants[1], "success = false");
}

#[test]
fn liquibase_databases_are_adopted_and_a_failed_one_is_refused() {
    let from = fixture("liquibase");
    let rig = rig(
        Tool::Liquibase,
        &from,
        Dialect::Sqlite,
        0,
        &[],
        NOTE_SQLITE,
        SQLITE_TENANTS,
    );
    let tenants = [rig.sqlite("site_a"), rig.sqlite("site_b")];
    let changelog = std::fs::read_to_string(from.join("changelog.sql")).unwrap();
    let changesets: Vec<&str> = changelog.split("--changeset").skip(1).collect();
    for t in &tenants {
        // DATABASECHANGELOG and its lock table, with Liquibase's columns.
        execute(
            t,
            "CREATE TABLE DATABASECHANGELOGLOCK (ID INTEGER NOT NULL, LOCKED BOOLEAN NOT NULL, LOCKGRANTED TEXT, LOCKEDBY VARCHAR(255), CONSTRAINT PK_DATABASECHANGELOGLOCK PRIMARY KEY (ID));\n\
             INSERT INTO DATABASECHANGELOGLOCK (ID, LOCKED) VALUES (1, 0);\n\
             CREATE TABLE DATABASECHANGELOG (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL, FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED TEXT NOT NULL, ORDEREXECUTED INTEGER NOT NULL, EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255), TAG VARCHAR(255), LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS VARCHAR(255), DEPLOYMENT_ID VARCHAR(10));",
        );
        for (i, changeset) in changesets.iter().enumerate() {
            let body: String = changeset
                .lines()
                .skip(1)
                .filter(|l| !l.starts_with("--rollback"))
                .collect::<Vec<_>>()
                .join("\n");
            execute(t, &body);
            execute(
                t,
                &format!(
                    "INSERT INTO DATABASECHANGELOG (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, EXECTYPE, MD5SUM, DESCRIPTION, LIQUIBASE, DEPLOYMENT_ID) \
                     VALUES ('{}', 'nvoxland', 'changelog.sql', '2024-01-01 10:00:00', {}, 'EXECUTED', '9:0123456789abcdef0123456789abcdef', 'sql', '4.25.0', '4102444800');",
                    i + 1,
                    i + 1
                ),
            );
        }
    }
    apply_then_rollback(&rig, &tenants, "DATABASECHANGELOG", 3);
    execute(
        &tenants[1],
        "UPDATE DATABASECHANGELOG SET EXECTYPE = 'FAILED' WHERE ID = '3';",
    );
    refused(&rig, &tenants, &tenants[1], "EXECTYPE = FAILED");
}

fn postgres() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(|| PostgresServer::start().unwrap_or_else(|e| panic!("{e}")))
}

/// Sqitch's PostgreSQL registry (schema `sqitch`), the tables and columns Sqitch creates.
const SQITCH_REGISTRY: &str = "
CREATE SCHEMA sqitch;
CREATE TABLE sqitch.releases (version REAL PRIMARY KEY, installed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), installer_name TEXT NOT NULL, installer_email TEXT NOT NULL);
CREATE TABLE sqitch.projects (project TEXT PRIMARY KEY, uri TEXT NULL UNIQUE, created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), creator_name TEXT NOT NULL, creator_email TEXT NOT NULL);
CREATE TABLE sqitch.changes (change_id TEXT PRIMARY KEY, script_hash TEXT NULL, change TEXT NOT NULL, project TEXT NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE, note TEXT NOT NULL DEFAULT '', committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), committer_name TEXT NOT NULL, committer_email TEXT NOT NULL, planned_at TIMESTAMPTZ NOT NULL, planner_name TEXT NOT NULL, planner_email TEXT NOT NULL, UNIQUE(project, script_hash));
CREATE TABLE sqitch.tags (tag_id TEXT PRIMARY KEY, tag TEXT NOT NULL, project TEXT NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE, change_id TEXT NOT NULL REFERENCES sqitch.changes(change_id) ON UPDATE CASCADE, note TEXT NOT NULL DEFAULT '', committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), committer_name TEXT NOT NULL, committer_email TEXT NOT NULL, planned_at TIMESTAMPTZ NOT NULL, planner_name TEXT NOT NULL, planner_email TEXT NOT NULL, UNIQUE(project, tag));
CREATE TABLE sqitch.dependencies (change_id TEXT NOT NULL REFERENCES sqitch.changes(change_id) ON UPDATE CASCADE ON DELETE CASCADE, type TEXT NOT NULL, dependency TEXT NOT NULL, dependency_id TEXT NULL REFERENCES sqitch.changes(change_id) ON UPDATE CASCADE, PRIMARY KEY (change_id, dependency));
CREATE TABLE sqitch.events (event TEXT NOT NULL CHECK (event IN ('deploy', 'revert', 'fail', 'merge')), change_id TEXT NOT NULL, change TEXT NOT NULL, project TEXT NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE, note TEXT NOT NULL DEFAULT '', requires TEXT[] NOT NULL DEFAULT '{}', conflicts TEXT[] NOT NULL DEFAULT '{}', tags TEXT[] NOT NULL DEFAULT '{}', committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), committer_name TEXT NOT NULL, committer_email TEXT NOT NULL, planned_at TIMESTAMPTZ NOT NULL, planner_name TEXT NOT NULL, planner_email TEXT NOT NULL, PRIMARY KEY (change_id, committed_at));
INSERT INTO sqitch.releases VALUES (1.1, now(), 'Marge', 'marge@example.com');
INSERT INTO sqitch.projects VALUES ('flipr', 'https://github.com/sqitchers/sqitch-intro/', now(), 'Marge', 'marge@example.com');
";

#[test]
fn sqitch_databases_on_postgres_are_adopted_and_an_edited_or_failed_one_is_refused() {
    let server = postgres();
    let names = ["flipr_a", "flipr_b"];
    for name in names {
        server.create_database(name).unwrap();
    }
    let from = fixture("sqitch");
    let rig = rig(
        Tool::Sqitch,
        &from,
        Dialect::Postgres,
        0,
        &[],
        (
            "CREATE TABLE flipr.notes (id BIGINT PRIMARY KEY, body TEXT);\n",
            "DROP TABLE IF EXISTS flipr.notes;\n",
        ),
        &format!(
            "engine = \"postgres\"\nurl = \"{}\"\ndatabases = [\"flipr_a\", \"flipr_b\"]",
            server.url()
        ),
    );
    let tenants: Vec<DbTarget> = names
        .iter()
        .map(|name| DbTarget {
            class: "main".into(),
            name: name.to_string(),
            location: Location::Postgres {
                url: server.url(),
                database: name.to_string(),
                schema: None,
            },
        })
        .collect();
    let changes = [
        ("appschema", "5c4b2be44e4ed974a8268c671621c7a5904bd2b7"),
        ("users", "b27ea29ca13d9398bedfbf684b9a6c21a322f2c1"),
    ];
    for name in names {
        let mut client = server.connect(name).unwrap();
        client.batch_execute(SQITCH_REGISTRY).unwrap();
        for (i, (change, hash)) in changes.iter().enumerate() {
            // The deploy script as Sqitch runs it (its own BEGIN/COMMIT), then the registry.
            let script =
                std::fs::read_to_string(from.join(format!("deploy/{change}.sql"))).unwrap();
            client.batch_execute(&script).unwrap();
            let id = format!("{:040x}", i + 1);
            client
                .batch_execute(&format!(
                    "INSERT INTO sqitch.changes (change_id, script_hash, change, project, note, committer_name, committer_email, planned_at, planner_name, planner_email) \
                     VALUES ('{id}', '{hash}', '{change}', 'flipr', '', 'Marge', 'marge@example.com', '2013-12-30T23:19:35Z', 'Marge', 'marge@example.com');\n\
                     INSERT INTO sqitch.events (event, change_id, change, project, committer_name, committer_email, planned_at, planner_name, planner_email) \
                     VALUES ('deploy', '{id}', '{change}', 'flipr', 'Marge', 'marge@example.com', '2013-12-30T23:19:35Z', 'Marge', 'marge@example.com');"
                ))
                .unwrap();
        }
    }
    apply_then_rollback(&rig, &tenants, "sqitch.changes", 2);

    // A deploy script edited after it ran: its recorded hash is not the imported script's.
    let mut first = server.connect("flipr_a").unwrap();
    first
        .batch_execute("UPDATE sqitch.changes SET script_hash = 'deadbeef' WHERE change = 'users';")
        .unwrap();
    refused(&rig, &tenants, &tenants[0], "checksum deadbeef");
    first
        .batch_execute(&format!(
            "UPDATE sqitch.changes SET script_hash = '{}' WHERE change = 'users';",
            changes[1].1
        ))
        .unwrap();

    let mut client = server.connect("flipr_b").unwrap();
    client
        .batch_execute(
            "INSERT INTO sqitch.events (event, change_id, change, project, committer_name, committer_email, planned_at, planner_name, planner_email) \
             VALUES ('fail', 'ffff', 'widgets', 'flipr', 'Marge', 'marge@example.com', '2014-01-01T00:00:00Z', 'Marge', 'marge@example.com');",
        )
        .unwrap();
    refused(&rig, &tenants, &tenants[1], "failed deploy of `widgets`");
}

fn mariadb() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    SERVER.get_or_init(|| MariaDb::start().unwrap_or_else(|e| panic!("{e}")))
}

/// Flyway's `flyway_schema_history` as Flyway creates it on MySQL and MariaDB.
const FLYWAY_HISTORY_MYSQL: &str = "CREATE TABLE `flyway_schema_history` (
    `installed_rank` INT NOT NULL,
    `version` VARCHAR(50),
    `description` VARCHAR(200) NOT NULL,
    `type` VARCHAR(20) NOT NULL,
    `script` VARCHAR(1000) NOT NULL,
    `checksum` INT,
    `installed_by` VARCHAR(100) NOT NULL,
    `installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    `execution_time` INT NOT NULL,
    `success` BOOL NOT NULL,
    CONSTRAINT `flyway_schema_history_pk` PRIMARY KEY (`installed_rank`)
) ENGINE=InnoDB;
CREATE INDEX `flyway_schema_history_s_idx` ON `flyway_schema_history` (`success`);";

/// Runs each `;`-terminated statement of `sql` on a server tenant.
fn execute_each(target: &DbTarget, sql: &str) {
    let mut conn = db::connect(target).unwrap_or_else(|e| panic!("{e}"));
    for statement in sql.split_inclusive(";\n").chain(std::iter::once("")) {
        let statement = statement.trim().trim_end_matches(';');
        if !statement.is_empty() {
            conn.query_rows(statement)
                .unwrap_or_else(|e| panic!("{target}: {statement}: {e}"));
        }
    }
}

#[test]
fn flyway_databases_on_mariadb_are_adopted_and_a_failed_one_is_refused() {
    let server = mariadb();
    let names = ["fly_a", "fly_b"];
    for name in names {
        server.create_database(name).unwrap();
    }
    let from = fixture("flyway/db/migration");
    // MariaDB DDL is not transactional: lint wants every down idempotent, the imported ones too.
    let rig = rig(
        Tool::Flyway,
        &from,
        Dialect::Mysql,
        1,
        &[
            ("0001_create_person_table", "DROP TABLE IF EXISTS PERSON;\n"),
            (
                "0003_add_person_email",
                "ALTER TABLE PERSON DROP COLUMN IF EXISTS EMAIL;\n",
            ),
        ],
        NOTE_SERVER,
        &format!(
            "engine = \"mysql\"\nurl = \"{}\"\ndatabases = [\"fly_a\", \"fly_b\"]",
            server.url()
        ),
    );
    let tenants: Vec<DbTarget> = names
        .iter()
        .map(|name| DbTarget {
            class: "main".into(),
            name: name.to_string(),
            location: Location::Mysql {
                url: server.url(),
                database: name.to_string(),
            },
        })
        .collect();
    for t in &tenants {
        execute_each(t, FLYWAY_HISTORY_MYSQL);
        for (script, row) in flyway_migrated(&from, "root") {
            execute_each(t, &script);
            execute_each(t, &row);
        }
    }
    apply_then_rollback(&rig, &tenants, "flyway_schema_history", 3);
    execute_each(
        &tenants[1],
        "UPDATE flyway_schema_history SET success = 0 WHERE version = '3';",
    );
    refused(&rig, &tenants, &tenants[1], "success = false");
}

#[test]
fn golang_migrate_schemas_on_postgres_are_adopted_and_a_dirty_one_is_refused() {
    let server = postgres();
    server.create_database("gm_platform").unwrap();
    let schemas = ["gm_a", "gm_b"];
    let from = fixture("golang-migrate");
    let rig = rig(
        Tool::GolangMigrate,
        &from,
        Dialect::Postgres,
        0,
        &[],
        NOTE_SERVER,
        &format!(
            "engine = \"postgres\"\nurl = \"{}\"\ndatabase = \"gm_platform\"\nschemas = [\"gm_a\", \"gm_b\"]",
            server.url()
        ),
    );
    let tenants: Vec<DbTarget> = schemas
        .iter()
        .map(|schema| DbTarget {
            class: "main".into(),
            name: schema.to_string(),
            location: Location::Postgres {
                url: server.url(),
                database: "gm_platform".into(),
                schema: Some(schema.to_string()),
            },
        })
        .collect();
    let mut client = server.connect("gm_platform").unwrap();
    for schema in schemas {
        // golang-migrate's postgres driver, run with `search_path=<schema>`: its table in the
        // tenant's schema, one row.
        let mut script = format!("CREATE SCHEMA {schema}; SET search_path TO {schema};\n");
        for up in [
            "000001_create_users_table.up.sql",
            "000002_add_mood_to_users.up.sql",
        ] {
            script.push_str(&std::fs::read_to_string(from.join(up)).unwrap());
        }
        script.push_str(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null);\n\
             INSERT INTO schema_migrations (version, dirty) VALUES (2, false);\nRESET search_path;\n",
        );
        client.batch_execute(&script).unwrap();
    }
    apply_then_rollback(&rig, &tenants, "schema_migrations", 2);
    client
        .batch_execute("UPDATE gm_b.schema_migrations SET dirty = true;")
        .unwrap();
    refused(&rig, &tenants, &tenants[1], "dirty");
}

#[test]
fn dbmate_databases_on_postgres_migrated_by_dbmate_itself_are_adopted() {
    let server = postgres();
    let names = ["dbm_a", "dbm_b"];
    for name in names {
        server.create_database(name).unwrap();
    }
    let from = fixture("dbmate/db/migrations");
    let rig = rig(
        Tool::Dbmate,
        &from,
        Dialect::Postgres,
        0,
        &[],
        NOTE_SERVER,
        &format!(
            "engine = \"postgres\"\nurl = \"{}\"\ndatabases = [\"dbm_a\", \"dbm_b\"]",
            server.url()
        ),
    );
    let tenants: Vec<DbTarget> = names
        .iter()
        .map(|name| DbTarget {
            class: "main".into(),
            name: name.to_string(),
            location: Location::Postgres {
                url: server.url(),
                database: name.to_string(),
                schema: None,
            },
        })
        .collect();
    for name in names {
        let out = Command::new("dbmate")
            .arg("--url")
            .arg(format!("{}?sslmode=disable", server.url_for(name)))
            .arg("--migrations-dir")
            .arg(&from)
            .arg("--no-dump-schema")
            .arg("up")
            .current_dir(&rig.root)
            .output()
            .unwrap();
        assert!(out.status.success(), "dbmate up: {}", text(&out));
    }
    apply_then_rollback(&rig, &tenants, "schema_migrations", 2);
}

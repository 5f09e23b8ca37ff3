//! The MariaDB/MySQL backend against a real throwaway server: version table, up/down,
//! query rows, schema dump, statement-by-statement failure, discovery by list and pattern.

mod common;

use std::sync::OnceLock;

use bascule_db::{self as db, DbError, DbTarget, Location, Stamp};
use bascule_runlog::RunLog;
use common::{databases, migration};
use testdb::MariaDb;

fn server() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    SERVER.get_or_init(|| MariaDb::start().unwrap())
}

fn open(database: &str) -> Box<dyn db::Connection> {
    server().create_database(database).unwrap();
    db::connect(&DbTarget {
        class: "site".into(),
        name: database.into(),
        location: Location::Mysql {
            url: server().url(),
            database: database.into(),
        },
    })
    .unwrap()
}

const MEMBERS: &str = "CREATE TABLE members (
    id INT PRIMARY KEY AUTO_INCREMENT,
    email VARCHAR(190) NOT NULL,
    plan VARCHAR(20) NOT NULL DEFAULT 'starter'
);
CREATE UNIQUE INDEX members_email ON members (email);
CREATE TABLE posts (
    id INT PRIMARY KEY,
    author_id INT NOT NULL,
    title TEXT,
    CONSTRAINT posts_author FOREIGN KEY (author_id) REFERENCES members (id)
);
CREATE VIEW authors AS SELECT m.email FROM members m JOIN posts p ON p.author_id = m.id;
DELIMITER //
CREATE TRIGGER members_lower BEFORE INSERT ON members FOR EACH ROW
BEGIN
  SET NEW.email = LOWER(NEW.email);
END//
DELIMITER ;
INSERT INTO members (email) VALUES ('A@EXAMPLE.ORG');";

const MEMBERS_DOWN: &str = "DROP VIEW authors;\nDROP TABLE posts;\nDROP TABLE members;";

#[test]
fn up_records_the_version_and_down_restores_the_schema() {
    let mut conn = open("up_down");
    let log = RunLog::discard();
    assert!(!conn.version_state().unwrap().table_exists);
    let empty = conn.schema_dump().unwrap();
    assert!(empty.is_empty(), "{empty:?}");

    let m = migration(1, MEMBERS, MEMBERS_DOWN);
    conn.apply_up(&m, Stamp::new("1.0.0", "test"), &log)
        .unwrap();
    let state = conn.version_state().unwrap();
    assert_eq!(state.version(), 1);
    assert_eq!(state.applied[0].checksum, m.checksum);
    assert_eq!(
        conn.query_rows("SELECT email, plan FROM members").unwrap(),
        [["a@example.org", "starter"]],
        "the trigger ran, the default applied"
    );
    insta::assert_snapshot!(conn.schema_dump().unwrap().join("\n"));

    conn.apply_down(&m, &log).unwrap();
    assert_eq!(conn.schema_dump().unwrap(), empty);
    let state = conn.version_state().unwrap();
    assert!(state.table_exists);
    assert_eq!(state.version(), 0);
    conn.drop_version_table(&log).unwrap();
    assert!(!conn.version_state().unwrap().table_exists);
}

#[test]
fn a_failing_statement_says_how_many_committed_before_it() {
    let mut conn = open("partly");
    let log = RunLog::discard();
    let m = migration(
        1,
        "CREATE TABLE a (id INT PRIMARY KEY);\nCREATE TABLE a (id INT);\nCREATE TABLE c (id INT);",
        "DROP TABLE a;",
    );
    let err = conn
        .apply_up(&m, Stamp::new("1.0.0", "test"), &log)
        .unwrap_err();
    match &err {
        DbError::PartlyApplied { done, total, .. } => assert_eq!((*done, *total), (1, 3)),
        other => panic!("expected PartlyApplied, got {other}"),
    }
    assert!(
        err.to_string().contains(
            "statement 2 of 3 failed: MySqlError { ERROR 1050 (42S01): Table 'a' already exists }"
        ),
        "{err}"
    );
    assert_eq!(
        conn.schema_dump().unwrap(),
        [
            "column a.id int(11) not null",
            "index PRIMARY on a (id) unique",
            "constraint PRIMARY on a: primary key (id)",
            "table a engine InnoDB"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>(),
        "DDL is not transactional: the first statement stays"
    );
    assert_eq!(conn.version_state().unwrap().version(), 0);
}

/// A migration's statements reach the server as one request: a comment ending a statement must
/// not swallow the next, a `;` inside a literal must not cut one in two, order must hold, and
/// nothing after a failing statement may run.
#[test]
fn statements_sent_together_keep_their_boundaries_order_and_failure_point() {
    let mut conn = open("together");
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("run.log");
    let log = RunLog::open(&log_path, false).unwrap();
    let m = migration(
        1,
        "CREATE TABLE notes (id INT PRIMARY KEY AUTO_INCREMENT, body VARCHAR(40)) -- comment\n;\n\
         INSERT INTO notes (body) VALUES ('one') # a hash comment\n;\n\
         INSERT INTO notes (body) VALUES ('two;three');\n\
         UPDATE notes SET body = CONCAT(body, '!');\n\
         CREATE TABLE notes (id INT);\n\
         INSERT INTO notes (body) VALUES ('never');",
        "DROP TABLE IF EXISTS notes;",
    );
    let err = conn
        .apply_up(&m, Stamp::new("1.0.0", "test"), &log)
        .unwrap_err();
    match &err {
        DbError::PartlyApplied {
            done,
            total,
            statement,
            ..
        } => {
            assert_eq!((*done, *total), (4, 6), "{err}");
            assert_eq!(statement, "CREATE TABLE notes (id INT)");
        }
        other => panic!("expected PartlyApplied, got {other}"),
    }
    assert_eq!(
        conn.query_rows("SELECT body FROM notes ORDER BY id")
            .unwrap(),
        [["one!"], ["two;three!"]],
        "the four statements before the failing one ran, in order; the one after it did not"
    );
    let state = conn.version_state().unwrap();
    assert_eq!(state.applying().count(), 1, "the row still says `applying`");
    let written = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        written.contains("together: 0001_m1 up: statement 4/6: UPDATE notes"),
        "{written}"
    );
    assert!(
        written.contains("together: 0001_m1 up: statement 5/6: CREATE TABLE notes (id INT)"),
        "{written}"
    );
    assert!(!written.contains("statement 6/6"), "{written}");
    // Each statement's line is written as its result arrives, with its time; the failing one's
    // has none.
    let line = |n: usize| {
        written
            .lines()
            .find(|l| l.contains(&format!("statement {n}/6")))
            .unwrap_or_default()
    };
    assert!(line(4).ends_with(" ms)"), "{written}");
    assert!(!line(5).ends_with(" ms)"), "{written}");

    conn.apply_down(&m, &log).unwrap();
    conn.drop_version_table(&log).unwrap();
    assert!(conn.schema_dump().unwrap().is_empty());
}

#[test]
fn discovery_by_list_and_by_pattern() {
    for name in ["disc_b", "disc_a", "discx"] {
        server().create_database(name).unwrap();
    }
    let url = server().url();
    let by_pattern = databases(&format!(
        "engine = \"mysql\"\nurl = \"{url}\"\npattern = 'disc\\_%'"
    ));
    let names: Vec<String> = by_pattern
        .discover("site")
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["disc_a", "disc_b"]);
    let by_list = databases(&format!(
        "engine = \"mysql\"\nurl = \"{url}\"\ndatabases = [\"discx\", \"disc_a\"]"
    ));
    let targets = by_list.discover("site").unwrap();
    assert_eq!(targets[0].name, "disc_a");
    assert_eq!(
        targets[1].location,
        Location::Mysql {
            url: url.clone(),
            database: "discx".into()
        }
    );
    db::connect(&targets[1]).unwrap().version_state().unwrap();
}

#[test]
fn a_missing_database_is_an_error_naming_it() {
    let err = db::connect(&DbTarget {
        class: "site".into(),
        name: "nowhere".into(),
        location: Location::Mysql {
            url: server().url(),
            database: "nowhere".into(),
        },
    })
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .contains("cannot connect to database `nowhere`"),
        "{err}"
    );
}

#[test]
fn server_facts_are_what_the_server_says_of_itself() {
    let mut conn = open("facts");
    let facts = conn.server_facts().unwrap();
    let mut raw = server().connect(None).unwrap();
    use mysql::prelude::Queryable as _;
    let (version, mode, lower): (String, String, String) = raw
        .query_first("SELECT VERSION(), @@sql_mode, CAST(@@lower_case_table_names AS CHAR)")
        .unwrap()
        .unwrap();
    assert_eq!(facts.version, version);
    assert_eq!(facts.engine, "mariadb");
    assert_eq!(facts.settings["sql_mode"], mode);
    assert_eq!(facts.settings["lower_case_table_names"], lower);
    let release: Vec<&str> = version.split(['.', '-']).take(2).collect();
    assert_eq!(facts.major(), release.join("."));
    for key in facts.settings.keys() {
        assert!(
            bascule_patch::DB_FACTS.contains(&key.as_str()),
            "`{key}` is missing from bascule_patch::DB_FACTS, so no critical pattern may name it"
        );
    }
    for key in ["charset", "collation", "time_zone"] {
        assert!(!facts.settings[key].is_empty(), "{key}: {facts:?}");
    }
}

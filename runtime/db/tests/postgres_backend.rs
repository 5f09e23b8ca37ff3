//! The PostgreSQL backend against a real throwaway server, with tenants as databases and as
//! schemas: version table, up/down in one transaction, query rows, schema dump, discovery.

mod common;

use std::sync::OnceLock;

use bascule_db::{self as db, DbError, DbTarget, Location, Stamp};
use bascule_runlog::RunLog;
use common::{databases, migration};
use testdb::PostgresServer;

fn server() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(|| PostgresServer::start().unwrap())
}

fn target(database: &str, schema: Option<&str>) -> DbTarget {
    DbTarget {
        class: "site".into(),
        name: schema.unwrap_or(database).into(),
        location: Location::Postgres {
            url: server().url(),
            database: database.into(),
            schema: schema.map(str::to_string),
        },
    }
}

/// A new database, with `schemas` created in it.
fn database(name: &str, schemas: &[&str]) {
    server().create_database(name).unwrap();
    let mut client = server().connect(name).unwrap();
    for schema in schemas {
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
    }
}

const MEMBERS: &str = "CREATE TABLE members (
    id SERIAL PRIMARY KEY,
    email VARCHAR(190) NOT NULL,
    plan TEXT NOT NULL DEFAULT 'starter'
);
CREATE UNIQUE INDEX members_email ON members (lower(email));
CREATE TABLE posts (
    id INT PRIMARY KEY,
    author_id INT NOT NULL CONSTRAINT posts_author REFERENCES members (id),
    title TEXT CHECK (title <> '')
);
CREATE INDEX posts_titled ON posts (author_id) WHERE title IS NOT NULL;
CREATE VIEW authors AS SELECT m.email FROM members m JOIN posts p ON p.author_id = m.id;
CREATE FUNCTION members_lower() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.email := lower(NEW.email);
  RETURN NEW;
END;
$$;
CREATE TRIGGER members_lower BEFORE INSERT ON members FOR EACH ROW EXECUTE FUNCTION members_lower();
INSERT INTO members (email) VALUES ('A@EXAMPLE.ORG');";

const MEMBERS_DOWN: &str =
    "DROP VIEW authors;\nDROP TABLE posts;\nDROP TABLE members;\nDROP FUNCTION members_lower();";

#[test]
fn up_and_down_per_database() {
    database("per_db", &[]);
    let mut conn = db::connect(&target("per_db", None)).unwrap();
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
        conn.query_rows("SELECT email, plan, NULL FROM members")
            .unwrap(),
        [["a@example.org", "starter", "NULL"]]
    );
    insta::assert_snapshot!(conn.schema_dump().unwrap().join("\n"));

    conn.apply_down(&m, &log).unwrap();
    assert_eq!(conn.schema_dump().unwrap(), empty);
    assert_eq!(conn.version_state().unwrap().version(), 0);
    conn.drop_version_table(&log).unwrap();
    assert!(!conn.version_state().unwrap().table_exists);
}

#[test]
fn tenants_as_schemas_are_independent_and_dump_alike() {
    database("platform", &["site_a", "site_b", "other"]);
    let log = RunLog::discard();
    let m = migration(1, MEMBERS, MEMBERS_DOWN);
    let mut a = db::connect(&target("platform", Some("site_a"))).unwrap();
    let mut b = db::connect(&target("platform", Some("site_b"))).unwrap();
    a.apply_up(&m, Stamp::new("1.0.0", "test"), &log).unwrap();
    assert_eq!(a.version_state().unwrap().version(), 1);
    assert!(
        !b.version_state().unwrap().table_exists,
        "site_b has its own version table"
    );
    assert!(b.schema_dump().unwrap().is_empty());
    b.apply_up(&m, Stamp::new("1.0.0", "test"), &log).unwrap();
    assert_eq!(a.schema_dump().unwrap(), b.schema_dump().unwrap());

    let profile = databases(&format!(
        "engine = \"postgres\"\nurl = \"{}\"\ndatabase = \"platform\"\npattern = 'site\\_%'",
        server().url()
    ));
    let found = profile.discover("site").unwrap();
    assert_eq!(
        found,
        [
            target("platform", Some("site_a")),
            target("platform", Some("site_b"))
        ]
    );
}

#[test]
fn a_failing_migration_changes_nothing() {
    database("failing", &[]);
    let mut conn = db::connect(&target("failing", None)).unwrap();
    let log = RunLog::discard();
    let m = migration(
        1,
        "CREATE TABLE a (id INT PRIMARY KEY);\nCREATE TABLE a (id INT);\nCREATE TABLE c (id INT);",
        "DROP TABLE a;",
    );
    let err = conn
        .apply_up(&m, Stamp::new("1.0.0", "test"), &log)
        .unwrap_err();
    assert!(matches!(err, DbError::Statement { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("ERROR: relation \"a\" already exists"),
        "{err}"
    );
    assert!(
        conn.schema_dump().unwrap().is_empty(),
        "the transaction rolled back"
    );
    assert!(!conn.version_state().unwrap().table_exists);
}

#[test]
fn discovery_of_databases_by_pattern_and_missing_schemas() {
    for name in ["shop_2", "shop_1"] {
        database(name, &[]);
    }
    let profile = databases(&format!(
        "engine = \"postgres\"\nurl = \"{}\"\npattern = 'shop\\_%'",
        server().url()
    ));
    let names: Vec<String> = profile
        .discover("site")
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["shop_1", "shop_2"]);

    let err = db::connect(&target("shop_1", Some("nope"))).err().unwrap();
    assert!(
        err.to_string()
            .contains("schema `nope` does not exist in database `shop_1`"),
        "{err}"
    );
}

#[test]
fn server_facts_are_what_the_server_says_of_itself() {
    database("facts", &[]);
    let mut conn = db::connect(&target("facts", None)).unwrap();
    let facts = conn.server_facts().unwrap();
    let mut raw = server().connect("facts").unwrap();
    let row = raw
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')",
            &[],
        )
        .unwrap();
    let (version, number): (String, String) = (row.get(0), row.get(1));
    assert_eq!(facts.engine, "postgres");
    assert_eq!(facts.version, version);
    let major = number.parse::<u32>().unwrap() / 10000;
    assert_eq!(facts.major(), major.to_string());
    for key in facts.settings.keys() {
        assert!(
            bascule_patch::DB_FACTS.contains(&key.as_str()),
            "`{key}` is missing from bascule_patch::DB_FACTS, so no critical pattern may name it"
        );
    }
    for key in ["encoding", "collation", "time_zone"] {
        assert!(!facts.settings[key].is_empty(), "{key}: {facts:?}");
    }
}

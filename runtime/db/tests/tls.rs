//! TLS to real servers, through the runtime's own connections: a throwaway MariaDB and
//! PostgreSQL offering TLS with a certificate from a throwaway CA, and one of each without TLS.
//!
//! With TLS asked for and the right CA, the server itself must report the session encrypted and a
//! migration must run; with another CA, or against a server without TLS, the connection must be
//! refused with a message that says why.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use bascule_db::{self as db, DbError, DbLocks, DbTarget, Location, Stamp};
use bascule_runlog::RunLog;
use common::migration;
use testdb::{MariaDb, PostgresServer};

fn mariadb_tls() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    SERVER.get_or_init(|| MariaDb::start_with_tls().unwrap())
}

fn mariadb_plain() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    SERVER.get_or_init(|| MariaDb::start().unwrap())
}

fn postgres_tls() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(|| PostgresServer::start_with_tls().unwrap())
}

fn postgres_plain() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(|| PostgresServer::start().unwrap())
}

/// A CA that signed neither server's certificate.
fn unrelated_ca() -> &'static PathBuf {
    static CA: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &CA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unrelated-ca.pem");
        testdb::tls::write_unrelated_ca(&path).unwrap();
        (dir, path)
    })
    .1
}

fn mysql_target(url: String, database: &str) -> DbTarget {
    DbTarget {
        class: "site".into(),
        name: database.into(),
        location: Location::Mysql {
            url,
            database: database.into(),
        },
    }
}

fn postgres_target(url: String, database: &str) -> DbTarget {
    DbTarget {
        class: "site".into(),
        name: database.into(),
        location: Location::Postgres {
            url,
            database: database.into(),
            schema: None,
        },
    }
}

fn connect_error(target: &DbTarget) -> String {
    match db::connect(target) {
        Ok(_) => panic!("{target} connected, but the connection should have been refused"),
        Err(e) => e.to_string(),
    }
}

const UP: &str = "CREATE TABLE members (id INT PRIMARY KEY, email VARCHAR(190) NOT NULL);
INSERT INTO members VALUES (1, 'a@example.org');";
const DOWN: &str = "DROP TABLE IF EXISTS members;";

/// Runs one migration up and down on `conn`, checking the version and the rows.
fn migrate_up_and_down(conn: &mut dyn db::Connection) {
    let log = RunLog::discard();
    let before = conn.schema_dump().unwrap();
    let m = migration(1, UP, DOWN);
    conn.apply_up(&m, Stamp::new("1.0.0", "test"), &log)
        .unwrap();
    assert_eq!(conn.version_state().unwrap().version(), 1);
    assert_eq!(
        conn.query_rows("SELECT id, email FROM members").unwrap(),
        [["1", "a@example.org"]]
    );
    conn.apply_down(&m, &log).unwrap();
    assert_eq!(conn.version_state().unwrap().version(), 0);
    assert_eq!(conn.schema_dump().unwrap(), before);
}

// ---- MariaDB ----

fn mariadb_url_with_ca(server: &MariaDb) -> String {
    let ca = server.tls_ca().unwrap();
    format!("{}?root_cert_path={}", server.url(), ca.display())
}

#[test]
fn mariadb_with_the_right_ca_is_encrypted_and_migrates() {
    let server = mariadb_tls();
    server.create_database("tls_right_ca").unwrap();
    let target = mysql_target(mariadb_url_with_ca(server), "tls_right_ca");
    let mut conn = db::connect(&target).unwrap();
    let status = conn
        .query_rows("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    assert!(
        !status[0][1].is_empty(),
        "the server reports no TLS cipher for the session: {status:?}"
    );
    migrate_up_and_down(conn.as_mut());
}

#[test]
fn mariadb_a_url_without_tls_parameters_stays_clear_text() {
    let server = mariadb_tls();
    server.create_database("tls_not_asked").unwrap();
    let mut conn = db::connect(&mysql_target(server.url(), "tls_not_asked")).unwrap();
    let status = conn
        .query_rows("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .unwrap();
    assert_eq!(status, [["Ssl_cipher", ""]]);
}

#[test]
fn mariadb_require_ssl_with_only_the_built_in_roots_refuses_a_private_ca() {
    let server = mariadb_tls();
    let url = format!("{}?require_ssl=true", server.url());
    let err = connect_error(&mysql_target(url, "mysql"));
    assert!(
        err.contains("not signed by a trusted CA") && err.contains("root_cert_path="),
        "{err}"
    );
}

#[test]
fn mariadb_with_another_ca_is_refused() {
    let server = mariadb_tls();
    let url = format!(
        "{}?root_cert_path={}",
        server.url(),
        unrelated_ca().display()
    );
    let err = connect_error(&mysql_target(url, "mysql"));
    assert!(
        err.contains("the server's TLS certificate is not signed by a trusted CA")
            && err.contains(&format!("root_cert_path={}", unrelated_ca().display())),
        "{err}"
    );
}

#[test]
fn mariadb_tls_required_against_a_server_without_tls_is_refused() {
    let server = mariadb_plain();
    let url = format!("{}?require_ssl=true", server.url());
    let err = connect_error(&mysql_target(url, "mysql"));
    assert!(
        err.contains("the server does not offer TLS but the url asks for it"),
        "{err}"
    );
}

#[test]
fn mariadb_a_missing_ca_file_is_named() {
    let server = mariadb_tls();
    let url = format!("{}?root_cert_path=/nonexistent/ca.pem", server.url());
    let err = connect_error(&mysql_target(url, "mysql"));
    assert!(
        err.contains("cannot read the CA certificate root_cert_path=/nonexistent/ca.pem"),
        "{err}"
    );
}

#[test]
fn mariadb_survey_and_locks_go_through_tls_too() {
    let server = mariadb_tls();
    server.create_database("tls_survey").unwrap();
    let url = mariadb_url_with_ca(server);
    let states = db::mysql::read_versions(&url, &["tls_survey".to_string()], None, 2).unwrap();
    assert!(states.contains_key("tls_survey"), "{states:?}");
    let target = mysql_target(url, "tls_survey");
    DbLocks::acquire(&[target], Duration::from_secs(5), &|_| ())
        .unwrap()
        .release()
        .unwrap();

    let wrong = format!(
        "{}?root_cert_path={}",
        server.url(),
        unrelated_ca().display()
    );
    let err = db::mysql::read_versions(&wrong, &["tls_survey".to_string()], None, 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not signed by a trusted CA"), "{err}");
    let err = match DbLocks::acquire(
        &[mysql_target(wrong, "tls_survey")],
        Duration::from_secs(5),
        &|_| (),
    ) {
        Ok(_) => panic!("locks taken through a certificate signed by another CA"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("not signed by a trusted CA"), "{err}");
}

// ---- PostgreSQL ----

fn postgres_url_with_ca(server: &PostgresServer, sslmode: &str) -> String {
    let ca = server.tls_ca().unwrap();
    format!(
        "{}?sslmode={sslmode}&sslrootcert={}",
        server.url(),
        ca.display()
    )
}

fn pg_session_ssl(conn: &mut dyn db::Connection) -> Vec<Vec<String>> {
    conn.query_rows("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .unwrap()
}

#[test]
fn postgres_with_the_right_ca_is_encrypted_and_migrates() {
    let server = postgres_tls();
    server.create_database("tls_right_ca").unwrap();
    let target = postgres_target(postgres_url_with_ca(server, "require"), "tls_right_ca");
    let mut conn = db::connect(&target).unwrap();
    assert_eq!(pg_session_ssl(conn.as_mut()), [["t"]]);
    migrate_up_and_down(conn.as_mut());
}

#[test]
fn postgres_sslrootcert_alone_requires_tls() {
    let server = postgres_tls();
    let url = format!(
        "{}?sslrootcert={}",
        server.url(),
        server.tls_ca().unwrap().display()
    );
    let mut conn = db::connect(&postgres_target(url, "postgres")).unwrap();
    assert_eq!(pg_session_ssl(conn.as_mut()), [["t"]]);
}

#[test]
fn postgres_a_url_without_sslmode_stays_clear_text() {
    let server = postgres_tls();
    let mut conn = db::connect(&postgres_target(server.url(), "postgres")).unwrap();
    assert_eq!(pg_session_ssl(conn.as_mut()), [["f"]]);
}

#[test]
fn postgres_with_another_ca_is_refused() {
    let server = postgres_tls();
    let url = format!(
        "{}?sslmode=require&sslrootcert={}",
        server.url(),
        unrelated_ca().display()
    );
    let err = connect_error(&postgres_target(url, "postgres"));
    assert!(
        err.contains("the server's TLS certificate is not signed by a trusted CA")
            && err.contains(&format!("sslrootcert={}", unrelated_ca().display())),
        "{err}"
    );
}

#[test]
fn postgres_prefer_still_verifies_the_certificate() {
    let server = postgres_tls();
    let url = format!("{}?sslmode=prefer", server.url());
    let err = connect_error(&postgres_target(url, "postgres"));
    assert!(err.contains("not signed by a trusted CA"), "{err}");
}

#[test]
fn postgres_require_against_a_server_without_tls_is_refused() {
    let server = postgres_plain();
    let url = format!("{}?sslmode=require", server.url());
    let err = connect_error(&postgres_target(url, "postgres"));
    assert!(
        err.contains("the server does not offer TLS but the url asks for sslmode=require"),
        "{err}"
    );
}

#[test]
fn postgres_prefer_against_a_server_without_tls_is_clear_text() {
    let server = postgres_plain();
    let url = format!("{}?sslmode=prefer", server.url());
    let mut conn = db::connect(&postgres_target(url, "postgres")).unwrap();
    assert_eq!(pg_session_ssl(conn.as_mut()), [["f"]]);
}

#[test]
fn postgres_locks_and_discovery_go_through_tls_too() {
    let server = postgres_tls();
    server.create_database("tls_locks").unwrap();
    let url = postgres_url_with_ca(server, "verify-full");
    let names = db::postgres::list_databases(&url, "tls_%").unwrap();
    assert!(names.contains(&"tls_locks".to_string()), "{names:?}");
    DbLocks::acquire(
        &[postgres_target(url, "tls_locks")],
        Duration::from_secs(5),
        &|_| (),
    )
    .unwrap()
    .release()
    .unwrap();

    let wrong = format!(
        "{}?sslmode=require&sslrootcert={}",
        server.url(),
        unrelated_ca().display()
    );
    let err = match DbLocks::acquire(
        &[postgres_target(wrong, "tls_locks")],
        Duration::from_secs(5),
        &|_| (),
    ) {
        Ok(_) => panic!("locks taken through a certificate signed by another CA"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("not signed by a trusted CA"), "{err}");
}

#[test]
fn a_password_in_the_url_never_reaches_a_tls_error() {
    let server = postgres_plain();
    let url = format!(
        "postgres://postgres:s3cret@127.0.0.1:{}?sslmode=require",
        server.port()
    );
    let err: DbError = match db::connect(&postgres_target(url, "postgres")) {
        Ok(_) => panic!("connected without TLS"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(!text.contains("s3cret") && text.contains("***"), "{text}");

    let server = mariadb_plain();
    let url = format!(
        "mysql://root:s3cret@127.0.0.1:{}?require_ssl=true",
        server.port()
    );
    let text = connect_error(&mysql_target(url, "mysql"));
    assert!(!text.contains("s3cret"), "{text}");
}

//! `cargo xtask check-migrations`, run as the binary a developer runs, on SQLite and on real
//! throwaway MariaDB and PostgreSQL servers: a down that forgets an index is caught on each,
//! the fixed patch passes, and so does the demo platform's 2.0.0.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn check(patch: &str, db: &str, url: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(["check-migrations", patch, "--db", db])
        .current_dir(workspace())
        .env("RUST_BACKTRACE", "0");
    if let Some(url) = url {
        command.args(["--url", url]);
    }
    command.output().expect("run xtask")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The forgetful 1.1.0 fails, naming the migration and the index it leaves behind.
fn assert_forgotten_index_found(dialect: &str, db: &str, url: Option<&str>) -> String {
    let output = check(
        &format!("fixtures/roundtrip/{dialect}/patches/1.1.0"),
        db,
        url,
    );
    let out = stdout(&output);
    assert!(!output.status.success(), "{out}");
    assert!(
        out.contains("0003_badges_and_email_index ... FAILED"),
        "{out}"
    );
    assert!(
        out.contains("index members_email on members (email) is still there after down.sql"),
        "{out}"
    );
    assert!(
        out.contains("0002_add_tags ... ok"),
        "the correct migration passes: {out}"
    );
    assert!(
        stderr(&output).contains("1 migration(s) failed the round trip"),
        "{}",
        stderr(&output)
    );
    out
}

fn assert_passes(patch: &str, db: &str, url: Option<&str>) -> String {
    let output = check(patch, db, url);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    assert!(out.contains(" ok, 0 FAILED"), "{out}");
    out
}

#[test]
fn sqlite_finds_the_forgotten_index() {
    let out = assert_forgotten_index_found("sqlite", "sqlite", None);
    insta::assert_snapshot!(out);
}

#[test]
fn sqlite_passes_the_fixed_patch() {
    assert_passes(
        "fixtures/roundtrip/sqlite/patches/1.1.0-fixed",
        "sqlite",
        None,
    );
}

#[test]
fn the_demo_patch_passes_on_sqlite() {
    let out = assert_passes("fixtures/demo-platform/patches/2.0.0", "sqlite", None);
    insta::assert_snapshot!(out);
}

#[test]
fn mariadb_finds_the_forgotten_index_on_its_own_scratch_server() {
    let out = assert_forgotten_index_found("mysql", "mariadb", None);
    insta::assert_snapshot!(out);
}

#[test]
fn mariadb_passes_the_fixed_patch_on_a_given_server_and_cleans_up() {
    use mysql::prelude::Queryable as _;
    let server = testdb::MariaDb::start().unwrap();
    assert_passes(
        "fixtures/roundtrip/mysql/patches/1.1.0-fixed",
        "mariadb",
        Some(&server.url()),
    );
    let left: Vec<String> = server
        .connect(None)
        .unwrap()
        .query("SHOW DATABASES LIKE 'bascule\\_check%'")
        .unwrap();
    assert!(left.is_empty(), "scratch databases left behind: {left:?}");
}

#[test]
fn postgres_finds_the_forgotten_index_on_its_own_scratch_server() {
    let out = assert_forgotten_index_found("postgres", "postgres", None);
    insta::assert_snapshot!(out);
}

#[test]
fn postgres_passes_the_fixed_patch_on_a_given_server_and_cleans_up() {
    let server = testdb::PostgresServer::start().unwrap();
    assert_passes(
        "fixtures/roundtrip/postgres/patches/1.1.0-fixed",
        "postgres",
        Some(&server.url()),
    );
    let left = server
        .connect("postgres")
        .unwrap()
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'bascule%'",
            &[],
        )
        .unwrap();
    assert!(left.is_empty(), "scratch databases left behind");
}

#[test]
fn a_database_that_does_not_fit_the_dialect_is_refused() {
    let output = check("fixtures/roundtrip/sqlite/patches/1.1.0", "postgres", None);
    assert!(!output.status.success());
    insta::assert_snapshot!(stderr(&output).trim_end());
}

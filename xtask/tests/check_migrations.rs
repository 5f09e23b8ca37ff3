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

/// Two defects far apart are both reported in one run; the migrations between and after them,
/// which need what the failing migrations' ups made, pass on the rebuilt schema; the gap in the
/// numbering passes; the irreversible migration is listed with its reason.
#[test]
fn every_defect_is_reported_in_one_run_and_the_rest_is_checked() {
    let output = check(
        "fixtures/roundtrip/sqlite-going-on/patches/1.1.0",
        "sqlite",
        None,
    );
    let out = stdout(&output);
    assert!(!output.status.success(), "{out}");
    for line in [
        "  000002_add_tags ... ok",
        "  000003_badges_and_email_index ... FAILED",
        "        index members_email on members (email) is still there after down.sql",
        "  000004_badge-labels ... ok",
        "  000007_drop_legacy_sessions ... irreversible: the 1.x sessions are not kept: every member signs in again",
        "  000008_teams ... FAILED",
        "  000009_team_members ... ok",
        "  000010_teams_v2.0_name_index ... ok",
        "4 ok, 2 FAILED, 1 irreversible",
    ] {
        assert!(out.lines().any(|l| l == line), "missing `{line}` in:\n{out}");
    }
    assert!(
        out.contains("migrations/site/000008_teams/down.sql fails right after up.sql")
            && out.contains("teem"),
        "{out}"
    );
    assert!(
        stderr(&output).contains("2 migration(s) failed the round trip"),
        "{}",
        stderr(&output)
    );
    insta::assert_snapshot!(out);
}

/// A migration whose up fails is a defect; the next is checked on the schema without it, and
/// the report says so. The numbers between the previous patch's last migration and this one's
/// first never existed: a gap, not a missing patch.
#[test]
fn a_failing_up_is_reported_and_the_next_runs_without_it_across_a_gap() {
    let output = check(
        "fixtures/roundtrip/sqlite-going-on/patches/1.2.0",
        "sqlite",
        None,
    );
    let out = stdout(&output);
    assert!(!output.status.success(), "{out}");
    assert!(
        out.contains("class site: previous schema from 8 migration(s) of 1.0.0, 1.1.0"),
        "{out}"
    );
    assert!(
        out.contains("  000013_notes_on_a_missing_table ... FAILED\n      migrations/site/000013_notes_on_a_missing_table/up.sql fails: ")
            && out.contains("member_notes")
            && out.contains("      the migrations after it are checked on the schema without it\n  000014_audit ... ok\n"),
        "{out}"
    );
    assert!(out.ends_with("1 ok, 1 FAILED\n"), "{out}");
}

/// `--db mysql` without a MySQL server here runs on a throwaway MariaDB and says so.
#[test]
fn mysql_without_a_mysql_server_runs_on_mariadb_and_says_so() {
    let output = check(
        "fixtures/roundtrip/mysql/patches/1.1.0-fixed",
        "mysql",
        None,
    );
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    let installed = Command::new("mysqld")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let expected = if installed.contains("MySQL") && !installed.contains("MariaDB") {
        "note: running on a throwaway MariaDB"
    } else {
        "note: no MySQL server is installed (Debian packages only MariaDB): running on a throwaway MariaDB"
    };
    assert!(
        out.starts_with(&format!(
            "check-migrations 1.1.0-fixed on mysql\n{expected}"
        )),
        "{out}"
    );
    assert!(out.contains(" ok, 0 FAILED"), "{out}");

    // With --url, the given server is used and its version printed: what a run on MySQL shows.
    let server = testdb::MariaDb::start().unwrap();
    let output = check(
        "fixtures/roundtrip/mysql/patches/1.1.0-fixed",
        "mysql",
        Some(&server.url()),
    );
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    let second = out.lines().nth(1).unwrap_or_default();
    assert!(
        second.starts_with("server: ") && second.contains("MariaDB"),
        "{out}"
    );
}

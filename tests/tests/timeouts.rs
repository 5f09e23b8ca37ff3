//! Lock timeouts on the migration sessions, end to end: an online patch whose site migration
//! sets no `lock_timeout` of its own builds (lint passes), and at `apply` time, while another
//! session holds a lock on the table it alters, the migration gives up after the configured
//! timeout and the run is undone: the host is as it was (schemas, version rows, data, `current`).
//! On PostgreSQL and on MariaDB, each on a throwaway server started here.

mod server_common;

use std::path::Path;
use std::time::{Duration, Instant};

use bascule_db::Location;
use demo_site::prod_server::{Engine, ServerHost};
use server_common::*;

/// Well above the 2 s timeout, well below a run that hangs on the lock.
const BOUND: Duration = Duration::from_secs(60);

/// The demo 2.0.0 patch made online, its site migration without a `SET lock_timeout`, and
/// `patch_timeouts` appended to its `patch.toml`; built and unpacked in `into`.
fn online_bundle(engine: &Engine, patch_timeouts: &str, into: &Path) -> std::path::PathBuf {
    variant_of_2(engine, "timeouts", into, |patch| {
        let toml_path = patch.join("patch.toml");
        let toml = std::fs::read_to_string(&toml_path).unwrap();
        assert!(toml.contains("mode = \"downtime\""), "{toml}");
        let toml = toml.replace("mode = \"downtime\"", "mode = \"online\"");
        std::fs::write(&toml_path, format!("{toml}\n{patch_timeouts}")).unwrap();
        let up = patch.join("migrations/site/0002_add_avatar/up.sql");
        let sql: String = std::fs::read_to_string(&up)
            .unwrap()
            .lines()
            .filter(|line| !line.contains("lock_timeout"))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(&up, sql).unwrap();
    })
}

/// Gives the host profile's `[databases.site]` `lock_timeout = "<value>"`.
fn host_lock_timeout(host: &ServerHost, value: &str) {
    let profile = std::fs::read_to_string(&host.host_profile).unwrap();
    assert!(profile.contains("[databases.site]\n"), "{profile}");
    let profile = profile.replace(
        "[databases.site]\n",
        &format!("[databases.site]\nlock_timeout = \"{value}\"\n"),
    );
    std::fs::write(&host.host_profile, profile).unwrap();
}

/// The run's `update.log`.
fn update_log(host: &ServerHost) -> String {
    let runs = host.state_dir.join("runs");
    std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path().join("update.log")).unwrap_or_default())
        .collect()
}

/// Applies `bundle` while a transaction that read `members` stays open on the first site's
/// database (`begin` starts it): the site migration waits for its lock, times out, and the run
/// is undone. Returns the apply's output and how long it took.
fn apply_behind_a_reader(
    host: &ServerHost,
    bundle: &Path,
    begin: &str,
) -> (std::process::Output, Duration) {
    let site = &host.site_targets()[0];
    let mut reader = bascule_db::connect(site).unwrap();
    reader.query_rows(begin).unwrap();
    reader.query_rows("SELECT COUNT(*) FROM members").unwrap();
    let clock = Instant::now();
    let out = bascule(bundle, &host.host_profile, &["apply"], &[]);
    let took = clock.elapsed();
    reader.query_rows("ROLLBACK").unwrap();
    (out, took)
}

fn assert_failed_on_the_lock_and_undone(
    host: &ServerHost,
    before: &HostState,
    out: &std::process::Output,
    took: Duration,
    lock_error: &str,
    session_sql: &str,
) {
    eprintln!("apply behind a reader took {} ms", took.as_millis());
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    assert!(took < BOUND, "apply took {took:?}: {}", text(out));
    let log = update_log(host);
    assert!(
        text(out).contains(lock_error) || log.contains(lock_error),
        "the lock timeout is the failure: {}",
        text(out)
    );
    // The run names a database as discovered: `site/<database>`.
    let site = match &host.site_targets()[0].location {
        Location::Postgres { database, .. } | Location::Mysql { database, .. } => {
            format!("site/{database}")
        }
        Location::SqliteFile(_) => unreachable!("a server host"),
    };
    assert!(
        log.contains(&format!("{site}: session timeouts: {session_sql}")),
        "update.log names the session's timeouts ({site}: {session_sql}): {}",
        log.lines()
            .filter(|l| l.contains("timeout"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        !log.contains("password"),
        "no secret in the timeouts' lines"
    );
    HostState::capture_server(host)
        .unwrap()
        .assert_same(before, "apply undone after a lock timeout");
}

mod postgres {
    use super::*;
    use std::sync::OnceLock;
    use testdb::PostgresServer;

    fn server() -> &'static PostgresServer {
        static SERVER: OnceLock<PostgresServer> = OnceLock::new();
        SERVER.get_or_init(|| PostgresServer::start().unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn a_migration_waiting_on_a_lock_fails_at_the_host_s_timeout_and_the_run_is_undone() {
        let engine = Engine::Postgres {
            url: server().url(),
            prefix: "lt_".into(),
            per_schema: false,
        };
        let dir = tempfile::tempdir().unwrap();
        let host = host(dir.path(), 3, &engine);
        // The patch says 30 s, the host profile 2 s: the host's wins.
        host_lock_timeout(&host, "2s");
        let bundle = online_bundle(
            &engine,
            "[timeouts]\nlock_timeout = \"30s\"\n",
            &dir.path().join("delivery"),
        );
        let before = HostState::capture_server(&host).unwrap();
        let (out, took) = apply_behind_a_reader(&host, &bundle, "BEGIN");
        assert!(took >= Duration::from_secs(2), "it waited: {took:?}");
        assert_failed_on_the_lock_and_undone(
            &host,
            &before,
            &out,
            took,
            "lock timeout",
            "SET lock_timeout = '2000ms'; SET statement_timeout = 0; \
             SET idle_in_transaction_session_timeout = '60000ms'",
        );
    }
}

mod mariadb {
    use super::*;
    use std::sync::OnceLock;
    use testdb::MariaDb;

    fn server() -> &'static MariaDb {
        static SERVER: OnceLock<MariaDb> = OnceLock::new();
        SERVER.get_or_init(|| MariaDb::start().unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn a_migration_waiting_on_a_metadata_lock_fails_at_the_patch_s_timeout_and_the_run_is_undone() {
        let engine = Engine::Mariadb {
            url: server().url(),
            prefix: "lt_".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let host = host(dir.path(), 3, &engine);
        let bundle = online_bundle(
            &engine,
            "[timeouts.site]\nlock_timeout = \"2s\"\n",
            &dir.path().join("delivery"),
        );
        let before = HostState::capture_server(&host).unwrap();
        let (out, took) = apply_behind_a_reader(&host, &bundle, "START TRANSACTION");
        assert!(took >= Duration::from_secs(2), "it waited: {took:?}");
        assert_failed_on_the_lock_and_undone(
            &host,
            &before,
            &out,
            took,
            "Lock wait timeout exceeded",
            "SET SESSION lock_wait_timeout = 2, innodb_lock_wait_timeout = 2, \
             max_statement_time = 0",
        );
    }
}

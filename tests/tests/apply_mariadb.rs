//! `bascule apply`, `rollback` and `migrate` end to end on MariaDB: the demo patches in the
//! MySQL dialect on 200 site databases (+ main) of one throwaway server shared by the tests.
//! Every failure case compares schema dumps and content checksums of every database.

mod server_common;

use std::sync::OnceLock;

use demo_site::prod_server::Engine;
use server_common::*;
use testdb::MariaDb;

fn server() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    SERVER.get_or_init(|| MariaDb::start().unwrap_or_else(|e| panic!("{e}")))
}

fn engine(prefix: &str) -> Engine {
    Engine::Mariadb {
        url: server().url(),
        prefix: prefix.into(),
    }
}

#[test]
fn apply_brings_every_database_to_2_and_rollback_restores_them_exactly() {
    apply_then_rollback(&engine("a_"), 200);
}

#[test]
fn the_failing_patch_leaves_every_database_as_it_was() {
    failing_patch_changes_nothing(&engine("b_"), 200);
}

#[test]
fn two_concurrent_migrate_runs_apply_each_migration_once() {
    concurrent_migrate_runs_apply_once(&engine("c_"), 40, "ALTER TABLE members ADD COLUMN avatar");
}

#[test]
fn a_rollback_waits_for_a_migrate_holding_the_migration_locks() {
    rollback_waits_for_the_migration_locks(&engine("f_"), 5);
}

#[test]
fn a_locked_host_refuses_a_second_run_without_waiting_for_the_migration_locks() {
    a_locked_host_refuses_a_second_run_before_the_migration_locks(&engine("e_"), 5);
}

#[test]
fn a_failed_check_names_the_database_it_failed_on() {
    checks_blame_exactly_the_broken_tenant(&engine("d_"), 20);
}

/// A run killed in its migrate step, while another run holds one site's migration lock:
/// `recover --lock-timeout 1` gives up having changed nothing and keeps the host lock; once the
/// lock is free, `recover` puts every database back exactly.
#[test]
fn recover_takes_the_migration_locks_and_gives_up_having_changed_nothing() {
    let engine = engine("g_");
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), 5, &engine);
    let bundle = bundle(&engine, "2.0.0", &dir.path().join("delivery"));
    let before = HostState::capture_server(&host).unwrap();
    let crashed = bascule(
        &bundle,
        &host.host_profile,
        &["apply"],
        &[("BASCULE_CRASH_AT", "migrate")],
    );
    assert!(crashed.status.code().is_none(), "{}", text(&crashed));
    let migrated = HostState::capture_server(&host).unwrap();
    assert_ne!(migrated, before, "the killed run migrated");

    let other_run = bascule_db::DbLocks::acquire(
        &host.site_targets()[2..3],
        std::time::Duration::from_secs(5),
        &|_| {},
    )
    .unwrap();
    let refused = bascule(
        &bundle,
        &host.host_profile,
        &["recover", "--lock-timeout", "1"],
        &[],
    );
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(3), "{said}");
    assert!(said.contains("UNDO INCOMPLETE"), "{said}");
    assert!(said.contains("undo migration locks"), "{said}");
    assert!(
        host.state_dir.join("lock").exists(),
        "the host lock is kept"
    );
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&migrated, "a recover that could not lock");

    other_run.release().unwrap();
    let out = bascule(&bundle, &host.host_profile, &["recover"], &[]);
    assert_eq!(out.status.code(), Some(0), "recovered: {}", text(&out));
    assert!(!host.state_dir.join("lock").exists(), "{}", text(&out));
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "after recover");
}

#[test]
fn a_migrate_killed_on_one_host_is_finished_by_another_and_its_recover_then_undoes_nothing() {
    killed_migrate_finished_by_another_host(&engine("h_"), 5);
}

#[test]
fn a_rollback_under_a_later_run_s_migrations_is_refused_and_changes_nothing() {
    a_rollback_under_a_later_run_s_migrations_is_refused(&engine("j_"), 5);
}

#[test]
fn a_site_server_below_the_patch_s_range_is_refused_before_any_change() {
    a_server_below_its_range_is_refused(&engine("r_"), "SELECT VERSION()");
}

#[test]
fn no_database_password_reaches_a_file_or_the_terminal() {
    no_password_reaches_disk_or_terminal(&engine("s_"), |host, password| {
        let quoted = password.replace('\'', "''");
        rows(
            &host.main_target(),
            &format!("CREATE USER app@'127.0.0.1' IDENTIFIED BY '{quoted}'"),
        );
        rows(&host.main_target(), "GRANT ALL ON *.* TO app@'127.0.0.1'");
        format!("mysql://app@127.0.0.1:{}", server().port())
    });
}

/// `bascule apply` SIGKILLed while its site migrations' requests still run on the server (a
/// `SLEEP` ahead of the `ALTER`): the server goes on executing them. `recover` must wait until
/// they have ended before it undoes, and the host must stay as it was once they would have
/// finished too.
#[test]
fn recover_waits_for_the_statements_a_killed_run_left_running_on_the_server() {
    let engine = engine("k_");
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), 3, &engine);
    let bundle = bundle_with_site_up(
        &engine,
        |sql| format!("SELECT SLEEP(4);\n{sql}"),
        &dir.path().join("delivery"),
    );
    let before = HostState::capture_server(&host).unwrap();
    let (out, sleeping) = recover_after_a_kill_while_running(
        &host,
        &bundle,
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(4)%'",
    );
    assert!(
        text(&out).contains("killed run"),
        "recover says what it waited for: {}",
        text(&out)
    );
    assert_eq!(sleeping(), 0, "recover waited for them");
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "after recover");
    // Whatever would still have run after the undo has had time to.
    std::thread::sleep(std::time::Duration::from_secs(5));
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "5 s after recover");
}

#[test]
fn a_sigkill_at_every_step_boundary_is_undone_by_recover() {
    let cells = sigkill_at_every_step_boundary(&engine("m_"), 3);
    println!("MariaDB fault matrix, step boundaries: {cells} of {cells} cells restored");
}

//! `bascule apply`, `rollback` and `migrate` end to end on PostgreSQL, with tenants as databases
//! and as schemas of one database: the demo patches in the PostgreSQL dialect on 200 sites
//! (+ main) of one throwaway server shared by the tests. Every failure case compares schema
//! dumps and content checksums of every database (or schema).

mod server_common;

use std::sync::OnceLock;

use demo_site::prod_server::Engine;
use server_common::*;
use testdb::PostgresServer;

fn server() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(|| PostgresServer::start().unwrap_or_else(|e| panic!("{e}")))
}

fn engine(prefix: &str, per_schema: bool) -> Engine {
    Engine::Postgres {
        url: server().url(),
        prefix: prefix.into(),
        per_schema,
    }
}

#[test]
fn per_database_apply_brings_every_database_to_2_and_rollback_restores_them_exactly() {
    apply_then_rollback(&engine("a_", false), 200);
}

#[test]
fn per_schema_apply_brings_every_schema_to_2_and_rollback_restores_them_exactly() {
    apply_then_rollback(&engine("b_", true), 200);
}

#[test]
fn per_database_the_failing_patch_leaves_every_database_as_it_was() {
    failing_patch_changes_nothing(&engine("c_", false), 200);
}

#[test]
fn per_schema_the_failing_patch_leaves_every_schema_as_it_was() {
    failing_patch_changes_nothing(&engine("d_", true), 200);
}

#[test]
fn two_concurrent_migrate_runs_apply_each_migration_once() {
    concurrent_migrate_runs_apply_once(
        &engine("e_", true),
        40,
        "ALTER TABLE members ADD COLUMN avatar",
    );
}

#[test]
fn per_schema_a_failed_check_names_the_schema_it_failed_on() {
    checks_blame_exactly_the_broken_tenant(&engine("f_", true), 20);
}

#[test]
fn per_database_a_failed_check_names_the_database_it_failed_on() {
    checks_blame_exactly_the_broken_tenant(&engine("g_", false), 20);
}

#[test]
fn per_schema_a_rollback_waits_for_a_migrate_holding_the_migration_locks() {
    rollback_waits_for_the_migration_locks(&engine("h_", true), 5);
}

#[test]
fn per_schema_a_migrate_killed_on_one_host_is_finished_by_another_and_its_recover_then_undoes_nothing(
) {
    killed_migrate_finished_by_another_host(&engine("i_", true), 5);
}

#[test]
fn per_schema_a_rollback_under_a_later_run_s_migrations_is_refused_and_changes_nothing() {
    a_rollback_under_a_later_run_s_migrations_is_refused(&engine("j_", true), 5);
}

#[test]
fn a_site_server_below_the_patch_s_range_is_refused_before_any_change() {
    a_server_below_its_range_is_refused(
        &engine("r_", false),
        "SELECT current_setting('server_version')",
    );
}

/// The server trusts its superuser; `app` must give its password (scram), so a run that lost it
/// on the way would fail to connect.
#[test]
fn no_database_password_reaches_a_file_or_the_terminal() {
    no_password_reaches_disk_or_terminal(&engine("s_", false), |host, password| {
        let quoted = password.replace('\'', "''");
        let main = host.main_target();
        rows(
            &main,
            &format!("CREATE ROLE app LOGIN SUPERUSER PASSWORD '{quoted}'"),
        );
        let hba = rows(&main, "SHOW hba_file").remove(0).remove(0);
        std::fs::write(
            &hba,
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        rows(&main, "SELECT pg_reload_conf()");
        format!("postgres://app@127.0.0.1:{}", server().port())
    });
}

#[test]
fn per_schema_a_sigkill_at_every_step_boundary_is_undone_by_recover() {
    let cells = sigkill_at_every_step_boundary(&engine("m_", true), 3);
    println!("PostgreSQL fault matrix, step boundaries: {cells} of {cells} cells restored");
}

/// PostgreSQL's side of a killed run's statements: `bascule apply` SIGKILLed while a site
/// migration's last statement (a `pg_sleep` after the DDL, before the version rows and the
/// `COMMIT`) still runs on the server. The orphaned backend finishes it, then finds its client
/// gone and rolls the transaction back: `recover` undoes the rest, and the host stays as it was
/// once the orphan has ended too.
#[test]
fn per_database_a_killed_run_s_last_statement_still_running_commits_nothing_after_recover() {
    let engine = engine("k_", false);
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), 3, &engine);
    let bundle = bundle_with_site_up(
        &engine,
        |sql| format!("{sql}\nSELECT pg_sleep(4);\n"),
        &dir.path().join("delivery"),
    );
    let before = HostState::capture_server(&host).unwrap();
    let (_, sleeping) = recover_after_a_kill_while_running(
        &host,
        &bundle,
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(4)%'",
    );
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "after recover");
    wait_for("the orphaned statements to end", || sleeping() == 0);
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "once the orphans have ended");
}

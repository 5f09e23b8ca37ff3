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

    let other_run = bascule::db::lock::DbLocks::acquire(
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
    assert_eq!(out.status.code(), Some(1), "rolled back: {}", text(&out));
    assert!(!host.state_dir.join("lock").exists(), "{}", text(&out));
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "after recover");
}

/// A `bascule migrate` killed on one host in the middle of a site leaves that site's row
/// `applying`. A `bascule migrate` from a second host (the first one is gone) finishes the undo
/// of that half-applied migration and migrates everything. The first host's `recover`, run
/// afterwards, must then undo nothing: the second run relies on what the first one migrated.
#[test]
fn a_migrate_killed_on_one_host_is_finished_by_another_and_its_recover_then_undoes_nothing() {
    let engine = engine("h_");
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), 5, &engine);
    let bundle = bundle(&engine, "2.0.0", &dir.path().join("delivery"));
    let sites = host.site_targets();
    let stuck = &sites[2];
    let stuck_db = match &stuck.location {
        bascule::db::Location::Mysql { database, .. } => database.clone(),
        other => panic!("{other:?}"),
    };

    // The migration's ALTER TABLE waits behind this lock, its row already `applying`.
    let mut holder = bascule::db::connect(stuck).unwrap();
    holder.query_rows("LOCK TABLES members READ").unwrap();
    let mut first = command(&bundle, &host.host_profile, &["migrate"], &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let alter_on_stuck = format!(
        "SELECT ID FROM information_schema.PROCESSLIST \
         WHERE DB = '{stuck_db}' AND INFO LIKE 'ALTER TABLE members%'"
    );
    let mut observer = bascule::db::connect(&host.main_target()).unwrap();
    wait_for(
        "the migration of the stuck site to wait for its table",
        || !observer.query_rows(&alter_on_stuck).unwrap().is_empty(),
    );
    // The first host dies; the server notices its connection is gone.
    first.kill().unwrap();
    first.wait().unwrap();
    for row in observer.query_rows(&alter_on_stuck).unwrap() {
        let _ = observer.query_rows(&format!("KILL {}", row[0]));
    }
    holder.query_rows("UNLOCK TABLES").unwrap();
    wait_for("the killed connection to be gone", || {
        observer.query_rows(&alter_on_stuck).unwrap().is_empty()
    });
    let left = bascule::db::connect(stuck)
        .unwrap()
        .version_state()
        .unwrap();
    assert_eq!(
        left.applying().map(|row| row.id).collect::<Vec<_>>(),
        [2],
        "{left:?}"
    );
    assert!(
        host.state_dir.join("lock").exists(),
        "the killed run's lock"
    );

    // The second host finishes the job; its plan says so first.
    let (second_profile, _) = second_host(dir.path(), &host);
    let plan = bascule(&bundle, &second_profile, &["plan"], &[]);
    let said = text(&plan);
    assert!(plan.status.success(), "{said}");
    assert!(
        said.contains("Half-applied migrations (1 database(s))"),
        "{said}"
    );
    let listed = format!("  - site/{stuck_db} (1)");
    assert!(said.contains(&listed), "{listed:?} in {said}");
    assert!(said.contains("No problem found"), "{said}");
    let second = bascule(&bundle, &second_profile, &["migrate"], &[]);
    let said = text(&second);
    assert!(second.status.success(), "{said}");
    assert!(
        said.contains("left half-applied by an interrupted run"),
        "{said}"
    );
    assert_versions(&host, &[1, 2], &[1, 2]);
    for target in std::iter::once(host.main_target()).chain(sites.iter().cloned()) {
        let state = bascule::db::connect(&target)
            .unwrap()
            .version_state()
            .unwrap();
        assert_eq!(state.applying().count(), 0, "{target}: {state:?}");
    }
    let migrated = HostState::capture_server(&host).unwrap();
    let schema = |target: &bascule::db::DbTarget| &migrated.databases[&target.to_string()].schema;
    assert_eq!(
        schema(stuck),
        schema(&sites[0]),
        "the stuck site is fully migrated"
    );
    assert_eq!(
        rows(stuck, "SELECT COUNT(*) FROM members WHERE avatar IS NULL"),
        [["0"]]
    );

    // The first host comes back and recovers its run: nothing may be undone.
    let recovered = bascule(&bundle, &host.host_profile, &["recover"], &[]);
    let said = text(&recovered);
    assert!(said.contains("so none of the"), "{said}");
    assert!(!host.state_dir.join("lock").exists(), "{said}");
    let after = HostState::capture_server(&host).unwrap();
    assert!(
        after.databases == migrated.databases,
        "a recover after another run migrated changed databases: {said}"
    );
}

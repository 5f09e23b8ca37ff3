//! A migration declared `-- bascule:irreversible <reason>`, end to end on SQLite: `plan` shows
//! it with its reason, `rollback` past it is refused before anything is undone (host state
//! compared), and a failing `apply` still runs its down as written, saying in the log that it
//! does not restore what its up removed.

use std::path::{Path, PathBuf};

use bascule_tests::{
    bascule, copy_dir, generate, run_dir_of, static_runtime, text, untar, workspace, DemoHost,
    HostState,
};

/// The migration added to the demo's 2.0.0, numbered with six digits as many projects do.
const LABEL: &str = "000003_drop_import_log";
const REASON: &str = "the 1.x import log is deleted for good";

/// The demo's 2.0.0 with one more site migration, irreversible: its down is only the marker.
/// Returns the bundle tarball.
fn bundle_with_an_irreversible_migration(dir: &Path) -> PathBuf {
    let platform = dir.join("platform");
    copy_dir(&workspace().join("fixtures/demo-platform"), &platform);
    let migration = platform.join("patches/2.0.0/migrations/site").join(LABEL);
    std::fs::create_dir_all(&migration).unwrap();
    std::fs::write(
        migration.join("up.sql"),
        "CREATE TABLE import_log (id INTEGER PRIMARY KEY, line TEXT);\n\
         INSERT INTO import_log (line) VALUES ('imported from 1.x');\n",
    )
    .unwrap();
    std::fs::write(
        migration.join("down.sql"),
        format!("-- bascule:irreversible {REASON}\n"),
    )
    .unwrap();
    let built = xtask::build_patch::build(
        &platform.join("patches/2.0.0"),
        &dir.join("bundles"),
        Some(static_runtime()),
    )
    .unwrap_or_else(|e| panic!("cannot build the bundle: {e:#}"));
    built.path
}

fn setup(sites: usize) -> (tempfile::TempDir, DemoHost, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tarball = bundle_with_an_irreversible_migration(dir.path());
    let demo = generate(&dir.path().join("host"), sites).unwrap();
    let bundle = untar(&tarball, &dir.path().join("delivery")).unwrap();
    (dir, demo, bundle)
}

#[test]
fn plan_shows_it_and_rollback_past_it_is_refused_leaving_the_host_as_it_is() {
    let (_dir, demo, bundle) = setup(3);
    let _services = demo.start_services().unwrap();

    let plan = bascule(&bundle, &demo, &["plan"], &[]);
    let said = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        said.contains(&format!(
            "Irreversible migrations (their down does not restore what their up removes: once they are applied, `bascule rollback` is refused)\n  site {LABEL}: {REASON} (to apply on 3 database(s))\n"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("0002_add_avatar, {LABEL}")),
        "the migration is named as written: {said}"
    );
    // A deploy system reads the same from `plan --format json`.
    let json = bascule(&bundle, &demo, &["plan", "--format", "json"], &[]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let site = plan["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "site")
        .unwrap();
    assert_eq!(
        site["irreversible"],
        serde_json::json!([{ "migration": LABEL, "reason": REASON, "databases": 3 }]),
        "{plan}"
    );

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let applied = HostState::capture(&demo).unwrap();
    let runs = || {
        let mut names: Vec<_> = std::fs::read_dir(demo.state_dir.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let runs_before = runs();
    let plan_after = bascule(&bundle, &demo, &["plan"], &[]);
    assert!(
        !String::from_utf8_lossy(&plan_after.stdout).contains("Irreversible migrations"),
        "nothing left to apply: {}",
        text(&plan_after)
    );

    let refused = bascule(&bundle, &demo, &["rollback"], &[("BASCULE_TODAY", "tue")]);
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!(
            "class `site`, migration {LABEL} ({REASON}), applied on 3 database(s)"
        )) && said.contains("Nothing was undone")
            && said.contains("fix forward with a new patch"),
        "the refusal names the class, the migration, its reason and what to do: {said}"
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&applied, "a refused rollback");
    assert_eq!(runs(), runs_before, "no rollback run was started");
}

#[test]
fn a_failing_apply_runs_the_down_as_written_and_says_it_does_not_restore() {
    let (_dir, demo, bundle) = setup(2);
    let _services = demo.start_services().unwrap();
    let out = bascule(
        &bundle,
        &demo,
        &["apply"],
        &[("BASCULE_FAIL_AT", "smoke"), ("BASCULE_TODAY", "tue")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let log = std::fs::read_to_string(run_dir_of(&out).join("update.log")).unwrap();
    let said: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("is irreversible"))
        .collect();
    assert_eq!(said.len(), 2, "one line per site database: {log}");
    assert!(
        said.iter().all(|l| l.contains(&format!(
            "{LABEL} is irreversible ({REASON}): its down runs as written and does not restore what its up removed"
        ))),
        "{said:?}"
    );
    // The rest went back: the avatars' column is gone with 0002's down, the code is v1 again;
    // the import log stays, as the marker declares.
    let after = HostState::capture(&demo).unwrap();
    assert_eq!(
        after.current.as_deref(),
        Some(Path::new("releases/1.0.0")),
        "{after:?}"
    );
    let site = &demo.sites[0];
    let schema = &after.databases[&format!("site/{site}")].schema;
    assert!(
        schema.iter().any(|l| l.contains("import_log")),
        "{schema:?}"
    );
    assert!(!schema.iter().any(|l| l.contains("avatar")), "{schema:?}");
}

//! What a person reads from the runtime: `--help` and `plan`, as insta snapshots.

use bascule_tests::{bascule, fixture_bundle, generate, text, untar};

fn help(args: &[&str]) -> String {
    let bundle = untar(
        &fixture_bundle("2.0.0"),
        &tempfile::tempdir().unwrap().keep(),
    )
    .unwrap();
    let out = std::process::Command::new(bundle.join("bin/bascule"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_reads_like_a_manual() {
    insta::assert_snapshot!("bascule_help", help(&["--help"]));
    insta::assert_snapshot!("bascule_apply_help", help(&["apply", "--help"]));
    insta::assert_snapshot!("bascule_verify_help", help(&["verify", "--help"]));
    insta::assert_snapshot!("bascule_migrate_help", help(&["migrate", "--help"]));
}

#[test]
fn plan_lists_versions_databases_checks_and_steps() {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), 12).unwrap();
    let bundle = untar(&fixture_bundle("2.0.0"), &dir.path().join("delivery")).unwrap();
    let out = bascule(&bundle, &demo, &["plan"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8(out.stdout).unwrap();
    let plan = plan.replace(&dir.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!("plan_2_0_0_on_12_sites", plan);
}

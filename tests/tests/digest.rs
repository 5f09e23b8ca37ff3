//! `bascule digest` through the bundle's binary: the same lines before an apply and after its
//! rollback, and a line per fact that changes when that fact does.

use std::path::PathBuf;

use bascule_tests::{bascule, fixture_bundle, generate, text, untar, DemoHost};

fn setup() -> (tempfile::TempDir, DemoHost, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = generate(&dir.path().join("host"), 3).expect("demo host");
    let bundle = untar(&fixture_bundle("2.0.0"), &dir.path().join("delivery")).expect("untar");
    (dir, demo, bundle)
}

fn digest(bundle: &std::path::Path, demo: &DemoHost) -> Vec<String> {
    let out = bascule(bundle, demo, &["digest"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

fn line<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in {lines:#?}"))
}

#[test]
fn the_digest_after_a_rollback_is_the_digest_before_the_apply() {
    let (_dir, demo, bundle) = setup();
    let _services = demo.start_services().expect("services");
    let before = digest(&bundle, &demo);
    assert_eq!(line(&before, "version "), "version 1.0.0");
    assert_eq!(line(&before, "service web "), "service web running");
    assert_eq!(
        before.len(),
        1 + 1 + 1 + 1 + 1 + 4 + 1 + 1 + 1,
        "{before:#?}"
    );

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let applied = digest(&bundle, &demo);
    assert_eq!(line(&applied, "version "), "version 2.0.0");
    assert_eq!(line(&applied, "current "), "current releases/2.0.0");
    for db in ["database main/main ", "database site/site-0002 "] {
        assert_ne!(
            line(&before, db),
            line(&applied, db),
            "the migration changed {db}"
        );
    }
    assert_ne!(before.last(), applied.last());

    let out = bascule(&bundle, &demo, &["rollback"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(digest(&bundle, &demo), before);
}

#[test]
fn one_changed_row_changes_its_database_line_and_nothing_else() {
    let (_dir, demo, bundle) = setup();
    let before = digest(&bundle, &demo);
    assert_eq!(line(&before, "service web "), "service web stopped");
    let conn = rusqlite::Connection::open(demo.site_db("site-0002")).expect("open");
    conn.execute("UPDATE members SET name = name || '.' WHERE id = 1", [])
        .expect("update");
    drop(conn);
    let after = digest(&bundle, &demo);
    let changed: Vec<(&String, &String)> =
        before.iter().zip(&after).filter(|(b, a)| b != a).collect();
    assert_eq!(
        changed.len(),
        2,
        "the site's line and the digest line: {changed:#?}"
    );
    assert!(changed[0].0.starts_with("database site/site-0002 "));
    let schema = |l: &str| l.split(" content ").next().map(String::from);
    assert_eq!(
        schema(changed[0].0),
        schema(changed[0].1),
        "only the content changed"
    );
}

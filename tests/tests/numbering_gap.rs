//! A gap in the numbering at a patch boundary, end to end on SQLite: the demo's 1.0.0 ends at
//! site migration 1 and this 2.0.0 starts at `000004`. The bundle records that a site database
//! must be at 1, so a 1.0.0 host takes it; a database below 1, or at a number no patch had (2),
//! is refused before anything is done, naming the versions.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bascule_tests::{
    bascule, copy_dir, generate, static_runtime, text, untar, workspace, DemoHost,
};

/// The site migration of the demo's 2.0.0, renumbered past a gap.
const LABEL: &str = "000004_add_avatar";

/// The demo platform with only 1.0.0 and 2.0.0 beside each other (the 2.0.0 variants number
/// their own site migrations 2 and 3), 2.0.0's site migration renumbered to 4; built once.
fn bundle_with_a_gap() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = workspace()
            .join("target/test-bundles")
            .join(format!("{}-numbering-gap", std::process::id()));
        let patches = dir.join("platform/patches");
        copy_dir(
            &workspace().join("fixtures/demo-platform"),
            &dir.join("platform"),
        );
        for variant in ["2.0.0-broken", "2.0.0-case", "2.0.0-regression"] {
            std::fs::remove_dir_all(patches.join(variant)).unwrap();
        }
        let site = patches.join("2.0.0/migrations/site");
        std::fs::rename(site.join("0002_add_avatar"), site.join(LABEL)).unwrap();
        let built = xtask::build_patch::build(
            &patches.join("2.0.0"),
            &dir.join("out"),
            Some(static_runtime()),
        )
        .unwrap_or_else(|e| panic!("cannot build the bundle: {e:#}"));
        untar(&built.path, &dir.join("delivery")).unwrap()
    })
}

fn connect(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{}: {e}", db.display()))
}

/// The ids of the version table's rows.
fn version_rows(db: &Path) -> Vec<u32> {
    let conn = connect(db);
    let mut statement = conn
        .prepare("SELECT id FROM bascule_migrations ORDER BY id")
        .unwrap();
    let ids = statement.query_map([], |row| row.get(0)).unwrap();
    ids.collect::<Result<_, _>>().unwrap()
}

fn host(dir: &Path) -> DemoHost {
    generate(&dir.join("host"), 3).unwrap()
}

#[test]
fn a_host_at_the_last_number_of_the_earlier_patch_takes_the_bundle() {
    let bundle = bundle_with_a_gap();
    let manifest = bascule_bundle::Manifest::read(bundle).unwrap();
    assert_eq!(manifest.base_versions.get("site"), Some(&1), "{manifest:?}");
    assert_eq!(manifest.base_versions.get("main"), None, "main follows on");

    let dir = tempfile::tempdir().unwrap();
    let demo = host(dir.path());
    let _services = demo.start_services().unwrap();
    for site in &demo.sites {
        assert_eq!(version_rows(&demo.site_db(site)), [1], "{site} is at 1.0.0");
    }
    let out = bascule(bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    for site in &demo.sites {
        assert_eq!(version_rows(&demo.site_db(site)), [1, 4], "{site}");
    }
    assert_eq!(version_rows(&demo.main_db()), [1, 2]);
}

#[test]
fn a_host_below_it_or_inside_the_gap_is_refused_naming_the_versions() {
    let bundle = bundle_with_a_gap();
    let dir = tempfile::tempdir().unwrap();
    let demo = host(dir.path());
    let (below, inside) = (&demo.sites[0], &demo.sites[1]);
    connect(&demo.site_db(below))
        .execute("DELETE FROM bascule_migrations", [])
        .unwrap();
    connect(&demo.site_db(inside))
        .execute(
            "INSERT INTO bascule_migrations (id, name, checksum, patch, applied_at) \
             VALUES (2, 'by_hand', 'unknown', 'none', 'then')",
            [],
        )
        .unwrap();
    let _services = demo.start_services().unwrap();
    let before = bascule_tests::HostState::capture(&demo).unwrap();

    let out = bascule(bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("FAILED at step `preflight`"), "{said}");
    assert!(
        said.contains(&format!(
            "site/{below}: at version 0, but this patch's first site migration is 000004 and a database must be at version 1 for it \
             (the earlier patches end at 1; no migration is numbered 2 to 3): apply the patches in between first"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "site/{inside}: at version 2, a number no site migration has (the earlier patches end at 1, this patch starts at 000004)"
        )),
        "{said}"
    );
    assert!(
        !said.contains(&format!("site/{}:", demo.sites[2])),
        "the database at 1 is fine: {said}"
    );
    bascule_tests::HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "a refused apply");
}

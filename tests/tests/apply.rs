//! `bascule apply`, `rollback` and `recover` end to end: real bundles built by
//! `xtask build-patch`, unpacked with `tar`, run as a separate process against a generated
//! demo production host with SQLite databases. Every failure case compares the host state.

use std::path::Path;

use bascule_db::{self as db, DbTarget, Location};
use bascule_tests::{bascule, fixture_bundle, generate, text, untar, DemoHost, HostState};

/// Every step of `apply`, in order: a new step is covered by the failure tests as soon as it
/// is listed in `apply_steps`.
fn step_names() -> Vec<&'static str> {
    bascule::steps::apply_steps()
        .iter()
        .map(|s| s.name())
        .collect()
}

fn version_of(path: &Path, class: &str) -> u32 {
    let target = DbTarget {
        class: class.into(),
        name: "x".into(),
        location: Location::SqliteFile(path.to_path_buf()),
    };
    db::connect(&target)
        .and_then(|mut c| c.version_state())
        .map(|s| s.version())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Serves the demo host over HTTP (the demo app reads `current/` at each request).
fn serve(demo: &DemoHost) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = demo_site::server::Config {
        root: demo.root.clone(),
        data: demo.data_dir.clone(),
        maintenance_flag: None,
    };
    std::thread::spawn(move || demo_site::server::serve(listener, config));
    addr
}

/// A real HTTP GET; returns the whole response, status line included.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn setup(sites: usize, version: &str) -> (tempfile::TempDir, DemoHost, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), sites).unwrap();
    let bundle = untar(&fixture_bundle(version), &dir.path().join("delivery")).unwrap();
    (dir, demo, bundle)
}

#[test]
fn apply_upgrades_every_database_and_rollback_restores_the_host() {
    let (_dir, demo, bundle) = setup(200, "2.0.0");
    // The web service runs, as in production: the sampling fetches its pages before and after.
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    let addr = serve(&demo);
    let team = format!("/{}/team", demo.sites[7]);
    let old_page = http_get(addr, &team);
    assert!(old_page.starts_with("HTTP/1.1 200"), "{old_page}");
    assert!(
        !old_page.contains("avatar"),
        "v1 has no avatars: {old_page}"
    );

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let new_page = http_get(addr, &team);
    assert!(new_page.starts_with("HTTP/1.1 200"), "{new_page}");
    assert!(
        new_page.contains("class=\"avatar\""),
        "v2 serves avatars: {new_page}"
    );

    assert_eq!(version_of(&demo.main_db(), "main"), 2);
    for site in &demo.sites {
        assert_eq!(version_of(&demo.site_db(site), "site"), 2, "{site}");
    }
    assert_eq!(
        std::fs::read_link(demo.current()).unwrap(),
        Path::new("releases/2.0.0")
    );
    let site = &demo.sites[7];
    let page = demo_site::render(&demo.current(), &demo.site_db(site), site, "team").unwrap();
    assert!(
        page.contains("avatar"),
        "v2 team page shows avatars: {page}"
    );
    let platform = std::fs::read_to_string(demo.state_dir.join("platform.toml")).unwrap();
    assert!(platform.contains("version = \"2.0.0\""), "{platform}");
    assert!(!demo.state_dir.join("lock").exists(), "lock released");
    let after = HostState::capture(&demo).unwrap();
    assert_ne!(before, after, "apply changed the host");

    let out = bascule(&bundle, &demo, &["rollback"], &[("BASCULE_TODAY", "fri")]);
    assert!(out.status.success(), "{}", text(&out));
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "after rollback");
    assert_eq!(
        http_get(addr, &team),
        old_page,
        "the old page is served again"
    );
}

#[test]
fn a_failure_injected_at_every_step_leaves_the_host_as_it_was() {
    let (_dir, demo, bundle) = setup(30, "2.0.0");
    // The web service runs: every failure must leave it running the old code.
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    assert_eq!(before.web, "ok 1.0.0");
    for step in step_names() {
        let out = bascule(
            &bundle,
            &demo,
            &["apply"],
            &[("BASCULE_FAIL_AT", step), ("BASCULE_TODAY", "tue")],
        );
        assert_eq!(out.status.code(), Some(1), "{step}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("FAILED at step `{step}`")),
            "{step}: {}",
            text(&out)
        );
        HostState::capture(&demo)
            .unwrap()
            .assert_same(&before, &format!("failure at {step}"));
    }
}

#[test]
fn a_migration_failing_on_one_site_in_the_middle_rolls_every_database_back() {
    let (_dir, demo, bundle) = setup(200, "2.0.0-broken");
    let before = HostState::capture(&demo).unwrap();
    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&demo.duplicate_email_site),
        "the failing site is named: {}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "failing migration");
}

#[test]
fn a_killed_run_is_undone_by_recover() {
    let (_dir, demo, bundle) = setup(30, "2.0.0");
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    let out = bascule(
        &bundle,
        &demo,
        &["apply"],
        &[("BASCULE_CRASH_AT", "migrate"), ("BASCULE_TODAY", "tue")],
    );
    assert!(
        out.status.code().is_none(),
        "killed by a signal: {}",
        text(&out)
    );
    let crashed = HostState::capture(&demo).unwrap();
    assert!(crashed.locked, "the killed run keeps the lock");
    assert_ne!(
        crashed.current, before.current,
        "the crash left the new release in place"
    );

    let refused = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("bascule recover"),
        "{}",
        text(&refused)
    );

    let out = bascule(&bundle, &demo, &["recover"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "recover reports the rolled-back run: {}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "after recover");

    let again = bascule(&bundle, &demo, &["recover"], &[]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "nothing left to recover: {}",
        text(&again)
    );
}

#[test]
fn the_guard_refuses_outside_a_multiplexer_and_on_forbidden_days() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();

    let mut command = std::process::Command::new(bundle.join("bin/bascule"));
    let out = command
        .args(["apply", "--host"])
        .arg(&demo.host_profile)
        .env_remove("TMUX")
        .env_remove("STY")
        .env("BASCULE_TODAY", "tue")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("tmux"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "outside tmux");

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "fri")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("forbids"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "on a Friday");

    let out = bascule(
        &bundle,
        &demo,
        &["apply", "--allow-forbidden-day"],
        &[("BASCULE_TODAY", "fri")],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_tampered_bundle_is_refused_and_nothing_changes() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let before = HostState::capture(&demo).unwrap();
    let page = bundle.join("code/pages/home.toml");
    let mut bytes = std::fs::read(&page).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&page, bytes).unwrap();

    let out = bascule(&bundle, &demo, &["verify"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("code/pages/home.toml"),
        "{}",
        text(&out)
    );

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("code/pages/home.toml"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "tampered bundle");
}

#[test]
fn every_statement_is_logged_and_every_step_journaled() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let runs: Vec<_> = std::fs::read_dir(demo.state_dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    let log = std::fs::read_to_string(runs[0].join("update.log")).unwrap();
    assert!(
        log.contains("ALTER TABLE members ADD COLUMN avatar"),
        "{log}"
    );
    assert!(
        log.lines()
            .all(|l| l.starts_with("-- ") || l.starts_with("   | ")),
        "{log}"
    );
    let journal = bascule::journal::Journal::read(&runs[0].join("journal.jsonl")).unwrap();
    let history = bascule::journal::RunHistory::from_events(&journal);
    assert!(history.committed);
    let names: Vec<&str> = history.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, step_names());
    let migrate = history.steps.iter().find(|s| s.name == "migrate").unwrap();
    match &migrate.intents[..] {
        [bascule::journal::Intent::Migrate { databases, .. }] => assert_eq!(databases.len(), 4),
        other => panic!("migrate intents: {other:?}"),
    }
}

#[test]
fn rollback_refuses_to_leave_current_dangling_when_the_old_release_is_gone() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_dir_all(demo.root.join("releases/1.0.0")).unwrap();
    let applied = HostState::capture(&demo).unwrap();

    let out = bascule(&bundle, &demo, &["rollback"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("releases/1.0.0"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&applied, "refused rollback");
}

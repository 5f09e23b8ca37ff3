//! `bascule apply`, `rollback` and `recover` end to end: real bundles built by
//! `xtask build-patch`, unpacked with `tar`, run as a separate process against a generated
//! demo production host with SQLite databases. Every failure case compares the host state.

use std::path::Path;

use bascule_db::{self as db, DbTarget, Location};
use bascule_tests::{
    bascule, copy_dir, fixture_bundle, generate, rewrite_bundle_file, run_dir_of, text, untar,
    DemoHost, HostState, PausedApply,
};

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

    // `status` tells the operator what happened and what `recover` will do, changing nothing.
    let status = bascule(&bundle, &demo, &["status"], &[]);
    let said = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.status.success(), "{}", text(&status));
    assert!(said.contains("platform  1.0.0"), "{said}");
    assert!(said.contains("run       INTERRUPTED: "), "{said}");
    assert!(said.contains("  at step migrate"), "{said}");
    assert!(
        said.contains("would undo, in this order: migrate (31 database(s)), ")
            && said.contains("install-code"),
        "{said}"
    );
    let json = bascule(&bundle, &demo, &["status", "--format", "json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["unfinished"]["alive"], false, "{json}");
    assert_eq!(json["unfinished"]["step"], "migrate", "{json}");
    assert_eq!(json["runs"][0]["outcome"], "unfinished", "{json}");
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&crashed, "status changes nothing");

    let out = bascule(&bundle, &demo, &["recover"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a recover that undid everything succeeded: {}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("RECOVERED"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "after recover");
    let status = bascule(&bundle, &demo, &["status"], &[]);
    let said = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        said.contains("none in progress, none interrupted"),
        "{said}"
    );
    assert!(said.contains("-apply  rolled back"), "{said}");

    let again = bascule(&bundle, &demo, &["recover"], &[]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "nothing left to recover: {}",
        text(&again)
    );
}

/// The fault matrix on SQLite: a real SIGKILL (not the `BASCULE_CRASH_AT` hook) at every step
/// boundary of `apply`, and in the middle of migrate after k of N site databases have started
/// their migration; then `recover`. Each time the host is as it was: schemas, content
/// checksums, `current`, releases, services, maintenance, lock.
#[test]
fn a_sigkill_at_every_step_boundary_and_mid_migrate_is_undone_by_recover() {
    let (_dir, demo, bundle) = setup(40, "2.0.0");
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    let recover = |cell: &str| {
        let out = bascule(&bundle, &demo, &["recover"], &[]);
        assert_eq!(out.status.code(), Some(0), "{cell}: {}", text(&out));
        HostState::capture(&demo)
            .unwrap()
            .assert_same(&before, &format!("{cell}, then recover"));
    };
    let mut cells = 0;
    for step in step_names() {
        PausedApply::start(&bundle, &demo, step).kill();
        assert!(
            HostState::capture(&demo).unwrap().locked,
            "killed after {step}: the lock stays"
        );
        recover(&format!("SIGKILL after step {step}"));
        cells += 1;
    }
    // Mid-migrate: killed once k site databases have sent their first statement.
    for k in [1, 20] {
        let mut apply = std::process::Command::new(bundle.join("bin/bascule"))
            .args(["apply", "--no-multiplexer", "--yes", "--quiet", "--host"])
            .arg(&demo.host_profile)
            .env("BASCULE_TODAY", "tue")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = || {
            std::fs::read_dir(demo.state_dir.join("runs"))
                .into_iter()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("update.log")).ok())
                .filter(|log| !log.contains("recover:"))
                .map(|log| log.matches("ALTER TABLE members ADD COLUMN avatar").count())
                .max()
                .unwrap_or(0)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while started() < k && std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = apply.try_wait() {
                panic!("the apply ended before {k} site(s) had started migrating: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        apply.kill().unwrap();
        apply.wait().unwrap();
        let reached = started();
        assert!(reached >= k, "{reached} site(s) started");
        println!("killed mid-migrate: {reached} of 40 site databases had started");
        recover(&format!(
            "SIGKILL after {reached} of 40 site migrations started"
        ));
        cells += 1;
    }
    println!("SQLite fault matrix: {cells} of {cells} cells restored by recover");
}

#[test]
fn recover_refuses_a_run_that_is_still_alive_and_names_it() {
    let (_dir, demo, bundle) = setup(5, "2.0.0");
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    // A second operator sees a run stand still after smoke, and reaches for `recover`.
    let paused = PausedApply::start(&bundle, &demo, "smoke");
    let midway = HostState::capture(&demo).unwrap();
    let refused = bascule(&bundle, &demo, &["recover"], &[]);
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    let pid = paused.child.id();
    assert!(
        said.contains("still running") && said.contains(&format!("pid {pid}")),
        "the refusal names the live run: {said}"
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&midway, "a refused recover");
    let status = bascule(&bundle, &demo, &["status"], &[]);
    let said = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        said.contains("run       IN PROGRESS: ") && said.contains(&format!("(pid {pid} on ")),
        "{said}"
    );
    assert!(
        said.contains("recover would refuse: the run is alive"),
        "{said}"
    );
    // Nor may a second apply start; it says the holder is alive rather than invite a recover.
    let second = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(text(&second).contains("still running"), "{}", text(&second));

    let out = paused.resume();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let done = HostState::capture(&demo).unwrap();
    assert!(!done.locked, "the finished run released the lock");
    assert_ne!(done.current, before.current, "the run went on to the end");
}

#[test]
fn a_class_whose_discovery_finds_no_database_is_refused_unless_the_profile_allows_it() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let profile = std::fs::read_to_string(&demo.host_profile).unwrap();
    let typo = profile.replace("data/sites/*.sqlite", "data/site/*.sqlite");
    assert_ne!(
        typo, profile,
        "the demo profile lists its sites with this glob"
    );
    std::fs::write(&demo.host_profile, &typo).unwrap();
    let before = HostState::capture(&demo).unwrap();

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    let said = text(&out);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("databases.site: no database found")
            && said.contains("data/site/*.sqlite` matched no file")
            && said.contains("allow_empty = true"),
        "{said}"
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "a discovery that found nothing");
    let plan = bascule(&bundle, &demo, &["plan"], &[]);
    assert!(
        text(&plan).contains("databases.site: no database found"),
        "{}",
        text(&plan)
    );

    // Declared empty, the class is simply skipped: the run goes on with `main`.
    let allowed = typo.replace(
        "glob = \"data/site/*.sqlite\"",
        "glob = \"data/site/*.sqlite\"\nallow_empty = true",
    );
    assert_ne!(allowed, typo);
    std::fs::write(&demo.host_profile, allowed).unwrap();
    let out = bascule(&bundle, &demo, &["plan"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
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

    // Forbidden hours, in a copy of the bundle whose policy also forbids the evening.
    let evening = bundle.with_file_name("evening");
    copy_dir(&bundle, &evening);
    let spec = std::fs::read_to_string(evening.join("patch.toml")).unwrap();
    assert!(spec.contains("forbidden_days = [\"fri\"]"), "{spec}");
    let spec = spec.replace(
        "forbidden_days = [\"fri\"]",
        "forbidden_days = [\"fri\"]\nforbidden_hours = [\"18:00-08:00\"]",
    );
    rewrite_bundle_file(&evening, "patch.toml", &spec);
    let out = bascule(
        &evening,
        &demo,
        &["apply"],
        &[("BASCULE_TODAY", "tue 19:30")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("it is 19:30, within 18:00-08:00") && said.contains("--allow-forbidden-time"),
        "{said}"
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "on a Tuesday evening");
    let out = bascule(
        &bundle,
        &demo,
        &["apply", "--allow-forbidden-time", " "],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "an empty reason: {}",
        text(&out)
    );

    let reason = "hotfix agreed with the release team";
    let out = bascule(
        &bundle,
        &demo,
        &["apply", "--allow-forbidden-time", reason],
        &[("BASCULE_TODAY", "fri")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_dir = run_dir_of(&out);
    for file in ["report.txt", "update.log"] {
        let content = std::fs::read_to_string(run_dir.join(file)).unwrap();
        assert!(
            content.contains(reason) && content.contains("a day this patch's policy forbids"),
            "{file}:\n{content}"
        );
    }
}

/// The run directory a run's output names.
/// The host profile's `[guards]`: a backup older than allowed, or a disk with less room than
/// asked, refuses the run with the host unchanged, unless a reason is written, which the
/// report keeps.
#[test]
fn a_stale_backup_or_a_low_disk_refuses_the_run_unless_a_reason_is_written() {
    let (dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(backups.join("db")).unwrap();
    let dump = backups.join("db/site.sql.gz");
    std::fs::write(&dump, "backup").unwrap();
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&dump)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    let profile = std::fs::read_to_string(&demo.host_profile).unwrap();
    let guarded = |guards: &str| {
        std::fs::write(&demo.host_profile, format!("{profile}\n[guards]\n{guards}")).unwrap();
    };
    guarded(&format!(
        "[guards.backup]\nnewest_under = \"{}\"\nmax_age = \"26h\"\n",
        backups.display()
    ));
    let before = HostState::capture(&demo).unwrap();
    let tue = [("BASCULE_TODAY", "tue")];

    let out = bascule(&bundle, &demo, &["apply"], &tue);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("FAILED at step `guard`")
            && said.contains("site.sql.gz) is 2days")
            && said.contains("--allow-stale-backup"),
        "{said}"
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "a stale backup");
    // `migrate` changes the data as much: the same guard.
    let out = bascule(&bundle, &demo, &["migrate"], &tue);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("--allow-stale-backup"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "a stale backup, migrate");

    // More free space asked than any disk has: refused, naming the key.
    guarded("min_free = \"1 PiB\"\n");
    let out = bascule(&bundle, &demo, &["apply"], &tue);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("[guards] min_free") && said.contains("--allow-low-disk"),
        "{said}"
    );
    guarded("min_free_state = \"1 PiB\"\n");
    let out = bascule(&bundle, &demo, &["apply"], &tue);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("min_free_state asks"), "{}", text(&out));
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "a low disk");

    // A malformed guard is refused when the profile is read, naming the key.
    guarded("[guards.backup]\nmax_age = \"26h\"\n");
    let out = bascule(&bundle, &demo, &["apply"], &tue);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("guards.backup: give either"),
        "{}",
        text(&out)
    );

    guarded(&format!(
        "min_free_state = \"1 PiB\"\n[guards.backup]\nnewest_under = \"{}\"\nmax_age = \"26h\"\n",
        backups.display()
    ));
    let out = bascule(
        &bundle,
        &demo,
        &[
            "apply",
            "--allow-stale-backup",
            "the nightly dump ran on the replica",
            "--allow-low-disk",
            "the state disk is watched",
        ],
        &tue,
    );
    assert!(out.status.success(), "{}", text(&out));
    let report = std::fs::read_to_string(run_dir_of(&out).join("report.txt")).unwrap();
    assert!(
        report.contains("the nightly dump ran on the replica")
            && report.contains("the state disk is watched"),
        "{report}"
    );
    // Taking the release back is allowed whatever the backup's age and the day.
    let out = bascule(
        &bundle,
        &demo,
        &["rollback"],
        &[("BASCULE_TODAY", "sat 23:00")],
    );
    assert!(out.status.success(), "{}", text(&out));
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "rolled back on a Saturday night, the backup stale");
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

    // Refused before the run starts: the bundle is verified before anything in it is parsed.
    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("code/pages/home.toml"),
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

/// An apply started with `--detach` outside tmux or screen (and without `--no-multiplexer`)
/// goes on in a session of its own; the command returns at once, naming the run, and
/// `bascule log --follow` prints its log until it ends and exits with how it ended.
#[test]
fn a_detached_apply_is_followed_to_its_end_by_log_follow() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let out = std::process::Command::new(bundle.join("bin/bascule"))
        .args(["apply", "--detach", "--yes", "--host"])
        .arg(&demo.host_profile)
        .env_remove("TMUX")
        .env_remove("STY")
        .env_remove("BASCULE_FAIL_AT")
        .env("BASCULE_TODAY", "tue")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let run = said
        .lines()
        .find_map(|line| line.split_once("): run ").map(|(_, run)| run.to_string()))
        .unwrap_or_else(|| panic!("the run is named: {}", text(&out)));
    assert!(said.contains("log --follow --host "), "{said}");
    assert!(said.contains(&format!(" {run}\n")), "{said}");

    let followed = bascule_within_a_minute(&bundle, &demo, &["log", "--follow", &run]);
    assert_eq!(followed.status.code(), Some(0), "{}", text(&followed));
    let log = String::from_utf8_lossy(&followed.stdout);
    assert!(log.starts_with("-- "), "the log from its first line: {log}");
    assert!(
        log.contains("SUCCESS: every step succeeded"),
        "to its last: {log}"
    );
    assert!(
        String::from_utf8_lossy(&followed.stderr).contains(&format!("run {run} committed")),
        "{}",
        text(&followed)
    );
    let logged = std::fs::read_to_string(demo.state_dir.join("runs").join(&run).join("update.log"));
    assert_eq!(log, logged.unwrap(), "all of it");

    assert_eq!(version_of(&demo.main_db(), "main"), 2);
    for site in &demo.sites {
        assert_eq!(version_of(&demo.site_db(site), "site"), 2, "{site}");
    }
    assert_eq!(
        std::fs::read_link(demo.current()).unwrap(),
        Path::new("releases/2.0.0")
    );
    assert!(!demo.state_dir.join("lock").exists(), "lock released");
    let output = std::fs::read_to_string(demo.state_dir.join("detached.log")).unwrap();
    assert!(
        output.contains("detached: ") && output.contains("==> migrate"),
        "its output: {output}"
    );
}

/// `log --slowest` on a real run: every step that ran, with its time; each database, and each
/// statement over the databases that ran it.
#[test]
fn log_slowest_ranks_a_real_run_s_steps_databases_and_statements() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let run = run_dir_of(&out);
    let run = run.file_name().unwrap().to_string_lossy().into_owned();

    let out = bascule(
        &bundle,
        &demo,
        &["log", "--slowest", "--format", "json"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = |list: &serde_json::Value, key: &str| -> Vec<String> {
        let mut names: Vec<String> = list
            .as_array()
            .unwrap_or_else(|| panic!("{json}"))
            .iter()
            .map(|item| item[key].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    };
    let mut steps = step_names();
    steps.sort();
    assert_eq!(names(&json["steps"], "name"), steps, "{json}");
    let mut databases = vec!["main/main".to_string()];
    databases.extend(demo.sites.iter().map(|site| format!("site/{site}")));
    databases.sort();
    assert_eq!(names(&json["databases"], "name"), databases, "{json}");
    let add = json["statements"]
        .as_array()
        .and_then(|all| {
            all.iter().find(|s| {
                s["statement"]
                    .as_str()
                    .is_some_and(|s| s.contains("ALTER TABLE members ADD COLUMN avatar"))
            })
        })
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(add["databases"], 3, "{json}");

    let out = bascule(&bundle, &demo, &["log", "--slowest=3"], &[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("steps, slowest first:") && said.contains("databases, the 3 slowest of 4:"),
        "{}",
        text(&out)
    );
    // The run named after the flag: --slowest takes its N only as `--slowest=N`.
    let named = bascule(&bundle, &demo, &["log", "--slowest", &run], &[]);
    assert!(named.status.success(), "{}", text(&named));
    assert!(
        String::from_utf8_lossy(&named.stdout).contains("databases, the 4 slowest of 4:"),
        "{}",
        text(&named)
    );
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

/// `bascule <args>` of `bundle`, killed if it has not finished within a minute (a hang is the
/// failure under test, so the test must end either way).
fn bascule_within_a_minute(bundle: &Path, demo: &DemoHost, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(bundle.join("bin/bascule"));
    command.args(args);
    if args.first() != Some(&"verify") {
        command.arg("--host").arg(&demo.host_profile);
    }
    if args.first() == Some(&"apply") {
        command.arg("--no-multiplexer").env("BASCULE_TODAY", "tue");
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("bascule {args:?} still runs after a minute: it hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Files of an unpacked bundle that are not what they claim — `MANIFEST.toml` a symlink to
/// `/dev/zero` or a fifo, `patch.toml` a symlink to a secret file, a migration's `up.sql` a
/// fifo — are refused by `verify`, `plan` and `apply` before anything reads them: each exits 2
/// at once, names the file and what it is, quotes nothing of the link's target, and the host
/// is as it was.
#[test]
fn files_of_a_bundle_that_are_not_regular_files_are_refused_unread() {
    let (dir, demo, bundle) = setup(3, "2.0.0");
    let before = HostState::capture(&demo).unwrap();
    let secret = dir.path().join("shadow");
    std::fs::write(&secret, "root:$6$NOT-FOR-YOUR-EYES$x:19000:0:99999:7:::\n").unwrap();
    let up = std::fs::read_dir(bundle.join("migrations/site"))
        .unwrap()
        .map(|e| e.unwrap().path().join("up.sql"))
        .next()
        .unwrap();
    let fifo = |path: &Path| {
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            path,
            rustix::fs::Mode::from_raw_mode(0o644),
        )
        .unwrap()
    };
    type Swap<'a> = (&'a str, Box<dyn Fn(&Path) + 'a>, &'a str);
    let cases: Vec<(std::path::PathBuf, Swap)> = vec![
        (
            bundle.join("MANIFEST.toml"),
            (
                "MANIFEST.toml",
                Box::new(|p| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
                "symlink",
            ),
        ),
        (
            bundle.join("MANIFEST.toml"),
            ("MANIFEST.toml", Box::new(fifo), "fifo"),
        ),
        (
            bundle.join("patch.toml"),
            (
                "patch.toml",
                Box::new(|p| std::os::unix::fs::symlink(&secret, p).unwrap()),
                "symlink",
            ),
        ),
        (up.clone(), ("up.sql", Box::new(fifo), "fifo")),
    ];
    for (path, (name, swap, kind)) in &cases {
        let original = std::fs::read(path).unwrap();
        std::fs::remove_file(path).unwrap();
        swap(path);
        for args in [&["verify"][..], &["plan"], &["apply"]] {
            let out = bascule_within_a_minute(&bundle, &demo, args);
            let said = text(&out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{name} as a {kind}, {args:?}: {said}"
            );
            assert!(said.contains(name), "{name} as a {kind}, {args:?}: {said}");
            assert!(said.contains(kind), "{name} as a {kind}, {args:?}: {said}");
            assert!(
                !said.contains("missing"),
                "{name} as a {kind}, {args:?}: {said}"
            );
            assert!(
                !said.contains("NOT-FOR-YOUR-EYES"),
                "{name}, {args:?}: {said}"
            );
        }
        std::fs::remove_file(path).unwrap();
        std::fs::write(path, original).unwrap();
    }
    let out = bascule(&bundle, &demo, &["verify"], &[]);
    assert!(
        out.status.success(),
        "the bundle is whole again: {}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "bundle files that are not regular files");
}

/// A tmpfs mounted over a directory for the test's life, its former content copied in.
struct SmallDisk {
    at: std::path::PathBuf,
}

impl SmallDisk {
    fn mount_over(dir: &Path, size: &str) -> SmallDisk {
        let saved = dir.with_extension("saved");
        bascule_tests::copy_dir(dir, &saved);
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot mount a tmpfs on {}",
            dir.display()
        );
        let disk = SmallDisk {
            at: dir.to_path_buf(),
        };
        bascule_tests::copy_dir(&saved, dir);
        disk
    }

    /// Fills the disk until `left` bytes are free.
    fn fill_leaving(&self, left: u64) {
        let filler = self.at.join("filler");
        let _ = std::fs::remove_file(&filler);
        let stat = rustix::fs::statvfs(&self.at).unwrap();
        let free = stat.f_bavail * stat.f_frsize;
        let file = std::fs::File::create(&filler).unwrap();
        if free > left + 4096 {
            rustix::fs::fallocate(
                &file,
                rustix::fs::FallocateFlags::empty(),
                0,
                free - left - 4096,
            )
            .unwrap();
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.at)
            .status();
    }
}

/// A host whose one disk (platform, databases and state on one small tmpfs) fills up during the
/// run: wherever it fills — copying the code, growing a database in migrate, writing the
/// journal — the run stops and is undone, the host as it was; with room, it succeeds.
#[test]
fn a_host_disk_that_fills_up_mid_run_is_undone_wherever_it_fills() {
    let dir = tempfile::tempdir().unwrap();
    let disk_dir = dir.path().join("disk");
    std::fs::create_dir(&disk_dir).unwrap();
    let disk = SmallDisk::mount_over(&disk_dir, "48m");
    let demo = generate(&disk_dir.join("host"), 10).unwrap();
    let bundle = untar(&fixture_bundle("2.0.0"), &dir.path().join("delivery")).unwrap();
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    let reserve = bascule::journal::RESERVE_BYTES;
    let steps = step_names();
    let tue = [("BASCULE_TODAY", "tue")];

    // Less room than the patch asks (min_free_mb = 10): preflight refuses, host unchanged.
    disk.fill_leaving(reserve + 2048 * 1024);
    let out = bascule(&bundle, &demo, &["apply"], &tue);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("FAILED at step `preflight`") && text(&out).contains("min_free_mb"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "a run refused for want of room");

    // Past that guard (the operator's override, or a disk that something else fills during the
    // run), the disk fills at whatever step it fills.
    let mut failed_at = Vec::new();
    for kib in [16u64, 64, 128, 256, 512, 1024, 2048] {
        disk.fill_leaving(reserve + kib * 1024);
        let out = bascule(
            &bundle,
            &demo,
            &[
                "apply",
                "--allow-low-disk",
                "the fault matrix fills the disk",
            ],
            &tue,
        );
        if out.status.success() {
            // Room enough after all: roll it back, with room, for the next size.
            disk.fill_leaving(reserve + 16 * 1024 * 1024);
            let back = bascule(&bundle, &demo, &["rollback"], &[]);
            assert!(back.status.success(), "{}", text(&back));
            HostState::capture(&demo).unwrap().assert_same(
                &before,
                &format!("{kib} KiB left, applied then rolled back"),
            );
            failed_at.push((kib, "(none: succeeded)"));
            continue;
        }
        HostState::capture(&demo).unwrap().assert_same(
            &before,
            &format!(
                "a run with {kib} KiB left on the host's disk ({})",
                text(&out)
            ),
        );
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let step = steps
            .iter()
            .find(|s| said.contains(&format!("FAILED at step `{s}`")));
        assert!(
            out.status.code() == Some(2) || step.is_some(),
            "{kib} KiB left: refused before starting, or failed at a step: {}",
            text(&out)
        );
        failed_at.push((kib, step.copied().unwrap_or("(refused)")));
    }
    println!("where the full host disk stopped the run, by KiB left: {failed_at:?}");
    let position = |name: &str| steps.iter().position(|s| *s == name);
    assert!(
        failed_at
            .iter()
            .any(|(_, s)| position(s) >= position("install-code") && position(s).is_some()),
        "some run met the full disk after it had changed the host: {failed_at:?}"
    );

    // With room, the same host takes the release.
    disk.fill_leaving(reserve + 16 * 1024 * 1024);
    let out = bascule(&bundle, &demo, &["apply"], &tue);
    assert!(out.status.success(), "{}", text(&out));
}

/// The state directory on a small tmpfs, filled so that a run's undo reserve fits and, after
/// it, only a few KiB to a few hundred KiB are left: the disk fills at whatever step it fills,
/// and every such run stops there and undoes everything, the host as it was (the lock
/// released). Too full even for the reserve, the run is refused before it starts.
#[test]
fn a_state_disk_that_fills_up_mid_run_stops_it_and_everything_is_undone() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    // One sampled site: the state dir's writes are then mostly the journal's, so the full
    // disk is met by journal appends too, not only by a step's own files.
    let profile = std::fs::read_to_string(&demo.host_profile).unwrap();
    assert!(profile.contains("random = 3"), "{profile}");
    std::fs::write(
        &demo.host_profile,
        profile.replace("random = 3", "random = 0"),
    )
    .unwrap();
    let _services = demo.start_services().unwrap();
    let disk = SmallDisk::mount_over(&demo.state_dir, "16m");
    let before = HostState::capture(&demo).unwrap();
    let reserve = bascule::journal::RESERVE_BYTES;

    disk.fill_leaving(reserve / 2);
    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cannot reserve"), "{}", text(&out));
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "a run refused for want of its reserve");

    let steps = step_names();
    let mut failed_at = Vec::new();
    for kib in [4u64, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512] {
        disk.fill_leaving(reserve + kib * 1024);
        let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
        if out.status.success() {
            break;
        }
        HostState::capture(&demo)
            .unwrap()
            .assert_same(&before, &format!("a run with {kib} KiB left"));
        if out.status.code() == Some(2) {
            // Its journal could not record even its start: refused before any step.
            let said = text(&out);
            assert!(
                said.contains("No space left on device"),
                "{kib} KiB left: {said}"
            );
            assert_eq!(
                said.matches("No space left").count(),
                1,
                "said once: {said}"
            );
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{kib} KiB left: {}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let step = steps
            .iter()
            .find(|s| said.contains(&format!("FAILED at step `{s}`")))
            .unwrap_or_else(|| panic!("{kib} KiB left: which step failed? {said}"));
        assert!(said.contains("No space left"), "{kib} KiB left: {said}");
        failed_at.push((*step, said.contains(bascule::journal::JOURNAL_FILE)));
    }
    println!(
        "steps the full disk stopped (and whether in a journal append), by KiB left: {failed_at:?}"
    );
    let position = |name: &str| steps.iter().position(|s| *s == name).unwrap();
    assert!(
        failed_at
            .iter()
            .any(|(s, _)| position(s) > position("install-code")),
        "some run filled the disk after it had installed code and migrated: {failed_at:?}"
    );
    assert!(
        failed_at.iter().any(|(_, journal)| *journal),
        "some run met the full disk in a journal append: {failed_at:?}"
    );
}

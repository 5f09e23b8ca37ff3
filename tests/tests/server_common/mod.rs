//! What the MariaDB and PostgreSQL end-to-end tests share: bundles of the dialect patches, demo
//! hosts on a throwaway server, running the bundle's `bascule`, reading versions back.
//!
//! One server per test binary (a `OnceLock` in each test file); each test uses its own name
//! prefix, so tests run in parallel on it without seeing each other's databases.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use bascule_db::{self as db, DbTarget};
use bascule_tests::{static_runtime, untar, workspace};
use demo_site::prod_server::{generate_on, Engine, ServerHost};

pub use bascule_tests::text;
pub use demo_site::snapshot::HostState;

/// The bundle of `patches-<dialect>/<version>`, built once per test process, unpacked in `into`.
pub fn bundle(engine: &Engine, version: &str, into: &Path) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<PathBuf, PathBuf>>> = OnceLock::new();
    let source = engine.patch_dir(version);
    let tarball = {
        let mut built = BUILT
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        built
            .entry(source.clone())
            .or_insert_with(|| {
                let out = workspace()
                    .join("target/test-bundles")
                    .join(format!("{}-server", std::process::id()))
                    .join(source.parent().unwrap().file_name().unwrap());
                xtask::build_patch::build(&source, &out, Some(static_runtime()))
                    .unwrap_or_else(|e| panic!("cannot build {}: {e:#}", source.display()))
                    .path
            })
            .clone()
    };
    untar(&tarball, into).unwrap()
}

/// A `2.1.0` bundle for `engine`'s dialect, unpacked in `into`: one site migration on top of
/// 2.0.0 (`0003_add_bio`, a nullable column), made from the 2.0.0 patch without its own
/// migrations.
pub fn bundle_on_top_of_2(engine: &Engine, into: &Path) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<PathBuf, PathBuf>>> = OnceLock::new();
    let base = engine.patch_dir("2.0.0");
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let tarball = built.entry(base.clone()).or_insert_with(|| {
        let dialect = base.parent().unwrap().file_name().unwrap();
        let work = workspace()
            .join("target/test-patches")
            .join(format!("{}-server", std::process::id()))
            .join(dialect);
        let patch = work.join("2.1.0");
        let _ = std::fs::remove_dir_all(&patch);
        bascule_tests::copy_dir(&base, &patch);
        std::fs::remove_dir_all(patch.join("migrations")).unwrap();
        let bio = patch.join("migrations/site/0003_add_bio");
        std::fs::create_dir_all(&bio).unwrap();
        std::fs::write(
            bio.join("up.sql"),
            "ALTER TABLE members ADD COLUMN bio VARCHAR(255) NULL;\n",
        )
        .unwrap();
        std::fs::write(
            bio.join("down.sql"),
            "ALTER TABLE members DROP COLUMN IF EXISTS bio;\n",
        )
        .unwrap();
        // The code source must be relative: the patch sits 5 levels below the workspace.
        let toml = std::fs::read_to_string(patch.join("patch.toml"))
            .unwrap()
            .replace("version = \"2.0.0\"", "version = \"2.1.0\"")
            .replace("from = \">=1.0.0, <2.0.0\"", "from = \">=2.0.0, <2.1.0\"")
            .replace(
                "\"../../code-v2\"",
                "\"../../../../../fixtures/demo-platform/code-v2\"",
            );
        std::fs::write(patch.join("patch.toml"), toml).unwrap();
        xtask::build_patch::build(&patch, &work.join("out"), Some(static_runtime()))
            .unwrap_or_else(|e| panic!("cannot build {}: {e:#}", patch.display()))
            .path
    });
    untar(tarball, into).unwrap()
}

/// A 1.0.0 demo host with `sites` sites on `engine`'s server, in `dir/host`.
pub fn host(dir: &Path, sites: usize, engine: &Engine) -> ServerHost {
    generate_on(&dir.join("host"), sites, engine).unwrap()
}

/// Runs the bundle's `bin/bascule <args> --host <profile>` (runs get `--no-multiplexer`).
pub fn bascule(bundle: &Path, profile: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(bundle, profile, args, env).output().unwrap()
}

pub fn command(bundle: &Path, profile: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(bundle.join("bin/bascule"));
    command.args(args).arg("--host").arg(profile);
    if matches!(args.first(), Some(&"apply" | &"rollback" | &"recover")) {
        command.arg("--no-multiplexer");
    }
    if args.first() == Some(&"apply") {
        command.arg("--yes");
    }
    command
        .env_remove("TMUX")
        .env_remove("STY")
        .env_remove("BASCULE_FAIL_AT")
        .env_remove("BASCULE_PAUSE_AT")
        .env("BASCULE_TODAY", "tue");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Every database of the host: main first, then the sites.
pub fn targets(host: &ServerHost) -> Vec<DbTarget> {
    let mut all = vec![host.main_target()];
    all.extend(host.site_targets());
    all
}

/// The ids of the migrations recorded in `target`'s version table.
pub fn applied(target: &DbTarget) -> Vec<u32> {
    let state = db::connect(target)
        .and_then(|mut c| c.version_state())
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    state.applied.iter().map(|a| a.id).collect()
}

/// The rows of `sql` on `target`.
pub fn rows(target: &DbTarget, sql: &str) -> Vec<Vec<String>> {
    db::connect(target)
        .and_then(|mut c| c.query_rows(sql))
        .unwrap_or_else(|e| panic!("{target}: {sql}: {e}"))
}

/// Asserts every database of `host` has exactly the migrations `main` and `site` recorded.
pub fn assert_versions(host: &ServerHost, main: &[u32], site: &[u32]) {
    assert_eq!(applied(&host.main_target()), main, "main");
    for target in host.site_targets() {
        assert_eq!(applied(&target), site, "{target}");
    }
}

/// The apply → every database at 2 → rollback → identical story, on `engine`.
pub fn apply_then_rollback(engine: &Engine, sites: usize) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let before = HostState::capture_server(&host).unwrap();
    assert_versions(&host, &[1], &[1]);

    let out = bascule(&bundle, &host.host_profile, &["apply"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_versions(&host, &[1, 2], &[1, 2]);
    let features = rows(
        &host.main_target(),
        "SELECT name FROM features ORDER BY name",
    );
    assert_eq!(features.len(), 4, "{features:?}");
    let site = &host.site_targets()[7];
    let avatars = rows(site, "SELECT avatar FROM members WHERE avatar IS NULL");
    assert!(avatars.is_empty(), "the data migration filled every avatar");
    let after = HostState::capture_server(&host).unwrap();
    assert_ne!(before, after, "apply changed the databases");

    let out = bascule(&bundle, &host.host_profile, &["rollback"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "after rollback");
}

/// The failing patch (a unique index that fails on the middle site) changes nothing.
pub fn failing_patch_changes_nothing(engine: &Engine, sites: usize) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0-broken", &dir.path().join("delivery"));
    let before = HostState::capture_server(&host).unwrap();
    let out = bascule(&bundle, &host.host_profile, &["apply"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&host.duplicate_email_site),
        "the failing site is named: {}",
        text(&out)
    );
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "failing patch");
}

/// Waits (at most a minute) until `check` holds.
pub fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// The one run directory under `state/runs`, once it exists.
fn run_dir(state: &Path) -> Option<PathBuf> {
    std::fs::read_dir(state.join("runs"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .next()
}

fn log_of(state: &Path) -> String {
    run_dir(state)
        .and_then(|d| std::fs::read_to_string(d.join("update.log")).ok())
        .unwrap_or_default()
}

/// A copy of `host`'s profile in `dir/second-host`, with its own state directory: a second host
/// sharing the same databases. Returns the profile and the state directory.
pub fn second_host(dir: &Path, host: &ServerHost) -> (PathBuf, PathBuf) {
    let second_dir = dir.join("second-host");
    std::fs::create_dir_all(&second_dir).unwrap();
    let profile = second_dir.join("host.toml");
    std::fs::copy(&host.host_profile, &profile).unwrap();
    (profile, second_dir.join("state"))
}

/// A `bascule migrate` paused right after its migrate step, holding the migration locks.
struct PausedMigrate {
    child: std::process::Child,
    run_dir: PathBuf,
}

impl PausedMigrate {
    /// Starts `bascule migrate` with `profile` (whose state directory is `state`) and returns
    /// once it has paused.
    fn start(bundle: &Path, profile: &Path, state: &Path) -> PausedMigrate {
        let child = command(
            bundle,
            profile,
            &["migrate"],
            &[("BASCULE_PAUSE_AT", "migrate")],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        wait_for("the migrate run to pause after migrating", || {
            run_dir(state).is_some_and(|d| d.join("paused-at-migrate").exists())
        });
        let run_dir = run_dir(state).unwrap();
        PausedMigrate { child, run_dir }
    }

    /// Lets it go on, and waits for its end.
    fn resume(self) -> Output {
        std::fs::write(self.run_dir.join("resume"), "").unwrap();
        self.child.wait_with_output().unwrap()
    }
}

/// Two `bascule migrate` runs from two "hosts" (two host profiles, two state directories, the
/// same databases), truly concurrent: the first pauses right after its migrate step while it
/// holds the database locks, the second is started and must wait for them. Both succeed; each
/// migration is applied once, by the first.
pub fn concurrent_migrate_runs_apply_once(engine: &Engine, sites: usize, up_marker: &str) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let (second_profile, second_state) = second_host(dir.path(), &host);

    let first = PausedMigrate::start(&bundle, &host.host_profile, &host.state_dir);
    let second = command(&bundle, &second_profile, &["migrate"], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the second run to wait for the locks", || {
        log_of(&second_state).contains("another run holds the migration lock")
    });
    let first = first.resume();
    let second = second.wait_with_output().unwrap();
    assert!(first.status.success(), "first: {}", text(&first));
    assert!(second.status.success(), "second: {}", text(&second));

    assert_versions(&host, &[1, 2], &[1, 2]);
    let features = rows(&host.main_target(), "SELECT name FROM features");
    assert_eq!(features.len(), 4, "{features:?}");
    let first_log = log_of(&host.state_dir);
    let second_log = log_of(&second_state);
    assert_eq!(
        first_log.matches(up_marker).count(),
        sites,
        "the first run migrated every site once"
    );
    assert!(
        !second_log.contains(up_marker),
        "the second run migrated nothing: {second_log}"
    );
    assert!(
        !first.stdout.is_empty() && String::from_utf8_lossy(&second.stdout).contains("SUCCESS"),
        "{}",
        text(&second)
    );
}

/// A rollback waits for the migration locks a `bascule migrate` from another host holds, and
/// touches nothing meanwhile: the migrate (nothing left to apply) pauses holding them; a
/// rollback with `--lock-timeout 1` gives up having changed nothing; another is started and must
/// say it waits; the databases are still at 2 while it does. Once the migrate ends, the rollback
/// restores every database exactly.
pub fn rollback_waits_for_the_migration_locks(engine: &Engine, sites: usize) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let before = HostState::capture_server(&host).unwrap();
    let out = bascule(&bundle, &host.host_profile, &["apply"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let (second_profile, second_state) = second_host(dir.path(), &host);
    let migrate = PausedMigrate::start(&bundle, &second_profile, &second_state);
    // Not waiting long enough: the rollback gives up, changes nothing, keeps no host lock.
    let impatient = bascule(
        &bundle,
        &host.host_profile,
        &["rollback", "--lock-timeout", "1"],
        &[],
    );
    let said = text(&impatient);
    assert_eq!(impatient.status.code(), Some(1), "{said}");
    assert!(said.contains("FAILED at step `migration locks`"), "{said}");
    assert!(!host.state_dir.join("lock").exists(), "{said}");
    assert_versions(&host, &[1, 2], &[1, 2]);

    let runs = || -> Vec<PathBuf> {
        std::fs::read_dir(host.state_dir.join("runs"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect()
    };
    let earlier = runs();
    let rollback = command(&bundle, &host.host_profile, &["rollback"], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rollback_log = || {
        runs()
            .into_iter()
            .filter(|dir| !earlier.contains(dir))
            .filter_map(|dir| std::fs::read_to_string(dir.join("update.log")).ok())
            .collect::<String>()
    };
    wait_for("the rollback to wait for the locks", || {
        rollback_log().contains("another run holds the migration lock")
    });
    assert_versions(&host, &[1, 2], &[1, 2]);

    let migrate = migrate.resume();
    assert!(migrate.status.success(), "migrate: {}", text(&migrate));
    let rollback = rollback.wait_with_output().unwrap();
    assert!(rollback.status.success(), "rollback: {}", text(&rollback));
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "after the rollback");
}

/// One run holds the host lock (paused after its migrate step, the database-side locks held
/// too): a second run on the same host is refused by the host lock before it asks for the
/// migration locks, instead of waiting for them to time out first. The first run then finishes.
pub fn a_locked_host_refuses_a_second_run_before_the_migration_locks(
    engine: &Engine,
    sites: usize,
) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let first = PausedMigrate::start(&bundle, &host.host_profile, &host.state_dir);
    let first_id = first
        .run_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();

    let second = bascule(&bundle, &host.host_profile, &["apply"], &[]);
    let said = text(&second);
    assert_eq!(second.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("the host is locked by run {first_id}")),
        "{said}"
    );
    assert!(
        !said.contains("migration locks"),
        "refused before asking for the migration locks: {said}"
    );

    let first = first.resume();
    assert!(first.status.success(), "first: {}", text(&first));
    assert_versions(&host, &[1, 2], &[1, 2]);
}

/// After an apply, a member without an avatar planted in one site: `bascule migrate` (nothing
/// left to apply, then the post-checks) must blame that site and no other. The checks carry one
/// connection per worker from tenant to tenant, so this is what proves each query ran where it
/// was meant to.
pub fn checks_blame_exactly_the_broken_tenant(engine: &Engine, sites: usize) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let out = bascule(&bundle, &host.host_profile, &["apply"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let broken = host.site_targets()[sites / 2].clone();
    db::connect(&broken)
        .and_then(|mut c| {
            c.query_rows("INSERT INTO members (name, email) VALUES ('No Avatar', 'na@example.org')")
        })
        .unwrap_or_else(|e| panic!("{broken}: {e}"));

    let out = bascule(&bundle, &host.host_profile, &["migrate"], &[]);
    let output = text(&out);
    assert!(!out.status.success(), "{output}");
    assert!(
        output.contains("1 consistency check failure(s)"),
        "one failure, not one per tenant: {output}"
    );
    // The run names tenants as the host profile discovers them: database or schema names.
    let discovered = match &broken.location {
        db::Location::Postgres {
            schema: Some(schema),
            ..
        } => schema.clone(),
        db::Location::Postgres { database, .. } | db::Location::Mysql { database, .. } => {
            database.clone()
        }
        db::Location::SqliteFile(_) => unreachable!("a server engine"),
    };
    assert!(
        output.contains(&format!(
            "site/{discovered}: checks/site/members_have_avatar"
        )),
        "{output}"
    );
}

/// What a test does to make one tenant's migration wait, and to kill it, on each engine.
struct Blocker {
    /// Run on a connection to the tenant: its `members` table can no longer be altered.
    hold: &'static [&'static str],
    /// Run on the same connection: the table is free again.
    release: &'static str,
    /// Run on another connection: the id of a session waiting to alter that table.
    waiting: String,
    /// Ends the session `{}`.
    kill: &'static str,
}

impl Blocker {
    fn of(target: &DbTarget) -> Blocker {
        match &target.location {
            db::Location::Mysql { database, .. } => Blocker {
                hold: &["LOCK TABLES members READ"],
                release: "UNLOCK TABLES",
                waiting: format!(
                    "SELECT ID FROM information_schema.PROCESSLIST \
                     WHERE DB = '{database}' AND INFO LIKE 'ALTER TABLE members%'"
                ),
                kill: "KILL {}",
            },
            db::Location::Postgres { .. } => Blocker {
                hold: &["BEGIN", "LOCK TABLE members IN ACCESS SHARE MODE"],
                release: "COMMIT",
                waiting: "SELECT pid FROM pg_stat_activity \
                          WHERE query LIKE '%ALTER TABLE members%' AND wait_event_type = 'Lock'"
                    .to_string(),
                kill: "SELECT pg_terminate_backend({})",
            },
            other => panic!("no blocker for {other:?}"),
        }
    }
}

/// A `bascule migrate` killed on one host while one tenant's migration waits for its table.
/// Where a migration is not one transaction (MariaDB/MySQL), that tenant's row is left
/// `applying`; else the tenant is back at 1. A `bascule migrate` from a second host (the first
/// one is gone) finishes the undo of that half-applied migration, if any — its plan says so
/// first — and migrates every tenant. The first host's `recover`, run afterwards, must then
/// undo nothing: the second run relies on what the first one migrated.
pub fn killed_migrate_finished_by_another_host(engine: &Engine, sites: usize) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let site_targets = host.site_targets();
    let stuck = &site_targets[sites / 2];
    let (half_applied, stuck_name) = match &stuck.location {
        db::Location::Mysql { database, .. } => (true, database.clone()),
        _ => (false, stuck.name.clone()),
    };
    let blocker = Blocker::of(stuck);
    let mut holder = db::connect(stuck).unwrap();
    for sql in blocker.hold {
        holder.query_rows(sql).unwrap();
    }
    let mut first = command(&bundle, &host.host_profile, &["migrate"], &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut observer = db::connect(&host.main_target()).unwrap();
    wait_for(
        "the migration of the stuck tenant to wait for its table",
        || !observer.query_rows(&blocker.waiting).unwrap().is_empty(),
    );
    // The first host dies; the server notices its connection is gone.
    first.kill().unwrap();
    first.wait().unwrap();
    for row in observer.query_rows(&blocker.waiting).unwrap() {
        let _ = observer.query_rows(&blocker.kill.replace("{}", &row[0]));
    }
    holder.query_rows(blocker.release).unwrap();
    wait_for("the killed session to be gone", || {
        observer.query_rows(&blocker.waiting).unwrap().is_empty()
    });
    let left = db::connect(stuck).unwrap().version_state().unwrap();
    let expected: &[u32] = if half_applied { &[2] } else { &[] };
    let applying: Vec<u32> = left.applying().map(|row| row.id).collect();
    assert_eq!(
        (left.version(), applying.as_slice()),
        (1, expected),
        "{left:?}"
    );
    assert!(
        host.state_dir.join("lock").exists(),
        "the killed run's lock"
    );

    let (second_profile, _) = second_host(dir.path(), &host);
    let plan = bascule(&bundle, &second_profile, &["plan"], &[]);
    let said = text(&plan);
    assert!(plan.status.success(), "{said}");
    // A host that only migrates records no platform version: `apply` would refuse for that
    // alone, not for the half-applied migration, which it would finish.
    assert!(
        said.contains(
            "Problems (1): `bascule apply` would refuse\n  - no platform version is recorded on this host\n"
        ),
        "{said}"
    );
    let listed = format!("Half-applied migrations (1 database(s)): left `applying` by an interrupted run; `apply` and `migrate` finish their undo (down.sql) under the migration locks, then apply them again\n  - site/{stuck_name} (1)\n");
    assert_eq!(said.contains(&listed), half_applied, "{listed:?} in {said}");

    let second = bascule(&bundle, &second_profile, &["migrate"], &[]);
    let said = text(&second);
    assert!(second.status.success(), "{said}");
    assert_eq!(
        said.contains("left half-applied by an interrupted run"),
        half_applied,
        "{said}"
    );
    assert_versions(&host, &[1, 2], &[1, 2]);
    for target in targets(&host) {
        let state = db::connect(&target).unwrap().version_state().unwrap();
        assert_eq!(state.applying().count(), 0, "{target}: {state:?}");
    }
    let migrated = HostState::capture_server(&host).unwrap();
    let schema = |target: &DbTarget| &migrated.databases[&target.to_string()].schema;
    assert_eq!(
        schema(stuck),
        schema(&site_targets[0]),
        "the stuck tenant is fully migrated"
    );
    assert_eq!(
        rows(stuck, "SELECT COUNT(*) FROM members WHERE avatar IS NULL"),
        [["0"]]
    );

    // The first host comes back and recovers its run: nothing may be undone.
    let recovered = bascule(&bundle, &host.host_profile, &["recover"], &[]);
    let said = text(&recovered);
    let after = HostState::capture_server(&host).unwrap();
    assert!(
        after.databases == migrated.databases,
        "a recover after another run migrated changed databases: {said}"
    );
    assert!(
        said.contains("\nBUT: run ") && said.contains("so none of the"),
        "the report says what was left: {said}"
    );
    assert!(!host.state_dir.join("lock").exists(), "{said}");
}

/// A committed 2.0.0 apply, then a later bundle's `bascule migrate` from another host on top of
/// it: rolling the apply back would put the 1.0.0 code under databases the 2.1.0 run relies on,
/// so the rollback is refused before it undoes anything, and the host lock is released.
pub fn a_rollback_under_a_later_run_s_migrations_is_refused(engine: &Engine, sites: usize) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let out = bascule(&bundle, &host.host_profile, &["apply"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let (second_profile, _) = second_host(dir.path(), &host);
    let later = bundle_on_top_of_2(engine, &dir.path().join("delivery-2.1.0"));
    let out = bascule(&later, &second_profile, &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_versions(&host, &[1, 2], &[1, 2, 3]);
    let before = HostState::capture_server(&host).unwrap();

    let out = bascule(&bundle, &host.host_profile, &["rollback"], &[]);
    let said = text(&out);
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "a refused rollback");
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("FAILED at step `migrate`: run ")
            && said.contains("-2.1.0-migrate@")
            && said.contains("this run can no longer be rolled back: fix forward"),
        "the refusal names the later run and the way on: {said}"
    );
}

/// A 2.0.0 bundle for `engine` whose `[requirements.servers]` wants `site = "<range>"`,
/// unpacked in `into`.
pub fn bundle_wanting_site_server(engine: &Engine, range: &str, into: &Path) -> PathBuf {
    variant_of_2(engine, "servers", into, |patch| {
        let toml = std::fs::read_to_string(patch.join("patch.toml")).unwrap();
        assert!(
            toml.lines().any(|l| l.starts_with("site = \">=")),
            "the fixture declares a site server range"
        );
        let toml: String = toml
            .lines()
            .map(|line| {
                if line.starts_with("site = \">=") {
                    format!("site = \"{range}\"\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        std::fs::write(patch.join("patch.toml"), toml).unwrap();
    })
}

/// `engine`'s 2.0.0 patch copied under `target/test-patches/<pid>-<tag>/`, its code source
/// made relative to the copy, changed by `edit`, then built and unpacked in `into`.
pub fn variant_of_2(engine: &Engine, tag: &str, into: &Path, edit: impl FnOnce(&Path)) -> PathBuf {
    let base = engine.patch_dir("2.0.0");
    let dialect = base.parent().unwrap().file_name().unwrap();
    let work = workspace()
        .join("target/test-patches")
        .join(format!("{}-{tag}", std::process::id()))
        .join(dialect);
    let patch = work.join("2.0.0");
    let _ = std::fs::remove_dir_all(&patch);
    bascule_tests::copy_dir(&base, &patch);
    // The code source must be relative: the copy sits 5 levels below the workspace.
    let toml = std::fs::read_to_string(patch.join("patch.toml"))
        .unwrap()
        .replace(
            "\"../../code-v2\"",
            "\"../../../../../fixtures/demo-platform/code-v2\"",
        );
    std::fs::write(patch.join("patch.toml"), toml).unwrap();
    edit(&patch);
    let tarball = xtask::build_patch::build(&patch, &work.join("out"), Some(static_runtime()))
        .unwrap_or_else(|e| panic!("cannot build {}: {e:#}", patch.display()))
        .path;
    untar(&tarball, into).unwrap()
}

/// A site server below the patch's `[requirements.servers]` range refuses the run before any
/// change, naming the version the server reports (`version_sql`); `plan` shows it, and the
/// fixture's own range (which every other test of the engine runs with) is met.
pub fn a_server_below_its_range_is_refused(engine: &Engine, version_sql: &str) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), 3, engine);
    let reported = rows(&host.site_targets()[0], version_sql)[0][0].clone();

    let fixture = bundle(engine, "2.0.0", &dir.path().join("fixture"));
    let plan = bascule(&fixture, &host.host_profile, &["plan"], &[]);
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    let line = plan
        .lines()
        .find(|l| l.contains("database server of class `site`"))
        .unwrap_or_else(|| panic!("no site server line:\n{plan}"));
    assert!(line.contains(" ok ") && line.contains(&reported), "{line}");

    let bundle = bundle_wanting_site_server(engine, ">=99", &dir.path().join("delivery"));
    let before = HostState::capture_server(&host).unwrap();
    let out = bascule(&bundle, &host.host_profile, &["apply"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("FAILED at step `preflight`"),
        "{}",
        text(&out)
    );
    assert!(
        said.contains(&format!(
            "database server of class `site` >=99 (patch.toml requirements.servers.site): \
             {reported} is outside `>=99`"
        )),
        "{}",
        text(&out)
    );
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "refused for its server version");

    // `migrate` (a deploy system's task) has no preflight, and refuses all the same.
    let out = bascule(&bundle, &host.host_profile, &["migrate"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("FAILED at step `requirements`")
            && said.contains("requirements.servers.site"),
        "{}",
        text(&out)
    );
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "migrate refused for its server version");
}

/// A database password with what a url must escape (`:`, `/`, `@`, `%`, a space, non-ASCII).
pub const SECRET: &str = "Pw-s3cr3t:/@é% x";

/// Every form [`SECRET`] could be written in: as it is, and percent-encoded in a url.
fn secret_forms() -> [&'static str; 2] {
    [SECRET, "Pw-s3cr3t%3A%2F%40%C3%A9%25%20x"]
}

/// No password reaches a file a run writes or what it prints. `login` makes a user `app` with
/// password [`SECRET`] on `engine`'s server and returns its url without the password. Profile
/// A gives class `main` the password in its url and class `site` a `password_file`; profile B,
/// the same host, gives `site` a `password_env`. Runs: an apply killed in migrate (A), its
/// recover (B: the undo's passwords come from the profile it runs with), an apply failing at
/// smoke and undone, an apply and its rollback, `plan`, and a profile whose TOML error is on the
/// line with the password. Every state is compared with the start, then every file under the
/// test's directory but the profiles and the password file, and every output, is searched for
/// the password.
pub fn no_password_reaches_disk_or_terminal(
    engine: &Engine,
    login: impl Fn(&ServerHost, &str) -> String,
) {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), 3, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let before = HostState::capture_server(&host).unwrap();
    let app_url = login(&host, SECRET);
    let (scheme, server) = app_url.split_once("://app@").unwrap();
    let inline = format!("{scheme}://app:{}@{server}", secret_forms()[1]);
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("db.password");
    std::fs::write(&password_file, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let profile = std::fs::read_to_string(&host.host_profile).unwrap();
    let root_url = engine.url();
    let with_site = |site_password: &str| {
        let (head, site) = profile.split_once("[databases.site]").unwrap();
        format!(
            "{}[databases.site]{}",
            head.replace(root_url, &inline),
            site.replacen(
                &format!("url = \"{root_url}\""),
                &format!("url = \"{app_url}\"\n{site_password}"),
                1
            )
        )
    };
    // Beside the generated profile, whose relative paths they keep.
    let profiles = host.host_profile.parent().unwrap();
    let profile_a = profiles.join("host-a.toml");
    let profile_b = profiles.join("host-b.toml");
    std::fs::write(
        &profile_a,
        with_site(&format!("password_file = \"{}\"", password_file.display())),
    )
    .unwrap();
    std::fs::write(
        &profile_b,
        with_site("password_env = \"BASCULE_TEST_DB_PASSWORD\""),
    )
    .unwrap();
    let env_b = [("BASCULE_TEST_DB_PASSWORD", SECRET)];
    let mut outputs = Vec::new();
    let mut run = |profile: &Path, args: &[&str], env: &[(&str, &str)]| {
        let out = bascule(&bundle, profile, args, env);
        outputs.push(text(&out));
        out
    };

    let loose = secrets.path().join("loose.password");
    std::fs::write(&loose, SECRET).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loose_profile = profiles.join("host-loose.toml");
    std::fs::write(
        &loose_profile,
        with_site(&format!("password_file = \"{}\"", loose.display())),
    )
    .unwrap();
    let out = run(&loose_profile, &["plan"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("chmod 600"), "{}", text(&out));

    let crashed = run(&profile_a, &["apply"], &[("BASCULE_CRASH_AT", "migrate")]);
    assert!(crashed.status.code().is_none(), "{}", text(&crashed));
    let out = run(&profile_b, &["recover"], &env_b);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    HostState::capture_server(&host).unwrap().assert_same(
        &before,
        "after recover with the password from the environment",
    );

    let out = run(&profile_a, &["apply"], &[("BASCULE_FAIL_AT", "smoke")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "after a failed apply");
    let out = run(&profile_a, &["plan"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&profile_a, &["apply"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_versions(&host, &[1, 2], &[1, 2]);
    let out = run(&profile_b, &["rollback"], &env_b);
    assert!(out.status.success(), "{}", text(&out));
    HostState::capture_server(&host)
        .unwrap()
        .assert_same(&before, "after rollback");

    let broken = profiles.join("host-broken.toml");
    let text_a = std::fs::read_to_string(&profile_a).unwrap();
    std::fs::write(
        &broken,
        text_a.replacen(&format!("{inline}\""), &format!("{inline}\" oops"), 1),
    )
    .unwrap();
    let out = run(&broken, &["plan"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("host-broken.toml: line "),
        "{}",
        text(&out)
    );

    let written: Vec<PathBuf> = walkdir::WalkDir::new(dir.path())
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .filter(|path| path.is_file())
        .filter(|path| !path.starts_with(dir.path().join("delivery")))
        .filter(|path| {
            ![
                &profile_a,
                &profile_b,
                &broken,
                &loose_profile,
                &host.host_profile,
            ]
            .contains(&path)
        })
        .collect();
    assert!(
        written.iter().any(|p| p.ends_with("journal.jsonl")),
        "the runs' journals are searched: {written:?}"
    );
    for path in &written {
        let bytes = std::fs::read(path).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        for secret in secret_forms() {
            assert!(
                !content.contains(secret),
                "{} holds the password",
                path.display()
            );
        }
    }
    for output in &outputs {
        for secret in secret_forms() {
            assert!(
                !output.contains(secret),
                "a run printed the password:\n{output}"
            );
        }
    }
}

/// A 2.0.0 bundle for `engine`'s dialect whose site up migration is `edit` of the original
/// (a statement that keeps the server busy added before or after it), unpacked in `into`.
pub fn bundle_with_site_up(
    engine: &Engine,
    edit: impl FnOnce(&str) -> String,
    into: &Path,
) -> PathBuf {
    variant_of_2(engine, "slow", into, |patch| {
        let up = patch.join("migrations/site/0002_add_avatar/up.sql");
        let sql = std::fs::read_to_string(&up).unwrap();
        std::fs::write(&up, edit(&sql)).unwrap();
    })
}

/// `bascule apply` of `bundle` SIGKILLed while the server still runs the statement that
/// `running` (a query counting the server's sessions running it) counts; then `recover`, which
/// must succeed. Returns its output, and `running` for the test to watch the orphans end.
pub fn recover_after_a_kill_while_running<'a>(
    host: &'a ServerHost,
    bundle: &Path,
    running: &'a str,
) -> (Output, impl Fn() -> u32 + 'a) {
    let mut apply = command(bundle, &host.host_profile, &["apply"], &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let count = move || {
        rows(&host.main_target(), running)[0][0]
            .parse::<u32>()
            .unwrap()
    };
    wait_for(
        "the site migrations' statement to run on the server",
        || count() > 0,
    );
    apply.kill().unwrap();
    apply.wait().unwrap();
    assert!(
        count() > 0,
        "the killed run's statements still run on the server"
    );
    let out = bascule(bundle, &host.host_profile, &["recover"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    (out, count)
}

/// The fault matrix on a server: a real SIGKILL of `bascule apply` right after each step
/// (paused there, then `kill -9`), then `recover`; each time every database (schema and
/// content), `current`, releases and the lock are as they were. Returns the cells passed.
pub fn sigkill_at_every_step_boundary(engine: &Engine, sites: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), sites, engine);
    let bundle = bundle(engine, "2.0.0", &dir.path().join("delivery"));
    let before = HostState::capture_server(&host).unwrap();
    let steps: Vec<&str> = bascule::steps::apply_steps()
        .iter()
        .map(|s| s.name())
        .collect();
    for step in &steps {
        let mut apply = command(
            &bundle,
            &host.host_profile,
            &["apply"],
            &[("BASCULE_PAUSE_AT", step)],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        let marker = format!("paused-at-{step}");
        wait_for(&format!("the apply to pause after {step}"), || {
            std::fs::read_dir(host.state_dir.join("runs"))
                .into_iter()
                .flatten()
                .any(|e| e.is_ok_and(|e| e.path().join(&marker).exists()))
        });
        apply.kill().unwrap();
        assert!(apply.wait().unwrap().code().is_none(), "killed by a signal");
        let out = bascule(&bundle, &host.host_profile, &["recover"], &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "SIGKILL after {step}: {}",
            text(&out)
        );
        HostState::capture_server(&host)
            .unwrap()
            .assert_same(&before, &format!("SIGKILL after step {step}, then recover"));
    }
    steps.len()
}

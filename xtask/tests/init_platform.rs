//! `cargo xtask init-platform`: Bascule in a platform's own repository.
//!
//! The whole path of a team that adopts Bascule: a fresh git repository holding a small PHP
//! application (no Rust), set up by `init-platform`, then `cargo xtask new-patch`, `lint` and
//! `build-patch` run from inside it — offline, against this checkout (a path dependency and its
//! lockfile) — and its bundles applied to a host installed by hand before Bascule. The platform's
//! builds share this checkout's target directory, so only the platform's tiny `xtask` crate is
//! compiled in a warm one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use demo_site::snapshot::tree_listing;

fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// This checkout's target directory (the parent of the tests' scratch directory).
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

fn text(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Bascule's own `cargo xtask` (this checkout's binary), from the checkout.
fn bascule_xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run xtask")
}

/// `cargo --offline xtask …` in the platform's repository, as its developers run it.
fn platform_xtask(repo: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    Command::new(cargo)
        .args(["--offline", "xtask"])
        .args(args)
        .current_dir(repo)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run cargo xtask")
}

fn run_ok(what: &str, output: Output) -> Output {
    assert!(output.status.success(), "{what} failed:\n{}", text(&output));
    output
}

fn write(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
    }
    fs::write(path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Runs git in `repo` and returns its standard output.
fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_NAME", "Ana")
        .env("GIT_AUTHOR_EMAIL", "ana@example.org")
        .env("GIT_COMMITTER_NAME", "Ana")
        .env("GIT_COMMITTER_EMAIL", "ana@example.org")
        .output()
        .expect("run git");
    let output = run_ok(&format!("git {args:?}"), output);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn git_status(repo: &Path) -> String {
    git(repo, &["status", "--porcelain", "--untracked-files=all"])
}

/// The packages of a lockfile, as `name version source checksum` lines.
fn locked_packages(lockfile: &Path) -> std::collections::BTreeSet<String> {
    let text = fs::read_to_string(lockfile).expect("read the lockfile");
    let lock: toml::Table = toml::from_str(&text).expect("parse the lockfile");
    let packages = lock["package"].as_array().expect("[[package]]");
    packages
        .iter()
        .map(|p| {
            let field = |key: &str| p.get(key).and_then(|v| v.as_str()).unwrap_or("-");
            format!(
                "{} {} {} {}",
                field("name"),
                field("version"),
                field("source"),
                field("checksum")
            )
        })
        .collect()
}

/// A fresh git repository holding a small PHP application and its build script (no Rust).
fn php_repository(repo: &Path) {
    fs::create_dir_all(repo).expect("create the repository");
    git(repo, &["init", "-q", "-b", "main"]);
    write(
        &repo.join("app/index.php"),
        "<?php\nrequire __DIR__ . '/lib/greeting.php';\necho greeting($_GET['name'] ?? 'world');\n",
    );
    write(
        &repo.join("app/lib/greeting.php"),
        "<?php\nfunction greeting(string $name): string {\n    return 'Hello, ' . htmlspecialchars($name) . \"!\\n\";\n}\n",
    );
    write(
        &repo.join("app/build.sh"),
        "#!/bin/sh\n# The release: the PHP sources and a VERSION file, in dist/.\nset -eu\n\
         mkdir -p dist/lib\ncp index.php dist/\ncp lib/*.php dist/lib/\n\
         echo \"$(wc -l < index.php) lines\" > dist/VERSION\n",
    );
    write(&repo.join("README.md"), "# Greeter\n\nA PHP application.\n");
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "feat: the greeter"]);
}

/// The host as it was installed by hand before Bascule: release 0.9.0 current, the app's own
/// SQLite database, the version recorded in the state directory; its profile.
fn host_before_bascule(host: &Path) -> PathBuf {
    let release = host.join("platform/releases/0.9.0");
    write(&release.join("index.php"), "<?php echo 'Hello';\n");
    std::os::unix::fs::symlink("releases/0.9.0", host.join("platform/current"))
        .expect("link current");
    fs::create_dir_all(host.join("data")).expect("data dir");
    let db = rusqlite::Connection::open(host.join("data/main.sqlite")).expect("open main.sqlite");
    db.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
         INSERT INTO notes (body) VALUES ('first'), ('second');",
    )
    .expect("fill main.sqlite");
    write(&host.join("state/platform.toml"), "version = \"0.9.0\"\n");
    let profile = host.join("host.toml");
    write(
        &profile,
        "[platform]\nroot = \"platform\"\nstate_dir = \"state\"\n\n\
         [databases.main]\nengine = \"sqlite\"\npaths = [\"data/main.sqlite\"]\n",
    );
    profile
}

/// Replaces the template's example migration of `patch` with `name`'s up and down.
fn migration(patch: &Path, name: &str, up: &str, down: &str) {
    let example = patch.join("migrations/main/0001_example");
    if example.exists() {
        fs::remove_dir_all(&example).expect("remove the example migration");
    }
    let dir = patch.join("migrations/main").join(name);
    write(&dir.join("up.sql"), up);
    write(&dir.join("down.sql"), down);
}

/// `[code]` built by the app's script, into dist/.
fn build_with_script(patch: &Path) {
    let path = patch.join("patch.toml");
    let toml = fs::read_to_string(&path).expect("patch.toml");
    let edited = toml
        .replace("build = []", "build = [\"sh build.sh\"]")
        .replace("# output = \".\"", "output = \"dist\"");
    assert_ne!(
        toml, edited,
        "the template's [code] changed: update this test"
    );
    fs::write(&path, edited).expect("write patch.toml");
}

fn apply(bundle_tarball: &Path, into: &Path, profile: &Path) -> Output {
    fs::create_dir_all(into).expect("unpack dir");
    run_ok(
        "tar xzf",
        Command::new("tar")
            .arg("xzf")
            .arg(bundle_tarball)
            .arg("-C")
            .arg(into)
            .output()
            .expect("tar"),
    );
    let name = bundle_tarball
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.gz"))
        .expect("bundle name");
    Command::new(into.join(name).join("bin/bascule"))
        .args(["apply", "--no-multiplexer", "--yes", "--host"])
        .arg(profile)
        .env("BASCULE_TODAY", "tue")
        .env_remove("TMUX")
        .env_remove("STY")
        .env_remove("BASCULE_FAIL_AT")
        .output()
        .expect("run bin/bascule apply")
}

#[test]
fn a_fresh_platform_repository_builds_a_bundle_that_applies() {
    let started = std::time::Instant::now();
    let scratch = tempfile::tempdir().expect("scratch dir");
    let repo = scratch.path().join("greeter");
    php_repository(&repo);

    // Set up from this checkout, as the README says.
    let init = run_ok(
        "init-platform",
        bascule_xtask(&[
            "init-platform",
            repo.to_str().expect("UTF-8"),
            "--version",
            "1.0.0",
        ]),
    );
    assert!(
        String::from_utf8_lossy(&init.stdout).contains("patches/1.0.0/"),
        "{}",
        text(&init)
    );
    let status = git_status(&repo);
    let mut added: Vec<&str> = status.lines().collect();
    added.retain(|l| !l.contains("patches/1.0.0/"));
    assert_eq!(
        added,
        [
            "?? .cargo/config.toml",
            "?? .gitignore",
            "?? Cargo.lock",
            "?? Cargo.toml",
            "?? host.toml.example",
            "?? xtask/Cargo.toml",
            "?? xtask/src/main.rs",
        ],
        "{status}"
    );
    let manifest = fs::read_to_string(repo.join("xtask/Cargo.toml")).expect("xtask/Cargo.toml");
    let dependency = format!(
        "xtask = {{ path = \"{}\" }}",
        workspace().join("xtask").display()
    );
    assert!(manifest.contains(&dependency), "{manifest}");
    // The checkout's lockfile, kept to what the platform builds: the same versions.
    let ours = locked_packages(&repo.join("Cargo.lock"));
    let theirs = locked_packages(&workspace().join("Cargo.lock"));
    let foreign: Vec<&String> = ours
        .iter()
        .filter(|p| !p.starts_with("platform-xtask ") && !theirs.contains(*p))
        .collect();
    assert!(
        foreign.is_empty(),
        "not in the checkout's lockfile: {foreign:?}"
    );
    assert!(ours.iter().any(|p| p.starts_with("sqlparser ")), "{ours:?}");
    assert!(fs::read_to_string(repo.join("host.toml.example"))
        .expect("host.toml.example")
        .contains("[platform]"));

    // The first patch: the app built by its script, one migration of its own.
    let first = repo.join("patches/1.0.0");
    build_with_script(&first);
    migration(
        &first,
        "0001_notes_author",
        "ALTER TABLE notes ADD COLUMN author TEXT;\n",
        "ALTER TABLE notes DROP COLUMN author;\n",
    );
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "chore: Bascule"]);

    // From inside the repository: the next patch, lint, build.
    let created = run_ok(
        "cargo xtask new-patch",
        platform_xtask(
            &repo,
            &[
                "new-patch",
                "patches/1.1.0",
                "--version",
                "1.1.0",
                "--from",
                ">=1.0.0, <1.1.0",
            ],
        ),
    );
    assert!(
        String::from_utf8_lossy(&created.stdout).contains("created patches/1.1.0"),
        "{}",
        text(&created)
    );
    let compiled = started.elapsed();
    let second = repo.join("patches/1.1.0");
    build_with_script(&second);
    migration(
        &second,
        "0002_notes_by_author",
        "CREATE INDEX notes_by_author ON notes (author);\n",
        "DROP INDEX notes_by_author;\n",
    );
    for patch in ["patches/1.0.0", "patches/1.1.0"] {
        let lint = run_ok("cargo xtask lint", platform_xtask(&repo, &["lint", patch]));
        assert!(
            String::from_utf8_lossy(&lint.stdout).contains("0 errors"),
            "{}",
            text(&lint)
        );
    }
    for patch in ["patches/1.0.0", "patches/1.1.0"] {
        run_ok(
            "cargo xtask build-patch",
            platform_xtask(&repo, &["build-patch", patch]),
        );
    }
    let built = started.elapsed();
    let bundles = repo.join("target/bundles");
    let tarball = bundles.join("bascule-1.1.0.tar.gz");
    let manifest = bascule_bundle::verify_tarball(&tarball).expect("the bundle verifies");
    let files: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for expected in [
        "bin/bascule",
        "code/index.php",
        "code/lib/greeting.php",
        "code/VERSION",
        "migrations/main/0002_notes_by_author/up.sql",
        "docs/bulletin.html",
    ] {
        assert!(
            files.contains(&expected),
            "{expected} missing from {files:?}"
        );
    }
    assert!(!files.contains(&"code/build.sh"), "{files:?}");

    // Applied to the host installed by hand at 0.9.0: 1.0.0, then 1.1.0.
    let host = scratch.path().join("host");
    let profile = host_before_bascule(&host);
    for version in ["1.0.0", "1.1.0"] {
        let tarball = bundles.join(format!("bascule-{version}.tar.gz"));
        let out = apply(&tarball, &scratch.path().join("unpacked"), &profile);
        assert!(
            out.status.success(),
            "apply {version} failed:\n{}",
            text(&out)
        );
    }
    assert_eq!(
        fs::read_link(host.join("platform/current")).expect("current"),
        Path::new("releases/1.1.0")
    );
    assert_eq!(
        fs::read_to_string(host.join("platform/current/lib/greeting.php")).expect("new code"),
        fs::read_to_string(repo.join("app/lib/greeting.php")).expect("app code")
    );
    let db = rusqlite::Connection::open(host.join("data/main.sqlite")).expect("main.sqlite");
    let applied: Vec<(i64, String, String)> = db
        .prepare("SELECT id, patch, state FROM bascule_migrations ORDER BY id")
        .expect("the version table")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("read the version table")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        applied,
        [
            (1, "1.0.0".to_string(), "applied".to_string()),
            (2, "1.1.0".to_string(), "applied".to_string()),
        ]
    );
    let index: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'notes_by_author'",
            [],
            |row| row.get(0),
        )
        .expect("sqlite_master");
    assert_eq!(index, 1);
    let state = fs::read_to_string(host.join("state/platform.toml")).expect("platform.toml");
    assert!(state.contains("version = \"1.1.0\""), "{state}");

    // Nothing outside the repository and the target directory: the scratch directory holds the
    // repository, the host and the unpacked bundles; the repository's new files are the
    // patch and target/ (ignored); Bascule's own bundles directory has no platform bundle.
    let top: Vec<String> = fs::read_dir(scratch.path())
        .expect("scratch")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(top, ["greeter", "host", "unpacked"]);
    let status = git_status(&repo);
    assert!(
        status.lines().all(|l| l.starts_with("?? patches/1.1.0/")),
        "{status}"
    );
    let bascule_bundles = workspace().join("target/bundles");
    for version in ["1.0.0", "1.1.0"] {
        let theirs = bascule_bundles.join(format!("bascule-{version}.tar.gz"));
        let written_now = fs::metadata(&theirs)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < started.elapsed()));
        assert!(
            !written_now,
            "{} was written by the platform",
            theirs.display()
        );
    }
    eprintln!(
        "times: platform xtask compiled and new-patch run {:.0} s; lint and build-patch \
         (the static runtime included) {:.0} s; the rest {:.0} s",
        compiled.as_secs_f64(),
        (built - compiled).as_secs_f64(),
        (started.elapsed() - built).as_secs_f64()
    );
}

/// Each refusal names the file at fault and leaves the repository exactly as it was.
#[test]
fn refusals_change_nothing() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    // A repository's name, the files it already has, what the refusal says.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (
            "foreign-xtask",
            &[(
                "xtask/Cargo.toml",
                "[package]\nname = \"tools\"\nversion = \"0.1.0\"\n",
            )],
            "xtask/Cargo.toml: an xtask that is not Bascule's (package `tools`)",
        ),
        (
            "foreign-alias",
            &[(
                ".cargo/config.toml",
                "[alias]\nxtask = \"run -p tools --\"\n",
            )],
            ".cargo/config.toml: an `xtask` alias that is not Bascule's",
        ),
        (
            "rust-app",
            &[(
                "Cargo.toml",
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
            )],
            "Cargo.toml: this repository already has a Cargo manifest",
        ),
        (
            "first-patch-exists",
            &[("patches/1.0.0/patch.toml", "# ours\n")],
            "patches/1.0.0: the first patch already exists",
        ),
    ];
    for (name, files, expected) in cases {
        let repo = scratch.path().join(name);
        write(&repo.join("app/index.php"), "<?php echo 'hi';\n");
        write(&repo.join(".gitignore"), "vendor/\n");
        for (rel, content) in files {
            write(&repo.join(rel), content);
        }
        let before = tree_listing(&repo).expect("listing");
        let out = bascule_xtask(&["init-platform", repo.to_str().expect("UTF-8")]);
        assert!(!out.status.success(), "{name}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(stderr.contains("nothing was changed"), "{name}: {stderr}");
        assert_eq!(tree_listing(&repo).expect("listing"), before, "{name}");
    }

    // Set up once; a second run refuses and changes nothing.
    let repo = scratch.path().join("twice");
    let first = bascule_xtask(&["init-platform", repo.to_str().expect("UTF-8")]);
    assert!(first.status.success(), "{}", text(&first));
    let before = tree_listing(&repo).expect("listing");
    let again = bascule_xtask(&["init-platform", repo.to_str().expect("UTF-8")]);
    assert!(!again.status.success(), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already set up for Bascule"), "{stderr}");
    assert_eq!(tree_listing(&repo).expect("listing"), before);
}

//! `cargo xtask build-patch` and `new-patch`, run as the binary a developer runs.
//!
//! The static runtime takes minutes to build from clean, so it is built once per test binary
//! (the first build of demo 2.0.0, in [`first_build`]); every other build passes `--runtime`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use bascule_patch::Patch;

fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn demo_patch() -> PathBuf {
    workspace().join("fixtures/demo-platform/patches/2.0.0")
}

/// The xtask binary, from the workspace root, without `SOURCE_DATE_EPOCH`.
fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(workspace())
        .env_remove("SOURCE_DATE_EPOCH")
        .env("COLUMNS", "100")
        .output()
        .expect("run xtask")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("build_patch")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

struct FirstBuild {
    tarball: PathBuf,
    runtime: PathBuf,
}

/// Builds demo 2.0.0 once, with the static runtime built from source.
fn first_build() -> &'static FirstBuild {
    static FIRST: OnceLock<FirstBuild> = OnceLock::new();
    FIRST.get_or_init(|| {
        let out = scratch("first");
        let patch = demo_patch();
        let output = xtask(&["build-patch", path_str(&patch), "--out", path_str(&out)]);
        let stderr = text(&output.stderr);
        assert!(output.status.success(), "first build failed:\n{stderr}");
        let runtime = stderr
            .lines()
            .find_map(|l| l.strip_prefix("runtime: "))
            .and_then(|l| l.rsplit_once(" ("))
            .map(|(path, _)| PathBuf::from(path))
            .expect("the build names its runtime");
        FirstBuild {
            tarball: out.join("bascule-2.0.0.tar.gz"),
            runtime,
        }
    })
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let first = first_build();
    let out = scratch("second");
    let output = xtask(&[
        "build-patch",
        path_str(&demo_patch()),
        "--out",
        path_str(&out),
        "--runtime",
        path_str(&first.runtime),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("sha256: "), "{stdout}");
    assert!(stdout.contains("migrations: site: 1"), "{stdout}");
    let a = fs::read(&first.tarball).expect("first tarball");
    let b = fs::read(out.join("bascule-2.0.0.tar.gz")).expect("second tarball");
    assert_eq!(bascule_patch::sha256_hex(&a), bascule_patch::sha256_hex(&b));
    assert_eq!(
        entries(&out),
        ["bascule-2.0.0.tar.gz"],
        "no leftovers in --out"
    );
}

#[test]
fn bundle_has_code_docs_and_a_static_runtime_that_runs_anywhere() {
    let first = first_build();
    let manifest = bascule_bundle::verify_tarball(&first.tarball).expect("verify");
    let files: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for expected in [
        "bin/bascule",
        "patch.toml",
        "code/assets/site.css",
        "docs/bulletin.toml",
        "docs/bulletin.md",
        "docs/bulletin.html",
        "docs/checklist.toml",
        "docs/checklist.md",
        "docs/checklist.html",
        "docs/testbook.toml",
        "docs/testbook.md",
        "docs/testbook.html",
        "migrations/site/0002_add_avatar/up.sql",
        "checks/main/unique_site_names.sql",
    ] {
        assert!(
            files.contains(&expected),
            "{expected} missing from {files:?}"
        );
    }
    for excluded in [
        "code/pages/.gitkeep",
        "code/pages/preview.log",
        "code/build.log",
    ] {
        assert!(!files.contains(&excluded), "{excluded} should be excluded");
    }
    let into = scratch("unpacked");
    let root = bascule_bundle::unpack(&first.tarball, &into).expect("unpack");
    let bin = root.join("bin/bascule");
    assert!(!has_interp(&bin), "the runtime needs a dynamic loader");
    let html = fs::read_to_string(root.join("docs/testbook.html")).expect("html");
    assert!(html.contains("<title>Test book — 2.0.0 — bascule-2.0.0</title>"));
    let bulletin = fs::read_to_string(root.join("docs/bulletin.md")).expect("bulletin");
    for expected in [
        "# Revision bulletin — 2.0.0: Member avatars, plan features",
        "## Database changes",
        "- `0002_add_avatar` — Phase 1 of the avatar feature",
        "## Lint\n\n0 errors,",
    ] {
        assert!(
            bulletin.contains(expected),
            "no {expected:?} in:\n{bulletin}"
        );
    }
    let checklist = fs::read_to_string(root.join("docs/checklist.md")).expect("checklist");
    assert!(
        checklist
            .contains("Tell support the maintenance page is up. (after `maintenance-on`; manual)"),
        "{checklist}"
    );
    // The runtime reads the sources as written.
    assert_eq!(
        fs::read(root.join("docs/checklist.toml")).expect("checklist.toml"),
        fs::read(demo_patch().join("docs/checklist.toml")).expect("source")
    );

    let empty = scratch("empty-cwd");
    let run = Command::new(&bin)
        .arg("--version")
        .env_clear()
        .current_dir(&empty)
        .output()
        .expect("the runtime executes");
    assert!(run.status.success(), "the runtime failed: {run:?}");
    assert!(text(&run.stdout).starts_with("bascule "), "{run:?}");
}

/// Whether a 64-bit little-endian ELF file has a `PT_INTERP` program header.
fn has_interp(path: &Path) -> bool {
    let elf = fs::read(path).expect("read ELF");
    assert_eq!(&elf[..6], b"\x7fELF\x02\x01", "64-bit LE ELF");
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff + i * size;
        u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes")) == 3
    })
}

#[test]
fn bad_patches_fail_naming_the_file_and_write_nothing() {
    let bad = workspace().join("fixtures/bad");
    let mut names = entries(&bad);
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let out = scratch(&format!("bad-{name}"));
        // A bad patch must fail before the runtime is looked at.
        let output = xtask(&[
            "build-patch",
            path_str(&bad.join(&name)),
            "--out",
            path_str(&out),
            "--runtime",
            "/nonexistent/bascule",
        ]);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{name} built:\n{stderr}");
        for expected in expected_in_message(&name) {
            assert!(
                stderr.contains(expected),
                "{name}: no `{expected}` in:\n{stderr}"
            );
        }
        assert!(entries(&out).is_empty(), "{name} left {:?}", entries(&out));
    }
}

/// What each bad fixture's message must say (the file at fault, and where).
fn expected_in_message(name: &str) -> Vec<&'static str> {
    match name {
        "bad-sql" => vec!["migrations/site/0002_add_avatar/up.sql:3:"],
        "bad-docs" => vec![
            "bad-docs/docs/bulletin.toml:8: unknown variant `feat`",
            "bad-docs/docs/testbook.toml:8: missing field `expected`",
            "3 problem(s) in the documents",
        ],
        "bad-name" => vec![
            "bad-name/migrations",
            "`site/v2_add_thing`: it does not start with a number",
        ],
        "missing-down" => vec!["0002_add_avatar", "down.sql"],
        "undeclared-class" => vec!["migrations/shop", "[classes.shop]"],
        "unknown-key" => vec!["patch.toml", "vesion"],
        "unknown-software" => vec![
            "patch.toml",
            "requirements.software.imagemagick",
            "command = [",
        ],
        _ => vec!["fixtures/bad/"],
    }
}

#[test]
fn new_patch_makes_a_patch_that_loads_and_builds() {
    let root = scratch("new-patch");
    let dir = root.join("patches/9.1.0");
    // The previous release, with a run's intervention sheet: its open hitch is carried.
    let previous = root.join("patches/9.0.0");
    fs::create_dir_all(previous.join("interventions")).expect("interventions dir");
    fs::write(
        previous.join("patch.toml"),
        "[patch]\nversion = \"9.0.0\"\n",
    )
    .expect("toml");
    fs::write(
        previous.join("interventions/web-1.json"),
        r#"{"run": "r1", "host": "web-1", "hitches": [
            {"text": "Purge hung", "by": "ana", "at": "09:12", "open": true},
            {"text": "Late", "by": "ana", "at": "09:13", "open": false}]}"#,
    )
    .expect("sheet");
    let args = [
        "new-patch",
        path_str(&dir),
        "--version",
        "9.1.0",
        "--from",
        ">=9.0.0, <9.1.0",
    ];
    let output = xtask(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("carried 1 open hitch(es) from 9.0.0"),
        "{}",
        text(&output.stdout)
    );
    let checklist = fs::read_to_string(dir.join("docs/checklist.toml")).expect("checklist");
    assert!(
        checklist.contains("text = \"Hitch from 9.0.0 on web-1 (run r1): Purge hung\""),
        "{checklist}"
    );
    let patch = Patch::load(&dir).expect("the new patch loads");
    assert_eq!(patch.version().to_string(), "9.1.0");
    assert_eq!(patch.spec.patch.from.to_string(), ">=9.0.0, <9.1.0");
    assert_eq!(patch.migrations.iter().count(), 1);
    let bulletin = fs::read_to_string(dir.join("docs/bulletin.toml")).expect("bulletin");
    assert!(
        bulletin.starts_with("# Revision bulletin of 9.1.0:"),
        "{bulletin}"
    );
    assert!(!bulletin.contains("{{"), "{bulletin}");
    bascule_patch::docs::Documents::load(&dir).expect("the new patch's documents load");

    let again = xtask(&args);
    assert!(
        !again.status.success(),
        "new-patch must refuse an existing dir"
    );
    assert!(text(&again.stderr).contains("already exists"));

    // With code where the template's `code.source` points, it builds as is.
    fs::create_dir_all(root.join("app")).expect("app dir");
    fs::write(root.join("app/index.html"), "hello\n").expect("app file");
    let out = root.join("out");
    let first = first_build();
    let built = xtask(&[
        "build-patch",
        path_str(&dir),
        "--out",
        path_str(&out),
        "--runtime",
        path_str(&first.runtime),
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    assert!(out.join("bascule-9.1.0.tar.gz").is_file());
}

#[test]
fn bad_arguments_to_new_patch_are_refused() {
    let dir = scratch("new-patch-bad").join("p");
    let output = xtask(&["new-patch", path_str(&dir), "--version", "9.1"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--version"));
    assert!(!dir.exists());
}

#[test]
fn build_patch_help() {
    let output = xtask(&["build-patch", "--help"]);
    assert!(output.status.success());
    insta::assert_snapshot!(text(&output.stdout));
}

/// A patch source in `root/patch` whose code is `root/code`, built by `build`.
fn write_patch(root: &Path, build: &str) -> PathBuf {
    let patch = root.join("patch");
    fs::create_dir_all(&patch).expect("patch dir");
    let toml = format!(
        "[patch]\nversion = \"0.9.0\"\nfrom = \"<0.9.0\"\nmode = \"downtime\"\n\n\
         [code]\nsource = \"../code\"\nbuild = [{build:?}]\nexclude = [\"*.tmp\", \"cache/**\"]\n"
    );
    fs::write(patch.join("patch.toml"), toml).expect("patch.toml");
    fs::create_dir_all(patch.join("docs")).expect("docs dir");
    for name in ["bulletin.toml", "checklist.toml", "testbook.toml"] {
        fs::write(patch.join("docs").join(name), "# nothing\n").expect("docs");
    }
    patch
}

fn build_with_runtime(patch: &Path, out: &Path) -> Output {
    xtask(&[
        "build-patch",
        path_str(patch),
        "--out",
        path_str(out),
        "--runtime",
        path_str(&first_build().runtime),
    ])
}

#[test]
fn code_snapshot_builds_in_a_scratch_copy_keeps_links_and_honours_excludes() {
    let root = scratch("snapshot");
    let code = root.join("code");
    for dir in ["src", ".git", "cache/deep", "sub/.git"] {
        fs::create_dir_all(code.join(dir)).expect("code dirs");
    }
    for file in [
        "src/a.txt",
        ".git/HEAD",
        "cache/deep/x",
        "sub/.git/HEAD",
        "notes.tmp",
    ] {
        fs::write(code.join(file), "x\n").expect("code file");
    }
    std::os::unix::fs::symlink("src/a.txt", code.join("link")).expect("symlink");
    let patch = write_patch(&root, "echo built > out.txt && echo done >&2");
    let out = root.join("out");
    let output = build_with_runtime(&patch, &out);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("build: $ echo built > out.txt"));
    assert!(
        !code.join("out.txt").exists(),
        "the build ran in the developer's tree"
    );

    let manifest =
        bascule_bundle::verify_tarball(&out.join("bascule-0.9.0.tar.gz")).expect("verify");
    let code_files: Vec<(&str, Option<&str>)> = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("code/"))
        .map(|f| (f.path.as_str(), f.link.as_deref()))
        .collect();
    assert_eq!(
        code_files,
        [
            ("code/link", Some("src/a.txt")),
            ("code/out.txt", None),
            ("code/src/a.txt", None),
        ]
    );
}

#[test]
fn a_failing_build_command_is_shown_with_its_stderr_and_writes_nothing() {
    let root = scratch("failing-build");
    fs::create_dir_all(root.join("code")).expect("code dir");
    let patch = write_patch(&root, "echo 'cc: no such file' >&2; exit 3");
    let out = root.join("out");
    let output = build_with_runtime(&patch, &out);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("`echo 'cc: no such file' >&2; exit 3` failed"),
        "{stderr}"
    );
    assert!(stderr.contains("cc: no such file"), "{stderr}");
    assert!(entries(&out).is_empty());
}

#[test]
fn source_date_epoch_overrides_the_patch() {
    let out = scratch("sde");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "build-patch",
            path_str(&demo_patch()),
            "--out",
            path_str(&out),
        ])
        .args(["--runtime", path_str(&first_build().runtime)])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run xtask");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let manifest =
        bascule_bundle::verify_tarball(&out.join("bascule-2.0.0.tar.gz")).expect("verify");
    assert_eq!(manifest.build.source_date_epoch, 1_700_000_000);
    assert_eq!(
        manifest.build.runtime_target,
        "x86_64-unknown-linux-gnu+crt-static"
    );
}

/// A patch source `<parent>/<version>` with SQLite class `site` holding `migrations`
/// (directory names), and code of its own.
fn write_sibling(parent: &Path, version: &str, migrations: &[&str]) -> PathBuf {
    let patch = parent.join(version);
    fs::create_dir_all(patch.join("code")).expect("code dir");
    fs::write(
        patch.join("patch.toml"),
        format!(
            "[patch]\nversion = \"{version}\"\nfrom = \"*\"\nmode = \"downtime\"\n\n\
             [code]\nsource = \"code\"\n\n[classes.site]\ndialect = \"sqlite\"\n"
        ),
    )
    .expect("patch.toml");
    fs::create_dir_all(patch.join("docs")).expect("docs dir");
    for name in ["bulletin.toml", "checklist.toml", "testbook.toml"] {
        fs::write(patch.join("docs").join(name), "# nothing\n").expect("docs");
    }
    for dir in migrations {
        let table = dir.split_once('_').map_or(*dir, |(_, name)| name);
        let migration = patch.join("migrations/site").join(dir);
        fs::create_dir_all(&migration).expect("migration dir");
        fs::write(
            migration.join("up.sql"),
            format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY);\n"),
        )
        .expect("up.sql");
        fs::write(migration.join("down.sql"), format!("DROP TABLE {table};\n")).expect("down.sql");
    }
    patch
}

#[test]
fn a_gap_in_the_numbering_at_the_patch_boundary_is_recorded_in_the_manifest() {
    let root = scratch("boundary-gap");
    let patches = root.join("patches");
    let first = write_sibling(&patches, "1.0.0", &["000040_teams", "000041_members"]);
    write_sibling(&patches, "1.1.0", &["000043_avatars", "000044_badges"]);
    write_sibling(&patches, "1.2.0", &["000045_notes"]);
    let out = root.join("out");

    // Built as a developer does from the patches' directory, named without a parent.
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["build-patch", "1.1.0", "--out", path_str(&out)])
        .args(["--runtime", path_str(&first_build().runtime)])
        .current_dir(&patches)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run xtask");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "migrations: site: 2 (sqlite), after 41, the earlier patches' last (the numbering skips to 000043)"
        ),
        "{stdout}"
    );
    let manifest =
        bascule_bundle::verify_tarball(&out.join("bascule-1.1.0.tar.gz")).expect("verify");
    assert_eq!(
        manifest.base_versions,
        [("site".to_string(), 41)].into_iter().collect()
    );
    assert!(
        manifest
            .to_toml()
            .expect("toml")
            .contains("[base_versions]\nsite = 41\n"),
        "written in MANIFEST.toml"
    );

    // Numbers that follow on, and a first patch, record nothing.
    for (version, patch) in [("1.2.0", patches.join("1.2.0")), ("1.0.0", first)] {
        let output = build_with_runtime(&patch, &out);
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(!text(&output.stdout).contains("after"), "{version}");
        let tarball = out.join(format!("bascule-{version}.tar.gz"));
        let manifest = bascule_bundle::verify_tarball(&tarball).expect("verify");
        assert!(manifest.base_versions.is_empty(), "{version}");
        assert!(!manifest.to_toml().expect("toml").contains("base_versions"));
    }
}

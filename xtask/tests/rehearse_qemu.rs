//! `cargo xtask rehearse` with the qemu driver, on the demo's real ISO-prod guest (TCG or KVM,
//! whichever boots): runs revert to the snapshot, failures are reported with their undo and
//! their log, the case-sensitivity story is caught, and no guest outlives its test.

mod common;

use std::path::{Path, PathBuf};

use bascule_rehearse::{report, Rehearsal, RehearsalOptions, Target};

fn target(name: &str, image: &Path, extra: &str) -> (tempfile::TempDir, Target) {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "driver = \"qemu\"\ntimeout_secs = 300\n[qemu]\nimage = \"{}\"\n{extra}",
        image.display()
    );
    let path = dir.path().join(name);
    std::fs::write(&path, &text).expect("write target");
    let target = Target::load(&path).expect("target");
    (dir, target)
}

fn rehearse(target: &Target, version: &str, runs: usize, rollback: bool) -> (PathBuf, Rehearsal) {
    let dir = common::workspace()
        .join("target/test-rehearsals")
        .join(format!(
            "{}-{}-{version}",
            std::process::id(),
            target
                .path
                .file_stem()
                .map_or("target".into(), |s| s.to_string_lossy())
        ));
    let _ = std::fs::remove_dir_all(&dir);
    let rehearsal = bascule_rehearse::rehearse(
        target,
        &common::bundle(version),
        &RehearsalOptions {
            runs,
            rollback,
            dir: dir.clone(),
        },
    )
    .unwrap_or_else(|e| panic!("rehearsal could not run: {e}"));
    let left = common::processes_mentioning(&dir.display().to_string());
    assert!(left.is_empty(), "guests left running: {left:?}");
    (dir, rehearsal)
}

fn version_in(digest: &Option<Vec<String>>) -> Option<&str> {
    digest
        .as_ref()?
        .iter()
        .find_map(|l| l.strip_prefix("version "))
}

#[test]
fn two_runs_start_from_the_same_snapshot_and_succeed() {
    let (_t, target) = target("target.toml", common::image(), "");
    // No rollback: only the revert can bring the second run back to 1.0.0.
    let (dir, rehearsal) = rehearse(&target, "2.0.0", 2, false);
    let text = report::render(&rehearsal);
    assert!(rehearsal.succeeded(), "{text}");
    let [first, second] = &rehearsal.runs[..] else {
        panic!("two runs expected:\n{text}");
    };
    for run in [first, second] {
        let o = &run.outcome;
        assert_eq!(version_in(&o.digest_before), Some("1.0.0"), "{text}");
        assert_eq!(version_in(&o.digest_applied), Some("2.0.0"), "{text}");
        assert_eq!(o.apply_status, Some(0));
        let apply_run = o.dir.join("runs/apply");
        let log = std::fs::read_to_string(apply_run.join("update.log")).expect("update.log");
        assert!(log.contains("run committed"), "{log}");
        assert!(apply_run.join("journal.jsonl").is_file());
        assert!(apply_run.join("samples/after").is_dir());
        assert!(run.dir.join("console.log").is_file());
        assert!(run.dir.starts_with(&dir));
    }
    assert_eq!(
        first.outcome.digest_before, second.outcome.digest_before,
        "{text}"
    );
    assert_ne!(first.outcome.digest_before, first.outcome.digest_applied);
    assert!(
        text.contains("start state   identical in every run (1.0.0"),
        "{text}"
    );
    assert!(
        text.contains("outcome       the same in every run: succeeded"),
        "{text}"
    );
}

#[test]
fn a_rollback_in_a_fresh_process_restores_the_internal_snapshot_state() {
    let (_t, target) = target(
        "internal.toml",
        common::image(),
        "snapshot = \"internal\"\n",
    );
    let (_dir, rehearsal) = rehearse(&target, "2.0.0", 1, true);
    let text = report::render(&rehearsal);
    let run = &rehearsal.runs[0];
    assert!(rehearsal.succeeded(), "{text}");
    assert_eq!(run.outcome.rollback_status, Some(0), "{text}");
    assert_eq!(run.outcome.restored(), Some(true), "{text}");
    assert_eq!(run.outcome.digest_before, run.outcome.digest_rolled_back);
    assert!(run.outcome.dir.join("runs/rollback/update.log").is_file());
    assert!(text.contains("internal-snapshot revert"), "{text}");
}

#[test]
fn the_broken_patch_is_reported_with_its_undo_and_the_failing_statement() {
    let (_t, target) = target("target.toml", common::image(), "");
    let (_dir, rehearsal) = rehearse(&target, "2.0.0-broken", 1, true);
    let text = report::render(&rehearsal);
    assert!(!rehearsal.succeeded(), "{text}");
    let o = &rehearsal.runs[0].outcome;
    assert!(o.finished, "{text}");
    assert_eq!(o.apply_status, Some(1), "{text}");
    assert_eq!(
        o.failed_step().map(|s| s.step.as_str()),
        Some("migrate"),
        "{text}"
    );
    assert!(o.undone.iter().any(|s| s.step == "migrate"), "{text}");
    assert_eq!(o.restored(), Some(true), "{text}");
    assert!(
        o.log_excerpt.iter().any(|l| l.contains("UNIQUE")),
        "the excerpt shows the failing statement and its error: {:?}",
        o.log_excerpt
    );
    assert!(text.contains("failed step   migrate"), "{text}");
    assert!(
        text.contains("state after   the snapshot's, restored"),
        "{text}"
    );
    assert!(
        text.contains("REHEARSAL FAILED: 0 of 1 runs succeeded"),
        "{text}"
    );
}

#[test]
fn the_case_fixture_fails_in_the_iso_prod_guest_and_passes_on_a_case_insensitive_dir() {
    let image = common::image();
    let (_t, prod) = target("target.toml", image, "");
    let (_dir, rehearsal) = rehearse(&prod, "2.0.0-case", 1, false);
    let text = report::render(&rehearsal);
    let o = &rehearsal.runs[0].outcome;
    assert_eq!(
        o.failed_step().map(|s| s.step.as_str()),
        Some("smoke"),
        "{text}"
    );
    assert_eq!(o.restored(), Some(true), "{text}");
    assert!(
        text.contains("pages/home.toml does not exist"),
        "the log excerpt names the file the code opened:\n{text}"
    );

    let (_t, developer) = target(
        "developer.toml",
        image,
        "append = \"bascule.platform=casefold\"\n",
    );
    let (_dir, rehearsal) = rehearse(&developer, "2.0.0-case", 1, false);
    let text = report::render(&rehearsal);
    assert!(rehearsal.succeeded(), "{text}");
    let console =
        std::fs::read_to_string(rehearsal.runs[0].dir.join("console.log")).expect("console");
    assert!(console.contains("(case-insensitive)"), "{console}");
}

#[test]
fn a_guest_past_its_timeout_is_killed_and_the_run_fails() {
    let (_t, target) = target("slow.toml", common::image(), "");
    let target = Target {
        timeout: std::time::Duration::from_secs(1),
        ..target
    };
    let (_dir, rehearsal) = rehearse(&target, "2.0.0", 1, false);
    let run = &rehearsal.runs[0];
    let error = run.error.as_deref().unwrap_or("");
    assert!(error.contains("did not end within 1 s: killed"), "{error}");
    assert!(!run.outcome.finished);
    assert!(!rehearsal.succeeded());
}

#[test]
fn the_command_builds_a_patch_dir_first_and_its_exit_status_says_how_it_went() {
    let image = common::image();
    let dir = tempfile::tempdir().expect("tempdir");
    let xtask = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .current_dir(common::workspace())
            .output()
            .expect("run xtask")
    };
    let patch = demo_site::prod::patch_dir("2.0.0-broken");
    let target = image.join("target.toml");
    let out = dir.path().join("runs");
    let output = xtask(&[
        "rehearse",
        &patch.to_string_lossy(),
        "--target",
        &target.to_string_lossy(),
        "--dir",
        &out.to_string_lossy(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Rehearsal of bascule-2.0.0-broken.tar.gz"),
        "{stdout}"
    );
    assert!(stdout.contains("REHEARSAL FAILED"), "{stdout}");
    let report = std::fs::read_to_string(out.join("report.txt")).expect("report.txt");
    assert!(report.contains("failed step   migrate"), "{report}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "driver = \"qemu\"\n[qemu]\nimage = \"nowhere\"\nsnapshots = 1\n",
    )
    .expect("write");
    let output = xtask(&[
        "rehearse",
        &patch.to_string_lossy(),
        "--target",
        &bad.to_string_lossy(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.toml: [qemu]: unknown field `snapshots`"),
        "{stderr}"
    );
}

/// The seed's story, caught: rehearsed on a case-insensitive platform directory, the bundle
/// meets a case-sensitive production host. `plan` lists the differences, `apply` refuses the
/// critical one without touching the host, and runs with a written reason, which the log and
/// the report keep.
#[test]
fn production_is_compared_with_the_rehearsal_and_a_critical_difference_needs_a_reason() {
    let image = common::image();
    let (_t, developer) = target(
        "casefold.toml",
        image,
        "append = \"bascule.platform=casefold\"\n",
    );
    // A copy of the bundle of its own: the record is written beside the tarball.
    let delivery = tempfile::tempdir().expect("tempdir");
    let tarball = delivery.path().join("bascule-2.0.0.tar.gz");
    std::fs::copy(common::bundle("2.0.0"), &tarball).expect("copy the bundle");
    let dir = common::workspace()
        .join("target/test-rehearsals")
        .join(format!("{}-fingerprint", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Through the command, as a developer runs it: the record is its doing.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("rehearse")
        .arg(&tarball)
        .arg("--target")
        .arg(&developer.path)
        .arg("--dir")
        .arg(&dir)
        .current_dir(common::workspace())
        .output()
        .expect("run xtask rehearse");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("case-sensitive no"), "{stdout}");
    let record_path = delivery.path().join("bascule-2.0.0.rehearsal.json");
    assert!(
        stdout.contains(&format!("rehearsal record: {}", record_path.display())),
        "{stdout}"
    );
    let record = bascule::fingerprint::rehearsal::RehearsalRecord::read(&record_path)
        .expect("the record reads back");
    let guest = &record.rehearsals[0].fingerprint;
    assert_eq!(guest.facts["platform.case_sensitive"], "no", "{guest:?}");
    assert_eq!(guest.facts["db.site.engine"], "sqlite", "{guest:?}");

    // Production: a demo host on this machine's (case-sensitive) filesystem.
    xtask::demo_prod::ensure_demo_site_binary().expect("demo-site");
    let host_dir = tempfile::tempdir().expect("tempdir");
    let demo = demo_site::prod::generate(&host_dir.path().join("host"), 3).expect("demo host");
    let _services = demo.start_services().expect("the demo's web service");
    let status = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(delivery.path())
        .status()
        .expect("tar");
    assert!(status.success());
    let bascule = |args: &[&str]| {
        let mut command =
            std::process::Command::new(delivery.path().join("bascule-2.0.0/bin/bascule"));
        command
            .args(args)
            .arg("--host")
            .arg(&demo.host_profile)
            .env("BASCULE_TODAY", "tue")
            .env_remove("TMUX")
            .env_remove("STY");
        command.output().expect("run bascule")
    };
    let said = |out: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };

    let plan = bascule(&["plan"]);
    let plan = said(&plan);
    assert!(
        plan.contains(&format!(
            "rehearsed on `{}` (qemu, 1 run(s) passed",
            developer.name()
        )),
        "{plan}"
    );
    let case_line = plan
        .lines()
        .find(|l| l.contains("platform.case_sensitive"))
        .unwrap_or_else(|| panic!("no case line:\n{plan}"));
    let cells: Vec<&str> = case_line.split_whitespace().collect();
    assert_eq!(
        cells,
        ["!", "platform.case_sensitive", "no", "yes"],
        "{plan}"
    );
    assert!(
        plan.contains("NOT rehearsed on an environment like this one"),
        "{plan}"
    );
    assert!(
        plan.lines().any(|l| l.trim_start().starts_with("kernel ")),
        "the guest's kernel differs from this machine's:\n{plan}"
    );
    assert!(plan.contains("`bascule apply` would refuse"), "{plan}");
    assert!(
        plan.contains("critical difference(s) from the rehearsal (platform.case_sensitive)"),
        "{plan}"
    );

    let before = demo_site::snapshot::HostState::capture(&demo).expect("state");
    let refused = bascule(&["apply", "--no-multiplexer", "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", said(&refused));
    let text = said(&refused);
    assert!(text.contains("FAILED at step `preflight`"), "{text}");
    assert!(
        text.contains("platform.case_sensitive (critical): no → yes"),
        "{text}"
    );
    demo_site::snapshot::HostState::capture(&demo)
        .expect("state")
        .assert_same(
            &before,
            "refused for a critical difference from the rehearsal",
        );

    let empty = bascule(&[
        "apply",
        "--no-multiplexer",
        "--yes",
        "--accept-differences",
        "  ",
    ]);
    assert_eq!(empty.status.code(), Some(2), "{}", said(&empty));

    let reason = "every asset name of 2.0.0 was checked against the case of its file";
    let accepted = bascule(&[
        "apply",
        "--no-multiplexer",
        "--yes",
        "--accept-differences",
        reason,
    ]);
    let text = said(&accepted);
    assert_eq!(accepted.status.code(), Some(0), "{text}");
    assert!(text.contains(reason), "{text}");
    let run_dir = text
        .lines()
        .find_map(|l| l.split(": log and journal in ").nth(1))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("no run directory in:\n{text}"));
    for file in ["update.log", "report.txt"] {
        let content = std::fs::read_to_string(run_dir.join(file)).expect(file);
        assert!(
            content.contains(reason) && content.contains("platform.case_sensitive"),
            "{file}:\n{content}"
        );
    }
}

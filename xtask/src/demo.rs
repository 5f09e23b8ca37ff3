//! `cargo xtask demo`: the whole story on a demo production host, in `target/demo/`.
//!
//! 1. build the static runtime and the 2.0.0 bundle of the demo platform;
//! 2. rehearse it once on the ISO-prod guest (a VM snapshot of production, `cargo xtask
//!    vm-image`), rolled back and compared; then rehearse `2.0.0-case`, whose home page file
//!    differs by case: it passes on a developer's case-insensitive disk and is caught in the
//!    guest;
//! 3. generate a 1.0.0 "production" host with a main database and N site databases;
//! 4. as an operator would: `tar xzf`, `bin/bascule verify`, `plan`, `apply`;
//! 5. show the result (versions, `current`, a page rendered by the new code), then `rollback`;
//! 6. apply `2.0.0-broken`, whose migration fails on one site in the middle, and prove the
//!    host is exactly as before by comparing its whole state;
//! 7. apply `2.0.0-regression`, whose shop page drops the cents of every price: nothing fails,
//!    but the core sampling sees an undeclared difference, shows its diff and rolls back;
//! 8. say where the report and the intervention sheet of each run are, and its downtime.
//!
//! It fails (non-zero exit) if anything does not happen as announced.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context};
use demo_site::prod::{self, DemoHost};
use demo_site::snapshot::HostState;

use crate::{build_patch, rehearse, static_runtime, vm_image, workspace_root};

#[derive(clap::Args)]
pub struct Args {
    /// Site databases on the demo host.
    #[arg(long, default_value_t = 200)]
    sites: usize,
    /// Where to build the demo [default: <workspace>/target/demo].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    crate::demo_prod::ensure_demo_site_binary()?;
    let dir = args
        .dir
        .unwrap_or_else(|| workspace_root().join("target/demo"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    section("Build the static runtime and the 2.0.0 bundle");
    let runtime = static_runtime::build_static_runtime(&workspace_root())?;
    let bundles = dir.join("bundles");
    let good = build_patch::build(&prod::patch_dir("2.0.0"), &bundles, Some(&runtime))?;
    rehearse_first(&dir, &bundles, &runtime, &good.path)?;

    section(&format!(
        "Generate a 1.0.0 production host with {} sites",
        args.sites
    ));
    let demo = prod::generate(&dir.join("host"), args.sites)?;
    println!("host profile: {}", demo.host_profile.display());
    // The demo app runs as the host's `web` service, as in production, until the demo ends.
    let _services = demo.start_services()?;
    println!("web service: {}", demo.base_url());
    let pristine = HostState::capture(&demo)?;

    section("Deliver and check the bundle, as the operator does");
    let bundle = untar(&good.path, &dir.join("delivery"))?;
    bascule(&bundle, &demo, &["verify"], Expect::Success)?;
    bascule(&bundle, &demo, &["plan"], Expect::Success)?;

    section("Apply 2.0.0 (--no-multiplexer: this demo is not in tmux; --allow-forbidden-time: nor is it release day)");
    bascule(&bundle, &demo, &["apply"], Expect::Success)?;
    show_result(&demo)?;

    section("Roll 2.0.0 back");
    bascule(&bundle, &demo, &["rollback"], Expect::Success)?;
    HostState::capture(&demo)?.assert_same(&pristine, "after rollback");
    println!(
        "host state identical to before the apply (schemas, data, current, releases, version)"
    );

    section("Apply 2.0.0-broken: a migration fails on one site in the middle");
    let broken = build_patch::build(&prod::patch_dir("2.0.0-broken"), &bundles, Some(&runtime))?;
    let broken_bundle = untar(&broken.path, &dir.join("delivery"))?;
    bascule(&broken_bundle, &demo, &["apply"], Expect::Failure)?;
    let after = HostState::capture(&demo)?;
    after.assert_same(&pristine, "after the failed apply");
    println!(
        "\nThe failing site was {}. Host state compared before and after: {} databases \
         (schema and content checksum each), `current`, releases/, platform.toml, lock: identical.",
        demo.duplicate_email_site,
        after.databases.len()
    );

    section("Apply 2.0.0-regression: the shop page drops the cents; only the sampling can see it");
    let regression = build_patch::build(
        &prod::patch_dir("2.0.0-regression"),
        &bundles,
        Some(&runtime),
    )?;
    let regression_bundle = untar(&regression.path, &dir.join("delivery"))?;
    bascule(&regression_bundle, &demo, &["apply"], Expect::Failure)?;
    HostState::capture(&demo)?.assert_same(&pristine, "after the sampling refusal");
    show_samples(&demo)?;
    show_reports(&demo)
}

/// Where each run's report and intervention sheet are, with its downtime, from the host's
/// release history.
fn show_reports(demo: &DemoHost) -> anyhow::Result<()> {
    use bascule::report::{self, history};
    section("The report and the intervention sheet of each run");
    let releases = history::read(&demo.state_dir)?;
    ensure!(!releases.is_empty(), "the demo host's history is empty");
    for release in &releases {
        let dir = demo.state_dir.join("runs").join(&release.run);
        let report = dir.join(report::REPORT_HTML);
        let sheet = dir.join(report::SHEET_HTML);
        ensure!(
            report.is_file() && sheet.is_file(),
            "run {} has no report or sheet in {}",
            release.run,
            dir.display()
        );
        println!(
            "{} ({}, {}): downtime {}\n  report: {}\n  sheet:  {}",
            release.run,
            release.kind,
            release.outcome,
            release
                .downtime_ms
                .map_or("none".into(), bascule_pages::run_view::duration),
            report.display(),
            sheet.display()
        );
    }
    println!("\n`bascule history` prints the same list on the host.");
    Ok(())
}

/// The card's flow: no bundle reaches production before it passed on a snapshot of it.
fn rehearse_first(dir: &Path, bundles: &Path, runtime: &Path, good: &Path) -> anyhow::Result<()> {
    section(
        "Rehearse 2.0.0 on the ISO-prod guest (a VM snapshot of production), with its rollback",
    );
    let image = workspace_root().join("target/vm/iso-prod");
    vm_image::ensure(&image, vm_image::DEFAULT_SITES, false)?;
    let rehearsals = dir.join("rehearsals");
    let passed = rehearse::rehearse(&rehearse::Args::new(
        good,
        Some(&image.join("target.toml")),
        1,
        true,
        &rehearsals.join("2.0.0"),
    ))?;
    ensure!(
        passed.succeeded(),
        "the 2.0.0 rehearsal failed: production is not touched"
    );

    section("2.0.0-case: built on a developer's case-insensitive disk (pages/Home.toml)");
    let case = build_patch::build(&prod::patch_dir("2.0.0-case"), bundles, Some(runtime))?;
    println!("On a case-insensitive directory, as on the developer's machine:");
    let on_laptop = rehearse::rehearse(&rehearse::Args::new(
        &case.path,
        Some(&image.join("target-casefold.toml")),
        1,
        false,
        &rehearsals.join("2.0.0-case-developer"),
    ))?;
    ensure!(
        on_laptop.succeeded(),
        "2.0.0-case was meant to pass on a case-insensitive directory"
    );
    println!(
        "
On the ISO-prod guest (ext4, case-sensitive, like production):"
    );
    let caught = rehearse::rehearse(&rehearse::Args::new(
        &case.path,
        Some(&image.join("target.toml")),
        1,
        false,
        &rehearsals.join("2.0.0-case"),
    ))?;
    ensure!(
        !caught.succeeded()
            && caught
                .runs
                .iter()
                .all(|r| r.outcome.restored() == Some(true)),
        "2.0.0-case was meant to fail in the guest and be rolled back"
    );
    println!(
        "
Caught by rehearsal: 2.0.0-case never reaches the production host."
    );
    Ok(())
}

/// Where the last run kept its samples, and what its report says.
fn show_samples(demo: &DemoHost) -> anyhow::Result<()> {
    let runs = demo.state_dir.join("runs");
    let mut names: Vec<String> = std::fs::read_dir(&runs)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("2.0.0-regression"))
        .collect();
    names.sort();
    let run = runs.join(names.last().context("the regression run has a directory")?);
    let samples = run.join("samples");
    let report = std::fs::read_to_string(samples.join("report.txt"))?;
    let summary: Vec<&str> = report
        .lines()
        .take_while(|l| !l.starts_with("---"))
        .collect();
    println!(
        "
{}",
        summary.join("\n")
    );
    let diffs = walk_files(&samples.join("diff"))?;
    println!(
        "samples kept in {}: before/ and after/ (raw and normalised), {} diff(s) in diff/; \
         host state identical to before the apply, the web service back on 1.0.0",
        samples.display(),
        diffs
    );
    Ok(())
}

fn walk_files(dir: &Path) -> anyhow::Result<usize> {
    let mut count = 0;
    for entry in walkdir::WalkDir::new(dir) {
        if entry?.file_type().is_file() {
            count += 1;
        }
    }
    Ok(count)
}

fn section(title: &str) {
    println!("\n=== {title}");
}

fn untar(tarball: &Path, into: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(into)?;
    println!("$ tar xzf {} -C {}", tarball.display(), into.display());
    let status = Command::new("tar")
        .arg("xzf")
        .arg(tarball)
        .arg("-C")
        .arg(into)
        .status()?;
    ensure!(status.success(), "tar xzf {} failed", tarball.display());
    // The rehearsal record travels with the bundle, as the operator copies it.
    let record = bascule::fingerprint::rehearsal::record_path(tarball);
    if record.is_file() {
        let name = record.file_name().context("a record has a file name")?;
        println!("$ cp {} {}", record.display(), into.display());
        std::fs::copy(&record, into.join(name))
            .with_context(|| format!("cannot copy {}", record.display()))?;
    }
    let name = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.gz"))
        .context("a bundle is named <name>.tar.gz")?;
    Ok(into.join(name))
}

#[derive(PartialEq)]
enum Expect {
    Success,
    Failure,
}

/// Runs the bundle's own runtime, output shown as is.
fn bascule(bundle: &Path, demo: &DemoHost, args: &[&str], expect: Expect) -> anyhow::Result<()> {
    let mut command = Command::new(bundle.join("bin/bascule"));
    command.args(args);
    if args != ["verify"] {
        command.arg("--host").arg(&demo.host_profile);
    }
    if args == ["apply"] || args == ["rollback"] {
        command.arg("--no-multiplexer");
    }
    if args == ["apply"] {
        command.args(["--allow-forbidden-time", "a demo, not a release", "--yes"]);
    }
    println!(
        "\n$ {} {}",
        bundle.join("bin/bascule").display(),
        args.join(" ")
    );
    let status = command
        .status()
        .context("cannot run the bundle's bascule")?;
    match (expect, status.success()) {
        (Expect::Success, true) | (Expect::Failure, false) => Ok(()),
        (Expect::Success, false) => bail!("bascule {} failed: {status}", args.join(" ")),
        (Expect::Failure, true) => {
            bail!("bascule {} succeeded but was meant to fail", args.join(" "))
        }
    }
}

fn show_result(demo: &DemoHost) -> anyhow::Result<()> {
    let current = std::fs::read_link(demo.current())?;
    println!("\ncurrent → {}", current.display());
    let platform = std::fs::read_to_string(demo.state_dir.join("platform.toml"))?;
    println!("platform.toml: {}", platform.trim().replace('\n', "; "));
    let site = demo.sites.first().context("the demo has sites")?;
    let page = demo_site::render(&demo.current(), &demo.site_db(site), site, "team")?;
    let excerpt: String = page
        .lines()
        .filter(|l| l.contains("avatar"))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    println!("{site}/team, rendered by the 2.0.0 code:\n{excerpt}");
    Ok(())
}

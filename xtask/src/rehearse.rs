//! `cargo xtask rehearse`: a bundle applied to a snapshot of production, N times.
//!
//! Glue around [`bascule_rehearse`]: builds the bundle first when given a patch directory
//! (with the static runtime production will run), opens the target's driver, runs, prints
//! the report and keeps it with every run's files in `target/rehearsals/<bundle>/`; a passing
//! rehearsal's fingerprint goes beside the bundle (`bascule_rehearse::record`). Without
//! `--target` it rehearses on the demo platform's ISO-prod guest (`cargo xtask vm-image`,
//! built on first use and cached).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bascule_rehearse::{report, Rehearsal, RehearsalOptions, Target};

use crate::{build_patch, static_runtime, vm_image, workspace_root};

/// Rehearse a bundle on VM snapshots of production.
///
/// Each run reverts the target to its snapshot, delivers the bundle with a script, runs
/// `bascule apply` there (non-interactively: `--no-multiplexer --allow-forbidden-time`),
/// optionally `bascule rollback` in a fresh process, and compares `bascule digest` of the
/// host before and after (every database's schema and data, `current`, releases, services).
/// The run directories (update.log, journal, samples) come back to
/// target/rehearsals/<bundle>/run-<n>/collected/out/runs/, with the guest's console log.
///
/// A rehearsal that passes writes bascule-<version>.rehearsal.json beside the bundle: the
/// bundle's digest and the guest's environment fingerprint (OS, kernel, software and database
/// server versions, SQL mode, case sensitivity…), one entry per target. Copied with the bundle
/// to production, it lets `bascule plan` and `bascule apply` list how production differs from
/// the environment the bundle was rehearsed on, and refuse a critical difference. A rehearsal
/// that fails takes its target's earlier pass of the same bundle out of the record.
///
/// Exit status: 0 every run succeeded (and its rollback restored the snapshot's state); 1 a
/// run failed; 2 the rehearsal could not start (bad target, no image).
#[derive(clap::Args)]
#[command(after_long_help = TARGET_TOML)]
pub struct Args {
    /// A bundle (`bascule-<version>.tar.gz`) or a patch directory, built first
    bundle: PathBuf,
    /// The rehearsal target (target.toml: driver qemu, libvirt or ssh) [default: the demo
    /// platform's ISO-prod guest, built if needed]
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Runs, each from the snapshot
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Roll each successful apply back and check the state is the snapshot's again
    #[arg(long)]
    rollback: bool,
    /// Where the runs' files go [default: target/rehearsals/<bundle>]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// `rehearse --help`'s description of target.toml (kept out of the doc comment, where rustdoc
/// would read its indented lines as a Rust example).
const TARGET_TOML: &str = "\
A target is a file naming its driver, with the driver's own table:

    driver = \"qemu\"                          # qemu | libvirt | ssh
    host_profile = \"/etc/bascule/host.toml\"  # on the target
    timeout_secs = 300                       # per run; a hung target is killed
    [qemu]
    image = \"target/vm/iso-prod\"             # vmlinuz, initramfs.cpio.gz, base.qcow2
    snapshot = \"overlay\"                     # or \"internal\" (the image's iso-prod snapshot)
    accel = \"auto\"                           # KVM if a probe boot works, else TCG

    [libvirt]  uri, domain, snapshot         (virsh snapshot-revert, start, wait, collect)
    [ssh]      host, port, user, identity, known_hosts, revert (a command run before each
               run: Proxmox `qm rollback`, LVM/ZFS, a cloud snapshot), workdir";

pub fn run(args: Args) -> anyhow::Result<()> {
    match rehearse(&args) {
        Ok(rehearsal) if rehearsal.succeeded() => Ok(()),
        Ok(_) => std::process::exit(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2)
        }
    }
}

/// Rehearses as `args` say and prints the report; the caller decides what a failure means.
pub fn rehearse(args: &Args) -> anyhow::Result<Rehearsal> {
    if args.runs == 0 {
        bail!("--runs: at least 1");
    }
    let bundle = bundle_of(&args.bundle)?;
    let target_path = match &args.target {
        Some(path) => path.clone(),
        None => {
            let image = workspace_root().join("target/vm/iso-prod");
            vm_image::ensure(&image, vm_image::DEFAULT_SITES, false)?;
            image.join("target.toml")
        }
    };
    let target = Target::load(&target_path)?;
    let stem = bundle
        .file_name()
        .map(|f| f.to_string_lossy().trim_end_matches(".tar.gz").to_string())
        .unwrap_or_else(|| "bundle".into());
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| workspace_root().join("target/rehearsals").join(&stem));
    let rehearsal = bascule_rehearse::rehearse(
        &target,
        &bundle,
        &RehearsalOptions {
            runs: args.runs,
            rollback: args.rollback,
            dir: dir.clone(),
        },
    )
    .with_context(|| format!("rehearsing on {}", target_path.display()))?;
    let text = report::render(&rehearsal);
    print!("{text}");
    let report_file = dir.join("report.txt");
    std::fs::write(&report_file, &text)
        .with_context(|| format!("{}: cannot write", report_file.display()))?;
    println!("report: {}", report_file.display());
    if rehearsal.succeeded() {
        let record = bascule_rehearse::record::keep(&rehearsal, &target, &bundle)
            .context("keeping the rehearsal's fingerprint beside the bundle")?;
        println!(
            "rehearsal record: {} (the environment `{}` passed on; copy it with the bundle, \
             `bascule plan` compares production with it)",
            record.display(),
            target.name()
        );
    } else if let Some(record) = bascule_rehearse::record::forget(&target, &bundle)
        .context("taking this target's earlier pass out of the rehearsal record")?
    {
        println!(
            "rehearsal record: {} no longer lists `{}`, which this bundle has now failed on",
            record.display(),
            target.name()
        );
    }
    Ok(rehearsal)
}

impl Args {
    /// The arguments `cargo xtask demo` rehearses with.
    pub fn new(
        bundle: &Path,
        target: Option<&Path>,
        runs: usize,
        rollback: bool,
        dir: &Path,
    ) -> Args {
        Args {
            bundle: bundle.to_path_buf(),
            target: target.map(Path::to_path_buf),
            runs,
            rollback,
            dir: Some(dir.to_path_buf()),
        }
    }
}

/// The bundle to rehearse: `path` itself, or built from the patch directory `path`.
fn bundle_of(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_dir() {
        let runtime = static_runtime::build_static_runtime(&workspace_root())?;
        let built = build_patch::build(
            path,
            &workspace_root().join("target/bundles"),
            Some(&runtime),
        )?;
        return Ok(built.path);
    }
    if !path.is_file() {
        bail!(
            "{}: no such bundle or patch directory (give a bascule-<version>.tar.gz or a patch source)",
            path.display()
        );
    }
    Ok(path.to_path_buf())
}

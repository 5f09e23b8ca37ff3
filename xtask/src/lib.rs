//! `cargo xtask`: the developer side of Bascule, as a library so the end-to-end tests and the
//! benchmarks build bundles exactly as a developer does.
//!
//! One module per subcommand; [`main`] parses the command line. Bascule's own `xtask` binary
//! calls [`main`]; a platform's `xtask` crate (made by `cargo xtask init-platform`) calls
//! [`platform_main`], which runs the same commands for the platform's repository.

pub mod bench;
pub mod build_patch;
pub mod check_migrations;
pub mod demo;
pub mod demo_prod;
pub mod draft_bulletin;
pub mod import;
pub mod init_platform;
pub mod lint;
pub mod new_patch;
pub mod rehearse;
pub mod signing;
pub mod static_runtime;
pub mod vm_image;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::{Parser, Subcommand};

/// Bascule's workspace root — this checkout, where `patch-template/` is and whose source the
/// static runtime is built from — whatever directory `cargo xtask` was started from.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// The repository `cargo xtask` works for, set once by [`platform_main`].
static PROJECT_ROOT: OnceLock<PathBuf> = OnceLock::new();

/// The root of the repository `cargo xtask` works for: the platform's repository when run by a
/// platform's `xtask` crate ([`platform_main`]), else Bascule's own workspace. Its `target/`
/// receives the bundles.
pub fn project_root() -> PathBuf {
    PROJECT_ROOT.get().cloned().unwrap_or_else(workspace_root)
}

/// Cargo's target directory for the project: `CARGO_TARGET_DIR` when set (relative to the
/// project root), else `<project root>/target`. The static runtime is built under it.
pub fn cargo_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => project_root().join(dir),
        _ => project_root().join("target"),
    }
}

/// Developer commands of Bascule: write, build and try patch bundles.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new patch source from `patch-template/`.
    NewPatch(new_patch::Args),
    /// Import another tool's migrations (dbmate, golang-migrate, flyway, sqitch, liquibase) as a
    /// patch source whose tenants start where that tool's history stands.
    Import(import::Args),
    /// Build a patch source into a reproducible bundle `bascule-<version>.tar.gz`.
    BuildPatch(build_patch::Args),
    /// Make the release team's signing key pair (minisign format) for `build-patch --sign`.
    Keygen(signing::KeygenArgs),
    /// Lint a patch source: its migrations (parse, down undoes up, zero-downtime rules) and its
    /// documents (well formed, checklist steps that exist).
    Lint(lint::Args),
    /// Draft the bulletin's entries from the conventional commits since the previous patch.
    DraftBulletin(draft_bulletin::Args),
    /// Round-trip every migration on a scratch database: up, down (schema as before?), up again.
    CheckMigrations(check_migrations::Args),
    /// Set up a platform's own repository for Bascule: its `cargo xtask`, `patches/` with a
    /// first patch, a host profile to start from.
    InitPlatform(init_platform::Args),
    /// Generate a demo "production" host at version 1.0.0 with N site databases.
    DemoProd(demo_prod::Args),
    /// The whole story on a demo host: build, verify, plan, apply, then a failing patch rolled back.
    Demo(demo::Args),
    Rehearse(rehearse::Args),
    /// Build the demo platform's ISO-prod guest image (cached under target/vm/).
    VmImage(vm_image::Args),
    /// Measure speed and memory against peers, side by side (figures, not tests).
    Bench(bench::Args),
}

/// Bascule's own `cargo xtask`: parses the command line and runs the command.
pub fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::NewPatch(args) => new_patch::run(args),
        Command::Import(args) => import::run(args),
        Command::BuildPatch(args) => build_patch::run(args),
        Command::Keygen(args) => signing::keygen_command(args),
        Command::Lint(args) => lint::run(args),
        Command::DraftBulletin(args) => draft_bulletin::run(args),
        Command::CheckMigrations(args) => check_migrations::run(args),
        Command::InitPlatform(args) => init_platform::run(args),
        Command::DemoProd(args) => demo_prod::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Rehearse(args) => rehearse::run(args),
        Command::VmImage(args) => vm_image::run(args),
    }
}

/// A platform's `cargo xtask`: the same commands as [`main`], for the repository holding the
/// calling crate. `xtask_manifest_dir` is that crate's `env!("CARGO_MANIFEST_DIR")`
/// (`<repo>/xtask`), so the repository is found wherever the command is started from. Errors
/// are printed as Bascule's own `cargo xtask` prints them, with exit code 1.
pub fn platform_main(xtask_manifest_dir: &str) -> std::process::ExitCode {
    let manifest_dir = Path::new(xtask_manifest_dir);
    let root = manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf();
    // Set once, before any command reads it: a second call keeps the first root.
    let _ = PROJECT_ROOT.set(root);
    exit_code(main())
}

/// How a `cargo xtask` command ends: success, or its error and the error's causes on stderr and
/// exit code 1. Never the error's `Debug` form, which carries a backtrace when `RUST_BACKTRACE`
/// is set: a developer asked for a lint, not for stack frames.
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", render_error(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// `Error: <message>` and, when there are any, its causes (`Caused by:`), as anyhow lays them
/// out, without the backtrace.
pub fn render_error(error: &anyhow::Error) -> String {
    let mut out = format!("Error: {error}");
    let causes: Vec<String> = error.chain().skip(1).map(ToString::to_string).collect();
    match causes.as_slice() {
        [] => {}
        [cause] => out.push_str(&format!("\n\nCaused by:\n    {cause}")),
        _ => {
            out.push_str("\n\nCaused by:");
            for (i, cause) in causes.iter().enumerate() {
                out.push_str(&format!("\n    {i}: {cause}"));
            }
        }
    }
    out
}

/// A sibling patch source: its directory and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sibling {
    pub dir: PathBuf,
    pub version: semver::Version,
}

/// The version in `<dir>/patch.toml`'s `[patch]`, if it has one that parses.
pub fn patch_version(dir: &Path) -> Option<semver::Version> {
    let text = std::fs::read_to_string(dir.join(bascule_patch::PATCH_FILE)).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    let version = table.get("patch")?.get("version")?.as_str()?;
    semver::Version::parse(version).ok()
}

/// The patch released before `version` among the patch sources in `parent`: the one with the
/// highest version below it. Directories without a readable version are skipped.
pub fn previous_patch_in(parent: &Path, version: &semver::Version) -> Option<Sibling> {
    std::fs::read_dir(parent)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|dir| patch_version(&dir).map(|version| Sibling { dir, version }))
        .filter(|s| s.version < *version)
        .max_by(|a, b| a.version.cmp(&b.version).then_with(|| b.dir.cmp(&a.dir)))
}

/// The patch released before the patch source at `dir` (see [`previous_patch_in`]).
pub fn previous_patch(dir: &Path) -> anyhow::Result<Option<Sibling>> {
    let Some(version) = patch_version(dir) else {
        anyhow::bail!(
            "{}: no [patch] version that parses; is this a patch source?",
            dir.join(bascule_patch::PATCH_FILE).display()
        );
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(previous_patch_in(parent, &version))
}

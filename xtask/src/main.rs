//! `cargo xtask`: the developer side of Bascule.
//!
//! Each subcommand lives in its own module; this file only parses the command line.

use clap::{Parser, Subcommand};
use xtask::{
    bench, build_patch, check_migrations, demo, demo_prod, draft_bulletin, import, lint, new_patch,
    rehearse, signing, vm_image,
};

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

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::NewPatch(args) => new_patch::run(args),
        Command::Import(args) => import::run(args),
        Command::BuildPatch(args) => build_patch::run(args),
        Command::Keygen(args) => signing::keygen_command(args),
        Command::Lint(args) => lint::run(args),
        Command::DraftBulletin(args) => draft_bulletin::run(args),
        Command::CheckMigrations(args) => check_migrations::run(args),
        Command::DemoProd(args) => demo_prod::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Rehearse(args) => rehearse::run(args),
        Command::VmImage(args) => vm_image::run(args),
    }
}

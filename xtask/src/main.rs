//! `cargo xtask`: the developer side of Bascule.
//!
//! Each subcommand lives in its own module; this file only parses the command line.

mod build_patch;
mod demo;
mod demo_prod;
mod docs_html;
mod new_patch;
mod static_runtime;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Build a patch source into a reproducible bundle `bascule-<version>.tar.gz`.
    BuildPatch(build_patch::Args),
    /// Generate a demo "production" host at version 1.0.0 with N site databases.
    DemoProd(demo_prod::Args),
    /// The whole story on a demo host: build, verify, plan, apply, then a failing patch rolled back.
    Demo(demo::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::NewPatch(args) => new_patch::run(args),
        Command::BuildPatch(args) => build_patch::run(args),
        Command::DemoProd(args) => demo_prod::run(args),
        Command::Demo(args) => demo::run(args),
    }
}

/// The workspace root, whatever directory `cargo xtask` was started from.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

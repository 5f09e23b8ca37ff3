//! `cargo xtask`: the developer side of Bascule, as a library so the end-to-end tests and the
//! benchmarks build bundles exactly as a developer does.
//!
//! One module per subcommand; `main.rs` only parses the command line.

pub mod bench;
pub mod build_patch;
pub mod check_migrations;
pub mod demo;
pub mod demo_prod;
pub mod lint;
pub mod new_patch;
pub mod rehearse;
pub mod signing;
pub mod static_runtime;
pub mod vm_image;

use std::path::PathBuf;

/// The workspace root, whatever directory `cargo xtask` was started from.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

//! `cargo xtask`: the developer side of Bascule, as a library so the end-to-end tests and the
//! benchmarks build bundles exactly as a developer does.
//!
//! One module per subcommand; `main.rs` only parses the command line.

pub mod bench;
pub mod build_patch;
pub mod check_migrations;
pub mod demo;
pub mod demo_prod;
pub mod draft_bulletin;
pub mod import;
pub mod lint;
pub mod new_patch;
pub mod rehearse;
pub mod signing;
pub mod static_runtime;
pub mod vm_image;

use std::path::{Path, PathBuf};

/// The workspace root, whatever directory `cargo xtask` was started from.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
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

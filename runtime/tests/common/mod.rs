//! Helpers shared by the migrate tests on real servers: hand-made migrations, a host profile on a
//! server, and the rig that runs the migrate step.

#![allow(dead_code)]

use std::path::Path;

use bascule::host::HostProfile;
use bascule_patch::Migration;

pub fn migration(id: u32, up: &str, down: &str) -> Migration {
    Migration::new("site", id, &format!("m{id}"), up, down)
}

/// A host profile in `dir` whose class `site` is `databases_section` (engine, url, …).
pub fn host(dir: &Path, databases_section: &str) -> HostProfile {
    let path = dir.join("host.toml");
    std::fs::write(
        &path,
        format!("[platform]\nroot = \"p\"\n\n[databases.site]\n{databases_section}\n"),
    )
    .unwrap();
    HostProfile::load(&path).unwrap()
}

pub mod rig;

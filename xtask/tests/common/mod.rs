//! What the rehearsal tests share: the ISO-prod image, the demo bundles, and the check that no
//! guest outlived its test.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The demo's ISO-prod guest, `target/vm/iso-prod`, built once and cached across runs.
pub fn image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let dir = workspace().join("target/vm/iso-prod");
        if let Err(e) = xtask::vm_image::ensure(&dir, xtask::vm_image::DEFAULT_SITES, false) {
            panic!("cannot build the ISO-prod image: {e:#}");
        }
        dir
    })
}

/// The bundle of a demo fixture patch (`2.0.0`, `2.0.0-broken`, `2.0.0-case`), built once per
/// test process with the static runtime.
pub fn bundle(version: &str) -> PathBuf {
    static RUNTIME: OnceLock<PathBuf> = OnceLock::new();
    static BUNDLES: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        xtask::static_runtime::build_static_runtime(&workspace())
            .unwrap_or_else(|e| panic!("cannot build the static runtime: {e:#}"))
    });
    let mut bundles = match BUNDLES.get_or_init(Default::default).lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(path) = bundles.get(version) {
        return path.clone();
    }
    let out = workspace()
        .join("target/test-bundles")
        .join(format!("rehearse-{}-{version}", std::process::id()));
    let built =
        xtask::build_patch::build(&demo_site::prod::patch_dir(version), &out, Some(runtime))
            .unwrap_or_else(|e| panic!("cannot build the {version} bundle: {e:#}"));
    bundles.insert(version.to_string(), built.path.clone());
    built.path
}

/// The processes whose command line mentions `needle` (a run directory, a domain name).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    testhosts::processes_mentioning(needle)
}

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

/// Runs `work` while a watcher asks `ready` every `every` and, once it holds, calls `kill` (a
/// server killed in the middle of a run or an undo). Returns what `work` returned and whether
/// the kill came before it ended.
pub fn kill_when<T>(
    ready: impl Fn() -> bool + Sync,
    kill: impl FnOnce() + Send,
    every: std::time::Duration,
    work: impl FnOnce() -> T,
) -> (T, bool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let killed = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !ready() {
                if finished.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(every);
            }
            kill();
            killed.store(true, Ordering::SeqCst);
        });
        let result = work();
        finished.store(true, Ordering::SeqCst);
        result
    });
    (result, killed.load(Ordering::SeqCst))
}

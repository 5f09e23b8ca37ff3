//! `purge-caches`: empty the configured cache directories and run the cache commands, after the
//! code switch, so that nothing cached by the old code is served by the new.
//!
//! ```toml
//! [caches]
//! dirs = ["var/cache"]                  # emptied, not removed (owner, mode and mounts stay)
//! commands = ["redis-cli -n 2 FLUSHDB"] # run with sh -c in the profile's directory; must exit 0
//! ```
//!
//! The undo **purges again**; it does not put the old entries back. A cache is disposable by
//! definition (an empty cache is always correct, only slower), so it is not part of the host
//! state a rollback restores. And what matters on the way back is the opposite of restoring: the
//! new code may have filled the cache between `start-services` and the failure, and those entries
//! must not be served by the old code. Moving the old content aside to restore it would cost disk
//! and time for entries that are stale-prone anyway.

use std::path::Path;
use std::time::Duration;

use crate::engine::{Context, Step, StepError};
use crate::journal::Intent;
use crate::services::Runner;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

pub struct PurgeCaches;

impl Step for PurgeCaches {
    fn name(&self) -> &'static str {
        "purge-caches"
    }

    fn summary(&self) -> &'static str {
        "empty the cache directories and run the cache commands of the host profile"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        if cx.host.caches.is_empty() {
            cx.say("no caches configured (host profile [caches])");
            return Ok(());
        }
        cx.intend(Intent::PurgeCaches)?;
        purge(cx)
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        if intents.iter().any(|i| matches!(i, Intent::PurgeCaches)) {
            cx.say("purging the caches again: nothing the new code cached may survive");
            purge(cx)?;
        }
        Ok(())
    }
}

fn purge(cx: &Context<'_>) -> Result<(), StepError> {
    for dir in &cx.host.caches.dirs {
        let removed = empty_dir(dir)?;
        cx.say(format_args!(
            "cache {}: {removed} entr(y/ies) removed",
            dir.display()
        ));
    }
    let runner = Runner {
        log: cx.log,
        workdir: cx.host.dir(),
        scratch: cx.run_dir,
    };
    for line in &cx.host.caches.commands {
        let done = runner.shell("caches", line, COMMAND_TIMEOUT)?;
        if !done.success() {
            return Err(StepError::Failed(format!(
                "cache command `{line}` failed (exit {}): {}",
                done.code.map_or("by signal".into(), |c| c.to_string()),
                done.output.trim()
            )));
        }
    }
    Ok(())
}

/// Removes everything inside `dir` (links themselves, never what they point to); keeps `dir`.
/// A missing directory has nothing to purge.
pub fn empty_dir(dir: &Path) -> Result<usize, StepError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StepError::io(dir)(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(StepError::io(dir))?;
        let path = entry.path();
        let is_dir = entry.file_type().map_err(StepError::io(&path))?.is_dir();
        let result = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        result.map_err(StepError::io(&path))?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emptying_keeps_the_directory_and_never_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let precious = dir.path().join("precious");
        std::fs::create_dir_all(cache.join("pages/a")).unwrap();
        std::fs::create_dir_all(&precious).unwrap();
        std::fs::write(precious.join("keep"), "x").unwrap();
        std::fs::write(cache.join("pages/a/1.html"), "x").unwrap();
        std::fs::write(cache.join("index"), "x").unwrap();
        std::os::unix::fs::symlink(&precious, cache.join("link")).unwrap();
        assert_eq!(empty_dir(&cache).unwrap(), 3);
        assert!(cache.is_dir());
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
        assert!(
            precious.join("keep").is_file(),
            "a link's target is not purged"
        );
        assert_eq!(empty_dir(&dir.path().join("absent")).unwrap(), 0);
    }
}

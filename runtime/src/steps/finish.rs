//! `finish`: record the platform's new version; once committed, prune old releases and write
//! the run's report.
//!
//! Recording the version is the last undoable act. Pruning destroys releases, so it happens
//! only after the run is committed, and never touches the release `current` pointed to before
//! the run: `bascule rollback` switches back to it.

use std::path::{Path, PathBuf};

use crate::engine::{Context, Step, StepError};
use crate::fsutil::remove_tree_if_exists;
use crate::journal::{Intent, Journal};
use crate::state::PlatformState;

pub struct Finish;

impl Step for Finish {
    fn name(&self) -> &'static str {
        "finish"
    }

    fn summary(&self) -> &'static str {
        "record the platform version; after commit: keep the last releases, write the report"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let previous = PlatformState::read(&cx.host.state_dir)?;
        let next = PlatformState {
            version: cx.patch.version().clone(),
            run: Some(cx.run_id.to_string()),
        };
        cx.intend(Intent::RecordVersion {
            previous,
            next: next.clone(),
        })?;
        next.write(&cx.host.state_dir)?;
        cx.say(format_args!("platform version recorded: {}", next.version));
        Ok(())
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        for intent in intents {
            if let Intent::RecordVersion { previous, .. } = intent {
                match previous {
                    Some(previous) => previous.write(&cx.host.state_dir)?,
                    None => {
                        let path = PlatformState::path(&cx.host.state_dir);
                        if path.exists() {
                            std::fs::remove_file(&path).map_err(StepError::io(&path))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn after_commit(&self, cx: &Context<'_>) -> Result<(), StepError> {
        let keep = protected_releases(cx)?;
        for old in releases_to_prune(&cx.host.releases_dir(), cx.host.keep_releases, &keep)? {
            cx.say(format_args!("prune old release {}", old.display()));
            remove_tree_if_exists(&old).map_err(StepError::io(&old))?;
        }
        Ok(())
    }
}

/// The release `current` points at now and the one it pointed at before this run.
fn protected_releases(cx: &Context<'_>) -> Result<Vec<PathBuf>, StepError> {
    let mut keep = Vec::new();
    for event in Journal::read(cx.journal.path())? {
        if let crate::journal::Event::Intent {
            intent: Intent::SwitchCurrent { previous, next, .. },
            ..
        } = event
        {
            keep.extend(previous);
            keep.push(next);
        }
    }
    Ok(keep
        .into_iter()
        .filter_map(|p| p.file_name().map(PathBuf::from))
        .collect())
}

/// Release directories beyond the newest `keep` (by version), minus the protected ones.
fn releases_to_prune(
    releases: &Path,
    keep: usize,
    protected: &[PathBuf],
) -> Result<Vec<PathBuf>, StepError> {
    let mut versions: Vec<(semver::Version, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(releases).map_err(StepError::io(releases))? {
        let entry = entry.map_err(StepError::io(releases))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(version) = semver::Version::parse(&name) {
            versions.push((version, entry.path()));
        }
    }
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(versions
        .into_iter()
        .skip(keep)
        .map(|(_, path)| path)
        .filter(|path| {
            !protected
                .iter()
                .any(|p| path.file_name() == Some(p.as_os_str()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_and_the_protected() {
        let dir = tempfile::tempdir().unwrap();
        for v in ["1.0.0", "1.1.0", "2.0.0", "3.0.0", "not-a-version"] {
            std::fs::create_dir(dir.path().join(v)).unwrap();
        }
        let protected = vec![PathBuf::from("1.0.0")];
        let mut pruned = releases_to_prune(dir.path(), 2, &protected).unwrap();
        pruned.sort();
        assert_eq!(pruned, vec![dir.path().join("1.1.0")]);
    }
}

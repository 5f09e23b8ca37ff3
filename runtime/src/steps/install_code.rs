//! `install-code`: the new release beside the old ones, then one atomic switch of `current`.
//!
//! The code is copied to `releases/.<version>.partial-<run>` and renamed to `releases/<version>`
//! once complete, so a release directory is never half-written. Shared paths (uploads, local
//! configuration) are linked into it. Then `current` is retargeted with a rename, the only
//! atomic way to replace a symlink. The undo switches back and removes the new release.

use std::path::{Path, PathBuf};

use crate::engine::{Context, Step, StepError};
use crate::fsutil::{copy_tree, remove_tree_if_exists, switch_symlink, sync_filesystem};
use crate::journal::Intent;

pub struct InstallCode;

impl Step for InstallCode {
    fn name(&self) -> &'static str {
        "install-code"
    }

    fn summary(&self) -> &'static str {
        "unpack the code to releases/<version>, link shared paths, switch `current` atomically"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let version = cx.patch.version().to_string();
        let releases = cx.host.releases_dir();
        let release = releases.join(&version);
        if release.exists() {
            return Err(StepError::Failed(format!(
                "{} appeared since preflight; another process is writing releases",
                release.display()
            )));
        }
        let partial = releases.join(format!(".{version}.partial-{}", cx.run_id));
        cx.intend(Intent::CreateRelease {
            dir: release.clone(),
            partial: partial.clone(),
        })?;
        std::fs::create_dir_all(&releases).map_err(StepError::io(&releases))?;
        let files =
            copy_tree(&cx.bundle_root.join("code"), &partial).map_err(StepError::io(&partial))?;
        link_shared(cx, &partial)?;
        sync_filesystem(&partial).map_err(StepError::io(&partial))?;
        std::fs::rename(&partial, &release).map_err(StepError::io(&release))?;
        crate::state::sync_dir(&releases).map_err(StepError::io(&releases))?;
        cx.say(format_args!(
            "{files} files installed in {}",
            release.display()
        ));

        let link = cx.host.current_link();
        let previous = std::fs::read_link(&link).ok();
        let next = PathBuf::from("releases").join(&version);
        cx.intend(Intent::SwitchCurrent {
            link: link.clone(),
            previous: previous.clone(),
            next: next.clone(),
        })?;
        switch_symlink(&link, &next).map_err(StepError::io(&link))?;
        cx.say(format_args!(
            "current: {} → {}",
            previous.map_or("(none)".into(), |p| p.display().to_string()),
            next.display()
        ));
        Ok(())
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        for intent in intents.iter().rev() {
            match intent {
                Intent::SwitchCurrent {
                    link,
                    previous,
                    next,
                } => switch_back(cx, link, previous.as_deref(), next)?,
                Intent::CreateRelease { dir, partial } => {
                    cx.log.line(format_args!("remove {}", dir.display()));
                    remove_tree_if_exists(partial).map_err(StepError::io(partial))?;
                    remove_tree_if_exists(dir).map_err(StepError::io(dir))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Links each shared path of the host profile into the new release.
fn link_shared(cx: &Context<'_>, release: &Path) -> Result<(), StepError> {
    for shared in &cx.host.shared {
        let at = release.join(shared);
        if std::fs::symlink_metadata(&at).is_ok() {
            return Err(StepError::Failed(format!(
                "the bundle's code contains `{}`, which the host shares between releases \
                 (platform.shared); exclude it from the snapshot (patch.toml [code] exclude)",
                shared.display()
            )));
        }
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).map_err(StepError::io(parent))?;
        }
        let target = relative_to_shared(shared);
        std::os::unix::fs::symlink(&target, &at).map_err(StepError::io(&at))?;
    }
    Ok(())
}

/// From `releases/<v>/a/b` back up to the root, then into `shared/a/b`.
fn relative_to_shared(shared: &Path) -> PathBuf {
    let depth = shared.components().count() + 1;
    let mut path = PathBuf::new();
    for _ in 0..depth {
        path.push("..");
    }
    path.join("shared").join(shared)
}

fn switch_back(
    cx: &Context<'_>,
    link: &Path,
    previous: Option<&Path>,
    next: &Path,
) -> Result<(), StepError> {
    match previous {
        Some(previous) => {
            cx.log.line(format_args!(
                "switch {} back to {}",
                link.display(),
                previous.display()
            ));
            switch_symlink(link, previous).map_err(StepError::io(link))
        }
        None => {
            if std::fs::read_link(link).ok().as_deref() == Some(next) {
                std::fs::remove_file(link).map_err(StepError::io(link))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_links_climb_out_of_the_release() {
        assert_eq!(
            relative_to_shared(Path::new("uploads")),
            Path::new("../../shared/uploads")
        );
        assert_eq!(
            relative_to_shared(Path::new("config/local.toml")),
            Path::new("../../../shared/config/local.toml")
        );
    }
}

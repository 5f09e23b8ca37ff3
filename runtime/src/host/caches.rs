//! `[caches]` of the host profile: the cache directories and commands the `purge-caches` step
//! empties and runs, resolved against the profile's directory when the profile is loaded.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

/// The host profile's `[caches]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    #[serde(default)]
    pub commands: Vec<String>,
}

impl CacheSpec {
    /// Resolves the directories; refuses one that would empty the profile's own tree or more.
    pub fn check_and_resolve(&mut self, base: &Path) -> Result<(), String> {
        for dir in self.dirs.iter_mut() {
            if dir.as_os_str().is_empty()
                || dir
                    .components()
                    .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
            {
                return Err(format!(
                    "caches.dirs: `{}` must name a cache directory plainly (no `.` or `..`)",
                    dir.display()
                ));
            }
            let resolved = if dir.is_absolute() {
                dir.clone()
            } else {
                base.join(&*dir)
            };
            if base.starts_with(&resolved) {
                return Err(format!(
                    "caches.dirs: `{}` holds the host profile itself; emptying it would destroy the host",
                    dir.display()
                ));
            }
            *dir = resolved;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.commands.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dirs_that_would_destroy_the_host_are_refused() {
        let base = Path::new("/srv/host");
        for bad in ["/", "/srv", ".", "../x", ""] {
            let mut spec = CacheSpec {
                dirs: vec![PathBuf::from(bad)],
                commands: vec![],
            };
            assert!(spec.check_and_resolve(base).is_err(), "{bad}");
        }
        let mut spec = CacheSpec {
            dirs: vec![PathBuf::from("var/cache")],
            commands: vec![],
        };
        spec.check_and_resolve(base).unwrap();
        assert_eq!(spec.dirs, [PathBuf::from("/srv/host/var/cache")]);
    }
}

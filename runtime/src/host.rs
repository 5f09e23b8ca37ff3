//! The host profile (`/etc/bascule/host.toml` by default): where things are on *this* host.
//!
//! The same schema describes a rehearsal VM and a production host; that is what makes a rehearsal
//! ISO-prod. Relative paths are relative to the directory of the profile itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::db::{DbTarget, Location};
use crate::patch::Dialect;

pub const DEFAULT_PROFILE: &str = "/etc/bascule/host.toml";

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{path}: cannot read the host profile: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    platform: PlatformSection,
    #[serde(default)]
    databases: BTreeMap<String, DatabaseClass>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformSection {
    root: PathBuf,
    #[serde(default = "default_state_dir")]
    state_dir: PathBuf,
    #[serde(default = "default_keep")]
    keep_releases: usize,
    #[serde(default)]
    shared: Vec<PathBuf>,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/bascule")
}

fn default_keep() -> usize {
    3
}

/// How the databases of one class are found on this host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseClass {
    pub engine: Dialect,
    /// Explicit database files.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// A glob matching database files, e.g. `data/sites/*.sqlite`.
    #[serde(default)]
    pub glob: Option<String>,
    /// Databases migrated at once; defaults to the number of cores.
    #[serde(default)]
    pub workers: Option<usize>,
}

/// A loaded, resolved host profile.
#[derive(Debug, Clone)]
pub struct HostProfile {
    pub path: PathBuf,
    /// The platform root: `releases/`, `current`, `shared/`.
    pub root: PathBuf,
    /// Where Bascule keeps its lock, the platform version and the runs.
    pub state_dir: PathBuf,
    /// Releases kept by `finish`, the current one included (at least 2, so rollback has its target).
    pub keep_releases: usize,
    /// Paths, relative to a release, linked to `shared/<path>` so they survive releases.
    pub shared: Vec<PathBuf>,
    pub databases: BTreeMap<String, DatabaseClass>,
}

impl HostProfile {
    pub fn load(path: &Path) -> Result<HostProfile, HostError> {
        let text = std::fs::read_to_string(path).map_err(|source| HostError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ProfileFile = toml::from_str(&text).map_err(|source| HostError::Toml {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let invalid = |what: String| HostError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        if file.platform.keep_releases < 2 {
            return Err(invalid(
                "platform.keep_releases must be at least 2: rollback needs the previous release"
                    .into(),
            ));
        }
        for shared in &file.platform.shared {
            if shared.is_absolute() || shared.components().any(|c| c.as_os_str() == "..") {
                return Err(invalid(format!(
                    "platform.shared: `{}` must be a path inside a release (relative, no `..`)",
                    shared.display()
                )));
            }
        }
        let mut databases = file.databases;
        for (class, spec) in databases.iter_mut() {
            if spec.paths.is_empty() && spec.glob.is_none() {
                return Err(invalid(format!(
                    "databases.{class}: say where its databases are, with `paths = [...]` or `glob = \"...\"`"
                )));
            }
            spec.paths = spec.paths.iter().map(|p| resolve(p)).collect();
            spec.glob = spec
                .glob
                .as_ref()
                .map(|g| resolve(Path::new(g)).to_string_lossy().into_owned());
        }
        Ok(HostProfile {
            path: path.to_path_buf(),
            root: resolve(&file.platform.root),
            state_dir: resolve(&file.platform.state_dir),
            keep_releases: file.platform.keep_releases,
            shared: file.platform.shared,
            databases,
        })
    }

    pub fn releases_dir(&self) -> PathBuf {
        self.root.join("releases")
    }

    pub fn current_link(&self) -> PathBuf {
        self.root.join("current")
    }

    pub fn shared_dir(&self) -> PathBuf {
        self.root.join("shared")
    }

    /// Every database of `class` on this host, sorted by name, so runs are repeatable.
    pub fn discover(&self, class: &str) -> Result<Vec<DbTarget>, HostError> {
        let invalid = |what: String| HostError::Invalid {
            path: self.path.clone(),
            what,
        };
        let spec = self.databases.get(class).ok_or_else(|| {
            invalid(format!(
                "the patch migrates database class `{class}`, but this host profile has no [databases.{class}]"
            ))
        })?;
        let mut files: Vec<PathBuf> = spec.paths.clone();
        if let Some(pattern) = &spec.glob {
            let paths =
                glob::glob(pattern).map_err(|e| invalid(format!("databases.{class}.glob: {e}")))?;
            for path in paths {
                files.push(path.map_err(|e| invalid(format!("databases.{class}.glob: {e}")))?);
            }
        }
        files.sort();
        files.dedup();
        Ok(files
            .into_iter()
            .map(|path| DbTarget {
                class: class.to_string(),
                name: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                location: Location::SqliteFile(path),
            })
            .collect())
    }

    pub fn workers(&self, class: &str) -> usize {
        self.databases
            .get(class)
            .and_then(|c| c.workers)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1)
    }
}

//! The host's Bascule state, under the profile's `state_dir`:
//!
//! ```text
//! platform.toml      the platform version now, and the run that put it there
//! lock               held by the run in progress
//! runs/<run-id>/     journal.jsonl, update.log, report.txt of each run
//! detached.log       the output of the commands started with --detach
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const PLATFORM_FILE: &str = "platform.toml";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

/// What `platform.toml` records: the version the platform is at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformState {
    pub version: semver::Version,
    /// The run that brought the platform to this version; `bascule rollback` undoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

impl PlatformState {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(PLATFORM_FILE)
    }

    /// Reads the platform state; `None` when no version was ever recorded.
    pub fn read(state_dir: &Path) -> Result<Option<PlatformState>, StateError> {
        let path = Self::path(state_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| StateError::Invalid {
                path,
                what: e.to_string(),
            })
    }

    /// Replaces `platform.toml` atomically (write aside, fsync, rename).
    pub fn write(&self, state_dir: &Path) -> Result<(), StateError> {
        let text = toml::to_string(self).map_err(|e| StateError::Invalid {
            path: Self::path(state_dir),
            what: e.to_string(),
        })?;
        write_atomic(&Self::path(state_dir), text.as_bytes())
    }
}

/// Writes `path` so that a reader sees either the old or the new content, never a mix, even
/// across a power loss: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    use std::io::Write;
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    sync_dir(dir).map_err(io)
}

/// fsync of a directory, so a rename or a new entry in it survives a power loss.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

pub fn runs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("runs")
}

//! `bascule digest`: the host's state as lines a person can diff.
//!
//! A rollback is proved by comparing state, not by trusting exit codes: the tests do it with
//! their own snapshots, and a rehearsal does it inside a guest that has nothing but this
//! program. So the comparison lives here, in the runtime: `bascule digest` before a run and
//! after its rollback must print the same lines, and a rehearsal's runs must all start from
//! the same ones.
//!
//! One line per fact, sorted within each kind, so `diff` shows what changed:
//!
//! ```text
//! version 1.0.0                      the recorded platform version (platform.toml)
//! lock free                          Bascule's host lock
//! current releases/1.0.0             where `current` points
//! releases 3f2a…                     every path under releases/ with its content digest
//! shared 9c1d…                       the same for the shared directories
//! database site/site-0001 version 2 schema 1b2c… content 77e0…
//! service web running
//! maintenance off
//! digest 5e6f…                       SHA-256 of every line above
//! ```
//!
//! Only reads: it opens the databases, lists files and asks the services' status commands. It
//! reads every row of every table (sorted in memory, see `bascule_db`'s `content.rs`): on a
//! large database that is a full read, so run it where one is acceptable — a rehearsal guest,
//! a host in its maintenance window.

use std::path::{Path, PathBuf};

use bascule_runlog::RunLog;

use crate::host::HostProfile;
use crate::services::{Runner, Service};
use crate::state::PlatformState;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Db(#[from] bascule_db::DbError),
    #[error(transparent)]
    Service(#[from] crate::services::ServiceError),
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The state of a host, one fact per line; the last line is `digest <sha256 of the others>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDigest {
    pub lines: Vec<String>,
}

impl StateDigest {
    /// Reads the state of the host `host` describes.
    pub fn capture(host: &HostProfile) -> Result<StateDigest, DigestError> {
        let mut lines = Vec::new();
        let version = PlatformState::read(&host.state_dir)?
            .map_or_else(|| "none".to_string(), |s| s.version.to_string());
        lines.push(format!("version {version}"));
        let locked = crate::host_lock::lock_path(&host.state_dir).exists();
        lines.push(format!("lock {}", if locked { "held" } else { "free" }));
        let current = match std::fs::read_link(host.current_link()) {
            Ok(target) => target.display().to_string(),
            Err(_) => "none".to_string(),
        };
        lines.push(format!("current {current}"));
        lines.push(format!("releases {}", tree_digest(&host.releases_dir())?));
        for shared in &host.shared {
            let dir = host.shared_dir().join(shared);
            lines.push(format!(
                "shared {} {}",
                shared.display(),
                tree_digest(&dir)?
            ));
        }
        for class in host.databases.keys() {
            let mut targets = host.discover(class)?;
            targets.sort_by(|a, b| a.name.cmp(&b.name));
            for target in targets {
                let mut conn = bascule_db::connect(&target)?;
                let version = conn.version_state()?.version();
                let schema = lines_digest(&conn.schema_dump()?);
                let content = conn.content_digest()?;
                lines.push(format!(
                    "database {class}/{} version {version} schema {schema} content {content}",
                    target.name
                ));
            }
        }
        let log = RunLog::discard();
        let scratch = std::env::temp_dir();
        let runner = Runner {
            log: &log,
            workdir: host.dir(),
            scratch: &scratch,
        };
        for spec in &host.services {
            let running = Service::new(spec, &host.https).is_running(&runner)?;
            let word = if running { "running" } else { "stopped" };
            lines.push(format!("service {} {word}", spec.name));
        }
        if let Some(flag) = host.maintenance.as_ref().and_then(|m| m.flag_file.as_ref()) {
            let flag = host.dir().join(flag);
            let word = if flag.exists() { "on" } else { "off" };
            lines.push(format!("maintenance {word}"));
        }
        let digest = lines_digest(&lines);
        lines.push(format!("digest {digest}"));
        Ok(StateDigest { lines })
    }

    /// The last line's digest: equal for equal states.
    pub fn digest(&self) -> &str {
        self.lines
            .last()
            .and_then(|l| l.strip_prefix("digest "))
            .unwrap_or("")
    }
}

impl std::fmt::Display for StateDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

fn lines_digest(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    bascule_patch::sha256_hex(text.as_bytes())
}

/// Every path under `dir`, sorted, with the sha256 of each file, the target of each link and
/// the mode of each entry; `absent` when `dir` does not exist.
fn tree_digest(dir: &Path) -> Result<String, DigestError> {
    use std::os::unix::fs::PermissionsExt as _;
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok("absent".to_string());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DigestError::Io { path, source }
    };
    let mut entries = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| DigestError::Io {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        let path = entry.path();
        let relative = path.strip_prefix(dir).unwrap_or(path).display().to_string();
        let meta = entry.metadata().map_err(|e| DigestError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let mode = meta.permissions().mode() & 0o7777;
        let what = if meta.file_type().is_symlink() {
            format!(
                "-> {}",
                std::fs::read_link(path).map_err(io(path))?.display()
            )
        } else if meta.is_file() {
            bascule_patch::sha256_hex(&std::fs::read(path).map_err(io(path))?)
        } else {
            "dir".to_string()
        };
        entries.push(format!("{relative} {mode:o} {what}"));
    }
    Ok(lines_digest(&entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_digest_sees_a_changed_byte_a_mode_and_a_link() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("releases");
        std::fs::create_dir_all(root.join("1.0.0")).unwrap();
        std::fs::write(root.join("1.0.0/VERSION"), "1.0.0\n").unwrap();
        let first = tree_digest(&root).unwrap();
        assert_eq!(first, tree_digest(&root).unwrap());
        std::fs::write(root.join("1.0.0/VERSION"), "1.0.1\n").unwrap();
        let changed = tree_digest(&root).unwrap();
        assert_ne!(first, changed);
        std::fs::set_permissions(
            root.join("1.0.0/VERSION"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert_ne!(changed, tree_digest(&root).unwrap());
        std::os::unix::fs::symlink("1.0.0", root.join("latest")).unwrap();
        assert_ne!(changed, tree_digest(&root).unwrap());
        assert_eq!(tree_digest(&dir.path().join("none")).unwrap(), "absent");
    }
}

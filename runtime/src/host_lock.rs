//! The host lock: one run at a time on a host, and no run undone while it is alive.
//!
//! The lock is the file `<state_dir>/lock`. Its *existence* says a run has not finished: it is
//! created when a run starts and removed only when the run is committed or fully undone, so a
//! run that died keeps it and nothing can start on a half-changed host before `bascule recover`
//! has put it back. Its *advisory lock* (`flock`) says whether the run is still alive: the run
//! holds it for its whole life and the kernel drops it when the process dies, however it dies.
//! A pid alone would not do: pids are reused, and a second operator's `recover` must never undo
//! a run that is only waiting (at the acceptance gate, or paused).
//!
//! The file is written complete and locked under a temporary name, then hard-linked into place:
//! `link` fails if the lock exists, so the lock never exists unlocked or half-written. What it
//! holds (run id, pid, host name, start time) is only for messages; liveness is the `flock`.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "lock";

#[derive(Debug, thiserror::Error)]
pub enum HostLockError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The lock is held by a run that is still alive.
    #[error(
        "{path}: the host is locked by {holder}, which is still running. Wait for it to finish \
         (`bascule status` shows where it is); if it must be stopped, stop that process first"
    )]
    Live { path: PathBuf, holder: Holder },
    /// The lock is held by a run that died.
    #[error(
        "{path}: the host is locked by {holder}, which is no longer running: it was interrupted. \
         Run `bascule recover` to undo what it did"
    )]
    Dead { path: PathBuf, holder: Holder },
    /// No lock: no run was interrupted.
    #[error("{path}: no lock is held, so no run was interrupted; nothing to recover")]
    Free { path: PathBuf },
}

/// Who holds the lock, as its file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub run: String,
    pub pid: Option<u32>,
    pub host: Option<String>,
    pub started: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run {}", self.run)?;
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid}")?;
            if let Some(host) = &self.host {
                write!(f, " on {host}")?;
            }
            if let Some(started) = &self.started {
                write!(f, ", started {started}")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// The lock, held by this process until it is released or the process ends.
#[derive(Debug)]
pub struct HostLock {
    path: PathBuf,
    run: String,
    /// Holds the `flock`; closing it (on drop) releases it.
    _file: File,
}

pub fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join(LOCK_FILE)
}

impl HostLock {
    /// Takes the lock for `run`; refuses if any run, alive or dead, holds it.
    pub fn take(state_dir: &Path, run: &str) -> Result<HostLock, HostLockError> {
        let path = lock_path(state_dir);
        let io = |source| HostLockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        let aside = state_dir.join(format!(".{LOCK_FILE}.{}", std::process::id()));
        let file = File::create(&aside).map_err(io)?;
        let written = write_locked(&file, run);
        let linked = written.and_then(|()| std::fs::hard_link(&aside, &path));
        // The name aside goes in every case; the lock, if linked, lives on under `path`.
        let _ = std::fs::remove_file(&aside);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(held(&path));
            }
            Err(e) => return Err(io(e)),
        }
        crate::state::sync_dir(state_dir).map_err(io)?;
        Ok(HostLock {
            path,
            run: run.to_string(),
            _file: file,
        })
    }

    /// Takes over the lock of a run that died, for `recover`: refuses while its holder lives.
    pub fn take_over(state_dir: &Path) -> Result<(HostLock, Holder), HostLockError> {
        let path = lock_path(state_dir);
        let io = |source| HostLockError::Io {
            path: path.clone(),
            source,
        };
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HostLockError::Free { path });
            }
            Err(e) => return Err(io(e)),
        };
        if !try_flock(&file).map_err(io)? {
            return Err(HostLockError::Live {
                holder: read_holder(&path).unwrap_or_default(),
                path,
            });
        }
        // Locked: but the file may have been released, and a new run's lock linked in its
        // place, between the open and the flock. Only the lock still under `path` counts.
        let same = std::fs::metadata(&path).ok().zip(file.metadata().ok());
        if same.is_none_or(|(now, opened)| now.ino() != opened.ino()) {
            return Err(held(&path));
        }
        let holder = read_holder(&path).ok_or_else(|| HostLockError::Io {
            path: path.clone(),
            source: std::io::Error::other("the lock file does not name a run"),
        })?;
        let lock = HostLock {
            path,
            run: holder.run.clone(),
            _file: file,
        };
        Ok((lock, holder))
    }

    /// Removes the lock file, if it is still this run's, then drops the `flock`: the file never
    /// exists unlocked while its run lives.
    pub fn release(self) -> Result<(), HostLockError> {
        release_file(&self.path, &self.run)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes the lock file at `path` only if `run` holds it: a lock taken since by another run is
/// left alone. For an undo read from a journal, whose process is gone.
pub fn release_file(path: &Path, run: &str) -> Result<(), HostLockError> {
    if read_holder(path).map(|h| h.run).as_deref() != Some(run) {
        return Ok(());
    }
    std::fs::remove_file(path).map_err(|source| HostLockError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Why a run cannot start while the lock at `path` exists: its holder, alive or dead.
pub fn held(path: &Path) -> HostLockError {
    let holder = read_holder(path).unwrap_or_default();
    let path = path.to_path_buf();
    match is_alive(&path) {
        Some(true) => HostLockError::Live { path, holder },
        _ => HostLockError::Dead { path, holder },
    }
}

/// Whether the run holding the lock at `path` is still alive (`None`: no lock to ask).
pub fn is_alive(path: &Path) -> Option<bool> {
    let file = File::open(path).ok()?;
    // Taking the flock to ask would keep it for as long as the file is open: it is closed at once.
    try_flock(&file).ok().map(|got| !got)
}

/// Who holds the lock at `path`, if it exists and names a run.
pub fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(" = "))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    Some(Holder {
        run: value("run")?,
        pid: value("pid").and_then(|p| p.parse().ok()),
        host: value("host"),
        started: value("started"),
    })
}

/// This machine's name, as uname(2) gives it.
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

fn write_locked(mut file: &File, run: &str) -> std::io::Result<()> {
    if !try_flock(file)? {
        return Err(std::io::Error::other("the new lock file is locked already"));
    }
    let content = format!(
        "run = \"{run}\"\npid = {}\nhost = \"{}\"\nstarted = \"{}\"\n",
        std::process::id(),
        hostname(),
        chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

/// Takes the exclusive `flock` of `file` without waiting: `false` if another process holds it.
fn try_flock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_alive_and_cannot_be_taken_or_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = HostLock::take(dir.path(), "r1").unwrap();
        assert_eq!(is_alive(lock.path()), Some(true));
        let holder = read_holder(lock.path()).unwrap();
        assert_eq!(holder.run, "r1");
        assert_eq!(holder.pid, Some(std::process::id()));
        assert!(matches!(
            HostLock::take(dir.path(), "r2"),
            Err(HostLockError::Live { .. })
        ));
        let refused = HostLock::take_over(dir.path()).unwrap_err();
        assert!(refused.to_string().contains("still running"), "{refused}");
        lock.release().unwrap();
        assert!(!lock_path(dir.path()).exists());
        assert!(matches!(
            HostLock::take_over(dir.path()),
            Err(HostLockError::Free { .. })
        ));
    }

    #[test]
    fn the_lock_of_a_dead_run_stays_and_can_be_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A run that dies: its file stays, its flock goes with its open file.
        drop(HostLock::take(dir.path(), "r1").unwrap());
        let path = lock_path(dir.path());
        assert_eq!(is_alive(&path), Some(false));
        let refused = HostLock::take(dir.path(), "r2").unwrap_err();
        assert!(refused.to_string().contains("bascule recover"), "{refused}");
        let (lock, holder) = HostLock::take_over(dir.path()).unwrap();
        assert_eq!(holder.run, "r1");
        assert_eq!(
            is_alive(&path),
            Some(true),
            "the recovering run holds it now"
        );
        lock.release().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn releasing_leaves_another_runs_lock_alone() {
        let dir = tempfile::tempdir().unwrap();
        let lock = HostLock::take(dir.path(), "r2").unwrap();
        release_file(lock.path(), "r1").unwrap();
        assert!(lock.path().exists());
    }
}

//! `[guards]` of the host profile: what must be true of this host before a release starts —
//! a fresh enough backup, and room on the platform's and the state directory's disks.
//!
//! The seed's first prerequisite is a recent copy of the data elsewhere: the last line of
//! defence if everything goes wrong. Bascule cannot take that backup (it belongs to the host's
//! own tooling), but it can refuse to start when the newest one is too old: the newest file
//! under a directory (`newest_under`), or the time a command prints (`command`: Unix seconds or
//! RFC 3339, for backups that live elsewhere). A full disk half-way through a release is the
//! other classic: so the platform's filesystem must have `min_free` left *after* the new
//! release's code is copied in, and the state directory `min_free_state`.
//!
//! These are read-only checks, made by `preflight` (and shown by `plan`); each refuses the run
//! unless the operator writes why it is safe (`--allow-stale-backup`, `--allow-low-disk`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// The host profile's `[guards]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    /// Space that must stay free on the platform root's filesystem once the release's code is
    /// in place (`"2 GiB"`). Default: none beyond the code itself.
    pub min_free: Option<bytesize::ByteSize>,
    /// Space that must be free on the state directory's filesystem (`"256 MiB"`): run logs,
    /// journals, samples. Default: none beyond the undo's reserve.
    pub min_free_state: Option<bytesize::ByteSize>,
    /// `[guards.backup]`: how fresh the newest backup must be.
    pub backup: Option<BackupSpec>,
}

/// Where to learn when the last backup was made, and how old it may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// A directory: the newest regular file anywhere under it is the last backup.
    pub newest_under: Option<PathBuf>,
    /// A shell command printing the last backup's time (Unix seconds or RFC 3339).
    pub command: Option<String>,
    /// The oldest a backup may be (`"26h"`, `"2days"`).
    #[serde(with = "duration_text")]
    pub max_age: Duration,
}

/// `max_age` read as humantime writes it ("26h", "2days").
mod duration_text {
    use serde::{Deserialize as _, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration ({e}); write e.g. \"26h\" or \"2days\""
            ))
        })
    }
}

impl GuardSpec {
    /// Resolves relative paths against the profile's directory; checks the backup source.
    pub fn check_and_resolve(&mut self, base: &Path) -> Result<(), String> {
        if let Some(backup) = &mut self.backup {
            match (&backup.newest_under, &backup.command) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(
                        "guards.backup: give either `newest_under` (a directory) or `command` \
                         (printing the last backup's time), one of the two"
                            .into(),
                    )
                }
                _ => {}
            }
            if let Some(dir) = &mut backup.newest_under {
                if dir.is_relative() {
                    *dir = base.join(&*dir);
                }
            }
        }
        Ok(())
    }
}

/// When the last backup was made, and what says so (for messages).
#[derive(Debug, Clone)]
pub struct LastBackup {
    pub at: SystemTime,
    pub source: String,
}

impl BackupSpec {
    /// When the newest backup was made; the error says why it cannot be told.
    pub fn last_backup(&self, base: &Path) -> Result<LastBackup, String> {
        match (&self.newest_under, &self.command) {
            (Some(dir), _) => newest_file(dir),
            (None, Some(command)) => time_printed_by(command, base),
            (None, None) => Err("guards.backup names no source".into()),
        }
    }

    /// Why the backup is too old or unknown, or `None` when it is fresh enough.
    pub fn staleness(&self, base: &Path, now: SystemTime) -> Option<String> {
        let last = match self.last_backup(base) {
            Ok(last) => last,
            Err(why) => return Some(format!("the last backup's time is unknown: {why}")),
        };
        let age = now.duration_since(last.at).unwrap_or_default();
        (age > self.max_age).then(|| {
            format!(
                "the newest backup ({}) is {} old, more than the {} the host profile allows \
                 ([guards.backup] max_age)",
                last.source,
                human(age),
                human(self.max_age)
            )
        })
    }
}

/// A duration to the minute, as humantime writes it.
fn human(age: Duration) -> String {
    humantime::format_duration(Duration::from_secs(age.as_secs() / 60 * 60)).to_string()
}

fn newest_file(dir: &Path) -> Result<LastBackup, String> {
    if !dir.is_dir() {
        return Err(format!(
            "{} is not a directory ([guards.backup] newest_under)",
            dir.display()
        ));
    }
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let modified = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .ok_or_else(|| format!("{}: no modification time", entry.path().display()))?;
        if newest.as_ref().is_none_or(|(at, _)| modified > *at) {
            newest = Some((modified, entry.into_path()));
        }
    }
    let (at, path) = newest.ok_or_else(|| {
        format!(
            "{} holds no file: no backup was ever made there ([guards.backup] newest_under)",
            dir.display()
        )
    })?;
    Ok(LastBackup {
        at,
        source: path.display().to_string(),
    })
}

/// How long `[guards.backup] command` may take to say when the last backup was made.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

fn time_printed_by(command: &str, base: &Path) -> Result<LastBackup, String> {
    let script = format!("cd {} && {command}", shell_quote(base));
    let output = crate::child::run_bounded("sh", &["-c".into(), script], COMMAND_TIMEOUT)
        .map_err(|why| format!("[guards.backup] command: {why}"))?;
    let line = output.lines().map(str::trim).find(|l| !l.is_empty());
    let at = line.and_then(parse_time).ok_or_else(|| {
        format!(
            "[guards.backup] command `{command}` printed no time (Unix seconds or RFC 3339) on its \
             first line"
        )
    })?;
    Ok(LastBackup {
        at,
        source: format!("as `{command}` says"),
    })
}

fn parse_time(text: &str) -> Option<SystemTime> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let seconds = u64::try_from(date.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Bytes available to this process on the filesystem holding `path` (or its nearest existing
/// ancestor: a state directory may not exist yet).
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let existing = path
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let stat = rustix::fs::statvfs(existing)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml: &str) -> Result<GuardSpec, String> {
        let mut spec: GuardSpec = toml::from_str(toml).map_err(|e| e.message().to_string())?;
        spec.check_and_resolve(Path::new("/srv/host"))?;
        Ok(spec)
    }

    #[test]
    fn sizes_and_ages_read_as_operators_write_them() {
        let spec = spec(
            "min_free = \"2 GiB\"\nmin_free_state = \"256MiB\"\n\
             [backup]\nnewest_under = \"backups\"\nmax_age = \"26h\"\n",
        )
        .unwrap();
        assert_eq!(spec.min_free.unwrap().as_u64(), 2 << 30);
        assert_eq!(spec.min_free_state.unwrap().as_u64(), 256 << 20);
        let backup = spec.backup.unwrap();
        assert_eq!(backup.max_age, Duration::from_secs(26 * 3600));
        assert_eq!(
            backup.newest_under.as_deref(),
            Some(Path::new("/srv/host/backups"))
        );
    }

    #[test]
    fn a_backup_needs_exactly_one_source_and_a_readable_age() {
        let error = spec("[backup]\nmax_age = \"1d\"\n").unwrap_err();
        assert!(error.contains("either `newest_under`"), "{error}");
        let error = spec("[backup]\ncommand = \"x\"\nmax_age = \"a day\"\n").unwrap_err();
        assert!(error.contains("`a day` is not a duration"), "{error}");
    }

    #[test]
    fn the_newest_file_under_a_directory_dates_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("2026-12-01.sql.gz");
        std::fs::create_dir(dir.path().join("db")).unwrap();
        let new = dir.path().join("db/2026-12-05.sql.gz");
        std::fs::write(&old, "x").unwrap();
        std::fs::write(&new, "x").unwrap();
        let day = Duration::from_secs(86_400);
        let now = SystemTime::now();
        let set = |path: &Path, at: SystemTime| {
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(at)
                .unwrap()
        };
        set(&old, now - 5 * day);
        set(&new, now - 2 * day);
        let backup = BackupSpec {
            newest_under: Some(dir.path().to_path_buf()),
            command: None,
            max_age: day,
        };
        let why = backup.staleness(dir.path(), now).unwrap();
        assert!(
            why.contains("2026-12-05.sql.gz") && why.contains("2days"),
            "{why}"
        );
        let lenient = BackupSpec {
            max_age: 3 * day,
            ..backup
        };
        assert_eq!(lenient.staleness(dir.path(), now), None);
    }

    #[test]
    fn a_command_dates_the_backup_in_unix_seconds_or_rfc_3339() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let hour_ago = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 3600;
        let backup = |command: String| BackupSpec {
            newest_under: None,
            command: Some(command),
            max_age: Duration::from_secs(7200),
        };
        assert_eq!(
            backup(format!("echo {hour_ago}")).staleness(dir.path(), now),
            None
        );
        let why = backup("echo 2020-01-01T00:00:00Z".into())
            .staleness(dir.path(), now)
            .unwrap();
        assert!(why.contains("old, more than the 2h"), "{why}");
        let why = backup("echo never".into())
            .staleness(dir.path(), now)
            .unwrap();
        assert!(why.contains("printed no time"), "{why}");
        let why = backup("true".into()).staleness(dir.path(), now).unwrap();
        assert!(why.contains("unknown"), "{why}");
    }

    #[test]
    fn free_space_is_asked_of_the_nearest_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(&dir.path().join("not/yet/made")).unwrap();
        assert!(free > 0);
    }
}

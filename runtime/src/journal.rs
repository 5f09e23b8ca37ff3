//! The run journal, `journal.jsonl`: what the run did, in a form a program can replay.
//!
//! The journal is written **ahead**: a step records the [`Intent`] of an action — with everything
//! its undo will need — and the record is fsync'd before the action starts. So whatever kills the
//! run (SSH cut, `kill -9`, power loss), the journal on disk names every action that may have
//! happened, and `bascule recover` can undo them. Undos are idempotent, so undoing an intent whose
//! action never happened is harmless.
//!
//! One JSON object per line. A torn last line (the crash hit mid-write) is ignored on reading: its
//! action had not started, since actions start only after their record is synced.
//!
//! The process writing a journal holds its `flock` for as long as it has it open, from before
//! the run's first record to after its report: [`writer_alive`] tells a run that is still going
//! (at a step, waiting for a lock, at the acceptance gate) from one that ended or died, however
//! it died, which is how `bascule log --follow` knows when to stop. The host lock cannot say it:
//! a run holds that only from its guard step to its commit or undo.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::state::PlatformState;
use bascule_db::DbTarget;

pub const JOURNAL_FILE: &str = "journal.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a journal record: {what}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        what: String,
    },
}

/// What kind of run a journal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    Apply,
    /// The undo of a committed apply; its journal names the run it undoes.
    Rollback,
    /// `bascule migrate`: the database part of an apply only, under database-side locks.
    Migrate,
}

impl RunKind {
    const ALL: [RunKind; 3] = [RunKind::Apply, RunKind::Rollback, RunKind::Migrate];

    /// The kind as a run id ends with it: `<time>-<version>-<kind>`, perhaps followed by `.<n>`
    /// when several runs start in the same second.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Apply => "apply",
            RunKind::Rollback => "rollback",
            RunKind::Migrate => "migrate",
        }
    }

    /// The kind a run id names (see [`RunKind::as_str`]).
    pub fn of_run_id(id: &str) -> Option<RunKind> {
        let id = match id.rsplit_once('.') {
            Some((base, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => base,
            _ => id,
        };
        let (_, kind) = id.rsplit_once('-')?;
        RunKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

/// A database's state before the migrate step touched it: what its undo goes back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbStart {
    pub target: DbTarget,
    pub version: u32,
    /// Whether the version table existed; if not, the undo drops the one the run created.
    pub had_version_table: bool,
}

/// An action about to happen, with what its undo needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Intent {
    /// The run takes the host lock.
    Lock { path: PathBuf, run: String },
    /// A new release directory is created (and removed by the undo).
    CreateRelease { dir: PathBuf, partial: PathBuf },
    /// `link` is switched from `previous` (none: it did not exist) to `next`.
    SwitchCurrent {
        link: PathBuf,
        previous: Option<PathBuf>,
        next: PathBuf,
    },
    /// These databases are migrated by run `run` from the versions they are at now.
    Migrate {
        databases: Vec<DbStart>,
        /// The migrating run, as its version rows name it ([`bascule_db::Stamp`]): the undo
        /// undoes nothing once another run has migrated on top of it. `None` in journals
        /// written before it was recorded.
        #[serde(default)]
        run: Option<String>,
    },
    /// `platform.toml` is rewritten (`previous`: none, it did not exist).
    RecordVersion {
        previous: Option<PlatformState>,
        next: PlatformState,
    },
    /// The host profile's service `name` is about to be stopped; the undo starts it again only
    /// if it `was_running`.
    StopService { name: String, was_running: bool },
    /// The host profile's service `name` is about to be started; the undo stops it.
    StartService { name: String },
    /// The maintenance page is about to be shown (`open`) or taken down; the undo does the
    /// opposite, with the host profile's `[maintenance]`.
    Maintenance { open: bool },
    /// The host profile's caches are about to be purged; the undo purges them again.
    PurgeCaches,
}

impl Intent {
    /// The intent as the run log shows it: as recorded, except that the databases of a
    /// migration are counted, not listed (thousands of them would make one line of megabytes;
    /// the journal has them all).
    pub fn for_log(&self) -> String {
        match self {
            Intent::Migrate { databases, .. } => format!(
                "Migrate {{ {} database(s), each with its starting version in the journal }}",
                databases.len()
            ),
            other => format!("{other:?}"),
        }
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    RunStart {
        run: String,
        kind: RunKind,
        version: String,
        /// The digest of the bundle's manifest: `rollback` and `recover` insist on the same bundle.
        bundle_digest: String,
        /// For a rollback: the run it undoes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undoes: Option<String>,
        /// Who started it (the login name) and on which host: the intervention sheet's first
        /// lines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hostname: Option<String>,
        at: String,
    },
    StepStart {
        step: String,
        at: String,
    },
    Intent {
        step: String,
        intent: Intent,
        at: String,
    },
    StepDone {
        step: String,
        at: String,
        ms: u64,
    },
    StepFailed {
        step: String,
        at: String,
        ms: u64,
        error: String,
    },
    UndoStart {
        step: String,
        at: String,
    },
    UndoDone {
        step: String,
        at: String,
        ms: u64,
    },
    UndoFailed {
        step: String,
        at: String,
        error: String,
    },
    /// The acceptance gate's decision (`accept`, `abort`, `timeout`), as the waiting run read it.
    Acceptance {
        decision: String,
        by: String,
        at: String,
    },
    /// The run starts waiting for a person at `gate` (`acceptance`, `checklist <n>`; see
    /// `gate`).
    Waiting {
        gate: String,
        at: String,
    },
    /// A checklist item of the patch at its step: `confirmed` by whom (`--yes` when the
    /// operator confirmed them all in advance), or only `shown` (not a manual item).
    Checklist {
        item: usize,
        text: String,
        answer: String,
        by: String,
        at: String,
    },
    /// A test-book case's result (`passed`, `failed`, `skipped`), recorded at the acceptance
    /// gate (`bascule accept --case`).
    TestCase {
        case: usize,
        result: String,
        by: String,
        at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Every step succeeded: from here on the run is kept, and only `rollback` undoes it.
    RunCommitted {
        at: String,
    },
    /// Every started step was undone: the host is as it was before the run.
    RunRolledBack {
        at: String,
    },
}

/// The ids of the runs under `state_dir` (those with a journal), in the order they started.
pub fn run_ids(state_dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(crate::state::runs_dir(state_dir))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join(JOURNAL_FILE).is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // Run ids start with their start time to the second: sorted, they are in the order the runs
    // started — but for runs started in the same second (a `migrate` and the `apply` right
    // after it), which the start record of their journals orders to the millisecond.
    let stamp = |id: &str| id.split('-').next().unwrap_or_default().to_string();
    let mut seconds = std::collections::BTreeMap::<String, usize>::new();
    for id in &ids {
        *seconds.entry(stamp(id)).or_default() += 1;
    }
    let runs = crate::state::runs_dir(state_dir);
    ids.sort_by_cached_key(|id| {
        let second = stamp(id);
        let started = (seconds[&second] > 1)
            .then(|| started_at(&runs.join(id).join(JOURNAL_FILE)))
            .flatten();
        (second, started, id.clone())
    });
    ids
}

/// When the run of `journal` started, from its first record.
fn started_at(journal: &Path) -> Option<String> {
    let mut first = String::new();
    BufReader::new(File::open(journal).ok()?)
        .read_line(&mut first)
        .ok()?;
    match serde_json::from_str(&first).ok()? {
        Event::RunStart { at, .. } => Some(at),
        _ => None,
    }
}

/// An append-only journal; every append is fsync'd before it returns.
///
/// A run that cannot write its journal must stop and undo, and the undo must be able to write
/// too: so a run first reserves room beside its journal ([`Journal::reserve`]), and the first
/// append that fails (a full disk) gives that room back before it reports the failure. A failed
/// append is cut off, so the journal never holds half a record.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    /// The files holding the reserved room, removed when it is needed or the journal closes.
    reserve: Mutex<Vec<PathBuf>>,
}

/// The room a run reserves for its undo's records and log lines.
pub const RESERVE_BYTES: u64 = 4 << 20;

impl Journal {
    /// Opens the journal at `path` for appending, creating it if needed. A torn last record
    /// (the previous writer died mid-line) is cut off first, so new records start on a line of
    /// their own; it was never acted upon, since actions wait for their record to be synced.
    pub fn create(path: &Path) -> Result<Journal, JournalError> {
        cut_torn_tail(path).map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        hold_as_writer(&file);
        if let Some(dir) = path.parent() {
            crate::state::sync_dir(dir).map_err(|source| JournalError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            reserve: Mutex::new(Vec::new()),
        })
    }

    /// Reserves [`RESERVE_BYTES`] beside the journal and in each of `elsewhere` that lies on
    /// another filesystem (the platform root, the SQLite databases' directories: an undo
    /// writes there too, a SQLite down needs room for its rollback journal), allocated, not
    /// sparse; or says which directory lacks the room an undo needs.
    pub fn reserve(&self, elsewhere: &[PathBuf]) -> Result<(), JournalError> {
        let mut held: Vec<PathBuf> = Vec::new();
        let mut devices = Vec::new();
        let beside = self.path.with_file_name("undo-reserve");
        let others = elsewhere
            .iter()
            .map(|dir| dir.join(".bascule-undo-reserve"));
        for path in std::iter::once(beside).chain(others) {
            let dir = path.parent().unwrap_or(Path::new("."));
            let Ok(device) = std::fs::metadata(dir).map(|m| m.dev()) else {
                continue; // not made yet: nothing there to undo
            };
            if devices.contains(&device) {
                continue;
            }
            devices.push(device);
            if let Err(e) = allocate(&path) {
                let _ = std::fs::remove_file(&path);
                held.into_iter().for_each(|p| drop(std::fs::remove_file(p)));
                return Err(JournalError::Io {
                    path: path.clone(),
                    source: std::io::Error::new(
                        e.kind(),
                        format!(
                            "cannot reserve {} MiB for the undo ({e}): free space in {}, then \
                             run again",
                            RESERVE_BYTES >> 20,
                            dir.display()
                        ),
                    ),
                });
            }
            held.push(path);
        }
        *lock(&self.reserve) = held;
        Ok(())
    }

    /// Gives the reserved room back, for the undo to write in: when a step fails, or an
    /// append does.
    pub fn release_reserve(&self) {
        for path in std::mem::take(&mut *lock(&self.reserve)) {
            let _ = std::fs::remove_file(path);
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event and waits until it is on disk.
    pub fn append(&self, event: &Event) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_string(event).map_err(|e| JournalError::Corrupt {
            path: self.path.clone(),
            line: 0,
            what: e.to_string(),
        })?;
        line.push('\n');
        let mut file = lock(&self.file);
        let before = file.metadata().map_err(io)?.len();
        let written = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Not half a record: a reader would take it for the torn tail of a killed run.
            let _ = file.set_len(before);
            drop(file);
            self.release_reserve();
            return Err(io(e));
        }
        Ok(())
    }

    /// Reads every complete record; a torn final line is dropped.
    pub fn read(path: &Path) -> Result<Vec<Event>, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(io)?;
        let mut events = Vec::with_capacity(lines.len());
        for (index, line) in lines.iter().enumerate() {
            match serde_json::from_str(line) {
                Ok(event) => events.push(event),
                Err(_) if index + 1 == lines.len() => break,
                Err(e) => {
                    return Err(JournalError::Corrupt {
                        path: path.to_path_buf(),
                        line: index + 1,
                        what: e.to_string(),
                    })
                }
            }
        }
        Ok(events)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.release_reserve();
    }
}

/// Takes the `flock` of the journal `file` for its writer, kept until the file is closed. A
/// reader ([`writer_alive`]) holds it only for an instant, so a short wait gets it; if it cannot
/// be had (a reader stopped while holding it, a filesystem without `flock`), the run goes on
/// all the same: only a follower relies on it, never the run or its undo.
fn hold_as_writer(file: &File) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
        if std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Whether a live process still writes the journal at `path` (`None`: there is no journal, or
/// its lock cannot be asked).
pub fn writer_alive(path: &Path) -> Option<bool> {
    let file = File::open(path).ok()?;
    // Taking the flock to ask keeps it only until the file is closed, at once.
    match file.try_lock() {
        Ok(()) => Some(false),
        Err(std::fs::TryLockError::WouldBlock) => Some(true),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// `RESERVE_BYTES` allocated at `path`, on disk.
fn allocate(path: &Path) -> std::io::Result<()> {
    let file = File::create(path)?;
    rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, RESERVE_BYTES)?;
    file.sync_all()
}

fn cut_torn_tail(path: &Path) -> std::io::Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if bytes.last().is_none_or(|b| *b == b'\n') {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(keep as u64)?;
    file.sync_all()
}

/// Now, as journal and report timestamps write it.
pub fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// What a journal says about the steps of its run, in the order they started.
#[derive(Debug, Clone, Default)]
pub struct StepHistory {
    pub name: String,
    pub intents: Vec<Intent>,
    pub done: bool,
    pub undone: bool,
}

/// Summarises a journal: its start record, the steps with their intents, and the run's end.
#[derive(Debug, Clone)]
pub struct RunHistory {
    pub start: Option<Event>,
    pub steps: Vec<StepHistory>,
    pub committed: bool,
    pub rolled_back: bool,
}

impl RunHistory {
    pub fn from_events(events: &[Event]) -> RunHistory {
        let mut history = RunHistory {
            start: None,
            steps: Vec::new(),
            committed: false,
            rolled_back: false,
        };
        for event in events {
            match event {
                Event::RunStart { .. } => history.start = Some(event.clone()),
                Event::StepStart { step, .. } => history.steps.push(StepHistory {
                    name: step.clone(),
                    ..StepHistory::default()
                }),
                Event::Intent { step, intent, .. } => {
                    if let Some(s) = history.step_mut(step) {
                        s.intents.push(intent.clone());
                    }
                }
                Event::StepDone { step, .. } => {
                    if let Some(s) = history.step_mut(step) {
                        s.done = true;
                    }
                }
                Event::UndoDone { step, .. } => {
                    if let Some(s) = history.step_mut(step) {
                        s.undone = true;
                    }
                }
                Event::RunCommitted { .. } => history.committed = true,
                Event::RunRolledBack { .. } => history.rolled_back = true,
                Event::StepFailed { .. }
                | Event::Waiting { .. }
                | Event::Checklist { .. }
                | Event::TestCase { .. }
                | Event::UndoStart { .. }
                | Event::UndoFailed { .. }
                | Event::Acceptance { .. } => {}
            }
        }
        history
    }

    fn step_mut(&mut self, name: &str) -> Option<&mut StepHistory> {
        self.steps.iter_mut().rev().find(|s| s.name == name)
    }

    /// The run id and bundle digest recorded at its start.
    pub fn run_and_digest(&self) -> Option<(&str, &str)> {
        match &self.start {
            Some(Event::RunStart {
                run, bundle_digest, ..
            }) => Some((run, bundle_digest)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn torn_write(path: &Path, bytes: &[u8]) {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    #[test]
    fn a_run_id_names_its_kind() {
        let of = RunKind::of_run_id;
        assert_eq!(of("20261122T003324-2.1.0-migrate"), Some(RunKind::Migrate));
        assert_eq!(
            of("20261122T003324-2.1.0-migrate.2"),
            Some(RunKind::Migrate)
        );
        assert_eq!(of("20261122T003324-2.0.0-apply"), Some(RunKind::Apply));
        assert_eq!(
            of("20261122T003324-2.0.0-rollback.3"),
            Some(RunKind::Rollback)
        );
        assert_eq!(of("killed-run"), None);
    }

    #[test]
    fn runs_started_in_the_same_second_are_listed_in_the_order_they_started() {
        let state = tempfile::tempdir().unwrap();
        let runs = crate::state::runs_dir(state.path());
        let start = |id: &str, kind: RunKind, at: &str| {
            std::fs::create_dir_all(runs.join(id)).unwrap();
            let journal = Journal::create(&runs.join(id).join(JOURNAL_FILE)).unwrap();
            journal
                .append(&Event::RunStart {
                    run: id.into(),
                    kind,
                    version: "2.0.0".into(),
                    bundle_digest: "d".into(),
                    undoes: None,
                    operator: None,
                    hostname: None,
                    at: at.into(),
                })
                .unwrap();
        };
        // By name, `apply` comes before `migrate`; the migrate started first.
        start(
            "20261207T061500-2.0.0-apply",
            RunKind::Apply,
            "2026-12-07T06:15:00.800+00:00",
        );
        start(
            "20261207T061500-2.0.0-migrate",
            RunKind::Migrate,
            "2026-12-07T06:15:00.100+00:00",
        );
        start(
            "20261207T061459-1.0.0-apply",
            RunKind::Apply,
            "2026-12-07T06:14:59.900+00:00",
        );
        assert_eq!(
            run_ids(state.path()),
            [
                "20261207T061459-1.0.0-apply",
                "20261207T061500-2.0.0-migrate",
                "20261207T061500-2.0.0-apply"
            ]
        );
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_cut_off_when_the_journal_is_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let start = Event::StepStart {
            step: "guard".into(),
            at: now(),
        };
        Journal::create(&path).unwrap().append(&start).unwrap();
        torn_write(&path, b"{\"event\":\"step-do");
        assert_eq!(Journal::read(&path).unwrap(), vec![start.clone()]);

        let reopened = Journal::create(&path).unwrap();
        reopened.append(&start).unwrap();
        assert_eq!(Journal::read(&path).unwrap(), vec![start.clone(), start]);
    }

    #[test]
    fn the_log_counts_a_migration_s_databases_instead_of_listing_them() {
        let start = |n: u32| DbStart {
            target: bascule_db::DbTarget {
                class: "site".into(),
                name: format!("site_{n}"),
                location: bascule_db::Location::SqliteFile(format!("/srv/site_{n}.db").into()),
            },
            version: 1,
            had_version_table: true,
        };
        let migrate = Intent::Migrate {
            databases: (0..3000).map(start).collect(),
            run: Some("r".into()),
        };
        assert_eq!(
            migrate.for_log(),
            "Migrate { 3000 database(s), each with its starting version in the journal }"
        );
        let other = Intent::StartService { name: "php".into() };
        assert_eq!(other.for_log(), format!("{other:?}"));
    }

    #[test]
    fn a_journal_is_alive_while_its_writer_has_it_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        assert_eq!(writer_alive(&path), None);
        let journal = Journal::create(&path).unwrap();
        assert_eq!(writer_alive(&path), Some(true));
        assert_eq!(writer_alive(&path), Some(true), "asking does not keep it");
        drop(journal);
        assert_eq!(writer_alive(&path), Some(false));
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let journal = Journal::create(&path).unwrap();
        let start = Event::StepStart {
            step: "guard".into(),
            at: now(),
        };
        journal.append(&start).unwrap();
        torn_write(&path, b"not json\n");
        journal.append(&start).unwrap();
        let err = Journal::read(&path).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn history_groups_intents_under_their_step() {
        let intent = Intent::Lock {
            path: "/x/lock".into(),
            run: "r1".into(),
        };
        let events = vec![
            Event::StepStart {
                step: "guard".into(),
                at: now(),
            },
            Event::Intent {
                step: "guard".into(),
                intent: intent.clone(),
                at: now(),
            },
            Event::StepDone {
                step: "guard".into(),
                at: now(),
                ms: 1,
            },
            Event::StepStart {
                step: "preflight".into(),
                at: now(),
            },
        ];
        let history = RunHistory::from_events(&events);
        assert_eq!(history.steps.len(), 2);
        assert_eq!(history.steps[0].intents, vec![intent]);
        assert!(history.steps[0].done);
        assert!(!history.steps[1].done);
        assert!(!history.committed);
    }
}

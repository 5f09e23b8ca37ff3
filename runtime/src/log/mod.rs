//! `bascule log`: a run's `update.log` — printed, followed as it is written — and what its
//! times say.
//!
//! Like `bascule status` it reads the state directory only (no bundle, no database), so it
//! answers while a run holds every lock, and on a copy of a run directory (a rehearsal's, brought
//! back from its guest) as well as on the host. One file per view:
//!
//! - [`follow`]: the log as the run appends to it, until the run's process is gone; then how the
//!   run ended ([`Ending`]), read from its journal, its report and the host lock.
//! - [`timings`]: how long each step took (the journal's `ms`), each database (the migrate
//!   step's `<class>/<name>: migrated in <ms> ms` line) and each migration statement (from its
//!   line to the database's next one, or the time a MariaDB line carries).
//! - [`slowest`]: those times ranked; [`compare`]: two runs side by side.

mod compare;
mod follow;
mod slowest;
mod timings;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::host_lock::{self, read_holder};
use crate::journal::{run_ids, JournalError, JOURNAL_FILE};
use crate::state::runs_dir;
use bascule_runlog::LOG_FILE;

pub use compare::{Change, Comparison};
pub use follow::{ending, ending_of, follow, Ending};
pub use slowest::Slowest;
pub use timings::{StatementTime, Timed, Timings};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(
        "no run `{run}` in {runs}: `bascule status --last 20` lists this host's runs; a run \
         directory copied elsewhere is given as a path (with a `/`)"
    )]
    UnknownRun { run: String, runs: PathBuf },
    #[error("{runs}: no run yet on this host (`bascule status` says whether one is going on)")]
    NoRun { runs: PathBuf },
    #[error("{dir}: not a run directory (it holds neither {JOURNAL_FILE} nor {LOG_FILE})")]
    NotARun { dir: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the log out: {0}")]
    Output(std::io::Error),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A run's directory, found by its id in the state directory or given as a path.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// How the run is named in what `bascule log` prints: its id, or the path as given.
    pub name: String,
    pub dir: PathBuf,
    /// The host lock this run may hold: `<state_dir>/lock`, when the run is under a state
    /// directory's `runs/`.
    lock: Option<PathBuf>,
}

impl RunDir {
    /// Whether `run` names a run directory rather than a run id: a path with a `/`, or a
    /// directory here that holds a journal or a log. A run id never has a `/`.
    pub fn is_path(run: &str) -> bool {
        let dir = Path::new(run);
        run.contains('/') || dir.join(JOURNAL_FILE).is_file() || dir.join(LOG_FILE).is_file()
    }

    /// The run `run` names — an id under `state_dir`, or a directory ([`RunDir::is_path`]) — or,
    /// without `run`, the newest run under `state_dir`.
    pub fn find(state_dir: &Path, run: Option<&str>) -> Result<RunDir, LogError> {
        let runs = runs_dir(state_dir);
        let id = match run {
            Some(run) if RunDir::is_path(run) => return RunDir::at(run),
            Some(run) => run.to_string(),
            None => run_ids(state_dir)
                .pop()
                .ok_or_else(|| LogError::NoRun { runs: runs.clone() })?,
        };
        let dir = runs.join(&id);
        if id.is_empty() || !dir.is_dir() {
            return Err(LogError::UnknownRun { run: id, runs });
        }
        Ok(RunDir {
            name: id,
            dir,
            lock: Some(host_lock::lock_path(state_dir)),
        })
    }

    /// The run directory at the path `run`.
    pub fn at(run: &str) -> Result<RunDir, LogError> {
        let dir = PathBuf::from(run);
        if !dir.join(JOURNAL_FILE).is_file() && !dir.join(LOG_FILE).is_file() {
            return Err(LogError::NotARun { dir });
        }
        // `<state_dir>/runs/<id>`: the host lock, if this is a host's own state directory.
        let lock = dir
            .canonicalize()
            .ok()
            .and_then(|dir| dir.parent().map(Path::to_path_buf))
            .filter(|runs| runs.file_name().is_some_and(|name| name == "runs"))
            .and_then(|runs| runs.parent().map(host_lock::lock_path));
        Ok(RunDir {
            name: run.to_string(),
            dir,
            lock,
        })
    }

    /// The run's id, as its directory is named (and as the host lock names a run).
    pub fn id(&self) -> String {
        self.dir
            .canonicalize()
            .unwrap_or_else(|_| self.dir.clone())
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    /// Writes the run's `update.log` to `out`. A reader that goes away (`| head`) ends it quietly.
    pub fn print_log(&self, out: &mut dyn Write) -> Result<(), LogError> {
        let path = self.log_path();
        let mut file = std::fs::File::open(&path).map_err(|source| LogError::Io {
            path: path.clone(),
            source,
        })?;
        match std::io::copy(&mut file, out).and_then(|_| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(LogError::Output(e)),
            Ok(()) => Ok(()),
        }
    }

    /// Whether the host lock names this run (alive or not).
    fn named_by_lock(&self) -> bool {
        self.lock
            .as_deref()
            .and_then(read_holder)
            .is_some_and(|holder| holder.run == self.id())
    }

    /// Whether the run's process still lives: it holds its journal's `flock` (from before its
    /// first record to after its report), or — for a run made by a runtime older than that —
    /// the host lock names it and its `flock` is held.
    fn alive(&self) -> bool {
        if crate::journal::writer_alive(&self.journal_path()) == Some(true) {
            return true;
        }
        self.named_by_lock()
            && self
                .lock
                .as_deref()
                .and_then(host_lock::is_alive)
                .unwrap_or(false)
    }
}

/// `ms` as a person reads a duration: `812 ms`, `4.2 s`, `3 min 07 s`, `1 h 02 min`.
pub(crate) fn human(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {:02} s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{} h {:02} min", ms / 3_600_000, ms / 60_000 % 60),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::journal::{Event, Journal, RunKind};

    /// A state directory with runs written by hand: each a journal and an update.log, whose
    /// times are fixed, so what is printed is the same at every run of the tests.
    pub(crate) struct Fixture {
        pub dir: tempfile::TempDir,
    }

    impl Fixture {
        pub fn new() -> Fixture {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        pub fn state_dir(&self) -> &Path {
            self.dir.path()
        }

        /// Run `id` with these journal events and log lines (`(ms, message)`, written `ms`
        /// after 10:00 on a fixed day).
        pub fn run<S: AsRef<str>>(&self, id: &str, events: &[Event], lines: &[(u64, S)]) -> RunDir {
            let dir = runs_dir(self.state_dir()).join(id);
            std::fs::create_dir_all(&dir).unwrap();
            let journal = Journal::create(&dir.join(JOURNAL_FILE)).unwrap();
            for event in events {
                journal.append(event).unwrap();
            }
            let log: String = lines
                .iter()
                .map(|(ms, message)| {
                    let (s, ms) = (ms / 1000, ms % 1000);
                    format!(
                        "-- 2026-03-10T10:{:02}:{:02}.{ms:03}+01:00 : {}\n",
                        s / 60,
                        s % 60,
                        message.as_ref()
                    )
                })
                .collect();
            std::fs::write(dir.join(LOG_FILE), log).unwrap();
            RunDir::find(self.state_dir(), Some(id)).unwrap()
        }

        /// An apply of three sites and the main database, whose site `bravo` spends `slow` ms
        /// more in its `UPDATE`, and whose `install-code` takes `install` ms: the journal gives
        /// the steps' times, the log the databases' and statements'.
        pub fn three_sites(&self, id: &str, slow: u64, install: u64) -> RunDir {
            let mut events = vec![start(id)];
            for (name, ms) in [
                ("guard", 2),
                ("preflight", 140),
                ("install-code", install),
                ("migrate", 300 + slow),
                ("finish", 5),
            ] {
                events.extend(step(name, ms));
            }
            let add = "0002_avatar up: ALTER TABLE members ADD COLUMN avatar TEXT";
            let update = "0002_avatar up: UPDATE members SET avatar = 'default.png'";
            let audit = "0003_audit up: statement 1/1: CREATE TABLE audit (id INTEGER) (8 ms)";
            let lines = [
                (0, "step migrate start".to_string()),
                (10, format!("site/acme: {add}")),
                (50, "site/acme: migrated in 45 ms".into()),
                (60, format!("site/bravo: {add}")),
                (70, format!("site/bravo: {update}")),
                (
                    130 + slow,
                    format!("site/bravo: migrated in {} ms", 72 + slow),
                ),
                (135 + slow, format!("site/charlie: {add}")),
                (160 + slow, format!("site/charlie: {update}")),
                (170 + slow, "site/charlie: migrated in 36 ms".into()),
                (180 + slow, format!("main/main: {audit}")),
                (190 + slow, "main/main: migrated in 9 ms".into()),
            ];
            self.run(id, &events, &lines)
        }
    }

    pub(crate) fn start(run: &str) -> Event {
        Event::RunStart {
            run: run.into(),
            kind: RunKind::Apply,
            version: "2.0.0".into(),
            bundle_digest: "d".into(),
            undoes: None,
            operator: None,
            hostname: None,
            at: "2026-03-10T10:00:00.000+01:00".into(),
        }
    }

    pub(crate) fn step(name: &str, ms: u64) -> [Event; 2] {
        [
            Event::StepStart {
                step: name.into(),
                at: "2026-03-10T10:00:00.000+01:00".into(),
            },
            Event::StepDone {
                step: name.into(),
                at: "2026-03-10T10:00:00.000+01:00".into(),
                ms,
            },
        ]
    }

    #[test]
    fn a_run_is_found_by_id_by_path_or_as_the_newest() {
        let fixture = Fixture::new();
        let older = "20260310T100000-2.0.0-apply";
        let newer = "20260310T110000-2.0.0-rollback";
        fixture.run::<&str>(older, &[start(older)], &[]);
        let dir = fixture.run::<&str>(newer, &[start(newer)], &[]).dir;

        let newest = RunDir::find(fixture.state_dir(), None).unwrap();
        assert_eq!(newest.name, newer);
        assert_eq!(
            RunDir::find(fixture.state_dir(), Some(older)).unwrap().name,
            older
        );
        let path = dir.display().to_string();
        let by_path = RunDir::find(Path::new("/nowhere"), Some(&path)).unwrap();
        assert_eq!(
            (by_path.name.as_str(), by_path.id()),
            (path.as_str(), newer.into())
        );
        assert_eq!(
            by_path.lock,
            Some(host_lock::lock_path(
                &fixture.state_dir().canonicalize().unwrap()
            ))
        );
    }

    #[test]
    fn an_unknown_run_names_the_state_dir_and_how_to_list_runs() {
        let fixture = Fixture::new();
        let state = fixture.state_dir().display().to_string();
        let empty = RunDir::find(fixture.state_dir(), None).unwrap_err();
        fixture.run::<&str>("20260310T100000-2.0.0-apply", &[], &[]);
        let unknown = RunDir::find(fixture.state_dir(), Some("20260310T090000-1.9.0-apply"));
        let text = format!("{empty}\n{}", unknown.unwrap_err()).replace(&state, "[STATE]");
        insta::assert_snapshot!("unknown_run", text);
    }

    #[test]
    fn durations_read_like_durations() {
        let shown: Vec<String> = [0, 999, 1_000, 4_240, 187_000, 3_725_000]
            .into_iter()
            .map(human)
            .collect();
        assert_eq!(
            shown,
            [
                "0 ms",
                "999 ms",
                "1.0 s",
                "4.2 s",
                "3 min 07 s",
                "1 h 02 min"
            ]
        );
    }
}

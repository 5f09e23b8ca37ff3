//! `bascule log --follow`: a run's log as it is written, until the run ends, then how it ended.
//!
//! The run has ended when its process is gone: it no longer holds its journal's `flock`
//! ([`crate::journal::writer_alive`]) nor a host lock naming it. Gone, it writes nothing more, so
//! what the log holds then is all of it. How it ended comes from its files ([`ending`]), and
//! says the same as the exit status of the command that ran it.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{LogError, RunDir};
use crate::journal::{Event, Journal, JournalError, RunHistory};

/// How often the log is read for what was appended, and the run asked whether it lives.
/// Polling, rather than waiting for inotify's word: that needs unsafe code or a dependency,
/// and reading a file's new bytes five times a second costs nothing.
const POLL: Duration = Duration::from_millis(200);

/// How long a run directory may be seen without a live writer before its journal's first
/// record: a run creates its directory an instant before it opens and locks its journal.
const STARTING: Duration = Duration::from_secs(1);

/// How a run ended, as its files tell it once its process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every step succeeded (a rollback: every step of the apply was undone).
    Committed,
    /// Interrupted, then undone by `bascule recover`.
    Recovered,
    /// A step failed and every step was undone.
    RolledBack,
    /// Refused before it changed anything (guard, migration locks, requirements).
    Refused,
    /// A step failed and some undo failed too.
    UndoIncomplete,
    /// Killed half-way: its undo is still to do.
    Interrupted,
    /// Ended before its first step: bad input, or a refusal printed on its terminal.
    NotStarted,
}

impl Ending {
    /// The exit status the run's command ended with, as `apply` documents them.
    pub fn exit_code(self) -> u8 {
        match self {
            Ending::Committed | Ending::Recovered => 0,
            Ending::RolledBack | Ending::Refused => 1,
            Ending::NotStarted => 2,
            Ending::UndoIncomplete | Ending::Interrupted => 3,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Ending::Committed => "committed: every step succeeded",
            Ending::Recovered => "recovered: interrupted, then undone by `bascule recover`",
            Ending::RolledBack => "failed, and every step was undone: the host is as it was",
            Ending::Refused => "refused, having changed nothing (its report.txt says why)",
            Ending::UndoIncomplete => {
                "failed, and the undo is incomplete: fix the cause, then run `bascule recover`"
            }
            Ending::Interrupted => {
                "interrupted (its process is gone, its undo not done): run `bascule recover`"
            }
            Ending::NotStarted => {
                "ended before its first step: its error went to its terminal \
                 (or, detached, to the state directory's detached.log)"
            }
        }
    }
}

/// Writes the log of `run` to `out` as it grows, until the run's process is gone; then how the
/// run ended.
pub fn follow(run: &RunDir, out: &mut dyn Write) -> Result<Ending, LogError> {
    let mut copied = 0;
    let mut writerless_since: Option<Instant> = None;
    loop {
        // Asked before the log is read: once the run is gone, this read gets its last line.
        let alive = run.alive();
        copied = copy_new(&run.log_path(), copied, out)?;
        if !alive {
            let since = *writerless_since.get_or_insert_with(Instant::now);
            if has_records(run)? || since.elapsed() >= STARTING {
                return ending(run);
            }
        } else {
            writerless_since = None;
        }
        std::thread::sleep(POLL);
    }
}

/// Whether the run's journal holds a record: then its writer has locked it before, and one
/// that no longer holds it is gone.
fn has_records(run: &RunDir) -> Result<bool, LogError> {
    Ok(!read_events(run)?.is_empty())
}

fn read_events(run: &RunDir) -> Result<Vec<Event>, LogError> {
    match Journal::read(&run.journal_path()) {
        Ok(events) => Ok(events),
        Err(JournalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes what `path` holds beyond its first `from` bytes; the new length.
fn copy_new(path: &Path, from: u64, out: &mut dyn Write) -> Result<u64, LogError> {
    let io = |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        // Not yet created: the run is starting.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(from),
        Err(e) => return Err(io(e)),
    };
    file.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut new = Vec::new();
    file.read_to_end(&mut new).map_err(io)?;
    if !new.is_empty() {
        out.write_all(&new)
            .and_then(|()| out.flush())
            .map_err(LogError::Output)?;
    }
    Ok(from + new.len() as u64)
}

/// How `run` ended, from its journal's end records, then its report and the host lock. Only
/// meaningful once its process is gone (a live run reads as interrupted).
pub fn ending(run: &RunDir) -> Result<Ending, LogError> {
    Ok(ending_of(run, &read_events(run)?))
}

/// [`ending`], from the journal's `events` already read.
pub fn ending_of(run: &RunDir, events: &[Event]) -> Ending {
    let history = RunHistory::from_events(events);
    let any = |f: fn(&Event) -> bool| events.iter().any(f);
    if history.committed {
        Ending::Committed
    } else if history.rolled_back {
        // A failing run records its failure before its undo; `recover` undoes a killed one,
        // which recorded none.
        if any(|e| matches!(e, Event::StepFailed { .. })) {
            Ending::RolledBack
        } else {
            Ending::Recovered
        }
    } else if any(|e| matches!(e, Event::UndoFailed { .. })) {
        Ending::UndoIncomplete
    } else if run.named_by_lock() {
        Ending::Interrupted
    } else if run.dir.join("report.txt").is_file() {
        // A report but no end record: refused by a check before any step acted (the guard's,
        // the migration locks', a rollback's), each of which leaves the host as it was.
        Ending::Refused
    } else if !any(|e| matches!(e, Event::StepStart { .. })) {
        Ending::NotStarted
    } else {
        Ending::Interrupted
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{start, step, Fixture};
    use super::*;
    use crate::host_lock::HostLock;
    use crate::journal::JOURNAL_FILE;

    const ID: &str = "20260310T100000-2.0.0-apply";

    fn at() -> String {
        "2026-03-10T10:00:00.000+01:00".into()
    }

    fn failed(step: &str) -> Event {
        Event::StepFailed {
            step: step.into(),
            at: at(),
            ms: 1,
            error: "boom".into(),
        }
    }

    #[test]
    fn a_run_s_end_is_read_from_its_journal_its_report_and_the_host_lock() {
        let fixture = Fixture::new();
        let [guard_start, guard_done] = step("guard", 1);
        let ended = |events: Vec<Event>| {
            let run = fixture.run::<&str>(ID, &events, &[]);
            let ending = ending(&run).unwrap();
            std::fs::remove_dir_all(&run.dir).unwrap();
            ending
        };
        let committed = Event::RunCommitted { at: at() };
        let rolled_back = Event::RunRolledBack { at: at() };
        let undo_failed = Event::UndoFailed {
            step: "migrate".into(),
            at: at(),
            error: "boom".into(),
        };
        let begun = vec![start(ID), guard_start.clone(), guard_done.clone()];
        let with = |more: &[Event]| [begun.clone(), more.to_vec()].concat();
        assert_eq!(ended(with(&[committed])), Ending::Committed);
        assert_eq!(
            ended(with(&[failed("migrate"), rolled_back.clone()])),
            Ending::RolledBack
        );
        assert_eq!(ended(with(&[rolled_back])), Ending::Recovered);
        assert_eq!(
            ended(with(&[failed("migrate"), undo_failed])),
            Ending::UndoIncomplete
        );
        assert_eq!(ended(vec![]), Ending::NotStarted);
        assert_eq!(ended(vec![start(ID)]), Ending::NotStarted);

        // Refused by the guard: a report, no step.
        let run = fixture.run::<&str>(ID, &[start(ID)], &[]);
        std::fs::write(run.dir.join("report.txt"), "FAILED at step `guard`").unwrap();
        assert_eq!(ending(&run).unwrap(), Ending::Refused);
        std::fs::remove_dir_all(&run.dir).unwrap();

        // Killed: the host lock still names it.
        let run = fixture.run::<&str>(ID, &begun, &[]);
        drop(HostLock::take(fixture.state_dir(), ID).unwrap());
        assert_eq!(ending(&run).unwrap(), Ending::Interrupted);
    }

    #[test]
    fn the_exit_status_is_the_one_apply_documents() {
        let codes: Vec<u8> = [
            Ending::Committed,
            Ending::Recovered,
            Ending::RolledBack,
            Ending::Refused,
            Ending::NotStarted,
            Ending::UndoIncomplete,
            Ending::Interrupted,
        ]
        .into_iter()
        .map(Ending::exit_code)
        .collect();
        assert_eq!(codes, [0, 0, 1, 1, 2, 3, 3]);
    }

    #[test]
    fn following_prints_what_is_appended_until_the_run_s_process_is_gone() {
        let fixture = Fixture::new();
        let run = fixture.run(ID, &[start(ID)], &[(0, "guard: start")]);
        // The run's process: it holds its journal's lock until it ends.
        let writer = Journal::create(&run.dir.join(JOURNAL_FILE)).unwrap();
        let log_path = run.log_path();
        let run_for_follower = run.clone();
        let follower = std::thread::spawn(move || {
            let mut out = Vec::new();
            let ending = follow(&run_for_follower, &mut out).unwrap();
            (ending, String::from_utf8(out).unwrap())
        });
        std::thread::sleep(POLL * 2);
        assert!(!follower.is_finished(), "a live run is followed");
        let append = |text: &str| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&log_path)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap()
        };
        append("-- 2026-03-10T10:00:01.000+01:00 : run committed\n");
        writer.append(&Event::RunCommitted { at: at() }).unwrap();
        std::thread::sleep(POLL * 2);
        assert!(
            !follower.is_finished(),
            "followed until its process is gone"
        );
        append("-- 2026-03-10T10:00:01.100+01:00 : SUCCESS: every step succeeded\n");
        drop(writer);
        let (ending, printed) = follower.join().unwrap();
        assert_eq!(ending, Ending::Committed);
        assert_eq!(
            printed,
            "-- 2026-03-10T10:00:00.000+01:00 : guard: start\n\
             -- 2026-03-10T10:00:01.000+01:00 : run committed\n\
             -- 2026-03-10T10:00:01.100+01:00 : SUCCESS: every step succeeded\n"
        );
    }

    #[test]
    fn a_run_that_died_before_its_journal_is_followed_a_moment_only() {
        let fixture = Fixture::new();
        let dir = crate::state::runs_dir(fixture.state_dir()).join(ID);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(bascule_runlog::LOG_FILE), "").unwrap();
        let run = RunDir::find(fixture.state_dir(), Some(ID)).unwrap();
        let clock = Instant::now();
        assert_eq!(follow(&run, &mut Vec::new()).unwrap(), Ending::NotStarted);
        assert!(clock.elapsed() >= STARTING);
    }
}

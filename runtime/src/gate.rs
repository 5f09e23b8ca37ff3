//! A run waiting for a person: at the acceptance gate, or at a manual checklist item.
//!
//! A release has moments only a person can close: the test book is done, support was told.
//! The waiting run journals [`Event::Waiting`] naming its gate, then polls
//! `<run>/decision`; `bascule accept`, `bascule confirm` and `bascule abort`, run from another
//! terminal (or by the automation that started a detached run), find the run through the host
//! lock, check that it waits at a gate their decision answers, and write the decision
//! atomically (written aside, renamed). The run reads it, removes it (the next gate starts
//! clean), and journals who decided. On a terminal, a checklist item is asked there instead.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engine::StepError;
use crate::host::HostProfile;
use crate::host_lock;
use crate::journal::{now, Event, Journal, JOURNAL_FILE};
use crate::state::runs_dir;

/// Where `accept`/`confirm`/`abort` leave their decision, in the run directory.
pub const DECISION_FILE: &str = "decision";
/// How often a waiting run looks for a decision.
const POLL: Duration = Duration::from_millis(100);
/// The gate name of the acceptance step.
pub const ACCEPTANCE: &str = "acceptance";

/// An operator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The acceptance gate: the new release is accepted.
    Accept,
    /// A checklist item: it is done.
    Confirm,
    /// Either gate: roll everything back.
    Abort,
}

impl Decision {
    pub fn word(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Confirm => "confirm",
            Decision::Abort => "abort",
        }
    }

    fn from_word(word: &str) -> Option<Decision> {
        [Decision::Accept, Decision::Confirm, Decision::Abort]
            .into_iter()
            .find(|d| d.word() == word)
    }

    /// Whether this decision answers `gate` (`acceptance`, `checklist <n>`).
    fn answers(self, gate: &str) -> bool {
        match self {
            Decision::Accept => gate == ACCEPTANCE,
            Decision::Confirm => gate.starts_with("checklist "),
            Decision::Abort => true,
        }
    }
}

/// The name of the gate of checklist item `n`.
pub fn checklist_gate(n: usize) -> String {
    format!("checklist {n}")
}

/// Journals that the run now waits at `gate`, then waits for a decision until `deadline`
/// (`None`: a decision, however long it takes). Returns it with who made it, or `None` at the
/// deadline.
pub fn wait(
    journal: &Journal,
    run_dir: &Path,
    gate: &str,
    deadline: Option<Instant>,
) -> Result<Option<(Decision, String)>, StepError> {
    journal.append(&Event::Waiting {
        gate: gate.to_string(),
        at: now(),
    })?;
    let path = run_dir.join(DECISION_FILE);
    loop {
        if let Some(found) = read_decision(&path)? {
            std::fs::remove_file(&path).map_err(StepError::io(&path))?;
            return Ok(Some(found));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

fn read_decision(path: &Path) -> Result<Option<(Decision, String)>, StepError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StepError::io(path)(e)),
    };
    let mut lines = text.lines();
    let word = lines.next().map(str::trim).unwrap_or_default();
    let decision = Decision::from_word(word).ok_or_else(|| {
        StepError::Failed(format!(
            "{}: `{word}` is not a decision (accept, confirm or abort); the file was not written by `bascule accept|confirm|abort`",
            path.display(),
        ))
    })?;
    let by = lines
        .next()
        .and_then(|l| l.strip_prefix("by "))
        .unwrap_or("an operator")
        .to_string();
    Ok(Some((decision, by)))
}

/// `bascule accept|confirm|abort`: tells the run waiting at a gate of this host what to do.
/// Returns the run directory and the gate answered.
pub fn decide(
    host: &HostProfile,
    decision: Decision,
    by: &str,
) -> Result<(PathBuf, String), StepError> {
    let dir = waiting_run(host)?;
    let journal = dir.join(JOURNAL_FILE);
    let gate = match waiting_gate(&dir)? {
        Some(gate) if decision.answers(&gate) => gate,
        Some(gate) => {
            return Err(StepError::Failed(format!(
                "the run waits at {gate}, which `bascule {}` does not answer (see {}); nothing was decided",
                decision.word(),
                journal.display()
            )))
        }
        None => {
            return Err(StepError::Failed(format!(
                "the run is not waiting for anyone (see {}); nothing was decided",
                journal.display()
            )))
        }
    };
    let path = dir.join(DECISION_FILE);
    if path.exists() {
        return Err(StepError::Failed(format!(
            "{}: a decision is already there, not yet read by the run; nothing was decided",
            path.display()
        )));
    }
    let aside = dir.join(format!(".{DECISION_FILE}.{}", std::process::id()));
    std::fs::write(
        &aside,
        format!("{}\nby {by}\nat {}\n", decision.word(), now()),
    )
    .map_err(StepError::io(&aside))?;
    std::fs::rename(&aside, &path).map_err(StepError::io(&path))?;
    Ok((dir, gate))
}

/// The directory of the run waiting for a decision on this host: the run holding the host
/// lock or, before it takes it (a checklist item due before `guard`), the newest run that is
/// alive (its journal's `flock` held) and waits at a gate.
pub fn waiting_run(host: &HostProfile) -> Result<PathBuf, StepError> {
    let lock = host_lock::lock_path(&host.state_dir);
    if let Some(holder) = host_lock::read_holder(&lock) {
        return Ok(runs_dir(&host.state_dir).join(holder.run));
    }
    let runs = runs_dir(&host.state_dir);
    crate::journal::run_ids(&host.state_dir)
        .into_iter()
        .rev()
        .map(|id| runs.join(id))
        .find(|dir| {
            crate::journal::writer_alive(&dir.join(JOURNAL_FILE)) == Some(true)
                && waiting_gate(dir).is_ok_and(|gate| gate.is_some())
        })
        .ok_or_else(|| {
            StepError::Failed(format!(
                "{}: no run holds the lock, and no live run in {} waits for a decision",
                lock.display(),
                runs.display()
            ))
        })
}

/// The gate the run in `run_dir` waits at, from its journal ([`waiting_at`]).
pub fn waiting_gate(run_dir: &Path) -> Result<Option<String>, StepError> {
    Ok(waiting_at(&Journal::read(&run_dir.join(JOURNAL_FILE))?))
}

/// The gate the journal's run waits at, if it waits: its last `waiting` not yet answered nor
/// ended by its step.
pub fn waiting_at(events: &[Event]) -> Option<String> {
    let mut waiting = None;
    for event in events {
        match event {
            Event::Waiting { gate, .. } => waiting = Some(gate.clone()),
            Event::StepDone { .. }
            | Event::StepFailed { .. }
            | Event::Acceptance { .. }
            | Event::Checklist { .. } => waiting = None,
            _ => {}
        }
    }
    waiting
}

/// Who decides: the login name, for the journal.
pub fn operator() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "an operator".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_file_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DECISION_FILE);
        assert_eq!(read_decision(&path).unwrap(), None);
        std::fs::write(&path, "abort\nby lea\nat x\n").unwrap();
        assert_eq!(
            read_decision(&path).unwrap(),
            Some((Decision::Abort, "lea".to_string()))
        );
        std::fs::write(&path, "maybe\n").unwrap();
        assert!(read_decision(&path).is_err());
    }

    #[test]
    fn a_gate_is_open_until_answered_or_its_step_ends() {
        let waiting = |g: &str| Event::Waiting {
            gate: g.into(),
            at: now(),
        };
        let mut events = vec![Event::StepStart {
            step: "acceptance".into(),
            at: now(),
        }];
        assert_eq!(waiting_at(&events), None);
        events.push(waiting(ACCEPTANCE));
        assert_eq!(waiting_at(&events).as_deref(), Some("acceptance"));
        events.push(Event::Acceptance {
            decision: "accept".into(),
            by: "x".into(),
            at: now(),
        });
        assert_eq!(waiting_at(&events), None);
        events.push(waiting("checklist 2"));
        assert!(Decision::Confirm.answers("checklist 2"));
        assert!(!Decision::Accept.answers("checklist 2"));
        assert!(Decision::Abort.answers("checklist 2"));
        events.push(Event::StepFailed {
            step: "maintenance-on".into(),
            at: now(),
            ms: 1,
            error: "x".into(),
        });
        assert_eq!(waiting_at(&events), None);
    }
}

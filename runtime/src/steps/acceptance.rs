//! `acceptance`: the optional human gate, after every automatic check.
//!
//! Some releases want a person's eyes before the public comes back: the acceptance team runs
//! the test book (`docs/testbook.md` of the bundle) on the new code while the maintenance page
//! still hides it from the public (its allowlist lets the team through). The step prints the
//! test book and waits until someone runs, from another terminal, `bascule accept` (the run goes
//! on) or `bascule abort` (the run fails, and everything is rolled back), or until the patch's
//! timeout, which aborts: an unattended release is not an accepted one.
//!
//! `accept`/`abort` find the run through the host lock, check that it waits at this gate and
//! write their decision to `<run>/acceptance-decision` (atomically: written aside, renamed).
//! The waiting run journals the decision it read. The step changes nothing on the host; its
//! undo has nothing to do.
//!
//! `[acceptance]` is typed, and checked when the patch loads, in
//! [`bascule_patch::AcceptanceSpec`] (an example in `runtime/patch/src/acceptance.rs`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engine::{Context, Step, StepError};
use crate::host::HostProfile;
use crate::host_lock;
use crate::journal::{now, Event, Intent, Journal, JOURNAL_FILE};
use crate::state::runs_dir;

/// Where `accept`/`abort` leave their decision, in the run directory.
pub const DECISION_FILE: &str = "acceptance-decision";
/// How often the gate looks for a decision.
const POLL: Duration = Duration::from_millis(100);

/// The operator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Abort,
}

impl Decision {
    pub fn word(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Abort => "abort",
        }
    }
}

pub struct Acceptance;

impl Step for Acceptance {
    fn name(&self) -> &'static str {
        "acceptance"
    }

    fn summary(&self) -> &'static str {
        "if the patch asks: show the test book, wait for `bascule accept` (or abort, or timeout)"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let spec = &cx.patch.spec.acceptance;
        if !spec.enabled {
            cx.say("no acceptance gate in this patch");
            return Ok(());
        }
        show_test_book(cx);
        cx.say(format_args!(
            "WAITING for acceptance, at most {} s: the public still sees the maintenance page. \
             From another terminal run `bascule accept` to go on or `bascule abort` to roll everything back",
            spec.timeout
        ));
        let path = cx.run_dir.join(DECISION_FILE);
        let deadline = Instant::now() + Duration::from_secs(spec.timeout);
        let (decision, by) = loop {
            if let Some(found) = read_decision(&path)? {
                break found;
            }
            if Instant::now() >= deadline {
                cx.journal.append(&Event::Acceptance {
                    decision: "timeout".into(),
                    by: "bascule".into(),
                    at: now(),
                })?;
                return Err(StepError::Failed(format!(
                    "no acceptance decision within {} s (patch.toml [acceptance] timeout): aborted",
                    spec.timeout
                )));
            }
            std::thread::sleep(POLL);
        };
        cx.journal.append(&Event::Acceptance {
            decision: decision.word().into(),
            by: by.clone(),
            at: now(),
        })?;
        match decision {
            Decision::Accept => {
                cx.say(format_args!("accepted by {by}"));
                Ok(())
            }
            Decision::Abort => Err(StepError::Failed(format!(
                "aborted by {by} (`bascule abort`) at the acceptance gate"
            ))),
        }
    }

    fn undo(&self, _cx: &Context<'_>, _intents: &[Intent]) -> Result<(), StepError> {
        Ok(())
    }
}

fn show_test_book(cx: &Context<'_>) {
    let path = cx.bundle_root.join("docs/testbook.md");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            cx.say(format_args!("test book ({}):", path.display()));
            for line in text.lines() {
                cx.say(format_args!("  | {line}"));
            }
        }
        Err(e) => cx.say(format_args!(
            "{}: no test book to show ({e}); accept or abort on what you checked",
            path.display()
        )),
    }
}

fn read_decision(path: &Path) -> Result<Option<(Decision, String)>, StepError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StepError::io(path)(e)),
    };
    let mut lines = text.lines();
    let decision = match lines.next().map(str::trim) {
        Some("accept") => Decision::Accept,
        Some("abort") => Decision::Abort,
        other => {
            return Err(StepError::Failed(format!(
                "{}: `{}` is not a decision (accept or abort); the file was not written by `bascule accept|abort`",
                path.display(),
                other.unwrap_or_default()
            )))
        }
    };
    let by = lines
        .next()
        .and_then(|l| l.strip_prefix("by "))
        .unwrap_or("an operator")
        .to_string();
    Ok(Some((decision, by)))
}

/// `bascule accept|abort`: tells the run waiting at the acceptance gate of this host what to do.
/// Returns the run directory.
pub fn decide(host: &HostProfile, decision: Decision, by: &str) -> Result<PathBuf, StepError> {
    let lock = host_lock::lock_path(&host.state_dir);
    let run = host_lock::read_holder(&lock)
        .map(|h| h.run)
        .ok_or_else(|| {
            StepError::Failed(format!(
                "{}: no run holds the lock, so none waits for acceptance",
                lock.display()
            ))
        })?;
    let dir = runs_dir(&host.state_dir).join(&run);
    let journal = dir.join(JOURNAL_FILE);
    if !waits_at_gate(&Journal::read(&journal)?) {
        return Err(StepError::Failed(format!(
            "run {run} is not waiting at the acceptance gate (see {}); nothing was decided",
            journal.display()
        )));
    }
    let path = dir.join(DECISION_FILE);
    let aside = dir.join(format!(".{DECISION_FILE}.{}", std::process::id()));
    std::fs::write(
        &aside,
        format!("{}\nby {by}\nat {}\n", decision.word(), now()),
    )
    .map_err(StepError::io(&aside))?;
    std::fs::rename(&aside, &path).map_err(StepError::io(&path))?;
    Ok(dir)
}

/// Whether the journal's last step is `acceptance`, started and not finished.
pub fn waits_at_gate(events: &[Event]) -> bool {
    let mut waiting = false;
    for event in events {
        match event {
            Event::StepStart { step, .. } => waiting = step == "acceptance",
            Event::StepDone { .. } | Event::StepFailed { .. } | Event::Acceptance { .. } => {
                waiting = false
            }
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
    fn the_gate_is_open_only_while_the_step_runs() {
        let start = |s: &str| Event::StepStart {
            step: s.into(),
            at: now(),
        };
        let mut events = vec![start("sample-after")];
        assert!(!waits_at_gate(&events));
        events.push(start("acceptance"));
        assert!(waits_at_gate(&events));
        events.push(Event::Acceptance {
            decision: "accept".into(),
            by: "x".into(),
            at: now(),
        });
        assert!(!waits_at_gate(&events));
    }
}

//! `bascule status`: what the host's state directory says, for the operator who arrives at a
//! host and must know before anything else whether a run is going on.
//!
//! It reads only: `platform.toml` (the version), the journals under `runs/` (the last runs and
//! how each ended) and the host lock (the run in progress or interrupted, whether its process
//! still lives — the lock's `flock` — and what `recover` would do about it). It needs no bundle
//! and touches no database, so it answers at once even when a server is down.

use std::path::Path;

use serde::Serialize;

use crate::host::HostProfile;
use crate::host_lock::{is_alive, lock_path, read_holder};
use crate::journal::{run_ids, Event, Intent, Journal, RunHistory, JOURNAL_FILE};
use crate::state::{runs_dir, PlatformState, StateError};

/// The host as its state directory describes it.
#[derive(Debug, Serialize)]
pub struct Status {
    /// `bascule.status.v1` (`runtime/schema/status.schema.json`): a change that breaks a reader
    /// gets a new one.
    pub format: &'static str,
    /// The version `platform.toml` records; `None`: no run has committed here yet.
    pub platform: Option<String>,
    /// The run that brought the platform to it.
    pub platform_run: Option<String>,
    /// The last runs, newest first.
    pub runs: Vec<RunSummary>,
    /// The run holding the host lock, if any.
    pub unfinished: Option<Unfinished>,
}

/// One run, as its journal tells it.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    pub run: String,
    pub kind: Option<String>,
    pub version: Option<String>,
    pub started: Option<String>,
    /// `committed`, `rolled back` or `unfinished`.
    pub outcome: &'static str,
    /// The last step the run started.
    pub last_step: Option<String>,
}

/// The run holding the host lock.
#[derive(Debug, Serialize)]
pub struct Unfinished {
    pub run: String,
    pub pid: Option<u32>,
    pub host: Option<String>,
    pub started: Option<String>,
    /// Whether its process still holds the lock's `flock`.
    pub alive: bool,
    /// The step it was at.
    pub step: Option<String>,
    /// The gate it waits at for a person (`acceptance`, `checklist <n>`), if it waits.
    pub waiting: Option<String>,
    /// What `bascule recover` would do now.
    pub recover: String,
}

impl Status {
    /// Reads the state directory of `host`; the last `last` runs are listed.
    pub fn read(host: &HostProfile, last: usize) -> Result<Status, StateError> {
        let state = PlatformState::read(&host.state_dir)?;
        let runs = run_ids(&host.state_dir)
            .iter()
            .rev()
            .take(last)
            .map(|id| summarize(&runs_dir(&host.state_dir), id))
            .collect();
        Ok(Status {
            format: "bascule.status.v1",
            platform: state.as_ref().map(|s| s.version.to_string()),
            platform_run: state.and_then(|s| s.run),
            runs,
            unfinished: unfinished(host),
        })
    }

    /// The status as a person reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let platform = match (&self.platform, &self.platform_run) {
            (Some(version), Some(run)) => format!("{version} (run {run})"),
            (Some(version), None) => version.clone(),
            (None, _) => "no version recorded (no run has committed on this host)".into(),
        };
        out.push_str(&format!("platform  {platform}\n"));
        match &self.unfinished {
            None => out.push_str("run       none in progress, none interrupted\n"),
            Some(u) => {
                let state = if u.alive {
                    "IN PROGRESS"
                } else {
                    "INTERRUPTED"
                };
                let who = match (u.pid, &u.host) {
                    (Some(pid), Some(host)) => format!(" (pid {pid} on {host})"),
                    (Some(pid), None) => format!(" (pid {pid})"),
                    _ => String::new(),
                };
                out.push_str(&format!("run       {state}: {}{who}\n", u.run));
                if let Some(step) = &u.step {
                    out.push_str(&format!("  at step {step}\n"));
                }
                match u.waiting.as_deref() {
                    Some(crate::gate::ACCEPTANCE) => out.push_str(
                        "  WAITING at the acceptance gate: `bascule accept` (record cases with --case) or `bascule abort`\n",
                    ),
                    Some(gate) => out.push_str(&format!(
                        "  WAITING at {gate}: `bascule confirm` once it is done, or `bascule abort`\n"
                    )),
                    None => {}
                }
                out.push_str(&format!("  recover {}\n", u.recover));
            }
        }
        if self.runs.is_empty() {
            out.push_str("last runs none\n");
        } else {
            out.push_str("last runs\n");
            for run in &self.runs {
                let step = match (run.outcome, &run.last_step) {
                    ("unfinished", Some(step)) => format!(" at {step}"),
                    _ => String::new(),
                };
                out.push_str(&format!("  {}  {}{step}\n", run.run, run.outcome));
            }
        }
        out
    }
}

fn summarize(runs: &Path, id: &str) -> RunSummary {
    let events = Journal::read(&runs.join(id).join(JOURNAL_FILE)).unwrap_or_default();
    let history = RunHistory::from_events(&events);
    let (kind, version, started) = match &history.start {
        Some(Event::RunStart {
            kind, version, at, ..
        }) => (
            Some(kind.as_str().to_string()),
            Some(version.clone()),
            Some(at.clone()),
        ),
        _ => (None, None, None),
    };
    RunSummary {
        run: id.to_string(),
        kind,
        version,
        started,
        outcome: if history.committed {
            "committed"
        } else if history.rolled_back {
            "rolled back"
        } else {
            "unfinished"
        },
        last_step: history.steps.last().map(|s| s.name.clone()),
    }
}

fn unfinished(host: &HostProfile) -> Option<Unfinished> {
    let lock = lock_path(&host.state_dir);
    let holder = read_holder(&lock)?;
    let alive = is_alive(&lock).unwrap_or(false);
    let journal = runs_dir(&host.state_dir)
        .join(&holder.run)
        .join(JOURNAL_FILE);
    let events = Journal::read(&journal).unwrap_or_default();
    let history = RunHistory::from_events(&events);
    let recover = if alive {
        "would refuse: the run is alive. Let it finish (or answer the gate it waits at); \
         stop its process only if it truly hangs, then run `bascule recover`"
            .to_string()
    } else {
        what_recover_does(&history)
    };
    Some(Unfinished {
        step: history.steps.last().map(|s| s.name.clone()),
        waiting: crate::gate::waiting_at(&events).filter(|_| alive),
        run: holder.run,
        pid: holder.pid,
        host: holder.host,
        started: holder.started,
        alive,
        recover,
    })
}

/// What `recover` does with a dead run's journal: undo its started steps in reverse, or only
/// release the lock of a run that had ended.
fn what_recover_does(history: &RunHistory) -> String {
    if history.committed || history.rolled_back {
        return "would release the lock: the run had ended (its journal says so)".into();
    }
    let undo: Vec<String> = history
        .steps
        .iter()
        .rev()
        .filter(|s| !s.undone && !s.intents.is_empty())
        .map(|s| {
            let databases: usize = s
                .intents
                .iter()
                .map(|i| match i {
                    Intent::Migrate { databases, .. } => databases.len(),
                    _ => 0,
                })
                .sum();
            match databases {
                0 => s.name.clone(),
                n => format!("{} ({n} database(s))", s.name),
            }
        })
        .collect();
    if undo.is_empty() {
        "would release the lock: the run had changed nothing yet".into()
    } else {
        format!(
            "would undo, in this order: {}; run `bascule recover` with the run's bundle",
            undo.join(", ")
        )
    }
}

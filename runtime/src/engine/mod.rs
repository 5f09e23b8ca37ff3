//! The step engine: runs steps in order and, on any failure, undoes them in reverse.
//!
//! A step is a value with a `run` (the design's `do`) and an `undo`. Before a step acts, it
//! records an [`Intent`] through [`Context::intend`]; the engine journals it (fsync'd) and keeps
//! it, and on failure hands the step's intents back to its `undo`. The same `undo`, fed the
//! intents read back from a journal, serves `bascule rollback` (undo a committed run) and
//! `bascule recover` (finish the undo of a killed run): there is one way to undo, not three.
//!
//! Architecture invariant: a step's undo needs only its intents, the host profile and the
//! bundle — never memory of the run — and running it twice is the same as running it once.

use std::path::Path;
use std::time::Instant;

use crate::host::HostProfile;
use crate::host_lock::HostLock;
use crate::journal::{now, Event, Intent, Journal, RunHistory, RunKind};
use crate::maintenance::MaintenanceError;
use crate::sampling::SamplingError;
use crate::services::ServiceError;
use crate::survey::{survey, ClassSurvey};
use bascule_bundle::Manifest;
use bascule_db::{DbTarget, VersionState};
use bascule_patch::Patch;
use bascule_runlog::RunLog;

/// Why a step failed. Messages name the file, database or command, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Failed(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] bascule_db::DbError),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    #[error(transparent)]
    Patch(#[from] bascule_patch::PatchError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Bundle(#[from] bascule_bundle::BundleError),
    #[error(transparent)]
    Survey(#[from] crate::survey::SurveyError),
    #[error(transparent)]
    HostLock(#[from] crate::host_lock::HostLockError),
    #[error("failure injected by BASCULE_FAIL_AT={0} (test hook)")]
    Injected(String),
}

impl StepError {
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StepError + '_ {
        move |source| StepError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

// The errors of the modules steps drive become step failures here, in the engine, so that
// those modules (services, maintenance, sampling) know nothing of steps.

impl From<ServiceError> for StepError {
    fn from(error: ServiceError) -> Self {
        StepError::Failed(error.to_string())
    }
}

impl From<MaintenanceError> for StepError {
    fn from(error: MaintenanceError) -> Self {
        StepError::Failed(error.to_string())
    }
}

impl From<SamplingError> for StepError {
    fn from(error: SamplingError) -> Self {
        match error {
            SamplingError::Io { path, source } => StepError::Io { path, source },
            other => StepError::Failed(other.to_string()),
        }
    }
}

/// Operator choices and test hooks for one run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run even outside tmux/screen (rehearsal automation that keeps its own session).
    pub no_multiplexer: bool,
    /// `--allow-forbidden-time`: the operator's written reason to start on a day or at an hour
    /// the patch's policy forbids.
    pub allow_forbidden_time: Option<String>,
    /// `--allow-stale-backup`: the reason to start although the host's newest backup is older
    /// than its profile's `[guards.backup]` allows, or its time is unknown.
    pub allow_stale_backup: Option<String>,
    /// `--allow-low-disk`: the reason to start although a disk has less room than the run needs
    /// or the profile's `[guards]` asks.
    pub allow_low_disk: Option<String>,
    /// Test hook (`BASCULE_FAIL_AT`): fail right after this step has acted.
    pub fail_at: Option<String>,
    /// Test hook (`BASCULE_CRASH_AT`): abort the process right after this step has acted, as
    /// `kill -9` or a power cut would.
    pub crash_at: Option<String>,
    /// Test hook (`BASCULE_PAUSE_AT`): right after this step has acted, create
    /// `<run dir>/paused-at-<step>` and wait (at most ten minutes) until `<run dir>/resume`
    /// exists, so a test can observe the host mid-run (the maintenance window).
    pub pause_at: Option<String>,
    /// Test hook (`BASCULE_TODAY`): the weekday, and optionally the time, the guard believes
    /// it is (`tue`, `tue 19:30`).
    pub today: Option<String>,
    /// Print step progress on standard output.
    pub verbose: bool,
    /// `--yes`: every manual checklist item is confirmed in advance (automation); the journal
    /// and the intervention sheet say so.
    pub yes: bool,
    /// `--accept-differences`: the operator's written reason to run although this host differs
    /// from the rehearsal in a critical fact (see `fingerprint`).
    pub accept_differences: Option<String>,
    /// `--rehearsal`: the rehearsal record to compare this host with [default: beside the
    /// bundle].
    pub rehearsal: Option<std::path::PathBuf>,
}

/// What a step sees of the run.
pub struct Context<'a> {
    pub host: &'a HostProfile,
    pub patch: &'a Patch,
    pub bundle_root: &'a Path,
    pub manifest: &'a Manifest,
    pub run_id: &'a str,
    pub run_dir: &'a Path,
    pub log: &'a RunLog,
    pub journal: &'a Journal,
    pub options: &'a Options,
    /// The patch's checklist and test book, for `apply` ([`Context::with_documents`]).
    pub documents: Option<&'a bascule_patch::docs::Documents>,
    /// What the engine does around every step ([`Context::with_hook`]).
    hook: Option<&'a (dyn StepHook + Sync)>,
    step: &'static str,
    intents: Vec<Intent>,
    /// Whether this run holds the database-side migration locks ([`bascule_db::DbLocks`]).
    db_locked: bool,
    /// A survey taken under those locks, for the next step that needs one.
    survey: Option<Vec<ClassSurvey>>,
    /// What the run's report must say after its outcome ([`Context::note`]).
    notes: ReportLines,
    /// What the run's report must say before its outcome ([`Context::remark`]).
    remarks: ReportLines,
    /// What kind of run this is ([`Context::for_run`]).
    kind: RunKind,
    /// Version states read under those locks before an undo, for the undo of the same
    /// databases ([`Context::keep_states`]).
    states: std::sync::Mutex<Option<KeptStates>>,
    /// The host lock, held by this process for the run's life ([`crate::host_lock`]).
    host_lock: std::sync::Mutex<Option<HostLock>>,
}

/// Databases with their version states (`None`: not read ahead).
type KeptStates = (Vec<DbTarget>, Vec<Option<VersionState>>);

impl<'a> Context<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: &'a HostProfile,
        patch: &'a Patch,
        bundle_root: &'a Path,
        manifest: &'a Manifest,
        run_id: &'a str,
        run_dir: &'a Path,
        log: &'a RunLog,
        journal: &'a Journal,
        options: &'a Options,
    ) -> Context<'a> {
        Context {
            host,
            patch,
            bundle_root,
            manifest,
            run_id,
            run_dir,
            log,
            journal,
            options,
            documents: None,
            hook: None,
            step: "",
            intents: Vec::new(),
            db_locked: false,
            survey: None,
            notes: ReportLines::default(),
            remarks: ReportLines::default(),
            kind: RunKind::Migrate,
            states: std::sync::Mutex::new(None),
            host_lock: std::sync::Mutex::new(None),
        }
    }

    /// Keeps the host lock this run took (or took over) until it is released.
    pub fn hold_host_lock(&self, lock: HostLock) {
        *self.host_lock.lock().unwrap_or_else(|p| p.into_inner()) = Some(lock);
    }

    /// Releases the host lock this process holds, if any: its file goes, then its `flock`.
    pub fn release_host_lock(&self) -> Result<(), StepError> {
        let held = self
            .host_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match held {
            Some(lock) => Ok(lock.release()?),
            None => Ok(()),
        }
    }

    /// Keeps the version states of `targets`, read by a rollback's check, for its undo. Only
    /// kept under the migration locks: without them they may be stale by then.
    pub fn keep_states(&self, targets: Vec<DbTarget>, states: Vec<Option<VersionState>>) {
        if self.db_locked {
            *self.states.lock().unwrap_or_else(|p| p.into_inner()) = Some((targets, states));
        }
    }

    /// The states kept for exactly `targets`, if any.
    pub fn take_states(&self, targets: &[DbTarget]) -> Option<Vec<Option<VersionState>>> {
        let mut kept = self.states.lock().unwrap_or_else(|p| p.into_inner());
        match kept.take() {
            Some((kept_targets, states)) if kept_targets == targets => Some(states),
            other => {
                *kept = other;
                None
            }
        }
    }

    /// The context of a run of `kind` (by default `migrate`'s, which assumes the application
    /// is serving).
    pub fn for_run(mut self, kind: RunKind) -> Self {
        self.kind = kind;
        self
    }

    /// The context of a run that follows the patch's checklist and records its test book.
    pub fn with_documents(mut self, documents: &'a bascule_patch::docs::Documents) -> Self {
        self.documents = Some(documents);
        self
    }

    /// The context of a run whose every step `hook` surrounds.
    pub fn with_hook(mut self, hook: &'a (dyn StepHook + Sync)) -> Self {
        self.hook = Some(hook);
        self
    }

    pub fn kind(&self) -> RunKind {
        self.kind
    }

    /// Marks the run as holding the database-side migration locks for all its steps: no other
    /// Bascule run can change a version table until it ends.
    pub fn hold_db_locks(&mut self) {
        self.db_locked = true;
    }

    /// Whether this run holds the database-side migration locks: then what it reads of the
    /// version tables stays true until it changes them itself.
    pub fn holds_db_locks(&self) -> bool {
        self.db_locked
    }

    /// Keeps a survey for a later step. Only kept under the database locks: without them
    /// another run could migrate in between, and the later step must read for itself.
    pub fn keep_survey(&mut self, classes: Vec<ClassSurvey>) {
        if self.db_locked {
            self.survey = Some(classes);
        }
    }

    /// The survey an earlier step kept, or a new one. With thousands of tenants a survey is
    /// seconds (PostgreSQL per-database tenants cost a connection each), and under the locks
    /// the one `preflight` took is still exact when `migrate` starts.
    pub fn take_survey(&mut self) -> Result<Vec<ClassSurvey>, StepError> {
        match self.survey.take() {
            Some(classes) => Ok(classes),
            None => Ok(survey(self.host, self.patch)?),
        }
    }

    /// Records, durably, what the current step is about to do. Call it before acting.
    pub fn intend(&mut self, intent: Intent) -> Result<(), StepError> {
        self.log
            .line(format_args!("{}: intent {}", self.step, intent.for_log()));
        self.journal.append(&Event::Intent {
            step: self.step.to_string(),
            intent: intent.clone(),
            at: now(),
        })?;
        self.intents.push(intent);
        Ok(())
    }

    /// Names the step that the following intents belong to.
    pub(crate) fn set_step(&mut self, name: &'static str) {
        self.step = name;
        self.intents.clear();
    }

    /// The intents the current step recorded so far.
    pub(crate) fn take_intents(&mut self) -> Vec<Intent> {
        std::mem::take(&mut self.intents)
    }

    /// A line for the operator and the log.
    pub fn say(&self, message: impl std::fmt::Display) {
        let text = message.to_string();
        if self.options.verbose {
            println!("   {text}");
        }
        self.log.line(&text);
    }

    /// A line for the operator and the log that the run's report repeats after its outcome:
    /// what an undo deliberately left as it is.
    pub fn note(&self, message: impl std::fmt::Display) {
        let text = message.to_string();
        self.say(&text);
        self.notes.push(text);
    }

    /// The notes so far.
    pub fn notes(&self) -> Vec<String> {
        self.notes.all()
    }

    /// A line for the operator and the log that the run's report repeats before its outcome,
    /// however the run ends: what the run was told or found before it changed anything (an
    /// override and its reason, how the host differs from the rehearsal).
    pub fn remark(&self, message: impl std::fmt::Display) {
        let text = message.to_string();
        self.say(&text);
        self.remarks.push(text);
    }

    /// The remarks so far.
    pub fn remarks(&self) -> Vec<String> {
        self.remarks.all()
    }
}

/// Lines a run's report repeats, gathered from any thread of the run (the migrate workers').
#[derive(Default)]
struct ReportLines(std::sync::Mutex<Vec<String>>);

impl ReportLines {
    fn push(&self, line: String) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(line);
    }

    fn all(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Work right before and right after each step, inside the step's failure scope: a failure
/// fails the step, and the run is undone. The patch's checklist is one (`crate::checklist`);
/// the engine knows only this trait, so it imports none of them.
pub trait StepHook {
    fn before(&self, cx: &Context<'_>, step: &str) -> Result<(), StepError>;
    fn after(&self, cx: &Context<'_>, step: &str) -> Result<(), StepError>;
}

/// One phase of a run.
pub trait Step {
    /// The step's name: in the journal, the log, `plan`, and `BASCULE_FAIL_AT`.
    fn name(&self) -> &'static str;
    /// One line saying what the step does, for `plan`.
    fn summary(&self) -> &'static str;
    /// Does the step's work; records intents before acting.
    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError>;
    /// Undoes what the intents say may have been done. Idempotent.
    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError>;
    /// Refuses a `rollback` whose undo of this step could not bring the host back where it was,
    /// before any step is undone: a rollback that cannot finish must not start. Asked of every
    /// step the journal names; most can always be undone.
    fn check_rollback(&self, _cx: &Context<'_>, _intents: &[Intent]) -> Result<(), StepError> {
        Ok(())
    }
    /// Work after the run is committed (pruning, reports): failures here are only warnings,
    /// because nothing may be undone once the run is committed.
    fn after_commit(&self, _cx: &Context<'_>) -> Result<(), StepError> {
        Ok(())
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every step succeeded.
    Committed,
    /// A step failed and every started step was undone: the host is as it was.
    RolledBack { step: String, error: StepError },
    /// `recover` undid every step the interrupted run had started: the host is as it was
    /// before that run.
    Recovered,
    /// A step failed and some undo failed too: the host needs `bascule recover`.
    UndoIncomplete {
        step: String,
        error: StepError,
        undo_errors: Vec<(String, StepError)>,
    },
}

impl Outcome {
    /// What went wrong, one line each (`<step>: <error>`, then each failed undo); empty when
    /// the run did what was asked.
    pub fn errors(&self) -> Vec<String> {
        match self {
            Outcome::Committed | Outcome::Recovered => Vec::new(),
            Outcome::RolledBack { step, error } => vec![format!("{step}: {error}")],
            Outcome::UndoIncomplete {
                step,
                error,
                undo_errors,
            } => std::iter::once(format!("{step}: {error}"))
                .chain(
                    undo_errors
                        .iter()
                        .map(|(step, error)| format!("undo {step}: {error}")),
                )
                .collect(),
        }
    }
}

/// Runs `steps` in order; on failure, undoes every started step in reverse.
pub fn run(steps: &[Box<dyn Step>], cx: &mut Context<'_>) -> Result<Outcome, StepError> {
    let mut started: Started<'_> = Vec::new();
    for step in steps {
        let step = step.as_ref();
        cx.set_step(step.name());
        if cx.options.verbose {
            println!("==> {}", step.name());
        }
        cx.log.line(format_args!("step {} start", step.name()));
        let clock = Instant::now();
        // A journal that cannot be written (a full disk) fails the step like anything else:
        // the run must not go on unrecorded, and what it did is undone.
        let result = cx
            .journal
            .append(&Event::StepStart {
                step: step.name().to_string(),
                at: now(),
            })
            .map_err(StepError::from)
            .and_then(|()| cx.hook.map_or(Ok(()), |h| h.before(cx, step.name())))
            .and_then(|()| step.run(cx))
            .and_then(|()| injected_failure(cx, step.name()))
            .and_then(|()| cx.hook.map_or(Ok(()), |h| h.after(cx, step.name())))
            .and_then(|()| {
                cx.journal
                    .append(&Event::StepDone {
                        step: step.name().to_string(),
                        at: now(),
                        ms: elapsed_ms(clock),
                    })
                    .map_err(StepError::from)
            });
        let ms = elapsed_ms(clock);
        started.push((step, cx.take_intents()));
        match result {
            Ok(()) => {
                cx.log
                    .line(format_args!("step {} done in {ms} ms", step.name()));
            }
            Err(error) => return fail(cx, &started, step.name(), error, ms),
        }
    }
    if let Err(error) = cx.journal.append(&Event::RunCommitted { at: now() }) {
        let last = started.last().map_or("finish", |(step, _)| step.name());
        return fail(cx, &started, last, error.into(), 0);
    }
    cx.log.line("run committed");
    for step in steps {
        if let Err(e) = step.after_commit(cx) {
            cx.say(format_args!("warning: {}: {e}", step.name()));
        }
    }
    Ok(Outcome::Committed)
}

/// Step `step` failed with `error`: every started step is undone, in reverse.
fn fail(
    cx: &Context<'_>,
    started: &Started<'_>,
    step: &str,
    error: StepError,
    ms: u64,
) -> Result<Outcome, StepError> {
    cx.log.line(format_args!("step {step} FAILED: {error}"));
    if let Err(e) = cx.journal.append(&Event::StepFailed {
        step: step.to_string(),
        at: now(),
        ms,
        error: error.to_string(),
    }) {
        cx.log.line(format_args!(
            "the journal could not record the failure: {e}"
        ));
    }
    if cx.options.verbose {
        println!("   FAILED: {error}");
        println!("==> undoing every step, in reverse");
    }
    // The room set aside before the run is the undo's now: a step that failed on a full disk
    // leaves none, and a SQLite down needs some for its rollback journal.
    cx.journal.release_reserve();
    let undo_errors = undo_all(started, cx);
    finish_failed(cx, step, error, undo_errors)
}

fn finish_failed(
    cx: &Context<'_>,
    step: &str,
    error: StepError,
    undo_errors: Vec<(String, StepError)>,
) -> Result<Outcome, StepError> {
    if undo_errors.is_empty() {
        cx.journal.append(&Event::RunRolledBack { at: now() })?;
        cx.log
            .line("run rolled back: the host is as it was before the run");
        Ok(Outcome::RolledBack {
            step: step.to_string(),
            error,
        })
    } else {
        cx.log
            .line("UNDO INCOMPLETE: fix the cause, then run `bascule recover`");
        Ok(Outcome::UndoIncomplete {
            step: step.to_string(),
            error,
            undo_errors,
        })
    }
}

/// Undoes `started` in reverse. An undo that fails does not stop the others (each is
/// independent and idempotent); but the lock is kept, through the guard's undo being skipped,
/// so that no other run starts on a host that still needs `bascule recover`.
pub fn undo_all(
    started: &[(&dyn Step, Vec<Intent>)],
    cx: &Context<'_>,
) -> Vec<(String, StepError)> {
    let mut errors: Vec<(String, StepError)> = Vec::new();
    for (step, intents) in started.iter().rev() {
        if !errors.is_empty() && is_lock_holder(intents) {
            cx.log.line(format_args!(
                "undo {}: skipped, the lock stays until `bascule recover` succeeds",
                step.name()
            ));
            continue;
        }
        if let Err(e) = undo_one(*step, intents, cx) {
            errors.push((step.name().to_string(), e));
        }
    }
    errors
}

fn is_lock_holder(intents: &[Intent]) -> bool {
    intents.iter().any(|i| matches!(i, Intent::Lock { .. }))
}

fn undo_one(step: &dyn Step, intents: &[Intent], cx: &Context<'_>) -> Result<(), StepError> {
    if cx.options.verbose {
        println!("<== undo {}", step.name());
    }
    cx.log.line(format_args!("undo {} start", step.name()));
    cx.journal.append(&Event::UndoStart {
        step: step.name().to_string(),
        at: now(),
    })?;
    let clock = Instant::now();
    match step.undo(cx, intents) {
        Ok(()) => {
            let ms = elapsed_ms(clock);
            cx.log
                .line(format_args!("undo {} done in {ms} ms", step.name()));
            cx.journal.append(&Event::UndoDone {
                step: step.name().to_string(),
                at: now(),
                ms,
            })?;
            Ok(())
        }
        Err(error) => {
            cx.log
                .line(format_args!("undo {} FAILED: {error}", step.name()));
            if cx.options.verbose {
                println!("   UNDO FAILED: {error}");
            }
            cx.journal.append(&Event::UndoFailed {
                step: step.name().to_string(),
                at: now(),
                error: error.to_string(),
            })?;
            Err(error)
        }
    }
}

/// Undoes, in reverse, the steps a journal says were started and not yet undone: the work of
/// `rollback` (on a committed run) and `recover` (on a killed one).
pub fn undo_history(
    steps: &[Box<dyn Step>],
    history: &RunHistory,
    cx: &Context<'_>,
) -> Result<Vec<(String, StepError)>, StepError> {
    Ok(undo_all(&started_steps(steps, history)?, cx))
}

/// Asks every step a journal says was started and not yet undone whether a rollback may undo
/// it ([`Step::check_rollback`]); the first refusal, with the step's name.
pub fn check_rollback(
    steps: &[Box<dyn Step>],
    history: &RunHistory,
    cx: &Context<'_>,
) -> Result<Option<(String, StepError)>, StepError> {
    for (step, intents) in started_steps(steps, history)? {
        if let Err(refusal) = step.check_rollback(cx, &intents) {
            return Ok(Some((step.name().to_string(), refusal)));
        }
    }
    Ok(None)
}

/// Steps that were started, each with the intents it recorded: what an undo works through.
type Started<'s> = Vec<(&'s dyn Step, Vec<Intent>)>;

fn started_steps<'s>(
    steps: &'s [Box<dyn Step>],
    history: &RunHistory,
) -> Result<Started<'s>, StepError> {
    let mut started: Started<'_> = Vec::new();
    for recorded in history.steps.iter().filter(|s| !s.undone) {
        let step = steps
            .iter()
            .find(|s| s.name() == recorded.name)
            .ok_or_else(|| {
                StepError::Failed(format!(
                    "the journal names a step `{}` this runtime does not know; use the bundle that made the run",
                    recorded.name
                ))
            })?;
        started.push((step.as_ref(), recorded.intents.clone()));
    }
    Ok(started)
}

fn injected_failure(cx: &Context<'_>, step: &str) -> Result<(), StepError> {
    if cx.options.pause_at.as_deref() == Some(step) {
        pause(cx, step)?;
    }
    if cx.options.crash_at.as_deref() == Some(step) {
        cx.log.line(format_args!(
            "BASCULE_CRASH_AT={step}: aborting the process (test hook)"
        ));
        std::process::abort();
    }
    if cx.options.fail_at.as_deref() == Some(step) {
        return Err(StepError::Injected(step.to_string()));
    }
    Ok(())
}

/// The `BASCULE_PAUSE_AT` test hook: announce the pause with a file, wait for `resume`.
fn pause(cx: &Context<'_>, step: &str) -> Result<(), StepError> {
    let paused = cx.run_dir.join(format!("paused-at-{step}"));
    let resume = cx.run_dir.join("resume");
    cx.log.line(format_args!(
        "BASCULE_PAUSE_AT={step}: waiting for {} (test hook)",
        resume.display()
    ));
    std::fs::write(&paused, "").map_err(StepError::io(&paused))?;
    let deadline = Instant::now() + std::time::Duration::from_secs(600);
    while !resume.exists() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

fn elapsed_ms(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX)
}

//! Runs: `apply`, `rollback` and `recover`, each with its own run directory.
//!
//! ```text
//! <state_dir>/runs/<run-id>/journal.jsonl   the journal (see `journal`)
//!                          /update.log      every command and statement, timestamped
//!                          /report.txt      how the run ended
//!                          /fingerprint.json the host's environment (see `fingerprint`)
//! ```
//!
//! `rollback` and `recover` do not have undo code of their own: they read a journal back and
//! hand each step its recorded intents, exactly as a failing `apply` does in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{self, Context, Options, Outcome, Step, StepError};
use crate::fingerprint::{requirements, Fingerprint, FINGERPRINT_FILE};
use crate::host::HostProfile;
use crate::host_lock::HostLock;
use crate::journal::{now, Event, Intent, Journal, RunHistory, RunKind, JOURNAL_FILE};
use crate::report;
use crate::state::{runs_dir, PlatformState};
use crate::steps::{apply_steps, guard};
use crate::trusted;
use bascule_bundle::Manifest;
use bascule_db::DbError;
use bascule_db::DbLocks;
use bascule_patch::Patch;
use bascule_runlog::{RunLog, LOG_FILE};

/// Everything a run starts from: the host, the bundle and the operator's options.
pub struct Setup {
    pub host: HostProfile,
    pub patch: Patch,
    pub bundle_root: PathBuf,
    pub manifest: Manifest,
    /// The patch's checklist and test book (`docs/`), which `apply` follows.
    pub documents: bascule_patch::docs::Documents,
    pub options: Options,
    /// How long the run waits for the database-side migration locks another run holds
    /// (`--lock-timeout`) before it gives up, having changed nothing.
    pub lock_timeout: std::time::Duration,
}

/// How a run ended, with where its files are.
#[derive(Debug)]
pub struct RunReport {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub kind: RunKind,
    pub outcome: Outcome,
    /// What the operator reads: also the content of `report.txt`.
    pub summary: String,
    /// The platform's version when the run started, and when it ended.
    pub platform_before: Option<String>,
    pub platform_after: Option<String>,
}

impl RunReport {
    /// The process's exit code: 0 done, 1 failed and undone, 3 undo incomplete
    /// (2, refused before a run started, is the CLI's).
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            Outcome::Committed | Outcome::Recovered => 0,
            Outcome::RolledBack { .. } => 1,
            Outcome::UndoIncomplete { .. } => 3,
        }
    }
}

/// An open run directory with its log and journal.
struct RunFiles {
    id: String,
    kind: RunKind,
    dir: PathBuf,
    /// The platform version when the run started, for the release history.
    from: Option<String>,
    log: RunLog,
    journal: Journal,
}

impl RunFiles {
    fn create(setup: &Setup, kind: RunKind, undoes: Option<String>) -> Result<RunFiles, StepError> {
        let runs = runs_dir(&setup.host.state_dir);
        std::fs::create_dir_all(&runs).map_err(StepError::io(&runs))?;
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S");
        let base = format!("{stamp}-{}-{}", setup.patch.version(), kind.as_str());
        let (id, dir) = unique_dir(&runs, &base)?;
        let files = RunFiles::open(id, kind, dir, &setup.host)?;
        // Before any step, so preflight compares with the rehearsal what this run recorded; and
        // before the start record, so a run that cannot record it leaves no run behind.
        let fingerprint = Fingerprint::capture(&setup.host, &setup.patch);
        fingerprint
            .write(&files.dir)
            .map_err(|e| StepError::Failed(e.to_string()))?;
        files.log.line(format_args!(
            "environment fingerprint: {} facts in {FINGERPRINT_FILE}",
            fingerprint.facts.len()
        ));
        files.journal.append(&Event::RunStart {
            run: files.id.clone(),
            kind,
            version: setup.patch.version().to_string(),
            bundle_digest: setup.manifest.digest(),
            undoes,
            operator: Some(crate::gate::operator()),
            hostname: Some(crate::host_lock::hostname()),
            at: now(),
        })?;
        Ok(files)
    }

    fn open(
        id: String,
        kind: RunKind,
        dir: PathBuf,
        host: &HostProfile,
    ) -> Result<RunFiles, StepError> {
        let log = RunLog::open(&dir.join(LOG_FILE), false).map_err(StepError::io(&dir))?;
        let journal = Journal::create(&dir.join(JOURNAL_FILE))?;
        journal.reserve(&host.undo_dirs())?;
        Ok(RunFiles {
            id,
            kind,
            from: platform_version(&host.state_dir),
            dir,
            log,
            journal,
        })
    }

    fn context<'a>(&'a self, setup: &'a Setup, options: &'a Options) -> Context<'a> {
        Context::new(
            &setup.host,
            &setup.patch,
            &setup.bundle_root,
            &setup.manifest,
            &self.id,
            &self.dir,
            &self.log,
            &self.journal,
            options,
        )
        .for_run(self.kind)
        .with_documents(&setup.documents)
        .with_hook(&crate::checklist::Checklist)
    }

    /// How the run ended, with the context's remarks before the outcome and its notes after.
    fn report(&self, outcome: Outcome, cx: &Context<'_>) -> RunReport {
        let remarks: String = cx
            .remarks()
            .iter()
            .map(|remark| format!("NOTE: {remark}\n"))
            .collect();
        let summary = remarks + &describe_outcome(self.kind, &outcome, &cx.notes());
        // One log line each: every line of update.log starts with its time stamp.
        for line in summary.lines() {
            self.log.line(line);
        }
        let path = self.dir.join("report.txt");
        if let Err(e) = std::fs::write(&path, format!("run {}\n{summary}\n", self.id)) {
            self.log
                .line(format_args!("cannot write {}: {e}", path.display()));
        }
        // At the end, not the start: the run's own writes come first on a full state disk.
        keep_testbook(cx.bundle_root, self);
        let to = platform_version(&cx.host.state_dir);
        match report::finish_run(&cx.host.state_dir, &self.dir, self.from.clone(), to.clone()) {
            Ok(view) => self.log.line(format_args!(
                "intervention sheet and report written ({}, {}); downtime {}",
                report::SHEET_HTML,
                report::REPORT_HTML,
                view.downtime_ms
                    .map_or("none".into(), bascule_pages::run_view::duration)
            )),
            Err(e) => self.log.line(format_args!(
                "could not write the intervention sheet or the report: {e}"
            )),
        }
        RunReport {
            run_id: self.id.clone(),
            run_dir: self.dir.clone(),
            kind: self.kind,
            outcome,
            summary,
            platform_before: self.from.clone(),
            platform_after: to,
        }
    }
}

/// The platform version recorded in `state_dir`, if any.
fn platform_version(state_dir: &Path) -> Option<String> {
    PlatformState::read(state_dir)
        .ok()
        .flatten()
        .map(|state| state.version.to_string())
}

/// Keeps a copy of the bundle's test book in the run directory, so the run's sheet lists its
/// cases without the bundle (redrawn by `bascule note` or `bascule report` later).
fn keep_testbook(bundle_root: &Path, files: &RunFiles) {
    let from = bundle_root
        .join("docs")
        .join(bascule_patch::docs::TESTBOOK_FILE);
    if from.is_file() {
        if let Err(e) = std::fs::copy(&from, files.dir.join(report::view::TESTBOOK_COPY)) {
            files.log.line(format_args!(
                "could not keep a copy of {}: {e}",
                from.display()
            ));
        }
    }
}

fn unique_dir(runs: &Path, base: &str) -> Result<(String, PathBuf), StepError> {
    for n in 0..1000 {
        let id = if n == 0 {
            base.to_string()
        } else {
            format!("{base}.{n}")
        };
        let dir = runs.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(StepError::io(&dir)(e)),
        }
    }
    Err(StepError::Failed(format!(
        "{}: cannot name a new run directory",
        runs.display()
    )))
}

/// A one-paragraph account of how a run ended, for the operator and `report.txt`; then a
/// `BUT:` line for each of `notes`, what an undo deliberately left as it is.
pub fn describe_outcome(kind: RunKind, outcome: &Outcome, notes: &[String]) -> String {
    // The host is back as it was… except for what the notes name.
    let end = if notes.is_empty() { "." } else { ", except:" };
    let mut account = outcome_account(kind, outcome, end);
    for note in notes {
        account.push_str(&format!("\nBUT: {note}"));
    }
    account
}

fn outcome_account(kind: RunKind, outcome: &Outcome, end: &str) -> String {
    match (kind, outcome) {
        (RunKind::Apply, Outcome::Committed) => {
            "SUCCESS: every step succeeded; the run is committed.".into()
        }
        (RunKind::Migrate, Outcome::Committed) => {
            "SUCCESS: every database is at the bundle's version; the run is committed.".into()
        }
        (RunKind::Rollback, Outcome::Committed) => {
            format!("ROLLED BACK: every step of the last apply was undone; the host is back where it was before it{end}")
        }
        (_, Outcome::Recovered) => format!(
            "RECOVERED: the interrupted run is undone; the host is as it was before that run{end}"
        ),
        (_, Outcome::RolledBack { step, error }) => format!(
            "FAILED at step `{step}`: {error}\nEvery step was undone: the host is as it was before the run{end}"
        ),
        (_, Outcome::UndoIncomplete { step, error, undo_errors }) => {
            let undo: Vec<String> = undo_errors.iter().map(|(s, e)| format!("  undo {s}: {e}")).collect();
            format!(
                "FAILED at step `{step}`: {error}\nUNDO INCOMPLETE:\n{}\nThe host lock is kept. Fix the cause, then run `bascule recover`.",
                undo.join("\n")
            )
        }
    }
}

/// How long `apply`, `rollback` and `recover` wait by default, in seconds, for the migration
/// locks another run holds: an operator's run should not queue behind a deploy system's
/// `bascule migrate` for long, it should say so.
pub const OPERATOR_LOCK_TIMEOUT_SECS: u64 = 30;

/// `bascule apply`: every step, and on failure every undo, under the database-side migration
/// locks (see [`migrate`]): no other run, from any host, migrates these databases meanwhile, so
/// the survey `preflight` takes is still exact when `migrate` starts.
pub fn apply(setup: &Setup) -> Result<RunReport, StepError> {
    let files = RunFiles::create(setup, RunKind::Apply, None)?;
    let report = under_db_locks(setup, &files, &apply_steps())?;
    if matches!(report.outcome, Outcome::Committed) {
        // After the commit, and outside the run: the release is in place whatever happens here.
        match trusted::install_runtime(&setup.host.state_dir, &setup.bundle_root) {
            Ok(path) => files.log.line(format_args!(
                "installed this release's runtime as {}: it verifies the next bundle",
                path.display()
            )),
            Err(e) => files.log.line(format_args!(
                "could not install this release's runtime in the state directory: {e}"
            )),
        }
    }
    Ok(report)
}

/// `bascule migrate`: only the database part of `apply` (guard, migrate, post-checks), under a
/// lock on every database it may migrate, held on the database servers themselves.
///
/// Several hosts may start it at once (a deploy system's pre-deploy task): the first to get the
/// locks migrates, the others wait for them, then survey, find nothing left to do and succeed.
/// The locks are taken before the survey, so what a run surveys cannot change under it; they
/// are session locks, released by the servers even if this process is killed (see
/// [`bascule_db::DbLocks`]). The host lock is taken too, so a run killed here is finished by
/// `bascule recover` on this host like any other.
pub fn migrate(setup: &Setup) -> Result<RunReport, StepError> {
    let files = RunFiles::create(setup, RunKind::Migrate, None)?;
    // `migrate` runs no preflight, but what it runs must be the bundle (signed, when the host
    // pins keys), and the servers it migrates the ones the patch was written for: its
    // [requirements] are checked first, from the fingerprint it recorded.
    let refusal = match trusted::check_bundle(&setup.host, &setup.bundle_root, &setup.manifest) {
        Err(error) => Some(("bundle", error)),
        Ok(trust) => {
            files.log.line(trust.describe());
            unmet_requirements(setup, &files)?.map(|error| ("requirements", error))
        }
    };
    if let Some((step, error)) = refusal {
        let cx = files.context(setup, &setup.options);
        let step = step.to_string();
        return Ok(files.report(Outcome::RolledBack { step, error }, &cx));
    }
    under_db_locks(setup, &files, &migrate_steps())
}

/// The patch's `[requirements]` this host does not meet, as one error.
fn unmet_requirements(setup: &Setup, files: &RunFiles) -> Result<Option<StepError>, StepError> {
    let fingerprint = Fingerprint::read(&files.dir.join(FINGERPRINT_FILE))
        .map_err(|e| StepError::Failed(e.to_string()))?;
    let checks = requirements::check(&setup.patch.spec.requirements, &fingerprint);
    Ok(requirements::unmet(&checks).map(StepError::Failed))
}

/// Runs `steps` holding the migration lock of every database the patch may migrate, taken
/// before the first step and released after the last step (or undo).
fn under_db_locks(
    setup: &Setup,
    files: &RunFiles,
    steps: &[Box<dyn Step>],
) -> Result<RunReport, StepError> {
    let mut cx = files.context(setup, &setup.options);
    if let Err(error) = guard::refusal(&cx) {
        // Before waiting for the locks: a run the guard refuses is refused at once.
        return Ok(files.report(
            Outcome::RolledBack {
                step: "guard".into(),
                error,
            },
            &cx,
        ));
    }
    let targets = migrated_targets(setup)?;
    let locks = match take_db_locks(&mut cx, &targets, setup.lock_timeout) {
        Ok(locks) => locks,
        Err(error) => {
            return Ok(files.report(
                Outcome::RolledBack {
                    step: "migration locks".into(),
                    error: error.into(),
                },
                &cx,
            ))
        }
    };
    let outcome = engine::run(steps, &mut cx)?;
    release_locks(&cx, locks);
    Ok(files.report(outcome, &cx))
}

/// The steps of `bascule migrate`: the database part of [`apply_steps`], with its guard.
pub fn migrate_steps() -> Vec<Box<dyn Step>> {
    let keep = ["guard", "migrate", "post-checks"];
    apply_steps()
        .into_iter()
        .filter(|step| keep.contains(&step.name()))
        .collect()
}

/// Every database of every class the patch has migrations for.
fn migrated_targets(setup: &Setup) -> Result<Vec<bascule_db::DbTarget>, StepError> {
    let mut targets = Vec::new();
    for (class, migrations) in &setup.patch.migrations.classes {
        if !migrations.migrations.is_empty() {
            targets.extend(setup.host.discover(class)?);
        }
    }
    Ok(targets)
}

/// `bascule rollback`: undo the last committed apply, which must have been made by this bundle.
pub fn rollback(setup: &Setup) -> Result<RunReport, StepError> {
    let state = PlatformState::read(&setup.host.state_dir)?.ok_or_else(|| {
        StepError::Failed("no platform version is recorded: there is nothing to roll back".into())
    })?;
    let last = state.run.clone().ok_or_else(|| {
        StepError::Failed(format!(
            "platform {} was not installed by a Bascule run: there is no journal to roll back",
            state.version
        ))
    })?;
    if state.version != *setup.patch.version() {
        return Err(StepError::Failed(format!(
            "the platform is at {}, but this is the {} bundle: run the rollback of the bundle that installed {}",
            state.version,
            setup.patch.version(),
            state.version
        )));
    }
    let history = committed_history(setup, &last)?;
    check_previous_releases(&history)?;
    check_irreversible(setup, &history, &last)?;
    let files = RunFiles::create(setup, RunKind::Rollback, Some(last))?;
    // An undo runs no guard step: the forbidden days protect against starting a release, and
    // taking one back is allowed at any time.
    let mut cx = files.context(setup, &setup.options);
    let outcome = undo_with_lock(&mut cx, &history, setup.lock_timeout)?;
    Ok(files.report(outcome, &cx))
}

fn committed_history(setup: &Setup, run: &str) -> Result<RunHistory, StepError> {
    let path = runs_dir(&setup.host.state_dir).join(run).join(JOURNAL_FILE);
    let history = RunHistory::from_events(&Journal::read(&path)?);
    check_same_bundle(setup, &history, &path)?;
    if !history.committed {
        return Err(StepError::Failed(format!(
            "{}: that run was not committed; use `bascule recover` for an interrupted run",
            path.display()
        )));
    }
    Ok(history)
}

/// Refuses a rollback whose code switch-back would point `current` at a release that is gone:
/// better to change nothing than to leave a dangling `current`.
fn check_previous_releases(history: &RunHistory) -> Result<(), StepError> {
    for step in &history.steps {
        for intent in &step.intents {
            let Intent::SwitchCurrent {
                link,
                previous: Some(previous),
                ..
            } = intent
            else {
                continue;
            };
            let target = link.parent().unwrap_or(Path::new(".")).join(previous);
            if !target.is_dir() {
                return Err(StepError::Failed(format!(
                    "{}: the release `current` pointed to before that run is gone (pruned or removed), \
                     so the code cannot be switched back; restore it first",
                    target.display()
                )));
            }
        }
    }
    Ok(())
}

/// Refuses a rollback of a run that applied a migration declared irreversible
/// (`-- bascule:irreversible <reason>`): its down does not restore what its up removed, so the
/// old code would run on databases without it. Read from the journal and the bundle alone,
/// before anything is written or locked: nothing is undone.
fn check_irreversible(setup: &Setup, history: &RunHistory, run: &str) -> Result<(), StepError> {
    // (class, label, reason) → databases the run brought past it.
    let mut applied: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for step in history.steps.iter().filter(|step| !step.undone) {
        for intent in &step.intents {
            let Intent::Migrate { databases, .. } = intent else {
                continue;
            };
            for start in databases {
                let Some(class) = setup.patch.migrations.class(&start.target.class) else {
                    continue;
                };
                for m in class.pending(start.version) {
                    if let Some(reason) = m.irreversible() {
                        let key = (m.class.clone(), m.label(), reason.to_string());
                        *applied.entry(key).or_default() += 1;
                    }
                }
            }
        }
    }
    if applied.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = applied
        .into_iter()
        .map(|((class, label, reason), databases)| {
            let reason = if reason.is_empty() {
                "no reason given".to_string()
            } else {
                reason
            };
            format!(
                "class `{class}`, migration {label} ({reason}), applied on {databases} database(s)"
            )
        })
        .collect();
    Err(StepError::Failed(format!(
        "run {run} applied {} irreversible migration(s): {}. Their down does not restore what their \
         up removed, so the previous release's code would run on databases without it. Nothing was \
         undone: fix forward with a new patch, or restore those databases from the backup taken \
         before the run",
        list.len(),
        list.join("; ")
    )))
}

fn check_same_bundle(setup: &Setup, history: &RunHistory, path: &Path) -> Result<(), StepError> {
    let digest = setup.manifest.digest();
    match history.run_and_digest() {
        Some((_, recorded)) if recorded == digest => Ok(()),
        Some((run, recorded)) => Err(StepError::Failed(format!(
            "{}: run {run} was made by another bundle (manifest digest {recorded}, this one is {digest}); \
             use the bundle that made it",
            path.display()
        ))),
        None => Err(StepError::Failed(format!("{}: the journal has no start record", path.display()))),
    }
}

/// Takes the lock for this run, undoes `history`, releases the lock if every undo succeeded.
fn undo_with_lock(
    cx: &mut Context<'_>,
    history: &RunHistory,
    timeout: std::time::Duration,
) -> Result<Outcome, StepError> {
    cx.set_step(guard::Guard.name());
    if let Err(error) = guard::Guard.run(cx) {
        // Nothing of the committed run was touched; only a lock this run took is released.
        let intents = cx.take_intents();
        guard::Guard.undo(cx, &intents)?;
        return Ok(Outcome::RolledBack {
            step: "guard".into(),
            error,
        });
    }
    match undo_under_locks(cx, history, timeout, Checked::Rollback)? {
        Ok(errors) => finish_undo(cx, errors),
        Err(not_started) => {
            let intents = cx.take_intents();
            guard::Guard.undo(cx, &intents)?;
            let (step, error) = not_started.step_and_error();
            Ok(Outcome::RolledBack { step, error })
        }
    }
}

/// Whether an undo first asks every step if it may undo it ([`Step::check_rollback`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checked {
    /// `rollback`: the committed run must be undone whole, or not at all.
    Rollback,
    /// `recover`: the interrupted run is undone as far as it can be, so the host lock goes.
    Recover,
}

/// Why an undo under the migration locks did not start; nothing was undone.
enum NotStarted {
    /// The migration locks could not be had.
    Locks(DbError),
    /// This step refused the rollback.
    Refused(String, StepError),
}

impl NotStarted {
    /// What stopped the undo, and why: as an outcome names a failed step.
    fn step_and_error(self) -> (String, StepError) {
        match self {
            NotStarted::Locks(error) => ("migration locks".to_string(), error.into()),
            NotStarted::Refused(step, error) => (step, error),
        }
    }
}

/// The databases whose migrations `history` recorded and has not undone yet, with the
/// passwords `host` gives their servers (the journal names servers without them).
fn undo_targets(history: &RunHistory, host: &HostProfile) -> Vec<bascule_db::DbTarget> {
    let credentials = host.credentials();
    history
        .steps
        .iter()
        .filter(|step| !step.undone)
        .flat_map(|step| &step.intents)
        .filter_map(|intent| match intent {
            Intent::Migrate { databases, .. } => Some(databases),
            _ => None,
        })
        .flatten()
        .map(|start| credentials.attach(&start.target))
        .collect()
}

/// Undoes `history` holding the migration locks of the databases it touches, as `apply` and
/// `migrate` hold theirs: no other run migrates them while they are undone, and the undo may read
/// their versions in bulk ([`Context::hold_db_locks`]). `Ok(Err(_))`: the undo did not start.
fn undo_under_locks(
    cx: &mut Context<'_>,
    history: &RunHistory,
    timeout: std::time::Duration,
    checked: Checked,
) -> Result<Result<Vec<(String, StepError)>, NotStarted>, StepError> {
    let locks = match take_db_locks(cx, &undo_targets(history, cx.host), timeout) {
        Ok(locks) => locks,
        Err(error) => return Ok(Err(NotStarted::Locks(error))),
    };
    if checked == Checked::Rollback {
        if let Some((step, refusal)) = engine::check_rollback(&apply_steps(), history, cx)? {
            release_locks(cx, locks);
            return Ok(Err(NotStarted::Refused(step, refusal)));
        }
    }
    // The room reserved when this run started is the undo's now (see `Journal::reserve`).
    cx.journal.release_reserve();
    let errors = engine::undo_history(&apply_steps(), history, cx)?;
    release_locks(cx, locks);
    Ok(Ok(errors))
}

/// Takes the migration locks of `targets` (see [`bascule_db::DbLocks`]), waiting at most `timeout`,
/// and marks the run as holding them.
fn take_db_locks(
    cx: &mut Context<'_>,
    targets: &[bascule_db::DbTarget],
    timeout: std::time::Duration,
) -> Result<DbLocks, DbError> {
    cx.say(format_args!(
        "migration locks: {} database(s), waiting at most {} s",
        targets.len(),
        timeout.as_secs()
    ));
    let locks = DbLocks::acquire(targets, timeout, &|message| cx.say(message))?;
    cx.say(format_args!(
        "migration locks held ({} server session(s))",
        locks.sessions()
    ));
    cx.hold_db_locks();
    Ok(locks)
}

fn release_locks(cx: &Context<'_>, locks: DbLocks) {
    if let Err(e) = locks.release() {
        // The server releases them anyway when the session closes, right after this.
        cx.say(format_args!("releasing the migration locks: {e}"));
    }
}

/// For `recover`: an undo that did not start (only the migration locks can stop it).
fn not_started(reason: NotStarted) -> Outcome {
    let (step, error) = reason.step_and_error();
    Outcome::UndoIncomplete {
        step: "recover".into(),
        error: StepError::Failed("nothing was undone".into()),
        undo_errors: vec![(step, error)],
    }
}

fn finish_undo(cx: &Context<'_>, errors: Vec<(String, StepError)>) -> Result<Outcome, StepError> {
    if !errors.is_empty() {
        return Ok(Outcome::UndoIncomplete {
            step: "rollback".into(),
            error: StepError::Failed("some undo failed".into()),
            undo_errors: errors,
        });
    }
    guard::Guard.after_commit(cx)?;
    cx.journal.append(&Event::RunCommitted { at: now() })?;
    Ok(Outcome::Committed)
}

/// `bascule recover`: finish the undo of the run that holds the lock.
pub fn recover(setup: &Setup) -> Result<RunReport, StepError> {
    // Refused while the run that holds the lock is alive: two processes must never change
    // one host. Taken over, the lock is this process's until the undo is done.
    let (lock, holder) = HostLock::take_over(&setup.host.state_dir)?;
    let run = holder.run;
    let dir = runs_dir(&setup.host.state_dir).join(&run);
    let path = dir.join(JOURNAL_FILE);
    let events = Journal::read(&path)?;
    let history = RunHistory::from_events(&events);
    check_same_bundle(setup, &history, &path)?;
    let kind = run_kind(&history).map_or(RunKind::Apply, |(kind, _)| kind);
    let files = RunFiles::open(run, kind, dir, &setup.host)?;
    files.log.line("recover: taking over the interrupted run");
    let mut cx = files.context(setup, &setup.options);
    cx.hold_host_lock(lock);
    let outcome = match run_kind(&history) {
        _ if history.committed || history.rolled_back => {
            guard::Guard.after_commit(&cx)?;
            Outcome::Committed
        }
        Some((RunKind::Rollback, Some(undoes))) => {
            recover_rollback(setup, &mut cx, &events, &undoes)?
        }
        _ => recover_apply(&mut cx, &history, setup.lock_timeout)?,
    };
    Ok(files.report(outcome, &cx))
}

fn run_kind(history: &RunHistory) -> Option<(RunKind, Option<String>)> {
    match &history.start {
        Some(Event::RunStart { kind, undoes, .. }) => Some((*kind, undoes.clone())),
        _ => None,
    }
}

fn recover_apply(
    cx: &mut Context<'_>,
    history: &RunHistory,
    timeout: std::time::Duration,
) -> Result<Outcome, StepError> {
    let errors = match undo_under_locks(cx, history, timeout, Checked::Recover)? {
        Ok(errors) => errors,
        Err(reason) => return Ok(not_started(reason)),
    };
    if errors.is_empty() {
        cx.journal.append(&Event::RunRolledBack { at: now() })?;
        Ok(Outcome::Recovered)
    } else {
        Ok(Outcome::UndoIncomplete {
            step: "recover".into(),
            error: StepError::Failed("some undo failed again".into()),
            undo_errors: errors,
        })
    }
}

/// An interrupted rollback: undo what remains of the run it was undoing, then release its lock.
fn recover_rollback(
    setup: &Setup,
    cx: &mut Context<'_>,
    own: &[Event],
    undoes: &str,
) -> Result<Outcome, StepError> {
    let mut history = committed_history(setup, undoes)?;
    for step in history.steps.iter_mut() {
        let done_by_rollback = own
            .iter()
            .any(|e| matches!(e, Event::UndoDone { step: s, .. } if *s == step.name));
        step.undone |= done_by_rollback;
    }
    match undo_under_locks(cx, &history, setup.lock_timeout, Checked::Recover)? {
        Ok(errors) => finish_undo(cx, errors),
        Err(reason) => Ok(not_started(reason)),
    }
}

//! `guard`: only one run at a time, never outside tmux/screen, never on a day or at an hour
//! the patch's policy forbids, never without a fresh enough backup (the host profile's
//! `[guards.backup]`) — unless the operator writes why. `migrate` runs it too: a deploy
//! system's migration changes the data as much as a release does.
//!
//! The host lock ([`crate::host_lock`]) is taken here and held by the run for its whole life;
//! it is released when the run is committed or fully undone. A run that died keeps it, so
//! nothing can start on a half-changed host before `bascule recover` has put it back.

use std::path::Path;

use chrono::Datelike;

use crate::engine::{Context, Step, StepError};
use crate::host_lock::{self, HostLock};
use crate::journal::{Intent, RunKind};
use bascule_patch::weekday_from_name;

pub struct Guard;

impl Step for Guard {
    fn name(&self) -> &'static str {
        "guard"
    }

    fn summary(&self) -> &'static str {
        "refuse outside tmux/screen, on forbidden days and hours, and with a stale backup; take the host lock"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        // `refusal`'s checks, each once, the overridden ones remarked for the report; a held
        // lock is refused by `take_lock` itself.
        check_multiplexer(cx)?;
        if starts_a_release(cx) {
            for overridden in [check_window(cx)?, check_backup(cx)?].into_iter().flatten() {
                cx.remark(overridden);
            }
        }
        take_lock(cx)
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        for intent in intents {
            if let Intent::Lock { path, run } = intent {
                release_lock(cx, path, run)?;
            }
        }
        Ok(())
    }

    fn after_commit(&self, cx: &Context<'_>) -> Result<(), StepError> {
        release_lock(cx, &lock_path(cx), cx.run_id)
    }
}

/// Why the guard would refuse this run, if it would: checked by the step, and by a run before it
/// waits for anything else (the database-side migration locks), so that a refused run is refused
/// at once. The lock itself is only ever taken by the step, with `O_EXCL`.
pub fn refusal(cx: &Context<'_>) -> Result<(), StepError> {
    check_multiplexer(cx)?;
    if starts_a_release(cx) {
        check_window(cx)?;
        check_backup(cx)?;
    }
    let path = lock_path(cx);
    if path.exists() {
        return Err(host_lock::held(&path).into());
    }
    Ok(())
}

/// Whether this run starts a release (`apply`, `migrate`), which the policy's days and hours
/// and the backup guard protect; taking one back (`rollback`) is allowed at any time.
fn starts_a_release(cx: &Context<'_>) -> bool {
    cx.kind() != RunKind::Rollback
}

pub fn lock_path(cx: &Context<'_>) -> std::path::PathBuf {
    host_lock::lock_path(&cx.host.state_dir)
}

fn check_multiplexer(cx: &Context<'_>) -> Result<(), StepError> {
    let inside = ["TMUX", "STY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    if inside || cx.options.no_multiplexer {
        return Ok(());
    }
    Err(StepError::Failed(
        "not running inside tmux or screen: an SSH cut would kill the run half-way. \
         Start `tmux` (or `screen`) and run the same command in it \
         (automation that keeps its own session may pass --no-multiplexer)"
            .into(),
    ))
}

/// Whether the patch's policy forbids starting now: `Ok(None)` allowed, `Ok(Some(why))`
/// forbidden but overridden with a written reason, `Err` refused.
fn check_window(cx: &Context<'_>) -> Result<Option<String>, StepError> {
    let (day, time) = now(cx)?;
    let Some(why) = cx.patch.spec.policy.forbids(day, time) else {
        return Ok(None);
    };
    match cx.options.allow_forbidden_time.as_deref() {
        Some(reason) => Ok(Some(format!(
            "{why}; started anyway, accepted by {}: \"{reason}\"",
            crate::gate::operator()
        ))),
        None => Err(StepError::Failed(format!(
            "{why}. Run it when the policy allows, or, if the release team has agreed, pass \
             --allow-forbidden-time \"<why it must be now>\""
        ))),
    }
}

/// The weekday and time of day the guard judges by: the host's local time, or the test hook.
fn now(cx: &Context<'_>) -> Result<(chrono::Weekday, chrono::NaiveTime), StepError> {
    let local = chrono::Local::now();
    let Some(hook) = cx.options.today.as_deref() else {
        return Ok((local.weekday(), local.time()));
    };
    let wrong = || {
        StepError::Failed(format!(
            "BASCULE_TODAY=`{hook}` is not `<day> [HH:MM]` (mon … sun)"
        ))
    };
    let mut words = hook.split_whitespace();
    let day = words.next().and_then(weekday_from_name).ok_or_else(wrong)?;
    let time = match words.next() {
        Some(time) => chrono::NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| wrong())?,
        // A day alone: midday, inside any sensible window.
        None => chrono::NaiveTime::from_hms_opt(12, 0, 0).ok_or_else(wrong)?,
    };
    Ok((day, time))
}

/// The host's newest backup is recent enough ([guards.backup]): the seed's first prerequisite,
/// the copy of the data that saves the day if everything else fails.
fn check_backup(cx: &Context<'_>) -> Result<Option<String>, StepError> {
    let Some(backup) = &cx.host.guards.backup else {
        return Ok(None);
    };
    let Some(why) = backup.staleness(cx.host.dir(), std::time::SystemTime::now()) else {
        return Ok(None);
    };
    match cx.options.allow_stale_backup.as_deref() {
        Some(reason) => Ok(Some(format!(
            "{why}; started anyway, accepted by {}: \"{reason}\"",
            crate::gate::operator()
        ))),
        None => Err(StepError::Failed(format!(
            "{why}. Make a backup first, or, if one exists that Bascule cannot see, pass \
             --allow-stale-backup \"<why>\""
        ))),
    }
}

fn take_lock(cx: &mut Context<'_>) -> Result<(), StepError> {
    cx.intend(Intent::Lock {
        path: lock_path(cx),
        run: cx.run_id.to_string(),
    })?;
    let lock = HostLock::take(&cx.host.state_dir, cx.run_id)?;
    cx.hold_host_lock(lock);
    Ok(())
}

/// Removes the lock only if `run` holds it (a lock taken since by another run is left alone),
/// then lets go of this process's hold on it, if any.
fn release_lock(cx: &Context<'_>, path: &Path, run: &str) -> Result<(), StepError> {
    if path.exists() {
        cx.log.line(format_args!("release lock {}", path.display()));
    }
    host_lock::release_file(path, run)?;
    cx.release_host_lock()
}

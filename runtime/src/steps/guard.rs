//! `guard`: only one run at a time, never outside tmux/screen, never on a forbidden day.
//!
//! The host lock ([`crate::host_lock`]) is taken here and held by the run for its whole life;
//! it is released when the run is committed or fully undone. A run that died keeps it, so
//! nothing can start on a half-changed host before `bascule recover` has put it back.

use std::path::Path;

use chrono::Datelike;

use crate::engine::{Context, Step, StepError};
use crate::host_lock::{self, HostLock};
use crate::journal::Intent;
use bascule_patch::weekday_from_name;

pub struct Guard;

impl Step for Guard {
    fn name(&self) -> &'static str {
        "guard"
    }

    fn summary(&self) -> &'static str {
        "refuse outside tmux/screen and on forbidden days; take the host lock"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        refusal(cx)?;
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
    check_day(cx)?;
    let path = lock_path(cx);
    if path.exists() {
        return Err(host_lock::held(&path).into());
    }
    Ok(())
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

fn check_day(cx: &Context<'_>) -> Result<(), StepError> {
    let today = match cx.options.today.as_deref() {
        Some(name) => weekday_from_name(name).ok_or_else(|| {
            StepError::Failed(format!("BASCULE_TODAY=`{name}` is not a day (mon … sun)"))
        })?,
        None => chrono::Local::now().weekday(),
    };
    let forbidden = cx
        .patch
        .spec
        .policy
        .forbidden_days
        .iter()
        .any(|d| weekday_from_name(d) == Some(today));
    if forbidden && !cx.options.allow_forbidden_day {
        return Err(StepError::Failed(format!(
            "today is {today}, a day this patch's policy forbids (patch.toml [policy] forbidden_days). \
             Run it another day, or pass --allow-forbidden-day if the release team has agreed"
        )));
    }
    Ok(())
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

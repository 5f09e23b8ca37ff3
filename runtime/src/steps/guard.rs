//! `guard`: only one run at a time, never outside tmux/screen, never on a forbidden day.
//!
//! The lock is a file created with `O_EXCL` in the state directory, holding the run id. It is
//! released when the run is committed or fully undone; a run that died keeps it, so nothing can
//! start on a half-changed host before `bascule recover` has put it back.

use std::io::Write;
use std::path::Path;

use chrono::Datelike;

use crate::engine::{Context, Step, StepError};
use crate::journal::Intent;
use bascule_patch::weekday_from_name;

pub const LOCK_FILE: &str = "lock";

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
        return Err(StepError::Failed(held_lock_message(&path)));
    }
    Ok(())
}

pub fn lock_path(cx: &Context<'_>) -> std::path::PathBuf {
    cx.host.state_dir.join(LOCK_FILE)
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
    let path = lock_path(cx);
    std::fs::create_dir_all(&cx.host.state_dir).map_err(StepError::io(&cx.host.state_dir))?;
    cx.intend(Intent::Lock {
        path: path.clone(),
        run: cx.run_id.to_string(),
    })?;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StepError::Failed(held_lock_message(&path)));
        }
        Err(e) => return Err(StepError::io(&path)(e)),
    };
    let content = format!("run = \"{}\"\npid = {}\n", cx.run_id, std::process::id());
    file.write_all(content.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(StepError::io(&path))?;
    crate::state::sync_dir(&cx.host.state_dir).map_err(StepError::io(&cx.host.state_dir))
}

/// The run id written in a lock file, if it can be read.
pub fn lock_holder(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with("run = "))?;
    Some(
        line.trim_start_matches("run = ")
            .trim_matches('"')
            .to_string(),
    )
}

fn held_lock_message(path: &Path) -> String {
    let holder = lock_holder(path).unwrap_or_else(|| "an unknown run".into());
    format!(
        "{}: the host is locked by run {holder}. If that run is still going, wait for it; \
         if it was killed, run `bascule recover` to undo what it did",
        path.display()
    )
}

/// Removes the lock only if `run` holds it: a lock taken since by another run is left alone.
fn release_lock(cx: &Context<'_>, path: &Path, run: &str) -> Result<(), StepError> {
    if lock_holder(path).as_deref() != Some(run) {
        return Ok(());
    }
    cx.log.line(format_args!("release lock {}", path.display()));
    std::fs::remove_file(path).map_err(StepError::io(path))
}

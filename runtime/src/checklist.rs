//! The patch's checklist, item by item, at the steps the items name.
//!
//! `docs/checklist.toml` attaches some manual steps to a moment of the run ("after
//! maintenance-on: tell support the page is up"). [`Checklist`] is the engine's hook around
//! every step of an `apply` ([`StepHook`]): an item that is only shown is printed and journaled; a manual
//! one waits until someone says it is done — on the run's terminal (`y`), or, when the run has
//! none (detached, automation), through `bascule confirm` from another terminal ([`gate`]).
//! `--yes` confirms every item in advance, and the journal says so. An item answered "no"
//! (or `bascule abort`, or left unanswered for the patch's `[acceptance] timeout`) fails the
//! step, and the run is undone like any other failure.
//!
//! [`gate`]: crate::gate

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::engine::{Context, StepError, StepHook};
use crate::gate::{self, Decision};
use crate::journal::{now, Event, RunKind};
use bascule_patch::docs::Item;

/// The hook that follows the patch's checklist (the context's documents) around each step.
pub struct Checklist;

impl StepHook for Checklist {
    fn before(&self, cx: &Context<'_>, step: &str) -> Result<(), StepError> {
        at_step(cx, step, false)
    }

    fn after(&self, cx: &Context<'_>, step: &str) -> Result<(), StepError> {
        at_step(cx, step, true)
    }
}

/// Shows, and waits for, the items due right before `step` (`after == false`) or right after
/// it. Only `apply` runs the checklist: it is the patch's procedure for a whole release.
fn at_step(cx: &Context<'_>, step: &str, after: bool) -> Result<(), StepError> {
    if cx.kind() != RunKind::Apply {
        return Ok(());
    }
    let Some(documents) = cx.documents else {
        return Ok(());
    };
    let when = if after { "after" } else { "before" };
    for (n, item) in documents.checklist.at(step, after) {
        let (answer, by) = answer(cx, n, item, &format!("{when} {step}"))?;
        cx.journal.append(&Event::Checklist {
            item: n,
            text: item.text.clone(),
            answer: answer.to_string(),
            by: by.clone(),
            at: now(),
        })?;
        if answer == "refused" {
            let why = if by == "nobody" {
                format!(
                    "nobody answered within {} s (patch.toml [acceptance] timeout)",
                    cx.patch.spec.acceptance.timeout
                )
            } else {
                format!("{by} said it was not")
            };
            return Err(StepError::Failed(format!(
                "checklist item {n} ({when} {step}) was not done, {why}: \"{}\"",
                item.text
            )));
        }
    }
    Ok(())
}

/// How item `n` was answered, and by whom.
fn answer(
    cx: &Context<'_>,
    n: usize,
    item: &Item,
    moment: &str,
) -> Result<(&'static str, String), StepError> {
    if !item.manual {
        cx.say(format_args!("CHECKLIST {n} ({moment}): {}", item.text));
        return Ok(("shown", "bascule".into()));
    }
    cx.say(format_args!(
        "CHECKLIST {n} ({moment}), manual: {}",
        item.text
    ));
    let operator = gate::operator();
    if cx.options.yes {
        cx.say(format_args!(
            "checklist item {n}: confirmed in advance by --yes ({operator})"
        ));
        return Ok(("confirmed", format!("--yes ({operator})")));
    }
    if std::io::stdin().is_terminal() {
        if !cx.options.verbose {
            // Asked even under --quiet: the question must say what it asks.
            eprintln!("CHECKLIST {n} ({moment}), manual: {}", item.text);
        }
        return Ok(ask_terminal(operator));
    }
    cx.say(format_args!(
        "WAITING for checklist item {n}, at most {} s: do it, then run `bascule confirm` from \
         another terminal (or `bascule abort` to roll everything back)",
        cx.patch.spec.acceptance.timeout
    ));
    // Unanswered, it aborts like the acceptance gate: an unattended release is not one whose
    // manual steps were done.
    let limit = cx.patch.spec.acceptance.timeout;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(limit);
    match gate::wait(
        cx.journal,
        cx.run_dir,
        &gate::checklist_gate(n),
        Some(deadline),
    )? {
        Some((Decision::Confirm, by)) => Ok(("confirmed", by)),
        Some((_, by)) => Ok(("refused", by)),
        None => Ok(("refused", "nobody".into())),
    }
}

/// Asks on the terminal until `y` or `n`; the end of input is a no.
fn ask_terminal(operator: String) -> (&'static str, String) {
    let stdin = std::io::stdin();
    loop {
        eprint!("   done? [y = done, n = roll everything back] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return ("refused", format!("{operator} (end of input)")),
            Ok(_) => match line.trim() {
                "y" | "yes" => return ("confirmed", operator),
                "n" | "no" => return ("refused", operator),
                _ => continue,
            },
        }
    }
}

//! The patch's checklist, item by item, at the steps the items name.
//!
//! `docs/checklist.toml` attaches some manual steps to a moment of the run ("after
//! maintenance-on: tell support the page is up"). The engine calls [`at_step`] before and
//! after each step of an `apply`: an item that is only shown is printed and journaled; a manual
//! one waits until someone says it is done — on the run's terminal (`y`), or, when the run has
//! none (detached, automation), through `bascule confirm` from another terminal ([`gate`]).
//! `--yes` confirms every item in advance, and the journal says so. An item answered "no"
//! (or `bascule abort`) fails the step, and the run is undone like any other failure.
//!
//! [`gate`]: crate::gate

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::engine::{Context, StepError};
use crate::gate::{self, Decision};
use crate::journal::{now, Event, RunKind};
use bascule_patch::docs::Item;

/// Shows, and waits for, the items due right before `step` (`after == false`) or right after
/// it. Only `apply` runs the checklist: it is the patch's procedure for a whole release.
pub fn at_step(cx: &Context<'_>, step: &str, after: bool) -> Result<(), StepError> {
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
            return Err(StepError::Failed(format!(
                "checklist item {n} ({when} {step}) was not done ({by} said so): \"{}\"",
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
        return Ok(ask_terminal(operator));
    }
    cx.say(format_args!(
        "WAITING for checklist item {n}: do it, then run `bascule confirm` from another \
         terminal (or `bascule abort` to roll everything back)"
    ));
    match gate::wait(cx.journal, cx.run_dir, &gate::checklist_gate(n), None)? {
        Some((Decision::Confirm, by)) => Ok(("confirmed", by)),
        Some((_, by)) => Ok(("refused", by)),
        None => Ok(("refused", "nobody".into())),
    }
}

/// Asks on the terminal until `y` or `n`; the end of input is a no.
fn ask_terminal(operator: String) -> (&'static str, String) {
    let stdin = std::io::stdin();
    loop {
        print!("   done? [y = done, n = roll everything back] ");
        let _ = std::io::stdout().flush();
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

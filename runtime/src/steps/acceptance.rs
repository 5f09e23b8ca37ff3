//! `acceptance`: the optional human gate, after every automatic check.
//!
//! Some releases want a person's eyes before the public comes back: the acceptance team runs
//! the test book (`docs/testbook.toml` of the bundle) on the new code while the maintenance page
//! still hides it from the public (its allowlist lets the team through). The step prints the
//! test book and waits (see [`crate::gate`]) until someone runs, from another terminal,
//! `bascule accept` (the run goes on) or `bascule abort` (the run fails, and everything is
//! rolled back), or until the patch's timeout, which aborts: an unattended release is not an
//! accepted one.
//!
//! Meanwhile the team records each case's result: `bascule accept --case 2=passed` appends it
//! to `<run>/testbook.jsonl` (the run still waits). When the decision comes, the step journals
//! every recorded result, the latest per case, with who and when; `accept` itself refuses while
//! a recorded case has failed. The step changes nothing on the host; its undo has nothing to do.
//!
//! `[acceptance]` is typed, and checked when the patch loads, in
//! [`bascule_patch::AcceptanceSpec`] (an example in `runtime/patch/src/acceptance.rs`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::{Context, Step, StepError};
use crate::gate::{self, Decision};
use crate::journal::{now, Event, Intent};
use crate::jsonl;

/// Where `bascule accept --case` records results, in the run directory.
pub const RESULTS_FILE: &str = "testbook.jsonl";

/// One test-book case's result as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    pub case: usize,
    /// `passed`, `failed` or `skipped`.
    pub result: String,
    pub by: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The results a case may have.
pub const RESULTS: [&str; 3] = ["passed", "failed", "skipped"];

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
             From another terminal record each case (`bascule accept --case N=passed|failed|skipped`), \
             then run `bascule accept` to go on or `bascule abort` to roll everything back",
            spec.timeout
        ));
        let deadline = Instant::now() + Duration::from_secs(spec.timeout);
        let found = gate::wait(cx.journal, cx.run_dir, gate::ACCEPTANCE, Some(deadline))?;
        journal_results(cx)?;
        let Some((decision, by)) = found else {
            cx.journal.append(&Event::Acceptance {
                decision: "timeout".into(),
                by: "bascule".into(),
                at: now(),
            })?;
            return Err(StepError::Failed(format!(
                "no acceptance decision within {} s (patch.toml [acceptance] timeout): aborted",
                spec.timeout
            )));
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
            _ => Err(StepError::Failed(format!(
                "aborted by {by} (`bascule abort`) at the acceptance gate"
            ))),
        }
    }

    fn undo(&self, _cx: &Context<'_>, _intents: &[Intent]) -> Result<(), StepError> {
        Ok(())
    }
}

fn show_test_book(cx: &Context<'_>) {
    let cases = cx
        .documents
        .map(|d| d.testbook.cases.as_slice())
        .unwrap_or_default();
    if cases.is_empty() {
        cx.say(
            "no test book in this bundle (docs/testbook.toml); accept or abort on what you checked",
        );
        return;
    }
    cx.say("test book (docs/testbook.md of the bundle):");
    for (i, case) in cases.iter().enumerate() {
        cx.say(format_args!("  case {}: {}", i + 1, case.area));
        for step in &case.steps {
            cx.say(format_args!("    - {step}"));
        }
        cx.say(format_args!("    expected: {}", case.expected));
    }
}

/// Journals the latest recorded result of each case.
fn journal_results(cx: &Context<'_>) -> Result<(), StepError> {
    for result in latest_results(cx.run_dir)?.into_values() {
        cx.journal.append(&Event::TestCase {
            case: result.case,
            result: result.result,
            by: result.by,
            at: result.at,
            comment: result.comment,
        })?;
    }
    Ok(())
}

/// The latest recorded result of each case of the run in `run_dir`, by case number.
pub fn latest_results(run_dir: &Path) -> Result<BTreeMap<usize, CaseResult>, StepError> {
    let results: Vec<CaseResult> =
        jsonl::read(&run_dir.join(RESULTS_FILE)).map_err(|e| StepError::Failed(e.to_string()))?;
    Ok(results.into_iter().map(|r| (r.case, r)).collect())
}

/// `bascule accept --case`: records `results` for the run waiting at the acceptance gate.
pub fn record_results(run_dir: &Path, results: &[CaseResult]) -> Result<(), StepError> {
    jsonl::append(&run_dir.join(RESULTS_FILE), results)
        .map_err(|e| StepError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_result_of_each_case_counts() {
        let dir = tempfile::tempdir().unwrap();
        assert!(latest_results(dir.path()).unwrap().is_empty());
        let result = |case, result: &str| CaseResult {
            case,
            result: result.into(),
            by: "lea".into(),
            at: now(),
            comment: None,
        };
        record_results(dir.path(), &[result(1, "failed"), result(2, "passed")]).unwrap();
        record_results(dir.path(), &[result(1, "passed")]).unwrap();
        let latest = latest_results(dir.path()).unwrap();
        assert_eq!(latest.len(), 2);
        assert_eq!(latest[&1].result, "passed");
    }
}

//! What a run tells a program: `apply`, `migrate`, `rollback` and `recover` with
//! `--format json` print one [`RunResult`] on stdout and nothing else.
//!
//! Deploy engines (an Ansible module, a Kubernetes Job's log, a CI step) read it instead of
//! parsing text, so it is a contract: `runtime/schema/run.schema.json` describes it, a test
//! checks every kind of run against that schema, and a change that breaks a reader gets a new
//! `format`. It is drawn from the run's directory ([`crate::report::view`]), like the report a
//! person reads, so the two never disagree.
//!
//! `changed` is the one field engines act on: true exactly when the host is not as it was
//! before the run — a committed `apply`, `rollback` or `recover`, a `migrate` that applied a
//! migration, an undo left incomplete — and false for a run that failed and was undone, was
//! refused, or had nothing to do.

use std::path::PathBuf;

use serde::Serialize;

use crate::log::RunDir;
use crate::report::{self, view};
use crate::run::RunReport;
use bascule_pages::run_view::{BarKind, RunView};

/// The `format` of a [`RunResult`]; a change that breaks a reader gets a new one.
pub const RUN_FORMAT: &str = "bascule.run.v1";

/// How a run ended, for a program.
#[derive(Debug, Serialize)]
pub struct RunResult {
    pub format: &'static str,
    /// `apply`, `migrate`, `rollback` or `recover`.
    pub command: String,
    /// `committed`, `rolled back`, `recovered`, `undo incomplete` or `refused`.
    pub outcome: String,
    /// Whether the run did what was asked (`exit_code` 0).
    pub ok: bool,
    /// Whether the host differs from what it was before the run.
    pub changed: bool,
    /// The process's exit code: 0 done, 1 failed and undone, 2 refused before a run started,
    /// 3 undo incomplete (`bascule recover`).
    pub exit_code: u8,
    /// The run's id and directory; `None` when refused before a run started.
    pub run: Option<String>,
    pub run_dir: Option<PathBuf>,
    /// The run's `report.html`.
    pub report: Option<PathBuf>,
    /// The bundle's version, when the bundle could be read.
    pub version: Option<String>,
    /// The platform's version before and after the run.
    pub platform_before: Option<String>,
    pub platform_after: Option<String>,
    /// Each step and each undo, in the order they ran.
    pub steps: Vec<StepResult>,
    /// Per class of databases, what the run's migrations did.
    pub classes: Vec<ClassResult>,
    /// Why the run failed or was refused; empty when it did what was asked.
    pub errors: Vec<String>,
    /// How the run ended, as it told a person.
    pub summary: String,
}

/// A step, or its undo.
#[derive(Debug, Serialize)]
pub struct StepResult {
    pub name: String,
    /// `done`, `failed`, `undone`, `undo-failed` or `unfinished`.
    pub status: &'static str,
    /// Milliseconds from the run's start.
    pub start_ms: u64,
    pub duration_ms: u64,
    pub error: Option<String>,
}

/// One class of databases.
#[derive(Debug, Serialize)]
pub struct ClassResult {
    pub class: String,
    /// Migrations applied, and undone, summed over the class's databases.
    pub migrated: usize,
    pub undone: usize,
    pub total_ms: u64,
}

impl RunResult {
    /// The result of `command`'s run, which ended with `report`, read from its directory.
    pub fn of(command: &str, report: &RunReport) -> RunResult {
        let view = RunDir::at(&report.run_dir.to_string_lossy())
            .ok()
            .and_then(|run| view::assemble(&run).ok())
            .unwrap_or_else(|| RunView {
                outcome: "unknown".into(),
                ..RunView::default()
            });
        let exit_code = report.exit_code();
        let migrated: usize = view.classes.iter().map(|c| c.migrated).sum();
        let changed = match (exit_code, command) {
            (0, "migrate") => migrated > 0,
            (0, _) | (3, _) => true,
            _ => false,
        };
        let report_html = report.run_dir.join(report::REPORT_HTML);
        RunResult {
            format: RUN_FORMAT,
            command: command.to_string(),
            outcome: view.outcome.clone(),
            ok: exit_code == 0,
            changed,
            exit_code,
            run: Some(report.run_id.clone()),
            run_dir: Some(report.run_dir.clone()),
            report: report_html.is_file().then_some(report_html),
            version: Some(view.version.clone()).filter(|v| !v.is_empty()),
            platform_before: report.platform_before.clone(),
            platform_after: report.platform_after.clone(),
            steps: steps(&view),
            classes: view
                .classes
                .iter()
                .map(|c| ClassResult {
                    class: c.class.clone(),
                    migrated: c.migrated,
                    undone: c.undone,
                    total_ms: c.total_ms,
                })
                .collect(),
            errors: report.outcome.errors(),
            summary: report.summary.clone(),
        }
    }

    /// A `command` refused before any run started (bad input, a bundle that does not verify,
    /// nothing to roll back): the host was not touched.
    pub fn refused(command: &str, error: String) -> RunResult {
        RunResult {
            format: RUN_FORMAT,
            command: command.to_string(),
            outcome: "refused".into(),
            ok: false,
            changed: false,
            exit_code: 2,
            run: None,
            run_dir: None,
            report: None,
            version: None,
            platform_before: None,
            platform_after: None,
            steps: Vec::new(),
            classes: Vec::new(),
            summary: format!("refused: {error}"),
            errors: vec![error],
        }
    }
}

fn steps(view: &RunView) -> Vec<StepResult> {
    view.steps
        .iter()
        .map(|bar| StepResult {
            name: bar.name.clone(),
            status: match bar.kind {
                BarKind::Step => "done",
                BarKind::Failed => "failed",
                BarKind::Undo => "undone",
                BarKind::UndoFailed => "undo-failed",
                BarKind::Unfinished => "unfinished",
            },
            start_ms: bar.start_ms,
            duration_ms: bar.ms,
            error: bar.error.clone(),
        })
        .collect()
}

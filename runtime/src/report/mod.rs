//! What a run leaves for people: its intervention sheet and its report, and the host's
//! release history.
//!
//! When a run ends — committed, failed and undone, refused, rolled back — [`finish_run`]
//! writes into its directory `intervention.md`, `intervention.html`, `intervention.json` (the
//! sheet) and `report.html` (the report), and appends its line to `releases.jsonl`. They are
//! drawn by `bascule-pages` from a [`RunView`] that [`view::assemble`] reads from the run
//! directory alone, so `bascule report` and `bascule note` redraw them later, from a copy of the
//! directory as well (a rehearsal's, brought back from its guest).
//!
//! [`RunView`]: bascule_pages::run_view::RunView

pub mod history;
pub mod hitches;
pub mod view;

use std::path::{Path, PathBuf};

use crate::journal::JournalError;
use crate::log::{LogError, RunDir};
use bascule_pages::run_view::RunView;
use bascule_pages::{report, sheet};

/// The files of the sheet and the report, in the run directory.
pub const SHEET_MD: &str = "intervention.md";
pub const SHEET_HTML: &str = "intervention.html";
pub const SHEET_JSON: &str = "intervention.json";
pub const REPORT_HTML: &str = "report.html";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Jsonl(#[from] crate::jsonl::JsonlError),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Writes the sheet and the report of `view` into `dir`; returns the sheet's and the report's
/// HTML paths.
pub fn write_pages(dir: &Path, view: &RunView) -> Result<(PathBuf, PathBuf), ReportError> {
    let json = serde_json::to_string_pretty(view).map_err(|e| ReportError::Io {
        path: dir.join(SHEET_JSON),
        source: std::io::Error::other(e),
    })?;
    for (name, content) in [
        (SHEET_MD, sheet::markdown(view)),
        (SHEET_HTML, sheet::html(view)),
        (SHEET_JSON, json + "\n"),
        (REPORT_HTML, report::html(view)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(|source| ReportError::Io { path, source })?;
    }
    Ok((dir.join(SHEET_HTML), dir.join(REPORT_HTML)))
}

/// The view as text for a terminal: who, what, how it ended, the steps and their times.
pub fn text(view: &RunView) -> String {
    use bascule_pages::run_view::duration;
    let mut out = format!(
        "run       {}\nkind      {} {}\noperator  {} on {}\nstarted   {}\nended     {}\noutcome   {}\ndowntime  {}\n\n",
        view.run,
        view.kind,
        view.version,
        view.operator,
        view.host,
        view.started,
        view.ended.as_deref().unwrap_or("-"),
        view.outcome,
        view.downtime_ms.map_or("none".into(), duration),
    );
    for bar in &view.steps {
        out.push_str(&format!(
            "  {:<22} {:>12}  {}\n",
            bar.label(),
            duration(bar.ms),
            bar.kind.word()
        ));
    }
    for case in view.testbook.iter().filter(|c| c.result == "failed") {
        out.push_str(&format!(
            "test-book case {} failed: {}\n",
            case.case, case.area
        ));
    }
    for hitch in &view.hitches {
        out.push_str(&format!("hitch: {} ({})\n", hitch.text, hitch.by));
    }
    out.push('\n');
    out
}

/// At the end of a run: its pages, and its line in the host's history; `from` and `to` are the
/// platform versions before and after it.
pub fn finish_run(
    state_dir: &Path,
    run_dir: &Path,
    from: Option<String>,
    to: Option<String>,
) -> Result<RunView, ReportError> {
    let run = RunDir::at(&run_dir.to_string_lossy())?;
    let view = view::assemble(&run)?;
    write_pages(run_dir, &view)?;
    history::append(
        state_dir,
        &history::Release {
            run: view.run.clone(),
            kind: view.kind.clone(),
            bundle: view.bundle_digest.clone(),
            from,
            to,
            outcome: view.outcome.clone(),
            operator: view.operator.clone(),
            start: view.started.clone(),
            end: view.ended.clone(),
            downtime_ms: view.downtime_ms,
        },
    )?;
    Ok(view)
}

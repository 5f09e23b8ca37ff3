//! A run's [`RunView`], assembled from its directory alone: the journal (steps, undo,
//! checklist answers, test-book results, who and where), `update.log` (databases, statements,
//! smoke lines, the signer), `report.txt`, `hitches.jsonl`, `samples/report.txt`, and the
//! test book the run copied from its bundle.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

use super::{hitches, ReportError};
use crate::journal::{Event, Journal, JOURNAL_FILE};
use crate::log::{ending_of, Ending, RunDir, Timings};
use bascule_pages::run_view::{
    Bar, BarKind, CaseRow, ChecklistAnswer, ClassFigures, RunView, SampleDiff, StatementRow,
};
use bascule_patch::docs::TestBook;

/// The copy of the bundle's test book a run keeps, so its sheet is complete without the bundle.
pub const TESTBOOK_COPY: &str = "testbook.toml";
/// The most of update.log a view carries (its end).
const LOG_LIMIT: usize = 1 << 20;
/// How many page diffs a view carries, and how much of each.
const DIFFS: usize = 20;
const DIFF_LIMIT: usize = 16 << 10;
/// How many databases and statements the view names as the slowest.
const SLOWEST: usize = 5;

/// The view of `run`, how it ended as its files tell ([`ending_of`]).
pub fn assemble(run: &RunDir) -> Result<RunView, ReportError> {
    let journal = run.journal_path();
    let events = if journal.is_file() {
        Journal::read(&journal)?
    } else {
        Vec::new()
    };
    let log = read_lossy(&run.log_path())?;
    let mut view = RunView {
        run: run.id(),
        outcome: word(ending_of(run, &events)),
        summary: read_lossy(&run.dir.join("report.txt"))?,
        signer: signer(&log),
        smoke: step_lines(&log, "smoke"),
        samples: std::fs::read_to_string(run.dir.join("samples/report.txt")).ok(),
        sample_diffs: sample_diffs(&run.dir.join("samples/diff")),
        hitches: hitches::read(&run.dir)?,
        ..RunView::default()
    };
    from_start(&mut view, &events);
    view.steps = bars(&events);
    view.downtime_ms = downtime(&events, undone_showed_the_page(run, &events));
    view.checklist = checklist(&events);
    view.testbook = testbook(run, &events);
    let timings = Timings::from_parts(&events, &log);
    view.classes = classes(&timings);
    view.slowest_statements = statements(&timings);
    (view.log, view.log_truncated) = tail(log);
    Ok(view)
}

/// How an [`Ending`] reads on a sheet.
pub fn word(ending: Ending) -> String {
    use Ending::*;
    match ending {
        Committed => "committed",
        Recovered => "recovered",
        RolledBack => "rolled back",
        Refused => "refused",
        UndoIncomplete => "undo incomplete",
        Interrupted => "interrupted",
        NotStarted => "not started",
    }
    .to_string()
}

fn from_start(view: &mut RunView, events: &[Event]) {
    if let Some(Event::RunStart {
        kind,
        version,
        bundle_digest,
        operator,
        hostname,
        at,
        ..
    }) = events.first()
    {
        view.kind = kind.as_str().to_string();
        view.version = version.clone();
        view.bundle_digest = bundle_digest.clone();
        view.operator = operator.clone().unwrap_or_else(|| "unknown".into());
        view.host = hostname.clone().unwrap_or_else(|| "unknown".into());
        view.started = at.clone();
    }
    view.ended = events
        .get(1..)
        .and_then(|rest| rest.last())
        .map(|e| at(e).to_string());
}

/// The time an event records.
fn at(event: &Event) -> &str {
    match event {
        Event::RunStart { at, .. }
        | Event::StepStart { at, .. }
        | Event::Intent { at, .. }
        | Event::StepDone { at, .. }
        | Event::StepFailed { at, .. }
        | Event::UndoStart { at, .. }
        | Event::UndoDone { at, .. }
        | Event::UndoFailed { at, .. }
        | Event::Waiting { at, .. }
        | Event::Checklist { at, .. }
        | Event::TestCase { at, .. }
        | Event::Acceptance { at, .. }
        | Event::RunCommitted { at }
        | Event::RunRolledBack { at } => at,
    }
}

fn time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

/// Milliseconds from `from` to `to`, 0 if either is unreadable or they are out of order.
fn between(from: &str, to: &str) -> u64 {
    match (time(from), time(to)) {
        (Some(a), Some(b)) => u64::try_from((b - a).num_milliseconds()).unwrap_or(0),
        _ => 0,
    }
}

/// Every step and undo, in the order they started, on the run's time axis.
fn bars(events: &[Event]) -> Vec<Bar> {
    let Some(origin) = events.first().map(at) else {
        return Vec::new();
    };
    let mut bars: Vec<Bar> = Vec::new();
    let mut open: BTreeMap<(bool, String), usize> = BTreeMap::new();
    let last = events.last().map(at).unwrap_or(origin);
    for event in events {
        let (undo, name) = match event {
            Event::StepStart { step, .. } => (false, step),
            Event::UndoStart { step, .. } => (true, step),
            Event::StepDone { step, .. } | Event::StepFailed { step, .. } => (false, step),
            Event::UndoDone { step, .. } | Event::UndoFailed { step, .. } => (true, step),
            _ => continue,
        };
        let key = (undo, name.clone());
        match event {
            Event::StepStart { .. } | Event::UndoStart { .. } => {
                open.insert(key, bars.len());
                bars.push(Bar {
                    name: name.clone(),
                    kind: BarKind::Unfinished,
                    start_ms: between(origin, at(event)),
                    ms: between(at(event), last),
                    error: None,
                });
            }
            _ => {
                let Some(i) = open.remove(&key) else { continue };
                let bar = &mut bars[i];
                bar.ms = between(origin, at(event)).saturating_sub(bar.start_ms);
                (bar.kind, bar.error) = match event {
                    Event::StepDone { .. } => (BarKind::Step, None),
                    Event::StepFailed { error, .. } => (BarKind::Failed, Some(error.clone())),
                    Event::UndoDone { .. } => (BarKind::Undo, None),
                    Event::UndoFailed { error, .. } => (BarKind::UndoFailed, Some(error.clone())),
                    _ => continue,
                };
            }
        }
    }
    bars
}

/// From the maintenance page going up — the intent of `maintenance-on`, or, in a rollback whose
/// apply showed the page (`undone_showed_page`), the undo of `maintenance-off` done — to its
/// coming down (`maintenance-off` done, or `maintenance-on` undone).
fn downtime(events: &[Event], undone_showed_page: bool) -> Option<u64> {
    let up = events.iter().position(|e| match e {
        Event::Intent { step, .. } => step == "maintenance-on",
        Event::UndoDone { step, .. } => undone_showed_page && step == "maintenance-off",
        _ => false,
    })?;
    let down = events[up..].iter().find(|e| match e {
        Event::StepDone { step, .. } => step == "maintenance-off",
        Event::UndoDone { step, .. } => step == "maintenance-on",
        _ => false,
    })?;
    Some(between(at(&events[up]), at(down)))
}

/// For a rollback, whether the apply it undoes showed the maintenance page (its journal, beside
/// this run's, has the intent): the rollback shows it again while it undoes. Assumed so when
/// that journal is not at hand (a copied run directory).
fn undone_showed_the_page(run: &RunDir, events: &[Event]) -> bool {
    let Some(Event::RunStart {
        undoes: Some(undone),
        ..
    }) = events.first()
    else {
        return false;
    };
    let Some(journal) = run
        .dir
        .parent()
        .map(|runs| runs.join(undone).join(JOURNAL_FILE))
    else {
        return true;
    };
    match Journal::read(&journal) {
        Ok(events) => events
            .iter()
            .any(|e| matches!(e, Event::Intent { step, .. } if step == "maintenance-on")),
        Err(_) => true,
    }
}

fn checklist(events: &[Event]) -> Vec<ChecklistAnswer> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Checklist {
                item,
                text,
                answer,
                by,
                at,
            } => Some(ChecklistAnswer {
                item: *item,
                text: text.clone(),
                answer: answer.clone(),
                by: by.clone(),
                at: at.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Every case of the run's copy of the test book, with its journaled result.
fn testbook(run: &RunDir, events: &[Event]) -> Vec<CaseRow> {
    let path = run.dir.join(TESTBOOK_COPY);
    let book = if path.is_file() {
        TestBook::load(&path).unwrap_or_default()
    } else {
        TestBook::default()
    };
    let mut results = BTreeMap::new();
    for event in events {
        if let Event::TestCase {
            case,
            result,
            by,
            at,
            comment,
        } = event
        {
            results.insert(*case, (result, by, at, comment));
        }
    }
    book.cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let found = results.get(&(i + 1));
            CaseRow {
                case: i + 1,
                area: case.area.clone(),
                expected: case.expected.clone(),
                result: found.map_or("not recorded".into(), |r| r.0.clone()),
                by: found.map(|r| r.1.clone()),
                at: found.map(|r| r.2.clone()),
                comment: found.and_then(|r| r.3.clone()),
            }
        })
        .collect()
}

/// Per class (`<class>/<database>` names the database), the migration figures.
fn classes(timings: &Timings) -> Vec<ClassFigures> {
    let mut classes: BTreeMap<String, ClassFigures> = BTreeMap::new();
    for db in &timings.databases {
        let (name, undone) = match db.name.strip_suffix(" (undo)") {
            Some(name) => (name, true),
            None => (db.name.as_str(), false),
        };
        let class = name.split_once('/').map_or(name, |(c, _)| c).to_string();
        let figures = classes
            .entry(class.clone())
            .or_insert_with(|| ClassFigures {
                class,
                migrated: 0,
                undone: 0,
                total_ms: 0,
                slowest: Vec::new(),
            });
        if undone {
            figures.undone += 1;
        } else {
            figures.migrated += 1;
        }
        figures.total_ms += db.ms;
        figures.slowest.push((db.name.clone(), db.ms));
    }
    classes
        .into_values()
        .map(|mut figures| {
            figures
                .slowest
                .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            figures.slowest.truncate(SLOWEST);
            figures
        })
        .collect()
}

fn statements(timings: &Timings) -> Vec<StatementRow> {
    let mut rows: Vec<StatementRow> = timings
        .statements
        .iter()
        .map(|s| StatementRow {
            statement: s.statement.clone(),
            ms: s.ms,
            databases: s.databases,
            slowest_database: s.slowest.name.clone(),
            slowest_ms: s.slowest.ms,
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.ms));
    rows.truncate(SLOWEST * 2);
    rows
}

/// The first [`DIFFS`] page diffs under `dir`, in path order, each cut at [`DIFF_LIMIT`] bytes.
fn sample_diffs(dir: &std::path::Path) -> Vec<SampleDiff> {
    let mut paths: Vec<std::path::PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .take(DIFFS)
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            let mut diff =
                String::from_utf8_lossy(&bytes[..bytes.len().min(DIFF_LIMIT)]).into_owned();
            if bytes.len() > DIFF_LIMIT {
                diff.push_str("\n[… cut: the whole diff is in the run directory]\n");
            }
            let page = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            Some(SampleDiff { page, diff })
        })
        .collect()
}

/// The messages of `update.log` between `step <name> start` and the step's end.
fn step_lines(log: &str, name: &str) -> Vec<String> {
    let start = format!("step {name} start");
    let ends = [format!("step {name} done"), format!("step {name} FAILED")];
    let mut inside = false;
    let mut lines = Vec::new();
    for message in log.lines().map(message) {
        if message == start {
            inside = true;
        } else if ends.iter().any(|e| message.starts_with(e.as_str())) {
            inside = false;
        } else if inside {
            lines.push(message.to_string());
        }
    }
    lines
}

/// A log line without its time stamp (`-- <stamp> : <message>`).
fn message(line: &str) -> &str {
    line.strip_prefix("-- ")
        .and_then(|l| l.split_once(" : "))
        .map_or(line, |(_, m)| m)
}

/// The key the bundle was verified against, as preflight logged it.
fn signer(log: &str) -> Option<String> {
    let (_, rest) = log.split_once("signed by key ")?;
    Some(
        rest.split_once(", for version")
            .map_or(rest, |(k, _)| k)
            .lines()
            .next()?
            .to_string(),
    )
}

fn read_lossy(path: &std::path::Path) -> Result<String, ReportError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(ReportError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The end of `log`, at most [`LOG_LIMIT`] bytes, cut at a line; whether it was cut.
fn tail(log: String) -> (String, bool) {
    if log.len() <= LOG_LIMIT {
        return (log, false);
    }
    let mut from = log.len() - LOG_LIMIT;
    while !log.is_char_boundary(from) {
        from += 1;
    }
    let cut = log[from..].find('\n').map_or(from, |n| from + n + 1);
    (log[cut..].to_string(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, step: &str, at: &str) -> Event {
        let at = format!("2026-03-10T10:00:{at}.000+01:00");
        let step = step.to_string();
        match kind {
            "intent" => Event::Intent {
                step,
                intent: crate::journal::Intent::Maintenance { open: false },
                at,
            },
            "done" => Event::StepDone { step, at, ms: 0 },
            _ => Event::UndoDone { step, at, ms: 0 },
        }
    }

    #[test]
    fn downtime_runs_from_the_page_up_to_the_page_down() {
        let apply = [
            event("intent", "maintenance-on", "01"),
            event("done", "maintenance-on", "02"),
            event("done", "maintenance-off", "31"),
        ];
        assert_eq!(downtime(&apply, false), Some(30_000));
        let failed = [
            event("intent", "maintenance-on", "01"),
            event("undo", "maintenance-on", "11"),
        ];
        assert_eq!(downtime(&failed, false), Some(10_000));
        let rollback = [
            event("undo", "maintenance-off", "05"),
            event("undo", "maintenance-on", "25"),
        ];
        assert_eq!(downtime(&rollback, true), Some(20_000));
        assert_eq!(downtime(&rollback, false), None, "its apply showed no page");
        assert_eq!(
            downtime(&[event("done", "maintenance-on", "01")], false),
            None,
            "no page shown"
        );
    }
}

//! What the intervention sheet and the run report show of one run: plain data, assembled by
//! the runtime from the run's directory (journal, update.log, results), serialised as the
//! sheet's `intervention.json` and as `bascule report --format json`.

use serde::{Deserialize, Serialize};

/// One run, as people look at it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub run: String,
    /// `apply`, `rollback`, `recover`, `migrate`.
    pub kind: String,
    /// The bundle's version.
    pub version: String,
    pub bundle_digest: String,
    /// The key the bundle was verified against, when the host pins keys.
    pub signer: Option<String>,
    pub operator: String,
    pub host: String,
    pub started: String,
    /// The last record of the run, if it has one after its start.
    pub ended: Option<String>,
    /// `committed`, `rolled back`, `undo incomplete`, `recovered`, `unfinished` (running or
    /// killed), `refused`.
    pub outcome: String,
    /// How the run ended, as it told the operator (its `report.txt`).
    pub summary: String,
    /// From the maintenance page going up to it coming down; `None` when it never went up
    /// (or has not come down).
    pub downtime_ms: Option<u64>,
    pub steps: Vec<Bar>,
    pub checklist: Vec<ChecklistAnswer>,
    /// Every case of the bundle's test book, with its recorded result if any.
    pub testbook: Vec<CaseRow>,
    pub hitches: Vec<Hitch>,
    pub classes: Vec<ClassFigures>,
    pub slowest_statements: Vec<StatementRow>,
    /// The sampling's comparison report, if the run compared pages.
    pub samples: Option<String>,
    /// The diffs of the pages that differed (the first of them, each cut at a size).
    #[serde(default)]
    pub sample_diffs: Vec<SampleDiff>,
    /// The smoke step's lines.
    pub smoke: Vec<String>,
    /// The run's update.log (its end, when it is long: see `log_truncated`).
    pub log: String,
    pub log_truncated: bool,
}

/// A step, or an undo, on the run's time axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    pub name: String,
    pub kind: BarKind,
    /// Milliseconds from the run's start.
    pub start_ms: u64,
    pub ms: u64,
    /// Why it failed, for a failed step or undo.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BarKind {
    /// A step that succeeded.
    Step,
    /// The step that failed.
    Failed,
    /// An undo.
    Undo,
    /// An undo that failed.
    UndoFailed,
    /// Started and never finished (the run is going on, or was killed).
    Unfinished,
}

impl Bar {
    /// The step's name, `undo <step>` for an undo.
    pub fn label(&self) -> String {
        match self.kind {
            BarKind::Undo | BarKind::UndoFailed => format!("undo {}", self.name),
            _ => self.name.clone(),
        }
    }
}

impl BarKind {
    /// How it ended, in a word or two.
    pub fn word(self) -> &'static str {
        match self {
            BarKind::Step => "done",
            BarKind::Failed => "FAILED",
            BarKind::Undo => "undone",
            BarKind::UndoFailed => "undo FAILED",
            BarKind::Unfinished => "unfinished",
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            BarKind::Step => "step",
            BarKind::Failed => "failed",
            BarKind::Undo => "undo",
            BarKind::UndoFailed => "undo-failed",
            BarKind::Unfinished => "unfinished",
        }
    }
}

/// A sampled page that differed: its path under the run's `samples/diff/`, and its diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleDiff {
    pub page: String,
    pub diff: String,
}

/// A checklist item as the run met it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistAnswer {
    pub item: usize,
    pub text: String,
    /// `confirmed`, `refused`, `shown`.
    pub answer: String,
    pub by: String,
    pub at: String,
}

/// A test-book case and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRow {
    pub case: usize,
    pub area: String,
    pub expected: String,
    /// `passed`, `failed`, `skipped`, or `not recorded`.
    pub result: String,
    pub by: Option<String>,
    pub at: Option<String>,
    pub comment: Option<String>,
}

/// A hitch: something that went badly, or oddly, noted by a person (`bascule note`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hitch {
    pub text: String,
    pub by: String,
    pub at: String,
    /// Still to be dealt with: the next patch's checklist carries it.
    pub open: bool,
}

/// One database class's migration figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassFigures {
    pub class: String,
    pub migrated: usize,
    pub undone: usize,
    /// Summed over its databases.
    pub total_ms: u64,
    /// Its slowest databases, slowest first.
    pub slowest: Vec<(String, u64)>,
}

/// A migration statement over every database that ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRow {
    pub statement: String,
    pub ms: u64,
    pub databases: usize,
    pub slowest_database: String,
    pub slowest_ms: u64,
}

/// `1 min 05 s`, `3.2 s`, `120 ms`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A failed apply with one confirmed item, two recorded cases and a hitch.
    pub(crate) fn failed_apply() -> RunView {
        let bar = |name: &str, kind, start_ms, ms, error: Option<&str>| Bar {
            name: name.into(),
            kind,
            start_ms,
            ms,
            error: error.map(String::from),
        };
        RunView {
            run: "20260310T100000-2.0.0-apply".into(),
            kind: "apply".into(),
            version: "2.0.0".into(),
            bundle_digest: "ab".repeat(32),
            signer: None,
            operator: "lea".into(),
            host: "web-1".into(),
            started: "2026-03-10T10:00:00.000+01:00".into(),
            ended: Some("2026-03-10T10:01:05.000+01:00".into()),
            outcome: "rolled back".into(),
            summary:
                "FAILED at step `migrate`: site/a: 0002 up: no such table\nEvery step was undone."
                    .into(),
            downtime_ms: Some(64_000),
            steps: vec![
                bar("guard", BarKind::Step, 0, 10, None),
                bar("maintenance-on", BarKind::Step, 10, 990, None),
                bar(
                    "migrate",
                    BarKind::Failed,
                    1_000,
                    60_000,
                    Some("site/a: no such table"),
                ),
                bar("migrate", BarKind::Undo, 61_000, 3_000, None),
                bar("maintenance-on", BarKind::Undo, 64_000, 500, None),
                bar("guard", BarKind::Undo, 64_500, 500, None),
            ],
            checklist: vec![ChecklistAnswer {
                item: 2,
                text: "Tell support | the page is up".into(),
                answer: "confirmed".into(),
                by: "lea".into(),
                at: "2026-03-10T10:00:01.000+01:00".into(),
            }],
            testbook: vec![
                CaseRow {
                    case: 1,
                    area: "home".into(),
                    expected: "a heading".into(),
                    result: "passed".into(),
                    by: Some("max".into()),
                    at: Some("2026-03-10T10:00:30.000+01:00".into()),
                    comment: None,
                },
                CaseRow {
                    case: 2,
                    area: "team".into(),
                    expected: "avatars".into(),
                    result: "not recorded".into(),
                    by: None,
                    at: None,
                    comment: None,
                },
            ],
            hitches: vec![Hitch {
                text: "the <b>migrate</b> step was slow".into(),
                by: "lea".into(),
                at: "2026-03-10T10:02:00.000+01:00".into(),
                open: true,
            }],
            classes: vec![ClassFigures {
                class: "site".into(),
                migrated: 3,
                undone: 3,
                total_ms: 900,
                slowest: vec![("site/a".into(), 600)],
            }],
            slowest_statements: Vec::new(),
            samples: None,
            sample_diffs: vec![SampleDiff {
                page: "site/a/shop.diff".into(),
                diff: "-12.50 €\n+12 €\n".into(),
            }],
            smoke: Vec::new(),
            log: "-- 2026-03-10T10:00:00.000+01:00 : step guard start\n".into(),
            log_truncated: false,
        }
    }

    #[test]
    fn durations_read_like_a_person_says_them() {
        assert_eq!(duration(120), "120 ms");
        assert_eq!(duration(3_250), "3.2 s");
        assert_eq!(duration(65_000), "1 min 05 s");
    }
}

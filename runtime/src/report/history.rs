//! The host's release history: one JSON line per run in `<state_dir>/releases.jsonl`,
//! appended when the run ends (whatever its outcome), printed by `bascule history`.
//!
//! Deployer's `dep releases` and Octopus's "who deployed what, where, when" in one file a
//! person can `tail` and a program can read line by line (see [`crate::jsonl`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ReportError;
use crate::jsonl;
use bascule_pages::run_view::duration;

pub const RELEASES_FILE: &str = "releases.jsonl";

/// One run, as the history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub run: String,
    pub kind: String,
    /// The digest of the bundle's manifest.
    pub bundle: String,
    /// The platform version before the run and after it (`None`: none recorded).
    pub from: Option<String>,
    pub to: Option<String>,
    pub outcome: String,
    pub operator: String,
    pub start: String,
    pub end: Option<String>,
    pub downtime_ms: Option<u64>,
}

/// Appends `release` to the history in `state_dir`, synced.
pub fn append(state_dir: &Path, release: &Release) -> Result<(), ReportError> {
    Ok(jsonl::append(&state_dir.join(RELEASES_FILE), &[release])?)
}

/// The history in `state_dir`, oldest first; empty when no run ended here yet.
pub fn read(state_dir: &Path) -> Result<Vec<Release>, ReportError> {
    Ok(jsonl::read(&state_dir.join(RELEASES_FILE))?)
}

/// The history as a table for a person.
pub fn table(releases: &[Release]) -> String {
    let header = [
        "run",
        "kind",
        "from → to",
        "outcome",
        "operator",
        "downtime",
    ];
    let rows: Vec<[String; 6]> = releases
        .iter()
        .map(|r| {
            [
                r.run.clone(),
                r.kind.clone(),
                format!(
                    "{} → {}",
                    r.from.as_deref().unwrap_or("—"),
                    r.to.as_deref().unwrap_or("—")
                ),
                r.outcome.clone(),
                r.operator.clone(),
                r.downtime_ms.map_or("—".into(), duration),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push = |cells: Vec<&str>| {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    };
    push(header.to_vec());
    for row in &rows {
        push(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(run: &str, outcome: &str) -> Release {
        Release {
            run: run.into(),
            kind: "apply".into(),
            bundle: "d".into(),
            from: Some("1.0.0".into()),
            to: Some("2.0.0".into()),
            outcome: outcome.into(),
            operator: "lea".into(),
            start: "s".into(),
            end: None,
            downtime_ms: Some(65_000),
        }
    }

    #[test]
    fn appended_lines_read_back_as_a_table() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty());
        append(dir.path(), &release("a", "committed")).unwrap();
        append(dir.path(), &release("b", "rolled back")).unwrap();
        let read = read(dir.path()).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].outcome, "rolled back");
        insta::assert_snapshot!(table(&read));
    }
}

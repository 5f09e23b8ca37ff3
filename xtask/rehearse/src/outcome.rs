//! What one run left in its collected `out/` directory, read back (the files `run.sh` writes).
//!
//! A run counts as *finished* only when `exit_code` is there: the guest's init writes it after
//! `run.sh` returned (the ssh driver after the remote command did). Everything else is read
//! if present: a run that died half-way still shows how far it went.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bascule::fingerprint::{Fingerprint, FINGERPRINT_FILE};
use bascule::journal::{Event, Journal};

/// One step of the apply, as its journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTime {
    pub step: String,
    pub ms: u64,
    pub failed: Option<String>,
}

/// The outcome of one run, read from its `out/` directory.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// `out/` itself.
    pub dir: PathBuf,
    /// `exit_code` is present: `run.sh` ran to its end.
    pub finished: bool,
    /// What `run.sh` refused before the apply (`out/error`).
    pub error: Option<String>,
    /// `bascule apply`'s exit status.
    pub apply_status: Option<i32>,
    /// `bascule rollback`'s exit status, when the run rolled back.
    pub rollback_status: Option<i32>,
    /// `bascule digest` before the apply, after it, after the rollback.
    pub digest_before: Option<Vec<String>>,
    pub digest_applied: Option<Vec<String>>,
    pub digest_rolled_back: Option<Vec<String>>,
    /// The apply's steps, in the order they ran (from its journal).
    pub steps: Vec<StepTime>,
    /// The apply's undo, step by step, when it failed.
    pub undone: Vec<StepTime>,
    /// The lines of `update.log` around the first failure.
    pub log_excerpt: Vec<String>,
    /// `name seconds` marks of the guest's clock (`timeline`): start, apply, applied, …
    pub timeline: Vec<(String, f64)>,
    /// The pages the apply sampled with the new code (`samples/after/…/*.html`, normalised),
    /// by path, with their sha256: what the runs' comparison looks at.
    pub sampled: BTreeMap<String, String>,
    /// The guest's environment, as its apply recorded it (`runs/apply/fingerprint.json`).
    pub fingerprint: Option<Fingerprint>,
}

impl RunOutcome {
    /// Reads `out` (a missing file is a missing fact, never an error: the run may have died).
    pub fn read(out: &Path) -> RunOutcome {
        let text = |name: &str| std::fs::read_to_string(out.join(name)).ok();
        let status = |name: &str| text(name).and_then(|t| t.trim().parse().ok());
        let lines = |name: &str| text(name).map(|t| t.lines().map(String::from).collect());
        let apply_run = out.join("runs/apply");
        let events = Journal::read(&apply_run.join("journal.jsonl")).unwrap_or_default();
        let mut outcome = RunOutcome {
            dir: out.to_path_buf(),
            finished: out.join("exit_code").is_file(),
            error: text("error").map(|t| t.trim().to_string()),
            apply_status: status("apply.status"),
            rollback_status: status("rollback.status"),
            digest_before: lines("digest-before.txt"),
            digest_applied: lines("digest-applied.txt"),
            digest_rolled_back: lines("digest-rolled-back.txt"),
            timeline: text("timeline")
                .map(|t| parse_timeline(&t))
                .unwrap_or_default(),
            ..RunOutcome::default()
        };
        for event in events {
            match event {
                Event::StepDone { step, ms, .. } => outcome.steps.push(StepTime {
                    step,
                    ms,
                    failed: None,
                }),
                Event::StepFailed {
                    step, ms, error, ..
                } => outcome.steps.push(StepTime {
                    step,
                    ms,
                    failed: Some(error),
                }),
                Event::UndoDone { step, ms, .. } => outcome.undone.push(StepTime {
                    step,
                    ms,
                    failed: None,
                }),
                _ => {}
            }
        }
        outcome.sampled = sampled_pages(&apply_run.join("samples/after"));
        outcome.fingerprint = Fingerprint::read(&apply_run.join(FINGERPRINT_FILE)).ok();
        if let Some(log) = text("runs/apply/update.log") {
            outcome.log_excerpt = failure_excerpt(&log);
        }
        outcome
    }

    /// The run finished and its apply succeeded (and its rollback, if it rolled back).
    pub fn succeeded(&self) -> bool {
        self.finished && self.apply_status == Some(0) && self.rollback_status.unwrap_or(0) == 0
    }

    /// The step that failed, with its error.
    pub fn failed_step(&self) -> Option<&StepTime> {
        self.steps.iter().find(|s| s.failed.is_some())
    }

    /// Whether the state after the undo (automatic, or `bascule rollback`) is the state before
    /// the apply; `None` when there was no undo or a digest is missing.
    pub fn restored(&self) -> Option<bool> {
        let before = self.digest_before.as_ref()?;
        let after = if self.apply_status == Some(0) {
            self.digest_rolled_back.as_ref()?
        } else {
            self.digest_applied.as_ref()?
        };
        Some(before == after)
    }

    /// Seconds between two marks of the timeline.
    pub fn between(&self, from: &str, to: &str) -> Option<f64> {
        let at = |name: &str| {
            self.timeline
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t)
        };
        Some(at(to)? - at(from)?)
    }

    /// The digest line (`digest <sha>`) of a digest.
    pub fn digest_of(lines: &Option<Vec<String>>) -> Option<&str> {
        lines
            .as_ref()?
            .last()
            .and_then(|l| l.strip_prefix("digest "))
    }
}

fn sampled_pages(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.ends_with(".html") && !name.ends_with(".raw.html")
        })
        .filter_map(|e| {
            let bytes = std::fs::read(e.path()).ok()?;
            let path = e.path().strip_prefix(dir).ok()?.display().to_string();
            Some((path, bascule_patch::sha256_hex(&bytes)))
        })
        .collect()
}

fn parse_timeline(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let (name, at) = line.rsplit_once(' ')?;
            Some((name.to_string(), at.parse().ok()?))
        })
        .collect()
}

/// Up to 12 lines of `update.log` from a little before its first failure: the failing command
/// or statement and the database's error are in them.
fn failure_excerpt(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let Some(first) = lines.iter().position(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("failed") || l.contains("error")
    }) else {
        return Vec::new();
    };
    let from = first.saturating_sub(3);
    lines[from..(first + 9).min(lines.len())]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_directory_is_an_unfinished_run() {
        let dir = tempfile::tempdir().unwrap();
        let outcome = RunOutcome::read(dir.path());
        assert!(!outcome.finished);
        assert!(!outcome.succeeded());
        assert_eq!(outcome.restored(), None);
    }

    #[test]
    fn a_failed_apply_is_restored_when_its_digests_match() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::write(out.join("exit_code"), "1\n").unwrap();
        std::fs::write(out.join("apply.status"), "1\n").unwrap();
        std::fs::write(out.join("digest-before.txt"), "version 1.0.0\ndigest ab\n").unwrap();
        std::fs::write(out.join("digest-applied.txt"), "version 1.0.0\ndigest ab\n").unwrap();
        std::fs::write(out.join("timeline"), "start 2.5\napply 2.75\napplied 4.0\n").unwrap();
        let outcome = RunOutcome::read(out);
        assert!(outcome.finished && !outcome.succeeded());
        assert_eq!(outcome.restored(), Some(true));
        assert_eq!(outcome.between("apply", "applied"), Some(1.25));
        std::fs::write(out.join("digest-applied.txt"), "version 2.0.0\ndigest cd\n").unwrap();
        assert_eq!(RunOutcome::read(out).restored(), Some(false));
    }

    #[test]
    fn the_excerpt_starts_before_the_first_failure() {
        let log = (1..=20)
            .map(|i| {
                if i == 10 {
                    "-- x : site-0002: FAILED: UNIQUE constraint failed".to_string()
                } else {
                    format!("line {i}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let excerpt = failure_excerpt(&log);
        assert_eq!(excerpt.first().map(String::as_str), Some("line 7"));
        assert!(excerpt.iter().any(|l| l.contains("UNIQUE")));
        assert_eq!(excerpt.len(), 12);
    }
}
